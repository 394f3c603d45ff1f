/*
 * Group commit; see batch.h.
 *
 * One transaction is in flight at a time.  batch_submit() queues an
 * operation and, if the store is idle, schedules a commit with a tevent
 * immediate, so that every upcall already readable is queued before the
 * transaction starts.
 */
#include <errno.h>
#include <string.h>

#include "batch.h"
#include "logging.h"

struct batch_entry {
	struct batch_entry *next;
	struct grace_op op;
	batch_done_fn fn;
	void *private_data;
};

struct batch_context {
	struct tevent_context *ev;
	struct store_context *store;
	uint32_t pnn;
	bool cluster;
	uint32_t (*pnn_fn)(void *private_data);
	void *pnn_private;
	uint64_t grace_time;
	struct tevent_immediate *im;
	bool scheduled;
	struct batch_entry *queue, *queue_tail;
	unsigned queued;
	struct batch_entry *committing;
	unsigned committing_count;
	struct grace_txn gt;
	struct batch_stats stats;
};

static void batch_start(struct tevent_context *ev,
			struct tevent_immediate *im, void *private_data);
static int batch_txn_fn(struct store_txn *txn, void *private_data);
static void batch_done(struct tevent_req *subreq);
static void batch_complete(struct batch_context *b, int ret);

int batch_init(TALLOC_CTX *mem_ctx, struct tevent_context *ev,
	       struct store_context *store, uint32_t pnn,
	       struct batch_context **result)
{
	struct batch_context *b = NULL;

	b = talloc_zero(mem_ctx, struct batch_context);
	if (b == NULL) {
		return ENOMEM;
	}
	b->ev = ev;
	b->store = store;
	b->pnn = pnn;
	b->im = tevent_create_immediate(b);
	if (b->im == NULL) {
		talloc_free(b);
		return ENOMEM;
	}
	*result = b;
	return 0;
}

static void batch_schedule(struct batch_context *b)
{
	if (b->scheduled || b->committing != NULL || b->queue == NULL) {
		return;
	}
	b->scheduled = true;
	tevent_schedule_immediate(b->im, b->ev, batch_start, b);
}

int batch_submit(struct batch_context *b, const struct grace_op *op,
		 batch_done_fn fn, void *private_data)
{
	struct batch_entry *e = NULL;

	e = talloc(b, struct batch_entry);
	if (e == NULL) {
		return ENOMEM;
	}
	*e = (struct batch_entry) {
		.op = *op,
		.fn = fn,
		.private_data = private_data,
	};
	if (b->queue_tail == NULL) {
		b->queue = e;
	} else {
		b->queue_tail->next = e;
	}
	b->queue_tail = e;
	b->queued += 1;
	batch_schedule(b);
	return 0;
}

static void batch_start(struct tevent_context *ev,
			struct tevent_immediate *im, void *private_data)
{
	struct batch_context *b = talloc_get_type_abort(
		private_data, struct batch_context);
	struct tevent_req *subreq = NULL;

	b->scheduled = false;
	b->committing = b->queue;
	b->committing_count = b->queued;
	b->queue = NULL;
	b->queue_tail = NULL;
	b->queued = 0;

	subreq = store_txn_send(b, ev, b->store, batch_txn_fn, b);
	if (subreq == NULL) {
		D_ERR("Out of memory starting a transaction");
		/* Completed as a failed transaction, never dropped */
		batch_complete(b, ENOMEM);
		return;
	}
	tevent_req_set_callback(subreq, batch_done, b);
}

static int batch_txn_fn(struct store_txn *txn, void *private_data)
{
	struct batch_context *b = talloc_get_type_abort(
		private_data, struct batch_context);
	struct batch_entry *e = NULL;
	int ret;

	b->gt = (struct grace_txn) {
		.pnn = b->pnn_fn != NULL ? b->pnn_fn(b->pnn_private) : b->pnn,
		.cluster = b->cluster,
		.grace_time = b->grace_time,
		.now = (uint64_t)time(NULL),
	};
	ret = grace_txn_load(txn, &b->gt);
	if (ret != 0) {
		D_ERR("Cannot read the grace record, ret=%d", ret);
		return ret;
	}
	for (e = b->committing; e != NULL; e = e->next) {
		ret = grace_txn_apply(txn, &b->gt, &e->op);
		if (ret != 0) {
			D_ERR("Store failed during %u operations, ret=%d",
			      b->committing_count, ret);
			return ret;
		}
	}
	return grace_txn_save(txn, &b->gt);
}

static unsigned hist_bucket(unsigned n)
{
	unsigned bucket = 0;

	while (n > 1 && bucket < 7) {
		n >>= 1;
		bucket += 1;
	}
	return bucket;
}

static void batch_done(struct tevent_req *subreq)
{
	struct batch_context *b = tevent_req_callback_data(
		subreq, struct batch_context);
	int ret;

	ret = store_txn_recv(subreq);
	TALLOC_FREE(subreq);
	batch_complete(b, ret);
}

static void batch_complete(struct batch_context *b, int ret)
{
	struct batch_entry *e = NULL;
	const struct grace_record *g = NULL;

	b->stats.transactions += 1;
	b->stats.ops += b->committing_count;
	if (b->committing_count > b->stats.max_batch) {
		b->stats.max_batch = b->committing_count;
	}
	b->stats.size_hist[hist_bucket(b->committing_count)] += 1;
	b->stats.corrupt_records += b->gt.corrupt;

	if (ret == 0) {
		g = &b->gt.g;
		b->stats.purged += b->gt.purged;
	} else {
		b->stats.failed_transactions += 1;
		D_ERR("Transaction of %u operations failed, ret=%d (%s); "
		      "answering -EREMOTEIO", b->committing_count, ret,
		      strerror(ret));
	}

	e = b->committing;
	b->committing = NULL;
	b->committing_count = 0;
	while (e != NULL) {
		struct batch_entry *next = e->next;

		if (ret != 0) {
			e->op.status = -EREMOTEIO;
		}
		e->fn(&e->op, g, e->private_data);
		talloc_free(e);
		e = next;
	}
	batch_schedule(b);
}

void batch_set_cluster(struct batch_context *b, uint32_t pnn,
		       unsigned grace_time)
{
	b->cluster = true;
	b->pnn = pnn;
	b->grace_time = grace_time;
}

void batch_set_pnn_fn(struct batch_context *b,
		      uint32_t (*fn)(void *private_data), void *private_data)
{
	b->pnn_fn = fn;
	b->pnn_private = private_data;
}

unsigned batch_pending(struct batch_context *b)
{
	return b->queued + b->committing_count;
}

const struct batch_stats *batch_get_stats(struct batch_context *b)
{
	return &b->stats;
}
