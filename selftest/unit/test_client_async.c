/*
 * libcltrack against a running cltrackd: the tevent API (many calls in
 * flight on one connection, replies matched by request id, timeouts, a
 * dead peer) and the synchronous import.
 *
 * Each test gets its own cltrackd on a temporary socket and storage;
 * teardown stops it by PID and removes the directory, also on failure.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "cltrack/client.h"
#include "daemon_exec.h"

struct test_ctx {
	TALLOC_CTX *mem_ctx;
	struct tevent_context *ev;
	char dir[64];
	char *socket;
	pid_t daemon;
};

static void rm_rf(const char *dir)
{
	pid_t pid = fork();

	if (pid == 0) {
		execl("/bin/rm", "rm", "-rf", dir, (char *)NULL);
		_exit(127);
	}
	if (pid > 0) {
		waitpid(pid, NULL, 0);
	}
}

static int setup(void **state)
{
	struct test_ctx *t = talloc_zero(NULL, struct test_ctx);
	const char *builddir = getenv("CLTRACK_BUILDDIR");
	struct cltrack_client *c = NULL;
	char *prog = NULL;
	char *storage = NULL;
	char *pipefs = NULL;
	char *log = NULL;
	int i;

	assert_non_null(t);
	t->mem_ctx = t;
	t->ev = tevent_context_init(t);
	assert_non_null(t->ev);
	snprintf(t->dir, sizeof(t->dir), "/tmp/cltrack-async-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	t->socket = talloc_asprintf(t, "%s/sock", t->dir);
	storage = talloc_asprintf(t, "%s/store", t->dir);
	pipefs = talloc_asprintf(t, "%s/pipefs", t->dir);
	log = talloc_asprintf(t, "%s/cltrackd.log", t->dir);
	prog = talloc_asprintf(t, "%s/helper/cltrackd",
			       builddir != NULL ? builddir : "build");

	t->daemon = fork();
	assert_true(t->daemon >= 0);
	if (t->daemon == 0) {
		FILE *f = freopen(log, "w", stderr);
		char *const argv[] = {
			prog, "-F", "-d", "NOTICE", "-c", "/dev/null",
			"--pipefs-dir", pipefs, "--storage-dir", storage,
			"--control-socket", t->socket, NULL
		};

		(void)f;
		daemon_exec(prog, argv);
		_exit(127);
	}
	*state = t;
	for (i = 0; i < daemon_exec_scale_ms(200); i++) {
		if (cltrack_connect(t, t->socket, 1000, &c) == 0 &&
		    cltrack_ping(c) == 0) {
			TALLOC_FREE(c);
			return 0;
		}
		TALLOC_FREE(c);
		usleep(25000);
	}
	fail_msg("cltrackd did not start (%s)", log);
	return -1;
}

static int teardown(void **state)
{
	struct test_ctx *t = *state;

	int status = 0;
	int ret = 0;

	if (t->daemon > 0) {
		kill(t->daemon, SIGTERM);
		waitpid(t->daemon, &status, 0);
		/* A sanitizer's or valgrind's finding is a non-zero exit */
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			char *cmd = talloc_asprintf(t, "cat %s/cltrackd.log",
						    t->dir);

			printf("cltrackd exit status 0x%x on SIGTERM; its "
			       "log:\n", status);
			fflush(stdout);
			if (cmd != NULL && system(cmd) != 0) {
				printf("(no log)\n");
			}
			ret = -1;
		}
	}
	rm_rf(t->dir);
	talloc_free(t);
	return ret;
}

static void make_op(struct cltrack_client_op *op, const char *id)
{
	*op = (struct cltrack_client_op) {
		.idlen = (uint16_t)strlen(id),
	};
	memcpy(op->id, id, op->idlen);
}

/* Run the loop until every request in reqs is done */
static void wait_all(struct tevent_context *ev, struct tevent_req **reqs,
		     size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		assert_true(tevent_req_poll(reqs[i], ev));
	}
}

static void test_async_ping(void **state)
{
	struct test_ctx *t = *state;
	struct cltrack_conn *conn = NULL;
	struct tevent_req *req = NULL;

	assert_int_equal(cltrack_conn_init(t, t->ev, t->socket, 5000, &conn),
			 0);
	req = cltrack_ping_send(t, t->ev, conn);
	assert_non_null(req);
	assert_true(tevent_req_poll(req, t->ev));
	assert_int_equal(cltrack_ping_recv(req), 0);
	TALLOC_FREE(req);
	talloc_free(conn);
}

static void test_async_connect_missing(void **state)
{
	struct test_ctx *t = *state;
	struct cltrack_conn *conn = NULL;
	char *path = talloc_asprintf(t, "%s/none", t->dir);

	assert_int_equal(cltrack_conn_init(t, t->ev, path, 0, &conn), ENOENT);
	assert_null(conn);
}

/*
 * 64 creates in flight on one connection, then a list and a status in
 * flight together: each reply reaches its own call.
 */
static void test_async_many_in_flight(void **state)
{
	struct test_ctx *t = *state;
	struct cltrack_conn *conn = NULL;
	struct tevent_req *reqs[64];
	struct tevent_req *lreq = NULL, *sreq = NULL;
	struct cltrack_entry *e = NULL;
	struct cltrack_kv *kv = NULL;
	uint32_t nkv = 0;
	size_t n = 0;
	size_t i;
	bool found_records = false;

	assert_int_equal(cltrack_conn_init(t, t->ev, t->socket, 5000, &conn),
			 0);
	for (i = 0; i < 64; i++) {
		struct cltrack_client_op op;
		char id[32];

		snprintf(id, sizeof(id), "async-client-%02zu", i);
		make_op(&op, id);
		reqs[i] = cltrack_create_send(t, t->ev, conn, &op);
		assert_non_null(reqs[i]);
	}
	wait_all(t->ev, reqs, 64);
	for (i = 0; i < 64; i++) {
		assert_int_equal(cltrack_create_recv(reqs[i]), 0);
		TALLOC_FREE(reqs[i]);
	}

	lreq = cltrack_list_send(t, t->ev, conn, NULL);
	sreq = cltrack_status_send(t, t->ev, conn);
	assert_non_null(lreq);
	assert_non_null(sreq);
	assert_true(tevent_req_poll(sreq, t->ev));
	assert_true(tevent_req_poll(lreq, t->ev));
	assert_int_equal(cltrack_list_recv(lreq, t, &e, &n), 0);
	assert_int_equal(n, 64);
	assert_int_equal(cltrack_status_recv(sreq, t, &kv, &nkv), 0);
	for (i = 0; i < nkv; i++) {
		if (strcmp(kv[i].name, "records") == 0) {
			assert_int_equal(kv[i].u64, 64);
			found_records = true;
		}
	}
	assert_true(found_records);
	talloc_free(lreq);
	talloc_free(sreq);
	talloc_free(conn);
}

/* cltrackd's answers come back as errno values */
static void test_async_check_denied(void **state)
{
	struct test_ctx *t = *state;
	struct cltrack_conn *conn = NULL;
	struct cltrack_client_op op;
	struct tevent_req *req = NULL;

	assert_int_equal(cltrack_conn_init(t, t->ev, t->socket, 5000, &conn),
			 0);
	make_op(&op, "never-created");
	req = cltrack_check_send(t, t->ev, conn, &op);
	assert_true(tevent_req_poll(req, t->ev));
	assert_int_equal(cltrack_check_recv(req), EACCES);
	TALLOC_FREE(req);

	/* A bad op fails in _recv, not in _send, and sends nothing */
	op.idlen = 0;
	req = cltrack_create_send(t, t->ev, conn, &op);
	assert_non_null(req);
	assert_true(tevent_req_poll(req, t->ev));
	assert_int_equal(cltrack_create_recv(req), EINVAL);
	TALLOC_FREE(req);
	talloc_free(conn);
}

/* A call freed before its reply: the late reply is dropped quietly */
static void test_async_cancelled_call(void **state)
{
	struct test_ctx *t = *state;
	struct cltrack_conn *conn = NULL;
	struct tevent_req *req = NULL;
	struct cltrack_client_op op;

	assert_int_equal(cltrack_conn_init(t, t->ev, t->socket, 5000, &conn),
			 0);
	make_op(&op, "cancelled");
	req = cltrack_create_send(t, t->ev, conn, &op);
	assert_non_null(req);
	TALLOC_FREE(req);
	req = cltrack_ping_send(t, t->ev, conn);
	assert_true(tevent_req_poll(req, t->ev));
	assert_int_equal(cltrack_ping_recv(req), 0);
	TALLOC_FREE(req);
	talloc_free(conn);
}

/* A fake server: listens, accepts, and then does what it is told */
static pid_t fake_server(const char *path, bool close_after_accept)
{
	struct sockaddr_un sun = {
		.sun_family = AF_UNIX,
	};
	int fd;
	pid_t pid;

	strncpy(sun.sun_path, path, sizeof(sun.sun_path) - 1);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(fd, 4), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int c = accept(fd, NULL, NULL);
		char buf[256];

		if (close_after_accept) {
			/* Read the request, then hang up without answering */
			(void)read(c, buf, sizeof(buf));
			close(c);
			_exit(0);
		}
		pause();
		_exit(0);
	}
	close(fd);
	return pid;
}

static void test_async_timeout(void **state)
{
	struct test_ctx *t = *state;
	struct cltrack_conn *conn = NULL;
	struct tevent_req *req = NULL;
	char *path = talloc_asprintf(t, "%s/silent.sock", t->dir);
	pid_t srv = fake_server(path, false);

	assert_int_equal(cltrack_conn_init(t, t->ev, path, 300, &conn), 0);
	req = cltrack_ping_send(t, t->ev, conn);
	assert_true(tevent_req_poll(req, t->ev));
	assert_int_equal(cltrack_ping_recv(req), ETIMEDOUT);
	TALLOC_FREE(req);
	talloc_free(conn);
	kill(srv, SIGTERM);
	waitpid(srv, NULL, 0);
}

static void test_async_peer_gone(void **state)
{
	struct test_ctx *t = *state;
	struct cltrack_conn *conn = NULL;
	struct tevent_req *reqs[3];
	char *path = talloc_asprintf(t, "%s/hangup.sock", t->dir);
	pid_t srv = fake_server(path, true);
	size_t i;

	assert_int_equal(cltrack_conn_init(t, t->ev, path, 5000, &conn), 0);
	for (i = 0; i < 3; i++) {
		reqs[i] = cltrack_ping_send(t, t->ev, conn);
		assert_non_null(reqs[i]);
	}
	for (i = 0; i < 3; i++) {
		tevent_req_poll(reqs[i], t->ev);
		assert_int_equal(cltrack_ping_recv(reqs[i]), ECONNRESET);
		TALLOC_FREE(reqs[i]);
	}
	/* A dead connection fails new calls at once */
	reqs[0] = cltrack_ping_send(t, t->ev, conn);
	tevent_req_poll(reqs[0], t->ev);
	assert_int_equal(cltrack_ping_recv(reqs[0]), ECONNRESET);
	TALLOC_FREE(reqs[0]);
	talloc_free(conn);
	waitpid(srv, NULL, 0);
}

/* Sync: a bulk import in several chunks is one transaction, idempotent */
static void test_sync_import(void **state)
{
	struct test_ctx *t = *state;
	struct cltrack_client *c = NULL;
	struct cltrack_client_op *ops = NULL;
	struct cltrack_entry *e = NULL;
	uint64_t stored = 0, present = 0;
	size_t n = 0;
	size_t i;
	const size_t count = CLTRACK_IMPORT_CHUNK_MAX * 2 + 7;

	assert_int_equal(cltrack_connect(t, t->socket, 5000, &c), 0);
	ops = talloc_zero_array(t, struct cltrack_client_op, count);
	assert_non_null(ops);
	for (i = 0; i < count; i++) {
		char id[32];

		snprintf(id, sizeof(id), "imported-%05zu", i);
		make_op(&ops[i], id);
		ops[i].flags = (i % 2) ? CLTRACK_F_LEGACY : 0;
	}
	assert_int_equal(cltrack_import(c, ops, count, &stored, &present), 0);
	assert_int_equal(stored, count);
	assert_int_equal(present, 0);
	assert_int_equal(cltrack_import(c, ops, count, &stored, &present), 0);
	assert_int_equal(stored, 0);
	assert_int_equal(present, count);
	assert_int_equal(cltrack_list(c, t, NULL, &e, &n), 0);
	assert_int_equal(n, count);
	for (i = 0; i < n; i++) {
		unsigned k;

		assert_int_equal(sscanf((const char *)e[i].id,
					"imported-%05u", &k), 1);
		assert_int_equal(e[i].flags & CLTRACK_F_LEGACY,
				 (k % 2) ? CLTRACK_F_LEGACY : 0);
	}

	/* A bad record fails the whole import: nothing of it is stored */
	make_op(&ops[0], "fresh-one");
	ops[1].princhash_len = 7;
	assert_int_equal(cltrack_import(c, ops, 2, &stored, &present), EINVAL);
	assert_int_equal(cltrack_list(c, t, NULL, &e, &n), 0);
	assert_int_equal(n, count);
	talloc_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_async_ping, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_async_connect_missing,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_async_many_in_flight,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_async_check_denied,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_async_cancelled_call,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_async_timeout, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_async_peer_gone, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_sync_import, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
