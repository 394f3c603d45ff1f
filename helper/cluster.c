/*
 * Cluster grace on CTDB; see cluster.h and docs/grace-protocol.md.
 *
 * Everything here is driven by three things: grace messages from other
 * nodes, the event script's events, and a one-second tick.  Messages are
 * best effort (CTDB drops them for disconnected nodes and never queues),
 * so the tick re-reads the grace record from the local copy of the
 * database and does whatever a lost message would have triggered.  The
 * local copy is current: a commit returns only after every active node
 * has written it.
 *
 * Grace message (srvid CLTRACK_SRVID_GRACE; the ctdb client puts the
 * sender's PNN in front of it), little-endian:
 *   off  size  field
 *   0    1     type    CLUSTER_MSG_STARTED | CLUSTER_MSG_LIFTED |
 *                      CLUSTER_MSG_RECLAIMED | CLUSTER_MSG_MEMBER
 *   1    8     epoch   the recovery epoch R it is about
 *
 * RECLAIMED goes to the leader only: a client of epoch R reclaimed, so
 * the fast path may hold now.  The leader looks again within
 * CLUSTER_RECLAIM_CHECK_MS, at most once per that interval, rather than
 * waiting for its tick: the lift follows the last reclaim closely.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "bytes.h"
#include "cld_msg.h"
#include "cluster.h"
#include "ctdb/ctdb_client.h"
#include "daemon.h"
#include "logging.h"
#include "nfsd.h"

#define CLUSTER_TICK_SECS	1
#define CLUSTER_MSG_SIZE	9
#define CLUSTER_NODEMAP_MS	5000
#define CLUSTER_RECLAIM_CHECK_MS	100

enum cluster_msg_type {
	CLUSTER_MSG_STARTED = 1,
	CLUSTER_MSG_LIFTED = 2,
	CLUSTER_MSG_RECLAIMED = 3,
	CLUSTER_MSG_MEMBER = 4,		/* a member's flags changed */
};

struct cluster_context {
	struct tevent_context *ev;
	struct daemon_context *d;
	struct ctdb_client *client;
	struct tevent_timer *tick;
	struct tevent_timer *soon;	/* a check after a reclaim */

	uint64_t joined_epoch;	/* R of the grace this node's nfsd is in */
	uint64_t restart_epoch;	/* R this node's nfsd was restarted for */
	bool restarting;	/* from NFSD_STOPPED to the command's end */
	time_t not_enforcing_since;
	bool lift_pending;
	struct grace_record lift_before;	/* the record a lift saw */
	uint64_t lift_remaining;	/* epoch-R records it saw (clients
					   that never reclaimed) */
	struct tevent_req *nodemap_req;
	struct ctdb_nodemap *nodemap;
	struct tevent_req *ips_req;
	struct ctdb_public_ip_list *ips;	/* NULL: not known yet */
	bool ips_failing;
	struct tevent_req *versions_req;
	uint64_t versions_start;	/* GraceStart count when last read */
	int v40;			/* -1 unknown, 0, 1 */
	uint64_t unhosted_logged;	/* R whose un-hosted address was told */

	struct cluster_stats stats;
};

/* An operation submitted for the control socket or an event */
struct cluster_call {
	struct cluster_context *cl;
	void (*after)(struct cluster_context *cl, const struct grace_op *op,
		      const struct grace_record *g);
	void (*done)(int status, void *private_data);
	void *private_data;
};

static void cluster_tick(struct tevent_context *ev, struct tevent_timer *te,
			 struct timeval now, void *private_data);
static void cluster_check(struct cluster_context *cl);
static void cluster_restart_done(struct tevent_req *subreq);
static void cluster_nodemap_done(struct tevent_req *subreq);
static void cluster_ips_done(struct tevent_req *subreq);
static void cluster_lift_done(struct grace_op *op,
			      const struct grace_record *g,
			      void *private_data);

static void cluster_msg_push(uint8_t buf[CLUSTER_MSG_SIZE], uint8_t type,
			     uint64_t epoch)
{
	struct cursor c;

	cur_init(&c, buf, CLUSTER_MSG_SIZE);
	le_push8(&c, type);
	le_push64(&c, epoch);
}

static int cluster_msg_pull(const uint8_t *buf, size_t len, uint8_t *type,
			    uint64_t *epoch)
{
	struct cursor c;

	cur_init(&c, buf, len);
	*type = le_pull8(&c);
	*epoch = le_pull64(&c);
	if (c.err || c.ofs != len) {
		return EPROTO;
	}
	return 0;
}

static void cluster_send(struct cluster_context *cl, uint32_t dest,
			 uint8_t type, uint64_t epoch)
{
	uint8_t buf[CLUSTER_MSG_SIZE];
	int ret;

	cluster_msg_push(buf, type, epoch);
	ret = ctdb_client_message_send(cl->client, dest, CLTRACK_SRVID_GRACE,
				       buf, sizeof(buf));
	if (ret != 0) {
		/* The other nodes' ticks find the change anyway */
		D_WARNING("Cannot send grace message %u for epoch %llu, "
			  "ret=%d", type, (unsigned long long)epoch, ret);
		return;
	}
	cl->stats.messages_sent += 1;
}

static void cluster_broadcast(struct cluster_context *cl, uint8_t type,
			      uint64_t epoch)
{
	cluster_send(cl, CTDB_BROADCAST_CONNECTED, type, epoch);
}

static void cluster_soon(struct tevent_context *ev, struct tevent_timer *te,
			 struct timeval now, void *private_data)
{
	struct cluster_context *cl = talloc_get_type_abort(
		private_data, struct cluster_context);

	cl->soon = NULL;
	cluster_check(cl);
}

void cluster_message(struct cluster_context *cl, uint32_t sender,
		     const uint8_t *data, size_t len)
{
	uint8_t type;
	uint64_t epoch;

	if (cluster_msg_pull(data, len, &type, &epoch) != 0) {
		D_WARNING("Malformed grace message (%zu bytes) from node %u",
			  len, sender);
		return;
	}
	cl->stats.messages_received += 1;
	if (type == CLUSTER_MSG_RECLAIMED) {
		if (cl->soon == NULL) {
			cl->soon = tevent_add_timer(
				cl->ev, cl,
				tevent_timeval_current_ofs(
					0, CLUSTER_RECLAIM_CHECK_MS * 1000),
				cluster_soon, cl);
		}
		return;
	}
	D_INFO("Grace %s of epoch %llu announced by node %u",
	       type == CLUSTER_MSG_STARTED ? "start" :
	       type == CLUSTER_MSG_LIFTED ? "lift" :
	       type == CLUSTER_MSG_MEMBER ? "membership change" : "?",
	       (unsigned long long)epoch, sender);
	cluster_check(cl);
}

static void cluster_schedule_tick(struct cluster_context *cl)
{
	TALLOC_FREE(cl->tick);
	cl->tick = tevent_add_timer(cl->ev, cl,
				    tevent_timeval_current_ofs(
					    CLUSTER_TICK_SECS, 0),
				    cluster_tick, cl);
}

static void cluster_tick(struct tevent_context *ev, struct tevent_timer *te,
			 struct timeval now, void *private_data)
{
	struct cluster_context *cl = talloc_get_type_abort(
		private_data, struct cluster_context);

	cl->tick = NULL;
	cluster_check(cl);
	cluster_schedule_tick(cl);
}

static void cluster_stopped_done(struct grace_op *op,
				 const struct grace_record *g,
				 void *private_data);

/* NFSD_STOPPED committed: re-creates went back to epoch R, tell the leader */
static void cluster_gone_done(struct grace_op *op,
			      const struct grace_record *g,
			      void *private_data)
{
	struct cluster_context *cl = talloc_get_type_abort(
		private_data, struct cluster_context);

	if (op->status == 0 && g != NULL && op->purged > 0) {
		cluster_broadcast(cl, CLUSTER_MSG_MEMBER, g->recovery);
	}
}

/*
 * This node's nfsd must enter the running grace, or drop its state:
 * restart it.  First grace_nfsd_stopped (GRACE_OP_NFSD_STOPPED): the
 * state it loses no longer counts as reclaimed; then the command.
 */
static void cluster_restart_nfsd(struct cluster_context *cl, uint64_t epoch)
{
	const struct cltrack_config *cfg = cl->d->config;
	struct grace_op op = {
		.type = GRACE_OP_NFSD_STOPPED,
	};
	int ret;

	cl->restart_epoch = epoch;
	if (cl->restarting) {
		return;
	}
	if (cfg->restart_command == NULL || cfg->restart_command[0] == '\0') {
		D_ERR("Cluster grace of epoch %llu needs this node's nfsd in "
		      "grace, but no [nfsd] restart command is configured; "
		      "the monitor event will fail", (unsigned long long)epoch);
		return;
	}
	ret = batch_submit(cl->d->batch, &op, cluster_stopped_done, cl);
	if (ret != 0) {
		cl->stats.restart_failures += 1;
		cl->restart_epoch = 0;
		D_ERR("Cannot record that nfsd restarts, ret=%d; the next "
		      "check tries again", ret);
		return;
	}
	cl->restarting = true;
}

static void cluster_stopped_done(struct grace_op *op,
				 const struct grace_record *g,
				 void *private_data)
{
	struct cluster_context *cl = talloc_get_type_abort(
		private_data, struct cluster_context);
	const struct cltrack_config *cfg = cl->d->config;
	struct tevent_req *req = NULL;

	if (cld_nfsd_starting(cl->d->cld)) {
		/*
		 * nfsd started meanwhile (by its service manager, say): its
		 * GraceStart, queued after this, joins the grace.  Restarting
		 * it now would only wait for its start (nfsd_mutex).
		 */
		cl->restarting = false;
		D_NOTICE("nfsd is starting already; not restarting it");
		return;
	}
	if (op->status != 0 || g == NULL) {
		cl->restarting = false;
		cl->restart_epoch = 0;
		cl->stats.restart_failures += 1;
		D_ERR("Cannot record that nfsd restarts (status %d); the next "
		      "check tries again", op->status);
		return;
	}
	cluster_gone_done(op, g, cl);
	cl->joined_epoch = 0;
	req = nfsd_restart_send(cl, cl->ev, cfg->restart_command,
				cfg->restart_timeout);
	if (req == NULL) {
		cl->restarting = false;
		cl->stats.restart_failures += 1;
		return;
	}
	tevent_req_set_callback(req, cluster_restart_done, cl);
	cl->stats.restarts += 1;
}

static void cluster_restart_done(struct tevent_req *subreq)
{
	struct cluster_context *cl = tevent_req_callback_data(
		subreq, struct cluster_context);
	int status = 0;
	int ret;

	ret = nfsd_restart_recv(subreq, &status);
	TALLOC_FREE(subreq);
	cl->restarting = false;
	if (ret != 0 || status != 0) {
		cl->stats.restart_failures += 1;
		D_ERR("nfsd restart for the cluster grace failed (ret=%d, "
		      "status=%d); the monitor event will report this node "
		      "unhealthy if its nfsd does not enter grace", ret,
		      status);
	}
}

/* The grace this node's nfsd is in was lifted: end the kernel's grace */
static void cluster_end_kernel_grace(struct cluster_context *cl)
{
	const char *procfs = cl->d->config->procfs_dir;
	bool in_grace = false;
	int ret;

	ret = nfsd_in_grace(procfs, &in_grace);
	if (ret == 0 && !in_grace) {
		return;
	}
	ret = nfsd_end_grace(procfs);
	if (ret == 0) {
		cl->stats.end_grace_writes += 1;
		D_NOTICE("Cluster grace lifted: wrote Y to %s/v4_end_grace",
			 procfs);
	}
}

static void cluster_try_lift(struct cluster_context *cl,
			     const struct grace_record *g);

/*
 * The node map and the public address map, for the barrier, the lift
 * and "cltrack members", at most one request of each in flight
 */
static void cluster_refresh_nodemap(struct cluster_context *cl)
{
	if (cl->nodemap_req == NULL) {
		cl->nodemap_req = ctdb_client_nodemap_send(
			cl, cl->ev, cl->client, CLUSTER_NODEMAP_MS);
		if (cl->nodemap_req != NULL) {
			tevent_req_set_callback(cl->nodemap_req,
						cluster_nodemap_done, cl);
		}
	}
	if (cl->ips_req == NULL) {
		cl->ips_req = ctdb_client_public_ips_send(
			cl, cl->ev, cl->client, CLUSTER_NODEMAP_MS);
		if (cl->ips_req != NULL) {
			tevent_req_set_callback(cl->ips_req,
						cluster_ips_done, cl);
		}
	}
}

static void cluster_versions_done(struct tevent_req *subreq)
{
	struct cluster_context *cl = tevent_req_callback_data(
		subreq, struct cluster_context);
	bool v40 = true;
	int ret;

	ret = nfsd_versions_recv(subreq, &v40);
	TALLOC_FREE(subreq);
	cl->versions_req = NULL;
	if (cld_get_stats(cl->d->cld)->upcalls[CLD_GRACE_START] !=
	    cl->versions_start) {
		return;		/* read for an nfsd start that is over */
	}
	if (ret != 0) {
		D_INFO("Cannot read nfsd's versions, ret=%d; counting NFSv4.0 "
		       "as served", ret);
		v40 = true;
	}
	if (cl->v40 != (int)v40) {
		if (v40) {
			D_NOTICE("nfsd serves NFSv4.0: a v4.0 client's "
				 "reclaim does not let the cluster grace end "
				 "before its deadline (rpc.nfsd -N 4.0 lets it)");
		} else {
			D_NOTICE("nfsd serves no NFSv4.0: the cluster grace "
				 "may end as soon as every client reclaimed");
		}
	}
	cl->v40 = v40;
	cld_set_v40(cl->d->cld, v40);
}

/*
 * After each nfsd start (once it serves), learn whether it serves
 * NFSv4.0 (grace_reclaim_finished: only v4.1+ reclaims are finished).
 */
static void cluster_refresh_versions(struct cluster_context *cl)
{
	const struct cld_stats *cs = cld_get_stats(cl->d->cld);
	uint64_t starts = cs->upcalls[CLD_GRACE_START];

	/* never while nfsd starts: the read would wait for nfsd_mutex */
	if (cl->versions_req != NULL || !cs->connected ||
	    cld_nfsd_starting(cl->d->cld) || cl->restarting ||
	    (cl->v40 != -1 && starts == cl->versions_start)) {
		return;
	}
	cl->versions_start = starts;
	cl->versions_req = nfsd_versions_send(cl, cl->ev,
					      cl->d->config->procfs_dir, 10);
	if (cl->versions_req != NULL) {
		tevent_req_set_callback(cl->versions_req,
					cluster_versions_done, cl);
	}
}

static void cluster_check(struct cluster_context *cl)
{
	struct grace_record g;
	const struct grace_member *m = NULL;
	bool enforcing;
	int ret;

	if (!ctdb_client_connected(cl->client)) {
		return;
	}
	cluster_refresh_nodemap(cl);
	ret = grace_read(cl->d->store, &g);
	if (ret != 0) {
		return;
	}
	m = grace_member_find(&g, cluster_pnn(cl));
	enforcing = (m != NULL && (m->flags & GRACE_MEMBER_ENFORCING));

	if (cl->joined_epoch != 0 && g.recovery != cl->joined_epoch) {
		cl->joined_epoch = 0;
		cluster_end_kernel_grace(cl);
	}

	if (g.recovery != 0 && !enforcing) {
		if (cl->not_enforcing_since == 0) {
			cl->not_enforcing_since = time(NULL);
		}
		/* not while nfsd starts: its GraceStart joins (§5.13) */
		if (!cl->restarting && cl->restart_epoch != g.recovery &&
		    !cld_nfsd_starting(cl->d->cld)) {
			cluster_restart_nfsd(cl, g.recovery);
		}
	} else {
		cl->not_enforcing_since = 0;
	}

	if (g.recovery != 0 && cluster_leader(cl) == cluster_pnn(cl)) {
		cluster_try_lift(cl, &g);
	}
	cld_barrier_poll(cl->d->cld);
	cluster_refresh_versions(cl);
}

static bool cluster_hosts_address(struct cluster_context *cl, uint32_t pnn)
{
	uint32_t i;

	for (i = 0; cl->ips != NULL && i < cl->ips->num; i++) {
		if (cl->ips->ip[i].pnn == pnn) {
			return true;
		}
	}
	return false;
}

/*
 * Model predicate grace_member_blocks: the nodes CTDB counts active that
 * are healthy and enabled, or still host a public address (a slow node
 * marked unhealthy keeps its clients until its addresses move).  Fills
 * op->required, and op->hosts / op->unhosted from the public address map
 * (grace_addresses_enforced).  False while the node map is unknown, or
 * the address map when need_ips (the lift: without it, it cannot tell
 * where the clients are; the barrier then goes by the node map alone).
 */
static bool cluster_blocking(struct cluster_context *cl, struct grace_op *op,
			     bool need_ips)
{
	static const struct ctdb_public_ip_list none = { .num = 0 };
	const struct ctdb_public_ip_list *ips = cl->ips;
	uint32_t i;

	op->nrequired = 0;
	op->nhosts = 0;
	op->unhosted = false;
	if (ips == NULL && !need_ips) {
		ips = &none;
	}
	if (cl->nodemap == NULL || ips == NULL) {
		return false;
	}
	for (i = 0; i < cl->nodemap->num; i++) {
		const struct ctdb_node *n = &cl->nodemap->nodes[i];
		bool serving = (n->flags & (CTDB_NODE_UNHEALTHY |
					    CTDB_NODE_PERMANENTLY_DISABLED)) == 0;

		if (n->flags & CTDB_NODE_INACTIVE) {
			continue;
		}
		if ((serving || cluster_hosts_address(cl, n->pnn)) &&
		    op->nrequired < RECORD_MAX_MEMBERS) {
			op->required[op->nrequired++] = n->pnn;
		}
	}
	for (i = 0; i < ips->num; i++) {
		uint32_t pnn = ips->ip[i].pnn;
		uint32_t j;

		if (pnn == CTDB_UNKNOWN_PNN) {
			op->unhosted = true;
			continue;
		}
		for (j = 0; j < op->nhosts && op->hosts[j] != pnn; j++) {
		}
		if (j == op->nhosts && op->nhosts < RECORD_MAX_MEMBERS) {
			op->hosts[op->nhosts++] = pnn;
		}
	}
	return true;
}

/*
 * Model action grace_barrier_release: may the held GraceStart reply of a
 * list of epoch go?  Yes once every blocking node enforces that grace, or
 * when no grace runs any more.  A reply held for an older grace goes too:
 * a real kernel cannot be restarted while it waits for the reply (the
 * nfsd start holds its mutex), and once it serves, in grace, the check
 * restarts it into the running one.
 */
static bool cluster_barrier_release(uint64_t epoch, void *private_data)
{
	struct cluster_context *cl = talloc_get_type_abort(
		private_data, struct cluster_context);
	struct grace_op op = {
		.type = GRACE_OP_LIFT,
	};
	struct grace_record g;

	if (grace_read(cl->d->store, &g) != 0) {
		return false;
	}
	if (g.recovery != 0 && g.recovery == epoch &&
	    (!cluster_blocking(cl, &op, false) ||
	     !grace_cluster_enforcing(&g, op.required, op.nrequired))) {
		return false;
	}
	/* nfsd serves next: learn its versions right after (§ v4.0) */
	if (cl->soon == NULL) {
		cl->soon = tevent_add_timer(cl->ev, cl, tevent_timeval_zero(),
					    cluster_soon, cl);
	}
	return true;
}

/* Nodes CTDB reports inactive: their nfsd lost its state */
static void cluster_fill_lost(struct cluster_context *cl,
			      struct grace_op *op)
{
	uint32_t i;

	op->nlost = 0;
	for (i = 0; cl->nodemap != NULL && i < cl->nodemap->num; i++) {
		if (cl->nodemap->nodes[i].flags & CTDB_NODE_INACTIVE) {
			op->lost[op->nlost++] = cl->nodemap->nodes[i].pnn;
		}
	}
}

/*
 * An address that no node hosts holds the grace: its clients cannot
 * reclaim anywhere, and a lift would purge them.  Say so, once per grace.
 */
static void cluster_log_unhosted(struct cluster_context *cl,
				 const struct grace_record *g,
				 const struct grace_op *op)
{
	char buf[CTDB_ADDR_STRLEN];
	uint32_t i;

	if (!op->unhosted || cl->unhosted_logged == g->recovery) {
		return;
	}
	for (i = 0; i < cl->ips->num; i++) {
		if (cl->ips->ip[i].pnn != CTDB_UNKNOWN_PNN) {
			continue;
		}
		D_WARNING("Cluster grace of epoch %llu waits for public "
			  "address %s, which no node hosts (ctdb ip); its "
			  "clients cannot reclaim.  Make a node able to host "
			  "it, or end the grace with cltrack grace lift "
			  "--force, which purges the clients that did not "
			  "reclaim", (unsigned long long)g->recovery,
			  ctdb_sockaddr_string(&cl->ips->ip[i].addr, buf));
		cl->unhosted_logged = g->recovery;
		return;
	}
}

static void cluster_try_lift(struct cluster_context *cl,
			     const struct grace_record *g)
{
	struct grace_op op = {
		.type = GRACE_OP_LIFT,
	};
	uint64_t remaining = 0;
	uint64_t recovery = 0;
	int ret;

	if (cl->lift_pending) {
		return;
	}
	/* on the local copy first; the transaction checks again */
	if (!cluster_blocking(cl, &op, true) ||
	    !grace_cluster_enforcing(g, op.required, op.nrequired)) {
		return;
	}
	if (!grace_addresses_enforced(g, &op)) {
		cluster_log_unhosted(cl, g, &op);
		return;
	}
	cluster_fill_lost(cl, &op);
	ret = grace_count_unfinished(cl->d->store, g, &remaining,
				     &recovery);
	if (ret != 0) {
		return;
	}
	if (remaining > 0 && (uint64_t)time(NULL) < g->deadline) {
		return;
	}

	ret = batch_submit(cl->d->batch, &op, cluster_lift_done, cl);
	if (ret == 0) {
		cl->lift_pending = true;
		cl->lift_before = *g;
		cl->lift_remaining = recovery;
		cl->stats.lift_attempts += 1;
	}
}

static void cluster_ips_done(struct tevent_req *subreq)
{
	struct cluster_context *cl = tevent_req_callback_data(
		subreq, struct cluster_context);
	struct ctdb_public_ip_list *ips = NULL;
	int ret;

	ret = ctdb_client_public_ips_recv(subreq, cl, &ips);
	TALLOC_FREE(subreq);
	cl->ips_req = NULL;
	if (ret != 0) {
		if (!cl->ips_failing) {
			D_WARNING("Cannot read CTDB's public addresses "
				  "(GET_PUBLIC_IPS), ret=%d; the leader lifts no "
				  "grace until it can (ctdb ip shows them)", ret);
		}
		cl->ips_failing = true;
		return;
	}
	cl->ips_failing = false;
	TALLOC_FREE(cl->ips);
	cl->ips = ips;
}

static void cluster_nodemap_done(struct tevent_req *subreq)
{
	struct cluster_context *cl = tevent_req_callback_data(
		subreq, struct cluster_context);
	struct ctdb_nodemap *map = NULL;
	int ret;

	ret = ctdb_client_nodemap_recv(subreq, cl, &map);
	TALLOC_FREE(subreq);
	cl->nodemap_req = NULL;
	if (ret != 0) {
		D_INFO("GET_NODEMAP failed, ret=%d", ret);
		return;
	}
	TALLOC_FREE(cl->nodemap);
	cl->nodemap = map;
}

/*
 * Nodes CTDB counts active but unhealthy, lifted past while not in grace,
 * with clients still to reclaim (a lift at the deadline).  When every
 * client reclaimed, or there was none, passing such a node loses nothing:
 * it hosts no public address, so none of its clients is waiting on it.
 */
static void cluster_count_lift_without(struct cluster_context *cl,
				       const struct grace_record *before)
{
	uint32_t i;

	if (cl->nodemap == NULL) {
		return;
	}
	for (i = 0; i < cl->nodemap->num; i++) {
		const struct ctdb_node *n = &cl->nodemap->nodes[i];
		const struct grace_member *m = grace_member_find(before,
								 n->pnn);

		if ((n->flags & CTDB_NODE_INACTIVE) ||
		    !(n->flags & CTDB_NODE_UNHEALTHY)) {
			continue;
		}
		if (m == NULL || !(m->flags & GRACE_MEMBER_ENFORCING)) {
			cl->stats.safety_events += 1;
			cl->stats.safety_lift_without += 1;
			D_ERR("SAFETY: grace lifted without unhealthy node %u, "
			      "whose nfsd never entered it", n->pnn);
		}
	}
}

static void cluster_lift_committed(struct cluster_context *cl,
				   const struct grace_op *op)
{
	uint64_t epoch = cl->lift_before.recovery;

	if (cl->lift_remaining > 0) {
		cluster_count_lift_without(cl, &cl->lift_before);
	}
	cl->stats.lifts += 1;
	cl->stats.last_lift_time = (uint64_t)time(NULL);
	D_NOTICE("Cluster grace of epoch %llu lifted by node %u; %llu "
		 "records purged", (unsigned long long)epoch, cluster_pnn(cl),
		 (unsigned long long)op->purged);
	cluster_broadcast(cl, CLUSTER_MSG_LIFTED, epoch);
	cluster_check(cl);
}

static void cluster_lift_done(struct grace_op *op,
			      const struct grace_record *g,
			      void *private_data)
{
	struct cluster_context *cl = talloc_get_type_abort(
		private_data, struct cluster_context);

	cl->lift_pending = false;
	if (op->status != 0 || !(op->result & GRACE_R_LIFTED)) {
		return;
	}
	cluster_lift_committed(cl, op);
}

void cluster_upcall_done(struct cluster_context *cl,
			 const struct grace_op *op,
			 const struct grace_record *g)
{
	if (op->status != 0 || g == NULL) {
		return;
	}
	if (op->result & GRACE_R_RECLAIMED) {
		uint32_t leader = cluster_leader(cl);

		if (leader != CTDB_UNKNOWN_PNN) {
			cluster_send(cl, leader, CLUSTER_MSG_RECLAIMED,
				     g->recovery);
		}
		return;
	}
	if (op->type == GRACE_OP_GRACE_START) {
		cl->joined_epoch = g->recovery;
		cl->restart_epoch = g->recovery;
		/* every change of the grace record is announced */
		cluster_broadcast(cl, (op->result & GRACE_R_STARTED) ?
				  CLUSTER_MSG_STARTED : CLUSTER_MSG_MEMBER,
				  g->recovery);
		return;
	}
	if (op->type == GRACE_OP_GRACE_DONE) {
		if (op->result & GRACE_R_SAFETY) {
			cl->stats.safety_events += 1;
			cl->stats.safety_early_end += 1;
			/* put this node's nfsd back into the grace */
			cl->restart_epoch = 0;
			cl->joined_epoch = 0;
			cluster_broadcast(cl, CLUSTER_MSG_MEMBER,
					  g->recovery);
		}
	}
}

static void cluster_call_done(struct grace_op *op,
			      const struct grace_record *g,
			      void *private_data)
{
	struct cluster_call *call = talloc_get_type_abort(
		private_data, struct cluster_call);
	struct cluster_context *cl = call->cl;

	if (op->status == 0 && g != NULL && g->recovery != 0 &&
	    op->type != GRACE_OP_LIFT) {
		cluster_broadcast(cl, (op->result & GRACE_R_STARTED) ?
				  CLUSTER_MSG_STARTED : CLUSTER_MSG_MEMBER,
				  g->recovery);
	}
	if (op->type == GRACE_OP_LIFT) {
		cl->lift_pending = false;
	}
	if (op->status == 0 && g != NULL && call->after != NULL) {
		call->after(cl, op, g);
	}
	if (op->type == GRACE_OP_LIFT && (op->result & GRACE_R_LIFTED)) {
		cluster_lift_committed(cl, op);
	} else {
		cluster_check(cl);
	}
	if (call->done != NULL) {
		call->done(op->status, call->private_data);
	}
	talloc_free(call);
}

static int cluster_submit(struct cluster_context *cl, struct grace_op *op,
			  void (*after)(struct cluster_context *cl,
					const struct grace_op *op,
					const struct grace_record *g),
			  void (*done)(int status, void *private_data),
			  void *private_data)
{
	struct cluster_call *call = NULL;
	int ret;

	call = talloc_zero(cl, struct cluster_call);
	if (call == NULL) {
		return ENOMEM;
	}
	call->cl = cl;
	call->after = after;
	call->done = done;
	call->private_data = private_data;
	ret = batch_submit(cl->d->batch, op, cluster_call_done, call);
	if (ret != 0) {
		talloc_free(call);
	}
	return ret;
}

int cluster_grace_start(struct cluster_context *cl,
			void (*done)(int status, void *private_data),
			void *private_data)
{
	struct grace_op op = {
		.type = GRACE_OP_ADMIN_START,
	};

	return cluster_submit(cl, &op, NULL, done, private_data);
}

int cluster_grace_lift(struct cluster_context *cl, bool force,
		       void (*done)(int status, void *private_data),
		       void *private_data)
{
	struct grace_op op = {
		.type = GRACE_OP_LIFT,
		.force = force,
	};
	uint64_t unfinished = 0;
	int ret;

	if (cluster_pnn(cl) == CTDB_UNKNOWN_PNN ||
	    cluster_leader(cl) != cluster_pnn(cl)) {
		cl->stats.safety_events += 1;
		cl->stats.safety_nonleader_lift += 1;
		D_ERR("SAFETY: refused a grace lift on node %u: only the "
		      "leader (node %d) lifts", cluster_pnn(cl),
		      (int)cluster_leader(cl));
		return EPERM;
	}
	if (force) {
		D_WARNING("Forced grace lift requested on the leader");
	}
	if (!cluster_blocking(cl, &op, true) && !force) {
		return EAGAIN;
	}
	cluster_fill_lost(cl, &op);
	if (cl->lift_pending) {
		return EBUSY;
	}
	ret = grace_read(cl->d->store, &cl->lift_before);
	if (ret == 0) {
		ret = grace_count_unfinished(cl->d->store, &cl->lift_before,
					     &unfinished, &cl->lift_remaining);
	}
	if (ret != 0) {
		return ret;
	}
	ret = cluster_submit(cl, &op, NULL, done, private_data);
	if (ret == 0) {
		cl->lift_pending = true;
		cl->stats.lift_attempts += 1;
	}
	return ret;
}

/*
 * Model action grace_nfsd_stopped, when cltrackd did not stop nfsd itself:
 * the cld pipe went away, so nfsd stopped and lost its state.
 */
static void cluster_nfsd_gone(void *private_data)
{
	struct cluster_context *cl = talloc_get_type_abort(
		private_data, struct cluster_context);
	struct grace_op op = {
		.type = GRACE_OP_NFSD_STOPPED,
	};
	int ret;

	cl->joined_epoch = 0;
	if (cl->restarting) {
		return;		/* cluster_restart_nfsd did it */
	}
	ret = batch_submit(cl->d->batch, &op, cluster_gone_done, cl);
	if (ret != 0) {
		D_ERR("Cannot record that nfsd stopped, ret=%d", ret);
	}
}

/* nfsd runs and serves: its cld pipe is open and it is not starting */
static bool cluster_nfsd_serving(struct cluster_context *cl)
{
	return cld_get_stats(cl->d->cld)->connected &&
	       !cld_nfsd_starting(cl->d->cld) && !cl->restarting;
}

/*
 * Model action grace_takeip, after its transaction (§5.8 step 2): an
 * nfsd that serves in the grace with a list that misses records stored
 * since (STALE) restarts to get the full one before the moved clients
 * reclaim here.  An nfsd out of the grace is restarted by the check.
 */
static void cluster_takeip_after(struct cluster_context *cl,
				 const struct grace_op *op,
				 const struct grace_record *g)
{
	if ((op->result & GRACE_R_STALE) && cluster_nfsd_serving(cl)) {
		D_NOTICE("This node's nfsd got its reclaim list before other "
			 "records became reclaimable; restarting it for the "
			 "full list");
		cluster_restart_nfsd(cl, g->recovery);
	}
}

/*
 * Model action grace_releaseip (§5.9): an address left this node, but
 * knfsd cannot drop the state of one address.  Its clients reclaim where
 * the address goes, so the state they held here must go: restart nfsd.
 * (An nfsd that is starting holds no state yet.)  Its GraceStart starts
 * or joins the grace, and the clients of this node's other addresses
 * reclaim here.
 */
static void cluster_releaseip_after(struct cluster_context *cl,
				    const struct grace_op *op,
				    const struct grace_record *g)
{
	if (!cluster_nfsd_serving(cl)) {
		return;
	}
	D_NOTICE("nfsd keeps the state of the released address's clients; "
		 "restarting it so that they reclaim where the address went");
	cluster_restart_nfsd(cl, g->recovery);
}

int cluster_event(struct cluster_context *cl, enum cluster_event event,
		  const char *ip, const char **reason)
{
	const struct cltrack_config *cfg = cl->d->config;
	struct grace_op op = {
		.type = GRACE_OP_JOIN,
	};
	time_t now = time(NULL);

	*reason = NULL;
	switch (event) {
	case CLUSTER_EVENT_TAKEIP:
	case CLUSTER_EVENT_RELEASEIP:
		D_NOTICE("Address %s %s: starting or joining a cluster grace",
			 ip != NULL ? ip : "?",
			 event == CLUSTER_EVENT_TAKEIP ? "taken over" :
			 "released");
		cluster_fill_lost(cl, &op);
		return cluster_submit(cl, &op,
				      event == CLUSTER_EVENT_TAKEIP ?
				      cluster_takeip_after :
				      cluster_releaseip_after, NULL, NULL);
	case CLUSTER_EVENT_IPREALLOCATED:
	case CLUSTER_EVENT_RECOVERED:
		cluster_check(cl);
		return 0;
	case CLUSTER_EVENT_MONITOR:
		cluster_check(cl);
		if (!ctdb_client_connected(cl->client)) {
			*reason = "cltrackd is not connected to ctdbd";
			return ENOTCONN;
		}
		if (cl->not_enforcing_since != 0 &&
		    now - cl->not_enforcing_since > cfg->enforce_timeout) {
			*reason = "nfsd did not enter the cluster grace in "
				  "time (check the [nfsd] restart command)";
			return ETIMEDOUT;
		}
		return 0;
	}
	return EINVAL;
}

uint32_t cluster_pnn(struct cluster_context *cl)
{
	return ctdb_client_pnn(cl->client);
}

uint32_t cluster_leader(struct cluster_context *cl)
{
	return ctdb_client_leader(cl->client);
}

bool cluster_connected(struct cluster_context *cl)
{
	return ctdb_client_connected(cl->client);
}

const struct cluster_stats *cluster_get_stats(struct cluster_context *cl)
{
	return &cl->stats;
}

uint32_t cluster_node_flags(struct cluster_context *cl, uint32_t pnn)
{
	uint32_t i;

	for (i = 0; cl->nodemap != NULL && i < cl->nodemap->num; i++) {
		if (cl->nodemap->nodes[i].pnn == pnn) {
			return cl->nodemap->nodes[i].flags;
		}
	}
	return 0xffffffff;
}

int cluster_init(TALLOC_CTX *mem_ctx, struct tevent_context *ev,
		 struct daemon_context *daemon, struct ctdb_client *client,
		 struct cluster_context **result)
{
	struct cluster_context *cl = NULL;
	int ret;

	cl = talloc_zero(mem_ctx, struct cluster_context);
	if (cl == NULL) {
		return ENOMEM;
	}
	cl->ev = ev;
	cl->d = daemon;
	cl->client = client;
	cl->v40 = -1;
	ret = ctdb_client_register_srvid(client, CLTRACK_SRVID_GRACE);
	if (ret != 0) {
		talloc_free(cl);
		return ret;
	}
	cluster_schedule_tick(cl);
	if (cl->tick == NULL) {
		talloc_free(cl);
		return ENOMEM;
	}
	cld_set_barrier(daemon->cld, cluster_barrier_release, cl);
	cld_set_stopped_hook(daemon->cld, cluster_nfsd_gone, cl);
	*result = cl;
	return 0;
}
