#!/bin/bash
# make demo must tell its story to the end: run it and check each step.
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
if CLTRACK_BIN=${CLTRACK_BIN:-$top/bin} timeout 120 bash "$top/selftest/demo-single.sh" >"$out" 2>&1; then
	echo "PASS demo exits 0"; passed=$((passed + 1))
else
	echo "FAIL demo exit status"; failed=$((failed + 1)); tail -30 "$out"
fi
check "first start: no grace" "start: cld v2, over, 0 reclaim records"
check "restart sends the reclaim list" "restart: cld v2, in grace, 2 reclaim records"
check "early grace end" "grace-wait: grace over after 0"
check "unreclaimed client purged" "^1 client$"
check "group commit" "batch_max                64"
check "story finished" "demo finished: every step behaved as described"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
