/*
 * Settings: defaults, ini file, command line, and clear refusal of bad
 * values (no half-configured daemon).
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
#include "logging.h"

static char conf_path[64];

static int setup(void **state)
{
	int fd;

	snprintf(conf_path, sizeof(conf_path), "/tmp/cltrack-conf-XXXXXX");
	fd = mkstemp(conf_path);
	assert_true(fd >= 0);
	close(fd);
	return 0;
}

static int teardown(void **state)
{
	unlink(conf_path);
	return 0;
}

static void write_conf(const char *text)
{
	FILE *f = fopen(conf_path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int load(const char **argv, int argc, struct cltrack_config **cfg)
{
	return config_load(NULL, argc, argv, cfg);
}

static void test_defaults(void **state)
{
	struct cltrack_config *cfg = NULL;
	const char *argv[] = { "cltrackd", "-c", "/dev/null" };

	assert_int_equal(load(argv, 3, &cfg), 0);
	assert_string_equal(cfg->pipefs_dir, "/var/lib/nfs/rpc_pipefs");
	assert_string_equal(cfg->storage_dir, "/var/lib/cltrack");
	assert_string_equal(cfg->control_socket, "/run/cltrack/cltrackd.sock");
	assert_string_equal(cfg->backend, "tdb");
	assert_false(cfg->foreground);
	talloc_free(cfg);
}

static void test_file_then_command_line(void **state)
{
	struct cltrack_config *cfg = NULL;
	const char *argv[] = { "cltrackd", "-F", "-c", conf_path,
			       "--storage-dir", "/srv/st", "-d", "DEBUG" };

	write_conf("[cltrackd]\n"
		   "  pipefs dir = /run/pipefs\n"
		   "  storage dir = /var/lib/x\n"
		   "  debug level = ERR\n"
		   "[nfsd]\n"
		   "  restart command = systemctl restart nfs-server\n"
		   "  restart timeout = 20\n");
	assert_int_equal(load(argv, 8, &cfg), 0);
	assert_true(cfg->foreground);
	assert_string_equal(cfg->pipefs_dir, "/run/pipefs");
	assert_string_equal(cfg->storage_dir, "/srv/st");	/* argv wins */
	assert_int_equal(cfg->debuglevel, LOG_LEVEL_DEBUG);
	assert_string_equal(cfg->restart_command,
			    "systemctl restart nfs-server");
	assert_int_equal(cfg->restart_timeout, 20);
	talloc_free(cfg);
}

static void expect_refused(const char *text)
{
	struct cltrack_config *cfg = NULL;
	const char *argv[] = { "cltrackd", "-c", conf_path };

	write_conf(text);
	assert_int_equal(load(argv, 3, &cfg), EINVAL);
}

static void test_bad_values_refused(void **state)
{
	expect_refused("[cltrackd]\nstorage dir = relative/path\n");
	expect_refused("[cltrackd]\ndebug level = LOUD\n");
	expect_refused("[cltrackd]\nstorrage dir = /typo\n");
	expect_refused("[nosuchsection]\nkey = 1\n");
	expect_refused("[store]\nbackend = sqlite\n");
	expect_refused("[nfsd]\nrestart timeout = 0\n");
	expect_refused("[nfsd]\nrestart timeout = 10s\n");
	expect_refused("[grace]\ntime = 5\n");
}

static void test_missing_files(void **state)
{
	struct cltrack_config *cfg = NULL;
	const char *argv[] = { "cltrackd", "-c", "/nonexistent/cltrack.conf" };
	struct cltrack_config *d = config_defaults(NULL);

	/* an explicit file must exist */
	assert_int_equal(load(argv, 3, &cfg), ENOENT);
	/* the default file may be missing */
	assert_int_equal(config_read_file(d, "/nonexistent/cltrack.conf",
					  false), 0);
	talloc_free(d);
}

static void test_bad_options(void **state)
{
	struct cltrack_config *cfg = NULL;
	const char *argv1[] = { "cltrackd", "-c", "/dev/null", "--bogus" };
	const char *argv2[] = { "cltrackd", "-c", "/dev/null", "extra" };
	const char *argv3[] = { "cltrackd", "-c", "/dev/null",
				"--pipefs-dir", "rel" };

	assert_int_equal(load(argv1, 4, &cfg), EINVAL);
	assert_int_equal(load(argv2, 4, &cfg), EINVAL);
	assert_int_equal(load(argv3, 5, &cfg), EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test_setup_teardown(test_file_then_command_line,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_values_refused, setup,
						teardown),
		cmocka_unit_test(test_missing_files),
		cmocka_unit_test(test_bad_options),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
