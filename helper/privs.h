/*
 * Dropping privileges once cltrackd's files are open.
 */
#ifndef CLTRACK_PRIVS_H
#define CLTRACK_PRIVS_H

/**
 * @brief Drop every capability: effective, permitted, inheritable and
 * the bounding set, as nfsdcld does.
 *
 * cltrackd runs as uid 0, so it can still reopen the root-owned cld pipe
 * and its root-owned store, but it can no longer override file modes,
 * load modules or change the network.
 *
 * @return 0 or an errno.
 */
int privs_drop_all(void);

/**
 * @brief Number of capabilities still effective (for tests and status).
 */
int privs_effective_count(void);

#endif
