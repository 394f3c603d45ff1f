/*
 * Cluster grace rules (grace.h, DESIGN.md §5) on one shared store, with
 * one batcher per node: start or join, enforce, the leader's lift with
 * its fast path and deadline, purge, and the safety events.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "batch.h"
#include "grace.h"

#define NODES 3

struct test_ctx {
	struct tevent_context *ev;
	char dir[64];
	struct store_context *store;
	struct batch_context *node[NODES];
	struct grace_op last;
};

static int setup_with(void **state, unsigned grace_time)
{
	struct test_ctx *t = talloc_zero(NULL, struct test_ctx);
	int i;

	t->ev = tevent_context_init(t);
	snprintf(t->dir, sizeof(t->dir), "/tmp/cltrack-cgrace-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	assert_int_equal(store_tdb_init(t, t->ev, t->dir, &t->store), 0);
	for (i = 0; i < NODES; i++) {
		assert_int_equal(batch_init(t, t->ev, t->store, i,
					    &t->node[i]), 0);
		batch_set_cluster(t->node[i], i, grace_time);
	}
	*state = t;
	return 0;
}

static int setup(void **state)
{
	return setup_with(state, 90);
}

static int setup_no_grace_time(void **state)
{
	return setup_with(state, 0);
}

static int teardown(void **state)
{
	struct test_ctx *t = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", t->dir);
	talloc_free(t);
	return system(cmd) == 0 ? 0 : -1;
}

static void op_done(struct grace_op *op, const struct grace_record *g,
		    void *private_data)
{
	struct test_ctx *t = private_data;

	t->last = *op;
}

static struct grace_op run_op(struct test_ctx *t, int node,
			      struct grace_op op)
{
	assert_int_equal(batch_submit(t->node[node], &op, op_done, t), 0);
	while (batch_pending(t->node[node]) > 0) {
		assert_int_equal(tevent_loop_once(t->ev), 0);
	}
	return t->last;
}

static int all_cb(const uint8_t *key, size_t keylen, const uint8_t *id,
		  size_t idlen, const struct client_record *rec,
		  void *private_data)
{
	(*(unsigned *)private_data)++;
	return 0;
}

static unsigned records(struct test_ctx *t)
{
	unsigned n = 0;

	assert_int_equal(grace_clients_traverse(t->store, all_cb, &n), 0);
	return n;
}

/* Creates are of v4.1+ clients (RECLAIM_COMPLETE) unless said otherwise */
static struct grace_op run(struct test_ctx *t, int node,
			   enum grace_op_type type, const char *id)
{
	struct grace_op op = {
		.type = type,
		.flags = (type == GRACE_OP_CREATE) ? RECORD_F_SESSION : 0,
	};

	if (id != NULL) {
		op.idlen = strlen(id);
		memcpy(op.id, id, op.idlen);
	}
	return run_op(t, node, op);
}

static struct grace_op lift(struct test_ctx *t, int node, bool force)
{
	struct grace_op op = {
		.type = GRACE_OP_LIFT,
		.force = force,
		.nrequired = NODES,
		.required = { 0, 1, 2 },
	};

	return run_op(t, node, op);
}

/* Overwrite the grace record inside a transaction of the store */
static int set_grace_fn(struct store_txn *txn, void *private_data)
{
	const struct cltrack_blob {
		const uint8_t *p;
		size_t n;
	} *b = private_data;

	return store_txn_store(txn, (const uint8_t *)"grace", 5, b->p, b->n);
}

static void set_grace(struct test_ctx *t, const uint8_t *buf, size_t len)
{
	struct cltrack_blob {
		const uint8_t *p;
		size_t n;
	} b = { buf, len };
	struct tevent_req *req = store_txn_send(t, t->ev, t->store,
						set_grace_fn, &b);

	assert_non_null(req);
	assert_true(tevent_req_poll(req, t->ev));
	assert_int_equal(store_txn_recv(req), 0);
	talloc_free(req);
}

static struct grace_record epochs(struct test_ctx *t)
{
	struct grace_record g;

	assert_int_equal(grace_read(t->store, &g), 0);
	return g;
}

/* Pretend the running grace is old: its deadline has passed */
static void expire_deadline(struct test_ctx *t)
{
	struct grace_record g = epochs(t);
	uint8_t buf[RECORD_GRACE_FIXED +
		    RECORD_MAX_MEMBERS * RECORD_MEMBER_SIZE];
	size_t len;

	g.deadline = 1;
	len = grace_record_push(&g, buf, sizeof(buf));
	assert_true(len > 0);
	set_grace(t, buf, len);
}

static bool enforcing(struct test_ctx *t, uint32_t pnn)
{
	struct grace_record g = epochs(t);
	const struct grace_member *m = grace_member_find(&g, pnn);

	return m != NULL && (m->flags & GRACE_MEMBER_ENFORCING);
}

static int count_cb(const uint8_t *id, size_t idlen,
		    const struct client_record *rec, void *private_data)
{
	(*(unsigned *)private_data)++;
	return 0;
}

static unsigned reclaimable(struct test_ctx *t)
{
	struct grace_record g = epochs(t);
	unsigned n = 0;

	assert_int_equal(grace_reclaim_traverse(t->store, &g, count_cb, &n,
						NULL), 0);
	return n;
}

static void test_start_and_join(void **state)
{
	struct test_ctx *t = *state;
	struct grace_op r;

	run(t, 0, GRACE_OP_CREATE, "a0");
	run(t, 1, GRACE_OP_CREATE, "a1");
	run(t, 2, GRACE_OP_CREATE, "a2");

	/* node 0's nfsd restarts: it starts the cluster grace */
	r = run(t, 0, GRACE_OP_GRACE_START, NULL);
	assert_int_equal(r.status, 0);
	assert_true(r.result & GRACE_R_STARTED);
	assert_int_equal(epochs(t).recovery, 1);
	assert_int_equal(epochs(t).current, 2);
	assert_true(enforcing(t, 0));
	assert_false(enforcing(t, 1));
	/* every node gets the whole cluster's list */
	assert_int_equal(reclaimable(t), 3);

	/* a0 reclaims on node 1 (its address moved there) */
	run(t, 1, GRACE_OP_CREATE, "a0");
	/* node 1 joins: no new epoch, and nothing is undone */
	r = run(t, 1, GRACE_OP_GRACE_START, NULL);
	assert_false(r.result & GRACE_R_STARTED);
	assert_int_equal(epochs(t).recovery, 1);
	assert_int_equal(epochs(t).current, 2);
	assert_true(enforcing(t, 1));
	assert_int_equal(reclaimable(t), 3);
}

static void test_lift_waits_for_every_node(void **state)
{
	struct test_ctx *t = *state;
	struct grace_op r;

	run(t, 0, GRACE_OP_CREATE, "a");
	run(t, 0, GRACE_OP_GRACE_START, NULL);
	run(t, 1, GRACE_OP_GRACE_START, NULL);
	run(t, 0, GRACE_OP_CREATE, "a");	/* every client reclaimed */

	/* node 2 is active but its nfsd is not in grace yet */
	r = lift(t, 0, false);
	assert_int_equal(r.status, -EAGAIN);
	assert_int_equal(epochs(t).recovery, 1);

	run(t, 2, GRACE_OP_GRACE_START, NULL);
	r = lift(t, 0, false);
	assert_int_equal(r.status, 0);
	assert_true(r.result & GRACE_R_LIFTED);	/* the fast path */
	assert_int_equal(epochs(t).recovery, 0);
	assert_int_equal(epochs(t).nmembers, 0);
	assert_int_equal(r.purged, 0);
}

static void test_lift_waits_for_reclaims(void **state)
{
	struct test_ctx *t = *state;
	struct grace_op r;
	int i;

	run(t, 0, GRACE_OP_CREATE, "a");
	run(t, 1, GRACE_OP_CREATE, "b");
	for (i = 0; i < NODES; i++) {
		run(t, i, GRACE_OP_GRACE_START, NULL);
	}
	run(t, 2, GRACE_OP_CREATE, "a");
	/* b has not reclaimed and the deadline is 90 s away */
	r = lift(t, 0, false);
	assert_int_equal(r.status, -EAGAIN);
	run(t, 0, GRACE_OP_CREATE, "b");
	r = lift(t, 0, false);
	assert_true(r.result & GRACE_R_LIFTED);
	assert_int_equal(r.purged, 0);
}

static void test_deadline_purges_only_unreclaimed(void **state)
{
	struct test_ctx *t = *state;
	struct grace_op r;
	int i;

	run(t, 0, GRACE_OP_CREATE, "kept");
	run(t, 1, GRACE_OP_CREATE, "gone");
	for (i = 0; i < NODES; i++) {
		run(t, i, GRACE_OP_GRACE_START, NULL);
	}
	run(t, 1, GRACE_OP_CREATE, "kept");
	run(t, 2, GRACE_OP_CREATE, "new-in-grace");
	/* grace time 0: the deadline has passed */
	r = lift(t, 0, false);
	assert_true(r.result & GRACE_R_LIFTED);
	assert_int_equal(r.purged, 1);
	run(t, 0, GRACE_OP_GRACE_START, NULL);
	assert_int_equal(reclaimable(t), 2);	/* kept, new-in-grace */
}

static void test_force_lift(void **state)
{
	struct test_ctx *t = *state;
	struct grace_op r;

	run(t, 0, GRACE_OP_CREATE, "a");
	run(t, 0, GRACE_OP_GRACE_START, NULL);
	r = lift(t, 0, true);
	assert_true(r.result & GRACE_R_LIFTED);
	assert_int_equal(r.purged, 1);
}

static void test_join_by_takeip_needs_but_not_enforcing(void **state)
{
	struct test_ctx *t = *state;
	struct grace_op r;
	struct grace_record g;
	const struct grace_member *m = NULL;

	r = run(t, 2, GRACE_OP_JOIN, NULL);
	assert_true(r.result & GRACE_R_STARTED);
	assert_false(r.result & GRACE_R_ENFORCING);
	g = epochs(t);
	m = grace_member_find(&g, 2);
	assert_non_null(m);
	assert_true(m->flags & GRACE_MEMBER_NEED);
	assert_false(m->flags & GRACE_MEMBER_ENFORCING);
	/* nobody can lift until node 2's nfsd is in grace too */
	run(t, 0, GRACE_OP_GRACE_START, NULL);
	run(t, 1, GRACE_OP_GRACE_START, NULL);
	assert_int_equal(lift(t, 0, false).status, -EAGAIN);
	run(t, 2, GRACE_OP_GRACE_START, NULL);
	assert_true(lift(t, 0, false).result & GRACE_R_LIFTED);
}

static void test_early_kernel_end_is_safety_event(void **state)
{
	struct test_ctx *t = *state;
	struct grace_op r;

	run(t, 0, GRACE_OP_CREATE, "a");
	run(t, 0, GRACE_OP_GRACE_START, NULL);
	/* node 0's kernel ends grace while "a" may still reclaim */
	r = run(t, 0, GRACE_OP_GRACE_DONE, NULL);
	assert_int_equal(r.status, 0);
	assert_true(r.result & GRACE_R_SAFETY);
	assert_false(enforcing(t, 0));	/* to be put back into grace */
	/* only the leader purges: the record is still reclaimable */
	assert_int_equal(epochs(t).recovery, 1);
	assert_int_equal(reclaimable(t), 1);

	/* once every client reclaimed, a kernel ending early is benign */
	run(t, 1, GRACE_OP_GRACE_START, NULL);
	run(t, 1, GRACE_OP_CREATE, "a");
	r = run(t, 1, GRACE_OP_GRACE_DONE, NULL);
	assert_false(r.result & GRACE_R_SAFETY);
	assert_true(enforcing(t, 1));	/* it did enter this grace */
}

static void test_empty_list_start(void **state)
{
	struct test_ctx *t = *state;
	int i;

	/* first boot: empty store, every kernel skips grace at once */
	for (i = 0; i < NODES; i++) {
		run(t, i, GRACE_OP_GRACE_START, NULL);
		assert_false(run(t, i, GRACE_OP_GRACE_DONE, NULL).result &
			     GRACE_R_SAFETY);
	}
	assert_true(lift(t, 0, false).result & GRACE_R_LIFTED);
}

static void test_cluster_check_outside_grace(void **state)
{
	struct test_ctx *t = *state;

	run(t, 0, GRACE_OP_CREATE, "a");
	/* no v0 epoch step in a cluster: nothing to reclaim outside grace */
	assert_int_equal(run(t, 0, GRACE_OP_CHECK, "a").status, -EACCES);
	assert_int_equal(epochs(t).recovery, 0);
}

/* Model counterexample 2: a restarted nfsd lost its reclaimed clients */
static void test_restart_in_grace_undoes_own_recreates(void **state)
{
	struct test_ctx *t = *state;
	struct grace_op r;

	run(t, 0, GRACE_OP_CREATE, "a");
	run(t, 1, GRACE_OP_CREATE, "b");
	run(t, 0, GRACE_OP_GRACE_START, NULL);
	run(t, 1, GRACE_OP_GRACE_START, NULL);
	run(t, 2, GRACE_OP_GRACE_START, NULL);
	run(t, 0, GRACE_OP_CREATE, "a");	/* a reclaimed on node 0 */
	run(t, 1, GRACE_OP_CREATE, "b");	/* b reclaimed on node 1 */
	/* node 0's nfsd restarts in the grace: a must reclaim again */
	r = run(t, 0, GRACE_OP_GRACE_START, NULL);
	assert_int_equal(r.status, 0);
	assert_int_equal(lift(t, 2, false).status, -EAGAIN);
	run(t, 0, GRACE_OP_CREATE, "a");
	assert_true(lift(t, 2, false).result & GRACE_R_LIFTED);
	assert_int_equal(t->last.purged, 0);
}

/* Model counterexample 3: a lost member's re-creates are undone */
static void test_lost_member_recreates_undone(void **state)
{
	struct test_ctx *t = *state;
	struct grace_op op = {
		.type = GRACE_OP_LIFT,
		.nrequired = 2,
		.required = { 0, 1 },
		.nlost = 1,
		.lost = { 2 },
	};
	int i;

	run(t, 2, GRACE_OP_CREATE, "c");
	for (i = 0; i < NODES; i++) {
		run(t, i, GRACE_OP_GRACE_START, NULL);
	}
	run(t, 2, GRACE_OP_CREATE, "c");	/* reclaimed on node 2 ... */
	/* ... which then dies: c lost its state and must reclaim again */
	assert_int_equal(run_op(t, 0, op).status, -EAGAIN);
	assert_false(enforcing(t, 2));
	run(t, 0, GRACE_OP_CREATE, "c");	/* c reclaims on node 0 */
	op.nlost = 0;
	assert_true(run_op(t, 0, op).result & GRACE_R_LIFTED);
}

/* Model counterexample 4: a takeip gives the moved clients a grace time */
static void test_takeip_extends_deadline(void **state)
{
	struct test_ctx *t = *state;

	run(t, 0, GRACE_OP_CREATE, "a");
	run(t, 0, GRACE_OP_GRACE_START, NULL);
	expire_deadline(t);
	run(t, 1, GRACE_OP_JOIN, NULL);
	assert_true(epochs(t).deadline > (uint64_t)time(NULL));
}

static int find_cb(const uint8_t *id, size_t idlen,
		   const struct client_record *rec, void *private_data)
{
	struct {
		const char *id;
		bool found;
	} *want = private_data;

	if (idlen == strlen(want->id) && memcmp(id, want->id, idlen) == 0) {
		want->found = true;
	}
	return 0;
}
static uint32_t member_flags(struct test_ctx *t, uint32_t pnn)
{
	struct grace_record g = epochs(t);
	const struct grace_member *m = grace_member_find(&g, pnn);

	return m != NULL ? m->flags : 0;
}

static bool is_reclaimable(struct test_ctx *t, const char *id)
{
	struct grace_record g = epochs(t);
	struct {
		const char *id;
		bool found;
	} want = { id, false };

	assert_int_equal(grace_reclaim_traverse(t->store, &g, find_cb, &want,
						NULL), 0);
	return want.found;
}

/*
 * Model counterexamples 8 and 9: a node that has not joined the grace
 * grants state; its record must be reclaimable, and the kernels whose
 * lists miss it are flagged STALE until their nfsd restarts.
 */
static void test_create_before_joining_is_reclaimable(void **state)
{
	struct test_ctx *t = *state;
	struct grace_op r;

	run(t, 0, GRACE_OP_CREATE, "a");
	run(t, 0, GRACE_OP_GRACE_START, NULL);	/* node 0 enforces */
	r = run(t, 1, GRACE_OP_CREATE, "late");	/* node 1 not yet */
	assert_int_equal(r.status, 0);
	assert_false(r.result & GRACE_R_RECLAIMED);
	assert_true(is_reclaimable(t, "late"));
	assert_true(member_flags(t, 0) & GRACE_MEMBER_STALE);
	assert_false(member_flags(t, 1) & GRACE_MEMBER_STALE);

	/* an address moving to node 0 must restart it for the full list */
	r = run(t, 0, GRACE_OP_JOIN, NULL);
	assert_true(r.result & GRACE_R_STALE);
	run(t, 0, GRACE_OP_GRACE_START, NULL);
	assert_false(member_flags(t, 0) & GRACE_MEMBER_STALE);
	r = run(t, 0, GRACE_OP_JOIN, NULL);
	assert_false(r.result & GRACE_R_STALE);

	/* "late" blocks the fast path until it reclaims */
	run(t, 1, GRACE_OP_GRACE_START, NULL);
	run(t, 2, GRACE_OP_GRACE_START, NULL);
	run(t, 0, GRACE_OP_CREATE, "a");
	assert_int_equal(lift(t, 2, false).status, -EAGAIN);
	r = run(t, 1, GRACE_OP_CREATE, "late");
	assert_true(r.result & GRACE_R_RECLAIMED);
	assert_true(lift(t, 2, false).result & GRACE_R_LIFTED);
	assert_int_equal(t->last.purged, 0);
}

/* ... but a client that reclaimed on an enforcing node keeps its re-create */
static void test_create_before_joining_keeps_recreate(void **state)
{
	struct test_ctx *t = *state;

	run(t, 0, GRACE_OP_CREATE, "a");
	run(t, 0, GRACE_OP_GRACE_START, NULL);
	run(t, 0, GRACE_OP_CREATE, "a");	/* reclaimed on node 0 */
	run(t, 1, GRACE_OP_CREATE, "a");	/* and opened on node 1 */
	assert_false(member_flags(t, 0) & GRACE_MEMBER_STALE);
	run(t, 1, GRACE_OP_GRACE_START, NULL);
	run(t, 2, GRACE_OP_GRACE_START, NULL);
	assert_true(lift(t, 2, false).result & GRACE_R_LIFTED);
	assert_int_equal(t->last.purged, 0);
}

/* §5.7: before cltrackd restarts nfsd, its re-creates are undone */
static void test_nfsd_stopped_undoes_own_recreates(void **state)
{
	struct test_ctx *t = *state;
	struct grace_op op = {
		.type = GRACE_OP_LIFT,
		.nrequired = 2,
		.required = { 1, 2 },
	};
	struct grace_op r;
	int i;

	run(t, 0, GRACE_OP_CREATE, "a");
	run(t, 1, GRACE_OP_CREATE, "b");
	for (i = 0; i < NODES; i++) {
		run(t, i, GRACE_OP_GRACE_START, NULL);
	}
	run(t, 0, GRACE_OP_CREATE, "a");
	run(t, 1, GRACE_OP_CREATE, "b");
	r = run(t, 0, GRACE_OP_NFSD_STOPPED, NULL);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.purged, 1);
	assert_false(enforcing(t, 0));
	assert_true(enforcing(t, 1));
	/* even a lift that no longer waits for node 0 waits for "a" */
	assert_int_equal(run_op(t, 2, op).status, -EAGAIN);
	/* a second stop finds nothing to undo */
	assert_int_equal(run(t, 0, GRACE_OP_NFSD_STOPPED, NULL).purged, 0);
	run(t, 0, GRACE_OP_GRACE_START, NULL);
	run(t, 0, GRACE_OP_CREATE, "a");
	assert_true(lift(t, 2, false).result & GRACE_R_LIFTED);
	assert_int_equal(t->last.purged, 0);
}

/*
 * Model counterexample 1: a v4.0 client's record is re-created at its
 * first reclaimed OPEN, before its lock reclaims; that does not finish
 * its reclaim, so the fast path must not lift.  The deadline does, and
 * keeps the record.
 */
static void test_v40_recreate_does_not_finish(void **state)
{
	struct test_ctx *t = *state;
	struct grace_op v40 = {
		.type = GRACE_OP_CREATE,
		.idlen = 3,
		.id = "old",
	};
	int i;

	run_op(t, 0, v40);
	for (i = 0; i < NODES; i++) {
		run(t, i, GRACE_OP_GRACE_START, NULL);
	}
	assert_int_equal(run_op(t, 0, v40).status, 0);
	assert_int_equal(lift(t, 2, false).status, -EAGAIN);

	/* a v4.1 reclaim of the same client finishes it */
	run(t, 1, GRACE_OP_CREATE, "old");
	assert_true(lift(t, 2, false).result & GRACE_R_LIFTED);

	/* next grace: the v4.0 re-create waits for the deadline */
	for (i = 0; i < NODES; i++) {
		run(t, i, GRACE_OP_GRACE_START, NULL);
	}
	run_op(t, 0, v40);
	assert_int_equal(lift(t, 2, false).status, -EAGAIN);
	expire_deadline(t);
	assert_true(lift(t, 2, false).result & GRACE_R_LIFTED);
	assert_int_equal(t->last.purged, 0);
	assert_int_equal(records(t), 1);
}

/*
 * Model counterexample 5: node 2 dies in a grace; until its address is
 * taken over by an enforcing node, the clients behind it cannot reclaim,
 * so the lift must wait even at the deadline.
 */
static void test_lift_waits_for_address_takeover(void **state)
{
	struct test_ctx *t = *state;
	struct grace_op op = {
		.type = GRACE_OP_LIFT,
		.nrequired = 2,
		.required = { 0, 1 },
		.nlost = 1,
		.lost = { 2 },
		.nhosts = 3,
		.hosts = { 0, 1, 2 },	/* node 2's address not moved yet */
	};
	int i;

	run(t, 2, GRACE_OP_CREATE, "behind-a2");
	for (i = 0; i < NODES; i++) {
		run(t, i, GRACE_OP_GRACE_START, NULL);
	}
	/* the deadline has passed (grace time 0), yet the lift waits */
	assert_int_equal(run_op(t, 0, op).status, -EAGAIN);
	assert_false(enforcing(t, 2));
	/* node 1 takes the address over; the client reclaims there */
	op.nhosts = 2;
	op.hosts[2] = 0;
	op.nlost = 0;
	run(t, 1, GRACE_OP_CREATE, "behind-a2");
	assert_true(run_op(t, 0, op).result & GRACE_R_LIFTED);
	assert_int_equal(t->last.purged, 0);
	assert_int_equal(records(t), 1);
}

static void test_addresses_enforced_predicate(void **state)
{
	struct test_ctx *t = *state;
	struct grace_op op = {
		.nhosts = 2,
		.hosts = { 0, 2 },
	};
	struct grace_record g;

	run(t, 0, GRACE_OP_GRACE_START, NULL);
	run(t, 1, GRACE_OP_GRACE_START, NULL);
	g = epochs(t);
	assert_false(grace_addresses_enforced(&g, &op));
	op.hosts[1] = 1;
	assert_true(grace_addresses_enforced(&g, &op));
	op.unhosted = true;	/* an address no node holds */
	assert_false(grace_addresses_enforced(&g, &op));
	op.unhosted = false;
	op.nhosts = 0;		/* no public address at all */
	assert_true(grace_addresses_enforced(&g, &op));
}

/* The GraceDone of a lifted grace may arrive after the next one started */
static void test_late_gracedone_of_old_grace_is_harmless(void **state)
{
	struct test_ctx *t = *state;
	struct grace_op r;

	run(t, 0, GRACE_OP_CREATE, "a");
	run(t, 0, GRACE_OP_GRACE_START, NULL);
	assert_true(lift(t, 0, true).result & GRACE_R_LIFTED);
	run(t, 0, GRACE_OP_CREATE, "b");
	run(t, 1, GRACE_OP_ADMIN_START, NULL);	/* the next grace */
	r = run(t, 0, GRACE_OP_GRACE_DONE, NULL);	/* the old one's */
	assert_int_equal(r.status, 0);
	assert_false(r.result & GRACE_R_SAFETY);
	/* once node 0 enforces the new grace, leaving it is unsafe */
	run(t, 0, GRACE_OP_GRACE_START, NULL);
	r = run(t, 0, GRACE_OP_GRACE_DONE, NULL);
	assert_true(r.result & GRACE_R_SAFETY);
	assert_false(enforcing(t, 0));
}

static void test_cluster_enforcing_predicate(void **state)
{
	struct test_ctx *t = *state;
	const uint32_t all[] = { 0, 1, 2 };
	const uint32_t two[] = { 0, 2 };
	struct grace_record g;

	run(t, 0, GRACE_OP_GRACE_START, NULL);
	run(t, 2, GRACE_OP_GRACE_START, NULL);
	g = epochs(t);
	assert_false(grace_cluster_enforcing(&g, all, 3));
	assert_true(grace_cluster_enforcing(&g, two, 2));
	assert_true(grace_cluster_enforcing(&g, NULL, 0));
}

static void test_cluster_refuses_umh_purge(void **state)
{
	struct test_ctx *t = *state;
	struct grace_op op = {
		.type = GRACE_OP_UMH_GRACE_DONE,
		.time = INT64_MAX,
	};

	run(t, 1, GRACE_OP_CREATE, "other-node-client");
	assert_int_equal(run_op(t, 0, op).status, -EOPNOTSUPP);
	run(t, 0, GRACE_OP_GRACE_START, NULL);
	assert_int_equal(reclaimable(t), 1);
}

static void test_single_host_refuses_cluster_ops(void **state)
{
	struct test_ctx *t = *state;
	struct batch_context *single = NULL;
	struct grace_op op = {
		.type = GRACE_OP_JOIN,
	};

	assert_int_equal(batch_init(t, t->ev, t->store, 0, &single), 0);
	assert_int_equal(batch_submit(single, &op, op_done, t), 0);
	while (batch_pending(single) > 0) {
		assert_int_equal(tevent_loop_once(t->ev), 0);
	}
	assert_int_equal(t->last.status, -EOPNOTSUPP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_start_and_join, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_create_before_joining_is_reclaimable, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_create_before_joining_keeps_recreate, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_nfsd_stopped_undoes_own_recreates, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_cluster_enforcing_predicate, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_v40_recreate_does_not_finish, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_lift_waits_for_address_takeover,
			setup_no_grace_time, teardown),
		cmocka_unit_test_setup_teardown(
			test_addresses_enforced_predicate, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_late_gracedone_of_old_grace_is_harmless, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_lift_waits_for_every_node,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_lift_waits_for_reclaims,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_deadline_purges_only_unreclaimed,
			setup_no_grace_time, teardown),
		cmocka_unit_test_setup_teardown(test_force_lift, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_join_by_takeip_needs_but_not_enforcing, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_early_kernel_end_is_safety_event, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_empty_list_start, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_cluster_check_outside_grace, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_restart_in_grace_undoes_own_recreates, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_lost_member_recreates_undone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_takeip_extends_deadline,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_cluster_refuses_umh_purge, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_single_host_refuses_cluster_ops, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
