/*
 * The nfsdcltrack drop-in's operations and the bulk import.
 *
 * nfsdcltrack keeps a table clients(id, time, has_session) and decides
 * everything from times (spec/knfsd-upcalls.md §8.2).  The drop-in must
 * give the kernel the same answers, so these operations keep that model
 * on our one record per client:
 *
 *   nfsdcltrack                       cltrack record
 *   id                                key "client/<id>"
 *   time                              created (Unix seconds, may be 0)
 *   has_session = 1                   RECORD_F_SESSION
 *
 *   UMH_CREATE   INSERT OR REPLACE    created := time, session flag
 *                                     replaced, epoch := C as a create
 *   UMH_REMOVE   DELETE               delete, whatever its epoch
 *   UMH_CHECK    row exists           any readable record; v4.0 caller:
 *                                     created := time
 *   UMH_GRACE_DONE T  DELETE time < T delete every record with
 *                                     created < T
 *
 * Epochs are left alone: with the usermode helper the kernel sends no
 * GraceStart, so C never moves and every record stays in epoch C,
 * which keeps grace.h's invariant "outside grace, every epoch is C".
 *
 * IMPORT stores every id that is not stored yet as a create in epoch C
 * (reclaimable at the next grace start), created := now; ids already
 * stored are left untouched, so importing twice changes nothing.
 */
#include <errno.h>
#include <string.h>

#include "grace.h"
#include "logging.h"

static int umh_create(struct store_txn *txn, struct grace_txn *gt,
		      const uint8_t *key, size_t keylen, struct grace_op *op)
{
	struct client_record old;
	struct client_record rec = {
		.epoch = gt->g.current,
		/* nfsdcltrack's time may be 0 (legacy session clients) */
		.created = (uint64_t)(op->time < 0 ? 0 : op->time),
		.pnn = gt->pnn,
		.flags = op->flags & RECORD_F_SESSION,
	};
	bool found;
	int ret;

	ret = grace_client_fetch(txn, gt, key, keylen, &old, &found);
	if (ret != 0) {
		return ret;
	}
	if (found) {
		rec.prev_epoch = (old.epoch != gt->g.current) ?
			old.epoch : old.prev_epoch;
	}
	return grace_client_store(txn, key, keylen, &rec);
}

static int umh_remove(struct store_txn *txn, struct grace_txn *gt,
		      const uint8_t *key, size_t keylen)
{
	uint8_t *val = NULL;
	size_t vallen = 0;
	int ret;

	/* Delete only what exists: removing an unknown id is not an error */
	ret = store_txn_fetch(txn, NULL, key, keylen, &val, &vallen);
	if (ret == ENOENT) {
		return 0;
	}
	if (ret != 0) {
		return ret;
	}
	talloc_free(val);
	return store_txn_delete(txn, key, keylen);
}

static int umh_check(struct store_txn *txn, struct grace_txn *gt,
		     const uint8_t *key, size_t keylen, struct grace_op *op)
{
	struct client_record rec;
	bool found;
	int ret;

	ret = grace_client_fetch(txn, gt, key, keylen, &rec, &found);
	if (ret != 0) {
		return ret;
	}
	if (!found) {
		op->status = -EACCES;
		return 0;
	}
	/*
	 * nfsdcltrack refreshes the time of a v4.0 caller only: a v4.0
	 * client never sends RECLAIM_COMPLETE, so the check is the only
	 * sign that it reclaimed, and gracedone must keep it.
	 */
	if (op->flags & RECORD_F_SESSION) {
		return 0;
	}
	rec.created = (uint64_t)(op->time < 0 ? 0 : op->time);
	return grace_client_store(txn, key, keylen, &rec);
}

struct umh_sweep {
	TALLOC_CTX *mem_ctx;
	int64_t before;
	struct umh_key {
		uint8_t *key;
		size_t keylen;
	} *keys;
	size_t n;
	uint64_t corrupt;
};

static int umh_sweep_cb(const uint8_t *key, size_t keylen,
			const uint8_t *id, size_t idlen,
			const struct client_record *rec, void *private_data)
{
	struct umh_sweep *sw = private_data;

	if (rec == NULL) {
		sw->corrupt += 1;
		return 0;
	}
	/* created is at most INT64_MAX here: times come from time(2) */
	if ((int64_t)rec->created >= sw->before) {
		return 0;
	}
	if (sw->n % 1024 == 0) {
		struct umh_key *tmp = talloc_realloc(sw->mem_ctx, sw->keys,
						     struct umh_key,
						     sw->n + 1024);
		if (tmp == NULL) {
			return -1;
		}
		sw->keys = tmp;
	}
	sw->keys[sw->n].key = talloc_memdup(sw->keys, key, keylen);
	if (sw->keys[sw->n].key == NULL) {
		return -1;
	}
	sw->keys[sw->n].keylen = keylen;
	sw->n += 1;
	return 0;
}

static int umh_grace_done(struct store_txn *txn, struct grace_txn *gt,
			  struct grace_op *op)
{
	TALLOC_CTX *tmp_ctx = talloc_new(NULL);
	struct umh_sweep sw = {
		.mem_ctx = tmp_ctx,
		.before = op->time,
	};
	size_t i;
	int ret;

	if (tmp_ctx == NULL) {
		return ENOMEM;
	}
	/* Collect first: no backend has to allow writes during a traverse */
	ret = grace_txn_clients_traverse(txn, umh_sweep_cb, &sw);
	if (ret != 0) {
		goto done;
	}
	if (sw.n != 0 && sw.keys == NULL) {
		ret = ENOMEM;
		goto done;
	}
	for (i = 0; i < sw.n; i++) {
		ret = store_txn_delete(txn, sw.keys[i].key,
				       sw.keys[i].keylen);
		if (ret != 0) {
			goto done;
		}
	}
	gt->corrupt += sw.corrupt;
	gt->purged += sw.n;
	op->counts[0] = sw.n;
	D_NOTICE("nfsdcltrack gracedone %lld: %zu records older than it "
		 "purged", (long long)op->time, sw.n);
	ret = 0;
done:
	talloc_free(tmp_ctx);
	return ret;
}

static int umh_import(struct store_txn *txn, struct grace_txn *gt,
		      struct grace_op *op)
{
	size_t i;
	int ret;

	op->counts[0] = 0;
	op->counts[1] = 0;
	for (i = 0; i < op->nitems; i++) {
		const struct grace_import_item *it = &op->items[i];
		struct client_record old;
		struct client_record rec = {
			.epoch = gt->g.current,
			.created = gt->now,
			.pnn = gt->pnn,
			.flags = it->flags &
				 (RECORD_F_SESSION | RECORD_F_LEGACY),
			.princhash_len = it->princhash_len,
		};
		uint8_t *key = NULL;
		size_t keylen;
		bool found;

		memcpy(rec.princhash, it->princhash, it->princhash_len);
		keylen = client_key_make(NULL, it->id, it->idlen, &key);
		if (keylen == 0) {
			return ENOMEM;
		}
		ret = grace_client_fetch(txn, gt, key, keylen, &old, &found);
		if (ret == 0 && found) {
			op->counts[1] += 1;
			talloc_free(key);
			continue;
		}
		if (ret == 0) {
			ret = grace_client_store(txn, key, keylen, &rec);
		}
		talloc_free(key);
		if (ret != 0) {
			return ret;
		}
		op->counts[0] += 1;
	}
	D_NOTICE("Import: %llu records stored, %llu already present",
		 (unsigned long long)op->counts[0],
		 (unsigned long long)op->counts[1]);
	return 0;
}

int grace_umh_apply(struct store_txn *txn, struct grace_txn *gt,
		    const uint8_t *key, size_t keylen, struct grace_op *op)
{
	switch (op->type) {
	case GRACE_OP_UMH_CREATE:
		return umh_create(txn, gt, key, keylen, op);
	case GRACE_OP_UMH_REMOVE:
		return umh_remove(txn, gt, key, keylen);
	case GRACE_OP_UMH_CHECK:
		return umh_check(txn, gt, key, keylen, op);
	case GRACE_OP_UMH_GRACE_DONE:
		return umh_grace_done(txn, gt, op);
	case GRACE_OP_IMPORT:
		return umh_import(txn, gt, op);
	default:
		op->status = -EOPNOTSUPP;
		return 0;
	}
}
