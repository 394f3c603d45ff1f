/*
 * Encoding and decoding of the control protocol; the format is defined
 * in include/cltrack/proto.h.
 */
#include <errno.h>
#include <string.h>
#include <talloc.h>

#include "bytes.h"
#include "cltrack/proto.h"

void cltrack_hdr_push(const struct cltrack_hdr *hdr, uint8_t *buf)
{
	struct cursor c;

	cur_init(&c, buf, CLTRACK_PROTO_HDR_SIZE);
	le_push32(&c, hdr->length);
	le_push32(&c, CLTRACK_PROTO_MAGIC);
	le_push16(&c, CLTRACK_PROTO_VERSION);
	le_push16(&c, hdr->opcode);
	le_push32(&c, hdr->reqid);
	le_push32(&c, (uint32_t)hdr->status);
	le_push32(&c, hdr->flags);
}

int cltrack_hdr_pull(const uint8_t *buf, size_t len, struct cltrack_hdr *hdr)
{
	struct cursor c;
	uint32_t magic;
	uint16_t version;

	cur_init(&c, buf, len);
	hdr->length = le_pull32(&c);
	magic = le_pull32(&c);
	version = le_pull16(&c);
	hdr->opcode = le_pull16(&c);
	hdr->reqid = le_pull32(&c);
	hdr->status = (int32_t)le_pull32(&c);
	hdr->flags = le_pull32(&c);
	if (c.err) {
		return EMSGSIZE;
	}
	if (magic != CLTRACK_PROTO_MAGIC || version != CLTRACK_PROTO_VERSION) {
		return EPROTO;
	}
	if (hdr->length < CLTRACK_PROTO_HDR_SIZE ||
	    hdr->length > CLTRACK_PROTO_MAX_PACKET) {
		return EMSGSIZE;
	}
	return 0;
}

int cltrack_kv_push(const struct cltrack_kv *kv, uint32_t n, uint8_t *buf,
		    size_t buflen, size_t *used)
{
	struct cursor c;
	uint32_t i;

	cur_init(&c, buf, buflen);
	le_push32(&c, n);
	for (i = 0; i < n; i++) {
		size_t namelen = strlen(kv[i].name);

		if (namelen < 1 || namelen > CLTRACK_KV_NAME_MAX) {
			return EINVAL;
		}
		le_push8(&c, kv[i].type);
		le_push8(&c, (uint8_t)namelen);
		cur_push_bytes(&c, kv[i].name, namelen);
		if (kv[i].type == CLTRACK_KV_U64) {
			le_push64(&c, kv[i].u64);
		} else if (kv[i].type == CLTRACK_KV_STR) {
			const char *s = kv[i].str != NULL ? kv[i].str : "";
			size_t slen = strlen(s);

			if (slen > UINT16_MAX) {
				return EINVAL;
			}
			le_push16(&c, (uint16_t)slen);
			cur_push_bytes(&c, s, slen);
		} else {
			return EINVAL;
		}
	}
	if (c.err) {
		return EMSGSIZE;
	}
	*used = c.ofs;
	return 0;
}

int cltrack_kv_pull(void *mem_ctx, const uint8_t *buf, size_t len,
		    struct cltrack_kv **result, uint32_t *n)
{
	struct cursor c;
	struct cltrack_kv *kv = NULL;
	uint32_t count;
	uint32_t i;

	cur_init(&c, buf, len);
	count = le_pull32(&c);
	/* Each item takes at least 3 bytes: bound the allocation */
	if (c.err || count > len / 3) {
		return EMSGSIZE;
	}
	kv = talloc_zero_array(mem_ctx, struct cltrack_kv, count ? count : 1);
	if (kv == NULL) {
		return ENOMEM;
	}
	for (i = 0; i < count; i++) {
		uint8_t namelen;
		const uint8_t *name = NULL;

		kv[i].type = le_pull8(&c);
		namelen = le_pull8(&c);
		name = cur_pull_bytes(&c, namelen);
		if (c.err || namelen < 1 || namelen > CLTRACK_KV_NAME_MAX) {
			goto fail;
		}
		kv[i].name = talloc_strndup(kv, (const char *)name, namelen);
		if (kv[i].type == CLTRACK_KV_U64) {
			kv[i].u64 = le_pull64(&c);
		} else if (kv[i].type == CLTRACK_KV_STR) {
			uint16_t slen = le_pull16(&c);
			const uint8_t *s = cur_pull_bytes(&c, slen);

			if (c.err) {
				goto fail;
			}
			kv[i].str = talloc_strndup(kv, (const char *)s, slen);
			if (kv[i].str == NULL) {
				goto fail;
			}
		} else {
			goto fail;
		}
		if (c.err || kv[i].name == NULL) {
			goto fail;
		}
	}
	if (c.ofs != len) {
		goto fail;
	}
	*result = kv;
	*n = count;
	return 0;
fail:
	talloc_free(kv);
	return EPROTO;
}

size_t cltrack_entry_size(const struct cltrack_entry *e)
{
	return 2 + e->idlen + 8 + 8 + 8 + 4 + 4 + 1 + e->princhash_len + 1 +
	       e->addr_len;
}

size_t cltrack_entry_push(const struct cltrack_entry *e, uint8_t *buf,
			  size_t buflen)
{
	struct cursor c;

	if (e->idlen < 1 || e->idlen > CLTRACK_ID_MAX ||
	    e->princhash_len > CLTRACK_PRINCHASH_SIZE ||
	    e->addr_len > CLTRACK_ADDR_MAX) {
		return 0;
	}
	cur_init(&c, buf, buflen);
	le_push16(&c, e->idlen);
	cur_push_bytes(&c, e->id, e->idlen);
	le_push64(&c, e->epoch);
	le_push64(&c, e->prev_epoch);
	le_push64(&c, e->created);
	le_push32(&c, e->pnn);
	le_push32(&c, e->flags);
	le_push8(&c, e->princhash_len);
	cur_push_bytes(&c, e->princhash, e->princhash_len);
	le_push8(&c, e->addr_len);
	cur_push_bytes(&c, e->addr, e->addr_len);
	return c.err ? 0 : c.ofs;
}

static int entry_pull(struct cursor *c, struct cltrack_entry *e)
{
	const uint8_t *p = NULL;

	*e = (struct cltrack_entry) {};
	e->idlen = le_pull16(c);
	if (c->err || e->idlen < 1 || e->idlen > CLTRACK_ID_MAX) {
		return EPROTO;
	}
	p = cur_pull_bytes(c, e->idlen);
	if (p == NULL) {
		return EPROTO;
	}
	memcpy(e->id, p, e->idlen);
	e->epoch = le_pull64(c);
	e->prev_epoch = le_pull64(c);
	e->created = le_pull64(c);
	e->pnn = le_pull32(c);
	e->flags = le_pull32(c);
	e->princhash_len = le_pull8(c);
	if (c->err || e->princhash_len > CLTRACK_PRINCHASH_SIZE) {
		return EPROTO;
	}
	p = cur_pull_bytes(c, e->princhash_len);
	if (p == NULL) {
		return EPROTO;
	}
	memcpy(e->princhash, p, e->princhash_len);
	e->addr_len = le_pull8(c);
	if (c->err || e->addr_len > CLTRACK_ADDR_MAX) {
		return EPROTO;
	}
	p = cur_pull_bytes(c, e->addr_len);
	if (p == NULL) {
		return EPROTO;
	}
	memcpy(e->addr, p, e->addr_len);
	e->addr[e->addr_len] = '\0';
	return 0;
}

int cltrack_entries_pull(void *mem_ctx, const uint8_t *buf, size_t len,
			 struct cltrack_entry **entries, size_t *n)
{
	struct cursor c;
	struct cltrack_entry *arr = *entries;
	uint32_t count;
	uint32_t i;
	int ret;

	cur_init(&c, buf, len);
	count = le_pull32(&c);
	/* An entry takes at least 38 bytes */
	if (c.err || count > len / 38) {
		return EPROTO;
	}
	arr = talloc_realloc(mem_ctx, arr, struct cltrack_entry,
			     *n + count + 1);
	if (arr == NULL) {
		return ENOMEM;
	}
	*entries = arr;
	for (i = 0; i < count; i++) {
		ret = entry_pull(&c, &arr[*n + i]);
		if (ret != 0) {
			return ret;
		}
	}
	if (c.ofs != len) {
		return EPROTO;
	}
	*n += count;
	return 0;
}

int cltrack_filter_push(const struct cltrack_list_filter *f, uint8_t *buf,
			size_t buflen, size_t *used)
{
	struct cursor c;

	cur_init(&c, buf, buflen);
	le_push32(&c, f->flags);
	le_push64(&c, f->epoch);
	le_push32(&c, f->pnn);
	if (c.err) {
		return EMSGSIZE;
	}
	*used = c.ofs;
	return 0;
}

int cltrack_filter_pull(const uint8_t *buf, size_t len,
			struct cltrack_list_filter *f)
{
	struct cursor c;

	cur_init(&c, buf, len);
	f->flags = le_pull32(&c);
	f->epoch = le_pull64(&c);
	f->pnn = le_pull32(&c);
	if (c.err || c.ofs != len) {
		return EPROTO;
	}
	return 0;
}

int cltrack_client_op_push(const struct cltrack_client_op *op, uint8_t *buf,
			   size_t buflen, size_t *used)
{
	struct cursor c;

	if (op->idlen < 1 || op->idlen > CLTRACK_ID_MAX ||
	    (op->princhash_len != 0 &&
	     op->princhash_len != CLTRACK_PRINCHASH_SIZE)) {
		return EINVAL;
	}
	cur_init(&c, buf, buflen);
	le_push16(&c, op->idlen);
	cur_push_bytes(&c, op->id, op->idlen);
	le_push8(&c, op->princhash_len);
	cur_push_bytes(&c, op->princhash, op->princhash_len);
	le_push32(&c, op->flags);
	if (c.err) {
		return EMSGSIZE;
	}
	*used = c.ofs;
	return 0;
}

int cltrack_client_op_pull(const uint8_t *buf, size_t len,
			   struct cltrack_client_op *op)
{
	struct cursor c;
	const uint8_t *p = NULL;

	*op = (struct cltrack_client_op) {};
	cur_init(&c, buf, len);
	op->idlen = le_pull16(&c);
	if (c.err || op->idlen < 1 || op->idlen > CLTRACK_ID_MAX) {
		return EINVAL;
	}
	p = cur_pull_bytes(&c, op->idlen);
	if (p == NULL) {
		return EPROTO;
	}
	memcpy(op->id, p, op->idlen);
	op->princhash_len = le_pull8(&c);
	if (c.err || (op->princhash_len != 0 &&
		      op->princhash_len != CLTRACK_PRINCHASH_SIZE)) {
		return EINVAL;
	}
	p = cur_pull_bytes(&c, op->princhash_len);
	if (p == NULL) {
		return EPROTO;
	}
	memcpy(op->princhash, p, op->princhash_len);
	op->flags = le_pull32(&c);
	if (c.err || c.ofs != len) {
		return EPROTO;
	}
	return 0;
}

int cltrack_umh_op_push(const struct cltrack_client_op *op, int64_t time,
			uint8_t *buf, size_t buflen, size_t *used)
{
	struct cursor c;
	size_t oplen = 0;
	int ret;

	ret = cltrack_client_op_push(op, buf, buflen, &oplen);
	if (ret != 0) {
		return ret;
	}
	cur_init(&c, buf + oplen, buflen - oplen);
	le_push64(&c, (uint64_t)time);
	if (c.err) {
		return EMSGSIZE;
	}
	*used = oplen + c.ofs;
	return 0;
}

int cltrack_umh_op_pull(const uint8_t *buf, size_t len,
			struct cltrack_client_op *op, int64_t *time)
{
	if (len < 8) {
		return EPROTO;
	}
	*time = (int64_t)h_get64(buf + len - 8);
	return cltrack_client_op_pull(buf, len - 8, op);
}

int cltrack_umh_time_push(int64_t time, uint8_t *buf, size_t buflen,
			  size_t *used)
{
	if (buflen < 8) {
		return EMSGSIZE;
	}
	h_put64(buf, (uint64_t)time);
	*used = 8;
	return 0;
}

int cltrack_umh_time_pull(const uint8_t *buf, size_t len, int64_t *time)
{
	if (len != 8) {
		return EPROTO;
	}
	*time = (int64_t)h_get64(buf);
	return 0;
}

int cltrack_import_chunk_push(const struct cltrack_client_op *ops, size_t n,
			      uint8_t *buf, size_t buflen, size_t *used)
{
	uint8_t tmp[2 + CLTRACK_ID_MAX + 1 + CLTRACK_PRINCHASH_SIZE + 4];
	struct cursor c;
	size_t i;
	int ret;

	if (n < 1 || n > CLTRACK_IMPORT_CHUNK_MAX) {
		return EINVAL;
	}
	cur_init(&c, buf, buf != NULL ? buflen : SIZE_MAX);
	le_push32(&c, (uint32_t)n);
	for (i = 0; i < n; i++) {
		size_t oplen = 0;

		ret = cltrack_client_op_push(&ops[i], tmp, sizeof(tmp),
					     &oplen);
		if (ret != 0) {
			return ret;
		}
		le_push16(&c, (uint16_t)oplen);
		cur_push_bytes(&c, tmp, oplen);
	}
	if (c.err) {
		return EMSGSIZE;
	}
	*used = c.ofs;
	return 0;
}

int cltrack_import_chunk_pull(const uint8_t *buf, size_t len,
			      int (*fn)(const struct cltrack_client_op *op,
					void *private_data),
			      void *private_data)
{
	struct cltrack_client_op op;
	struct cursor c;
	uint32_t count;
	uint32_t i;
	int ret;

	cur_init(&c, buf, len);
	count = le_pull32(&c);
	if (c.err || count < 1 || count > CLTRACK_IMPORT_CHUNK_MAX) {
		return EPROTO;
	}
	for (i = 0; i < count; i++) {
		uint16_t oplen = le_pull16(&c);
		const uint8_t *p = cur_pull_bytes(&c, oplen);

		if (p == NULL) {
			return EPROTO;
		}
		ret = cltrack_client_op_pull(p, oplen, &op);
		if (ret != 0) {
			return ret;
		}
		ret = fn(&op, private_data);
		if (ret != 0) {
			return ret;
		}
	}
	if (c.ofs != len) {
		return EPROTO;
	}
	return 0;
}

int cltrack_event_push(uint8_t event, const char *ip, uint8_t *buf,
		       size_t buflen, size_t *used)
{
	size_t iplen = ip != NULL ? strlen(ip) : 0;
	struct cursor c;

	if (iplen > CLTRACK_EVENT_IP_MAX) {
		return EINVAL;
	}
	cur_init(&c, buf, buflen);
	le_push8(&c, event);
	le_push8(&c, (uint8_t)iplen);
	cur_push_bytes(&c, ip, iplen);
	if (c.err) {
		return EMSGSIZE;
	}
	*used = c.ofs;
	return 0;
}

int cltrack_event_pull(const uint8_t *buf, size_t len, uint8_t *event,
		       char ipbuf[CLTRACK_EVENT_IP_MAX + 1])
{
	struct cursor c;
	const uint8_t *p = NULL;
	uint8_t iplen;

	cur_init(&c, buf, len);
	*event = le_pull8(&c);
	iplen = le_pull8(&c);
	if (c.err || iplen > CLTRACK_EVENT_IP_MAX) {
		return EPROTO;
	}
	p = cur_pull_bytes(&c, iplen);
	if (p == NULL || c.ofs != len || memchr(p, '\0', iplen) != NULL) {
		return EPROTO;
	}
	memcpy(ipbuf, p, iplen);
	ipbuf[iplen] = '\0';
	return 0;
}
