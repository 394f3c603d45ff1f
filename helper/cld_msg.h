/*
 * The kernel's cld upcall wire format (include/uapi/linux/nfsd/cld.h).
 *
 * This header is the one place where the format is described.  Both
 * cltrackd's front-end (cld.c) and the knfsd emulator encode and decode
 * messages with cld_msg_push() and cld_msg_pull().
 *
 * All fields are host byte order and packed (multi-byte fields are
 * unaligned), so nothing is ever cast to a struct.
 *
 *   off  size  field
 *   0    1     cm_vers     1 (1034-byte message) or 2 (1067-byte message)
 *   1    1     cm_cmd      enum cld_command
 *   2    2     cm_status   s16, 0 or -errno (daemon -> kernel)
 *   4    4     cm_xid      u32, echoed by every downcall
 *   --- union, offset 8 ---
 *   8    8     cm_gracetime  s64 (v0 GraceDone only, v1 format)
 *   8    1     cm_version    u8  (GetVersion reply)
 *   8    2     cn_len        u16 (Create/Remove/Check/GraceStart record)
 *   10   1024  cn_id         raw long-form client id
 *   1034 1     cp_len        u8  (v2 only: Create, GraceStart record)
 *   1035 32    cp_data       SHA-256 of the client's principal
 */
#ifndef CLTRACK_CLD_MSG_H
#define CLTRACK_CLD_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CLD_HDR_SIZE		8
#define CLD_MSG_V1_SIZE		1034
#define CLD_MSG_V2_SIZE		1067
#define CLD_MSG_MAX_SIZE	CLD_MSG_V2_SIZE
#define CLD_NAME_MAX		1024	/* NFS4_OPAQUE_LIMIT */
#define CLD_PRINCHASH_SIZE	32	/* SHA256_DIGEST_SIZE */
#define CLD_UPCALL_VERSION	2

enum cld_command {
	CLD_CREATE = 0,
	CLD_REMOVE = 1,
	CLD_CHECK = 2,
	CLD_GRACE_DONE = 3,
	CLD_GRACE_START = 4,
	CLD_GET_VERSION = 5,
};

/*
 * A decoded message.  Every view of the union is decoded, because the
 * meaning depends on cm_cmd and on whether the message is an upcall or
 * a downcall; the caller picks the fields it needs.
 */
struct cld_msg {
	uint8_t vers;
	uint8_t cmd;
	int16_t status;
	uint32_t xid;

	/* cld_name: name_len is the raw cn_len, name holds min(cn_len, 1024) */
	uint16_t name_len;
	uint8_t name[CLD_NAME_MAX];

	/* cld_princhash (v2 only): princhash_len is the raw cp_len */
	uint8_t princhash_len;
	uint8_t princhash[CLD_PRINCHASH_SIZE];

	int64_t gracetime;	/* v1 format only */
	uint8_t version;	/* GetVersion reply */
};

/**
 * @brief Size of a message of format version vers, or 0 if unknown.
 */
size_t cld_msg_size(uint8_t vers);

/**
 * @brief Decode one whole message.
 *
 * @return 0; EPROTO for an unknown cm_vers; EMSGSIZE when len does not
 * match the size that cm_vers implies.
 */
int cld_msg_pull(const uint8_t *buf, size_t len, struct cld_msg *msg);

/**
 * @brief Encode a message in the format msg->vers selects.
 *
 * Unused bytes are zero.  The payload written depends on cmd: the
 * GetVersion reply byte for CLD_GET_VERSION, cm_gracetime for a v1
 * CLD_GRACE_DONE, otherwise cld_name (plus cld_princhash in v2).
 *
 * @return the number of bytes written, or 0 if buflen is too small,
 * vers is unknown, or name_len/princhash_len exceed their fields.
 */
size_t cld_msg_push(const struct cld_msg *msg, uint8_t *buf, size_t buflen);

/**
 * @brief Is the client name acceptable to store or to send to a kernel?
 *
 * cn_len must be 1..1024 and cp_len 0..32 (newest kernel rules; a zero
 * length id is CVE-2024-47692).
 */
bool cld_msg_name_valid(const struct cld_msg *msg);

/**
 * @brief Printable name of a command, "unknown" otherwise.
 */
const char *cld_cmd_name(uint8_t cmd);

#endif
