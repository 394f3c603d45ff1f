#!/bin/bash
#
# Cluster grace on a real 3-node CTDB cluster (issue 4, S1-S7): one
# cltrackd per node started by events.d/legacy/59.cltrack.script, one
# emulated nfsd per node whose restart is the nfsd restart command.
#
#   S1  a node dies, its address moves, every node enters grace with the
#       full list, its clients reclaim on the new node, the leader lifts
#       on the fast path (time from the last reclaim printed)
#   S5  the node returns: a new grace runs and no record is lost
#   S2  the leader dies: the new leader lifts
#   S3  clients that never reclaim are purged at the deadline, nobody else
#   S4  the dead leader never comes back and nothing waits for it
#   S6  ctdbd restarts on one node during grace
#   S7  one kernel ends grace early: a safety event in cltrack status
#   and a lift asked of a non-leader is refused and counted
#   S8  the barrier: no nfsd serves in a new grace until every node
#       enforces it (one node's nfsd restart is held back)
#   S9  (with S2/S3) a node that serves NFSv4.0: its clients' re-creates
#       do not count as finished reclaims (they wait for the deadline)
#   and, in S5, the node that hands an address back restarts its nfsd
set -u
# The grace time must outlast a ctdbd restart (S6, about 15 s here)
GRACE_TIME=${GRACE_TIME:-25}
. "$(dirname "$0")/grace_lib.sh"

DIR="$T/cluster"
CLIENTS_PER_NODE=3

node_crash() {
	local k=$1 pid
	pid=$(cltrackd_pid "$k")
	cl kill "$DIR" "$k" >/dev/null
	[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
	emu "$k" stop >/dev/null
}

leader_of() { status_field "$1" leader; }

# the cluster agrees on a leader other than $1 (if given)
leader_known() {
	local k=$1 l
	l=$(leader_of "$k")
	[ -n "$l" ] && [ "$l" != unknown ] && [ "$l" != "${2:-x}" ]
}

connected_all() {
	local k
	for k in "$@"; do
		[ "$(status_field "$k" kernel_connected)" = 1 ] || return 1
		[ "$(status_field "$k" ctdb_connected)" = 1 ] || return 1
	done
}

lifted_all() {
	local k
	for k in "$@"; do
		not_in_cluster_grace "$k" || return 1
	done
	all_out_of_grace "$@"
}

in_grace_all() {
	local k
	for k in "$@"; do
		[ "$(recovery_epoch "$k")" != 0 ] || return 1
		kernel_in_grace "$k" || return 1
	done
}

# the emulator of node k got the n client records at its last GraceStart,
# plus cltrackd's sentinel (a record no client matches, so that no kernel
# ends the cluster grace on its own)
list_size_is() {
	set -- "$1" $(($2 + 1))
	emu "$1" show >/dev/null &&
	tail -n 20 "$T/nfs.$1/emu.log" |
		grep -q "reclaim list of the last GraceStart: $2 record(s)"
}

records_total() {
	cltrack_on "$1" list --json 2>/dev/null | grep -c '"id_hex"'
}

has_client() {
	cltrack_on "$1" list 2>/dev/null | grep -q "^$2 "
}

# the public address node k held, and who holds it now
ip_of_node() {
	cl ctdb "$DIR" "$2" -X ip 2>/dev/null | awk -F'|' -v k="$1" '$3 == k { print $2; exit }'
}
holder_of() {
	cl ctdb "$DIR" "$2" -X ip 2>/dev/null | awk -F'|' -v ip="$1" '$2 == ip { print $3; exit }'
}

reclaim_all() {
	local node=$1 c
	shift
	for c in "$@"; do
		emu "$node" "reclaim $c" && emu "$node" "reclaim-complete $c" ||
			return 1
	done
}

grace_setup_nodes
t0=$(now)
if ! cl start "$DIR" $N --script "$top/events.d/legacy/59.cltrack.script" \
	--options-dir "$T/opts" --tunable MonitorInterval=5; then
	bad "start a 3-node cluster with the cltrack event script"
	echo "$passed passed, $failed failed"
	exit 1
fi
check "3 nodes up, one cltrackd and nfsd each" wait_for 60 connected_all 0 1 2
check "the start-up graces are lifted" wait_for 60 lifted_all 0 1 2
echo "TIME: cluster and cltrackd ready in $(elapsed "$t0" "$(now)") s"
# Lifts during start-up may pass nodes that are not healthy yet (a
# counted safety event by design); the scenarios must add none.
declare -a WITHOUT0
for k in 0 1 2; do
	WITHOUT0[$k]=$(status_field "$k" safety_lift_without_node)
done

# Clients: c<node>-<i> mount through each node
for k in 0 1 2; do
	for i in $(seq $CLIENTS_PER_NODE); do
		emu "$k" "create c$k-$i" >/dev/null
	done
done
check "9 client records, visible on every node" \
	test "$(records_total 0)$(records_total 1)$(records_total 2)" = 999

###########################################################################
echo "== S1: a node dies; its clients reclaim elsewhere; fast-path lift"
wait_for 20 leader_known 0
L=$(leader_of 0)
V=$(( (L + 1) % 3 ))
S=$(( (L + 2) % 3 ))
VIP=$(ip_of_node "$V" "$L")
echo "leader $L, victim $V (address $VIP), survivor $S"
node_crash "$V"
check "S1: the survivors enter the cluster grace" wait_for 30 in_grace_all "$L" "$S"
check "S1: the leader's nfsd got the full list (9)" list_size_is "$L" 9
check "S1: the other survivor's nfsd got the full list (9)" list_size_is "$S" 9
vip_moved() {
	local h
	h=$(holder_of "$VIP" "$L")
	[ -n "$h" ] && [ "$h" != "$V" ] && [ "$h" != -1 ]
}
check "S1: the victim's address moved to a survivor" wait_for 20 vip_moved
NEW=$(holder_of "$VIP" "$L")
if [ "$NEW" != "$L" ] && [ "$NEW" != "$S" ]; then
	NEW=$S
fi
reclaim_all "$L" c$L-1 c$L-2 c$L-3
reclaim_all "$S" c$S-1 c$S-2 c$S-3
check "S1: grace still held while the victim's clients have not reclaimed" \
	in_grace_all "$L" "$S"
reclaim_all "$NEW" c$V-1 c$V-2 c$V-3
t_last=$(now)
if wait_for 15 lifted_all "$L" "$S"; then
	lift_s=$(elapsed "$t_last" "$(now)")
	ok "S1: lifted on the fast path, every survivor out of grace"
	echo "TIME: S1 last reclaim to every node out of grace: $lift_s s"
else
	bad "S1: lifted on the fast path, every survivor out of grace"
fi
check "S1: no record lost (9 on the leader)" test "$(records_total "$L")" = 9
check "S1: nothing purged" test "$(status_field "$L" records_purged)" = 0

###########################################################################
echo "== S5: the victim returns (failback): a new grace, no record lost"
cl restart "$DIR" "$V" >/dev/null
check "S5: the victim's cltrackd and nfsd are back" wait_for 60 connected_all "$V"
check "S5: its nfsd got the full list in the new grace" \
	wait_for 30 list_size_is "$V" 9
for k in 0 1 2; do
	reclaim_all "$k" c$k-1 c$k-2 c$k-3 >/dev/null 2>&1
done
check "S5: the failback grace is lifted" wait_for 30 lifted_all 0 1 2
check "S5: no record lost (9)" test "$(records_total "$V")" = 9
released_restart() {
	grep -q "restarting it so that they reclaim where the address went" \
		"$T/nfs.$L/cltrackd.log" "$T/nfs.$S/cltrackd.log"
}
check "S5: a node that released an address restarted its nfsd" released_restart

###########################################################################
echo "== S7: a non-leader's lift is refused; an early kernel exit is a safety event"
wait_for 20 leader_known 0
L=$(leader_of 0)
NL=$(( (L + 1) % 3 ))
if cltrack_on "$NL" grace lift >/dev/null 2>&1; then
	bad "S7: grace lift on a non-leader is refused"
else
	ok "S7: grace lift on a non-leader is refused"
fi
check "S7: ... and counted as a safety event" \
	test "$(status_field "$NL" safety_nonleader_lift)" = 1
cltrack_on "$L" grace start
check "S7: cltrack grace start runs a cluster grace" wait_for 30 in_grace_all 0 1 2
restarts=$(status_field "$NL" nfsd_restarts)
emu "$NL" end-grace >/dev/null
early_end_counted() {
	[ "$(status_field "$NL" safety_early_kernel_end)" = 1 ]
}
back_in_grace() {
	[ "$(status_field "$NL" nfsd_restarts)" -gt "$restarts" ] &&
		kernel_in_grace "$NL"
}
check "S7: the early kernel exit shows in cltrack status" \
	wait_for 10 early_end_counted
check "S7: that node's nfsd is put back into the grace" \
	wait_for 40 back_in_grace
for k in 0 1 2; do
	reclaim_all "$k" c$k-1 c$k-2 c$k-3 >/dev/null 2>&1
done
check "S7: the grace is lifted once everyone reclaimed" wait_for 30 lifted_all 0 1 2

###########################################################################
echo "== S8: the barrier: nfsd waits at start until every node enforces"
L=$(leader_of 0)
X=$(( (L + 1) % 3 ))
Y=$(( (L + 2) % 3 ))
held() { [ "$(status_field "$1" kernel_reply_held)" = 1 ]; }
held_both() { held "$L" && held "$Y"; }
released_all() {
	local k
	for k in 0 1 2; do
		held "$k" && return 1
	done
	in_grace_all 0 1 2
}
# node X's nfsd cannot restart while its emulator is stopped
kill -STOP "${EMU_PID[$X]}"
cltrack_on "$L" grace start
check "S8: the other nodes' nfsd wait at start (reply held)" \
	wait_for 15 held_both
sleep 3
check "S8: ... and still wait while node $X has not entered" held_both
kill -CONT "${EMU_PID[$X]}"
check "S8: once node $X enforces, every nfsd serves in the grace" \
	wait_for 20 released_all
held_us=$(status_field "$L" grace_start_held_usec)
echo "TIME: S8 the held GraceStart reply waited $((held_us / 1000)) ms"
check "S8: the wait covered node $X's delay (>= 3 s)" \
	test "${held_us:-0}" -ge 3000000
for k in 0 1 2; do
	reclaim_all "$k" c$k-1 c$k-2 c$k-3 >/dev/null 2>&1
done
check "S8: the grace is lifted once everyone reclaimed" wait_for 30 lifted_all 0 1 2
check "S8: no record lost (9)" test "$(records_total "$L")" = 9

###########################################################################
echo "== S2/S3/S4: the leader dies; some clients never reclaim"
L=$(leader_of 0)
A=$(( (L + 1) % 3 ))
B=$(( (L + 2) % 3 ))
# S9: survivor A's nfsd serves NFSv4.0 from its restart on
echo "-2 +3 +4 +4.0 +4.1 +4.2" >"$T/nfs.$A/proc/versions"
node_crash "$L"
t_kill=$(now)
check "S2: a new leader is elected" wait_for 30 leader_known "$A" "$L"
NLDR=$(leader_of "$A")
case "$NLDR" in
"$A" | "$B") ok "S2: the new leader is a survivor" ;;
*) bad "S2: the new leader is a survivor (got '$NLDR')" ;;
esac
echo "old leader $L, new leader $NLDR, survivors $A $B"
check "S2: the survivors enter the cluster grace" wait_for 30 in_grace_all "$A" "$B"
# everyone but c$L-3 and c$A-3 reclaims: those two never come back
reclaim_all "$A" c$A-1 c$A-2 c$L-1 c$L-2
reclaim_all "$B" c$B-1 c$B-2 c$B-3
check "S3: held while two clients have not reclaimed" in_grace_all "$A" "$B"
session_of() {
	cltrack_on "$1" list --json 2>/dev/null | tr -d ' \n' |
		grep -o "\"id\":\"$2\"[^}]*\"session\":[a-z]*" |
		sed 's/.*"session"://'
}
check "S9: a reclaim on the NFSv4.0 node is not a finished one" \
	test "$(session_of "$A" "c$A-1")" = false
check "S9: a reclaim on a v4.1-only node is" \
	test "$(session_of "$A" "c$B-1")" = true
if wait_for $((GRACE_TIME + 20)) lifted_all "$A" "$B"; then
	ok "S2/S4: the new leader lifted without the dead one"
	echo "TIME: S2 leader kill to lift at the deadline: $(elapsed "$t_kill" "$(now)") s"
else
	bad "S2/S4: the new leader lifted without the dead one"
fi
unreclaimed_gone() {
	! has_client "$A" "c$L-3" && ! has_client "$A" "c$A-3"
}
check "S3: the two unreclaimed clients were purged" unreclaimed_gone
check "S3: nobody else was purged (7 left)" test "$(records_total "$A")" = 7
check "S4: the dead node stays dead and the cluster serves on" \
	test "$(status_field "$A" recovery_epoch)" = 0
echo "-2 +3 +4 -4.0 +4.1 +4.2" >"$T/nfs.$A/proc/versions"

###########################################################################
echo "== S6: ctdbd restarts on one node during grace"
cltrack_on "$A" grace start
check "S6: a grace is running" wait_for 30 in_grace_all "$A" "$B"
# restart the ctdbd of a survivor that is not the leader
R=$A
[ "$(leader_of "$A")" = "$A" ] && R=$B
cl shutdown "$DIR" "$R" >/dev/null
cl restart "$DIR" "$R" >/dev/null
check "S6: cltrackd reconnected to the restarted ctdbd" \
	wait_for 60 connected_all "$R"
reclaim_all "$A" c$A-1 c$A-2 c$L-1 c$L-2 >/dev/null 2>&1
reclaim_all "$B" c$B-1 c$B-2 c$B-3 >/dev/null 2>&1
check "S6: the grace is lifted" wait_for 40 lifted_all "$A" "$B"
check "S6: no record lost (7)" test "$(records_total "$A")" = 7
for k in "$A" "$B"; do
	echo "node $k: safety events $(status_field "$k" safety_events)," \
	     "early kernel end $(status_field "$k" safety_early_kernel_end)," \
	     "non-leader lift $(status_field "$k" safety_nonleader_lift)," \
	     "lift without a node $(status_field "$k" safety_lift_without_node)"
done
check "no lift in the scenarios left an active node out of grace" \
	test "$(status_field "$A" safety_lift_without_node)$(status_field "$B" safety_lift_without_node)" = "${WITHOUT0[$A]}${WITHOUT0[$B]}"

cl stop "$DIR" >/dev/null 2>&1
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
