/*
 * cltrackd against the knfsd emulator: the "D" items of the conformance
 * checklist in shared/spec/knfsd-upcalls.md §14 (1-21 and 25; 22-24 are
 * about migration), plus a daemon killed mid-run, garbage on the pipe,
 * 64 concurrent Creates and a corrupt store record.
 *
 * Every test gets a temporary directory with pipefs/nfsd, a fake
 * /proc/fs/nfsd, the storage directory and the control socket, starts
 * its own cltrackd as a child and kills it (SIGTERM, then SIGKILL) in
 * teardown, also when the test failed.
 *
 * The daemon: $CLTRACK_BIN/cltrackd, else $CLTRACK_SRCDIR/bin/cltrackd,
 * else bin/cltrackd two levels above this file.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <talloc.h>
#include <tdb.h>

#include "cld_msg.h"
#include "daemon_exec.h"
#include "emu.h"

/* Stretched under CLTRACK_DAEMON_WRAPPER (valgrind): see daemon_exec.h */
#define READY_TIMEOUT_MS	daemon_exec_scale_ms(10000)
#define REPLY_TIMEOUT_MS	daemon_exec_scale_ms(10000)
#define STOP_TIMEOUT_MS		daemon_exec_scale_ms(5000)
#define TEST_GRACE_TIME		10
#define TMPFS_SIZE		"2m"	/* the daemon's empty tdb is ~400 KB */

/* One message that crossed the pipe */
struct tr_rec {
	bool downcall;
	size_t len;
	int verdict;
	struct cld_msg msg;
};

struct test_ctx {
	TALLOC_CTX *mem;
	char *dir;
	char *pipefs;
	char *procfs;
	char *storage;
	char *control;
	char *log;
	char *conf;
	char *daemon_bin;
	pid_t pid;
	bool stop_failed;	/* SIGTERM did not end it with exit 0 */
	bool tmpfs;
	struct emu_opts opts;
	struct emu *emu;
	struct tr_rec *trace;
	size_t ntrace;
};

/* ------------------------------------------------------------------ */
/* Helpers                                                             */

static void trace_cb(void *private_data, const struct emu_trace *t)
{
	struct test_ctx *ctx = private_data;
	struct tr_rec *tr = NULL;

	tr = talloc_realloc(ctx->mem, ctx->trace, struct tr_rec,
			    ctx->ntrace + 1);
	assert_non_null(tr);
	ctx->trace = tr;
	ctx->trace[ctx->ntrace++] = (struct tr_rec) {
		.downcall = t->downcall,
		.len = t->len,
		.verdict = t->verdict,
		.msg = *t->msg,
	};
}

static char *daemon_path(TALLOC_CTX *mem_ctx)
{
	const char *bin = getenv("CLTRACK_BIN");
	const char *src = getenv("CLTRACK_SRCDIR");
	char here[PATH_MAX];

	if (bin != NULL && bin[0] != '\0') {
		return talloc_asprintf(mem_ctx, "%s/cltrackd", bin);
	}
	if (src != NULL && src[0] != '\0') {
		return talloc_asprintf(mem_ctx, "%s/bin/cltrackd", src);
	}
	snprintf(here, sizeof(here), "%s", __FILE__);
	return talloc_asprintf(mem_ctx, "%s/../../bin/cltrackd",
			       dirname(here));
}

static void write_file(const char *path, const char *content)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(content, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static void print_daemon_log(struct test_ctx *ctx, int lines)
{
	char *cmd = talloc_asprintf(ctx->mem, "tail -n %d '%s' 2>/dev/null "
				    "| sed 's/^/  daemon| /'", lines,
				    ctx->log);

	if (cmd == NULL) {
		return;
	}
	fflush(stdout);
	if (system(cmd) != 0) {
		printf("  (no daemon log)\n");
	}
	fflush(stdout);
}

static bool daemon_alive(struct test_ctx *ctx)
{
	int status;

	if (ctx->pid <= 0) {
		return false;
	}
	if (waitpid(ctx->pid, &status, WNOHANG) == ctx->pid) {
		printf("cltrackd %d exited, status 0x%x\n", (int)ctx->pid,
		       status);
		ctx->pid = 0;
		return false;
	}
	return true;
}

static void daemon_start_conf(struct test_ctx *ctx, const char *conf)
{
	struct timespec t0;
	struct timespec t;
	pid_t pid;
	int fd;

	assert_int_equal(ctx->pid, 0);
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	assert_int_not_equal(pid, -1);
	if (pid == 0) {
		fd = open(ctx->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd != -1) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		char *const argv[] = {
			"cltrackd", "-F", "-d", "3", "-c", (char *)conf,
			"--pipefs-dir", ctx->pipefs,
			"--storage-dir", ctx->storage,
			"--control-socket", ctx->control, NULL
		};

		daemon_exec(ctx->daemon_bin, argv);
		_exit(127);
	}
	ctx->pid = pid;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		if (!daemon_alive(ctx)) {
			print_daemon_log(ctx, 30);
			fail_msg("cltrackd died at start");
		}
		if (daemon_exec_watching(pid)) {
			return;
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 +
		    (t.tv_nsec - t0.tv_nsec) / 1000000 > READY_TIMEOUT_MS) {
			print_daemon_log(ctx, 30);
			fail_msg("cltrackd not watching %s/nfsd after %d ms",
				 ctx->pipefs, READY_TIMEOUT_MS);
		}
		emu_pump(ctx->emu, 20);
	}
}

static void daemon_start(struct test_ctx *ctx)
{
	daemon_start_conf(ctx, ctx->conf);
}

/*
 * Signal the daemon and reap it; SIGKILL after STOP_TIMEOUT_MS.  A
 * SIGTERM must end it with exit 0: anything else (a sanitizer's or
 * valgrind's error exit, a crash on the way out) marks the test failed
 * in teardown.
 */
static void daemon_stop(struct test_ctx *ctx, int sig)
{
	int status;
	int i;

	if (ctx->pid <= 0) {
		return;
	}
	kill(ctx->pid, sig);
	for (i = 0; i < STOP_TIMEOUT_MS / 10; i++) {
		if (waitpid(ctx->pid, &status, WNOHANG) == ctx->pid) {
			ctx->pid = 0;
			if (sig == SIGTERM &&
			    !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
				printf("cltrackd did not exit cleanly on "
				       "SIGTERM: status 0x%x\n", status);
				ctx->stop_failed = true;
			}
			return;
		}
		if (ctx->emu != NULL) {
			emu_pump(ctx->emu, 10);
		} else {
			usleep(10000);
		}
	}
	kill(ctx->pid, SIGKILL);
	waitpid(ctx->pid, &status, 0);
	ctx->pid = 0;
	if (sig == SIGTERM) {
		printf("cltrackd ignored SIGTERM for %d ms\n",
		       STOP_TIMEOUT_MS);
		ctx->stop_failed = true;
	}
}

static struct emu_name name_of(const char *id)
{
	return (struct emu_name) {
		.id = (const uint8_t *)id,
		.id_len = strlen(id),
	};
}

static void nfsd_start(struct test_ctx *ctx)
{
	int ret = emu_nfsd_start(ctx->emu);

	if (ret != 0) {
		print_daemon_log(ctx, 30);
	}
	assert_int_equal(ret, 0);
}

static void nfsd_restart(struct test_ctx *ctx)
{
	emu_nfsd_stop(ctx->emu);
	nfsd_start(ctx);
}

/* A client's first state: one Create upcall, answered with status */
static void create_status(struct test_ctx *ctx, const struct emu_name *n,
			  int status)
{
	struct emu_op op;

	assert_int_equal(emu_client_create(ctx->emu, n, &op), 0);
	assert_true(op.upcall);
	assert_int_equal(op.status, status);
}

static void create(struct test_ctx *ctx, const char *id)
{
	struct emu_name n = name_of(id);

	create_status(ctx, &n, 0);
}

static void reclaim_complete(struct test_ctx *ctx, const char *id)
{
	struct emu_name n = name_of(id);
	struct emu_op op;

	assert_int_equal(emu_client_reclaim_complete(ctx->emu, &n, &op), 0);
	assert_int_equal(op.nfs_status, EMU_NFS4_OK);
	if (op.upcall) {
		assert_int_equal(op.status, 0);
	}
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The last GraceStart sent exactly these ids (NULL-terminated list) */
static void expect_reclaim(struct test_ctx *ctx, ...)
{
	TALLOC_CTX *tmp_ctx = talloc_new(ctx->mem);
	char **want = talloc_zero_array(tmp_ctx, char *, 256);
	char **got = NULL;
	struct emu_name n;
	size_t nwant = 0;
	size_t ngot = emu_reclaim_count(ctx->emu);
	const char *id = NULL;
	va_list ap;
	size_t i;

	va_start(ap, ctx);
	while ((id = va_arg(ap, const char *)) != NULL && nwant < 255) {
		want[nwant++] = talloc_strdup(want, id);
	}
	va_end(ap);
	got = talloc_zero_array(tmp_ctx, char *, ngot + 1);
	for (i = 0; i < ngot; i++) {
		assert_true(emu_reclaim_get(ctx->emu, i, &n));
		got[i] = emu_id_string(got, n.id, n.id_len);
	}
	qsort(want, nwant, sizeof(char *), cmp_str);
	qsort(got, ngot, sizeof(char *), cmp_str);
	for (i = 0; i < ngot || i < nwant; i++) {
		printf("  reclaim[%zu]: got %s, expected %s\n", i,
		       i < ngot ? got[i] : "-", i < nwant ? want[i] : "-");
	}
	assert_int_equal(ngot, nwant);
	for (i = 0; i < ngot; i++) {
		assert_string_equal(got[i], want[i]);
	}
	talloc_free(tmp_ctx);
}

/* Index of the last upcall with cmd, or -1 */
static long tr_last_upcall(struct test_ctx *ctx, uint8_t cmd)
{
	long i;

	for (i = (long)ctx->ntrace - 1; i >= 0; i--) {
		if (!ctx->trace[i].downcall && ctx->trace[i].msg.cmd == cmd) {
			return i;
		}
	}
	return -1;
}

static void all_downcalls_accepted(struct test_ctx *ctx)
{
	const struct emu_counters *c = emu_counters(ctx->emu);

	assert_int_equal(c->rejected_downcalls, 0);
	assert_int_equal(c->records_rejected, 0);
}

/* ------------------------------------------------------------------ */
/* Setup and teardown                                                  */

static int rm_entry(const char *path, const struct stat *sb, int type,
		    struct FTW *ftw)
{
	return remove(path);
}

static int setup(void **state)
{
	struct test_ctx *ctx = NULL;
	char tmpl[] = "/tmp/cltrack-conf-XXXXXX";
	int ret;

	ctx = talloc_zero(NULL, struct test_ctx);
	assert_non_null(ctx);
	ctx->mem = ctx;
	assert_non_null(mkdtemp(tmpl));
	ctx->dir = talloc_strdup(ctx, tmpl);
	ctx->pipefs = talloc_asprintf(ctx, "%s/pipefs", tmpl);
	ctx->procfs = talloc_asprintf(ctx, "%s/proc", tmpl);
	ctx->storage = talloc_asprintf(ctx, "%s/storage", tmpl);
	ctx->control = talloc_asprintf(ctx, "%s/cltrackd.sock", tmpl);
	ctx->log = talloc_asprintf(ctx, "%s/cltrackd.log", tmpl);
	ctx->conf = talloc_strdup(ctx, "/dev/null");
	ctx->daemon_bin = daemon_path(ctx);
	assert_int_equal(mkdir(ctx->storage, 0700), 0);

	if (access(ctx->daemon_bin, X_OK) != 0) {
		fprintf(stderr, "no daemon at %s (build it, or set "
			"CLTRACK_BIN)\n", ctx->daemon_bin);
		talloc_free(ctx);
		return -1;
	}

	emu_opts_init(&ctx->opts);
	ctx->opts.pipefs_dir = ctx->pipefs;
	ctx->opts.procfs_dir = ctx->procfs;
	ctx->opts.grace_time = TEST_GRACE_TIME;
	ctx->opts.verbose = getenv("CLTRACK_TEST_VERBOSE") != NULL;
	ret = emu_init(ctx, &ctx->opts, &ctx->emu);
	assert_int_equal(ret, 0);
	emu_set_trace(ctx->emu, trace_cb, ctx);

	*state = ctx;
	return 0;
}

static int teardown(void **state)
{
	struct test_ctx *ctx = *state;
	int ret = 0;

	daemon_stop(ctx, SIGTERM);
	print_daemon_log(ctx, ctx->stop_failed ? 60 : 15);
	if (ctx->stop_failed) {
		ret = -1;
	}
	TALLOC_FREE(ctx->emu);
	if (ctx->tmpfs) {
		umount2(ctx->storage, MNT_DETACH);
	}
	if (getenv("CLTRACK_TEST_KEEP") == NULL) {
		nftw(ctx->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	} else {
		printf("kept %s\n", ctx->dir);
	}
	talloc_free(ctx);
	return ret;
}

/* ------------------------------------------------------------------ */
/* §14 D items                                                         */

/* 1: opens the pipe within 1 s of its creation, also after re-create */
static void test_d01_opens_new_pipe(void **state)
{
	struct test_ctx *ctx = *state;

	daemon_start(ctx);
	/* the pipe appears after the daemon started */
	nfsd_start(ctx);
	assert_int_equal(emu_connections(ctx->emu), 1);

	emu_nfsd_stop(ctx->emu);
	emu_sleep(ctx->emu, 200);
	nfsd_start(ctx);
	emu_nfsd_stop(ctx->emu);
	nfsd_start(ctx);
	assert_int_equal(emu_counters(ctx->emu)->opens, 3);
	assert_int_equal(emu_tracker(ctx->emu), EMU_TRACK_V2);
}

/* 2: GetVersion (1034 bytes, vers 1, cmd 5, xid 0) answered version 2 */
static void test_d02_get_version(void **state)
{
	struct test_ctx *ctx = *state;
	const struct tr_rec *up = NULL;
	const struct tr_rec *dc = NULL;
	size_t i;

	daemon_start(ctx);
	nfsd_start(ctx);

	up = &ctx->trace[0];
	assert_false(up->downcall);
	assert_int_equal(up->len, 1034);
	assert_int_equal(up->msg.vers, 1);
	assert_int_equal(up->msg.cmd, CLD_GET_VERSION);
	assert_int_equal(up->msg.xid, 0);
	for (i = 1; i < ctx->ntrace && dc == NULL; i++) {
		if (ctx->trace[i].downcall) {
			dc = &ctx->trace[i];
		}
	}
	assert_non_null(dc);
	assert_int_equal(dc->len, 1034);
	assert_int_equal(dc->verdict, 0);
	assert_int_equal(dc->msg.xid, 0);
	assert_int_equal(dc->msg.status, 0);
	assert_int_equal(dc->msg.version, 2);	/* byte 8 */
	assert_int_equal(emu_tracker(ctx->emu), EMU_TRACK_V2);
}

/* 3: reply length follows the upcall's cm_vers; nothing is refused */
static void test_d03_reply_sizes(void **state)
{
	struct test_ctx *ctx = *state;
	struct emu_name a = name_of("size-a");
	struct emu_op op;
	int version;
	size_t i;
	long j;

	daemon_start(ctx);
	for (version = 2; version >= 0; version--) {
		emu_set_version_max(ctx->emu, version);
		nfsd_start(ctx);
		create(ctx, version == 2 ? "size-v2" :
		       version == 1 ? "size-v1" : "size-v0");
		assert_int_equal(emu_client_create(ctx->emu, &a, &op), 0);
		assert_int_equal(emu_client_expire(ctx->emu, &a, &op), 0);
		assert_true(op.upcall);
		assert_int_equal(op.status, 0);
		emu_nfsd_stop(ctx->emu);
	}

	/* every downcall answers the latest upcall with its xid */
	for (i = 0; i < ctx->ntrace; i++) {
		const struct tr_rec *dc = &ctx->trace[i];

		if (!dc->downcall) {
			continue;
		}
		assert_int_equal(dc->verdict, 0);
		for (j = (long)i - 1; j >= 0; j--) {
			if (!ctx->trace[j].downcall &&
			    ctx->trace[j].msg.xid == dc->msg.xid) {
				break;
			}
		}
		assert_true(j >= 0);
		assert_int_equal(dc->len, ctx->trace[j].len);
		assert_int_equal(dc->msg.vers, ctx->trace[j].msg.vers);
	}
	all_downcalls_accepted(ctx);
}

/* 4: Creates for xids 7, 8, 9 queued back to back: replies 7, 8, 9 */
static void test_d04_xids_echoed(void **state)
{
	struct test_ctx *ctx = *state;
	struct emu_upcall *ups[3] = { NULL };
	struct cld_msg reply;
	char id[32];
	int n = 0;
	int i;

	daemon_start(ctx);
	nfsd_start(ctx);
	while (emu_next_xid(ctx->emu) < 7) {
		snprintf(id, sizeof(id), "xid-fill-%d", n++);
		create(ctx, id);
	}
	assert_int_equal(emu_next_xid(ctx->emu), 7);
	for (i = 0; i < 3; i++) {
		struct emu_name nm;

		snprintf(id, sizeof(id), "xid-%d", 7 + i);
		nm = name_of(id);
		assert_int_equal(emu_create_send(ctx->emu, ctx->mem, &nm,
						 &ups[i]), 0);
		assert_int_equal(emu_upcall_xid(ups[i]), 7 + i);
	}
	for (i = 0; i < 3; i++) {
		assert_int_equal(emu_upcall_wait(ctx->emu, ups[i],
						 REPLY_TIMEOUT_MS), 0);
		assert_int_equal(emu_upcall_result(ups[i], &reply), 0);
		assert_int_equal(reply.xid, 7 + i);
		assert_int_equal(reply.status, 0);
	}
	all_downcalls_accepted(ctx);
}

/* 5: two v1 Creates back to back, each its own 1034-byte reply */
static void test_d05_v1_back_to_back(void **state)
{
	struct test_ctx *ctx = *state;
	struct emu_name a = name_of("v1-a");
	struct emu_name b = name_of("v1-b");
	struct emu_upcall *ua = NULL;
	struct emu_upcall *ub = NULL;
	struct cld_msg reply;
	size_t i;
	size_t replies = 0;

	emu_set_version_max(ctx->emu, 1);
	daemon_start(ctx);
	nfsd_start(ctx);
	assert_int_equal(emu_tracker(ctx->emu), EMU_TRACK_V1);

	assert_int_equal(emu_create_send(ctx->emu, ctx->mem, &a, &ua), 0);
	assert_int_equal(emu_create_send(ctx->emu, ctx->mem, &b, &ub), 0);
	assert_int_equal(emu_upcall_wait(ctx->emu, ua, REPLY_TIMEOUT_MS), 0);
	assert_int_equal(emu_upcall_wait(ctx->emu, ub, REPLY_TIMEOUT_MS), 0);
	assert_int_equal(emu_upcall_result(ua, &reply), 0);
	assert_int_equal(reply.xid, emu_upcall_xid(ua));
	assert_int_equal(reply.status, 0);
	assert_int_equal(emu_upcall_result(ub, &reply), 0);
	assert_int_equal(reply.xid, emu_upcall_xid(ub));
	assert_int_equal(reply.status, 0);

	for (i = 0; i < ctx->ntrace; i++) {
		if (!ctx->trace[i].downcall) {
			continue;
		}
		assert_int_equal(ctx->trace[i].len, 1034);
		if (ctx->trace[i].msg.xid == emu_upcall_xid(ua) ||
		    ctx->trace[i].msg.xid == emu_upcall_xid(ub)) {
			replies++;
		}
	}
	assert_int_equal(replies, 2);
	all_downcalls_accepted(ctx);
}

/* 6: GraceStart on an empty store: one downcall, status 0, no records */
static void test_d06_grace_start_empty(void **state)
{
	struct test_ctx *ctx = *state;
	long gs;
	size_t i;
	size_t n = 0;

	daemon_start(ctx);
	nfsd_start(ctx);
	emu_sleep(ctx->emu, 300);

	gs = tr_last_upcall(ctx, CLD_GRACE_START);
	assert_true(gs >= 0);
	assert_int_equal(ctx->trace[gs].msg.xid, 1);
	for (i = 0; i < ctx->ntrace; i++) {
		if (ctx->trace[i].downcall && ctx->trace[i].msg.xid == 1) {
			assert_int_equal(ctx->trace[i].msg.status, 0);
			n++;
		}
	}
	assert_int_equal(n, 1);
	assert_int_equal(emu_counters(ctx->emu)->gracestart_records, 0);
	/* the kernel skips grace: GraceDone at once */
	assert_int_equal(emu_grace_state(ctx->emu), EMU_GRACE_OVER);
	assert_int_equal(emu_counters(ctx->emu)->grace_done, 1);
	all_downcalls_accepted(ctx);
}

/* 7: v2 records: A without princhash, B with its 32 bytes */
static void test_d07_grace_start_records(void **state)
{
	struct test_ctx *ctx = *state;
	uint8_t hash[32];
	struct emu_name a = name_of("rec-A");
	struct emu_name b = name_of("rec-B");
	uint32_t xid;
	long gs;
	size_t i;
	size_t records = 0;
	size_t finals = 0;
	bool seen_a = false;
	bool seen_b = false;

	for (i = 0; i < sizeof(hash); i++) {
		hash[i] = (uint8_t)(0xa0 + i);
	}
	b.princhash = hash;
	b.princhash_len = sizeof(hash);

	daemon_start(ctx);
	nfsd_start(ctx);	/* empty: GraceStart, then GraceDone */
	create_status(ctx, &a, 0);
	create_status(ctx, &b, 0);
	nfsd_restart(ctx);
	emu_sleep(ctx->emu, 300);

	gs = tr_last_upcall(ctx, CLD_GRACE_START);
	assert_true(gs >= 0);
	xid = ctx->trace[gs].msg.xid;
	assert_int_equal(xid, 1);
	for (i = (size_t)gs + 1; i < ctx->ntrace; i++) {
		const struct tr_rec *t = &ctx->trace[i];

		if (!t->downcall || t->msg.xid != xid) {
			continue;
		}
		assert_int_equal(t->len, 1067);
		if (t->msg.status == 0) {
			finals++;
			continue;
		}
		assert_int_equal(t->msg.status, -EINPROGRESS);
		assert_int_equal(t->msg.cmd, CLD_GRACE_START);
		records++;
		if (t->msg.name_len == 5 &&
		    memcmp(t->msg.name, "rec-A", 5) == 0) {
			assert_int_equal(t->msg.princhash_len, 0);
			seen_a = true;
		}
		if (t->msg.name_len == 5 &&
		    memcmp(t->msg.name, "rec-B", 5) == 0) {
			assert_int_equal(t->msg.princhash_len, 32);
			assert_memory_equal(t->msg.princhash, hash, 32);
			seen_b = true;
		}
	}
	assert_int_equal(records, 2);
	assert_int_equal(finals, 1);
	assert_true(seen_a);
	assert_true(seen_b);
	assert_int_equal(emu_grace_state(ctx->emu), EMU_GRACE_IN);
	all_downcalls_accepted(ctx);
}

/* 8: all -115 records precede the final reply; nothing follows it */
static void test_d08_records_before_final(void **state)
{
	struct test_ctx *ctx = *state;
	uint32_t xid;
	long gs;
	size_t i;
	bool final_seen = false;
	size_t records = 0;

	daemon_start(ctx);
	nfsd_start(ctx);
	create(ctx, "order-1");
	create(ctx, "order-2");
	create(ctx, "order-3");
	nfsd_restart(ctx);
	emu_sleep(ctx->emu, 500);

	gs = tr_last_upcall(ctx, CLD_GRACE_START);
	assert_true(gs >= 0);
	xid = ctx->trace[gs].msg.xid;
	for (i = (size_t)gs + 1; i < ctx->ntrace; i++) {
		const struct tr_rec *t = &ctx->trace[i];

		if (!t->downcall || t->msg.xid != xid) {
			continue;
		}
		assert_false(final_seen);
		if (t->msg.status == 0) {
			final_seen = true;
		} else {
			assert_int_equal(t->msg.status, -EINPROGRESS);
			records++;
		}
	}
	assert_true(final_seen);
	assert_int_equal(records, 3);
	assert_int_equal(emu_counters(ctx->emu)->rejected_xid, 0);
	all_downcalls_accepted(ctx);
}

/* Queue a raw v2 Create built from msg, then patch cn_len / cp_len */
static struct emu_upcall *raw_create(struct test_ctx *ctx, const char *id,
				     int cn_len, int cp_len)
{
	struct cld_msg msg = {
		.vers = 2,
		.cmd = CLD_CREATE,
	};
	uint8_t buf[CLD_MSG_MAX_SIZE];
	struct emu_upcall *up = NULL;
	uint16_t len16;
	size_t len;

	msg.name_len = (uint16_t)strlen(id);
	memcpy(msg.name, id, msg.name_len);
	len = cld_msg_push(&msg, buf, sizeof(buf));
	assert_int_equal(len, CLD_MSG_V2_SIZE);
	if (cn_len >= 0) {
		len16 = (uint16_t)cn_len;
		memcpy(buf + 8, &len16, 2);
	}
	if (cp_len >= 0) {
		buf[1034] = (uint8_t)cp_len;
	}
	assert_int_equal(emu_upcall_send_buf(ctx->emu, ctx->mem, buf, len,
					     &up), 0);
	assert_int_equal(emu_upcall_wait(ctx->emu, up, REPLY_TIMEOUT_MS), 0);
	return up;
}

/* Copy the value of client/<from> to client/<to> in the stopped store */
static void tdb_clone_record(struct test_ctx *ctx, const uint8_t *from,
			     size_t from_len, const uint8_t *to, size_t to_len,
			     const uint8_t *garbage, size_t garbage_len)
{
	char *path = talloc_asprintf(ctx->mem, "%s/cltrack.tdb",
				     ctx->storage);
	uint8_t key[7 + 2048];
	struct tdb_context *tdb = NULL;
	TDB_DATA k;
	TDB_DATA v = { NULL, 0 };

	tdb = tdb_open(path, 0, TDB_DEFAULT, O_RDWR, 0);
	assert_non_null(tdb);
	if (garbage == NULL) {
		memcpy(key, "client/", 7);
		memcpy(key + 7, from, from_len);
		k = (TDB_DATA) { .dptr = key, .dsize = 7 + from_len };
		v = tdb_fetch(tdb, k);
		assert_non_null(v.dptr);
	} else {
		v.dptr = (uint8_t *)garbage;
		v.dsize = garbage_len;
	}
	memcpy(key, "client/", 7);
	memcpy(key + 7, to, to_len);
	k = (TDB_DATA) { .dptr = key, .dsize = 7 + to_len };
	assert_int_equal(tdb_store(tdb, k, v, TDB_REPLACE), 0);
	if (garbage == NULL) {
		free(v.dptr);
	}
	tdb_close(tdb);
}

/* 9: no record with cn_len 0 or > 1024 or cp_len > 32, no repeats */
static void test_d09_records_valid(void **state)
{
	struct test_ctx *ctx = *state;
	uint8_t long_id[1100];
	char max_id[1025];
	const struct emu_counters *c = NULL;
	struct emu_name a = name_of("valid-a");

	memset(long_id, 'L', sizeof(long_id));
	memset(max_id, 'M', 1024);
	max_id[1024] = '\0';

	daemon_start(ctx);
	nfsd_start(ctx);
	create(ctx, "valid-a");
	create(ctx, max_id);
	/* the format allows these on the pipe; they must not come back */
	talloc_free(raw_create(ctx, "", 0, -1));
	talloc_free(raw_create(ctx, "too-long", 1100, -1));
	talloc_free(raw_create(ctx, "bad-princhash", -1, 33));
	/* a Create repeated by a raw upcall must not repeat the record */
	talloc_free(raw_create(ctx, "valid-a", -1, -1));
	emu_nfsd_stop(ctx->emu);
	daemon_stop(ctx, SIGTERM);

	/* seed the store where its format allows: empty and long keys */
	tdb_clone_record(ctx, a.id, a.id_len, (const uint8_t *)"", 0,
			 NULL, 0);
	tdb_clone_record(ctx, a.id, a.id_len, long_id, sizeof(long_id),
			 NULL, 0);

	daemon_start(ctx);
	nfsd_start(ctx);
	c = emu_counters(ctx->emu);
	assert_int_equal(c->records_invalid, 0);
	assert_int_equal(c->gracestart_duplicates, 0);
	expect_reclaim(ctx, "valid-a", max_id, NULL);
	all_downcalls_accepted(ctx);
}

/* 10: created, then removed before the next GraceStart: not sent */
static void test_d10_removed_not_sent(void **state)
{
	struct test_ctx *ctx = *state;
	struct emu_name x = name_of("gone-x");
	struct emu_op op;

	daemon_start(ctx);
	nfsd_start(ctx);
	create(ctx, "gone-x");
	create(ctx, "stays-y");
	assert_int_equal(emu_client_expire(ctx->emu, &x, &op), 0);
	assert_true(op.upcall);
	assert_int_equal(op.status, 0);
	nfsd_restart(ctx);
	expect_reclaim(ctx, "stays-y", NULL);
}

/* 11: in the recovery set but not re-created before GraceDone: dropped */
static void test_d11_not_recreated_dropped(void **state)
{
	struct test_ctx *ctx = *state;
	struct emu_name a = name_of("back-a");
	struct emu_op op;

	daemon_start(ctx);
	nfsd_start(ctx);
	create(ctx, "back-a");
	create(ctx, "lost-b");
	nfsd_restart(ctx);
	expect_reclaim(ctx, "back-a", "lost-b", NULL);
	assert_int_equal(emu_grace_state(ctx->emu), EMU_GRACE_IN);

	assert_int_equal(emu_client_reclaim(ctx->emu, &a, &op), 0);
	assert_int_equal(op.nfs_status, EMU_NFS4_OK);
	reclaim_complete(ctx, "back-a");
	assert_int_equal(emu_reclaim_completes(ctx->emu), 1);
	assert_int_equal(emu_grace_state(ctx->emu), EMU_GRACE_IN);
	/* an administrator ends grace */
	assert_int_equal(emu_write_end_grace(ctx->emu), 0);
	assert_int_equal(emu_grace_wait(ctx->emu, REPLY_TIMEOUT_MS), 0);

	nfsd_restart(ctx);
	expect_reclaim(ctx, "back-a", NULL);
}

/* 12: nfsd restart during grace re-sends the recovery set, not X */
static void test_d12_restart_during_grace(void **state)
{
	struct test_ctx *ctx = *state;

	daemon_start(ctx);
	nfsd_start(ctx);
	create(ctx, "old-a");
	create(ctx, "old-b");
	nfsd_restart(ctx);
	expect_reclaim(ctx, "old-a", "old-b", NULL);
	create(ctx, "new-x");	/* not in the recovery set */
	assert_int_equal(emu_grace_state(ctx->emu), EMU_GRACE_IN);
	nfsd_restart(ctx);	/* no GraceDone in between */
	expect_reclaim(ctx, "old-a", "old-b", NULL);
}

/* 13: a Create answered 0 survives SIGKILL right after the reply */
static void test_d13_create_durable(void **state)
{
	struct test_ctx *ctx = *state;

	daemon_start(ctx);
	nfsd_start(ctx);
	create(ctx, "durable-a");
	daemon_stop(ctx, SIGKILL);
	emu_nfsd_stop(ctx->emu);
	daemon_start(ctx);
	nfsd_start(ctx);
	expect_reclaim(ctx, "durable-a", NULL);
}

/* 14: v1 Create and v2 Create with cp_len 0 store no princhash */
static void test_d14_no_princhash(void **state)
{
	struct test_ctx *ctx = *state;
	struct emu_name n;
	size_t i;

	daemon_start(ctx);
	emu_set_version_max(ctx->emu, 1);
	nfsd_start(ctx);
	assert_int_equal(emu_tracker(ctx->emu), EMU_TRACK_V1);
	create(ctx, "v1-client");
	emu_nfsd_stop(ctx->emu);

	emu_set_version_max(ctx->emu, 2);
	nfsd_start(ctx);
	assert_int_equal(emu_tracker(ctx->emu), EMU_TRACK_V2);
	expect_reclaim(ctx, "v1-client", NULL);
	reclaim_complete(ctx, "v1-client");	/* v2 Create, cp_len 0 */
	create(ctx, "v2-client");		/* v2 Create, cp_len 0 */
	assert_int_equal(emu_grace_wait(ctx->emu, REPLY_TIMEOUT_MS), 0);

	nfsd_restart(ctx);
	expect_reclaim(ctx, "v1-client", "v2-client", NULL);
	for (i = 0; emu_reclaim_get(ctx->emu, i, &n); i++) {
		assert_int_equal(n.princhash_len, 0);
	}
}

/* 15: invalid Create -> -EINVAL, nothing stored */
static void test_d15_invalid_create(void **state)
{
	struct test_ctx *ctx = *state;
	struct emu_upcall *up = NULL;
	struct cld_msg reply;

	daemon_start(ctx);
	nfsd_start(ctx);

	up = raw_create(ctx, "", 0, -1);
	assert_int_equal(emu_upcall_result(up, &reply), 0);
	assert_int_equal(reply.status, -EINVAL);
	up = raw_create(ctx, "too-long", 1025, -1);
	assert_int_equal(emu_upcall_result(up, &reply), 0);
	assert_int_equal(reply.status, -EINVAL);
	up = raw_create(ctx, "hash-33", -1, 33);
	assert_int_equal(emu_upcall_result(up, &reply), 0);
	assert_int_equal(reply.status, -EINVAL);

	nfsd_restart(ctx);
	expect_reclaim(ctx, NULL);
	assert_int_equal(emu_grace_state(ctx->emu), EMU_GRACE_OVER);
	all_downcalls_accepted(ctx);
}

/* Fill the file system under path until ENOSPC */
static void fill_fs(const char *path)
{
	char buf[4096];
	int fd;
	ssize_t n;

	memset(buf, 0xee, sizeof(buf));
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_int_not_equal(fd, -1);
	do {
		n = write(fd, buf, sizeof(buf));
	} while (n > 0);
	/* the last partial page */
	do {
		n = write(fd, buf, 1);
	} while (n > 0);
	close(fd);
}

/* 16: storage unwritable -> Create answered -121, daemon keeps serving */
static void test_d16_storage_full(void **state)
{
	struct test_ctx *ctx = *state;
	char *filler = talloc_asprintf(ctx->mem, "%s/filler", ctx->storage);
	char id[1001];
	struct emu_name n;
	struct emu_op op;
	int i;
	int failed_at = -1;

	/* root ignores file modes: a full file system is what stops it */
	if (mount("tmpfs", ctx->storage, "tmpfs", 0,
		  "size=" TMPFS_SIZE ",mode=0700") != 0) {
		printf("cannot mount a tmpfs on %s: %s\n", ctx->storage,
		       strerror(errno));
		skip();
	}
	ctx->tmpfs = true;

	daemon_start(ctx);
	nfsd_start(ctx);
	create(ctx, "before-full");
	fill_fs(filler);

	memset(id, 'f', 1000);
	id[1000] = '\0';
	for (i = 0; i < 300 && failed_at < 0; i++) {
		snprintf(id, 12, "full-%05d-", i);
		id[11] = 'f';
		n = name_of(id);
		assert_int_equal(emu_client_create(ctx->emu, &n, &op), 0);
		assert_true(op.upcall);
		if (op.status != 0) {
			assert_int_equal(op.status, -EREMOTEIO);
			failed_at = i;
		}
	}
	printf("first Create refused after %d on a full file system\n",
	       failed_at);
	assert_true(failed_at >= 0);
	assert_true(daemon_alive(ctx));

	/* space again: the daemon keeps serving */
	assert_int_equal(unlink(filler), 0);
	create(ctx, "after-full");
	nfsd_restart(ctx);
	assert_true(emu_reclaim_contains(ctx->emu,
					 (const uint8_t *)"before-full", 11));
	assert_true(emu_reclaim_contains(ctx->emu,
					 (const uint8_t *)"after-full", 10));
	all_downcalls_accepted(ctx);
}

/* 17: unknown cm_cmd -> -EOPNOTSUPP, same xid and size */
static void test_d17_unknown_command(void **state)
{
	struct test_ctx *ctx = *state;
	struct cld_msg msg = {
		.vers = 2,
		.cmd = 6,
	};
	struct emu_upcall *up = NULL;
	struct cld_msg reply;
	size_t i;
	bool seen = false;

	daemon_start(ctx);
	nfsd_start(ctx);
	assert_int_equal(emu_upcall_send(ctx->emu, ctx->mem, &msg, &up), 0);
	assert_int_equal(emu_upcall_wait(ctx->emu, up, REPLY_TIMEOUT_MS), 0);
	assert_int_equal(emu_upcall_result(up, &reply), 0);
	assert_int_equal(reply.status, -EOPNOTSUPP);
	assert_int_equal(reply.xid, emu_upcall_xid(up));
	for (i = 0; i < ctx->ntrace; i++) {
		if (ctx->trace[i].downcall &&
		    ctx->trace[i].msg.xid == emu_upcall_xid(up)) {
			assert_int_equal(ctx->trace[i].len, 1067);
			seen = true;
		}
	}
	assert_true(seen);
	create(ctx, "after-unknown");
	all_downcalls_accepted(ctx);
}

/* 18: v0 Check: known id -> 0 and re-created; unknown -> -EACCES */
static void test_d18_v0_check(void **state)
{
	struct test_ctx *ctx = *state;
	struct emu_name a = name_of("check-a");
	struct emu_name u = name_of("check-unknown");
	struct emu_op op;

	daemon_start(ctx);
	nfsd_start(ctx);
	create(ctx, "check-a");
	create(ctx, "check-b");
	emu_nfsd_stop(ctx->emu);

	emu_set_version_max(ctx->emu, 0);
	nfsd_start(ctx);
	assert_int_equal(emu_tracker(ctx->emu), EMU_TRACK_V0);
	assert_int_equal(emu_grace_state(ctx->emu), EMU_GRACE_IN);

	assert_int_equal(emu_client_reclaim(ctx->emu, &a, &op), 0);
	assert_true(op.upcall);
	assert_int_equal(op.status, 0);
	assert_int_equal(op.nfs_status, EMU_NFS4_OK);
	assert_true(emu_client_stable(ctx->emu, &a));

	assert_int_equal(emu_client_reclaim(ctx->emu, &u, &op), 0);
	assert_true(op.upcall);
	assert_int_equal(op.status, -EACCES);
	assert_int_equal(op.nfs_status, EMU_NFS4ERR_RECLAIM_BAD);

	/* grace ends: GraceDone (v0, with cm_gracetime) */
	assert_int_equal(emu_write_end_grace(ctx->emu), 0);
	assert_int_equal(emu_grace_wait(ctx->emu, REPLY_TIMEOUT_MS), 0);

	/* A is in the current set; B did not reclaim */
	emu_set_version_max(ctx->emu, 2);
	nfsd_restart(ctx);
	expect_reclaim(ctx, "check-a", NULL);
	all_downcalls_accepted(ctx);
}

/* 19: upcalls queued before the daemon opened the pipe are answered */
static void test_d19_queued_before_open(void **state)
{
	struct test_ctx *ctx = *state;
	struct emu_name a = name_of("queued-a");
	struct emu_name b = name_of("queued-b");
	struct emu_upcall *ua = NULL;
	struct emu_upcall *ub = NULL;
	struct cld_msg reply;

	daemon_start(ctx);
	nfsd_start(ctx);
	daemon_stop(ctx, SIGTERM);
	emu_sleep(ctx->emu, 200);
	assert_int_equal(emu_connections(ctx->emu), 0);

	assert_int_equal(emu_create_send(ctx->emu, ctx->mem, &a, &ua), 0);
	assert_int_equal(emu_create_send(ctx->emu, ctx->mem, &b, &ub), 0);
	emu_sleep(ctx->emu, 1000);
	assert_false(emu_upcall_done(ua));

	daemon_start(ctx);
	assert_int_equal(emu_upcall_wait(ctx->emu, ua, REPLY_TIMEOUT_MS), 0);
	assert_int_equal(emu_upcall_wait(ctx->emu, ub, REPLY_TIMEOUT_MS), 0);
	assert_int_equal(emu_upcall_result(ua, &reply), 0);
	assert_int_equal(reply.status, 0);
	assert_int_equal(emu_upcall_result(ub, &reply), 0);
	assert_int_equal(reply.status, 0);
	assert_int_equal(emu_counters(ctx->emu)->timeouts, 0);

	nfsd_restart(ctx);
	expect_reclaim(ctx, "queued-a", "queued-b", NULL);
}

/* 20: after unlink/re-create: opened within 1 s, GetVersion xid 0 */
static void test_d20_reopen_after_recreate(void **state)
{
	struct test_ctx *ctx = *state;
	size_t mark;
	size_t i;
	bool answered = false;
	long gv;

	daemon_start(ctx);
	nfsd_start(ctx);
	emu_nfsd_stop(ctx->emu);
	mark = ctx->ntrace;
	nfsd_start(ctx);	/* opened within the 1 s window */

	gv = tr_last_upcall(ctx, CLD_GET_VERSION);
	assert_true(gv >= (long)mark);
	assert_int_equal(ctx->trace[gv].msg.xid, 0);
	for (i = (size_t)gv + 1; i < ctx->ntrace; i++) {
		if (ctx->trace[i].downcall && ctx->trace[i].msg.xid == 0) {
			assert_int_equal(ctx->trace[i].verdict, 0);
			assert_int_equal(ctx->trace[i].msg.version, 2);
			answered = true;
			break;
		}
	}
	assert_true(answered);
}

/* 21: a reopening daemon never lets the reader count drop to 0 */
static void test_d21_reopen_keeps_reader(void **state)
{
	struct test_ctx *ctx = *state;
	uint8_t garbage[CLD_MSG_V2_SIZE] = { 9, CLD_CREATE };
	struct emu_upcall *ups[5] = { NULL };
	struct cld_msg reply;
	uint64_t opens;
	char id[32];
	int i;

	daemon_start(ctx);
	nfsd_start(ctx);
	opens = emu_counters(ctx->emu)->opens;

	/* unknown cm_vers: the daemon reopens; upcalls are right behind */
	assert_int_equal(emu_send_raw(ctx->emu, garbage, sizeof(garbage)),
			 0);
	for (i = 0; i < 5; i++) {
		struct emu_name n;

		snprintf(id, sizeof(id), "reopen-%d", i);
		n = name_of(id);
		assert_int_equal(emu_create_send(ctx->emu, ctx->mem, &n,
						 &ups[i]), 0);
	}
	for (i = 0; i < 5; i++) {
		assert_int_equal(emu_upcall_wait(ctx->emu, ups[i],
						 REPLY_TIMEOUT_MS), 0);
		assert_int_equal(emu_upcall_result(ups[i], &reply), 0);
		assert_int_equal(reply.status, 0);
	}
	emu_sleep(ctx->emu, 200);
	assert_true(emu_counters(ctx->emu)->opens > opens);
	assert_int_equal(emu_counters(ctx->emu)->reader_gaps, 0);
	assert_int_equal(emu_connections(ctx->emu), 1);
}

/* 25: the daemon never writes v4_end_grace */
static void test_d25_no_end_grace_write(void **state)
{
	struct test_ctx *ctx = *state;
	char *gt = talloc_asprintf(ctx->mem, "%s/nfsv4gracetime", ctx->procfs);
	struct emu_name a = name_of("eg-a");
	struct emu_op op;
	char buf[8] = "";
	FILE *f = NULL;

	/* point the daemon at the emulator's /proc/fs/nfsd */
	ctx->conf = talloc_asprintf(ctx->mem, "%s/cltrack.conf", ctx->dir);
	write_file(ctx->conf, talloc_asprintf(ctx->mem, "[nfsd]\n"
					       "procfs dir = %s\n",
					       ctx->procfs));
	write_file(gt, "2\n");

	daemon_start(ctx);
	nfsd_start(ctx);
	create(ctx, "eg-a");
	create(ctx, "eg-b");

	/* grace ended by the kernel: all clients reclaimed */
	nfsd_restart(ctx);
	assert_int_equal(emu_grace_state(ctx->emu), EMU_GRACE_IN);
	assert_int_equal(emu_client_reclaim(ctx->emu, &a, &op), 0);
	assert_int_equal(op.nfs_status, EMU_NFS4_OK);
	reclaim_complete(ctx, "eg-a");
	reclaim_complete(ctx, "eg-b");
	assert_int_equal(emu_grace_wait(ctx->emu, REPLY_TIMEOUT_MS), 0);

	/* grace ended by the timer */
	nfsd_restart(ctx);
	expect_reclaim(ctx, "eg-a", "eg-b", NULL);
	assert_int_equal(emu_grace_wait(ctx->emu, REPLY_TIMEOUT_MS), 0);
	emu_sleep(ctx->emu, 500);

	assert_int_equal(emu_counters(ctx->emu)->end_grace_writes, 0);
	f = fopen(talloc_asprintf(ctx->mem, "%s/v4_end_grace", ctx->procfs),
		  "r");
	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	assert_string_equal(buf, "Y\n");
}

/* ------------------------------------------------------------------ */
/* Beyond the checklist                                                */

/* kill -9 mid-run, new daemon on the same pipe: nothing acknowledged lost */
static void test_daemon_killed_mid_run(void **state)
{
	struct test_ctx *ctx = *state;
	struct emu_name f = name_of("mid-f");
	struct emu_upcall *up = NULL;
	struct cld_msg reply;

	daemon_start(ctx);
	nfsd_start(ctx);
	create(ctx, "mid-a");
	create(ctx, "mid-b");
	create(ctx, "mid-c");
	daemon_stop(ctx, SIGKILL);

	/* nfsd keeps running; this Create waits for a reader */
	assert_int_equal(emu_create_send(ctx->emu, ctx->mem, &f, &up), 0);
	emu_sleep(ctx->emu, 300);
	assert_false(emu_upcall_done(up));

	daemon_start(ctx);	/* finds the existing pipe and opens it */
	assert_int_equal(emu_upcall_wait(ctx->emu, up, REPLY_TIMEOUT_MS), 0);
	assert_int_equal(emu_upcall_result(up, &reply), 0);
	assert_int_equal(reply.status, 0);
	create(ctx, "mid-g");

	nfsd_restart(ctx);
	expect_reclaim(ctx, "mid-a", "mid-b", "mid-c", "mid-f", "mid-g",
		       NULL);
	all_downcalls_accepted(ctx);
}

/* wrong sizes and unknown cm_vers: the daemon logs, reopens, serves on */
static void test_garbage_on_pipe(void **state)
{
	struct test_ctx *ctx = *state;
	static const struct {
		uint8_t vers;
		size_t len;
	} garbage[] = {
		{ 1, 10 },
		{ 1, 1033 },
		{ 2, 1068 },
		{ 2, 2000 },
		{ 1, 1067 },	/* a v2-sized message claiming v1 */
		{ 3, 1067 },	/* unknown cm_vers */
		{ 0, 1034 },
		{ 255, 8 },
	};
	uint8_t buf[2000];
	uint64_t opens;
	char id[32];
	size_t i;

	daemon_start(ctx);
	nfsd_start(ctx);
	opens = emu_counters(ctx->emu)->opens;

	for (i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++) {
		memset(buf, 0x5a, sizeof(buf));
		buf[0] = garbage[i].vers;
		buf[1] = CLD_CREATE;
		assert_int_equal(emu_send_raw(ctx->emu, buf, garbage[i].len),
				 0);
		snprintf(id, sizeof(id), "after-garbage-%zu", i);
		create(ctx, id);
		assert_true(daemon_alive(ctx));
	}
	assert_true(emu_counters(ctx->emu)->opens > opens);
	assert_int_equal(emu_counters(ctx->emu)->reader_gaps, 0);
}

/* 64 Creates in flight: each answered once, with its own xid */
static void test_64_concurrent_creates(void **state)
{
	struct test_ctx *ctx = *state;
	struct emu_upcall *ups[64] = { NULL };
	struct cld_msg reply;
	char id[32];
	int i;
	int j;

	daemon_start(ctx);
	nfsd_start(ctx);
	for (i = 0; i < 64; i++) {
		struct emu_name n;

		snprintf(id, sizeof(id), "many-%02d", i);
		n = name_of(id);
		assert_int_equal(emu_create_send(ctx->emu, ctx->mem, &n,
						 &ups[i]), 0);
		for (j = 0; j < i; j++) {
			assert_int_not_equal(emu_upcall_xid(ups[i]),
					     emu_upcall_xid(ups[j]));
		}
	}
	assert_int_equal(emu_pending(ctx->emu), 64);
	for (i = 0; i < 64; i++) {
		assert_int_equal(emu_upcall_wait(ctx->emu, ups[i],
						 REPLY_TIMEOUT_MS), 0);
		assert_int_equal(emu_upcall_result(ups[i], &reply), 0);
		assert_int_equal(reply.xid, emu_upcall_xid(ups[i]));
		assert_int_equal(reply.status, 0);
		assert_int_equal(reply.cmd, CLD_CREATE);
	}
	emu_sleep(ctx->emu, 200);
	all_downcalls_accepted(ctx);

	nfsd_restart(ctx);
	assert_int_equal(emu_reclaim_count(ctx->emu), 64);
	assert_int_equal(emu_counters(ctx->emu)->gracestart_duplicates, 0);
}

/* A corrupt client record: skipped at GraceStart, the daemon serves on */
static void test_corrupt_record_skipped(void **state)
{
	struct test_ctx *ctx = *state;
	static const uint8_t junk[] = { 0xff, 0x13, 0x37, 0x00, 0x42 };

	daemon_start(ctx);
	nfsd_start(ctx);
	create(ctx, "good-a");
	create(ctx, "bad-b");
	emu_nfsd_stop(ctx->emu);
	daemon_stop(ctx, SIGTERM);

	tdb_clone_record(ctx, NULL, 0, (const uint8_t *)"bad-b", 5, junk,
			 sizeof(junk));
	tdb_clone_record(ctx, NULL, 0, (const uint8_t *)"bad-c", 5, junk, 1);

	daemon_start(ctx);
	nfsd_start(ctx);
	expect_reclaim(ctx, "good-a", NULL);
	create(ctx, "after-corrupt");
	assert_true(daemon_alive(ctx));
	all_downcalls_accepted(ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_d01_opens_new_pipe),
		T(test_d02_get_version),
		T(test_d03_reply_sizes),
		T(test_d04_xids_echoed),
		T(test_d05_v1_back_to_back),
		T(test_d06_grace_start_empty),
		T(test_d07_grace_start_records),
		T(test_d08_records_before_final),
		T(test_d09_records_valid),
		T(test_d10_removed_not_sent),
		T(test_d11_not_recreated_dropped),
		T(test_d12_restart_during_grace),
		T(test_d13_create_durable),
		T(test_d14_no_princhash),
		T(test_d15_invalid_create),
		T(test_d16_storage_full),
		T(test_d17_unknown_command),
		T(test_d18_v0_check),
		T(test_d19_queued_before_open),
		T(test_d20_reopen_after_recreate),
		T(test_d21_reopen_keeps_reader),
		T(test_d25_no_end_grace_write),
		T(test_daemon_killed_mid_run),
		T(test_garbage_on_pipe),
		T(test_64_concurrent_creates),
		T(test_corrupt_record_skipped),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
