/*
 * Encoding of cltrack's records; the layouts are in record.h.
 */
#include <errno.h>
#include <string.h>

#include "bytes.h"
#include "record.h"

size_t client_record_size(const struct client_record *rec)
{
	return RECORD_CLIENT_FIXED + rec->princhash_len + rec->addr_len;
}

size_t client_record_push(const struct client_record *rec, uint8_t *buf,
			  size_t buflen)
{
	struct cursor c;

	if (rec->princhash_len != 0 &&
	    rec->princhash_len != RECORD_PRINCHASH_SIZE) {
		return 0;
	}
	if (rec->addr_len > RECORD_ADDR_MAX) {
		return 0;
	}
	cur_init(&c, buf, buflen);
	le_push8(&c, RECORD_VERSION);
	le_push8(&c, rec->princhash_len);
	le_push8(&c, rec->addr_len);
	le_push8(&c, 0);
	le_push32(&c, rec->flags);
	le_push32(&c, rec->pnn);
	le_push32(&c, 0);
	le_push64(&c, rec->epoch);
	le_push64(&c, rec->prev_epoch);
	le_push64(&c, rec->created);
	cur_push_bytes(&c, rec->princhash, rec->princhash_len);
	cur_push_bytes(&c, rec->addr, rec->addr_len);
	if (c.err) {
		return 0;
	}
	return c.ofs;
}

int client_record_pull(const uint8_t *buf, size_t len,
		       struct client_record *rec)
{
	struct cursor c;
	const uint8_t *p = NULL;
	uint8_t version;

	*rec = (struct client_record) {};
	cur_init(&c, buf, len);
	version = le_pull8(&c);
	if (c.err) {
		return EINVAL;
	}
	if (version != RECORD_VERSION) {
		return EPROTO;
	}
	rec->princhash_len = le_pull8(&c);
	rec->addr_len = le_pull8(&c);
	(void)le_pull8(&c);
	rec->flags = le_pull32(&c);
	rec->pnn = le_pull32(&c);
	(void)le_pull32(&c);
	rec->epoch = le_pull64(&c);
	rec->prev_epoch = le_pull64(&c);
	rec->created = le_pull64(&c);
	if (c.err) {
		return EINVAL;
	}
	if ((rec->princhash_len != 0 &&
	     rec->princhash_len != RECORD_PRINCHASH_SIZE) ||
	    rec->addr_len > RECORD_ADDR_MAX) {
		return EINVAL;
	}
	p = cur_pull_bytes(&c, rec->princhash_len);
	if (p != NULL) {
		memcpy(rec->princhash, p, rec->princhash_len);
	}
	p = cur_pull_bytes(&c, rec->addr_len);
	if (p != NULL) {
		memcpy(rec->addr, p, rec->addr_len);
	}
	if (c.err || c.ofs != len) {
		return EINVAL;
	}
	if (rec->epoch == 0) {
		return EINVAL;
	}
	return 0;
}

size_t grace_record_size(const struct grace_record *g)
{
	return RECORD_GRACE_FIXED + (size_t)g->nmembers * RECORD_MEMBER_SIZE;
}

size_t grace_record_push(const struct grace_record *g, uint8_t *buf,
			 size_t buflen)
{
	struct cursor c;
	uint32_t i;

	if (g->nmembers > RECORD_MAX_MEMBERS) {
		return 0;
	}
	cur_init(&c, buf, buflen);
	le_push8(&c, RECORD_VERSION);
	le_push8(&c, 0);
	le_push16(&c, 0);
	le_push32(&c, g->nmembers);
	le_push64(&c, g->current);
	le_push64(&c, g->recovery);
	le_push64(&c, g->start_time);
	le_push64(&c, g->deadline);
	for (i = 0; i < g->nmembers; i++) {
		le_push32(&c, g->members[i].pnn);
		le_push32(&c, g->members[i].flags);
		le_push64(&c, g->members[i].enforcing_time);
		le_push64(&c, g->members[i].need_time);
	}
	if (c.err) {
		return 0;
	}
	return c.ofs;
}

int grace_record_pull(const uint8_t *buf, size_t len, struct grace_record *g)
{
	struct cursor c;
	uint8_t version;
	uint32_t i;

	*g = (struct grace_record) {};
	cur_init(&c, buf, len);
	version = le_pull8(&c);
	if (c.err) {
		return EINVAL;
	}
	if (version != RECORD_VERSION) {
		return EPROTO;
	}
	(void)le_pull8(&c);
	(void)le_pull16(&c);
	g->nmembers = le_pull32(&c);
	g->current = le_pull64(&c);
	g->recovery = le_pull64(&c);
	g->start_time = le_pull64(&c);
	g->deadline = le_pull64(&c);
	if (c.err || g->nmembers > RECORD_MAX_MEMBERS) {
		return EINVAL;
	}
	for (i = 0; i < g->nmembers; i++) {
		g->members[i].pnn = le_pull32(&c);
		g->members[i].flags = le_pull32(&c);
		g->members[i].enforcing_time = le_pull64(&c);
		g->members[i].need_time = le_pull64(&c);
	}
	if (c.err || c.ofs != len) {
		return EINVAL;
	}
	/* C is at least 1 and R, when set, is an older epoch */
	if (g->current == 0 || g->recovery >= g->current) {
		return EINVAL;
	}
	return 0;
}

void grace_record_init(struct grace_record *g)
{
	*g = (struct grace_record) {
		.current = 1,
	};
}

size_t client_key_make(TALLOC_CTX *mem_ctx, const uint8_t *id, size_t idlen,
		       uint8_t **key)
{
	uint8_t *k = NULL;
	size_t len = RECORD_CLIENT_PREFIX_LEN + idlen;

	if (idlen < 1 || idlen > RECORD_ID_MAX) {
		return 0;
	}
	k = talloc_array(mem_ctx, uint8_t, len);
	if (k == NULL) {
		return 0;
	}
	memcpy(k, RECORD_CLIENT_PREFIX, RECORD_CLIENT_PREFIX_LEN);
	memcpy(k + RECORD_CLIENT_PREFIX_LEN, id, idlen);
	*key = k;
	return len;
}

bool client_key_parse(const uint8_t *key, size_t keylen,
		      const uint8_t **id, size_t *idlen)
{
	if (keylen <= RECORD_CLIENT_PREFIX_LEN ||
	    keylen > RECORD_CLIENT_PREFIX_LEN + RECORD_ID_MAX) {
		return false;
	}
	if (memcmp(key, RECORD_CLIENT_PREFIX, RECORD_CLIENT_PREFIX_LEN) != 0) {
		return false;
	}
	*id = key + RECORD_CLIENT_PREFIX_LEN;
	*idlen = keylen - RECORD_CLIENT_PREFIX_LEN;
	return true;
}
