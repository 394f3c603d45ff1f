#!/bin/bash
#
# libFuzzer targets for every decoder of outside input.
#
#   fuzz.sh build             compile each target with clang (build/fuzz/)
#   fuzz.sh replay            run each target once over its seed corpus
#   fuzz.sh run SECONDS       fuzz each target for SECONDS, then report
#                             executions and coverage
#
# New inputs found while fuzzing go to build/fuzz/corpus-<target>/, never
# into the repository's seed corpus unless a human copies a crash there as
# a regression input.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
out=$top/build/fuzz
here=$top/selftest/fuzz
CLANG=${CLANG:-clang}
CFLAGS="-g -O1 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=undefined -I$top/helper -I$top/include"

# target: its sources beside the fuzz_<target>.c file
declare -A SOURCES=(
	[cld_msg]="helper/cld_msg.c"
	[proto]="plugin/proto.c"
	[record]="helper/record.c"
	[ctdb]="helper/ctdb/ctdb_protocol.c"
)
targets() {
	local t
	for t in "${!SOURCES[@]}"; do echo "$t"; done | sort
	for f in "$here"/fuzz_*.c; do
		t=$(basename "$f" .c); t=${t#fuzz_}
		[ -n "${SOURCES[$t]+x}" ] || echo "$t"
	done
}

build() {
	local t srcs
	command -v "$CLANG" >/dev/null || { echo "fuzz: $CLANG not found; install clang and libclang-rt-14-dev" >&2; return 1; }
	mkdir -p "$out"
	for t in $(targets); do
		srcs=""
		for s in ${SOURCES[$t]:-}; do srcs="$srcs $top/$s"; done
		# shellcheck disable=SC2086
		$CLANG $CFLAGS -o "$out/fuzz_$t" "$here/fuzz_$t.c" $srcs \
			$(pkg-config --cflags --libs talloc tevent tdb) || return 1
	done
}

replay() {
	local t rc=0
	for t in $(targets); do
		if "$out/fuzz_$t" -runs=0 "$here/corpus/$t"/* \
			>"$out/replay-$t.log" 2>&1; then
			echo "PASS replay $t ($(ls "$here/corpus/$t" | wc -l) inputs)"
		else
			echo "FAIL replay $t"; tail -20 "$out/replay-$t.log"; rc=1
		fi
	done
	return $rc
}

run() {
	local secs=$1 t rc=0 stats
	for t in $(targets); do
		mkdir -p "$out/corpus-$t"
		if "$out/fuzz_$t" -max_total_time="$secs" -print_final_stats=1 \
			"$out/corpus-$t" "$here/corpus/$t" \
			>"$out/run-$t.log" 2>&1; then
			stats=$(grep -E '^#[0-9]+.*DONE' "$out/run-$t.log" | tail -1)
			echo "PASS fuzz $t ${secs}s: $stats"
		else
			echo "FAIL fuzz $t: crash input saved in build/fuzz; log:"
			tail -30 "$out/run-$t.log"; rc=1
		fi
	done
	return $rc
}

case "${1:-}" in
build) build ;;
replay) replay ;;
run) run "${2:-60}" ;;
*) echo "usage: fuzz.sh build|replay|run SECONDS" >&2; exit 2 ;;
esac
