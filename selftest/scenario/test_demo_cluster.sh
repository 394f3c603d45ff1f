#!/bin/bash
# make demo (the 3-node failover story) must run to its end and show each
# step's outcome.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
out=$(mktemp)
trap 'rm -f "$out"' EXIT
passed=0 failed=0
check() {
	if grep -q -- "$2" "$out"; then
		echo "PASS $1"; passed=$((passed + 1))
	else
		echo "FAIL $1 (no \"$2\" in the demo output)"; failed=$((failed + 1))
	fi
}
if CLTRACK_BIN=${CLTRACK_BIN:-$top/bin} timeout 300 bash "$top/selftest/demo.sh" >"$out" 2>&1; then
	echo "PASS demo exits 0"; passed=$((passed + 1))
else
	echo "FAIL demo exit status"; failed=$((failed + 1)); tail -40 "$out"
fi
check "six clients listed" "^  6 clients"
check "survivors got the whole list" "reclaim list of the last GraceStart: 6 record(s)"
check "members enforcing" "ENFORCING"
check "fast-path lift" "lifted the grace on the fast"
check "a new leader" "is the new CTDB leader"
check "only the unreclaimed client purged" "^  5 clients"
check "story finished" "demo finished: every step behaved as described"
[ "$failed" -eq 0 ] || sed "s/\x1b\[[0-9;]*m//g" "$out"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
