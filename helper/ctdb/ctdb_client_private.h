/*
 * What ctdb_client.c and ctdb_db.c share.
 */
#ifndef CLTRACK_CTDB_CLIENT_PRIVATE_H
#define CLTRACK_CTDB_CLIENT_PRIVATE_H

#include "ctdb_client.h"

/* ctdb_client.c */
struct ctdb_db *ctdb_client_dbs(struct ctdb_client *client);
void ctdb_client_db_add(struct ctdb_client *client, struct ctdb_db *db);
void ctdb_client_db_remove(struct ctdb_client *client, struct ctdb_db *db);
/* The g_lock.tdb handle, registered on first use */
int ctdb_client_g_lock_db(struct ctdb_client *client, struct ctdb_db **db);
/* True while a socket is open (setup may still be running) */
bool ctdb_client_has_conn(struct ctdb_client *client);
/* Connection generation: changes on every disconnect */
uint64_t ctdb_client_generation(struct ctdb_client *client);

/* ctdb_db.c */
struct ctdb_db *ctdb_db_next(struct ctdb_db *db);
void ctdb_db_set_next(struct ctdb_db *db, struct ctdb_db *next);
/* Attach and open one DB on the current connection */
struct tevent_req *ctdb_db_open_send(TALLOC_CTX *mem_ctx,
				     struct tevent_context *ev,
				     struct ctdb_db *db);
int ctdb_db_open_recv(struct tevent_req *req);
/* Close the tdb handle (connection lost) */
void ctdb_db_close(struct ctdb_db *db);

#endif
