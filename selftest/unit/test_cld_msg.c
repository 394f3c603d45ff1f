/*
 * The cld wire format: sizes, offsets and bounds from
 * spec/knfsd-upcalls.md §3.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "cld_msg.h"

static void test_sizes(void **state)
{
	assert_int_equal(cld_msg_size(1), 1034);
	assert_int_equal(cld_msg_size(2), 1067);
	assert_int_equal(cld_msg_size(0), 0);
	assert_int_equal(cld_msg_size(3), 0);
}

static void test_v2_create_layout(void **state)
{
	struct cld_msg m = {
		.vers = 2,
		.cmd = CLD_CREATE,
		.status = -115,
		.xid = 0x01020304,
		.name_len = 3,
		.name = "abc",
		.princhash_len = 32,
	};
	uint8_t buf[CLD_MSG_MAX_SIZE];
	struct cld_msg out;
	size_t len;

	memset(m.princhash, 0xab, 32);
	len = cld_msg_push(&m, buf, sizeof(buf));
	assert_int_equal(len, 1067);
	assert_int_equal(buf[0], 2);
	assert_int_equal(buf[1], CLD_CREATE);
	/* host order s16 status and u32 xid */
	assert_int_equal(*(int16_t *)(void *)(buf + 2), -115);
	assert_memory_equal(buf + 4, &m.xid, 4);
	assert_int_equal(buf[8] | (buf[9] << 8), 3);
	assert_memory_equal(buf + 10, "abc", 3);
	assert_int_equal(buf[13], 0);	/* unused bytes are zero */
	assert_int_equal(buf[1034], 32);
	assert_int_equal(buf[1035], 0xab);
	assert_int_equal(buf[1066], 0xab);

	assert_int_equal(cld_msg_pull(buf, len, &out), 0);
	assert_int_equal(out.vers, 2);
	assert_int_equal(out.status, -115);
	assert_int_equal(out.xid, 0x01020304);
	assert_int_equal(out.name_len, 3);
	assert_memory_equal(out.name, "abc", 3);
	assert_int_equal(out.princhash_len, 32);
	assert_memory_equal(out.princhash, m.princhash, 32);
}

static void test_v1_getversion_and_gracedone(void **state)
{
	struct cld_msg m = {
		.vers = 1,
		.cmd = CLD_GET_VERSION,
		.xid = 0,
		.version = 2,
	};
	uint8_t buf[CLD_MSG_MAX_SIZE];
	struct cld_msg out;

	assert_int_equal(cld_msg_push(&m, buf, sizeof(buf)), 1034);
	assert_int_equal(buf[8], 2);
	assert_int_equal(buf[9], 0);

	m = (struct cld_msg) {
		.vers = 1,
		.cmd = CLD_GRACE_DONE,
		.gracetime = 1700000000,
	};
	assert_int_equal(cld_msg_push(&m, buf, sizeof(buf)), 1034);
	assert_int_equal(cld_msg_pull(buf, 1034, &out), 0);
	assert_int_equal(out.gracetime, 1700000000);
}

static void test_pull_rejects_bad_sizes(void **state)
{
	uint8_t buf[CLD_MSG_MAX_SIZE + 1] = { 2, CLD_CREATE };
	struct cld_msg out;

	/* the length must agree with cm_vers (regression, §12 item 7) */
	assert_int_equal(cld_msg_pull(buf, 1034, &out), EMSGSIZE);
	assert_int_equal(cld_msg_pull(buf, 1068, &out), EMSGSIZE);
	buf[0] = 1;
	assert_int_equal(cld_msg_pull(buf, 1067, &out), EMSGSIZE);
	assert_int_equal(cld_msg_pull(buf, 7, &out), EMSGSIZE);
	buf[0] = 7;
	assert_int_equal(cld_msg_pull(buf, 1034, &out), EPROTO);
	buf[0] = 0;
	assert_int_equal(cld_msg_pull(buf, 1034, &out), EPROTO);
}

static void test_pull_clamps_oversized_lengths(void **state)
{
	uint8_t buf[CLD_MSG_MAX_SIZE] = { 2, CLD_CREATE };
	struct cld_msg out;

	buf[8] = 0xff;
	buf[9] = 0xff;		/* cn_len 65535 */
	buf[1034] = 200;	/* cp_len 200 */
	assert_int_equal(cld_msg_pull(buf, 1067, &out), 0);
	assert_int_equal(out.name_len, 65535);
	assert_false(cld_msg_name_valid(&out));
}

static void test_name_validation(void **state)
{
	struct cld_msg m = {
		.vers = 2,
	};

	m.name_len = 0;
	assert_false(cld_msg_name_valid(&m));	/* CVE-2024-47692 */
	m.name_len = 1;
	assert_true(cld_msg_name_valid(&m));
	m.name_len = 1024;
	assert_true(cld_msg_name_valid(&m));
	m.name_len = 1025;
	assert_false(cld_msg_name_valid(&m));
	m.name_len = 5;
	m.princhash_len = 32;
	assert_true(cld_msg_name_valid(&m));
	m.princhash_len = 33;
	assert_false(cld_msg_name_valid(&m));
}

static void test_push_refuses_out_of_range(void **state)
{
	struct cld_msg m = {
		.vers = 2,
		.cmd = CLD_CREATE,
		.name_len = 1025,
	};
	uint8_t buf[CLD_MSG_MAX_SIZE];

	assert_int_equal(cld_msg_push(&m, buf, sizeof(buf)), 0);
	m.name_len = 1;
	assert_int_equal(cld_msg_push(&m, buf, 1066), 0);
	m.vers = 3;
	assert_int_equal(cld_msg_push(&m, buf, sizeof(buf)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_v2_create_layout),
		cmocka_unit_test(test_v1_getversion_and_gracedone),
		cmocka_unit_test(test_pull_rejects_bad_sizes),
		cmocka_unit_test(test_pull_clamps_oversized_lengths),
		cmocka_unit_test(test_name_validation),
		cmocka_unit_test(test_push_refuses_out_of_range),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
