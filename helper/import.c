/*
 * Importers for nfsdcld, nfsdcltrack and v4recovery; see import.h.
 *
 * Which rows are reclaimable (spec/knfsd-upcalls.md §10):
 *
 *   nfsdcld schema 4      rec-<recovery> if recovery != 0, else
 *                         rec-<current>; ids and princhash
 *   nfsdcld schema 3      the same table, ids only
 *   nfsdcld schema 1      clients(id, time): every id
 *   nfsdcld "schema 2"    (2019 only) grace table present: as 3;
 *                         clients table present: as 1
 *   nfsdcltrack 1, 2      clients(id, time[, has_session]): every id;
 *                         has_session = 1 becomes CLTRACK_F_SESSION
 *   v4recovery            each directory named by 32 lowercase hex
 *                         digits: id "hash:" + name + NUL (38 bytes),
 *                         CLTRACK_F_LEGACY; anything else is skipped
 *
 * The schema is recognised by parameters.version and checked against
 * the tables that really exist, so a database that says one thing and
 * holds another is refused rather than half read.  rec- table names
 * are parsed as hex after "rec-", so the unpadded names of the 2019
 * bug are found too.  NULL or empty ids and ids over 1024 bytes are
 * skipped and counted; a princhash that is not 32 bytes is dropped.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "import.h"

struct import_db {
	sqlite3 *db;
	struct import_result *res;
	char **errmsg;
	TALLOC_CTX *mem_ctx;
};

int import_source_parse(const char *name, enum import_source *src)
{
	if (strcmp(name, "nfsdcld") == 0) {
		*src = IMPORT_NFSDCLD;
	} else if (strcmp(name, "nfsdcltrack") == 0) {
		*src = IMPORT_NFSDCLTRACK;
	} else if (strcmp(name, "v4recovery") == 0) {
		*src = IMPORT_V4RECOVERY;
	} else {
		return EINVAL;
	}
	return 0;
}

static int import_fail(struct import_db *idb, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int import_fail(struct import_db *idb, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	*idb->errmsg = talloc_vasprintf(idb->mem_ctx, fmt, ap);
	va_end(ap);
	return err;
}

static int add_op(struct import_result *res, const uint8_t *id, size_t idlen,
		  const uint8_t *ph, size_t phlen, uint32_t flags)
{
	struct cltrack_client_op *op = NULL;

	res->rows += 1;
	if (id == NULL || idlen == 0) {
		res->skipped_empty += 1;
		return 0;
	}
	if (idlen > CLTRACK_ID_MAX) {
		res->skipped_long += 1;
		return 0;
	}
	if (res->n % 256 == 0) {
		struct cltrack_client_op *tmp = talloc_realloc(
			res, res->ops, struct cltrack_client_op, res->n + 256);
		if (tmp == NULL) {
			return ENOMEM;
		}
		res->ops = tmp;
	}
	op = &res->ops[res->n++];
	*op = (struct cltrack_client_op) {
		.idlen = (uint16_t)idlen,
		.flags = flags,
	};
	memcpy(op->id, id, idlen);
	if (ph != NULL && phlen == CLTRACK_PRINCHASH_SIZE) {
		op->princhash_len = CLTRACK_PRINCHASH_SIZE;
		memcpy(op->princhash, ph, phlen);
	} else if (ph != NULL && phlen != 0) {
		res->dropped_princhash += 1;
	}
	return 0;
}

/* Does table have column? */
static bool has_column(struct import_db *idb, const char *table,
		       const char *column)
{
	sqlite3_stmt *st = NULL;
	char *sql = NULL;
	bool found = false;

	sql = sqlite3_mprintf("PRAGMA table_info(\"%w\")", table);
	if (sql == NULL) {
		return false;
	}
	if (sqlite3_prepare_v2(idb->db, sql, -1, &st, NULL) == SQLITE_OK) {
		while (sqlite3_step(st) == SQLITE_ROW) {
			const char *name = (const char *)sqlite3_column_text(
				st, 1);

			if (name != NULL && strcmp(name, column) == 0) {
				found = true;
			}
		}
	}
	sqlite3_finalize(st);
	sqlite3_free(sql);
	return found;
}

struct db_tables {
	bool parameters, clients, grace;
	/* rec- tables by epoch */
	struct rec_table {
		char *name;
		uint64_t epoch;
	} *recs;
	size_t nrecs;
};

static int read_tables(struct import_db *idb, struct db_tables *t)
{
	sqlite3_stmt *st = NULL;
	int rc;

	rc = sqlite3_prepare_v2(idb->db, "SELECT name FROM sqlite_master "
				"WHERE type = 'table'", -1, &st, NULL);
	if (rc != SQLITE_OK) {
		return import_fail(idb, EPROTO, "%s is not a readable SQLite "
				   "database: %s", idb->res->path,
				   sqlite3_errmsg(idb->db));
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		char *end = NULL;
		unsigned long long epoch;

		if (name == NULL) {
			continue;
		}
		if (strcmp(name, "parameters") == 0) {
			t->parameters = true;
		} else if (strcmp(name, "clients") == 0) {
			t->clients = true;
		} else if (strcmp(name, "grace") == 0) {
			t->grace = true;
		} else if (strncmp(name, "rec-", 4) == 0 && name[4] != '\0') {
			errno = 0;
			epoch = strtoull(name + 4, &end, 16);
			if (errno != 0 || *end != '\0' ||
			    strchr(name + 4, '-') != NULL) {
				continue;
			}
			t->recs = talloc_realloc(idb->mem_ctx, t->recs,
						 struct rec_table,
						 t->nrecs + 1);
			if (t->recs == NULL) {
				sqlite3_finalize(st);
				return ENOMEM;
			}
			t->recs[t->nrecs].name = talloc_strdup(t->recs, name);
			t->recs[t->nrecs].epoch = epoch;
			t->nrecs += 1;
		}
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		return import_fail(idb, EPROTO, "%s is not a readable SQLite "
				   "database: %s", idb->res->path,
				   sqlite3_errmsg(idb->db));
	}
	return 0;
}

static int read_version(struct import_db *idb, long *version)
{
	sqlite3_stmt *st = NULL;
	const char *v = NULL;
	char *end = NULL;
	int rc;

	rc = sqlite3_prepare_v2(idb->db, "SELECT value FROM parameters "
				"WHERE key = 'version'", -1, &st, NULL);
	if (rc != SQLITE_OK) {
		return import_fail(idb, EPROTO, "%s: cannot read the schema "
				   "version: %s", idb->res->path,
				   sqlite3_errmsg(idb->db));
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		v = (const char *)sqlite3_column_text(st, 0);
	}
	if (v == NULL) {
		sqlite3_finalize(st);
		return import_fail(idb, EPROTO, "%s: parameters has no "
				   "version", idb->res->path);
	}
	*version = strtol(v, &end, 10);
	if (end == v || *end != '\0') {
		sqlite3_finalize(st);
		return import_fail(idb, EPROTO, "%s: schema version \"%s\" "
				   "is not a number", idb->res->path, v);
	}
	sqlite3_finalize(st);
	return 0;
}

/* Every row of "SELECT id[, princhash][, has_session] FROM table" */
static int read_rows(struct import_db *idb, const char *table,
		     bool princhash, bool has_session)
{
	sqlite3_stmt *st = NULL;
	char *sql = NULL;
	int rc;
	int ret = 0;

	sql = sqlite3_mprintf("SELECT id, %s, %s FROM \"%w\"",
			      princhash ? "princhash" : "NULL",
			      has_session ? "has_session" : "0", table);
	if (sql == NULL) {
		return ENOMEM;
	}
	rc = sqlite3_prepare_v2(idb->db, sql, -1, &st, NULL);
	sqlite3_free(sql);
	if (rc != SQLITE_OK) {
		return import_fail(idb, EPROTO, "%s: cannot read table %s: %s",
				   idb->res->path, table,
				   sqlite3_errmsg(idb->db));
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const uint8_t *id = sqlite3_column_blob(st, 0);
		int idlen = sqlite3_column_bytes(st, 0);
		const uint8_t *ph = sqlite3_column_blob(st, 1);
		int phlen = sqlite3_column_bytes(st, 1);
		uint32_t flags = sqlite3_column_int64(st, 2) == 1 ?
				 CLTRACK_F_SESSION : 0;

		ret = add_op(idb->res, id, (size_t)idlen, ph, (size_t)phlen,
			     flags);
		if (ret != 0) {
			break;
		}
	}
	sqlite3_finalize(st);
	if (ret != 0) {
		return ret;
	}
	if (rc != SQLITE_DONE) {
		return import_fail(idb, EPROTO, "%s: reading table %s failed: "
				   "%s", idb->res->path, table,
				   sqlite3_errmsg(idb->db));
	}
	return 0;
}

static int read_grace(struct import_db *idb, uint64_t *current,
		      uint64_t *recovery)
{
	sqlite3_stmt *st = NULL;
	int rows = 0;
	int rc;

	rc = sqlite3_prepare_v2(idb->db, "SELECT current, recovery FROM "
				"grace", -1, &st, NULL);
	if (rc != SQLITE_OK) {
		return import_fail(idb, EPROTO, "%s: cannot read the grace "
				   "table: %s", idb->res->path,
				   sqlite3_errmsg(idb->db));
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		*current = (uint64_t)sqlite3_column_int64(st, 0);
		*recovery = (uint64_t)sqlite3_column_int64(st, 1);
		rows += 1;
	}
	sqlite3_finalize(st);
	if (rows != 1) {
		return import_fail(idb, EPROTO, "%s: the grace table has %d "
				   "rows, not 1", idb->res->path, rows);
	}
	return 0;
}

static int read_nfsdcld_epochs(struct import_db *idb,
			       const struct db_tables *t, long version)
{
	uint64_t current = 0, recovery = 0, epoch;
	const char *table = NULL;
	bool princhash;
	size_t i;
	int ret;

	ret = read_grace(idb, &current, &recovery);
	if (ret != 0) {
		return ret;
	}
	/* The clients allowed to reclaim at the next start (§10) */
	epoch = recovery != 0 ? recovery : current;
	for (i = 0; i < t->nrecs; i++) {
		if (t->recs[i].epoch == epoch) {
			table = t->recs[i].name;
		}
	}
	if (table == NULL) {
		return import_fail(idb, EPROTO, "%s: nfsdcld schema %ld with "
				   "epochs current %llu, recovery %llu has no "
				   "table rec-%016llx", idb->res->path,
				   version, (unsigned long long)current,
				   (unsigned long long)recovery,
				   (unsigned long long)epoch);
	}
	princhash = has_column(idb, table, "princhash");
	if (version == 4 && !princhash) {
		return import_fail(idb, EPROTO, "%s: nfsdcld schema 4 but "
				   "table %s has no princhash column",
				   idb->res->path, table);
	}
	idb->res->format = talloc_asprintf(
		idb->mem_ctx, "nfsdcld schema %ld, %s epoch %llu (table %s)",
		version, recovery != 0 ? "recovery" : "current",
		(unsigned long long)epoch, table);
	return read_rows(idb, table, princhash, false);
}

static int read_nfsdcld(struct import_db *idb, const struct db_tables *t)
{
	long version = 0;
	int ret;

	if (!t->parameters) {
		return import_fail(idb, EPROTO, "%s is not an nfsdcld "
				   "database (no parameters table)",
				   idb->res->path);
	}
	ret = read_version(idb, &version);
	if (ret != 0) {
		return ret;
	}
	if (version == 2) {
		/* Only in 2019 nfs-utils: tell the layout by its tables */
		version = t->grace ? 3 : t->clients ? 1 : 2;
	}
	switch (version) {
	case 1:
		if (!t->clients) {
			break;
		}
		idb->res->format = talloc_strdup(idb->mem_ctx,
						 "nfsdcld schema 1 (clients)");
		return read_rows(idb, "clients", false, false);
	case 3:
	case 4:
		if (!t->grace) {
			break;
		}
		return read_nfsdcld_epochs(idb, t, version);
	default:
		return import_fail(idb, EPROTO, "%s: nfsdcld schema version "
				   "%ld is not known to this cltrack; refusing "
				   "to guess", idb->res->path, version);
	}
	return import_fail(idb, EPROTO, "%s: nfsdcld schema %ld but the "
			   "tables do not match it", idb->res->path, version);
}

static int read_nfsdcltrack(struct import_db *idb, const struct db_tables *t)
{
	long version = 0;
	bool session;
	int ret;

	if (!t->parameters || !t->clients) {
		return import_fail(idb, EPROTO, "%s is not an nfsdcltrack "
				   "database (needs tables parameters and "
				   "clients)", idb->res->path);
	}
	ret = read_version(idb, &version);
	if (ret != 0) {
		return ret;
	}
	if (version != 1 && version != 2) {
		return import_fail(idb, EPROTO, "%s: nfsdcltrack schema "
				   "version %ld is not known; refusing to "
				   "guess", idb->res->path, version);
	}
	session = has_column(idb, "clients", "has_session");
	if (version == 2 && !session) {
		return import_fail(idb, EPROTO, "%s: nfsdcltrack schema 2 "
				   "without clients.has_session",
				   idb->res->path);
	}
	idb->res->format = talloc_asprintf(idb->mem_ctx,
					   "nfsdcltrack schema %ld", version);
	return read_rows(idb, "clients", false, session);
}

static int import_sqlite(TALLOC_CTX *mem_ctx, enum import_source src,
			 struct import_result *res, char **errmsg)
{
	struct import_db idb = {
		.res = res,
		.errmsg = errmsg,
		.mem_ctx = res,
	};
	struct db_tables t = {};
	struct stat st;
	char *uri = NULL;
	int rc;
	int ret;

	if (stat(res->path, &st) == 0 && S_ISDIR(st.st_mode)) {
		res->path = talloc_asprintf(res, "%s/main.sqlite", res->path);
		if (res->path == NULL) {
			return ENOMEM;
		}
	}
	if (stat(res->path, &st) != 0) {
		ret = errno;
		return import_fail(&idb, ret, "%s: %s", res->path,
				   strerror(ret));
	}
	if (!S_ISREG(st.st_mode)) {
		return import_fail(&idb, EPROTO, "%s is not a regular file",
				   res->path);
	}
	/* Read-only: an import never changes its source */
	uri = sqlite3_mprintf("file:%s?mode=ro", res->path);
	if (uri == NULL) {
		return ENOMEM;
	}
	rc = sqlite3_open_v2(uri, &idb.db, SQLITE_OPEN_READONLY |
			     SQLITE_OPEN_URI, NULL);
	sqlite3_free(uri);
	if (rc != SQLITE_OK) {
		ret = import_fail(&idb, EACCES, "cannot open %s: %s",
				  res->path, idb.db != NULL ?
				  sqlite3_errmsg(idb.db) : "out of memory");
		sqlite3_close(idb.db);
		return ret;
	}
	sqlite3_busy_timeout(idb.db, 10000);
	ret = read_tables(&idb, &t);
	if (ret == 0 && src == IMPORT_NFSDCLD) {
		ret = read_nfsdcld(&idb, &t);
	} else if (ret == 0) {
		ret = read_nfsdcltrack(&idb, &t);
	}
	sqlite3_close(idb.db);
	talloc_free(t.recs);
	return ret;
}

static bool is_md5_name(const char *name)
{
	size_t i;

	for (i = 0; name[i] != '\0'; i++) {
		if (!((name[i] >= '0' && name[i] <= '9') ||
		      (name[i] >= 'a' && name[i] <= 'f'))) {
			return false;
		}
	}
	return i == 32;
}

static int import_v4recovery(struct import_result *res, char **errmsg)
{
	struct dirent *de = NULL;
	DIR *dir = NULL;
	int ret = 0;

	dir = opendir(res->path);
	if (dir == NULL) {
		ret = errno;
		*errmsg = talloc_asprintf(res, "cannot read directory %s: %s",
					  res->path, strerror(ret));
		return ret;
	}
	res->format = "v4recovery directory";
	while ((de = readdir(dir)) != NULL) {
		/* "hash:" + 32 hex digits + NUL, as nfsdcld migrates it */
		uint8_t id[5 + 32 + 1];
		struct stat st;

		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0) {
			continue;
		}
		if (!is_md5_name(de->d_name) ||
		    fstatat(dirfd(dir), de->d_name, &st,
			    AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISDIR(st.st_mode)) {
			res->rows += 1;
			res->skipped_entries += 1;
			if (res->skipped_example == NULL) {
				res->skipped_example = talloc_strdup(
					res, de->d_name);
			}
			continue;
		}
		memcpy(id, "hash:", 5);
		memcpy(id + 5, de->d_name, 32);
		id[37] = '\0';
		ret = add_op(res, id, sizeof(id), NULL, 0, CLTRACK_F_LEGACY);
		if (ret != 0) {
			break;
		}
	}
	closedir(dir);
	return ret;
}

int import_read(TALLOC_CTX *mem_ctx, enum import_source src,
		const char *path, struct import_result **result,
		char **errmsg)
{
	struct import_result *res = NULL;
	int ret;

	*errmsg = NULL;
	res = talloc_zero(mem_ctx, struct import_result);
	if (res == NULL) {
		return ENOMEM;
	}
	res->path = talloc_strdup(res, path);
	if (res->path == NULL) {
		talloc_free(res);
		return ENOMEM;
	}
	if (src == IMPORT_V4RECOVERY) {
		ret = import_v4recovery(res, errmsg);
	} else {
		ret = import_sqlite(mem_ctx, src, res, errmsg);
	}
	if (ret != 0) {
		if (*errmsg != NULL) {
			talloc_steal(mem_ctx, *errmsg);
		}
		talloc_free(res);
		return ret;
	}
	*result = res;
	return 0;
}
