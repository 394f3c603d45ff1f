/*
 * libcltrack, asynchronous calls (tevent) over the control socket.
 *
 * Callbacks of finished calls are deferred to the event loop
 * (tevent_req_defer_callback), so a caller's callback may free the
 * connection without pulling it from under the read handler.
 *
 * One connection carries any number of calls at once.  Requests go out
 * through a write queue owned by the connection, so a call that is
 * cancelled half-way never leaves half a packet behind.  A read loop
 * that re-arms itself collects reply packets and hands each to the call
 * with the same request id; replies for calls that are gone (timed out,
 * freed) are dropped.  When the connection dies every call still
 * waiting fails with the reason.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "client_private.h"
#include "cltrack/client.h"

struct cltrack_conn {
	struct tevent_context *ev;
	int fd;
	struct tevent_fd *fde;
	int timeout_ms;
	uint32_t next_reqid;
	int dead;			/* errno once the connection died */
	struct conn_out *out_head, *out_tail;
	uint8_t hdrbuf[CLTRACK_PROTO_HDR_SIZE];
	uint8_t *pkt;
	size_t have, want;
	struct call_state *calls;	/* waiting for replies */
};

struct conn_out {
	struct conn_out *next;
	uint8_t *buf;
	size_t len, ofs;
};

struct call_state {
	struct call_state *prev, *next;
	struct cltrack_conn *conn;	/* NULL once detached */
	struct tevent_req *req;
	struct tevent_context *conn_ev;
	uint16_t opcode;
	uint32_t reqid;
	/* reply bodies, in order (several when CLTRACK_PROTO_F_MORE) */
	uint8_t **bodies;
	size_t *lens;
	size_t nbodies;
};

static void conn_handler(struct tevent_context *ev, struct tevent_fd *fde,
			 uint16_t flags, void *private_data);
static void call_finish(struct call_state *call, int err);

static void call_unlink(struct call_state *call)
{
	struct cltrack_conn *conn = call->conn;

	if (conn == NULL) {
		return;
	}
	if (call->prev != NULL) {
		call->prev->next = call->next;
	} else {
		conn->calls = call->next;
	}
	if (call->next != NULL) {
		call->next->prev = call->prev;
	}
	call->prev = call->next = NULL;
	call->conn = NULL;
}

static int call_destructor(struct call_state *call)
{
	call_unlink(call);
	return 0;
}

static int conn_destructor(struct cltrack_conn *conn)
{
	/* Calls still waiting now only end by their timeout */
	while (conn->calls != NULL) {
		call_unlink(conn->calls);
	}
	TALLOC_FREE(conn->fde);
	if (conn->fd != -1) {
		close(conn->fd);
	}
	return 0;
}

int cltrack_conn_init(TALLOC_CTX *mem_ctx, struct tevent_context *ev,
		      const char *path, int timeout_ms,
		      struct cltrack_conn **result)
{
	struct cltrack_conn *conn = NULL;
	int ret;

	conn = talloc_zero(mem_ctx, struct cltrack_conn);
	if (conn == NULL) {
		return ENOMEM;
	}
	conn->ev = ev;
	conn->timeout_ms = timeout_ms > 0 ? timeout_ms : 30000;
	conn->next_reqid = 1;
	conn->fd = -1;
	talloc_set_destructor(conn, conn_destructor);
	ret = client_socket_connect(path, &conn->fd);
	if (ret != 0) {
		talloc_free(conn);
		return ret;
	}
	ret = fcntl(conn->fd, F_SETFL, O_NONBLOCK);
	if (ret != 0) {
		ret = errno;
		talloc_free(conn);
		return ret;
	}
	conn->fde = tevent_add_fd(ev, conn, conn->fd, TEVENT_FD_READ,
				  conn_handler, conn);
	if (conn->fde == NULL) {
		talloc_free(conn);
		return ENOMEM;
	}
	*result = conn;
	return 0;
}

/* Finish a call (err 0: done); an already timed out call stays so */
static void call_finish(struct call_state *call, int err)
{
	if (!tevent_req_is_in_progress(call->req)) {
		return;
	}
	tevent_req_defer_callback(call->req, call->conn_ev);
	if (err == 0) {
		tevent_req_done(call->req);
	} else {
		tevent_req_error(call->req, err);
	}
}

static void conn_dead(struct cltrack_conn *conn, int err)
{
	struct call_state *call = NULL;

	/*
	 * A peer that hung up shows as EPIPE on send and as EOF on recv,
	 * whichever this side tries first: the API promises ECONNRESET
	 * for both (include/cltrack/client.h).
	 */
	if (err == EPIPE) {
		err = ECONNRESET;
	}
	conn->dead = err;
	TALLOC_FREE(conn->fde);
	while ((call = conn->calls) != NULL) {
		call_unlink(call);
		call_finish(call, err);
	}
}

static void conn_flush(struct cltrack_conn *conn)
{
	while (conn->out_head != NULL) {
		struct conn_out *o = conn->out_head;
		ssize_t n;

		n = send(conn->fd, o->buf + o->ofs, o->len - o->ofs,
			 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
			TEVENT_FD_WRITEABLE(conn->fde);
			return;
		}
		if (n <= 0) {
			conn_dead(conn, n == 0 ? ECONNRESET : errno);
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

static void conn_reply(struct cltrack_conn *conn,
		       const struct cltrack_hdr *hdr, uint8_t *body,
		       size_t bodylen)
{
	struct call_state *call = NULL;
	uint8_t **bodies = NULL;
	size_t *lens = NULL;

	for (call = conn->calls; call != NULL; call = call->next) {
		if (call->reqid == hdr->reqid) {
			break;
		}
	}
	if (call == NULL) {
		/* Its call timed out or was freed */
		return;
	}
	if (call->opcode != hdr->opcode) {
		call_unlink(call);
		call_finish(call, EPROTO);
		return;
	}
	if (hdr->status != 0) {
		call_unlink(call);
		call_finish(call, hdr->status < 0 ? -hdr->status : EPROTO);
		return;
	}
	bodies = talloc_realloc(call, call->bodies, uint8_t *,
				call->nbodies + 1);
	if (bodies == NULL) {
		call_unlink(call);
		call_finish(call, ENOMEM);
		return;
	}
	call->bodies = bodies;
	lens = talloc_realloc(call, call->lens, size_t, call->nbodies + 1);
	if (lens == NULL) {
		call_unlink(call);
		call_finish(call, ENOMEM);
		return;
	}
	call->lens = lens;
	call->bodies[call->nbodies] = talloc_steal(call, body);
	call->lens[call->nbodies] = bodylen;
	call->nbodies += 1;
	if (hdr->flags & CLTRACK_PROTO_F_MORE) {
		return;
	}
	call_unlink(call);
	call_finish(call, 0);
}

static void conn_handler(struct tevent_context *ev, struct tevent_fd *fde,
			 uint16_t flags, void *private_data)
{
	struct cltrack_conn *conn = talloc_get_type_abort(
		private_data, struct cltrack_conn);
	struct cltrack_hdr hdr;
	uint8_t *dst = NULL;
	uint8_t *body = NULL;
	ssize_t n;
	int ret;

	if (flags & TEVENT_FD_WRITE) {
		conn_flush(conn);
		if (conn->dead != 0 || !(flags & TEVENT_FD_READ)) {
			return;
		}
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
		conn_dead(conn, n == 0 ? ECONNRESET : errno);
		return;
	}
	conn->have += (size_t)n;
	if (conn->have < conn->want) {
		return;
	}
	ret = cltrack_hdr_pull(conn->pkt != NULL ? conn->pkt : conn->hdrbuf,
			       CLTRACK_PROTO_HDR_SIZE, &hdr);
	if (ret != 0) {
		/* The stream cannot be trusted after a bad header */
		conn_dead(conn, EPROTO);
		return;
	}
	if (conn->pkt == NULL && hdr.length > CLTRACK_PROTO_HDR_SIZE) {
		conn->pkt = talloc_array(conn, uint8_t, hdr.length);
		if (conn->pkt == NULL) {
			conn_dead(conn, ENOMEM);
			return;
		}
		memcpy(conn->pkt, conn->hdrbuf, CLTRACK_PROTO_HDR_SIZE);
		conn->want = hdr.length;
		return;
	}
	body = conn->pkt;
	conn->pkt = NULL;
	conn->have = 0;
	if (body != NULL) {
		/* Keep the whole packet; the body starts after the header */
		memmove(body, body + CLTRACK_PROTO_HDR_SIZE,
			hdr.length - CLTRACK_PROTO_HDR_SIZE);
	}
	conn_reply(conn, &hdr, body, hdr.length - CLTRACK_PROTO_HDR_SIZE);
	if (body != NULL && talloc_parent(body) == conn) {
		talloc_free(body);
	}
}

/*
 * The one generic call: send a request, collect its reply bodies.
 * Every cltrack_*_send below is a thin wrapper around it.
 */
static struct tevent_req *call_send(TALLOC_CTX *mem_ctx,
				    struct tevent_context *ev,
				    struct cltrack_conn *conn,
				    uint16_t opcode, const uint8_t *body,
				    size_t bodylen)
{
	struct tevent_req *req = NULL;
	struct call_state *call = NULL;
	struct conn_out *o = NULL;
	struct cltrack_hdr hdr = {
		.length = (uint32_t)(CLTRACK_PROTO_HDR_SIZE + bodylen),
		.opcode = opcode,
	};

	req = tevent_req_create(mem_ctx, &call, struct call_state);
	if (req == NULL) {
		return NULL;
	}
	call->req = req;
	call->conn_ev = ev;
	call->opcode = opcode;
	talloc_set_destructor(call, call_destructor);

	if (conn->dead != 0) {
		tevent_req_error(req, conn->dead);
		return tevent_req_post(req, ev);
	}
	if (bodylen > CLTRACK_PROTO_MAX_PACKET - CLTRACK_PROTO_HDR_SIZE) {
		tevent_req_error(req, EMSGSIZE);
		return tevent_req_post(req, ev);
	}
	call->reqid = conn->next_reqid++;
	hdr.reqid = call->reqid;

	/* The packet belongs to the connection: it is sent whole */
	o = talloc_zero(conn, struct conn_out);
	if (tevent_req_nomem(o, req)) {
		return tevent_req_post(req, ev);
	}
	o->len = hdr.length;
	o->buf = talloc_array(o, uint8_t, o->len);
	if (o->buf == NULL) {
		talloc_free(o);
		tevent_req_oom(req);
		return tevent_req_post(req, ev);
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

	call->conn = conn;
	call->next = conn->calls;
	if (call->next != NULL) {
		call->next->prev = call;
	}
	conn->calls = call;

	if (!tevent_req_set_endtime(req, ev, tevent_timeval_current_ofs(
			conn->timeout_ms / 1000,
			(conn->timeout_ms % 1000) * 1000))) {
		tevent_req_oom(req);
		return tevent_req_post(req, ev);
	}
	TEVENT_FD_WRITEABLE(conn->fde);
	return req;
}

static int call_recv(struct tevent_req *req)
{
	enum tevent_req_state state;
	uint64_t err;

	if (tevent_req_is_error(req, &state, &err)) {
		if (state == TEVENT_REQ_TIMED_OUT) {
			return ETIMEDOUT;
		}
		if (state == TEVENT_REQ_NO_MEMORY) {
			return ENOMEM;
		}
		return err != 0 ? (int)err : EIO;
	}
	return 0;
}

struct tevent_req *cltrack_ping_send(TALLOC_CTX *mem_ctx,
				     struct tevent_context *ev,
				     struct cltrack_conn *conn)
{
	return call_send(mem_ctx, ev, conn, CLTRACK_OP_PING, NULL, 0);
}

int cltrack_ping_recv(struct tevent_req *req)
{
	return call_recv(req);
}

static struct tevent_req *op_send(TALLOC_CTX *mem_ctx,
				  struct tevent_context *ev,
				  struct cltrack_conn *conn, uint16_t opcode,
				  const struct cltrack_client_op *op)
{
	uint8_t body[2 + CLTRACK_ID_MAX + 1 + CLTRACK_PRINCHASH_SIZE + 4];
	struct tevent_req *req = NULL;
	size_t used = 0;
	int ret;

	ret = cltrack_client_op_push(op, body, sizeof(body), &used);
	if (ret != 0) {
		/* A request only to carry the error to _recv */
		struct call_state *call = NULL;

		req = tevent_req_create(mem_ctx, &call, struct call_state);
		if (req == NULL) {
			return NULL;
		}
		tevent_req_error(req, ret);
		return tevent_req_post(req, ev);
	}
	return call_send(mem_ctx, ev, conn, opcode, body, used);
}

struct tevent_req *cltrack_create_send(TALLOC_CTX *mem_ctx,
				       struct tevent_context *ev,
				       struct cltrack_conn *conn,
				       const struct cltrack_client_op *op)
{
	return op_send(mem_ctx, ev, conn, CLTRACK_OP_CREATE, op);
}

int cltrack_create_recv(struct tevent_req *req)
{
	return call_recv(req);
}

struct tevent_req *cltrack_remove_send(TALLOC_CTX *mem_ctx,
				       struct tevent_context *ev,
				       struct cltrack_conn *conn,
				       const struct cltrack_client_op *op)
{
	return op_send(mem_ctx, ev, conn, CLTRACK_OP_REMOVE, op);
}

int cltrack_remove_recv(struct tevent_req *req)
{
	return call_recv(req);
}

struct tevent_req *cltrack_check_send(TALLOC_CTX *mem_ctx,
				      struct tevent_context *ev,
				      struct cltrack_conn *conn,
				      const struct cltrack_client_op *op)
{
	return op_send(mem_ctx, ev, conn, CLTRACK_OP_CHECK, op);
}

int cltrack_check_recv(struct tevent_req *req)
{
	return call_recv(req);
}

struct tevent_req *cltrack_grace_start_send(TALLOC_CTX *mem_ctx,
					    struct tevent_context *ev,
					    struct cltrack_conn *conn)
{
	return call_send(mem_ctx, ev, conn, CLTRACK_OP_GRACE_START, NULL, 0);
}

int cltrack_grace_start_recv(struct tevent_req *req)
{
	return call_recv(req);
}

struct tevent_req *cltrack_grace_done_send(TALLOC_CTX *mem_ctx,
					   struct tevent_context *ev,
					   struct cltrack_conn *conn)
{
	return call_send(mem_ctx, ev, conn, CLTRACK_OP_GRACE_DONE, NULL, 0);
}

int cltrack_grace_done_recv(struct tevent_req *req)
{
	return call_recv(req);
}

struct tevent_req *cltrack_status_send(TALLOC_CTX *mem_ctx,
				       struct tevent_context *ev,
				       struct cltrack_conn *conn)
{
	return call_send(mem_ctx, ev, conn, CLTRACK_OP_STATUS, NULL, 0);
}

int cltrack_status_recv(struct tevent_req *req, TALLOC_CTX *mem_ctx,
			struct cltrack_kv **kv, uint32_t *n)
{
	struct call_state *call = tevent_req_data(req, struct call_state);
	int ret;

	ret = call_recv(req);
	if (ret != 0) {
		tevent_req_received(req);
		return ret;
	}
	if (call->nbodies != 1) {
		tevent_req_received(req);
		return EPROTO;
	}
	ret = cltrack_kv_pull(mem_ctx, call->bodies[0], call->lens[0], kv, n);
	tevent_req_received(req);
	return ret;
}

struct tevent_req *cltrack_list_send(TALLOC_CTX *mem_ctx,
				     struct tevent_context *ev,
				     struct cltrack_conn *conn,
				     const struct cltrack_list_filter *filter)
{
	struct cltrack_list_filter all = {
		.pnn = CLTRACK_PNN_ANY,
	};
	uint8_t body[16];
	size_t used = 0;

	/* A filter always fits: 16 bytes */
	(void)cltrack_filter_push(filter != NULL ? filter : &all, body,
				  sizeof(body), &used);
	return call_send(mem_ctx, ev, conn, CLTRACK_OP_LIST, body, used);
}

int cltrack_list_recv(struct tevent_req *req, TALLOC_CTX *mem_ctx,
		      struct cltrack_entry **entries, size_t *n)
{
	struct call_state *call = tevent_req_data(req, struct call_state);
	struct cltrack_entry *e = NULL;
	size_t count = 0;
	size_t i;
	int ret;

	ret = call_recv(req);
	if (ret != 0) {
		tevent_req_received(req);
		return ret;
	}
	for (i = 0; i < call->nbodies; i++) {
		ret = cltrack_entries_pull(mem_ctx, call->bodies[i],
					   call->lens[i], &e, &count);
		if (ret != 0) {
			talloc_free(e);
			tevent_req_received(req);
			return ret;
		}
	}
	if (e == NULL) {
		e = talloc_zero_array(mem_ctx, struct cltrack_entry, 1);
		if (e == NULL) {
			tevent_req_received(req);
			return ENOMEM;
		}
	}
	*entries = e;
	*n = count;
	tevent_req_received(req);
	return 0;
}
