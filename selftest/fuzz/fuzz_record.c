/*
 * libFuzzer target: the record decoders (what a damaged store or a
 * misbehaving cluster node can put in front of cltrackd).  What decodes
 * must re-encode to the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct client_record rec;
	static struct grace_record g;
	static uint8_t buf[RECORD_GRACE_FIXED +
			   RECORD_MAX_MEMBERS * RECORD_MEMBER_SIZE];
	size_t len;

	if (client_record_pull(data, size, &rec) == 0) {
		/* the reserved bytes (3, 12-15) are written back as zero */
		len = client_record_push(&rec, buf, sizeof(buf));
		if (len != size || memcmp(buf, data, 3) != 0 ||
		    memcmp(buf + 4, data + 4, 8) != 0 ||
		    memcmp(buf + 16, data + 16, size - 16) != 0) {
			abort();
		}
	}
	if (grace_record_pull(data, size, &g) == 0) {
		/* the reserved bytes (1-3) are written back as zero */
		len = grace_record_push(&g, buf, sizeof(buf));
		if (len != size || buf[0] != data[0] ||
		    memcmp(buf + 4, data + 4, size - 4) != 0) {
			abort();
		}
	}
	return 0;
}
