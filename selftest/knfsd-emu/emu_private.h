/*
 * knfsd emulator internals, shared by emu.c (the pipe: connections,
 * upcall queue, downcall checks, poll loop) and emu_nfsd.c (nfsd: start
 * sequence, grace, clients, /proc/fs/nfsd files).
 */
#ifndef CLTRACK_KNFSD_EMU_PRIVATE_H
#define CLTRACK_KNFSD_EMU_PRIVATE_H

#include <sys/queue.h>
#include <sys/stat.h>
#include <time.h>

#include "emu.h"

#define EMU_CLIENT_BUCKETS	65536
#define EMU_RECORD_BUCKETS	4096

enum emu_upcall_state {
	EMU_UP_QUEUED,		/* on the pipe's queue, not yet read */
	EMU_UP_SENT,		/* written to a connection, unanswered */
	EMU_UP_DONE,		/* answered or failed; off the pending list */
};

/* Who made the upcall decides what its completion changes in nfsd */
enum emu_upcall_kind {
	EMU_KIND_RAW,		/* a test's own upcall: nothing */
	EMU_KIND_START,		/* GetVersion/GraceStart: the start code */
	EMU_KIND_CREATE,	/* client op: sets STABLE */
	EMU_KIND_REMOVE,	/* client op: clears STABLE */
	EMU_KIND_CHECK,		/* client op (v0): sets STABLE */
	EMU_KIND_GRACE_DONE,	/* ends grace; owned by the emulator */
};

struct emu_upcall {
	TAILQ_ENTRY(emu_upcall) link;	/* emu->pending until DONE */
	struct emu *emu;
	enum emu_upcall_state state;
	enum emu_upcall_kind kind;
	uint32_t xid;
	uint8_t *buf;
	size_t len;
	struct emu_conn *conn;		/* where it was sent */
	uint8_t *client_id;		/* client ops: whose STABLE flag */
	size_t client_id_len;
	int result;			/* 0, -EPIPE, -ETIMEDOUT; -EINPROGRESS */
	struct cld_msg reply;
	uint64_t t_queued_ns;
	uint64_t t_done_ns;
};

/* One open of the pipe: one accepted SOCK_SEQPACKET connection */
struct emu_conn {
	TAILQ_ENTRY(emu_conn) link;
	struct emu *emu;
	int fd;
	unsigned serial;
};

struct emu_client {
	struct emu_client *hnext;
	uint8_t *id;
	size_t id_len;
	bool stable;			/* NFSD4_CLIENT_STABLE */
	bool reclaim_complete;		/* NFSD4_CLIENT_RECLAIM_COMPLETE */
};

/* One GraceStart record as the kernel keeps it (§5.3) */
struct emu_record {
	struct emu_record *hnext;
	uint8_t *id;			/* as received */
	size_t id_len;
	uint8_t princhash[CLD_PRINCHASH_SIZE];
	size_t princhash_len;
	bool legacy;			/* "hash:" stripped (profile A) */
};

TAILQ_HEAD(emu_upcall_list, emu_upcall);
TAILQ_HEAD(emu_conn_list, emu_conn);

struct emu {
	struct emu_opts opts;
	char *pipe_path;		/* <pipefs>/nfsd/cld */
	char *bind_path;		/* where the socket is bound first */
	uint64_t t0_ns;

	/* The pipe (emu.c) */
	int listen_fd;			/* -1: no pipe */
	struct emu_conn_list conns;
	unsigned nconns;
	unsigned conn_serial;
	struct emu_upcall_list pending;
	unsigned npending;
	uint32_t next_xid;
	uint64_t no_reader_deadline_ns;	/* 0: timer not armed */
	bool want_pollout;

	/* nfsd (emu_nfsd.c) */
	bool running;
	enum emu_tracker tracker;
	enum emu_grace grace;
	int64_t boot_time;
	unsigned grace_time;
	uint64_t grace_deadline_ns;
	bool somebody_reclaimed;
	bool track_reclaim_completes;
	size_t nr_reclaim_complete;
	bool reclaim_live;		/* the kernel still holds the list */
	TALLOC_CTX *records_ctx;
	struct emu_record **records;
	size_t nrecords;
	struct emu_record **record_hash;
	TALLOC_CTX *clients_ctx;
	struct emu_client **client_hash;

	/* /proc/fs/nfsd */
	char *end_grace_path;
	struct stat end_grace_st;
	bool end_grace_st_valid;
	uint64_t proc_poll_ns;

	struct emu_counters counters;
	void (*trace_fn)(void *private_data, const struct emu_trace *t);
	void *trace_private;
};

/* emu.c */
uint64_t emu_now_ns(void);
void emu_log(struct emu *emu, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void emu_warn(struct emu *emu, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
uint32_t emu_id_hash(const uint8_t *id, size_t len);
uint8_t emu_ops_vers(const struct emu *emu);
int emu_pipe_create(struct emu *emu);
void emu_pipe_destroy(struct emu *emu);
int emu_upcall_queue(struct emu *emu, TALLOC_CTX *mem_ctx,
		     const uint8_t *buf, size_t len,
		     enum emu_upcall_kind kind, struct emu_upcall **result);
int emu_upcall_queue_msg(struct emu *emu, TALLOC_CTX *mem_ctx,
			 const struct cld_msg *msg, enum emu_upcall_kind kind,
			 struct emu_upcall **result);
int emu_wait_nfsd_thread(struct emu *emu, struct emu_upcall *up);

/* emu_nfsd.c */
void emu_nfsd_upcall_done(struct emu *emu, struct emu_upcall *up);
int emu_nfsd_record(struct emu *emu, const struct cld_msg *msg);
uint64_t emu_nfsd_next_timer(const struct emu *emu);
void emu_nfsd_timers(struct emu *emu, uint64_t now);
int emu_proc_init(struct emu *emu);

#endif
