/*
 * knfsd emulator: the kernel side of the rpc_pipefs "cld" pipe.
 *
 * The emulator plays Linux nfsd's client-tracking code
 * (fs/nfsd/nfs4recover.c, nfs4state.c) against a daemon under test, as
 * shared/spec/knfsd-upcalls.md describes it (§2-§7, §11).
 *
 * The test seam: <pipefs>/nfsd/cld is a unix SOCK_SEQPACKET listening
 * socket instead of an rpc_pipefs pipe.  Each connection is one open of
 * the pipe; one record is one message.  "nfsd stop" unlinks the socket
 * and closes every connection; "nfsd start" binds a fresh one (xids
 * restart at 0).
 *
 * The API is synchronous: every call that waits pumps the emulator's own
 * poll loop, so a test needs no event loop of its own.  Calls that only
 * queue (the *_send functions) return at once; emu_upcall_wait() or
 * emu_pump() then drive the pipe.
 *
 * Errors are returned as positive errno values.  Statuses carried on the
 * pipe (cm_status) and pipe-layer failures of an upcall (-EPIPE,
 * -ETIMEDOUT) are negative, as in the kernel.
 */
#ifndef CLTRACK_KNFSD_EMU_H
#define CLTRACK_KNFSD_EMU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <talloc.h>

#include "cld_msg.h"

struct emu;
struct emu_upcall;

/* NFSv4 status codes returned by the client-level operations */
#define EMU_NFS4_OK			0
#define EMU_NFS4ERR_GRACE		10013
#define EMU_NFS4ERR_NO_GRACE		10033
#define EMU_NFS4ERR_RECLAIM_BAD		10034
#define EMU_NFS4ERR_COMPLETE_ALREADY	10054

struct emu_opts {
	const char *pipefs_dir;		/* required; <pipefs>/nfsd is created */
	const char *procfs_dir;		/* fake /proc/fs/nfsd, NULL for none */
	int version_max;		/* 0: force v0 ops; 1; 2 */
	char profile;			/* 'A' 5.x/6.x, 'B' newest tree */
	unsigned grace_time;		/* seconds; written to nfsv4gracetime */
	unsigned lease_time;		/* seconds; written to nfsv4leasetime */
	unsigned opener_wait_ms;	/* v1/v2 init waits this for an open */
	unsigned no_reader_ms;		/* rpc_pipefs RPC_UPCALL_TIMEOUT */
	unsigned hang_ms;		/* a blocked nfsd thread counts as hung */
	const char *nfs_versions;	/* written to <procfs>/versions */
	bool verbose;			/* story output on stdout */
};

/* Which tracking ops nfsd ended up with at its last start (§5.1) */
enum emu_tracker {
	EMU_TRACK_NONE,			/* nfsd stopped, or init failed */
	EMU_TRACK_V0,
	EMU_TRACK_V1,
	EMU_TRACK_V2,
};

enum emu_grace {
	EMU_GRACE_STOPPED,		/* nfsd not running */
	EMU_GRACE_IN,			/* in grace */
	EMU_GRACE_ENDING,		/* grace_ended set, GraceDone in flight */
	EMU_GRACE_OVER,
};

/* A client as nfsd knows it: long-form id plus its principal's hash */
struct emu_name {
	const uint8_t *id;
	size_t id_len;
	const uint8_t *princhash;	/* NULL: no principal (AUTH_SYS) */
	size_t princhash_len;
};

/* The outcome of one client-level operation */
struct emu_op {
	int nfs_status;		/* EMU_NFS4_OK or EMU_NFS4ERR_* (reclaims) */
	bool upcall;		/* an upcall was made */
	uint32_t xid;		/* its xid */
	int status;		/* reply cm_status, or -EPIPE/-ETIMEDOUT */
};

struct emu_counters {
	uint64_t upcalls;		/* upcalls queued (xids taken) */
	uint64_t sends;			/* messages written, resends included */
	uint64_t requeued;		/* unanswered when a connection closed */
	uint64_t opens;			/* connections accepted */
	uint64_t reader_gaps;		/* last close with upcalls pending */
	uint64_t downcalls;		/* records read from the daemon */
	uint64_t rejected_downcalls;	/* all of the next four (§4.4) */
	uint64_t rejected_size;		/* EINVAL: length != ops size */
	uint64_t rejected_xid;		/* EINVAL: no pending upcall */
	uint64_t rejected_unread;	/* EINVAL: profile B, not yet read */
	uint64_t rejected_cmd;		/* EFAULT: -EINPROGRESS, cm_cmd != 4 */
	uint64_t gracestart_records;	/* -EINPROGRESS records accepted */
	uint64_t gracestart_duplicates;	/* ... whose id was already listed */
	uint64_t records_invalid;	/* cn_len not 1..1024 or cp_len > 32 */
	uint64_t records_rejected;	/* refused by the profile's checks */
	uint64_t timeouts;		/* upcalls failed by the no-reader timer */
	uint64_t grace_done;		/* GraceDone upcalls made */
	uint64_t end_grace_writes;	/* v4_end_grace written by others */
};

/* One message crossing the pipe, for emu_set_trace() */
struct emu_trace {
	bool downcall;		/* false: an upcall was written */
	size_t len;		/* record length */
	int pull_ret;		/* cld_msg_pull() result; msg valid if 0 */
	const struct cld_msg *msg;
	int verdict;		/* downcall: 0 accepted, else EINVAL/EFAULT */
};

/**
 * @brief Fill opts with the defaults (version 2, profile A, 1000 ms
 * opener wait, 30 s no-reader timer, 90 s grace and lease, 10 s hang).
 */
void emu_opts_init(struct emu_opts *opts);

/**
 * @brief Create an emulator.  nfsd is not started.
 *
 * Creates <pipefs>/nfsd and, with a procfs_dir, the files
 * v4_end_grace, nfsv4gracetime and nfsv4leasetime.
 */
int emu_init(TALLOC_CTX *mem_ctx, const struct emu_opts *opts,
	     struct emu **result);

/**
 * @brief Start nfsd: the §5.1 sequence (wait for an opener, GetVersion,
 * GraceStart, v0 fallback, grace or no grace).
 *
 * @return 0 when client tracking is up; ETIMEDOUT when nobody opened the
 * pipe in time (nfsd runs without tracking, all reclaims fail); ETIME
 * when an nfsd thread hung waiting for a reply; EALREADY if running.
 */
int emu_nfsd_start(struct emu *emu);

/**
 * @brief Stop nfsd: unlink the pipe, close every connection, fail every
 * pending upcall with -EPIPE, forget all clients (no Remove upcalls).
 */
void emu_nfsd_stop(struct emu *emu);

/**
 * @brief emu_nfsd_stop() then emu_nfsd_start().
 */
int emu_nfsd_restart(struct emu *emu);

/**
 * @brief Upcall version limit for the next nfsd start (an older or newer
 * kernel): 0, 1 or 2.
 */
void emu_set_version_max(struct emu *emu, int version_max);

/**
 * @brief Run one round of the poll loop, waiting at most timeout_ms.
 */
void emu_pump(struct emu *emu, int timeout_ms);

/**
 * @brief Pump for ms milliseconds.
 */
void emu_sleep(struct emu *emu, int ms);

/**
 * @brief Queue a raw upcall.  The emulator takes the next xid (§4.3) and
 * writes it into bytes 4..7 of a copy of buf; the reply is matched by
 * that xid.  len may be anything from 8 to 4096 (garbage tests).
 */
int emu_upcall_send_buf(struct emu *emu, TALLOC_CTX *mem_ctx,
			const uint8_t *buf, size_t len,
			struct emu_upcall **result);

/**
 * @brief Encode msg (msg->xid is ignored) and queue it.
 */
int emu_upcall_send(struct emu *emu, TALLOC_CTX *mem_ctx,
		    const struct cld_msg *msg, struct emu_upcall **result);

/**
 * @brief Pump until up is done or timeout_ms passed.
 *
 * @return 0 when done (see emu_upcall_result()), ETIMEDOUT otherwise.
 */
int emu_upcall_wait(struct emu *emu, struct emu_upcall *up, int timeout_ms);

/**
 * @brief Has the upcall completed (answered or failed)?
 */
bool emu_upcall_done(const struct emu_upcall *up);

/**
 * @brief The xid the emulator gave the upcall.
 */
uint32_t emu_upcall_xid(const struct emu_upcall *up);

/**
 * @brief The outcome of a completed upcall.
 *
 * @return 0 and *reply (may be NULL) when a reply was accepted; the
 * pipe-layer error (-EPIPE, -ETIMEDOUT) when it failed; -EINPROGRESS
 * while it is pending.
 */
int emu_upcall_result(const struct emu_upcall *up, struct cld_msg *reply);

/**
 * @brief Microseconds from queueing to completion (0 while pending).
 */
uint64_t emu_upcall_latency_us(const struct emu_upcall *up);

/**
 * @brief Write arbitrary bytes as one record on the newest connection,
 * outside the upcall machinery.  ENOTCONN without a connection.
 */
int emu_send_raw(struct emu *emu, const void *buf, size_t len);

/**
 * @brief Queue a Create upcall for a client (v1: name; v2: name and
 * princhash), as nfsd's create hook does.  On a delivered reply the
 * client becomes STABLE whatever the status (§4.5).
 *
 * @return EALREADY (and *result = NULL) when the client is STABLE,
 * ESRCH when nfsd is not running, EOPNOTSUPP when it has no tracking.
 */
int emu_create_send(struct emu *emu, TALLOC_CTX *mem_ctx,
		    const struct emu_name *name, struct emu_upcall **result);

/**
 * @brief Queue a Remove upcall; clears STABLE on a delivered reply.
 *
 * @return EALREADY when the client is not STABLE.
 */
int emu_remove_send(struct emu *emu, TALLOC_CTX *mem_ctx,
		    const struct emu_name *name, struct emu_upcall **result);

/**
 * @brief Queue a v0 Check upcall; sets STABLE on a delivered reply.
 *
 * @return EALREADY when STABLE, EOPNOTSUPP unless the ops are v0.
 */
int emu_check_send(struct emu *emu, TALLOC_CTX *mem_ctx,
		   const struct emu_name *name, struct emu_upcall **result);

/**
 * @brief Queue a GraceDone upcall in the current ops' format, outside
 * the grace state machine (a stray GraceDone, for tests).
 */
int emu_grace_done_send(struct emu *emu, TALLOC_CTX *mem_ctx,
			struct emu_upcall **result);

/**
 * @brief A client's first non-reclaim state: Create unless STABLE
 * (v4.0 OPEN_CONFIRM).  Waits for the reply (an nfsd thread blocks).
 *
 * @return 0 when the operation finished (*op filled), ESRCH when nfsd is
 * not running, ETIME when the reply did not come within hang_ms.
 */
int emu_client_create(struct emu *emu, const struct emu_name *name,
		      struct emu_op *op);

/**
 * @brief Client expiry or DESTROY_CLIENTID: Remove if STABLE, then the
 * client is forgotten.
 */
int emu_client_expire(struct emu *emu, const struct emu_name *name,
		      struct emu_op *op);

/**
 * @brief OPEN with CLAIM_PREVIOUS (§5.4; v0: Check upcall).
 */
int emu_client_reclaim(struct emu *emu, const struct emu_name *name,
		       struct emu_op *op);

/**
 * @brief Global RECLAIM_COMPLETE (v4.1+): Create unless STABLE, then
 * count toward the early end of grace (§5.5).
 */
int emu_client_reclaim_complete(struct emu *emu, const struct emu_name *name,
				struct emu_op *op);

/**
 * @brief Is the client STABLE?  false for an unknown client.
 */
bool emu_client_stable(struct emu *emu, const struct emu_name *name);

/**
 * @brief Pump until grace is over (GraceDone answered or failed).
 *
 * @return 0, ETIMEDOUT, or ESRCH when nfsd is not running.
 */
int emu_grace_wait(struct emu *emu, int timeout_ms);

/**
 * @brief Write "Y" to <procfs>/v4_end_grace, as an administrator would.
 */
int emu_write_end_grace(struct emu *emu);

enum emu_grace emu_grace_state(const struct emu *emu);
enum emu_tracker emu_tracker(const struct emu *emu);
const char *emu_grace_name(enum emu_grace grace);
const char *emu_tracker_name(enum emu_tracker tracker);

/**
 * @brief The records of the last GraceStart, in arrival order (kept after
 * GraceDone frees the kernel's copy).  Duplicates are kept.
 */
size_t emu_reclaim_count(const struct emu *emu);
bool emu_reclaim_get(const struct emu *emu, size_t i, struct emu_name *name);
bool emu_reclaim_contains(const struct emu *emu, const uint8_t *id,
			  size_t id_len);

/**
 * @brief RECLAIM_COMPLETEs counted toward the early end of grace.
 */
size_t emu_reclaim_completes(const struct emu *emu);

const struct emu_counters *emu_counters(const struct emu *emu);
uint32_t emu_next_xid(const struct emu *emu);
unsigned emu_connections(const struct emu *emu);
unsigned emu_pending(const struct emu *emu);

/**
 * @brief Turn the story output on or off (e.g. around a bulk run).
 */
void emu_set_verbose(struct emu *emu, bool verbose);

/**
 * @brief Call fn for every message written or read.
 */
void emu_set_trace(struct emu *emu,
		   void (*fn)(void *private_data, const struct emu_trace *t),
		   void *private_data);

/**
 * @brief Printable form of an id: "text" or hex:..., on mem_ctx.
 */
char *emu_id_string(TALLOC_CTX *mem_ctx, const uint8_t *id, size_t len);

/**
 * @brief Parse "text" or "hex:0a1b..." into bytes on mem_ctx.
 */
int emu_id_parse(TALLOC_CTX *mem_ctx, const char *s, uint8_t **id,
		 size_t *len);

#endif
