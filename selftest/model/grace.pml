/*
 * grace.pml: cluster grace for cltrack (DESIGN.md §5) as a Promela model.
 *
 * docs/grace-protocol.md is the prose form of this file: the rules, the
 * invariants, the design changes the model forced, and a table from every
 * action name here to the C function in helper/grace.c that implements it
 * (selftest/model/actions.txt lists the names).  Run it with
 * "make model-check" or selftest/model/test_model.sh.
 *
 * Scope: 3 nodes (PNN 0..2), 2 public addresses (a0 starts on node 0, a1
 * on node 1, node 2 holds none), 2 clients (client c uses address c).
 * Client 0 is NFSv4.0, or any client whose creates carry no session flag
 * (every client behind the cld pipe); client 1 is NFSv4.1+ with a known
 * session flag.  Both hold state when the run starts.
 *
 * Abstractions (argued in docs/grace-protocol.md §8):
 * - Epochs are relative.  A client record is ABSENT, RR (epoch R), CC
 *   (epoch C, not reclaimable) or CR (epoch C, previous epoch R: created
 *   again in this grace).  A grace start relabels every CC as RR, which is
 *   what R := C, C := C + 1 does to the real epochs.
 * - One CTDB transaction is one d_step: TRANS3_COMMIT is atomic and, once
 *   it returns, every connected node's local copy holds it.
 * - srvid messages are best effort.  Their handler is grace_sync, which
 *   re-reads the record, and the event script runs grace_sync on monitor
 *   and ipreallocated too.  A delivered message and a periodic re-read
 *   are therefore the same action; it may run at any time, or late (a
 *   lost message).  BROKEN_TRUST_LIFT_MSG models a handler that acts on
 *   the message instead.
 * - The one clock is the record's deadline; "tick" says it passed.
 *   Clients are prompt: one that lost its state and could reach its
 *   address when the deadline was last extended reclaims before that
 *   deadline passes, so tick waits for it.  fresh[c] marks a client that
 *   became able to reclaim after the last extension (the protocol owes it
 *   a new one).  A bounded number of clients give up instead (never
 *   reclaim).
 * - Faults are bounded, so the search is exhaustive and every fair run
 *   ends quiet.  The budgets below are the defaults of "make model-check".
 *
 * Properties (the assertion names are what pan prints when one fails):
 *   a1_enforcing_kernel_stays_in_grace   a kernel that enforces the running
 *                                        grace leaves it only by the lift,
 *                                        or by an early kernel timer
 *   a2_no_reclaim_while_node_serves_out  no reclaim is granted in the
 *                                        running grace while some node
 *                                        serves an address out of grace,
 *                                        unless a kernel timer fired early
 *   a3_no_reclaim_while_state_held_elsewhere
 *                                        no reclaim is granted while another
 *                                        live nfsd (not hung) still holds
 *                                        that client's state
 *   b1_purge_only_unheld                 the lift purges a record only if
 *                                        its client holds no state and has
 *                                        none to reclaim
 *   c_only_leader_lifts                  only the current CTDB leader lifts
 *   d_reclaim_never_refused              a client that lost its state is
 *                                        never refused its reclaim, unless
 *                                        a kernel timer fired early
 *   inv_b2_state_has_record              (invariant) a client that holds
 *                                        state or must reclaim has a record
 *   inv_e_safety_event_only_for_faults   (invariant) the safety event is
 *                                        raised only after an early kernel
 *                                        timer or a lift past a stuck member
 *   inv_epochs                           (invariant) outside grace every
 *                                        record is in epoch C (DESIGN §4)
 *   ltl live                             []<> quiet: the grace ends and every
 *                                        live member's nfsd leaves it, under
 *                                        weak fairness, even with clients
 *                                        that never reclaim and a member
 *                                        whose nfsd hangs for ever
 *
 * Build options: MAX* set the fault budgets; WITH_SLOW_NODES (any member
 * may miss the enforcement timeout, not only a hung one), WITH_REMOVE
 * (clients expire: Remove upcalls), WITH_UNHANG (a hung nfsd start may
 * complete) add behaviour; each BROKEN_* puts back one design flaw (docs
 * §9) and test_model.sh expects spin to reject it; each PROBE_* asserts
 * that something interesting never happens, and test_model.sh expects
 * spin to find that it does.
 */

#define N		3	/* nodes */
#define NC		2	/* clients, and addresses */
#define NONE		3	/* no node; PNN-indexed arrays have N+1 slots */

/* fault budgets */
#ifndef MAXCRASH
#define MAXCRASH	1	/* node crashes (one node always stays up) */
#endif
#ifndef MAXRESTART
#define MAXRESTART	1	/* nfsd restarted behind cltrackd's back */
#endif
#ifndef MAXHANG
#define MAXHANG		1	/* an nfsd start that hangs */
#endif
#ifndef MAXTIMER
#define MAXTIMER	1	/* a kernel grace timer firing before the lift */
#endif
#ifndef MAXADMIN
#define MAXADMIN	1	/* "cltrack grace start" */
#endif
#ifndef MAXLCHG
#define MAXLCHG		1	/* leader changes with no failure */
#endif
#ifndef MAXGIVEUP
#define MAXGIVEUP	1	/* clients that lose state and never reclaim */
#endif

/* client record, relative to the grace record's epochs */
#define ABSENT		0
#define RR		1	/* epoch R: reclaimable, purged by the lift */
#define CC		2	/* epoch C, previous epoch not R */
#define CR		3	/* epoch C, previous epoch R */

/* nfsd on a node */
#define K_DOWN		0	/* not running */
#define K_START		1	/* starting: GraceStart not processed yet */
#define K_WAIT		2	/* GraceStart processed, final reply held */
#define K_GRACE		3	/* serving, in grace */
#define K_OUT		4	/* serving, out of grace */

/* client */
#define C_NONE		0	/* holds no state */
#define C_HOLD		1	/* holds state where its address is */
#define C_NEED		2	/* lost its state and must reclaim */
#define C_PART		3	/* v4.0: open reclaimed, lock reclaim pending */

#define V41(c)		((c) == 1)
#define bit(x)		(1 << (x))

/* ---- the grace record, and the client records ------------------------ */
bool grace;		/* R != 0 */
bool dl;		/* now >= deadline */
byte enf;		/* members flagged ENFORCING */
byte stale;		/* members flagged STALE: their list misses a record */
byte rec[NC];		/* client record epoch, relative */
bool fin[NC];		/* CR made by a create with the session flag */
byte by[NC];		/* CR: PNN of the node that made it */

/* ---- CTDB ------------------------------------------------------------ */
bool up[N+1];		/* really alive */
bool conn[N+1];		/* CTDB: connected */
bool unh[N+1];		/* CTDB: UNHEALTHY (its monitor event failed) */
byte leader;
byte host[NC];		/* the node holding address a, or NONE */
bool reach[NC];		/* its takeip finished: clients can use it */
#ifdef BROKEN_STALE_LEADER
byte lview[N+1];	/* cltrackd's cached CTDB_SRVID_LEADER */
#endif

/* ---- nfsd -------------------------------------------------------------- */
byte ks[N+1];
bool kcur[N+1];		/* it enforces the running grace */
bool hung[N+1];		/* its start hangs */
byte klist[N+1];	/* its reclaim list */
byte krc[N+1];		/* clients that sent RECLAIM_COMPLETE to it */
byte kheld[N+1];	/* clients whose state this nfsd holds */
#ifdef BROKEN_TRUST_LIFT_MSG
bool liftmsg[N+1];	/* a "lift" message not handled yet */
#endif

/* ---- clients ------------------------------------------------------------ */
byte cst[NC];
bool fresh[NC];

/* ---- ghosts and budgets ------------------------------------------------- */
bool safety;		/* the safety event was raised */
bool fault_timer;	/* a kernel timer fired early */
bool fault_stuck;	/* the leader lifted past a live member */
byte crashes, restarts, hangs, timers, admins, lchgs, giveups;

/*
 * Assertion names: set, asserted and cleared in one d_step, so always 0
 * in a stored state (pan -DBFS refuses hidden variables).
 */
bool a1_enforcing_kernel_stays_in_grace;
bool a2_no_reclaim_while_node_serves_out;
bool a3_no_reclaim_while_state_held_elsewhere;
bool b1_purge_only_unheld;
bool c_only_leader_lifts;
bool d_reclaim_never_refused;
bool inv_b2_state_has_record;
bool inv_e_safety_event_only_for_faults;
bool inv_epochs;

/*
 * Probes: each asserts that something interesting never happens, so that
 * pan must find a run where it does (make model-check expects it to).
 */
bool probe_safety_event;	/* -DPROBE_SAFETY_EVENT */
bool probe_lift_past_stuck;	/* -DPROBE_LIFT_PAST_STUCK */
bool probe_early_lift;		/* -DPROBE_EARLY_LIFT */
bool probe_failover_reclaim;	/* -DPROBE_FAILOVER_RECLAIM */
bool probe_undo;		/* -DPROBE_UNDO */
bool probe_window_create;	/* -DPROBE_WINDOW_CREATE */

/* ---- predicates --------------------------------------------------------- */
#define ENF(n)		((enf & bit(n)) != 0)
#define HOSTS(n)	(host[0] == (n) || host[1] == (n))
#define LISTED(c)	((rec[c] == RR || rec[c] == CR) -> bit(c) : 0)
#define NEEDS(c)	(cst[c] == C_NEED || cst[c] == C_PART)

/*
 * grace_member_blocks: a member that CTDB reports connected and that is
 * healthy or still holds an address must be ENFORCING before the lift and
 * before any kernel's GraceStart is answered.
 */
#define BLOCKS(n)	(conn[n] && (!unh[n] || HOSTS(n)))
/* grace_cluster_enforcing */
#define CLUSTER_ENF	((!BLOCKS(0) || ENF(0)) && (!BLOCKS(1) || ENF(1)) && \
			 (!BLOCKS(2) || ENF(2)))
/* grace_addresses_enforced: every address is on a connected ENFORCING member */
#define ADDR_ENF(a)	(host[a] != NONE && conn[host[a]] && ENF(host[a]))
/* grace_reclaim_finished */
#ifdef BROKEN_FINISHED_NO_R
#define CFIN(c)		(rec[c] != RR)	/* DESIGN.md §5 (a) as first written */
#else
#define CFIN(c)		(rec[c] != RR && (rec[c] != CR || fin[c]))
#endif
#define FINISHED	(CFIN(0) && CFIN(1))
/* ENFORCING members that CTDB no longer reports connected */
#define LOST		((ENF(0) && !conn[0]) || (ENF(1) && !conn[1]) || \
			 (ENF(2) && !conn[2]))
/* grace_may_lift */
#if defined(BROKEN_LIFT_NO_ENF)
#define MAY_LIFT	(FINISHED || dl)
#elif defined(BROKEN_LIFT_NO_ADDR_CHECK)
#define MAY_LIFT	(CLUSTER_ENF && (FINISHED || dl))
#elif defined(BROKEN_NO_DEADLINE)
#define MAY_LIFT	(CLUSTER_ENF && ADDR_ENF(0) && ADDR_ENF(1) && FINISHED)
#else
#define MAY_LIFT	(CLUSTER_ENF && ADDR_ENF(0) && ADDR_ENF(1) && \
			 (FINISHED || dl))
#endif
#ifdef BROKEN_STALE_LEADER
#define IS_LEADER(n)	(lview[n] == (n))
#else
#define IS_LEADER(n)	(leader == (n))
#endif

/* client c can talk to a running nfsd through its address */
#define SERVING(c)	(host[c] != NONE && up[host[c]] && reach[c] && \
			 (ks[host[c]] == K_GRACE || ks[host[c]] == K_OUT))
/* node m's nfsd still holds client c's state */
#define HELD_BY(m, c)	(up[m] && !hung[m] && (kheld[m] & bit(c)) != 0)
/* node m serves a usable address out of grace */
#define SERVES_OUT(m)	(up[m] && ks[m] == K_OUT && \
			 ((host[0] == (m) && reach[0]) || \
			  (host[1] == (m) && reach[1])))

/* invariants */
#define INV_B2(c)	(cst[c] == C_NONE || rec[c] != ABSENT)
#define INV_E		(!safety || fault_timer || fault_stuck)
#define INV_EPOCHS(c)	(grace || rec[c] == ABSENT || rec[c] == CC)
#ifdef PROBE_SAFETY_EVENT
#define INV_PROBE	(!safety)
#else
#define INV_PROBE	1
#endif
#define INVARIANTS	(INV_B2(0) && INV_B2(1) && INV_E && \
			 INV_EPOCHS(0) && INV_EPOCHS(1) && INV_PROBE)

/* liveness: no grace, and every live member's nfsd is out of it */
#define NQ(n)		(!up[n] || !conn[n] || hung[n] || ks[n] == K_OUT)
#define QUIET		(!grace && NQ(0) && NQ(1) && NQ(2))

/* ---- record transitions (one transaction each) -------------------------- */

/* the deadline becomes now + grace time */
inline deadline_extend()
{
	dl = 0;
	fresh[0] = 0;
	fresh[1] = 0
}

inline start_one(i)
{
	if
	:: rec[i] != ABSENT -> rec[i] = RR
	:: else -> skip
	fi;
	fin[i] = 0;
	by[i] = 0
}

/* grace_start: R := C, C := C + 1; members and deadline start afresh */
inline grace_start()
{
	grace = 1;
	start_one(0);
	start_one(1);
	enf = 0;
	stale = 0;
	kcur[0] = 0;
	kcur[1] = 0;
	kcur[2] = 0;
	deadline_extend()
}

inline undo_one(m, i)
{
	if
	:: rec[i] == CR && by[i] == m ->
#ifdef PROBE_UNDO
		probe_undo = 0;
		assert(probe_undo);
#endif
		rec[i] = RR;
		fin[i] = 0;
		by[i] = 0
	:: else -> skip
	fi
}

/* what member m created again in this grace must be reclaimed again */
inline undo_recreates(m)
{
#ifndef BROKEN_NO_UNDO
	undo_one(m, 0);
	undo_one(m, 1)
#else
	skip
#endif
}

/*
 * grace_nfsd_stopped: member n's nfsd lost its state (cltrackd is about to
 * restart it, found it restarted, or the node came back).  It no longer
 * enforces, and its re-creates of this grace go back to epoch R.
 */
inline grace_nfsd_stopped(n)
{
	if
	:: ENF(n) ->
		enf = enf & ~bit(n);
		undo_recreates(n)
	:: else -> skip
	fi
}

inline lost_one(m)
{
	if
	:: ENF(m) && !conn[m] ->
		enf = enf & ~bit(m);
		undo_recreates(m)
	:: else -> skip
	fi
}

/* grace_member_lost: ENFORCING members that left the cluster */
inline grace_member_lost()
{
	lost_one(0);
	lost_one(1);
	lost_one(2)
}

inline purge_one(i)
{
	if
	:: rec[i] == RR ->
		b1_purge_only_unheld = (cst[i] == C_NONE);
		assert(b1_purge_only_unheld);
		b1_purge_only_unheld = 0;
		rec[i] = ABSENT
	:: rec[i] == CR -> rec[i] = CC
	:: else -> skip
	fi;
	fin[i] = 0;
	by[i] = 0
}

/* grace_purge: delete the records of epoch R */
inline grace_purge()
{
	purge_one(0);
	purge_one(1)
}

inline grace_end()
{
	grace = 0;
	enf = 0;
	stale = 0;
	dl = 0;
	kcur[0] = 0;
	kcur[1] = 0;
	kcur[2] = 0;
	fresh[0] = 0;
	fresh[1] = 0
}

/*
 * grace_member_done: the GraceDone upcall.  It never purges.  GraceDone
 * while this member enforces the running grace is the safety event; the
 * member stops counting as ENFORCING, and grace_sync restarts its nfsd
 * into the grace.
 */
inline grace_member_done(n)
{
#ifdef BROKEN_LOCAL_PURGE
	/* helper/grace.c op_grace_done, the single-host rule, on every node */
	if
	:: !grace -> grace_start()
	:: else -> skip
	fi;
	grace_purge();
	grace_end()
#else
	if
	:: grace && ENF(n) ->
		a1_enforcing_kernel_stays_in_grace = fault_timer;
		assert(a1_enforcing_kernel_stays_in_grace);
		a1_enforcing_kernel_stays_in_grace = 0;
		safety = 1;
		enf = enf & ~bit(n)
	:: else -> skip
	fi
#endif
}

/* the addresses on node n become usable: their takeip returns */
inline addresses_up(n)
{
	if
	:: host[0] == n -> reach[0] = 1
	:: else -> skip
	fi;
	if
	:: host[1] == n -> reach[1] = 1
	:: else -> skip
	fi
}

/*
 * grace_enforce: the GraceStart upcall on member n.  Start a grace if
 * none runs, else join it; this nfsd lost its state, so undo n's
 * re-creates; flag n ENFORCING (its monitor passes again); extend the
 * deadline; send the reclaim list with the sentinel record, and hold the
 * final reply (K_WAIT) until grace_barrier_release.
 */
inline grace_enforce(n)
{
	if
	:: !grace -> grace_start()
	:: else -> skip
	fi;
	undo_recreates(n);
	enf = enf | bit(n);
	stale = stale & ~bit(n);
	unh[n] = 0;
	deadline_extend();
	klist[n] = LISTED(0) | LISTED(1);
	krc[n] = 0;
	kcur[n] = 1;
#ifdef BROKEN_NO_BARRIER
	ks[n] = K_GRACE;
	addresses_up(n);
#else
	ks[n] = K_WAIT;
#endif
#ifdef BROKEN_NO_SENTINEL
	/* an empty list: the kernel skips its grace at once */
	if
	:: klist[n] == 0 ->
		ks[n] = K_OUT;
		addresses_up(n);
		grace_member_done(n)
	:: else -> skip
	fi
#endif
}

/*
 * grace_create: the Create upcall from node n (a client's first
 * OPEN_CONFIRM or RECLAIM_COMPLETE there).  session: the create is known
 * to come from RECLAIM_COMPLETE of a v4.1+ client.
 */
inline grace_create(c, n, session)
{
	if
	:: !grace ->
		rec[c] = CC; fin[c] = 0; by[c] = 0
#ifndef BROKEN_WINDOW_CREATE_IN_C
	:: grace && !ENF(n) && (rec[c] == RR || rec[c] == CR) ->
		/* already reclaimable and in every list: left as it is */
		skip
	:: grace && !ENF(n) && rec[c] != RR && rec[c] != CR ->
		/*
		 * n's nfsd is not in this grace yet: this state dies when it
		 * joins, so it must be reclaimable.  The lists already sent
		 * miss it.
		 */
		rec[c] = RR; fin[c] = 0; by[c] = 0;
#ifdef PROBE_WINDOW_CREATE
		probe_window_create = 0;
		assert(probe_window_create);
#endif
#ifndef BROKEN_NO_STALE
		stale = stale | enf
#else
		skip
#endif
#endif
	:: else ->
		if
		:: rec[c] == RR || rec[c] == CR ->
			rec[c] = CR; by[c] = n; fin[c] = session
		:: else ->
			rec[c] = CC; fin[c] = 0; by[c] = 0
		fi
	fi
}

/* grace_remove: the Remove upcall (helper/grace.c op_remove) */
inline grace_remove(c)
{
	if
	:: rec[c] == CC -> rec[c] = ABSENT
	:: rec[c] == CR -> rec[c] = RR; fin[c] = 0; by[c] = 0
	:: else -> skip		/* RR stays reclaimable in this grace */
	fi
}

/*
 * grace_lift: the leader, in one transaction: raise the safety event if a
 * live member is not ENFORCING, grace_purge, R := 0, clear the members.
 * Then it broadcasts "lift" (grace_sync on every node).
 */
inline grace_lift(n)
{
	c_only_leader_lifts = (leader == n && up[n] && conn[n]);
#ifndef NO_PROP_C
	assert(c_only_leader_lifts);
#endif
	c_only_leader_lifts = 0;
	if
	:: (conn[0] && !ENF(0)) || (conn[1] && !ENF(1)) ||
	   (conn[2] && !ENF(2)) ->
		safety = 1;
		fault_stuck = 1
	:: else -> skip
	fi;
#ifdef PROBE_LIFT_PAST_STUCK
	probe_lift_past_stuck = !fault_stuck;
	assert(probe_lift_past_stuck);
#endif
#ifdef PROBE_EARLY_LIFT
	probe_early_lift = dl;
	assert(probe_early_lift);
#endif
	grace_purge();
	grace_end();
	unh[0] = 0;
	unh[1] = 0;
	unh[2] = 0;
#ifdef BROKEN_TRUST_LIFT_MSG
	liftmsg[0] = up[0];
	liftmsg[1] = up[1];
	liftmsg[2] = up[2];
#endif
}

inline lose_one(n, i)
{
	if
	:: host[i] == n && (cst[i] == C_HOLD || cst[i] == C_PART) ->
		cst[i] = C_NEED;
		fresh[i] = grace
	:: else -> skip
	fi
}

/* nfsd on node n stops: its clients lose their state */
inline nfsd_down(n)
{
	ks[n] = K_START;
	kcur[n] = 0;
	klist[n] = 0;
	krc[n] = 0;
	kheld[n] = 0;
	lose_one(n, 0);
	lose_one(n, 1)
}

/* cltrackd runs the configured nfsd restart command */
inline nfsd_restart(n)
{
	grace_nfsd_stopped(n);
	nfsd_down(n)
}

/*
 * grace_releaseip: the releaseip event on a live node n.  Its nfsd cannot
 * drop the state of one address, so it restarts (unless it is starting
 * already); the clients reclaim where the address goes.
 */
inline grace_releaseip(n)
{
	/* an nfsd still starting (K_WAIT) holds no state: left alone */
	if
	:: ks[n] == K_GRACE || ks[n] == K_OUT ->
		nfsd_restart(n)
	:: else -> skip
	fi
}

/*
 * grace_takeip: the takeip event on node t.  Start a grace, or join the
 * running one: process lost members (the clients of the address may have
 * reclaimed on a member that is gone; the leader may not have seen it go,
 * and it may be back by now), extend the deadline.  Restart t's nfsd unless it enforces the running
 * grace with a complete list.  The event returns, and the address becomes
 * usable, once t serves in this grace (grace_takeip_done).
 */
inline grace_takeip(t)
{
	if
	:: !grace -> grace_start()
	:: else ->
#ifndef BROKEN_TAKEIP_NO_MEMBER_LOST
		grace_member_lost();
#endif
#ifndef BROKEN_NO_TAKEIP_EXTEND
		deadline_extend()
#else
		skip
#endif
	fi;
	if
	:: ks[t] == K_DOWN || ks[t] == K_START -> skip
#ifdef BROKEN_NO_STALE
	:: (ks[t] == K_WAIT || ks[t] == K_GRACE) && kcur[t] -> skip
#else
	:: (ks[t] == K_WAIT || ks[t] == K_GRACE) && kcur[t] &&
	   (stale & bit(t)) == 0 -> skip
#endif
	:: else -> nfsd_restart(t)
	fi
}

/* CTDB moves address a to node t: releaseip, then takeip */
inline takeover(a, t)
{
#ifndef BROKEN_NO_RELEASEIP
	if
	:: host[a] != NONE && up[host[a]] && conn[host[a]] ->
		grace_releaseip(host[a])
	:: else -> skip
	fi;
#endif
	if
	:: cst[a] == C_HOLD || cst[a] == C_PART -> cst[a] = C_NEED
	:: else -> skip
	fi;
	fresh[a] = (grace && NEEDS(a));
	host[a] = t;
	reach[a] = 0;
	grace_takeip(t);
	/* grace_takeip_done */
	if
	:: ks[t] == K_GRACE && kcur[t] -> reach[a] = 1
	:: else -> skip
	fi
}

/* client c reclaims through its address at node n */
inline reclaim(c, n)
{
	if
	:: ks[n] == K_GRACE && (klist[n] & bit(c)) != 0 &&
	   (krc[n] & bit(c)) == 0 ->
		if
		:: grace && kcur[n] ->
			a2_no_reclaim_while_node_serves_out = (fault_timer ||
				!(SERVES_OUT(0) || SERVES_OUT(1) ||
				  SERVES_OUT(2)));
			assert(a2_no_reclaim_while_node_serves_out);
			a2_no_reclaim_while_node_serves_out = 0
		:: else -> skip
		fi;
		a3_no_reclaim_while_state_held_elsewhere =
			!((n != 0 && HELD_BY(0, c)) || (n != 1 && HELD_BY(1, c)) ||
			  (n != 2 && HELD_BY(2, c)));
		assert(a3_no_reclaim_while_state_held_elsewhere);
		a3_no_reclaim_while_state_held_elsewhere = 0;
		kheld[n] = kheld[n] | bit(c);
#ifdef PROBE_FAILOVER_RECLAIM
		probe_failover_reclaim = (n == c);
		assert(probe_failover_reclaim);
#endif
		if
		:: V41(c) ->
			/* its reclaims, then RECLAIM_COMPLETE: Create */
			grace_create(c, n, 1);
			krc[n] = krc[n] | bit(c);
			cst[c] = C_HOLD;
#ifdef BROKEN_NO_SENTINEL
			/* every listed client is done here: grace ends */
			if
			:: (krc[n] & klist[n]) == klist[n] ->
				ks[n] = K_OUT;
				grace_member_done(n)
			:: else -> skip
			fi
#else
			skip
#endif
		:: else ->
			if
			:: cst[c] == C_NEED ->
				/* reclaim OPEN, OPEN_CONFIRM: Create */
				grace_create(c, n, 0);
				cst[c] = C_PART
			:: else ->
				/* reclaim LOCK */
				cst[c] = C_HOLD
			fi
		fi
	:: else ->
		/* NFS4ERR_NO_GRACE or NFS4ERR_RECLAIM_BAD */
		d_reclaim_never_refused = fault_timer;
		assert(d_reclaim_never_refused);
		d_reclaim_never_refused = 0;
		cst[c] = C_NONE
	fi
}

/* ---- processes ----------------------------------------------------------- */

/*
 * Every action prints its name when spin replays a trail (pan prints
 * nothing), so a counterexample reads as a list of actions.
 */

/* cltrackd and nfsd on node n, and the leader's work while n leads */
proctype Node(byte n)
{
end:
	do
	:: d_step { up[n] && conn[n] && ks[n] == K_START && !hung[n] ->
		printf("ACT node%d grace_enforce\n", n);
		grace_enforce(n) }
	/*
	 * cltrackd also lets a reply of an older grace go (!kcur): a real
	 * kernel cannot be restarted while its start waits; the step below
	 * then restarts it into the running grace.
	 */
	:: d_step { up[n] && ks[n] == K_WAIT &&
		    (!grace || !kcur[n] || CLUSTER_ENF) ->
		printf("ACT node%d grace_barrier_release\n", n);
		ks[n] = K_GRACE;
		if
		:: kcur[n] || !grace -> addresses_up(n)
		:: else -> skip
		fi }
	/* a grace runs that this nfsd does not enforce: restart it */
	:: d_step { up[n] && conn[n] && grace &&
		    (ks[n] == K_OUT ||
		     ((ks[n] == K_WAIT || ks[n] == K_GRACE) && !kcur[n])) ->
		printf("ACT node%d grace_sync: restart nfsd\n", n);
		nfsd_restart(n) }
	/* no grace runs: write Y to v4_end_grace */
	:: d_step { up[n] && conn[n] && !grace && ks[n] == K_GRACE ->
		printf("ACT node%d grace_sync: end grace\n", n);
		ks[n] = K_OUT;
		addresses_up(n);
		grace_member_done(n) }
	/* the kernel timer of an older grace (normal) */
	:: d_step { up[n] && grace && ks[n] == K_GRACE && !kcur[n] ->
		printf("ACT node%d kernel timer of an older grace\n", n);
		ks[n] = K_OUT;
		grace_member_done(n) }
	/* nfsd went down behind cltrackd's back, or the node came back */
	:: d_step { up[n] && conn[n] && ENF(n) && !kcur[n] &&
		    (ks[n] == K_DOWN || ks[n] == K_START) ->
		printf("ACT node%d grace_nfsd_stopped\n", n);
		grace_nfsd_stopped(n) }
	/* the leader */
	:: d_step { grace && IS_LEADER(n) && up[n] && conn[n] && LOST ->
		printf("ACT node%d grace_member_lost\n", n);
		grace_member_lost() }
	:: d_step { grace && IS_LEADER(n) && up[n] && conn[n] && !LOST &&
		    MAY_LIFT ->
		printf("ACT node%d grace_lift\n", n);
		grace_lift(n) }
#ifdef BROKEN_STALE_LEADER
	/* CTDB_SRVID_LEADER arrives, late */
	:: d_step { up[n] && leader != NONE && lview[n] != leader ->
		printf("ACT node%d learns leader %d\n", n, leader);
		lview[n] = leader }
#endif
#ifdef BROKEN_TRUST_LIFT_MSG
	/* a lift message handler that ends grace without reading the record */
	:: d_step { up[n] && liftmsg[n] ->
		printf("ACT node%d lift message: end grace\n", n);
		liftmsg[n] = 0;
		if
		:: ks[n] == K_GRACE ->
			ks[n] = K_OUT;
			addresses_up(n);
			grace_member_done(n)
		:: else -> skip
		fi }
#endif
	od
}

/* ctdbd and its recovery daemon */
#define DETECT(x) \
	:: d_step { !up[x] && conn[x] -> \
		printf("ACT ctdb: node%d disconnected\n", x); \
		conn[x] = 0; \
		if \
		:: leader == x -> leader = NONE \
		:: else -> skip \
		fi }
/* it joins; the startup event starts nfsd */
#define REJOIN(x) \
	:: d_step { up[x] && !conn[x] -> \
		printf("ACT ctdb: node%d joins, nfsd starts\n", x); \
		conn[x] = 1; \
		ks[x] = K_START }
#define ELECT(x) \
	:: d_step { leader == NONE && up[x] && conn[x] -> \
		printf("ACT ctdb: node%d elected leader\n", x); \
		leader = x }
#ifdef WITH_SLOW_NODES
#define SLOW(x)		1	/* any member that is not ENFORCING in time */
#else
#define SLOW(x)		hung[x]
#endif
/* grace_monitor: the enforcement timeout fails the monitor event */
#define ENF_TIMEOUT(x) \
	:: d_step { grace && up[x] && conn[x] && !ENF(x) && !unh[x] && \
		    SLOW(x) -> \
		printf("ACT node%d grace_monitor: unhealthy\n", x); \
		unh[x] = 1 }
#define MOVES(a)	(host[a] == NONE || !conn[host[a]] || unh[host[a]])
#define TAKEOVER(a, t) \
	:: d_step { MOVES(a) && host[a] != t && up[t] && conn[t] && \
		    !unh[t] -> \
		printf("ACT ctdb: a%d to node%d: grace_releaseip, grace_takeip\n", \
		       a, t); \
		takeover(a, t) }

proctype Ctdb()
{
end:
	do
	DETECT(0) DETECT(1) DETECT(2)
	REJOIN(0) REJOIN(1) REJOIN(2)
	ELECT(0) ELECT(1) ELECT(2)
#ifndef BROKEN_NO_ENF_TIMEOUT
	ENF_TIMEOUT(0) ENF_TIMEOUT(1) ENF_TIMEOUT(2)
#endif
	TAKEOVER(0, 0) TAKEOVER(0, 1) TAKEOVER(0, 2)
	TAKEOVER(1, 0) TAKEOVER(1, 1) TAKEOVER(1, 2)
	od
}

proctype Client(byte c)
{
end:
	do
	/* new state out of grace: Create */
	:: d_step { cst[c] == C_NONE && SERVING(c) && ks[host[c]] == K_OUT ->
		printf("ACT client%d opens at node%d: grace_create\n", c,
		       host[c]);
		grace_create(c, host[c], V41(c));
		kheld[host[c]] = kheld[host[c]] | bit(c);
		cst[c] = C_HOLD }
	:: d_step { NEEDS(c) && SERVING(c) ->
		printf("ACT client%d reclaims at node%d\n", c, host[c]);
		reclaim(c, host[c]) }
	:: d_step { NEEDS(c) && giveups < MAXGIVEUP ->
		printf("ACT client%d never reclaims\n", c);
		giveups++;
		cst[c] = C_NONE }
#ifdef WITH_REMOVE
	/* lease expiry or DESTROY_CLIENTID: Remove */
	:: d_step { cst[c] == C_HOLD && SERVING(c) ->
		printf("ACT client%d expires at node%d: grace_remove\n", c,
		       host[c]);
		grace_remove(c);
		kheld[host[c]] = kheld[host[c]] & ~bit(c);
		cst[c] = C_NONE }
#endif
	od
}

/* the deadline passes; prompt clients able to reclaim have done so */
proctype Clock()
{
end:
	do
	:: d_step { grace && !dl &&
		    !(NEEDS(0) && !fresh[0]) && !(NEEDS(1) && !fresh[1]) ->
		printf("ACT clock: deadline passed\n");
		dl = 1 }
	od
}

#define OTHER_OK(x) \
	((x != 0 && up[0] && conn[0] && !hung[0]) || \
	 (x != 1 && up[1] && conn[1] && !hung[1]) || \
	 (x != 2 && up[2] && conn[2] && !hung[2]))
/* a crash leaves another live node whose nfsd does not hang */
#define CRASH(x) \
	:: d_step { crashes < MAXCRASH && up[x] && OTHER_OK(x) -> \
		printf("ACT FAULT node%d crashes\n", x); \
		crashes++; \
		up[x] = 0; \
		ks[x] = K_DOWN; \
		kcur[x] = 0; \
		klist[x] = 0; \
		krc[x] = 0; \
		hung[x] = 0; \
		unh[x] = 0; \
		kheld[x] = 0; \
		lose_one(x, 0); \
		lose_one(x, 1) }
#define REBOOT(x) \
	:: d_step { !up[x] && !conn[x] -> \
		printf("ACT FAULT node%d boots\n", x); \
		up[x] = 1 }
#define RESTART(x) \
	:: d_step { restarts < MAXRESTART && up[x] && \
		    (ks[x] == K_WAIT || ks[x] == K_GRACE || ks[x] == K_OUT) -> \
		printf("ACT FAULT node%d: nfsd restarted by hand\n", x); \
		restarts++; \
		nfsd_down(x) }
#define HANG(x) \
	:: d_step { hangs < MAXHANG && up[x] && ks[x] == K_START && \
		    !hung[x] && OTHER_OK(x) -> \
		printf("ACT FAULT node%d: nfsd start hangs\n", x); \
		hangs++; \
		hung[x] = 1 }
#define UNHANG(x) \
	:: d_step { hung[x] -> \
		printf("ACT FAULT node%d: nfsd start completes\n", x); \
		hung[x] = 0 }
#define EARLY_TIMER(x) \
	:: d_step { timers < MAXTIMER && up[x] && ks[x] == K_GRACE && \
		    kcur[x] -> \
		printf("ACT FAULT node%d: kernel timer fires early\n", x); \
		timers++; \
		fault_timer = 1; \
		ks[x] = K_OUT; \
		grace_member_done(x) }
/* grace_admin_start: "cltrack grace start"; grace_sync restarts nfsd */
#define ADMIN(x) \
	:: d_step { admins < MAXADMIN && up[x] && conn[x] -> \
		printf("ACT node%d grace_admin_start\n", x); \
		admins++; \
		if \
		:: !grace -> grace_start() \
		:: else -> deadline_extend() \
		fi }
#define LCHG(x) \
	:: d_step { lchgs < MAXLCHG && leader != NONE && leader != x && \
		    up[x] && conn[x] -> \
		printf("ACT ctdb: leader moves to node%d\n", x); \
		lchgs++; \
		leader = x }

proctype Faults()
{
end:
	do
	CRASH(0) CRASH(1) CRASH(2)
	REBOOT(0) REBOOT(1) REBOOT(2)
	RESTART(0) RESTART(1) RESTART(2)
	HANG(0) HANG(1) HANG(2)
#ifdef WITH_UNHANG
	UNHANG(0) UNHANG(1) UNHANG(2)
#endif
	EARLY_TIMER(0) EARLY_TIMER(1) EARLY_TIMER(2)
	ADMIN(0) ADMIN(1) ADMIN(2)
	LCHG(0) LCHG(1) LCHG(2)
	:: break	/* no more faults */
	od
}

#ifdef LIVENESS
ltl live { [] <> QUIET }
#else
active proctype invariants()
{
end:
	atomic {
		!INVARIANTS ->
		inv_b2_state_has_record = (INV_B2(0) && INV_B2(1));
		inv_e_safety_event_only_for_faults = INV_E;
		inv_epochs = (INV_EPOCHS(0) && INV_EPOCHS(1));
		assert(inv_b2_state_has_record);
		assert(inv_e_safety_event_only_for_faults);
		assert(inv_epochs);
		probe_safety_event = INV_PROBE;
		assert(probe_safety_event)
	}
}
#endif

init
{
	d_step {
		up[0] = 1; up[1] = 1; up[2] = 1;
		conn[0] = 1; conn[1] = 1; conn[2] = 1;
		ks[0] = K_OUT; ks[1] = K_OUT; ks[2] = K_OUT;
		leader = 0;
#ifdef BROKEN_STALE_LEADER
		lview[0] = 0; lview[1] = 0; lview[2] = 0; lview[NONE] = NONE;
#endif
		host[0] = 0; host[1] = 1;
		reach[0] = 1; reach[1] = 1;
		rec[0] = CC; rec[1] = CC;
		cst[0] = C_HOLD; cst[1] = C_HOLD;
		kheld[0] = bit(0); kheld[1] = bit(1)
	}
	atomic {
		run Node(0);
		run Node(1);
		run Node(2);
		run Ctdb();
		run Client(0);
		run Client(1);
		run Clock();
		run Faults()
	}
}
