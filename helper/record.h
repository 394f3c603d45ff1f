/*
 * cltrack's records, as stored in cltrack.tdb (embedded store) or in the
 * CTDB persistent database cltrack.tdb (cluster store).  DESIGN.md §4.
 *
 * Keys
 *   "grace"                 the grace record (below)
 *   "client/" + raw id      one record per client; the raw long-form id,
 *                           1..1024 bytes, no terminating NUL
 *
 * Values are little-endian, so a cluster of mixed hosts reads the same
 * bytes.  Every value starts with a version byte; a reader skips (and
 * counts) a value whose version or length it does not know.
 *
 * Client record, version 1 (40 + princhash_len + addr_len bytes)
 *   off  size  field
 *   0    1     version        1
 *   1    1     princhash_len  0 or 32
 *   2    1     addr_len       0..64, server address the client used
 *   3    1     reserved       0
 *   4    4     flags          RECORD_F_*
 *   8    4     pnn            node that stored the last create
 *   12   4     reserved       0
 *   16   8     epoch          epoch of the last create
 *   24   8     prev_epoch     epoch of the create before it (0: none)
 *   32   8     created        time of the last create, Unix seconds
 *   40   ...   princhash, then addr (not NUL terminated)
 *
 * Grace record, version 1 (40 + 24 * nmembers bytes)
 *   0    1     version        1
 *   1    3     reserved       0
 *   4    4     nmembers       0..RECORD_MAX_MEMBERS
 *   8    8     current        epoch C that receives new records
 *   16   8     recovery       epoch R allowed to reclaim; 0 = no grace
 *   24   8     start_time     when the running grace started
 *   32   8     deadline       when the leader may lift without reclaims
 *   40   24*n  members:  pnn u32, flags u32 (GRACE_MEMBER_*),
 *                        enforcing_time u64, need_time u64
 */
#ifndef CLTRACK_RECORD_H
#define CLTRACK_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <talloc.h>

#define RECORD_VERSION		1
#define RECORD_GRACE_KEY	"grace"
#define RECORD_CLIENT_PREFIX	"client/"
#define RECORD_CLIENT_PREFIX_LEN 7
#define RECORD_ID_MAX		1024
#define RECORD_PRINCHASH_SIZE	32
#define RECORD_ADDR_MAX		64
#define RECORD_MAX_MEMBERS	256
#define RECORD_CLIENT_FIXED	40
#define RECORD_GRACE_FIXED	40
#define RECORD_MEMBER_SIZE	24

/* client record flags */
#define RECORD_F_SESSION	0x1	/* NFSv4.1+ client */
#define RECORD_F_LEGACY		0x2	/* imported "hash:" legacy record */

/* grace member flags */
#define GRACE_MEMBER_ENFORCING	0x1	/* its nfsd is in the running grace */
#define GRACE_MEMBER_NEED	0x2	/* it asked for a grace */
#define GRACE_MEMBER_STALE	0x4	/* its kernel's reclaim list misses a
					   record stored since it was sent */

struct client_record {
	uint64_t epoch;
	uint64_t prev_epoch;
	uint64_t created;
	uint32_t pnn;
	uint32_t flags;
	uint8_t princhash_len;
	uint8_t princhash[RECORD_PRINCHASH_SIZE];
	uint8_t addr_len;
	char addr[RECORD_ADDR_MAX];
};

struct grace_member {
	uint32_t pnn;
	uint32_t flags;
	uint64_t enforcing_time;
	uint64_t need_time;
};

struct grace_record {
	uint64_t current;
	uint64_t recovery;
	uint64_t start_time;
	uint64_t deadline;
	uint32_t nmembers;
	struct grace_member members[RECORD_MAX_MEMBERS];
};

/**
 * @brief Size of the encoded client record.
 */
size_t client_record_size(const struct client_record *rec);

/**
 * @brief Encode a client record into buf.
 * @return bytes written, or 0 if buflen is too small or a length is out
 * of range.
 */
size_t client_record_push(const struct client_record *rec, uint8_t *buf,
			  size_t buflen);

/**
 * @brief Decode a client record.
 * @return 0; EPROTO for an unknown version; EINVAL for a bad length.
 */
int client_record_pull(const uint8_t *buf, size_t len,
		       struct client_record *rec);

size_t grace_record_size(const struct grace_record *g);
size_t grace_record_push(const struct grace_record *g, uint8_t *buf,
			 size_t buflen);
int grace_record_pull(const uint8_t *buf, size_t len, struct grace_record *g);

/**
 * @brief The initial grace record of a new store: C = 1, R = 0.
 */
void grace_record_init(struct grace_record *g);

/**
 * @brief Build the key "client/<id>" on mem_ctx.
 * @return the key length, or 0 (ENOMEM or a bad id length).
 */
size_t client_key_make(TALLOC_CTX *mem_ctx, const uint8_t *id, size_t idlen,
		       uint8_t **key);

/**
 * @brief If key is a client key, point *id at the raw id in it.
 */
bool client_key_parse(const uint8_t *key, size_t keylen,
		      const uint8_t **id, size_t *idlen);

#endif
