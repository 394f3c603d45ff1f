/*
 * Self-checks of the knfsd emulator (selftest/knfsd-emu) against a tiny
 * scripted fake daemon, so that the emulator's kernel rules are tested
 * without cltrackd: xids, the start sequence and its fallbacks, the §4.4
 * downcall checks, record validation per profile, STABLE, grace, the
 * no-reader timer, re-queueing and -EPIPE on stop.
 *
 * The fake daemon is a forked child that connects to <pipefs>/nfsd/cld
 * (again after every close) and answers as struct fake_opts says.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
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
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <talloc.h>

#include "cld_msg.h"
#include "emu.h"

#define WAIT_MS		5000

struct fake_record {
	const char *id;
	int cn_len;		/* -1: strlen(id) */
	int cp_len;		/* v2 only; bytes are 0x11 */
};

struct fake_opts {
	int version;			/* GetVersion reply */
	int16_t get_version_status;
	int16_t grace_start_status;
	struct fake_record records[8];
	int16_t create_status;
	int16_t check_status;
	bool silent_get_version;	/* never answer GetVersion */
	bool bad_replies;		/* wrong size, xid, cmd before a Create reply */
	bool drop_first_create;		/* read a Create, close, reconnect */
	bool ignore_creates;		/* read Creates, never answer */
};

struct test_ctx {
	char *dir;
	char *pipefs;
	char *procfs;
	struct emu_opts opts;
	struct emu *emu;
	pid_t fake;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------ */
/* The fake daemon (child process)                                     */

static int fake_connect(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	strncpy(sun.sun_path, path, sizeof(sun.sun_path) - 1);
	for (;;) {
		fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
		if (fd == -1) {
			_exit(2);
		}
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
			return fd;
		}
		close(fd);
		usleep(5000);
	}
}

static void fake_send(int fd, struct cld_msg *msg, int16_t status)
{
	uint8_t buf[CLD_MSG_MAX_SIZE];
	size_t len;

	msg->status = status;
	len = cld_msg_push(msg, buf, sizeof(buf));
	if (len == 0 || send(fd, buf, len, MSG_NOSIGNAL) != (ssize_t)len) {
		_exit(3);
	}
}

static void fake_grace_start(int fd, const struct fake_opts *fo,
			     const struct cld_msg *up)
{
	uint8_t buf[CLD_MSG_MAX_SIZE];
	struct cld_msg rec;
	const struct fake_record *r = NULL;
	uint16_t cn_len;
	size_t len;
	size_t i;

	for (i = 0; i < 8 && fo->records[i].id != NULL; i++) {
		r = &fo->records[i];
		rec = (struct cld_msg) {
			.vers = up->vers,
			.cmd = CLD_GRACE_START,
			.status = -EINPROGRESS,
			.xid = up->xid,
			.name_len = (uint16_t)strlen(r->id),
		};
		memcpy(rec.name, r->id, rec.name_len);
		len = cld_msg_push(&rec, buf, sizeof(buf));
		if (r->cn_len >= 0) {
			cn_len = (uint16_t)r->cn_len;
			memcpy(buf + 8, &cn_len, 2);
		}
		if (up->vers == 2 && r->cp_len > 0) {
			buf[1034] = (uint8_t)r->cp_len;
			memset(buf + 1035, 0x11, 32);
		}
		send(fd, buf, len, MSG_NOSIGNAL);
	}
	rec = *up;
	fake_send(fd, &rec, fo->grace_start_status);
}

static void fake_bad_replies(int fd, struct cld_msg *msg)
{
	uint8_t buf[CLD_MSG_MAX_SIZE];
	struct cld_msg m = *msg;
	size_t len;

	/* wrong size: one byte short */
	len = cld_msg_push(&m, buf, sizeof(buf));
	send(fd, buf, len - 1, MSG_NOSIGNAL);
	/* unknown xid */
	m.xid = msg->xid + 1000;
	fake_send(fd, &m, 0);
	/* -EINPROGRESS on a Create reply */
	m = *msg;
	fake_send(fd, &m, -EINPROGRESS);
}

static void fake_serve(int fd, const struct fake_opts *fo, bool *dropped)
{
	uint8_t buf[4096];
	struct cld_msg msg;
	ssize_t n;

	for (;;) {
		n = recv(fd, buf, sizeof(buf), 0);
		if (n <= 0) {
			return;
		}
		if (cld_msg_pull(buf, (size_t)n, &msg) != 0) {
			continue;
		}
		switch (msg.cmd) {
		case CLD_GET_VERSION:
			if (fo->silent_get_version) {
				break;
			}
			msg.version = (uint8_t)fo->version;
			fake_send(fd, &msg, fo->get_version_status);
			break;
		case CLD_GRACE_START:
			fake_grace_start(fd, fo, &msg);
			break;
		case CLD_CREATE:
			if (fo->drop_first_create && !*dropped) {
				*dropped = true;
				return;
			}
			if (fo->ignore_creates) {
				break;
			}
			if (fo->bad_replies) {
				fake_bad_replies(fd, &msg);
			}
			fake_send(fd, &msg, fo->create_status);
			break;
		case CLD_CHECK:
			fake_send(fd, &msg, fo->check_status);
			break;
		default:
			fake_send(fd, &msg, 0);
			break;
		}
	}
}

static void fake_start(struct test_ctx *ctx, const struct fake_opts *fo)
{
	char *path = talloc_asprintf(ctx, "%s/nfsd/cld", ctx->pipefs);
	bool dropped = false;
	pid_t pid;
	int fd;

	assert_non_null(path);
	fflush(stdout);
	pid = fork();
	assert_int_not_equal(pid, -1);
	if (pid == 0) {
		close_range(3, ~0U, 0);
		for (;;) {
			fd = fake_connect(path);
			fake_serve(fd, fo, &dropped);
			close(fd);
		}
	}
	ctx->fake = pid;
}

static void fake_stop(struct test_ctx *ctx)
{
	int status;

	if (ctx->fake <= 0) {
		return;
	}
	kill(ctx->fake, SIGKILL);
	waitpid(ctx->fake, &status, 0);
	ctx->fake = 0;
}

/* ------------------------------------------------------------------ */

static int rm_entry(const char *path, const struct stat *sb, int type,
		    struct FTW *ftw)
{
	return remove(path);
}

static int setup(void **state)
{
	struct test_ctx *ctx = talloc_zero(NULL, struct test_ctx);
	char tmpl[] = "/tmp/knfsd-emu-XXXXXX";

	assert_non_null(ctx);
	assert_non_null(mkdtemp(tmpl));
	ctx->dir = talloc_strdup(ctx, tmpl);
	ctx->pipefs = talloc_asprintf(ctx, "%s/pipefs", tmpl);
	ctx->procfs = talloc_asprintf(ctx, "%s/proc", tmpl);
	emu_opts_init(&ctx->opts);
	ctx->opts.pipefs_dir = ctx->pipefs;
	ctx->opts.procfs_dir = ctx->procfs;
	ctx->opts.grace_time = 10;
	ctx->opts.hang_ms = 2000;
	ctx->opts.verbose = getenv("CLTRACK_TEST_VERBOSE") != NULL;
	*state = ctx;
	return 0;
}

static void emu_up(struct test_ctx *ctx)
{
	assert_int_equal(emu_init(ctx, &ctx->opts, &ctx->emu), 0);
}

static int teardown(void **state)
{
	struct test_ctx *ctx = *state;

	fake_stop(ctx);
	TALLOC_FREE(ctx->emu);
	nftw(ctx->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	talloc_free(ctx);
	return 0;
}

static struct emu_name name_of(const char *id)
{
	return (struct emu_name) {
		.id = (const uint8_t *)id,
		.id_len = strlen(id),
	};
}

static char *read_proc(struct test_ctx *ctx, const char *file)
{
	char *path = talloc_asprintf(ctx, "%s/%s", ctx->procfs, file);
	char buf[32] = "";
	FILE *f = fopen(path, "r");

	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	return talloc_strdup(ctx, buf);
}

/* ------------------------------------------------------------------ */

/* §4.3, §5.1: GetVersion 0, GraceStart 1, GraceDone 2; restart at 0 */
static void test_start_xids(void **state)
{
	struct test_ctx *ctx = *state;
	struct fake_opts fo = { .version = 2 };
	struct emu_name a = name_of("a");
	struct emu_op op;

	emu_up(ctx);
	fake_start(ctx, &fo);
	assert_int_equal(emu_nfsd_start(ctx->emu), 0);
	assert_int_equal(emu_tracker(ctx->emu), EMU_TRACK_V2);
	/* empty list: no grace, GraceDone at once, v4_end_grace Y */
	assert_int_equal(emu_grace_state(ctx->emu), EMU_GRACE_OVER);
	assert_int_equal(emu_next_xid(ctx->emu), 3);
	assert_string_equal(read_proc(ctx, "v4_end_grace"), "Y\n");
	assert_string_equal(read_proc(ctx, "nfsv4gracetime"), "10\n");

	assert_int_equal(emu_client_create(ctx->emu, &a, &op), 0);
	assert_int_equal(op.xid, 3);
	assert_int_equal(emu_nfsd_restart(ctx->emu), 0);
	assert_int_equal(emu_next_xid(ctx->emu), 3);
	assert_int_equal(emu_counters(ctx->emu)->opens, 2);
	assert_int_equal(emu_counters(ctx->emu)->rejected_downcalls, 0);
}

/* §5.2: the GetVersion reply is clamped to [1, 2] and to version_max */
static void test_version_clamp(void **state)
{
	struct test_ctx *ctx = *state;
	struct fake_opts fo = { .version = 0 };

	emu_up(ctx);
	fake_start(ctx, &fo);
	assert_int_equal(emu_nfsd_start(ctx->emu), 0);
	assert_int_equal(emu_tracker(ctx->emu), EMU_TRACK_V1);
	fake_stop(ctx);
	emu_nfsd_stop(ctx->emu);

	fo.version = 7;
	fake_start(ctx, &fo);
	assert_int_equal(emu_nfsd_start(ctx->emu), 0);
	assert_int_equal(emu_tracker(ctx->emu), EMU_TRACK_V2);
	emu_nfsd_stop(ctx->emu);

	emu_set_version_max(ctx->emu, 1);
	assert_int_equal(emu_nfsd_start(ctx->emu), 0);
	assert_int_equal(emu_tracker(ctx->emu), EMU_TRACK_V1);
	emu_nfsd_stop(ctx->emu);

	/* GetVersion failing: v1 ops, GraceStart still follows */
	fake_stop(ctx);
	fo.get_version_status = -EOPNOTSUPP;
	fake_start(ctx, &fo);
	emu_set_version_max(ctx->emu, 2);
	assert_int_equal(emu_nfsd_start(ctx->emu), 0);
	assert_int_equal(emu_tracker(ctx->emu), EMU_TRACK_V1);
}

/* §5.1 step 2: nobody opens within ~1 s -> -ETIMEDOUT, no v0 */
static void test_no_opener(void **state)
{
	struct test_ctx *ctx = *state;
	struct emu_name a = name_of("a");
	struct emu_op op;
	char *path = NULL;
	uint64_t t0;
	uint64_t took;

	emu_up(ctx);
	path = talloc_asprintf(ctx, "%s/nfsd/cld", ctx->pipefs);
	t0 = now_ms();
	assert_int_equal(emu_nfsd_start(ctx->emu), ETIMEDOUT);
	took = now_ms() - t0;
	assert_true(took >= 1000 && took < 2500);
	assert_int_equal(emu_tracker(ctx->emu), EMU_TRACK_NONE);
	assert_int_not_equal(access(path, F_OK), 0);	/* unlinked */
	/* nfsd runs in a full grace; every reclaim is refused */
	assert_int_equal(emu_grace_state(ctx->emu), EMU_GRACE_IN);
	assert_int_equal(emu_client_reclaim(ctx->emu, &a, &op), 0);
	assert_int_equal(op.nfs_status, EMU_NFS4ERR_RECLAIM_BAD);
	assert_false(op.upcall);
}

/* §5.1 step 5: GraceStart fails -> v0 ops on a fresh pipe */
static void test_v0_fallback(void **state)
{
	struct test_ctx *ctx = *state;
	struct fake_opts fo = {
		.version = 2,
		.grace_start_status = -EOPNOTSUPP,
		.check_status = -EACCES,
	};
	struct emu_name a = name_of("a");
	struct emu_op op;

	emu_up(ctx);
	fake_start(ctx, &fo);
	assert_int_equal(emu_nfsd_start(ctx->emu), 0);
	assert_int_equal(emu_tracker(ctx->emu), EMU_TRACK_V0);
	assert_int_equal(emu_next_xid(ctx->emu), 0);	/* new xid space */
	assert_int_equal(emu_grace_state(ctx->emu), EMU_GRACE_IN);

	/* v0 reclaim: a Check upcall; STABLE even on -EACCES (§4.5) */
	assert_int_equal(emu_client_reclaim(ctx->emu, &a, &op), 0);
	assert_true(op.upcall);
	assert_int_equal(op.xid, 0);
	assert_int_equal(op.status, -EACCES);
	assert_int_equal(op.nfs_status, EMU_NFS4ERR_RECLAIM_BAD);
	assert_true(emu_client_stable(ctx->emu, &a));
}

/* §4.4: wrong size, unknown xid, -EINPROGRESS with cm_cmd != 4 */
static void test_downcall_checks(void **state)
{
	struct test_ctx *ctx = *state;
	struct fake_opts fo = { .version = 2, .bad_replies = true };
	struct emu_name a = name_of("a");
	struct emu_op op;
	const struct emu_counters *c = NULL;

	emu_up(ctx);
	fake_start(ctx, &fo);
	assert_int_equal(emu_nfsd_start(ctx->emu), 0);
	assert_int_equal(emu_client_create(ctx->emu, &a, &op), 0);
	assert_int_equal(op.status, 0);
	c = emu_counters(ctx->emu);
	assert_int_equal(c->rejected_size, 1);
	assert_int_equal(c->rejected_xid, 1);
	assert_int_equal(c->rejected_cmd, 1);
	assert_int_equal(c->rejected_downcalls, 3);
}

/* §5.3: no de-duplication; validation per profile */
static void test_records_profile_a(void **state)
{
	struct test_ctx *ctx = *state;
	struct fake_opts fo = {
		.version = 2,
		.records = {
			{ "a", -1, 0 },
			{ "a", -1, 0 },
			{ "", 0, 0 },
			{ "long", 1100, 0 },
			{ "ph33", -1, 33 },
			{ "ph32", -1, 32 },
		},
	};
	const struct emu_counters *c = NULL;

	emu_up(ctx);
	fake_start(ctx, &fo);
	assert_int_equal(emu_nfsd_start(ctx->emu), 0);
	c = emu_counters(ctx->emu);
	/* A: only cn_len 0 is refused (CVE-2024-47692 fix) */
	assert_int_equal(emu_reclaim_count(ctx->emu), 5);
	assert_int_equal(c->gracestart_duplicates, 1);
	assert_int_equal(c->records_invalid, 3);
	assert_int_equal(c->records_rejected, 1);
	assert_int_equal(c->rejected_downcalls, 0);
	assert_int_equal(emu_grace_state(ctx->emu), EMU_GRACE_IN);
}

static void test_records_profile_b(void **state)
{
	struct test_ctx *ctx = *state;
	struct fake_opts fo = {
		.version = 2,
		.records = {
			{ "a", -1, 0 },
			{ "", 0, 0 },
			{ "long", 1025, 0 },
			{ "ph33", -1, 33 },
		},
	};
	struct emu_name n;

	ctx->opts.profile = 'B';
	emu_up(ctx);
	fake_start(ctx, &fo);
	assert_int_equal(emu_nfsd_start(ctx->emu), 0);
	assert_int_equal(emu_reclaim_count(ctx->emu), 1);
	assert_true(emu_reclaim_get(ctx->emu, 0, &n));
	assert_int_equal(n.id_len, 1);
	assert_int_equal(emu_counters(ctx->emu)->records_rejected, 3);
}

/* §5.4, §5.5: reclaims, RECLAIM_COMPLETE counting, early grace end */
static void test_grace_all_reclaimed(void **state)
{
	struct test_ctx *ctx = *state;
	struct fake_opts fo = {
		.version = 2,
		.records = { { "a", -1, 0 }, { "b", -1, 32 } },
	};
	uint8_t good[32];
	uint8_t bad[32];
	struct emu_name a = name_of("a");
	struct emu_name b = name_of("b");
	struct emu_name x = name_of("x");
	struct emu_op op;

	memset(good, 0x11, sizeof(good));
	memset(bad, 0x22, sizeof(bad));
	emu_up(ctx);
	fake_start(ctx, &fo);
	assert_int_equal(emu_nfsd_start(ctx->emu), 0);
	assert_int_equal(emu_grace_state(ctx->emu), EMU_GRACE_IN);
	assert_string_equal(read_proc(ctx, "v4_end_grace"), "N\n");

	assert_int_equal(emu_client_reclaim(ctx->emu, &a, &op), 0);
	assert_int_equal(op.nfs_status, EMU_NFS4_OK);
	assert_false(op.upcall);
	assert_int_equal(emu_client_reclaim(ctx->emu, &x, &op), 0);
	assert_int_equal(op.nfs_status, EMU_NFS4ERR_RECLAIM_BAD);
	/* b's record has a principal hash: it must match */
	assert_int_equal(emu_client_reclaim(ctx->emu, &b, &op), 0);
	assert_int_equal(op.nfs_status, EMU_NFS4ERR_RECLAIM_BAD);
	b.princhash = bad;
	b.princhash_len = 32;
	assert_int_equal(emu_client_reclaim(ctx->emu, &b, &op), 0);
	assert_int_equal(op.nfs_status, EMU_NFS4ERR_RECLAIM_BAD);
	b.princhash = good;
	assert_int_equal(emu_client_reclaim(ctx->emu, &b, &op), 0);
	assert_int_equal(op.nfs_status, EMU_NFS4_OK);

	/* a non-listed client's RECLAIM_COMPLETE does not count */
	assert_int_equal(emu_client_reclaim_complete(ctx->emu, &x, &op), 0);
	assert_true(op.upcall);		/* Create: not STABLE */
	assert_int_equal(emu_reclaim_completes(ctx->emu), 0);
	assert_int_equal(emu_client_reclaim_complete(ctx->emu, &a, &op), 0);
	assert_int_equal(op.nfs_status, EMU_NFS4_OK);
	assert_int_equal(emu_reclaim_completes(ctx->emu), 1);
	assert_int_equal(emu_client_reclaim(ctx->emu, &a, &op), 0);
	assert_int_equal(op.nfs_status, EMU_NFS4ERR_NO_GRACE);
	assert_int_equal(emu_client_reclaim_complete(ctx->emu, &a, &op), 0);
	assert_int_equal(op.nfs_status, EMU_NFS4ERR_COMPLETE_ALREADY);
	assert_int_equal(emu_grace_state(ctx->emu), EMU_GRACE_IN);

	assert_int_equal(emu_client_reclaim_complete(ctx->emu, &b, &op), 0);
	assert_int_equal(emu_grace_wait(ctx->emu, WAIT_MS), 0);
	assert_int_equal(emu_counters(ctx->emu)->grace_done, 1);
	assert_string_equal(read_proc(ctx, "v4_end_grace"), "Y\n");
	assert_int_equal(emu_client_reclaim(ctx->emu, &x, &op), 0);
	assert_int_equal(op.nfs_status, EMU_NFS4ERR_NO_GRACE);
	assert_int_equal(emu_counters(ctx->emu)->end_grace_writes, 0);
}

/* §5.5: the timer, extended 1 s while reclaims keep arriving */
static void test_grace_timer(void **state)
{
	struct test_ctx *ctx = *state;
	struct fake_opts fo = {
		.version = 2,
		.records = { { "a", -1, 0 }, { "b", -1, 0 } },
	};
	struct emu_name a = name_of("a");
	struct emu_op op;
	uint64_t t0;
	uint64_t took;

	ctx->opts.grace_time = 1;
	emu_up(ctx);
	fake_start(ctx, &fo);
	t0 = now_ms();
	assert_int_equal(emu_nfsd_start(ctx->emu), 0);
	emu_sleep(ctx->emu, 800);
	assert_int_equal(emu_client_reclaim(ctx->emu, &a, &op), 0);
	assert_int_equal(op.nfs_status, EMU_NFS4_OK);
	assert_int_equal(emu_grace_wait(ctx->emu, WAIT_MS), 0);
	took = now_ms() - t0;
	assert_true(took >= 1900 && took < 3500);
}

/* §7: an administrator's "Y" ends grace; other values do not */
static void test_end_grace_write(void **state)
{
	struct test_ctx *ctx = *state;
	struct fake_opts fo = {
		.version = 2,
		.records = { { "a", -1, 0 } },
	};
	char *path = NULL;
	FILE *f = NULL;

	emu_up(ctx);
	fake_start(ctx, &fo);
	assert_int_equal(emu_nfsd_start(ctx->emu), 0);
	path = talloc_asprintf(ctx, "%s/v4_end_grace", ctx->procfs);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("x\n", f);
	fclose(f);
	emu_sleep(ctx->emu, 300);
	assert_int_equal(emu_grace_state(ctx->emu), EMU_GRACE_IN);
	assert_string_equal(read_proc(ctx, "v4_end_grace"), "N\n");

	f = fopen(path, "w");
	assert_non_null(f);
	fputs("1\n", f);
	fclose(f);
	assert_int_equal(emu_grace_wait(ctx->emu, WAIT_MS), 0);
	assert_int_equal(emu_counters(ctx->emu)->end_grace_writes, 2);
}

/* §4.5: STABLE skips Create; a failed Create still sets it */
static void test_stable(void **state)
{
	struct test_ctx *ctx = *state;
	struct fake_opts fo = { .version = 2, .create_status = -EREMOTEIO };
	struct emu_name a = name_of("a");
	struct emu_upcall *up = NULL;
	struct emu_op op;

	emu_up(ctx);
	fake_start(ctx, &fo);
	assert_int_equal(emu_nfsd_start(ctx->emu), 0);
	/* Remove of a client that is not STABLE: no upcall */
	assert_int_equal(emu_client_expire(ctx->emu, &a, &op), 0);
	assert_false(op.upcall);

	assert_int_equal(emu_client_create(ctx->emu, &a, &op), 0);
	assert_true(op.upcall);
	assert_int_equal(op.status, -EREMOTEIO);
	assert_true(emu_client_stable(ctx->emu, &a));
	assert_int_equal(emu_create_send(ctx->emu, ctx, &a, &up), EALREADY);
	assert_null(up);
	assert_int_equal(emu_client_expire(ctx->emu, &a, &op), 0);
	assert_true(op.upcall);
	assert_false(emu_client_stable(ctx->emu, &a));
}

/* §6: a read, unanswered upcall goes back to the queue on close */
static void test_requeue_on_close(void **state)
{
	struct test_ctx *ctx = *state;
	struct fake_opts fo = { .version = 2, .drop_first_create = true };
	struct emu_name a = name_of("a");
	struct emu_op op;

	emu_up(ctx);
	fake_start(ctx, &fo);
	assert_int_equal(emu_nfsd_start(ctx->emu), 0);
	assert_int_equal(emu_client_create(ctx->emu, &a, &op), 0);
	assert_int_equal(op.status, 0);
	assert_int_equal(emu_counters(ctx->emu)->requeued, 1);
	assert_int_equal(emu_counters(ctx->emu)->opens, 2);
}

/* §6: queued with no reader for no_reader_ms -> -ETIMEDOUT */
static void test_no_reader_timer(void **state)
{
	struct test_ctx *ctx = *state;
	struct fake_opts fo = { .version = 2 };
	struct emu_name a = name_of("a");
	struct emu_upcall *up = NULL;
	uint64_t t0;

	ctx->opts.no_reader_ms = 300;
	emu_up(ctx);
	fake_start(ctx, &fo);
	assert_int_equal(emu_nfsd_start(ctx->emu), 0);
	fake_stop(ctx);
	emu_sleep(ctx->emu, 100);
	assert_int_equal(emu_connections(ctx->emu), 0);

	t0 = now_ms();
	assert_int_equal(emu_create_send(ctx->emu, ctx, &a, &up), 0);
	assert_int_equal(emu_upcall_wait(ctx->emu, up, WAIT_MS), 0);
	assert_true(now_ms() - t0 >= 290);
	assert_int_equal(emu_upcall_result(up, NULL), -ETIMEDOUT);
	assert_false(emu_client_stable(ctx->emu, &a));
	assert_int_equal(emu_counters(ctx->emu)->timeouts, 1);
}

/* §2.2: nfsd stop fails pending upcalls with -EPIPE */
static void test_stop_fails_pending(void **state)
{
	struct test_ctx *ctx = *state;
	struct fake_opts fo = { .version = 2, .ignore_creates = true };
	struct emu_name a = name_of("a");
	struct emu_upcall *up = NULL;

	emu_up(ctx);
	fake_start(ctx, &fo);
	assert_int_equal(emu_nfsd_start(ctx->emu), 0);
	assert_int_equal(emu_create_send(ctx->emu, ctx, &a, &up), 0);
	emu_sleep(ctx->emu, 200);
	assert_false(emu_upcall_done(up));
	emu_nfsd_stop(ctx->emu);
	assert_true(emu_upcall_done(up));
	assert_int_equal(emu_upcall_result(up, NULL), -EPIPE);
	assert_int_equal(emu_grace_state(ctx->emu), EMU_GRACE_STOPPED);
}

/* A GetVersion that is never answered hangs nfsd start (reported) */
static void test_start_hang(void **state)
{
	struct test_ctx *ctx = *state;
	struct fake_opts fo = { .silent_get_version = true };

	ctx->opts.hang_ms = 500;
	emu_up(ctx);
	fake_start(ctx, &fo);
	assert_int_equal(emu_nfsd_start(ctx->emu), ETIME);
	assert_int_equal(emu_grace_state(ctx->emu), EMU_GRACE_STOPPED);
}

/* Ids in the command language: text or hex:... */
static void test_id_strings(void **state)
{
	struct test_ctx *ctx = *state;
	uint8_t *id = NULL;
	size_t len = 0;

	assert_int_equal(emu_id_parse(ctx, "hex:00ff41", &id, &len), 0);
	assert_int_equal(len, 3);
	assert_int_equal(id[0], 0);
	assert_int_equal(id[1], 0xff);
	assert_string_equal(emu_id_string(ctx, id, len), "hex:00ff41");
	assert_int_equal(emu_id_parse(ctx, "hex:", &id, &len), 0);
	assert_int_equal(len, 0);
	assert_int_equal(emu_id_parse(ctx, "hex:abc", &id, &len), EINVAL);
	assert_int_equal(emu_id_parse(ctx, "Linux NFSv4.2", &id, &len), 0);
	assert_int_equal(len, 13);
	assert_string_equal(emu_id_string(ctx, id, len),
			    "hex:4c696e7578204e465376342e32");
	assert_string_equal(emu_id_string(ctx, (const uint8_t *)"abc", 3),
			    "abc");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_start_xids),
		T(test_version_clamp),
		T(test_no_opener),
		T(test_v0_fallback),
		T(test_downcall_checks),
		T(test_records_profile_a),
		T(test_records_profile_b),
		T(test_grace_all_reclaimed),
		T(test_grace_timer),
		T(test_end_grace_write),
		T(test_stable),
		T(test_requeue_on_close),
		T(test_no_reader_timer),
		T(test_stop_fails_pending),
		T(test_start_hang),
		T(test_id_strings),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
