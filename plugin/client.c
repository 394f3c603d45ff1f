/*
 * libcltrack, synchronous calls over the control socket.
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "client_private.h"
#include "cltrack/client.h"

struct cltrack_client {
	int fd;
	int timeout_ms;
	uint32_t next_reqid;
};

static int client_destructor(struct cltrack_client *c)
{
	if (c->fd != -1) {
		close(c->fd);
	}
	return 0;
}

int client_socket_connect(const char *path, int *fdp)
{
	struct sockaddr_un sun = {
		.sun_family = AF_UNIX,
	};
	int fd;
	int ret;

	if (path == NULL) {
		path = CLTRACK_DEFAULT_SOCKET;
	}
	if (strlen(path) >= sizeof(sun.sun_path)) {
		return ENAMETOOLONG;
	}
	strncpy(sun.sun_path, path, sizeof(sun.sun_path) - 1);

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		return errno;
	}
	/* A unix socket connects at once or not at all */
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		ret = errno;
		close(fd);
		return ret;
	}
	*fdp = fd;
	return 0;
}

int cltrack_connect(TALLOC_CTX *mem_ctx, const char *path, int timeout_ms,
		    struct cltrack_client **result)
{
	struct cltrack_client *c = NULL;
	int ret;

	c = talloc_zero(mem_ctx, struct cltrack_client);
	if (c == NULL) {
		return ENOMEM;
	}
	c->timeout_ms = timeout_ms > 0 ? timeout_ms : 30000;
	c->next_reqid = 1;
	c->fd = -1;
	talloc_set_destructor(c, client_destructor);
	ret = client_socket_connect(path, &c->fd);
	if (ret != 0) {
		talloc_free(c);
		return ret;
	}
	*result = c;
	return 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int io_all(struct cltrack_client *c, uint8_t *buf, size_t len,
		  bool writing, int64_t deadline)
{
	size_t done = 0;

	while (done < len) {
		struct pollfd pfd = {
			.fd = c->fd,
			.events = writing ? POLLOUT : POLLIN,
		};
		int64_t left = deadline - now_ms();
		ssize_t n;
		int ret;

		if (left <= 0) {
			return ETIMEDOUT;
		}
		ret = poll(&pfd, 1, (int)left);
		if (ret == -1 && errno == EINTR) {
			continue;
		}
		if (ret <= 0) {
			return ret == 0 ? ETIMEDOUT : errno;
		}
		if (writing) {
			n = send(c->fd, buf + done, len - done, MSG_NOSIGNAL);
		} else {
			n = recv(c->fd, buf + done, len - done, 0);
		}
		if (n == -1 && errno == EINTR) {
			continue;
		}
		if (n == 0) {
			/* cltrackd closed the connection: refused or gone */
			return ECONNRESET;
		}
		if (n < 0) {
			return errno;
		}
		done += (size_t)n;
	}
	return 0;
}

/* Called for each reply packet of a request */
typedef int (*reply_fn)(const struct cltrack_hdr *hdr, const uint8_t *body,
			size_t bodylen, void *private_data);

static int client_send(struct cltrack_client *c, TALLOC_CTX *mem_ctx,
		       uint16_t opcode, uint32_t reqid, uint32_t flags,
		       const uint8_t *body, size_t bodylen, int64_t deadline)
{
	struct cltrack_hdr hdr = {
		.length = (uint32_t)(CLTRACK_PROTO_HDR_SIZE + bodylen),
		.opcode = opcode,
		.reqid = reqid,
		.flags = flags,
	};
	uint8_t *pkt = NULL;
	int ret;

	if (bodylen > CLTRACK_PROTO_MAX_PACKET - CLTRACK_PROTO_HDR_SIZE) {
		return EMSGSIZE;
	}
	pkt = talloc_array(mem_ctx, uint8_t, hdr.length);
	if (pkt == NULL) {
		return ENOMEM;
	}
	cltrack_hdr_push(&hdr, pkt);
	if (bodylen > 0) {
		memcpy(pkt + CLTRACK_PROTO_HDR_SIZE, body, bodylen);
	}
	ret = io_all(c, pkt, hdr.length, true, deadline);
	talloc_free(pkt);
	return ret;
}

/* Read the replies to reqid until one without CLTRACK_PROTO_F_MORE */
static int client_replies(struct cltrack_client *c, TALLOC_CTX *mem_ctx,
			  uint16_t opcode, uint32_t reqid, int64_t deadline,
			  reply_fn fn, void *private_data)
{
	for (;;) {
		uint8_t hbuf[CLTRACK_PROTO_HDR_SIZE];
		struct cltrack_hdr rep;
		uint8_t *rbody = NULL;
		size_t rlen;
		int ret;

		ret = io_all(c, hbuf, sizeof(hbuf), false, deadline);
		if (ret != 0) {
			return ret;
		}
		ret = cltrack_hdr_pull(hbuf, sizeof(hbuf), &rep);
		if (ret != 0) {
			return ret;
		}
		rlen = rep.length - CLTRACK_PROTO_HDR_SIZE;
		rbody = talloc_array(mem_ctx, uint8_t, rlen ? rlen : 1);
		if (rbody == NULL) {
			return ENOMEM;
		}
		ret = io_all(c, rbody, rlen, false, deadline);
		if (ret != 0) {
			return ret;
		}
		if (rep.reqid != reqid || rep.opcode != opcode) {
			return EPROTO;
		}
		if (rep.status != 0) {
			return rep.status < 0 ? -rep.status : EPROTO;
		}
		if (fn != NULL) {
			ret = fn(&rep, rbody, rlen, private_data);
			if (ret != 0) {
				return ret;
			}
		}
		talloc_free(rbody);
		if (!(rep.flags & CLTRACK_PROTO_F_MORE)) {
			return 0;
		}
	}
}

static int client_call(struct cltrack_client *c, uint16_t opcode,
		       const uint8_t *body, size_t bodylen, reply_fn fn,
		       void *private_data)
{
	TALLOC_CTX *tmp_ctx = talloc_new(c);
	int64_t deadline = now_ms() + c->timeout_ms;
	uint32_t reqid = c->next_reqid++;
	int ret;

	if (tmp_ctx == NULL) {
		return ENOMEM;
	}
	ret = client_send(c, tmp_ctx, opcode, reqid, 0, body, bodylen,
			  deadline);
	if (ret == 0) {
		ret = client_replies(c, tmp_ctx, opcode, reqid, deadline, fn,
				     private_data);
	}
	talloc_free(tmp_ctx);
	return ret;
}

int cltrack_ping(struct cltrack_client *c)
{
	return client_call(c, CLTRACK_OP_PING, NULL, 0, NULL, NULL);
}

struct kv_state {
	TALLOC_CTX *mem_ctx;
	struct cltrack_kv *kv;
	uint32_t n;
};

static int kv_reply(const struct cltrack_hdr *hdr, const uint8_t *body,
		    size_t bodylen, void *private_data)
{
	struct kv_state *state = private_data;

	return cltrack_kv_pull(state->mem_ctx, body, bodylen, &state->kv,
			       &state->n);
}

static int kv_call(struct cltrack_client *c, uint16_t opcode,
		   TALLOC_CTX *mem_ctx, struct cltrack_kv **kv, uint32_t *n)
{
	struct kv_state state = {
		.mem_ctx = mem_ctx,
	};
	int ret;

	ret = client_call(c, opcode, NULL, 0, kv_reply, &state);
	if (ret != 0) {
		return ret;
	}
	if (state.kv == NULL) {
		return EPROTO;
	}
	*kv = state.kv;
	*n = state.n;
	return 0;
}

int cltrack_status(struct cltrack_client *c, TALLOC_CTX *mem_ctx,
		   struct cltrack_kv **kv, uint32_t *n)
{
	return kv_call(c, CLTRACK_OP_STATUS, mem_ctx, kv, n);
}

int cltrack_stats(struct cltrack_client *c, TALLOC_CTX *mem_ctx,
		  struct cltrack_kv **kv, uint32_t *n)
{
	return kv_call(c, CLTRACK_OP_STATS, mem_ctx, kv, n);
}

struct list_state {
	TALLOC_CTX *mem_ctx;
	struct cltrack_entry *entries;
	size_t n;
};

static int list_reply(const struct cltrack_hdr *hdr, const uint8_t *body,
		      size_t bodylen, void *private_data)
{
	struct list_state *state = private_data;

	return cltrack_entries_pull(state->mem_ctx, body, bodylen,
				    &state->entries, &state->n);
}

int cltrack_list(struct cltrack_client *c, TALLOC_CTX *mem_ctx,
		 const struct cltrack_list_filter *filter,
		 struct cltrack_entry **entries, size_t *n)
{
	struct cltrack_list_filter all = {
		.pnn = CLTRACK_PNN_ANY,
	};
	struct list_state state = {
		.mem_ctx = mem_ctx,
	};
	uint8_t body[16];
	size_t used = 0;
	int ret;

	ret = cltrack_filter_push(filter != NULL ? filter : &all, body,
				  sizeof(body), &used);
	if (ret != 0) {
		return ret;
	}
	ret = client_call(c, CLTRACK_OP_LIST, body, used, list_reply, &state);
	if (ret != 0) {
		talloc_free(state.entries);
		return ret;
	}
	if (state.entries == NULL) {
		state.entries = talloc_zero_array(mem_ctx,
						  struct cltrack_entry, 1);
		if (state.entries == NULL) {
			return ENOMEM;
		}
	}
	*entries = state.entries;
	*n = state.n;
	return 0;
}

static int op_call(struct cltrack_client *c, uint16_t opcode,
		   const struct cltrack_client_op *op)
{
	uint8_t body[2 + CLTRACK_ID_MAX + 1 + CLTRACK_PRINCHASH_SIZE + 4];
	size_t used = 0;
	int ret;

	ret = cltrack_client_op_push(op, body, sizeof(body), &used);
	if (ret != 0) {
		return ret;
	}
	return client_call(c, opcode, body, used, NULL, NULL);
}

int cltrack_create(struct cltrack_client *c,
		   const struct cltrack_client_op *op)
{
	return op_call(c, CLTRACK_OP_CREATE, op);
}

int cltrack_remove(struct cltrack_client *c,
		   const struct cltrack_client_op *op)
{
	return op_call(c, CLTRACK_OP_REMOVE, op);
}

int cltrack_check(struct cltrack_client *c,
		  const struct cltrack_client_op *op)
{
	return op_call(c, CLTRACK_OP_CHECK, op);
}

int cltrack_grace_start(struct cltrack_client *c)
{
	return client_call(c, CLTRACK_OP_GRACE_START, NULL, 0, NULL, NULL);
}

int cltrack_grace_done(struct cltrack_client *c)
{
	return client_call(c, CLTRACK_OP_GRACE_DONE, NULL, 0, NULL, NULL);
}

int cltrack_event(struct cltrack_client *c, uint8_t event, const char *ip)
{
	uint8_t body[2 + CLTRACK_EVENT_IP_MAX];
	size_t used = 0;
	int ret;

	ret = cltrack_event_push(event, ip, body, sizeof(body), &used);
	if (ret != 0) {
		return ret;
	}
	return client_call(c, CLTRACK_OP_EVENT, body, used, NULL, NULL);
}

int cltrack_grace_lift(struct cltrack_client *c, bool force)
{
	uint8_t body[4] = { force ? CLTRACK_LIFT_FORCE : 0, 0, 0, 0 };

	return client_call(c, CLTRACK_OP_GRACE_LIFT, body, sizeof(body),
			   NULL, NULL);
}

static int umh_op_call(struct cltrack_client *c, uint16_t opcode,
		       const struct cltrack_client_op *op, int64_t time)
{
	uint8_t body[2 + CLTRACK_ID_MAX + 1 + CLTRACK_PRINCHASH_SIZE + 4 + 8];
	size_t used = 0;
	int ret;

	ret = cltrack_umh_op_push(op, time, body, sizeof(body), &used);
	if (ret != 0) {
		return ret;
	}
	return client_call(c, opcode, body, used, NULL, NULL);
}

int cltrack_umh_create(struct cltrack_client *c,
		       const struct cltrack_client_op *op, int64_t time)
{
	return umh_op_call(c, CLTRACK_OP_UMH_CREATE, op, time);
}

int cltrack_umh_remove(struct cltrack_client *c,
		       const struct cltrack_client_op *op)
{
	return umh_op_call(c, CLTRACK_OP_UMH_REMOVE, op, 0);
}

int cltrack_umh_check(struct cltrack_client *c,
		      const struct cltrack_client_op *op, int64_t time)
{
	return umh_op_call(c, CLTRACK_OP_UMH_CHECK, op, time);
}

/* Find a u64 by name in a kv list reply */
static int kv_find_u64(const struct cltrack_kv *kv, uint32_t n,
		       const char *name, uint64_t *value)
{
	uint32_t i;

	for (i = 0; i < n; i++) {
		if (kv[i].type == CLTRACK_KV_U64 &&
		    strcmp(kv[i].name, name) == 0) {
			*value = kv[i].u64;
			return 0;
		}
	}
	return EPROTO;
}

static int umh_time_call(struct cltrack_client *c, uint16_t opcode,
			 int64_t time, const char *name, uint64_t *value)
{
	TALLOC_CTX *tmp_ctx = talloc_new(c);
	struct kv_state state = {
		.mem_ctx = tmp_ctx,
	};
	uint8_t body[8];
	size_t used = 0;
	uint64_t v = 0;
	int ret;

	if (tmp_ctx == NULL) {
		return ENOMEM;
	}
	ret = cltrack_umh_time_push(time, body, sizeof(body), &used);
	if (ret == 0) {
		ret = client_call(c, opcode, body, used, kv_reply, &state);
	}
	if (ret == 0) {
		ret = kv_find_u64(state.kv, state.n, name, &v);
	}
	talloc_free(tmp_ctx);
	if (ret == 0 && value != NULL) {
		*value = v;
	}
	return ret;
}

int cltrack_umh_grace_done(struct cltrack_client *c, int64_t before,
			   uint64_t *purged)
{
	return umh_time_call(c, CLTRACK_OP_UMH_GRACE_DONE, before, "purged",
			     purged);
}

int cltrack_umh_reclaiming(struct cltrack_client *c, int64_t grace_start,
			   uint64_t *count)
{
	return umh_time_call(c, CLTRACK_OP_UMH_RECLAIMING, grace_start,
			     "count", count);
}

int cltrack_import(struct cltrack_client *c,
		   const struct cltrack_client_op *ops, size_t n,
		   uint64_t *stored, uint64_t *present)
{
	TALLOC_CTX *tmp_ctx = NULL;
	struct kv_state state = {};
	/* An import may be large: allow time for one transaction per 10k */
	int64_t deadline = now_ms() + c->timeout_ms + (int64_t)(n / 10);
	uint32_t reqid;
	size_t done = 0;
	uint64_t s = 0, p = 0;
	int ret;

	if (n == 0) {
		if (stored != NULL) {
			*stored = 0;
		}
		if (present != NULL) {
			*present = 0;
		}
		return 0;
	}
	if (n > CLTRACK_IMPORT_MAX) {
		return EMSGSIZE;
	}
	tmp_ctx = talloc_new(c);
	if (tmp_ctx == NULL) {
		return ENOMEM;
	}
	state.mem_ctx = tmp_ctx;
	reqid = c->next_reqid++;
	while (done < n) {
		size_t k = n - done;
		uint8_t *body = NULL;
		size_t used = 0;

		if (k > CLTRACK_IMPORT_CHUNK_MAX) {
			k = CLTRACK_IMPORT_CHUNK_MAX;
		}
		ret = cltrack_import_chunk_push(ops + done, k, NULL, 0, &used);
		if (ret != 0) {
			goto done;
		}
		body = talloc_array(tmp_ctx, uint8_t, used);
		if (body == NULL) {
			ret = ENOMEM;
			goto done;
		}
		ret = cltrack_import_chunk_push(ops + done, k, body, used,
						&used);
		if (ret != 0) {
			goto done;
		}
		done += k;
		ret = client_send(c, tmp_ctx, CLTRACK_OP_IMPORT, reqid,
				  done < n ? CLTRACK_PROTO_F_MORE : 0, body,
				  used, deadline);
		talloc_free(body);
		if (ret != 0) {
			goto done;
		}
	}
	ret = client_replies(c, tmp_ctx, CLTRACK_OP_IMPORT, reqid, deadline,
			     kv_reply, &state);
	if (ret == 0) {
		ret = kv_find_u64(state.kv, state.n, "stored", &s);
	}
	if (ret == 0) {
		ret = kv_find_u64(state.kv, state.n, "present", &p);
	}
	if (ret == 0) {
		if (stored != NULL) {
			*stored = s;
		}
		if (present != NULL) {
			*present = p;
		}
	}
done:
	talloc_free(tmp_ctx);
	return ret;
}

const char *cltrack_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
	case ENOENT:
	case ECONNREFUSED:
		return "cltrackd is not running (no control socket); start "
		       "it, or give its socket with --socket";
	case ECONNRESET:
		return "cltrackd closed the connection (are you root?)";
	case ETIMEDOUT:
		return "cltrackd did not answer in time";
	case EACCES:
		return "not allowed (no reclaimable record)";
	case EREMOTEIO:
		return "cltrackd's store failed; see its log";
	case EPROTO:
		return "protocol error: cltrack and cltrackd versions differ?";
	default:
		return strerror(err);
	}
}
