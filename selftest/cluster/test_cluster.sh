#!/usr/bin/env bash
#
# test_cluster.sh: the local CTDB cluster harness, cluster.sh, against the
# installed ctdbd (shared/spec/ctdb.md §12, checklist items 26 and 28).
# Prints PASS/FAIL per check, the measured times, and last
# "N passed, N failed".  Needs root and the ctdb package.
#
# Honours CLTRACK_CLUSTER_NODE_BASE and CLTRACK_CLUSTER_PUBLIC_BASE, so a
# developer can run it beside another cluster.

set -u

HERE=$(cd "$(dirname "$0")" && pwd)
CLUSTER="${HERE}/cluster.sh"
NODE_BASE=${CLTRACK_CLUSTER_NODE_BASE:-127.0.0.}
PUBLIC_BASE=${CLTRACK_CLUSTER_PUBLIC_BASE:-127.0.100.1}

passed=0
failed=0
T0=$EPOCHREALTIME
WORK=""
DIR=""
BAD=""

pass()
{
	echo "PASS: $*"
	passed=$((passed + 1))
}

fail()
{
	echo "FAIL: $*"
	failed=$((failed + 1))
}

# check NAME COMMAND...
check()
{
	local name=$1

	shift
	if "$@"; then
		pass "$name"
	else
		fail "$name"
	fi
}

finish()
{
	trap - EXIT INT TERM HUP
	# Whatever happened above, leave no daemon and no address behind.
	[ -z "$DIR" ] || "$CLUSTER" cleanup "$DIR" 2>/dev/null
	[ -z "$BAD" ] || "$CLUSTER" cleanup "$BAD" 2>/dev/null
	[ -z "$WORK" ] || rm -rf "$WORK"
	echo "TIME: whole test $(since "$T0") s"
	echo "${passed} passed, ${failed} failed"
	exit $((failed > 0))
}

since()
{
	awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'
}

cl()
{
	"$CLUSTER" "$@"
}

# Node K's ctdb output, or nothing.
on()
{
	local k=$1

	shift
	cl ctdb "$DIR" "$k" "$@" 2>/dev/null
}

# holder_of ADDR: the PNN that node VIEWER ($2) says holds ADDR.
holder_of()
{
	on "$2" -X ip | awk -F'|' -v a="$1" '$2 == a { print $3 }'
}

# Flag columns of node K in VIEWER's node map: "Disconnected|...".
node_flags()
{
	on "$2" -X nodestatus all | awk -F'|' -v k="$1" '$2 == k'
}

is_disconnected()
{
	[ "$(node_flags "$1" "$2" | cut -d'|' -f4)" = 1 ]
}

all_ok()
{
	local k line

	for k in 0 1 2; do
		line=$(node_flags "$k" "$1")
		[[ "$line" =~ ^\|${k}\|[0-9.]+\|(0\|)+(N|Y)\|$ ]] || return 1
	done
}

# Every public address is held, each running node in $2 ("0 1 2") holds
# exactly the expected number ($3) and no other node holds any.
ips_spread()
{
	local viewer=$1 nodes=$2 each=$3 k n

	[ "$(on "$viewer" -X ip | grep -c '|-1|')" -eq 0 ] || return 1
	for k in 0 1 2; do
		n=$(on "$viewer" -X ip | awk -F'|' -v k="$k" '$3 == k' | wc -l)
		case " $nodes " in
		*" $k "*) [ "$n" -eq "$each" ] || return 1 ;;
		*) [ "$n" -eq 0 ] || return 1 ;;
		esac
	done
}

# held_not_by K VIEWER: every address is held, and not by node K.
held_not_by()
{
	local map

	map=$(on "$2" -X ip)
	[ "$(grep -c '^|[0-9.]*|[0-9]*|$' <<<"$map")" -eq 3 ] &&
	[ -z "$(awk -F'|' -v k="$1" '$3 == k || $3 == -1' <<<"$map")" ]
}

lo_has()
{
	ip -o addr show dev lo | grep -qF " $1/32 "
}

# lo holds none of this test's public addresses (PUBLIC_BASE1..3); other
# clusters running side by side on a developer's machine may add theirs.
lo_is_clean()
{
	local extra

	extra=$(ip -o addr show dev lo | awk '{ print $4 }' |
		grep -xF -e "${PUBLIC_BASE}1/32" -e "${PUBLIC_BASE}2/32" \
			-e "${PUBLIC_BASE}3/32")
	if [ -n "$extra" ]; then
		echo "lo also holds:" $extra
		return 1
	fi
}

# No process recorded in the saved pids file ($1) is still running.
none_alive()
{
	local n role pid start cur left=""

	while read -r n role pid start; do
		# A zombie is gone too: its parent may be slow to reap it.
		cur=$(awk '{ sub(/.*\) /, ""); if ($1 != "Z") print $20 }' \
			"/proc/${pid}/stat" 2>/dev/null)
		[ "$cur" = "$start" ] && left="$left $pid($role)"
	done <"$1"
	if [ -n "$left" ]; then
		echo "still running:$left"
		return 1
	fi
}

pid_of()
{
	cat "${DIR}/node.$1/run/ctdbd.pid"
}

pid_gone()
{
	[ ! -d "/proc/$1" ] || grep -q '^State:.*Z' "/proc/$1/status"
}

# wait_for SECONDS COMMAND...: polls every 0.2 s.
wait_for()
{
	local limit=$1 t

	shift
	t=$EPOCHREALTIME
	while ! "$@"; do
		if awk -v a="$t" -v b="$EPOCHREALTIME" -v l="$limit" \
		       'BEGIN { exit !(b - a > l) }'; then
			return 1
		fi
		sleep 0.2
	done
}

# events.log lines after line $1, written by the argv logger below.
events_since()
{
	tail -n +"$(($1 + 1))" "${DIR}/shared/events.log"
}

events_count()
{
	wc -l <"${DIR}/shared/events.log"
}

trap finish EXIT
trap 'exit 1' INT TERM HUP

if [ "$(id -u)" -ne 0 ] || [ ! -x /usr/sbin/ctdbd ]; then
	fail "needs root and the ctdb package (/usr/sbin/ctdbd)"
	exit 1
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/cltrack-cl.XXXXXX") || exit 1
DIR="${WORK}/c"

# The argv logger for item 26: one line per event and node,
# "node.K ARGC EVENT ARGS...", in the cluster's shared directory.
cat >"${WORK}/20.argvlog.script" <<'EOF'
#!/bin/sh
echo "${CTDB_BASE##*/} $# $*" >>"${CTDB_BASE%/*}/shared/events.log"
exit 0
EOF

###########################################################################
echo "== start 3 nodes"
t=$EPOCHREALTIME
if cl start "$DIR" 3 --script "${WORK}/20.argvlog.script" \
	--tunable MonitorInterval=5; then
	pass "start 3 nodes"
else
	fail "start 3 nodes"
	exit 1
fi
echo "TIME: 3 nodes ready in $(since "$t") s"

for k in 0 1 2; do
	check "ctdb pnn on node $k is $k" [ "$(on "$k" pnn)" = "$k" ]
done
check "env: eval'd for node 1, plain ctdb pnn says 1" \
	[ "$(eval "$(cl env "$DIR" 1)"; ctdb pnn)" = 1 ]
check "socket: node 2's path is its listening socket" \
	[ -S "$(cl socket "$DIR" 2)" ]
check "nodes file lists ${NODE_BASE}1-3" \
	[ "$(cat "${DIR}/shared/nodes")" = \
	  "$(printf '%s1\n%s2\n%s3' "$NODE_BASE" "$NODE_BASE" "$NODE_BASE")" ]
for k in 0 1 2; do
	check "nodemap seen by node $k: 3 nodes, all OK" all_ok "$k"
done
check "3 public addresses, one per node" ips_spread 0 "0 1 2" 1
for k in 0 1 2; do
	check "public address ${PUBLIC_BASE}$((k + 1)) is on lo" \
		lo_has "${PUBLIC_BASE}$((k + 1))"
done
check "tunable MonitorInterval=5 applied" \
	[ "$(on 1 getvar MonitorInterval | tr -s ' ')" = "MonitorInterval = 5" ]
leader=$(cl leader "$DIR")
check "leader: prints a PNN (${leader}), the one node 2 reports" \
	[ "${leader:-none}" = "$(on 2 leader)" ]

# Item 26: "takeip lo ADDR 32", 4 argv words, nothing else.
takeips=$(grep ' takeip ' "${DIR}/shared/events.log")
check "item 26: takeip events arrived" [ -n "$takeips" ]
check "item 26: every takeip is 'takeip lo ${PUBLIC_BASE}X 32' (4 words)" \
	[ -z "$(grep -vE "^node\\.[012] 4 takeip lo ${PUBLIC_BASE//./\\.}[123] 32\$" \
		<<<"$takeips")" ]
for k in 0 1 2; do
	check "item 26: ipreallocated ran on node $k" \
		grep -q "^node\\.$k 1 ipreallocated\$" "${DIR}/shared/events.log"
done

###########################################################################
echo "== kill node 2"
addr2=""
for k in 1 2 3; do
	if [ "$(holder_of "${PUBLIC_BASE}${k}" 0)" = 2 ]; then
		addr2=${PUBLIC_BASE}${k}
	fi
done
pid2=$(pid_of 2)
t=$EPOCHREALTIME
check "kill node 2" cl kill "$DIR" 2
check "node 2's ctdbd ${pid2} is gone" pid_gone "$pid2"
if wait_for 15 is_disconnected 2 0; then
	pass "node 2 DISCONNECTED in node 0's map within 15 s ($(since "$t") s)"
else
	fail "node 2 DISCONNECTED in node 0's map within 15 s"
fi
moved()
{
	local h

	h=$(holder_of "$addr2" 0)
	[ "$h" = 0 ] || [ "$h" = 1 ]
}
if wait_for 15 moved; then
	failover=$(since "$t")
	pass "node 2's address ${addr2} moved, to node $(holder_of "$addr2" 0)"
	echo "TIME: failover (kill to address moved) ${failover} s"
else
	fail "node 2's address ${addr2} moved within 15 s"
fi
check "wait: the survivors are ready" cl wait "$DIR"
check "every address is held, none by node 2" held_not_by 2 1

###########################################################################
echo "== restart node 2"
t=$EPOCHREALTIME
check "restart node 2" cl restart "$DIR" 2
echo "TIME: node 2 back in $(since "$t") s"
check "node 2 answers ctdb pnn" [ "$(on 2 pnn)" = 2 ]
check "nodemap seen by node 0: all OK again" all_ok 0
check "one address per node again" ips_spread 2 "0 1 2" 1

###########################################################################
echo "== item 28: kill node 1's keeper"
pid1=$(pid_of 1)
keeper1=$(awk '$1 == 1 && $2 == "keeper" { p = $3 } END { print p }' \
	"${DIR}/shared/pids")
mark=$(events_count)
kill -TERM "$keeper1"
check "node 1's ctdbd exits after its keeper dies" wait_for 10 pid_gone "$pid1"
check "item 28: node 1 logged 'stdin closed, exiting'" \
	grep -q 'stdin closed, exiting' "${DIR}/node.1/log.ctdb"
check "item 28: node 1 ran its shutdown event" \
	grep -qx 'node.1 1 shutdown' <(events_since "$mark")
check "wait: nodes 0 and 2 are ready" cl wait "$DIR"

###########################################################################
echo "== shutdown node 0 (ctdb shutdown)"
pid0=$(pid_of 0)
mark=$(events_count)
check "shutdown node 0" cl shutdown "$DIR" 0
check "node 0's ctdbd is gone" pid_gone "$pid0"
check "item 26: ctdb shutdown ran 'shutdown' on node 0" \
	grep -qx 'node.0 1 shutdown' <(events_since "$mark")
check "item 26: and no releaseip on node 0" \
	[ -z "$(events_since "$mark" | grep '^node\.0 .* releaseip')" ]
check "wait: node 2 alone is ready" cl wait "$DIR"
check "node 2 holds all 3 addresses" ips_spread 2 "2" 3

###########################################################################
echo "== stop, cleanup"
cp "${DIR}/shared/pids" "${WORK}/pids"
mark=$(events_count)
check "stop" cl stop "$DIR"
check "item 26: stop ran 'shutdown' on node 2" \
	grep -qx 'node.2 1 shutdown' <(events_since "$mark")
check "item 26: and no releaseip" \
	[ -z "$(events_since "$mark" | grep ' releaseip ')" ]
check "stop: no recorded process is left" none_alive "${WORK}/pids"
for k in 1 2 3; do
	check "stop: ${PUBLIC_BASE}${k} is off lo" \
		eval "! lo_has ${PUBLIC_BASE}${k}"
done
check "cleanup" cl cleanup "$DIR"
check "cleanup removed the directory" [ ! -e "$DIR" ]
check "cleanup: lo holds none of our public addresses" lo_is_clean
check "cleanup: no recorded process is left" none_alive "${WORK}/pids"
check "cleanup again is harmless" cl cleanup "$DIR"

###########################################################################
echo "== a start that fails cleans up after itself"
BAD="${WORK}/bad"
cat >"${WORK}/00.failinit.script" <<'EOF'
#!/bin/sh
[ "$1" = init ] && exit 1
exit 0
EOF
t=$EPOCHREALTIME
cl start "$BAD" 2 --script "${WORK}/00.failinit.script" 2>"${WORK}/bad.err"
rc=$?
check "start with a failing init script exits non-zero" [ "$rc" -ne 0 ]
echo "TIME: failed start reported in $(since "$t") s"
check "its message names the dead node and shows the log" \
	grep -q 'died while waiting' "${WORK}/bad.err"
check "no process of the failed start is left" \
	none_alive "${BAD}/shared/pids"
check "cleanup of the failed cluster" cl cleanup "$BAD"
check "lo holds none of our public addresses at the end" lo_is_clean

exit 0
