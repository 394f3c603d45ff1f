/*
 * cldshim: LD_PRELOAD shim that lets Debian's unmodified nfsdcld talk to
 * the knfsd emulator's test seam (shared/spec/knfsd-upcalls.md §11.1).
 *
 * The emulator's <pipefs>/nfsd/cld is a SOCK_SEQPACKET listening socket;
 * nfsdcld open()s it as an rpc_pipefs file.  For that one path:
 *
 *   open()   connect a SOCK_SEQPACKET socket instead and remember the fd;
 *   read()   rpc_pipefs semantics: receive one whole record into a per-fd
 *            buffer and hand out at most the rest of that one message per
 *            read(); with nothing buffered and nothing queued (a
 *            MSG_DONTWAIT receive that would block) return 0, as
 *            rpc_pipe_read() does; after the emulator closed the
 *            connection (nfsd stop unlinked the pipe) fail with EPIPE;
 *   write()  unchanged: one write is one record;
 *   close()  forget the buffer.
 *
 * nfsdcld (nfs-utils 2.6.2) imports open, read, write and close, and
 * waits with libevent (epoll) on the fd and inotify on <pipefs>/nfsd:
 * both work on the socket as they do on the pipe.
 *
 * Built by selftest/bench/bench.sh: gcc -shared -fPIC -o cldshim.so
 * cldshim.c -ldl.  Not part of cltrack.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define SHIM_MAX_FD	1024
#define SHIM_MSG_MAX	8192

struct shim_pipe {
	int active;
	size_t len;	/* bytes of the current record */
	size_t off;	/* bytes of it already handed out */
	unsigned char buf[SHIM_MSG_MAX];
};

static struct shim_pipe *shim_pipes[SHIM_MAX_FD];

static int (*real_open)(const char *, int, ...);
static ssize_t (*real_read)(int, void *, size_t);
static int (*real_close)(int);

static void shim_init(void)
{
	if (real_open == NULL) {
		real_open = dlsym(RTLD_NEXT, "open");
		real_read = dlsym(RTLD_NEXT, "read");
		real_close = dlsym(RTLD_NEXT, "close");
	}
}

/* Is path <something>/nfsd/cld and a unix socket? */
static int shim_is_seam(const char *path)
{
	size_t n = strlen(path);
	const char *tail = "/nfsd/cld";
	size_t t = strlen(tail);
	struct stat st;

	if (n < t || strcmp(path + n - t, tail) != 0) {
		return 0;
	}
	return stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

static int shim_connect(const char *path, int flags)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int type = SOCK_SEQPACKET;
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sun.sun_path, path);
	if (flags & O_CLOEXEC) {
		type |= SOCK_CLOEXEC;
	}
	fd = socket(AF_UNIX, type, 0);
	if (fd < 0) {
		return -1;
	}
	if (fd >= SHIM_MAX_FD ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		int err = fd >= SHIM_MAX_FD ? EMFILE : errno;

		real_close(fd);
		/* what open() of a vanished pipe would say */
		errno = err == ECONNREFUSED ? ENOENT : err;
		return -1;
	}
	if (shim_pipes[fd] == NULL) {
		shim_pipes[fd] = calloc(1, sizeof(struct shim_pipe));
		if (shim_pipes[fd] == NULL) {
			real_close(fd);
			errno = ENOMEM;
			return -1;
		}
	}
	shim_pipes[fd]->active = 1;
	shim_pipes[fd]->len = 0;
	shim_pipes[fd]->off = 0;
	return fd;
}

int open(const char *path, int flags, ...)
{
	mode_t mode = 0;

	shim_init();
	if (flags & (O_CREAT | O_TMPFILE)) {
		va_list ap;

		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	if (shim_is_seam(path)) {
		return shim_connect(path, flags);
	}
	return real_open(path, flags, mode);
}

int open64(const char *path, int flags, ...)
	__attribute__((alias("open")));

ssize_t read(int fd, void *buf, size_t count)
{
	struct shim_pipe *p = NULL;
	size_t n;

	shim_init();
	if (fd < 0 || fd >= SHIM_MAX_FD || shim_pipes[fd] == NULL ||
	    !shim_pipes[fd]->active) {
		return real_read(fd, buf, count);
	}
	p = shim_pipes[fd];
	if (p->off == p->len) {
		ssize_t got = recv(fd, p->buf, sizeof(p->buf), MSG_DONTWAIT);

		if (got < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				return 0;	/* nothing queued */
			}
			return -1;
		}
		if (got == 0) {
			errno = EPIPE;		/* the pipe was unlinked */
			return -1;
		}
		p->len = (size_t)got;
		p->off = 0;
	}
	n = p->len - p->off;
	if (n > count) {
		n = count;
	}
	memcpy(buf, p->buf + p->off, n);
	p->off += n;
	return (ssize_t)n;
}

int close(int fd)
{
	shim_init();
	if (fd >= 0 && fd < SHIM_MAX_FD && shim_pipes[fd] != NULL) {
		shim_pipes[fd]->active = 0;
		shim_pipes[fd]->len = 0;
		shim_pipes[fd]->off = 0;
	}
	return real_close(fd);
}
