/*
 * The cltrackd control protocol, spoken on its unix stream socket
 * (default /run/cltrack/cltrackd.sock, mode 0600, root peers only).
 *
 * This header is the one definition of the format; plugin/proto.c
 * encodes and decodes it.  All integers are little-endian.
 *
 * Every packet, request or reply, is a header followed by a body:
 *
 *   off  size  field
 *   0    4     length   total bytes incl. this header, 24..1 MiB
 *   4    4     magic    CLTRACK_PROTO_MAGIC
 *   8    2     version  CLTRACK_PROTO_VERSION
 *   10   2     opcode   enum cltrack_opcode
 *   12   4     reqid    chosen by the client, echoed in replies
 *   16   4     status   replies: 0 or a negative errno; requests: 0
 *   20   4     flags    replies: CLTRACK_PROTO_F_MORE when more
 *                       replies to the same reqid follow
 *
 * Bodies by opcode (requests → replies):
 *
 *   PING            empty → empty (cltrackd is up and serving)
 *   STATUS, STATS   empty → kv list
 *   LIST            list filter → one or more entry lists (F_MORE)
 *   CREATE          client op → empty (status: 0, -EINVAL, -EREMOTEIO)
 *   REMOVE, CHECK   client op → empty (CHECK: -EACCES if not allowed)
 *   GRACE_START     empty → empty
 *   GRACE_DONE      empty → empty
 *
 * The nfsdcltrack drop-in's operations keep nfsdcltrack's time-based
 * model (spec/knfsd-upcalls.md §8.2) on the record's created time and
 * RECORD_F_SESSION flag; they ignore epochs:
 *
 *   UMH_CREATE      umh op → empty: store the client with created :=
 *                   time and the session flag (INSERT OR REPLACE)
 *   UMH_REMOVE      umh op → empty: delete the record, whatever epoch
 *   UMH_CHECK       umh op → empty: 0 if a record exists (any epoch),
 *                   else -EACCES; without CLTRACK_F_SESSION the
 *                   record's created := time (a v4.0 refresh)
 *   UMH_GRACE_DONE  umh time → kv list "purged": delete every record
 *                   with created < time
 *   UMH_RECLAIMING  umh time → kv list "count": records with created <
 *                   time or without the session flag ("possibly still
 *                   reclaiming"); read only
 *   IMPORT          import chunk → kv list "stored", "present".  An
 *                   import is one or more chunks with the same reqid;
 *                   every chunk but the last has CLTRACK_PROTO_F_MORE
 *                   in its request header.  Only the last is answered,
 *                   after all records were stored in one transaction:
 *                   new ids get epoch C and created := now, ids
 *                   already stored are left as they are.
 *
 * Cluster mode (CTDB):
 *
 *   EVENT           event → empty.  takeip/releaseip start or join a
 *                   grace; ipreallocated/recovered make this node catch
 *                   up; monitor fails (-ENOTCONN, -ETIMEDOUT) when this
 *                   node cannot serve in the cluster grace
 *   GRACE_START     in a cluster: start or join a grace (this node NEED)
 *   GRACE_LIFT      lift flags → empty; -EPERM unless this node is the
 *                   leader, -EAGAIN while the lift conditions do not hold
 *
 *   event:        event u8 (enum cltrack_event), iplen u8 (0..63), ip
 *                 (text, no NUL)
 *   lift flags:   flags u32 (CLTRACK_LIFT_FORCE)
 *
 *   kv list:      count u32, then count items:
 *                   type u8 (CLTRACK_KV_U64 | CLTRACK_KV_STR),
 *                   namelen u8 (1..63), name,
 *                   U64: value u64;  STR: len u16, bytes (no NUL)
 *   list filter:  flags u32 (CLTRACK_LIST_RECLAIMABLE), epoch u64 (0:
 *                 any), pnn u32 (CLTRACK_PNN_ANY: any)
 *   entry list:   count u32, then count entries:
 *                   idlen u16 (1..1024), id, epoch u64, prev_epoch u64,
 *                   created u64, pnn u32, flags u32,
 *                   phlen u8 (0 or 32), princhash, addrlen u8 (0..64), addr
 *   client op:    idlen u16 (1..1024), id, phlen u8 (0 or 32),
 *                 princhash, flags u32
 *   umh op:       client op, then time i64 (Unix seconds)
 *   umh time:     time i64
 *   import chunk: count u32 (1..CLTRACK_IMPORT_CHUNK_MAX), then count
 *                 times: oplen u16, client op of oplen bytes
 */
#ifndef CLTRACK_PROTO_H
#define CLTRACK_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define CLTRACK_PROTO_MAGIC		0x4b544c43u	/* "CLTK" */
#define CLTRACK_PROTO_VERSION		1
#define CLTRACK_PROTO_HDR_SIZE		24
#define CLTRACK_PROTO_MAX_PACKET	(1024 * 1024)
#define CLTRACK_PROTO_F_MORE		0x1

#define CLTRACK_KV_U64			1
#define CLTRACK_KV_STR			2
#define CLTRACK_KV_NAME_MAX		63

#define CLTRACK_LIST_RECLAIMABLE	0x1
#define CLTRACK_PNN_ANY			0xffffffffu

#define CLTRACK_ID_MAX			1024
#define CLTRACK_PRINCHASH_SIZE		32
#define CLTRACK_ADDR_MAX		64

/* client op flags; the same bits as the record's RECORD_F_* */
#define CLTRACK_F_SESSION		0x1	/* NFSv4.1+ client */
#define CLTRACK_F_LEGACY		0x2	/* "hash:" legacy record */

#define CLTRACK_IMPORT_CHUNK_MAX	512
#define CLTRACK_IMPORT_MAX		(1024 * 1024)	/* ids */

enum cltrack_opcode {
	CLTRACK_OP_PING = 1,
	CLTRACK_OP_STATUS = 2,
	CLTRACK_OP_LIST = 3,
	CLTRACK_OP_CREATE = 4,
	CLTRACK_OP_REMOVE = 5,
	CLTRACK_OP_CHECK = 6,
	CLTRACK_OP_GRACE_START = 7,
	CLTRACK_OP_GRACE_DONE = 8,
	CLTRACK_OP_STATS = 9,
	CLTRACK_OP_UMH_CREATE = 10,
	CLTRACK_OP_UMH_REMOVE = 11,
	CLTRACK_OP_UMH_CHECK = 12,
	CLTRACK_OP_UMH_GRACE_DONE = 13,
	CLTRACK_OP_UMH_RECLAIMING = 14,
	CLTRACK_OP_IMPORT = 15,
	CLTRACK_OP_EVENT = 16,
	CLTRACK_OP_GRACE_LIFT = 17,
};

/* CTDB events, as the event script reports them (CLTRACK_OP_EVENT) */
enum cltrack_event {
	CLTRACK_EVENT_TAKEIP = 1,
	CLTRACK_EVENT_RELEASEIP = 2,
	CLTRACK_EVENT_IPREALLOCATED = 3,
	CLTRACK_EVENT_RECOVERED = 4,
	CLTRACK_EVENT_MONITOR = 5,
};

#define CLTRACK_LIFT_FORCE		0x1
#define CLTRACK_EVENT_IP_MAX		63

struct cltrack_hdr {
	uint32_t length;
	uint16_t opcode;
	uint32_t reqid;
	int32_t status;
	uint32_t flags;
};

struct cltrack_kv {
	const char *name;
	uint8_t type;
	uint64_t u64;
	const char *str;
};

struct cltrack_entry {
	uint16_t idlen;
	uint8_t id[CLTRACK_ID_MAX];
	uint64_t epoch;
	uint64_t prev_epoch;
	uint64_t created;
	uint32_t pnn;
	uint32_t flags;
	uint8_t princhash_len;
	uint8_t princhash[CLTRACK_PRINCHASH_SIZE];
	uint8_t addr_len;
	char addr[CLTRACK_ADDR_MAX + 1];
};

struct cltrack_list_filter {
	uint32_t flags;
	uint64_t epoch;
	uint32_t pnn;
};

struct cltrack_client_op {
	uint16_t idlen;
	uint8_t id[CLTRACK_ID_MAX];
	uint8_t princhash_len;
	uint8_t princhash[CLTRACK_PRINCHASH_SIZE];
	uint32_t flags;
};

/** @brief Encode a header into buf (CLTRACK_PROTO_HDR_SIZE bytes). */
void cltrack_hdr_push(const struct cltrack_hdr *hdr, uint8_t *buf);

/**
 * @brief Decode a header.
 * @return 0; EPROTO for a bad magic or version; EMSGSIZE for a length
 * out of range.
 */
int cltrack_hdr_pull(const uint8_t *buf, size_t len, struct cltrack_hdr *hdr);

/**
 * @brief Encode a kv list.  With buf NULL, only measure.
 * @return 0 with *used set, or EMSGSIZE/EINVAL.
 */
int cltrack_kv_push(const struct cltrack_kv *kv, uint32_t n, uint8_t *buf,
		    size_t buflen, size_t *used);

/**
 * @brief Decode a kv list; names and strings are allocated on mem_ctx.
 */
int cltrack_kv_pull(void *mem_ctx, const uint8_t *buf, size_t len,
		    struct cltrack_kv **kv, uint32_t *n);

/** @brief Size of one encoded entry. */
size_t cltrack_entry_size(const struct cltrack_entry *e);

/** @brief Encode one entry; @return bytes written or 0. */
size_t cltrack_entry_push(const struct cltrack_entry *e, uint8_t *buf,
			  size_t buflen);

/**
 * @brief Decode an entry list, appending to *entries (talloc array).
 */
int cltrack_entries_pull(void *mem_ctx, const uint8_t *buf, size_t len,
			 struct cltrack_entry **entries, size_t *n);

int cltrack_filter_push(const struct cltrack_list_filter *f, uint8_t *buf,
			size_t buflen, size_t *used);
int cltrack_filter_pull(const uint8_t *buf, size_t len,
			struct cltrack_list_filter *f);

int cltrack_client_op_push(const struct cltrack_client_op *op, uint8_t *buf,
			   size_t buflen, size_t *used);
int cltrack_client_op_pull(const uint8_t *buf, size_t len,
			   struct cltrack_client_op *op);

/** @brief Encode a umh op: a client op, then a signed time. */
int cltrack_umh_op_push(const struct cltrack_client_op *op, int64_t time,
			uint8_t *buf, size_t buflen, size_t *used);
/** @brief Decode a umh op. */
int cltrack_umh_op_pull(const uint8_t *buf, size_t len,
			struct cltrack_client_op *op, int64_t *time);

/** @brief Encode a umh time (8 bytes). */
int cltrack_umh_time_push(int64_t time, uint8_t *buf, size_t buflen,
			  size_t *used);
/** @brief Decode a umh time. */
int cltrack_umh_time_pull(const uint8_t *buf, size_t len, int64_t *time);

/**
 * @brief Encode up to CLTRACK_IMPORT_CHUNK_MAX client ops as one import
 * chunk.  With buf NULL, only measure.
 */
int cltrack_import_chunk_push(const struct cltrack_client_op *ops, size_t n,
			      uint8_t *buf, size_t buflen, size_t *used);

/**
 * @brief Decode an import chunk; calls fn for each op in order.
 * @return 0, EPROTO/EINVAL for a bad chunk, or fn's non-zero return.
 */
int cltrack_import_chunk_pull(const uint8_t *buf, size_t len,
			      int (*fn)(const struct cltrack_client_op *op,
					void *private_data),
			      void *private_data);

/** @brief Encode an event body. */
int cltrack_event_push(uint8_t event, const char *ip, uint8_t *buf,
		       size_t buflen, size_t *used);
/** @brief Decode an event body; ip is NUL-terminated into ipbuf. */
int cltrack_event_pull(const uint8_t *buf, size_t len, uint8_t *event,
		       char ipbuf[CLTRACK_EVENT_IP_MAX + 1]);

#endif
