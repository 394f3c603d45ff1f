/*
 * spawn_bench: one process per operation, K of them at once, as the
 * kernel runs its usermode helper (nfsdcltrack) and as a statd-callout
 * style script runs "ctdb ptrans".
 *
 *   spawn_bench --clients N --inflight K [--first F] [--prefix P]
 *               [--stdin TEMPLATE] [--env VAR=VALUE]... [--keep-env]
 *               -- PROG ARG...
 *
 * In ARG and TEMPLATE, "%h" is the client id in lowercase hex (two
 * digits per byte, as the kernel formats it for nfsdcltrack) and "%n" is
 * the running number.  Without --keep-env the child gets only the --env
 * variables (the kernel's env -i).  With --stdin, TEMPLATE plus a newline
 * is written to the child's stdin.
 *
 * Output: "spawn clients=N inflight=K ops=N seconds= ops_s= p50_ms=
 * p99_ms= errors= maxrss_kb=" (maxrss: the largest child, from wait4).
 */
#include <errno.h>
#include <fcntl.h>
#include <popt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <talloc.h>

extern char **environ;

struct spawn_slot {
	pid_t pid;
	double started;
};

static double spawn_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int spawn_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a;
	uint64_t y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* template with %h and %n expanded, on mem_ctx */
static char *spawn_expand(TALLOC_CTX *mem_ctx, const char *tmpl,
			  const char *hex, long n)
{
	char *out = talloc_strdup(mem_ctx, "");
	const char *p;

	for (p = tmpl; out != NULL && *p != '\0'; p++) {
		if (p[0] == '%' && p[1] == 'h') {
			out = talloc_strdup_append(out, hex);
			p++;
		} else if (p[0] == '%' && p[1] == 'n') {
			out = talloc_asprintf_append(out, "%ld", n);
			p++;
		} else {
			out = talloc_strndup_append(out, p, 1);
		}
	}
	return out;
}

static pid_t spawn_one(TALLOC_CTX *mem_ctx, const char **args, int nargs,
		       char **envp, const char *stdin_tmpl,
		       const char *prefix, long n)
{
	TALLOC_CTX *tmp_ctx = talloc_new(mem_ctx);
	char id[128];
	char *hex = NULL;
	char **argv = NULL;
	char *input = NULL;
	int fds[2] = { -1, -1 };
	size_t i;
	size_t len;
	pid_t pid;

	snprintf(id, sizeof(id), "%s%08ld", prefix, n);
	len = strlen(id);
	hex = talloc_array(tmp_ctx, char, len * 2 + 1);
	for (i = 0; i < len; i++) {
		snprintf(hex + 2 * i, 3, "%02x", (unsigned char)id[i]);
	}
	argv = talloc_zero_array(tmp_ctx, char *, nargs + 1);
	for (i = 0; i < (size_t)nargs; i++) {
		argv[i] = spawn_expand(argv, args[i], hex, n);
	}
	if (stdin_tmpl != NULL) {
		input = spawn_expand(tmp_ctx, stdin_tmpl, hex, n);
		input = talloc_strdup_append(input, "\n");
		if (pipe(fds) != 0) {
			talloc_free(tmp_ctx);
			return -1;
		}
	}
	pid = fork();
	if (pid == 0) {
		if (fds[0] >= 0) {
			dup2(fds[0], 0);
			close(fds[0]);
			close(fds[1]);
		} else {
			int null = open("/dev/null", O_RDONLY);

			dup2(null, 0);
		}
		execve(argv[0], argv, envp);
		_exit(127);
	}
	if (fds[0] >= 0) {
		close(fds[0]);
		if (pid > 0) {
			/* small: fits in the pipe buffer, never blocks */
			if (write(fds[1], input, strlen(input)) < 0) {
				perror("write");
			}
		}
		close(fds[1]);
	}
	talloc_free(tmp_ctx);
	return pid;
}

int main(int argc, const char **argv)
{
	TALLOC_CTX *mem_ctx = talloc_new(NULL);
	struct spawn_slot *slots = NULL;
	uint64_t *lat = NULL;
	char **envp = NULL;
	int nenv = 0;
	long clients = 100;
	long inflight = 1;
	long first = 0;
	long issued = 0;
	long completed = 0;
	long errors = 0;
	long maxrss = 0;
	int keep_env = 0;
	char *prefix = NULL;
	char *stdin_tmpl = NULL;
	char *env_arg = NULL;
	const char **args = NULL;
	int nargs = 0;
	double t0;
	double elapsed;
	poptContext pc;
	int opt;
	int ret = 0;
	long i;
	struct poptOption options[] = {
		POPT_AUTOHELP
		{ "clients", 0, POPT_ARG_LONG, &clients, 0, "operations", "N" },
		{ "inflight", 0, POPT_ARG_LONG, &inflight, 0,
		  "processes at once", "K" },
		{ "first", 0, POPT_ARG_LONG, &first, 0, "first number", "F" },
		{ "prefix", 0, POPT_ARG_STRING, &prefix, 0,
		  "client id prefix", "P" },
		{ "stdin", 0, POPT_ARG_STRING, &stdin_tmpl, 0,
		  "what to write to each child's stdin", "TEMPLATE" },
		{ "env", 0, POPT_ARG_STRING, &env_arg, 'e',
		  "an environment variable of the child", "VAR=VALUE" },
		{ "keep-env", 0, POPT_ARG_NONE, &keep_env, 0,
		  "children inherit the environment", NULL },
		POPT_TABLEEND
	};

	setvbuf(stdout, NULL, _IOLBF, 0);
	envp = talloc_zero_array(mem_ctx, char *, 1);
	pc = poptGetContext("spawn_bench", argc, argv, options, 0);
	while ((opt = poptGetNextOpt(pc)) > 0) {
		if (opt == 'e') {
			envp = talloc_realloc(mem_ctx, envp, char *, nenv + 2);
			envp[nenv++] = talloc_strdup(envp, env_arg);
			envp[nenv] = NULL;
		}
	}
	args = poptGetArgs(pc);
	while (args != NULL && args[nargs] != NULL) {
		nargs++;
	}
	if (opt < -1 || nargs == 0 || clients <= 0 || inflight <= 0) {
		poptPrintUsage(pc, stderr, 0);
		ret = 2;
		goto done;
	}
	if (prefix == NULL) {
		prefix = "Linux NFSv4.2 bench-";
	}
	if (keep_env) {
		for (i = 0; environ[i] != NULL; i++) {
			envp = talloc_realloc(mem_ctx, envp, char *, nenv + 2);
			envp[nenv++] = environ[i];
			envp[nenv] = NULL;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	slots = talloc_zero_array(mem_ctx, struct spawn_slot, inflight);
	lat = talloc_zero_array(mem_ctx, uint64_t, clients);

	t0 = spawn_now();
	while (completed < clients) {
		struct rusage ru;
		int status;
		pid_t pid;

		for (i = 0; i < inflight && issued < clients; i++) {
			if (slots[i].pid != 0) {
				continue;
			}
			slots[i].started = spawn_now();
			slots[i].pid = spawn_one(mem_ctx, args, nargs, envp,
						 stdin_tmpl, prefix,
						 first + issued);
			issued++;
			if (slots[i].pid < 0) {
				perror("fork");
				ret = 1;
				goto done;
			}
		}
		pid = wait4(-1, &status, 0, &ru);
		if (pid < 0) {
			perror("wait4");
			ret = 1;
			goto done;
		}
		for (i = 0; i < inflight; i++) {
			if (slots[i].pid == pid) {
				break;
			}
		}
		if (i == inflight) {
			continue;
		}
		lat[completed++] = (uint64_t)((spawn_now() - slots[i].started)
					      * 1e6);
		slots[i].pid = 0;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			if (errors < 5) {
				fprintf(stderr, "child %ld: status 0x%x\n",
					completed, status);
			}
			errors++;
		}
		if (ru.ru_maxrss > maxrss) {
			maxrss = ru.ru_maxrss;
		}
	}
	elapsed = spawn_now() - t0;
	qsort(lat, (size_t)clients, sizeof(lat[0]), spawn_cmp_u64);
	printf("spawn clients=%ld inflight=%ld ops=%ld seconds=%.3f "
	       "creates_s=%.1f p50_ms=%.3f p99_ms=%.3f errors=%ld "
	       "maxrss_kb=%ld\n", clients, inflight, clients, elapsed,
	       (double)clients / elapsed,
	       lat[(clients - 1) * 50 / 100] / 1000.0,
	       lat[(clients - 1) * 99 / 100] / 1000.0, errors, maxrss);
	ret = errors > 0 ? 1 : 0;
done:
	poptFreeContext(pc);
	talloc_free(mem_ctx);
	return ret;
}
