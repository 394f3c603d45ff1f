/*
 * ctdbd's unix-socket protocol (CTDB 4.17, protocol version 1): every
 * packet and record format cltrack exchanges with ctdbd or finds in its
 * tdb files, defined here once.  All integers are in host byte order
 * (ctdbd memcpy()s its structs); offsets count from the packet start.
 * Upstream: ctdb/include/ctdb_protocol.h, ctdb/protocol/protocol.h.
 *
 * Header, 32 bytes, every packet:
 *
 *   | off | field      | notes                                         |
 *   |   0 | length u32 | whole packet incl. header (ctdbd pads to 8)   |
 *   |   4 | magic u32  | 0x43544442 "CTDB"                             |
 *   |   8 | version u32| 1                                             |
 *   |  12 | generation | clients send 0                                |
 *   |  16 | operation  | CTDB_REQ_CALL ... CTDB_REPLY_CONTROL          |
 *   |  20 | destnode   | PNN or CTDB_CURRENT_NODE / CTDB_BROADCAST_*   |
 *   |  24 | srcnode    | ignored from clients                          |
 *   |  28 | reqid u32  | echoed in the reply                           |
 *
 * Bodies (offsets from the packet start):
 *
 *   REQ_CONTROL   opcode u32 @32, pad u32 @36, srvid u64 @40,
 *                 client_id u32 @48, flags u32 @52, datalen u32 @56,
 *                 data @60
 *   REPLY_CONTROL status i32 @32, datalen u32 @36, errorlen u32 @40,
 *                 data @44, error text (not NUL-terminated)
 *   REQ_MESSAGE   srvid u64 @32, datalen u32 @40, data @44
 *   REQ_CALL      flags u32 @32, db_id u32 @36, callid u32 @40,
 *                 hopcount u32 @44, keylen u32 @48, calldatalen u32 @52,
 *                 key @56, calldata
 *   REPLY_CALL    status i32 @32, datalen u32 @36, data @40
 *   REPLY_ERROR   status i32 @32, msglen u32 @36, msg @40
 *
 * ltdb header, 24 bytes in front of every value in a ctdb tdb:
 *   rsn u64 @0, dmaster u32 @8, reserved1 u32 @12, flags u32 @16,
 *   pad u32 @20
 *
 * Record buffer (TRANS3_COMMIT data): db_id u32, count u32, then count
 * records, unpadded:
 *   length u32 (16 + keylen + datalen), reqid u32 (0), keylen u32,
 *   datalen u32 (24 + valuelen), key, ltdb header, value
 *
 * g_lock record (in g_lock.tdb, key "transaction_db_0x%08x" incl. NUL):
 * ltdb header, then N 32-byte entries:
 *   type u32 @0 (0 READ, 1 WRITE), pad u32 @4, pid u64 @8,
 *   task_id u32 @16, vnn u32 @20, unique_id u64 @24
 *
 * Node map (GET_NODEMAP reply): num u32, then num x
 *   { pnn u32, flags u32, sockaddr (28 bytes) }
 * sockaddr: Linux sockaddr_in / sockaddr_in6 in memory: family u16 (host
 * order), port u16 (network order), address (network order), zeros.
 *
 * Public addresses (GET_PUBLIC_IPS reply): num u32, then num x
 *   { pnn u32, sockaddr (28 bytes) } = 32 bytes each, nothing after.
 * Upstream's struct ctdb_public_ip is { uint32_t pnn; ctdb_sock_addr addr; }
 * with ctdb_sock_addr a union of sockaddr, sockaddr_in (16 bytes) and
 * sockaddr_in6 (28 bytes, 4-byte aligned): no padding anywhere, and
 * ctdbd sizes the reply as 4 + num * 32 (ctdb/protocol/protocol.h,
 * protocol_types.c ctdb_public_ip_list_push; ctdb/server/
 * ctdb_takeover.c ctdb_control_get_public_ips).
 *
 * cltrack message (our 0xEE srvids; ctdbd rewrites srcnode on delivery,
 * so the sender is in the payload):
 *   sender_pnn u32 @0, pad u32 @4, payload @8
 */
#ifndef CLTRACK_CTDB_PROTOCOL_H
#define CLTRACK_CTDB_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <talloc.h>

#define CTDB_MAGIC			0x43544442
#define CTDB_PROTOCOL			1

#define CTDB_HDR_LEN			32
#define CTDB_REQ_CONTROL_HDR_LEN	60
#define CTDB_REPLY_CONTROL_HDR_LEN	44
#define CTDB_REQ_MESSAGE_HDR_LEN	44
#define CTDB_REQ_CALL_HDR_LEN		56
#define CTDB_REPLY_CALL_HDR_LEN		40
#define CTDB_REPLY_ERROR_HDR_LEN	40
#define CTDB_LTDB_HDR_LEN		24
#define CTDB_G_LOCK_ENTRY_LEN		32
#define CTDB_SOCKADDR_LEN		28
#define CTDB_NODE_LEN			(8 + CTDB_SOCKADDR_LEN)
#define CTDB_PUBLIC_IP_LEN		(4 + CTDB_SOCKADDR_LEN)
#define CTDB_REC_HDR_LEN		16
#define CTDB_CLTRACK_MSG_HDR_LEN	8

/* Refuse anything larger: a corrupt length must not make us allocate GBs */
#define CTDB_MAX_PACKET			(64 * 1024 * 1024)

enum ctdb_operation {
	CTDB_REQ_CALL = 0,
	CTDB_REPLY_CALL = 1,
	CTDB_REPLY_ERROR = 4,
	CTDB_REQ_MESSAGE = 5,
	CTDB_REQ_CONTROL = 7,
	CTDB_REPLY_CONTROL = 8,
};

#define CTDB_CURRENT_NODE		0xF0000001
#define CTDB_BROADCAST_ALL		0xF0000002
#define CTDB_BROADCAST_ACTIVE		0xF0000003
#define CTDB_BROADCAST_CONNECTED	0xF0000004
#define CTDB_UNKNOWN_PNN		0xFFFFFFFF

enum ctdb_control_opcode {
	CTDB_CONTROL_PROCESS_EXISTS = 0,
	CTDB_CONTROL_GETDBPATH = 4,
	CTDB_CONTROL_GET_DBMAP = 9,
	CTDB_CONTROL_GET_RECMODE = 15,
	CTDB_CONTROL_DB_ATTACH = 18,
	CTDB_CONTROL_REGISTER_SRVID = 23,
	CTDB_CONTROL_DEREGISTER_SRVID = 24,
	CTDB_CONTROL_GET_RECMASTER = 31,
	CTDB_CONTROL_GET_PNN = 35,
	CTDB_CONTROL_DB_ATTACH_PERSISTENT = 61,
	CTDB_CONTROL_GET_PUBLIC_IPS = 90,
	CTDB_CONTROL_GET_NODEMAP = 91,
	CTDB_CONTROL_TRANS3_COMMIT = 119,
	CTDB_CONTROL_GET_DB_SEQNUM = 120,
	CTDB_CONTROL_DB_GET_HEALTH = 122,
	CTDB_CONTROL_SCHEDULE_FOR_DELETION = 128,
	CTDB_CONTROL_GET_RUNSTATE = 138,
	CTDB_CONTROL_DB_OPEN_FLAGS = 149,
};

#define CTDB_CTRL_FLAG_NOREPLY		0x1
/*
 * GET_PUBLIC_IPS only: leave out the addresses the node could not host
 * now (upstream CTDB_PUBLIC_IP_FLAGS_ONLY_AVAILABLE, in the opcode-specific
 * top 16 bits of flags).  We do not send it (ctdb_client_public_ips_send).
 */
#define CTDB_PUBLIC_IP_FLAGS_ONLY_AVAILABLE	0x00010000

enum ctdb_runstate {
	CTDB_RUNSTATE_UNKNOWN = 0,
	CTDB_RUNSTATE_INIT = 1,
	CTDB_RUNSTATE_SETUP = 2,
	CTDB_RUNSTATE_FIRST_RECOVERY = 3,
	CTDB_RUNSTATE_STARTUP = 4,
	CTDB_RUNSTATE_RUNNING = 5,
	CTDB_RUNSTATE_SHUTDOWN = 6,
};

/* REQ_CALL */
#define CTDB_IMMEDIATE_MIGRATION	0x00000001
#define CTDB_NULL_FUNC			0xFF000001

/* Node flags */
#define CTDB_NODE_DISCONNECTED		0x01
#define CTDB_NODE_UNHEALTHY		0x02
#define CTDB_NODE_PERMANENTLY_DISABLED	0x04
#define CTDB_NODE_BANNED		0x08
#define CTDB_NODE_DELETED		0x10
#define CTDB_NODE_STOPPED		0x20
#define CTDB_NODE_INACTIVE		0x39

/* ltdb header flags */
#define CTDB_REC_RO_HAVE_DELEGATIONS	0x01000000

/* Built-in srvids (ctdb/protocol/protocol.h) */
#define CTDB_SRVID_LEADER		0xF101000000000000ULL
#define CTDB_SRVID_RECONFIGURE		0xF200000000000000ULL
#define CTDB_SRVID_RELEASE_IP		0xF300000000000000ULL
#define CTDB_SRVID_TAKE_IP		0xF301000000000000ULL
/* The range reserved for the CTDB NFS server: ours */
#define CTDB_SRVID_NFS_RANGE		0xEE00000000000000ULL
#define CTDB_SRVID_RANGE_MASK		0xFF00000000000000ULL

/* The persistent DB's commit counter (incl. NUL, 23 bytes) */
#define CTDB_DB_SEQNUM_KEY		"__db_sequence_number__"
#define CTDB_DB_SEQNUM_KEYLEN		23

enum ctdb_g_lock_type {
	CTDB_G_LOCK_READ = 0,
	CTDB_G_LOCK_WRITE = 1,
};

struct ctdb_hdr {
	uint32_t length;
	uint32_t magic;
	uint32_t version;
	uint32_t generation;
	uint32_t operation;
	uint32_t destnode;
	uint32_t srcnode;
	uint32_t reqid;
};

/* Pulled bodies point into the packet they were pulled from */
struct ctdb_req_control {
	uint32_t opcode;
	uint64_t srvid;
	uint32_t client_id;
	uint32_t flags;
	const uint8_t *data;
	uint32_t datalen;
};

struct ctdb_reply_control {
	int32_t status;
	const uint8_t *data;
	uint32_t datalen;
	const uint8_t *errmsg;
	uint32_t errlen;
};

struct ctdb_req_message {
	uint64_t srvid;
	const uint8_t *data;
	uint32_t datalen;
};

struct ctdb_req_call {
	uint32_t flags;
	uint32_t db_id;
	uint32_t callid;
	uint32_t hopcount;
	const uint8_t *key;
	uint32_t keylen;
	const uint8_t *calldata;
	uint32_t calldatalen;
};

struct ctdb_reply_call {
	int32_t status;
	const uint8_t *data;
	uint32_t datalen;
};

struct ctdb_reply_error {
	int32_t status;
	const uint8_t *msg;
	uint32_t msglen;
};

struct ctdb_ltdb_header {
	uint64_t rsn;
	uint32_t dmaster;
	uint32_t reserved1;
	uint32_t flags;
};

struct ctdb_g_lock_entry {
	uint32_t type;
	uint64_t pid;
	uint32_t task_id;
	uint32_t vnn;
	uint64_t unique_id;
};

struct ctdb_node {
	uint32_t pnn;
	uint32_t flags;
	struct sockaddr_storage addr;
};

struct ctdb_nodemap {
	uint32_t num;
	struct ctdb_node *nodes;
};

/*
 * One entry of the GET_PUBLIC_IPS reply: pnn is the node that, as far as
 * the answering node knows, hosts addr; CTDB_UNKNOWN_PNN (-1) when no node
 * does.
 */
struct ctdb_public_ip {
	uint32_t pnn;
	struct sockaddr_storage addr;
};

struct ctdb_public_ip_list {
	uint32_t num;
	struct ctdb_public_ip *ip;
};

struct ctdb_rec {
	const uint8_t *key;
	uint32_t keylen;
	struct ctdb_ltdb_header header;
	const uint8_t *value;	/* empty: a deletion (tombstone) */
	uint32_t valuelen;
};

/*
 * Every pull checks the lengths it reads against the buffer and returns
 * 0 or EMSGSIZE (short or inconsistent) / EPROTO (bad magic, version or
 * operation).  Every push returns the bytes it needs; it writes only
 * when buf is non-NULL and buflen is large enough.
 */

int ctdb_hdr_pull(const uint8_t *buf, size_t buflen, struct ctdb_hdr *h);
void ctdb_hdr_push(const struct ctdb_hdr *h, uint8_t *buf);

/* Whole packets: header filled from h except length, which is computed */
int ctdb_req_control_push(TALLOC_CTX *mem_ctx, const struct ctdb_hdr *h,
			  const struct ctdb_req_control *c,
			  uint8_t **pkt, size_t *pktlen);
int ctdb_req_message_push(TALLOC_CTX *mem_ctx, const struct ctdb_hdr *h,
			  const struct ctdb_req_message *m,
			  uint8_t **pkt, size_t *pktlen);
int ctdb_req_call_push(TALLOC_CTX *mem_ctx, const struct ctdb_hdr *h,
		       const struct ctdb_req_call *c,
		       uint8_t **pkt, size_t *pktlen);

/* Bodies of a packet whose header was pulled; pkt covers h.length */
int ctdb_req_control_pull(const uint8_t *pkt, size_t pktlen,
			  struct ctdb_req_control *c);
int ctdb_reply_control_pull(const uint8_t *pkt, size_t pktlen,
			    struct ctdb_reply_control *r);
int ctdb_req_message_pull(const uint8_t *pkt, size_t pktlen,
			  struct ctdb_req_message *m);
int ctdb_req_call_pull(const uint8_t *pkt, size_t pktlen,
		       struct ctdb_req_call *c);
int ctdb_reply_call_pull(const uint8_t *pkt, size_t pktlen,
			 struct ctdb_reply_call *r);
int ctdb_reply_error_pull(const uint8_t *pkt, size_t pktlen,
			  struct ctdb_reply_error *r);

/* Replies built by ctdbd; used by the unit tests' fake daemon */
int ctdb_reply_control_push(TALLOC_CTX *mem_ctx, const struct ctdb_hdr *h,
			    const struct ctdb_reply_control *r,
			    uint8_t **pkt, size_t *pktlen);
int ctdb_reply_call_push(TALLOC_CTX *mem_ctx, const struct ctdb_hdr *h,
			 const struct ctdb_reply_call *r,
			 uint8_t **pkt, size_t *pktlen);

void ctdb_ltdb_header_push(const struct ctdb_ltdb_header *h, uint8_t *buf);
int ctdb_ltdb_header_pull(const uint8_t *buf, size_t buflen,
			  struct ctdb_ltdb_header *h);

void ctdb_g_lock_entry_push(const struct ctdb_g_lock_entry *e, uint8_t *buf);
int ctdb_g_lock_entry_pull(const uint8_t *buf, size_t buflen,
			   struct ctdb_g_lock_entry *e);
/* The server id (bytes 8-31) is what identifies a holder */
bool ctdb_g_lock_entry_same_owner(const struct ctdb_g_lock_entry *a,
				  const struct ctdb_g_lock_entry *b);

/*
 * A g_lock record value: header plus entries.  Pull allocates entries on
 * mem_ctx; a length that is not 24 + 32n is EMSGSIZE.
 */
int ctdb_g_lock_record_pull(TALLOC_CTX *mem_ctx, const uint8_t *buf,
			    size_t buflen, struct ctdb_ltdb_header *h,
			    struct ctdb_g_lock_entry **entries,
			    unsigned *num);
int ctdb_g_lock_record_push(TALLOC_CTX *mem_ctx,
			    const struct ctdb_ltdb_header *h,
			    const struct ctdb_g_lock_entry *entries,
			    unsigned num, uint8_t **buf, size_t *buflen);

int ctdb_sockaddr_pull(const uint8_t *buf, size_t buflen,
		       struct sockaddr_storage *ss);
void ctdb_sockaddr_push(const struct sockaddr_storage *ss, uint8_t *buf);

int ctdb_nodemap_pull(TALLOC_CTX *mem_ctx, const uint8_t *buf,
		      size_t buflen, struct ctdb_nodemap **result);
int ctdb_nodemap_push(TALLOC_CTX *mem_ctx, const struct ctdb_nodemap *map,
		      uint8_t **buf, size_t *buflen);

/*
 * GET_PUBLIC_IPS reply.  Pull refuses (EMSGSIZE) a count that does not
 * fill the buffer exactly, short or long, and (EPROTO) an address that is
 * neither AF_INET nor AF_INET6.  Push (for tests and fakes) refuses
 * (EINVAL) such an address, so that whatever it writes pulls back.
 */
int ctdb_public_ip_list_pull(TALLOC_CTX *mem_ctx, const uint8_t *buf,
			     size_t buflen,
			     struct ctdb_public_ip_list **result);
int ctdb_public_ip_list_push(TALLOC_CTX *mem_ctx,
			     const struct ctdb_public_ip_list *list,
			     uint8_t **buf, size_t *buflen);

/* Room for any address ctdb_sockaddr_string writes, NUL included */
#define CTDB_ADDR_STRLEN		INET6_ADDRSTRLEN

/*
 * The address alone, without the port, as inet_ntop() and "ctdb ip"
 * print it; "(family N)" for any other family.  Returns buf, so that it
 * can go straight into a log call.
 */
const char *ctdb_sockaddr_string(const struct sockaddr_storage *ss,
				 char buf[CTDB_ADDR_STRLEN]);

/* Record buffer: db_id, count, records */
int ctdb_rec_buffer_push(TALLOC_CTX *mem_ctx, uint32_t db_id,
			 const struct ctdb_rec *recs, unsigned num,
			 uint8_t **buf, size_t *buflen);
/* Calls fn for each record; stops at fn's non-zero return */
int ctdb_rec_buffer_pull(const uint8_t *buf, size_t buflen, uint32_t *db_id,
			 int (*fn)(const struct ctdb_rec *rec, void *priv),
			 void *priv);

/* SCHEDULE_FOR_DELETION request data: db_id, pad, header, keylen, key */
int ctdb_schedule_for_deletion_push(TALLOC_CTX *mem_ctx, uint32_t db_id,
				    const struct ctdb_ltdb_header *h,
				    const uint8_t *key, size_t keylen,
				    uint8_t **buf, size_t *buflen);

/* cltrack srvid message: sender PNN then payload */
int ctdb_cltrack_msg_push(TALLOC_CTX *mem_ctx, uint32_t sender_pnn,
			  const uint8_t *data, size_t datalen,
			  uint8_t **buf, size_t *buflen);
int ctdb_cltrack_msg_pull(const uint8_t *buf, size_t buflen,
			  uint32_t *sender_pnn, const uint8_t **data,
			  size_t *datalen);

/* "transaction_db_0x%08x" incl. NUL: the g_lock key of a DB */
#define CTDB_G_LOCK_KEY_LEN		26
void ctdb_g_lock_key(uint32_t db_id, char key[CTDB_G_LOCK_KEY_LEN]);

/* tdb_jenkins_hash of the name incl. NUL: the db_id ctdbd assigns */
uint32_t ctdb_db_id(const char *name);

#endif
