/*
 * Security properties of a running cltrackd:
 *
 *   test_nonroot_peer_refused    a real unprivileged uid (nobody) is
 *                                refused by SO_PEERCRED (socket made 0666
 *                                for the test) and by the mode (0600);
 *                                status control_refused counts it
 *   test_hostile_control_input   raw bytes on the control socket: bad
 *                                magic, length > 1 MiB, length < 24,
 *                                header then close, short bodies, unknown
 *                                opcode, garbage, 2000 pipelined requests
 *   test_capabilities_dropped    /proc/PID/status CapEff, CapPrm, CapBnd
 *                                are 0 once it serves
 *   test_file_modes              store dir 0700, cltrack.tdb 0600, socket
 *                                0600, log file not world-writable, also
 *                                when started with umask 0
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <talloc.h>

#include "cltrack/proto.h"
#include "rel_util.h"

/* Outcome of one exchange on a raw connection */
enum raw_result {
	RAW_CLOSED,		/* the daemon closed the connection */
	RAW_REPLY,		/* a reply header arrived */
	RAW_CONNECT_FAILED,
};

static int raw_connect(const char *path)
{
	struct sockaddr_un sun = {
		.sun_family = AF_UNIX,
	};
	int fd;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		int err = errno;

		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

static void raw_write(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	ssize_t n;

	while (len > 0) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			return;	/* the daemon hung up: the reader decides */
		}
		p += n;
		len -= (size_t)n;
	}
}

/* Read exactly len bytes; false on EOF or error (a hang-up) */
static bool raw_read(int fd, uint8_t *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = recv(fd, buf, len, 0);
		if (n == -1 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			return false;
		}
		buf += n;
		len -= (size_t)n;
	}
	return true;
}

/* Read one reply (header and body); RAW_CLOSED on a hang-up */
static enum raw_result raw_reply(int fd, struct cltrack_hdr *hdr)
{
	uint8_t hbuf[CLTRACK_PROTO_HDR_SIZE];
	uint8_t *body = NULL;
	bool ok;

	if (!raw_read(fd, hbuf, sizeof(hbuf))) {
		return RAW_CLOSED;
	}
	assert_int_equal(cltrack_hdr_pull(hbuf, sizeof(hbuf), hdr), 0);
	if (hdr->length > CLTRACK_PROTO_HDR_SIZE) {
		body = malloc(hdr->length - CLTRACK_PROTO_HDR_SIZE);
		assert_non_null(body);
		ok = raw_read(fd, body, hdr->length - CLTRACK_PROTO_HDR_SIZE);
		free(body);
		assert_true(ok);
	}
	return RAW_REPLY;
}

static void make_hdr(uint8_t *buf, uint32_t length, uint16_t opcode,
		     uint32_t reqid)
{
	struct cltrack_hdr h = {
		.length = length,
		.opcode = opcode,
		.reqid = reqid,
	};

	cltrack_hdr_push(&h, buf);
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = v & 0xff;
	p[1] = (v >> 8) & 0xff;
	p[2] = (v >> 16) & 0xff;
	p[3] = (v >> 24) & 0xff;
}

/* ------------------------------------------------------------------ */

/*
 * In a child that becomes nobody:nogroup with no supplementary groups,
 * connect and ping.  Its exit code tells what happened (enum raw_result).
 */
static enum raw_result ping_as_nobody(struct rel_ctx *ctx)
{
	struct passwd *pw = getpwnam("nobody");
	uid_t uid = pw != NULL ? pw->pw_uid : 65534;
	gid_t gid = pw != NULL ? pw->pw_gid : 65534;
	int status;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	assert_int_not_equal(pid, -1);
	if (pid == 0) {
		struct cltrack_hdr hdr;
		uint8_t buf[CLTRACK_PROTO_HDR_SIZE];
		int fd;

		if (setgroups(0, NULL) != 0 || setgid(gid) != 0 ||
		    setuid(uid) != 0 || getuid() == 0) {
			_exit(100);
		}
		fd = raw_connect(ctx->control);
		if (fd == -1) {
			_exit(errno == EACCES ? RAW_CONNECT_FAILED : 101);
		}
		make_hdr(buf, sizeof(buf), CLTRACK_OP_PING, 1);
		raw_write(fd, buf, sizeof(buf));
		if (!raw_read(fd, buf, sizeof(buf))) {
			_exit(RAW_CLOSED);
		}
		if (cltrack_hdr_pull(buf, sizeof(buf), &hdr) != 0) {
			_exit(102);
		}
		_exit(RAW_REPLY);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return (enum raw_result)WEXITSTATUS(status);
}

static void test_nonroot_peer_refused(void **state)
{
	struct rel_ctx *ctx = *state;
	mode_t mode;

	rel_daemon_start(ctx);
	assert_int_equal(rel_status_u64(ctx, "control_refused"), 0);

	/* nobody may reach the socket (mkdtemp made the dir 0700) */
	assert_int_equal(chmod(ctx->dir, 0711), 0);

	/* The mode lets nobody in: SO_PEERCRED must refuse */
	assert_true(rel_file_mode(ctx->control, &mode));
	assert_int_equal(mode & 07777, 0600);
	assert_int_equal(chmod(ctx->control, 0666), 0);
	assert_int_equal(ping_as_nobody(ctx), RAW_CLOSED);
	assert_int_equal(ping_as_nobody(ctx), RAW_CLOSED);
	assert_int_equal(rel_status_u64(ctx, "control_refused"), 2);

	/* With its real mode, the kernel refuses nobody first */
	assert_int_equal(chmod(ctx->control, 0600), 0);
	assert_int_equal(ping_as_nobody(ctx), RAW_CONNECT_FAILED);
	assert_int_equal(rel_status_u64(ctx, "control_refused"), 2);

	/* root still gets in */
	assert_true(rel_ping(ctx));
}

/* The daemon answers a fresh connection's ping with the right reqid */
static void assert_serving(struct rel_ctx *ctx)
{
	struct cltrack_hdr hdr;
	uint8_t buf[CLTRACK_PROTO_HDR_SIZE];
	int fd = raw_connect(ctx->control);

	assert_int_not_equal(fd, -1);
	make_hdr(buf, sizeof(buf), CLTRACK_OP_PING, 4242);
	raw_write(fd, buf, sizeof(buf));
	assert_int_equal(raw_reply(fd, &hdr), RAW_REPLY);
	assert_int_equal(hdr.reqid, 4242);
	assert_int_equal(hdr.status, 0);
	close(fd);
	assert_true(rel_daemon_alive(ctx));
}

/* Send bytes; the daemon must hang up (no reply) */
static void expect_hangup(struct rel_ctx *ctx, const char *what,
			  const uint8_t *bytes, size_t len)
{
	struct cltrack_hdr hdr;
	int fd = raw_connect(ctx->control);

	printf("-- %s: connection closed\n", what);
	assert_int_not_equal(fd, -1);
	raw_write(fd, bytes, len);
	assert_int_equal(raw_reply(fd, &hdr), RAW_CLOSED);
	close(fd);
	assert_serving(ctx);
}

/* Send one request; the daemon must answer it with an error status */
static void expect_error(struct rel_ctx *ctx, const char *what,
			 const uint8_t *bytes, size_t len, uint32_t reqid,
			 int status)
{
	struct cltrack_hdr hdr;
	int fd = raw_connect(ctx->control);

	printf("-- %s: status %d\n", what, status);
	assert_int_not_equal(fd, -1);
	raw_write(fd, bytes, len);
	assert_int_equal(raw_reply(fd, &hdr), RAW_REPLY);
	assert_int_equal(hdr.reqid, reqid);
	assert_int_equal(hdr.status, status);
	close(fd);
	assert_serving(ctx);
}

static void test_hostile_control_input(void **state)
{
	struct rel_ctx *ctx = *state;
	uint8_t buf[4096];
	uint8_t *many = NULL;
	struct cltrack_hdr hdr;
	size_t i;
	int fd;

	rel_daemon_start(ctx);

	make_hdr(buf, CLTRACK_PROTO_HDR_SIZE, CLTRACK_OP_PING, 1);
	put32(buf + 4, 0xdeadbeef);
	expect_hangup(ctx, "bad magic", buf, CLTRACK_PROTO_HDR_SIZE);

	make_hdr(buf, CLTRACK_PROTO_HDR_SIZE, CLTRACK_OP_PING, 1);
	buf[8] = 99;	/* version */
	expect_hangup(ctx, "bad version", buf, CLTRACK_PROTO_HDR_SIZE);

	make_hdr(buf, CLTRACK_PROTO_MAX_PACKET + 1, CLTRACK_OP_LIST, 1);
	expect_hangup(ctx, "length 1 MiB + 1", buf, CLTRACK_PROTO_HDR_SIZE);

	make_hdr(buf, 0xffffffff, CLTRACK_OP_LIST, 1);
	expect_hangup(ctx, "length 4 GiB", buf, CLTRACK_PROTO_HDR_SIZE);

	make_hdr(buf, CLTRACK_PROTO_HDR_SIZE - 1, CLTRACK_OP_PING, 1);
	expect_hangup(ctx, "length 23", buf, CLTRACK_PROTO_HDR_SIZE);

	make_hdr(buf, 0, CLTRACK_OP_PING, 1);
	expect_hangup(ctx, "length 0", buf, CLTRACK_PROTO_HDR_SIZE);

	memset(buf, 0xa5, sizeof(buf));
	expect_hangup(ctx, "4 KiB of garbage", buf, sizeof(buf));

	/* A header announcing a body, then the peer goes away */
	fd = raw_connect(ctx->control);
	assert_int_not_equal(fd, -1);
	make_hdr(buf, 1000, CLTRACK_OP_CREATE, 1);
	raw_write(fd, buf, CLTRACK_PROTO_HDR_SIZE + 10);
	close(fd);
	/* Half a header, then gone */
	fd = raw_connect(ctx->control);
	assert_int_not_equal(fd, -1);
	raw_write(fd, buf, 10);
	close(fd);
	printf("-- header then close, half a header then close\n");
	assert_serving(ctx);

	/* Bodies shorter than their opcode needs: -EINVAL, served on */
	make_hdr(buf, CLTRACK_PROTO_HDR_SIZE + 3, CLTRACK_OP_CREATE, 7);
	buf[24] = 0xe8;	/* idlen 1000 ... */
	buf[25] = 0x03;
	buf[26] = 'x';	/* ... but one byte of id */
	expect_error(ctx, "CREATE with a short body", buf,
		     CLTRACK_PROTO_HDR_SIZE + 3, 7, -EINVAL);
	make_hdr(buf, CLTRACK_PROTO_HDR_SIZE, CLTRACK_OP_REMOVE, 8);
	expect_error(ctx, "REMOVE without a body", buf,
		     CLTRACK_PROTO_HDR_SIZE, 8, -EINVAL);
	make_hdr(buf, CLTRACK_PROTO_HDR_SIZE + 4, CLTRACK_OP_UMH_GRACE_DONE,
		 9);
	expect_error(ctx, "UMH_GRACE_DONE with half a time", buf,
		     CLTRACK_PROTO_HDR_SIZE + 4, 9, -EINVAL);
	make_hdr(buf, CLTRACK_PROTO_HDR_SIZE + 2, CLTRACK_OP_IMPORT, 10);
	expect_error(ctx, "IMPORT with half a count", buf,
		     CLTRACK_PROTO_HDR_SIZE + 2, 10, -EINVAL);

	/* Opcodes nobody defined */
	make_hdr(buf, CLTRACK_PROTO_HDR_SIZE, 999, 11);
	expect_error(ctx, "unknown opcode 999", buf, CLTRACK_PROTO_HDR_SIZE,
		     11, -EOPNOTSUPP);
	make_hdr(buf, CLTRACK_PROTO_HDR_SIZE, 0, 12);
	expect_error(ctx, "opcode 0", buf, CLTRACK_PROTO_HDR_SIZE, 12,
		     -EOPNOTSUPP);

	/* 2000 requests in one write: each answered once, in order */
	many = talloc_array(ctx, uint8_t, 2000 * CLTRACK_PROTO_HDR_SIZE);
	assert_non_null(many);
	for (i = 0; i < 2000; i++) {
		make_hdr(many + i * CLTRACK_PROTO_HDR_SIZE,
			 CLTRACK_PROTO_HDR_SIZE,
			 i % 2 ? CLTRACK_OP_PING : CLTRACK_OP_STATUS,
			 (uint32_t)(1000 + i));
	}
	fd = raw_connect(ctx->control);
	assert_int_not_equal(fd, -1);
	raw_write(fd, many, 2000 * CLTRACK_PROTO_HDR_SIZE);
	for (i = 0; i < 2000; i++) {
		assert_int_equal(raw_reply(fd, &hdr), RAW_REPLY);
		assert_int_equal(hdr.reqid, 1000 + i);
		assert_int_equal(hdr.status, 0);
	}
	close(fd);
	printf("-- 2000 pipelined requests answered in order\n");
	assert_serving(ctx);
}

/* Cap* line of /proc/PID/status as a number */
static unsigned long long proc_cap(pid_t pid, const char *field)
{
	char path[64];
	char line[256];
	unsigned long long v = ~0ULL;
	size_t flen = strlen(field);
	FILE *f = NULL;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, field, flen) == 0 && line[flen] == ':') {
			v = strtoull(line + flen + 1, NULL, 16);
		}
	}
	fclose(f);
	printf("%s: %016llx\n", field, v);
	return v;
}

static void test_capabilities_dropped(void **state)
{
	struct rel_ctx *ctx = *state;

	/* This test runs as root with capabilities: the daemon starts so */
	assert_int_not_equal(proc_cap(getpid(), "CapEff"), 0);
	rel_daemon_start(ctx);
	rel_nfsd_start(ctx);
	rel_create_status(ctx, "caps", 0);
	assert_int_equal(proc_cap(ctx->pid, "CapEff"), 0);
	assert_int_equal(proc_cap(ctx->pid, "CapPrm"), 0);
	assert_int_equal(proc_cap(ctx->pid, "CapBnd"), 0);
	assert_int_equal(proc_cap(ctx->pid, "CapAmb"), 0);
	assert_int_equal(rel_status_u64(ctx, "capabilities"), 0);

	/* Without capabilities it still serves, reopening the pipe too */
	rel_nfsd_restart(ctx);
	assert_true(rel_reclaim_has(ctx, "caps"));
	rel_create_status(ctx, "caps-after", 0);
}

static void assert_mode(const char *what, const char *path, mode_t type,
			mode_t want)
{
	mode_t mode = 0;

	assert_true(rel_file_mode(path, &mode));
	printf("%-14s %04o  %s\n", what, (unsigned)(mode & 07777), path);
	assert_int_equal(mode & S_IFMT, type);
	assert_int_equal(mode & 07777, want);
}

static void test_file_modes(void **state)
{
	struct rel_ctx *ctx = *state;
	char *log = talloc_asprintf(ctx, "%s/logs/cltrackd.log", ctx->dir);
	char *old_log = talloc_asprintf(ctx, "%s/old.log", ctx->dir);
	char *conf = talloc_asprintf(ctx, "%s/cltrack.conf", ctx->dir);
	char *tdb = NULL;
	mode_t mode = 0;
	mode_t old_umask;

	/* A storage dir the daemon has to create itself */
	ctx->storage = talloc_asprintf(ctx, "%s/var/lib/cltrack", ctx->dir);
	tdb = talloc_asprintf(ctx, "%s/cltrack.tdb", ctx->storage);
	assert_int_equal(mkdir(talloc_asprintf(ctx, "%s/var", ctx->dir),
			       0755), 0);
	assert_int_equal(mkdir(talloc_asprintf(ctx, "%s/var/lib", ctx->dir),
			       0755), 0);
	assert_int_equal(mkdir(talloc_asprintf(ctx, "%s/logs", ctx->dir),
			       0755), 0);
	rel_write_file(conf, talloc_asprintf(ctx, "[cltrackd]\n"
					     "log file = %s\n", log));
	ctx->conf = conf;

	/* The most careless umask an init script could leave behind */
	old_umask = umask(0);
	rel_daemon_start(ctx);
	umask(old_umask);

	assert_mode("storage dir", ctx->storage, S_IFDIR, 0700);
	assert_mode("cltrack.tdb", tdb, S_IFREG, 0600);
	assert_mode("control socket", ctx->control, S_IFSOCK, 0600);
	assert_true(rel_file_mode(log, &mode));
	printf("%-14s %04o  %s\n", "log file", (unsigned)(mode & 07777), log);
	assert_int_equal(mode & S_IFMT, S_IFREG);
	assert_int_equal(mode & (S_IWGRP | S_IWOTH), 0);
	rel_daemon_stop(ctx, SIGTERM);

	/* A log file someone left world-writable loses that bit */
	rel_write_file(old_log, "");
	assert_int_equal(chmod(old_log, 0666), 0);
	rel_write_file(conf, talloc_asprintf(ctx, "[cltrackd]\n"
					     "log file = %s\n", old_log));
	rel_daemon_start(ctx);
	assert_true(rel_file_mode(old_log, &mode));
	printf("%-14s %04o  %s\n", "old log file", (unsigned)(mode & 07777),
	       old_log);
	assert_int_equal(mode & S_IWOTH, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, rel_setup, rel_teardown)
		T(test_nonroot_peer_refused),
		T(test_hostile_control_input),
		T(test_capabilities_dropped),
		T(test_file_modes),
#undef T
	};

	setvbuf(stdout, NULL, _IONBF, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
