/*
 * Helpers shared by selftest/reliability/test_*.c: see rel_util.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
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

#include "cltrack/client.h"
#include "daemon_exec.h"
#include "rel_util.h"

#define REL_MAX_ARGS	32

int rel_ready_ms(void)
{
	return daemon_exec_scale_ms(10000);
}

int rel_reply_ms(void)
{
	return daemon_exec_scale_ms(10000);
}

static char *daemon_path(TALLOC_CTX *mem_ctx)
{
	const char *bin = getenv("CLTRACK_BIN");
	const char *src = getenv("CLTRACK_SRCDIR");

	if (bin != NULL && bin[0] != '\0') {
		return talloc_asprintf(mem_ctx, "%s/cltrackd", bin);
	}
	if (src != NULL && src[0] != '\0') {
		return talloc_asprintf(mem_ctx, "%s/bin/cltrackd", src);
	}
	return talloc_strdup(mem_ctx, "bin/cltrackd");
}

static int rm_entry(const char *path, const struct stat *sb, int type,
		    struct FTW *ftw)
{
	return remove(path);
}

int rel_setup(void **state)
{
	struct rel_ctx *ctx = NULL;
	char tmpl[] = "/tmp/cltrack-rel-XXXXXX";

	ctx = talloc_zero(NULL, struct rel_ctx);
	assert_non_null(ctx);
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
		nftw(ctx->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
		talloc_free(ctx);
		return -1;
	}

	emu_opts_init(&ctx->opts);
	ctx->opts.pipefs_dir = ctx->pipefs;
	ctx->opts.procfs_dir = ctx->procfs;
	ctx->opts.grace_time = REL_TEST_GRACE_TIME;
	ctx->opts.hang_ms = (unsigned)rel_reply_ms();
	ctx->opts.verbose = getenv("CLTRACK_TEST_VERBOSE") != NULL;
	assert_int_equal(emu_init(ctx, &ctx->opts, &ctx->emu), 0);

	*state = ctx;
	return 0;
}

int rel_teardown(void **state)
{
	struct rel_ctx *ctx = *state;
	int ret = 0;

	rel_daemon_stop(ctx, SIGTERM);
	rel_print_log(ctx, ctx->stop_failed ? 60 : 10);
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

void rel_write_file(const char *path, const char *content)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_true(fputs(content, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

void rel_print_log(struct rel_ctx *ctx, int lines)
{
	char *cmd = talloc_asprintf(ctx, "tail -n %d '%s' 2>/dev/null "
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
	talloc_free(cmd);
}

pid_t rel_daemon_spawn(struct rel_ctx *ctx, const char *conf,
		       const char *const *extra_args)
{
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	assert_int_not_equal(pid, -1);
	if (pid == 0) {
		char *argv[REL_MAX_ARGS + 1];
		size_t n = 0;
		size_t i;
		int fd;

		fd = open(ctx->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd != -1) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		argv[n++] = "cltrackd";
		argv[n++] = "-F";
		argv[n++] = "-d";
		argv[n++] = "INFO";
		argv[n++] = "-c";
		argv[n++] = (char *)(conf != NULL ? conf : ctx->conf);
		argv[n++] = "--pipefs-dir";
		argv[n++] = ctx->pipefs;
		argv[n++] = "--storage-dir";
		argv[n++] = ctx->storage;
		argv[n++] = "--control-socket";
		argv[n++] = ctx->control;
		for (i = 0; extra_args != NULL && extra_args[i] != NULL &&
		     n < REL_MAX_ARGS; i++) {
			argv[n++] = (char *)extra_args[i];
		}
		argv[n] = NULL;
		daemon_exec(ctx->daemon_bin, argv);
		_exit(127);
	}
	return pid;
}

bool rel_daemon_alive(struct rel_ctx *ctx)
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

bool rel_ping(struct rel_ctx *ctx)
{
	struct cltrack_client *c = NULL;
	bool ok = false;

	if (cltrack_connect(ctx, ctx->control, rel_reply_ms(), &c) == 0) {
		ok = cltrack_ping(c) == 0;
	}
	TALLOC_FREE(c);
	return ok;
}

void rel_daemon_start(struct rel_ctx *ctx)
{
	struct timespec t0;
	struct timespec t;
	long ms;

	assert_int_equal(ctx->pid, 0);
	ctx->pid = rel_daemon_spawn(ctx, NULL, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		if (!rel_daemon_alive(ctx)) {
			rel_print_log(ctx, 30);
			fail_msg("cltrackd died at start");
		}
		if (daemon_exec_watching(ctx->pid) && access(ctx->control, F_OK) ==
		    0 && rel_ping(ctx)) {
			return;
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
		ms = (t.tv_sec - t0.tv_sec) * 1000 +
		     (t.tv_nsec - t0.tv_nsec) / 1000000;
		if (ms > rel_ready_ms()) {
			rel_print_log(ctx, 30);
			fail_msg("cltrackd not ready after %d ms",
				 rel_ready_ms());
		}
		emu_pump(ctx->emu, 20);
	}
}

int rel_daemon_wait_exit(struct rel_ctx *ctx, pid_t pid)
{
	int status = 0;
	int i;

	for (i = 0; i < rel_ready_ms() / 10; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid) {
			return status;
		}
		emu_pump(ctx->emu, 10);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	rel_print_log(ctx, 30);
	fail_msg("cltrackd %d did not exit on its own", (int)pid);
	return status;
}

void rel_daemon_stop(struct rel_ctx *ctx, int sig)
{
	int status;
	int i;

	if (ctx->pid <= 0) {
		return;
	}
	kill(ctx->pid, sig);
	for (i = 0; i < daemon_exec_scale_ms(5000) / 10; i++) {
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
		printf("cltrackd ignored SIGTERM\n");
		ctx->stop_failed = true;
	}
}

uint64_t rel_status_u64(struct rel_ctx *ctx, const char *name)
{
	TALLOC_CTX *tmp_ctx = talloc_new(ctx);
	struct cltrack_client *c = NULL;
	struct cltrack_kv *kv = NULL;
	uint32_t n = 0;
	uint32_t i;
	uint64_t v = 0;
	bool found = false;

	assert_int_equal(cltrack_connect(tmp_ctx, ctx->control,
					 rel_reply_ms(), &c), 0);
	assert_int_equal(cltrack_status(c, tmp_ctx, &kv, &n), 0);
	for (i = 0; i < n; i++) {
		if (strcmp(kv[i].name, name) == 0 &&
		    kv[i].type == CLTRACK_KV_U64) {
			v = kv[i].u64;
			found = true;
		}
	}
	talloc_free(tmp_ctx);
	if (!found) {
		fail_msg("no status value %s", name);
	}
	return v;
}

void rel_nfsd_start(struct rel_ctx *ctx)
{
	int ret = emu_nfsd_start(ctx->emu);

	if (ret != 0) {
		rel_print_log(ctx, 30);
	}
	assert_int_equal(ret, 0);
}

void rel_nfsd_restart(struct rel_ctx *ctx)
{
	emu_nfsd_stop(ctx->emu);
	rel_nfsd_start(ctx);
}

void rel_create_status(struct rel_ctx *ctx, const char *id, int status)
{
	struct emu_name n = {
		.id = (const uint8_t *)id,
		.id_len = strlen(id),
	};
	struct emu_op op;

	assert_int_equal(emu_client_create(ctx->emu, &n, &op), 0);
	assert_true(op.upcall);
	assert_int_equal(op.status, status);
}

bool rel_reclaim_has(struct rel_ctx *ctx, const char *id)
{
	return emu_reclaim_contains(ctx->emu, (const uint8_t *)id,
				    strlen(id));
}

bool rel_file_mode(const char *path, mode_t *mode)
{
	struct stat sb;

	if (lstat(path, &sb) != 0) {
		return false;
	}
	*mode = sb.st_mode;
	return true;
}
