/*
 * The CTDB store backend (store_ctdb.c).
 */
#ifndef CLTRACK_STORE_CTDB_H
#define CLTRACK_STORE_CTDB_H

#include "ctdb/ctdb_client.h"
#include "store.h"

#define STORE_CTDB_DEFAULT_DB	"cltrack.tdb"

/**
 * @brief Use the CTDB persistent database dbname as the store.
 *
 * Returns at once; the client connects in the background.  Transactions
 * started before it is connected wait for it, for at most 20 s, then fail
 * with ETIMEDOUT.
 * @param socket_path NULL for the lookup order of ctdb_client_default_socket
 * @param cb callbacks of the ctdb client (NULL: none); cltrackd's one
 *        connection to ctdbd also carries its grace messages
 * @param client if not NULL, receives the store's ctdb client
 */
int store_ctdb_init(TALLOC_CTX *mem_ctx, struct tevent_context *ev,
		    const char *socket_path, const char *dbname,
		    const struct ctdb_client_callbacks *cb,
		    struct store_context **result,
		    struct ctdb_client **client);

#endif
