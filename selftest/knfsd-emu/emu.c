/*
 * knfsd emulator: the cld pipe (net/sunrpc/rpc_pipe.c and the cld parts
 * of fs/nfsd/nfs4recover.c), emulated over a unix SOCK_SEQPACKET socket.
 *
 * Kernel model (spec §2.2, §4.3, §4.4, §6) and how the seam maps it:
 *
 *   rpc_pipefs                      here
 *   pipe created (IN_CREATE)        socket hard-linked to <pipefs>/nfsd/cld
 *   open / close of the pipe        connect / close of a connection
 *   queued upcall (pipe->pipe)      EMU_UP_QUEUED, on emu->pending
 *   upcall read by the daemon       EMU_UP_SENT: written to a connection
 *   downcall write()                one record received, §4.4 checks
 *   last close: -EAGAIN, re-queue   every unanswered upcall of that
 *                                   connection goes back to the queue
 *   30 s timer, no reader           queued upcalls fail -ETIMEDOUT
 *   unlink (nfsd stop)              pending upcalls fail -EPIPE
 *
 * A socket cannot show a partial read, so "read" means "written to the
 * connection".  Queued upcalls go to the newest connection: a reopening
 * daemon connects first and closes its old connection afterwards.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "bytes.h"
#include "emu_private.h"

#define EMU_RECV_BUF	4096	/* > any message, to see oversized ones */

static void emu_conn_close(struct emu_conn *conn);
static void emu_upcall_finish(struct emu_upcall *up, int result);

uint64_t emu_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void emu_vlog(struct emu *emu, FILE *f, const char *fmt, va_list ap)
{
	double t = (double)(emu_now_ns() - emu->t0_ns) / 1e9;

	fprintf(f, "[%8.3f] ", t);
	vfprintf(f, fmt, ap);
	fputc('\n', f);
	fflush(f);
}

/* Story output: what the kernel does, as a demo shows it */
void emu_log(struct emu *emu, const char *fmt, ...)
{
	va_list ap;

	if (!emu->opts.verbose) {
		return;
	}
	va_start(ap, fmt);
	emu_vlog(emu, stdout, fmt, ap);
	va_end(ap);
}

/* Something a daemon did wrong: always shown */
void emu_warn(struct emu *emu, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	va_start(ap, fmt);
	emu_vlog(emu, stderr, fmt, ap);
	va_end(ap);
}

/* FNV-1a */
uint32_t emu_id_hash(const uint8_t *id, size_t len)
{
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= id[i];
		h *= 16777619u;
	}
	return h;
}

/* cm_vers of upcalls and of the expected downcalls for the current ops */
uint8_t emu_ops_vers(const struct emu *emu)
{
	return emu->tracker == EMU_TRACK_V2 ? 2 : 1;
}

void emu_opts_init(struct emu_opts *opts)
{
	*opts = (struct emu_opts) {
		.version_max = 2,
		.profile = 'A',
		.grace_time = 90,
		.lease_time = 90,
		.opener_wait_ms = 1000,
		.no_reader_ms = 30000,
		.hang_ms = 10000,
		/* 6.1's defaults: NFSv4.0 served */
		.nfs_versions = "-2 +3 +4 +4.0 +4.1 +4.2",
	};
}

static int emu_destructor(struct emu *emu)
{
	emu_nfsd_stop(emu);
	emu_pipe_destroy(emu);
	return 0;
}

static int emu_mkdir(const char *path)
{
	int ret = mkdir(path, 0755);

	if (ret != 0 && errno != EEXIST) {
		return errno;
	}
	return 0;
}

int emu_init(TALLOC_CTX *mem_ctx, const struct emu_opts *opts,
	     struct emu **result)
{
	struct emu *emu = NULL;
	struct sockaddr_un sun;
	char *nfsd_dir = NULL;
	int ret;

	if (opts->pipefs_dir == NULL || opts->version_max < 0 ||
	    opts->version_max > 2 ||
	    (opts->profile != 'A' && opts->profile != 'B')) {
		return EINVAL;
	}

	emu = talloc_zero(mem_ctx, struct emu);
	if (emu == NULL) {
		return ENOMEM;
	}
	emu->opts = *opts;
	emu->t0_ns = emu_now_ns();
	emu->listen_fd = -1;
	TAILQ_INIT(&emu->conns);
	TAILQ_INIT(&emu->pending);
	emu->tracker = EMU_TRACK_NONE;
	emu->grace = EMU_GRACE_STOPPED;

	emu->opts.pipefs_dir = talloc_strdup(emu, opts->pipefs_dir);
	nfsd_dir = talloc_asprintf(emu, "%s/nfsd", opts->pipefs_dir);
	emu->pipe_path = talloc_asprintf(emu, "%s/cld", nfsd_dir);
	emu->bind_path = talloc_asprintf(emu, "%s/.knfsd-emu-cld.%d",
					 opts->pipefs_dir, (int)getpid());
	if (emu->opts.pipefs_dir == NULL || emu->pipe_path == NULL ||
	    emu->bind_path == NULL) {
		ret = ENOMEM;
		goto fail;
	}
	if (strlen(emu->pipe_path) >= sizeof(sun.sun_path) ||
	    strlen(emu->bind_path) >= sizeof(sun.sun_path)) {
		ret = ENAMETOOLONG;
		goto fail;
	}

	/* rpc_pipefs's nfsd directory exists whenever it is mounted */
	ret = emu_mkdir(opts->pipefs_dir);
	if (ret == 0) {
		ret = emu_mkdir(nfsd_dir);
	}
	if (ret != 0) {
		goto fail;
	}

	if (opts->procfs_dir != NULL) {
		emu->opts.procfs_dir = talloc_strdup(emu, opts->procfs_dir);
		if (emu->opts.procfs_dir == NULL) {
			ret = ENOMEM;
			goto fail;
		}
		ret = emu_proc_init(emu);
		if (ret != 0) {
			goto fail;
		}
	}

	talloc_set_destructor(emu, emu_destructor);
	*result = emu;
	return 0;
fail:
	talloc_free(emu);
	return ret;
}

/*
 * Create the pipe.  The socket is bound under a hidden name and then
 * hard-linked into place: the link raises IN_CREATE for "cld" in
 * <pipefs>/nfsd only once the socket already listens, so a daemon woken
 * by inotify never meets ECONNREFUSED.
 */
int emu_pipe_create(struct emu *emu)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;
	int ret;

	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		return errno;
	}
	strncpy(sun.sun_path, emu->bind_path, sizeof(sun.sun_path) - 1);
	unlink(emu->bind_path);
	ret = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	if (ret == 0) {
		ret = listen(fd, 64);
	}
	if (ret == 0) {
		unlink(emu->pipe_path);
		ret = link(emu->bind_path, emu->pipe_path);
	}
	if (ret != 0) {
		ret = errno;
		unlink(emu->bind_path);
		close(fd);
		emu_warn(emu, "emu: cannot create %s: %s", emu->pipe_path,
			 strerror(ret));
		return ret;
	}
	unlink(emu->bind_path);

	emu->listen_fd = fd;
	emu->next_xid = 0;	/* per-pipe state starts zeroed (§2.1) */
	emu->no_reader_deadline_ns = 0;
	emu_log(emu, "pipe: created nfsd/cld");
	return 0;
}

/* Unlink the pipe: open files turn to EPIPE, pending upcalls fail -EPIPE */
void emu_pipe_destroy(struct emu *emu)
{
	struct emu_upcall *up = NULL;
	struct emu_conn *conn = NULL;

	if (emu->listen_fd != -1) {
		unlink(emu->pipe_path);
		close(emu->listen_fd);
		emu->listen_fd = -1;
		emu_log(emu, "pipe: unlinked nfsd/cld");
	}
	while ((conn = TAILQ_FIRST(&emu->conns)) != NULL) {
		TAILQ_REMOVE(&emu->conns, conn, link);
		emu->nconns--;
		talloc_free(conn);
	}
	while ((up = TAILQ_FIRST(&emu->pending)) != NULL) {
		emu_upcall_finish(up, -EPIPE);
	}
	emu->no_reader_deadline_ns = 0;
	emu->want_pollout = false;
}

static int emu_conn_destructor(struct emu_conn *conn)
{
	if (conn->fd != -1) {
		close(conn->fd);
	}
	return 0;
}

static void emu_accept(struct emu *emu)
{
	struct emu_conn *conn = NULL;
	int fd;

	for (;;) {
		fd = accept4(emu->listen_fd, NULL, NULL,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR) {
				emu_warn(emu, "emu: accept: %s",
					 strerror(errno));
			}
			return;
		}
		conn = talloc_zero(emu, struct emu_conn);
		if (conn == NULL) {
			close(fd);
			return;
		}
		conn->emu = emu;
		conn->fd = fd;
		conn->serial = ++emu->conn_serial;
		talloc_set_destructor(conn, emu_conn_destructor);
		TAILQ_INSERT_TAIL(&emu->conns, conn, link);
		emu->nconns++;
		emu->counters.opens++;
		emu_log(emu, "pipe: opened by the daemon (connection %u, "
			"%u open)", conn->serial, emu->nconns);
	}
}

static unsigned emu_queued(const struct emu *emu)
{
	const struct emu_upcall *up = NULL;
	unsigned n = 0;

	TAILQ_FOREACH(up, &emu->pending, link) {
		if (up->state == EMU_UP_QUEUED) {
			n++;
		}
	}
	return n;
}

/*
 * rpc_queue_upcall(): with no reader, queuing onto an empty queue arms
 * the 30 s timer (RPC_UPCALL_TIMEOUT); an armed timer is not moved.
 */
static void emu_arm_no_reader_timer(struct emu *emu)
{
	if (emu->nconns == 0 && emu->no_reader_deadline_ns == 0) {
		emu->no_reader_deadline_ns = emu_now_ns() +
			(uint64_t)emu->opts.no_reader_ms * 1000000ULL;
	}
}

/*
 * A connection closed: for cld every unanswered message of it comes back
 * with -EAGAIN and is queued again (cld_pipe_upcall() loops on -EAGAIN).
 */
static void emu_conn_close(struct emu_conn *conn)
{
	struct emu *emu = conn->emu;
	struct emu_upcall *up = NULL;
	struct emu_upcall *next = NULL;
	unsigned requeued = 0;
	bool queue_was_empty = (emu_queued(emu) == 0);

	/*
	 * A daemon that reopens has connect()ed before it closed: its new
	 * connection may still wait in the backlog, and counts as open.
	 */
	if (emu->listen_fd != -1) {
		emu_accept(emu);
	}
	TAILQ_REMOVE(&emu->conns, conn, link);
	emu->nconns--;

	for (up = TAILQ_FIRST(&emu->pending); up != NULL; up = next) {
		next = TAILQ_NEXT(up, link);
		if (up->state != EMU_UP_SENT || up->conn != conn) {
			continue;
		}
		/* a copy may still be sent later, so keep the queue order */
		TAILQ_REMOVE(&emu->pending, up, link);
		TAILQ_INSERT_TAIL(&emu->pending, up, link);
		up->state = EMU_UP_QUEUED;
		up->conn = NULL;
		requeued++;
	}
	emu->counters.requeued += requeued;

	emu_log(emu, "pipe: connection %u closed (%u open, %u upcalls "
		"queued again)", conn->serial, emu->nconns, requeued);
	if (emu->nconns == 0 && emu->npending > 0) {
		/* §14 item 21: a reopening daemon never lets this happen */
		emu->counters.reader_gaps++;
		emu_log(emu, "pipe: no reader left with %u upcalls pending",
			emu->npending);
	}
	if (emu->nconns == 0 && queue_was_empty && emu_queued(emu) > 0) {
		emu_arm_no_reader_timer(emu);
	}
	talloc_free(conn);
}

static void emu_trace_msg(struct emu *emu, bool downcall,
			  const uint8_t *buf, size_t len, int verdict)
{
	struct cld_msg msg = {};
	struct emu_trace t = {
		.downcall = downcall,
		.len = len,
		.msg = &msg,
		.verdict = verdict,
	};

	if (emu->trace_fn == NULL) {
		return;
	}
	if (len >= CLD_HDR_SIZE) {
		msg.vers = buf[0];
		msg.cmd = buf[1];
		msg.status = (int16_t)h_get16(buf + 2);
		msg.xid = h_get32(buf + 4);
	}
	t.pull_ret = cld_msg_pull(buf, len, &msg);
	emu->trace_fn(emu->trace_private, &t);
}

/* Deliver queued upcalls to the newest connection */
static void emu_flush(struct emu *emu)
{
	struct emu_conn *conn = NULL;
	struct emu_upcall *up = NULL;
	ssize_t n;

	emu->want_pollout = false;
again:
	conn = TAILQ_LAST(&emu->conns, emu_conn_list);
	if (conn == NULL) {
		return;
	}
	TAILQ_FOREACH(up, &emu->pending, link) {
		if (up->state != EMU_UP_QUEUED) {
			continue;
		}
		n = send(conn->fd, up->buf, up->len,
			 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK ||
				errno == ENOBUFS)) {
			emu->want_pollout = true;
			return;
		}
		if (n == -1 || (size_t)n != up->len) {
			emu_log(emu, "pipe: send on connection %u: %s",
				conn->serial, n == -1 ? strerror(errno) :
				"short");
			emu_conn_close(conn);
			goto again;
		}
		up->state = EMU_UP_SENT;
		up->conn = conn;
		emu->counters.sends++;
		emu_trace_msg(emu, false, up->buf, up->len, 0);
	}
}

static void emu_upcall_finish(struct emu_upcall *up, int result)
{
	struct emu *emu = up->emu;

	TAILQ_REMOVE(&emu->pending, up, link);
	emu->npending--;
	up->state = EMU_UP_DONE;
	up->conn = NULL;
	up->result = result;
	up->t_done_ns = emu_now_ns();
	if (result != 0) {
		emu_log(emu, "upcall   xid %u %s failed: %d (%s)", up->xid,
			cld_cmd_name(up->buf[1]), result, strerror(-result));
	}
	emu_nfsd_upcall_done(emu, up);
	if (up->kind == EMU_KIND_GRACE_DONE) {
		talloc_free(up);
	}
}

static struct emu_upcall *emu_find_xid(struct emu *emu, uint32_t xid)
{
	struct emu_upcall *up = NULL;

	TAILQ_FOREACH(up, &emu->pending, link) {
		if (up->xid == xid) {
			return up;
		}
	}
	return NULL;
}

static void emu_log_reply(struct emu *emu, const struct cld_msg *msg)
{
	if (!emu->opts.verbose) {
		return;
	}
	if (msg->cmd == CLD_GET_VERSION && msg->status == 0) {
		emu_log(emu, "downcall xid %u %s status 0 version %u",
			msg->xid, cld_cmd_name(msg->cmd), msg->version);
		return;
	}
	emu_log(emu, "downcall xid %u %s status %d", msg->xid,
		cld_cmd_name(msg->cmd), msg->status);
}

/*
 * cld_pipe_downcall(), §4.4.  A rejected write leaves the upcall pending;
 * the daemon would see EINVAL or EFAULT, which the seam cannot return,
 * so it is counted and reported instead.  len may exceed the bytes in
 * buf (an oversized record); it is then rejected on its size alone.
 */
static void emu_downcall(struct emu *emu, struct emu_conn *conn,
			 const uint8_t *buf, size_t len)
{
	uint8_t copy[CLD_MSG_MAX_SIZE];
	struct cld_msg msg;
	struct emu_upcall *up = NULL;
	size_t want = cld_msg_size(emu_ops_vers(emu));
	uint32_t xid;
	int16_t status;
	int verdict = EINVAL;
	int ret;

	emu->counters.downcalls++;

	if (len != want) {
		emu->counters.rejected_size++;
		emu_warn(emu, "emu: connection %u: downcall of %zu bytes, "
			 "ops need %zu: EINVAL", conn->serial, len, want);
		goto rejected;
	}
	xid = h_get32(buf + 4);
	status = (int16_t)h_get16(buf + 2);

	up = emu_find_xid(emu, xid);
	if (up == NULL) {
		emu->counters.rejected_xid++;
		emu_warn(emu, "emu: connection %u: downcall for unknown xid "
			 "%u (cmd %u status %d): EINVAL", conn->serial, xid,
			 buf[1], status);
		goto rejected;
	}
	if (emu->opts.profile == 'B' && up->state == EMU_UP_QUEUED) {
		emu->counters.rejected_unread++;
		emu_warn(emu, "emu: downcall for xid %u before it was read: "
			 "EINVAL", xid);
		goto rejected;
	}

	/* The kernel decodes by its ops' layout and ignores cm_vers */
	memcpy(copy, buf, len);
	copy[0] = emu_ops_vers(emu);
	ret = cld_msg_pull(copy, len, &msg);
	if (ret != 0) {
		goto rejected;		/* cannot happen: size checked */
	}

	if (status == -EINPROGRESS) {
		if (msg.cmd != CLD_GRACE_START) {
			emu->counters.rejected_cmd++;
			verdict = EFAULT;
			emu_warn(emu, "emu: -EINPROGRESS downcall xid %u with "
				 "cm_cmd %u: EFAULT", xid, msg.cmd);
			goto rejected;
		}
		/* a record refused by validation is no protocol error */
		verdict = emu_nfsd_record(emu, &msg);
		emu_trace_msg(emu, true, buf, len, verdict);
		return;
	}

	emu_log_reply(emu, &msg);
	up->reply = msg;
	emu_upcall_finish(up, 0);
	emu_trace_msg(emu, true, buf, len, 0);
	return;

rejected:
	emu->counters.rejected_downcalls++;
	emu_trace_msg(emu, true, buf, len, verdict);
}

/* Read every record the connection has; false if it was closed */
static bool emu_conn_read(struct emu_conn *conn)
{
	struct emu *emu = conn->emu;
	uint8_t buf[EMU_RECV_BUF];
	ssize_t n;

	for (;;) {
		n = recv(conn->fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC);
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			return true;
		}
		if (n == -1 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			emu_conn_close(conn);
			return false;
		}
		/* MSG_TRUNC: n is the record's length, even if larger */
		emu_downcall(emu, conn, buf, (size_t)n);
	}
}

static void emu_timers(struct emu *emu)
{
	struct emu_upcall *up = NULL;
	struct emu_upcall *next = NULL;
	uint64_t now = emu_now_ns();
	unsigned failed = 0;

	if (emu->no_reader_deadline_ns != 0 &&
	    now >= emu->no_reader_deadline_ns) {
		emu->no_reader_deadline_ns = 0;
		if (emu->nconns == 0) {
			for (up = TAILQ_FIRST(&emu->pending); up != NULL;
			     up = next) {
				next = TAILQ_NEXT(up, link);
				if (up->state == EMU_UP_QUEUED) {
					emu->counters.timeouts++;
					failed++;
					emu_upcall_finish(up, -ETIMEDOUT);
				}
			}
			emu_log(emu, "pipe: nobody opened it in %u ms: %u "
				"upcalls failed -ETIMEDOUT",
				emu->opts.no_reader_ms, failed);
		}
	}
	emu_nfsd_timers(emu, now);
}

static int emu_next_timeout(const struct emu *emu, int timeout_ms)
{
	uint64_t now = emu_now_ns();
	uint64_t next = emu_nfsd_next_timer(emu);
	uint64_t ms;

	if (emu->no_reader_deadline_ns != 0 &&
	    (next == 0 || emu->no_reader_deadline_ns < next)) {
		next = emu->no_reader_deadline_ns;
	}
	if (next == 0) {
		return timeout_ms;
	}
	ms = next > now ? (next - now + 999999) / 1000000 : 0;
	if (timeout_ms < 0 || ms < (uint64_t)timeout_ms) {
		return (int)ms;
	}
	return timeout_ms;
}

void emu_pump(struct emu *emu, int timeout_ms)
{
	TALLOC_CTX *tmp_ctx = talloc_new(emu);
	struct pollfd *pfds = NULL;
	struct emu_conn **conns = NULL;
	struct emu_conn *conn = NULL;
	struct emu_conn *newest = NULL;
	unsigned n = 0;
	unsigned i;

	emu_flush(emu);

	pfds = talloc_zero_array(tmp_ctx, struct pollfd, emu->nconns + 1);
	conns = talloc_zero_array(tmp_ctx, struct emu_conn *, emu->nconns + 1);
	if (pfds == NULL || conns == NULL) {
		goto done;
	}
	if (emu->listen_fd != -1) {
		pfds[n++] = (struct pollfd) {
			.fd = emu->listen_fd,
			.events = POLLIN,
		};
	}
	newest = TAILQ_LAST(&emu->conns, emu_conn_list);
	TAILQ_FOREACH(conn, &emu->conns, link) {
		conns[n] = conn;
		pfds[n++] = (struct pollfd) {
			.fd = conn->fd,
			.events = POLLIN | ((emu->want_pollout &&
					     conn == newest) ? POLLOUT : 0),
		};
	}

	poll(pfds, n, emu_next_timeout(emu, timeout_ms));

	for (i = 0; i < n; i++) {
		if (pfds[i].revents == 0) {
			continue;
		}
		if (pfds[i].fd == emu->listen_fd && conns[i] == NULL) {
			emu_accept(emu);
			continue;
		}
		/* only the connection being read can be closed here */
		if (pfds[i].revents & (POLLIN | POLLHUP | POLLERR)) {
			emu_conn_read(conns[i]);
		}
	}

	emu_timers(emu);
	emu_flush(emu);
done:
	talloc_free(tmp_ctx);
}

void emu_sleep(struct emu *emu, int ms)
{
	uint64_t end = emu_now_ns() + (uint64_t)ms * 1000000ULL;
	uint64_t now;

	while ((now = emu_now_ns()) < end) {
		emu_pump(emu, (int)((end - now + 999999) / 1000000));
	}
}

static int emu_upcall_destructor(struct emu_upcall *up)
{
	if (up->state != EMU_UP_DONE) {
		TAILQ_REMOVE(&up->emu->pending, up, link);
		up->emu->npending--;
	}
	return 0;
}

/* alloc_cld_upcall(): take the counter, skipping xids still pending */
static uint32_t emu_xid_alloc(struct emu *emu)
{
	struct emu_upcall *up = NULL;

restart:
	TAILQ_FOREACH(up, &emu->pending, link) {
		if (up->xid == emu->next_xid) {
			emu->next_xid++;
			goto restart;
		}
	}
	return emu->next_xid++;
}

int emu_upcall_queue(struct emu *emu, TALLOC_CTX *mem_ctx,
		     const uint8_t *buf, size_t len,
		     enum emu_upcall_kind kind, struct emu_upcall **result)
{
	struct emu_upcall *up = NULL;
	bool queue_was_empty;

	if (emu->listen_fd == -1) {
		return ESRCH;
	}
	if (len < CLD_HDR_SIZE || len > EMU_RECV_BUF) {
		return EINVAL;
	}
	up = talloc_zero(mem_ctx, struct emu_upcall);
	if (up == NULL) {
		return ENOMEM;
	}
	up->buf = talloc_memdup(up, buf, len);
	if (up->buf == NULL) {
		talloc_free(up);
		return ENOMEM;
	}
	up->emu = emu;
	up->len = len;
	up->kind = kind;
	up->state = EMU_UP_QUEUED;
	up->result = -EINPROGRESS;
	up->xid = emu_xid_alloc(emu);
	h_put32(up->buf + 4, up->xid);
	up->t_queued_ns = emu_now_ns();

	queue_was_empty = (emu_queued(emu) == 0);
	TAILQ_INSERT_TAIL(&emu->pending, up, link);
	emu->npending++;
	talloc_set_destructor(up, emu_upcall_destructor);
	emu->counters.upcalls++;
	if (queue_was_empty) {
		emu_arm_no_reader_timer(emu);
	}
	*result = up;
	return 0;
}

static void emu_log_upcall(struct emu *emu, const struct cld_msg *msg,
			   uint32_t xid)
{
	char *id = NULL;

	if (!emu->opts.verbose) {
		return;
	}
	switch (msg->cmd) {
	case CLD_CREATE:
	case CLD_REMOVE:
	case CLD_CHECK:
		id = emu_id_string(NULL, msg->name, msg->name_len);
		emu_log(emu, "upcall   xid %u %s v%u \"%s\"%s", xid,
			cld_cmd_name(msg->cmd), msg->vers,
			id != NULL ? id : "?",
			msg->princhash_len > 0 ? " +princhash" : "");
		talloc_free(id);
		break;
	default:
		emu_log(emu, "upcall   xid %u %s v%u", xid,
			cld_cmd_name(msg->cmd), msg->vers);
		break;
	}
}

int emu_upcall_queue_msg(struct emu *emu, TALLOC_CTX *mem_ctx,
			 const struct cld_msg *msg, enum emu_upcall_kind kind,
			 struct emu_upcall **result)
{
	uint8_t buf[CLD_MSG_MAX_SIZE];
	size_t len;
	int ret;

	len = cld_msg_push(msg, buf, sizeof(buf));
	if (len == 0) {
		return EINVAL;
	}
	ret = emu_upcall_queue(emu, mem_ctx, buf, len, kind, result);
	if (ret == 0) {
		emu_log_upcall(emu, msg, (*result)->xid);
	}
	return ret;
}

int emu_upcall_send_buf(struct emu *emu, TALLOC_CTX *mem_ctx,
			const uint8_t *buf, size_t len,
			struct emu_upcall **result)
{
	int ret;

	ret = emu_upcall_queue(emu, mem_ctx, buf, len, EMU_KIND_RAW, result);
	if (ret == 0) {
		emu_log(emu, "upcall   xid %u raw %zu bytes (vers %u cmd %u)",
			(*result)->xid, len, buf[0], buf[1]);
	}
	return ret;
}

int emu_upcall_send(struct emu *emu, TALLOC_CTX *mem_ctx,
		    const struct cld_msg *msg, struct emu_upcall **result)
{
	return emu_upcall_queue_msg(emu, mem_ctx, msg, EMU_KIND_RAW, result);
}

int emu_upcall_wait(struct emu *emu, struct emu_upcall *up, int timeout_ms)
{
	uint64_t end = emu_now_ns() + (uint64_t)timeout_ms * 1000000ULL;
	uint64_t now;

	while (up->state != EMU_UP_DONE) {
		now = emu_now_ns();
		if (now >= end) {
			return ETIMEDOUT;
		}
		emu_pump(emu, (int)((end - now + 999999) / 1000000));
	}
	return 0;
}

/*
 * An nfsd thread blocked in cld_pipe_upcall().  The kernel waits without
 * a limit; past hang_ms the emulator calls it a hang (§11 profile A).
 */
int emu_wait_nfsd_thread(struct emu *emu, struct emu_upcall *up)
{
	int ret = emu_upcall_wait(emu, up, (int)emu->opts.hang_ms);

	if (ret != 0) {
		emu_warn(emu, "emu: nfsd thread hung: %s xid %u unanswered "
			 "after %u ms (%s)", cld_cmd_name(up->buf[1]),
			 up->xid, emu->opts.hang_ms,
			 up->state == EMU_UP_QUEUED ?
			 "never read: no reader, or the daemon is stuck" :
			 "read but not answered: the kernel waits forever");
		return ETIME;
	}
	return 0;
}

bool emu_upcall_done(const struct emu_upcall *up)
{
	return up->state == EMU_UP_DONE;
}

uint32_t emu_upcall_xid(const struct emu_upcall *up)
{
	return up->xid;
}

int emu_upcall_result(const struct emu_upcall *up, struct cld_msg *reply)
{
	if (up->state != EMU_UP_DONE) {
		return -EINPROGRESS;
	}
	if (up->result == 0 && reply != NULL) {
		*reply = up->reply;
	}
	return up->result;
}

uint64_t emu_upcall_latency_us(const struct emu_upcall *up)
{
	if (up->state != EMU_UP_DONE) {
		return 0;
	}
	return (up->t_done_ns - up->t_queued_ns) / 1000;
}

int emu_send_raw(struct emu *emu, const void *buf, size_t len)
{
	struct emu_conn *conn = TAILQ_LAST(&emu->conns, emu_conn_list);
	ssize_t n;

	if (conn == NULL) {
		return ENOTCONN;
	}
	n = send(conn->fd, buf, len, MSG_NOSIGNAL);
	if (n == -1) {
		return errno;
	}
	emu_log(emu, "pipe: wrote %zu raw bytes to connection %u", len,
		conn->serial);
	emu_trace_msg(emu, false, buf, len, 0);
	return 0;
}

const struct emu_counters *emu_counters(const struct emu *emu)
{
	return &emu->counters;
}

uint32_t emu_next_xid(const struct emu *emu)
{
	return emu->next_xid;
}

unsigned emu_connections(const struct emu *emu)
{
	return emu->nconns;
}

unsigned emu_pending(const struct emu *emu)
{
	return emu->npending;
}

void emu_set_verbose(struct emu *emu, bool verbose)
{
	emu->opts.verbose = verbose;
}

void emu_set_trace(struct emu *emu,
		   void (*fn)(void *private_data, const struct emu_trace *t),
		   void *private_data)
{
	emu->trace_fn = fn;
	emu->trace_private = private_data;
}

char *emu_id_string(TALLOC_CTX *mem_ctx, const uint8_t *id, size_t len)
{
	bool printable = len > 0 && (len < 4 || memcmp(id, "hex:", 4) != 0);
	char *s = NULL;
	size_t i;

	for (i = 0; i < len && printable; i++) {
		if (id[i] < 0x21 || id[i] > 0x7e || id[i] == '"') {
			printable = false;
		}
	}
	if (printable) {
		return talloc_strndup(mem_ctx, (const char *)id, len);
	}
	s = talloc_array(mem_ctx, char, 4 + 2 * len + 1);
	if (s == NULL) {
		return NULL;
	}
	memcpy(s, "hex:", 4);
	for (i = 0; i < len; i++) {
		snprintf(s + 4 + 2 * i, 3, "%02x", id[i]);
	}
	s[4 + 2 * len] = '\0';
	return s;
}

static int emu_hexval(char c)
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

int emu_id_parse(TALLOC_CTX *mem_ctx, const char *s, uint8_t **id,
		 size_t *len)
{
	const char *hex = NULL;
	uint8_t *out = NULL;
	size_t n;
	size_t i;
	int hi;
	int lo;

	if (strncmp(s, "hex:", 4) != 0) {
		n = strlen(s);
		out = talloc_memdup(mem_ctx, s, n + 1);
		if (out == NULL) {
			return ENOMEM;
		}
		*id = out;
		*len = n;
		return 0;
	}

	hex = s + 4;
	n = strlen(hex);
	if (n % 2 != 0) {
		return EINVAL;
	}
	out = talloc_zero_array(mem_ctx, uint8_t, n / 2 + 1);
	if (out == NULL) {
		return ENOMEM;
	}
	for (i = 0; i < n / 2; i++) {
		hi = emu_hexval(hex[2 * i]);
		lo = emu_hexval(hex[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			talloc_free(out);
			return EINVAL;
		}
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	*id = out;
	*len = n / 2;
	return 0;
}
