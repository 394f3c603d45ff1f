/*
 * Push and pull of the formats in ctdb_protocol.h.  Everything goes
 * through a bounds-checked cursor in host byte order; nothing casts a
 * buffer to a struct.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <tdb.h>

#include "bytes.h"
#include "ctdb_protocol.h"

static uint32_t h_pull32(struct cursor *c)
{
	uint32_t v = 0;

	if (cur_need(c, 4)) {
		v = h_get32(c->buf + c->ofs);
		c->ofs += 4;
	}
	return v;
}

static uint64_t h_pull64(struct cursor *c)
{
	uint64_t v = 0;

	if (cur_need(c, 8)) {
		v = h_get64(c->buf + c->ofs);
		c->ofs += 8;
	}
	return v;
}

static void h_push32(struct cursor *c, uint32_t v)
{
	if (cur_need(c, 4)) {
		if (c->buf != NULL) {
			h_put32(c->buf + c->ofs, v);
		}
		c->ofs += 4;
	}
}

static void h_push64(struct cursor *c, uint64_t v)
{
	if (cur_need(c, 8)) {
		if (c->buf != NULL) {
			h_put64(c->buf + c->ofs, v);
		}
		c->ofs += 8;
	}
}

/*
 * Header
 */

int ctdb_hdr_pull(const uint8_t *buf, size_t buflen, struct ctdb_hdr *h)
{
	struct cursor c;

	cur_init(&c, buf, buflen);
	h->length = h_pull32(&c);
	h->magic = h_pull32(&c);
	h->version = h_pull32(&c);
	h->generation = h_pull32(&c);
	h->operation = h_pull32(&c);
	h->destnode = h_pull32(&c);
	h->srcnode = h_pull32(&c);
	h->reqid = h_pull32(&c);
	if (c.err) {
		return EMSGSIZE;
	}
	if (h->length < CTDB_HDR_LEN || h->length > buflen) {
		return EMSGSIZE;
	}
	if (h->magic != CTDB_MAGIC || h->version != CTDB_PROTOCOL) {
		return EPROTO;
	}
	return 0;
}

void ctdb_hdr_push(const struct ctdb_hdr *h, uint8_t *buf)
{
	struct cursor c;

	cur_init(&c, buf, CTDB_HDR_LEN);
	h_push32(&c, h->length);
	h_push32(&c, h->magic);
	h_push32(&c, h->version);
	h_push32(&c, h->generation);
	h_push32(&c, h->operation);
	h_push32(&c, h->destnode);
	h_push32(&c, h->srcnode);
	h_push32(&c, h->reqid);
}

/*
 * Allocate a packet of len bytes and write its header, with length and
 * operation filled in.
 */
static uint8_t *pkt_alloc(TALLOC_CTX *mem_ctx, const struct ctdb_hdr *h,
			  uint32_t operation, size_t len)
{
	struct ctdb_hdr hdr = *h;
	uint8_t *pkt = NULL;

	if (len > CTDB_MAX_PACKET) {
		return NULL;
	}
	pkt = talloc_zero_array(mem_ctx, uint8_t, len);
	if (pkt == NULL) {
		return NULL;
	}
	hdr.length = (uint32_t)len;
	hdr.operation = operation;
	ctdb_hdr_push(&hdr, pkt);
	return pkt;
}

/* A cursor positioned on the body of a pulled packet */
static int body_cursor(const uint8_t *pkt, size_t pktlen, uint32_t op,
		       struct cursor *c)
{
	struct ctdb_hdr h;
	int ret;

	ret = ctdb_hdr_pull(pkt, pktlen, &h);
	if (ret != 0) {
		return ret;
	}
	if (h.operation != op) {
		return EPROTO;
	}
	/* The header's length bounds the body, not the buffer */
	cur_init(c, pkt, h.length);
	c->ofs = CTDB_HDR_LEN;
	return 0;
}

/*
 * REQ_CONTROL
 */

int ctdb_req_control_push(TALLOC_CTX *mem_ctx, const struct ctdb_hdr *h,
			  const struct ctdb_req_control *r,
			  uint8_t **pkt, size_t *pktlen)
{
	size_t len = (size_t)CTDB_REQ_CONTROL_HDR_LEN + r->datalen;
	struct cursor c;
	uint8_t *p = NULL;

	p = pkt_alloc(mem_ctx, h, CTDB_REQ_CONTROL, len);
	if (p == NULL) {
		return len > CTDB_MAX_PACKET ? EMSGSIZE : ENOMEM;
	}
	cur_init(&c, p, len);
	c.ofs = CTDB_HDR_LEN;
	h_push32(&c, r->opcode);
	h_push32(&c, 0);
	h_push64(&c, r->srvid);
	h_push32(&c, r->client_id);
	h_push32(&c, r->flags);
	h_push32(&c, r->datalen);
	cur_push_bytes(&c, r->data, r->datalen);
	*pkt = p;
	*pktlen = len;
	return 0;
}

int ctdb_req_control_pull(const uint8_t *pkt, size_t pktlen,
			  struct ctdb_req_control *r)
{
	struct cursor c;
	int ret;

	ret = body_cursor(pkt, pktlen, CTDB_REQ_CONTROL, &c);
	if (ret != 0) {
		return ret;
	}
	r->opcode = h_pull32(&c);
	(void)h_pull32(&c);
	r->srvid = h_pull64(&c);
	r->client_id = h_pull32(&c);
	r->flags = h_pull32(&c);
	r->datalen = h_pull32(&c);
	r->data = cur_pull_bytes(&c, r->datalen);
	return c.err ? EMSGSIZE : 0;
}

/*
 * REPLY_CONTROL
 */

int ctdb_reply_control_push(TALLOC_CTX *mem_ctx, const struct ctdb_hdr *h,
			    const struct ctdb_reply_control *r,
			    uint8_t **pkt, size_t *pktlen)
{
	size_t len = (size_t)CTDB_REPLY_CONTROL_HDR_LEN + r->datalen +
		     r->errlen;
	struct cursor c;
	uint8_t *p = NULL;

	p = pkt_alloc(mem_ctx, h, CTDB_REPLY_CONTROL, len);
	if (p == NULL) {
		return len > CTDB_MAX_PACKET ? EMSGSIZE : ENOMEM;
	}
	cur_init(&c, p, len);
	c.ofs = CTDB_HDR_LEN;
	h_push32(&c, (uint32_t)r->status);
	h_push32(&c, r->datalen);
	h_push32(&c, r->errlen);
	cur_push_bytes(&c, r->data, r->datalen);
	cur_push_bytes(&c, r->errmsg, r->errlen);
	*pkt = p;
	*pktlen = len;
	return 0;
}

int ctdb_reply_control_pull(const uint8_t *pkt, size_t pktlen,
			    struct ctdb_reply_control *r)
{
	struct cursor c;
	int ret;

	ret = body_cursor(pkt, pktlen, CTDB_REPLY_CONTROL, &c);
	if (ret != 0) {
		return ret;
	}
	r->status = (int32_t)h_pull32(&c);
	r->datalen = h_pull32(&c);
	r->errlen = h_pull32(&c);
	r->data = cur_pull_bytes(&c, r->datalen);
	r->errmsg = cur_pull_bytes(&c, r->errlen);
	return c.err ? EMSGSIZE : 0;
}

/*
 * REQ_MESSAGE
 */

int ctdb_req_message_push(TALLOC_CTX *mem_ctx, const struct ctdb_hdr *h,
			  const struct ctdb_req_message *m,
			  uint8_t **pkt, size_t *pktlen)
{
	size_t len = (size_t)CTDB_REQ_MESSAGE_HDR_LEN + m->datalen;
	struct cursor c;
	uint8_t *p = NULL;

	p = pkt_alloc(mem_ctx, h, CTDB_REQ_MESSAGE, len);
	if (p == NULL) {
		return len > CTDB_MAX_PACKET ? EMSGSIZE : ENOMEM;
	}
	cur_init(&c, p, len);
	c.ofs = CTDB_HDR_LEN;
	h_push64(&c, m->srvid);
	h_push32(&c, m->datalen);
	cur_push_bytes(&c, m->data, m->datalen);
	*pkt = p;
	*pktlen = len;
	return 0;
}

int ctdb_req_message_pull(const uint8_t *pkt, size_t pktlen,
			  struct ctdb_req_message *m)
{
	struct cursor c;
	int ret;

	ret = body_cursor(pkt, pktlen, CTDB_REQ_MESSAGE, &c);
	if (ret != 0) {
		return ret;
	}
	m->srvid = h_pull64(&c);
	m->datalen = h_pull32(&c);
	m->data = cur_pull_bytes(&c, m->datalen);
	return c.err ? EMSGSIZE : 0;
}

/*
 * REQ_CALL / REPLY_CALL / REPLY_ERROR
 */

int ctdb_req_call_push(TALLOC_CTX *mem_ctx, const struct ctdb_hdr *h,
		       const struct ctdb_req_call *r,
		       uint8_t **pkt, size_t *pktlen)
{
	size_t len = (size_t)CTDB_REQ_CALL_HDR_LEN + r->keylen +
		     r->calldatalen;
	struct cursor c;
	uint8_t *p = NULL;

	p = pkt_alloc(mem_ctx, h, CTDB_REQ_CALL, len);
	if (p == NULL) {
		return len > CTDB_MAX_PACKET ? EMSGSIZE : ENOMEM;
	}
	cur_init(&c, p, len);
	c.ofs = CTDB_HDR_LEN;
	h_push32(&c, r->flags);
	h_push32(&c, r->db_id);
	h_push32(&c, r->callid);
	h_push32(&c, r->hopcount);
	h_push32(&c, r->keylen);
	h_push32(&c, r->calldatalen);
	cur_push_bytes(&c, r->key, r->keylen);
	cur_push_bytes(&c, r->calldata, r->calldatalen);
	*pkt = p;
	*pktlen = len;
	return 0;
}

int ctdb_req_call_pull(const uint8_t *pkt, size_t pktlen,
		       struct ctdb_req_call *r)
{
	struct cursor c;
	int ret;

	ret = body_cursor(pkt, pktlen, CTDB_REQ_CALL, &c);
	if (ret != 0) {
		return ret;
	}
	r->flags = h_pull32(&c);
	r->db_id = h_pull32(&c);
	r->callid = h_pull32(&c);
	r->hopcount = h_pull32(&c);
	r->keylen = h_pull32(&c);
	r->calldatalen = h_pull32(&c);
	r->key = cur_pull_bytes(&c, r->keylen);
	r->calldata = cur_pull_bytes(&c, r->calldatalen);
	return c.err ? EMSGSIZE : 0;
}

int ctdb_reply_call_push(TALLOC_CTX *mem_ctx, const struct ctdb_hdr *h,
			 const struct ctdb_reply_call *r,
			 uint8_t **pkt, size_t *pktlen)
{
	size_t len = (size_t)CTDB_REPLY_CALL_HDR_LEN + r->datalen;
	struct cursor c;
	uint8_t *p = NULL;

	p = pkt_alloc(mem_ctx, h, CTDB_REPLY_CALL, len);
	if (p == NULL) {
		return len > CTDB_MAX_PACKET ? EMSGSIZE : ENOMEM;
	}
	cur_init(&c, p, len);
	c.ofs = CTDB_HDR_LEN;
	h_push32(&c, (uint32_t)r->status);
	h_push32(&c, r->datalen);
	cur_push_bytes(&c, r->data, r->datalen);
	*pkt = p;
	*pktlen = len;
	return 0;
}

int ctdb_reply_call_pull(const uint8_t *pkt, size_t pktlen,
			 struct ctdb_reply_call *r)
{
	struct cursor c;
	int ret;

	ret = body_cursor(pkt, pktlen, CTDB_REPLY_CALL, &c);
	if (ret != 0) {
		return ret;
	}
	r->status = (int32_t)h_pull32(&c);
	r->datalen = h_pull32(&c);
	r->data = cur_pull_bytes(&c, r->datalen);
	return c.err ? EMSGSIZE : 0;
}

int ctdb_reply_error_pull(const uint8_t *pkt, size_t pktlen,
			  struct ctdb_reply_error *r)
{
	struct cursor c;
	int ret;

	ret = body_cursor(pkt, pktlen, CTDB_REPLY_ERROR, &c);
	if (ret != 0) {
		return ret;
	}
	r->status = (int32_t)h_pull32(&c);
	r->msglen = h_pull32(&c);
	r->msg = cur_pull_bytes(&c, r->msglen);
	return c.err ? EMSGSIZE : 0;
}

/*
 * ltdb header
 */

static void ltdb_header_push_cur(struct cursor *c,
				 const struct ctdb_ltdb_header *h)
{
	h_push64(c, h->rsn);
	h_push32(c, h->dmaster);
	h_push32(c, h->reserved1);
	h_push32(c, h->flags);
	h_push32(c, 0);
}

static void ltdb_header_pull_cur(struct cursor *c,
				 struct ctdb_ltdb_header *h)
{
	h->rsn = h_pull64(c);
	h->dmaster = h_pull32(c);
	h->reserved1 = h_pull32(c);
	h->flags = h_pull32(c);
	(void)h_pull32(c);
}

void ctdb_ltdb_header_push(const struct ctdb_ltdb_header *h, uint8_t *buf)
{
	struct cursor c;

	cur_init(&c, buf, CTDB_LTDB_HDR_LEN);
	ltdb_header_push_cur(&c, h);
}

int ctdb_ltdb_header_pull(const uint8_t *buf, size_t buflen,
			  struct ctdb_ltdb_header *h)
{
	struct cursor c;

	cur_init(&c, buf, buflen);
	ltdb_header_pull_cur(&c, h);
	return c.err ? EMSGSIZE : 0;
}

/*
 * g_lock
 */

static void g_lock_entry_push_cur(struct cursor *c,
				  const struct ctdb_g_lock_entry *e)
{
	h_push32(c, e->type);
	h_push32(c, 0);
	h_push64(c, e->pid);
	h_push32(c, e->task_id);
	h_push32(c, e->vnn);
	h_push64(c, e->unique_id);
}

static void g_lock_entry_pull_cur(struct cursor *c,
				  struct ctdb_g_lock_entry *e)
{
	e->type = h_pull32(c);
	(void)h_pull32(c);
	e->pid = h_pull64(c);
	e->task_id = h_pull32(c);
	e->vnn = h_pull32(c);
	e->unique_id = h_pull64(c);
}

void ctdb_g_lock_entry_push(const struct ctdb_g_lock_entry *e, uint8_t *buf)
{
	struct cursor c;

	cur_init(&c, buf, CTDB_G_LOCK_ENTRY_LEN);
	g_lock_entry_push_cur(&c, e);
}

int ctdb_g_lock_entry_pull(const uint8_t *buf, size_t buflen,
			   struct ctdb_g_lock_entry *e)
{
	struct cursor c;

	cur_init(&c, buf, buflen);
	g_lock_entry_pull_cur(&c, e);
	if (c.err) {
		return EMSGSIZE;
	}
	/* The ctdb CLI's parser fails on any other type; so do we */
	if (e->type != CTDB_G_LOCK_READ && e->type != CTDB_G_LOCK_WRITE) {
		return EPROTO;
	}
	return 0;
}

bool ctdb_g_lock_entry_same_owner(const struct ctdb_g_lock_entry *a,
				  const struct ctdb_g_lock_entry *b)
{
	return a->pid == b->pid && a->task_id == b->task_id &&
	       a->vnn == b->vnn && a->unique_id == b->unique_id;
}

int ctdb_g_lock_record_pull(TALLOC_CTX *mem_ctx, const uint8_t *buf,
			    size_t buflen, struct ctdb_ltdb_header *h,
			    struct ctdb_g_lock_entry **entries,
			    unsigned *num)
{
	struct ctdb_g_lock_entry *e = NULL;
	size_t n, i;
	int ret;

	if (buflen < CTDB_LTDB_HDR_LEN ||
	    (buflen - CTDB_LTDB_HDR_LEN) % CTDB_G_LOCK_ENTRY_LEN != 0) {
		return EMSGSIZE;
	}
	ret = ctdb_ltdb_header_pull(buf, buflen, h);
	if (ret != 0) {
		return ret;
	}
	n = (buflen - CTDB_LTDB_HDR_LEN) / CTDB_G_LOCK_ENTRY_LEN;
	e = talloc_zero_array(mem_ctx, struct ctdb_g_lock_entry, n + 1);
	if (e == NULL) {
		return ENOMEM;
	}
	for (i = 0; i < n; i++) {
		ret = ctdb_g_lock_entry_pull(
			buf + CTDB_LTDB_HDR_LEN + i * CTDB_G_LOCK_ENTRY_LEN,
			CTDB_G_LOCK_ENTRY_LEN, &e[i]);
		if (ret != 0) {
			talloc_free(e);
			return ret;
		}
	}
	*entries = e;
	*num = (unsigned)n;
	return 0;
}

int ctdb_g_lock_record_push(TALLOC_CTX *mem_ctx,
			    const struct ctdb_ltdb_header *h,
			    const struct ctdb_g_lock_entry *entries,
			    unsigned num, uint8_t **buf, size_t *buflen)
{
	size_t len = CTDB_LTDB_HDR_LEN + (size_t)num * CTDB_G_LOCK_ENTRY_LEN;
	uint8_t *p = NULL;
	struct cursor c;
	unsigned i;

	p = talloc_zero_array(mem_ctx, uint8_t, len);
	if (p == NULL) {
		return ENOMEM;
	}
	cur_init(&c, p, len);
	ltdb_header_push_cur(&c, h);
	for (i = 0; i < num; i++) {
		g_lock_entry_push_cur(&c, &entries[i]);
	}
	*buf = p;
	*buflen = len;
	return 0;
}

/*
 * sockaddr: the Linux in-memory layout of sockaddr_in / sockaddr_in6,
 * field by field.
 */

int ctdb_sockaddr_pull(const uint8_t *buf, size_t buflen,
		       struct sockaddr_storage *ss)
{
	uint16_t family;

	if (buflen < CTDB_SOCKADDR_LEN) {
		return EMSGSIZE;
	}
	memset(ss, 0, sizeof(*ss));
	family = h_get16(buf);
	if (family == AF_INET) {
		struct sockaddr_in sin = {
			.sin_family = AF_INET,
		};
		memcpy(&sin.sin_port, buf + 2, 2);
		memcpy(&sin.sin_addr.s_addr, buf + 4, 4);
		memcpy(ss, &sin, sizeof(sin));
		return 0;
	}
	if (family == AF_INET6) {
		struct sockaddr_in6 sin6 = {
			.sin6_family = AF_INET6,
		};
		memcpy(&sin6.sin6_port, buf + 2, 2);
		memcpy(&sin6.sin6_flowinfo, buf + 4, 4);
		memcpy(sin6.sin6_addr.s6_addr, buf + 8, 16);
		sin6.sin6_scope_id = h_get32(buf + 24);
		memcpy(ss, &sin6, sizeof(sin6));
		return 0;
	}
	return EPROTO;
}

void ctdb_sockaddr_push(const struct sockaddr_storage *ss, uint8_t *buf)
{
	memset(buf, 0, CTDB_SOCKADDR_LEN);
	if (ss->ss_family == AF_INET) {
		struct sockaddr_in sin;

		memcpy(&sin, ss, sizeof(sin));
		h_put16(buf, AF_INET);
		memcpy(buf + 2, &sin.sin_port, 2);
		memcpy(buf + 4, &sin.sin_addr.s_addr, 4);
	} else if (ss->ss_family == AF_INET6) {
		struct sockaddr_in6 sin6;

		memcpy(&sin6, ss, sizeof(sin6));
		h_put16(buf, AF_INET6);
		memcpy(buf + 2, &sin6.sin6_port, 2);
		memcpy(buf + 4, &sin6.sin6_flowinfo, 4);
		memcpy(buf + 8, sin6.sin6_addr.s6_addr, 16);
		h_put32(buf + 24, sin6.sin6_scope_id);
	}
}

/*
 * Node map
 */

int ctdb_nodemap_pull(TALLOC_CTX *mem_ctx, const uint8_t *buf,
		      size_t buflen, struct ctdb_nodemap **result)
{
	struct ctdb_nodemap *map = NULL;
	struct cursor c;
	uint32_t num, i;
	int ret;

	cur_init(&c, buf, buflen);
	num = h_pull32(&c);
	if (c.err || num > (buflen - 4) / CTDB_NODE_LEN) {
		return EMSGSIZE;
	}
	map = talloc_zero(mem_ctx, struct ctdb_nodemap);
	if (map == NULL) {
		return ENOMEM;
	}
	map->num = num;
	map->nodes = talloc_zero_array(map, struct ctdb_node, num + 1);
	if (map->nodes == NULL) {
		talloc_free(map);
		return ENOMEM;
	}
	for (i = 0; i < num; i++) {
		const uint8_t *sa = NULL;

		map->nodes[i].pnn = h_pull32(&c);
		map->nodes[i].flags = h_pull32(&c);
		sa = cur_pull_bytes(&c, CTDB_SOCKADDR_LEN);
		if (c.err) {
			talloc_free(map);
			return EMSGSIZE;
		}
		ret = ctdb_sockaddr_pull(sa, CTDB_SOCKADDR_LEN,
					 &map->nodes[i].addr);
		if (ret != 0) {
			talloc_free(map);
			return ret;
		}
	}
	*result = map;
	return 0;
}

int ctdb_nodemap_push(TALLOC_CTX *mem_ctx, const struct ctdb_nodemap *map,
		      uint8_t **buf, size_t *buflen)
{
	size_t len = 4 + (size_t)map->num * CTDB_NODE_LEN;
	uint8_t *p = NULL;
	struct cursor c;
	uint32_t i;

	p = talloc_zero_array(mem_ctx, uint8_t, len);
	if (p == NULL) {
		return ENOMEM;
	}
	cur_init(&c, p, len);
	h_push32(&c, map->num);
	for (i = 0; i < map->num; i++) {
		h_push32(&c, map->nodes[i].pnn);
		h_push32(&c, map->nodes[i].flags);
		ctdb_sockaddr_push(&map->nodes[i].addr, p + c.ofs);
		c.ofs += CTDB_SOCKADDR_LEN;
	}
	*buf = p;
	*buflen = len;
	return 0;
}

/*
 * Public addresses
 */

int ctdb_public_ip_list_pull(TALLOC_CTX *mem_ctx, const uint8_t *buf,
			     size_t buflen,
			     struct ctdb_public_ip_list **result)
{
	struct ctdb_public_ip_list *list = NULL;
	struct cursor c;
	uint32_t num, i;
	int ret;

	cur_init(&c, buf, buflen);
	num = h_pull32(&c);
	/*
	 * ctdbd sends exactly 4 + num * 32 bytes: anything else is a reply
	 * we do not understand, not one to read a prefix of.
	 */
	if (c.err || (buflen - 4) % CTDB_PUBLIC_IP_LEN != 0 ||
	    num != (buflen - 4) / CTDB_PUBLIC_IP_LEN) {
		return EMSGSIZE;
	}
	list = talloc_zero(mem_ctx, struct ctdb_public_ip_list);
	if (list == NULL) {
		return ENOMEM;
	}
	list->num = num;
	list->ip = talloc_zero_array(list, struct ctdb_public_ip, num + 1);
	if (list->ip == NULL) {
		talloc_free(list);
		return ENOMEM;
	}
	for (i = 0; i < num; i++) {
		const uint8_t *sa = NULL;

		list->ip[i].pnn = h_pull32(&c);
		sa = cur_pull_bytes(&c, CTDB_SOCKADDR_LEN);
		if (c.err) {
			talloc_free(list);
			return EMSGSIZE;
		}
		ret = ctdb_sockaddr_pull(sa, CTDB_SOCKADDR_LEN,
					 &list->ip[i].addr);
		if (ret != 0) {
			talloc_free(list);
			return ret;
		}
	}
	*result = list;
	return 0;
}

int ctdb_public_ip_list_push(TALLOC_CTX *mem_ctx,
			     const struct ctdb_public_ip_list *list,
			     uint8_t **buf, size_t *buflen)
{
	size_t len;
	uint8_t *p = NULL;
	struct cursor c;
	uint32_t i;

	if (list->num > (CTDB_MAX_PACKET - 4) / CTDB_PUBLIC_IP_LEN) {
		return EMSGSIZE;
	}
	for (i = 0; i < list->num; i++) {
		sa_family_t family = list->ip[i].addr.ss_family;

		if (family != AF_INET && family != AF_INET6) {
			return EINVAL;
		}
	}
	len = 4 + (size_t)list->num * CTDB_PUBLIC_IP_LEN;
	p = talloc_zero_array(mem_ctx, uint8_t, len);
	if (p == NULL) {
		return ENOMEM;
	}
	cur_init(&c, p, len);
	h_push32(&c, list->num);
	for (i = 0; i < list->num; i++) {
		h_push32(&c, list->ip[i].pnn);
		ctdb_sockaddr_push(&list->ip[i].addr, p + c.ofs);
		c.ofs += CTDB_SOCKADDR_LEN;
	}
	*buf = p;
	*buflen = len;
	return 0;
}

const char *ctdb_sockaddr_string(const struct sockaddr_storage *ss,
				 char buf[CTDB_ADDR_STRLEN])
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	const char *s = NULL;

	if (ss->ss_family == AF_INET) {
		memcpy(&sin, ss, sizeof(sin));
		s = inet_ntop(AF_INET, &sin.sin_addr, buf, CTDB_ADDR_STRLEN);
	} else if (ss->ss_family == AF_INET6) {
		memcpy(&sin6, ss, sizeof(sin6));
		s = inet_ntop(AF_INET6, &sin6.sin6_addr, buf,
			      CTDB_ADDR_STRLEN);
	}
	if (s == NULL) {
		snprintf(buf, CTDB_ADDR_STRLEN, "(family %u)",
			 (unsigned)ss->ss_family);
	}
	return buf;
}

/*
 * Record buffer
 */

int ctdb_rec_buffer_push(TALLOC_CTX *mem_ctx, uint32_t db_id,
			 const struct ctdb_rec *recs, unsigned num,
			 uint8_t **buf, size_t *buflen)
{
	size_t len = 8;
	uint8_t *p = NULL;
	struct cursor c;
	unsigned i;

	for (i = 0; i < num; i++) {
		len += CTDB_REC_HDR_LEN + (size_t)recs[i].keylen +
		       CTDB_LTDB_HDR_LEN + recs[i].valuelen;
	}
	if (len > CTDB_MAX_PACKET) {
		return EMSGSIZE;
	}
	p = talloc_zero_array(mem_ctx, uint8_t, len);
	if (p == NULL) {
		return ENOMEM;
	}
	cur_init(&c, p, len);
	h_push32(&c, db_id);
	h_push32(&c, num);
	for (i = 0; i < num; i++) {
		const struct ctdb_rec *r = &recs[i];

		h_push32(&c, CTDB_REC_HDR_LEN + r->keylen +
			     CTDB_LTDB_HDR_LEN + r->valuelen);
		h_push32(&c, 0);
		h_push32(&c, r->keylen);
		h_push32(&c, CTDB_LTDB_HDR_LEN + r->valuelen);
		cur_push_bytes(&c, r->key, r->keylen);
		ltdb_header_push_cur(&c, &r->header);
		cur_push_bytes(&c, r->value, r->valuelen);
	}
	*buf = p;
	*buflen = len;
	return 0;
}

int ctdb_rec_buffer_pull(const uint8_t *buf, size_t buflen, uint32_t *db_id,
			 int (*fn)(const struct ctdb_rec *rec, void *priv),
			 void *priv)
{
	struct cursor c;
	uint32_t num, i;

	cur_init(&c, buf, buflen);
	*db_id = h_pull32(&c);
	num = h_pull32(&c);
	if (c.err) {
		return EMSGSIZE;
	}
	for (i = 0; i < num; i++) {
		struct ctdb_rec r = {};
		size_t start = c.ofs;
		uint32_t reclen, datalen;
		int ret;

		reclen = h_pull32(&c);
		(void)h_pull32(&c);
		r.keylen = h_pull32(&c);
		datalen = h_pull32(&c);
		if (c.err || datalen < CTDB_LTDB_HDR_LEN ||
		    (uint64_t)CTDB_REC_HDR_LEN + r.keylen + datalen != reclen) {
			return EMSGSIZE;
		}
		r.key = cur_pull_bytes(&c, r.keylen);
		ltdb_header_pull_cur(&c, &r.header);
		r.valuelen = datalen - CTDB_LTDB_HDR_LEN;
		r.value = cur_pull_bytes(&c, r.valuelen);
		if (c.err || c.ofs - start != reclen) {
			return EMSGSIZE;
		}
		if (fn != NULL) {
			ret = fn(&r, priv);
			if (ret != 0) {
				return ret;
			}
		}
	}
	return 0;
}

int ctdb_schedule_for_deletion_push(TALLOC_CTX *mem_ctx, uint32_t db_id,
				    const struct ctdb_ltdb_header *h,
				    const uint8_t *key, size_t keylen,
				    uint8_t **buf, size_t *buflen)
{
	size_t len = 36 + keylen;
	uint8_t *p = NULL;
	struct cursor c;

	if (keylen > UINT32_MAX - 36) {
		return EMSGSIZE;
	}
	p = talloc_zero_array(mem_ctx, uint8_t, len);
	if (p == NULL) {
		return ENOMEM;
	}
	cur_init(&c, p, len);
	h_push32(&c, db_id);
	h_push32(&c, 0);
	ltdb_header_push_cur(&c, h);
	h_push32(&c, (uint32_t)keylen);
	cur_push_bytes(&c, key, keylen);
	*buf = p;
	*buflen = len;
	return 0;
}

int ctdb_cltrack_msg_push(TALLOC_CTX *mem_ctx, uint32_t sender_pnn,
			  const uint8_t *data, size_t datalen,
			  uint8_t **buf, size_t *buflen)
{
	size_t len = CTDB_CLTRACK_MSG_HDR_LEN + datalen;
	uint8_t *p = NULL;
	struct cursor c;

	if (datalen > CTDB_MAX_PACKET) {
		return EMSGSIZE;
	}
	p = talloc_zero_array(mem_ctx, uint8_t, len);
	if (p == NULL) {
		return ENOMEM;
	}
	cur_init(&c, p, len);
	h_push32(&c, sender_pnn);
	h_push32(&c, 0);
	cur_push_bytes(&c, data, datalen);
	*buf = p;
	*buflen = len;
	return 0;
}

int ctdb_cltrack_msg_pull(const uint8_t *buf, size_t buflen,
			  uint32_t *sender_pnn, const uint8_t **data,
			  size_t *datalen)
{
	if (buflen < CTDB_CLTRACK_MSG_HDR_LEN) {
		return EMSGSIZE;
	}
	*sender_pnn = h_get32(buf);
	*data = buf + CTDB_CLTRACK_MSG_HDR_LEN;
	*datalen = buflen - CTDB_CLTRACK_MSG_HDR_LEN;
	return 0;
}

void ctdb_g_lock_key(uint32_t db_id, char key[CTDB_G_LOCK_KEY_LEN])
{
	snprintf(key, CTDB_G_LOCK_KEY_LEN, "transaction_db_0x%08x", db_id);
}

uint32_t ctdb_db_id(const char *name)
{
	TDB_DATA key = {
		.dptr = (uint8_t *)name,
		.dsize = strlen(name) + 1,
	};

	return tdb_jenkins_hash(&key);
}
