/*
 * knfsd-emu: drive the knfsd emulator from a tiny command language, so
 * that a shell demo or benchmark can tell a story.  See README.md.
 *
 *   knfsd-emu --pipefs DIR [--procfs DIR] [--version-max N] [--profile A|B]
 *             [--grace-time S] [-v] [SCRIPT]
 *
 * One command per line, '#' starts a comment.  Exit status: 0 when every
 * command succeeded, 1 when one failed (an expectation, a shell command,
 * a hung nfsd thread), 2 for a usage or syntax error.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <popt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "emu.h"

#define CLI_OK		0
#define CLI_FAILED	1
#define CLI_SYNTAX	2

#define CLI_MAX_ARGS	1024

struct cli {
	struct emu *emu;
	unsigned hang_ms;
	bool verbose;
};

/* One command line, split at whitespace; rest = text after argv[0] */
struct cli_cmd {
	int argc;
	char *argv[CLI_MAX_ARGS];
	const char *rest;
};

static double cli_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *cli_nfs_status(int status)
{
	switch (status) {
	case EMU_NFS4_OK:
		return "NFS4_OK";
	case EMU_NFS4ERR_GRACE:
		return "NFS4ERR_GRACE";
	case EMU_NFS4ERR_NO_GRACE:
		return "NFS4ERR_NO_GRACE";
	case EMU_NFS4ERR_RECLAIM_BAD:
		return "NFS4ERR_RECLAIM_BAD";
	case EMU_NFS4ERR_COMPLETE_ALREADY:
		return "NFS4ERR_COMPLETE_ALREADY";
	default:
		return "NFS4ERR_?";
	}
}

/* "ID [PRINCHASH-HEX]" starting at argv[i] */
static int cli_name(TALLOC_CTX *mem_ctx, const struct cli_cmd *cmd, int i,
		    struct emu_name *name)
{
	uint8_t *id = NULL;
	uint8_t *ph = NULL;
	size_t id_len = 0;
	size_t ph_len = 0;
	const char *hex = NULL;
	int ret;

	*name = (struct emu_name) {};
	ret = emu_id_parse(mem_ctx, cmd->argv[i], &id, &id_len);
	if (ret != 0) {
		fprintf(stderr, "bad id '%s'\n", cmd->argv[i]);
		return ret;
	}
	name->id = id;
	name->id_len = id_len;
	if (i + 1 >= cmd->argc) {
		return 0;
	}
	hex = cmd->argv[i + 1];
	if (strncmp(hex, "hex:", 4) != 0) {
		hex = talloc_asprintf(mem_ctx, "hex:%s", hex);
	}
	ret = hex != NULL ? emu_id_parse(mem_ctx, hex, &ph, &ph_len) : ENOMEM;
	if (ret != 0 || ph_len == 0 || ph_len > CLD_PRINCHASH_SIZE) {
		fprintf(stderr, "bad principal hash '%s' (1..32 bytes of "
			"hex)\n", cmd->argv[i + 1]);
		return EINVAL;
	}
	name->princhash = ph;
	name->princhash_len = ph_len;
	return 0;
}

/* Emulator-level failures stop the script; protocol results do not */
static int cli_op_ret(const char *what, int ret)
{
	if (ret == 0) {
		return CLI_OK;
	}
	if (ret == ESRCH) {
		printf("%s: nfsd is not running\n", what);
	} else if (ret == ETIME) {
		printf("%s: no reply, the nfsd thread hangs\n", what);
	} else {
		printf("%s: %s\n", what, strerror(ret));
	}
	return CLI_FAILED;
}

static void cli_print_op(const char *what, const char *id,
			 const struct emu_op *op, bool nfs, const char *skipped)
{
	char upcall[64] = "";

	if (op->upcall) {
		snprintf(upcall, sizeof(upcall), "upcall xid %u status %d%s%s",
			 op->xid, op->status, op->status < 0 ? " " : "",
			 op->status < 0 ? strerror(-op->status) : "");
	}
	if (nfs) {
		printf("%s %s: %s%s%s%s\n", what, id,
		       cli_nfs_status(op->nfs_status), op->upcall ? " (" : "",
		       upcall, op->upcall ? ")" : "");
	} else if (op->upcall) {
		printf("%s %s: %s\n", what, id, upcall);
	} else {
		printf("%s %s: no upcall (%s)\n", what, id, skipped);
	}
}

static int cmd_start(struct cli *cli, const struct cli_cmd *cmd)
{
	int ret;

	if (strcmp(cmd->argv[0], "restart") == 0) {
		ret = emu_nfsd_restart(cli->emu);
	} else {
		ret = emu_nfsd_start(cli->emu);
	}
	if (ret == ETIMEDOUT) {
		printf("%s: nobody opened the pipe: nfsd runs without client "
		       "tracking\n", cmd->argv[0]);
		return CLI_OK;
	}
	if (ret != 0) {
		printf("%s: %s\n", cmd->argv[0], strerror(ret));
		return CLI_FAILED;
	}
	printf("%s: %s, %s, %zu reclaim records\n", cmd->argv[0],
	       emu_tracker_name(emu_tracker(cli->emu)),
	       emu_grace_name(emu_grace_state(cli->emu)),
	       emu_reclaim_count(cli->emu));
	return CLI_OK;
}

static int cmd_stop(struct cli *cli, const struct cli_cmd *cmd)
{
	(void)cmd;
	emu_nfsd_stop(cli->emu);
	printf("stop: nfsd stopped\n");
	return CLI_OK;
}

static int cmd_client(struct cli *cli, const struct cli_cmd *cmd)
{
	TALLOC_CTX *tmp_ctx = talloc_new(NULL);
	const char *what = cmd->argv[0];
	struct emu_name name;
	struct emu_op op;
	bool nfs = false;
	const char *skipped = "client is STABLE";
	char *idstr = NULL;
	int ret;

	ret = cli_name(tmp_ctx, cmd, 1, &name);
	if (ret != 0) {
		talloc_free(tmp_ctx);
		return CLI_SYNTAX;
	}
	if (strcmp(what, "create") == 0) {
		ret = emu_client_create(cli->emu, &name, &op);
	} else if (strcmp(what, "remove") == 0) {
		ret = emu_client_expire(cli->emu, &name, &op);
		skipped = "client is not STABLE";
	} else if (strcmp(what, "reclaim") == 0) {
		ret = emu_client_reclaim(cli->emu, &name, &op);
		nfs = true;
	} else {
		ret = emu_client_reclaim_complete(cli->emu, &name, &op);
		nfs = true;
	}
	if (ret != 0) {
		talloc_free(tmp_ctx);
		return cli_op_ret(what, ret);
	}
	if (emu_tracker(cli->emu) == EMU_TRACK_NONE) {
		skipped = "nfsd has no client tracking";
	}
	idstr = emu_id_string(tmp_ctx, name.id, name.id_len);
	cli_print_op(what, idstr, &op, nfs, skipped);
	talloc_free(tmp_ctx);
	return CLI_OK;
}

static int cmd_grace_wait(struct cli *cli, const struct cli_cmd *cmd)
{
	double secs = 120;
	double t0 = cli_now();
	int ret;

	if (cmd->argc > 1) {
		secs = atof(cmd->argv[1]);
	}
	ret = emu_grace_wait(cli->emu, (int)(secs * 1000));
	if (ret != 0) {
		return cli_op_ret("grace-wait", ret);
	}
	printf("grace-wait: grace over after %.2f s\n", cli_now() - t0);
	return CLI_OK;
}

static int cmd_sleep(struct cli *cli, const struct cli_cmd *cmd)
{
	emu_sleep(cli->emu, (int)(atof(cmd->argv[1]) * 1000));
	return CLI_OK;
}

static int cli_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a;
	uint64_t y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* creates N INFLIGHT [PREFIX]: bulk Creates, INFLIGHT outstanding */
static int cmd_creates(struct cli *cli, const struct cli_cmd *cmd)
{
	TALLOC_CTX *tmp_ctx = talloc_new(NULL);
	long n = atol(cmd->argv[1]);
	long inflight = atol(cmd->argv[2]);
	const char *prefix = cmd->argc > 3 ? cmd->argv[3] : "client-";
	struct emu_upcall **slots = NULL;
	uint64_t *lat = NULL;
	long issued = 0;
	long completed = 0;
	long nlat = 0;
	long errors = 0;
	long skipped = 0;
	long i;
	double t0 = cli_now();
	double last_progress = t0;
	double elapsed;
	struct cld_msg reply;
	int ret = CLI_OK;

	if (n <= 0 || inflight <= 0) {
		talloc_free(tmp_ctx);
		return CLI_SYNTAX;
	}
	slots = talloc_zero_array(tmp_ctx, struct emu_upcall *, inflight);
	lat = talloc_zero_array(tmp_ctx, uint64_t, n);
	if (slots == NULL || lat == NULL) {
		talloc_free(tmp_ctx);
		return CLI_FAILED;
	}
	emu_set_verbose(cli->emu, false);

	while (completed < n) {
		for (i = 0; i < inflight && issued < n; i++) {
			char *id = NULL;
			struct emu_name name = {};
			int r;

			if (slots[i] != NULL) {
				continue;
			}
			id = talloc_asprintf(tmp_ctx, "%s%ld", prefix, issued);
			name.id = (const uint8_t *)id;
			name.id_len = strlen(id);
			r = emu_create_send(cli->emu, tmp_ctx, &name,
					    &slots[i]);
			talloc_free(id);
			issued++;
			if (r == EALREADY) {
				skipped++;
				completed++;
				continue;
			}
			if (r != 0) {
				ret = cli_op_ret("creates", r);
				goto done;
			}
		}

		emu_pump(cli->emu, 100);

		for (i = 0; i < inflight; i++) {
			if (slots[i] == NULL || !emu_upcall_done(slots[i])) {
				continue;
			}
			if (emu_upcall_result(slots[i], &reply) != 0 ||
			    reply.status != 0) {
				errors++;
			}
			lat[nlat++] = emu_upcall_latency_us(slots[i]);
			TALLOC_FREE(slots[i]);
			completed++;
			last_progress = cli_now();
		}
		if (cli_now() - last_progress > cli->hang_ms / 1000.0) {
			printf("creates: no reply for %u ms after %ld of %ld\n",
			       cli->hang_ms, completed, n);
			ret = CLI_FAILED;
			goto done;
		}
	}
	elapsed = cli_now() - t0;

	qsort(lat, (size_t)nlat, sizeof(lat[0]), cli_cmp_u64);
	printf("creates: %ld in %.2f s = %.0f creates/s, %ld in flight, "
	       "p50 %.2f ms, p99 %.2f ms (%ld errors, %ld skipped)\n",
	       n, elapsed, (double)n / elapsed, inflight,
	       nlat > 0 ? lat[(nlat - 1) * 50 / 100] / 1000.0 : 0.0,
	       nlat > 0 ? lat[(nlat - 1) * 99 / 100] / 1000.0 : 0.0,
	       errors, skipped);
	if (errors > 0) {
		ret = CLI_FAILED;
	}
done:
	emu_set_verbose(cli->emu, cli->verbose);
	talloc_free(tmp_ctx);
	return ret;
}

struct cli_id {
	const uint8_t *id;
	size_t len;
};

static int cli_cmp_id(const void *a, const void *b)
{
	const struct cli_id *x = a;
	const struct cli_id *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = n > 0 ? memcmp(x->id, y->id, n) : 0;

	if (c != 0) {
		return c;
	}
	return x->len < y->len ? -1 : x->len > y->len;
}

static void cli_print_ids(const char *label, const struct cli_id *ids,
			  size_t n)
{
	size_t i;
	char *s = NULL;

	printf("  %s:", label);
	for (i = 0; i < n; i++) {
		s = emu_id_string(NULL, ids[i].id, ids[i].len);
		printf(" %s", s != NULL ? s : "?");
		talloc_free(s);
	}
	printf("\n");
}

/* expect-reclaim ID...: the last GraceStart sent exactly these ids */
static int cmd_expect_reclaim(struct cli *cli, const struct cli_cmd *cmd)
{
	TALLOC_CTX *tmp_ctx = talloc_new(NULL);
	size_t ngot = emu_reclaim_count(cli->emu);
	size_t nwant = (size_t)cmd->argc - 1;
	struct cli_id *got = NULL;
	struct cli_id *want = NULL;
	struct emu_name name;
	uint8_t *id = NULL;
	bool same;
	size_t i;
	int ret = CLI_OK;

	got = talloc_zero_array(tmp_ctx, struct cli_id, ngot + 1);
	want = talloc_zero_array(tmp_ctx, struct cli_id, nwant + 1);
	if (got == NULL || want == NULL) {
		talloc_free(tmp_ctx);
		return CLI_FAILED;
	}
	for (i = 0; i < ngot; i++) {
		emu_reclaim_get(cli->emu, i, &name);
		got[i] = (struct cli_id) { .id = name.id, .len = name.id_len };
	}
	for (i = 0; i < nwant; i++) {
		if (emu_id_parse(tmp_ctx, cmd->argv[i + 1], &id,
				 &want[i].len) != 0) {
			fprintf(stderr, "bad id '%s'\n", cmd->argv[i + 1]);
			talloc_free(tmp_ctx);
			return CLI_SYNTAX;
		}
		want[i].id = id;
	}
	qsort(got, ngot, sizeof(got[0]), cli_cmp_id);
	qsort(want, nwant, sizeof(want[0]), cli_cmp_id);

	same = (ngot == nwant);
	for (i = 0; same && i < ngot; i++) {
		same = (cli_cmp_id(&got[i], &want[i]) == 0);
	}
	if (same) {
		printf("expect-reclaim: ok (%zu records)\n", ngot);
	} else {
		printf("expect-reclaim: MISMATCH\n");
		cli_print_ids("expected", want, nwant);
		cli_print_ids("got     ", got, ngot);
		ret = CLI_FAILED;
	}
	talloc_free(tmp_ctx);
	return ret;
}

static int cmd_show(struct cli *cli, const struct cli_cmd *cmd)
{
	const struct emu_counters *c = emu_counters(cli->emu);
	struct emu_name name;
	char *s = NULL;
	size_t i;
	size_t j;

	(void)cmd;
	printf("nfsd: %s, tracker %s, %u connection(s), %u upcall(s) "
	       "pending, next xid %u\n",
	       emu_grace_name(emu_grace_state(cli->emu)),
	       emu_tracker_name(emu_tracker(cli->emu)),
	       emu_connections(cli->emu), emu_pending(cli->emu),
	       emu_next_xid(cli->emu));
	printf("reclaim list of the last GraceStart: %zu record(s), %zu "
	       "RECLAIM_COMPLETE counted\n", emu_reclaim_count(cli->emu),
	       emu_reclaim_completes(cli->emu));
	for (i = 0; emu_reclaim_get(cli->emu, i, &name); i++) {
		s = emu_id_string(NULL, name.id, name.id_len);
		printf("  %s", s != NULL ? s : "?");
		talloc_free(s);
		if (name.princhash_len > 0) {
			printf(" princhash ");
			for (j = 0; j < name.princhash_len; j++) {
				printf("%02x", name.princhash[j]);
			}
		}
		printf("\n");
	}
	printf("counters: upcalls %llu, sends %llu, requeued %llu, opens "
	       "%llu, reader gaps %llu, downcalls %llu, rejected %llu "
	       "(size %llu, xid %llu, unread %llu, cmd %llu)\n",
	       (unsigned long long)c->upcalls, (unsigned long long)c->sends,
	       (unsigned long long)c->requeued, (unsigned long long)c->opens,
	       (unsigned long long)c->reader_gaps,
	       (unsigned long long)c->downcalls,
	       (unsigned long long)c->rejected_downcalls,
	       (unsigned long long)c->rejected_size,
	       (unsigned long long)c->rejected_xid,
	       (unsigned long long)c->rejected_unread,
	       (unsigned long long)c->rejected_cmd);
	printf("records: %llu accepted, %llu duplicate, %llu invalid, %llu "
	       "rejected; timeouts %llu, GraceDone %llu, v4_end_grace "
	       "writes by others %llu\n",
	       (unsigned long long)c->gracestart_records,
	       (unsigned long long)c->gracestart_duplicates,
	       (unsigned long long)c->records_invalid,
	       (unsigned long long)c->records_rejected,
	       (unsigned long long)c->timeouts,
	       (unsigned long long)c->grace_done,
	       (unsigned long long)c->end_grace_writes);
	return CLI_OK;
}

static int cmd_end_grace(struct cli *cli, const struct cli_cmd *cmd)
{
	int ret = emu_write_end_grace(cli->emu);

	(void)cmd;
	if (ret != 0) {
		printf("end-grace: cannot write v4_end_grace: %s\n",
		       strerror(ret));
		return CLI_FAILED;
	}
	printf("end-grace: wrote Y to v4_end_grace\n");
	return CLI_OK;
}

/* "! CMD": sh -c CMD, pumping the emulator while it runs */
static int cmd_shell(struct cli *cli, const struct cli_cmd *cmd)
{
	pid_t pid;
	pid_t w;
	int status = 0;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == -1) {
		printf("!: fork: %s\n", strerror(errno));
		return CLI_FAILED;
	}
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", cmd->rest, (char *)NULL);
		_exit(127);
	}
	for (;;) {
		w = waitpid(pid, &status, WNOHANG);
		if (w == pid || (w == -1 && errno != EINTR)) {
			break;
		}
		emu_pump(cli->emu, 20);
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		printf("!: '%s' failed (status 0x%x)\n", cmd->rest, status);
		return CLI_FAILED;
	}
	return CLI_OK;
}

static int cmd_echo(struct cli *cli, const struct cli_cmd *cmd)
{
	(void)cli;
	printf("%s\n", cmd->rest);
	return CLI_OK;
}

struct cli_command {
	const char *name;
	int min_args;
	int max_args;
	int (*fn)(struct cli *cli, const struct cli_cmd *cmd);
};

static const struct cli_command cli_commands[] = {
	{ "start", 0, 0, cmd_start },
	{ "restart", 0, 0, cmd_start },
	{ "stop", 0, 0, cmd_stop },
	{ "create", 1, 2, cmd_client },
	{ "remove", 1, 1, cmd_client },
	{ "reclaim", 1, 2, cmd_client },
	{ "reclaim-complete", 1, 2, cmd_client },
	{ "grace-wait", 0, 1, cmd_grace_wait },
	{ "end-grace", 0, 0, cmd_end_grace },
	{ "sleep", 1, 1, cmd_sleep },
	{ "creates", 2, 3, cmd_creates },
	{ "expect-reclaim", 0, CLI_MAX_ARGS - 1, cmd_expect_reclaim },
	{ "show", 0, 0, cmd_show },
	{ "!", 0, CLI_MAX_ARGS - 1, cmd_shell },
	{ "echo", 0, CLI_MAX_ARGS - 1, cmd_echo },
};

static int cli_line(struct cli *cli, char *line)
{
	struct cli_cmd cmd = {};
	const struct cli_command *c = NULL;
	char *p = line;
	size_t i;

	line[strcspn(line, "\r\n")] = '\0';
	p += strspn(p, " \t");
	if (*p == '\0' || *p == '#') {
		return CLI_OK;
	}

	/* "!" may be glued to its command; "!" and echo take the rest raw */
	if (*p == '!') {
		cmd.argv[cmd.argc++] = "!";
		cmd.rest = p + 1 + strspn(p + 1, " \t");
	} else if (strncmp(p, "echo", 4) == 0 &&
		   (p[4] == '\0' || p[4] == ' ' || p[4] == '\t')) {
		cmd.argv[cmd.argc++] = "echo";
		cmd.rest = p + 4 + strspn(p + 4, " \t");
	} else {
		while (*p != '\0' && cmd.argc < CLI_MAX_ARGS) {
			cmd.argv[cmd.argc++] = p;
			p += strcspn(p, " \t");
			if (*p == '\0') {
				break;
			}
			*p++ = '\0';
			p += strspn(p, " \t");
		}
		cmd.rest = "";
	}

	for (i = 0; i < sizeof(cli_commands) / sizeof(cli_commands[0]); i++) {
		if (strcmp(cli_commands[i].name, cmd.argv[0]) == 0) {
			c = &cli_commands[i];
			break;
		}
	}
	if (c == NULL) {
		fprintf(stderr, "unknown command '%s'\n", cmd.argv[0]);
		return CLI_SYNTAX;
	}
	if (c->fn != cmd_shell && c->fn != cmd_echo &&
	    (cmd.argc - 1 < c->min_args || cmd.argc - 1 > c->max_args)) {
		fprintf(stderr, "%s: wrong number of arguments\n", c->name);
		return CLI_SYNTAX;
	}
	return c->fn(cli, &cmd);
}

static int cli_run(struct cli *cli, FILE *f, const char *fname)
{
	char *line = NULL;
	size_t cap = 0;
	unsigned lineno = 0;
	int ret = CLI_OK;

	while (getline(&line, &cap, f) != -1) {
		lineno++;
		ret = cli_line(cli, line);
		if (ret != CLI_OK) {
			fprintf(stderr, "%s:%u: command failed\n", fname,
				lineno);
			break;
		}
	}
	free(line);
	return ret;
}

/*
 * --serve: the emulated nfsd keeps running (answering the daemon, its
 * grace timer, v4_end_grace writes by others) while commands arrive one
 * line at a time, e.g. from a FIFO.  SIGUSR1 restarts nfsd (a cluster
 * test's "nfsd restart command").  A failed command is reported, not
 * fatal.  Each command is followed by a line "# done N: ok|failed".
 */
static volatile sig_atomic_t cli_restart_requested;

static void cli_sigusr1(int sig)
{
	(void)sig;
	cli_restart_requested = 1;
}

static int cli_serve(struct cli *cli, FILE *f)
{
	struct sigaction sa = {
		.sa_handler = cli_sigusr1,
	};
	int fd = fileno(f);
	char buf[8192];
	size_t used = 0;
	unsigned lineno = 0;

	sigaction(SIGUSR1, &sa, NULL);
	for (;;) {
		struct pollfd pfd = {
			.fd = fd,
			.events = POLLIN,
		};
		char *nl = NULL;
		ssize_t n;

		if (cli_restart_requested) {
			int ret;

			cli_restart_requested = 0;
			ret = emu_nfsd_restart(cli->emu);
			printf("# SIGUSR1 restart: %s\n",
			       ret == 0 ? "ok" : strerror(ret));
		}
		if (poll(&pfd, 1, 0) <= 0) {
			emu_pump(cli->emu, 50);
			continue;
		}
		n = read(fd, buf + used, sizeof(buf) - 1 - used);
		if (n <= 0) {
			return CLI_OK;
		}
		used += (size_t)n;
		buf[used] = '\0';
		while ((nl = strchr(buf, '\n')) != NULL) {
			int ret;

			*nl = '\0';
			lineno++;
			ret = cli_line(cli, buf);
			printf("# done %u: %s\n", lineno,
			       ret == CLI_OK ? "ok" : "failed");
			used -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, used + 1);
		}
		if (used == sizeof(buf) - 1) {
			used = 0;	/* an overlong line: drop it */
		}
	}
}

int main(int argc, const char **argv)
{
	TALLOC_CTX *mem_ctx = talloc_new(NULL);
	struct emu_opts opts;
	struct cli cli = {};
	char *pipefs = NULL;
	char *procfs = NULL;
	char *nfs_versions = NULL;
	char *profile = NULL;
	int version_max = 2;
	int grace_time = 90;
	int opener_wait = 1000;
	int hang = 10000;
	int verbose = 0;
	int serve = 0;
	const char *script = NULL;
	FILE *f = stdin;
	poptContext pc;
	int opt;
	int ret;
	struct poptOption options[] = {
		POPT_AUTOHELP
		{ "pipefs", 0, POPT_ARG_STRING, &pipefs, 0,
		  "rpc_pipefs directory (the pipe is DIR/nfsd/cld)", "DIR" },
		{ "procfs", 0, POPT_ARG_STRING, &procfs, 0,
		  "fake /proc/fs/nfsd directory", "DIR" },
		{ "version-max", 0, POPT_ARG_INT, &version_max, 0,
		  "highest upcall version (0 forces v0 ops)", "N" },
		{ "profile", 0, POPT_ARG_STRING, &profile, 0,
		  "A: 5.x/6.x kernels, B: newest tree", "A|B" },
		{ "grace-time", 0, POPT_ARG_INT, &grace_time, 0,
		  "grace period in seconds", "S" },
		{ "nfs-versions", 0, POPT_ARG_STRING, &nfs_versions, 0,
		  "what <procfs>/versions says (default: 4.0 served)",
		  "\"-2 +3 +4 +4.0 +4.1 +4.2\"" },
		{ "opener-wait", 0, POPT_ARG_INT, &opener_wait, 0,
		  "how long nfsd start waits for the daemon", "MS" },
		{ "hang", 0, POPT_ARG_INT, &hang, 0,
		  "an unanswered nfsd upcall counts as hung after", "MS" },
		{ "serve", 0, POPT_ARG_NONE, &serve, 0,
		  "keep nfsd running between commands; a failed command is "
		  "not fatal (read commands from a FIFO)", NULL },
		{ "verbose", 'v', POPT_ARG_NONE, &verbose, 0,
		  "tell the story: every upcall, downcall and kernel message",
		  NULL },
		POPT_TABLEEND
	};

	setvbuf(stdout, NULL, _IOLBF, 0);
	pc = poptGetContext("knfsd-emu", argc, argv, options, 0);
	poptSetOtherOptionHelp(pc, "[OPTIONS] [SCRIPT]");
	while ((opt = poptGetNextOpt(pc)) > 0) {
	}
	if (opt < -1) {
		fprintf(stderr, "knfsd-emu: %s: %s\n",
			poptBadOption(pc, POPT_BADOPTION_NOALIAS),
			poptStrerror(opt));
		ret = CLI_SYNTAX;
		goto done;
	}
	script = poptGetArg(pc);
	if (pipefs == NULL || version_max < 0 || version_max > 2 ||
	    grace_time < 0 || opener_wait < 0 || hang <= 0 ||
	    (profile != NULL && strcmp(profile, "A") != 0 &&
	     strcmp(profile, "B") != 0)) {
		poptPrintUsage(pc, stderr, 0);
		ret = CLI_SYNTAX;
		goto done;
	}

	emu_opts_init(&opts);
	opts.pipefs_dir = pipefs;
	opts.procfs_dir = procfs;
	if (nfs_versions != NULL) {
		opts.nfs_versions = nfs_versions;
	}
	opts.version_max = version_max;
	opts.profile = profile != NULL ? profile[0] : 'A';
	opts.grace_time = (unsigned)grace_time;
	opts.opener_wait_ms = (unsigned)opener_wait;
	opts.hang_ms = (unsigned)hang;
	opts.verbose = verbose != 0;
	cli.hang_ms = opts.hang_ms;
	cli.verbose = opts.verbose;

	ret = emu_init(mem_ctx, &opts, &cli.emu);
	if (ret != 0) {
		fprintf(stderr, "knfsd-emu: %s\n", strerror(ret));
		ret = CLI_FAILED;
		goto done;
	}

	if (script != NULL && strcmp(script, "-") != 0) {
		f = fopen(script, "r");
		if (f == NULL) {
			fprintf(stderr, "knfsd-emu: %s: %s\n", script,
				strerror(errno));
			ret = CLI_SYNTAX;
			goto done;
		}
	}
	if (serve) {
		ret = cli_serve(&cli, f);
	} else {
		ret = cli_run(&cli, f, script != NULL ? script : "<stdin>");
	}
	if (f != stdin) {
		fclose(f);
	}
done:
	poptFreeContext(pc);
	talloc_free(mem_ctx);
	/* popt malloc()s string arguments; the emulator used them until here */
	free(pipefs);
	free(procfs);
	free(nfs_versions);
	free(profile);
	return ret;
}
