/*
 * Epoch rules (grace.h) and group commit (batch.h) on a real tdb store
 * in a temporary directory: nfsdcld's semantics, spec/knfsd-upcalls.md
 * §9.4 and checklist items 10-12 and 18, at the store level.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>
#include <cmocka.h>
#include <tdb.h>

#include "batch.h"
#include "grace.h"
#include "store_private.h"

struct test_ctx {
	TALLOC_CTX *mem_ctx;
	struct tevent_context *ev;
	char dir[64];
	struct store_context *store;
	struct batch_context *batch;
	unsigned done;
	int last_status;
};

static int setup(void **state)
{
	struct test_ctx *t = talloc_zero(NULL, struct test_ctx);

	assert_non_null(t);
	t->mem_ctx = t;
	t->ev = tevent_context_init(t);
	assert_non_null(t->ev);
	snprintf(t->dir, sizeof(t->dir), "/tmp/cltrack-grace-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	assert_int_equal(store_tdb_init(t, t->ev, t->dir, &t->store), 0);
	assert_int_equal(batch_init(t, t->ev, t->store, 0, &t->batch), 0);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct test_ctx *t = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", t->dir);
	talloc_free(t);
	return system(cmd) == 0 ? 0 : -1;
}

/* Write a raw value with tdb while the store is closed, then reopen it */
static void raw_store(struct test_ctx *t, const char *key, size_t keylen,
		      const char *val, size_t vallen)
{
	struct tdb_context *tdb = NULL;
	char path[128];
	TDB_DATA k = {
		.dptr = (uint8_t *)key,
		.dsize = keylen,
	};
	TDB_DATA v = {
		.dptr = (uint8_t *)val,
		.dsize = vallen,
	};

	TALLOC_FREE(t->batch);
	TALLOC_FREE(t->store);
	snprintf(path, sizeof(path), "%s/cltrack.tdb", t->dir);
	tdb = tdb_open(path, 0, TDB_DEFAULT, O_RDWR, 0600);
	assert_non_null(tdb);
	assert_int_equal(tdb_store(tdb, k, v, TDB_REPLACE), 0);
	tdb_close(tdb);
	assert_int_equal(store_tdb_init(t, t->ev, t->dir, &t->store), 0);
	assert_int_equal(batch_init(t, t->ev, t->store, 0, &t->batch), 0);
}

static void op_done(struct grace_op *op, const struct grace_record *g,
		    void *private_data)
{
	struct test_ctx *t = private_data;

	t->done += 1;
	t->last_status = op->status;
}

static void submit(struct test_ctx *t, enum grace_op_type type,
		   const char *id, int princhash)
{
	struct grace_op op = {
		.type = type,
	};

	if (id != NULL) {
		op.idlen = strlen(id);
		memcpy(op.id, id, op.idlen);
	}
	if (princhash) {
		op.princhash_len = 32;
		memset(op.princhash, princhash, 32);
	}
	assert_int_equal(batch_submit(t->batch, &op, op_done, t), 0);
}

static void wait_all(struct test_ctx *t)
{
	while (batch_pending(t->batch) > 0) {
		assert_int_equal(tevent_loop_once(t->ev), 0);
	}
}

static int run(struct test_ctx *t, enum grace_op_type type, const char *id)
{
	submit(t, type, id, 0);
	wait_all(t);
	return t->last_status;
}

struct collect {
	char names[64][32];
	uint8_t phlen[64];
	unsigned n;
};

static int collect_cb(const uint8_t *id, size_t idlen,
		      const struct client_record *rec, void *private_data)
{
	struct collect *c = private_data;

	assert_true(c->n < 64 && idlen < 32);
	memcpy(c->names[c->n], id, idlen);
	c->names[c->n][idlen] = '\0';
	c->phlen[c->n] = rec->princhash_len;
	c->n += 1;
	return 0;
}

static bool has(const struct collect *c, const char *name)
{
	unsigned i;

	for (i = 0; i < c->n; i++) {
		if (strcmp(c->names[i], name) == 0) {
			return true;
		}
	}
	return false;
}

static struct collect reclaim_list(struct test_ctx *t)
{
	struct collect c = { .n = 0 };
	struct grace_record g;

	assert_int_equal(grace_read(t->store, &g), 0);
	assert_int_equal(grace_reclaim_traverse(t->store, &g, collect_cb, &c,
						NULL), 0);
	return c;
}

static struct grace_record epochs(struct test_ctx *t)
{
	struct grace_record g;

	assert_int_equal(grace_read(t->store, &g), 0);
	return g;
}

static void test_worked_example(void **state)
{
	struct test_ctx *t = *state;
	struct collect c;

	/* §9.4 worked example, fresh store (1,0) */
	assert_int_equal(run(t, GRACE_OP_GRACE_START, NULL), 0);
	assert_int_equal(epochs(t).current, 2);
	assert_int_equal(epochs(t).recovery, 1);
	assert_int_equal(reclaim_list(t).n, 0);
	assert_int_equal(run(t, GRACE_OP_GRACE_DONE, NULL), 0);
	assert_int_equal(epochs(t).recovery, 0);

	assert_int_equal(run(t, GRACE_OP_CREATE, "A"), 0);
	assert_int_equal(run(t, GRACE_OP_CREATE, "B"), 0);
	assert_int_equal(run(t, GRACE_OP_REMOVE, "B"), 0);

	/* boot 2 */
	assert_int_equal(run(t, GRACE_OP_GRACE_START, NULL), 0);
	assert_int_equal(epochs(t).current, 3);
	assert_int_equal(epochs(t).recovery, 2);
	c = reclaim_list(t);
	assert_int_equal(c.n, 1);
	assert_true(has(&c, "A"));	/* item 10: B removed, not sent */
	assert_int_equal(run(t, GRACE_OP_CREATE, "A"), 0);
	assert_int_equal(run(t, GRACE_OP_GRACE_DONE, NULL), 0);
	assert_int_equal(epochs(t).current, 3);
	assert_int_equal(epochs(t).recovery, 0);

	/* boot 3: A is still reclaimable */
	assert_int_equal(run(t, GRACE_OP_GRACE_START, NULL), 0);
	c = reclaim_list(t);
	assert_int_equal(c.n, 1);
	assert_true(has(&c, "A"));
}

static void test_unreclaimed_purged(void **state)
{
	struct test_ctx *t = *state;
	struct collect c;

	run(t, GRACE_OP_CREATE, "A");
	run(t, GRACE_OP_CREATE, "B");
	run(t, GRACE_OP_GRACE_START, NULL);
	assert_int_equal(reclaim_list(t).n, 2);
	run(t, GRACE_OP_CREATE, "A");		/* only A reclaims */
	run(t, GRACE_OP_GRACE_DONE, NULL);
	/* item 11: B was not re-created before GraceDone */
	run(t, GRACE_OP_GRACE_START, NULL);
	c = reclaim_list(t);
	assert_int_equal(c.n, 1);
	assert_true(has(&c, "A"));
	assert_false(has(&c, "B"));
}

static void test_restart_during_grace(void **state)
{
	struct test_ctx *t = *state;
	struct collect c;

	run(t, GRACE_OP_CREATE, "A");
	run(t, GRACE_OP_CREATE, "B");
	run(t, GRACE_OP_GRACE_START, NULL);
	run(t, GRACE_OP_CREATE, "A");		/* A reclaimed */
	run(t, GRACE_OP_CREATE, "X");		/* X is new in this grace */
	/* item 12: nfsd restarts during grace */
	run(t, GRACE_OP_GRACE_START, NULL);
	assert_int_equal(epochs(t).recovery, 1);
	assert_int_equal(epochs(t).current, 2);
	c = reclaim_list(t);
	assert_int_equal(c.n, 2);
	assert_true(has(&c, "A"));
	assert_true(has(&c, "B"));
	assert_false(has(&c, "X"));
}

static void test_new_client_in_grace_not_listed(void **state)
{
	struct test_ctx *t = *state;
	struct collect c;

	run(t, GRACE_OP_CREATE, "A");
	run(t, GRACE_OP_GRACE_START, NULL);
	run(t, GRACE_OP_CREATE, "N");
	c = reclaim_list(t);
	assert_int_equal(c.n, 1);
	assert_false(has(&c, "N"));
	run(t, GRACE_OP_GRACE_DONE, NULL);
	/* N survives the purge: it was created in the current epoch */
	run(t, GRACE_OP_GRACE_START, NULL);
	c = reclaim_list(t);
	assert_true(has(&c, "N"));
	assert_false(has(&c, "A"));
}

static void test_remove_during_grace_keeps_reclaim(void **state)
{
	struct test_ctx *t = *state;

	run(t, GRACE_OP_CREATE, "A");
	run(t, GRACE_OP_GRACE_START, NULL);
	run(t, GRACE_OP_CREATE, "A");
	run(t, GRACE_OP_REMOVE, "A");
	/* nfsdcld deletes only from rec-C: A stays in the recovery set */
	assert_int_equal(reclaim_list(t).n, 1);
	run(t, GRACE_OP_GRACE_DONE, NULL);
	run(t, GRACE_OP_GRACE_START, NULL);
	assert_int_equal(reclaim_list(t).n, 0);
}

static void test_v0_check(void **state)
{
	struct test_ctx *t = *state;

	run(t, GRACE_OP_CREATE, "A");
	/* v0 kernels send no GraceStart: Check runs the epoch step */
	assert_int_equal(run(t, GRACE_OP_CHECK, "A"), 0);
	assert_int_equal(epochs(t).recovery, 1);
	assert_int_equal(run(t, GRACE_OP_CHECK, "A"), 0);
	assert_int_equal(run(t, GRACE_OP_CHECK, "unknown"), -EACCES);
	run(t, GRACE_OP_GRACE_DONE, NULL);
	/* the successful Check counted as a re-create */
	run(t, GRACE_OP_GRACE_START, NULL);
	assert_int_equal(reclaim_list(t).n, 1);
}

static void test_princhash_kept(void **state)
{
	struct test_ctx *t = *state;
	struct collect c;

	submit(t, GRACE_OP_CREATE, "A", 0);
	submit(t, GRACE_OP_CREATE, "B", 0x42);
	wait_all(t);
	run(t, GRACE_OP_GRACE_START, NULL);
	c = reclaim_list(t);
	assert_int_equal(c.n, 2);
	assert_int_equal(c.phlen[strcmp(c.names[0], "B") == 0 ? 0 : 1], 32);
	assert_int_equal(c.phlen[strcmp(c.names[0], "A") == 0 ? 0 : 1], 0);
}

static void test_group_commit(void **state)
{
	struct test_ctx *t = *state;
	const struct batch_stats *bs = batch_get_stats(t->batch);
	char id[16];
	int i;

	/* 64 upcalls queued together commit in one transaction */
	for (i = 0; i < 64; i++) {
		snprintf(id, sizeof(id), "c%d", i);
		submit(t, GRACE_OP_CREATE, id, 0);
	}
	assert_int_equal(t->done, 0);	/* nothing answered before commit */
	wait_all(t);
	assert_int_equal(t->done, 64);
	assert_int_equal(bs->transactions, 1);
	assert_int_equal(bs->max_batch, 64);
	assert_int_equal(store_txn_count(t->store), 1);
	run(t, GRACE_OP_GRACE_START, NULL);
	assert_int_equal(reclaim_list(t).n, 64);
}

static void test_corrupt_client_record_skipped(void **state)
{
	struct test_ctx *t = *state;
	struct collect c;
	uint64_t corrupt = 0;
	struct grace_record g;

	run(t, GRACE_OP_CREATE, "good");
	raw_store(t, "client/bad", 10, "\x01garbage", 8);

	run(t, GRACE_OP_GRACE_START, NULL);
	g = epochs(t);
	memset(&c, 0, sizeof(c));
	assert_int_equal(grace_reclaim_traverse(t->store, &g, collect_cb, &c,
						&corrupt), 0);
	assert_int_equal(c.n, 1);
	assert_true(has(&c, "good"));
	assert_int_equal(corrupt, 1);
	/* the damaged client can be created again, overwriting it */
	assert_int_equal(run(t, GRACE_OP_CREATE, "bad"), 0);
}

static void test_corrupt_grace_record_rebuilt(void **state)
{
	struct test_ctx *t = *state;

	run(t, GRACE_OP_GRACE_START, NULL);
	run(t, GRACE_OP_GRACE_DONE, NULL);
	run(t, GRACE_OP_CREATE, "A");		/* A has epoch 2 */
	raw_store(t, "grace", 5, "\x01\x00", 2);

	assert_int_equal(grace_read(t->store, &(struct grace_record){0}),
			 EINVAL);
	/* the next transaction rebuilds it; A stays reclaimable */
	assert_int_equal(run(t, GRACE_OP_GRACE_START, NULL), 0);
	assert_int_equal(epochs(t).recovery, 2);
	assert_int_equal(reclaim_list(t).n, 1);
	assert_true(batch_get_stats(t->batch)->corrupt_records >= 1);
}

/* A backend whose commits fail: every op must get -EREMOTEIO */
static struct tevent_req *fail_txn_send(TALLOC_CTX *mem_ctx,
					struct tevent_context *ev,
					void *backend, struct store_txn *txn)
{
	struct tevent_req *req = NULL;
	int *state = NULL;

	req = tevent_req_create(mem_ctx, &state, int);
	tevent_req_error(req, ENOSPC);
	return tevent_req_post(req, ev);
}

static int fail_txn_recv(struct tevent_req *req)
{
	enum tevent_req_state s;
	uint64_t err;

	return tevent_req_is_error(req, &s, &err) ? (int)err : 0;
}

static const struct store_ops fail_ops = {
	.name = "failing",
	.txn_send = fail_txn_send,
	.txn_recv = fail_txn_recv,
};

static void test_store_failure_answers_eremoteio(void **state)
{
	struct test_ctx *t = *state;
	struct store_context *bad = NULL;
	const struct batch_stats *bs = NULL;

	assert_int_equal(store_new(t, &fail_ops, talloc_new(t), &bad), 0);
	TALLOC_FREE(t->batch);
	assert_int_equal(batch_init(t, t->ev, bad, 0, &t->batch), 0);
	submit(t, GRACE_OP_CREATE, "A", 0);
	submit(t, GRACE_OP_CREATE, "B", 0);
	wait_all(t);
	assert_int_equal(t->done, 2);
	assert_int_equal(t->last_status, -EREMOTEIO);
	bs = batch_get_stats(t->batch);
	assert_int_equal(bs->failed_transactions, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_worked_example, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_unreclaimed_purged, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_restart_during_grace,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_new_client_in_grace_not_listed, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_remove_during_grace_keeps_reclaim, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_v0_check, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_princhash_kept, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_group_commit, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_corrupt_client_record_skipped, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_corrupt_grace_record_rebuilt, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_store_failure_answers_eremoteio, setup,
			teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
