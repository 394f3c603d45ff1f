/*
 * An asynchronous (tevent) client of ctdbd's unix socket.
 *
 * One connection per process: its pid is the one ctdbd sees through
 * SO_PEERCRED and the one written into g_lock entries.  The client
 * connects in the background and reconnects with backoff after ctdbd
 * restarts: outstanding requests fail with ENOTCONN, every tdb handle is
 * closed, then databases are re-attached and srvids re-registered before
 * the client reports itself connected again.
 *
 * Callbacks run from the event loop; they must not free the client.
 */
#ifndef CLTRACK_CTDB_CLIENT_H
#define CLTRACK_CTDB_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <talloc.h>
#include <tevent.h>

#include "ctdb_protocol.h"

struct ctdb_client;
struct ctdb_db;
struct ctdb_transaction;

struct ctdb_client_callbacks {
	/* Setup finished: PNN known, srvids registered, DBs attached */
	void (*connected)(struct ctdb_client *client, uint32_t pnn,
			  void *private_data);
	/* The connection to ctdbd was lost; a reconnect is scheduled */
	void (*disconnected)(struct ctdb_client *client, void *private_data);
	/*
	 * A message for a registered srvid.  For our 0xEE range the
	 * sender's PNN comes from the payload; otherwise it is
	 * CTDB_UNKNOWN_PNN and data is the raw payload (TAKE_IP ...).
	 */
	void (*message)(struct ctdb_client *client, uint64_t srvid,
			uint32_t sender_pnn, const uint8_t *data,
			size_t len, void *private_data);
	/* A leader broadcast named a different leader than the last one */
	void (*leader)(struct ctdb_client *client, uint32_t pnn,
		       void *private_data);
	void *private_data;
};

/* Default request timeout */
#define CTDB_CLIENT_TIMEOUT_MS		10000
/* A cached leader is forgotten this long after its last broadcast */
#define CTDB_CLIENT_LEADER_STALE_MS	3000

/**
 * @brief The socket path by the lookup order of the spec: CTDB_SOCKET;
 * else $CTDB_BASE/run/ctdbd.socket when CTDB_TEST_MODE is set; else
 * /run/ctdb/ctdbd.socket.
 */
char *ctdb_client_default_socket(TALLOC_CTX *mem_ctx);

/**
 * @brief Create a client and start connecting (in the background).
 * @param socket_path NULL for ctdb_client_default_socket()
 * @param cb may be NULL; copied
 */
int ctdb_client_init(TALLOC_CTX *mem_ctx, struct tevent_context *ev,
		     const char *socket_path,
		     const struct ctdb_client_callbacks *cb,
		     struct ctdb_client **result);

/** @brief True once setup is complete, until the connection is lost. */
bool ctdb_client_connected(struct ctdb_client *client);

/** @brief Own PNN, or CTDB_UNKNOWN_PNN before the first connect. */
uint32_t ctdb_client_pnn(struct ctdb_client *client);

/** @brief The leader from the last broadcast; unknown after 3 s. */
uint32_t ctdb_client_leader(struct ctdb_client *client);

/** @brief Completed setups so far (1 after the first connect). */
uint64_t ctdb_client_connects(struct ctdb_client *client);

/**
 * @brief Wait until the client is connected (bounded).
 */
struct tevent_req *ctdb_client_wait_connected_send(TALLOC_CTX *mem_ctx,
						   struct tevent_context *ev,
						   struct ctdb_client *client,
						   uint32_t timeout_ms);
int ctdb_client_wait_connected_recv(struct tevent_req *req);

/**
 * @brief Send one control and wait for its reply.
 *
 * recv returns 0 when a reply came (its status in *status), or the
 * errno of the transport: ETIMEDOUT, ENOTCONN.
 */
struct tevent_req *ctdb_client_control_send(TALLOC_CTX *mem_ctx,
					    struct tevent_context *ev,
					    struct ctdb_client *client,
					    uint32_t destnode,
					    uint32_t opcode, uint64_t srvid,
					    uint32_t flags,
					    const uint8_t *data,
					    size_t datalen,
					    uint32_t timeout_ms);
int ctdb_client_control_recv(struct tevent_req *req, TALLOC_CTX *mem_ctx,
			     int32_t *status, uint8_t **data,
			     size_t *datalen, char **errmsg);

/**
 * @brief REQ_CALL; recv gives REPLY_CALL's status, or EIO for a
 * REPLY_ERROR.
 */
struct tevent_req *ctdb_client_call_send(TALLOC_CTX *mem_ctx,
					 struct tevent_context *ev,
					 struct ctdb_client *client,
					 uint32_t db_id, uint32_t flags,
					 uint32_t callid, const uint8_t *key,
					 size_t keylen, uint32_t timeout_ms);
int ctdb_client_call_recv(struct tevent_req *req, int32_t *status);

/**
 * @brief Send a raw packet and wait for a reply with its reqid (tests:
 * malformed packets).  The packet's reqid field is overwritten.
 */
struct tevent_req *ctdb_client_request_send(TALLOC_CTX *mem_ctx,
					    struct tevent_context *ev,
					    struct ctdb_client *client,
					    uint8_t *pkt, size_t pktlen,
					    uint32_t timeout_ms);
int ctdb_client_request_recv(struct tevent_req *req, TALLOC_CTX *mem_ctx,
			     uint8_t **reply, size_t *replylen);

/**
 * @brief GET_NODEMAP of the local node.
 */
struct tevent_req *ctdb_client_nodemap_send(TALLOC_CTX *mem_ctx,
					    struct tevent_context *ev,
					    struct ctdb_client *client,
					    uint32_t timeout_ms);
int ctdb_client_nodemap_recv(struct tevent_req *req, TALLOC_CTX *mem_ctx,
			     struct ctdb_nodemap **map);

/**
 * @brief GET_PUBLIC_IPS of the local node: the public addresses in its
 * own configuration, each with the PNN that (as the local node knows it)
 * hosts it, or CTDB_UNKNOWN_PNN when none does.
 *
 * The request flags are 0, as "ctdb ip" sends them
 * (ctdb/tools/ctdb.c control_ip: ctdb_ctrl_get_public_ips(...,
 * available_only = false)): every configured address, hosted or not.
 * CTDB_PUBLIC_IP_FLAGS_ONLY_AVAILABLE would drop those the node could
 * not take over now, which is not what a caller asking "who holds
 * what" wants.  An address configured only on other nodes is not in
 * this node's list ("ctdb ip all" merges every node's list for that).
 * The order is ctdbd's; "ctdb ip" sorts by address.
 *
 * recv: 0; the transport's ETIMEDOUT or ENOTCONN; EIO for a non-zero
 * status; EMSGSIZE or EPROTO for a reply that does not parse.
 */
struct tevent_req *ctdb_client_public_ips_send(TALLOC_CTX *mem_ctx,
					       struct tevent_context *ev,
					       struct ctdb_client *client,
					       uint32_t timeout_ms);
int ctdb_client_public_ips_recv(struct tevent_req *req,
				TALLOC_CTX *mem_ctx,
				struct ctdb_public_ip_list **list);

/**
 * @brief Queue a message to destnode (a PNN or CTDB_BROADCAST_*).
 *
 * For a srvid in the 0xEE range our PNN is put in front of the payload.
 * @return 0 (queued; no delivery guarantee), ENOTCONN, ENOMEM.
 */
int ctdb_client_message_send(struct ctdb_client *client, uint32_t destnode,
			     uint64_t srvid, const uint8_t *data,
			     size_t len);

/**
 * @brief Listen on srvid, on this and every later connection.
 */
int ctdb_client_register_srvid(struct ctdb_client *client, uint64_t srvid);
int ctdb_client_deregister_srvid(struct ctdb_client *client, uint64_t srvid);

/*
 * Databases (ctdb_db.c)
 */

/**
 * @brief Register a DB with the client: it is attached and opened
 * whenever the client (re)connects.  Non-blocking.
 */
int ctdb_db_init(struct ctdb_client *client, const char *name,
		 bool persistent, struct ctdb_db **result);

/**
 * @brief ctdb_db_init, then wait until the DB is open.
 */
struct tevent_req *ctdb_db_attach_send(TALLOC_CTX *mem_ctx,
				       struct tevent_context *ev,
				       struct ctdb_client *client,
				       const char *name, bool persistent,
				       uint32_t timeout_ms);
int ctdb_db_attach_recv(struct tevent_req *req, struct ctdb_db **db);

bool ctdb_db_ready(struct ctdb_db *db);
uint32_t ctdb_db_get_id(struct ctdb_db *db);
const char *ctdb_db_get_path(struct ctdb_db *db);

/**
 * @brief Read the local copy (ltdb header stripped; tombstones and the
 * seqnum record read as absent).
 * @return 0, ENOENT, ENOTCONN (not attached), EIO.
 */
int ctdb_db_fetch(struct ctdb_db *db, TALLOC_CTX *mem_ctx,
		  const uint8_t *key, size_t keylen,
		  uint8_t **val, size_t *vallen);

typedef int (*ctdb_db_traverse_fn)(const uint8_t *key, size_t keylen,
				   const uint8_t *val, size_t vallen,
				   void *private_data);
int ctdb_db_traverse(struct ctdb_db *db, ctdb_db_traverse_fn fn,
		     void *private_data);

/** @brief The local __db_sequence_number__ (0 when absent). */
int ctdb_db_seqnum(struct ctdb_db *db, uint64_t *seqnum);

/*
 * g_lock in the ctdb-client format, compatible with ctdb pstore/ptrans.
 * One process holds at most one lock per DB (EDEADLK otherwise).
 */
struct tevent_req *ctdb_g_lock_lock_send(TALLOC_CTX *mem_ctx,
					 struct tevent_context *ev,
					 struct ctdb_db *db, uint32_t type,
					 uint32_t timeout_ms);
int ctdb_g_lock_lock_recv(struct tevent_req *req);
struct tevent_req *ctdb_g_lock_unlock_send(TALLOC_CTX *mem_ctx,
					   struct tevent_context *ev,
					   struct ctdb_db *db,
					   uint32_t timeout_ms);
int ctdb_g_lock_unlock_recv(struct tevent_req *req);

/*
 * Cluster-wide transactions on a persistent DB.  fn runs once, with the
 * WRITE g_lock held; its writes are buffered, then committed in one
 * TRANS3_COMMIT (none when nothing changed).  Transactions of one
 * process on one DB run one after another.
 *
 * recv: 0 committed on every active node; fn's error; ETIMEDOUT; EIO
 * (seqnum mismatch: someone wrote without the lock, or the outcome of a
 * commit cut by a lost connection cannot be proved).
 */
typedef int (*ctdb_txn_fn)(struct ctdb_transaction *txn,
			   void *private_data);

struct tevent_req *ctdb_transaction_send(TALLOC_CTX *mem_ctx,
					 struct tevent_context *ev,
					 struct ctdb_db *db, ctdb_txn_fn fn,
					 void *private_data,
					 uint32_t timeout_ms);
int ctdb_transaction_recv(struct tevent_req *req);

struct ctdb_txn_stats {
	uint64_t commits;	/* TRANS3_COMMITs that took effect */
	uint64_t resends;	/* TRANS3_COMMIT resent (seqnum rule) */
	uint64_t commit_errors;	/* non-zero status or connection lost */
	uint64_t unchanged;	/* transactions that changed nothing */
	uint64_t lock_waits;	/* conflicts found on the g_lock */
	uint64_t migrations;	/* g_lock record migrations */
	uint64_t dead_holders;	/* g_lock entries removed */
};
const struct ctdb_txn_stats *ctdb_db_txn_stats(struct ctdb_db *db);

int ctdb_txn_fetch(struct ctdb_transaction *txn, TALLOC_CTX *mem_ctx,
		   const uint8_t *key, size_t keylen,
		   uint8_t **val, size_t *vallen);
int ctdb_txn_store(struct ctdb_transaction *txn, const uint8_t *key,
		   size_t keylen, const uint8_t *val, size_t vallen);
int ctdb_txn_delete(struct ctdb_transaction *txn, const uint8_t *key,
		    size_t keylen);
int ctdb_txn_traverse(struct ctdb_transaction *txn, ctdb_db_traverse_fn fn,
		      void *private_data);

#endif
