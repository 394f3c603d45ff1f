/*
 * The control socket: libcltrack, the cltrack CLI and the event script
 * talk to cltrackd here (format: include/cltrack/proto.h).
 */
#ifndef CLTRACK_CONTROL_H
#define CLTRACK_CONTROL_H

#include <talloc.h>
#include <tevent.h>

struct control_context;
struct daemon_context;

/**
 * @brief Listen on path (mode 0600).  Fails with EADDRINUSE when another
 * cltrackd answers there.
 */
int control_init(TALLOC_CTX *mem_ctx, struct tevent_context *ev,
		 const char *path, struct daemon_context *daemon,
		 struct control_context **result);

/**
 * @brief EADDRINUSE when another cltrackd answers on path, else 0.
 * cltrackd asks before it opens the store or the cld pipe, so that a
 * second daemon started by mistake never touches what the first owns.
 */
int control_check_free(const char *path);

#endif
