#!/usr/bin/env bash
#
# Creates per second and transaction latency through store_ctdb on a
# 3-node local cluster, with 1, 8 and 64 creates per transaction: one
# writer on node 0, then one writer on each of the 3 nodes at once.
# Not a test (nothing is asserted); numbers go to docs/PERFORMANCE.md.
#
#   selftest/ctdb/bench_ctdb.sh [TXNS]
#
# Use CLTRACK_CLUSTER_NODE_BASE / CLTRACK_CLUSTER_PUBLIC_BASE on a shared
# machine, as for test_ctdb_cluster.sh.

set -u
SRC=$(cd "$(dirname "$0")/../.." && pwd)
CLUSTER=${SRC}/selftest/cluster/cluster.sh
DRIVER=${CLTRACK_BUILDDIR:-${SRC}/build}/selftest/ctdb/ctdb_driver
TXNS=${1:-200}
T=$(mktemp -d /tmp/cltrack-bench.XXXXXX)
CL=${T}/c
trap '"$CLUSTER" cleanup "$CL" >/dev/null 2>&1; rm -rf "$T"' EXIT
trap 'exit 1' INT TERM

"$CLUSTER" start "$CL" 3 >"${T}/start.log" 2>&1 || { cat "${T}/start.log"; exit 1; }
echo "# $(nproc) CPUs; database directory on: $(df -T "$CL" | awk 'NR==2 {print $2}')"
for ops in 1 8 64; do
	echo "## one writer (node 0), ${ops} creates per transaction"
	"$DRIVER" -s "$("$CLUSTER" socket "$CL" 0)" -d cltrack.tdb bench "$ops" "$TXNS"
done
for ops in 1 8 64; do
	echo "## three writers (nodes 0, 1, 2 at once), ${ops} creates per transaction"
	for k in 0 1 2; do
		"$DRIVER" -s "$("$CLUSTER" socket "$CL" "$k")" -d cltrack.tdb \
			bench "$ops" "$TXNS" >"${T}/bench.$k" 2>&1 &
	done
	wait
	cat "${T}"/bench.?
done
