/*
 * The control protocol codec (include/cltrack/proto.h): round trips and
 * refusal of oversized, truncated and malformed packets.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <talloc.h>

#include "cltrack/proto.h"

static void test_header(void **state)
{
	struct cltrack_hdr h = {
		.length = 100,
		.opcode = CLTRACK_OP_LIST,
		.reqid = 77,
		.status = -121,
		.flags = CLTRACK_PROTO_F_MORE,
	};
	struct cltrack_hdr out;
	uint8_t buf[CLTRACK_PROTO_HDR_SIZE];

	cltrack_hdr_push(&h, buf);
	assert_int_equal(buf[0], 100);
	assert_memory_equal(buf + 4, "CLTK", 4);
	assert_int_equal(cltrack_hdr_pull(buf, sizeof(buf), &out), 0);
	assert_int_equal(out.length, 100);
	assert_int_equal(out.opcode, CLTRACK_OP_LIST);
	assert_int_equal(out.reqid, 77);
	assert_int_equal(out.status, -121);
	assert_int_equal(out.flags, CLTRACK_PROTO_F_MORE);

	assert_int_equal(cltrack_hdr_pull(buf, 23, &out), EMSGSIZE);
	buf[4] = 'X';
	assert_int_equal(cltrack_hdr_pull(buf, sizeof(buf), &out), EPROTO);
	buf[4] = 'C';
	buf[8] = 2;		/* version */
	assert_int_equal(cltrack_hdr_pull(buf, sizeof(buf), &out), EPROTO);
	buf[8] = 1;
	h.length = CLTRACK_PROTO_MAX_PACKET + 1;
	cltrack_hdr_push(&h, buf);
	assert_int_equal(cltrack_hdr_pull(buf, sizeof(buf), &out), EMSGSIZE);
	h.length = 3;
	cltrack_hdr_push(&h, buf);
	assert_int_equal(cltrack_hdr_pull(buf, sizeof(buf), &out), EMSGSIZE);
}

static void test_kv(void **state)
{
	struct cltrack_kv in[] = {
		{ .name = "records", .type = CLTRACK_KV_U64, .u64 = 42 },
		{ .name = "backend", .type = CLTRACK_KV_STR, .str = "tdb" },
	};
	struct cltrack_kv *out = NULL;
	uint8_t buf[128];
	size_t used = 0;
	uint32_t n = 0;
	size_t i;

	assert_int_equal(cltrack_kv_push(in, 2, buf, sizeof(buf), &used), 0);
	assert_int_equal(cltrack_kv_pull(NULL, buf, used, &out, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(out[0].name, "records");
	assert_int_equal(out[0].u64, 42);
	assert_string_equal(out[1].str, "tdb");
	talloc_free(out);

	/* every truncation and a trailing byte are refused */
	for (i = 0; i < used; i++) {
		assert_int_not_equal(cltrack_kv_pull(NULL, buf, i, &out, &n),
				     0);
	}
	assert_int_equal(cltrack_kv_pull(NULL, buf, used + 1, &out, &n),
			 EPROTO);
	/* a count that cannot fit is refused before allocating */
	buf[0] = buf[1] = buf[2] = buf[3] = 0xff;
	assert_int_equal(cltrack_kv_pull(NULL, buf, used, &out, &n), EMSGSIZE);
	/* no room */
	assert_int_equal(cltrack_kv_push(in, 2, buf, 10, &used), EMSGSIZE);
}

static void test_entries(void **state)
{
	struct cltrack_entry e = {
		.idlen = 4,
		.id = "abcd",
		.epoch = 3,
		.prev_epoch = 2,
		.created = 99,
		.pnn = 1,
		.princhash_len = 32,
	};
	struct cltrack_entry *out = NULL;
	uint8_t buf[256];
	size_t len;
	size_t n = 0;

	buf[0] = 2;
	buf[1] = buf[2] = buf[3] = 0;
	len = cltrack_entry_push(&e, buf + 4, sizeof(buf) - 4);
	assert_int_equal(len, cltrack_entry_size(&e));
	memcpy(buf + 4 + len, buf + 4, len);
	assert_int_equal(cltrack_entries_pull(NULL, buf, 4 + 2 * len, &out,
					      &n), 0);
	assert_int_equal(n, 2);
	assert_memory_equal(out[1].id, "abcd", 4);
	assert_int_equal(out[1].epoch, 3);
	assert_int_equal(out[1].princhash_len, 32);
	TALLOC_FREE(out);
	n = 0;
	assert_int_equal(cltrack_entries_pull(NULL, buf, 4 + 2 * len - 1,
					      &out, &n), EPROTO);
	TALLOC_FREE(out);

	e.idlen = 0;
	assert_int_equal(cltrack_entry_push(&e, buf, sizeof(buf)), 0);
	e.idlen = CLTRACK_ID_MAX + 1;
	assert_int_equal(cltrack_entry_push(&e, buf, sizeof(buf)), 0);
}

static void test_client_op(void **state)
{
	struct cltrack_client_op op = {
		.idlen = 3,
		.id = "xyz",
		.princhash_len = 32,
		.flags = 1,
	};
	struct cltrack_client_op out;
	uint8_t buf[2 + CLTRACK_ID_MAX + 1 + 32 + 4];
	size_t used = 0;

	assert_int_equal(cltrack_client_op_push(&op, buf, sizeof(buf), &used),
			 0);
	assert_int_equal(used, 2 + 3 + 1 + 32 + 4);
	assert_int_equal(cltrack_client_op_pull(buf, used, &out), 0);
	assert_memory_equal(out.id, "xyz", 3);
	assert_int_equal(out.flags, 1);
	/* zero-length ids are refused (CVE-2024-47692) */
	buf[0] = 0;
	buf[1] = 0;
	assert_int_equal(cltrack_client_op_pull(buf, used, &out), EINVAL);
	op.princhash_len = 5;
	assert_int_equal(cltrack_client_op_push(&op, buf, sizeof(buf), &used),
			 EINVAL);
}

static void test_filter(void **state)
{
	struct cltrack_list_filter f = {
		.flags = CLTRACK_LIST_RECLAIMABLE,
		.epoch = 9,
		.pnn = CLTRACK_PNN_ANY,
	};
	struct cltrack_list_filter out;
	uint8_t buf[16];
	size_t used = 0;

	assert_int_equal(cltrack_filter_push(&f, buf, sizeof(buf), &used), 0);
	assert_int_equal(used, 16);
	assert_int_equal(cltrack_filter_pull(buf, used, &out), 0);
	assert_int_equal(out.epoch, 9);
	assert_int_equal(out.pnn, CLTRACK_PNN_ANY);
	assert_int_equal(cltrack_filter_pull(buf, 15, &out), EPROTO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header),
		cmocka_unit_test(test_kv),
		cmocka_unit_test(test_entries),
		cmocka_unit_test(test_client_op),
		cmocka_unit_test(test_filter),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
