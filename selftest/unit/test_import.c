/*
 * import.c on databases built here with the SQLite API, and the
 * import chunk wire format: what a migrating admin would notice.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "import.h"

struct test_ctx {
	TALLOC_CTX *mem_ctx;
	char dir[64];
};

static int setup(void **state)
{
	struct test_ctx *t = talloc_zero(NULL, struct test_ctx);

	assert_non_null(t);
	t->mem_ctx = t;
	snprintf(t->dir, sizeof(t->dir), "/tmp/cltrack-import-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct test_ctx *t = *state;
	pid_t pid = fork();

	if (pid == 0) {
		execl("/bin/rm", "rm", "-rf", t->dir, (char *)NULL);
		_exit(127);
	}
	waitpid(pid, NULL, 0);
	talloc_free(t);
	return 0;
}

static char *make_db(struct test_ctx *t, const char *name, const char *sql)
{
	char *path = talloc_asprintf(t, "%s/%s", t->dir, name);
	sqlite3 *db = NULL;
	char *err = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
		fail_msg("%s", err);
	}
	sqlite3_close(db);
	return path;
}

static void test_nfsdcltrack_session_flags(void **state)
{
	struct test_ctx *t = *state;
	struct import_result *res = NULL;
	char *err = NULL;
	char *path = make_db(t, "tr.sqlite",
		"CREATE TABLE parameters (key TEXT PRIMARY KEY, value TEXT);"
		"INSERT INTO parameters VALUES ('version', '2');"
		"CREATE TABLE clients (id BLOB PRIMARY KEY, time INTEGER, "
		"has_session INTEGER);"
		"INSERT INTO clients VALUES (x'01', 5, 1), (x'02', 0, 0),"
		"(x'03', 7, NULL);");

	assert_int_equal(import_read(t, IMPORT_NFSDCLTRACK, path, &res, &err),
			 0);
	assert_int_equal(res->n, 3);
	assert_string_equal(res->format, "nfsdcltrack schema 2");
	assert_int_equal(res->ops[0].id[0], 1);
	assert_int_equal(res->ops[0].flags, CLTRACK_F_SESSION);
	assert_int_equal(res->ops[1].flags, 0);
	assert_int_equal(res->ops[2].flags, 0);
}

static void test_nfsdcld_v2_by_tables(void **state)
{
	struct test_ctx *t = *state;
	struct import_result *res = NULL;
	char *err = NULL;
	/* The 2019 "version 2": told apart by its tables */
	char *path = make_db(t, "v2.sqlite",
		"CREATE TABLE parameters (key TEXT PRIMARY KEY, value TEXT);"
		"INSERT INTO parameters VALUES ('version', '2');"
		"CREATE TABLE clients (id BLOB PRIMARY KEY, time INTEGER);"
		"INSERT INTO clients VALUES (x'aa', 1);");

	assert_int_equal(import_read(t, IMPORT_NFSDCLD, path, &res, &err), 0);
	assert_int_equal(res->n, 1);
	assert_int_equal(res->ops[0].id[0], 0xaa);
}

static void test_truncated_db_refused(void **state)
{
	struct test_ctx *t = *state;
	struct import_result *res = NULL;
	char *err = NULL;
	char *path = make_db(t, "trunc.sqlite",
		"CREATE TABLE parameters (key TEXT PRIMARY KEY, value TEXT);"
		"INSERT INTO parameters VALUES ('version', '1');"
		"CREATE TABLE clients (id BLOB PRIMARY KEY, time INTEGER);"
		"INSERT INTO clients VALUES (randomblob(900), 1),"
		"(randomblob(900), 2), (randomblob(900), 3),"
		"(randomblob(900), 4), (randomblob(900), 5);");

	assert_int_equal(truncate(path, 1500), 0);
	assert_int_equal(import_read(t, IMPORT_NFSDCLD, path, &res, &err),
			 EPROTO);
	assert_non_null(err);
	assert_null(res);
}

static void test_empty_file_refused(void **state)
{
	struct test_ctx *t = *state;
	struct import_result *res = NULL;
	char *err = NULL;
	char *path = talloc_asprintf(t, "%s/empty.sqlite", t->dir);
	int fd = open(path, O_CREAT | O_WRONLY, 0600);

	assert_true(fd >= 0);
	close(fd);
	/* An empty file is an empty database: no parameters table */
	assert_int_equal(import_read(t, IMPORT_NFSDCLTRACK, path, &res, &err),
			 EPROTO);
	assert_non_null(strstr(err, "not an nfsdcltrack database"));
}

static void test_v4recovery_names(void **state)
{
	struct test_ctx *t = *state;
	struct import_result *res = NULL;
	char *err = NULL;
	char *dir = talloc_asprintf(t, "%s/v4", t->dir);
	const char *good = "0123456789abcdef0123456789abcdef";
	char *p = NULL;

	assert_int_equal(mkdir(dir, 0700), 0);
	p = talloc_asprintf(t, "%s/%s", dir, good);
	assert_int_equal(mkdir(p, 0700), 0);
	/* 31 and 33 digits, a non-hex digit: not kernel names */
	assert_int_equal(mkdir(talloc_asprintf(t, "%s/%.31s", dir, good),
			       0700), 0);
	assert_int_equal(mkdir(talloc_asprintf(t, "%s/%s0", dir, good),
			       0700), 0);
	assert_int_equal(mkdir(talloc_asprintf(t, "%s/g%.31s", dir, good),
			       0700), 0);

	assert_int_equal(import_read(t, IMPORT_V4RECOVERY, dir, &res, &err),
			 0);
	assert_int_equal(res->n, 1);
	assert_int_equal(res->skipped_entries, 3);
	assert_int_equal(res->ops[0].idlen, 38);
	assert_memory_equal(res->ops[0].id, "hash:", 5);
	assert_memory_equal(res->ops[0].id + 5, good, 32);
	assert_int_equal(res->ops[0].id[37], 0);
	assert_int_equal(res->ops[0].flags, CLTRACK_F_LEGACY);
}

static int count_cb(const struct cltrack_client_op *op, void *private_data)
{
	size_t *n = private_data;

	*n += 1;
	return 0;
}

static void test_import_chunk_bounds(void **state)
{
	struct cltrack_client_op ops[2] = {
		{ .idlen = 1, .id = { 'a' } },
		{ .idlen = 2, .id = { 'b', 'c' }, .flags = CLTRACK_F_LEGACY },
	};
	uint8_t buf[256];
	size_t used = 0;
	size_t n = 0;
	size_t cut;

	assert_int_equal(cltrack_import_chunk_push(ops, 2, buf, sizeof(buf),
						   &used), 0);
	assert_int_equal(cltrack_import_chunk_pull(buf, used, count_cb, &n),
			 0);
	assert_int_equal(n, 2);
	/* Every truncation is refused, never read past */
	for (cut = 0; cut < used; cut++) {
		n = 0;
		assert_int_not_equal(cltrack_import_chunk_pull(buf, cut,
							       count_cb, &n),
				     0);
	}
	/* A count of zero or above the limit is refused */
	memset(buf, 0, 4);
	assert_int_equal(cltrack_import_chunk_pull(buf, used, count_cb, &n),
			 EPROTO);
	assert_int_equal(cltrack_import_chunk_push(ops, 0, buf, sizeof(buf),
						   &used), EINVAL);
	/* An invalid op cannot be encoded */
	ops[0].idlen = 0;
	assert_int_equal(cltrack_import_chunk_push(ops, 2, buf, sizeof(buf),
						   &used), EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_nfsdcltrack_session_flags,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_nfsdcld_v2_by_tables,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_db_refused,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_file_refused,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_v4recovery_names, setup,
						teardown),
		cmocka_unit_test(test_import_chunk_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
