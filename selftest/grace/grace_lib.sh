# Shared by the cluster grace scenarios: a real N-node CTDB cluster on
# this machine (selftest/cluster/cluster.sh), one cltrackd per node
# started by the event script, and one emulated nfsd (knfsd-emu --serve)
# per node, whose restart is the configured nfsd restart command.
#
# Addresses: nodes 127.0.0.1..N, public addresses 127.0.100.11..; only
# 127.0.0.0/8 (see cluster.sh).  Everything is cleaned up on exit.

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=${CLTRACK_BIN:-$top/bin}
CLUSTER="$top/selftest/cluster/cluster.sh"
N=${N:-3}
GRACE_TIME=${GRACE_TIME:-10}
KERNEL_GRACE=${KERNEL_GRACE:-60}
T=$(mktemp -d /tmp/cltrack-grace.XXXXXX)
declare -a EMU_PID EMU_FD EMU_SENT
passed=0
failed=0

ok() { echo "PASS $1"; passed=$((passed + 1)); }
bad() { echo "FAIL $1"; failed=$((failed + 1)); }
check() {
	local name=$1
	shift
	if "$@"; then ok "$name"; else bad "$name"; fi
}
now() { date +%s.%N; }
elapsed() { echo "$1 $2" | awk '{ printf "%.2f", $2 - $1 }'; }

grace_cleanup() {
	local k pid
	for k in $(seq 0 $((N - 1))); do
		pid=$(cltrackd_pid "$k")
		[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null
	done
	"$CLUSTER" cleanup "$T/cluster" >/dev/null 2>&1
	for k in $(seq 0 $((N - 1))); do
		if [ -n "${EMU_FD[$k]:-}" ]; then
			eval "exec ${EMU_FD[$k]}>&-"
		fi
		if [ -n "${EMU_PID[$k]:-}" ]; then
			# a scenario may have stopped it (SIGSTOP)
			kill -CONT "${EMU_PID[$k]}" 2>/dev/null
			kill "${EMU_PID[$k]}" 2>/dev/null
			wait "${EMU_PID[$k]}" 2>/dev/null
		fi
		pid=$(cat "$T/nfs.$k/cltrackd.pid" 2>/dev/null)
		[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
	done
	if [ "${KEEP:-}" = "" ]; then
		rm -rf "$T"
	else
		echo "kept $T"
	fi
}
trap grace_cleanup EXIT

cl() { "$CLUSTER" "$@"; }
cltrack_on() { local k=$1; shift; "$BIN/cltrack" --socket "$T/nfs.$k/cltrackd.sock" "$@"; }
cltrackd_pid() {
	cltrack_on "$1" status --json 2>/dev/null |
		sed -n 's/^ *"pid": *\([0-9][0-9]*\).*/\1/p'
}
status_field() {
	cltrack_on "$1" status --json 2>/dev/null |
		sed -n "s/^ *\"$2\": *\"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}$/\1/p"
}

# Per node: an nfs directory with the pipe, the fake /proc/fs/nfsd, the
# emulator's command FIFO and cltrackd's config.
grace_setup_nodes() {
	local k d
	mkdir -p "$T/opts"
	for k in $(seq 0 $((N - 1))); do
		d="$T/nfs.$k"
		mkdir -p "$d/pipefs/nfsd" "$d/proc" "$d/storage"
		mkfifo "$d/emu.fifo"
		emu_spawn "$k"
		cat >"$d/cltrack.conf" <<CONF
[cltrackd]
pipefs dir = $d/pipefs
storage dir = $d/storage
control socket = $d/cltrackd.sock
log file = $d/cltrackd.log
debug level = INFO
[store]
backend = ctdb
[nfsd]
procfs dir = $d/proc
restart command = kill -USR1 ${EMU_PID[$k]}
restart timeout = 10
[grace]
time = $GRACE_TIME
enforcement timeout = 20
CONF
	done
	cat >"$T/opts/59.cltrack.options" <<OPTS
_k=\${CTDB_BASE##*.}
CLTRACK_CONF=$T/nfs.\$_k/cltrack.conf
CLTRACK_SOCKET=$T/nfs.\$_k/cltrackd.sock
CLTRACKD=$BIN/cltrackd
CLTRACK=$BIN/cltrack
# a benchmark's nfsdcld on this machine uses its own pipefs, not ours
CLTRACK_REFUSE_NFSDCLD=no
OPTS
}

# Start node K's emulated nfsd (stopped) reading commands from its FIFO
emu_spawn() {
	local k=$1 d="$T/nfs.$1" fd
	# The emulated clients are v4.1 (they send RECLAIM_COMPLETE): an
	# nfsd started with rpc.nfsd -N 4.0, so that the lift may follow the
	# last reclaim (cltrackd reads <procfs>/versions)
	"$BIN/knfsd-emu" --serve --pipefs "$d/pipefs" --procfs "$d/proc" \
		--nfs-versions "${EMU_NFS_VERSIONS:--2 +3 +4 -4.0 +4.1 +4.2}" \
		--grace-time "$KERNEL_GRACE" "$d/emu.fifo" >"$d/emu.log" 2>&1 &
	EMU_PID[$k]=$!
	exec {fd}>"$d/emu.fifo"
	EMU_FD[$k]=$fd
	EMU_SENT[$k]=0
}

# emu K COMMAND: send a command and wait (<= 60 s) until it is done
emu() {
	local k=$1 cmd=$2 want i
	echo "$cmd" >&"${EMU_FD[$k]}"
	EMU_SENT[$k]=$((EMU_SENT[$k] + 1))
	want=${EMU_SENT[$k]}
	for i in $(seq 600); do
		if grep -q "^# done $want: " "$T/nfs.$k/emu.log"; then
			grep -q "^# done $want: ok" "$T/nfs.$k/emu.log"
			return
		fi
		sleep 0.1
	done
	echo "emu $k: '$cmd' did not finish" >&2
	return 1
}

# Lines the emulator printed for its last N commands
emu_log() { cat "$T/nfs.$1/emu.log"; }

kernel_in_grace() { [ "$(cat "$T/nfs.$1/proc/v4_end_grace" 2>/dev/null)" = N ]; }

# wait_for SECONDS COMMAND...: poll every 0.1 s
wait_for() {
	local secs=$1 i
	shift
	for i in $(seq $((secs * 10))); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

all_out_of_grace() {
	local k
	for k in "$@"; do
		kernel_in_grace "$k" && return 1
	done
	return 0
}

recovery_epoch() { status_field "$1" recovery_epoch; }
not_in_cluster_grace() { [ "$(recovery_epoch "$1")" = 0 ]; }
