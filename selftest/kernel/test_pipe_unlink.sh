#!/bin/bash
# The part of docs/kernel-compat.md difference 1 that runs without a VM.
#
# When nfsd stops, rpc_pipefs unlinks <pipefs>/nfsd/cld without waking an
# idle reader, so cltrackd must learn it from inotify (IN_DELETE), not
# from its open file.  A plain FIFO behaves the same way when it is
# unlinked: the open file stays quiet.  So cltrackd is run on a FIFO that
# is created, removed and created again, as nfsd start/stop/start would.
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
bin=${CLTRACK_BIN:-$top/bin}
dir=$(mktemp -d "${TMPDIR:-/tmp}/cltrack-unlink.XXXXXX") || exit 1
pid=""
passed=0
failed=0

cleanup()
{
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	rm -rf "$dir"
}
trap cleanup EXIT

check()
{
	what=$1
	shift
	if "$@"; then
		echo "PASS $what"
		passed=$((passed + 1))
	else
		echo "FAIL $what"
		failed=$((failed + 1))
	fi
}

connected_is()
{
	v=$(timeout 10 "$bin/cltrack" --socket "$dir/sock" status 2>/dev/null |
		awk '$1 == "kernel_connected" { print $2 }')
	[ "$v" = "$1" ]
}

# wait_for SECONDS COMMAND...
wait_for()
{
	local end=$((SECONDS + $1))
	shift
	while ! "$@"; do
		[ "$SECONDS" -ge "$end" ] && return 1
		sleep 0.1
	done
}

opens_are()
{
	v=$(timeout 10 "$bin/cltrack" --socket "$dir/sock" status 2>/dev/null |
		awk '$1 == "pipe_opens" { print $2 }')
	[ "$v" = "$1" ]
}

mkdir -p "$dir/pipefs/nfsd" "$dir/store"
"$bin/cltrackd" -F -d INFO -c /dev/null --pipefs-dir "$dir/pipefs" \
	--storage-dir "$dir/store" --control-socket "$dir/sock" \
	2>"$dir/log" &
pid=$!
check "cltrackd answers status" wait_for 10 connected_is 0

mkfifo -m 600 "$dir/pipefs/nfsd/cld"
check "FIFO created (nfsd start): cltrackd opens it" wait_for 5 connected_is 1

rm "$dir/pipefs/nfsd/cld"
check "FIFO removed (nfsd stop): status says not open" \
	wait_for 5 connected_is 0

mkfifo -m 600 "$dir/pipefs/nfsd/cld"
check "FIFO created again: cltrackd opens the new one" \
	wait_for 5 connected_is 1
check "two opens in all" opens_are 2

# A stop and a start in quick succession end with the new pipe open.
rm "$dir/pipefs/nfsd/cld"
mkfifo -m 600 "$dir/pipefs/nfsd/cld"
check "quick remove and create: the new FIFO is open" \
	wait_for 5 opens_are 3
check "... and status says open" wait_for 5 connected_is 1
check "cltrackd still runs" kill -0 "$pid"

if [ "$failed" -ne 0 ]; then
	cat "$dir/log"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
