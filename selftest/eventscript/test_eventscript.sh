#!/bin/bash
#
# Unit tests of events.d/legacy/59.cltrack.script in the manner of CTDB's
# tests/UNIT/eventscripts: stubs for cltrack, cltrackd and pidof, a fake
# CTDB_BASE with CTDB's real functions file, and the expected calls
# checked after each event.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
script="$top/events.d/legacy/59.cltrack.script"
T=$(mktemp -d /tmp/cltrack-evscript.XXXXXX)
sleeper=
cleanup() {
	[ -n "$sleeper" ] && kill "$sleeper" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

base="$T/ctdb"
stubs="$T/stubs"
state="$T/state"
mkdir -p "$base/events/legacy" "$stubs" "$state"
cp /etc/ctdb/functions "$base/functions"
install -m 755 "$script" "$base/events/legacy/59.cltrack.script"
cat >"$base/events/legacy/59.cltrack.options" <<OPTS
CLTRACK_CONF=$T/cltrack.conf
CLTRACK_SOCKET=$T/cltrackd.sock
CLTRACKD=$stubs/cltrackd
CLTRACK=$stubs/cltrack
CLTRACK_START_TIMEOUT=2
OPTS

# cltrack stub: logs its argv; ping succeeds while state/running exists;
# "event" exits with state/event_rc; "status --json" prints state/pid.
cat >"$stubs/cltrack" <<'STUB'
#!/bin/sh
state=${STUB_STATE:?}
shift 2	# --socket PATH
echo "cltrack $*" >>"$state/calls"
case "$1" in
ping) [ -e "$state/running" ] ;;
event) exit "$(cat "$state/event_rc" 2>/dev/null || echo 0)" ;;
status) [ -e "$state/running" ] || exit 1
	printf '{\n  "pid": %s\n}\n' "$(cat "$state/pid")" ;;
*) exit 2 ;;
esac
STUB
cat >"$stubs/cltrackd" <<'STUB'
#!/bin/sh
state=${STUB_STATE:?}
echo "cltrackd $*" >>"$state/calls"
rc=$(cat "$state/start_rc" 2>/dev/null || echo 0)
[ "$rc" -eq 0 ] && touch "$state/running"
exit "$rc"
STUB
cat >"$stubs/pidof" <<'STUB'
#!/bin/sh
[ -e "${STUB_STATE:?}/nfsdcld_running" ] && echo 4242
STUB
chmod +x "$stubs"/*

passed=0 failed=0
out=

# run EVENT ARGS...: run the script as eventd would; sets $rc and $out
run() {
	: >"$state/calls"
	out=$(env PATH="$stubs:$PATH" STUB_STATE="$state" CTDB_BASE="$base" \
		CTDB_LOGGING="file:$T/log" \
		"$base/events/legacy/59.cltrack.script" "$@" 2>&1)
	rc=$?
}

ok() {
	echo "PASS $1"; passed=$((passed + 1))
}
bad() {
	echo "FAIL $1"; failed=$((failed + 1))
	echo "  exit $rc, output: $out"
	sed 's/^/  call: /' "$state/calls"
}
# expect NAME RC "CALLS" [OUTPUT-REGEX]: exit status, exact calls
expect() {
	local calls
	calls=$(cat "$state/calls")
	if [ "$rc" -eq "$2" ] && [ "$calls" = "$3" ] &&
	   { [ $# -lt 4 ] || echo "$out" | grep -qE "$4"; }; then
		ok "$1"
	else
		bad "$1 (want exit $2, calls: $3)"
	fi
}

reset() {
	rm -f "$state"/*
}

# startup
reset
run startup
expect "startup starts cltrackd and waits until it answers" 0 \
"cltrack ping
cltrackd -c $T/cltrack.conf --control-socket $T/cltrackd.sock
cltrack ping"
run startup
expect "startup again is a no-op while cltrackd runs" 0 "cltrack ping"

reset
touch "$state/nfsdcld_running"
run startup
expect "startup refuses while nfsdcld runs" 1 "cltrack ping" "nfsdcld is running"

reset
touch "$state/nfsdcld_running"
echo "CLTRACK_REFUSE_NFSDCLD=no" >>"$base/events/legacy/59.cltrack.options"
run startup
expect "CLTRACK_REFUSE_NFSDCLD=no starts beside another nfsdcld" 0 \
"cltrack ping
cltrackd -c $T/cltrack.conf --control-socket $T/cltrackd.sock
cltrack ping"
sed -i '/CLTRACK_REFUSE_NFSDCLD/d' "$base/events/legacy/59.cltrack.options"

reset
echo 1 >"$state/start_rc"
run startup
expect "a cltrackd that fails to start fails startup" 1 \
"cltrack ping
cltrackd -c $T/cltrack.conf --control-socket $T/cltrackd.sock" \
	"failed to start"

# takeip / releaseip
reset
touch "$state/running"
run takeip lo 127.0.100.11 32
expect "takeip starts or joins the grace" 0 \
	"cltrack event takeip lo 127.0.100.11 32"
run takeip lo 127.0.100.11 32
expect "a repeated takeip is harmless" 0 \
	"cltrack event takeip lo 127.0.100.11 32"
run releaseip lo 127.0.100.12 32
expect "releaseip of an address never taken succeeds" 0 \
	"cltrack event releaseip lo 127.0.100.12 32"
run takeip lo 127.0.100.11
expect "takeip with missing arguments fails" 1 "" "must supply"
echo 1 >"$state/event_rc"
run takeip lo 127.0.100.11 32
expect "takeip fails when cltrackd cannot start the grace" 1 \
	"cltrack event takeip lo 127.0.100.11 32" "cannot start a grace"
rm -f "$state/event_rc"

# ipreallocated / recovered
run ipreallocated
expect "ipreallocated asks cltrackd to catch up" 0 \
"cltrack ping
cltrack event ipreallocated"
run recovered
expect "recovered asks cltrackd to catch up" 0 \
"cltrack ping
cltrack event recovered"
rm -f "$state/running"
run ipreallocated
expect "ipreallocated without cltrackd does not fail the takeover" 0 \
	"cltrack ping"

# monitor
touch "$state/running"
run monitor
expect "monitor passes when cltrackd is healthy" 0 \
"cltrack ping
cltrack event monitor"
echo 1 >"$state/event_rc"
run monitor
expect "monitor fails when cltrackd reports this node unhealthy" 1 \
"cltrack ping
cltrack event monitor"
rm -f "$state/event_rc" "$state/running"
run monitor
expect "monitor fails when cltrackd is not running" 1 "cltrack ping" \
	"not running"

# unknown and ignored events
for ev in init setup startrecovery startipreallocate; do
	run "$ev"
	expect "$ev is accepted and does nothing" 0 ""
done

# shutdown
touch "$state/running"
sleep 60 &
sleeper=$!
echo "$sleeper" >"$state/pid"
run shutdown
if [ "$rc" -eq 0 ] && ! kill -0 "$sleeper" 2>/dev/null; then
	ok "shutdown stops cltrackd by the pid it reports"
else
	bad "shutdown stops cltrackd by the pid it reports"
fi
rm -f "$state/running"
run shutdown
expect "shutdown without cltrackd succeeds" 0 "cltrack status --json"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
