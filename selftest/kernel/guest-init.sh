#!/bin/busybox sh
# /init of the cltrack kernel-test VM (built by test_kernel.sh).
#
# Runs Debian's real nfsd and NFS client over loopback, with cltrackd as
# the kernel's client-tracking daemon, and prints one "PASS <n> <what>"
# or "FAIL <n> <what>" line per check on the serial console.  The host
# counts those lines.  Facts this relies on: shared/spec/kernel-vm.md.
#
# Switches come from the kernel command line (unknown key=value words
# reach /init as environment variables):
#   cltrack_grace     grace time when a client is expected to reclaim (s)
#   cltrack_grace2    grace time of the run whose client never returns (s)
#   cltrack_watchdog  power off after this many seconds whatever happens

/bin/busybox --install -s /bin
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
umask 022

GRACE=${cltrack_grace:-20}
GRACE2=${cltrack_grace2:-10}
LEASE=10
WATCHDOG=${cltrack_watchdog:-240}

PIPEFS=/var/lib/nfs/rpc_pipefs
STORE=/var/lib/cltrack
SOCK=/run/cltrack/cltrackd.sock
NFSD=/proc/fs/nfsd
SYSLOG=/tmp/syslog
KLOG=/tmp/kernel.log
HOST=cltrack-vm
CLIENT_A="Linux NFSv4.2 $HOST"
UNIQ_B=client-b-gone

PASSED=0
FAILED=0
POKE_PIDS=""

now()
{
	read -r up _ </proc/uptime
	echo "$up"
}

# seconds since $1 (an uptime), one decimal
since()
{
	awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'
}

log()
{
	echo "ktest: [$(now)] $*"
}

pass()
{
	PASSED=$((PASSED + 1))
	echo "PASS $*"
}

fail()
{
	FAILED=$((FAILED + 1))
	echo "FAIL $*"
}

# check <id> <description> <command...>
check()
{
	id=$1
	what=$2
	shift 2
	if "$@"; then
		pass "$id $what"
	else
		fail "$id $what"
	fi
}

# The kernel log since the last call goes to the end of $KLOG, and into
# $KLOG.new for the checks of the phase that just ran.
klog_take()
{
	dmesg -c >"$KLOG.new" 2>/dev/null
	cat "$KLOG.new" >>"$KLOG"
}

klog_new_has()
{
	grep -q "$1" "$KLOG.new"
}

klog_all_has()
{
	grep -q "$1" "$KLOG"
}

stat_of()
{
	timeout 10 cltrack --socket "$SOCK" stats 2>/dev/null |
		awk -v k="$1" '$1 == k { print $2 }'
}

stat_is()
{
	[ "$(stat_of "$1")" = "$2" ]
}

stat_at_least()
{
	v=$(stat_of "$1")
	[ -n "$v" ] && [ "$v" -ge "$2" ]
}

list_has()
{
	timeout 10 cltrack --socket "$SOCK" list 2>/dev/null | grep -qF "$1"
}

list_count()
{
	timeout 10 cltrack --socket "$SOCK" list 2>/dev/null |
		awk '/^[0-9]+ clients?$/ { print $1 }'
}

# The epoch of a client's record, and the store's current epoch.
record_epoch()
{
	timeout 10 cltrack --socket "$SOCK" list 2>/dev/null |
		grep -F "$1" | awk '{ print $(NF - 5) }'
}

current_epoch()
{
	timeout 10 cltrack --socket "$SOCK" status 2>/dev/null |
		awk '$1 == "current_epoch" { print $2 }'
}

server_has_lock()
{
	cat "$NFSD"/clients/*/states 2>/dev/null | grep -q 'type: lock'
}

# Wait up to $1 seconds (in 0.2 s steps) for a command to succeed.
wait_for()
{
	limit=$1
	shift
	t0=$(now)
	while :; do
		if "$@"; then
			return 0
		fi
		if awk -v a="$t0" -v b="$(now)" -v l="$limit" \
			'BEGIN { exit !(b - a >= l) }'; then
			return 1
		fi
		sleep 0.2
	done
}

not()
{
	! "$@"
}

versions_ok()
{
	case " $1 " in
	*" -4.0 "*) ;;
	*) return 1 ;;
	esac
	case " $1 " in
	*" +3 "* | *" +4.0 "*) return 1 ;;
	esac
	case " $1 " in
	*" +4.1 "*) ;;
	*) return 1 ;;
	esac
	case " $1 " in
	*" +4.2 "*) return 0 ;;
	esac
	return 1
}

# stats_are name=value...: each counter of "cltrack stats" has exactly
# that value
stats_are()
{
	for kv in "$@"; do
		[ "$(stat_of "${kv%%=*}")" = "${kv#*=}" ] || return 1
	done
}

mount_ok()
{
	grep -q " $1 nfs4 .*vers=4.2" /proc/mounts &&
		[ "$(timeout 10 cat "$1/data")" = hello ]
}

server_has_client()
{
	grep -qF "name: \"$1\"" "$NFSD"/clients/*/info 2>/dev/null
}

in_current_epoch()
{
	e=$(record_epoch "$1")
	c=$(current_epoch)
	echo "ktest: record epoch ${e:-none}, current epoch ${c:-none}"
	[ -n "$e" ] && [ "$e" = "$c" ]
}

list_has_both()
{
	list_has "$1" && list_has "$2"
}

list_empty()
{
	[ "$(list_count)" = 0 ]
}

lock_kept()
{
	kill -0 "$FLOCK_PID" && not klog_all_has 'lost [0-9]* locks'
}

status_answers()
{
	timeout 10 cltrack --socket "$SOCK" status >/dev/null 2>&1
}

kernel_connected()
{
	timeout 10 cltrack --socket "$SOCK" status 2>/dev/null |
		grep -q '^kernel_connected  *1$'
}

# A FLOCK entry on the client side, i.e. on an inode of the NFS mount.
client_has_flock()
{
	dev=$(stat -c '%d' /mnt/locked 2>/dev/null) || return 1
	ino=$(stat -c '%i' /mnt/locked 2>/dev/null) || return 1
	maj=$((dev >> 8))
	min=$((dev & 255))
	grep -q "FLOCK .* $(printf '%02x:%02x' "$maj" "$min"):$ino " /proc/locks
}

# flock, and the sleep it runs, which would outlive it otherwise.
stop_flock()
{
	child=$(awk -v p="$FLOCK_PID" '$4 == p { print $1 }' \
		/proc/[0-9]*/stat 2>/dev/null)
	kill "$FLOCK_PID" $child 2>/dev/null
	wait "$FLOCK_PID" 2>/dev/null
}

grace_ended()
{
	[ "$(cat "$NFSD/v4_end_grace" 2>/dev/null)" = Y ]
}

nfsd_start()
{
	echo "$1" >"$NFSD/nfsv4gracetime" || return 1
	echo "$LEASE" >"$NFSD/nfsv4leasetime" || return 1
	timeout 30 rpc.nfsd -N 3 -N 4.0 -V 4.1 -V 4.2 -p 2049 4
}

nfsd_stop()
{
	timeout 30 rpc.nfsd 0
}

nfsd_threads()
{
	[ "$(cat "$NFSD/threads" 2>/dev/null)" -gt 0 ] 2>/dev/null
}

# Touch the mount so that the client notices the restart at once,
# instead of at its next lease renewal.
# Its OPEN may wait out the grace in the client's back-off (up to 15 s
# between tries), so it runs in the background and is ended before the
# unmount.
poke_client()
{
	timeout 60 cat /mnt/data >/dev/null 2>&1 &
	POKE_PIDS="$POKE_PIDS $!"
}

dump_logs()
{
	klog_take
	echo "----- kernel log (nfs, nfsd, rpc lines) -----"
	grep -iE 'nfs|rpc|lockd|grace|reclaim' "$KLOG"
	echo "----- cltrackd log (syslog) -----"
	grep -E 'cltrackd' "$SYSLOG" 2>/dev/null |
		grep -v 'Control request' | tail -n 150
	echo "----- cltrack status / list -----"
	timeout 10 cltrack --socket "$SOCK" status 2>&1 | head -n 5
	timeout 10 cltrack --socket "$SOCK" list 2>&1
	echo "----- /proc/fs/nfsd/clients -----"
	for c in "$NFSD"/clients/*; do
		[ -d "$c" ] || continue
		echo "$c:"
		cat "$c/info" "$c/states" 2>/dev/null
	done
}

finish()
{
	dump_logs
	echo "ktest: guest finished at $(now) s uptime"
	echo "KTEST-SUMMARY $PASSED passed, $FAILED failed"
	sync
	poweroff -f
	sleep 10
}

# ---------------------------------------------------------------------------
# Set-up

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /tmp /run /var/lib/nfs
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /var/lib/nfs
mkdir -p "$PIPEFS" /var/lib/nfs/v4recovery /run/cltrack "$STORE" \
	/export /mnt /mnt2
ln -sf /proc/mounts /etc/mtab
ip link set lo up
hostname "$HOST"
T_INIT=$(now)
# SeaBIOS leaves escape sequences on the first line: start a new one.
echo
echo "ktest: /init started at $T_INIT s uptime (kernel $(uname -r))"

(
	sleep "$WATCHDOG"
	fail "watchdog: scenario still running after ${WATCHDOG}s"
	finish
) &

t0=$(now)
modules_ok=yes
while read -r ko; do
	if ! insmod "/lib/modules/$(uname -r)/$ko"; then
		echo "ktest: insmod $ko failed"
		modules_ok=no
	fi
done </etc/cltrack-modules
check 0.1 "loaded nfsd, nfs, nfsv4, sunrpc and their dependencies ($(since "$t0") s)" \
	[ "$modules_ok" = yes ]

mount -t rpc_pipefs sunrpc "$PIPEFS"
mount -t nfsd nfsd "$NFSD"
syslogd -O "$SYSLOG"
# Both clients come through the loopback network, from 127.0.0.1.
echo "/export 127.0.0.0/8(rw,fsid=0,no_subtree_check,no_root_squash,insecure,sync)" \
	>/etc/exports
echo hello >/export/data
timeout 30 exportfs -ra
rpc.mountd -N 2 -N 3 -F >/tmp/mountd.log 2>&1 &
klog_take

# ---------------------------------------------------------------------------
# 1. cltrackd, daemonized: it returns only when pipe watch, store and
#    control socket are ready.
log "step 1: start cltrackd"
t0=$(now)
timeout 30 cltrackd -d DEBUG -c /dev/null --pipefs-dir "$PIPEFS" \
	--storage-dir "$STORE" --control-socket "$SOCK"
rc=$?
check 1.1 "cltrackd daemonized and reported ready (exit $rc, $(since "$t0") s)" \
	[ "$rc" -eq 0 ]
check 1.2 "cltrack status answers at once" status_answers
check 1.3 "the store is ${STORE}/cltrack.tdb" [ -f "$STORE/cltrack.tdb" ]

# ---------------------------------------------------------------------------
# 2. nfsd, NFSv4.1 and 4.2 only, started right after cltrackd returned.
log "step 2: start nfsd"
t0=$(now)
nfsd_start "$GRACE"
rc=$?
check 2.1 "rpc.nfsd started nfsd (exit $rc, $(since "$t0") s)" \
	nfsd_threads
versions=$(cat "$NFSD/versions" 2>/dev/null)
check 2.2 "nfsd serves only 4.1 and 4.2 (versions: $versions)" \
	versions_ok "$versions"
wait_for 5 grace_ended
klog_take
check 2.3 "kernel: NFSD: Using nfsdcld client tracking operations" \
	klog_new_has 'Using nfsdcld client tracking operations'
check 2.4 "kernel did not fall back or time out waiting for the pipe" \
	not klog_new_has 'Unable to initialize client recovery\|old nfsdcld\|Is nfsdcld running'
check 2.5 "kernel: empty store, no clients to reclaim, grace skipped" \
	klog_new_has 'no clients to reclaim, skipping NFSv4 grace period'
check 2.6 "cltrackd got GetVersion and GraceStart, sent an empty list" \
	stats_are upcalls_getversion=1 upcalls_gracestart=1 \
		reclaim_list_sent=0
check 2.7 "cltrackd got GraceDone when the kernel skipped grace" \
	wait_for 5 stat_is upcalls_gracedone 1
check 2.8 "cltrack status: kernel pipe open" kernel_connected
check 2.9 "the pipe is a FIFO of mode 600 ($(stat -c '%F %a' "$PIPEFS/nfsd/cld" 2>&1))" \
	[ "$(stat -c '%F %a' "$PIPEFS/nfsd/cld" 2>/dev/null)" = "fifo 600" ]

# ---------------------------------------------------------------------------
# 3. Mount through 127.0.0.1 with the kernel client.
log "step 3: mount"
t0=$(now)
timeout 60 mount.nfs4 127.0.0.1:/ /mnt -o vers=4.2
rc=$?
check 3.1 "mount.nfs4 127.0.0.1:/ /mnt -o vers=4.2 (exit $rc, $(since "$t0") s)" \
	[ "$rc" -eq 0 ]
check 3.2 "the mount is NFSv4.2 and reads the export" mount_ok /mnt

# ---------------------------------------------------------------------------
# 4. Open and lock a file: NFSv4 turns flock() into a whole-file LOCK.
log "step 4: open and lock"
echo locked >/export/locked
# -o: the command does not inherit the locked file, so the mount is not
# kept busy by it once flock is gone.
flock -o /mnt/locked sleep 100000 &
FLOCK_PID=$!
check 4.1 "flock holds a lock on /mnt/locked (client /proc/locks)" \
	wait_for 20 client_has_flock
check 4.2 "the server holds the client's lock (/proc/fs/nfsd/clients/*/states)" \
	wait_for 10 server_has_lock
check 4.3 "the server knows the client as \"$CLIENT_A\"" \
	server_has_client "$CLIENT_A"

# ---------------------------------------------------------------------------
# 5. The kernel used cltrackd: v2 Create, record listed.
log "step 5: client tracked by cltrackd"
check 5.1 "cltrackd log: Upcall Create ... vers=2" \
	wait_for 10 grep -qE 'Upcall Create xid=[0-9]+ vers=2' "$SYSLOG"
check 5.2 "cltrack list shows \"$CLIENT_A\"" wait_for 10 list_has "$CLIENT_A"
check 5.3 "cltrack list shows exactly 1 client" [ "$(list_count)" = 1 ]
check 5.4 "cltrack stats: upcalls_create is 1" stat_is upcalls_create 1

# ---------------------------------------------------------------------------
# 6. Restart nfsd: the client reclaims from the list GraceStart sent.
log "step 6: restart nfsd"
klog_take
nfsd_stop
# nfsd unlinks the cld pipe when it stops (spec/knfsd-upcalls.md 2.1).
check 6.0 "cltrackd saw the pipe go when nfsd stopped (status: not open)" \
	wait_for 5 not kernel_connected
t_restart=$(now)
nfsd_start "$GRACE"
rc=$?
T_START1=$(now)
poke_client
check 6.1 "rpc.nfsd restarted (exit $rc, $(since "$t_restart") s)" nfsd_threads
check 6.2 "cltrack stats: reclaim_list_sent is 1" stat_is reclaim_list_sent 1
check 6.3 "cltrack stats: upcalls_gracestart is 2" stat_is upcalls_gracestart 2

# ---------------------------------------------------------------------------
# 7. Grace ends early, after RECLAIM_COMPLETE from every listed client.
log "step 7: early end of grace"
wait_for $((GRACE + 10)) grace_ended
t_end=$(since "$T_START1")
klog_take
check 7.1 "kernel: starting ${GRACE}-second grace period" \
	klog_new_has "starting ${GRACE}-second grace period"
check 7.2 "kernel did not say: no clients to reclaim" \
	not klog_new_has 'no clients to reclaim'
check 7.3 "v4_end_grace read Y ${t_end} s after the start (grace time ${GRACE} s, want < $((GRACE / 2)))" \
	awk -v t="$t_end" -v g="$GRACE" 'BEGIN { exit !(t < g / 2) }'
check 7.4 "kernel: all clients done reclaiming" \
	klog_new_has 'all clients done reclaiming'
check 6.4 "the server holds the reclaimed lock again" \
	wait_for 10 server_has_lock
check 6.5 "flock still holds its lock (process alive)" \
	kill -0 "$FLOCK_PID"
check 6.6 "client did not log: lost N locks" \
	not klog_all_has 'lost [0-9]* locks'
check 6.7 "the record was re-created in the current epoch" \
	in_current_epoch "$CLIENT_A"
check 7.5 "cltrackd got GraceDone" wait_for 5 stat_is upcalls_gracedone 2

# ---------------------------------------------------------------------------
# 8. A second client id that never comes back is purged after the next
#    grace.  Client B is the same kernel, with another uniquifier, through
#    another server address (so another nfs_client).
log "step 8: client that never returns"
uniq=/sys/module/nfs/parameters/nfs4_unique_id
printf '%s' "$UNIQ_B" >"$uniq"
t0=$(now)
timeout 60 mount.nfs4 127.0.0.2:/ /mnt2 -o vers=4.2,timeo=10,retrans=1
rc=$?
# Clear it again with a lone NUL: the kernel copies the string as is,
# so "\n" would become the uniquifier.  Client A keeps the id it got at
# its EXCHANGE_ID either way.
printf '\000' >"$uniq"
check 8.1 "second client mounted 127.0.0.2:/ (exit $rc, $(since "$t0") s)" \
	[ "$rc" -eq 0 ]
CLIENT_B=$(grep -h '^name:' "$NFSD"/clients/*/info | grep -F "$UNIQ_B" |
	sed 's/^name: "\(.*\)"$/\1/')
echo "ktest: client B is \"$CLIENT_B\""
check 8.2 "the second client has its own id on the server" [ -n "$CLIENT_B" ]
check 8.3 "cltrack list shows both clients" \
	wait_for 10 list_has_both "$CLIENT_A" "$CLIENT_B"
removes_before=$(stat_of upcalls_remove)

# nfsd down, then client B unmounts: it cannot tell the server
# (DESTROY_CLIENTID fails), so its record stays and it never reclaims.
klog_take
nfsd_stop
t0=$(now)
timeout 60 umount -f /mnt2
rc=$?
check 8.4 "client B unmounted while nfsd was down (exit $rc, $(since "$t0") s)" \
	not grep -q ' /mnt2 ' /proc/mounts
nfsd_start "$GRACE2"
T_START2=$(now)
poke_client
check 8.5 "GraceStart sent both clients (reclaim_list_sent is 2)" \
	stat_is reclaim_list_sent 2
wait_for $((GRACE2 * 3 + 10)) grace_ended
t_end=$(since "$T_START2")
klog_take
check 8.6 "grace ran to its timer: Y after ${t_end} s (grace time ${GRACE2} s)" \
	awk -v t="$t_end" -v g="$GRACE2" 'BEGIN { exit !(t >= g - 1 && t < 3 * g + 10) }'
check 8.7 "kernel: starting ${GRACE2}-second grace period" \
	klog_new_has "starting ${GRACE2}-second grace period"
check 8.8 "kernel did not end grace early (client B never reclaimed)" \
	not klog_new_has 'all clients done reclaiming'
check 8.9 "cltrack list no longer shows client B" \
	wait_for 5 not list_has "$CLIENT_B"
check 8.10 "cltrack list still shows client A" list_has "$CLIENT_A"
check 8.11 "B was purged at GraceDone, not removed (records_purged 1, no Remove)" \
	stats_are records_purged=1 upcalls_remove="$removes_before"
check 8.12 "client A kept its lock through a full grace" \
	lock_kept

# The next restart lists only A again, so grace ends early again.
nfsd_stop
nfsd_start "$GRACE"
T_START3=$(now)
poke_client
check 8.13 "next GraceStart sent only client A (reclaim_list_sent is 1)" \
	stat_is reclaim_list_sent 1
wait_for $((GRACE + 10)) grace_ended
t_end=$(since "$T_START3")
klog_take
check 8.14 "grace ended early again: Y after ${t_end} s (want < $((GRACE / 2)))" \
	awk -v t="$t_end" -v g="$GRACE" 'BEGIN { exit !(t < g / 2) }'
check 8.15 "kernel: all clients done reclaiming" \
	klog_new_has 'all clients done reclaiming'

# ---------------------------------------------------------------------------
# 9. A client that unmounts cleanly is removed at once (DESTROY_CLIENTID
#    makes the kernel send Remove).
log "step 9: clean unmount"
check 9.1 "client A still reads the export after three nfsd restarts" \
	mount_ok /mnt
stop_flock
kill $POKE_PIDS 2>/dev/null
wait $POKE_PIDS 2>/dev/null
t0=$(now)
wait_for 20 timeout 30 umount /mnt
rc=$?
if [ "$rc" -ne 0 ]; then
	echo "ktest: still using /mnt:"
	ls -l /proc/[0-9]*/cwd /proc/[0-9]*/fd/* 2>/dev/null | grep /mnt
fi
check 9.2 "client A unmounted (exit $rc, $(since "$t0") s)" [ "$rc" -eq 0 ]
check 9.3 "cltrackd got a Remove upcall" \
	wait_for 10 stat_at_least upcalls_remove $((removes_before + 1))
check 9.4 "cltrack list shows no client" wait_for 5 list_empty

# ---------------------------------------------------------------------------
# 10. cltrackd restarts while nfsd runs.  An upcall made while no daemon
#     has the pipe open waits for one (up to 30 s, spec 6): the client's
#     Create is answered by the new daemon, which opens the existing pipe
#     at start.
log "step 10: cltrackd restart with an upcall waiting"
old_pid=$(pidof cltrackd)
kill $old_pid 2>/dev/null
check 10.1 "cltrackd (pid ${old_pid:-none}) stopped on SIGTERM" \
	wait_for 10 not kill -0 "${old_pid:-0}"
klog_take
t0=$(now)
timeout 60 mount.nfs4 127.0.0.1:/ /mnt -o vers=4.2 &
MOUNT_PID=$!
sleep 3
timeout 30 cltrackd -d DEBUG -c /dev/null --pipefs-dir "$PIPEFS" \
	--storage-dir "$STORE" --control-socket "$SOCK"
rc=$?
check 10.2 "cltrackd started again (exit $rc)" [ "$rc" -eq 0 ]
wait "$MOUNT_PID"
rc=$?
check 10.3 "the client mounted while no daemon had the pipe (exit $rc, $(since "$t0") s)" \
	[ "$rc" -eq 0 ]
CLIENT_C=$(grep -h '^name:' "$NFSD"/clients/*/info 2>/dev/null |
	sed 's/^name: "\(.*\)"$/\1/' | head -n 1)
echo "ktest: the client is \"$CLIENT_C\" now"
check 10.4 "the new cltrackd answered the waiting Create: client listed" \
	wait_for 20 list_has "${CLIENT_C:-no client on the server}"
check 10.5 "the new cltrackd counted it (upcalls_create 1)" \
	stat_is upcalls_create 1
klog_take
check 10.6 "kernel logged no failed Create" \
	not klog_new_has 'Unable to create client record'
check 10.7 "client unmounted again" timeout 30 umount /mnt

nfsd_stop
log "scenario done"
finish
