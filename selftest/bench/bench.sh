#!/bin/bash
#
# make bench: cltrack side by side with its peers on the same emulated
# kernel workload, in one run (issue 6).  Not a test: nothing is asserted
# on timings; the numbers go to build/bench/ and docs/PERFORMANCE.md.
#
#   1. cld pipe, one host: cltrackd (tdb store) against Debian's
#      /usr/sbin/nfsdcld, attached to the knfsd emulator through the
#      LD_PRELOAD shim cldshim.c (spec/knfsd-upcalls.md §11.1);
#   2. usermode helper: our nfsdcltrack drop-in (talking to cltrackd)
#      against Debian's /sbin/nfsdcltrack, one exec per create as the
#      kernel does it (env -i, argv {prog, create, hexid});
#   3. CTDB: cltrackd in CTDB mode on a 3-node local cluster against one
#      "ctdb ptrans" process per create on the same cluster
#      (bench_ctdb_mode.sh).
#
# BENCH_QUICK=1: fewer clients and operations (a few minutes).
# BENCH_SKIP_DOC=1: do not rewrite docs/PERFORMANCE.md.
# The cluster uses 127.0.7.x nodes and 127.0.107.1x public addresses
# unless CLTRACK_CLUSTER_NODE_BASE / CLTRACK_CLUSTER_PUBLIC_BASE are set.
set -u
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${CLTRACK_BUILDDIR:-$SRC/build}
BIN=${CLTRACK_BIN:-$SRC/bin}
OUT=$BUILD/bench
CSV=$OUT/results.csv
RAW=$OUT/raw.txt
SUMMARY=$OUT/summary.md
CLD_BENCH=$BUILD/selftest/bench/cld_bench
SPAWN_BENCH=$BUILD/selftest/bench/spawn_bench
NFSDCLD=/usr/sbin/nfsdcld
NFSDCLTRACK=/sbin/nfsdcltrack
export CLTRACK_CLUSTER_NODE_BASE=${CLTRACK_CLUSTER_NODE_BASE:-127.0.7.}
export CLTRACK_CLUSTER_PUBLIC_BASE=${CLTRACK_CLUSTER_PUBLIC_BASE:-127.0.107.1}

if [ "${BENCH_QUICK:-0}" != 0 ]; then
	MODE=quick
	OURS_LEVELS="1000 10000"
	OURS_WINDOWS="1,8,64:500"
	CLD_LEVELS="1000"
	CLD_WINDOW=300
	UMH_CLIENTS=500
	UMH_WINDOW=200
	CTDB_LEVELS="1000 10000"
	CTDB_WINDOWS="50 200 1000"
	PTRANS_OPS="10 20 64"
	LIFT_RUNS=3
else
	MODE=full
	OURS_LEVELS="1000 10000 100000"
	OURS_WINDOWS="1,8,64:2000"
	CLD_LEVELS="1000 10000"
	CLD_WINDOW=500
	UMH_CLIENTS=1000
	UMH_WINDOW=300
	CTDB_LEVELS="1000 10000 100000"
	CTDB_WINDOWS="200 1000 4000"
	PTRANS_OPS="20 64 128"
	LIFT_RUNS=5
fi

T=$(mktemp -d /tmp/cltrack-bench.XXXXXX)
DAEMON_PID=""

stop_daemon() {
	if [ -n "$DAEMON_PID" ]; then
		kill -TERM "$DAEMON_PID" 2>/dev/null
		wait "$DAEMON_PID" 2>/dev/null
		DAEMON_PID=""
	fi
}
cleanup() {
	stop_daemon
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

mkdir -p "$OUT"
echo "section,system,phase,clients,inflight,metric,value" >"$CSV"
: >"$RAW"

# record SECTION SYSTEM LINE: "phase k=v ..." into the CSV, raw and stdout
record() {
	local section=$1 system=$2 line=$3
	echo "$section $system $line" >>"$RAW"
	echo "  [$system] $line"
	awk -v s="$section" -v sys="$system" '
	{
		phase = $1; clients = ""; inflight = ""
		for (i = 2; i <= NF; i++) {
			split($i, kv, "=")
			if (kv[1] == "clients") clients = kv[2]
			else if (kv[1] == "inflight") inflight = kv[2]
			else if (kv[1] == "node") node = kv[2]
		}
		if (node != "") phase = phase "_node" node
		for (i = 2; i <= NF; i++) {
			split($i, kv, "=")
			if (kv[1] ~ /^(creates_s|p50_ms|p99_ms|list_ms|start_ms|vmhwm_kb|maxrss_kb|lift_ms|records|seconds|errors)$/)
				printf "%s,%s,%s,%s,%s,%s,%s\n", s, sys, phase, clients, inflight, kv[1], kv[2]
		}
	}' <<<"$line" >>"$CSV"
}

# val SYSTEM PHASE CLIENTS INFLIGHT METRIC: one value from the CSV
val() {
	awk -F, -v sys="$1" -v ph="$2" -v c="$3" -v k="$4" -v m="$5" '
		$2 == sys && $3 == ph && $4 == c && $5 == k && $6 == m { v = $7 }
		END { print v }' "$CSV"
}

machine() {
	local dev rota
	dev=$(df --output=source /tmp | tail -1)
	rota=$(cat "/sys/block/$(basename "$dev" | sed 's/[0-9]*$//')/queue/rotational" 2>/dev/null)
	echo "- $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)), $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) memory"
	echo "- /tmp: $(df -T /tmp | awk 'NR == 2 { print $2 }') on $dev ($([ "$rota" = 0 ] && echo 'non-rotational' || echo 'rotational or virtual') disk, $(readlink -f "/sys/block/$(basename "$dev")/device/driver" 2>/dev/null | xargs -r basename))"
	echo "- Debian $(cat /etc/debian_version), kernel $(uname -r), nfs-utils $(dpkg-query -W -f '${Version}' nfs-kernel-server), ctdb $(dpkg-query -W -f '${Version}' ctdb), sqlite3 $(dpkg-query -W -f '${Version}' libsqlite3-0)"
}

wait_for_path() {
	local i
	for i in $(seq 100); do
		[ -e "$1" ] && return 0
		sleep 0.05
	done
	return 1
}

for tool in "$CLD_BENCH" "$SPAWN_BENCH" "$BIN/cltrackd" "$BIN/nfsdcltrack"; do
	[ -x "$tool" ] || { echo "bench: $tool missing (run make)" >&2; exit 1; }
done
for tool in "$NFSDCLD" "$NFSDCLTRACK" /usr/bin/ctdb gcc gnuplot; do
	command -v "$tool" >/dev/null || { echo "bench: $tool missing (buildtools/bootstrap.sh)" >&2; exit 1; }
done
gcc -Wall -O2 -shared -fPIC -o "$T/cldshim.so" "$SRC/selftest/bench/cldshim.c" -ldl ||
	exit 1

t_start=$(date +%s)
echo "bench ($MODE): results in $OUT"
machine | tee "$OUT/machine.txt"

###########################################################################
echo "== 1. cld pipe, one host: cltrackd (tdb store) vs nfsdcld"
start_cltrackd() {
	local d=$1
	mkdir -p "$d/pipefs/nfsd" "$d/storage"
	"$BIN/cltrackd" -F -c /dev/null --pipefs-dir "$d/pipefs" \
		--storage-dir "$d/storage" --control-socket "$d/ctl.sock" \
		>"$d/daemon.log" 2>&1 &
	DAEMON_PID=$!
	wait_for_path "$d/ctl.sock"
}
start_nfsdcld() {
	local d=$1
	mkdir -p "$d/pipefs/nfsd" "$d/storage"
	LD_PRELOAD="$T/cldshim.so" "$NFSDCLD" -F -p "$d/pipefs" -s "$d/storage" \
		>"$d/daemon.log" 2>&1 &
	DAEMON_PID=$!
	sleep 0.3
}
cld_run() {
	local system=$1 level=$2 windows=$3 d line
	d=$T/$system.$level
	if [ "$system" = cltrackd ]; then
		start_cltrackd "$d"
	else
		start_nfsdcld "$d"
	fi
	"$CLD_BENCH" --pipefs "$d/pipefs" --clients "$level" \
		--inflight "${windows%%:*}" --window "${windows##*:}" \
		--pid "$DAEMON_PID" >"$d/bench.out" 2>"$d/bench.err" ||
		echo "  [$system] error: $(tail -3 "$d/bench.err")"
	while read -r line; do
		record cld "$system" "$line"
	done <"$d/bench.out"
	if [ "$system" = cltrackd ]; then
		"$BIN/cltrack" --socket "$d/ctl.sock" stats >"$OUT/cltrackd-stats.$level.txt" 2>&1
	fi
	stop_daemon
	rm -rf "$d"
}
for level in $CLD_LEVELS; do
	cld_run nfsdcld "$level" "1,8,64:$CLD_WINDOW"
done
for level in $OURS_LEVELS; do
	cld_run cltrackd "$level" "$OURS_WINDOWS"
done

###########################################################################
echo "== 2. usermode helper: our nfsdcltrack drop-in vs /sbin/nfsdcltrack"
BOOT=$(date +%s)
umh_run() {
	local system=$1 d=$T/umh.$1 first=0 k w line
	shift
	mkdir -p "$d"
	for k in fill 1 8 64; do
		if [ "$k" = fill ]; then
			w=$UMH_CLIENTS
			set -- --inflight 8
		else
			w=$UMH_WINDOW
			set -- --inflight "$k"
		fi
		line=$("$SPAWN_BENCH" --clients "$w" "$@" --first "$first" \
			"${UMH_ENV[@]}" --env NFSDCLTRACK_CLIENT_HAS_SESSION=Y \
			--env "NFSDCLTRACK_GRACE_START=$BOOT" \
			-- "${UMH_PROG[@]}" create %h 2>"$d/err") ||
			echo "  [$system] errors: $(head -3 "$d/err")"
		first=$((first + w))
		if [ "$k" = fill ]; then
			line="fill clients=$UMH_CLIENTS ${line#spawn clients=* }"
		else
			line="window clients=$UMH_CLIENTS ${line#spawn clients=* }"
		fi
		record umh "$system" "$line"
	done
}
# ours: the drop-in exactly as the kernel runs it, plus CLTRACK_SOCKET
# (the drop-in's test hook; in production it reads cltrack.conf)
d=$T/umh-daemon
start_cltrackd "$d"
UMH_ENV=(--env "CLTRACK_SOCKET=$d/ctl.sock")
UMH_PROG=("$(readlink -f "$BIN/nfsdcltrack")")
umh_run dropin
record umh dropin "rss clients=$UMH_CLIENTS vmhwm_kb=$(awk '/^VmHWM/ { print $2 }' "/proc/$DAEMON_PID/status")"
stop_daemon
# theirs: /sbin/nfsdcltrack keeps /var/lib/nfs/nfsdcltrack/main.sqlite;
# give it a private /var/lib/nfs in a mount namespace so that its argv
# stays exactly {prog, create, hexid}
mkdir -p "$T/varlibnfs"
export -f umh_run record
export SPAWN_BENCH UMH_CLIENTS UMH_WINDOW BOOT RAW CSV T
unshare -m bash -c "mount --make-rprivate / && mount --bind '$T/varlibnfs' /var/lib/nfs &&
	UMH_ENV=() && UMH_PROG=('$NFSDCLTRACK') && umh_run nfsdcltrack" ||
	echo "  [nfsdcltrack] could not run in a private mount namespace"

###########################################################################
echo "== 3. CTDB mode, 3 nodes: cltrackd vs one ctdb ptrans per create"
while read -r line; do
	case "$line" in
	ctdb_*) record ctdb cltrackd-ctdb "${line#ctdb_}" ;;
	ptrans_*)
		# ops counts, not stored clients: keep them out of "clients"
		line=$(sed 's/ clients=[0-9]*/ clients=/' <<<"${line#ptrans_}")
		record ctdb ptrans "$line" ;;
	error=*) echo "  [ctdb] $line" ;;
	*) echo "  $line" ;;
	esac
done < <(bash "$SRC/selftest/bench/bench_ctdb_mode.sh" "$CTDB_LEVELS" \
	"$CTDB_WINDOWS" "$PTRANS_OPS" "$LIFT_RUNS" 2>"$OUT/ctdb.err")

t_total=$(( $(date +%s) - t_start ))
echo "== done in $t_total s"

###########################################################################
# Summary, plot, PERFORMANCE.md
bash "$SRC/selftest/bench/report.sh" "$OUT" "$MODE" "$t_total" \
	"${CLD_LEVELS##* }" "${OURS_LEVELS##* }" "${CTDB_LEVELS##* }"
cat "$SUMMARY"
if [ "${BENCH_SKIP_DOC:-0}" = 0 ]; then
	python3 "$SRC/selftest/bench/update_doc.py" "$SRC/docs/PERFORMANCE.md" \
		"$SUMMARY" "$OUT/creates.png" "$SRC/docs/bench-creates.png"
fi
