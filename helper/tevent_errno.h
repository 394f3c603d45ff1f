/*
 * errno results for tevent requests (libtevent has no public
 * equivalent of Samba's tevent_unix.h).
 */
#ifndef CLTRACK_TEVENT_ERRNO_H
#define CLTRACK_TEVENT_ERRNO_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <tevent.h>

static inline bool tevent_req_is_errno(struct tevent_req *req, int *perr)
{
	enum tevent_req_state state;
	uint64_t err;

	if (!tevent_req_is_error(req, &state, &err)) {
		return false;
	}
	switch (state) {
	case TEVENT_REQ_TIMED_OUT:
		*perr = ETIMEDOUT;
		break;
	case TEVENT_REQ_NO_MEMORY:
		*perr = ENOMEM;
		break;
	case TEVENT_REQ_USER_ERROR:
		*perr = (int)err;
		break;
	default:
		*perr = EIO;
		break;
	}
	return true;
}

#endif
