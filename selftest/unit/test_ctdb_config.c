/*
 * The CTDB keys of cltrack.conf: [store] backend = ctdb, [ctdb] socket,
 * [ctdb] database.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"

static int read_ini(const char *text, struct cltrack_config **cfg)
{
	char path[] = "/tmp/test_ctdb_config.XXXXXX";
	int fd = mkstemp(path);
	int ret;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	*cfg = config_defaults(NULL);
	ret = config_read_file(*cfg, path, true);
	unlink(path);
	return ret;
}

static void test_defaults(void **state)
{
	struct cltrack_config *cfg = config_defaults(NULL);

	assert_string_equal(cfg->backend, "tdb");
	assert_null(cfg->ctdb_socket);
	assert_string_equal(cfg->ctdb_database, "cltrack.tdb");
	talloc_free(cfg);
}

static void test_ctdb_keys(void **state)
{
	struct cltrack_config *cfg = NULL;

	assert_int_equal(read_ini("[store]\nbackend = ctdb\n[ctdb]\n"
				  "socket = /run/ctdb/ctdbd.socket\n"
				  "database = other.tdb\n", &cfg), 0);
	assert_string_equal(cfg->backend, "ctdb");
	assert_string_equal(cfg->ctdb_socket, "/run/ctdb/ctdbd.socket");
	assert_string_equal(cfg->ctdb_database, "other.tdb");
	talloc_free(cfg);
}

static void test_bad_values(void **state)
{
	struct cltrack_config *cfg = NULL;

	assert_int_equal(read_ini("[store]\nbackend = sqlite\n", &cfg),
			 EINVAL);
	talloc_free(cfg);
	assert_int_equal(read_ini("[ctdb]\nsocket = relative.sock\n", &cfg),
			 EINVAL);
	talloc_free(cfg);
	assert_int_equal(read_ini("[ctdb]\ndatabase = /abs/x.tdb\n", &cfg),
			 EINVAL);
	talloc_free(cfg);
	assert_int_equal(read_ini("[ctdb]\nsockt = /x\n", &cfg), EINVAL);
	talloc_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_ctdb_keys),
		cmocka_unit_test(test_bad_values),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
