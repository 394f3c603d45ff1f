/*
 * Epochs and grace; the rules are in grace.h.
 */
#include <errno.h>
#include <string.h>

#include "grace.h"
#include "logging.h"

static const uint8_t grace_key[] = RECORD_GRACE_KEY;
#define GRACE_KEYLEN (sizeof(grace_key) - 1)

bool grace_is_reclaimable(const struct grace_record *g,
			  const struct client_record *rec)
{
	if (g->recovery == 0) {
		return false;
	}
	if (rec->epoch == g->recovery) {
		return true;
	}
	return rec->epoch == g->current && rec->prev_epoch == g->recovery;
}

struct clients_state {
	grace_client_fn fn;
	void *private_data;
};

static int clients_cb(const uint8_t *key, size_t keylen, const uint8_t *val,
		      size_t vallen, void *private_data)
{
	struct clients_state *state = private_data;
	struct client_record rec;
	const uint8_t *id = NULL;
	size_t idlen;

	if (!client_key_parse(key, keylen, &id, &idlen)) {
		return 0;
	}
	if (client_record_pull(val, vallen, &rec) != 0) {
		return state->fn(key, keylen, id, idlen, NULL,
				 state->private_data);
	}
	return state->fn(key, keylen, id, idlen, &rec, state->private_data);
}

int grace_clients_traverse(struct store_context *store, grace_client_fn fn,
			   void *private_data)
{
	struct clients_state state = {
		.fn = fn,
		.private_data = private_data,
	};

	return store_traverse(store, clients_cb, &state);
}

int grace_txn_clients_traverse(struct store_txn *txn, grace_client_fn fn,
			       void *private_data)
{
	struct clients_state state = {
		.fn = fn,
		.private_data = private_data,
	};

	return store_txn_traverse(txn, clients_cb, &state);
}

/*
 * Rebuilding a damaged grace record: the highest epoch in use becomes C,
 * so every record stays where a new grace will find it (R := C then).
 */
struct max_epoch_state {
	uint64_t max;
	uint64_t corrupt;
};

static int max_epoch_cb(const uint8_t *key, size_t keylen,
			const uint8_t *id, size_t idlen,
			const struct client_record *rec, void *private_data)
{
	struct max_epoch_state *state = private_data;

	if (rec == NULL) {
		state->corrupt += 1;
		return 0;
	}
	if (rec->epoch > state->max) {
		state->max = rec->epoch;
	}
	return 0;
}

int grace_txn_load(struct store_txn *txn, struct grace_txn *gt)
{
	struct max_epoch_state state = {};
	uint8_t *val = NULL;
	size_t vallen = 0;
	int ret;

	ret = store_txn_fetch(txn, NULL, grace_key, GRACE_KEYLEN, &val,
			      &vallen);
	if (ret == ENOENT) {
		grace_record_init(&gt->g);
		gt->grace_dirty = true;
		return 0;
	}
	if (ret != 0) {
		return ret;
	}
	ret = grace_record_pull(val, vallen, &gt->g);
	talloc_free(val);
	if (ret == 0) {
		return 0;
	}

	ret = grace_txn_clients_traverse(txn, max_epoch_cb, &state);
	if (ret != 0) {
		return ret;
	}
	grace_record_init(&gt->g);
	if (state.max > gt->g.current) {
		gt->g.current = state.max;
	}
	gt->grace_dirty = true;
	gt->corrupt += 1 + state.corrupt;
	D_ERR("The grace record is damaged; rebuilt it with current epoch "
	      "%llu and no grace running", (unsigned long long)gt->g.current);
	return 0;
}

int grace_txn_save(struct store_txn *txn, struct grace_txn *gt)
{
	uint8_t buf[RECORD_GRACE_FIXED +
		    RECORD_MAX_MEMBERS * RECORD_MEMBER_SIZE];
	size_t len;

	if (!gt->grace_dirty) {
		return 0;
	}
	len = grace_record_push(&gt->g, buf, sizeof(buf));
	if (len == 0) {
		return EINVAL;
	}
	gt->grace_dirty = false;
	return store_txn_store(txn, grace_key, GRACE_KEYLEN, buf, len);
}

int grace_client_fetch(struct store_txn *txn, struct grace_txn *gt,
		       const uint8_t *key, size_t keylen,
		       struct client_record *rec, bool *found)
{
	uint8_t *val = NULL;
	size_t vallen = 0;
	int ret;

	*found = false;
	ret = store_txn_fetch(txn, NULL, key, keylen, &val, &vallen);
	if (ret == ENOENT) {
		return 0;
	}
	if (ret != 0) {
		return ret;
	}
	ret = client_record_pull(val, vallen, rec);
	talloc_free(val);
	if (ret != 0) {
		/* An unreadable record is overwritten or removed as if absent */
		gt->corrupt += 1;
		return 0;
	}
	*found = true;
	return 0;
}

int grace_client_store(struct store_txn *txn, const uint8_t *key,
		       size_t keylen, const struct client_record *rec)
{
	uint8_t buf[RECORD_CLIENT_FIXED + RECORD_PRINCHASH_SIZE +
		    RECORD_ADDR_MAX];
	size_t len;

	len = client_record_push(rec, buf, sizeof(buf));
	if (len == 0) {
		return EINVAL;
	}
	return store_txn_store(txn, key, keylen, buf, len);
}

/*
 * Epoch-wide changes (the undo at a restart during grace, and the purge)
 * first collect what to change, then change it, so that no backend has to
 * support writes during its traverse.
 */
enum sweep_mode {
	SWEEP_PURGE,		/* delete every epoch-R record */
	SWEEP_UNDO_ALL,		/* one host: undo epoch C (re-creates go back
				   to R, new records are deleted) */
	SWEEP_UNDO_NODE,	/* cluster: undo one node's re-creates only */
};

struct epoch_sweep {
	TALLOC_CTX *mem_ctx;
	const struct grace_record *g;
	enum sweep_mode mode;
	uint32_t pnn;		/* SWEEP_UNDO_NODE */
	struct sweep_item {
		uint8_t *key;
		size_t keylen;
		bool del;
		struct client_record rec;
	} *items;
	size_t n;
	uint64_t corrupt;
};

static int epoch_sweep_cb(const uint8_t *key, size_t keylen,
			  const uint8_t *id, size_t idlen,
			  const struct client_record *r, void *private_data)
{
	struct epoch_sweep *sw = private_data;
	struct client_record rec;
	struct sweep_item item = {};

	if (r == NULL) {
		sw->corrupt += 1;
		return 0;
	}
	rec = *r;

	if (sw->mode == SWEEP_PURGE) {
		if (rec.epoch != sw->g->recovery) {
			return 0;
		}
		item.del = true;
	} else {
		if (rec.epoch != sw->g->current) {
			return 0;
		}
		if (sw->mode == SWEEP_UNDO_NODE &&
		    (rec.pnn != sw->pnn || rec.prev_epoch != sw->g->recovery)) {
			return 0;
		}
		if (rec.prev_epoch == sw->g->recovery) {
			rec.epoch = sw->g->recovery;
			rec.prev_epoch = 0;
			item.rec = rec;
		} else {
			item.del = true;
		}
	}

	if (sw->n % 1024 == 0) {
		struct sweep_item *tmp = talloc_realloc(
			sw->mem_ctx, sw->items, struct sweep_item,
			sw->n + 1024);
		if (tmp == NULL) {
			return -1;
		}
		sw->items = tmp;
	}
	item.key = talloc_memdup(sw->items, key, keylen);
	if (item.key == NULL) {
		return -1;
	}
	item.keylen = keylen;
	sw->items[sw->n++] = item;
	return 0;
}

static int epoch_sweep(struct store_txn *txn, struct grace_txn *gt,
		       enum sweep_mode mode, uint32_t pnn, uint64_t *changed)
{
	TALLOC_CTX *tmp_ctx = talloc_new(NULL);
	struct epoch_sweep sw = {
		.mem_ctx = tmp_ctx,
		.g = &gt->g,
		.mode = mode,
		.pnn = pnn,
	};
	size_t i;
	int ret;

	if (tmp_ctx == NULL) {
		return ENOMEM;
	}
	ret = grace_txn_clients_traverse(txn, epoch_sweep_cb, &sw);
	if (ret != 0) {
		goto done;
	}
	if (sw.items == NULL && sw.n != 0) {
		ret = ENOMEM;
		goto done;
	}
	for (i = 0; i < sw.n; i++) {
		struct sweep_item *it = &sw.items[i];

		if (it->del) {
			ret = store_txn_delete(txn, it->key, it->keylen);
		} else {
			ret = grace_client_store(txn, it->key, it->keylen, &it->rec);
		}
		if (ret != 0) {
			goto done;
		}
	}
	gt->corrupt += sw.corrupt;
	*changed = sw.n;
	ret = 0;
done:
	talloc_free(tmp_ctx);
	return ret;
}

static struct grace_member *member_get(struct grace_txn *gt, uint32_t pnn)
{
	struct grace_record *g = &gt->g;
	uint32_t i;

	for (i = 0; i < g->nmembers; i++) {
		if (g->members[i].pnn == pnn) {
			return &g->members[i];
		}
	}
	if (g->nmembers == RECORD_MAX_MEMBERS) {
		return NULL;
	}
	g->members[g->nmembers] = (struct grace_member) {
		.pnn = pnn,
	};
	return &g->members[g->nmembers++];
}

const struct grace_member *grace_member_find(const struct grace_record *g,
					     uint32_t pnn)
{
	uint32_t i;

	for (i = 0; i < g->nmembers; i++) {
		if (g->members[i].pnn == pnn) {
			return &g->members[i];
		}
	}
	return NULL;
}

/*
 * Cluster: start a grace (R := C, C := C + 1).  Model action grace_start;
 * it runs inside the transaction of the event that starts the grace.
 */
static void grace_start(struct grace_txn *gt, struct grace_op *op)
{
	gt->g.recovery = gt->g.current;
	gt->g.current += 1;
	gt->g.start_time = gt->now;
	gt->g.deadline = gt->now + gt->grace_time;
	gt->g.nmembers = 0;
	gt->grace_dirty = true;
	op->result |= GRACE_R_STARTED;
	D_NOTICE("Cluster grace started by node %u: recovery epoch %llu, "
		 "current epoch %llu", gt->pnn,
		 (unsigned long long)gt->g.recovery,
		 (unsigned long long)gt->g.current);
}

/* Give the running grace another grace time from now */
static void deadline_extend(struct grace_txn *gt)
{
	if (gt->g.deadline < gt->now + gt->grace_time) {
		gt->g.deadline = gt->now + gt->grace_time;
		gt->grace_dirty = true;
	}
}

static struct grace_member *member_need(struct grace_txn *gt)
{
	struct grace_member *m = member_get(gt, gt->pnn);

	if (m != NULL && !(m->flags & GRACE_MEMBER_NEED)) {
		m->flags |= GRACE_MEMBER_NEED;
		m->need_time = gt->now;
		gt->grace_dirty = true;
	}
	return m;
}

/*
 * Cluster, GraceStart upcall: this node's nfsd (re)started, so it lost
 * its state, including the state of clients that reclaimed here in this
 * grace: their re-creates go back to epoch R, to be reclaimed again (or
 * purged).  Other nodes' re-creates stand.  Then this node enforces the
 * running grace, whose deadline gives its clients a whole grace time.
 * (docs/grace-protocol.md §5.2; the model found both the undo and the
 * extension necessary.)
 */
static int grace_enforce(struct store_txn *txn, struct grace_txn *gt,
			 struct grace_op *op)
{
	struct grace_member *m = NULL;
	uint64_t undone = 0;
	int ret;

	if (gt->g.recovery == 0) {
		grace_start(gt, op);
	} else {
		ret = epoch_sweep(txn, gt, SWEEP_UNDO_NODE, gt->pnn, &undone);
		if (ret != 0) {
			return ret;
		}
		if (undone > 0) {
			D_NOTICE("Node %u's nfsd restarted in grace: %llu of "
				 "its clients must reclaim again", gt->pnn,
				 (unsigned long long)undone);
		}
	}
	m = member_need(gt);
	if (m == NULL) {
		return ENOSPC;
	}
	m->flags |= GRACE_MEMBER_ENFORCING;
	m->flags &= ~GRACE_MEMBER_STALE;
	m->enforcing_time = gt->now;
	deadline_extend(gt);
	gt->grace_dirty = true;
	op->result |= GRACE_R_ENFORCING;
	D_NOTICE("Node %u is enforcing grace (recovery epoch %llu)", gt->pnn,
		 (unsigned long long)gt->g.recovery);
	return 0;
}

/*
 * Cluster: member m's nfsd lost its state: it no longer enforces, and its
 * re-creates of this grace go back to epoch R (*undone counts them).
 */
static int member_stop(struct store_txn *txn, struct grace_txn *gt,
		       struct grace_member *m, uint64_t *undone)
{
	m->flags &= ~GRACE_MEMBER_ENFORCING;
	gt->grace_dirty = true;
	return epoch_sweep(txn, gt, SWEEP_UNDO_NODE, m->pnn, undone);
}

/*
 * Cluster: members that CTDB reports inactive lost their nfsd's state:
 * they no longer enforce, and the clients that reclaimed there must
 * reclaim again (RFC 7530 §9.6.3.4: a client that missed a grace must not
 * reclaim in a later one, so an un-reclaimed record is purged).
 */
static int grace_member_lost(struct store_txn *txn, struct grace_txn *gt,
			     const struct grace_op *op)
{
	uint64_t undone = 0;
	uint32_t i;
	int ret;

	for (i = 0; i < op->nlost; i++) {
		struct grace_member *m = member_get(gt, op->lost[i]);

		if (m == NULL || !(m->flags & GRACE_MEMBER_ENFORCING)) {
			continue;
		}
		ret = member_stop(txn, gt, m, &undone);
		if (ret != 0) {
			return ret;
		}
		D_NOTICE("Node %u is gone: it no longer enforces grace, and "
			 "%llu of its clients must reclaim again", m->pnn,
			 (unsigned long long)undone);
	}
	return 0;
}

/*
 * Cluster: this node's nfsd is about to lose its state (cltrackd runs the
 * nfsd restart command next).  It no longer enforces, and the clients
 * that reclaimed here must reclaim again (docs/grace-protocol.md §5.7).
 * Doing it now, and not only at the GraceStart that follows, keeps the
 * leader from lifting on the strength of re-creates whose state is gone
 * while nfsd restarts.
 */
static int grace_nfsd_stopped(struct store_txn *txn, struct grace_txn *gt,
			      struct grace_op *op)
{
	struct grace_member *m = NULL;
	uint64_t undone = 0;
	int ret;

	if (gt->g.recovery == 0) {
		return 0;
	}
	m = member_get(gt, gt->pnn);
	if (m == NULL || !(m->flags & GRACE_MEMBER_ENFORCING)) {
		return 0;
	}
	ret = member_stop(txn, gt, m, &undone);
	if (ret != 0) {
		return ret;
	}
	op->purged = undone;
	D_NOTICE("Node %u's nfsd is restarting: it no longer enforces grace, "
		 "and %llu of its clients must reclaim again", gt->pnn,
		 (unsigned long long)undone);
	return 0;
}

/*
 * Cluster, takeip: an address moved here.  Start a grace, or give the
 * running one a new deadline: the address's clients need a whole grace
 * time from now (the model's counterexample 4).  GRACE_R_STALE: this
 * node's kernel enforces with a list that misses a record stored since
 * (grace_create), so its nfsd must restart to get the full list before
 * the moved clients reclaim here (counterexample 9).
 */
static int grace_takeip(struct store_txn *txn, struct grace_txn *gt,
			struct grace_op *op)
{
	struct grace_member *m = NULL;
	int ret;

	if (gt->g.recovery == 0) {
		grace_start(gt, op);
	} else {
		ret = grace_member_lost(txn, gt, op);
		if (ret != 0) {
			return ret;
		}
		deadline_extend(gt);
	}
	m = member_need(gt);
	if (m == NULL) {
		return ENOSPC;
	}
	if (m->flags & GRACE_MEMBER_STALE) {
		op->result |= GRACE_R_STALE;
	}
	return 0;
}

/* Cluster, "cltrack grace start": start a grace or extend the running one */
static int grace_admin_start(struct grace_txn *gt, struct grace_op *op)
{
	if (gt->g.recovery == 0) {
		grace_start(gt, op);
	} else {
		deadline_extend(gt);
	}
	return member_need(gt) != NULL ? 0 : ENOSPC;
}

static int op_grace_start(struct store_txn *txn, struct grace_txn *gt)
{
	uint64_t changed = 0;
	int ret;

	if (gt->g.recovery == 0) {
		gt->g.recovery = gt->g.current;
		gt->g.current += 1;
		gt->g.start_time = gt->now;
		gt->grace_dirty = true;
		D_NOTICE("Grace started: recovery epoch %llu, current epoch "
			 "%llu", (unsigned long long)gt->g.recovery,
			 (unsigned long long)gt->g.current);
		return 0;
	}

	/* nfsd restarted during grace: keep the recovery set, drop the rest */
	ret = epoch_sweep(txn, gt, SWEEP_UNDO_ALL, 0, &changed);
	if (ret != 0) {
		return ret;
	}
	D_NOTICE("nfsd restarted during grace: recovery epoch %llu kept, "
		 "%llu creates of the interrupted grace undone",
		 (unsigned long long)gt->g.recovery,
		 (unsigned long long)changed);
	return 0;
}

/* Purge: delete every record of epoch R; R := 0 */
static int grace_purge(struct store_txn *txn, struct grace_txn *gt,
		       uint64_t *purged)
{
	int ret;

	ret = epoch_sweep(txn, gt, SWEEP_PURGE, 0, purged);
	if (ret != 0) {
		return ret;
	}
	D_NOTICE("Grace done: %llu records of epoch %llu not reclaimed and "
		 "purged", (unsigned long long)*purged,
		 (unsigned long long)gt->g.recovery);
	gt->g.recovery = 0;
	gt->g.start_time = 0;
	gt->g.deadline = 0;
	gt->g.nmembers = 0;
	gt->grace_dirty = true;
	gt->purged += *purged;
	return 0;
}

struct count_epoch_state {
	uint64_t epoch;
	uint64_t count;		/* records of epoch R */
	uint64_t current;
	uint64_t unfinished;	/* re-creates not known to be finished */
};

static int count_epoch_cb(const uint8_t *key, size_t keylen,
			  const uint8_t *id, size_t idlen,
			  const struct client_record *rec, void *private_data)
{
	struct count_epoch_state *state = private_data;

	if (rec == NULL) {
		return 0;
	}
	if (rec->epoch == state->epoch) {
		state->count += 1;
	} else if (rec->epoch == state->current &&
		   rec->prev_epoch == state->epoch &&
		   !(rec->flags & RECORD_F_SESSION)) {
		state->unfinished += 1;
	}
	return 0;
}

int grace_count_unfinished(struct store_context *store,
			   const struct grace_record *g, uint64_t *count,
			   uint64_t *recovery)
{
	struct count_epoch_state state = {
		.epoch = g->recovery,
		.current = g->current,
	};
	int ret;

	*count = 0;
	if (recovery != NULL) {
		*recovery = 0;
	}
	if (g->recovery == 0) {
		return 0;
	}
	ret = grace_clients_traverse(store, count_epoch_cb, &state);
	*count = state.count + state.unfinished;
	if (recovery != NULL) {
		*recovery = state.count;
	}
	return ret;
}

/*
 * Cluster: this node's kernel left grace (GraceDone upcall).  Only the
 * leader purges.  A kernel leaving while the cluster grace is in force,
 * with clients still to reclaim, is a safety event: it may now grant
 * state that conflicts with a reclaim elsewhere.
 */
static int grace_member_done(struct store_txn *txn, struct grace_txn *gt,
			     struct grace_op *op)
{
	struct count_epoch_state state = {
		.epoch = gt->g.recovery,
	};
	struct grace_member *m = NULL;
	int ret;

	if (gt->g.recovery == 0) {
		return 0;
	}
	m = member_get(gt, gt->pnn);
	if (m == NULL || !(m->flags & GRACE_MEMBER_ENFORCING)) {
		/*
		 * This kernel is not in the running grace: the GraceDone of
		 * an older grace (its lift's v4_end_grace), arriving after a
		 * new grace started.  cluster_check restarts it into this one.
		 */
		return 0;
	}
	ret = grace_txn_clients_traverse(txn, count_epoch_cb, &state);
	if (ret != 0) {
		return ret;
	}
	if (state.count == 0) {
		/*
		 * Nothing left to reclaim anywhere (or the list was empty):
		 * the kernel ending its grace is harmless, and the node still
		 * counts as having entered this grace.
		 */
		return 0;
	}
	op->result |= GRACE_R_SAFETY;
	D_ERR("SAFETY: node %u's kernel left grace while cluster grace "
	      "(recovery epoch %llu) is in force with %llu clients still to "
	      "reclaim; it must enter the grace again", gt->pnn,
	      (unsigned long long)gt->g.recovery,
	      (unsigned long long)state.count);
	m->flags &= ~GRACE_MEMBER_ENFORCING;
	gt->grace_dirty = true;
	return 0;
}

/*
 * Cluster: the leader ends grace.  Every required node (active and
 * healthy in CTDB's node map) must be ENFORCING, and either no record of
 * epoch R is left (every client reclaimed somewhere) or the deadline
 * passed.  Then the epoch-R records are purged and R := 0, in this one
 * transaction.  -EAGAIN: not yet.
 */
/*
 * Every blocking member (CTDB's view, given by the caller: required)
 * enforces grace g.  Model predicate grace_cluster_enforcing; the lift
 * and the GraceStart barrier both use it.
 */
bool grace_cluster_enforcing(const struct grace_record *g,
			     const uint32_t *required, uint32_t nrequired)
{
	uint32_t i;

	for (i = 0; i < nrequired; i++) {
		const struct grace_member *m = grace_member_find(
			g, required[i]);

		if (m == NULL || !(m->flags & GRACE_MEMBER_ENFORCING)) {
			D_INFO("Grace: node %u is not enforcing yet",
			       required[i]);
			return false;
		}
	}
	return true;
}

/*
 * Every public address is on a node that enforces the grace: the clients
 * behind it can reclaim.  Without it the leader could lift between a
 * node's death and the takeover of its address, and purge the records of
 * the clients behind it (model counterexample 5).  Model predicate
 * grace_addresses_enforced.
 */
bool grace_addresses_enforced(const struct grace_record *g,
			      const struct grace_op *op)
{
	uint32_t i;

	if (op->unhosted) {
		D_INFO("Grace: a public address has no node yet");
		return false;
	}
	for (i = 0; i < op->nhosts; i++) {
		const struct grace_member *m = grace_member_find(
			g, op->hosts[i]);

		if (m == NULL || !(m->flags & GRACE_MEMBER_ENFORCING)) {
			D_INFO("Grace: node %u hosts a public address but does "
			       "not enforce yet", op->hosts[i]);
			return false;
		}
	}
	return true;
}

/*
 * Every client finished its reclaim: no record of epoch R is left, and
 * every re-create of this grace is known to come from a v4.1+ client's
 * RECLAIM_COMPLETE (RECORD_F_SESSION).  A v4.0 client's record is
 * re-created at its first reclaimed OPEN, before its lock reclaims, so it
 * does not finish anything (model counterexample 1); its grace ends at
 * the deadline.  remaining counts both kinds (grace_count_unfinished).
 */
static bool grace_reclaim_finished(uint64_t remaining)
{
	return remaining == 0;
}

static bool grace_may_lift(const struct grace_txn *gt,
			   const struct grace_op *op, uint64_t remaining)
{
	if (op->force) {
		return true;
	}
	if (!grace_cluster_enforcing(&gt->g, op->required, op->nrequired) ||
	    !grace_addresses_enforced(&gt->g, op)) {
		return false;
	}
	return grace_reclaim_finished(remaining) || gt->now >= gt->g.deadline;
}

static int grace_lift(struct store_txn *txn, struct grace_txn *gt,
		      struct grace_op *op)
{
	struct count_epoch_state state = {
		.epoch = gt->g.recovery,
		.current = gt->g.current,
	};
	uint64_t remaining;
	int ret;

	if (gt->g.recovery == 0) {
		return 0;
	}
	ret = grace_member_lost(txn, gt, op);
	if (ret != 0) {
		return ret;
	}
	ret = grace_txn_clients_traverse(txn, count_epoch_cb, &state);
	if (ret != 0) {
		return ret;
	}
	remaining = state.count + state.unfinished;
	if (!grace_may_lift(gt, op, remaining)) {
		D_INFO("Lift: not yet (%llu clients may still reclaim, %llu "
		       "v4.0 reclaims may go on, %lld s to the deadline)",
		       (unsigned long long)state.count,
		       (unsigned long long)state.unfinished,
		       (long long)(gt->g.deadline - gt->now));
		op->status = -EAGAIN;
		return 0;
	}
	D_NOTICE("Lifting cluster grace of recovery epoch %llu (%s)",
		 (unsigned long long)gt->g.recovery,
		 op->force ? "forced" : remaining == 0 ?
		 "every client reclaimed" : "deadline passed");
	ret = grace_purge(txn, gt, &op->purged);
	if (ret != 0) {
		return ret;
	}
	op->result |= GRACE_R_LIFTED;
	return 0;
}

static int op_grace_done(struct store_txn *txn, struct grace_txn *gt,
			 struct grace_op *op)
{
	int ret;

	if (gt->g.recovery == 0) {
		ret = op_grace_start(txn, gt);
		if (ret != 0) {
			return ret;
		}
	}
	return grace_purge(txn, gt, &op->purged);
}

/*
 * Cluster, a Create from a node whose nfsd is not in the running grace
 * yet (it serves out of grace until cltrackd restarts it): the state it
 * just granted dies at that restart, so the record must be reclaimable,
 * in epoch R; and every kernel that already has its reclaim list misses
 * it, so those members are flagged STALE (docs/grace-protocol.md §5.4,
 * model counterexamples 8 and 9).
 */
static int grace_create_unjoined(struct store_txn *txn, struct grace_txn *gt,
				 const uint8_t *key, size_t keylen,
				 struct grace_op *op)
{
	struct client_record rec = {
		.epoch = gt->g.recovery,
		.created = gt->now,
		.pnn = gt->pnn,
		.flags = op->flags,
		.princhash_len = op->princhash_len,
	};
	struct client_record old;
	bool found;
	uint32_t i;
	int ret;

	ret = grace_client_fetch(txn, gt, key, keylen, &old, &found);
	if (ret != 0) {
		return ret;
	}
	if (found && grace_is_reclaimable(&gt->g, &old)) {
		/*
		 * Already reclaimable, and in every list sent; a re-create
		 * of another node stands (that node holds the state).
		 */
		return 0;
	}
	if (found) {
		rec.flags |= old.flags & RECORD_F_LEGACY;
	}
	memcpy(rec.princhash, op->princhash, op->princhash_len);
	for (i = 0; i < gt->g.nmembers; i++) {
		struct grace_member *m = &gt->g.members[i];

		if ((m->flags & GRACE_MEMBER_ENFORCING) &&
		    !(m->flags & GRACE_MEMBER_STALE)) {
			m->flags |= GRACE_MEMBER_STALE;
			gt->grace_dirty = true;
		}
	}
	return grace_client_store(txn, key, keylen, &rec);
}

static int grace_create(struct store_txn *txn, struct grace_txn *gt,
		     const uint8_t *key, size_t keylen, struct grace_op *op)
{
	struct client_record old;
	struct client_record rec = {
		.epoch = gt->g.current,
		.created = gt->now,
		.pnn = gt->pnn,
		.flags = op->flags,
		.princhash_len = op->princhash_len,
	};
	const struct grace_member *m = NULL;
	bool found;
	int ret;

	if (gt->cluster && gt->g.recovery != 0) {
		m = grace_member_find(&gt->g, gt->pnn);
		if (m == NULL || !(m->flags & GRACE_MEMBER_ENFORCING)) {
			return grace_create_unjoined(txn, gt, key, keylen, op);
		}
	}
	ret = grace_client_fetch(txn, gt, key, keylen, &old, &found);
	if (ret != 0) {
		return ret;
	}
	if (found) {
		rec.prev_epoch = (old.epoch != gt->g.current) ?
			old.epoch : old.prev_epoch;
		rec.flags |= old.flags & RECORD_F_LEGACY;
		if (gt->g.recovery != 0 && old.epoch == gt->g.recovery) {
			op->result |= GRACE_R_RECLAIMED;
		}
	}
	memcpy(rec.princhash, op->princhash, op->princhash_len);
	return grace_client_store(txn, key, keylen, &rec);
}

static int grace_remove(struct store_txn *txn, struct grace_txn *gt,
		     const uint8_t *key, size_t keylen)
{
	struct client_record rec;
	bool found;
	int ret;

	ret = grace_client_fetch(txn, gt, key, keylen, &rec, &found);
	if (ret != 0) {
		return ret;
	}
	if (!found) {
		/* Also clears an unreadable record */
		return store_txn_delete(txn, key, keylen);
	}
	if (rec.epoch != gt->g.current) {
		/* Not created in this epoch: still reclaimable in this grace */
		return 0;
	}
	if (gt->g.recovery != 0 && rec.prev_epoch == gt->g.recovery) {
		rec.epoch = gt->g.recovery;
		rec.prev_epoch = 0;
		return grace_client_store(txn, key, keylen, &rec);
	}
	return store_txn_delete(txn, key, keylen);
}

static int op_check(struct store_txn *txn, struct grace_txn *gt,
		    const uint8_t *key, size_t keylen, struct grace_op *op)
{
	struct client_record rec;
	bool found;
	int ret;

	if (gt->g.recovery == 0) {
		ret = op_grace_start(txn, gt);
		if (ret != 0) {
			return ret;
		}
	}
	ret = grace_client_fetch(txn, gt, key, keylen, &rec, &found);
	if (ret != 0) {
		return ret;
	}
	if (!found || !grace_is_reclaimable(&gt->g, &rec)) {
		op->status = -EACCES;
		return 0;
	}
	if (rec.epoch == gt->g.current) {
		return 0;
	}
	rec.prev_epoch = rec.epoch;
	rec.epoch = gt->g.current;
	rec.created = gt->now;
	rec.pnn = gt->pnn;
	return grace_client_store(txn, key, keylen, &rec);
}

int grace_txn_apply(struct store_txn *txn, struct grace_txn *gt,
		    struct grace_op *op)
{
	uint8_t *key = NULL;
	size_t keylen = 0;
	int ret;

	op->status = 0;
	op->result = 0;

	if (gt->cluster) {
		switch (op->type) {
		case GRACE_OP_GRACE_START:
			return grace_enforce(txn, gt, op);
		case GRACE_OP_JOIN:
			return grace_takeip(txn, gt, op);
		case GRACE_OP_ADMIN_START:
			return grace_admin_start(gt, op);
		case GRACE_OP_GRACE_DONE:
			return grace_member_done(txn, gt, op);
		case GRACE_OP_LIFT:
			return grace_lift(txn, gt, op);
		case GRACE_OP_NFSD_STOPPED:
			return grace_nfsd_stopped(txn, gt, op);
		case GRACE_OP_CHECK:
			if (gt->g.recovery == 0) {
				/* v0 kernels are not supported in a cluster */
				op->status = -EACCES;
				return 0;
			}
			break;
		case GRACE_OP_UMH_GRACE_DONE:
			/*
			 * nfsdcltrack's gracedone purges by its node's boot
			 * time: on the shared database that would drop the
			 * other nodes' clients.  Only the leader purges.
			 */
			D_WARNING("Refused nfsdcltrack gracedone in cluster "
				  "mode: the CTDB leader ends grace and purges");
			op->status = -EOPNOTSUPP;
			return 0;
		default:
			break;
		}
	}

	switch (op->type) {
	case GRACE_OP_GRACE_START:
		return op_grace_start(txn, gt);
	case GRACE_OP_GRACE_DONE:
		return op_grace_done(txn, gt, op);
	case GRACE_OP_JOIN:
	case GRACE_OP_LIFT:
	case GRACE_OP_NFSD_STOPPED:
		/* one host: its own GraceStart and GraceDone run grace */
		op->status = -EOPNOTSUPP;
		return 0;
	case GRACE_OP_UMH_GRACE_DONE:
	case GRACE_OP_IMPORT:
		return grace_umh_apply(txn, gt, NULL, 0, op);
	default:
		break;
	}

	keylen = client_key_make(NULL, op->id, op->idlen, &key);
	if (keylen == 0) {
		op->status = -EINVAL;
		return 0;
	}
	switch (op->type) {
	case GRACE_OP_CREATE:
		ret = grace_create(txn, gt, key, keylen, op);
		break;
	case GRACE_OP_REMOVE:
		ret = grace_remove(txn, gt, key, keylen);
		break;
	case GRACE_OP_CHECK:
		ret = op_check(txn, gt, key, keylen, op);
		break;
	case GRACE_OP_UMH_CREATE:
	case GRACE_OP_UMH_REMOVE:
	case GRACE_OP_UMH_CHECK:
		ret = grace_umh_apply(txn, gt, key, keylen, op);
		break;
	default:
		op->status = -EOPNOTSUPP;
		ret = 0;
		break;
	}
	talloc_free(key);
	return ret;
}

int grace_read(struct store_context *store, struct grace_record *g)
{
	uint8_t *val = NULL;
	size_t vallen = 0;
	int ret;

	ret = store_fetch(store, NULL, grace_key, GRACE_KEYLEN, &val, &vallen);
	if (ret == ENOENT) {
		grace_record_init(g);
		return 0;
	}
	if (ret != 0) {
		return ret;
	}
	ret = grace_record_pull(val, vallen, g);
	talloc_free(val);
	return ret;
}

struct reclaim_state {
	const struct grace_record *g;
	grace_reclaim_fn fn;
	void *private_data;
	uint64_t corrupt;
};

static int reclaim_cb(const uint8_t *key, size_t keylen, const uint8_t *id,
		      size_t idlen, const struct client_record *rec,
		      void *private_data)
{
	struct reclaim_state *state = private_data;

	if (rec == NULL) {
		state->corrupt += 1;
		return 0;
	}
	if (!grace_is_reclaimable(state->g, rec)) {
		return 0;
	}
	return state->fn(id, idlen, rec, state->private_data);
}

int grace_reclaim_traverse(struct store_context *store,
			   const struct grace_record *g,
			   grace_reclaim_fn fn, void *private_data,
			   uint64_t *corrupt)
{
	struct reclaim_state state = {
		.g = g,
		.fn = fn,
		.private_data = private_data,
	};
	int ret;

	ret = grace_clients_traverse(store, reclaim_cb, &state);
	if (corrupt != NULL) {
		*corrupt = state.corrupt;
	}
	return ret;
}
