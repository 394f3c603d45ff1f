/*
 * The kernel front-end on <pipefs>/nfsd/cld (spec/knfsd-upcalls.md).
 *
 * Reading: rpc_pipefs hands out at most one message per read() and
 * returns 0 at once when nothing is queued.  We read the 8-byte header,
 * then the rest of the message by its cm_vers (1034 or 1067 bytes in
 * all), never across a message boundary.  Over the test seam (a unix
 * SOCK_SEQPACKET socket) one recv() returns one whole message.
 *
 * Every readable message is read before any is processed, so upcalls
 * that arrive together are committed together (batch.c).
 *
 * Replies are matched by the kernel only by xid, on any open file of
 * the pipe, so a reply goes to whatever file is open when it is ready.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cld.h"
#include "cld_msg.h"
#include "grace.h"
#include "logging.h"

#define CLD_READ_BURST	1024	/* messages read per wake-up at most */
#define CLD_RETRY_SECS	1

struct cld_out {
	struct cld_out *next;
	size_t len;
	uint8_t buf[CLD_MSG_MAX_SIZE];
};

/* A GraceStart reclaim list being sent */
struct cld_stream {
	struct cld_stream *next;
	struct cld_context *cld;
	uint8_t vers;
	uint32_t xid;
	uint8_t *list;		/* packed: idlen u16, phlen u8, id, ph */
	size_t used;
	size_t ofs;
	uint64_t count;
	struct timespec start;
	bool hold;		/* cluster: the final reply waits for the
				   barrier */
	uint64_t epoch;		/* R of the list */
};

struct cld_upcall {
	struct cld_context *cld;
	struct cld_msg msg;
	uint32_t gen;		/* the nfsd instance that sent it */
};

struct cld_context {
	struct tevent_context *ev;
	struct store_context *store;
	struct batch_context *batch;
	char *dir;
	char *path;

	int inotify_fd;
	struct tevent_fd *inotify_fde;
	bool watching;
	struct tevent_timer *retry_te;

	int fd;
	struct tevent_fd *fde;
	bool is_socket;
	dev_t dev;		/* the node the open file belongs to */
	ino_t ino;

	struct cld_out *out_head, *out_tail;
	struct cld_stream *streams;

	struct cld_stats stats;
	cld_grace_hook hook;
	void *hook_private;
	bool sentinel;
	cld_barrier_fn barrier;
	void *barrier_private;
	bool session_only;	/* nfsd serves no NFSv4.0 */
	uint32_t starts;	/* GraceStart upcalls not answered yet */
	bool release_all;	/* shutting down: no reply is held */
	void (*stopped_fn)(void *private_data);
	void *stopped_private;

	/*
	 * The nfsd instance the upcalls in flight belong to: the pipe's
	 * inode (a restarted nfsd makes a new pipe), bumped for each test
	 * socket connection.  A reply to an upcall of an instance that is
	 * gone is dropped.
	 */
	dev_t node_dev;
	ino_t node_ino;
	uint32_t gen;
	struct timespec held_since;
};

static void cld_inotify_handler(struct tevent_context *ev,
				struct tevent_fd *fde, uint16_t flags,
				void *private_data);
static void cld_fd_handler(struct tevent_context *ev, struct tevent_fd *fde,
			   uint16_t flags, void *private_data);
static void cld_retry(struct tevent_context *ev, struct tevent_timer *te,
		      struct timeval now, void *private_data);
static void cld_op_done(struct grace_op *op, const struct grace_record *g,
			void *private_data);
static void cld_pump(struct cld_context *cld);

static int cld_destructor(struct cld_context *cld)
{
	TALLOC_FREE(cld->fde);
	if (cld->fd != -1) {
		close(cld->fd);
		cld->fd = -1;
	}
	TALLOC_FREE(cld->inotify_fde);
	if (cld->inotify_fd != -1) {
		close(cld->inotify_fd);
		cld->inotify_fd = -1;
	}
	return 0;
}

/* The nfsd whose upcalls are in flight is gone: forget them */
static void cld_forget_upcalls(struct cld_context *cld)
{
	while (cld->streams != NULL) {
		struct cld_stream *s = cld->streams;

		cld->streams = s->next;
		talloc_free(s);
	}
	if (cld->stats.reply_held) {
		D_NOTICE("nfsd went away while its GraceStart reply was held");
		cld->stats.reply_held = false;
	}
	cld->starts = 0;
	/* unknown until the new nfsd's versions are read */
	cld->session_only = false;
	cld->gen += 1;
}

static void cld_close(struct cld_context *cld)
{
	struct cld_out *o = NULL;

	TALLOC_FREE(cld->fde);
	if (cld->fd != -1) {
		close(cld->fd);
		cld->fd = -1;
	}
	/* Unsent replies belong to the old file; the kernel re-queues */
	while (cld->out_head != NULL) {
		o = cld->out_head;
		cld->out_head = o->next;
		talloc_free(o);
	}
	cld->out_tail = NULL;
	/*
	 * A GraceStart list being sent, or its held reply, stays: if the
	 * same pipe opens again (cld_open), the kernel still waits for it
	 * (it matches downcalls by xid).  A new pipe, or a test socket,
	 * means a new nfsd, and cld_open forgets them.
	 */
	if (cld->is_socket) {
		cld_forget_upcalls(cld);
	}
	cld->stats.connected = false;
	if (cld->stopped_fn != NULL) {
		cld->stopped_fn(cld->stopped_private);
	}
}

static void cld_schedule_retry(struct cld_context *cld)
{
	struct timeval tv;

	if (cld->retry_te != NULL) {
		return;
	}
	tv = tevent_timeval_current_ofs(CLD_RETRY_SECS, 0);
	cld->retry_te = tevent_add_timer(cld->ev, cld, tv, cld_retry, cld);
}

static void cld_watch(struct cld_context *cld)
{
	int wd;

	if (cld->watching) {
		return;
	}
	/*
	 * IN_DELETE too: when nfsd stops, rpc_pipefs unlinks the pipe but
	 * wakes no poller unless messages were queued (rpc_purge_list() in
	 * net/sunrpc/rpc_pipe.c), so the open file alone never reports it.
	 */
	wd = inotify_add_watch(cld->inotify_fd, cld->dir,
			       IN_CREATE | IN_DELETE);
	if (wd == -1) {
		int err = errno;
		static bool warned;

		if (!warned) {
			D_WARNING("Cannot watch %s, ret=%d (%s). Is "
				  "rpc_pipefs mounted there? Set \"pipefs "
				  "dir\" or --pipefs-dir; retrying every %ds",
				  cld->dir, err, strerror(err),
				  CLD_RETRY_SECS);
			warned = true;
		}
		cld_schedule_retry(cld);
		return;
	}
	cld->watching = true;
	D_INFO("Watching %s for %s", cld->dir, cld->path);
}

/*
 * Open the node: a pipe with O_RDWR (one reader and one writer, so the
 * kernel sees a daemon), or, for the test seam, connect to the socket.
 * The new file is opened before the old one is closed, so the reader
 * count never drops to zero while upcalls are queued.
 */
static int cld_open(struct cld_context *cld)
{
	struct sockaddr_un sun = {
		.sun_family = AF_UNIX,
	};
	struct stat sb;
	bool is_socket;
	bool had_fd;
	int fd = -1;
	int ret;

	ret = stat(cld->path, &sb);
	if (ret != 0) {
		return errno;
	}
	/*
	 * The inotify event and the retry timer can both ask for the same
	 * node: reopening it would only fail its half-read message.  A new
	 * pipe (nfsd restarted) is a new inode.
	 */
	if (cld->fd != -1 && sb.st_dev == cld->dev && sb.st_ino == cld->ino) {
		return 0;
	}
	is_socket = S_ISSOCK(sb.st_mode);

	if (is_socket) {
		if (strlen(cld->path) >= sizeof(sun.sun_path)) {
			return ENAMETOOLONG;
		}
		strncpy(sun.sun_path, cld->path, sizeof(sun.sun_path) - 1);
		fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		if (fd == -1) {
			return errno;
		}
		ret = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
		if (ret != 0) {
			ret = errno;
			close(fd);
			return ret;
		}
		ret = fcntl(fd, F_SETFL, O_NONBLOCK);
	} else {
		fd = open(cld->path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
		if (fd == -1) {
			return errno;
		}
	}

	/* Queued replies go to the new file: the kernel matches by xid */
	TALLOC_FREE(cld->fde);
	had_fd = (cld->fd != -1);
	if (cld->fd != -1) {
		close(cld->fd);
	}
	cld->fd = fd;
	cld->is_socket = is_socket;
	cld->fde = tevent_add_fd(cld->ev, cld, fd,
				 TEVENT_FD_READ |
				 (cld->out_head != NULL ? TEVENT_FD_WRITE : 0),
				 cld_fd_handler, cld);
	if (cld->fde == NULL) {
		close(fd);
		cld->fd = -1;
		return ENOMEM;
	}
	cld->dev = sb.st_dev;
	cld->ino = sb.st_ino;
	if (is_socket || sb.st_dev != cld->node_dev ||
	    sb.st_ino != cld->node_ino) {
		/* a new nfsd: what the old one asked is void */
		cld_forget_upcalls(cld);
		cld->node_dev = sb.st_dev;
		cld->node_ino = sb.st_ino;
		if (had_fd && !is_socket && cld->stopped_fn != NULL) {
			/* the old pipe went and came back in one go */
			cld->stopped_fn(cld->stopped_private);
		}
	}
	cld->stats.opens += 1;
	cld->stats.connected = true;
	cld->stats.is_socket = is_socket;
	D_NOTICE("Opened %s (%s)", cld->path,
		 is_socket ? "test socket" : "kernel pipe");
	return 0;
}

static void cld_try_open(struct cld_context *cld)
{
	int ret;

	cld_watch(cld);
	ret = cld_open(cld);
	if (ret == 0) {
		return;
	}
	if (ret == ENOENT || ret == ECONNREFUSED) {
		D_INFO("%s not there yet (ret=%d); waiting for nfsd to "
		       "create it", cld->path, ret);
	} else {
		D_ERR("Cannot open %s, ret=%d (%s); retrying", cld->path,
		      ret, strerror(ret));
	}
	if (cld->fd == -1) {
		cld_schedule_retry(cld);
	}
}

/* Open the node again even though it is the one already open */
static void cld_reopen(struct cld_context *cld)
{
	cld->dev = 0;
	cld->ino = 0;
	cld_try_open(cld);
}

static void cld_retry(struct tevent_context *ev, struct tevent_timer *te,
		      struct timeval now, void *private_data)
{
	struct cld_context *cld = talloc_get_type_abort(
		private_data, struct cld_context);

	cld->retry_te = NULL;
	if (cld->fd == -1 || !cld->watching) {
		cld_try_open(cld);
	}
}

static void cld_inotify_handler(struct tevent_context *ev,
				struct tevent_fd *fde, uint16_t flags,
				void *private_data)
{
	struct cld_context *cld = talloc_get_type_abort(
		private_data, struct cld_context);
	uint8_t buf[sizeof(struct inotify_event) + NAME_MAX + 1]
		__attribute__((aligned(__alignof__(struct inotify_event))));
	bool created = false;
	bool deleted = false;
	ssize_t n;

	for (;;) {
		size_t ofs = 0;

		n = read(cld->inotify_fd, buf, sizeof(buf));
		if (n <= 0) {
			break;
		}
		while (ofs + sizeof(struct inotify_event) <= (size_t)n) {
			struct inotify_event *ie =
				(struct inotify_event *)(buf + ofs);

			if (ie->mask & IN_IGNORED) {
				/* The directory went away (umount) */
				cld->watching = false;
			}
			/* The last event on the name tells its state */
			if (ie->len > 0 && strcmp(ie->name, "cld") == 0 &&
			    (ie->mask & IN_CREATE)) {
				created = true;
				deleted = false;
			}
			if (ie->len > 0 && strcmp(ie->name, "cld") == 0 &&
			    (ie->mask & IN_DELETE)) {
				deleted = true;
				created = false;
			}
			ofs += sizeof(struct inotify_event) + ie->len;
		}
	}
	if (!cld->watching) {
		cld_schedule_retry(cld);
	}
	if (deleted && cld->fd != -1 && !cld->is_socket) {
		D_NOTICE("%s removed (nfsd stopped); reopening when nfsd "
			 "re-creates it", cld->path);
		cld_close(cld);
	}
	if (created) {
		cld_try_open(cld);
	}
}

/* Write one downcall, or queue it while the test socket is full */
static void cld_write(struct cld_context *cld, const uint8_t *buf, size_t len)
{
	struct cld_out *o = NULL;
	ssize_t n;

	if (cld->fd == -1) {
		D_INFO("No open pipe; dropping a reply (the kernel re-sends "
		       "the upcall)");
		return;
	}
	if (cld->out_head == NULL) {
		n = write(cld->fd, buf, len);
		if (n == (ssize_t)len) {
			return;
		}
		if (n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
			/* rpc_pipefs: EINVAL means the kernel refused it */
			cld->stats.write_errors += 1;
			D_ERR("Downcall of %zu bytes failed, ret=%zd errno=%d "
			      "(%s)", len, n, errno, strerror(errno));
			return;
		}
	}
	o = talloc(cld, struct cld_out);
	if (o == NULL) {
		cld->stats.write_errors += 1;
		return;
	}
	o->next = NULL;
	o->len = len;
	memcpy(o->buf, buf, len);
	if (cld->out_tail == NULL) {
		cld->out_head = o;
	} else {
		cld->out_tail->next = o;
	}
	cld->out_tail = o;
	TEVENT_FD_WRITEABLE(cld->fde);
}

static void cld_flush(struct cld_context *cld)
{
	while (cld->out_head != NULL) {
		struct cld_out *o = cld->out_head;
		ssize_t n;

		n = write(cld->fd, o->buf, o->len);
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			return;
		}
		if (n != (ssize_t)o->len) {
			cld->stats.write_errors += 1;
			D_ERR("Downcall failed, errno=%d (%s)", errno,
			      strerror(errno));
		}
		cld->out_head = o->next;
		if (cld->out_head == NULL) {
			cld->out_tail = NULL;
		}
		talloc_free(o);
	}
	TEVENT_FD_NOT_WRITEABLE(cld->fde);
	cld_pump(cld);
}

static void cld_reply(struct cld_context *cld, const struct cld_msg *upcall,
		      int status)
{
	struct cld_msg reply = *upcall;
	uint8_t buf[CLD_MSG_MAX_SIZE];
	size_t len;

	reply.status = (int16_t)status;
	if (reply.cmd == CLD_GET_VERSION) {
		reply.version = CLD_UPCALL_VERSION;
	}
	if (reply.name_len > CLD_NAME_MAX) {
		reply.name_len = 0;
	}
	if (reply.princhash_len > CLD_PRINCHASH_SIZE) {
		reply.princhash_len = 0;
	}
	len = cld_msg_push(&reply, buf, sizeof(buf));
	if (len == 0) {
		D_ERR("Cannot encode reply for xid %u", upcall->xid);
		return;
	}
	if (status == -EREMOTEIO) {
		cld->stats.store_errors += 1;
	}
	if (upcall->cmd == CLD_GRACE_START && cld->starts > 0) {
		/* a GraceStart that failed: nfsd start goes on without it */
		cld->starts -= 1;
	}
	D_DEBUG("%s xid=%u status=%d", cld_cmd_name(upcall->cmd),
		upcall->xid, status);
	cld_write(cld, buf, len);
}

static int cld_submit(struct cld_context *cld, const struct cld_msg *msg,
		      enum grace_op_type type)
{
	struct cld_upcall *up = NULL;
	struct grace_op op = {
		.type = type,
	};
	int ret;

	if (type == GRACE_OP_CREATE || type == GRACE_OP_REMOVE ||
	    type == GRACE_OP_CHECK) {
		/* Only v2 Creates carry a principal hash: 0 or 32 bytes */
		bool ph = (type == GRACE_OP_CREATE && msg->vers == 2);

		if (!cld_msg_name_valid(msg) ||
		    (ph && msg->princhash_len != 0 &&
		     msg->princhash_len != CLD_PRINCHASH_SIZE)) {
			cld->stats.invalid += 1;
			D_WARNING("%s xid=%u: invalid client name (cn_len=%u "
				  "cp_len=%u); refused", cld_cmd_name(msg->cmd),
				  msg->xid, msg->name_len, msg->princhash_len);
			cld_reply(cld, msg, -EINVAL);
			return 0;
		}
		op.idlen = msg->name_len;
		memcpy(op.id, msg->name, msg->name_len);
		if (type == GRACE_OP_CREATE && cld->session_only) {
			/* only RECLAIM_COMPLETE of v4.1+ creates a record */
			op.flags |= RECORD_F_SESSION;
		}
		if (ph) {
			op.princhash_len = msg->princhash_len;
			memcpy(op.princhash, msg->princhash,
			       msg->princhash_len);
		}
	}

	up = talloc(cld, struct cld_upcall);
	if (up == NULL) {
		cld_reply(cld, msg, -EREMOTEIO);
		return ENOMEM;
	}
	up->cld = cld;
	up->msg = *msg;
	up->gen = cld->gen;
	ret = batch_submit(cld->batch, &op, cld_op_done, up);
	if (ret != 0) {
		talloc_free(up);
		cld_reply(cld, msg, -EREMOTEIO);
		return ret;
	}
	return 0;
}

static int cld_stream_add(const uint8_t *id, size_t idlen,
			  const struct client_record *rec, void *private_data)
{
	struct cld_stream *s = private_data;
	size_t need = 3 + idlen + rec->princhash_len;
	size_t size = talloc_get_size(s->list);

	if (s->used + need > size) {
		uint8_t *tmp = NULL;

		size = size * 2 + need;
		tmp = talloc_realloc(s, s->list, uint8_t, size);
		if (tmp == NULL) {
			return -1;
		}
		s->list = tmp;
	}
	s->list[s->used] = idlen & 0xff;
	s->list[s->used + 1] = idlen >> 8;
	s->list[s->used + 2] = rec->princhash_len;
	memcpy(s->list + s->used + 3, id, idlen);
	memcpy(s->list + s->used + 3 + idlen, rec->princhash,
	       rec->princhash_len);
	s->used += need;
	s->count += 1;
	return 0;
}

/*
 * Cluster mode: one more record that no client can ever match, a random
 * id with a random principal hash.  It never reclaims, so no kernel ends
 * the cluster grace on its own (an empty list, or every listed client
 * done on that one node): only the leader's lift, through v4_end_grace,
 * or the kernel's own timer end it (docs/grace-protocol.md §5.2).
 */
static int cld_add_sentinel(struct cld_stream *s, uint64_t epoch)
{
	struct client_record rec = {
		.epoch = epoch,
		.princhash_len = CLD_PRINCHASH_SIZE,
	};
	uint8_t rnd[16];
	char id[64];
	int fd;
	int n;

	fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd == -1) {
		return errno;
	}
	n = (int)read(fd, rnd, sizeof(rnd));
	if (n == (int)sizeof(rnd)) {
		n = (int)read(fd, rec.princhash, sizeof(rec.princhash));
	}
	close(fd);
	if (n != (int)sizeof(rec.princhash)) {
		return EIO;
	}
	n = snprintf(id, sizeof(id), "cltrack-sentinel-%llu-%02x%02x%02x%02x"
		     "%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x",
		     (unsigned long long)epoch, rnd[0], rnd[1], rnd[2], rnd[3],
		     rnd[4], rnd[5], rnd[6], rnd[7], rnd[8], rnd[9], rnd[10],
		     rnd[11], rnd[12], rnd[13], rnd[14], rnd[15]);
	return cld_stream_add((const uint8_t *)id, (size_t)n, &rec, s) == 0 ?
		0 : ENOMEM;
}

static void cld_grace_start_done(struct cld_context *cld,
				 const struct cld_msg *msg,
				 const struct grace_record *g)
{
	struct cld_stream *s = NULL;
	struct cld_stream **tail = NULL;
	uint64_t corrupt = 0;
	int ret;

	s = talloc_zero(cld, struct cld_stream);
	if (s == NULL) {
		cld_reply(cld, msg, -EREMOTEIO);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &s->start);
	s->cld = cld;
	s->vers = msg->vers;
	s->xid = msg->xid;
	s->hold = (cld->barrier != NULL);
	s->epoch = g->recovery;
	s->list = talloc_array(s, uint8_t, 4096);
	if (s->list == NULL) {
		talloc_free(s);
		cld_reply(cld, msg, -EREMOTEIO);
		return;
	}

	ret = grace_reclaim_traverse(cld->store, g, cld_stream_add, s,
				     &corrupt);
	if (corrupt != 0) {
		D_WARNING("Skipped %llu unreadable client records",
			  (unsigned long long)corrupt);
	}
	if (ret != 0 || talloc_get_size(s->list) < s->used) {
		D_ERR("Cannot read the reclaim list, ret=%d", ret);
		talloc_free(s);
		cld_reply(cld, msg, -EREMOTEIO);
		return;
	}
	if (cld->sentinel) {
		ret = cld_add_sentinel(s, g->recovery);
		if (ret != 0) {
			talloc_free(s);
			cld_reply(cld, msg, -EREMOTEIO);
			return;
		}
	}
	D_NOTICE("GraceStart xid=%u: sending %llu reclaimable clients of "
		 "epoch %llu", msg->xid, (unsigned long long)s->count,
		 (unsigned long long)g->recovery);

	for (tail = &cld->streams; *tail != NULL; tail = &(*tail)->next) {
	}
	*tail = s;
	cld_pump(cld);
}

static uint64_t cld_usec_since(const struct timespec *start)
{
	struct timespec end;

	clock_gettime(CLOCK_MONOTONIC, &end);
	return (uint64_t)(end.tv_sec - start->tv_sec) * 1000000 +
	       (end.tv_nsec - start->tv_nsec) / 1000;
}

/*
 * Cluster: the whole list is sent; may the final status-0 reply go, so
 * that nfsd starts serving (docs/grace-protocol.md §5.3)?  Not before
 * every node that blocks the grace enforces it: clients must not reclaim
 * here while another node still serves out of grace.  The kernel waits
 * for the reply without a timeout; cld_barrier_poll() asks again.
 */
static bool cld_barrier_passed(struct cld_context *cld, struct cld_stream *s)
{
	if (cld->release_all) {
		if (cld->stats.reply_held) {
			D_WARNING("GraceStart xid=%u: cltrackd stops, so nfsd "
				  "serves now without waiting for the other "
				  "nodes (it would wait for ever)", s->xid);
		}
	} else if (!cld->barrier(s->epoch, cld->barrier_private)) {
		if (!cld->stats.reply_held) {
			cld->stats.reply_held = true;
			cld->stats.held_replies += 1;
			clock_gettime(CLOCK_MONOTONIC, &cld->held_since);
			D_NOTICE("GraceStart xid=%u: list sent; nfsd waits "
				 "until every node enforces the grace of "
				 "epoch %llu", s->xid,
				 (unsigned long long)s->epoch);
		}
		return false;
	}
	if (cld->stats.reply_held) {
		cld->stats.reply_held = false;
		cld->stats.held_usec = cld_usec_since(&cld->held_since);
		D_NOTICE("GraceStart xid=%u: every node enforces the grace; "
			 "nfsd serves after waiting %llu ms", s->xid,
			 (unsigned long long)cld->stats.held_usec / 1000);
	}
	return true;
}

void cld_release_all(struct cld_context *cld)
{
	cld->release_all = true;
	cld_barrier_poll(cld);
}

void cld_set_stopped_hook(struct cld_context *cld,
			  void (*fn)(void *private_data), void *private_data)
{
	cld->stopped_fn = fn;
	cld->stopped_private = private_data;
}

void cld_barrier_poll(struct cld_context *cld)
{
	if (cld->fd != -1 && cld->streams != NULL) {
		cld_pump(cld);
	}
}

void cld_set_v40(struct cld_context *cld, bool v40)
{
	cld->session_only = !v40;
}

bool cld_reply_held(struct cld_context *cld)
{
	return cld->stats.reply_held;
}

bool cld_nfsd_starting(struct cld_context *cld)
{
	return cld->fd != -1 && cld->starts > 0;
}

void cld_set_barrier(struct cld_context *cld, cld_barrier_fn fn,
		     void *private_data)
{
	cld->barrier = fn;
	cld->barrier_private = private_data;
}

/* Send reclaim records while the file takes them */
static void cld_pump(struct cld_context *cld)
{
	while (cld->streams != NULL && cld->out_head == NULL) {
		struct cld_stream *s = cld->streams;
		struct cld_msg rec = {
			.vers = s->vers,
			.cmd = CLD_GRACE_START,
			.xid = s->xid,
		};
		uint8_t buf[CLD_MSG_MAX_SIZE];
		size_t len;

		if (s->ofs >= s->used && s->hold &&
		    !cld_barrier_passed(cld, s)) {
			break;
		}
		if (s->ofs >= s->used) {
			rec.status = 0;
			len = cld_msg_push(&rec, buf, sizeof(buf));
			cld->streams = s->next;
			cld->stats.reclaim_sent = s->count;
			cld->stats.reclaim_usec = cld_usec_since(&s->start);
			talloc_free(s);
			if (cld->starts > 0) {
				cld->starts -= 1;
			}
			cld_write(cld, buf, len);
			continue;
		}

		rec.status = -EINPROGRESS;
		rec.name_len = s->list[s->ofs] | (s->list[s->ofs + 1] << 8);
		rec.princhash_len = s->list[s->ofs + 2];
		memcpy(rec.name, s->list + s->ofs + 3, rec.name_len);
		if (s->vers == 2) {
			memcpy(rec.princhash,
			       s->list + s->ofs + 3 + rec.name_len,
			       rec.princhash_len);
		} else {
			rec.princhash_len = 0;
		}
		s->ofs += 3 + (s->list[s->ofs] | (s->list[s->ofs + 1] << 8)) +
			  s->list[s->ofs + 2];
		len = cld_msg_push(&rec, buf, sizeof(buf));
		cld_write(cld, buf, len);
	}
}

static void cld_op_done(struct grace_op *op, const struct grace_record *g,
			void *private_data)
{
	struct cld_upcall *up = talloc_get_type_abort(
		private_data, struct cld_upcall);
	struct cld_context *cld = up->cld;

	if (up->gen != cld->gen) {
		/*
		 * Its nfsd is gone; the change is committed, and the stopped
		 * hook's NFSD_STOPPED, queued after it, undoes what it must.
		 */
		D_INFO("%s xid=%u of an nfsd that is gone: no reply",
		       cld_cmd_name(up->msg.cmd), up->msg.xid);
		talloc_free(up);
		return;
	}
	if (cld->hook != NULL && (up->msg.cmd == CLD_GRACE_START ||
				  up->msg.cmd == CLD_GRACE_DONE ||
				  (op->result & GRACE_R_RECLAIMED))) {
		cld->hook(op, g, cld->hook_private);
	}
	if (up->msg.cmd == CLD_GRACE_START && op->status == 0 && g != NULL) {
		cld_grace_start_done(cld, &up->msg, g);
	} else {
		cld_reply(cld, &up->msg, op->status);
	}
	talloc_free(up);
}

static void cld_dispatch(struct cld_context *cld, const struct cld_msg *msg)
{
	if (msg->cmd < 6) {
		cld->stats.upcalls[msg->cmd] += 1;
	}
	D_DEBUG("Upcall %s xid=%u vers=%u", cld_cmd_name(msg->cmd), msg->xid,
		msg->vers);

	switch (msg->cmd) {
	case CLD_GET_VERSION:
		cld_reply(cld, msg, 0);
		break;
	case CLD_CREATE:
		cld_submit(cld, msg, GRACE_OP_CREATE);
		break;
	case CLD_REMOVE:
		cld_submit(cld, msg, GRACE_OP_REMOVE);
		break;
	case CLD_CHECK:
		cld_submit(cld, msg, GRACE_OP_CHECK);
		break;
	case CLD_GRACE_START:
		cld->starts += 1;
		/* a new nfsd start: which versions it serves is read anew */
		cld->session_only = false;
		cld_submit(cld, msg, GRACE_OP_GRACE_START);
		break;
	case CLD_GRACE_DONE:
		cld_submit(cld, msg, GRACE_OP_GRACE_DONE);
		break;
	default:
		cld->stats.unknown_cmd += 1;
		D_WARNING("Unknown upcall command %u xid=%u; answered "
			  "-EOPNOTSUPP", msg->cmd, msg->xid);
		cld_reply(cld, msg, -EOPNOTSUPP);
		break;
	}
}

/*
 * Read one message.  Returns 0 with *len set, EAGAIN when nothing is
 * queued, EPROTO for a message to skip after reopening, or another errno
 * when the file is dead.
 */
static int cld_read_one(struct cld_context *cld, uint8_t *buf, size_t *len)
{
	size_t size;
	ssize_t n;

	if (cld->is_socket) {
		n = recv(cld->fd, buf, CLD_MSG_MAX_SIZE + 1, MSG_DONTWAIT);
		if (n == -1) {
			return (errno == EAGAIN || errno == EWOULDBLOCK) ?
				EAGAIN : errno;
		}
		if (n == 0) {
			return EPIPE;
		}
		*len = (size_t)n;
		return 0;
	}

	n = read(cld->fd, buf, CLD_HDR_SIZE);
	if (n == 0 || (n == -1 && errno == EAGAIN)) {
		return EAGAIN;
	}
	if (n == -1) {
		return errno;
	}
	if (n != CLD_HDR_SIZE) {
		return EPROTO;
	}
	size = cld_msg_size(buf[0]);
	if (size == 0) {
		*len = CLD_HDR_SIZE;
		return 0;
	}
	n = read(cld->fd, buf + CLD_HDR_SIZE, size - CLD_HDR_SIZE);
	if (n == -1) {
		return errno;
	}
	*len = CLD_HDR_SIZE + (size_t)n;
	return 0;
}

static void cld_fd_handler(struct tevent_context *ev, struct tevent_fd *fde,
			   uint16_t flags, void *private_data)
{
	struct cld_context *cld = talloc_get_type_abort(
		private_data, struct cld_context);
	uint8_t buf[CLD_MSG_MAX_SIZE + 1];
	struct cld_msg msg;
	unsigned i;
	size_t len = 0;
	int ret;

	if (flags & TEVENT_FD_WRITE) {
		cld_flush(cld);
	}
	if (!(flags & TEVENT_FD_READ)) {
		return;
	}

	for (i = 0; i < CLD_READ_BURST; i++) {
		ret = cld_read_one(cld, buf, &len);
		if (ret == EAGAIN) {
			return;
		}
		if (ret != 0 && ret != EPROTO) {
			D_NOTICE("%s closed (ret=%d); reopening when nfsd "
				 "re-creates it", cld->path, ret);
			cld_close(cld);
			cld_try_open(cld);
			return;
		}
		if (ret == 0) {
			ret = cld_msg_pull(buf, len, &msg);
		}
		if (ret == EPROTO) {
			cld->stats.garbage += 1;
			D_ERR("Message of unknown version %u (%zu bytes) on "
			      "%s; reopening it", buf[0], len, cld->path);
			cld_reopen(cld);
			return;
		}
		if (ret != 0) {
			cld->stats.garbage += 1;
			D_ERR("Message of %zu bytes does not match its version "
			      "%u; dropped", len, buf[0]);
			if (!cld->is_socket) {
				cld_reopen(cld);
				return;
			}
			continue;
		}
		cld_dispatch(cld, &msg);
	}
}

int cld_init(TALLOC_CTX *mem_ctx, struct tevent_context *ev,
	     const char *pipefs_dir, struct store_context *store,
	     struct batch_context *batch, struct cld_context **result)
{
	struct cld_context *cld = NULL;

	cld = talloc_zero(mem_ctx, struct cld_context);
	if (cld == NULL) {
		return ENOMEM;
	}
	cld->ev = ev;
	cld->store = store;
	cld->batch = batch;
	cld->fd = -1;
	cld->inotify_fd = -1;
	talloc_set_destructor(cld, cld_destructor);

	cld->dir = talloc_asprintf(cld, "%s/nfsd", pipefs_dir);
	cld->path = talloc_asprintf(cld, "%s/nfsd/cld", pipefs_dir);
	if (cld->dir == NULL || cld->path == NULL) {
		talloc_free(cld);
		return ENOMEM;
	}

	cld->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (cld->inotify_fd == -1) {
		int err = errno;
		D_ERR("inotify_init1 failed, ret=%d (%s)", err, strerror(err));
		talloc_free(cld);
		return err;
	}
	cld->inotify_fde = tevent_add_fd(ev, cld, cld->inotify_fd,
					 TEVENT_FD_READ, cld_inotify_handler,
					 cld);
	if (cld->inotify_fde == NULL) {
		talloc_free(cld);
		return ENOMEM;
	}

	cld_try_open(cld);
	*result = cld;
	return 0;
}

void cld_set_grace_hook(struct cld_context *cld, cld_grace_hook fn,
			void *private_data)
{
	cld->hook = fn;
	cld->hook_private = private_data;
	/* only cluster mode follows the hook, and it wants the sentinel */
	cld->sentinel = (fn != NULL);
}

const struct cld_stats *cld_get_stats(struct cld_context *cld)
{
	return &cld->stats;
}
