#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "logging.h"

int log_level = LOG_LEVEL_NOTICE;

static bool log_to_stderr = true;
static FILE *log_file;
static const char *log_prog = "cltrack";

static const char *level_names[] = {
	"ERR", "WARNING", "NOTICE", "INFO", "DEBUG",
};

void log_setup(const char *prog, bool to_stderr, int level)
{
	log_prog = prog;
	log_to_stderr = to_stderr;
	log_level = level;
	if (!to_stderr) {
		openlog(prog, LOG_PID, LOG_DAEMON);
	}
}

/*
 * The log file is created 0640 whatever the caller's umask (cltrackd
 * sets its own umask only later), and an existing one loses its world
 * write bit: anyone who can write it can forge what the admin reads.
 */
int log_set_file(const char *path)
{
	struct stat sb;
	FILE *f = NULL;
	int fd;

	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd == -1) {
		return errno;
	}
	if (fstat(fd, &sb) == 0 && (sb.st_mode & S_IWOTH) != 0 &&
	    fchmod(fd, sb.st_mode & 07775) != 0) {
		int err = errno;

		close(fd);
		return err;
	}
	f = fdopen(fd, "a");
	if (f == NULL) {
		int err = errno;

		close(fd);
		return err;
	}
	setvbuf(f, NULL, _IOLBF, 0);
	if (log_file != NULL) {
		fclose(log_file);
	}
	log_file = f;
	return 0;
}

int log_level_parse(const char *str, int *level)
{
	char *end = NULL;
	long v;
	size_t i;

	for (i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcasecmp(str, level_names[i]) == 0) {
			*level = (int)i;
			return 0;
		}
	}
	errno = 0;
	v = strtol(str, &end, 10);
	if (errno != 0 || end == str || *end != '\0' || v < 0 || v > 10) {
		return EINVAL;
	}
	*level = (int)v;
	return 0;
}

void log_msg(int level, const char *fmt, ...)
{
	static const int prio[] = {
		LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG,
	};
	va_list ap;
	int idx = level > LOG_LEVEL_DEBUG ? LOG_LEVEL_DEBUG : level;

	va_start(ap, fmt);
	if (log_to_stderr || log_file != NULL) {
		FILE *out = log_file != NULL ? log_file : stderr;
		struct timespec ts;
		struct tm tm;
		char tbuf[32];

		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		strftime(tbuf, sizeof(tbuf), "%H:%M:%S", &tm);
		fprintf(out, "%s.%03ld %s[%d]: %s: ", tbuf,
			ts.tv_nsec / 1000000, log_prog, (int)getpid(),
			level_names[idx]);
		vfprintf(out, fmt, ap);
		fputc('\n', out);
	} else {
		vsyslog(prio[idx], fmt, ap);
	}
	va_end(ap);
}
