/*
 * libFuzzer target: the control protocol decoders (what a local peer
 * can send cltrackd).  The first byte picks the decoder; whatever
 * decodes must re-encode to the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <talloc.h>

#include "cltrack/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	TALLOC_CTX *mem_ctx = NULL;
	uint8_t sel;
	const uint8_t *p = data + 1;
	size_t n = size - 1;

	if (size < 1) {
		return 0;
	}
	sel = data[0] % 5;
	mem_ctx = talloc_new(NULL);

	if (sel == 0) {
		struct cltrack_hdr h;
		uint8_t buf[CLTRACK_PROTO_HDR_SIZE];

		if (cltrack_hdr_pull(p, n, &h) == 0) {
			cltrack_hdr_push(&h, buf);
			if (memcmp(buf, p, sizeof(buf)) != 0) {
				abort();
			}
		}
	} else if (sel == 1) {
		struct cltrack_kv *kv = NULL;
		uint32_t count = 0;
		size_t used = 0;

		if (cltrack_kv_pull(mem_ctx, p, n, &kv, &count) == 0) {
			uint8_t *buf = talloc_array(mem_ctx, uint8_t, n + 1);

			/* names with a NUL inside shorten on the way back */
			if (cltrack_kv_push(kv, count, buf, n + 1, &used) ==
			    0 && used == n && memcmp(buf, p, n) != 0) {
				abort();
			}
		}
	} else if (sel == 2) {
		struct cltrack_entry *e = NULL;
		size_t count = 0;

		(void)cltrack_entries_pull(mem_ctx, p, n, &e, &count);
	} else if (sel == 3) {
		struct cltrack_client_op op;
		uint8_t buf[2 + CLTRACK_ID_MAX + 1 + 32 + 4];
		size_t used = 0;

		if (cltrack_client_op_pull(p, n, &op) == 0) {
			if (cltrack_client_op_push(&op, buf, sizeof(buf),
						   &used) != 0 ||
			    used != n || memcmp(buf, p, n) != 0) {
				abort();
			}
		}
	} else {
		struct cltrack_list_filter f;

		(void)cltrack_filter_pull(p, n, &f);
	}
	talloc_free(mem_ctx);
	return 0;
}
