#!/bin/bash
#
# make demo: three NFS servers on a real CTDB cluster (three ctdbd on
# 127.0.0.1-3, floating addresses 127.0.100.11-13 on lo), one cltrackd
# per node started by the CTDB event script, one emulated kernel nfsd per
# node.  A node dies, its address moves, the whole cluster enters grace,
# clients reclaim wherever their address went, and the leader alone ends
# the grace.  Everything runs in a temporary directory and is cleaned up.
#
# The single-host story (cltrackd replacing nfsdcld on one server) is
# selftest/demo-single.sh (make demo-single).
set -u
N=3 GRACE_TIME=10 KERNEL_GRACE=60
. "$(dirname "$0")/grace/grace_lib.sh"
DIR="$T/cluster"

say() { printf '\n\033[1m%s\033[0m\n' "$*"; }
show() {
	echo "\$ cltrack $*"
	if [ "$1" = status ]; then
		# the summary; the counters follow it in the full output
		cltrack_on "$SHOW_NODE" "$@" | sed '/^$/q' | sed 's/^/  /'
	else
		cltrack_on "$SHOW_NODE" "$@" | sed 's/^/  /'
	fi
}
summary() {
	local k
	for k in "$@"; do
		printf '  node %s: %-44s kernel grace: %s\n' "$k" \
			"$(cltrack_on "$k" status 2>/dev/null | sed -n 's/^Grace: *//p')" \
			"$( [ "$(cat "$T/nfs.$k/proc/v4_end_grace" 2>/dev/null)" = N ] && echo in || echo out)"
	done
}
leader_of() { status_field "$1" leader; }
holder_of() {
	cl ctdb "$DIR" "$2" -X ip 2>/dev/null |
		awk -F'|' -v ip="$1" '$2 == ip { print $3; exit }'
}
lifted_on() {
	local k
	for k in "$@"; do
		[ "$(recovery_epoch "$k")" = 0 ] || return 1
		kernel_in_grace "$k" && return 1
	done
	return 0
}
reclaim() { emu "$1" "reclaim $2" >/dev/null && emu "$1" "reclaim-complete $2" >/dev/null; }
fail() { echo "demo FAILED: $*" >&2; exit 1; }

say "=== cltrack demo: NFSv4 client tracking with one grace for a CTDB cluster ==="
echo "Starting 3 ctdbd nodes (127.0.0.1-3) with the event script 59.cltrack;"
echo "each node's cltrackd is started by the event script's startup event."
grace_setup_nodes
if ! cl start "$DIR" $N --script "$top/events.d/legacy/59.cltrack.script" \
	--options-dir "$T/opts" >"$T/cluster-start.log" 2>&1; then
	tail -20 "$T/cluster-start.log"
	fail "the cluster did not start"
fi
wait_for 60 lifted_on 0 1 2 || fail "start-up graces were not lifted"
L=$(leader_of 0)
SHOW_NODE=$L
echo "Cluster up; the CTDB leader is node $L."
show status
show members

say "--- 1. Six NFSv4.1 clients mount, two through each node's address"
for k in 0 1 2; do
	for i in 1 2; do
		emu "$k" "create client$k-$i.example.com" >/dev/null
	done
done
show list

V=$(( (L + 1) % 3 ))
S=$(( (L + 2) % 3 ))
VIP=$(cl ctdb "$DIR" "$L" -X ip | awk -F'|' -v k="$V" '$3 == k { print $2; exit }')
say "--- 2. Node $V dies (kill -9 of its ctdbd, cltrackd and nfsd)"
pid=$(cltrackd_pid "$V")
cl kill "$DIR" "$V" >/dev/null
kill -KILL "$pid" 2>/dev/null
emu "$V" stop >/dev/null
t_kill=$(now)
echo "CTDB moves its address $VIP to a survivor; the takeip event starts a"
echo "cluster grace; the other nodes' cltrackd restart their nfsd into it."
for i in $(seq 300); do
	h=$(holder_of "$VIP" "$L")
	[ -n "$h" ] && [ "$h" != "$V" ] && [ "$h" != -1 ] && [ "$(recovery_epoch "$L")" != 0 ] &&
		kernel_in_grace "$L" && kernel_in_grace "$S" &&
		[ "$(cltrack_on "$L" members | grep -c ENFORCING)" -ge 2 ] && break
	sleep 0.1
done
NEW=$(holder_of "$VIP" "$L")
echo "After $(elapsed "$t_kill" "$(now)") s: $VIP is on node $NEW, and every survivor is in grace:"
summary "$L" "$S"
show members
echo "Each survivor's nfsd got the whole cluster's reclaim list (6 clients, plus"
echo "a sentinel no client matches, so that no kernel ends the grace on its own):"
emu "$S" show >/dev/null
grep "reclaim list of the last GraceStart" "$T/nfs.$S/emu.log" | tail -1 | sed 's/^/  /'

say "--- 3. The clients reclaim: node $V's clients through node $NEW"
for k in "$L" "$S"; do
	reclaim "$k" "client$k-1.example.com"; reclaim "$k" "client$k-2.example.com"
done
echo "Node $V's clients have not reclaimed yet, so the leader keeps the grace:"
summary "$L" "$S"
reclaim "$NEW" "client$V-1.example.com"
reclaim "$NEW" "client$V-2.example.com"
t_last=$(now)
wait_for 15 lifted_on "$L" "$S" || fail "the leader did not lift"
echo "Every client reclaimed: the leader (node $L) lifted the grace on the fast"
echo "path $(elapsed "$t_last" "$(now)") s after the last reclaim, and every nfsd left grace:"
summary "$L" "$S"
show status

say "--- 4. Node $V comes back (failback): a new grace, nothing lost"
cl restart "$DIR" "$V" >/dev/null 2>&1 || fail "node $V did not restart"
wait_for 60 bash -c "[ -S $T/nfs.$V/cltrackd.sock ]"
for i in $(seq 300); do
	[ "$(recovery_epoch "$V")" != 0 ] 2>/dev/null && kernel_in_grace "$V" && break
	sleep 0.1
done
summary 0 1 2
for k in 0 1 2; do
	reclaim "$k" "client$k-1.example.com"; reclaim "$k" "client$k-2.example.com"
done
wait_for 30 lifted_on 0 1 2 || fail "the failback grace was not lifted"
echo "All six clients reclaimed; grace lifted on every node:"
summary 0 1 2

say "--- 5. The leader itself dies, and client$S-2 never comes back"
A=$V; B=$S
pid=$(cltrackd_pid "$L")
cl kill "$DIR" "$L" >/dev/null
kill -KILL "$pid" 2>/dev/null
emu "$L" stop >/dev/null
for i in $(seq 300); do
	l=$(leader_of "$A")
	[ -n "$l" ] && [ "$l" != unknown ] && [ "$l" != "$L" ] &&
		kernel_in_grace "$A" && kernel_in_grace "$B" && break
	sleep 0.1
done
NL=$(leader_of "$A")
SHOW_NODE=$NL
echo "Node $NL is the new CTDB leader; the survivors are in grace:"
summary "$A" "$B"
for c in "client$A-1" "client$A-2" "client$L-1" "client$L-2" "client$B-1"; do
	reclaim "$A" "$c.example.com"
done
echo "Five clients reclaimed; client$S-2 does not.  The new leader waits for"
echo "the deadline ($GRACE_TIME s after the last node entered grace), then lifts"
echo "and purges only the client that did not reclaim:"
wait_for $((GRACE_TIME + 20)) lifted_on "$A" "$B" || fail "the new leader did not lift"
summary "$A" "$B"
show list
show status

cl stop "$DIR" >/dev/null 2>&1
say "=== demo finished: every step behaved as described ==="
