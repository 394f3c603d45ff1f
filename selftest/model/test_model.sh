#!/bin/bash
#
# Model-check the cluster grace protocol (selftest/model/grace.pml, written
# up in docs/grace-protocol.md) with spin.
#
#   - the protocol: every safety assertion and invariant holds, by an
#     exhaustive search, in each fault configuration below; the liveness
#     property holds under weak fairness;
#   - every BROKEN_* variant (one design flaw put back) is rejected, with
#     the property that catches it, and its counterexample is printed;
#   - every PROBE_* is reached, so the properties are not vacuous.
#
# Environment: CLTRACK_MODEL_JOBS=n parallel pan runs (default: CPUs);
# CLTRACK_MODEL_FULL=1 adds the larger configurations (minutes);
# CLTRACK_MODEL_FILTER=substring runs only the matching checks;
# CLTRACK_MODEL_KEEP=1 keeps the work directory.
#
# The last line is "N passed, N failed", as selftest/ scripts must end.

set -u

SRCDIR=${CLTRACK_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
MODEL=$SRCDIR/selftest/model/grace.pml
ACTIONS=$SRCDIR/selftest/model/actions.txt
JOBS=${CLTRACK_MODEL_JOBS:-$(nproc 2>/dev/null || echo 2)}
FILTER=${CLTRACK_MODEL_FILTER:-}
FULL=${CLTRACK_MODEL_FULL:-0}

passed=0
failed=0

for tool in spin gcc; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "FAIL: $tool is not installed (buildtools/bootstrap.sh installs it)"
		echo "0 passed, 1 failed"
		exit 1
	fi
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/cltrack-model.XXXXXX")
cleanup()
{
	if [ "${CLTRACK_MODEL_KEEP:-0}" = 1 ]; then
		echo "work directory kept: $WORK"
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT

# Fault budgets: crashes, nfsd restarts, hangs, early timers, admin grace
# starts, leader changes, clients that never reclaim.
budget()
{
	echo "-DMAXCRASH=$1 -DMAXRESTART=$2 -DMAXHANG=$3 -DMAXTIMER=$4" \
	     "-DMAXADMIN=$5 -DMAXLCHG=$6 -DMAXGIVEUP=$7"
}

# name | kind | expected | spin -D options
#   kind: safety (exhaustive DFS), live (acceptance cycles, weak
#   fairness), bfs (shortest counterexample)
#   expected: ok, the name of the assertion that must fail, or cycle
CHECKS=$WORK/checks
{
	# The protocol, one fault mix per run; the longest runs first, so
	# that the job pool ends evenly.
	echo "slow-members|safety|ok|$(budget 1 1 0 0 0 0 1) -DWITH_SLOW_NODES"
	echo "stuck-member|safety|ok|$(budget 1 1 1 0 1 1 1)"
	echo "liveness|live|ok|$(budget 1 1 1 0 0 0 1)"
	echo "failover|safety|ok|$(budget 2 1 0 0 0 0 1)"
	echo "expiry|safety|ok|$(budget 1 1 0 0 0 0 1) -DWITH_REMOVE"
	echo "early-timer|safety|ok|$(budget 1 1 0 1 0 0 1)"
	echo "hang-ends|safety|ok|$(budget 1 0 1 0 0 0 1) -DWITH_UNHANG"
	# A cltrackd whose cached leader is stale may lift: c fails (next
	# list), but a1-a3, b1, d and the invariants still hold.
	echo "stale-leader-is-harmless|safety|ok|$(budget 1 0 0 0 0 1 1) -DBROKEN_STALE_LEADER -DNO_PROP_C"
	if [ "$FULL" = 1 ]; then
		echo "full-failover-stuck|safety|ok|$(budget 2 0 1 0 0 1 1)"
		echo "full-slow-hang|safety|ok|$(budget 1 1 1 0 0 0 1) -DWITH_SLOW_NODES -DWITH_UNHANG"
		echo "full-timer-admin-leader|safety|ok|$(budget 1 1 0 1 1 1 1)"
		echo "full-liveness-failover|live|ok|$(budget 2 0 1 0 0 0 1)"
		echo "full-liveness-leader|live|ok|$(budget 2 0 0 0 0 1 1)"
		echo "full-liveness-timer|live|ok|$(budget 1 0 0 1 1 0 1)"
	fi

	# Each variant puts back one flaw; the named property must catch it.
	s=$(budget 1 1 0 0 0 0 1)
	echo "broken-lift-without-enforcing|bfs|b1_purge_only_unheld|$(budget 0 0 0 0 1 0 1) -DBROKEN_LIFT_NO_ENF"
	echo "broken-lift-with-address-down|bfs|b1_purge_only_unheld|$s -DBROKEN_LIFT_NO_ADDR_CHECK"
	echo "broken-node-purges-on-gracedone|bfs|b1_purge_only_unheld|$s -DBROKEN_LOCAL_PURGE"
	echo "broken-stale-leader-lifts|bfs|c_only_leader_lifts|$s -DBROKEN_STALE_LEADER"
	echo "broken-v40-counts-as-finished|bfs|d_reclaim_never_refused|$s -DBROKEN_FINISHED_NO_R"
	echo "broken-no-undo-of-recreates|bfs|d_reclaim_never_refused|$(budget 1 1 0 0 1 0 1) -DBROKEN_NO_UNDO"
	echo "broken-takeip-ignores-lost-members|bfs|d_reclaim_never_refused|$(budget 2 0 0 0 0 0 1) -DBROKEN_TAKEIP_NO_MEMBER_LOST"
	echo "broken-takeip-keeps-deadline|bfs|b1_purge_only_unheld|$s -DBROKEN_NO_TAKEIP_EXTEND"
	echo "broken-no-barrier|bfs|a2_no_reclaim_while_node_serves_out|$(budget 0 1 0 0 0 0 0) -DBROKEN_NO_BARRIER"
	echo "broken-no-sentinel|bfs|a1_enforcing_kernel_stays_in_grace|$s -DBROKEN_NO_SENTINEL"
	echo "broken-window-create-in-epoch-c|bfs|d_reclaim_never_refused|$s -DBROKEN_WINDOW_CREATE_IN_C"
	echo "broken-no-stale-list-restart|bfs|d_reclaim_never_refused|$(budget 1 1 0 0 1 0 1) -DBROKEN_NO_STALE"
	echo "broken-no-releaseip-restart|bfs|a3_no_reclaim_while_state_held_elsewhere|$(budget 0 1 0 0 0 0 0) -DWITH_SLOW_NODES -DBROKEN_NO_RELEASEIP"
	echo "broken-lift-message-trusted|bfs|a1_enforcing_kernel_stays_in_grace|$s -DBROKEN_TRUST_LIFT_MSG"
	echo "broken-no-enforcement-timeout|live|cycle|$(budget 1 0 1 0 0 0 1) -DBROKEN_NO_ENF_TIMEOUT"
	echo "broken-no-deadline|live|cycle|$(budget 1 0 0 0 0 0 1) -DBROKEN_NO_DEADLINE"

	# Each probe asserts that something interesting never happens.
	echo "probe-early-timer-raises-safety-event|bfs|probe_safety_event|$(budget 1 1 0 1 0 0 1) -DPROBE_SAFETY_EVENT"
	echo "probe-lift-past-stuck-member|bfs|probe_lift_past_stuck|$(budget 1 0 1 0 0 0 1) -DPROBE_LIFT_PAST_STUCK"
	echo "probe-early-lift|bfs|probe_early_lift|$s -DPROBE_EARLY_LIFT"
	echo "probe-reclaim-after-failover|bfs|probe_failover_reclaim|$s -DPROBE_FAILOVER_RECLAIM"
	echo "probe-recreates-undone|bfs|probe_undo|$s -DPROBE_UNDO"
	echo "probe-create-in-window|bfs|probe_window_create|$s -DPROBE_WINDOW_CREATE"
} | grep -e "$FILTER" > "$CHECKS"

# The counterexample pan wrote, as the list of actions the model printed.
trail()
{
	if [ -f grace.pml.trail ]; then
		echo "counterexample:" > trail
		# shellcheck disable=SC2086
		spin -t $1 grace.pml 2>/dev/null |
			sed -n -e 's/^ *ACT /    /p' -e 's/^ *<<<<<START OF CYCLE>>>>>/    -- cycle: --/p' >> trail
	fi
}

# Run one check in its own directory; leave a one-line verdict in
# verdict, and the details in report.
run_check()
{
	local name=$1 kind=$2 expect=$3 defs=$4
	local dir=$WORK/$name
	local cflags="-DVECTORSZ=1024 -DMEMLIM=3072"
	local args="-m200000 -w24"
	local start end secs summary first

	mkdir -p "$dir"
	cd "$dir" || return
	cp "$MODEL" grace.pml
	start=$(date +%s.%N)

	case $kind in
	safety)
		cflags="$cflags -O1 -DSAFETY -DCOLLAPSE"
		;;
	bfs)
		cflags="$cflags -O0 -DSAFETY -DBFS"
		;;
	live)
		cflags="$cflags -O1 -DCOLLAPSE -DNFAIR=3"
		args="$args -a -f"
		defs="$defs -DLIVENESS"
		;;
	esac

	# shellcheck disable=SC2086
	if ! spin -a $defs grace.pml > spin.out 2>&1; then
		echo "FAIL $name: spin -a failed" > verdict
		cat spin.out > report
		return
	fi
	# shellcheck disable=SC2086
	if ! gcc $cflags -o pan pan.c > gcc.out 2>&1; then
		echo "FAIL $name: gcc failed" > verdict
		cat gcc.out > report
		return
	fi
	# shellcheck disable=SC2086
	./pan $args > pan.out 2>&1
	end=$(date +%s.%N)
	secs=$(echo "$end - $start" | bc)

	summary=$(awk '
		/states, stored/ { st = $1 " states" }
		/depth reached/ { for (i = 1; i <= NF; i++) if ($i == "reached") d = $(i + 1); sub(",", "", d) }
		/total actual memory usage/ { m = $1 " MB" }
		END { printf "%s, depth %s, %s", st, d, m }' pan.out)
	summary="$summary, $(printf '%.1f' "$secs") s"
	first=$(grep -m1 -E '^pan:1: ' pan.out)

	{
		echo "spin -D options: $defs"
		grep -E '^pan:|Full statespace|Search not completed|depth too small|errors:|states, stored|total actual|elapsed' pan.out
	} > report

	if [ "$expect" = ok ]; then
		if grep -q 'errors: 0' pan.out &&
		   grep -q 'Full statespace search' pan.out &&
		   ! grep -q -e 'Search not completed' -e 'depth too small' \
			-e 'out of memory' pan.out; then
			echo "PASS $name: no errors, exhaustive ($summary)" > verdict
		else
			echo "FAIL $name: ${first:-search incomplete} ($summary)" > verdict
		fi
		trail "$defs"
		return
	fi

	if { [ "$expect" = cycle ] && echo "$first" | grep -q 'acceptance cycle'; } ||
	   echo "$first" | grep -q "assertion violated $expect\b"; then
		echo "PASS $name: rejected, ${first#pan:1: } ($summary)" > verdict
	else
		echo "FAIL $name: expected $expect, got: ${first:-no error} ($summary)" > verdict
	fi
	trail "$defs"
}

echo "spin model check of $MODEL ($(spin -V | head -1)), $JOBS job(s)"

# actions.txt is the contract with helper/grace.c: every name in it must
# be a name the model uses.
missing=""
while read -r action; do
	if ! grep -q -w -- "$action" "$MODEL"; then
		missing="$missing $action"
	fi
done < "$ACTIONS"
if [ -z "$missing" ] && [ -s "$ACTIONS" ]; then
	echo "PASS actions.txt: $(wc -l < "$ACTIONS") actions, all named in the model"
	passed=$((passed + 1))
else
	echo "FAIL actions.txt: not in the model:${missing:- (empty list)}"
	failed=$((failed + 1))
fi

# A small job pool: at most JOBS checks at a time.
running=0
while IFS='|' read -r name kind expect defs; do
	(run_check "$name" "$kind" "$expect" "$defs") &
	running=$((running + 1))
	if [ "$running" -ge "$JOBS" ]; then
		wait -n
		running=$((running - 1))
	fi
done < "$CHECKS"
wait

while IFS='|' read -r name kind expect defs; do
	verdict=$(cat "$WORK/$name/verdict" 2>/dev/null ||
		  echo "FAIL $name: no verdict")
	echo "$verdict"
	case $verdict in
	PASS*)
		passed=$((passed + 1))
		;;
	*)
		failed=$((failed + 1))
		sed 's/^/  /' "$WORK/$name/report" 2>/dev/null
		;;
	esac
	if [ -f "$WORK/$name/trail" ]; then
		sed 's/^/  /' "$WORK/$name/trail"
	fi
done < "$CHECKS"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
