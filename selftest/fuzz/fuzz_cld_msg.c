/*
 * libFuzzer target: the cld message decoder (the kernel-fed surface).
 * A decoded message must re-encode to the same bytes for every field
 * the decoder reports, and validation must never accept an id that the
 * kernel could not have sent.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cld_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cld_msg m;
	struct cld_msg again;
	uint8_t buf[CLD_MSG_MAX_SIZE];
	size_t len;

	if (cld_msg_pull(data, size, &m) != 0) {
		return 0;
	}
	if (size != cld_msg_size(m.vers)) {
		abort();
	}
	if (cld_msg_name_valid(&m) &&
	    (m.name_len == 0 || m.name_len > CLD_NAME_MAX ||
	     m.princhash_len > CLD_PRINCHASH_SIZE)) {
		abort();
	}
	if (!cld_msg_name_valid(&m)) {
		return 0;
	}
	len = cld_msg_push(&m, buf, sizeof(buf));
	if (len != size) {
		abort();
	}
	if (cld_msg_pull(buf, len, &again) != 0 ||
	    again.xid != m.xid || again.cmd != m.cmd ||
	    again.status != m.status) {
		abort();
	}
	if (m.cmd != CLD_GET_VERSION && m.cmd != CLD_GRACE_DONE &&
	    (again.name_len != m.name_len ||
	     memcmp(again.name, m.name, m.name_len) != 0)) {
		abort();
	}
	return 0;
}
