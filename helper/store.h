/*
 * The record store: one key/value database with atomic, durable
 * transactions.  Two backends implement it: store_tdb.c (one tdb file,
 * one host) and, in cluster mode, the CTDB persistent database.
 *
 * Reads outside a transaction see the local copy.  A transaction runs a
 * caller's function with the store locked; the function reads and
 * writes through the store_txn_* calls and the store commits the whole
 * set of writes durably (fsync) or nothing.
 */
#ifndef CLTRACK_STORE_H
#define CLTRACK_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <talloc.h>
#include <tevent.h>

struct store_context;
struct store_txn;

/* Return non-zero to stop the traverse. */
typedef int (*store_traverse_fn)(const uint8_t *key, size_t keylen,
				 const uint8_t *val, size_t vallen,
				 void *private_data);

/* Return 0 to commit, an errno to cancel the transaction. */
typedef int (*store_txn_fn)(struct store_txn *txn, void *private_data);

/**
 * @brief Open (or create) <dir>/cltrack.tdb as the embedded store.
 */
int store_tdb_init(TALLOC_CTX *mem_ctx, struct tevent_context *ev,
		   const char *dir, struct store_context **result);

/**
 * @brief Name of the backend ("tdb", "ctdb").
 */
const char *store_backend(struct store_context *store);

/**
 * @brief Fetch one value from the local copy.
 * @return 0, ENOENT, or an errno.
 */
int store_fetch(struct store_context *store, TALLOC_CTX *mem_ctx,
		const uint8_t *key, size_t keylen,
		uint8_t **val, size_t *vallen);

/**
 * @brief Visit every record of the local copy.
 */
int store_traverse(struct store_context *store, store_traverse_fn fn,
		   void *private_data);

/**
 * @brief Run fn inside one durable transaction.
 *
 * store_txn_recv() returns 0 only once the transaction is committed
 * durably; fn's own error, or the store's, otherwise.
 */
struct tevent_req *store_txn_send(TALLOC_CTX *mem_ctx,
				  struct tevent_context *ev,
				  struct store_context *store,
				  store_txn_fn fn, void *private_data);
int store_txn_recv(struct tevent_req *req);

int store_txn_fetch(struct store_txn *txn, TALLOC_CTX *mem_ctx,
		    const uint8_t *key, size_t keylen,
		    uint8_t **val, size_t *vallen);
int store_txn_store(struct store_txn *txn, const uint8_t *key, size_t keylen,
		    const uint8_t *val, size_t vallen);
int store_txn_delete(struct store_txn *txn, const uint8_t *key,
		     size_t keylen);
int store_txn_traverse(struct store_txn *txn, store_traverse_fn fn,
		       void *private_data);

/**
 * @brief Transactions committed since the store was opened.
 */
uint64_t store_txn_count(struct store_context *store);

#endif
