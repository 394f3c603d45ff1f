/*
 * Reading the client records of the trackers cltrack replaces:
 * nfsdcld's and nfsdcltrack's SQLite databases and the kernel's legacy
 * v4recovery directory (spec/knfsd-upcalls.md §8.4, §9.3, §9.5, §10).
 *
 * Sources are opened read-only and never changed.  The result is the
 * set of clients that would have been allowed to reclaim at the next
 * boot, as client ops ready for cltrack_import().
 */
#ifndef CLTRACK_IMPORT_H
#define CLTRACK_IMPORT_H

#include <stdint.h>
#include <talloc.h>

#include "cltrack/proto.h"

enum import_source {
	IMPORT_NFSDCLD,
	IMPORT_NFSDCLTRACK,
	IMPORT_V4RECOVERY,
};

struct import_result {
	const char *format;	/* what was found, e.g. "nfsdcld schema 4" */
	const char *path;	/* the file or directory read */
	struct cltrack_client_op *ops;
	size_t n;
	uint64_t rows;			/* rows or entries looked at */
	uint64_t skipped_empty;		/* NULL or empty id */
	uint64_t skipped_long;		/* id longer than 1024 bytes */
	uint64_t dropped_princhash;	/* princhash not 32 bytes: dropped */
	uint64_t skipped_entries;	/* v4recovery: not a 32-hex dir */
	const char *skipped_example;	/* one skipped entry, to show */
};

/**
 * @brief Parse "nfsdcld", "nfsdcltrack" or "v4recovery".
 * @return 0 or EINVAL.
 */
int import_source_parse(const char *name, enum import_source *src);

/**
 * @brief Read every reclaimable client of a source.
 *
 * For the SQLite sources path is the database file or the directory
 * holding main.sqlite.
 *
 * @param errmsg on failure, what is wrong, on mem_ctx
 * @return 0; ENOENT, EACCES for a path that cannot be read; EPROTO for a
 * database that is corrupt or has a schema we do not know; ENOMEM.
 */
int import_read(TALLOC_CTX *mem_ctx, enum import_source src,
		const char *path, struct import_result **result,
		char **errmsg);

#endif
