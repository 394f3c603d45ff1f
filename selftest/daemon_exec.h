/*
 * Starting cltrackd from a C test, the way "make test-valgrind" wants
 * it: CLTRACK_DAEMON_WRAPPER (e.g. "valgrind -q --error-exitcode=99
 * ...") is put in front of the daemon's argv, so every cltrackd a test
 * starts runs under the same checker as the test itself.  valgrind keeps
 * the pid of the program it runs, so /proc/PID checks still see the
 * daemon.  Under a wrapper the daemon is 20-50 times slower: waits for
 * readiness and for a clean exit are stretched, never assertions on time.
 *
 * Header-only: the unit, scenario and reliability tests each include it.
 */
#ifndef CLTRACK_SELFTEST_DAEMON_EXEC_H
#define CLTRACK_SELFTEST_DAEMON_EXEC_H

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#define DAEMON_EXEC_MAX_ARGS	64

static inline const char *daemon_exec_wrapper(void)
{
	const char *w = getenv("CLTRACK_DAEMON_WRAPPER");

	return (w != NULL && w[strspn(w, " \t")] != '\0') ? w : NULL;
}

/* A wait of ms milliseconds, stretched when the daemon runs wrapped */
static inline int daemon_exec_scale_ms(int ms)
{
	return daemon_exec_wrapper() != NULL ? ms * 10 : ms;
}

/*
 * In a forked child: exec prog with argv (argv[0] included, NULL
 * terminated), behind the wrapper's words if one is set.  Returns only
 * on failure, after printing why.
 */
static inline void daemon_exec(const char *prog, char *const argv[])
{
	const char *wrapper = daemon_exec_wrapper();
	char *words = NULL;
	char *args[DAEMON_EXEC_MAX_ARGS + 1];
	char *save = NULL;
	char *w = NULL;
	size_t n = 0;
	size_t i;

	if (wrapper == NULL) {
		execv(prog, argv);
		fprintf(stderr, "exec %s: %s\n", prog, strerror(errno));
		return;
	}
	/* The wrapper is whitespace-separated words, no shell quoting */
	words = strdup(wrapper);
	if (words == NULL) {
		return;
	}
	for (w = strtok_r(words, " \t", &save);
	     w != NULL && n < DAEMON_EXEC_MAX_ARGS / 2;
	     w = strtok_r(NULL, " \t", &save)) {
		args[n++] = w;
	}
	args[n++] = (char *)prog;
	for (i = 1; argv[i] != NULL && n < DAEMON_EXEC_MAX_ARGS; i++) {
		args[n++] = argv[i];
	}
	args[n] = NULL;
	execvp(args[0], args);
	fprintf(stderr, "exec %s (wrapper of %s): %s\n", args[0], prog,
		strerror(errno));
	free(words);
}

/* Ready to be talked to: the daemon holds an inotify fd, so it watches
 * <pipefs>/nfsd (cltrackd sets that up before it serves anything) */
static inline bool daemon_exec_watching(pid_t pid)
{
	char dir[64];
	char path[PATH_MAX];
	char target[256];
	struct dirent *de = NULL;
	bool found = false;
	DIR *d = NULL;
	ssize_t n;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	d = opendir(dir);
	if (d == NULL) {
		return false;
	}
	while (!found && (de = readdir(d)) != NULL) {
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		n = readlink(path, target, sizeof(target) - 1);
		if (n > 0) {
			target[n] = '\0';
			found = strcmp(target, "anon_inode:inotify") == 0;
		}
	}
	closedir(d);
	return found;
}

#endif
