/*
 * Group commit.  Operations submitted while a transaction is committing
 * wait and go together into the next one; each is completed only after
 * the transaction that holds it has committed.
 */
#ifndef CLTRACK_BATCH_H
#define CLTRACK_BATCH_H

#include <stdint.h>
#include <talloc.h>
#include <tevent.h>

#include "grace.h"
#include "store.h"

struct batch_context;

/*
 * Called once per operation, after its transaction.  op->status holds
 * the result: the operation's own, or -EREMOTEIO when the store failed.
 * g is the grace record as committed (NULL if the commit failed).
 */
typedef void (*batch_done_fn)(struct grace_op *op,
			      const struct grace_record *g,
			      void *private_data);

struct batch_stats {
	uint64_t ops;
	uint64_t transactions;
	uint64_t failed_transactions;
	uint64_t max_batch;
	uint64_t corrupt_records;
	uint64_t purged;
	/* batch sizes: 1, 2-3, 4-7, ... 64-127, >= 128 */
	uint64_t size_hist[8];
};

int batch_init(TALLOC_CTX *mem_ctx, struct tevent_context *ev,
	       struct store_context *store, uint32_t pnn,
	       struct batch_context **result);

/**
 * @brief Queue op (copied) for the next transaction.
 * @return 0 or ENOMEM.
 */
int batch_submit(struct batch_context *b, const struct grace_op *op,
		 batch_done_fn fn, void *private_data);

/**
 * @brief Run the cluster grace rules as node pnn (grace.h).
 */
void batch_set_cluster(struct batch_context *b, uint32_t pnn,
		       unsigned grace_time);

/**
 * @brief Ask fn for this node's PNN at the start of each transaction
 * (in CTDB mode it is known only once ctdbd has answered).
 */
void batch_set_pnn_fn(struct batch_context *b,
		      uint32_t (*fn)(void *private_data), void *private_data);

/**
 * @brief Operations queued or committing.
 */
unsigned batch_pending(struct batch_context *b);

const struct batch_stats *batch_get_stats(struct batch_context *b);

#endif
