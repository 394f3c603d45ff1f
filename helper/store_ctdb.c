/*
 * The cluster store: one CTDB persistent database (default cltrack.tdb),
 * shared by every node.
 *
 * Reads come from this node's local copy.  A store transaction is one
 * CTDB transaction (g_lock + TRANS3_COMMIT): it returns 0 only when every
 * active node has the change in its local copy.
 *
 * cltrackd opens the kernel pipe before ctdbd may be reachable, so the
 * store is created at once and connects in the background.  A
 * transaction started before the client is connected (or while it
 * reconnects) waits, bounded by STORE_CTDB_TXN_TIMEOUT_MS; then it fails
 * with ETIMEDOUT, which the batcher answers as -EREMOTEIO.  Reads before
 * the first connect fail with ENOTCONN.
 */
#include <errno.h>
#include <string.h>

#include "ctdb/ctdb_client.h"
#include "logging.h"
#include "store_ctdb.h"
#include "store_private.h"
#include "tevent_errno.h"

/* Below the kernel's upcall patience, above a recovery (~5 s) */
#define STORE_CTDB_TXN_TIMEOUT_MS	20000

struct store_ctdb {
	struct ctdb_client *client;
	struct ctdb_db *db;
};

static int store_ctdb_fetch(void *backend, TALLOC_CTX *mem_ctx,
			    const uint8_t *key, size_t keylen,
			    uint8_t **val, size_t *vallen)
{
	struct store_ctdb *sc = talloc_get_type_abort(backend,
						      struct store_ctdb);

	return ctdb_db_fetch(sc->db, mem_ctx, key, keylen, val, vallen);
}

static int store_ctdb_traverse(void *backend, store_traverse_fn fn,
			       void *private_data)
{
	struct store_ctdb *sc = talloc_get_type_abort(backend,
						      struct store_ctdb);

	return ctdb_db_traverse(sc->db, fn, private_data);
}

struct store_ctdb_txn_state {
	struct store_txn *txn;
};

static int store_ctdb_txn_fn(struct ctdb_transaction *ctxn,
			     void *private_data);
static void store_ctdb_txn_done(struct tevent_req *subreq);

static struct tevent_req *store_ctdb_txn_send(TALLOC_CTX *mem_ctx,
					      struct tevent_context *ev,
					      void *backend,
					      struct store_txn *txn)
{
	struct store_ctdb *sc = talloc_get_type_abort(backend,
						      struct store_ctdb);
	struct tevent_req *req = NULL;
	struct tevent_req *subreq = NULL;
	struct store_ctdb_txn_state *state = NULL;

	req = tevent_req_create(mem_ctx, &state,
				struct store_ctdb_txn_state);
	if (req == NULL) {
		return NULL;
	}
	state->txn = txn;
	subreq = ctdb_transaction_send(state, ev, sc->db, store_ctdb_txn_fn,
				       txn, STORE_CTDB_TXN_TIMEOUT_MS);
	if (tevent_req_nomem(subreq, req)) {
		return tevent_req_post(req, ev);
	}
	tevent_req_set_callback(subreq, store_ctdb_txn_done, req);
	return req;
}

static int store_ctdb_txn_fn(struct ctdb_transaction *ctxn,
			     void *private_data)
{
	struct store_txn *txn = private_data;
	int ret;

	txn->backend_state = ctxn;
	ret = txn->fn(txn, txn->private_data);
	txn->backend_state = NULL;
	return ret;
}

static void store_ctdb_txn_done(struct tevent_req *subreq)
{
	struct tevent_req *req = tevent_req_callback_data(
		subreq, struct tevent_req);
	int ret;

	ret = ctdb_transaction_recv(subreq);
	TALLOC_FREE(subreq);
	if (ret != 0) {
		D_ERR("ctdb store: transaction failed, ret=%d (%s)", ret,
		      strerror(ret));
		tevent_req_error(req, ret);
		return;
	}
	tevent_req_done(req);
}

static int store_ctdb_txn_recv(struct tevent_req *req)
{
	int err;

	if (tevent_req_is_errno(req, &err)) {
		return err;
	}
	return 0;
}

static struct ctdb_transaction *ctxn_of(struct store_txn *txn)
{
	return txn->backend_state;
}

static int store_ctdb_txn_fetch(struct store_txn *txn, TALLOC_CTX *mem_ctx,
				const uint8_t *key, size_t keylen,
				uint8_t **val, size_t *vallen)
{
	return ctdb_txn_fetch(ctxn_of(txn), mem_ctx, key, keylen, val,
			      vallen);
}

static int store_ctdb_txn_store(struct store_txn *txn, const uint8_t *key,
				size_t keylen, const uint8_t *val,
				size_t vallen)
{
	return ctdb_txn_store(ctxn_of(txn), key, keylen, val, vallen);
}

static int store_ctdb_txn_delete(struct store_txn *txn, const uint8_t *key,
				 size_t keylen)
{
	return ctdb_txn_delete(ctxn_of(txn), key, keylen);
}

static int store_ctdb_txn_traverse(struct store_txn *txn,
				   store_traverse_fn fn, void *private_data)
{
	return ctdb_txn_traverse(ctxn_of(txn), fn, private_data);
}

static const struct store_ops store_ctdb_ops = {
	.name = "ctdb",
	.fetch = store_ctdb_fetch,
	.traverse = store_ctdb_traverse,
	.txn_send = store_ctdb_txn_send,
	.txn_recv = store_ctdb_txn_recv,
	.txn_fetch = store_ctdb_txn_fetch,
	.txn_store = store_ctdb_txn_store,
	.txn_delete = store_ctdb_txn_delete,
	.txn_traverse = store_ctdb_txn_traverse,
};

int store_ctdb_init(TALLOC_CTX *mem_ctx, struct tevent_context *ev,
		    const char *socket_path, const char *dbname,
		    const struct ctdb_client_callbacks *cb,
		    struct store_context **result,
		    struct ctdb_client **client)
{
	struct store_ctdb *sc = NULL;
	int ret;

	sc = talloc_zero(mem_ctx, struct store_ctdb);
	if (sc == NULL) {
		return ENOMEM;
	}
	ret = ctdb_client_init(sc, ev, socket_path, cb, &sc->client);
	if (ret != 0) {
		D_ERR("ctdb store: cannot create the ctdb client, ret=%d",
		      ret);
		talloc_free(sc);
		return ret;
	}
	/* Attached (and re-attached) by the client whenever it connects */
	ret = ctdb_db_init(sc->client, dbname, true, &sc->db);
	if (ret != 0) {
		talloc_free(sc);
		return ret;
	}
	ret = store_new(mem_ctx, &store_ctdb_ops, sc, result);
	if (ret != 0) {
		talloc_free(sc);
		return ret;
	}
	if (client != NULL) {
		*client = sc->client;
	}
	D_INFO("ctdb store: database %s, connecting in the background",
	       dbname);
	return 0;
}
