/*
 * Epochs and grace: what each upcall does to the records.
 *
 * Single-host rules are nfsdcld's (spec/knfsd-upcalls.md §9.4), on one
 * record per client instead of one table per epoch:
 *
 *   GraceStart, R == 0      R := C, C := C + 1
 *   GraceStart, R != 0      nfsd restarted during grace: epochs kept;
 *                           creates of the interrupted grace are undone
 *                           (re-created records go back to epoch R,
 *                           records new in C are deleted)
 *   Create                  record epoch := C (prev_epoch := old epoch)
 *   Remove                  delete the epoch-C record; a record that is
 *                           still reclaimable in this grace stays so
 *   Check (v0)              reclaimable record → re-created in C, 0;
 *                           otherwise -EACCES
 *   GraceDone               purge: delete every epoch-R record; R := 0
 *
 * Check and GraceDone with R == 0 run the GraceStart step first, as
 * nfsdcld does for v0 kernels, which never send GraceStart.
 *
 * Reclaimable (the GraceStart list): epoch == R, or epoch == C with
 * prev_epoch == R.
 *
 * Cluster mode (DESIGN.md §5, docs/grace-protocol.md) keeps the record
 * rules and changes who ends grace: the grace record's member entries
 * say which nodes' nfsd are in the running grace (ENFORCING) or asked
 * for it (NEED), and only the leader lifts it:
 *
 *   GraceStart upcall       start or join; this node's re-creates of
 *                           the grace are undone (its nfsd lost them);
 *                           this node ENFORCING, its STALE cleared
 *   Create, node ENFORCING  as on one host
 *   Create, node not yet    epoch R (reclaimable: the state dies when
 *   in the grace            its nfsd joins); every ENFORCING member
 *                           STALE (its kernel's list misses the record)
 *   JOIN (takeip, admin)    start or join; members CTDB reports gone
 *                           lose ENFORCING and their re-creates; the
 *                           deadline is extended; this node NEED
 *   NFSD_STOPPED            before cltrackd restarts nfsd: ENFORCING
 *                           cleared, this node's re-creates undone
 *   GraceDone upcall        this node's kernel left grace: harmless
 *                           when no epoch-R record is left; otherwise a
 *                           safety event, and ENFORCING is cleared so
 *                           that the node is put back into the grace
 *   LIFT (leader only)      every required node ENFORCING, and no
 *                           epoch-R record left or the deadline passed:
 *                           purge epoch R, R := 0, members cleared
 *
 * The deadline is extended to now + grace time whenever a node enters
 * or an address moves.
 *
 * The nfsdcltrack drop-in's operations (GRACE_OP_UMH_*) and the bulk
 * import are in grace_umh.c; their rules are at the top of that file.
 */
#ifndef CLTRACK_GRACE_H
#define CLTRACK_GRACE_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "record.h"
#include "store.h"

enum grace_op_type {
	GRACE_OP_CREATE,
	GRACE_OP_REMOVE,
	GRACE_OP_CHECK,
	GRACE_OP_GRACE_START,
	GRACE_OP_GRACE_DONE,
	GRACE_OP_JOIN,		/* cluster: takeip or releaseip */
	GRACE_OP_ADMIN_START,	/* cluster: cltrack grace start */
	GRACE_OP_LIFT,		/* cluster: the leader ends grace */
	GRACE_OP_NFSD_STOPPED,	/* cluster: this nfsd is about to restart */
	GRACE_OP_UMH_CREATE,
	GRACE_OP_UMH_REMOVE,
	GRACE_OP_UMH_CHECK,
	GRACE_OP_UMH_GRACE_DONE,
	GRACE_OP_IMPORT,
};

/* One record of a bulk import */
struct grace_import_item {
	uint8_t *id;
	uint16_t idlen;
	uint8_t princhash_len;
	uint8_t princhash[RECORD_PRINCHASH_SIZE];
	uint32_t flags;
};

/* grace_op.result flags */
#define GRACE_R_STARTED		0x1	/* a new grace started (R was 0) */
#define GRACE_R_LIFTED		0x2	/* the lift happened */
#define GRACE_R_SAFETY		0x4	/* a safety event (see above) */
#define GRACE_R_ENFORCING	0x8	/* this node is ENFORCING now */
#define GRACE_R_RECLAIMED	0x10	/* a create took a record out of R */
#define GRACE_R_STALE		0x20	/* JOIN: this node's list is stale */

struct grace_op {
	enum grace_op_type type;
	uint16_t idlen;
	uint8_t id[RECORD_ID_MAX];
	uint8_t princhash_len;
	uint8_t princhash[RECORD_PRINCHASH_SIZE];
	uint32_t flags;		/* RECORD_F_* for a create */
	bool force;		/* LIFT: ignore the conditions */
	uint32_t nrequired;	/* LIFT: nodes that must be ENFORCING */
	uint32_t required[RECORD_MAX_MEMBERS];
	uint32_t nlost;		/* LIFT, JOIN: nodes CTDB reports inactive */
	uint32_t lost[RECORD_MAX_MEMBERS];
	uint32_t nhosts;	/* LIFT: nodes that host a public address */
	uint32_t hosts[RECORD_MAX_MEMBERS];
	bool unhosted;		/* LIFT: a public address has no host */
	int status;		/* result: 0 or -errno (e.g. -EACCES) */
	uint32_t result;	/* GRACE_R_* */
	uint64_t purged;	/* LIFT/GraceDone: records purged;
				   NFSD_STOPPED: re-creates undone */
	int64_t time;		/* UMH ops: the nfsdcltrack time */
	const struct grace_import_item *items;	/* GRACE_OP_IMPORT */
	size_t nitems;
	uint64_t counts[2];	/* UMH_GRACE_DONE: purged;
				   IMPORT: stored, present */
};

/* What one transaction worked with: loaded at its start, saved at end. */
struct grace_txn {
	struct grace_record g;
	bool grace_dirty;
	uint32_t pnn;
	bool cluster;
	uint64_t grace_time;
	uint64_t now;
	uint64_t purged;	/* records deleted by GraceDone */
	uint64_t corrupt;	/* unreadable records met */
};

/**
 * @brief Load the grace record inside a transaction.
 *
 * A missing record means a new store (C = 1, R = 0).  An unreadable one
 * is rebuilt from the client records (C = the highest epoch, R = 0) and
 * reported, so a damaged record never stops the service.
 */
int grace_txn_load(struct store_txn *txn, struct grace_txn *gt);

/**
 * @brief Apply one operation; op->status receives its result.
 * @return 0, or a store errno that must cancel the transaction.
 */
int grace_txn_apply(struct store_txn *txn, struct grace_txn *gt,
		    struct grace_op *op);

/**
 * @brief Apply one GRACE_OP_UMH_* or GRACE_OP_IMPORT operation.
 * key is the client key for the client operations, else NULL.
 */
int grace_umh_apply(struct store_txn *txn, struct grace_txn *gt,
		    const uint8_t *key, size_t keylen, struct grace_op *op);

/**
 * @brief Store the grace record if an operation changed it.
 */
int grace_txn_save(struct store_txn *txn, struct grace_txn *gt);

/*
 * Called for each client record ("client/<id>") of a traverse; rec is
 * NULL for a value that cannot be read (the caller skips it, counts it,
 * or treats it as it must).  Return non-zero to stop.
 */
typedef int (*grace_client_fn)(const uint8_t *key, size_t keylen,
			       const uint8_t *id, size_t idlen,
			       const struct client_record *rec,
			       void *private_data);

/**
 * @brief Visit every client record of the local copy, decoded.
 */
int grace_clients_traverse(struct store_context *store, grace_client_fn fn,
			   void *private_data);

/**
 * @brief Visit every client record inside a transaction, decoded.
 */
int grace_txn_clients_traverse(struct store_txn *txn, grace_client_fn fn,
			       void *private_data);

/**
 * @brief Read a client record inside a transaction.  An unreadable one
 * reads as absent (and is counted in gt->corrupt), so that a create
 * overwrites it.
 */
int grace_client_fetch(struct store_txn *txn, struct grace_txn *gt,
		       const uint8_t *key, size_t keylen,
		       struct client_record *rec, bool *found);

/**
 * @brief Store a client record inside a transaction.
 */
int grace_client_store(struct store_txn *txn, const uint8_t *key,
		       size_t keylen, const struct client_record *rec);

/**
 * @brief This node's member entry in g, or NULL.
 */
const struct grace_member *grace_member_find(const struct grace_record *g,
					     uint32_t pnn);

/**
 * @brief Count, in the local copy, the clients whose reclaim is not
 * known to be finished: records of epoch R, and re-creates of this grace
 * without RECORD_F_SESSION (a v4.0 client may still reclaim locks).
 * *recovery, if not NULL, gets the first kind alone.
 */
int grace_count_unfinished(struct store_context *store,
			   const struct grace_record *g, uint64_t *count,
			   uint64_t *recovery);

/**
 * @brief Read the grace record from the local copy (no transaction).
 */
int grace_read(struct store_context *store, struct grace_record *g);

/* Called for each reclaimable client; return non-zero to stop. */
typedef int (*grace_reclaim_fn)(const uint8_t *id, size_t idlen,
				const struct client_record *rec,
				void *private_data);

/**
 * @brief Visit the reclaim list of grace g in the local copy.
 *
 * Unreadable or invalid records are skipped; *corrupt counts them.
 */
int grace_reclaim_traverse(struct store_context *store,
			   const struct grace_record *g,
			   grace_reclaim_fn fn, void *private_data,
			   uint64_t *corrupt);

/**
 * @brief Does every node in required enforce grace g?
 */
bool grace_cluster_enforcing(const struct grace_record *g,
			     const uint32_t *required, uint32_t nrequired);

/**
 * @brief Is every public address on a node that enforces grace g?
 * (op->hosts, op->unhosted: CTDB's public address map.)
 */
bool grace_addresses_enforced(const struct grace_record *g,
			      const struct grace_op *op);

/**
 * @brief Is rec reclaimable in grace g?
 */
bool grace_is_reclaimable(const struct grace_record *g,
			  const struct client_record *rec);

#endif
