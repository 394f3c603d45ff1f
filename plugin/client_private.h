/*
 * What the synchronous (client.c) and tevent (client_async.c) halves of
 * libcltrack share.  Not exported (libcltrack.map exports cltrack_*).
 */
#ifndef CLTRACK_CLIENT_PRIVATE_H
#define CLTRACK_CLIENT_PRIVATE_H

/**
 * @brief Connect a unix stream socket to cltrackd's control socket
 * (path NULL: the default).
 * @return 0 with *fdp set, or an errno.
 */
int client_socket_connect(const char *path, int *fdp);

#endif
