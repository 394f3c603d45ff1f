/*
 * The backend-independent half of the store: dispatch and counters.
 */
#include <errno.h>
#include <stddef.h>

#include "store_private.h"
#include "tevent_errno.h"

struct store_context {
	const struct store_ops *ops;
	void *backend;
	uint64_t txn_count;
};

int store_new(TALLOC_CTX *mem_ctx, const struct store_ops *ops,
	      void *backend, struct store_context **result)
{
	struct store_context *store = NULL;

	store = talloc_zero(mem_ctx, struct store_context);
	if (store == NULL) {
		return ENOMEM;
	}
	store->ops = ops;
	store->backend = talloc_steal(store, backend);
	*result = store;
	return 0;
}

const char *store_backend(struct store_context *store)
{
	return store->ops->name;
}

int store_fetch(struct store_context *store, TALLOC_CTX *mem_ctx,
		const uint8_t *key, size_t keylen,
		uint8_t **val, size_t *vallen)
{
	return store->ops->fetch(store->backend, mem_ctx, key, keylen,
				 val, vallen);
}

int store_traverse(struct store_context *store, store_traverse_fn fn,
		   void *private_data)
{
	return store->ops->traverse(store->backend, fn, private_data);
}

struct store_txn_state {
	struct store_context *store;
	struct store_txn txn;
};

static void store_txn_done(struct tevent_req *subreq);

struct tevent_req *store_txn_send(TALLOC_CTX *mem_ctx,
				  struct tevent_context *ev,
				  struct store_context *store,
				  store_txn_fn fn, void *private_data)
{
	struct tevent_req *req = NULL;
	struct tevent_req *subreq = NULL;
	struct store_txn_state *state = NULL;

	req = tevent_req_create(mem_ctx, &state, struct store_txn_state);
	if (req == NULL) {
		return NULL;
	}
	state->store = store;
	state->txn = (struct store_txn) {
		.ops = store->ops,
		.fn = fn,
		.private_data = private_data,
	};

	subreq = store->ops->txn_send(state, ev, store->backend, &state->txn);
	if (tevent_req_nomem(subreq, req)) {
		return tevent_req_post(req, ev);
	}
	tevent_req_set_callback(subreq, store_txn_done, req);
	return req;
}

static void store_txn_done(struct tevent_req *subreq)
{
	struct tevent_req *req = tevent_req_callback_data(
		subreq, struct tevent_req);
	struct store_txn_state *state = tevent_req_data(
		req, struct store_txn_state);
	int ret;

	ret = state->store->ops->txn_recv(subreq);
	TALLOC_FREE(subreq);
	if (ret != 0) {
		tevent_req_error(req, ret);
		return;
	}
	state->store->txn_count += 1;
	tevent_req_done(req);
}

int store_txn_recv(struct tevent_req *req)
{
	int err;

	if (tevent_req_is_errno(req, &err)) {
		return err;
	}
	return 0;
}

/*
 * The store_txn_* calls are only valid inside the fn of a running
 * transaction; they reach the backend through the txn.
 */
static const struct store_ops *txn_ops(struct store_txn *txn)
{
	return txn->ops;
}

int store_txn_fetch(struct store_txn *txn, TALLOC_CTX *mem_ctx,
		    const uint8_t *key, size_t keylen,
		    uint8_t **val, size_t *vallen)
{
	return txn_ops(txn)->txn_fetch(txn, mem_ctx, key, keylen, val,
				       vallen);
}

int store_txn_store(struct store_txn *txn, const uint8_t *key, size_t keylen,
		    const uint8_t *val, size_t vallen)
{
	return txn_ops(txn)->txn_store(txn, key, keylen, val, vallen);
}

int store_txn_delete(struct store_txn *txn, const uint8_t *key,
		     size_t keylen)
{
	return txn_ops(txn)->txn_delete(txn, key, keylen);
}

int store_txn_traverse(struct store_txn *txn, store_traverse_fn fn,
		       void *private_data)
{
	return txn_ops(txn)->txn_traverse(txn, fn, private_data);
}

uint64_t store_txn_count(struct store_context *store)
{
	return store->txn_count;
}
