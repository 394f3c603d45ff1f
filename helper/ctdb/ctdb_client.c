/*
 * The connection to ctdbd: framing, request/reply matching by reqid,
 * unsolicited messages, and the connect / setup / reconnect cycle.
 *
 * ctdbd answers nothing it does not like (bad magic, unknown db_id):
 * every request carries an end time.  Packets are read by their length
 * word; ctdbd pads what it sends to a multiple of 8.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>

#include "bytes.h"
#include "ctdb_client_private.h"
#include "logging.h"
#include "tevent_errno.h"

#define CTDB_SOCKET_PRODUCTION		"/run/ctdb/ctdbd.socket"
#define RECONNECT_MIN_MS		100
#define RECONNECT_MAX_MS		2000
/* Covers a deferred attach (DeferredAttachTO, 120 s) */
#define SETUP_TIMEOUT_MS		180000
#define ATTACH_TIMEOUT_MS		150000
#define RUNSTATE_POLL_MS		500

struct ctdb_client_out {
	struct ctdb_client_out *next;
	uint8_t *buf;
	size_t len;
	size_t ofs;
};

struct ctdb_client_conn {
	struct ctdb_client *client;
	int fd;
	struct tevent_fd *fde;
	uint8_t *rbuf;
	size_t rlen;
	struct ctdb_client_out *out_head;
	struct ctdb_client_out *out_tail;
};

struct ctdb_client_request_state;

struct ctdb_client_srvid {
	struct ctdb_client_srvid *next;
	uint64_t srvid;
};

struct ctdb_client {
	struct tevent_context *ev;
	char *socket_path;
	struct ctdb_client_callbacks cb;
	struct ctdb_client_conn *conn;
	bool connected;
	bool srvids_sent;	/* this connection has our srvids */
	bool disconnecting;
	uint32_t pnn;
	uint32_t next_reqid;
	uint64_t generation;
	uint64_t connects;
	struct ctdb_client_request_state *pending;
	struct ctdb_client_srvid *srvids;
	struct ctdb_db *dbs;
	struct ctdb_db *g_lock_db;
	struct tevent_timer *reconnect_te;
	struct tevent_req *setup_req;
	uint32_t backoff_ms;
	uint32_t leader_pnn;
	struct timeval leader_time;
};

static void ctdb_client_disconnect(struct ctdb_client *client, int err);
static void ctdb_client_schedule_connect(struct ctdb_client *client,
					 uint32_t delay_ms);

char *ctdb_client_default_socket(TALLOC_CTX *mem_ctx)
{
	const char *sock = getenv("CTDB_SOCKET");
	const char *base = getenv("CTDB_BASE");

	if (sock != NULL && sock[0] != '\0') {
		return talloc_strdup(mem_ctx, sock);
	}
	if (getenv("CTDB_TEST_MODE") != NULL && base != NULL) {
		return talloc_asprintf(mem_ctx, "%s/run/ctdbd.socket", base);
	}
	return talloc_strdup(mem_ctx, CTDB_SOCKET_PRODUCTION);
}

bool ctdb_client_connected(struct ctdb_client *client)
{
	return client->connected;
}

bool ctdb_client_has_conn(struct ctdb_client *client)
{
	return client->conn != NULL;
}

uint32_t ctdb_client_pnn(struct ctdb_client *client)
{
	return client->pnn;
}

uint64_t ctdb_client_connects(struct ctdb_client *client)
{
	return client->connects;
}

uint64_t ctdb_client_generation(struct ctdb_client *client)
{
	return client->generation;
}

uint32_t ctdb_client_leader(struct ctdb_client *client)
{
	struct timeval now = tevent_timeval_current();
	struct timeval age;

	if (client->leader_pnn == CTDB_UNKNOWN_PNN) {
		return CTDB_UNKNOWN_PNN;
	}
	age = tevent_timeval_until(&client->leader_time, &now);
	if (age.tv_sec * 1000 + age.tv_usec / 1000 >
	    CTDB_CLIENT_LEADER_STALE_MS) {
		return CTDB_UNKNOWN_PNN;
	}
	return client->leader_pnn;
}

struct ctdb_db *ctdb_client_dbs(struct ctdb_client *client)
{
	return client->dbs;
}

void ctdb_client_db_add(struct ctdb_client *client, struct ctdb_db *db)
{
	struct ctdb_db *last = client->dbs;

	/* Appended: g_lock.tdb, registered first, is attached first */
	ctdb_db_set_next(db, NULL);
	if (last == NULL) {
		client->dbs = db;
		return;
	}
	while (ctdb_db_next(last) != NULL) {
		last = ctdb_db_next(last);
	}
	ctdb_db_set_next(last, db);
}

void ctdb_client_db_remove(struct ctdb_client *client, struct ctdb_db *db)
{
	struct ctdb_db *prev = NULL;
	struct ctdb_db *cur = client->dbs;

	while (cur != NULL && cur != db) {
		prev = cur;
		cur = ctdb_db_next(cur);
	}
	if (cur == NULL) {
		return;
	}
	if (prev == NULL) {
		client->dbs = ctdb_db_next(cur);
	} else {
		ctdb_db_set_next(prev, ctdb_db_next(cur));
	}
	if (client->g_lock_db == db) {
		client->g_lock_db = NULL;
	}
}

int ctdb_client_g_lock_db(struct ctdb_client *client, struct ctdb_db **db)
{
	int ret;

	if (client->g_lock_db == NULL) {
		ret = ctdb_db_init(client, "g_lock.tdb", false,
				   &client->g_lock_db);
		if (ret != 0) {
			return ret;
		}
	}
	*db = client->g_lock_db;
	return 0;
}

/*
 * The socket: write queue and read loop
 */

static int ctdb_client_conn_destructor(struct ctdb_client_conn *conn)
{
	TALLOC_FREE(conn->fde);
	if (conn->fd != -1) {
		close(conn->fd);
		conn->fd = -1;
	}
	return 0;
}

static void ctdb_client_dispatch(struct ctdb_client *client, uint8_t *pkt,
				 size_t len);

static int ctdb_client_conn_write(struct ctdb_client_conn *conn)
{
	while (conn->out_head != NULL) {
		struct ctdb_client_out *o = conn->out_head;
		ssize_t n;

		n = send(conn->fd, o->buf + o->ofs, o->len - o->ofs,
			 MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EAGAIN || errno == EINTR) {
				break;
			}
			return errno;
		}
		o->ofs += (size_t)n;
		if (o->ofs < o->len) {
			break;
		}
		conn->out_head = o->next;
		if (conn->out_head == NULL) {
			conn->out_tail = NULL;
		}
		talloc_free(o);
	}
	if (conn->out_head == NULL) {
		TEVENT_FD_NOT_WRITEABLE(conn->fde);
	} else {
		TEVENT_FD_WRITEABLE(conn->fde);
	}
	return 0;
}

/* Takes ownership of buf */
static int ctdb_client_queue(struct ctdb_client *client, uint8_t *buf,
			     size_t len)
{
	struct ctdb_client_conn *conn = client->conn;
	struct ctdb_client_out *o = NULL;
	int ret;

	if (conn == NULL) {
		talloc_free(buf);
		return ENOTCONN;
	}
	o = talloc_zero(conn, struct ctdb_client_out);
	if (o == NULL) {
		talloc_free(buf);
		return ENOMEM;
	}
	o->buf = talloc_steal(o, buf);
	o->len = len;
	if (conn->out_tail == NULL) {
		conn->out_head = o;
	} else {
		conn->out_tail->next = o;
	}
	conn->out_tail = o;

	ret = ctdb_client_conn_write(conn);
	if (ret != 0) {
		D_ERR("ctdb: write to %s failed, ret=%d", client->socket_path,
		      ret);
		/* The caller learns it from its request failing */
		ctdb_client_disconnect(client, ret);
	}
	return 0;
}

/* Read what is there; returns 0, or an errno / ECONNRESET on EOF */
static int ctdb_client_conn_read(struct ctdb_client_conn *conn)
{
	struct ctdb_client *client = conn->client;
	uint8_t chunk[65536];
	ssize_t n;

	n = recv(conn->fd, chunk, sizeof(chunk), 0);
	if (n == 0) {
		return ECONNRESET;
	}
	if (n == -1) {
		if (errno == EAGAIN || errno == EINTR) {
			return 0;
		}
		return errno;
	}
	conn->rbuf = talloc_realloc(conn, conn->rbuf, uint8_t,
				    conn->rlen + (size_t)n);
	if (conn->rbuf == NULL) {
		return ENOMEM;
	}
	memcpy(conn->rbuf + conn->rlen, chunk, (size_t)n);
	conn->rlen += (size_t)n;

	while (conn->rlen >= 4) {
		uint32_t len = h_get32(conn->rbuf);
		uint8_t *pkt = NULL;

		if (len < CTDB_HDR_LEN || len > CTDB_MAX_PACKET) {
			D_ERR("ctdb: bad packet length %u from ctdbd", len);
			return EPROTO;
		}
		if (conn->rlen < len) {
			break;
		}
		/* Consume first: dispatching may free the connection */
		pkt = talloc_memdup(client, conn->rbuf, len);
		if (pkt == NULL) {
			return ENOMEM;
		}
		memmove(conn->rbuf, conn->rbuf + len, conn->rlen - len);
		conn->rlen -= len;
		ctdb_client_dispatch(client, pkt, len);
		if (client->conn != conn) {
			/* Disconnected meanwhile; conn is gone */
			return -1;
		}
	}
	return 0;
}

static void ctdb_client_conn_handler(struct tevent_context *ev,
				     struct tevent_fd *fde, uint16_t flags,
				     void *private_data)
{
	struct ctdb_client_conn *conn = talloc_get_type_abort(
		private_data, struct ctdb_client_conn);
	struct ctdb_client *client = conn->client;
	int ret;

	if (flags & TEVENT_FD_WRITE) {
		ret = ctdb_client_conn_write(conn);
		if (ret != 0) {
			D_ERR("ctdb: write to %s failed, ret=%d",
			      client->socket_path, ret);
			ctdb_client_disconnect(client, ret);
			return;
		}
	}
	if (flags & TEVENT_FD_READ) {
		ret = ctdb_client_conn_read(conn);
		if (ret == -1) {
			return;
		}
		if (ret != 0) {
			if (ret == ECONNRESET) {
				D_WARNING("ctdb: ctdbd closed the connection");
			} else {
				D_ERR("ctdb: read from %s failed, ret=%d",
				      client->socket_path, ret);
			}
			ctdb_client_disconnect(client, ret);
		}
	}
}

/*
 * Requests: one pending entry per outstanding reqid
 */

struct ctdb_client_request_state {
	struct ctdb_client_request_state *prev, *next;
	struct tevent_req *req;
	struct ctdb_client *client;
	uint32_t reqid;
	bool listed;
	uint8_t *reply;
	size_t replylen;
};

static void ctdb_client_request_unlist(struct ctdb_client_request_state *s)
{
	struct ctdb_client *client = s->client;

	if (!s->listed) {
		return;
	}
	if (s->prev != NULL) {
		s->prev->next = s->next;
	} else {
		client->pending = s->next;
	}
	if (s->next != NULL) {
		s->next->prev = s->prev;
	}
	s->prev = s->next = NULL;
	s->listed = false;
}

static void ctdb_client_request_cleanup(struct tevent_req *req,
					enum tevent_req_state req_state)
{
	struct ctdb_client_request_state *state = tevent_req_data(
		req, struct ctdb_client_request_state);

	ctdb_client_request_unlist(state);
}

struct tevent_req *ctdb_client_request_send(TALLOC_CTX *mem_ctx,
					    struct tevent_context *ev,
					    struct ctdb_client *client,
					    uint8_t *pkt, size_t pktlen,
					    uint32_t timeout_ms)
{
	struct tevent_req *req = NULL;
	struct ctdb_client_request_state *state = NULL;
	uint8_t *copy = NULL;
	int ret;

	req = tevent_req_create(mem_ctx, &state,
				struct ctdb_client_request_state);
	if (req == NULL) {
		return NULL;
	}
	state->req = req;
	state->client = client;
	tevent_req_set_cleanup_fn(req, ctdb_client_request_cleanup);

	if (client->conn == NULL) {
		tevent_req_error(req, ENOTCONN);
		return tevent_req_post(req, ev);
	}
	if (pktlen < CTDB_HDR_LEN) {
		tevent_req_error(req, EINVAL);
		return tevent_req_post(req, ev);
	}

	client->next_reqid += 1;
	if (client->next_reqid == 0) {
		client->next_reqid = 1;
	}
	state->reqid = client->next_reqid;
	h_put32(pkt + 28, state->reqid);

	copy = talloc_memdup(state, pkt, pktlen);
	if (tevent_req_nomem(copy, req)) {
		return tevent_req_post(req, ev);
	}
	/* Listed before queueing: a write error fails it at once */
	state->next = client->pending;
	if (client->pending != NULL) {
		client->pending->prev = state;
	}
	client->pending = state;
	state->listed = true;

	if (!tevent_req_set_endtime(req, ev,
				    tevent_timeval_current_ofs(
					    timeout_ms / 1000,
					    (timeout_ms % 1000) * 1000))) {
		tevent_req_oom(req);
		return tevent_req_post(req, ev);
	}
	ret = ctdb_client_queue(client, copy, pktlen);
	if (ret != 0) {
		tevent_req_error(req, ret);
		return tevent_req_post(req, ev);
	}
	if (!tevent_req_is_in_progress(req)) {
		return tevent_req_post(req, ev);
	}
	return req;
}

int ctdb_client_request_recv(struct tevent_req *req, TALLOC_CTX *mem_ctx,
			     uint8_t **reply, size_t *replylen)
{
	struct ctdb_client_request_state *state = tevent_req_data(
		req, struct ctdb_client_request_state);
	int err;

	if (tevent_req_is_errno(req, &err)) {
		return err;
	}
	*reply = talloc_move(mem_ctx, &state->reply);
	*replylen = state->replylen;
	return 0;
}

static void ctdb_client_message(struct ctdb_client *client,
				const uint8_t *pkt, size_t len);

/* pkt is talloc'd on client; this function owns it */
static void ctdb_client_dispatch(struct ctdb_client *client, uint8_t *pkt,
				 size_t len)
{
	struct ctdb_client_request_state *s = NULL;
	struct tevent_req *req = NULL;
	struct ctdb_hdr h;
	int ret;

	ret = ctdb_hdr_pull(pkt, len, &h);
	if (ret != 0) {
		D_ERR("ctdb: dropping a malformed packet from ctdbd, ret=%d",
		      ret);
		talloc_free(pkt);
		return;
	}
	if (h.operation == CTDB_REQ_MESSAGE) {
		ctdb_client_message(client, pkt, len);
		talloc_free(pkt);
		return;
	}
	for (s = client->pending; s != NULL; s = s->next) {
		if (s->reqid == h.reqid) {
			break;
		}
	}
	if (s == NULL) {
		D_INFO("ctdb: reply for unknown reqid %u (op %u) ignored",
		       h.reqid, h.operation);
		talloc_free(pkt);
		return;
	}
	req = s->req;
	ctdb_client_request_unlist(s);
	s->reply = talloc_steal(s, pkt);
	s->replylen = len;
	tevent_req_done(req);
}

/* Fail every outstanding request; their callbacks may add none */
static void ctdb_client_fail_pending(struct ctdb_client *client, int err)
{
	while (client->pending != NULL) {
		struct ctdb_client_request_state *s = client->pending;
		struct tevent_req *req = s->req;

		ctdb_client_request_unlist(s);
		tevent_req_error(req, err);
	}
}

/*
 * Controls
 */

struct ctdb_client_control_state {
	struct ctdb_reply_control reply;
	uint8_t *pkt;
	size_t pktlen;
};

static void ctdb_client_control_done(struct tevent_req *subreq);

struct tevent_req *ctdb_client_control_send(TALLOC_CTX *mem_ctx,
					    struct tevent_context *ev,
					    struct ctdb_client *client,
					    uint32_t destnode,
					    uint32_t opcode, uint64_t srvid,
					    uint32_t flags,
					    const uint8_t *data,
					    size_t datalen,
					    uint32_t timeout_ms)
{
	struct tevent_req *req = NULL;
	struct tevent_req *subreq = NULL;
	struct ctdb_client_control_state *state = NULL;
	struct ctdb_hdr h = {
		.magic = CTDB_MAGIC,
		.version = CTDB_PROTOCOL,
		.destnode = destnode,
		.srcnode = client->pnn,
	};
	struct ctdb_req_control c = {
		.opcode = opcode,
		.srvid = srvid,
		.flags = flags,
		.data = data,
		.datalen = (uint32_t)datalen,
	};
	uint8_t *pkt = NULL;
	size_t pktlen;
	int ret;

	req = tevent_req_create(mem_ctx, &state,
				struct ctdb_client_control_state);
	if (req == NULL) {
		return NULL;
	}
	ret = ctdb_req_control_push(state, &h, &c, &pkt, &pktlen);
	if (ret != 0) {
		tevent_req_error(req, ret);
		return tevent_req_post(req, ev);
	}
	subreq = ctdb_client_request_send(state, ev, client, pkt, pktlen,
					  timeout_ms);
	if (tevent_req_nomem(subreq, req)) {
		return tevent_req_post(req, ev);
	}
	tevent_req_set_callback(subreq, ctdb_client_control_done, req);
	return req;
}

static void ctdb_client_control_done(struct tevent_req *subreq)
{
	struct tevent_req *req = tevent_req_callback_data(
		subreq, struct tevent_req);
	struct ctdb_client_control_state *state = tevent_req_data(
		req, struct ctdb_client_control_state);
	int ret;

	ret = ctdb_client_request_recv(subreq, state, &state->pkt,
				       &state->pktlen);
	TALLOC_FREE(subreq);
	if (ret != 0) {
		tevent_req_error(req, ret);
		return;
	}
	ret = ctdb_reply_control_pull(state->pkt, state->pktlen,
				      &state->reply);
	if (ret != 0) {
		D_ERR("ctdb: malformed control reply, ret=%d", ret);
		tevent_req_error(req, EPROTO);
		return;
	}
	tevent_req_done(req);
}

int ctdb_client_control_recv(struct tevent_req *req, TALLOC_CTX *mem_ctx,
			     int32_t *status, uint8_t **data,
			     size_t *datalen, char **errmsg)
{
	struct ctdb_client_control_state *state = tevent_req_data(
		req, struct ctdb_client_control_state);
	int err;

	if (tevent_req_is_errno(req, &err)) {
		return err;
	}
	*status = state->reply.status;
	if (data != NULL) {
		*data = talloc_memdup(mem_ctx, state->reply.data,
				      state->reply.datalen);
		if (*data == NULL && state->reply.datalen > 0) {
			return ENOMEM;
		}
		*datalen = state->reply.datalen;
	}
	if (errmsg != NULL) {
		*errmsg = talloc_strndup(mem_ctx,
					 (const char *)state->reply.errmsg,
					 state->reply.errlen);
		if (*errmsg == NULL) {
			return ENOMEM;
		}
	}
	return 0;
}

/*
 * REQ_CALL
 */

struct ctdb_client_call_state {
	int32_t status;
};

static void ctdb_client_call_done(struct tevent_req *subreq);

struct tevent_req *ctdb_client_call_send(TALLOC_CTX *mem_ctx,
					 struct tevent_context *ev,
					 struct ctdb_client *client,
					 uint32_t db_id, uint32_t flags,
					 uint32_t callid, const uint8_t *key,
					 size_t keylen, uint32_t timeout_ms)
{
	struct tevent_req *req = NULL;
	struct tevent_req *subreq = NULL;
	struct ctdb_client_call_state *state = NULL;
	struct ctdb_hdr h = {
		.magic = CTDB_MAGIC,
		.version = CTDB_PROTOCOL,
		.destnode = CTDB_CURRENT_NODE,
		.srcnode = client->pnn,
	};
	struct ctdb_req_call c = {
		.flags = flags,
		.db_id = db_id,
		.callid = callid,
		.key = key,
		.keylen = (uint32_t)keylen,
	};
	uint8_t *pkt = NULL;
	size_t pktlen;
	int ret;

	req = tevent_req_create(mem_ctx, &state,
				struct ctdb_client_call_state);
	if (req == NULL) {
		return NULL;
	}
	ret = ctdb_req_call_push(state, &h, &c, &pkt, &pktlen);
	if (ret != 0) {
		tevent_req_error(req, ret);
		return tevent_req_post(req, ev);
	}
	subreq = ctdb_client_request_send(state, ev, client, pkt, pktlen,
					  timeout_ms);
	if (tevent_req_nomem(subreq, req)) {
		return tevent_req_post(req, ev);
	}
	tevent_req_set_callback(subreq, ctdb_client_call_done, req);
	return req;
}

static void ctdb_client_call_done(struct tevent_req *subreq)
{
	struct tevent_req *req = tevent_req_callback_data(
		subreq, struct tevent_req);
	struct ctdb_client_call_state *state = tevent_req_data(
		req, struct ctdb_client_call_state);
	struct ctdb_reply_call rc;
	struct ctdb_reply_error re;
	struct ctdb_hdr h;
	uint8_t *pkt = NULL;
	size_t len;
	int ret;

	ret = ctdb_client_request_recv(subreq, state, &pkt, &len);
	TALLOC_FREE(subreq);
	if (ret != 0) {
		tevent_req_error(req, ret);
		return;
	}
	ret = ctdb_hdr_pull(pkt, len, &h);
	if (ret == 0 && h.operation == CTDB_REPLY_ERROR) {
		ret = ctdb_reply_error_pull(pkt, len, &re);
		if (ret == 0) {
			D_WARNING("ctdb: call failed: status %d \"%.*s\"",
				  re.status, (int)re.msglen,
				  (const char *)re.msg);
		}
		tevent_req_error(req, EIO);
		return;
	}
	ret = ctdb_reply_call_pull(pkt, len, &rc);
	if (ret != 0) {
		tevent_req_error(req, EPROTO);
		return;
	}
	state->status = rc.status;
	tevent_req_done(req);
}

int ctdb_client_call_recv(struct tevent_req *req, int32_t *status)
{
	struct ctdb_client_call_state *state = tevent_req_data(
		req, struct ctdb_client_call_state);
	int err;

	if (tevent_req_is_errno(req, &err)) {
		return err;
	}
	*status = state->status;
	return 0;
}

/*
 * Controls that read something: the node map, the public addresses.  One
 * request shape, with the reply decoded by the control's pull function.
 */

typedef int (*ctdb_client_pull_fn)(TALLOC_CTX *mem_ctx, const uint8_t *buf,
				   size_t buflen, void **result);

struct ctdb_client_query_state {
	const char *name;
	ctdb_client_pull_fn pull;
	void *result;
};

static void ctdb_client_query_done(struct tevent_req *subreq);

static struct tevent_req *ctdb_client_query_send(TALLOC_CTX *mem_ctx,
						 struct tevent_context *ev,
						 struct ctdb_client *client,
						 uint32_t opcode,
						 const char *name,
						 ctdb_client_pull_fn pull,
						 uint32_t timeout_ms)
{
	struct tevent_req *req = NULL;
	struct tevent_req *subreq = NULL;
	struct ctdb_client_query_state *state = NULL;

	req = tevent_req_create(mem_ctx, &state,
				struct ctdb_client_query_state);
	if (req == NULL) {
		return NULL;
	}
	state->name = name;
	state->pull = pull;
	/* srvid and flags 0: for GET_PUBLIC_IPS every configured address,
	   as "ctdb ip" asks (see the header) */
	subreq = ctdb_client_control_send(state, ev, client,
					  CTDB_CURRENT_NODE, opcode, 0, 0,
					  NULL, 0, timeout_ms);
	if (tevent_req_nomem(subreq, req)) {
		return tevent_req_post(req, ev);
	}
	tevent_req_set_callback(subreq, ctdb_client_query_done, req);
	return req;
}

static void ctdb_client_query_done(struct tevent_req *subreq)
{
	struct tevent_req *req = tevent_req_callback_data(
		subreq, struct tevent_req);
	struct ctdb_client_query_state *state = tevent_req_data(
		req, struct ctdb_client_query_state);
	uint8_t *data = NULL;
	size_t datalen = 0;
	int32_t status;
	int ret;

	ret = ctdb_client_control_recv(subreq, state, &status, &data,
				       &datalen, NULL);
	TALLOC_FREE(subreq);
	if (ret != 0) {
		tevent_req_error(req, ret);
		return;
	}
	if (status != 0) {
		D_ERR("ctdb: %s failed, status=%d", state->name, status);
		tevent_req_error(req, EIO);
		return;
	}
	ret = state->pull(state, data, datalen, &state->result);
	if (ret != 0) {
		D_ERR("ctdb: malformed %s reply (%zu bytes), ret=%d",
		      state->name, datalen, ret);
		tevent_req_error(req, ret);
		return;
	}
	tevent_req_done(req);
}

static int ctdb_client_query_recv(struct tevent_req *req,
				  TALLOC_CTX *mem_ctx, void **result)
{
	struct ctdb_client_query_state *state = tevent_req_data(
		req, struct ctdb_client_query_state);
	int err;

	if (tevent_req_is_errno(req, &err)) {
		return err;
	}
	*result = talloc_move(mem_ctx, &state->result);
	return 0;
}

static int ctdb_client_nodemap_pull(TALLOC_CTX *mem_ctx, const uint8_t *buf,
				    size_t buflen, void **result)
{
	struct ctdb_nodemap *map = NULL;
	int ret;

	ret = ctdb_nodemap_pull(mem_ctx, buf, buflen, &map);
	*result = map;
	return ret;
}

struct tevent_req *ctdb_client_nodemap_send(TALLOC_CTX *mem_ctx,
					    struct tevent_context *ev,
					    struct ctdb_client *client,
					    uint32_t timeout_ms)
{
	return ctdb_client_query_send(mem_ctx, ev, client,
				      CTDB_CONTROL_GET_NODEMAP, "GET_NODEMAP",
				      ctdb_client_nodemap_pull, timeout_ms);
}

int ctdb_client_nodemap_recv(struct tevent_req *req, TALLOC_CTX *mem_ctx,
			     struct ctdb_nodemap **map)
{
	void *result = NULL;
	int ret;

	ret = ctdb_client_query_recv(req, mem_ctx, &result);
	if (ret == 0) {
		*map = result;
	}
	return ret;
}

static int ctdb_client_public_ips_pull(TALLOC_CTX *mem_ctx,
				       const uint8_t *buf, size_t buflen,
				       void **result)
{
	struct ctdb_public_ip_list *list = NULL;
	int ret;

	ret = ctdb_public_ip_list_pull(mem_ctx, buf, buflen, &list);
	*result = list;
	return ret;
}

struct tevent_req *ctdb_client_public_ips_send(TALLOC_CTX *mem_ctx,
					       struct tevent_context *ev,
					       struct ctdb_client *client,
					       uint32_t timeout_ms)
{
	return ctdb_client_query_send(mem_ctx, ev, client,
				      CTDB_CONTROL_GET_PUBLIC_IPS,
				      "GET_PUBLIC_IPS",
				      ctdb_client_public_ips_pull, timeout_ms);
}

int ctdb_client_public_ips_recv(struct tevent_req *req,
				TALLOC_CTX *mem_ctx,
				struct ctdb_public_ip_list **list)
{
	void *result = NULL;
	int ret;

	ret = ctdb_client_query_recv(req, mem_ctx, &result);
	if (ret == 0) {
		*list = result;
	}
	return ret;
}

/*
 * Messages and srvids
 */

static bool srvid_is_ours(uint64_t srvid)
{
	return (srvid & CTDB_SRVID_RANGE_MASK) == CTDB_SRVID_NFS_RANGE;
}

int ctdb_client_message_send(struct ctdb_client *client, uint32_t destnode,
			     uint64_t srvid, const uint8_t *data,
			     size_t len)
{
	TALLOC_CTX *tmp_ctx = NULL;
	struct ctdb_hdr h = {
		.magic = CTDB_MAGIC,
		.version = CTDB_PROTOCOL,
		.destnode = destnode,
		.srcnode = client->pnn,
	};
	struct ctdb_req_message m = {
		.srvid = srvid,
		.data = data,
		.datalen = (uint32_t)len,
	};
	uint8_t *payload = NULL;
	size_t payloadlen;
	uint8_t *pkt = NULL;
	size_t pktlen;
	int ret;

	if (client->conn == NULL || client->pnn == CTDB_UNKNOWN_PNN) {
		return ENOTCONN;
	}
	tmp_ctx = talloc_new(NULL);
	if (tmp_ctx == NULL) {
		return ENOMEM;
	}
	if (srvid_is_ours(srvid)) {
		ret = ctdb_cltrack_msg_push(tmp_ctx, client->pnn, data, len,
					    &payload, &payloadlen);
		if (ret != 0) {
			goto done;
		}
		m.data = payload;
		m.datalen = (uint32_t)payloadlen;
	}
	ret = ctdb_req_message_push(tmp_ctx, &h, &m, &pkt, &pktlen);
	if (ret != 0) {
		goto done;
	}
	ret = ctdb_client_queue(client, talloc_steal(NULL, pkt), pktlen);
done:
	talloc_free(tmp_ctx);
	return ret;
}

static void ctdb_client_message(struct ctdb_client *client,
				const uint8_t *pkt, size_t len)
{
	struct ctdb_req_message m;
	const uint8_t *data = NULL;
	size_t datalen;
	uint32_t sender = CTDB_UNKNOWN_PNN;
	int ret;

	ret = ctdb_req_message_pull(pkt, len, &m);
	if (ret != 0) {
		D_ERR("ctdb: malformed message, ret=%d", ret);
		return;
	}
	if (m.srvid == CTDB_SRVID_LEADER) {
		uint32_t pnn;

		if (m.datalen != 4) {
			D_WARNING("ctdb: leader message of %u bytes ignored",
				  m.datalen);
			return;
		}
		pnn = h_get32(m.data);
		client->leader_time = tevent_timeval_current();
		if (pnn != client->leader_pnn) {
			if (pnn == CTDB_UNKNOWN_PNN) {
				D_NOTICE("ctdb: leader unknown (election)");
			} else {
				D_NOTICE("ctdb: leader is now node %u", pnn);
			}
			client->leader_pnn = pnn;
			if (client->cb.leader != NULL) {
				client->cb.leader(client, pnn,
						  client->cb.private_data);
			}
		}
		return;
	}
	data = m.data;
	datalen = m.datalen;
	if (srvid_is_ours(m.srvid)) {
		ret = ctdb_cltrack_msg_pull(m.data, m.datalen, &sender, &data,
					    &datalen);
		if (ret != 0) {
			D_WARNING("ctdb: short message for srvid 0x%llx",
				  (unsigned long long)m.srvid);
			return;
		}
	}
	if (client->cb.message != NULL) {
		client->cb.message(client, m.srvid, sender, data, datalen,
				   client->cb.private_data);
	}
}

static void ctdb_client_srvid_sent(struct tevent_req *subreq)
{
	int32_t status = -1;
	int ret;

	ret = ctdb_client_control_recv(subreq, NULL, &status, NULL, NULL,
				       NULL);
	TALLOC_FREE(subreq);
	if (ret != 0 || status != 0) {
		D_ERR("ctdb: (de)registering a srvid failed, ret=%d "
		      "status=%d", ret, status);
	}
}

static int ctdb_client_srvid_control(struct ctdb_client *client,
				     uint32_t opcode, uint64_t srvid)
{
	struct tevent_req *subreq = NULL;

	subreq = ctdb_client_control_send(client, client->ev, client,
					  CTDB_CURRENT_NODE, opcode, srvid, 0,
					  NULL, 0, CTDB_CLIENT_TIMEOUT_MS);
	if (subreq == NULL) {
		return ENOMEM;
	}
	tevent_req_set_callback(subreq, ctdb_client_srvid_sent, NULL);
	return 0;
}

int ctdb_client_register_srvid(struct ctdb_client *client, uint64_t srvid)
{
	struct ctdb_client_srvid *s = NULL;

	for (s = client->srvids; s != NULL; s = s->next) {
		if (s->srvid == srvid) {
			return 0;
		}
	}
	s = talloc_zero(client, struct ctdb_client_srvid);
	if (s == NULL) {
		return ENOMEM;
	}
	s->srvid = srvid;
	s->next = client->srvids;
	client->srvids = s;
	/* Otherwise the next setup registers it */
	if (client->conn != NULL && client->srvids_sent) {
		return ctdb_client_srvid_control(
			client, CTDB_CONTROL_REGISTER_SRVID, srvid);
	}
	return 0;
}

int ctdb_client_deregister_srvid(struct ctdb_client *client, uint64_t srvid)
{
	struct ctdb_client_srvid **pp = &client->srvids;

	while (*pp != NULL && (*pp)->srvid != srvid) {
		pp = &(*pp)->next;
	}
	if (*pp == NULL) {
		return ENOENT;
	}
	{
		struct ctdb_client_srvid *s = *pp;
		*pp = s->next;
		talloc_free(s);
	}
	if (client->conn != NULL && client->srvids_sent) {
		return ctdb_client_srvid_control(
			client, CTDB_CONTROL_DEREGISTER_SRVID, srvid);
	}
	return 0;
}

/*
 * Setup of a new connection: GET_PNN, wait for RUNNING, register the
 * srvids, attach and open every DB.
 */

struct ctdb_client_setup_state {
	struct tevent_context *ev;
	struct ctdb_client *client;
	struct ctdb_client_srvid *srvid;
	struct ctdb_db *db;
};

static void ctdb_client_setup_pnn_done(struct tevent_req *subreq);
static void ctdb_client_setup_runstate(struct tevent_req *req);
static void ctdb_client_setup_runstate_done(struct tevent_req *subreq);
static void ctdb_client_setup_runstate_retry(struct tevent_req *subreq);
static void ctdb_client_setup_srvids(struct tevent_req *req);
static void ctdb_client_setup_srvid_done(struct tevent_req *subreq);
static void ctdb_client_setup_dbs(struct tevent_req *req);
static void ctdb_client_setup_db_done(struct tevent_req *subreq);

static struct tevent_req *ctdb_client_setup_send(TALLOC_CTX *mem_ctx,
						 struct tevent_context *ev,
						 struct ctdb_client *client)
{
	struct tevent_req *req = NULL;
	struct tevent_req *subreq = NULL;
	struct ctdb_client_setup_state *state = NULL;

	req = tevent_req_create(mem_ctx, &state,
				struct ctdb_client_setup_state);
	if (req == NULL) {
		return NULL;
	}
	state->ev = ev;
	state->client = client;
	if (!tevent_req_set_endtime(req, ev,
				    tevent_timeval_current_ofs(
					    SETUP_TIMEOUT_MS / 1000, 0))) {
		tevent_req_oom(req);
		return tevent_req_post(req, ev);
	}

	/*
	 * ctdbd accepts only after its init event; a connect made earlier
	 * succeeds and its requests hang: this timeout catches that.
	 */
	subreq = ctdb_client_control_send(state, ev, client,
					  CTDB_CURRENT_NODE,
					  CTDB_CONTROL_GET_PNN, 0, 0, NULL, 0,
					  CTDB_CLIENT_TIMEOUT_MS);
	if (tevent_req_nomem(subreq, req)) {
		return tevent_req_post(req, ev);
	}
	tevent_req_set_callback(subreq, ctdb_client_setup_pnn_done, req);
	return req;
}

static void ctdb_client_setup_pnn_done(struct tevent_req *subreq)
{
	struct tevent_req *req = tevent_req_callback_data(
		subreq, struct tevent_req);
	struct ctdb_client_setup_state *state = tevent_req_data(
		req, struct ctdb_client_setup_state);
	int32_t status;
	int ret;

	ret = ctdb_client_control_recv(subreq, NULL, &status, NULL, NULL,
				       NULL);
	TALLOC_FREE(subreq);
	if (ret != 0) {
		tevent_req_error(req, ret);
		return;
	}
	if (status < 0) {
		tevent_req_error(req, EIO);
		return;
	}
	/* GET_PNN answers in the status; there is no data */
	state->client->pnn = (uint32_t)status;
	ctdb_client_setup_runstate(req);
}

static void ctdb_client_setup_runstate(struct tevent_req *req)
{
	struct ctdb_client_setup_state *state = tevent_req_data(
		req, struct ctdb_client_setup_state);
	struct tevent_req *subreq = NULL;

	subreq = ctdb_client_control_send(state, state->ev, state->client,
					  CTDB_CURRENT_NODE,
					  CTDB_CONTROL_GET_RUNSTATE, 0, 0,
					  NULL, 0, CTDB_CLIENT_TIMEOUT_MS);
	if (tevent_req_nomem(subreq, req)) {
		return;
	}
	tevent_req_set_callback(subreq, ctdb_client_setup_runstate_done,
				req);
}

static void ctdb_client_setup_runstate_done(struct tevent_req *subreq)
{
	struct tevent_req *req = tevent_req_callback_data(
		subreq, struct tevent_req);
	struct ctdb_client_setup_state *state = tevent_req_data(
		req, struct ctdb_client_setup_state);
	uint8_t *data = NULL;
	size_t datalen = 0;
	int32_t status;
	uint32_t runstate = 0;
	int ret;

	ret = ctdb_client_control_recv(subreq, state, &status, &data,
				       &datalen, NULL);
	TALLOC_FREE(subreq);
	if (ret != 0) {
		tevent_req_error(req, ret);
		return;
	}
	if (status == 0 && datalen == 4) {
		runstate = h_get32(data);
	}
	TALLOC_FREE(data);
	/*
	 * Databases can be attached from STARTUP on (the deferral ends
	 * there), and CTDB's startup event, which starts nfsd through
	 * 60.nfs, runs in STARTUP: the kernel's GraceStart must not wait
	 * for RUNNING.
	 */
	if (runstate == CTDB_RUNSTATE_STARTUP ||
	    runstate == CTDB_RUNSTATE_RUNNING) {
		ctdb_client_setup_srvids(req);
		return;
	}
	D_INFO("ctdb: node %u in runstate %u, waiting for STARTUP",
	       state->client->pnn, runstate);
	subreq = tevent_wakeup_send(state, state->ev,
				    tevent_timeval_current_ofs(
					    0, RUNSTATE_POLL_MS * 1000));
	if (tevent_req_nomem(subreq, req)) {
		return;
	}
	tevent_req_set_callback(subreq, ctdb_client_setup_runstate_retry,
				req);
}

static void ctdb_client_setup_runstate_retry(struct tevent_req *subreq)
{
	struct tevent_req *req = tevent_req_callback_data(
		subreq, struct tevent_req);

	tevent_wakeup_recv(subreq);
	TALLOC_FREE(subreq);
	ctdb_client_setup_runstate(req);
}

static void ctdb_client_setup_srvids(struct tevent_req *req)
{
	struct ctdb_client_setup_state *state = tevent_req_data(
		req, struct ctdb_client_setup_state);
	struct tevent_req *subreq = NULL;

	if (state->srvid == NULL) {
		state->srvid = state->client->srvids;
	} else {
		state->srvid = state->srvid->next;
	}
	if (state->srvid == NULL) {
		state->client->srvids_sent = true;
		ctdb_client_setup_dbs(req);
		return;
	}
	subreq = ctdb_client_control_send(state, state->ev, state->client,
					  CTDB_CURRENT_NODE,
					  CTDB_CONTROL_REGISTER_SRVID,
					  state->srvid->srvid, 0, NULL, 0,
					  CTDB_CLIENT_TIMEOUT_MS);
	if (tevent_req_nomem(subreq, req)) {
		return;
	}
	tevent_req_set_callback(subreq, ctdb_client_setup_srvid_done, req);
}

static void ctdb_client_setup_srvid_done(struct tevent_req *subreq)
{
	struct tevent_req *req = tevent_req_callback_data(
		subreq, struct tevent_req);
	int32_t status;
	int ret;

	ret = ctdb_client_control_recv(subreq, NULL, &status, NULL, NULL,
				       NULL);
	TALLOC_FREE(subreq);
	if (ret != 0) {
		tevent_req_error(req, ret);
		return;
	}
	if (status != 0) {
		tevent_req_error(req, EIO);
		return;
	}
	ctdb_client_setup_srvids(req);
}

/* Open the next DB that is not open yet; DBs may be added meanwhile */
static void ctdb_client_setup_dbs(struct tevent_req *req)
{
	struct ctdb_client_setup_state *state = tevent_req_data(
		req, struct ctdb_client_setup_state);
	struct tevent_req *subreq = NULL;
	struct ctdb_db *db = NULL;

	for (db = state->client->dbs; db != NULL; db = ctdb_db_next(db)) {
		if (!ctdb_db_ready(db)) {
			break;
		}
	}
	if (db == NULL) {
		tevent_req_done(req);
		return;
	}
	subreq = ctdb_db_open_send(state, state->ev, db);
	if (tevent_req_nomem(subreq, req)) {
		return;
	}
	tevent_req_set_callback(subreq, ctdb_client_setup_db_done, req);
}

static void ctdb_client_setup_db_done(struct tevent_req *subreq)
{
	struct tevent_req *req = tevent_req_callback_data(
		subreq, struct tevent_req);
	int ret;

	ret = ctdb_db_open_recv(subreq);
	TALLOC_FREE(subreq);
	if (ret != 0) {
		tevent_req_error(req, ret);
		return;
	}
	ctdb_client_setup_dbs(req);
}

static int ctdb_client_setup_recv(struct tevent_req *req)
{
	int err;

	if (tevent_req_is_errno(req, &err)) {
		return err;
	}
	return 0;
}

/*
 * Connect, reconnect
 */

static void ctdb_client_setup_done(struct tevent_req *subreq);

static int ctdb_client_connect(struct ctdb_client *client)
{
	struct ctdb_client_conn *conn = NULL;
	struct sockaddr_un addr = {
		.sun_family = AF_UNIX,
	};
	int ret;

	if (strlen(client->socket_path) >= sizeof(addr.sun_path)) {
		return ENAMETOOLONG;
	}
	strncpy(addr.sun_path, client->socket_path,
		sizeof(addr.sun_path) - 1);

	conn = talloc_zero(client, struct ctdb_client_conn);
	if (conn == NULL) {
		return ENOMEM;
	}
	conn->client = client;
	conn->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			  0);
	if (conn->fd == -1) {
		ret = errno;
		talloc_free(conn);
		return ret;
	}
	talloc_set_destructor(conn, ctdb_client_conn_destructor);
	ret = connect(conn->fd, (struct sockaddr *)&addr, sizeof(addr));
	if (ret != 0) {
		ret = errno;
		talloc_free(conn);
		return ret;
	}
	conn->fde = tevent_add_fd(client->ev, conn, conn->fd, TEVENT_FD_READ,
				  ctdb_client_conn_handler, conn);
	if (conn->fde == NULL) {
		talloc_free(conn);
		return ENOMEM;
	}
	client->conn = conn;
	client->srvids_sent = false;

	client->setup_req = ctdb_client_setup_send(client, client->ev,
						   client);
	if (client->setup_req == NULL) {
		client->conn = NULL;
		talloc_free(conn);
		return ENOMEM;
	}
	tevent_req_set_callback(client->setup_req, ctdb_client_setup_done,
				client);
	return 0;
}

static void ctdb_client_setup_done(struct tevent_req *subreq)
{
	struct ctdb_client *client = tevent_req_callback_data(
		subreq, struct ctdb_client);
	int ret;

	ret = ctdb_client_setup_recv(subreq);
	TALLOC_FREE(subreq);
	client->setup_req = NULL;
	if (ret != 0) {
		D_ERR("ctdb: setup on %s failed, ret=%d (%s); reconnecting",
		      client->socket_path, ret, strerror(ret));
		ctdb_client_disconnect(client, ret);
		return;
	}
	client->connected = true;
	client->connects += 1;
	client->backoff_ms = RECONNECT_MIN_MS;
	D_NOTICE("ctdb: connected to %s as node %u", client->socket_path,
		 client->pnn);
	if (client->cb.connected != NULL) {
		client->cb.connected(client, client->pnn,
				     client->cb.private_data);
	}
}

static void ctdb_client_reconnect_handler(struct tevent_context *ev,
					  struct tevent_timer *te,
					  struct timeval now,
					  void *private_data)
{
	struct ctdb_client *client = talloc_get_type_abort(
		private_data, struct ctdb_client);
	int ret;

	client->reconnect_te = NULL;
	ret = ctdb_client_connect(client);
	if (ret != 0) {
		D_DEBUG("ctdb: connect to %s failed, ret=%d",
			client->socket_path, ret);
		ctdb_client_schedule_connect(client, client->backoff_ms);
		client->backoff_ms *= 2;
		if (client->backoff_ms > RECONNECT_MAX_MS) {
			client->backoff_ms = RECONNECT_MAX_MS;
		}
	}
}

static void ctdb_client_schedule_connect(struct ctdb_client *client,
					 uint32_t delay_ms)
{
	TALLOC_FREE(client->reconnect_te);
	client->reconnect_te = tevent_add_timer(
		client->ev, client,
		tevent_timeval_current_ofs(delay_ms / 1000,
					   (delay_ms % 1000) * 1000),
		ctdb_client_reconnect_handler, client);
	if (client->reconnect_te == NULL) {
		D_ERR("ctdb: out of memory scheduling a reconnect");
	}
}

static void ctdb_client_disconnect(struct ctdb_client *client, int err)
{
	bool was_connected = client->connected;
	struct ctdb_db *db = NULL;

	if (client->disconnecting || client->conn == NULL) {
		return;
	}
	client->disconnecting = true;
	client->connected = false;
	client->srvids_sent = false;
	client->generation += 1;
	client->leader_pnn = CTDB_UNKNOWN_PNN;
	TALLOC_FREE(client->setup_req);
	TALLOC_FREE(client->conn);

	/*
	 * A volatile tdb held open across a ctdbd restart would defeat its
	 * CLEAR_IF_FIRST wipe: close them all.
	 */
	for (db = client->dbs; db != NULL; db = ctdb_db_next(db)) {
		ctdb_db_close(db);
	}
	ctdb_client_fail_pending(client, ENOTCONN);
	client->disconnecting = false;

	if (was_connected) {
		D_WARNING("ctdb: lost the connection to %s, ret=%d",
			  client->socket_path, err);
		if (client->cb.disconnected != NULL) {
			client->cb.disconnected(client,
						client->cb.private_data);
		}
	}
	ctdb_client_schedule_connect(client, client->backoff_ms);
	client->backoff_ms *= 2;
	if (client->backoff_ms > RECONNECT_MAX_MS) {
		client->backoff_ms = RECONNECT_MAX_MS;
	}
}

static int ctdb_client_destructor(struct ctdb_client *client)
{
	/* No callbacks from a dying client */
	client->cb = (struct ctdb_client_callbacks) {};
	TALLOC_FREE(client->setup_req);
	TALLOC_FREE(client->conn);
	ctdb_client_fail_pending(client, ENOTCONN);
	return 0;
}

int ctdb_client_init(TALLOC_CTX *mem_ctx, struct tevent_context *ev,
		     const char *socket_path,
		     const struct ctdb_client_callbacks *cb,
		     struct ctdb_client **result)
{
	struct ctdb_client *client = NULL;
	int ret;

	client = talloc_zero(mem_ctx, struct ctdb_client);
	if (client == NULL) {
		return ENOMEM;
	}
	client->ev = ev;
	client->pnn = CTDB_UNKNOWN_PNN;
	client->leader_pnn = CTDB_UNKNOWN_PNN;
	client->backoff_ms = RECONNECT_MIN_MS;
	if (cb != NULL) {
		client->cb = *cb;
	}
	if (socket_path != NULL) {
		client->socket_path = talloc_strdup(client, socket_path);
	} else {
		client->socket_path = ctdb_client_default_socket(client);
	}
	if (client->socket_path == NULL) {
		talloc_free(client);
		return ENOMEM;
	}
	talloc_set_destructor(client, ctdb_client_destructor);

	ret = ctdb_client_register_srvid(client, CTDB_SRVID_LEADER);
	if (ret != 0) {
		talloc_free(client);
		return ret;
	}
	/* From the event loop, so the caller can register DBs first */
	ctdb_client_schedule_connect(client, 0);
	if (client->reconnect_te == NULL) {
		talloc_free(client);
		return ENOMEM;
	}
	*result = client;
	return 0;
}

/*
 * Waiting for the connection
 */

struct ctdb_client_wait_state {
	struct tevent_context *ev;
	struct ctdb_client *client;
};

static void ctdb_client_wait_poll(struct tevent_req *subreq);

struct tevent_req *ctdb_client_wait_connected_send(TALLOC_CTX *mem_ctx,
						   struct tevent_context *ev,
						   struct ctdb_client *client,
						   uint32_t timeout_ms)
{
	struct tevent_req *req = NULL;
	struct tevent_req *subreq = NULL;
	struct ctdb_client_wait_state *state = NULL;

	req = tevent_req_create(mem_ctx, &state,
				struct ctdb_client_wait_state);
	if (req == NULL) {
		return NULL;
	}
	state->ev = ev;
	state->client = client;
	if (client->connected) {
		tevent_req_done(req);
		return tevent_req_post(req, ev);
	}
	if (!tevent_req_set_endtime(req, ev,
				    tevent_timeval_current_ofs(
					    timeout_ms / 1000,
					    (timeout_ms % 1000) * 1000))) {
		tevent_req_oom(req);
		return tevent_req_post(req, ev);
	}
	subreq = tevent_wakeup_send(state, ev,
				    tevent_timeval_current_ofs(0, 20000));
	if (tevent_req_nomem(subreq, req)) {
		return tevent_req_post(req, ev);
	}
	tevent_req_set_callback(subreq, ctdb_client_wait_poll, req);
	return req;
}

static void ctdb_client_wait_poll(struct tevent_req *subreq)
{
	struct tevent_req *req = tevent_req_callback_data(
		subreq, struct tevent_req);
	struct ctdb_client_wait_state *state = tevent_req_data(
		req, struct ctdb_client_wait_state);

	tevent_wakeup_recv(subreq);
	TALLOC_FREE(subreq);
	if (state->client->connected) {
		tevent_req_done(req);
		return;
	}
	subreq = tevent_wakeup_send(state, state->ev,
				    tevent_timeval_current_ofs(0, 20000));
	if (tevent_req_nomem(subreq, req)) {
		return;
	}
	tevent_req_set_callback(subreq, ctdb_client_wait_poll, req);
}

int ctdb_client_wait_connected_recv(struct tevent_req *req)
{
	int err;

	if (tevent_req_is_errno(req, &err)) {
		return err;
	}
	return 0;
}
