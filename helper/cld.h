/*
 * The kernel front-end: cltrackd's end of <pipefs>/nfsd/cld.
 *
 * The node is normally the kernel's rpc_pipefs pipe.  As a test seam,
 * when the node is a unix SOCK_SEQPACKET socket, cltrackd connects to it
 * and exchanges the same messages, one message per record.
 */
#ifndef CLTRACK_CLD_H
#define CLTRACK_CLD_H

#include <stdbool.h>
#include <stdint.h>
#include <talloc.h>
#include <tevent.h>

#include "batch.h"
#include "store.h"

struct cld_context;

struct cld_stats {
	uint64_t upcalls[6];	/* by enum cld_command */
	uint64_t unknown_cmd;
	uint64_t invalid;	/* names refused with -EINVAL */
	uint64_t garbage;	/* unreadable messages */
	uint64_t opens;
	uint64_t write_errors;
	uint64_t store_errors;	/* replies of -EREMOTEIO */
	uint64_t reclaim_sent;	/* records sent by the last GraceStart */
	uint64_t reclaim_usec;	/* time the last GraceStart list took */
	bool reply_held;	/* a GraceStart reply waits for the barrier */
	uint64_t held_replies;	/* GraceStart replies that had to wait */
	uint64_t held_usec;	/* how long the last one waited */
	bool connected;
	bool is_socket;
};

/**
 * @brief Watch <pipefs_dir>/nfsd and open the cld node when it exists.
 */
int cld_init(TALLOC_CTX *mem_ctx, struct tevent_context *ev,
	     const char *pipefs_dir, struct store_context *store,
	     struct batch_context *batch, struct cld_context **result);

const struct cld_stats *cld_get_stats(struct cld_context *cld);

/*
 * Called when a GraceStart or GraceDone upcall has committed, and when a
 * Create reclaimed a record of the recovery epoch
 */
typedef void (*cld_grace_hook)(const struct grace_op *op,
			       const struct grace_record *g,
			       void *private_data);

/**
 * @brief Cluster mode: tell fn about this node's GraceStart and GraceDone
 * upcalls, and add a sentinel record to every GraceStart list, so that
 * no kernel ends the cluster grace on its own.
 */
void cld_set_grace_hook(struct cld_context *cld, cld_grace_hook fn,
			void *private_data);

/*
 * Cluster mode: may the final reply of a GraceStart whose list was of
 * recovery epoch epoch go now?  Asked when the list is sent and at every
 * cld_barrier_poll().
 */
typedef bool (*cld_barrier_fn)(uint64_t epoch, void *private_data);

/**
 * @brief Cluster mode: hold every GraceStart's final reply until fn
 * allows it (docs/grace-protocol.md §5.3).
 */
void cld_set_barrier(struct cld_context *cld, cld_barrier_fn fn,
		     void *private_data);

/**
 * @brief cltrackd stops: send every held GraceStart reply now.  Nobody
 * would send it later, and the kernel waits for it with nfsd_mutex held.
 */
void cld_release_all(struct cld_context *cld);

/**
 * @brief Call fn when the cld node goes away (nfsd stopped).
 */
void cld_set_stopped_hook(struct cld_context *cld,
			  void (*fn)(void *private_data), void *private_data);

/**
 * @brief Ask the barrier again for a held GraceStart reply.
 */
void cld_barrier_poll(struct cld_context *cld);

/**
 * @brief Does nfsd serve NFSv4.0?  When it does not, every Create comes
 * from a v4.1+ client's RECLAIM_COMPLETE and is stored with
 * RECORD_F_SESSION.  The default is that it does.
 */
void cld_set_v40(struct cld_context *cld, bool v40);

/**
 * @brief Is nfsd starting: a GraceStart upcall of the open pipe is not
 * answered yet (its list is being read or sent, or its reply is held)?
 */
bool cld_nfsd_starting(struct cld_context *cld);

/**
 * @brief Is a GraceStart reply held (this nfsd is starting)?
 */
bool cld_reply_held(struct cld_context *cld);

#endif
