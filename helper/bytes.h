/*
 * Unaligned, bounds-checked access to byte buffers.
 *
 * The h_* helpers use host byte order (the kernel cld pipe and ctdbd's
 * socket); the le_* helpers use little-endian (cltrack's own records,
 * which CTDB replicates to every node).  Callers check bounds before
 * calling; the cursor helpers below do it for them.
 */
#ifndef CLTRACK_BYTES_H
#define CLTRACK_BYTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint16_t h_get16(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

static inline uint32_t h_get32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

static inline uint64_t h_get64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

static inline void h_put16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, sizeof(v));
}

static inline void h_put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, sizeof(v));
}

static inline void h_put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, sizeof(v));
}

/*
 * A cursor over a buffer.  Every pull/push checks the remaining length
 * and latches an error instead of overrunning; the caller checks
 * cur->err once at the end.
 */
struct cursor {
	uint8_t *buf;		/* NULL when pushing only to measure */
	size_t len;
	size_t ofs;
	bool err;
};

static inline void cur_init(struct cursor *c, const uint8_t *buf, size_t len)
{
	*c = (struct cursor) {
		.buf = (uint8_t *)buf,
		.len = len,
	};
}

static inline bool cur_need(struct cursor *c, size_t n)
{
	if (c->err || n > c->len - c->ofs) {
		c->err = true;
		return false;
	}
	return true;
}

static inline uint8_t le_pull8(struct cursor *c)
{
	uint8_t v = 0;
	if (cur_need(c, 1)) {
		v = c->buf[c->ofs];
		c->ofs += 1;
	}
	return v;
}

static inline uint64_t le_pullN(struct cursor *c, size_t n)
{
	uint64_t v = 0;
	size_t i;
	if (!cur_need(c, n)) {
		return 0;
	}
	for (i = 0; i < n; i++) {
		v |= (uint64_t)c->buf[c->ofs + i] << (8 * i);
	}
	c->ofs += n;
	return v;
}

static inline uint16_t le_pull16(struct cursor *c)
{
	return (uint16_t)le_pullN(c, 2);
}

static inline uint32_t le_pull32(struct cursor *c)
{
	return (uint32_t)le_pullN(c, 4);
}

static inline uint64_t le_pull64(struct cursor *c)
{
	return le_pullN(c, 8);
}

/* Returns a pointer into the buffer, or NULL (and latches) if short */
static inline const uint8_t *cur_pull_bytes(struct cursor *c, size_t n)
{
	const uint8_t *p = NULL;
	if (cur_need(c, n)) {
		p = c->buf + c->ofs;
		c->ofs += n;
	}
	return p;
}

static inline void le_pushN(struct cursor *c, uint64_t v, size_t n)
{
	size_t i;
	if (!cur_need(c, n)) {
		return;
	}
	if (c->buf != NULL) {
		for (i = 0; i < n; i++) {
			c->buf[c->ofs + i] = (uint8_t)(v >> (8 * i));
		}
	}
	c->ofs += n;
}

static inline void le_push8(struct cursor *c, uint8_t v)
{
	le_pushN(c, v, 1);
}

static inline void le_push16(struct cursor *c, uint16_t v)
{
	le_pushN(c, v, 2);
}

static inline void le_push32(struct cursor *c, uint32_t v)
{
	le_pushN(c, v, 4);
}

static inline void le_push64(struct cursor *c, uint64_t v)
{
	le_pushN(c, v, 8);
}

static inline void cur_push_bytes(struct cursor *c, const void *p, size_t n)
{
	if (!cur_need(c, n)) {
		return;
	}
	if (c->buf != NULL && n > 0) {
		memcpy(c->buf + c->ofs, p, n);
	}
	c->ofs += n;
}

#endif
