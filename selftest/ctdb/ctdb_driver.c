/*
 * ctdb_driver: drives helper/ctdb and store_ctdb against a real ctdbd,
 * for selftest/ctdb/test_*.sh and the measurements in
 * docs/PERFORMANCE.md.
 *
 *   ctdb_driver -s SOCKET [-d DB] COMMAND ARGS...
 *
 *   pnn                      print our PNN
 *   put K V [K V ...]        one store transaction; prints the seqnum
 *   del K                    one store transaction deleting K
 *   get K                    local read; exit 2 when absent
 *   seqnum                   the local __db_sequence_number__
 *   hold SECS                take the g_lock (WRITE), hold it, release it
 *   lockwait                 take and release the g_lock; print the ms
 *   commits N PREFIX [TRIES] N transactions, each retried up to TRIES
 *                            times; prints "ack KEY" per commit
 *   bench OPS NTXN           NTXN store transactions of OPS creates
 *   conform                  protocol conformance checks (PASS/FAIL)
 *   reconnect SECS           serve transactions across a ctdbd restart
 *   listen SRVID SECS        print messages for SRVID
 *   send DEST SRVID TEXT     send a message
 *   leader                   wait for a leader broadcast, print it
 *   publicips                GET_PUBLIC_IPS of the node: "ADDRESS PNN" per
 *                            line, PNN -1 when unassigned (as ctdb -X ip)
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/types.h>
#include <tdb.h>
#include <time.h>
#include <unistd.h>

#include "bytes.h"
#include "ctdb/ctdb_client.h"
#include "ctdb/ctdb_client_private.h"
#include "logging.h"
#include "store.h"
#include "store_ctdb.h"
#include "tevent_errno.h"

struct driver {
	TALLOC_CTX *mem_ctx;
	struct tevent_context *ev;
	const char *socket_path;
	const char *dbname;
	struct ctdb_client *client;
	struct ctdb_db *db;
	unsigned disconnects;
	unsigned messages;
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

static int wait_req(struct driver *d, struct tevent_req *req)
{
	if (req == NULL) {
		return ENOMEM;
	}
	if (!tevent_req_poll(req, d->ev)) {
		return errno != 0 ? errno : EIO;
	}
	return 0;
}

static void sleep_loop(struct driver *d, unsigned ms)
{
	struct tevent_req *req = tevent_wakeup_send(
		d->mem_ctx, d->ev, tevent_timeval_current_ofs(ms / 1000,
							     (ms % 1000) *
							     1000));
	wait_req(d, req);
	talloc_free(req);
}

static void on_disconnected(struct ctdb_client *client, void *private_data)
{
	struct driver *d = private_data;

	d->disconnects += 1;
	printf("event disconnected\n");
	fflush(stdout);
}

static void on_connected(struct ctdb_client *client, uint32_t pnn,
			 void *private_data)
{
	printf("event connected pnn=%u\n", pnn);
	fflush(stdout);
}

static void on_message(struct ctdb_client *client, uint64_t srvid,
		       uint32_t sender, const uint8_t *data, size_t len,
		       void *private_data)
{
	struct driver *d = private_data;

	d->messages += 1;
	printf("message srvid=0x%016" PRIx64 " sender=%d len=%zu data=%.*s\n",
	       srvid, (int)sender, len, (int)len, (const char *)data);
	fflush(stdout);
}

static int connect_client(struct driver *d)
{
	struct ctdb_client_callbacks cb = {
		.connected = on_connected,
		.disconnected = on_disconnected,
		.message = on_message,
		.private_data = d,
	};
	struct tevent_req *req = NULL;
	int ret;

	ret = ctdb_client_init(d->mem_ctx, d->ev, d->socket_path, &cb,
			       &d->client);
	if (ret != 0) {
		return ret;
	}
	req = ctdb_db_attach_send(d->mem_ctx, d->ev, d->client, d->dbname,
				  true, 60000);
	ret = wait_req(d, req);
	if (ret == 0) {
		ret = ctdb_db_attach_recv(req, &d->db);
	}
	talloc_free(req);
	if (ret != 0) {
		fprintf(stderr, "attach %s failed: %s\n", d->dbname,
			strerror(ret));
	}
	return ret;
}

/*
 * Transactions through the ctdb API
 */

struct kv_args {
	int argc;
	const char **argv;	/* K V pairs; V NULL means delete */
	bool del;
};

static int kv_txn_fn(struct ctdb_transaction *txn, void *private_data)
{
	struct kv_args *a = private_data;
	int i, ret;

	for (i = 0; i + 1 < a->argc || (a->del && i < a->argc); i += 2) {
		const char *k = a->argv[i];

		if (a->del) {
			ret = ctdb_txn_delete(txn, (const uint8_t *)k,
					      strlen(k));
			i -= 1;
		} else {
			const char *v = a->argv[i + 1];
			ret = ctdb_txn_store(txn, (const uint8_t *)k,
					     strlen(k), (const uint8_t *)v,
					     strlen(v));
		}
		if (ret != 0) {
			return ret;
		}
	}
	return 0;
}

static int run_txn(struct driver *d, ctdb_txn_fn fn, void *priv,
		   uint32_t timeout_ms)
{
	struct tevent_req *req = NULL;
	int ret;

	req = ctdb_transaction_send(d->mem_ctx, d->ev, d->db, fn, priv,
				    timeout_ms);
	ret = wait_req(d, req);
	if (ret == 0) {
		ret = ctdb_transaction_recv(req);
	}
	talloc_free(req);
	return ret;
}

static int cmd_put(struct driver *d, int argc, const char **argv, bool del)
{
	struct kv_args a = {
		.argc = argc,
		.argv = argv,
		.del = del,
	};
	uint64_t seqnum = 0;
	int ret;

	ret = run_txn(d, kv_txn_fn, &a, 30000);
	if (ret != 0) {
		printf("error %s\n", strerror(ret));
		return 1;
	}
	ctdb_db_seqnum(d->db, &seqnum);
	printf("committed seqnum=%" PRIu64 "\n", seqnum);
	return 0;
}

static int cmd_get(struct driver *d, const char *key)
{
	uint8_t *val = NULL;
	size_t len = 0;
	int ret;

	ret = ctdb_db_fetch(d->db, d->mem_ctx, (const uint8_t *)key,
			    strlen(key), &val, &len);
	if (ret == ENOENT) {
		printf("ENOENT\n");
		return 2;
	}
	if (ret != 0) {
		printf("error %s\n", strerror(ret));
		return 1;
	}
	printf("%.*s\n", (int)len, (const char *)val);
	return 0;
}

static int lock_db(struct driver *d, uint32_t timeout_ms)
{
	struct tevent_req *req = NULL;
	int ret;

	req = ctdb_g_lock_lock_send(d->mem_ctx, d->ev, d->db,
				    CTDB_G_LOCK_WRITE, timeout_ms);
	ret = wait_req(d, req);
	if (ret == 0) {
		ret = ctdb_g_lock_lock_recv(req);
	}
	talloc_free(req);
	return ret;
}

static int unlock_db(struct driver *d)
{
	struct tevent_req *req = NULL;
	int ret;

	req = ctdb_g_lock_unlock_send(d->mem_ctx, d->ev, d->db, 10000);
	ret = wait_req(d, req);
	if (ret == 0) {
		ret = ctdb_g_lock_unlock_recv(req);
	}
	talloc_free(req);
	return ret;
}

static int cmd_hold(struct driver *d, unsigned secs)
{
	int ret;

	ret = lock_db(d, 60000);
	if (ret != 0) {
		printf("error %s\n", strerror(ret));
		return 1;
	}
	printf("locked pid=%d\n", (int)getpid());
	fflush(stdout);
	sleep_loop(d, secs * 1000);
	ret = unlock_db(d);
	printf("unlocked ret=%d\n", ret);
	return ret == 0 ? 0 : 1;
}

static int cmd_lockwait(struct driver *d)
{
	double t0 = now_ms();
	int ret;

	ret = lock_db(d, 60000);
	if (ret != 0) {
		printf("error %s\n", strerror(ret));
		return 1;
	}
	printf("acquired after %.0f ms dead_holders=%" PRIu64 " waits=%" PRIu64
	       "\n", now_ms() - t0, ctdb_db_txn_stats(d->db)->dead_holders,
	       ctdb_db_txn_stats(d->db)->lock_waits);
	ret = unlock_db(d);
	return ret == 0 ? 0 : 1;
}

struct commit_args {
	const char *prefix;
	unsigned i;
	pid_t pid;
};

static int commit_txn_fn(struct ctdb_transaction *txn, void *private_data)
{
	struct commit_args *a = private_data;
	char key[128], val[64], last[128];
	int ret;

	snprintf(key, sizeof(key), "%s-%u", a->prefix, a->i);
	snprintf(val, sizeof(val), "v%u", a->i);
	snprintf(last, sizeof(last), "%s-last", a->prefix);
	ret = ctdb_txn_store(txn, (uint8_t *)key, strlen(key),
			     (uint8_t *)val, strlen(val));
	if (ret != 0) {
		return ret;
	}
	return ctdb_txn_store(txn, (uint8_t *)last, strlen(last),
			      (uint8_t *)val, strlen(val));
}

static int cmd_commits(struct driver *d, unsigned n, const char *prefix,
		       unsigned tries)
{
	struct commit_args a = {
		.prefix = prefix,
	};
	unsigned acked = 0, failed = 0, retried = 0;
	double t0 = now_ms();
	int ret = 0;

	for (a.i = 0; a.i < n; a.i++) {
		unsigned t;

		for (t = 0; t < tries; t++) {
			ret = run_txn(d, commit_txn_fn, &a, 30000);
			if (ret == 0) {
				break;
			}
			retried += 1;
			printf("retry %s-%u ret=%s\n", prefix, a.i,
			       strerror(ret));
			fflush(stdout);
			sleep_loop(d, 200);
		}
		if (ret == 0) {
			acked += 1;
			printf("ack %s-%u\n", prefix, a.i);
		} else {
			failed += 1;
			printf("fail %s-%u ret=%s\n", prefix, a.i,
			       strerror(ret));
		}
		fflush(stdout);
	}
	printf("acked=%u failed=%u retried=%u commits=%" PRIu64
	       " resends=%" PRIu64 " commit_errors=%" PRIu64 " ms=%.0f\n",
	       acked, failed, retried, ctdb_db_txn_stats(d->db)->commits,
	       ctdb_db_txn_stats(d->db)->resends,
	       ctdb_db_txn_stats(d->db)->commit_errors, now_ms() - t0);
	return failed == 0 ? 0 : 1;
}

/*
 * Benchmark through the store interface (what cltrackd uses)
 */

struct bench_args {
	unsigned ops;
	unsigned txn;
	unsigned run;
};

static int bench_txn_fn(struct store_txn *txn, void *private_data)
{
	struct bench_args *a = private_data;
	uint8_t val[96];
	char key[96];
	unsigned j;
	int ret;

	memset(val, 0x5a, sizeof(val));
	for (j = 0; j < a->ops; j++) {
		snprintf(key, sizeof(key), "client/bench-%u-%u-%u", a->run,
			 a->txn, j);
		ret = store_txn_store(txn, (uint8_t *)key, strlen(key), val,
				      sizeof(val));
		if (ret != 0) {
			return ret;
		}
	}
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int cmd_bench(struct driver *d, unsigned ops, unsigned ntxn)
{
	struct store_context *store = NULL;
	struct bench_args a = {
		.ops = ops,
		.run = (unsigned)getpid(),
	};
	double *lat = NULL, t0, sum = 0;
	unsigned i;
	int ret;

	ret = store_ctdb_init(d->mem_ctx, d->ev, d->socket_path, d->dbname,
			      NULL, &store, NULL);
	if (ret != 0) {
		return 1;
	}
	lat = talloc_array(d->mem_ctx, double, ntxn);
	/* Warm up: connect, attach, first migration of the lock record */
	a.txn = ntxn;
	{
		struct tevent_req *req = store_txn_send(
			d->mem_ctx, d->ev, store, bench_txn_fn, &a);
		ret = wait_req(d, req);
		if (ret == 0) {
			ret = store_txn_recv(req);
		}
		talloc_free(req);
		if (ret != 0) {
			printf("error warm-up %s\n", strerror(ret));
			return 1;
		}
	}
	t0 = now_ms();
	for (i = 0; i < ntxn; i++) {
		struct tevent_req *req = NULL;
		double s = now_ms();

		a.txn = i;
		req = store_txn_send(d->mem_ctx, d->ev, store, bench_txn_fn,
				     &a);
		ret = wait_req(d, req);
		if (ret == 0) {
			ret = store_txn_recv(req);
		}
		talloc_free(req);
		if (ret != 0) {
			printf("error txn %u: %s\n", i, strerror(ret));
			return 1;
		}
		lat[i] = now_ms() - s;
		sum += lat[i];
	}
	t0 = now_ms() - t0;
	qsort(lat, ntxn, sizeof(double), cmp_double);
	printf("ops_per_txn=%u txns=%u elapsed_s=%.2f creates_per_s=%.0f "
	       "txn_ms_avg=%.1f p50=%.1f p99=%.1f max=%.1f\n", ops, ntxn,
	       t0 / 1000, ops * ntxn / (t0 / 1000), sum / ntxn,
	       lat[ntxn / 2], lat[(ntxn * 99) / 100 < ntxn ?
				   (ntxn * 99) / 100 : ntxn - 1],
	       lat[ntxn - 1]);
	return 0;
}

/*
 * Conformance checks (spec §13) that need only our own connection
 */

static unsigned n_pass, n_fail;

#define CHECK(cond, name, ...) do {					\
	if (cond) {							\
		n_pass += 1;						\
		printf("PASS %s\n", name);				\
	} else {							\
		n_fail += 1;						\
		printf("FAIL %s: ", name);				\
		printf(__VA_ARGS__);					\
		printf("\n");						\
	}								\
	fflush(stdout);							\
} while (0)

static int control(struct driver *d, uint32_t dest, uint32_t opcode,
		   const uint8_t *data, size_t len, int32_t *status,
		   uint8_t **out, size_t *outlen, uint32_t timeout_ms)
{
	struct tevent_req *req = NULL;
	int ret;

	req = ctdb_client_control_send(d->mem_ctx, d->ev, d->client, dest,
				       opcode, 0, 0, data, len, timeout_ms);
	ret = wait_req(d, req);
	if (ret == 0) {
		ret = ctdb_client_control_recv(req, d->mem_ctx, status, out,
					       outlen, NULL);
	}
	talloc_free(req);
	return ret;
}

static int cmd_conform(struct driver *d, int expect_pnn)
{
	struct tevent_req *req = NULL;
	struct ctdb_nodemap *map = NULL;
	uint8_t *out = NULL;
	size_t outlen = 0;
	int32_t status = 0;
	uint8_t data[8] = {};
	uint64_t seqnum = 0;
	int ret;

	/* 1. GET_PNN: status is the PNN, no data */
	ret = control(d, CTDB_CURRENT_NODE, CTDB_CONTROL_GET_PNN, NULL, 0,
		      &status, &out, &outlen, 5000);
	CHECK(ret == 0 && status == expect_pnn && outlen == 0,
	      "get_pnn", "ret=%d status=%d len=%zu", ret, status, outlen);
	CHECK(ctdb_client_pnn(d->client) == (uint32_t)expect_pnn,
	      "client_pnn", "pnn=%u", ctdb_client_pnn(d->client));

	/* 1. GET_RUNSTATE: four bytes, RUNNING */
	ret = control(d, CTDB_CURRENT_NODE, CTDB_CONTROL_GET_RUNSTATE, NULL,
		      0, &status, &out, &outlen, 5000);
	CHECK(ret == 0 && status == 0 && outlen == 4 &&
	      h_get32(out) == CTDB_RUNSTATE_RUNNING, "get_runstate",
	      "ret=%d status=%d len=%zu", ret, status, outlen);

	/* 2. GET_NODEMAP: three nodes, all healthy */
	req = ctdb_client_nodemap_send(d->mem_ctx, d->ev, d->client, 5000);
	ret = wait_req(d, req);
	if (ret == 0) {
		ret = ctdb_client_nodemap_recv(req, d->mem_ctx, &map);
	}
	TALLOC_FREE(req);
	CHECK(ret == 0 && map->num == 3 && map->nodes[0].flags == 0 &&
	      map->nodes[1].flags == 0 && map->nodes[2].flags == 0 &&
	      map->nodes[2].pnn == 2 &&
	      map->nodes[0].addr.ss_family == AF_INET, "get_nodemap",
	      "ret=%d num=%u", ret, ret == 0 ? map->num : 0);

	/* 3. A wrong magic gets no reply; the connection still works */
	{
		struct ctdb_hdr h = {
			.magic = 0x12345678,
			.version = CTDB_PROTOCOL,
			.destnode = CTDB_CURRENT_NODE,
		};
		struct ctdb_req_control c = {
			.opcode = CTDB_CONTROL_GET_PNN,
		};
		uint8_t *pkt = NULL, *reply = NULL;
		size_t pktlen, replylen;
		double t0 = now_ms();

		ctdb_req_control_push(d->mem_ctx, &h, &c, &pkt, &pktlen);
		req = ctdb_client_request_send(d->mem_ctx, d->ev, d->client,
					       pkt, pktlen, 1500);
		ret = wait_req(d, req);
		if (ret == 0) {
			ret = ctdb_client_request_recv(req, d->mem_ctx, &reply,
						       &replylen);
		}
		TALLOC_FREE(req);
		CHECK(ret == ETIMEDOUT && now_ms() - t0 >= 1400,
		      "bad_magic_times_out", "ret=%d", ret);
		ret = control(d, CTDB_CURRENT_NODE, CTDB_CONTROL_GET_PNN,
			      NULL, 0, &status, &out, &outlen, 5000);
		CHECK(ret == 0 && status == expect_pnn,
		      "answered_after_bad_magic", "ret=%d", ret);
	}

	/* A REQ_CALL for an unknown db_id is dropped: we time out */
	{
		int32_t cstatus = 0;
		double t0 = now_ms();

		req = ctdb_client_call_send(d->mem_ctx, d->ev, d->client,
					    0xdeadbeef,
					    CTDB_IMMEDIATE_MIGRATION,
					    CTDB_NULL_FUNC,
					    (const uint8_t *)"k", 1, 1500);
		ret = wait_req(d, req);
		if (ret == 0) {
			ret = ctdb_client_call_recv(req, &cstatus);
		}
		TALLOC_FREE(req);
		CHECK(ret == ETIMEDOUT && now_ms() - t0 < 3000,
		      "unknown_db_call_times_out", "ret=%d", ret);
	}

	/* 5. db_id = jenkins hash of the name incl. NUL */
	CHECK(ctdb_db_get_id(d->db) == ctdb_db_id(d->dbname),
	      "db_id_is_jenkins", "0x%08x", ctdb_db_get_id(d->db));
	CHECK(ctdb_db_id("helper_state.tdb") == 0x275047a7,
	      "db_id_measured_value", "0x%08x",
	      ctdb_db_id("helper_state.tdb"));

	/* 6. DB_OPEN_FLAGS */
	h_put32(data, ctdb_db_get_id(d->db));
	ret = control(d, CTDB_CURRENT_NODE, CTDB_CONTROL_DB_OPEN_FLAGS, data,
		      4, &status, &out, &outlen, 5000);
	CHECK(ret == 0 && status == 0 && outlen == 4 &&
	      h_get32(out) == 0x400, "open_flags_persistent",
	      "ret=%d flags=0x%x", ret, outlen == 4 ? h_get32(out) : 0);
	h_put32(data, ctdb_db_id("g_lock.tdb"));
	ret = control(d, CTDB_CURRENT_NODE, CTDB_CONTROL_DB_OPEN_FLAGS, data,
		      4, &status, &out, &outlen, 5000);
	CHECK(ret == 0 && status == 0 && outlen == 4 &&
	      (h_get32(out) & 0x1000), "open_flags_g_lock_mutex",
	      "ret=%d flags=0x%x", ret, outlen == 4 ? h_get32(out) : 0);

	/* 7. GET_DB_SEQNUM: 4 bytes refused, 8 bytes = local value */
	h_put32(data, ctdb_db_get_id(d->db));
	ret = control(d, CTDB_CURRENT_NODE, CTDB_CONTROL_GET_DB_SEQNUM,
		      data, 4, &status, &out, &outlen, 5000);
	CHECK(ret == 0 && status == -1, "seqnum_4_bytes_refused",
	      "ret=%d status=%d", ret, status);
	ret = control(d, CTDB_CURRENT_NODE, CTDB_CONTROL_GET_DB_SEQNUM,
		      data, 8, &status, &out, &outlen, 5000);
	ctdb_db_seqnum(d->db, &seqnum);
	CHECK(ret == 0 && status == 0 && outlen == 8 &&
	      h_get64(out) == seqnum, "seqnum_8_bytes_local",
	      "ret=%d status=%d", ret, status);

	/* 24. GET_RECMASTER is gone */
	ret = control(d, CTDB_CURRENT_NODE, CTDB_CONTROL_GET_RECMASTER, NULL,
		      0, &status, &out, &outlen, 5000);
	CHECK(ret == 0 && status == -1, "get_recmaster_refused",
	      "ret=%d status=%d", ret, status);

	/* 12. Our g_lock entry while held; none after unlock */
	{
		struct ctdb_db *gl_db = NULL;
		struct ctdb_g_lock_entry e;
		char key[CTDB_G_LOCK_KEY_LEN];
		uint8_t *val = NULL;
		size_t vallen = 0;
		uint32_t db_id = ctdb_db_get_id(d->db);
		uint64_t pid = (uint64_t)getpid();

		ret = lock_db(d, 10000);
		CHECK(ret == 0, "g_lock_lock", "ret=%d", ret);
		ctdb_g_lock_key(db_id, key);
		ctdb_client_g_lock_db(d->client, &gl_db);
		ret = ctdb_db_fetch(gl_db, d->mem_ctx, (uint8_t *)key,
				    CTDB_G_LOCK_KEY_LEN, &val, &vallen);
		CHECK(ret == 0 && vallen == 32, "g_lock_one_entry",
		      "ret=%d len=%zu", ret, vallen);
		if (ret == 0 && vallen == 32) {
			ctdb_g_lock_entry_pull(val, vallen, &e);
			CHECK(e.type == 1 && e.pid == pid &&
			      e.task_id == db_id &&
			      e.vnn == (uint32_t)expect_pnn &&
			      e.unique_id == (((uint64_t)db_id << 32) | pid),
			      "g_lock_entry_fields", "type=%u pid=%" PRIu64
			      " task=0x%x vnn=%u", e.type, e.pid, e.task_id,
			      e.vnn);
		}
		/* 16. A second lock by the same process: EDEADLK */
		ret = lock_db(d, 2000);
		CHECK(ret == EDEADLK, "g_lock_edeadlk", "ret=%d", ret);
		ret = unlock_db(d);
		CHECK(ret == 0, "g_lock_unlock", "ret=%d", ret);
		ret = ctdb_db_fetch(gl_db, d->mem_ctx, (uint8_t *)key,
				    CTDB_G_LOCK_KEY_LEN, &val, &vallen);
		CHECK(ret == ENOENT, "g_lock_header_only_after_unlock",
		      "ret=%d len=%zu", ret, vallen);
	}

	/* 11. A transaction that changes nothing commits nothing */
	{
		const char *kv[] = { "conform-same", "x" };
		struct kv_args a = { .argc = 2, .argv = kv };
		uint64_t before = 0, after = 0;
		uint64_t unchanged = ctdb_db_txn_stats(d->db)->unchanged;

		ret = run_txn(d, kv_txn_fn, &a, 10000);
		ctdb_db_seqnum(d->db, &before);
		ret |= run_txn(d, kv_txn_fn, &a, 10000);
		ctdb_db_seqnum(d->db, &after);
		CHECK(ret == 0 && before == after &&
		      ctdb_db_txn_stats(d->db)->unchanged == unchanged + 1,
		      "unchanged_no_commit", "ret=%d %" PRIu64 "->%" PRIu64,
		      ret, before, after);
	}

	/* 10. Deletion: tombstone, read as absent */
	{
		const char *kv[] = { "conform-del", "y" };
		struct kv_args a = { .argc = 2, .argv = kv };
		struct kv_args del = { .argc = 1, .argv = kv, .del = true };
		uint8_t *val = NULL;
		size_t vallen = 0;
		uint64_t before = 0, after = 0;

		ret = run_txn(d, kv_txn_fn, &a, 10000);
		ctdb_db_seqnum(d->db, &before);
		ret |= run_txn(d, kv_txn_fn, &del, 10000);
		ctdb_db_seqnum(d->db, &after);
		CHECK(ret == 0 && after == before + 1 &&
		      ctdb_db_fetch(d->db, d->mem_ctx, (uint8_t *)"conform-del",
				    11, &val, &vallen) == ENOENT,
		      "delete_reads_absent", "ret=%d", ret);
		/* Deleting an absent key changes nothing */
		ret = run_txn(d, kv_txn_fn, &del, 10000);
		ctdb_db_seqnum(d->db, &before);
		CHECK(ret == 0 && before == after, "delete_absent_no_commit",
		      "ret=%d", ret);
	}

	/* The seqnum record is never visible */
	{
		uint8_t *val = NULL;
		size_t vallen = 0;

		ret = ctdb_db_fetch(d->db, d->mem_ctx,
				    (uint8_t *)CTDB_DB_SEQNUM_KEY,
				    CTDB_DB_SEQNUM_KEYLEN, &val, &vallen);
		CHECK(ret == ENOENT, "seqnum_key_hidden", "ret=%d", ret);
	}

	/* 22. A leader broadcast within 2 s */
	{
		double t0 = now_ms();

		while (ctdb_client_leader(d->client) == CTDB_UNKNOWN_PNN &&
		       now_ms() - t0 < 2500) {
			sleep_loop(d, 50);
		}
		CHECK(ctdb_client_leader(d->client) != CTDB_UNKNOWN_PNN,
		      "leader_known", "none after %.0f ms", now_ms() - t0);
		printf("leader=%u\n", ctdb_client_leader(d->client));
	}

	printf("%u passed, %u failed\n", n_pass, n_fail);
	return n_fail == 0 ? 0 : 1;
}

/*
 * Serve transactions across a ctdbd restart
 */
static int cmd_reconnect(struct driver *d, unsigned secs)
{
	double t0 = now_ms();
	unsigned ok_after = 0, failed = 0, i = 0;
	uint64_t connects = ctdb_client_connects(d->client);

	while (now_ms() - t0 < secs * 1000.0) {
		struct commit_args a = {
			.prefix = "reconnect",
			.i = i++,
		};
		int ret = run_txn(d, commit_txn_fn, &a, 3000);

		if (ret != 0) {
			failed += 1;
		} else if (ctdb_client_connects(d->client) > connects) {
			ok_after += 1;
			if (ok_after >= 3) {
				break;
			}
		}
		sleep_loop(d, 100);
	}
	printf("connects=%" PRIu64 " disconnects=%u failed=%u "
	       "ok_after_reconnect=%u\n", ctdb_client_connects(d->client),
	       d->disconnects, failed, ok_after);
	return ok_after >= 3 ? 0 : 1;
}

static int cmd_listen(struct driver *d, uint64_t srvid, unsigned secs)
{
	ctdb_client_register_srvid(d->client, srvid);
	sleep_loop(d, 300);
	printf("listening\n");
	fflush(stdout);
	sleep_loop(d, secs * 1000);
	printf("messages=%u\n", d->messages);
	return 0;
}

static int cmd_send(struct driver *d, uint32_t dest, uint64_t srvid,
		    const char *text)
{
	int ret;

	ret = ctdb_client_message_send(d->client, dest, srvid,
				       (const uint8_t *)text, strlen(text));
	sleep_loop(d, 200);
	printf("sent ret=%d\n", ret);
	return ret == 0 ? 0 : 1;
}

static int cmd_leader(struct driver *d)
{
	double t0 = now_ms();

	while (ctdb_client_leader(d->client) == CTDB_UNKNOWN_PNN &&
	       now_ms() - t0 < 5000) {
		sleep_loop(d, 50);
	}
	printf("%d\n", (int)ctdb_client_leader(d->client));
	return 0;
}

static int cmd_publicips(struct driver *d)
{
	struct tevent_req *req = NULL;
	struct ctdb_public_ip_list *list = NULL;
	char addr[CTDB_ADDR_STRLEN];
	uint32_t i;
	int ret;

	req = ctdb_client_public_ips_send(d->mem_ctx, d->ev, d->client, 5000);
	ret = wait_req(d, req);
	if (ret == 0) {
		ret = ctdb_client_public_ips_recv(req, d->mem_ctx, &list);
	}
	TALLOC_FREE(req);
	if (ret != 0) {
		fprintf(stderr, "GET_PUBLIC_IPS failed: %s\n", strerror(ret));
		return 1;
	}
	for (i = 0; i < list->num; i++) {
		printf("%s %d\n", ctdb_sockaddr_string(&list->ip[i].addr, addr),
		       (int)list->ip[i].pnn);
	}
	talloc_free(list);
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: ctdb_driver -s SOCKET [-d DB] COMMAND ...\n"
		"see the comment at the top of selftest/ctdb/ctdb_driver.c\n");
	exit(64);
}

int main(int argc, const char **argv)
{
	struct driver d = {
		.dbname = "cltrack_test.tdb",
	};
	const char *cmd = NULL;
	int i = 1;
	int ret;

	while (i + 1 < argc && argv[i][0] == '-') {
		if (strcmp(argv[i], "-s") == 0) {
			d.socket_path = argv[i + 1];
		} else if (strcmp(argv[i], "-d") == 0) {
			d.dbname = argv[i + 1];
		} else {
			usage();
		}
		i += 2;
	}
	if (i >= argc) {
		usage();
	}
	cmd = argv[i++];
	log_setup("ctdb_driver", true,
		  getenv("DRIVER_DEBUG") != NULL ? LOG_LEVEL_DEBUG :
						   LOG_LEVEL_WARNING);
	d.mem_ctx = talloc_new(NULL);
	d.ev = tevent_context_init(d.mem_ctx);

	if (strcmp(cmd, "bench") == 0 && i + 2 <= argc) {
		ret = cmd_bench(&d, atoi(argv[i]), atoi(argv[i + 1]));
		goto done;
	}
	ret = connect_client(&d);
	if (ret != 0) {
		ret = 1;
		goto done;
	}
	if (strcmp(cmd, "pnn") == 0) {
		printf("%u\n", ctdb_client_pnn(d.client));
		ret = 0;
	} else if (strcmp(cmd, "put") == 0 && i + 2 <= argc) {
		ret = cmd_put(&d, argc - i, argv + i, false);
	} else if (strcmp(cmd, "del") == 0 && i + 1 <= argc) {
		ret = cmd_put(&d, argc - i, argv + i, true);
	} else if (strcmp(cmd, "get") == 0 && i + 1 <= argc) {
		ret = cmd_get(&d, argv[i]);
	} else if (strcmp(cmd, "seqnum") == 0) {
		uint64_t s = 0;
		ret = ctdb_db_seqnum(d.db, &s);
		printf("%" PRIu64 "\n", s);
	} else if (strcmp(cmd, "hold") == 0 && i + 1 <= argc) {
		ret = cmd_hold(&d, atoi(argv[i]));
	} else if (strcmp(cmd, "lockwait") == 0) {
		ret = cmd_lockwait(&d);
	} else if (strcmp(cmd, "commits") == 0 && i + 2 <= argc) {
		ret = cmd_commits(&d, atoi(argv[i]), argv[i + 1],
				  i + 2 < argc ? atoi(argv[i + 2]) : 1);
	} else if (strcmp(cmd, "conform") == 0 && i + 1 <= argc) {
		ret = cmd_conform(&d, atoi(argv[i]));
	} else if (strcmp(cmd, "reconnect") == 0 && i + 1 <= argc) {
		ret = cmd_reconnect(&d, atoi(argv[i]));
	} else if (strcmp(cmd, "listen") == 0 && i + 2 <= argc) {
		ret = cmd_listen(&d, strtoull(argv[i], NULL, 0),
				 atoi(argv[i + 1]));
	} else if (strcmp(cmd, "send") == 0 && i + 3 <= argc) {
		ret = cmd_send(&d, (uint32_t)strtoul(argv[i], NULL, 0),
			       strtoull(argv[i + 1], NULL, 0), argv[i + 2]);
	} else if (strcmp(cmd, "leader") == 0) {
		ret = cmd_leader(&d);
	} else if (strcmp(cmd, "publicips") == 0) {
		ret = cmd_publicips(&d);
	} else {
		usage();
	}
done:
	fflush(stdout);
	talloc_free(d.mem_ctx);
	return ret;
}
