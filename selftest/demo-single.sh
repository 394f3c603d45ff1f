#!/bin/bash
#
# make demo: cltrackd replaces nfsdcld on one host.  The kernel side is
# our knfsd emulator (selftest/knfsd-emu), which speaks the kernel's cld
# protocol through the test seam.  Everything lives in a temporary
# directory and is cleaned up on exit.
#
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
bin=${CLTRACK_BIN:-$top/bin}
demo=$(mktemp -d /tmp/cltrack-demo.XXXXXX)
daemon_pid=

cleanup() {
	if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
		kill -TERM "$daemon_pid"
		wait "$daemon_pid" 2>/dev/null
	fi
	rm -rf "$demo"
}
trap cleanup EXIT INT TERM

mkdir -p "$demo/pipefs/nfsd" "$demo/proc" "$demo/storage"
sock="$demo/cltrackd.sock"

cat <<TEXT
=== cltrack demo: cltrackd tracks NFSv4 clients for one NFS server ===

cltrackd keeps the list of clients that may reclaim state after an nfsd
restart.  The kernel talks to it on <pipefs>/nfsd/cld; here the kernel is
emulated by knfsd-emu.  Files are in $demo.

TEXT

"$bin/cltrackd" -F -d NOTICE -c /dev/null --pipefs-dir "$demo/pipefs" \
	--storage-dir "$demo/storage" --control-socket "$sock" \
	2>"$demo/cltrackd.log" &
daemon_pid=$!
for _ in $(seq 50); do
	"$bin/cltrack" --socket "$sock" status >/dev/null 2>&1 && break
	sleep 0.1
done
if ! "$bin/cltrack" --socket "$sock" status >/dev/null 2>&1; then
	echo "cltrackd did not start; its log:" >&2
	cat "$demo/cltrackd.log" >&2
	exit 1
fi
echo "cltrackd is running (pid $daemon_pid)."
echo

export CLTRACK_SOCKET="$sock"
cl="$bin/cltrack"
hash=0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20

"$bin/knfsd-emu" --pipefs "$demo/pipefs" --procfs "$demo/proc" \
	--grace-time 3 - <<SCRIPT
echo --- 1. nfsd starts for the first time: the store is empty, so there
echo        is nothing to reclaim and no grace period
start
! $cl status | head -4

echo
echo --- 2. Three NFSv4.1 clients mount and take state: one Create upcall
echo        each (bob authenticated with Kerberos: principal hash stored)
create alice.example.com
create bob.example.com $hash
create carol.example.com
! $cl list

echo
echo --- 3. carol unmounts and her lease expires: Remove upcall
remove carol.example.com
! $cl list

echo
echo --- 4. The server reboots.  At nfsd start the kernel asks for the
echo        reclaim list (GraceStart) and enters its grace period
restart
show
! $cl status | head -4

echo
echo --- 5. alice and bob reclaim their locks and send RECLAIM_COMPLETE.
echo        Every listed client is done, so the kernel ends grace early
reclaim alice.example.com
reclaim-complete alice.example.com
reclaim bob.example.com $hash
reclaim-complete bob.example.com $hash
grace-wait 5
show
! $cl list

echo
echo --- 6. Another reboot.  This time bob never comes back: grace runs
echo        to the timer (3 s here, 90 s by default) and then bob's record
echo        is purged, so he can never reclaim stale state
restart
reclaim alice.example.com
reclaim-complete alice.example.com
grace-wait 10
! $cl list

echo
echo --- 7. Group commit: 2000 new clients mount with 64 Create upcalls in
echo        flight; each is answered only after its fsync'ed transaction
creates 2000 64 client-
! $cl stats | grep -E '^(upcalls_create|transactions |batch_max|batched_ops)'
SCRIPT
rc=$?

echo
if [ $rc -eq 0 ]; then
	echo "=== demo finished: every step behaved as described ==="
else
	echo "=== demo FAILED (knfsd-emu exit $rc); cltrackd's log: ==="
	tail -20 "$demo/cltrackd.log"
fi
exit $rc
