/*
 * Databases on a ctdbd connection: attach and open, reads of the local
 * copy, the ctdb-client g_lock, and cluster-wide transactions.
 *
 * The procedure is the one of ctdb/client/client_db.c (and so of
 * "ctdb pstore" and "ctdb ptrans"), which makes our lock and theirs
 * exclude each other:
 *
 *   lock:   g_lock WRITE entry in g_lock.tdb, key transaction_db_0x<id>
 *   read:   the local tdb copy, overlaid with our buffered writes
 *   commit: changed records with rsn + 1 and dmaster = own PNN, plus
 *           __db_sequence_number__ = S + 1, in one TRANS3_COMMIT
 *   check:  on a non-zero status, seqnum S + 1 means applied, S means
 *           not applied (resend), anything else is EIO
 *   unlock: remove our entry; schedule an empty record for deletion
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <tdb.h>
#include <unistd.h>

#include "bytes.h"
#include "ctdb_client_private.h"
#include "logging.h"
#include "tevent_errno.h"

#define ATTACH_TIMEOUT_MS	150000
#define UNLOCK_TIMEOUT_MS	10000
/* ControlTimeout is 60 s; a commit answered later than that is lost */
#define COMMIT_TIMEOUT_MS	65000
#define READY_POLL_MS		20
#define LOCK_RETRY_MIN_MS	1
#define LOCK_RETRY_MAX_MS	10
#define RESEND_MIN_MS		100
#define RESEND_MAX_MS		1000

struct ctdb_db {
	struct ctdb_db *next;
	struct ctdb_client *client;
	char *name;
	bool persistent;
	uint32_t db_id;
	char *path;
	int tdb_flags;
	struct tdb_context *tdb;
	bool lock_held;
	struct tevent_queue *txn_queue;
	struct ctdb_txn_stats stats;
};

struct ctdb_db *ctdb_db_next(struct ctdb_db *db)
{
	return db->next;
}

void ctdb_db_set_next(struct ctdb_db *db, struct ctdb_db *next)
{
	db->next = next;
}

bool ctdb_db_ready(struct ctdb_db *db)
{
	return db->tdb != NULL;
}

uint32_t ctdb_db_get_id(struct ctdb_db *db)
{
	return db->db_id;
}

const char *ctdb_db_get_path(struct ctdb_db *db)
{
	return db->path;
}

const struct ctdb_txn_stats *ctdb_db_txn_stats(struct ctdb_db *db)
{
	return &db->stats;
}

void ctdb_db_close(struct ctdb_db *db)
{
	if (db->tdb != NULL) {
		tdb_close(db->tdb);
		db->tdb = NULL;
	}
	/* Our g_lock entries die with the connection */
	db->lock_held = false;
}

static int ctdb_db_destructor(struct ctdb_db *db)
{
	ctdb_db_close(db);
	ctdb_client_db_remove(db->client, db);
	return 0;
}

static uint32_t remaining_ms(struct timeval endtime)
{
	struct timeval now = tevent_timeval_current();
	struct timeval left;

	if (tevent_timeval_compare(&now, &endtime) >= 0) {
		return 0;
	}
	left = tevent_timeval_until(&now, &endtime);
	return (uint32_t)(left.tv_sec * 1000 + left.tv_usec / 1000);
}

static struct timeval ms_from_now(uint32_t ms)
{
	return tevent_timeval_current_ofs(ms / 1000, (ms % 1000) * 1000);
}

int ctdb_db_init(struct ctdb_client *client, const char *name,
		 bool persistent, struct ctdb_db **result)
{
	struct ctdb_db *db = NULL;
	struct ctdb_db *g_lock = NULL;
	int ret;

	for (db = ctdb_client_dbs(client); db != NULL; db = db->next) {
		if (strcmp(db->name, name) == 0) {
			/* One tdb handle per file and process */
			return EEXIST;
		}
	}
	if (persistent) {
		/* Transactions need the lock DB; open it first */
		ret = ctdb_client_g_lock_db(client, &g_lock);
		if (ret != 0) {
			return ret;
		}
	}
	db = talloc_zero(client, struct ctdb_db);
	if (db == NULL) {
		return ENOMEM;
	}
	db->client = client;
	db->persistent = persistent;
	db->db_id = ctdb_db_id(name);
	db->name = talloc_strdup(db, name);
	db->txn_queue = tevent_queue_create(db, "ctdb_txn");
	if (db->name == NULL || db->txn_queue == NULL) {
		talloc_free(db);
		return ENOMEM;
	}
	ctdb_client_db_add(client, db);
	talloc_set_destructor(db, ctdb_db_destructor);
	*result = db;
	return 0;
}

/*
 * Attach and open one DB: DB_ATTACH(_PERSISTENT), GETDBPATH,
 * DB_GET_HEALTH, DB_OPEN_FLAGS, tdb_open (client_db.c's order).
 */

struct ctdb_db_open_state {
	struct tevent_context *ev;
	struct ctdb_db *db;
	uint32_t db_id;
	char *path;
};

static void ctdb_db_open_attach_done(struct tevent_req *subreq);
static void ctdb_db_open_path_done(struct tevent_req *subreq);
static void ctdb_db_open_health_done(struct tevent_req *subreq);
static void ctdb_db_open_flags_done(struct tevent_req *subreq);

struct tevent_req *ctdb_db_open_send(TALLOC_CTX *mem_ctx,
				     struct tevent_context *ev,
				     struct ctdb_db *db)
{
	struct tevent_req *req = NULL;
	struct tevent_req *subreq = NULL;
	struct ctdb_db_open_state *state = NULL;

	req = tevent_req_create(mem_ctx, &state, struct ctdb_db_open_state);
	if (req == NULL) {
		return NULL;
	}
	state->ev = ev;
	state->db = db;
	/* Deferred while recovery runs: the long timeout is on purpose */
	subreq = ctdb_client_control_send(
		state, ev, db->client, CTDB_CURRENT_NODE,
		db->persistent ? CTDB_CONTROL_DB_ATTACH_PERSISTENT :
				 CTDB_CONTROL_DB_ATTACH,
		0, 0, (const uint8_t *)db->name, strlen(db->name) + 1,
		ATTACH_TIMEOUT_MS);
	if (tevent_req_nomem(subreq, req)) {
		return tevent_req_post(req, ev);
	}
	tevent_req_set_callback(subreq, ctdb_db_open_attach_done, req);
	return req;
}

static struct tevent_req *db_id_control(struct ctdb_db_open_state *state,
					uint32_t opcode)
{
	uint8_t data[4];

	h_put32(data, state->db_id);
	return ctdb_client_control_send(state, state->ev, state->db->client,
					CTDB_CURRENT_NODE, opcode, 0, 0, data,
					sizeof(data), CTDB_CLIENT_TIMEOUT_MS);
}

static void ctdb_db_open_attach_done(struct tevent_req *subreq)
{
	struct tevent_req *req = tevent_req_callback_data(
		subreq, struct tevent_req);
	struct ctdb_db_open_state *state = tevent_req_data(
		req, struct ctdb_db_open_state);
	uint8_t *data = NULL;
	size_t datalen = 0;
	char *errmsg = NULL;
	int32_t status;
	int ret;

	ret = ctdb_client_control_recv(subreq, state, &status, &data,
				       &datalen, &errmsg);
	TALLOC_FREE(subreq);
	if (ret != 0) {
		tevent_req_error(req, ret);
		return;
	}
	if (status != 0 || datalen != 4) {
		D_ERR("ctdb: attaching %s refused: status %d \"%s\"",
		      state->db->name, status, errmsg);
		tevent_req_error(req, EIO);
		return;
	}
	state->db_id = h_get32(data);
	if (state->db_id != state->db->db_id) {
		D_WARNING("ctdb: %s got db_id 0x%08x, expected 0x%08x",
			  state->db->name, state->db_id, state->db->db_id);
	}
	subreq = db_id_control(state, CTDB_CONTROL_GETDBPATH);
	if (tevent_req_nomem(subreq, req)) {
		return;
	}
	tevent_req_set_callback(subreq, ctdb_db_open_path_done, req);
}

static void ctdb_db_open_path_done(struct tevent_req *subreq)
{
	struct tevent_req *req = tevent_req_callback_data(
		subreq, struct tevent_req);
	struct ctdb_db_open_state *state = tevent_req_data(
		req, struct ctdb_db_open_state);
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
	if (status != 0 || datalen < 2 || data[datalen - 1] != '\0') {
		D_ERR("ctdb: GETDBPATH for %s failed, status %d",
		      state->db->name, status);
		tevent_req_error(req, EIO);
		return;
	}
	state->path = talloc_strdup(state, (const char *)data);
	if (tevent_req_nomem(state->path, req)) {
		return;
	}
	subreq = db_id_control(state, CTDB_CONTROL_DB_GET_HEALTH);
	if (tevent_req_nomem(subreq, req)) {
		return;
	}
	tevent_req_set_callback(subreq, ctdb_db_open_health_done, req);
}

static void ctdb_db_open_health_done(struct tevent_req *subreq)
{
	struct tevent_req *req = tevent_req_callback_data(
		subreq, struct tevent_req);
	struct ctdb_db_open_state *state = tevent_req_data(
		req, struct ctdb_db_open_state);
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
	/* An empty string (or none) means healthy */
	if (status != 0 || (datalen > 0 && data[0] != '\0')) {
		D_ERR("ctdb: database %s is unhealthy: \"%.*s\"",
		      state->db->name, (int)datalen, (const char *)data);
		tevent_req_error(req, EIO);
		return;
	}
	subreq = db_id_control(state, CTDB_CONTROL_DB_OPEN_FLAGS);
	if (tevent_req_nomem(subreq, req)) {
		return;
	}
	tevent_req_set_callback(subreq, ctdb_db_open_flags_done, req);
}

static void ctdb_db_open_flags_done(struct tevent_req *subreq)
{
	struct tevent_req *req = tevent_req_callback_data(
		subreq, struct tevent_req);
	struct ctdb_db_open_state *state = tevent_req_data(
		req, struct ctdb_db_open_state);
	struct ctdb_db *db = state->db;
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
	if (status != 0 || datalen != 4) {
		tevent_req_error(req, EIO);
		return;
	}
	ctdb_db_close(db);
	db->tdb_flags = (int)h_get32(data);
	db->db_id = state->db_id;
	TALLOC_FREE(db->path);
	db->path = talloc_move(db, &state->path);
	/*
	 * The flags ctdbd gives must be used as they are (a volatile file
	 * made with mutexes cannot be opened without them).  We never
	 * write a persistent copy, so read-only is enough for it.
	 */
	db->tdb = tdb_open(db->path, 0, db->tdb_flags,
			   db->persistent ? O_RDONLY : O_RDWR, 0);
	if (db->tdb == NULL) {
		ret = errno != 0 ? errno : EIO;
		D_ERR("ctdb: cannot open %s (flags 0x%x), ret=%d", db->path,
		      db->tdb_flags, ret);
		tevent_req_error(req, ret);
		return;
	}
	D_INFO("ctdb: attached %s (0x%08x) at %s, flags 0x%x", db->name,
	       db->db_id, db->path, db->tdb_flags);
	tevent_req_done(req);
}

int ctdb_db_open_recv(struct tevent_req *req)
{
	int err;

	if (tevent_req_is_errno(req, &err)) {
		return err;
	}
	return 0;
}

/*
 * Public attach: register, then wait until the setup opened it.  A DB
 * registered while connected is opened here.
 */

struct ctdb_db_attach_state {
	struct tevent_context *ev;
	struct ctdb_db *db;
	struct timeval endtime;
};

static void ctdb_db_attach_poll(struct tevent_req *subreq);
static void ctdb_db_attach_open_done(struct tevent_req *subreq);

static void ctdb_db_attach_step(struct tevent_req *req)
{
	struct ctdb_db_attach_state *state = tevent_req_data(
		req, struct ctdb_db_attach_state);
	struct tevent_req *subreq = NULL;
	struct ctdb_db *db = NULL;
	struct ctdb_db *lock_db = NULL;
	int ret;

	ret = ctdb_client_g_lock_db(state->db->client, &lock_db);
	if (ret != 0) {
		tevent_req_error(req, ret);
		return;
	}
	if (ctdb_db_ready(state->db) &&
	    (!state->db->persistent || ctdb_db_ready(lock_db))) {
		tevent_req_done(req);
		return;
	}
	/* Open the first DB not open yet: g_lock.tdb comes first */
	for (db = ctdb_client_dbs(state->db->client); db != NULL;
	     db = db->next) {
		if (!ctdb_db_ready(db)) {
			break;
		}
	}
	if (db != NULL && ctdb_client_connected(state->db->client)) {
		subreq = ctdb_db_open_send(state, state->ev, db);
		if (tevent_req_nomem(subreq, req)) {
			return;
		}
		tevent_req_set_callback(subreq, ctdb_db_attach_open_done,
					req);
		return;
	}
	if (remaining_ms(state->endtime) == 0) {
		tevent_req_error(req, ETIMEDOUT);
		return;
	}
	subreq = tevent_wakeup_send(state, state->ev,
				    ms_from_now(READY_POLL_MS));
	if (tevent_req_nomem(subreq, req)) {
		return;
	}
	tevent_req_set_callback(subreq, ctdb_db_attach_poll, req);
}

static void ctdb_db_attach_poll(struct tevent_req *subreq)
{
	struct tevent_req *req = tevent_req_callback_data(
		subreq, struct tevent_req);

	tevent_wakeup_recv(subreq);
	TALLOC_FREE(subreq);
	ctdb_db_attach_step(req);
}

static void ctdb_db_attach_open_done(struct tevent_req *subreq)
{
	struct tevent_req *req = tevent_req_callback_data(
		subreq, struct tevent_req);
	int ret;

	ret = ctdb_db_open_recv(subreq);
	TALLOC_FREE(subreq);
	if (ret != 0 && ret != ENOTCONN) {
		tevent_req_error(req, ret);
		return;
	}
	ctdb_db_attach_step(req);
}

struct tevent_req *ctdb_db_attach_send(TALLOC_CTX *mem_ctx,
				       struct tevent_context *ev,
				       struct ctdb_client *client,
				       const char *name, bool persistent,
				       uint32_t timeout_ms)
{
	struct tevent_req *req = NULL;
	struct ctdb_db_attach_state *state = NULL;
	int ret;

	req = tevent_req_create(mem_ctx, &state, struct ctdb_db_attach_state);
	if (req == NULL) {
		return NULL;
	}
	state->ev = ev;
	state->endtime = ms_from_now(timeout_ms);
	ret = ctdb_db_init(client, name, persistent, &state->db);
	if (ret != 0) {
		tevent_req_error(req, ret);
		return tevent_req_post(req, ev);
	}
	ctdb_db_attach_step(req);
	if (!tevent_req_is_in_progress(req)) {
		return tevent_req_post(req, ev);
	}
	return req;
}

int ctdb_db_attach_recv(struct tevent_req *req, struct ctdb_db **db)
{
	struct ctdb_db_attach_state *state = tevent_req_data(
		req, struct ctdb_db_attach_state);
	int err;

	if (tevent_req_is_errno(req, &err)) {
		return err;
	}
	*db = state->db;
	return 0;
}

/*
 * Reads of the local copy
 */

static bool is_seqnum_key(const uint8_t *key, size_t keylen)
{
	return keylen == CTDB_DB_SEQNUM_KEYLEN &&
	       memcmp(key, CTDB_DB_SEQNUM_KEY, CTDB_DB_SEQNUM_KEYLEN) == 0;
}

/*
 * The raw record: header and value.  *exists is false for an absent
 * record; a tombstone exists with an empty value.
 */
static int db_fetch_raw(struct ctdb_db *db, TALLOC_CTX *mem_ctx,
			const uint8_t *key, size_t keylen,
			struct ctdb_ltdb_header *h, uint8_t **val,
			size_t *vallen, bool *exists)
{
	TDB_DATA k = {
		.dptr = (uint8_t *)key,
		.dsize = keylen,
	};
	TDB_DATA d;
	int ret;

	if (db->tdb == NULL) {
		return ENOTCONN;
	}
	d = tdb_fetch(db->tdb, k);
	if (d.dptr == NULL) {
		if (tdb_error(db->tdb) != TDB_ERR_NOEXIST) {
			return EIO;
		}
		*h = (struct ctdb_ltdb_header) {
			.dmaster = CTDB_UNKNOWN_PNN,
		};
		*exists = false;
		*val = NULL;
		*vallen = 0;
		return 0;
	}
	ret = ctdb_ltdb_header_pull(d.dptr, d.dsize, h);
	if (ret != 0) {
		D_ERR("ctdb: %s: record shorter than its header", db->name);
		free(d.dptr);
		return EIO;
	}
	*vallen = d.dsize - CTDB_LTDB_HDR_LEN;
	*val = talloc_memdup(mem_ctx, d.dptr + CTDB_LTDB_HDR_LEN,
			     *vallen);
	free(d.dptr);
	if (*val == NULL && *vallen > 0) {
		return ENOMEM;
	}
	*exists = true;
	return 0;
}

int ctdb_db_fetch(struct ctdb_db *db, TALLOC_CTX *mem_ctx,
		  const uint8_t *key, size_t keylen,
		  uint8_t **val, size_t *vallen)
{
	struct ctdb_ltdb_header h;
	uint8_t *v = NULL;
	size_t vl = 0;
	bool exists = false;
	int ret;

	if (is_seqnum_key(key, keylen)) {
		return ENOENT;
	}
	ret = db_fetch_raw(db, mem_ctx, key, keylen, &h, &v, &vl, &exists);
	if (ret != 0) {
		return ret;
	}
	if (!exists || vl == 0) {
		/* A header-only record is a tombstone */
		talloc_free(v);
		return ENOENT;
	}
	*val = v;
	*vallen = vl;
	return 0;
}

struct db_traverse_state {
	ctdb_db_traverse_fn fn;
	void *private_data;
	struct tdb_context *skip;	/* keys present here are skipped */
};

static int db_traverse_cb(struct tdb_context *tdb, TDB_DATA key,
			  TDB_DATA val, void *private_data)
{
	struct db_traverse_state *state = private_data;

	if (is_seqnum_key(key.dptr, key.dsize)) {
		return 0;
	}
	if (val.dsize <= CTDB_LTDB_HDR_LEN) {
		return 0;
	}
	if (state->skip != NULL && tdb_exists(state->skip, key)) {
		return 0;
	}
	return state->fn(key.dptr, key.dsize, val.dptr + CTDB_LTDB_HDR_LEN,
			 val.dsize - CTDB_LTDB_HDR_LEN, state->private_data);
}

static int db_traverse(struct ctdb_db *db, struct tdb_context *skip,
		       ctdb_db_traverse_fn fn, void *private_data)
{
	struct db_traverse_state state = {
		.fn = fn,
		.private_data = private_data,
		.skip = skip,
	};
	int ret;

	if (db->tdb == NULL) {
		return ENOTCONN;
	}
	ret = tdb_traverse_read(db->tdb, db_traverse_cb, &state);
	if (ret < 0) {
		return EIO;
	}
	return 0;
}

int ctdb_db_traverse(struct ctdb_db *db, ctdb_db_traverse_fn fn,
		     void *private_data)
{
	return db_traverse(db, NULL, fn, private_data);
}

static int db_seqnum_raw(struct ctdb_db *db, struct ctdb_ltdb_header *h,
			 uint64_t *seqnum)
{
	uint8_t *v = NULL;
	size_t vl = 0;
	bool exists = false;
	int ret;

	ret = db_fetch_raw(db, NULL, (const uint8_t *)CTDB_DB_SEQNUM_KEY,
			   CTDB_DB_SEQNUM_KEYLEN, h, &v, &vl, &exists);
	if (ret != 0) {
		return ret;
	}
	if (!exists || vl == 0) {
		*seqnum = 0;
	} else if (vl == 8) {
		*seqnum = h_get64(v);
	} else {
		D_ERR("ctdb: %s: seqnum record of %zu bytes", db->name, vl);
		ret = EINVAL;
	}
	talloc_free(v);
	return ret;
}

int ctdb_db_seqnum(struct ctdb_db *db, uint64_t *seqnum)
{
	struct ctdb_ltdb_header h;

	return db_seqnum_raw(db, &h, seqnum);
}

/*
 * g_lock: fetch-lock.  On success the chain of key in g_lock.tdb is
 * locked, this node is the record's dmaster, and the record is parsed.
 * *migrate asks the caller to migrate the record here first.
 */
static int g_lock_fetch_locked(struct ctdb_db *lock_db, TALLOC_CTX *mem_ctx,
			       const char *key, struct ctdb_ltdb_header *h,
			       struct ctdb_g_lock_entry **entries,
			       unsigned *num, bool *migrate)
{
	TDB_DATA k = {
		.dptr = (uint8_t *)key,
		.dsize = CTDB_G_LOCK_KEY_LEN,
	};
	TDB_DATA d;
	uint32_t pnn = ctdb_client_pnn(lock_db->client);
	int ret;

	if (lock_db->tdb == NULL) {
		return ENOTCONN;
	}
	*migrate = false;
	if (tdb_chainlock(lock_db->tdb, k) != 0) {
		return EIO;
	}
	d = tdb_fetch(lock_db->tdb, k);
	if (d.dptr == NULL || d.dsize < CTDB_LTDB_HDR_LEN) {
		goto migrate;
	}
	ret = ctdb_ltdb_header_pull(d.dptr, d.dsize, h);
	if (ret != 0 || h->dmaster != pnn ||
	    (h->flags & CTDB_REC_RO_HAVE_DELEGATIONS)) {
		goto migrate;
	}
	ret = ctdb_g_lock_record_pull(mem_ctx, d.dptr, d.dsize, h, entries,
				      num);
	free(d.dptr);
	if (ret != 0) {
		/* Not our format: Samba's g_lock, or garbage.  Refuse. */
		D_ERR("ctdb: g_lock record %s is not in ctdb-client format, "
		      "ret=%d", key, ret);
		tdb_chainunlock(lock_db->tdb, k);
		return EPROTO;
	}
	return 0;
migrate:
	free(d.dptr);
	tdb_chainunlock(lock_db->tdb, k);
	*migrate = true;
	return 0;
}

static int g_lock_store_unlock(struct ctdb_db *lock_db, const char *key,
			       const struct ctdb_ltdb_header *h,
			       const struct ctdb_g_lock_entry *entries,
			       unsigned num)
{
	TDB_DATA k = {
		.dptr = (uint8_t *)key,
		.dsize = CTDB_G_LOCK_KEY_LEN,
	};
	TDB_DATA d;
	uint8_t *buf = NULL;
	size_t len;
	int ret;

	ret = ctdb_g_lock_record_push(NULL, h, entries, num, &buf, &len);
	if (ret == 0) {
		d = (TDB_DATA) {
			.dptr = buf,
			.dsize = len,
		};
		if (tdb_store(lock_db->tdb, k, d, TDB_REPLACE) != 0) {
			ret = EIO;
		}
	}
	tdb_chainunlock(lock_db->tdb, k);
	talloc_free(buf);
	return ret;
}

static void g_lock_unchain(struct ctdb_db *lock_db, const char *key)
{
	TDB_DATA k = {
		.dptr = (uint8_t *)key,
		.dsize = CTDB_G_LOCK_KEY_LEN,
	};

	tdb_chainunlock(lock_db->tdb, k);
}

static struct ctdb_g_lock_entry g_lock_me(struct ctdb_db *db, uint32_t type)
{
	uint64_t pid = (uint64_t)getpid();

	return (struct ctdb_g_lock_entry) {
		.type = type,
		.pid = pid,
		.task_id = db->db_id,
		.vnn = ctdb_client_pnn(db->client),
		.unique_id = ((uint64_t)db->db_id << 32) | pid,
	};
}

struct ctdb_g_lock_lock_state {
	struct tevent_context *ev;
	struct ctdb_db *db;
	struct ctdb_db *lock_db;
	char key[CTDB_G_LOCK_KEY_LEN];
	struct ctdb_g_lock_entry me;
	struct ctdb_g_lock_entry suspect;
	bool have_dead;
	struct ctdb_g_lock_entry dead;
	uint32_t wait_ms;
	uint32_t timeout_ms;
};

static void ctdb_g_lock_lock_step(struct tevent_req *req);
static void ctdb_g_lock_lock_migrated(struct tevent_req *subreq);
static void ctdb_g_lock_lock_checked(struct tevent_req *subreq);
static void ctdb_g_lock_lock_retry(struct tevent_req *subreq);

struct tevent_req *ctdb_g_lock_lock_send(TALLOC_CTX *mem_ctx,
					 struct tevent_context *ev,
					 struct ctdb_db *db, uint32_t type,
					 uint32_t timeout_ms)
{
	struct tevent_req *req = NULL;
	struct ctdb_g_lock_lock_state *state = NULL;
	int ret;

	req = tevent_req_create(mem_ctx, &state,
				struct ctdb_g_lock_lock_state);
	if (req == NULL) {
		return NULL;
	}
	state->ev = ev;
	state->db = db;
	state->wait_ms = LOCK_RETRY_MIN_MS;
	state->timeout_ms = timeout_ms;
	ret = ctdb_client_g_lock_db(db->client, &state->lock_db);
	if (ret != 0) {
		tevent_req_error(req, ret);
		return tevent_req_post(req, ev);
	}
	if (!ctdb_db_ready(db) || !ctdb_db_ready(state->lock_db)) {
		tevent_req_error(req, ENOTCONN);
		return tevent_req_post(req, ev);
	}
	ctdb_g_lock_key(db->db_id, state->key);
	state->me = g_lock_me(db, type);
	/* Nothing is stored before the last, synchronous step */
	if (!tevent_req_set_endtime(req, ev, ms_from_now(timeout_ms))) {
		tevent_req_oom(req);
		return tevent_req_post(req, ev);
	}
	ctdb_g_lock_lock_step(req);
	if (!tevent_req_is_in_progress(req)) {
		return tevent_req_post(req, ev);
	}
	return req;
}

static void ctdb_g_lock_lock_step(struct tevent_req *req)
{
	struct ctdb_g_lock_lock_state *state = tevent_req_data(
		req, struct ctdb_g_lock_lock_state);
	struct ctdb_db *db = state->db;
	struct tevent_req *subreq = NULL;
	struct ctdb_g_lock_entry *entries = NULL;
	struct ctdb_ltdb_header h;
	unsigned num = 0, i;
	bool migrate = false;
	bool modified = false;
	uint8_t pid[4];
	int ret;

	ret = g_lock_fetch_locked(state->lock_db, state, state->key, &h,
				  &entries, &num, &migrate);
	if (ret != 0) {
		tevent_req_error(req, ret);
		return;
	}
	if (migrate) {
		db->stats.migrations += 1;
		subreq = ctdb_client_call_send(
			state, state->ev, db->client,
			state->lock_db->db_id, CTDB_IMMEDIATE_MIGRATION,
			CTDB_NULL_FUNC, (const uint8_t *)state->key,
			CTDB_G_LOCK_KEY_LEN, state->timeout_ms);
		if (tevent_req_nomem(subreq, req)) {
			return;
		}
		tevent_req_set_callback(subreq, ctdb_g_lock_lock_migrated,
					req);
		return;
	}

	i = 0;
	while (i < num) {
		struct ctdb_g_lock_entry *e = &entries[i];
		bool drop = false;

		if (ctdb_g_lock_entry_same_owner(e, &state->me)) {
			if (db->lock_held) {
				g_lock_unchain(state->lock_db, state->key);
				tevent_req_error(req, EDEADLK);
				return;
			}
			/* Left by an earlier connection of ours */
			drop = true;
		} else if (state->have_dead &&
			   ctdb_g_lock_entry_same_owner(e, &state->dead)) {
			drop = true;
		}
		if (drop) {
			db->stats.dead_holders += 1;
			D_NOTICE("ctdb: removing dead g_lock holder pid %llu "
				 "on node %u from %s",
				 (unsigned long long)e->pid, e->vnn,
				 state->key);
			entries[i] = entries[num - 1];
			num -= 1;
			modified = true;
			continue;
		}
		if (e->type == CTDB_G_LOCK_READ &&
		    state->me.type == CTDB_G_LOCK_READ) {
			i += 1;
			continue;
		}
		/*
		 * A conflict.  Ask the holder's node whether the holder is
		 * alive; never hold the chain lock across the round trip.
		 * A dead entry gets removed on the next pass.
		 */
		state->suspect = *e;
		if (modified) {
			ret = g_lock_store_unlock(state->lock_db, state->key,
						  &h, entries, num);
			if (ret != 0) {
				tevent_req_error(req, ret);
				return;
			}
		} else {
			g_lock_unchain(state->lock_db, state->key);
		}
		db->stats.lock_waits += 1;
		e = &state->suspect;
		h_put32(pid, (uint32_t)e->pid);
		subreq = ctdb_client_control_send(
			state, state->ev, db->client, e->vnn,
			CTDB_CONTROL_PROCESS_EXISTS, 0, 0, pid, sizeof(pid),
			CTDB_CLIENT_TIMEOUT_MS);
		if (tevent_req_nomem(subreq, req)) {
			return;
		}
		tevent_req_set_callback(subreq, ctdb_g_lock_lock_checked,
					req);
		return;
	}

	entries = talloc_realloc(state, entries, struct ctdb_g_lock_entry,
				 num + 1);
	if (entries == NULL) {
		g_lock_unchain(state->lock_db, state->key);
		tevent_req_oom(req);
		return;
	}
	entries[num] = state->me;
	ret = g_lock_store_unlock(state->lock_db, state->key, &h, entries,
				  num + 1);
	if (ret != 0) {
		tevent_req_error(req, ret);
		return;
	}
	db->lock_held = true;
	tevent_req_done(req);
}

static void ctdb_g_lock_lock_migrated(struct tevent_req *subreq)
{
	struct tevent_req *req = tevent_req_callback_data(
		subreq, struct tevent_req);
	int32_t status = -1;
	int ret;

	ret = ctdb_client_call_recv(subreq, &status);
	TALLOC_FREE(subreq);
	if (ret != 0) {
		tevent_req_error(req, ret);
		return;
	}
	if (status != 0) {
		tevent_req_error(req, EIO);
		return;
	}
	/* Another node may take it back before we look: loop */
	ctdb_g_lock_lock_step(req);
}

static void ctdb_g_lock_lock_checked(struct tevent_req *subreq)
{
	struct tevent_req *req = tevent_req_callback_data(
		subreq, struct tevent_req);
	struct ctdb_g_lock_lock_state *state = tevent_req_data(
		req, struct ctdb_g_lock_lock_state);
	int32_t status = -1;
	int ret;

	ret = ctdb_client_control_recv(subreq, NULL, &status, NULL, NULL,
				       NULL);
	TALLOC_FREE(subreq);
	if (ret == ENOTCONN) {
		tevent_req_error(req, ret);
		return;
	}
	if (ret == 0 && status != 0) {
		/* Dead pid, not a client, or a disconnected node */
		state->dead = state->suspect;
		state->have_dead = true;
		ctdb_g_lock_lock_step(req);
		return;
	}
	subreq = tevent_wakeup_send(state, state->ev,
				    ms_from_now(state->wait_ms));
	if (tevent_req_nomem(subreq, req)) {
		return;
	}
	tevent_req_set_callback(subreq, ctdb_g_lock_lock_retry, req);
	state->wait_ms *= 2;
	if (state->wait_ms > LOCK_RETRY_MAX_MS) {
		state->wait_ms = LOCK_RETRY_MAX_MS;
	}
}

static void ctdb_g_lock_lock_retry(struct tevent_req *subreq)
{
	struct tevent_req *req = tevent_req_callback_data(
		subreq, struct tevent_req);

	tevent_wakeup_recv(subreq);
	TALLOC_FREE(subreq);
	ctdb_g_lock_lock_step(req);
}

int ctdb_g_lock_lock_recv(struct tevent_req *req)
{
	int err;

	if (tevent_req_is_errno(req, &err)) {
		return err;
	}
	return 0;
}

struct ctdb_g_lock_unlock_state {
	struct tevent_context *ev;
	struct ctdb_db *db;
	struct ctdb_db *lock_db;
	char key[CTDB_G_LOCK_KEY_LEN];
	uint32_t timeout_ms;
};

static void ctdb_g_lock_unlock_step(struct tevent_req *req);
static void ctdb_g_lock_unlock_migrated(struct tevent_req *subreq);
static void ctdb_g_lock_unlock_scheduled(struct tevent_req *subreq);

struct tevent_req *ctdb_g_lock_unlock_send(TALLOC_CTX *mem_ctx,
					   struct tevent_context *ev,
					   struct ctdb_db *db,
					   uint32_t timeout_ms)
{
	struct tevent_req *req = NULL;
	struct ctdb_g_lock_unlock_state *state = NULL;
	int ret;

	req = tevent_req_create(mem_ctx, &state,
				struct ctdb_g_lock_unlock_state);
	if (req == NULL) {
		return NULL;
	}
	state->ev = ev;
	state->db = db;
	state->timeout_ms = timeout_ms;
	ret = ctdb_client_g_lock_db(db->client, &state->lock_db);
	if (ret != 0) {
		tevent_req_error(req, ret);
		return tevent_req_post(req, ev);
	}
	if (!db->lock_held) {
		/* Lost with the connection, or never taken */
		tevent_req_done(req);
		return tevent_req_post(req, ev);
	}
	ctdb_g_lock_key(db->db_id, state->key);
	if (!tevent_req_set_endtime(req, ev, ms_from_now(timeout_ms))) {
		tevent_req_oom(req);
		return tevent_req_post(req, ev);
	}
	ctdb_g_lock_unlock_step(req);
	if (!tevent_req_is_in_progress(req)) {
		return tevent_req_post(req, ev);
	}
	return req;
}

static void ctdb_g_lock_unlock_step(struct tevent_req *req)
{
	struct ctdb_g_lock_unlock_state *state = tevent_req_data(
		req, struct ctdb_g_lock_unlock_state);
	struct ctdb_db *db = state->db;
	struct ctdb_g_lock_entry me = g_lock_me(db, CTDB_G_LOCK_WRITE);
	struct ctdb_g_lock_entry *entries = NULL;
	struct tevent_req *subreq = NULL;
	struct ctdb_ltdb_header h;
	uint8_t *data = NULL;
	size_t datalen = 0;
	unsigned num = 0, i;
	bool migrate = false;
	int ret;

	if (!db->lock_held) {
		tevent_req_done(req);
		return;
	}
	ret = g_lock_fetch_locked(state->lock_db, state, state->key, &h,
				  &entries, &num, &migrate);
	if (ret != 0) {
		tevent_req_error(req, ret);
		return;
	}
	if (migrate) {
		subreq = ctdb_client_call_send(
			state, state->ev, db->client, state->lock_db->db_id,
			CTDB_IMMEDIATE_MIGRATION, CTDB_NULL_FUNC,
			(const uint8_t *)state->key, CTDB_G_LOCK_KEY_LEN,
			state->timeout_ms);
		if (tevent_req_nomem(subreq, req)) {
			return;
		}
		tevent_req_set_callback(subreq, ctdb_g_lock_unlock_migrated,
					req);
		return;
	}
	i = 0;
	while (i < num) {
		if (ctdb_g_lock_entry_same_owner(&entries[i], &me)) {
			entries[i] = entries[num - 1];
			num -= 1;
			continue;
		}
		i += 1;
	}
	ret = g_lock_store_unlock(state->lock_db, state->key, &h, entries,
				  num);
	if (ret != 0) {
		tevent_req_error(req, ret);
		return;
	}
	db->lock_held = false;
	if (num > 0) {
		tevent_req_done(req);
		return;
	}
	/* Header only: let the vacuumer remove the empty record */
	ret = ctdb_schedule_for_deletion_push(state, state->lock_db->db_id,
					      &h, (const uint8_t *)state->key,
					      CTDB_G_LOCK_KEY_LEN, &data,
					      &datalen);
	if (ret != 0) {
		tevent_req_done(req);
		return;
	}
	subreq = ctdb_client_control_send(
		state, state->ev, db->client, ctdb_client_pnn(db->client),
		CTDB_CONTROL_SCHEDULE_FOR_DELETION, 0, 0, data, datalen,
		CTDB_CLIENT_TIMEOUT_MS);
	if (tevent_req_nomem(subreq, req)) {
		return;
	}
	tevent_req_set_callback(subreq, ctdb_g_lock_unlock_scheduled, req);
}

static void ctdb_g_lock_unlock_migrated(struct tevent_req *subreq)
{
	struct tevent_req *req = tevent_req_callback_data(
		subreq, struct tevent_req);
	int32_t status = -1;
	int ret;

	ret = ctdb_client_call_recv(subreq, &status);
	TALLOC_FREE(subreq);
	if (ret != 0) {
		tevent_req_error(req, ret);
		return;
	}
	if (status != 0) {
		tevent_req_error(req, EIO);
		return;
	}
	ctdb_g_lock_unlock_step(req);
}

static void ctdb_g_lock_unlock_scheduled(struct tevent_req *subreq)
{
	struct tevent_req *req = tevent_req_callback_data(
		subreq, struct tevent_req);
	int32_t status = -1;
	int ret;

	ret = ctdb_client_control_recv(subreq, NULL, &status, NULL, NULL,
				       NULL);
	TALLOC_FREE(subreq);
	if (ret != 0 || status != 0) {
		/* Only an optimisation: the record is unlocked anyway */
		D_INFO("ctdb: SCHEDULE_FOR_DELETION failed, ret=%d status=%d",
		       ret, status);
	}
	tevent_req_done(req);
}

int ctdb_g_lock_unlock_recv(struct tevent_req *req)
{
	int err;

	if (tevent_req_is_errno(req, &err)) {
		return err;
	}
	return 0;
}

/*
 * Transactions.  Buffered writes live in an in-memory tdb: value byte 0
 * is 1 for a stored value (the rest is the value), 0 for a deletion.
 */

struct ctdb_transaction {
	struct ctdb_db *db;
	struct tdb_context *overlay;
};

static int ctdb_transaction_destructor(struct ctdb_transaction *txn)
{
	if (txn->overlay != NULL) {
		tdb_close(txn->overlay);
		txn->overlay = NULL;
	}
	return 0;
}

int ctdb_txn_fetch(struct ctdb_transaction *txn, TALLOC_CTX *mem_ctx,
		   const uint8_t *key, size_t keylen,
		   uint8_t **val, size_t *vallen)
{
	TDB_DATA k = {
		.dptr = (uint8_t *)key,
		.dsize = keylen,
	};
	TDB_DATA d;
	uint8_t *v = NULL;

	d = tdb_fetch(txn->overlay, k);
	if (d.dptr == NULL) {
		return ctdb_db_fetch(txn->db, mem_ctx, key, keylen, val,
				     vallen);
	}
	if (d.dsize < 1 || d.dptr[0] == 0) {
		free(d.dptr);
		return ENOENT;
	}
	v = talloc_memdup(mem_ctx, d.dptr + 1, d.dsize - 1);
	free(d.dptr);
	if (v == NULL && d.dsize > 1) {
		return ENOMEM;
	}
	*val = v;
	*vallen = d.dsize - 1;
	return 0;
}

static int txn_put(struct ctdb_transaction *txn, const uint8_t *key,
		   size_t keylen, const uint8_t *val, size_t vallen,
		   bool present)
{
	TDB_DATA k = {
		.dptr = (uint8_t *)key,
		.dsize = keylen,
	};
	TDB_DATA d;
	uint8_t *buf = NULL;
	int ret = 0;

	if (is_seqnum_key(key, keylen)) {
		return EINVAL;
	}
	buf = talloc_size(NULL, vallen + 1);
	if (buf == NULL) {
		return ENOMEM;
	}
	buf[0] = present ? 1 : 0;
	if (vallen > 0) {
		memcpy(buf + 1, val, vallen);
	}
	d = (TDB_DATA) {
		.dptr = buf,
		.dsize = vallen + 1,
	};
	if (tdb_store(txn->overlay, k, d, TDB_REPLACE) != 0) {
		ret = ENOMEM;
	}
	talloc_free(buf);
	return ret;
}

int ctdb_txn_store(struct ctdb_transaction *txn, const uint8_t *key,
		   size_t keylen, const uint8_t *val, size_t vallen)
{
	if (vallen == 0) {
		/* An empty value is how CTDB spells "deleted" */
		return EINVAL;
	}
	return txn_put(txn, key, keylen, val, vallen, true);
}

int ctdb_txn_delete(struct ctdb_transaction *txn, const uint8_t *key,
		    size_t keylen)
{
	return txn_put(txn, key, keylen, NULL, 0, false);
}

struct txn_overlay_traverse_state {
	ctdb_db_traverse_fn fn;
	void *private_data;
	int stop;
};

static int txn_overlay_traverse_cb(struct tdb_context *tdb, TDB_DATA key,
				   TDB_DATA val, void *private_data)
{
	struct txn_overlay_traverse_state *state = private_data;

	if (val.dsize < 1 || val.dptr[0] == 0) {
		return 0;
	}
	state->stop = state->fn(key.dptr, key.dsize, val.dptr + 1,
				val.dsize - 1, state->private_data);
	return state->stop;
}

int ctdb_txn_traverse(struct ctdb_transaction *txn, ctdb_db_traverse_fn fn,
		      void *private_data)
{
	struct txn_overlay_traverse_state state = {
		.fn = fn,
		.private_data = private_data,
	};
	int ret;

	ret = db_traverse(txn->db, txn->overlay, fn, private_data);
	if (ret != 0) {
		return ret;
	}
	if (tdb_traverse_read(txn->overlay, txn_overlay_traverse_cb,
			      &state) < 0 && state.stop == 0) {
		return EIO;
	}
	return 0;
}

/*
 * Turn the overlay into a record buffer of the records that change.
 */
struct txn_build_state {
	struct ctdb_db *db;
	TALLOC_CTX *mem_ctx;
	struct ctdb_rec *recs;
	unsigned num;
	int err;
};

static int txn_build_cb(struct tdb_context *tdb, TDB_DATA key, TDB_DATA val,
			void *private_data)
{
	struct txn_build_state *state = private_data;
	struct ctdb_ltdb_header h;
	uint8_t *old = NULL;
	size_t oldlen = 0;
	bool exists = false;
	bool present = val.dsize >= 1 && val.dptr[0] == 1;
	const uint8_t *newval = val.dptr + 1;
	size_t newlen = present ? val.dsize - 1 : 0;
	struct ctdb_rec *r = NULL;
	int ret;

	ret = db_fetch_raw(state->db, state->mem_ctx, key.dptr, key.dsize, &h,
			   &old, &oldlen, &exists);
	if (ret != 0) {
		state->err = ret;
		return -1;
	}
	/* Unchanged values and deletions of absent keys add nothing */
	if (oldlen == newlen && (newlen == 0 ||
				 memcmp(old, newval, newlen) == 0)) {
		return 0;
	}
	state->recs = talloc_realloc(state->mem_ctx, state->recs,
				     struct ctdb_rec, state->num + 2);
	if (state->recs == NULL) {
		state->err = ENOMEM;
		return -1;
	}
	r = &state->recs[state->num];
	*r = (struct ctdb_rec) {
		.key = talloc_memdup(state->mem_ctx, key.dptr, key.dsize),
		.keylen = (uint32_t)key.dsize,
		.header = h,
		.value = newlen > 0 ? talloc_memdup(state->mem_ctx, newval,
						    newlen) : NULL,
		.valuelen = (uint32_t)newlen,
	};
	if (r->key == NULL || (newlen > 0 && r->value == NULL)) {
		state->err = ENOMEM;
		return -1;
	}
	r->header.rsn += 1;
	r->header.dmaster = ctdb_client_pnn(state->db->client);
	state->num += 1;
	return 0;
}

struct ctdb_transaction_state {
	struct tevent_context *ev;
	struct ctdb_db *db;
	ctdb_txn_fn fn;
	void *private_data;
	struct timeval endtime;
	struct tevent_req *queue_slot;
	struct ctdb_transaction *txn;
	uint8_t *recbuf;
	size_t recbuf_len;
	uint64_t seqnum;	/* S: the seqnum our commit starts from */
	bool committing;	/* recbuf sent at least once */
	uint32_t resend_ms;
	int result;
};

static void ctdb_transaction_queued(struct tevent_req *subreq);
static void ctdb_transaction_wait_ready(struct tevent_req *req);
static void ctdb_transaction_ready_poll(struct tevent_req *subreq);
static void ctdb_transaction_locked(struct tevent_req *subreq);
static void ctdb_transaction_run(struct tevent_req *req);
static void ctdb_transaction_commit(struct tevent_req *req);
static void ctdb_transaction_committed(struct tevent_req *subreq);
static void ctdb_transaction_seqnum_done(struct tevent_req *subreq);
static void ctdb_transaction_resend(struct tevent_req *subreq);
static void ctdb_transaction_recheck(struct tevent_req *req);
static void ctdb_transaction_finish(struct tevent_req *req, int result);
static void ctdb_transaction_unlocked(struct tevent_req *subreq);

static void ctdb_transaction_orphan_unlocked(struct tevent_req *subreq)
{
	int ret = ctdb_g_lock_unlock_recv(subreq);

	if (ret != 0) {
		D_ERR("ctdb: releasing an abandoned g_lock failed, ret=%d",
		      ret);
	}
	TALLOC_FREE(subreq);
}

static void ctdb_transaction_cleanup(struct tevent_req *req,
				     enum tevent_req_state req_state)
{
	struct ctdb_transaction_state *state = tevent_req_data(
		req, struct ctdb_transaction_state);
	struct tevent_req *subreq = NULL;

	/* Let the next transaction of this process run */
	TALLOC_FREE(state->queue_slot);
	if (req_state != TEVENT_REQ_RECEIVED || !state->db->lock_held) {
		return;
	}
	/* Freed while holding the lock: release it in the background */
	subreq = ctdb_g_lock_unlock_send(state->db, state->ev, state->db,
					 UNLOCK_TIMEOUT_MS);
	if (subreq != NULL) {
		tevent_req_set_callback(subreq,
					ctdb_transaction_orphan_unlocked,
					NULL);
	}
}

struct tevent_req *ctdb_transaction_send(TALLOC_CTX *mem_ctx,
					 struct tevent_context *ev,
					 struct ctdb_db *db, ctdb_txn_fn fn,
					 void *private_data,
					 uint32_t timeout_ms)
{
	struct tevent_req *req = NULL;
	struct ctdb_transaction_state *state = NULL;

	req = tevent_req_create(mem_ctx, &state,
				struct ctdb_transaction_state);
	if (req == NULL) {
		return NULL;
	}
	state->ev = ev;
	state->db = db;
	state->fn = fn;
	state->private_data = private_data;
	state->resend_ms = RESEND_MIN_MS;
	/*
	 * No tevent endtime on this request: it must never end while our
	 * g_lock entry is stored.  Each step is bounded instead.
	 */
	state->endtime = ms_from_now(timeout_ms);
	tevent_req_set_cleanup_fn(req, ctdb_transaction_cleanup);

	if (!db->persistent) {
		tevent_req_error(req, EINVAL);
		return tevent_req_post(req, ev);
	}
	state->queue_slot = tevent_queue_wait_send(state, ev, db->txn_queue);
	if (tevent_req_nomem(state->queue_slot, req)) {
		return tevent_req_post(req, ev);
	}
	tevent_req_set_callback(state->queue_slot, ctdb_transaction_queued,
				req);
	return req;
}

static void ctdb_transaction_queued(struct tevent_req *subreq)
{
	struct tevent_req *req = tevent_req_callback_data(
		subreq, struct tevent_req);

	/* Keep subreq: it holds our place at the head of the queue */
	tevent_queue_wait_recv(subreq);
	ctdb_transaction_wait_ready(req);
}

static void ctdb_transaction_wait_ready(struct tevent_req *req)
{
	struct ctdb_transaction_state *state = tevent_req_data(
		req, struct ctdb_transaction_state);
	struct ctdb_db *db = state->db;
	struct ctdb_db *lock_db = NULL;
	struct tevent_req *subreq = NULL;
	uint32_t left = remaining_ms(state->endtime);
	int ret;

	ret = ctdb_client_g_lock_db(db->client, &lock_db);
	if (ret != 0) {
		ctdb_transaction_finish(req, ret);
		return;
	}
	if (left == 0) {
		ctdb_transaction_finish(req, ETIMEDOUT);
		return;
	}
	/* Wait (bounded) for ctdbd: the store may be used before it is up */
	if (!ctdb_client_connected(db->client) || !ctdb_db_ready(db) ||
	    !ctdb_db_ready(lock_db)) {
		subreq = tevent_wakeup_send(state, state->ev,
					    ms_from_now(READY_POLL_MS));
		if (tevent_req_nomem(subreq, req)) {
			return;
		}
		tevent_req_set_callback(subreq, ctdb_transaction_ready_poll,
					req);
		return;
	}
	subreq = ctdb_g_lock_lock_send(state, state->ev, db,
				       CTDB_G_LOCK_WRITE, left);
	if (tevent_req_nomem(subreq, req)) {
		return;
	}
	tevent_req_set_callback(subreq, ctdb_transaction_locked, req);
}

static void ctdb_transaction_ready_poll(struct tevent_req *subreq)
{
	struct tevent_req *req = tevent_req_callback_data(
		subreq, struct tevent_req);

	tevent_wakeup_recv(subreq);
	TALLOC_FREE(subreq);
	ctdb_transaction_wait_ready(req);
}

static void ctdb_transaction_locked(struct tevent_req *subreq)
{
	struct tevent_req *req = tevent_req_callback_data(
		subreq, struct tevent_req);
	struct ctdb_transaction_state *state = tevent_req_data(
		req, struct ctdb_transaction_state);
	int ret;

	ret = ctdb_g_lock_lock_recv(subreq);
	TALLOC_FREE(subreq);
	if (ret == ENOTCONN) {
		ctdb_transaction_wait_ready(req);
		return;
	}
	if (ret != 0) {
		D_ERR("ctdb: cannot lock %s, ret=%d", state->db->name, ret);
		ctdb_transaction_finish(req, ret);
		return;
	}
	if (state->committing) {
		/* Re-locked after a lost connection: find out what happened */
		ctdb_transaction_recheck(req);
		return;
	}
	ctdb_transaction_run(req);
}

static void ctdb_transaction_run(struct tevent_req *req)
{
	struct ctdb_transaction_state *state = tevent_req_data(
		req, struct ctdb_transaction_state);
	struct ctdb_db *db = state->db;
	struct txn_build_state build = {
		.db = db,
		.mem_ctx = state,
	};
	struct ctdb_ltdb_header sh;
	uint8_t seqval[8];
	int ret;

	state->txn = talloc_zero(state, struct ctdb_transaction);
	if (state->txn == NULL) {
		ctdb_transaction_finish(req, ENOMEM);
		return;
	}
	state->txn->db = db;
	state->txn->overlay = tdb_open(NULL, 0, TDB_INTERNAL, O_RDWR, 0);
	if (state->txn->overlay == NULL) {
		ctdb_transaction_finish(req, ENOMEM);
		return;
	}
	talloc_set_destructor(state->txn, ctdb_transaction_destructor);

	ret = state->fn(state->txn, state->private_data);
	if (ret != 0) {
		ctdb_transaction_finish(req, ret);
		return;
	}
	if (tdb_traverse_read(state->txn->overlay, txn_build_cb, &build) < 0 &&
	    build.err != 0) {
		ctdb_transaction_finish(req, build.err);
		return;
	}
	if (build.num == 0) {
		db->stats.unchanged += 1;
		ctdb_transaction_finish(req, 0);
		return;
	}

	ret = db_seqnum_raw(db, &sh, &state->seqnum);
	if (ret != 0) {
		ctdb_transaction_finish(req, ret);
		return;
	}
	h_put64(seqval, state->seqnum + 1);
	sh.rsn += 1;
	sh.dmaster = ctdb_client_pnn(db->client);
	build.recs[build.num] = (struct ctdb_rec) {
		.key = (const uint8_t *)CTDB_DB_SEQNUM_KEY,
		.keylen = CTDB_DB_SEQNUM_KEYLEN,
		.header = sh,
		.value = seqval,
		.valuelen = sizeof(seqval),
	};
	ret = ctdb_rec_buffer_push(state, db->db_id, build.recs,
				   build.num + 1, &state->recbuf,
				   &state->recbuf_len);
	TALLOC_FREE(build.recs);
	if (ret != 0) {
		ctdb_transaction_finish(req, ret);
		return;
	}
	ctdb_transaction_commit(req);
}

static void ctdb_transaction_commit(struct tevent_req *req)
{
	struct ctdb_transaction_state *state = tevent_req_data(
		req, struct ctdb_transaction_state);
	struct tevent_req *subreq = NULL;
	uint32_t left = remaining_ms(state->endtime);

	if (left == 0) {
		ctdb_transaction_finish(req, ETIMEDOUT);
		return;
	}
	if (left > COMMIT_TIMEOUT_MS) {
		left = COMMIT_TIMEOUT_MS;
	}
	state->committing = true;
	subreq = ctdb_client_control_send(state, state->ev, state->db->client,
					  CTDB_CURRENT_NODE,
					  CTDB_CONTROL_TRANS3_COMMIT, 0, 0,
					  state->recbuf, state->recbuf_len,
					  left);
	if (tevent_req_nomem(subreq, req)) {
		return;
	}
	tevent_req_set_callback(subreq, ctdb_transaction_committed, req);
}

static struct tevent_req *seqnum_control(struct ctdb_transaction_state *s)
{
	uint8_t data[8] = {};

	/* Eight bytes: a four-byte request is refused */
	h_put32(data, s->db->db_id);
	return ctdb_client_control_send(s, s->ev, s->db->client,
					CTDB_CURRENT_NODE,
					CTDB_CONTROL_GET_DB_SEQNUM, 0, 0,
					data, sizeof(data),
					CTDB_CLIENT_TIMEOUT_MS);
}

static void ctdb_transaction_committed(struct tevent_req *subreq)
{
	struct tevent_req *req = tevent_req_callback_data(
		subreq, struct tevent_req);
	struct ctdb_transaction_state *state = tevent_req_data(
		req, struct ctdb_transaction_state);
	char *errmsg = NULL;
	int32_t status = -1;
	int ret;

	ret = ctdb_client_control_recv(subreq, state, &status, NULL, NULL,
				       &errmsg);
	TALLOC_FREE(subreq);
	if (ret == ENOTCONN) {
		/*
		 * Outcome unknown and the lock is gone.  Reconnect, lock
		 * again, then compare the seqnum and our records.
		 */
		D_WARNING("ctdb: connection lost during the commit on %s; "
			  "checking the outcome after reconnecting",
			  state->db->name);
		ctdb_transaction_wait_ready(req);
		return;
	}
	if (ret != 0) {
		D_ERR("ctdb: TRANS3_COMMIT on %s failed, ret=%d",
		      state->db->name, ret);
		ctdb_transaction_finish(req, ret);
		return;
	}
	if (status == 0) {
		state->db->stats.commits += 1;
		ctdb_transaction_finish(req, 0);
		return;
	}
	D_NOTICE("ctdb: TRANS3_COMMIT on %s returned %d \"%s\"; checking "
		 "the seqnum", state->db->name, status, errmsg);
	subreq = seqnum_control(state);
	if (tevent_req_nomem(subreq, req)) {
		return;
	}
	tevent_req_set_callback(subreq, ctdb_transaction_seqnum_done, req);
}

static void ctdb_transaction_seqnum_done(struct tevent_req *subreq)
{
	struct tevent_req *req = tevent_req_callback_data(
		subreq, struct tevent_req);
	struct ctdb_transaction_state *state = tevent_req_data(
		req, struct ctdb_transaction_state);
	uint8_t *data = NULL;
	size_t datalen = 0;
	int32_t status = -1;
	uint64_t seqnum;
	int ret;

	ret = ctdb_client_control_recv(subreq, state, &status, &data,
				       &datalen, NULL);
	TALLOC_FREE(subreq);
	if (ret == ENOTCONN) {
		ctdb_transaction_wait_ready(req);
		return;
	}
	if (ret != 0 || status != 0 || datalen != 8) {
		/* Recovery may be running: try again after the backoff */
		seqnum = state->seqnum - 1;
	} else {
		seqnum = h_get64(data);
	}
	if (ret == 0 && status == 0 && datalen == 8 &&
	    seqnum == state->seqnum + 1) {
		state->db->stats.commits += 1;
		ctdb_transaction_finish(req, 0);
		return;
	}
	if (ret == 0 && status == 0 && datalen == 8 &&
	    seqnum != state->seqnum) {
		D_ERR("ctdb: %s: seqnum mismatch after a failed commit: "
		      "%llu, expected %llu or %llu", state->db->name,
		      (unsigned long long)seqnum,
		      (unsigned long long)state->seqnum,
		      (unsigned long long)state->seqnum + 1);
		ctdb_transaction_finish(req, EIO);
		return;
	}
	/* Not applied: resend the same buffer after a backoff */
	if (remaining_ms(state->endtime) <= state->resend_ms) {
		ctdb_transaction_finish(req, ETIMEDOUT);
		return;
	}
	subreq = tevent_wakeup_send(state, state->ev,
				    ms_from_now(state->resend_ms));
	if (tevent_req_nomem(subreq, req)) {
		return;
	}
	tevent_req_set_callback(subreq, ctdb_transaction_resend, req);
	state->resend_ms *= 2;
	if (state->resend_ms > RESEND_MAX_MS) {
		state->resend_ms = RESEND_MAX_MS;
	}
}

static void ctdb_transaction_resend(struct tevent_req *subreq)
{
	struct tevent_req *req = tevent_req_callback_data(
		subreq, struct tevent_req);
	struct ctdb_transaction_state *state = tevent_req_data(
		req, struct ctdb_transaction_state);

	tevent_wakeup_recv(subreq);
	TALLOC_FREE(subreq);
	state->db->stats.resends += 1;
	ctdb_transaction_commit(req);
}

/* Does the local copy hold every record of our buffer? */
static int txn_match_cb(const struct ctdb_rec *rec, void *priv)
{
	struct ctdb_db *db = priv;
	struct ctdb_ltdb_header h;
	uint8_t *v = NULL;
	size_t vl = 0;
	bool exists = false;
	int ret;

	if (is_seqnum_key(rec->key, rec->keylen)) {
		return 0;
	}
	ret = db_fetch_raw(db, NULL, rec->key, rec->keylen, &h, &v, &vl,
			   &exists);
	if (ret != 0) {
		return ret;
	}
	ret = (vl == rec->valuelen &&
	       (vl == 0 || memcmp(v, rec->value, vl) == 0)) ? 0 : ESTALE;
	talloc_free(v);
	return ret;
}

static void ctdb_transaction_recheck(struct tevent_req *req)
{
	struct ctdb_transaction_state *state = tevent_req_data(
		req, struct ctdb_transaction_state);
	struct ctdb_ltdb_header sh;
	uint64_t seqnum = 0;
	uint32_t db_id;
	int ret;

	ret = db_seqnum_raw(state->db, &sh, &seqnum);
	if (ret != 0) {
		ctdb_transaction_finish(req, ret);
		return;
	}
	if (seqnum == state->seqnum) {
		/* Not applied, and nobody wrote since: send it again */
		D_NOTICE("ctdb: %s: commit was not applied; resending",
			 state->db->name);
		state->db->stats.resends += 1;
		ctdb_transaction_commit(req);
		return;
	}
	ret = ctdb_rec_buffer_pull(state->recbuf, state->recbuf_len, &db_id,
				   txn_match_cb, state->db);
	if (seqnum > state->seqnum && ret == 0) {
		D_NOTICE("ctdb: %s: commit was applied before the connection "
			 "was lost", state->db->name);
		state->db->stats.commits += 1;
		ctdb_transaction_finish(req, 0);
		return;
	}
	D_ERR("ctdb: %s: outcome of a commit cut by a lost connection is "
	      "unknown (seqnum %llu, started at %llu)", state->db->name,
	      (unsigned long long)seqnum, (unsigned long long)state->seqnum);
	ctdb_transaction_finish(req, EIO);
}

/* Unlock if we hold the lock, then complete with result */
static void ctdb_transaction_finish(struct tevent_req *req, int result)
{
	struct ctdb_transaction_state *state = tevent_req_data(
		req, struct ctdb_transaction_state);
	struct tevent_req *subreq = NULL;

	state->result = result;
	TALLOC_FREE(state->txn);
	if (!state->db->lock_held) {
		if (result != 0) {
			tevent_req_error(req, result);
		} else {
			tevent_req_done(req);
		}
		return;
	}
	subreq = ctdb_g_lock_unlock_send(state, state->ev, state->db,
					 UNLOCK_TIMEOUT_MS);
	if (tevent_req_nomem(subreq, req)) {
		return;
	}
	tevent_req_set_callback(subreq, ctdb_transaction_unlocked, req);
}

static void ctdb_transaction_unlocked(struct tevent_req *subreq)
{
	struct tevent_req *req = NULL;
	struct ctdb_transaction_state *state = NULL;
	int ret;

	req = tevent_req_callback_data(subreq, struct tevent_req);
	state = tevent_req_data(req, struct ctdb_transaction_state);
	ret = ctdb_g_lock_unlock_recv(subreq);
	TALLOC_FREE(subreq);
	if (ret != 0) {
		D_ERR("ctdb: unlocking %s failed, ret=%d", state->db->name,
		      ret);
	}
	if (state->result != 0) {
		tevent_req_error(req, state->result);
		return;
	}
	tevent_req_done(req);
}

int ctdb_transaction_recv(struct tevent_req *req)
{
	int err;

	if (tevent_req_is_errno(req, &err)) {
		return err;
	}
	return 0;
}
