/*
 * Shared helpers of the fault-injection and security tests: a private
 * temporary tree per test (pipefs, fake /proc/fs/nfsd, storage, control
 * socket, log), a cltrackd started as a child (under
 * CLTRACK_DAEMON_WRAPPER when set) and the knfsd emulator in front of
 * it.  Teardown stops the daemon, unmounts and removes everything, also
 * after a failed assertion.
 */
#ifndef CLTRACK_SELFTEST_REL_UTIL_H
#define CLTRACK_SELFTEST_REL_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <talloc.h>

#include "emu.h"

#define REL_TEST_GRACE_TIME	10

struct rel_ctx {
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
	bool tmpfs;		/* storage is a tmpfs we mounted */
	struct emu_opts opts;
	struct emu *emu;
};

/* Wait limits, stretched under a daemon wrapper (daemon_exec.h) */
int rel_ready_ms(void);
int rel_reply_ms(void);

/* cmocka setup/teardown; *state is a struct rel_ctx */
int rel_setup(void **state);
int rel_teardown(void **state);

/* Write a file (fails the test on error) */
void rel_write_file(const char *path, const char *content);

/*
 * Start cltrackd with config file conf (NULL: /dev/null) and the test's
 * paths; extra_args (NULL-terminated, may be NULL) go last.  Returns the
 * child's pid; the log goes to ctx->log.  Does not wait.
 */
pid_t rel_daemon_spawn(struct rel_ctx *ctx, const char *conf,
		       const char *const *extra_args);

/* Spawn, then wait until it watches <pipefs>/nfsd and its control
 * socket answers a ping; ctx->pid is set. */
void rel_daemon_start(struct rel_ctx *ctx);

/* Reap a daemon expected to exit on its own; returns its wait status */
int rel_daemon_wait_exit(struct rel_ctx *ctx, pid_t pid);

/* Signal ctx->pid and reap it (SIGKILL after a while) */
void rel_daemon_stop(struct rel_ctx *ctx, int sig);

bool rel_daemon_alive(struct rel_ctx *ctx);

/* Print the daemon log's last lines into the test output */
void rel_print_log(struct rel_ctx *ctx, int lines);

/* A status value of the running daemon (fails the test if missing) */
uint64_t rel_status_u64(struct rel_ctx *ctx, const char *name);

/* Answers a ping on the control socket? */
bool rel_ping(struct rel_ctx *ctx);

/* The emulator's nfsd: start (fails the test on error) */
void rel_nfsd_start(struct rel_ctx *ctx);
void rel_nfsd_restart(struct rel_ctx *ctx);

/* One Create, answered with this status */
void rel_create_status(struct rel_ctx *ctx, const char *id, int status);

/* Does the emulator's last GraceStart list contain id? */
bool rel_reclaim_has(struct rel_ctx *ctx, const char *id);

/* lstat()s path; false if it does not exist */
bool rel_file_mode(const char *path, mode_t *mode);

#endif
