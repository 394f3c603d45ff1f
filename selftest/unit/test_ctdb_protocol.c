/*
 * ctdbd wire formats (helper/ctdb/ctdb_protocol.h): byte offsets as the
 * spec tables give them, round trips, and refusal of malformed input.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "bytes.h"
#include "ctdb/ctdb_protocol.h"

static const struct ctdb_hdr hdr = {
	.magic = CTDB_MAGIC,
	.version = CTDB_PROTOCOL,
	.destnode = CTDB_CURRENT_NODE,
	.srcnode = 1,
	.reqid = 77,
};

static void test_hdr(void **state)
{
	struct ctdb_hdr in = hdr, out;
	uint8_t buf[CTDB_HDR_LEN];

	in.length = CTDB_HDR_LEN;
	in.operation = CTDB_REQ_MESSAGE;
	ctdb_hdr_push(&in, buf);
	assert_int_equal(h_get32(buf + 4), 0x43544442);
	assert_int_equal(h_get32(buf + 20), 0xF0000001);
	assert_int_equal(h_get32(buf + 28), 77);
	assert_int_equal(ctdb_hdr_pull(buf, sizeof(buf), &out), 0);
	assert_memory_equal(&in, &out, sizeof(in));

	/* short buffer, length beyond the buffer, length below 32 */
	assert_int_equal(ctdb_hdr_pull(buf, 31, &out), EMSGSIZE);
	h_put32(buf, 33);
	assert_int_equal(ctdb_hdr_pull(buf, sizeof(buf), &out), EMSGSIZE);
	h_put32(buf, 16);
	assert_int_equal(ctdb_hdr_pull(buf, sizeof(buf), &out), EMSGSIZE);
	h_put32(buf, 32);
	/* wrong magic, wrong version */
	h_put32(buf + 4, 0x12345678);
	assert_int_equal(ctdb_hdr_pull(buf, sizeof(buf), &out), EPROTO);
	h_put32(buf + 4, CTDB_MAGIC);
	h_put32(buf + 8, 2);
	assert_int_equal(ctdb_hdr_pull(buf, sizeof(buf), &out), EPROTO);
}

static void test_req_control(void **state)
{
	const uint8_t data[5] = { 1, 2, 3, 4, 5 };
	struct ctdb_req_control c = {
		.opcode = CTDB_CONTROL_GET_DB_SEQNUM,
		.srvid = 0xEE00000000000042ULL,
		.flags = 0,
		.data = data,
		.datalen = sizeof(data),
	}, out;
	uint8_t *pkt = NULL;
	size_t len;

	assert_int_equal(ctdb_req_control_push(NULL, &hdr, &c, &pkt, &len),
			 0);
	assert_int_equal(len, 60 + 5);
	assert_int_equal(h_get32(pkt), 65);
	assert_int_equal(h_get32(pkt + 16), CTDB_REQ_CONTROL);
	assert_int_equal(h_get32(pkt + 32), 120);
	assert_int_equal(h_get32(pkt + 36), 0);
	assert_true(h_get64(pkt + 40) == 0xEE00000000000042ULL);
	assert_int_equal(h_get32(pkt + 56), 5);
	assert_memory_equal(pkt + 60, data, 5);

	assert_int_equal(ctdb_req_control_pull(pkt, len, &out), 0);
	assert_int_equal(out.opcode, 120);
	assert_true(out.srvid == c.srvid);
	assert_int_equal(out.datalen, 5);
	assert_memory_equal(out.data, data, 5);

	/* datalen larger than the packet */
	h_put32(pkt + 56, 6);
	assert_int_equal(ctdb_req_control_pull(pkt, len, &out), EMSGSIZE);
	/* a different operation */
	h_put32(pkt + 56, 5);
	h_put32(pkt + 16, CTDB_REQ_CALL);
	assert_int_equal(ctdb_req_control_pull(pkt, len, &out), EPROTO);
	talloc_free(pkt);
}

static void test_reply_control(void **state)
{
	struct ctdb_reply_control r = {
		.status = -1,
		.data = (const uint8_t *)"abcd",
		.datalen = 4,
		.errmsg = (const uint8_t *)"oops",
		.errlen = 4,
	}, out;
	uint8_t *pkt = NULL, *padded = NULL;
	size_t len;

	assert_int_equal(ctdb_reply_control_push(NULL, &hdr, &r, &pkt, &len),
			 0);
	assert_int_equal(len, 44 + 8);
	assert_int_equal((int32_t)h_get32(pkt + 32), -1);
	assert_int_equal(h_get32(pkt + 36), 4);
	assert_int_equal(h_get32(pkt + 40), 4);
	assert_memory_equal(pkt + 44, "abcdoops", 8);
	assert_int_equal(ctdb_reply_control_pull(pkt, len, &out), 0);
	assert_int_equal(out.status, -1);
	assert_memory_equal(out.data, "abcd", 4);
	assert_memory_equal(out.errmsg, "oops", 4);

	/* ctdbd pads to 8: the padding is not data */
	padded = talloc_zero_array(NULL, uint8_t, 56);
	memcpy(padded, pkt, len);
	h_put32(padded, 56);
	assert_int_equal(ctdb_reply_control_pull(padded, 56, &out), 0);
	assert_int_equal(out.datalen, 4);
	assert_int_equal(out.errlen, 4);

	/* errorlen running past the packet's own length */
	h_put32(pkt + 40, 5);
	assert_int_equal(ctdb_reply_control_pull(pkt, len, &out), EMSGSIZE);
	/* truncated header */
	assert_int_equal(ctdb_reply_control_pull(pkt, 40, &out), EMSGSIZE);
	/* a huge datalen must not wrap */
	h_put32(pkt + 36, 0xFFFFFFF0);
	assert_int_equal(ctdb_reply_control_pull(pkt, len, &out), EMSGSIZE);
	talloc_free(pkt);
	talloc_free(padded);
}

static void test_req_message(void **state)
{
	struct ctdb_req_message m = {
		.srvid = CTDB_SRVID_TAKE_IP,
		.data = (const uint8_t *)"127.0.100.11",
		.datalen = 13,
	}, out;
	uint8_t *pkt = NULL;
	size_t len;

	assert_int_equal(ctdb_req_message_push(NULL, &hdr, &m, &pkt, &len), 0);
	assert_int_equal(len, 44 + 13);
	assert_true(h_get64(pkt + 32) == CTDB_SRVID_TAKE_IP);
	assert_int_equal(h_get32(pkt + 40), 13);
	assert_int_equal(ctdb_req_message_pull(pkt, len, &out), 0);
	assert_string_equal((const char *)out.data, "127.0.100.11");
	h_put32(pkt + 40, 14);
	assert_int_equal(ctdb_req_message_pull(pkt, len, &out), EMSGSIZE);
	talloc_free(pkt);
}

static void test_req_call(void **state)
{
	struct ctdb_req_call c = {
		.flags = CTDB_IMMEDIATE_MIGRATION,
		.db_id = 0x11223344,
		.callid = CTDB_NULL_FUNC,
		.key = (const uint8_t *)"key",
		.keylen = 3,
	}, out;
	uint8_t *pkt = NULL;
	size_t len;

	assert_int_equal(ctdb_req_call_push(NULL, &hdr, &c, &pkt, &len), 0);
	assert_int_equal(len, 56 + 3);
	assert_int_equal(h_get32(pkt + 16), CTDB_REQ_CALL);
	assert_int_equal(h_get32(pkt + 32), 1);
	assert_int_equal(h_get32(pkt + 36), 0x11223344);
	assert_int_equal(h_get32(pkt + 40), 0xFF000001);
	assert_int_equal(h_get32(pkt + 44), 0);
	assert_int_equal(h_get32(pkt + 48), 3);
	assert_int_equal(h_get32(pkt + 52), 0);
	assert_memory_equal(pkt + 56, "key", 3);
	assert_int_equal(ctdb_req_call_pull(pkt, len, &out), 0);
	assert_int_equal(out.db_id, 0x11223344);
	assert_memory_equal(out.key, "key", 3);
	h_put32(pkt + 52, 1);
	assert_int_equal(ctdb_req_call_pull(pkt, len, &out), EMSGSIZE);
	talloc_free(pkt);
}

static void test_reply_call_and_error(void **state)
{
	struct ctdb_reply_call r = {
		.status = 0,
		.data = (const uint8_t *)"xy",
		.datalen = 2,
	}, out;
	struct ctdb_reply_error e;
	uint8_t *pkt = NULL;
	size_t len;

	assert_int_equal(ctdb_reply_call_push(NULL, &hdr, &r, &pkt, &len), 0);
	assert_int_equal(len, 42);
	assert_int_equal(ctdb_reply_call_pull(pkt, len, &out), 0);
	assert_int_equal(out.datalen, 2);
	/* not a REPLY_ERROR */
	assert_int_equal(ctdb_reply_error_pull(pkt, len, &e), EPROTO);

	/* A REPLY_ERROR built by hand, status @32, msglen @36, msg @40 */
	h_put32(pkt + 16, CTDB_REPLY_ERROR);
	h_put32(pkt + 32, (uint32_t)-5);
	h_put32(pkt + 36, 2);
	assert_int_equal(ctdb_reply_error_pull(pkt, len, &e), 0);
	assert_int_equal(e.status, -5);
	assert_memory_equal(e.msg, "xy", 2);
	h_put32(pkt + 36, 3);
	assert_int_equal(ctdb_reply_error_pull(pkt, len, &e), EMSGSIZE);
	assert_int_equal(ctdb_reply_call_pull(pkt, len, &out), EPROTO);
	talloc_free(pkt);
}

static void test_ltdb_header(void **state)
{
	struct ctdb_ltdb_header h = {
		.rsn = 0x0102030405060708ULL,
		.dmaster = 2,
		.reserved1 = 9,
		.flags = 0x00040000,
	}, out;
	uint8_t buf[24];

	memset(buf, 0xff, sizeof(buf));
	ctdb_ltdb_header_push(&h, buf);
	assert_true(h_get64(buf) == h.rsn);
	assert_int_equal(h_get32(buf + 8), 2);
	assert_int_equal(h_get32(buf + 12), 9);
	assert_int_equal(h_get32(buf + 16), 0x00040000);
	assert_int_equal(h_get32(buf + 20), 0);
	assert_int_equal(ctdb_ltdb_header_pull(buf, 24, &out), 0);
	assert_true(out.rsn == h.rsn);
	assert_int_equal(out.dmaster, 2);
	assert_int_equal(out.reserved1, 9);
	assert_int_equal(out.flags, 0x00040000);
	assert_int_equal(ctdb_ltdb_header_pull(buf, 23, &out), EMSGSIZE);
}

static void test_g_lock(void **state)
{
	struct ctdb_g_lock_entry e = {
		.type = CTDB_G_LOCK_WRITE,
		.pid = 4242,
		.task_id = 0x275047a7,
		.vnn = 1,
		.unique_id = (0x275047a7ULL << 32) | 4242,
	}, e2, *entries = NULL;
	struct ctdb_ltdb_header h = {
		.rsn = 5,
		.dmaster = 1,
	}, hout;
	uint8_t buf[32];
	uint8_t *rec = NULL;
	size_t reclen;
	unsigned num;
	char key[CTDB_G_LOCK_KEY_LEN];

	ctdb_g_lock_entry_push(&e, buf);
	assert_int_equal(h_get32(buf), 1);
	assert_int_equal(h_get32(buf + 4), 0);
	assert_true(h_get64(buf + 8) == 4242);
	assert_int_equal(h_get32(buf + 16), 0x275047a7);
	assert_int_equal(h_get32(buf + 20), 1);
	assert_true(h_get64(buf + 24) == e.unique_id);
	assert_int_equal(ctdb_g_lock_entry_pull(buf, 32, &e2), 0);
	assert_true(ctdb_g_lock_entry_same_owner(&e, &e2));
	e2.vnn = 2;
	assert_false(ctdb_g_lock_entry_same_owner(&e, &e2));
	assert_int_equal(ctdb_g_lock_entry_pull(buf, 31, &e2), EMSGSIZE);
	/* Any type but READ/WRITE is refused, like the CLI does */
	h_put32(buf, 7);
	assert_int_equal(ctdb_g_lock_entry_pull(buf, 32, &e2), EPROTO);

	/* Record: header + entries */
	assert_int_equal(ctdb_g_lock_record_push(NULL, &h, &e, 1, &rec,
						 &reclen), 0);
	assert_int_equal(reclen, 56);
	assert_int_equal(ctdb_g_lock_record_pull(NULL, rec, reclen, &hout,
						 &entries, &num), 0);
	assert_int_equal(num, 1);
	assert_true(hout.rsn == 5);
	assert_true(ctdb_g_lock_entry_same_owner(&entries[0], &e));
	talloc_free(entries);
	/* header only: no entries */
	assert_int_equal(ctdb_g_lock_record_pull(NULL, rec, 24, &hout,
						 &entries, &num), 0);
	assert_int_equal(num, 0);
	talloc_free(entries);
	/* not 24 + 32n: e.g. Samba's dbwrap g_lock format */
	assert_int_equal(ctdb_g_lock_record_pull(NULL, rec, 50, &hout,
						 &entries, &num), EMSGSIZE);
	assert_int_equal(ctdb_g_lock_record_pull(NULL, rec, 20, &hout,
						 &entries, &num), EMSGSIZE);
	talloc_free(rec);

	ctdb_g_lock_key(0x275047a7, key);
	assert_string_equal(key, "transaction_db_0x275047a7");
	assert_int_equal(strlen(key) + 1, 26);
}

static void test_sockaddr_nodemap(void **state)
{
	struct sockaddr_in sin = {
		.sin_family = AF_INET,
		.sin_port = htons(4379),
	};
	struct sockaddr_in6 sin6 = {
		.sin6_family = AF_INET6,
		.sin6_port = htons(4379),
	};
	struct ctdb_node nodes[2] = {};
	struct ctdb_nodemap map = {
		.num = 2,
		.nodes = nodes,
	};
	struct ctdb_nodemap *out = NULL;
	struct sockaddr_storage ss;
	uint8_t *buf = NULL;
	size_t len;
	uint8_t sa[28];

	inet_pton(AF_INET, "127.0.0.3", &sin.sin_addr);
	inet_pton(AF_INET6, "::1", &sin6.sin6_addr);
	memcpy(&nodes[0].addr, &sin, sizeof(sin));
	memcpy(&nodes[1].addr, &sin6, sizeof(sin6));
	nodes[0].pnn = 0;
	nodes[1].pnn = 1;
	nodes[1].flags = CTDB_NODE_DISCONNECTED;

	ctdb_sockaddr_push(&nodes[0].addr, sa);
	assert_int_equal(h_get16(sa), AF_INET);
	assert_int_equal(sa[2], 4379 >> 8);	/* port in network order */
	assert_int_equal(sa[4], 127);
	assert_int_equal(sa[7], 3);
	assert_int_equal(sa[27], 0);
	assert_int_equal(ctdb_sockaddr_pull(sa, 28, &ss), 0);
	assert_memory_equal(&ss, &sin, sizeof(sin));
	assert_int_equal(ctdb_sockaddr_pull(sa, 27, &ss), EMSGSIZE);
	h_put16(sa, 99);
	assert_int_equal(ctdb_sockaddr_pull(sa, 28, &ss), EPROTO);

	assert_int_equal(ctdb_nodemap_push(NULL, &map, &buf, &len), 0);
	assert_int_equal(len, 4 + 2 * 36);
	assert_int_equal(h_get32(buf + 4 + 36 + 4), CTDB_NODE_DISCONNECTED);
	assert_int_equal(ctdb_nodemap_pull(NULL, buf, len, &out), 0);
	assert_int_equal(out->num, 2);
	assert_int_equal(out->nodes[1].flags, CTDB_NODE_DISCONNECTED);
	assert_int_equal(out->nodes[1].addr.ss_family, AF_INET6);
	assert_memory_equal(&out->nodes[1].addr, &sin6, sizeof(sin6));
	talloc_free(out);
	/* a count the buffer cannot hold */
	assert_int_equal(ctdb_nodemap_pull(NULL, buf, len - 1, &out),
			 EMSGSIZE);
	h_put32(buf, 0x10000000);
	assert_int_equal(ctdb_nodemap_pull(NULL, buf, len, &out), EMSGSIZE);
	assert_int_equal(ctdb_nodemap_pull(NULL, buf, 3, &out), EMSGSIZE);
	talloc_free(buf);
}

/* Three addresses: hosted IPv4, hosted IPv6, unassigned IPv4 */
static void public_ips_fill(struct ctdb_public_ip ips[3])
{
	struct sockaddr_in sin = {
		.sin_family = AF_INET,
	};
	struct sockaddr_in6 sin6 = {
		.sin6_family = AF_INET6,
	};

	memset(ips, 0, 3 * sizeof(ips[0]));
	inet_pton(AF_INET, "127.0.107.11", &sin.sin_addr);
	memcpy(&ips[0].addr, &sin, sizeof(sin));
	ips[0].pnn = 0;
	inet_pton(AF_INET6, "fd00::6b:c", &sin6.sin6_addr);
	memcpy(&ips[1].addr, &sin6, sizeof(sin6));
	ips[1].pnn = 2;
	inet_pton(AF_INET, "127.0.107.13", &sin.sin_addr);
	memcpy(&ips[2].addr, &sin, sizeof(sin));
	ips[2].pnn = CTDB_UNKNOWN_PNN;
}

static void test_public_ips_round_trip(void **state)
{
	struct ctdb_public_ip ips[3];
	struct ctdb_public_ip_list list = {
		.num = 3,
		.ip = ips,
	};
	struct ctdb_public_ip_list *out = NULL;
	char str[CTDB_ADDR_STRLEN];
	uint8_t *buf = NULL;
	size_t len = 0;
	uint32_t i;

	public_ips_fill(ips);
	assert_int_equal(ctdb_public_ip_list_push(NULL, &list, &buf, &len), 0);
	/* u32 num, then 32-byte entries: u32 pnn, 28-byte sockaddr */
	assert_int_equal(len, 4 + 3 * 32);
	assert_int_equal(h_get32(buf), 3);
	assert_int_equal(h_get32(buf + 4), 0);
	assert_int_equal(h_get16(buf + 8), AF_INET);
	assert_int_equal(buf[12], 127);
	assert_int_equal(buf[15], 11);
	assert_int_equal(h_get32(buf + 36), 2);
	assert_int_equal(h_get16(buf + 40), AF_INET6);
	/* sin6_addr after family, port and flowinfo: bytes 48-63 */
	assert_int_equal(buf[48], 0xfd);
	assert_int_equal(buf[48 + 15], 0x0c);
	assert_int_equal(h_get32(buf + 68), 0xFFFFFFFF);
	assert_int_equal(buf[72 + 7], 13);

	assert_int_equal(ctdb_public_ip_list_pull(NULL, buf, len, &out), 0);
	assert_int_equal(out->num, 3);
	for (i = 0; i < 3; i++) {
		assert_int_equal(out->ip[i].pnn, ips[i].pnn);
		assert_memory_equal(&out->ip[i].addr, &ips[i].addr,
				    sizeof(ips[i].addr));
	}
	assert_string_equal(ctdb_sockaddr_string(&out->ip[0].addr, str),
			    "127.0.107.11");
	assert_string_equal(ctdb_sockaddr_string(&out->ip[1].addr, str),
			    "fd00::6b:c");
	assert_int_equal(out->ip[2].pnn, CTDB_UNKNOWN_PNN);
	talloc_free(out);
	talloc_free(buf);

	/* No addresses: four bytes */
	list.num = 0;
	assert_int_equal(ctdb_public_ip_list_push(NULL, &list, &buf, &len), 0);
	assert_int_equal(len, 4);
	assert_int_equal(ctdb_public_ip_list_pull(NULL, buf, len, &out), 0);
	assert_int_equal(out->num, 0);
	talloc_free(out);
	talloc_free(buf);

	/* Push refuses what pull would refuse */
	list.num = 3;
	ips[1].addr.ss_family = AF_UNSPEC;
	buf = NULL;
	assert_int_equal(ctdb_public_ip_list_push(NULL, &list, &buf, &len),
			 EINVAL);
	assert_null(buf);
}

static void test_public_ips_malformed(void **state)
{
	struct ctdb_public_ip ips[3];
	struct ctdb_public_ip_list list = {
		.num = 3,
		.ip = ips,
	};
	struct ctdb_public_ip_list *out = NULL;
	uint8_t *buf = NULL, *longer = NULL;
	size_t len = 0, n;

	public_ips_fill(ips);
	assert_int_equal(ctdb_public_ip_list_push(NULL, &list, &buf, &len), 0);

	/* Cut anywhere, including inside the count and inside an entry */
	for (n = 0; n < len; n++) {
		assert_int_equal(ctdb_public_ip_list_pull(NULL, buf, n, &out),
				 EMSGSIZE);
		assert_null(out);
	}

	/* A count the buffer cannot hold: one more, and absurdly many */
	h_put32(buf, 4);
	assert_int_equal(ctdb_public_ip_list_pull(NULL, buf, len, &out),
			 EMSGSIZE);
	h_put32(buf, 0xFFFFFFFF);
	assert_int_equal(ctdb_public_ip_list_pull(NULL, buf, len, &out),
			 EMSGSIZE);
	h_put32(buf, 0x08000000);	/* times 32 would wrap a u32 to 0 */
	assert_int_equal(ctdb_public_ip_list_pull(NULL, buf, len, &out),
			 EMSGSIZE);
	/* ... and one that leaves an entry unread */
	h_put32(buf, 2);
	assert_int_equal(ctdb_public_ip_list_pull(NULL, buf, len, &out),
			 EMSGSIZE);
	h_put32(buf, 3);

	/* Trailing bytes: one, and a whole entry the count does not cover */
	longer = talloc_zero_array(NULL, uint8_t, len + 32);
	assert_non_null(longer);
	memcpy(longer, buf, len);
	assert_int_equal(ctdb_public_ip_list_pull(NULL, longer, len + 1, &out),
			 EMSGSIZE);
	memcpy(longer + len, buf + 4, 32);
	assert_int_equal(ctdb_public_ip_list_pull(NULL, longer, len + 32,
						  &out), EMSGSIZE);
	h_put32(longer, 4);
	assert_int_equal(ctdb_public_ip_list_pull(NULL, longer, len + 32,
						  &out), 0);
	assert_int_equal(out->num, 4);
	TALLOC_FREE(out);
	talloc_free(longer);

	/* An address family that is neither IPv4 nor IPv6 */
	h_put16(buf + 4 + 32 + 4, AF_UNIX);
	assert_int_equal(ctdb_public_ip_list_pull(NULL, buf, len, &out),
			 EPROTO);
	assert_null(out);
	h_put16(buf + 4 + 32 + 4, 0);
	assert_int_equal(ctdb_public_ip_list_pull(NULL, buf, len, &out),
			 EPROTO);
	talloc_free(buf);
}

/*
 * A GET_PUBLIC_IPS reply as ctdbd on x86-64 sends it, written out by
 * hand: one address, 127.0.107.12, hosted by node 1.
 */
static void test_public_ips_wire_bytes(void **state)
{
	static const uint8_t reply[4 + 32] = {
		0x01, 0x00, 0x00, 0x00,		/* num 1 */
		0x01, 0x00, 0x00, 0x00,		/* pnn 1 */
		0x02, 0x00,			/* AF_INET, host order */
		0x00, 0x00,			/* port 0 */
		0x7f, 0x00, 0x6b, 0x0c,		/* 127.0.107.12 */
		/* sin_zero, then the rest of the 28 bytes */
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	};
	struct ctdb_public_ip_list *out = NULL;
	struct sockaddr_in sin;
	char str[CTDB_ADDR_STRLEN];

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
	/* The bytes above are in little-endian host order */
	skip();
#endif
	assert_int_equal(ctdb_public_ip_list_pull(NULL, reply, sizeof(reply),
						  &out), 0);
	assert_int_equal(out->num, 1);
	assert_int_equal(out->ip[0].pnn, 1);
	assert_int_equal(out->ip[0].addr.ss_family, AF_INET);
	memcpy(&sin, &out->ip[0].addr, sizeof(sin));
	assert_int_equal(ntohl(sin.sin_addr.s_addr), 0x7f006b0c);
	assert_int_equal(sin.sin_port, 0);
	assert_string_equal(ctdb_sockaddr_string(&out->ip[0].addr, str),
			    "127.0.107.12");
	talloc_free(out);
}

static void test_sockaddr_string(void **state)
{
	struct sockaddr_storage ss = {
		.ss_family = AF_UNIX,
	};
	char str[CTDB_ADDR_STRLEN];
	struct sockaddr_in6 sin6 = {
		.sin6_family = AF_INET6,
	};

	assert_string_equal(ctdb_sockaddr_string(&ss, str), "(family 1)");
	/* A long IPv6 text form fits */
	memset(&sin6.sin6_addr, 0xff, sizeof(sin6.sin6_addr));
	memcpy(&ss, &sin6, sizeof(sin6));
	assert_string_equal(ctdb_sockaddr_string(&ss, str),
			    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
}

struct rec_seen {
	unsigned n;
	struct ctdb_rec recs[4];
};

static int rec_cb(const struct ctdb_rec *rec, void *priv)
{
	struct rec_seen *s = priv;

	s->recs[s->n++] = *rec;
	return 0;
}

static void test_rec_buffer(void **state)
{
	struct ctdb_rec recs[2] = {
		{
			.key = (const uint8_t *)"a",
			.keylen = 1,
			.header = { .rsn = 3, .dmaster = 1 },
			.value = (const uint8_t *)"xyz",
			.valuelen = 3,
		},
		{
			.key = (const uint8_t *)"bb",
			.keylen = 2,
			.header = { .rsn = 8, .dmaster = 1 },
		},
	};
	struct rec_seen seen = {};
	uint8_t *buf = NULL;
	size_t len;
	uint32_t db_id = 0;

	assert_int_equal(ctdb_rec_buffer_push(NULL, 0xabcd, recs, 2, &buf,
					      &len), 0);
	/* 8 + (16+1+24+3) + (16+2+24) with no padding */
	assert_int_equal(len, 8 + 44 + 42);
	assert_int_equal(h_get32(buf), 0xabcd);
	assert_int_equal(h_get32(buf + 4), 2);
	assert_int_equal(h_get32(buf + 8), 44);
	assert_int_equal(h_get32(buf + 12), 0);
	assert_int_equal(h_get32(buf + 16), 1);
	assert_int_equal(h_get32(buf + 20), 27);
	assert_int_equal(buf[24], 'a');
	assert_true(h_get64(buf + 25) == 3);
	assert_memory_equal(buf + 49, "xyz", 3);
	assert_int_equal(h_get32(buf + 52), 42);

	assert_int_equal(ctdb_rec_buffer_pull(buf, len, &db_id, rec_cb,
					      &seen), 0);
	assert_int_equal(db_id, 0xabcd);
	assert_int_equal(seen.n, 2);
	assert_int_equal(seen.recs[0].valuelen, 3);
	assert_int_equal(seen.recs[1].valuelen, 0);
	assert_true(seen.recs[1].header.rsn == 8);

	/* truncated, inconsistent length, datalen below the header */
	assert_int_equal(ctdb_rec_buffer_pull(buf, len - 1, &db_id, NULL,
					      NULL), EMSGSIZE);
	h_put32(buf + 8, 45);
	assert_int_equal(ctdb_rec_buffer_pull(buf, len, &db_id, NULL, NULL),
			 EMSGSIZE);
	h_put32(buf + 8, 44);
	h_put32(buf + 20, 23);
	assert_int_equal(ctdb_rec_buffer_pull(buf, len, &db_id, NULL, NULL),
			 EMSGSIZE);
	h_put32(buf + 20, 27);
	h_put32(buf + 4, 3);
	assert_int_equal(ctdb_rec_buffer_pull(buf, len, &db_id, NULL, NULL),
			 EMSGSIZE);
	assert_int_equal(ctdb_rec_buffer_pull(buf, 7, &db_id, NULL, NULL),
			 EMSGSIZE);
	talloc_free(buf);
}

static void test_schedule_for_deletion(void **state)
{
	struct ctdb_ltdb_header h = { .rsn = 2, .dmaster = 0 };
	uint8_t *buf = NULL;
	size_t len;

	assert_int_equal(ctdb_schedule_for_deletion_push(
				 NULL, 0x99, &h, (const uint8_t *)"k12", 3,
				 &buf, &len), 0);
	/* exactly 36 + keylen */
	assert_int_equal(len, 39);
	assert_int_equal(h_get32(buf), 0x99);
	assert_int_equal(h_get32(buf + 4), 0);
	assert_true(h_get64(buf + 8) == 2);
	assert_int_equal(h_get32(buf + 32), 3);
	assert_memory_equal(buf + 36, "k12", 3);
	talloc_free(buf);
}

static void test_cltrack_msg(void **state)
{
	const uint8_t *data = NULL;
	uint8_t *buf = NULL;
	size_t len, datalen;
	uint32_t sender = 0;

	assert_int_equal(ctdb_cltrack_msg_push(NULL, 2, (const uint8_t *)"go",
					       2, &buf, &len), 0);
	assert_int_equal(len, 10);
	assert_int_equal(h_get32(buf), 2);
	assert_int_equal(ctdb_cltrack_msg_pull(buf, len, &sender, &data,
					       &datalen), 0);
	assert_int_equal(sender, 2);
	assert_int_equal(datalen, 2);
	assert_memory_equal(data, "go", 2);
	assert_int_equal(ctdb_cltrack_msg_pull(buf, 7, &sender, &data,
					       &datalen), EMSGSIZE);
	talloc_free(buf);
}

static void test_db_id(void **state)
{
	/* Measured on ctdbd 4.17 (spec §6) */
	assert_int_equal(ctdb_db_id("helper_state.tdb"), 0x275047a7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hdr),
		cmocka_unit_test(test_req_control),
		cmocka_unit_test(test_reply_control),
		cmocka_unit_test(test_req_message),
		cmocka_unit_test(test_req_call),
		cmocka_unit_test(test_reply_call_and_error),
		cmocka_unit_test(test_ltdb_header),
		cmocka_unit_test(test_g_lock),
		cmocka_unit_test(test_sockaddr_nodemap),
		cmocka_unit_test(test_public_ips_round_trip),
		cmocka_unit_test(test_public_ips_malformed),
		cmocka_unit_test(test_public_ips_wire_bytes),
		cmocka_unit_test(test_sockaddr_string),
		cmocka_unit_test(test_rec_buffer),
		cmocka_unit_test(test_schedule_for_deletion),
		cmocka_unit_test(test_cltrack_msg),
		cmocka_unit_test(test_db_id),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
