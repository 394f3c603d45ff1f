/*
 * Encode and decode the kernel's cld messages; see cld_msg.h for the
 * layout table.
 */
#include <errno.h>
#include <string.h>

#include "bytes.h"
#include "cld_msg.h"

#define OFS_VERS	0
#define OFS_CMD		1
#define OFS_STATUS	2
#define OFS_XID		4
#define OFS_UNION	8
#define OFS_CN_ID	10
#define OFS_CP_LEN	1034
#define OFS_CP_DATA	1035

size_t cld_msg_size(uint8_t vers)
{
	switch (vers) {
	case 1:
		return CLD_MSG_V1_SIZE;
	case 2:
		return CLD_MSG_V2_SIZE;
	default:
		return 0;
	}
}

int cld_msg_pull(const uint8_t *buf, size_t len, struct cld_msg *msg)
{
	size_t size;
	size_t copy;

	if (len < CLD_HDR_SIZE) {
		return EMSGSIZE;
	}
	size = cld_msg_size(buf[OFS_VERS]);
	if (size == 0) {
		return EPROTO;
	}
	if (len != size) {
		return EMSGSIZE;
	}

	*msg = (struct cld_msg) {
		.vers = buf[OFS_VERS],
		.cmd = buf[OFS_CMD],
		.status = (int16_t)h_get16(buf + OFS_STATUS),
		.xid = h_get32(buf + OFS_XID),
		.name_len = h_get16(buf + OFS_UNION),
		.version = buf[OFS_UNION],
	};

	copy = msg->name_len;
	if (copy > CLD_NAME_MAX) {
		copy = CLD_NAME_MAX;
	}
	memcpy(msg->name, buf + OFS_CN_ID, copy);

	if (msg->vers == 1) {
		msg->gracetime = (int64_t)h_get64(buf + OFS_UNION);
	} else {
		msg->princhash_len = buf[OFS_CP_LEN];
		copy = msg->princhash_len;
		if (copy > CLD_PRINCHASH_SIZE) {
			copy = CLD_PRINCHASH_SIZE;
		}
		memcpy(msg->princhash, buf + OFS_CP_DATA, copy);
	}
	return 0;
}

size_t cld_msg_push(const struct cld_msg *msg, uint8_t *buf, size_t buflen)
{
	size_t size = cld_msg_size(msg->vers);

	if (size == 0 || buflen < size) {
		return 0;
	}
	if (msg->name_len > CLD_NAME_MAX ||
	    msg->princhash_len > CLD_PRINCHASH_SIZE) {
		return 0;
	}

	memset(buf, 0, size);
	buf[OFS_VERS] = msg->vers;
	buf[OFS_CMD] = msg->cmd;
	h_put16(buf + OFS_STATUS, (uint16_t)msg->status);
	h_put32(buf + OFS_XID, msg->xid);

	if (msg->cmd == CLD_GET_VERSION) {
		buf[OFS_UNION] = msg->version;
		return size;
	}
	if (msg->cmd == CLD_GRACE_DONE) {
		if (msg->vers == 1) {
			h_put64(buf + OFS_UNION, (uint64_t)msg->gracetime);
		}
		return size;
	}

	h_put16(buf + OFS_UNION, msg->name_len);
	memcpy(buf + OFS_CN_ID, msg->name, msg->name_len);
	if (msg->vers == 2) {
		buf[OFS_CP_LEN] = msg->princhash_len;
		memcpy(buf + OFS_CP_DATA, msg->princhash,
		       msg->princhash_len);
	}
	return size;
}

bool cld_msg_name_valid(const struct cld_msg *msg)
{
	if (msg->name_len < 1 || msg->name_len > CLD_NAME_MAX) {
		return false;
	}
	if (msg->princhash_len > CLD_PRINCHASH_SIZE) {
		return false;
	}
	return true;
}

const char *cld_cmd_name(uint8_t cmd)
{
	switch (cmd) {
	case CLD_CREATE:
		return "Create";
	case CLD_REMOVE:
		return "Remove";
	case CLD_CHECK:
		return "Check";
	case CLD_GRACE_DONE:
		return "GraceDone";
	case CLD_GRACE_START:
		return "GraceStart";
	case CLD_GET_VERSION:
		return "GetVersion";
	default:
		return "unknown";
	}
}
