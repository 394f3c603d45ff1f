/*
 * Record encoding (record.h): round trips, and refusal of every
 * malformed value rather than a misread.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "record.h"

static void test_client_roundtrip(void **state)
{
	struct client_record r = {
		.epoch = 7,
		.prev_epoch = 6,
		.created = 1700000000,
		.pnn = 2,
		.flags = RECORD_F_SESSION,
		.princhash_len = 32,
		.addr_len = 14,
		.addr = "127.0.100.11:0",
	};
	struct client_record out;
	uint8_t buf[256];
	size_t len;

	memset(r.princhash, 0x5a, 32);
	len = client_record_push(&r, buf, sizeof(buf));
	assert_int_equal(len, 40 + 32 + 14);
	assert_int_equal(len, client_record_size(&r));
	assert_int_equal(buf[0], RECORD_VERSION);
	assert_int_equal(buf[16], 7);	/* little-endian epoch */
	assert_int_equal(client_record_pull(buf, len, &out), 0);
	assert_int_equal(out.epoch, 7);
	assert_int_equal(out.prev_epoch, 6);
	assert_int_equal(out.created, 1700000000);
	assert_int_equal(out.pnn, 2);
	assert_int_equal(out.flags, RECORD_F_SESSION);
	assert_memory_equal(out.princhash, r.princhash, 32);
	assert_memory_equal(out.addr, r.addr, 14);
}

static void test_client_rejects_malformed(void **state)
{
	struct client_record r = {
		.epoch = 1,
	};
	struct client_record out;
	uint8_t buf[256];
	size_t len;
	size_t i;

	len = client_record_push(&r, buf, sizeof(buf));
	assert_int_equal(len, 40);

	/* every truncation is refused */
	for (i = 0; i < len; i++) {
		assert_int_not_equal(client_record_pull(buf, i, &out), 0);
	}
	/* trailing bytes are refused */
	assert_int_equal(client_record_pull(buf, len + 1, &out), EINVAL);
	/* unknown version */
	buf[0] = 9;
	assert_int_equal(client_record_pull(buf, len, &out), EPROTO);
	buf[0] = RECORD_VERSION;
	/* princhash length other than 0 or 32 */
	buf[1] = 5;
	assert_int_equal(client_record_pull(buf, len, &out), EINVAL);
	buf[1] = 0;
	/* epoch 0 never exists */
	buf[16] = 0;
	assert_int_equal(client_record_pull(buf, len, &out), EINVAL);

	r.princhash_len = 7;
	assert_int_equal(client_record_push(&r, buf, sizeof(buf)), 0);
	r.princhash_len = 0;
	assert_int_equal(client_record_push(&r, buf, 39), 0);
}

static void test_grace_roundtrip(void **state)
{
	struct grace_record g = {
		.current = 5,
		.recovery = 4,
		.start_time = 100,
		.deadline = 190,
		.nmembers = 2,
		.members = {
			{ .pnn = 0, .flags = GRACE_MEMBER_ENFORCING,
			  .enforcing_time = 101 },
			{ .pnn = 2, .flags = GRACE_MEMBER_NEED,
			  .need_time = 99 },
		},
	};
	struct grace_record out;
	uint8_t buf[RECORD_GRACE_FIXED + 2 * RECORD_MEMBER_SIZE];
	size_t len;

	len = grace_record_push(&g, buf, sizeof(buf));
	assert_int_equal(len, sizeof(buf));
	assert_int_equal(grace_record_pull(buf, len, &out), 0);
	assert_int_equal(out.current, 5);
	assert_int_equal(out.recovery, 4);
	assert_int_equal(out.deadline, 190);
	assert_int_equal(out.nmembers, 2);
	assert_int_equal(out.members[1].pnn, 2);
	assert_int_equal(out.members[1].need_time, 99);
	assert_int_equal(out.members[0].flags, GRACE_MEMBER_ENFORCING);
	assert_int_equal(grace_record_pull(buf, len - 1, &out), EINVAL);
}

static void test_grace_rejects_impossible_epochs(void **state)
{
	struct grace_record g;
	struct grace_record out;
	uint8_t buf[RECORD_GRACE_FIXED];

	grace_record_init(&g);
	assert_int_equal(g.current, 1);
	assert_int_equal(g.recovery, 0);
	g.recovery = 1;		/* R must be older than C */
	assert_int_equal(grace_record_push(&g, buf, sizeof(buf)), sizeof(buf));
	assert_int_equal(grace_record_pull(buf, sizeof(buf), &out), EINVAL);
	g.recovery = 0;
	g.nmembers = RECORD_MAX_MEMBERS + 1;
	assert_int_equal(grace_record_push(&g, buf, sizeof(buf)), 0);
}

static void test_client_keys(void **state)
{
	uint8_t *key = NULL;
	const uint8_t *id = NULL;
	size_t idlen = 0;
	size_t keylen;
	uint8_t big[RECORD_ID_MAX + 1] = { 0 };

	keylen = client_key_make(NULL, (const uint8_t *)"\0x\1", 3, &key);
	assert_int_equal(keylen, 10);
	assert_memory_equal(key, "client/\0x\1", 10);
	assert_true(client_key_parse(key, keylen, &id, &idlen));
	assert_int_equal(idlen, 3);
	assert_memory_equal(id, "\0x\1", 3);
	talloc_free(key);

	assert_int_equal(client_key_make(NULL, big, 0, &key), 0);
	assert_int_equal(client_key_make(NULL, big, sizeof(big), &key), 0);
	assert_false(client_key_parse((const uint8_t *)"grace", 5, &id,
				      &idlen));
	assert_false(client_key_parse((const uint8_t *)"client/", 7, &id,
				      &idlen));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_client_roundtrip),
		cmocka_unit_test(test_client_rejects_malformed),
		cmocka_unit_test(test_grace_roundtrip),
		cmocka_unit_test(test_grace_rejects_impossible_epochs),
		cmocka_unit_test(test_client_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
