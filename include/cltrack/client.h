/*
 * libcltrack: talk to cltrackd over its control socket.
 *
 * Every call returns 0 or an errno value (positive).  Errors reported by
 * cltrackd come back as the errno it sent (e.g. EACCES for a failed
 * check, EREMOTEIO when its store failed); cltrack_strerror() gives the
 * text.  A connection serves one call at a time.
 */
#ifndef CLTRACK_CLIENT_H
#define CLTRACK_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <talloc.h>
#include <tevent.h>

#include "cltrack/proto.h"

#define CLTRACK_DEFAULT_SOCKET "/run/cltrack/cltrackd.sock"

struct cltrack_client;

/**
 * @brief Connect to cltrackd.
 * @param path the control socket, NULL for the default.
 * @param timeout_ms time limit for each call, 0 for 30 s.
 */
int cltrack_connect(TALLOC_CTX *mem_ctx, const char *path, int timeout_ms,
		    struct cltrack_client **result);

/** @brief Is cltrackd up and serving? */
int cltrack_ping(struct cltrack_client *c);

/** @brief Daemon state as name/value pairs (epochs, counts, counters). */
int cltrack_status(struct cltrack_client *c, TALLOC_CTX *mem_ctx,
		   struct cltrack_kv **kv, uint32_t *n);

/** @brief Counters only. */
int cltrack_stats(struct cltrack_client *c, TALLOC_CTX *mem_ctx,
		  struct cltrack_kv **kv, uint32_t *n);

/** @brief Client records matching filter (NULL: all). */
int cltrack_list(struct cltrack_client *c, TALLOC_CTX *mem_ctx,
		 const struct cltrack_list_filter *filter,
		 struct cltrack_entry **entries, size_t *n);

/** @brief Store a client record durably. */
int cltrack_create(struct cltrack_client *c,
		   const struct cltrack_client_op *op);

/** @brief Remove a client record. */
int cltrack_remove(struct cltrack_client *c,
		   const struct cltrack_client_op *op);

/** @brief May this client reclaim?  0 yes, EACCES no. */
int cltrack_check(struct cltrack_client *c,
		  const struct cltrack_client_op *op);

/** @brief Start (or join) a grace period. */
int cltrack_grace_start(struct cltrack_client *c);

/** @brief End the grace period and purge clients that did not reclaim. */
int cltrack_grace_done(struct cltrack_client *c);

/**
 * @brief Report a CTDB event (enum cltrack_event) to cltrackd; ip for
 * takeip and releaseip.  monitor: 0 healthy, else why not (ENOTCONN:
 * not connected to ctdbd; ETIMEDOUT: nfsd did not enter the grace).
 */
int cltrack_event(struct cltrack_client *c, uint8_t event, const char *ip);

/**
 * @brief Ask the leader to lift the cluster grace (EPERM on another
 * node; EAGAIN while the conditions do not hold, unless force).
 */
int cltrack_grace_lift(struct cltrack_client *c, bool force);

/*
 * The nfsdcltrack model (see proto.h): a record's created time and
 * session flag stand for nfsdcltrack's time and has_session.  These are
 * for the nfsdcltrack drop-in; NFS servers that send GraceStart use
 * cltrack_create/remove/check above.
 */

/** @brief Store a client with time and op->flags' CLTRACK_F_SESSION. */
int cltrack_umh_create(struct cltrack_client *c,
		       const struct cltrack_client_op *op, int64_t time);

/** @brief Delete a client record, whatever its epoch. */
int cltrack_umh_remove(struct cltrack_client *c,
		       const struct cltrack_client_op *op);

/**
 * @brief 0 if the client has a record, else EACCES.  Without
 * CLTRACK_F_SESSION in op->flags the record's time becomes time.
 */
int cltrack_umh_check(struct cltrack_client *c,
		      const struct cltrack_client_op *op, int64_t time);

/** @brief Delete every record whose time is before before. */
int cltrack_umh_grace_done(struct cltrack_client *c, int64_t before,
			   uint64_t *purged);

/**
 * @brief Count the clients that may still reclaim: time before
 * grace_start, or not a session client.
 */
int cltrack_umh_reclaiming(struct cltrack_client *c, int64_t grace_start,
			   uint64_t *count);

/**
 * @brief Store n client records in one transaction.
 *
 * Ids already stored are left as they are.  Nothing is stored unless
 * everything is.
 * @param stored  records that were new (may be NULL)
 * @param present records that were already stored (may be NULL)
 */
int cltrack_import(struct cltrack_client *c,
		   const struct cltrack_client_op *ops, size_t n,
		   uint64_t *stored, uint64_t *present);

/*
 * Asynchronous API (tevent), beside the synchronous one.
 *
 * A struct cltrack_conn carries any number of calls at once; replies
 * are matched to calls by request id.  Each call is a tevent request:
 * cltrack_<call>_send() starts it, cltrack_<call>_recv() returns 0 or
 * an errno (ETIMEDOUT after the connection's timeout, ECONNRESET when
 * cltrackd went away, or the errno cltrackd answered, e.g. EACCES).
 * Free the calls before their connection.
 */
struct cltrack_conn;

/**
 * @brief Connect to cltrackd for asynchronous calls on ev.
 * @param path the control socket, NULL for the default.
 * @param timeout_ms time limit for each call, 0 for 30 s.
 */
int cltrack_conn_init(TALLOC_CTX *mem_ctx, struct tevent_context *ev,
		      const char *path, int timeout_ms,
		      struct cltrack_conn **result);

/** @brief Start a PING. */
struct tevent_req *cltrack_ping_send(TALLOC_CTX *mem_ctx,
				     struct tevent_context *ev,
				     struct cltrack_conn *conn);
/** @brief Result of a PING. */
int cltrack_ping_recv(struct tevent_req *req);

/** @brief Start storing a client record. */
struct tevent_req *cltrack_create_send(TALLOC_CTX *mem_ctx,
				       struct tevent_context *ev,
				       struct cltrack_conn *conn,
				       const struct cltrack_client_op *op);
/** @brief 0 once the record is durable. */
int cltrack_create_recv(struct tevent_req *req);

/** @brief Start removing a client record. */
struct tevent_req *cltrack_remove_send(TALLOC_CTX *mem_ctx,
				       struct tevent_context *ev,
				       struct cltrack_conn *conn,
				       const struct cltrack_client_op *op);
/** @brief Result of a remove. */
int cltrack_remove_recv(struct tevent_req *req);

/** @brief Start a reclaim check. */
struct tevent_req *cltrack_check_send(TALLOC_CTX *mem_ctx,
				      struct tevent_context *ev,
				      struct cltrack_conn *conn,
				      const struct cltrack_client_op *op);
/** @brief 0: may reclaim; EACCES: may not. */
int cltrack_check_recv(struct tevent_req *req);

/** @brief Start (or join) a grace period. */
struct tevent_req *cltrack_grace_start_send(TALLOC_CTX *mem_ctx,
					    struct tevent_context *ev,
					    struct cltrack_conn *conn);
/** @brief Result of a grace start. */
int cltrack_grace_start_recv(struct tevent_req *req);

/** @brief Start ending the grace period. */
struct tevent_req *cltrack_grace_done_send(TALLOC_CTX *mem_ctx,
					   struct tevent_context *ev,
					   struct cltrack_conn *conn);
/** @brief Result of a grace done. */
int cltrack_grace_done_recv(struct tevent_req *req);

/** @brief Start a STATUS call. */
struct tevent_req *cltrack_status_send(TALLOC_CTX *mem_ctx,
				       struct tevent_context *ev,
				       struct cltrack_conn *conn);
/** @brief The status as name/value pairs on mem_ctx. */
int cltrack_status_recv(struct tevent_req *req, TALLOC_CTX *mem_ctx,
			struct cltrack_kv **kv, uint32_t *n);

/** @brief Start listing client records (filter NULL: all). */
struct tevent_req *cltrack_list_send(TALLOC_CTX *mem_ctx,
				     struct tevent_context *ev,
				     struct cltrack_conn *conn,
				     const struct cltrack_list_filter *filter);
/** @brief The records, as a talloc array on mem_ctx. */
int cltrack_list_recv(struct tevent_req *req, TALLOC_CTX *mem_ctx,
		      struct cltrack_entry **entries, size_t *n);

/** @brief Text for an errno returned by this library. */
const char *cltrack_strerror(int err);

#endif
