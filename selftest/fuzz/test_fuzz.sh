#!/bin/bash
# make test: build the fuzz targets, replay the seed corpora as regression
# tests, then fuzz each target briefly (CLTRACK_FUZZ_SECONDS, default 10).
set -u
here=$(cd "$(dirname "$0")" && pwd)
passed=0 failed=0
if ! "$here/fuzz.sh" build; then
	echo "FAIL build of the fuzz targets"
	echo "0 passed, 1 failed"
	exit 1
fi
while read -r verdict rest; do
	echo "$verdict $rest"
	case $verdict in PASS) passed=$((passed + 1)) ;; FAIL) failed=$((failed + 1)) ;; esac
done < <("$here/fuzz.sh" replay; "$here/fuzz.sh" run "${CLTRACK_FUZZ_SECONDS:-10}")
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
