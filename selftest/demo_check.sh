# Sourced by the demo tests: run_demo SCRIPT TIMEOUT runs a demo to its
# end and keeps its output; check NAME REGEX looks for a step's outcome in
# it; demo_summary prints the output on failure and the "N passed, N
# failed" line.
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=$(mktemp)
trap 'rm -f "$out"' EXIT
passed=0
failed=0

check() {
	if grep -q -- "$2" "$out"; then
		echo "PASS $1"; passed=$((passed + 1))
	else
		echo "FAIL $1 (no \"$2\" in the demo output)"
		failed=$((failed + 1))
	fi
}

run_demo() {
	if CLTRACK_BIN=${CLTRACK_BIN:-$top/bin} timeout "$2" \
		bash "$top/selftest/$1" >"$out" 2>&1; then
		echo "PASS $1 exits 0"; passed=$((passed + 1))
	else
		echo "FAIL $1 exit status"; failed=$((failed + 1))
	fi
}

demo_summary() {
	if [ "$failed" -ne 0 ]; then
		sed 's/\x1b\[[0-9;]*m//g' "$out" | tail -60
	fi
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
}
