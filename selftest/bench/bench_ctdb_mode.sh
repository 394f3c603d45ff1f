#!/bin/bash
#
# The CTDB part of make bench (selftest/bench/bench.sh runs it): a real
# 3-node local CTDB cluster with one cltrackd per node (started by the
# event script) and one emulated nfsd per node, set up by
# selftest/grace/grace_lib.sh as the grace scenarios do.
#
#   bench_ctdb_mode.sh LEVELS WINDOWS PTRANS_OPS LIFT_RUNS
#
#   LEVELS      client counts, e.g. "1000 10000 100000": per level, node 0's
#               nfsd creates that many clients with 64 in flight, then
#               windows of more Creates at 1, 8 and 64 in flight, then it
#               restarts (a cluster grace: every node gets the list), and
#               the grace is lifted, which purges them all
#   WINDOWS     "W1 W8 W64": Creates per window
#   PTRANS_OPS  "P1 P8 P64": the peer, one "ctdb ptrans" process per
#               create on node 0, at 1, 8 and 64 in flight
#   LIFT_RUNS   how often to time the lift: 3 clients per node, cluster
#               grace, every client reclaims on its node, then the time
#               from the last RECLAIM_COMPLETE until every node's
#               v4_end_grace reads Y
#
# Prints "key=value" lines for bench.sh; asserts nothing on timings.
set -u
LEVELS=${1:-"1000 10000"}
read -r W1 W8 W64 <<<"${2:-"300 1000 2000"}"
read -r P1 P8 P64 <<<"${3:-"50 100 200"}"
LIFT_RUNS=${4:-3}
GRACE_TIME=10
. "$(dirname "$0")/../grace/grace_lib.sh"
SPAWN=${CLTRACK_BUILDDIR:-$top/build}/selftest/bench/spawn_bench
DIR="$T/cluster"

# bemu K COMMAND [SECONDS]: like grace_lib's emu, polling every 10 ms;
# what the emulator printed for this command goes to $BEMU_OUT (never
# call it in a subshell: EMU_SENT counts the commands sent)
BEMU_OUT=""
bemu() {
	local k=$1 cmd=$2 secs=${3:-300} want before i
	before=$(wc -l <"$T/nfs.$k/emu.log")
	echo "$cmd" >&"${EMU_FD[$k]}"
	EMU_SENT[$k]=$((EMU_SENT[$k] + 1))
	want=${EMU_SENT[$k]}
	for ((i = 0; i < secs * 100; i++)); do
		if grep -q "^# done $want: " "$T/nfs.$k/emu.log"; then
			BEMU_OUT=$(tail -n +"$((before + 1))" "$T/nfs.$k/emu.log" |
				grep -v '^# done')
			grep -q "^# done $want: ok" "$T/nfs.$k/emu.log"
			return
		fi
		sleep 0.01
	done
	echo "emu $k: '$cmd' did not finish" >&2
	return 1
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
# every kernel out of grace, read with shell builtins only (fine polling)
kernels_out() {
	local k v
	for k in 0 1 2; do
		read -r v <"$T/nfs.$k/proc/v4_end_grace" || return 1
		[ "$v" = N ] && return 1
	done
	return 0
}
stat_of() {
	cltrack_on "$1" stats 2>/dev/null | awk -v k="$2" '$1 == k { print $2 }'
}
records_total() {
	cltrack_on "$1" list --json 2>/dev/null | grep -c '"id_hex"'
}
vmhwm() {
	awk '/^VmHWM/ { print $2 }' "/proc/$1/status" 2>/dev/null
}
# "creates: N in S s = X creates/s, K in flight, p50 A ms, p99 B ms ..."
creates_kv() {
	awk '/^creates: / { printf "creates_s=%s p50_ms=%s p99_ms=%s", $7, $13, $16 }' |
		tr -d ','
}

grace_setup_nodes
if ! cl start "$DIR" $N --script "$top/events.d/legacy/59.cltrack.script" \
	--options-dir "$T/opts" --tunable MonitorInterval=5 >"$T/start.log" 2>&1; then
	echo "error=cluster_start"
	tail -20 "$T/start.log" >&2
	exit 1
fi
wait_for 60 connected_all 0 1 2 || { echo "error=cltrackd_not_connected"; exit 1; }
wait_for 60 lifted_all 0 1 2 || { echo "error=startup_grace"; exit 1; }
PID0=$(cltrackd_pid 0)
echo "# ctdb cluster up: 3 nodes, cltrackd pid on node 0: $PID0"

for level in $LEVELS; do
	p="L$level-"
	bemu 0 "creates $level 64 Linux-NFSv4.2-ctdb-$p" 900 ||
		echo "error=fill_$level"
	echo "ctdb_fill clients=$level inflight=64 $(creates_kv <<<"$BEMU_OUT")"
	for k in 1 8 64; do
		eval "w=\$W$k"
		bemu 0 "creates $w $k Linux-NFSv4.2-ctdb-${p}w$k-" 900 ||
			echo "error=window_${level}_$k"
		echo "ctdb_window clients=$level inflight=$k ops=$w $(creates_kv <<<"$BEMU_OUT")"
	done
	stored=$(stat_of 0 batched_ops)
	sent0=$(stat_of 1 upcalls_gracestart)
	t0=$(now)
	bemu 0 restart 300 || echo "error=restart_$level"
	start_ms=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.1f", (b - a) * 1000 }')
	# the other nodes are restarted by the cluster grace: wait for their lists
	others_listed() {
		[ "$(stat_of 1 upcalls_gracestart)" -gt "$sent0" ] &&
			[ "$(stat_of 1 reclaim_list_sent)" = "$(stat_of 0 reclaim_list_sent)" ] &&
			[ "$(stat_of 2 reclaim_list_sent)" = "$(stat_of 0 reclaim_list_sent)" ]
	}
	wait_for 120 others_listed || echo "error=lists_$level"
	for k in 0 1 2; do
		echo "ctdb_gracestart clients=$level node=$k records=$(stat_of "$k" reclaim_list_sent) list_ms=$(awk -v u="$(stat_of "$k" reclaim_list_usec)" 'BEGIN { printf "%.3f", u / 1000 }') start_ms=$start_ms"
	done
	echo "ctdb_rss clients=$level node=0 vmhwm_kb=$(vmhwm "$PID0")"
	# lift now (the leader purges every unreclaimed record)
	L=$(status_field 0 leader)
	t0=$(now)
	cltrack_on "$L" grace lift >/dev/null 2>&1
	wait_for 300 lifted_all 0 1 2 || echo "error=lift_$level"
	echo "ctdb_purge clients=$level seconds=$(elapsed "$t0" "$(now)") left=$(records_total 0)"
done

# The peer: one "ctdb ptrans" per create (the statd-callout approach)
eval "$(cl env "$DIR" 0)"
ctdb attach bench_ptrans.tdb persistent >/dev/null
VALUE="v1 epoch=0000000000000001 prev=0000000000000000 pnn=0 session=1 created=%n pad=0123456789abcdef"
first=0
for k in 1 8 64; do
	eval "n=\$P$k"
	out=$("$SPAWN" --clients "$n" --inflight "$k" --first "$first" --keep-env \
		--stdin "\"client/%h\" \"$VALUE\"" -- /usr/bin/ctdb ptrans bench_ptrans.tdb) ||
		echo "error=ptrans_$k"
	first=$((first + n))
	echo "ptrans_window ${out#spawn }"
done
echo "ptrans_records records=$(ctdb catdb bench_ptrans.tdb 2>/dev/null | grep -c '^key(')"

# Lift latency: last reclaim to every node out of grace
for k in 0 1 2; do
	for i in 1 2 3; do
		bemu "$k" "create c$k-$i"
	done
done
for run in $(seq "$LIFT_RUNS"); do
	cltrack_on 0 grace start >/dev/null 2>&1
	if ! wait_for 60 in_grace_all 0 1 2; then
		echo "error=lift_run_$run"
		continue
	fi
	# each node's nfsd must have its list before the clients reclaim
	sleep 0.5
	for k in 1 2 0; do
		for i in 1 2 3; do
			bemu "$k" "reclaim c$k-$i"
			bemu "$k" "reclaim-complete c$k-$i"
		done
	done
	t_last=$(now)
	lifted=0
	for ((i = 0; i < 3000; i++)); do
		if kernels_out; then
			lifted=1
			break
		fi
		sleep 0.005
	done
	if [ "$lifted" = 1 ]; then
		echo "ctdb_lift run=$run lift_ms=$(awk -v a="$t_last" -v b="$(now)" 'BEGIN { printf "%.1f", (b - a) * 1000 }')"
	else
		echo "error=no_lift_run_$run"
	fi
	wait_for 30 lifted_all 0 1 2
done

cl stop "$DIR" >/dev/null 2>&1
