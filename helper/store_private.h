/*
 * What a store backend implements.  See store.h for the contract.
 */
#ifndef CLTRACK_STORE_PRIVATE_H
#define CLTRACK_STORE_PRIVATE_H

#include "store.h"

struct store_ops {
	const char *name;
	int (*fetch)(void *backend, TALLOC_CTX *mem_ctx,
		     const uint8_t *key, size_t keylen,
		     uint8_t **val, size_t *vallen);
	int (*traverse)(void *backend, store_traverse_fn fn,
			void *private_data);
	struct tevent_req *(*txn_send)(TALLOC_CTX *mem_ctx,
				       struct tevent_context *ev,
				       void *backend, struct store_txn *txn);
	int (*txn_recv)(struct tevent_req *req);
	int (*txn_fetch)(struct store_txn *txn, TALLOC_CTX *mem_ctx,
			 const uint8_t *key, size_t keylen,
			 uint8_t **val, size_t *vallen);
	int (*txn_store)(struct store_txn *txn, const uint8_t *key,
			 size_t keylen, const uint8_t *val, size_t vallen);
	int (*txn_delete)(struct store_txn *txn, const uint8_t *key,
			  size_t keylen);
	int (*txn_traverse)(struct store_txn *txn, store_traverse_fn fn,
			    void *private_data);
};

struct store_txn {
	const struct store_ops *ops;
	store_txn_fn fn;
	void *private_data;
	void *backend_state;	/* the backend's per-transaction state */
};

/**
 * @brief Wrap a backend in a store_context.
 */
int store_new(TALLOC_CTX *mem_ctx, const struct store_ops *ops,
	      void *backend, struct store_context **result);

#endif
