/*
 * The local nfsd, as cltrackd sees it: the /proc/fs/nfsd grace controls
 * and the configured nfsd restart command.
 */
#ifndef CLTRACK_NFSD_H
#define CLTRACK_NFSD_H

#include <stdbool.h>
#include <talloc.h>
#include <tevent.h>

/**
 * @brief Write "Y" to <procfs_dir>/v4_end_grace: the kernel leaves its
 * NFSv4 grace period now.
 * @return 0 or an errno (EBUSY: nfsd is not running).
 */
int nfsd_end_grace(const char *procfs_dir);

/**
 * @brief Read <procfs_dir>/v4_end_grace.
 * @return 0 with *in_grace set ("N" = in grace), or an errno.
 */
int nfsd_in_grace(const char *procfs_dir, bool *in_grace);

/**
 * @brief Run command with /bin/sh, asynchronously, killing it (and its
 * process group) after timeout_secs.
 *
 * nfsd_restart_recv() returns 0 with *status = the exit status (or 128 +
 * signal), or ETIMEDOUT, or another errno when it could not run.
 */
struct tevent_req *nfsd_restart_send(TALLOC_CTX *mem_ctx,
				     struct tevent_context *ev,
				     const char *command, int timeout_secs);
int nfsd_restart_recv(struct tevent_req *req, int *status);

/**
 * @brief Read <procfs_dir>/versions in a child process (the kernel may
 * hold nfsd_mutex while nfsd starts); nfsd_versions_recv() says whether
 * NFSv4.0 is served.  ENOENT: the file could not be read.
 */
struct tevent_req *nfsd_versions_send(TALLOC_CTX *mem_ctx,
				      struct tevent_context *ev,
				      const char *procfs_dir, int timeout_secs);
int nfsd_versions_recv(struct tevent_req *req, bool *v40);

/**
 * @brief Parse the text of <procfs>/versions: *v40 is false only when it
 * says "-4.0" or "-4".  EINVAL for text that is not a version list.
 */
int nfsd_versions_parse(const char *text, bool *v40);

#endif
