/*
 * The control socket server.
 *
 * Each connection has a read buffer that collects one packet at a time
 * (header first, then the body by its length) and a write queue.  Only
 * root, or the daemon's own uid, may connect (SO_PEERCRED).  A packet
 * with a bad header closes the connection: the stream cannot be trusted
 * after it.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "bytes.h"
#include "cltrack/proto.h"
#include "cluster.h"
#include "daemon.h"
#include "grace.h"
#include "logging.h"
#include "privs.h"

#define CONTROL_MAX_PENDING	256	/* ops in flight per connection */
#define CONTROL_LIST_CHUNK	(64 * 1024)

/*
 * Latency of control operations that wait for a transaction (create,
 * remove, check, grace, nfsdcltrack and import), from request to
 * reply, in power-of-two microsecond buckets: bucket i counts
 * latencies below 2^i us.  Percentiles reported from it are upper
 * bounds, accurate to a factor of two; that is enough to see a slow
 * store, and costs one counter per operation.
 */
#define CONTROL_LAT_BUCKETS	32

struct control_context {
	uint64_t lat_hist[CONTROL_LAT_BUCKETS];
	uint64_t lat_count;
	struct tevent_context *ev;
	struct daemon_context *daemon;
	char *path;
	int fd;
	struct tevent_fd *fde;
	struct control_conn *conns;
};

struct control_out {
	struct control_out *next;
	size_t len;
	size_t ofs;
	uint8_t *buf;
};

struct control_conn {
	struct control_conn *prev, *next;
	struct control_context *ctl;
	int fd;
	struct tevent_fd *fde;
	uint8_t hdrbuf[CLTRACK_PROTO_HDR_SIZE];
	uint8_t *pkt;
	size_t have;
	size_t want;
	struct control_out *out_head, *out_tail;
	struct control_pending *pending;
	unsigned npending;
	struct control_import *import;	/* chunks of an IMPORT so far */
	bool in_handler;
	bool broken;
};

/* An IMPORT being received, chunk by chunk */
struct control_import {
	uint32_t reqid;
	struct grace_import_item *items;
	size_t n;
};

/* An operation waiting for its transaction */
struct control_pending {
	struct control_pending *prev, *next;
	struct control_conn *conn;	/* NULL once the peer went away */
	uint16_t opcode;
	uint32_t reqid;
	struct control_import *import;	/* IMPORT: owns the records */
	struct timespec start;
};

static void control_accept(struct tevent_context *ev, struct tevent_fd *fde,
			   uint16_t flags, void *private_data);
static void control_conn_handler(struct tevent_context *ev,
				 struct tevent_fd *fde, uint16_t flags,
				 void *private_data);

static int control_destructor(struct control_context *ctl)
{
	while (ctl->conns != NULL) {
		talloc_free(ctl->conns);
	}
	TALLOC_FREE(ctl->fde);
	if (ctl->fd != -1) {
		close(ctl->fd);
		unlink(ctl->path);
	}
	return 0;
}

static int control_conn_destructor(struct control_conn *conn)
{
	struct control_pending *p = NULL;

	for (p = conn->pending; p != NULL; p = p->next) {
		p->conn = NULL;
	}
	TALLOC_FREE(conn->fde);
	close(conn->fd);
	if (conn->prev != NULL) {
		conn->prev->next = conn->next;
	} else {
		conn->ctl->conns = conn->next;
	}
	if (conn->next != NULL) {
		conn->next->prev = conn->prev;
	}
	return 0;
}

static int control_pending_destructor(struct control_pending *p)
{
	if (p->conn == NULL) {
		return 0;
	}
	if (p->prev != NULL) {
		p->prev->next = p->next;
	} else {
		p->conn->pending = p->next;
	}
	if (p->next != NULL) {
		p->next->prev = p->prev;
	}
	p->conn->npending -= 1;
	return 0;
}

/*
 * A connection that failed inside its own read handler is freed when
 * the handler returns, so that the handler never touches freed memory.
 */
static void control_conn_fail(struct control_conn *conn)
{
	if (conn->in_handler) {
		conn->broken = true;
		TEVENT_FD_NOT_READABLE(conn->fde);
		TEVENT_FD_NOT_WRITEABLE(conn->fde);
		return;
	}
	talloc_free(conn);
}

static void control_flush(struct control_conn *conn)
{
	while (conn->out_head != NULL) {
		struct control_out *o = conn->out_head;
		ssize_t n;

		n = send(conn->fd, o->buf + o->ofs, o->len - o->ofs,
			 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			TEVENT_FD_WRITEABLE(conn->fde);
			return;
		}
		if (n <= 0) {
			D_INFO("Control client went away while writing");
			control_conn_fail(conn);
			return;
		}
		o->ofs += (size_t)n;
		if (o->ofs < o->len) {
			continue;
		}
		conn->out_head = o->next;
		if (conn->out_head == NULL) {
			conn->out_tail = NULL;
		}
		talloc_free(o);
	}
	TEVENT_FD_NOT_WRITEABLE(conn->fde);
}

/* Queue one reply packet; the body is copied */
static void control_send(struct control_conn *conn, uint16_t opcode,
			 uint32_t reqid, int32_t status, uint32_t flags,
			 const uint8_t *body, size_t bodylen)
{
	struct control_out *o = NULL;
	struct cltrack_hdr hdr = {
		.length = (uint32_t)(CLTRACK_PROTO_HDR_SIZE + bodylen),
		.opcode = opcode,
		.reqid = reqid,
		.status = status,
		.flags = flags,
	};

	if (conn->broken) {
		return;
	}
	o = talloc_zero(conn, struct control_out);
	if (o == NULL) {
		control_conn_fail(conn);
		return;
	}
	o->len = hdr.length;
	o->buf = talloc_array(o, uint8_t, o->len);
	if (o->buf == NULL) {
		control_conn_fail(conn);
		return;
	}
	cltrack_hdr_push(&hdr, o->buf);
	if (bodylen > 0) {
		memcpy(o->buf + CLTRACK_PROTO_HDR_SIZE, body, bodylen);
	}
	if (conn->out_tail == NULL) {
		conn->out_head = o;
	} else {
		conn->out_tail->next = o;
	}
	conn->out_tail = o;
	if (conn->out_head == o) {
		control_flush(conn);
	}
}

static void control_send_status(struct control_conn *conn,
				const struct cltrack_hdr *req, int32_t status)
{
	control_send(conn, req->opcode, req->reqid, status, 0, NULL, 0);
}

/* Counting records by epoch for status */
struct count_state {
	const struct grace_record *g;
	uint64_t total, current, recovery, reclaimable, corrupt;
};

static int count_cb(const uint8_t *key, size_t keylen, const uint8_t *id,
		    size_t idlen, const struct client_record *rec,
		    void *private_data)
{
	struct count_state *cs = private_data;

	if (rec == NULL) {
		cs->corrupt += 1;
		return 0;
	}
	cs->total += 1;
	if (rec->epoch == cs->g->current) {
		cs->current += 1;
	}
	if (cs->g->recovery != 0 && rec->epoch == cs->g->recovery) {
		cs->recovery += 1;
	}
	if (grace_is_reclaimable(cs->g, rec)) {
		cs->reclaimable += 1;
	}
	return 0;
}

#define KV_U64(n, v) (struct cltrack_kv){ .name = (n), \
	.type = CLTRACK_KV_U64, .u64 = (uint64_t)(v) }
#define KV_STR(n, v) (struct cltrack_kv){ .name = (n), \
	.type = CLTRACK_KV_STR, .str = (v) }

static void control_lat_add(struct control_context *ctl,
			    const struct timespec *start)
{
	struct timespec now;
	uint64_t usec;
	unsigned i = 0;

	clock_gettime(CLOCK_MONOTONIC, &now);
	usec = (uint64_t)(now.tv_sec - start->tv_sec) * 1000000 +
	       (uint64_t)(now.tv_nsec - start->tv_nsec) / 1000;
	while (i < CONTROL_LAT_BUCKETS - 1 && (usec >> i) != 0) {
		i++;
	}
	ctl->lat_hist[i] += 1;
	ctl->lat_count += 1;
}

/* The upper bound (2^i us) of the bucket holding the pct percentile */
static uint64_t control_lat_pct(const struct control_context *ctl,
				unsigned pct)
{
	uint64_t want, seen = 0;
	unsigned i;

	if (ctl->lat_count == 0) {
		return 0;
	}
	want = (ctl->lat_count * pct + 99) / 100;
	for (i = 0; i < CONTROL_LAT_BUCKETS; i++) {
		seen += ctl->lat_hist[i];
		if (seen >= want) {
			break;
		}
	}
	return (uint64_t)1 << (i < CONTROL_LAT_BUCKETS ? i : 31);
}

static void control_status(struct control_conn *conn,
			   const struct cltrack_hdr *req, bool stats)
{
	struct daemon_context *d = conn->ctl->daemon;
	const struct batch_stats *bs = batch_get_stats(d->batch);
	const struct cld_stats *cs = cld_get_stats(d->cld);
	struct grace_record g;
	struct count_state cnt = {
		.g = &g,
	};
	TALLOC_CTX *tmp_ctx = NULL;
	struct cltrack_kv *kv = NULL;
	uint8_t *body = NULL;
	size_t used = 0;
	uint32_t n = 0;
	uint32_t i;
	bool store_ok;
	int ret;

	/*
	 * A store that cannot be read (ctdbd not connected yet, a damaged
	 * grace record) still gets a status: that is when it is needed.
	 */
	ret = grace_read(d->store, &g);
	store_ok = (ret == 0);
	if (!store_ok) {
		grace_record_init(&g);
		g.current = 0;
	}
	tmp_ctx = talloc_new(conn);
	kv = talloc_array(tmp_ctx, struct cltrack_kv, 96 + g.nmembers);
	if (kv == NULL) {
		talloc_free(tmp_ctx);
		control_send_status(conn, req, -ENOMEM);
		return;
	}
	if (!stats) {
		if (store_ok) {
			ret = grace_clients_traverse(d->store, count_cb, &cnt);
			store_ok = (ret == 0);
		}
		kv[n++] = KV_STR("version", CLTRACK_VERSION_STRING);
		kv[n++] = KV_U64("store_available", store_ok);
		kv[n++] = KV_STR("backend", store_backend(d->store));
		kv[n++] = KV_STR("mode", d->cluster != NULL ? "cluster" :
				 "single host");
		kv[n++] = KV_U64("pnn", d->cluster != NULL ?
				 cluster_pnn(d->cluster) : d->pnn);
		kv[n++] = KV_U64("current_epoch", g.current);
		kv[n++] = KV_U64("recovery_epoch", g.recovery);
		kv[n++] = KV_U64("in_grace", g.recovery != 0);
		kv[n++] = KV_U64("grace_start_time", g.start_time);
		kv[n++] = KV_U64("records", cnt.total);
		kv[n++] = KV_U64("records_current_epoch", cnt.current);
		kv[n++] = KV_U64("records_recovery_epoch", cnt.recovery);
		kv[n++] = KV_U64("records_reclaimable", cnt.reclaimable);
		kv[n++] = KV_U64("records_unreadable", cnt.corrupt);
		kv[n++] = KV_U64("kernel_connected", cs->connected);
		kv[n++] = KV_STR("kernel_transport",
				 !cs->connected ? "none" :
				 cs->is_socket ? "test socket" : "pipe");
		kv[n++] = KV_U64("kernel_reply_held", cs->reply_held);
		kv[n++] = KV_U64("pending_ops", batch_pending(d->batch));
		kv[n++] = KV_U64("started", d->start_time);
		kv[n++] = KV_U64("pid", (uint64_t)getpid());
		kv[n++] = KV_U64("capabilities", privs_effective_count());
		if (d->cluster != NULL) {
			uint32_t leader = cluster_leader(d->cluster);

			kv[n++] = KV_U64("ctdb_connected",
					 cluster_connected(d->cluster));
			kv[n++] = leader == 0xffffffff ?
				KV_STR("leader", "unknown") :
				KV_U64("leader", leader);
			kv[n++] = KV_U64("grace_deadline", g.deadline);
			for (i = 0; i < g.nmembers; i++) {
				const struct grace_member *m = &g.members[i];
				uint32_t nf = cluster_node_flags(d->cluster,
								 m->pnn);

				kv[n++] = KV_STR(
					talloc_asprintf(tmp_ctx, "member_%u",
							m->pnn),
					talloc_asprintf(tmp_ctx,
						"%s%s%s node=%s",
						(m->flags &
						 GRACE_MEMBER_ENFORCING) ?
						"ENFORCING" : "-",
						(m->flags & GRACE_MEMBER_NEED) ?
						",NEED" : "",
						(m->flags & GRACE_MEMBER_STALE) ?
						",STALE" : "",
						nf == 0xffffffff ? "?" :
						(nf & 0x1) ? "DISCONNECTED" :
						(nf & 0x38) ? "INACTIVE" :
						(nf & 0x2) ? "UNHEALTHY" : "OK"));
			}
		}
	}
	if (d->cluster != NULL) {
		const struct cluster_stats *st =
			cluster_get_stats(d->cluster);

		kv[n++] = KV_U64("safety_events", st->safety_events);
		kv[n++] = KV_U64("safety_early_kernel_end",
				 st->safety_early_end);
		kv[n++] = KV_U64("safety_nonleader_lift",
				 st->safety_nonleader_lift);
		kv[n++] = KV_U64("safety_lift_without_node",
				 st->safety_lift_without);
		kv[n++] = KV_U64("grace_lifts", st->lifts);
		kv[n++] = KV_U64("grace_lift_attempts", st->lift_attempts);
		kv[n++] = KV_U64("last_lift_time", st->last_lift_time);
		kv[n++] = KV_U64("nfsd_restarts", st->restarts);
		kv[n++] = KV_U64("nfsd_restart_failures",
				 st->restart_failures);
		kv[n++] = KV_U64("end_grace_writes", st->end_grace_writes);
		kv[n++] = KV_U64("grace_messages_sent", st->messages_sent);
		kv[n++] = KV_U64("grace_messages_received",
				 st->messages_received);
	}
	kv[n++] = KV_U64("upcalls_create", cs->upcalls[0]);
	kv[n++] = KV_U64("upcalls_remove", cs->upcalls[1]);
	kv[n++] = KV_U64("upcalls_check", cs->upcalls[2]);
	kv[n++] = KV_U64("upcalls_gracedone", cs->upcalls[3]);
	kv[n++] = KV_U64("upcalls_gracestart", cs->upcalls[4]);
	kv[n++] = KV_U64("upcalls_getversion", cs->upcalls[5]);
	kv[n++] = KV_U64("upcalls_unknown", cs->unknown_cmd);
	kv[n++] = KV_U64("upcalls_invalid", cs->invalid);
	kv[n++] = KV_U64("messages_garbage", cs->garbage);
	kv[n++] = KV_U64("pipe_opens", cs->opens);
	kv[n++] = KV_U64("downcall_errors", cs->write_errors);
	kv[n++] = KV_U64("store_errors", cs->store_errors);
	kv[n++] = KV_U64("transactions", bs->transactions);
	kv[n++] = KV_U64("transactions_failed", bs->failed_transactions);
	kv[n++] = KV_U64("batched_ops", bs->ops);
	kv[n++] = KV_U64("batch_max", bs->max_batch);
	kv[n++] = KV_U64("batch_1", bs->size_hist[0]);
	kv[n++] = KV_U64("batch_2_3", bs->size_hist[1]);
	kv[n++] = KV_U64("batch_4_7", bs->size_hist[2]);
	kv[n++] = KV_U64("batch_8_15", bs->size_hist[3]);
	kv[n++] = KV_U64("batch_16_31", bs->size_hist[4]);
	kv[n++] = KV_U64("batch_32_63", bs->size_hist[5]);
	kv[n++] = KV_U64("batch_64_127", bs->size_hist[6]);
	kv[n++] = KV_U64("batch_128_up", bs->size_hist[7]);
	kv[n++] = KV_U64("records_purged", bs->purged);
	kv[n++] = KV_U64("unreadable_records_met", bs->corrupt_records);
	kv[n++] = KV_U64("reclaim_list_sent", cs->reclaim_sent);
	kv[n++] = KV_U64("reclaim_list_usec", cs->reclaim_usec);
	kv[n++] = KV_U64("grace_start_replies_held", cs->held_replies);
	kv[n++] = KV_U64("grace_start_held_usec", cs->held_usec);
	kv[n++] = KV_U64("control_refused", d->control_refused);
	kv[n++] = KV_U64("op_latency_count", conn->ctl->lat_count);
	kv[n++] = KV_U64("op_latency_p50_usec", control_lat_pct(conn->ctl, 50));
	kv[n++] = KV_U64("op_latency_p90_usec", control_lat_pct(conn->ctl, 90));
	kv[n++] = KV_U64("op_latency_p99_usec", control_lat_pct(conn->ctl, 99));

	ret = cltrack_kv_push(kv, n, NULL, SIZE_MAX, &used);
	if (ret == 0) {
		body = talloc_array(tmp_ctx, uint8_t, used);
		ret = (body == NULL) ? ENOMEM :
			cltrack_kv_push(kv, n, body, used, &used);
	}
	if (ret != 0) {
		talloc_free(tmp_ctx);
		control_send_status(conn, req, -ret);
		return;
	}
	control_send(conn, req->opcode, req->reqid, 0, 0, body, used);
	talloc_free(tmp_ctx);
}

struct list_state {
	struct control_conn *conn;
	const struct cltrack_hdr *req;
	struct cltrack_list_filter filter;
	struct grace_record g;
	uint8_t *chunk;
	size_t used;
	uint32_t count;
};

static void list_flush(struct list_state *ls, uint32_t flags)
{
	ls->chunk[0] = ls->count & 0xff;
	ls->chunk[1] = (ls->count >> 8) & 0xff;
	ls->chunk[2] = (ls->count >> 16) & 0xff;
	ls->chunk[3] = (ls->count >> 24) & 0xff;
	control_send(ls->conn, ls->req->opcode, ls->req->reqid, 0, flags,
		     ls->chunk, ls->used);
	ls->used = 4;
	ls->count = 0;
}

static int list_cb(const uint8_t *key, size_t keylen, const uint8_t *id,
		   size_t idlen, const struct client_record *rec,
		   void *private_data)
{
	struct list_state *ls = private_data;
	struct cltrack_entry e = {};
	size_t len;

	if (rec == NULL) {
		return 0;
	}
	if ((ls->filter.flags & CLTRACK_LIST_RECLAIMABLE) &&
	    !grace_is_reclaimable(&ls->g, rec)) {
		return 0;
	}
	if (ls->filter.epoch != 0 && rec->epoch != ls->filter.epoch) {
		return 0;
	}
	if (ls->filter.pnn != CLTRACK_PNN_ANY && rec->pnn != ls->filter.pnn) {
		return 0;
	}
	e.idlen = (uint16_t)idlen;
	memcpy(e.id, id, idlen);
	e.epoch = rec->epoch;
	e.prev_epoch = rec->prev_epoch;
	e.created = rec->created;
	e.pnn = rec->pnn;
	e.flags = rec->flags;
	e.princhash_len = rec->princhash_len;
	memcpy(e.princhash, rec->princhash, rec->princhash_len);
	e.addr_len = rec->addr_len;
	memcpy(e.addr, rec->addr, rec->addr_len);

	if (ls->used + cltrack_entry_size(&e) > CONTROL_LIST_CHUNK) {
		list_flush(ls, CLTRACK_PROTO_F_MORE);
	}
	len = cltrack_entry_push(&e, ls->chunk + ls->used,
				 CONTROL_LIST_CHUNK - ls->used);
	if (len == 0) {
		return 0;
	}
	ls->used += len;
	ls->count += 1;
	return 0;
}

static void control_list(struct control_conn *conn,
			 const struct cltrack_hdr *req,
			 const uint8_t *body, size_t bodylen)
{
	struct daemon_context *d = conn->ctl->daemon;
	struct list_state ls = {
		.conn = conn,
		.req = req,
		.used = 4,
	};
	int ret;

	ret = cltrack_filter_pull(body, bodylen, &ls.filter);
	if (ret != 0) {
		control_send_status(conn, req, -EINVAL);
		return;
	}
	ret = grace_read(d->store, &ls.g);
	if (ret != 0) {
		control_send_status(conn, req, -EREMOTEIO);
		return;
	}
	ls.chunk = talloc_array(conn, uint8_t, CONTROL_LIST_CHUNK);
	if (ls.chunk == NULL) {
		control_send_status(conn, req, -ENOMEM);
		return;
	}
	ret = grace_clients_traverse(d->store, list_cb, &ls);
	if (ret != 0) {
		talloc_free(ls.chunk);
		control_send_status(conn, req, -EREMOTEIO);
		return;
	}
	list_flush(&ls, 0);
	talloc_free(ls.chunk);
}

static void control_op_done(struct grace_op *op, const struct grace_record *g,
			    void *private_data)
{
	struct control_pending *p = talloc_get_type_abort(
		private_data, struct control_pending);

	struct cltrack_kv kv[2];
	uint8_t body[64];
	size_t used = 0;
	uint32_t n = 0;

	if (p->conn == NULL) {
		talloc_free(p);
		return;
	}
	control_lat_add(p->conn->ctl, &p->start);
	if (op->status == 0 && p->opcode == CLTRACK_OP_UMH_GRACE_DONE) {
		kv[n++] = KV_U64("purged", op->counts[0]);
	} else if (op->status == 0 && p->opcode == CLTRACK_OP_IMPORT) {
		kv[n++] = KV_U64("stored", op->counts[0]);
		kv[n++] = KV_U64("present", op->counts[1]);
	}
	if (n > 0 && cltrack_kv_push(kv, n, body, sizeof(body), &used) != 0) {
		used = 0;
	}
	control_send(p->conn, p->opcode, p->reqid, op->status, 0,
		     used > 0 ? body : NULL, used);
	talloc_free(p);
}

/*
 * nfsdcltrack's "possibly still reclaiming" (spec §8.2): a client whose
 * time is before this boot's grace start, or any v4.0 client, may still
 * reclaim, so grace must not be lifted early.
 */
struct reclaiming_state {
	int64_t grace_start;
	uint64_t count;
};

static int reclaiming_cb(const uint8_t *key, size_t keylen,
			 const uint8_t *id, size_t idlen,
			 const struct client_record *rec, void *private_data)
{
	struct reclaiming_state *rs = private_data;

	if (rec == NULL) {
		/* Unknown state: count it, so that grace is not lifted */
		rs->count += 1;
		return 0;
	}
	if ((int64_t)rec->created < rs->grace_start ||
	    !(rec->flags & RECORD_F_SESSION)) {
		rs->count += 1;
	}
	return 0;
}

static void control_umh_reclaiming(struct control_conn *conn,
				   const struct cltrack_hdr *req,
				   const uint8_t *body, size_t bodylen)
{
	struct daemon_context *d = conn->ctl->daemon;
	struct reclaiming_state rs = {};
	struct cltrack_kv kv[1];
	uint8_t out[64];
	size_t used = 0;
	int ret;

	ret = cltrack_umh_time_pull(body, bodylen, &rs.grace_start);
	if (ret != 0) {
		control_send_status(conn, req, -EINVAL);
		return;
	}
	ret = grace_clients_traverse(d->store, reclaiming_cb, &rs);
	if (ret != 0) {
		control_send_status(conn, req, -EREMOTEIO);
		return;
	}
	kv[0] = KV_U64("count", rs.count);
	ret = cltrack_kv_push(kv, 1, out, sizeof(out), &used);
	if (ret != 0) {
		control_send_status(conn, req, -ret);
		return;
	}
	control_send(conn, req->opcode, req->reqid, 0, 0, out, used);
}

static int import_add_cb(const struct cltrack_client_op *cop,
			 void *private_data)
{
	struct control_import *im = private_data;
	struct grace_import_item *it = NULL;

	if (im->n >= CLTRACK_IMPORT_MAX) {
		return EMSGSIZE;
	}
	if (im->n % 1024 == 0) {
		struct grace_import_item *tmp = talloc_realloc(
			im, im->items, struct grace_import_item, im->n + 1024);
		if (tmp == NULL) {
			return ENOMEM;
		}
		im->items = tmp;
	}
	it = &im->items[im->n];
	*it = (struct grace_import_item) {
		.idlen = cop->idlen,
		.princhash_len = cop->princhash_len,
		.flags = cop->flags,
	};
	it->id = talloc_memdup(im->items, cop->id, cop->idlen);
	if (it->id == NULL) {
		return ENOMEM;
	}
	memcpy(it->princhash, cop->princhash, cop->princhash_len);
	im->n += 1;
	return 0;
}

/*
 * Collect the chunks of an import; only the last one is answered.  A
 * bad chunk fails the whole import, before anything was stored.
 */
static bool control_import_chunk(struct control_conn *conn,
				 const struct cltrack_hdr *req,
				 const uint8_t *body, size_t bodylen)
{
	int ret;

	if (conn->import != NULL && conn->import->reqid != req->reqid) {
		D_WARNING("Import %u abandoned by a new import %u",
			  conn->import->reqid, req->reqid);
		TALLOC_FREE(conn->import);
	}
	if (conn->import == NULL) {
		conn->import = talloc_zero(conn, struct control_import);
		if (conn->import == NULL) {
			control_send_status(conn, req, -ENOMEM);
			return false;
		}
		conn->import->reqid = req->reqid;
	}
	ret = cltrack_import_chunk_pull(body, bodylen, import_add_cb,
					conn->import);
	if (ret != 0) {
		D_WARNING("Bad import chunk, ret=%d; import dropped", ret);
		TALLOC_FREE(conn->import);
		control_send_status(conn, req, ret == ENOMEM ? -ENOMEM :
				    ret == EMSGSIZE ? -EMSGSIZE : -EINVAL);
		return false;
	}
	return !(req->flags & CLTRACK_PROTO_F_MORE);
}

/* Track p on conn, so that a peer that goes away detaches it */
static void control_pending_link(struct control_conn *conn,
				 struct control_pending *p)
{
	p->next = conn->pending;
	if (p->next != NULL) {
		p->next->prev = p;
	}
	conn->pending = p;
	conn->npending += 1;
	talloc_set_destructor(p, control_pending_destructor);
}

static void control_op(struct control_conn *conn,
		       const struct cltrack_hdr *req,
		       const uint8_t *body, size_t bodylen)
{
	struct daemon_context *d = conn->ctl->daemon;
	struct control_pending *p = NULL;
	struct cltrack_client_op cop;
	struct grace_op op = {};
	int ret;

	switch (req->opcode) {
	case CLTRACK_OP_CREATE:
	case CLTRACK_OP_REMOVE:
	case CLTRACK_OP_CHECK:
		ret = cltrack_client_op_pull(body, bodylen, &cop);
		if (ret != 0) {
			control_send_status(conn, req, -EINVAL);
			return;
		}
		op.type = req->opcode == CLTRACK_OP_CREATE ? GRACE_OP_CREATE :
			  req->opcode == CLTRACK_OP_REMOVE ? GRACE_OP_REMOVE :
			  GRACE_OP_CHECK;
		op.idlen = cop.idlen;
		memcpy(op.id, cop.id, cop.idlen);
		op.princhash_len = cop.princhash_len;
		memcpy(op.princhash, cop.princhash, cop.princhash_len);
		op.flags = cop.flags & (RECORD_F_SESSION | RECORD_F_LEGACY);
		break;
	case CLTRACK_OP_GRACE_START:
		op.type = GRACE_OP_GRACE_START;
		break;
	case CLTRACK_OP_GRACE_DONE:
		op.type = GRACE_OP_GRACE_DONE;
		break;
	case CLTRACK_OP_UMH_CREATE:
	case CLTRACK_OP_UMH_REMOVE:
	case CLTRACK_OP_UMH_CHECK:
		ret = cltrack_umh_op_pull(body, bodylen, &cop, &op.time);
		if (ret != 0) {
			control_send_status(conn, req, -EINVAL);
			return;
		}
		op.type = req->opcode == CLTRACK_OP_UMH_CREATE ?
				GRACE_OP_UMH_CREATE :
			  req->opcode == CLTRACK_OP_UMH_REMOVE ?
				GRACE_OP_UMH_REMOVE : GRACE_OP_UMH_CHECK;
		op.idlen = cop.idlen;
		memcpy(op.id, cop.id, cop.idlen);
		op.flags = cop.flags & RECORD_F_SESSION;
		break;
	case CLTRACK_OP_UMH_GRACE_DONE:
		ret = cltrack_umh_time_pull(body, bodylen, &op.time);
		if (ret != 0) {
			control_send_status(conn, req, -EINVAL);
			return;
		}
		op.type = GRACE_OP_UMH_GRACE_DONE;
		break;
	case CLTRACK_OP_IMPORT:
		if (!control_import_chunk(conn, req, body, bodylen)) {
			return;
		}
		op.type = GRACE_OP_IMPORT;
		op.items = conn->import->items;
		op.nitems = conn->import->n;
		break;
	default:
		control_send_status(conn, req, -EOPNOTSUPP);
		return;
	}
	if (conn->npending >= CONTROL_MAX_PENDING) {
		TALLOC_FREE(conn->import);
		control_send_status(conn, req, -EBUSY);
		return;
	}

	p = talloc_zero(d, struct control_pending);
	if (p == NULL) {
		TALLOC_FREE(conn->import);
		control_send_status(conn, req, -ENOMEM);
		return;
	}
	p->conn = conn;
	clock_gettime(CLOCK_MONOTONIC, &p->start);
	p->opcode = req->opcode;
	p->reqid = req->reqid;
	/* The records must live until the transaction is done */
	p->import = talloc_move(p, &conn->import);
	ret = batch_submit(d->batch, &op, control_op_done, p);
	if (ret != 0) {
		talloc_free(p);
		control_send_status(conn, req, -ret);
		return;
	}
	control_pending_link(conn, p);
}

static void control_cluster_done(int status, void *private_data)
{
	struct control_pending *p = talloc_get_type_abort(
		private_data, struct control_pending);

	if (p->conn != NULL) {
		control_send(p->conn, p->opcode, p->reqid, status, 0, NULL, 0);
	}
	talloc_free(p);
}

/*
 * Cluster requests: events from the event script, and the admin's grace
 * start and lift.  In single-host mode only grace start exists (it is the
 * nfsdcld epoch step) and the rest is refused.
 */
static void control_cluster(struct control_conn *conn,
			    const struct cltrack_hdr *req,
			    const uint8_t *body, size_t bodylen)
{
	struct daemon_context *d = conn->ctl->daemon;
	struct control_pending *p = NULL;
	const char *reason = NULL;
	char ip[CLTRACK_EVENT_IP_MAX + 1];
	uint8_t event = 0;
	bool force;
	int ret;

	if (d->cluster == NULL) {
		if (req->opcode == CLTRACK_OP_GRACE_START) {
			control_op(conn, req, body, bodylen);
			return;
		}
		control_send_status(conn, req, -EOPNOTSUPP);
		return;
	}

	switch (req->opcode) {
	case CLTRACK_OP_EVENT:
		ret = cltrack_event_pull(body, bodylen, &event, ip);
		if (ret != 0) {
			control_send_status(conn, req, -EINVAL);
			return;
		}
		ret = cluster_event(d->cluster, event, ip, &reason);
		if (reason != NULL) {
			D_ERR("monitor: %s", reason);
		}
		control_send_status(conn, req, -ret);
		return;
	case CLTRACK_OP_GRACE_START:
	case CLTRACK_OP_GRACE_LIFT:
		break;
	default:
		control_send_status(conn, req, -EOPNOTSUPP);
		return;
	}

	p = talloc_zero(d, struct control_pending);
	if (p == NULL) {
		control_send_status(conn, req, -ENOMEM);
		return;
	}
	p->conn = conn;
	p->opcode = req->opcode;
	p->reqid = req->reqid;
	if (req->opcode == CLTRACK_OP_GRACE_START) {
		ret = cluster_grace_start(d->cluster, control_cluster_done, p);
	} else {
		force = bodylen == 4 && (body[0] & CLTRACK_LIFT_FORCE);
		if (force) {
			D_WARNING("Forced grace lift requested by an "
				  "administrator");
		}
		ret = cluster_grace_lift(d->cluster, force,
					 control_cluster_done, p);
	}
	if (ret != 0) {
		talloc_free(p);
		control_send_status(conn, req, -ret);
		return;
	}
	control_pending_link(conn, p);
}

static void control_dispatch(struct control_conn *conn,
			     const struct cltrack_hdr *req,
			     const uint8_t *body, size_t bodylen)
{
	D_DEBUG("Control request opcode=%u reqid=%u len=%zu", req->opcode,
		req->reqid, bodylen);

	switch (req->opcode) {
	case CLTRACK_OP_PING:
		control_send_status(conn, req, 0);
		break;
	case CLTRACK_OP_STATUS:
		control_status(conn, req, false);
		break;
	case CLTRACK_OP_STATS:
		control_status(conn, req, true);
		break;
	case CLTRACK_OP_LIST:
		control_list(conn, req, body, bodylen);
		break;
	case CLTRACK_OP_UMH_RECLAIMING:
		control_umh_reclaiming(conn, req, body, bodylen);
		break;
	case CLTRACK_OP_EVENT:
	case CLTRACK_OP_GRACE_START:
	case CLTRACK_OP_GRACE_LIFT:
		control_cluster(conn, req, body, bodylen);
		break;
	default:
		control_op(conn, req, body, bodylen);
		break;
	}
}

static void control_conn_handler(struct tevent_context *ev,
				 struct tevent_fd *fde, uint16_t flags,
				 void *private_data)
{
	struct control_conn *conn = talloc_get_type_abort(
		private_data, struct control_conn);
	struct cltrack_hdr hdr;
	uint8_t *dst = NULL;
	ssize_t n;
	int ret;

	if (flags & TEVENT_FD_WRITE) {
		control_flush(conn);
		return;
	}

	if (conn->pkt == NULL) {
		dst = conn->hdrbuf + conn->have;
		conn->want = CLTRACK_PROTO_HDR_SIZE;
	} else {
		dst = conn->pkt + conn->have;
	}
	n = recv(conn->fd, dst, conn->want - conn->have, MSG_DONTWAIT);
	if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
		return;
	}
	if (n <= 0) {
		talloc_free(conn);
		return;
	}
	conn->have += (size_t)n;
	if (conn->have < conn->want) {
		return;
	}

	ret = cltrack_hdr_pull(conn->pkt != NULL ? conn->pkt : conn->hdrbuf,
			       CLTRACK_PROTO_HDR_SIZE, &hdr);
	if (ret != 0) {
		D_WARNING("Bad control packet header (ret=%d); closing the "
			  "connection", ret);
		talloc_free(conn);
		return;
	}
	if (conn->pkt == NULL && hdr.length > CLTRACK_PROTO_HDR_SIZE) {
		conn->pkt = talloc_array(conn, uint8_t, hdr.length);
		if (conn->pkt == NULL) {
			talloc_free(conn);
			return;
		}
		memcpy(conn->pkt, conn->hdrbuf, CLTRACK_PROTO_HDR_SIZE);
		conn->want = hdr.length;
		return;
	}

	conn->in_handler = true;
	control_dispatch(conn, &hdr,
			 conn->pkt != NULL ?
			 conn->pkt + CLTRACK_PROTO_HDR_SIZE : NULL,
			 hdr.length - CLTRACK_PROTO_HDR_SIZE);
	conn->in_handler = false;
	if (conn->broken) {
		talloc_free(conn);
		return;
	}
	TALLOC_FREE(conn->pkt);
	conn->have = 0;
}

static void control_accept(struct tevent_context *ev, struct tevent_fd *fde,
			   uint16_t flags, void *private_data)
{
	struct control_context *ctl = talloc_get_type_abort(
		private_data, struct control_context);
	struct control_conn *conn = NULL;
	struct ucred cred;
	socklen_t credlen = sizeof(cred);
	int fd;

	fd = accept4(ctl->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd == -1) {
		return;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &credlen) != 0 ||
	    (cred.uid != 0 && cred.uid != geteuid())) {
		ctl->daemon->control_refused += 1;
		D_WARNING("Refused control connection from uid %d pid %d: "
			  "only root may use cltrackd", (int)cred.uid,
			  (int)cred.pid);
		close(fd);
		return;
	}

	conn = talloc_zero(ctl, struct control_conn);
	if (conn == NULL) {
		close(fd);
		return;
	}
	conn->ctl = ctl;
	conn->fd = fd;
	conn->fde = tevent_add_fd(ev, conn, fd, TEVENT_FD_READ,
				  control_conn_handler, conn);
	if (conn->fde == NULL) {
		close(fd);
		talloc_free(conn);
		return;
	}
	conn->next = ctl->conns;
	if (conn->next != NULL) {
		conn->next->prev = conn;
	}
	ctl->conns = conn;
	talloc_set_destructor(conn, control_conn_destructor);
}

/* Is another daemon answering on path? */
static bool control_in_use(const struct sockaddr_un *sun)
{
	int fd;
	int ret;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		return false;
	}
	ret = connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
	close(fd);
	return ret == 0;
}

int control_check_free(const char *path)
{
	struct sockaddr_un sun = {
		.sun_family = AF_UNIX,
	};

	if (strlen(path) >= sizeof(sun.sun_path)) {
		D_ERR("Control socket path %s is too long", path);
		return ENAMETOOLONG;
	}
	strncpy(sun.sun_path, path, sizeof(sun.sun_path) - 1);
	if (control_in_use(&sun)) {
		D_ERR("Another cltrackd answers on %s; stop it first, or "
		      "use --control-socket", path);
		return EADDRINUSE;
	}
	return 0;
}

int control_init(TALLOC_CTX *mem_ctx, struct tevent_context *ev,
		 const char *path, struct daemon_context *daemon,
		 struct control_context **result)
{
	struct control_context *ctl = NULL;
	struct sockaddr_un sun = {
		.sun_family = AF_UNIX,
	};
	char *dir = NULL;
	char *slash = NULL;
	mode_t old_umask;
	int ret;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		D_ERR("Control socket path %s is too long", path);
		return ENAMETOOLONG;
	}
	strncpy(sun.sun_path, path, sizeof(sun.sun_path) - 1);

	ctl = talloc_zero(mem_ctx, struct control_context);
	if (ctl == NULL) {
		return ENOMEM;
	}
	ctl->ev = ev;
	ctl->daemon = daemon;
	ctl->fd = -1;
	ctl->path = talloc_strdup(ctl, path);
	dir = talloc_strdup(ctl, path);
	if (ctl->path == NULL || dir == NULL) {
		talloc_free(ctl);
		return ENOMEM;
	}
	slash = strrchr(dir, '/');
	if (slash != NULL && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
			ret = errno;
			D_ERR("Cannot create %s, ret=%d (%s)", dir, ret,
			      strerror(ret));
			talloc_free(ctl);
			return ret;
		}
	}

	if (control_in_use(&sun)) {
		D_ERR("Another cltrackd answers on %s; stop it first, or "
		      "use --control-socket", path);
		talloc_free(ctl);
		return EADDRINUSE;
	}
	unlink(path);

	ctl->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			 0);
	if (ctl->fd == -1) {
		ret = errno;
		talloc_free(ctl);
		return ret;
	}
	talloc_set_destructor(ctl, control_destructor);

	old_umask = umask(0177);
	ret = bind(ctl->fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old_umask);
	if (ret == 0) {
		ret = chmod(path, 0600);
	}
	if (ret == 0) {
		ret = listen(ctl->fd, 64);
	}
	if (ret != 0) {
		ret = errno;
		D_ERR("Cannot listen on %s, ret=%d (%s)", path, ret,
		      strerror(ret));
		talloc_free(ctl);
		return ret;
	}

	ctl->fde = tevent_add_fd(ev, ctl, ctl->fd, TEVENT_FD_READ,
				 control_accept, ctl);
	if (ctl->fde == NULL) {
		talloc_free(ctl);
		return ENOMEM;
	}
	*result = ctl;
	return 0;
}
