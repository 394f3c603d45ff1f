/*
 * Capabilities, without libcap: prctl(PR_CAPBSET_DROP) for the bounding
 * set and capset(2) with version 3 headers for the process sets.
 */
#include <errno.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "logging.h"
#include "privs.h"

static int cap_last(void)
{
	int cap;

	/* The kernel knows its own last capability; probe up to 63 */
	for (cap = 0; cap < 64; cap++) {
		if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) < 0) {
			break;
		}
	}
	return cap - 1;
}

int privs_drop_all(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
		.pid = 0,
	};
	struct __user_cap_data_struct data[2] = {};
	int last = cap_last();
	int cap;

	for (cap = 0; cap <= last; cap++) {
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 &&
		    errno != EINVAL && errno != EPERM) {
			return errno;
		}
	}
	if (syscall(SYS_capset, &hdr, data) != 0) {
		int err = errno;
		D_ERR("capset failed, ret=%d", err);
		return err;
	}
	return 0;
}

int privs_effective_count(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
		.pid = 0,
	};
	struct __user_cap_data_struct data[2] = {};
	int n = 0;
	int i;

	if (syscall(SYS_capget, &hdr, data) != 0) {
		return -1;
	}
	for (i = 0; i < 32; i++) {
		n += (data[0].effective >> i) & 1;
		n += (data[1].effective >> i) & 1;
	}
	return n;
}
