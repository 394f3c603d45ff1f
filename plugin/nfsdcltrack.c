/*
 * nfsdcltrack drop-in: the kernel's usermode-helper client tracking
 * (nfsd.cltrack_prog), answered by cltrackd instead of a local SQLite
 * file.
 *
 * The contract is nfs-utils' nfsdcltrack (spec/knfsd-upcalls.md §8):
 *
 *   argv:  prog init | create HEX | remove HEX | check HEX | gracedone T
 *   env:   NFSDCLTRACK_GRACE_START, NFSDCLTRACK_CLIENT_HAS_SESSION,
 *          NFSDCLTRACK_LEGACY_RECDIR, NFSDCLTRACK_LEGACY_TOPDIR, and
 *          nothing else (no PATH, no HOME)
 *   exit:  0 or a negative errno truncated to 8 bits (§8.3)
 *
 * nfsdcltrack's clients(id, time, has_session) rows are cltrackd
 * records: time is the record's created time, has_session its
 * RECORD_F_SESSION flag; the UMH_* control operations apply
 * nfsdcltrack's rules to them (see include/cltrack/proto.h).  Because
 * the kernel gives us no options, the control socket and the nfsd
 * procfs directory come from the command line, the environment (for
 * tests), cltrack.conf, or the built-in defaults, in that order.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <iniparser.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "cltrack/client.h"

#define NFSDCLTRACK_CONFIG	"/etc/cltrack/cltrack.conf"
#define NFSDCLTRACK_PROCFS	"/proc/fs/nfsd"
/* nfsdcltrack waits up to 10 s for a busy database; so do we */
#define NFSDCLTRACK_TIMEOUT_MS	10000

struct umh_settings {
	const char *socket;
	const char *procfs_dir;
	const char *config;
	bool foreground;
	bool debug;
};

static bool umh_use_stderr;
static bool umh_debug;

static void umh_log(int prio, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void umh_log(int prio, const char *fmt, ...)
{
	va_list ap;

	if (prio == LOG_DEBUG && !umh_debug) {
		return;
	}
	va_start(ap, fmt);
	if (umh_use_stderr) {
		fprintf(stderr, "nfsdcltrack: ");
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	} else {
		vsyslog(prio, fmt, ap);
	}
	va_end(ap);
}

static void umh_usage(FILE *f)
{
	fprintf(f,
		"Usage: nfsdcltrack [-hfd] [-s SOCKET] [-p PROCFS_DIR] "
		"[-c CONFIG] <cmd> [<arg>]\n"
		"The kernel's usermode client tracking helper, answered by "
		"cltrackd.\n"
		"Commands (as nfs-utils' nfsdcltrack):\n"
		"    init\n"
		"    create <hex client id>\n"
		"    remove <hex client id>\n"
		"    check  <hex client id>\n"
		"    gracedone <epoch time>\n"
		"Options:\n"
		"  -s, --socket PATH      cltrackd's control socket\n"
		"                         (env CLTRACK_SOCKET, cltrack.conf "
		"[cltrackd] control socket,\n"
		"                         default " CLTRACK_DEFAULT_SOCKET ")\n"
		"  -p, --procfs-dir DIR   nfsd's procfs directory for "
		"v4_end_grace\n"
		"                         (env CLTRACK_NFSD_PROCFS, "
		"cltrack.conf [nfsd] procfs dir,\n"
		"                         default " NFSDCLTRACK_PROCFS ")\n"
		"  -c, --config FILE      (env CLTRACK_CONFIG, default "
		NFSDCLTRACK_CONFIG ")\n"
		"  -f, --foreground       log to stderr, not syslog\n"
		"  -d, --debug            log debug messages\n"
		"  --storagedir DIR       accepted and ignored (nfsdcltrack "
		"compatibility)\n");
}

/* Absent or empty environment variables count as unset */
static const char *umh_getenv(const char *name)
{
	const char *v = getenv(name);

	return (v != NULL && v[0] != '\0') ? v : NULL;
}

/*
 * Fill what the command line left open from the environment, then
 * cltrack.conf (the keys cltrackd itself reads), then the defaults.
 */
static void umh_settings_finish(struct umh_settings *s, dictionary **dict)
{
	const char *v = NULL;
	struct stat st;

	if (s->config == NULL) {
		s->config = umh_getenv("CLTRACK_CONFIG");
	}
	if (s->socket == NULL) {
		s->socket = umh_getenv("CLTRACK_SOCKET");
	}
	if (s->procfs_dir == NULL) {
		s->procfs_dir = umh_getenv("CLTRACK_NFSD_PROCFS");
	}
	if (s->socket == NULL || s->procfs_dir == NULL) {
		const char *path = s->config != NULL ? s->config :
				   NFSDCLTRACK_CONFIG;

		if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
			*dict = iniparser_load(path);
			if (*dict == NULL) {
				umh_log(LOG_WARNING, "Cannot parse %s; using "
					"the defaults", path);
			}
		}
	}
	if (s->socket == NULL && *dict != NULL) {
		v = iniparser_getstring(*dict, "cltrackd:control socket",
					NULL);
		s->socket = (v != NULL && v[0] == '/') ? v : NULL;
	}
	if (s->procfs_dir == NULL && *dict != NULL) {
		v = iniparser_getstring(*dict, "nfsd:procfs dir", NULL);
		s->procfs_dir = (v != NULL && v[0] == '/') ? v : NULL;
	}
	if (s->socket == NULL) {
		s->socket = CLTRACK_DEFAULT_SOCKET;
	}
	if (s->procfs_dir == NULL) {
		s->procfs_dir = NFSDCLTRACK_PROCFS;
	}
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9') {
		return c - '0';
	}
	if (c >= 'a' && c <= 'f') {
		return c - 'a' + 10;
	}
	if (c >= 'A' && c <= 'F') {
		return c - 'A' + 10;
	}
	return -1;
}

/*
 * nfsdcltrack: pairs of hex digits of either case; an odd length or a
 * non-hex digit is -EINVAL, more than 1024 bytes -ENOBUFS.  An empty id
 * is refused here (-EINVAL): nfsdcltrack would store an empty blob, but
 * the kernel never sends one and cltrackd ids are 1..1024 bytes.
 */
static int umh_decode_id(const char *hex, struct cltrack_client_op *op)
{
	size_t len = strlen(hex);
	size_t i;

	if (len % 2 != 0) {
		umh_log(LOG_ERR, "Client id has an odd number of hex digits");
		return -EINVAL;
	}
	if (len / 2 > CLTRACK_ID_MAX) {
		umh_log(LOG_ERR, "Client id is longer than %d bytes",
			CLTRACK_ID_MAX);
		return -ENOBUFS;
	}
	for (i = 0; i < len; i += 2) {
		int hi = hexval(hex[i]);
		int lo = hexval(hex[i + 1]);

		if (hi < 0 || lo < 0) {
			umh_log(LOG_ERR, "Client id has a non-hex digit at "
				"%zu", i);
			return -EINVAL;
		}
		op->id[i / 2] = (uint8_t)(hi << 4 | lo);
	}
	if (len == 0) {
		umh_log(LOG_ERR, "Empty client id");
		return -EINVAL;
	}
	op->idlen = (uint16_t)(len / 2);
	return 0;
}

static bool umh_has_session(void)
{
	const char *v = getenv("NFSDCLTRACK_CLIENT_HAS_SESSION");

	/* The kernel sends Y for minor version != 0, N otherwise */
	return v != NULL && v[0] == 'Y' && v[1] == '\0';
}

/* NFSDCLTRACK_GRACE_START as a time; false when missing or bad */
static bool umh_grace_start(int64_t *t)
{
	const char *v = getenv("NFSDCLTRACK_GRACE_START");
	char *tail = NULL;
	long long ll;

	if (v == NULL) {
		return false;
	}
	errno = 0;
	ll = strtoll(v, &tail, 0);
	if (errno != 0 || tail == v || *tail != '\0') {
		umh_log(LOG_DEBUG, "Bad NFSDCLTRACK_GRACE_START \"%s\"", v);
		return false;
	}
	*t = (int64_t)ll;
	return true;
}

/*
 * Lift grace early when no client can still reclaim (nfsdcltrack's
 * rule): every client has reclaimed with a session since this grace
 * started.  Unknown answers keep grace on; that is always safe.
 */
static void umh_maybe_end_grace(struct cltrack_client *c,
				const struct umh_settings *s)
{
	char path[PATH_MAX];
	uint64_t count = 0;
	int64_t gs = 0;
	ssize_t n;
	int ret;
	int fd;

	if (!umh_grace_start(&gs)) {
		umh_log(LOG_DEBUG, "No grace start time; grace not lifted");
		return;
	}
	ret = cltrack_umh_reclaiming(c, gs, &count);
	if (ret != 0) {
		umh_log(LOG_WARNING, "Cannot count reclaiming clients: %s",
			cltrack_strerror(ret));
		return;
	}
	if (count > 0) {
		umh_log(LOG_DEBUG, "%llu clients may still reclaim",
			(unsigned long long)count);
		return;
	}
	ret = snprintf(path, sizeof(path), "%s/v4_end_grace", s->procfs_dir);
	if (ret < 0 || (size_t)ret >= sizeof(path)) {
		umh_log(LOG_ERR, "procfs path too long");
		return;
	}
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd == -1) {
		/* Kernels without v4_end_grace: nothing to lift */
		if (errno != ENOENT) {
			umh_log(LOG_ERR, "Cannot open %s: %s", path,
				strerror(errno));
		}
		return;
	}
	n = write(fd, "Y", 1);
	if (n != 1) {
		umh_log(LOG_ERR, "Cannot write %s: %s", path,
			n == -1 ? strerror(errno) : "short write");
	} else {
		umh_log(LOG_DEBUG, "No client may still reclaim: lifted "
			"grace through %s", path);
	}
	close(fd);
}

static int umh_init(struct cltrack_client *c, const struct umh_settings *s)
{
	int ret;

	/* A failing init makes the kernel fall back to another tracker */
	ret = cltrack_ping(c);
	if (ret != 0) {
		umh_log(LOG_ERR, "cltrackd on %s does not answer: %s",
			s->socket, cltrack_strerror(ret));
		return -EACCES;
	}
	umh_maybe_end_grace(c, s);
	return 0;
}

static int umh_create(struct cltrack_client *c, const struct umh_settings *s,
		      const char *arg)
{
	struct cltrack_client_op op = {};
	bool session = umh_has_session();
	int ret;

	ret = umh_decode_id(arg, &op);
	if (ret != 0) {
		return ret;
	}
	op.flags = session ? CLTRACK_F_SESSION : 0;
	ret = cltrack_umh_create(c, &op, (int64_t)time(NULL));
	if (ret != 0) {
		umh_log(LOG_ERR, "create failed: %s", cltrack_strerror(ret));
		return -EREMOTEIO;
	}
	/* A v4.1+ client creates at RECLAIM_COMPLETE: maybe the last one */
	if (session) {
		umh_maybe_end_grace(c, s);
	}
	return 0;
}

static int umh_remove(struct cltrack_client *c, const char *arg)
{
	struct cltrack_client_op op = {};
	int ret;

	ret = umh_decode_id(arg, &op);
	if (ret != 0) {
		return ret;
	}
	ret = cltrack_umh_remove(c, &op);
	if (ret != 0) {
		umh_log(LOG_ERR, "remove failed: %s", cltrack_strerror(ret));
		return -EREMOTEIO;
	}
	return 0;
}

/*
 * A client unknown to us may still be known to the legacy tracker: its
 * directory <recoverydir>/<md5hex> exists.  nfsdcltrack then adopts it
 * (time 0 for a session client, which will create at RECLAIM_COMPLETE;
 * now for v4.0, which never will) and removes the directory.
 */
static int umh_check_legacy(struct cltrack_client *c,
			    struct cltrack_client_op *op, bool session)
{
	const char *recdir = getenv("NFSDCLTRACK_LEGACY_RECDIR");
	struct stat st;
	int ret;

	if (recdir == NULL || stat(recdir, &st) != 0 ||
	    !S_ISDIR(st.st_mode)) {
		return -EPERM;
	}
	ret = cltrack_umh_create(c, op, session ? 0 : (int64_t)time(NULL));
	if (ret != 0) {
		umh_log(LOG_ERR, "Cannot adopt legacy client: %s",
			cltrack_strerror(ret));
		return -EPERM;
	}
	if (rmdir(recdir) != 0) {
		umh_log(LOG_ERR, "Cannot remove legacy directory %s: %s",
			recdir, strerror(errno));
		return -EPERM;
	}
	umh_log(LOG_DEBUG, "Adopted legacy client from %s", recdir);
	return 0;
}

static int umh_check(struct cltrack_client *c, const char *arg)
{
	struct cltrack_client_op op = {};
	bool session = umh_has_session();
	int ret;

	ret = umh_decode_id(arg, &op);
	if (ret != 0) {
		return ret;
	}
	op.flags = session ? CLTRACK_F_SESSION : 0;
	ret = cltrack_umh_check(c, &op, (int64_t)time(NULL));
	if (ret == 0) {
		return 0;
	}
	if (ret != EACCES) {
		umh_log(LOG_ERR, "check failed: %s", cltrack_strerror(ret));
		return -EPERM;
	}
	return umh_check_legacy(c, &op, session);
}

/* Best effort, as nfsdcltrack: the legacy tracker's leftovers */
static void umh_purge_legacy_topdir(void)
{
	const char *top = getenv("NFSDCLTRACK_LEGACY_TOPDIR");
	struct dirent *de = NULL;
	DIR *dir = NULL;
	int dfd;

	if (top == NULL) {
		return;
	}
	dir = opendir(top);
	if (dir == NULL) {
		umh_log(LOG_DEBUG, "Cannot open %s: %s", top, strerror(errno));
		return;
	}
	dfd = dirfd(dir);
	while ((de = readdir(dir)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0) {
			continue;
		}
		if (unlinkat(dfd, de->d_name, AT_REMOVEDIR) != 0) {
			umh_log(LOG_DEBUG, "Cannot remove %s/%s: %s", top,
				de->d_name, strerror(errno));
		}
	}
	closedir(dir);
}

static int umh_gracedone(struct cltrack_client *c, const char *arg)
{
	char *tail = NULL;
	long long t;
	int ret;

	/* nfsdcltrack parses with strtoll(arg, &tail, 0) */
	errno = 0;
	t = strtoll(arg, &tail, 0);
	if (errno == ERANGE) {
		umh_log(LOG_ERR, "gracedone time \"%s\" is out of range", arg);
		return -ERANGE;
	}
	if (*tail != '\0') {
		umh_log(LOG_ERR, "gracedone time \"%s\" is not a number", arg);
		return -EINVAL;
	}
	ret = cltrack_umh_grace_done(c, (int64_t)t, NULL);
	if (ret != 0) {
		umh_log(LOG_ERR, "gracedone failed: %s",
			cltrack_strerror(ret));
		return -EREMOTEIO;
	}
	umh_purge_legacy_topdir();
	return 0;
}

enum umh_cmd {
	UMH_INIT,
	UMH_CREATE,
	UMH_REMOVE,
	UMH_CHECK,
	UMH_GRACEDONE,
};

static const struct {
	const char *name;
	enum umh_cmd cmd;
	bool needs_arg;
} umh_cmds[] = {
	{ "init", UMH_INIT, false },
	{ "create", UMH_CREATE, true },
	{ "remove", UMH_REMOVE, true },
	{ "check", UMH_CHECK, true },
	{ "gracedone", UMH_GRACEDONE, true },
};

static int umh_run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "debug", no_argument, NULL, 'd' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "socket", required_argument, NULL, 's' },
		{ "procfs-dir", required_argument, NULL, 'p' },
		{ "config", required_argument, NULL, 'c' },
		{ "storagedir", required_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 },
	};
	struct umh_settings s = {};
	struct cltrack_client *c = NULL;
	dictionary *dict = NULL;
	const char *cmdname = NULL;
	const char *arg = NULL;
	size_t i;
	int opt;
	int ret;

	while ((opt = getopt_long(argc, argv, "hdfs:p:c:", longopts,
				  NULL)) != -1) {
		switch (opt) {
		case 'h':
			umh_usage(stdout);
			return 0;
		case 'd':
			s.debug = true;
			break;
		case 'f':
			s.foreground = true;
			break;
		case 's':
			s.socket = optarg;
			break;
		case 'p':
			s.procfs_dir = optarg;
			break;
		case 'c':
			s.config = optarg;
			break;
		case 'S':
			break;
		default:
			umh_usage(stderr);
			return 1;
		}
	}
	umh_use_stderr = s.foreground;
	umh_debug = s.debug;
	if (!umh_use_stderr) {
		openlog("nfsdcltrack", LOG_PID, LOG_DAEMON);
	}

	if (optind >= argc) {
		umh_log(LOG_ERR, "Missing command name");
		return -EINVAL;
	}
	cmdname = argv[optind];
	for (i = 0; i < sizeof(umh_cmds) / sizeof(umh_cmds[0]); i++) {
		if (strcmp(cmdname, umh_cmds[i].name) == 0) {
			break;
		}
	}
	if (i == sizeof(umh_cmds) / sizeof(umh_cmds[0])) {
		umh_log(LOG_ERR, "Unknown command \"%s\"", cmdname);
		return -ENOSYS;
	}
	if (umh_cmds[i].needs_arg) {
		arg = optind + 1 < argc ? argv[optind + 1] : NULL;
		if (arg == NULL) {
			umh_log(LOG_ERR, "Command %s requires an argument",
				cmdname);
			return -EINVAL;
		}
	}

	umh_settings_finish(&s, &dict);
	umh_log(LOG_DEBUG, "%s %s via %s", cmdname, arg != NULL ? arg : "",
		s.socket);

	ret = cltrack_connect(NULL, s.socket, NFSDCLTRACK_TIMEOUT_MS, &c);
	if (ret != 0) {
		/*
		 * As nfsdcltrack when its database cannot be opened: init
		 * fails with -EACCES (the kernel then falls back to the
		 * legacy tracker), every other command with the raw error.
		 */
		umh_log(LOG_ERR, "Cannot reach cltrackd on %s: %s; %s fails",
			s.socket, cltrack_strerror(ret), cmdname);
		ret = umh_cmds[i].cmd == UMH_INIT ? -EACCES : -ret;
		goto done;
	}

	switch (umh_cmds[i].cmd) {
	case UMH_INIT:
		ret = umh_init(c, &s);
		break;
	case UMH_CREATE:
		ret = umh_create(c, &s, arg);
		break;
	case UMH_REMOVE:
		ret = umh_remove(c, arg);
		break;
	case UMH_CHECK:
		ret = umh_check(c, arg);
		break;
	case UMH_GRACEDONE:
		ret = umh_gracedone(c, arg);
		break;
	}
done:
	TALLOC_FREE(c);
	if (dict != NULL) {
		iniparser_freedict(dict);
	}
	return ret;
}

int main(int argc, char **argv)
{
	int ret = umh_run(argc, argv);

	/* The kernel reads a negative errno from the low 8 bits */
	return ret & 0xff;
}
