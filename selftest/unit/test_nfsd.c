/*
 * nfsd controls: v4_end_grace and the restart command runner (exit
 * status, failure, timeout that kills the whole process group).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "nfsd.h"

struct test_ctx {
	struct tevent_context *ev;
	char dir[64];
};

static int setup(void **state)
{
	struct test_ctx *t = talloc_zero(NULL, struct test_ctx);

	t->ev = tevent_context_init(t);
	snprintf(t->dir, sizeof(t->dir), "/tmp/cltrack-nfsd-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct test_ctx *t = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", t->dir);
	talloc_free(t);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_end_grace(void **state)
{
	struct test_ctx *t = *state;
	char path[128];
	char buf[8] = "";
	bool in_grace = false;
	FILE *f = NULL;

	/* no nfsd: a clear error, not a crash */
	assert_int_equal(nfsd_end_grace(t->dir), ENOENT);

	snprintf(path, sizeof(path), "%s/v4_end_grace", t->dir);
	f = fopen(path, "w");
	fputs("N\n", f);
	fclose(f);
	assert_int_equal(nfsd_in_grace(t->dir, &in_grace), 0);
	assert_true(in_grace);

	assert_int_equal(nfsd_end_grace(t->dir), 0);
	f = fopen(path, "r");
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	assert_int_equal(buf[0], 'Y');
	assert_int_equal(nfsd_in_grace(t->dir, &in_grace), 0);
	assert_false(in_grace);
}

static int run(struct test_ctx *t, const char *cmd, int timeout, int *status)
{
	struct tevent_req *req = nfsd_restart_send(t, t->ev, cmd, timeout);
	int ret;

	assert_non_null(req);
	assert_true(tevent_req_poll(req, t->ev));
	ret = nfsd_restart_recv(req, status);
	talloc_free(req);
	return ret;
}

static void test_restart_status(void **state)
{
	struct test_ctx *t = *state;
	char cmd[256];
	char path[128];
	int status = -1;

	snprintf(path, sizeof(path), "%s/restarted", t->dir);
	snprintf(cmd, sizeof(cmd), "echo hello; touch %s", path);
	assert_int_equal(run(t, cmd, 5, &status), 0);
	assert_int_equal(status, 0);
	assert_int_equal(access(path, F_OK), 0);

	assert_int_equal(run(t, "exit 3", 5, &status), 0);
	assert_int_equal(status, 3);
	assert_int_equal(run(t, "", 5, &status), ENOENT);
}

static bool process_dead(int pid)
{
	char path[64];
	char buf[256];
	char *p = NULL;
	FILE *f = NULL;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (f == NULL) {
		return true;
	}
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	if (p == NULL) {
		return true;
	}
	p = strrchr(buf, ')');
	return p != NULL && p[1] == ' ' && p[2] == 'Z';
}

static void test_restart_timeout_kills_group(void **state)
{
	struct test_ctx *t = *state;
	char cmd[256];
	char pidfile[128];
	FILE *f = NULL;
	int status = -1;
	int pid = 0;
	time_t start = time(NULL);

	/* a hung command and its own child are both killed */
	snprintf(pidfile, sizeof(pidfile), "%s/child.pid", t->dir);
	snprintf(cmd, sizeof(cmd), "sleep 60 & echo $! > %s; wait", pidfile);
	assert_int_equal(run(t, cmd, 1, &status), ETIMEDOUT);
	assert_true(time(NULL) - start < 10);
	f = fopen(pidfile, "r");
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%d", &pid), 1);
	fclose(f);
	usleep(100000);
	/* gone, or a zombie waiting for init to reap it */
	assert_true(process_dead(pid));
}

static void test_versions_parse(void **state)
{
	bool v40 = false;

	/* 6.1 with its defaults, and with rpc.nfsd -N 4.0 */
	assert_int_equal(nfsd_versions_parse("-2 +3 +4 +4.0 +4.1 +4.2\n",
					     &v40), 0);
	assert_true(v40);
	assert_int_equal(nfsd_versions_parse("-2 +3 +4 -4.0 +4.1 +4.2\n",
					     &v40), 0);
	assert_false(v40);
	/* no NFSv4 at all; an old kernel that prints no minors */
	assert_int_equal(nfsd_versions_parse("+3 -4 -4.0 -4.1 -4.2", &v40),
			 0);
	assert_false(v40);
	assert_int_equal(nfsd_versions_parse("+2 +3 +4\n", &v40), 0);
	assert_true(v40);
	/* "-4.1" is not "-4" */
	assert_int_equal(nfsd_versions_parse("+4 +4.0 -4.1", &v40), 0);
	assert_true(v40);
	/* not a version list: v40 untouched */
	v40 = false;
	assert_int_equal(nfsd_versions_parse("", &v40), EINVAL);
	assert_int_equal(nfsd_versions_parse("\n", &v40), EINVAL);
	assert_int_equal(nfsd_versions_parse("4.0", &v40), EINVAL);
	assert_int_equal(nfsd_versions_parse("+4 garbage", &v40), EINVAL);
	assert_false(v40);
}

static int read_versions(struct test_ctx *t, bool *v40)
{
	struct tevent_req *req = nfsd_versions_send(t, t->ev, t->dir, 5);
	int ret;

	assert_non_null(req);
	assert_true(tevent_req_poll(req, t->ev));
	ret = nfsd_versions_recv(req, v40);
	talloc_free(req);
	return ret;
}

/* The file is read by a child (nfsd_mutex may block it) */
static void test_versions_read(void **state)
{
	struct test_ctx *t = *state;
	char path[128];
	bool v40 = true;
	FILE *f = NULL;

	assert_int_equal(read_versions(t, &v40), ENOENT);
	snprintf(path, sizeof(path), "%s/versions", t->dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("+3 +4 -4.0 +4.1 +4.2\n", f);
	fclose(f);
	assert_int_equal(read_versions(t, &v40), 0);
	assert_false(v40);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("+3 +4 +4.0 +4.1 +4.2\n", f);
	fclose(f);
	assert_int_equal(read_versions(t, &v40), 0);
	assert_true(v40);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_versions_parse),
		cmocka_unit_test_setup_teardown(test_versions_read, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_end_grace, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_restart_status, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_restart_timeout_kills_group, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
