/*
 * Fault injection against cltrackd and the knfsd emulator.  The figure
 * of merit everywhere: nothing acknowledged is lost, and service
 * resumes (or, for a start that cannot succeed, the daemon says why and
 * leaves nothing behind).
 *
 *   kill -9 with 64 upcalls in flight    test_kill9_64_in_flight
 *   ENOSPC on the tdb store              test_enospc_tdb_store
 *   torn / corrupt record values         test_corrupt_values
 *   torn or garbage tdb file             test_torn_tdb_file
 *   bad configuration values             test_bad_config
 *   two daemons on one control socket    test_second_daemon_refused
 *
 * ctdbd killed during a commit is selftest/ctdb/test_ctdb_cluster.sh.
 */
#include <errno.h>
#include <fcntl.h>
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
#include <unistd.h>

#include <cmocka.h>
#include <talloc.h>
#include <tdb.h>

#include "cld_msg.h"
#include "rel_util.h"

#define IN_FLIGHT	64
#define TMPFS_SIZE	"2m"	/* the daemon's empty tdb is ~400 KB */

static char *store_path(struct rel_ctx *ctx)
{
	return talloc_asprintf(ctx, "%s/cltrack.tdb", ctx->storage);
}

static struct emu_name name_of(const char *id)
{
	return (struct emu_name) {
		.id = (const uint8_t *)id,
		.id_len = strlen(id),
	};
}

/*
 * kill -9 while 64 Creates are in flight.  Wave one (32) is sent to a
 * running daemon; once its first reply is in, the daemon is stopped
 * (SIGSTOP) so that wave two (32) is certainly unanswered, then killed.
 * Every Create that was answered 0 must be in the next GraceStart, and
 * every one that was not must be answered by the restarted daemon (the
 * emulator re-queues them on the last close, as cld does on -EAGAIN).
 */
static void test_kill9_64_in_flight(void **state)
{
	struct rel_ctx *ctx = *state;
	struct emu_upcall *ups[IN_FLIGHT] = { NULL };
	bool acked[IN_FLIGHT] = { false };
	struct cld_msg reply;
	char id[IN_FLIGHT][32];
	unsigned nacked = 0;
	int i;

	rel_daemon_start(ctx);
	rel_nfsd_start(ctx);
	rel_create_status(ctx, "before-kill", 0);

	for (i = 0; i < IN_FLIGHT; i++) {
		struct emu_name n;

		snprintf(id[i], sizeof(id[i]), "inflight-%02d", i);
		n = name_of(id[i]);
		if (i == IN_FLIGHT / 2) {
			assert_int_equal(emu_upcall_wait(ctx->emu, ups[0],
							 rel_reply_ms()), 0);
			assert_int_equal(kill(ctx->pid, SIGSTOP), 0);
		}
		assert_int_equal(emu_create_send(ctx->emu, ctx, &n, &ups[i]),
				 0);
	}
	emu_pump(ctx->emu, 50);	/* the second wave reaches the socket */
	rel_daemon_stop(ctx, SIGKILL);
	emu_pump(ctx->emu, 50);	/* replies it wrote before dying count */

	for (i = 0; i < IN_FLIGHT; i++) {
		if (emu_upcall_done(ups[i])) {
			assert_int_equal(emu_upcall_result(ups[i], &reply), 0);
			assert_int_equal(reply.status, 0);
			acked[i] = true;
			nacked++;
		}
	}
	printf("at the kill: %u of %d acknowledged, %llu re-queued\n",
	       nacked, IN_FLIGHT,
	       (unsigned long long)emu_counters(ctx->emu)->requeued);
	assert_true(nacked >= 1);
	assert_true(nacked <= IN_FLIGHT / 2);
	assert_true(emu_counters(ctx->emu)->requeued >= IN_FLIGHT / 2);

	/* The new daemon answers every upcall the dead one left */
	rel_daemon_start(ctx);
	for (i = 0; i < IN_FLIGHT; i++) {
		assert_int_equal(emu_upcall_wait(ctx->emu, ups[i],
						 rel_reply_ms()), 0);
		assert_int_equal(emu_upcall_result(ups[i], &reply), 0);
		assert_int_equal(reply.xid, emu_upcall_xid(ups[i]));
		assert_int_equal(reply.status, 0);
	}
	assert_int_equal(emu_counters(ctx->emu)->rejected_downcalls, 0);

	/* Nothing acknowledged is lost: all are in the reclaim list */
	rel_nfsd_restart(ctx);
	assert_true(rel_reclaim_has(ctx, "before-kill"));
	for (i = 0; i < IN_FLIGHT; i++) {
		if (!rel_reclaim_has(ctx, id[i])) {
			fail_msg("%s (%s before the kill) missing after "
				 "restart", id[i],
				 acked[i] ? "acknowledged" : "in flight");
		}
	}
	assert_int_equal(emu_reclaim_count(ctx->emu), IN_FLIGHT + 1);
	assert_int_equal(emu_counters(ctx->emu)->gracestart_duplicates, 0);
}

static void fill_fs(const char *path)
{
	char buf[4096];
	ssize_t n;
	int fd;

	memset(buf, 0xee, sizeof(buf));
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_int_not_equal(fd, -1);
	do {
		n = write(fd, buf, sizeof(buf));
	} while (n > 0);
	do {
		n = write(fd, buf, 1);
	} while (n > 0);
	close(fd);
}

struct store_scan {
	unsigned records;
	bool has_full;		/* a Create refused with -EREMOTEIO */
	const char *refused;
};

static int scan_cb(struct tdb_context *tdb, TDB_DATA key, TDB_DATA val,
		   void *private_data)
{
	struct store_scan *s = private_data;
	size_t rlen = strlen(s->refused);

	s->records++;
	if (key.dsize >= rlen &&
	    memcmp(key.dptr + key.dsize - rlen, s->refused, rlen) == 0) {
		s->has_full = true;
	}
	return 0;
}

/*
 * ENOSPC under the tdb store (a 2 MB tmpfs): the Create that does not
 * fit is answered -EREMOTEIO, is not stored, the file passes tdb_check
 * and every record reads back; once space returns, the same daemon
 * stores again, and nothing acknowledged is lost.
 */
static void test_enospc_tdb_store(void **state)
{
	struct rel_ctx *ctx = *state;
	char *filler = talloc_asprintf(ctx, "%s/filler", ctx->storage);
	char acked[300][16];
	char id[1001];
	char refused[16] = "";
	struct emu_name n;
	struct emu_op op;
	struct store_scan scan = {};
	struct tdb_context *tdb = NULL;
	int nacked = 0;
	int i;

	/* root ignores file modes: a full file system is what stops it */
	if (mount("tmpfs", ctx->storage, "tmpfs", 0,
		  "size=" TMPFS_SIZE ",mode=0700") != 0) {
		printf("cannot mount a tmpfs on %s: %s\n", ctx->storage,
		       strerror(errno));
		skip();
	}
	ctx->tmpfs = true;

	rel_daemon_start(ctx);
	rel_nfsd_start(ctx);
	rel_create_status(ctx, "before-full", 0);
	fill_fs(filler);

	/* 1000-byte ids grow the file quickly */
	memset(id, 'f', 1000);
	id[1000] = '\0';
	for (i = 0; i < 300 && refused[0] == '\0'; i++) {
		snprintf(acked[nacked], sizeof(acked[0]), "full-%05d", i);
		memcpy(id + 1000 - 10, acked[nacked], 10);
		n = (struct emu_name) {
			.id = (const uint8_t *)id, .id_len = 1000,
		};
		assert_int_equal(emu_client_create(ctx->emu, &n, &op), 0);
		assert_true(op.upcall);
		if (op.status == 0) {
			nacked++;
			continue;
		}
		assert_int_equal(op.status, -EREMOTEIO);
		memcpy(refused, acked[nacked], sizeof(refused));
	}
	printf("%d Creates stored, then %s refused with -EREMOTEIO\n",
	       nacked, refused);
	assert_true(refused[0] != '\0');
	assert_true(rel_daemon_alive(ctx));
	assert_true(rel_ping(ctx));

	/* While full: the file is consistent, every record readable */
	tdb = tdb_open(store_path(ctx), 0, TDB_DEFAULT, O_RDONLY, 0);
	assert_non_null(tdb);
	assert_int_equal(tdb_check(tdb, NULL, NULL), 0);
	scan.refused = refused;
	assert_true(tdb_traverse_read(tdb, scan_cb, &scan) >= 0);
	tdb_close(tdb);
	printf("tdb_check ok, %u keys readable\n", scan.records);
	assert_false(scan.has_full);

	/* Space returns: the same daemon stores again */
	assert_int_equal(unlink(filler), 0);
	rel_create_status(ctx, "after-full", 0);

	/* And a restarted daemon has everything acknowledged */
	emu_nfsd_stop(ctx->emu);
	rel_daemon_stop(ctx, SIGTERM);
	rel_daemon_start(ctx);
	rel_nfsd_start(ctx);
	assert_true(rel_reclaim_has(ctx, "before-full"));
	assert_true(rel_reclaim_has(ctx, "after-full"));
	assert_int_equal(emu_reclaim_count(ctx->emu), (size_t)nacked + 2);
	assert_int_equal(rel_status_u64(ctx, "records_unreadable"), 0);
}

/* Replace a client record's value in the (stopped) daemon's store */
static void store_put(struct rel_ctx *ctx, const char *id,
		      const uint8_t *val, size_t len)
{
	struct tdb_context *tdb = NULL;
	char key[128];
	TDB_DATA k;
	TDB_DATA v = { .dptr = (uint8_t *)val, .dsize = len };

	snprintf(key, sizeof(key), "client/%s", id);
	k = (TDB_DATA) { .dptr = (uint8_t *)key, .dsize = strlen(key) };
	tdb = tdb_open(store_path(ctx), 0, TDB_DEFAULT, O_RDWR, 0);
	assert_non_null(tdb);
	assert_int_equal(tdb_store(tdb, k, v, TDB_REPLACE), 0);
	tdb_close(tdb);
}

static TDB_DATA store_get(struct rel_ctx *ctx, const char *id)
{
	struct tdb_context *tdb = NULL;
	char key[128];
	TDB_DATA k;
	TDB_DATA v;

	snprintf(key, sizeof(key), "client/%s", id);
	k = (TDB_DATA) { .dptr = (uint8_t *)key, .dsize = strlen(key) };
	tdb = tdb_open(store_path(ctx), 0, TDB_DEFAULT, O_RDONLY, 0);
	assert_non_null(tdb);
	v = tdb_fetch(tdb, k);
	tdb_close(tdb);
	return v;
}

/*
 * Torn and corrupt values: a record cut in half, one cut to a single
 * byte, an empty one, and one overwritten with garbage.  The daemon
 * starts, skips and counts them, lists only the good ones, and a
 * Create of a damaged client repairs its record.
 */
static void test_corrupt_values(void **state)
{
	struct rel_ctx *ctx = *state;
	static const uint8_t junk[] = {
		0xff, 0x13, 0x37, 0x00, 0x42, 0xde, 0xad, 0xbe, 0xef
	};
	struct emu_name n;
	struct emu_op op;
	TDB_DATA good;

	rel_daemon_start(ctx);
	rel_nfsd_start(ctx);
	rel_create_status(ctx, "good-a", 0);
	rel_create_status(ctx, "torn-half", 0);
	rel_create_status(ctx, "torn-one", 0);
	rel_create_status(ctx, "torn-empty", 0);
	rel_create_status(ctx, "garbage", 0);
	emu_nfsd_stop(ctx->emu);
	rel_daemon_stop(ctx, SIGTERM);

	good = store_get(ctx, "torn-half");
	assert_non_null(good.dptr);
	assert_true(good.dsize > 2);
	store_put(ctx, "torn-half", good.dptr, good.dsize / 2);
	store_put(ctx, "torn-one", good.dptr, 1);
	store_put(ctx, "torn-empty", good.dptr, 0);
	store_put(ctx, "garbage", junk, sizeof(junk));
	free(good.dptr);

	rel_daemon_start(ctx);
	assert_int_equal(rel_status_u64(ctx, "records_unreadable"), 4);
	/* "records" counts the readable ones */
	assert_int_equal(rel_status_u64(ctx, "records"), 1);
	rel_nfsd_start(ctx);
	assert_true(rel_reclaim_has(ctx, "good-a"));
	assert_int_equal(emu_reclaim_count(ctx->emu), 1);
	assert_int_equal(emu_counters(ctx->emu)->records_invalid, 0);
	/* good-a reclaims: grace ends, new Creates count for the next */
	n = (struct emu_name) {
		.id = (const uint8_t *)"good-a", .id_len = 6,
	};
	assert_int_equal(emu_client_reclaim_complete(ctx->emu, &n, &op), 0);
	assert_int_equal(emu_grace_wait(ctx->emu, rel_reply_ms()), 0);

	/* The client comes back: its Create rewrites the damaged record */
	rel_create_status(ctx, "torn-half", 0);
	rel_create_status(ctx, "garbage", 0);
	assert_int_equal(rel_status_u64(ctx, "records_unreadable"), 2);
	rel_nfsd_restart(ctx);
	assert_true(rel_reclaim_has(ctx, "good-a"));
	assert_true(rel_reclaim_has(ctx, "torn-half"));
	assert_true(rel_reclaim_has(ctx, "garbage"));
	assert_true(rel_daemon_alive(ctx));
}

/*
 * A tdb file that is torn (cut short inside its header or hash table)
 * or whose header is garbage: cltrackd refuses to start with a message naming the file,
 * exits 1 (no crash), and leaves no control socket.  The file is left
 * as it was, for the admin.
 */
static void test_torn_tdb_file(void **state)
{
	struct rel_ctx *ctx = *state;
	char *path = store_path(ctx);
	static const struct {
		const char *what;
		off_t keep;		/* truncate to; -1: keep the size */
		bool garbage_header;
	} cases[] = {
		/* the header is 168 bytes, then 100003 hash chain heads */
		{ "cut inside the header", 100, false },
		{ "cut after the first page", 4096, false },
		{ "cut inside the hash table", 200000, false },
		{ "garbage header", -1, true },
	};
	struct stat before;
	struct stat after;
	char cmd[512];
	size_t c;
	int i;

	for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		char id[32];
		int status;
		int fd;

		printf("-- %s\n", cases[c].what);
		unlink(path);
		rel_daemon_start(ctx);
		for (i = 0; i < 50; i++) {
			snprintf(id, sizeof(id), "torn-%zu-%02d", c, i);
			if (i == 0) {
				rel_nfsd_start(ctx);
			}
			rel_create_status(ctx, id, 0);
		}
		emu_nfsd_stop(ctx->emu);
		rel_daemon_stop(ctx, SIGTERM);

		assert_int_equal(stat(path, &before), 0);
		fd = open(path, O_RDWR);
		assert_int_not_equal(fd, -1);
		if (cases[c].garbage_header) {
			static const char junk[64] = "this is not a tdb file";

			assert_int_equal(pwrite(fd, junk, sizeof(junk), 0),
					 (ssize_t)sizeof(junk));
		} else {
			assert_true(before.st_size > cases[c].keep);
			assert_int_equal(ftruncate(fd, cases[c].keep), 0);
		}
		close(fd);
		assert_int_equal(stat(path, &before), 0);

		status = rel_daemon_wait_exit(ctx, rel_daemon_spawn(ctx, NULL,
								    NULL));
		rel_print_log(ctx, 5);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 1);
		assert_int_equal(access(ctx->control, F_OK), -1);
		snprintf(cmd, sizeof(cmd), "tail -n 5 '%s' | grep -q "
			 "'cltrack.tdb'", ctx->log);
		assert_int_equal(system(cmd), 0);
		/* the damaged file is left alone */
		assert_int_equal(stat(path, &after), 0);
		assert_int_equal(after.st_size, before.st_size);
	}
}

/*
 * nfsd running, its pipe there, no daemon: a cltrackd that opened the
 * pipe would show in the emulator's open count.
 */
static void nfsd_up_without_daemon(struct rel_ctx *ctx)
{
	rel_daemon_start(ctx);
	rel_nfsd_start(ctx);
	rel_daemon_stop(ctx, SIGKILL);
	emu_pump(ctx->emu, 50);
	assert_int_equal(emu_connections(ctx->emu), 0);
	/* what kill -9 left: a stale socket (a new daemon replaces it) */
	assert_int_equal(unlink(ctx->control), 0);
	assert_int_equal(unlink(store_path(ctx)), 0);
}

/*
 * Bad configuration: each is refused before anything is opened: exit 1,
 * a message on stderr naming the problem, no control socket, no pipe
 * opened, no store created.
 */
static void test_bad_config(void **state)
{
	struct rel_ctx *ctx = *state;
	char *conf = talloc_asprintf(ctx, "%s/bad.conf", ctx->dir);
	static const struct {
		const char *text;	/* NULL: -c names a missing file */
		const char *expect;	/* in the message */
	} cases[] = {
		{ "[grace]\ntime = soon\n", "must be a number" },
		{ "[grace]\ntime = 5\n", "must be a number" },
		{ "[grace]\ntime = 99999999999999999999\n",
		  "must be a number" },
		{ "[store]\nbackend = sqlite\n", "not supported" },
		{ "[cltrackd]\nstorage dir = relative/dir\n",
		  "absolute path" },
		{ "[cltrackd]\ndebug level = LOUD\n", "bad debug level" },
		{ "[cltrackd]\nno such key = 1\n", "unknown setting" },
		{ "[ctdb]\ndatabase = ../etc/passwd\n", "plain file name" },
		{ "[nfsd]\nrestart timeout = -1\n", "must be a number" },
		{ NULL, "cannot read config file" },
	};
	char cmd[512];
	uint64_t opens;
	size_t c;

	nfsd_up_without_daemon(ctx);
	opens = emu_counters(ctx->emu)->opens;
	for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		const char *path = cases[c].text != NULL ? conf :
				   "/nonexistent/cltrack.conf";
		int status;

		if (cases[c].text != NULL) {
			rel_write_file(conf, cases[c].text);
		}
		truncate(ctx->log, 0);
		status = rel_daemon_wait_exit(ctx,
					      rel_daemon_spawn(ctx, path,
							       NULL));
		printf("-- config %zu: exit 0x%x\n", c, status);
		rel_print_log(ctx, 3);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 1);
		snprintf(cmd, sizeof(cmd), "grep -q '%s' '%s'",
			 cases[c].expect, ctx->log);
		assert_int_equal(system(cmd), 0);
		assert_int_equal(access(ctx->control, F_OK), -1);
		assert_int_equal(access(store_path(ctx), F_OK), -1);
	}
	assert_int_equal(emu_counters(ctx->emu)->opens, opens);
}

/*
 * Bad paths on the command line are found when they are used: a storage
 * directory that cannot exist.  Exit 1, no socket, no pipe opened.
 */
static void test_unusable_storage(void **state)
{
	struct rel_ctx *ctx = *state;
	const char *const args[] = {
		"--storage-dir", "/dev/null/cltrack", NULL
	};
	uint64_t opens;
	int status;

	nfsd_up_without_daemon(ctx);
	opens = emu_counters(ctx->emu)->opens;
	status = rel_daemon_wait_exit(ctx, rel_daemon_spawn(ctx, NULL, args));
	rel_print_log(ctx, 3);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 1);
	assert_int_equal(access(ctx->control, F_OK), -1);
	assert_int_equal(emu_counters(ctx->emu)->opens, opens);
}

/*
 * A second cltrackd on the same control socket refuses to start, and
 * it does so before it touches the pipe or the store: the running one
 * keeps its socket, its pipe and its clients.
 */
static void test_second_daemon_refused(void **state)
{
	struct rel_ctx *ctx = *state;
	uint64_t opens;
	char cmd[512];
	int status;

	rel_daemon_start(ctx);
	rel_nfsd_start(ctx);
	rel_create_status(ctx, "first", 0);
	opens = emu_counters(ctx->emu)->opens;

	truncate(ctx->log, 0);
	status = rel_daemon_wait_exit(ctx, rel_daemon_spawn(ctx, NULL, NULL));
	rel_print_log(ctx, 3);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 1);
	snprintf(cmd, sizeof(cmd), "grep -q 'Another cltrackd answers' '%s'",
		 ctx->log);
	assert_int_equal(system(cmd), 0);

	assert_int_equal(emu_counters(ctx->emu)->opens, opens);
	assert_int_equal(emu_counters(ctx->emu)->requeued, 0);
	assert_int_equal(access(ctx->control, F_OK), 0);
	assert_true(rel_ping(ctx));
	rel_create_status(ctx, "second", 0);
	rel_nfsd_restart(ctx);
	assert_true(rel_reclaim_has(ctx, "first"));
	assert_true(rel_reclaim_has(ctx, "second"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, rel_setup, rel_teardown)
		T(test_kill9_64_in_flight),
		T(test_enospc_tdb_store),
		T(test_corrupt_values),
		T(test_torn_tdb_file),
		T(test_bad_config),
		T(test_unusable_storage),
		T(test_second_daemon_refused),
#undef T
	};

	setvbuf(stdout, NULL, _IONBF, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
