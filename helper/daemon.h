/*
 * What one cltrackd process is made of; shared by its modules.
 */
#ifndef CLTRACK_DAEMON_H
#define CLTRACK_DAEMON_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <tevent.h>

#include "batch.h"
#include "cld.h"
#include "config.h"
#include "control.h"
#include "store.h"

#define CLTRACK_VERSION_STRING "0.1.0"

struct daemon_context {
	struct tevent_context *ev;
	const struct cltrack_config *config;
	struct store_context *store;
	struct batch_context *batch;
	struct cld_context *cld;
	struct control_context *control;
	struct cluster_context *cluster;	/* NULL on one host */
	uint32_t pnn;
	time_t start_time;
	bool shutdown;
	uint64_t control_refused;
};

#endif
