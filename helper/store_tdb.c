/*
 * The embedded store: one tdb file, <storage dir>/cltrack.tdb.
 *
 * Every change happens in a tdb transaction; tdb_transaction_commit()
 * fsyncs the file (the tdb is not opened with TDB_NOSYNC), so a record
 * is durable before its upcall is answered.  The commit blocks the event
 * loop for the length of an fsync; upcalls that arrive meanwhile wait in
 * the pipe and go together into the next transaction (batch.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <tdb.h>

#include "logging.h"
#include "store_private.h"
#include "tevent_errno.h"

#define STORE_TDB_NAME		"cltrack.tdb"
#define STORE_TDB_HASH_SIZE	100003

struct store_tdb {
	struct tdb_context *tdb;
	char *path;
};

static int store_tdb_destructor(struct store_tdb *st)
{
	if (st->tdb != NULL) {
		tdb_close(st->tdb);
		st->tdb = NULL;
	}
	return 0;
}

static int tdb_errno(struct tdb_context *tdb)
{
	switch (tdb_error(tdb)) {
	case TDB_SUCCESS:
		return 0;
	case TDB_ERR_NOEXIST:
		return ENOENT;
	case TDB_ERR_OOM:
		return ENOMEM;
	case TDB_ERR_RDONLY:
	case TDB_ERR_NOLOCK:
	case TDB_ERR_LOCK:
	case TDB_ERR_LOCK_TIMEOUT:
		return EAGAIN;
	case TDB_ERR_EINVAL:
		return EINVAL;
	case TDB_ERR_CORRUPT:
		return EUCLEAN;
	default:
		return EIO;
	}
}

static int store_tdb_fetch_db(struct tdb_context *tdb, TALLOC_CTX *mem_ctx,
			      const uint8_t *key, size_t keylen,
			      uint8_t **val, size_t *vallen)
{
	TDB_DATA k = {
		.dptr = (uint8_t *)key,
		.dsize = keylen,
	};
	TDB_DATA d;
	uint8_t *copy = NULL;

	d = tdb_fetch(tdb, k);
	if (d.dptr == NULL) {
		int err = tdb_errno(tdb);
		return err == 0 ? ENOENT : err;
	}
	copy = talloc_memdup(mem_ctx, d.dptr, d.dsize);
	free(d.dptr);
	if (copy == NULL && d.dsize != 0) {
		return ENOMEM;
	}
	*val = copy;
	*vallen = d.dsize;
	return 0;
}

static int store_tdb_fetch(void *backend, TALLOC_CTX *mem_ctx,
			   const uint8_t *key, size_t keylen,
			   uint8_t **val, size_t *vallen)
{
	struct store_tdb *st = talloc_get_type_abort(backend,
						     struct store_tdb);

	return store_tdb_fetch_db(st->tdb, mem_ctx, key, keylen, val, vallen);
}

struct store_tdb_traverse_state {
	store_traverse_fn fn;
	void *private_data;
};

static int store_tdb_traverse_cb(struct tdb_context *tdb, TDB_DATA key,
				 TDB_DATA val, void *private_data)
{
	struct store_tdb_traverse_state *state = private_data;

	return state->fn(key.dptr, key.dsize, val.dptr, val.dsize,
			 state->private_data);
}

static int store_tdb_traverse_db(struct tdb_context *tdb, bool read_only,
				 store_traverse_fn fn, void *private_data)
{
	struct store_tdb_traverse_state state = {
		.fn = fn,
		.private_data = private_data,
	};
	int ret;

	if (read_only) {
		/*
		 * One read lock on the whole file instead of a lock per hash
		 * chain: with 100003 chains the per-chain fcntl calls cost 25
		 * times the walk itself (472 ms against 18 ms for 100k
		 * records).  Writers wait for the walk, as they would anyway.
		 */
		if (tdb_lockall_read(tdb) != 0) {
			return tdb_errno(tdb);
		}
		ret = tdb_traverse_read(tdb, store_tdb_traverse_cb, &state);
		tdb_unlockall_read(tdb);
	} else {
		ret = tdb_traverse(tdb, store_tdb_traverse_cb, &state);
	}
	if (ret < 0) {
		return tdb_errno(tdb);
	}
	return 0;
}

static int store_tdb_traverse(void *backend, store_traverse_fn fn,
			      void *private_data)
{
	struct store_tdb *st = talloc_get_type_abort(backend,
						     struct store_tdb);

	return store_tdb_traverse_db(st->tdb, true, fn, private_data);
}

struct store_tdb_txn_state {
	struct store_tdb *st;
};

static struct tevent_req *store_tdb_txn_send(TALLOC_CTX *mem_ctx,
					     struct tevent_context *ev,
					     void *backend,
					     struct store_txn *txn)
{
	struct tevent_req *req = NULL;
	struct store_tdb_txn_state *state = NULL;
	struct store_tdb *st = talloc_get_type_abort(backend,
						     struct store_tdb);
	int ret;

	req = tevent_req_create(mem_ctx, &state, struct store_tdb_txn_state);
	if (req == NULL) {
		return NULL;
	}
	state->st = st;
	txn->backend_state = st;

	ret = tdb_transaction_start(st->tdb);
	if (ret != 0) {
		ret = tdb_errno(st->tdb);
		D_ERR("%s: tdb_transaction_start failed, ret=%d",
		      st->path, ret);
		tevent_req_error(req, ret != 0 ? ret : EIO);
		return tevent_req_post(req, ev);
	}

	ret = txn->fn(txn, txn->private_data);
	if (ret != 0) {
		tdb_transaction_cancel(st->tdb);
		tevent_req_error(req, ret);
		return tevent_req_post(req, ev);
	}

	ret = tdb_transaction_commit(st->tdb);
	if (ret != 0) {
		ret = tdb_errno(st->tdb);
		D_ERR("%s: tdb_transaction_commit failed, ret=%d",
		      st->path, ret);
		tevent_req_error(req, ret != 0 ? ret : EIO);
		return tevent_req_post(req, ev);
	}
	tevent_req_done(req);
	return tevent_req_post(req, ev);
}

static int store_tdb_txn_recv(struct tevent_req *req)
{
	int err;

	if (tevent_req_is_errno(req, &err)) {
		return err;
	}
	return 0;
}

static struct tdb_context *txn_tdb(struct store_txn *txn)
{
	struct store_tdb *st = talloc_get_type_abort(txn->backend_state,
						     struct store_tdb);
	return st->tdb;
}

static int store_tdb_txn_fetch(struct store_txn *txn, TALLOC_CTX *mem_ctx,
			       const uint8_t *key, size_t keylen,
			       uint8_t **val, size_t *vallen)
{
	return store_tdb_fetch_db(txn_tdb(txn), mem_ctx, key, keylen, val,
				  vallen);
}

static int store_tdb_txn_store(struct store_txn *txn, const uint8_t *key,
			       size_t keylen, const uint8_t *val,
			       size_t vallen)
{
	struct tdb_context *tdb = txn_tdb(txn);
	TDB_DATA k = {
		.dptr = (uint8_t *)key,
		.dsize = keylen,
	};
	TDB_DATA d = {
		.dptr = (uint8_t *)val,
		.dsize = vallen,
	};

	if (tdb_store(tdb, k, d, TDB_REPLACE) != 0) {
		return tdb_errno(tdb);
	}
	return 0;
}

static int store_tdb_txn_delete(struct store_txn *txn, const uint8_t *key,
				size_t keylen)
{
	struct tdb_context *tdb = txn_tdb(txn);
	TDB_DATA k = {
		.dptr = (uint8_t *)key,
		.dsize = keylen,
	};

	if (tdb_delete(tdb, k) != 0) {
		int err = tdb_errno(tdb);
		return err == ENOENT ? 0 : err;
	}
	return 0;
}

static int store_tdb_txn_traverse(struct store_txn *txn,
				  store_traverse_fn fn, void *private_data)
{
	return store_tdb_traverse_db(txn_tdb(txn), false, fn, private_data);
}

static const struct store_ops store_tdb_ops = {
	.name = "tdb",
	.fetch = store_tdb_fetch,
	.traverse = store_tdb_traverse,
	.txn_send = store_tdb_txn_send,
	.txn_recv = store_tdb_txn_recv,
	.txn_fetch = store_tdb_txn_fetch,
	.txn_store = store_tdb_txn_store,
	.txn_delete = store_tdb_txn_delete,
	.txn_traverse = store_tdb_txn_traverse,
};

/*
 * tdb_open() with O_CREAT re-initialises any file whose header it cannot
 * read or whose magic is wrong: a torn or overwritten cltrack.tdb would
 * silently become an empty store, and every client would lose its right
 * to reclaim.  So only a missing or empty file (a crash while creating
 * it) is created; an existing one is opened as it is, or not at all.
 */
static struct tdb_context *store_tdb_open_file(const char *path, int *err)
{
	struct tdb_context *tdb = NULL;
	struct stat sb;
	int flags = O_RDWR;

	if (stat(path, &sb) != 0) {
		if (errno != ENOENT) {
			*err = errno;
			return NULL;
		}
		flags |= O_CREAT;
	} else if (sb.st_size == 0) {
		flags |= O_CREAT;
	}
	errno = 0;
	tdb = tdb_open(path, STORE_TDB_HASH_SIZE, TDB_DEFAULT, flags, 0600);
	if (tdb == NULL) {
		*err = errno != 0 ? errno : EIO;
	}
	return tdb;
}

int store_tdb_init(TALLOC_CTX *mem_ctx, struct tevent_context *ev,
		   const char *dir, struct store_context **result)
{
	struct store_tdb *st = NULL;
	struct stat sb;
	int ret;

	ret = mkdir(dir, 0700);
	if (ret != 0 && errno != EEXIST) {
		ret = errno;
		D_ERR("Cannot create storage directory %s, ret=%d (%s)",
		      dir, ret, strerror(ret));
		return ret;
	}
	ret = stat(dir, &sb);
	if (ret != 0 || !S_ISDIR(sb.st_mode)) {
		D_ERR("Storage directory %s is not a directory", dir);
		return ENOTDIR;
	}

	st = talloc_zero(mem_ctx, struct store_tdb);
	if (st == NULL) {
		return ENOMEM;
	}
	st->path = talloc_asprintf(st, "%s/%s", dir, STORE_TDB_NAME);
	if (st->path == NULL) {
		talloc_free(st);
		return ENOMEM;
	}

	st->tdb = store_tdb_open_file(st->path, &ret);
	if (st->tdb == NULL) {
		D_ERR("Cannot open store %s, ret=%d (%s). Check the storage "
		      "directory; restore or move the file away if it is "
		      "corrupt", st->path, ret, strerror(ret));
		talloc_free(st);
		return ret;
	}
	talloc_set_destructor(st, store_tdb_destructor);

	/* A torn file (cut short, overwritten) must not be served from */
	if (tdb_check(st->tdb, NULL, NULL) != 0) {
		D_ERR("Store %s fails its consistency check (tdb_check); "
		      "refusing to use it. Restore it from a backup, or move "
		      "it away (clients then cannot reclaim)", st->path);
		talloc_free(st);
		return EUCLEAN;
	}

	ret = store_new(mem_ctx, &store_tdb_ops, st, result);
	if (ret != 0) {
		talloc_free(st);
		return ret;
	}
	D_INFO("Opened store %s", st->path);
	return 0;
}
