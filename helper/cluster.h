/*
 * Cluster grace on a CTDB cluster (DESIGN.md §5, docs/grace-protocol.md).
 *
 * One cluster_context per cltrackd in CTDB mode.  It follows the CTDB
 * leader, runs the nfsd restart command when another node starts a
 * grace, writes Y to v4_end_grace when the grace this node enforces is
 * lifted, and, on the leader only, lifts the grace when the rules allow.
 */
#ifndef CLTRACK_CLUSTER_H
#define CLTRACK_CLUSTER_H

#include <stdbool.h>
#include <stdint.h>
#include <talloc.h>
#include <tevent.h>

#include "grace.h"

struct cluster_context;
struct ctdb_client;
struct daemon_context;

/* srvid of cltrack's grace messages, in the NFS server range */
#define CLTRACK_SRVID_GRACE	0xEE434c5400000001ULL

/* Events from the CTDB event script (cltrack event EVENT) */
enum cluster_event {
	CLUSTER_EVENT_TAKEIP = 1,
	CLUSTER_EVENT_RELEASEIP = 2,
	CLUSTER_EVENT_IPREALLOCATED = 3,
	CLUSTER_EVENT_RECOVERED = 4,
	CLUSTER_EVENT_MONITOR = 5,
};

struct cluster_stats {
	uint64_t safety_events;
	uint64_t safety_early_end;	/* a kernel left grace before the lift */
	uint64_t safety_nonleader_lift;	/* a lift asked of a non-leader */
	uint64_t safety_lift_without;	/* lifted past an unhealthy node */
	uint64_t lifts;
	uint64_t lift_attempts;
	uint64_t restarts;
	uint64_t restart_failures;
	uint64_t end_grace_writes;
	uint64_t messages_sent;
	uint64_t messages_received;
	uint64_t last_lift_time;
};

int cluster_init(TALLOC_CTX *mem_ctx, struct tevent_context *ev,
		 struct daemon_context *daemon, struct ctdb_client *client,
		 struct cluster_context **result);

/**
 * @brief A grace message (CLTRACK_SRVID_GRACE) from node sender.
 */
void cluster_message(struct cluster_context *cl, uint32_t sender,
		     const uint8_t *data, size_t len);

/**
 * @brief A GraceStart or GraceDone upcall of this node committed.
 */
void cluster_upcall_done(struct cluster_context *cl,
			 const struct grace_op *op,
			 const struct grace_record *g);

/**
 * @brief An event from the event script.  Returns 0, or an errno with
 * *reason set (monitor: why this node is unhealthy).
 */
int cluster_event(struct cluster_context *cl, enum cluster_event event,
		  const char *ip, const char **reason);

/**
 * @brief "cltrack grace start": start or join a grace (this node NEED).
 */
int cluster_grace_start(struct cluster_context *cl, void (*done)(int status,
			void *private_data), void *private_data);

/**
 * @brief "cltrack grace lift [--force]": refused (EPERM, and a safety
 * event) unless this node is the leader.
 */
int cluster_grace_lift(struct cluster_context *cl, bool force,
		       void (*done)(int status, void *private_data),
		       void *private_data);

uint32_t cluster_pnn(struct cluster_context *cl);
uint32_t cluster_leader(struct cluster_context *cl);
bool cluster_connected(struct cluster_context *cl);
const struct cluster_stats *cluster_get_stats(struct cluster_context *cl);

/**
 * @brief CTDB node flags of pnn from the last node map (0xffffffff if
 * unknown).
 */
uint32_t cluster_node_flags(struct cluster_context *cl, uint32_t pnn);

#endif
