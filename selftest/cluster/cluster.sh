#!/usr/bin/env bash
#
# cluster.sh: an N-node CTDB test cluster on one machine, for cltrack's
# tests and "make demo".  The layout, test mode, FIFO keeper, readiness
# and addressing follow shared/spec/ctdb.md §12; upstream's
# ctdb/tests/local_daemons.sh is the model.  Run as root (lo addresses).
#
#   cluster.sh start DIR N [--script PATH]... [--no-public-ips]
#                          [--tunable Name=Value]... [--log-level LEVEL]
#   cluster.sh stop DIR            clean stop of every node
#   cluster.sh kill DIR K          SIGKILL node K and its keeper (a crash)
#   cluster.sh shutdown DIR K      clean stop of node K
#   cluster.sh restart DIR K       start node K again, wait until it is back
#   cluster.sh wait DIR            wait until every live node is ready
#   cluster.sh status DIR          one line per node: K pid|- state
#   cluster.sh socket DIR K        print node K's ctdbd socket path
#   cluster.sh env DIR K           print export lines for node K (for eval)
#   cluster.sh ctdb DIR K ARGS...  run "ctdb ARGS" against node K
#   cluster.sh leader DIR          print the leader's PNN
#   cluster.sh log DIR K           print node K's log file path
#   cluster.sh cleanup DIR         kill everything recorded, check, remove DIR
#
# Environment, read by "start" only (the others read DIR/shared/cluster.conf):
#   CLTRACK_CLUSTER_NODE_BASE    node K has address BASE(K+1); "127.0.0."
#   CLTRACK_CLUSTER_PUBLIC_BASE  public address K is BASE(K+1)/32 on lo;
#                                "127.0.100.1", i.e. 127.0.100.11 ...
#   CLTRACK_CLUSTER_OWNER        pid whose death takes the cluster down
#                                (default: the caller), or "none"
#   CLTRACK_CLUSTER_READY_LIMIT  seconds to wait for readiness; 120
#
# Every process this script starts is recorded in DIR/shared/pids with its
# start time, and carries CLTRACK_CLUSTER_MARKER in its environment (so do
# ctdbd's children and event scripts).  Processes are ended only through
# those records, never by name.

set -u
set -o pipefail

readonly CTDBD=/usr/sbin/ctdbd
readonly CTDB=/usr/bin/ctdb
readonly CTDB_PORT=4379
# sun_path is 108 bytes; the longest socket ctdbd makes under run/ is
# "ctdbd.socket" (eventd's is shorter).
readonly SOCKET_PATH_MAX=107
readonly REGISTRY=/run/cltrack-cluster
readonly POLL=0.5

# Whatever node the caller's shell was pointed at must not leak into ours.
unset CTDB_BASE CTDB_SOCKET CTDB_TEST_MODE CTDB_SCRIPT_VARDIR CTDB_VARDIR \
      CLTRACK_CLUSTER_MARKER
export PATH="${PATH:-/usr/bin:/bin}:/usr/sbin:/sbin"

# Set by cluster_load.
DIR=""
NUM_NODES=0
NODE_BASE=""
PUBLIC_BASE=""
PUBLIC_IPS=yes
MARKER=""
OWNER=none

###########################################################################
# Messages

msg()
{
	echo "cluster: $*" >&2
}

die()
{
	msg "ERROR: $*"
	exit 1
}

usage()
{
	sed -n '8,24s/^# \{0,1\}//p' "$0" >&2
	exit 2
}

now()
{
	echo "$EPOCHREALTIME"
}

# Seconds since $1 (an EPOCHREALTIME value), with one decimal.
elapsed()
{
	awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'
}

###########################################################################
# Layout

node_dir()
{
	echo "${DIR}/node.$1"
}

node_addr()
{
	echo "${NODE_BASE}$(($1 + 1))"
}

public_addr()
{
	echo "${PUBLIC_BASE}$(($1 + 1))"
}

node_socket()
{
	echo "$(node_dir "$1")/run/ctdbd.socket"
}

check_node_arg()
{
	case "$1" in
	'' | *[!0-9]*)
		die "node '$1' is not a number"
		;;
	esac
	if [ "$1" -ge "$NUM_NODES" ]; then
		die "node $1 does not exist (the cluster has $NUM_NODES)"
	fi
}

absolute_dir()
{
	case "$1" in
	/*) echo "$1" ;;
	*) echo "${PWD}/$1" ;;
	esac
}

# Reads DIR/shared/cluster.conf, written first thing by "start", so that
# every later command, including cleanup of a half-started cluster, uses
# the bases and the marker the cluster was started with.
cluster_load()
{
	DIR=$(absolute_dir "$1")
	DIR=${DIR%/}
	if [ ! -f "${DIR}/shared/cluster.conf" ]; then
		die "${DIR} holds no cluster (no shared/cluster.conf)"
	fi
	# shellcheck disable=SC1091
	. "${DIR}/shared/cluster.conf"
}

###########################################################################
# Processes: recorded by pid and start time, so that a reused pid is never
# mistaken for ours.

proc_starttime()
{
	local line rest

	read -r line 2>/dev/null <"/proc/$1/stat" || return 1
	rest=${line##*) }
	# shellcheck disable=SC2086
	set -- $rest
	# Field 3 of stat is the state, field 22 the start time.
	[ "$1" != "Z" ] || return 1
	echo "${20}"
}

# proc_alive PID STARTTIME: true while that very process runs (a zombie
# counts as gone).
proc_alive()
{
	local start

	start=$(proc_starttime "$1") || return 1
	[ "$start" = "$2" ]
}

# record NODE ROLE PID
record()
{
	local start

	start=$(proc_starttime "$3") || start=0
	echo "$1 $2 $3 $start" >>"${DIR}/shared/pids"
}

# recorded_pids [NODE [ROLE]]: "node role pid start" lines, alive or not.
recorded_pids()
{
	[ -f "${DIR}/shared/pids" ] || return 0
	awk -v n="${1:-}" -v r="${2:-}" \
	    '(n == "" || $1 == n) && (r == "" || $2 == r)' \
	    "${DIR}/shared/pids"
}

# The newest recorded ctdbd of node K, if it still runs: prints its pid.
node_pid()
{
	local n role pid start found=""

	while read -r n role pid start; do
		if proc_alive "$pid" "$start"; then
			found=$pid
		fi
	done < <(recorded_pids "$1" ctdbd)
	[ -n "$found" ] || return 1
	echo "$found"
}

node_running()
{
	node_pid "$1" >/dev/null
}

# Pids of live processes carrying our marker (node K's only, if given):
# ctdbd, its recovery daemon, eventd, helpers, event scripts and anything
# they started, and the keepers.
marker_pids()
{
	local pattern f pid

	pattern="^CLTRACK_CLUSTER_MARKER=${MARKER}/node\\.${1:-[0-9]*}\$"
	for f in $(grep -lsz -e "$pattern" /proc/[0-9]*/environ); do
		pid=${f#/proc/}
		pid=${pid%/environ}
		proc_starttime "$pid" >/dev/null && echo "$pid"
	done
}

# kill_recorded SIGNAL [NODE [ROLE]]
kill_recorded()
{
	local sig=$1 n role pid start

	while read -r n role pid start; do
		if proc_alive "$pid" "$start"; then
			kill "-${sig}" "$pid" 2>/dev/null
		fi
	done < <(recorded_pids "${2:-}" "${3:-}")
}

# kill_marked SIGNAL [NODE]
kill_marked()
{
	local pid

	for pid in $(marker_pids "${2:-}"); do
		kill "-$1" "$pid" 2>/dev/null
	done
}

# wait_gone SECONDS [NODE]: until no recorded or marked process of the
# node (or the cluster) is left.
wait_gone()
{
	local limit=$1 node=${2:-} deadline n role pid start left

	deadline=$(awk -v t="$EPOCHREALTIME" -v l="$limit" \
		       'BEGIN { printf "%d", t + l }')
	while :; do
		left=""
		while read -r n role pid start; do
			if proc_alive "$pid" "$start"; then
				left="$left $pid"
			fi
		done < <(recorded_pids "$node")
		left="$left $(marker_pids "$node")"
		left=${left// /}
		[ -n "$left" ] || return 0
		[ "${EPOCHSECONDS}" -lt "$deadline" ] || return 1
		sleep 0.1
	done
}

# The processes left over, for messages: "pid(comm) ...".
describe_left()
{
	local node=${1:-} n role pid start out="" comm

	while read -r n role pid start; do
		if proc_alive "$pid" "$start"; then
			comm=$(cat "/proc/${pid}/comm" 2>/dev/null)
			out="$out ${pid}(${comm}, node ${n} ${role})"
		fi
	done < <(recorded_pids "$node")
	for pid in $(marker_pids "$node"); do
		case " $out " in
		*" ${pid}("*) ;;
		*)
			comm=$(cat "/proc/${pid}/comm" 2>/dev/null)
			out="$out ${pid}(${comm})"
			;;
		esac
	done
	echo "${out# }"
}

###########################################################################
# Talking to a node

# node_env K: the environment that points ctdb, ctdbd and scripts at K.
node_env()
{
	local d

	d=$(node_dir "$1")
	echo "CTDB_TEST_MODE=yes"
	echo "CTDB_BASE=${d}"
	echo "CTDB_SOCKET=${d}/run/ctdbd.socket"
	echo "CTDB_SCRIPT_VARDIR=${d}/var/scripts"
}

# nctdb K ARGS: ctdb against node K, bounded so a hung daemon cannot stall
# the harness.
nctdb()
{
	local k=$1

	shift
	# shellcheck disable=SC2046
	env $(node_env "$k") timeout 10 "$CTDB" "$@"
}

###########################################################################
# Public addresses on lo

# Our public addresses, from the file the nodes use (or from the bases, on
# a half-started cluster).
public_addresses()
{
	local k

	if [ -f "${DIR}/shared/public_addresses" ]; then
		sed -e 's/#.*//' -e 's|/.*||' -e '/^[[:space:]]*$/d' \
		    "${DIR}/shared/public_addresses"
		return
	fi
	[ "$PUBLIC_IPS" = yes ] || return 0
	for k in $(seq 0 $((NUM_NODES - 1))); do
		public_addr "$k"
	done
}

# Every address on lo except 127.0.0.1/8 and ::1/128, one per line.
lo_extra_addresses()
{
	ip -o addr show dev lo |
	awk '{ print $4 }' |
	grep -vxF -e 127.0.0.1/8 -e ::1/128
}

remove_lo_addresses()
{
	local a

	for a in $(public_addresses); do
		ip addr del "${a}/32" dev lo 2>/dev/null
	done
}

###########################################################################
# The registry of running clusters on this machine, one file per public
# base holding the cluster's DIR.  It lets "start" refuse a base that a
# live cluster uses, and lets "cleanup" tell our addresses from those of a
# cluster running side by side.

registry_file()
{
	echo "${REGISTRY}/public-${1}"
}

# cluster_alive DIR: true if any process of the cluster in DIR runs.
cluster_alive()
{
	(
		cluster_load "$1" 2>/dev/null || exit 1
		[ -n "$(describe_left)" ]
	)
}

# Addresses that belong to other live clusters, one per line.
foreign_addresses()
{
	local f other

	for f in "${REGISTRY}"/public-*; do
		[ -f "$f" ] || continue
		other=$(cat "$f")
		[ "$other" != "$DIR" ] || continue
		cluster_alive "$other" || continue
		(
			cluster_load "$other" && public_addresses
		) 2>/dev/null
	done
}

###########################################################################
# Creating the files (§12.3)

write_lo_ip_script()
{
	cat >"$1" <<'EOF'
#!/bin/sh
# Public addresses on lo for a cltrack test cluster, written by cluster.sh.
#
# Tolerant where the stock 10.interface is not: all nodes share one kernel,
# so an address may already be there (left by a crashed node) or already
# gone.  Nothing here touches an address this node does not hold: the
# other nodes' addresses live on the same lo.  Like a machine that goes
# down, a node that shuts down drops the addresses it holds (no releaseip
# comes then); a file per address in the state directory says which.
state="${CTDB_SCRIPT_VARDIR:?}/lo-ip"

case "$1" in
init)
	# Whatever a crashed run of this node held is someone else's now.
	rm -rf "$state"
	;;
takeip)
	ip addr replace "$3/$4" dev "$2" || exit 1
	mkdir -p "$state" && echo "$2 $4" >"${state}/$3"
	;;
releaseip)
	ip addr del "$3/$4" dev "$2" 2>/dev/null
	rm -f "${state}/$3"
	;;
updateip)
	ip addr del "$4/$5" dev "$2" 2>/dev/null
	ip addr replace "$4/$5" dev "$3" || exit 1
	mkdir -p "$state" && echo "$3 $5" >"${state}/$4"
	;;
shutdown)
	for f in "$state"/*; do
		[ -f "$f" ] || continue
		read -r iface bits <"$f"
		ip addr del "${f##*/}/${bits}" dev "$iface" 2>/dev/null
	done
	rm -rf "$state"
	;;
esac
exit 0
EOF
	chmod 755 "$1"
}

write_node_files()
{
	local k=$1 log_level=$2 d addr

	shift 2
	d=$(node_dir "$k")
	addr=$(node_addr "$k")
	mkdir -p "${d}/events/legacy" "${d}/events/notification" \
		 "${d}/share/events/legacy" "${d}/run" "${d}/var/scripts" \
		 "${d}/db/volatile" "${d}/db/persistent" "${d}/db/state" ||
		return 1
	cp "${DIR}/shared/nodes" "${d}/nodes" || return 1
	if [ -f "${DIR}/shared/public_addresses" ]; then
		cp "${DIR}/shared/public_addresses" "${d}/public_addresses" ||
			return 1
	fi
	cp "${DIR}/shared/ctdb.tunables" "${d}/ctdb.tunables" || return 1
	cp /etc/ctdb/functions /etc/ctdb/notify.sh "${d}/" || return 1

	cat >"${d}/ctdb.conf" <<EOF || return 1
# Node ${k} of the cltrack test cluster in ${DIR}, written by cluster.sh.
[logging]
	location = file:${d}/log.ctdb
	log level = ${log_level}

[cluster]
	cluster lock = ${DIR}/shared/cluster.lock
	node address = ${addr}

[database]
	volatile database directory = ${d}/db/volatile
	persistent database directory = ${d}/db/persistent
	state database directory = ${d}/db/state
EOF

	write_lo_ip_script "${d}/events/legacy/10.lo-ip.script" || return 1
	for script in "$@"; do
		install -m 755 "$script" \
			"${d}/events/legacy/$(basename "$script")" || return 1
		# --options-dir: its NN.name.options, which CTDB loads
		opts="${OPTIONS_DIR:-}/$(basename "${script%.script}").options"
		if [ -n "${OPTIONS_DIR:-}" ] && [ -f "$opts" ]; then
			install -m 644 "$opts" "${d}/events/legacy/" ||
				return 1
		fi
	done
}

###########################################################################
# Starting a node (§12.4)

# Closes every inherited descriptor above 2 in the calling (sub)shell, so
# that no daemon holds a pipe of whoever ran us (a "| tee" would never end)
# or a write end of a FIFO.
close_fds()
{
	local p fd

	for p in /proc/"$BASHPID"/fd/*; do
		fd=${p##*/}
		if [ "$fd" -gt 2 ]; then
			eval "exec ${fd}>&-" 2>/dev/null
		fi
	done
}

node_start()
{
	local k=$1 d fifo keeper pid i

	d=$(node_dir "$k")
	fifo="${d}/run/stdin.fifo"
	rm -f "${d}/run/ctdbd.pid"
	if [ ! -p "$fifo" ]; then
		rm -f "$fifo"
		mkfifo -m 600 "$fifo" || return 1
	fi

	# Hold a write end ourselves while the keeper and ctdbd open theirs,
	# so that neither open blocks.
	exec {hold}<>"$fifo" || return 1

	# The keeper holds the FIFO's write end for the node's lifetime and
	# exits when the owner does: ctdbd then reads EOF on stdin, logs
	# "stdin closed, exiting" and shuts down cleanly.
	(
		close_fds
		if [ "$OWNER" = none ]; then
			exec env "CLTRACK_CLUSTER_MARKER=${MARKER}/node.${k}" \
				sleep infinity
		fi
		exec env "CLTRACK_CLUSTER_MARKER=${MARKER}/node.${k}" \
			tail -s 1 --pid="$OWNER" -f /dev/null
	) 1<>"$fifo" </dev/null 2>/dev/null &
	keeper=$!
	record "$k" keeper "$keeper"

	# In test mode ctdbd forks once and the parent exits at once.
	(
		close_fds
		cd / || exit 1
		# shellcheck disable=SC2046
		exec env $(node_env "$k") \
			"CLTRACK_CLUSTER_MARKER=${MARKER}/node.${k}" "$CTDBD"
	) <"$fifo" >>"${d}/ctdbd.stdout" 2>&1
	rc=$?
	exec {hold}>&-
	if [ "$rc" -ne 0 ]; then
		msg "node ${k}: ctdbd exited with ${rc}"
		return 1
	fi

	# The child writes its pid after the parent has exited.
	for i in $(seq 100); do
		if [ -s "${d}/run/ctdbd.pid" ]; then
			read -r pid <"${d}/run/ctdbd.pid"
			if [ -n "$pid" ] && proc_starttime "$pid" >/dev/null
			then
				record "$k" ctdbd "$pid"
				return 0
			fi
		fi
		sleep 0.1
	done
	msg "node ${k}: no ${d}/run/ctdbd.pid after 10 s"
	return 1
}

###########################################################################
# Readiness (§12.4)

# The running nodes, as " 0 1 2 ", computed once per readiness poll.
LIVE=""

live_nodes()
{
	local k

	LIVE=" "
	for k in $(seq 0 $((NUM_NODES - 1))); do
		node_running "$k" && LIVE="${LIVE}${k} "
	done
}

is_live()
{
	case "$LIVE" in
	*" $1 "*) return 0 ;;
	esac
	return 1
}

# node_flags_ok VIEWER: in VIEWER's node map, every running node is OK and
# every node that is not running is DISCONNECTED.
node_flags_ok()
{
	local viewer=$1 map pnn disc rest seen=0

	# |Node|IP|Disconnected|Unknown|Disabled|Banned|Inactive|
	# PartiallyOnline|ThisNode|
	map=$(nctdb "$viewer" -X nodestatus all 2>/dev/null)
	[ -n "$map" ] || return 1
	while IFS='|' read -r _ pnn _ disc rest; do
		case "$pnn" in
		'' | *[!0-9]*) continue ;;
		esac
		if is_live "$pnn"; then
			# Every flag column must be 0 (ThisNode is last).
			rest=${rest%|*|}
			case "|${disc}|${rest}|" in
			*'|1|'*) return 1 ;;
			esac
		elif [ "$disc" != 1 ]; then
			return 1
		fi
		seen=$((seen + 1))
	done <<<"$map"
	[ "$seen" -eq "$NUM_NODES" ]
}

# node_ips_ok VIEWER: every public address is held by a running node and,
# when there are enough addresses, every running node holds one.
node_ips_ok()
{
	local viewer=$1 map addr pnn holders=" " k live=0 count=0

	map=$(nctdb "$viewer" -X ip 2>/dev/null)
	[ -n "$map" ] || return 1
	while IFS='|' read -r _ addr pnn _; do
		case "$pnn" in
		'' | *[!0-9-]*) continue ;;
		esac
		is_live "$pnn" || return 1
		holders="${holders}${pnn} "
		count=$((count + 1))
	done <<<"$map"
	for k in $LIVE; do
		live=$((live + 1))
	done
	if [ "$count" -ge "$live" ]; then
		for k in $LIVE; do
			case "$holders" in
			*" $k "*) ;;
			*) return 1 ;;
			esac
		done
	fi
	[ "$count" -gt 0 ]
}

# node_ready K: node K sees the cluster as it is (LIVE), is running, not
# in recovery and (with public addresses) sees them all hosted.  Prints
# what it waits for, if anything.
node_ready()
{
	local k=$1 out

	if ! nctdb "$k" runstate running >/dev/null 2>&1; then
		echo "runstate"
		return 1
	fi
	if ! node_flags_ok "$k"; then
		echo "node flags"
		return 1
	fi
	if [ "$PUBLIC_IPS" = yes ] && ! node_ips_ok "$k"; then
		echo "public addresses"
		return 1
	fi
	# "ctdb status" waits for a leader broadcast (up to 1 s): last.
	out=$(nctdb "$k" status 2>/dev/null)
	if ! grep -q '^Recovery mode:NORMAL (0)' <<<"$out"; then
		echo "recovery"
		return 1
	fi
	return 0
}

# Runs node_ready on every live node at once.  Prints "K(why)" for each
# node that is not ready.
nodes_not_ready()
{
	local k tmp

	tmp=$(mktemp -d) || return 1
	for k in $LIVE; do
		node_ready "$k" >"${tmp}/${k}" &
	done
	wait
	for k in $LIVE; do
		if [ -s "${tmp}/${k}" ]; then
			printf ' %s(%s)' "$k" "$(cat "${tmp}/${k}")"
		fi
	done
	rm -rf "$tmp"
}

print_logs()
{
	local k d

	for k in $(seq 0 $((NUM_NODES - 1))); do
		d=$(node_dir "$k")
		[ -d "$d" ] || continue
		if node_running "$k"; then
			echo "----- node ${k} (running): ${d}/log.ctdb" >&2
		else
			echo "----- node ${k} (not running): ${d}/log.ctdb" >&2
		fi
		tail -n 15 "${d}/log.ctdb" >&2 2>/dev/null
		if [ -s "${d}/ctdbd.stdout" ]; then
			echo "----- node ${k}: ${d}/ctdbd.stdout" >&2
			tail -n 5 "${d}/ctdbd.stdout" >&2
		fi
	done
}

# cluster_wait NODES...: waits until the given nodes run and every running
# node is ready.  Fails at once if one of the given nodes dies.
cluster_wait()
{
	local limit=${CLTRACK_CLUSTER_READY_LIMIT:-120} t0 k pending shown=""

	t0=$(now)
	while :; do
		live_nodes
		for k in "$@"; do
			if ! is_live "$k"; then
				msg "node ${k} (ctdbd) died while waiting" \
				    "for the cluster"
				print_logs
				return 1
			fi
		done
		pending=$(nodes_not_ready)
		if [ "$pending" != "$shown" ] && [ -n "$pending" ]; then
			msg "waiting for:${pending}"
			shown=$pending
		fi
		if [ -z "$pending" ]; then
			msg "ready after $(elapsed "$t0") s"
			return 0
		fi
		if [ "$(elapsed "$t0" | cut -d. -f1)" -ge "$limit" ]; then
			msg "nodes not ready after ${limit} s:${pending}"
			for k in $pending; do
				k=${k%%(*}
				{
					echo "----- node ${k}: ctdb status"
					nctdb "$k" status
					echo "----- node ${k}: ctdb ip"
					nctdb "$k" ip
				} >&2 2>&1
			done
			print_logs
			return 1
		fi
		sleep "$POLL"
	done
}

###########################################################################
# Stopping

# node_stop K: ctdb shutdown, then SIGTERM, then SIGKILL; then the keeper
# and whatever the node left behind.
node_stop()
{
	local k=$1 pid

	if pid=$(node_pid "$k"); then
		nctdb "$k" shutdown >/dev/null 2>&1 ||
			kill -TERM "$pid" 2>/dev/null
	fi
	if ! wait_gone_ctdbd "$k" 10; then
		msg "node ${k}: ctdbd still runs 10 s after shutdown;" \
		    "sending SIGKILL"
		kill_recorded KILL "$k" ctdbd
	fi
	kill_recorded TERM "$k" keeper
	if ! wait_gone 5 "$k"; then
		msg "node ${k}: left behind: $(describe_left "$k");" \
		    "sending SIGKILL"
		kill_recorded KILL "$k"
		kill_marked KILL "$k"
		wait_gone 5 "$k"
	fi
}

# wait_gone_ctdbd K SECONDS
wait_gone_ctdbd()
{
	local k=$1 i

	for i in $(seq $(($2 * 10))); do
		node_running "$k" || return 0
		sleep 0.1
	done
	! node_running "$k"
}

node_crash()
{
	local k=$1 pid

	pid=$(node_pid "$k") || die "node ${k} is not running"
	# The pid file must name the ctdbd we recorded.
	if [ "$(cat "$(node_dir "$k")/run/ctdbd.pid" 2>/dev/null)" != "$pid" ]
	then
		die "node ${k}: run/ctdbd.pid does not hold the recorded" \
		    "pid ${pid}"
	fi
	kill -KILL "$pid"
	wait_gone_ctdbd "$k" 5 || die "node ${k}: ctdbd ${pid} survived SIGKILL"
	kill_recorded KILL "$k" keeper
	# A crashed machine keeps no processes: its recovery daemon and
	# eventd exit on their own; an event script might not.
	if ! wait_gone 5 "$k"; then
		kill_marked KILL "$k"
		wait_gone 2 "$k" ||
			die "node ${k}: left behind: $(describe_left "$k")"
	fi
}

# Stops every process, removes our addresses and our registry entry.
# Returns non-zero if something is left.
cluster_teardown()
{
	local k pids=""

	for k in $(seq 0 $((NUM_NODES - 1))); do
		node_stop "$k" &
		pids="$pids $!"
	done
	# shellcheck disable=SC2086
	wait $pids
	kill_recorded KILL
	kill_marked KILL
	wait_gone 5
	remove_lo_addresses
	if [ "$(cat "$(registry_file "$PUBLIC_BASE")" 2>/dev/null)" = "$DIR" ]
	then
		rm -f "$(registry_file "$PUBLIC_BASE")"
	fi
	[ -z "$(describe_left)" ]
}

###########################################################################
# Commands

cmd_start()
{
	local n scripts=() tunables=() log_level=NOTICE arg k t0 a

	[ $# -ge 2 ] || usage
	DIR=$(absolute_dir "$1")
	DIR=${DIR%/}
	n=$2
	shift 2
	while [ $# -gt 0 ]; do
		arg=$1
		shift
		case "$arg" in
		--script)
			[ $# -ge 1 ] || die "--script needs a path"
			[ -f "$1" ] || die "--script $1: no such file"
			case "$(basename "$1")" in
			[0-9][0-9].*.script) ;;
			*) die "--script $1: eventd runs only files named" \
			       "NN.name.script" ;;
			esac
			scripts+=("$(absolute_dir "$1")")
			shift
			;;
		--tunable)
			[ $# -ge 1 ] || die "--tunable needs Name=Value"
			[[ "$1" =~ ^[A-Za-z]+=[0-9]+$ ]] ||
				die "--tunable $1: not Name=Value"
			tunables+=("$1")
			shift
			;;
		--no-public-ips)
			PUBLIC_IPS=no
			;;
		--options-dir)
			[ $# -ge 1 ] || die "--options-dir needs a directory"
			OPTIONS_DIR=$(absolute_dir "$1")
			shift
			;;
		--log-level)
			[ $# -ge 1 ] || die "--log-level needs a level"
			log_level=$1
			shift
			;;
		*)
			die "start: unknown option '$arg'"
			;;
		esac
	done

	case "$n" in
	'' | *[!0-9]* | 0) die "start: N must be a positive number" ;;
	esac
	NUM_NODES=$n
	NODE_BASE=${CLTRACK_CLUSTER_NODE_BASE:-127.0.0.}
	PUBLIC_BASE=${CLTRACK_CLUSTER_PUBLIC_BASE:-127.0.100.1}
	for a in "$NODE_BASE" "$PUBLIC_BASE"; do
		# The address rule: nothing outside 127.0.0.0/8.
		[[ "$a" =~ ^127\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{0,2}$ ]] ||
			die "base '$a' is not a 127.x.y. prefix"
	done
	[ "$(node_addr $((n - 1)) | awk -F. '{ print $4 }')" -le 254 ] ||
		die "too many nodes for node base ${NODE_BASE}"
	[ "$(public_addr $((n - 1)) | awk -F. '{ print $4 }')" -le 254 ] ||
		die "too many nodes for public base ${PUBLIC_BASE}"
	[ "$(id -u)" -eq 0 ] || die "must run as root (lo addresses)"
	[ -x "$CTDBD" ] || die "${CTDBD} missing (apt-get install ctdb)"

	case "$DIR" in
	*[[:space:]]*) die "${DIR}: ctdb.conf cannot take a path with spaces" ;;
	esac
	if [ ${#DIR} -gt $((SOCKET_PATH_MAX - ${#n} - 24)) ]; then
		die "${DIR}: too long for a unix socket path under it"
	fi
	if [ -e "$DIR" ] && [ -n "$(ls -A "$DIR")" ]; then
		die "${DIR} is not empty (cluster.sh cleanup ${DIR} first?)"
	fi

	# Someone else's cluster on our node addresses, or on our public
	# addresses: refuse rather than fight over them.
	for k in $(seq 0 $((n - 1))); do
		if ss -Hltn "sport = :${CTDB_PORT}" | awk '{ print $4 }' |
		   grep -qxF "$(node_addr "$k"):${CTDB_PORT}"; then
			die "$(node_addr "$k"):${CTDB_PORT} is in use: another" \
			    "cluster runs on node base ${NODE_BASE}" \
			    "(set CLTRACK_CLUSTER_NODE_BASE)"
		fi
	done
	if [ "$PUBLIC_IPS" = yes ] && [ -f "$(registry_file "$PUBLIC_BASE")" ]
	then
		a=$(cat "$(registry_file "$PUBLIC_BASE")")
		if cluster_alive "$a"; then
			die "the cluster in ${a} uses public base ${PUBLIC_BASE}" \
			    "(set CLTRACK_CLUSTER_PUBLIC_BASE)"
		fi
	fi

	if [ "$OWNER_ARG" = none ]; then
		OWNER=none
	else
		OWNER=$OWNER_ARG
		proc_starttime "$OWNER" >/dev/null ||
			die "owner pid ${OWNER} is not running"
	fi
	MARKER="${DIR}#$$.${RANDOM}"

	mkdir -p "${DIR}/shared" || die "cannot create ${DIR}/shared"
	cat >"${DIR}/shared/cluster.conf" <<EOF
# Written by cluster.sh start; read by its other commands.
NUM_NODES=${NUM_NODES}
NODE_BASE=${NODE_BASE}
PUBLIC_BASE=${PUBLIC_BASE}
PUBLIC_IPS=${PUBLIC_IPS}
OWNER=${OWNER}
MARKER='${MARKER}'
EOF
	: >"${DIR}/shared/pids"

	# From here on, a failure or an interrupt stops what was started.
	trap 'start_failed' EXIT
	trap 'exit 1' INT TERM HUP

	for k in $(seq 0 $((n - 1))); do
		node_addr "$k"
	done >"${DIR}/shared/nodes"
	if [ "$PUBLIC_IPS" = yes ]; then
		for k in $(seq 0 $((n - 1))); do
			echo "$(public_addr "$k")/32 lo"
		done >"${DIR}/shared/public_addresses"
		mkdir -p "$REGISTRY" &&
			echo "$DIR" >"$(registry_file "$PUBLIC_BASE")"
		# No live cluster owns them: leftovers of a crashed run.
		for a in $(public_addresses); do
			if ip -o addr show dev lo | grep -qF " ${a}/32 "; then
				msg "removing stale ${a}/32 from lo"
				ip addr del "${a}/32" dev lo
			fi
		done
	fi
	printf '%s\n' "${tunables[@]}" >"${DIR}/shared/ctdb.tunables"
	: >"${DIR}/shared/cluster.lock"

	t0=$(now)
	for k in $(seq 0 $((n - 1))); do
		write_node_files "$k" "$log_level" "${scripts[@]}" ||
			die "cannot write the files of node ${k}"
		msg "node ${k}: starting ctdbd on $(node_addr "$k")"
		node_start "$k" || die "node ${k} did not start"
	done
	msg "waiting for ${n} nodes to be ready"
	cluster_wait $(seq 0 $((n - 1))) || exit 1
	msg "${n} nodes ready in $(elapsed "$t0") s: ${DIR}"
	trap - EXIT INT TERM HUP
}

start_failed()
{
	local rc=$?

	trap - EXIT INT TERM HUP
	msg "start failed: stopping what was started (logs stay in ${DIR})"
	cluster_teardown >/dev/null 2>&1
	exit "$([ "$rc" -ne 0 ] && echo "$rc" || echo 1)"
}

cmd_stop()
{
	[ $# -eq 1 ] || usage
	cluster_load "$1"
	msg "stopping ${NUM_NODES} nodes"
	cluster_teardown || die "left behind: $(describe_left)"
}

cmd_kill()
{
	[ $# -eq 2 ] || usage
	cluster_load "$1"
	check_node_arg "$2"
	node_crash "$2"
	msg "node $2: killed"
}

cmd_shutdown()
{
	[ $# -eq 2 ] || usage
	cluster_load "$1"
	check_node_arg "$2"
	node_running "$2" || die "node $2 is not running"
	node_stop "$2"
	node_running "$2" && die "node $2 did not stop"
	[ -z "$(describe_left "$2")" ] ||
		die "node $2 left behind: $(describe_left "$2")"
	msg "node $2: shut down"
}

cmd_restart()
{
	local k=${2:-} owner

	[ $# -eq 2 ] || usage
	cluster_load "$1"
	check_node_arg "$k"
	node_running "$k" && die "node ${k} is running"
	# Whatever is left of the old node (a keeper after a shutdown by
	# hand, a hung script) must not hold its FIFO or its addresses.
	kill_recorded KILL "$k"
	kill_marked KILL "$k"
	wait_gone 5 "$k" || die "node ${k} left behind: $(describe_left "$k")"
	# The owner that started the cluster, while it lives; else our caller.
	if [ "$OWNER" != none ] && ! proc_starttime "$OWNER" >/dev/null; then
		OWNER=$OWNER_ARG
	fi
	msg "node ${k}: starting ctdbd on $(node_addr "$k")"
	node_start "$k" || { print_logs; die "node ${k} did not start"; }
	cluster_wait "$k" || die "node ${k} did not come back"
}

cmd_wait()
{
	local k live=()

	[ $# -eq 1 ] || usage
	cluster_load "$1"
	for k in $(seq 0 $((NUM_NODES - 1))); do
		node_running "$k" && live+=("$k")
	done
	[ ${#live[@]} -gt 0 ] || die "no node is running"
	cluster_wait "${live[@]}" || exit 1
}

cmd_status()
{
	local k pid why

	[ $# -eq 1 ] || usage
	cluster_load "$1"
	live_nodes
	for k in $(seq 0 $((NUM_NODES - 1))); do
		if pid=$(node_pid "$k"); then
			why=$(node_ready "$k")
			echo "$k $pid ${why:-ready}"
		else
			echo "$k - down"
		fi
	done
}

cmd_socket()
{
	[ $# -eq 2 ] || usage
	cluster_load "$1"
	check_node_arg "$2"
	node_socket "$2"
}

cmd_log()
{
	[ $# -eq 2 ] || usage
	cluster_load "$1"
	check_node_arg "$2"
	echo "$(node_dir "$2")/log.ctdb"
}

cmd_env()
{
	local line

	[ $# -eq 2 ] || usage
	cluster_load "$1"
	check_node_arg "$2"
	printf 'export'
	while read -r line; do
		printf ' %s=%q' "${line%%=*}" "${line#*=}"
	done < <(node_env "$2")
	printf '\n'
}

cmd_ctdb()
{
	local k

	[ $# -ge 2 ] || usage
	cluster_load "$1"
	k=$2
	check_node_arg "$k"
	shift 2
	# shellcheck disable=SC2046
	exec env $(node_env "$k") "$CTDB" "$@"
}

cmd_leader()
{
	local k out i

	[ $# -eq 1 ] || usage
	cluster_load "$1"
	# The leader broadcasts its PNN about once a second; "ctdb leader"
	# prints UNKNOWN until it has heard one (§9).
	for i in $(seq 15); do
		for k in $(seq 0 $((NUM_NODES - 1))); do
			node_running "$k" || continue
			out=$(nctdb "$k" -t 3 leader 2>/dev/null)
			if [[ "$out" =~ ^[0-9]+$ ]]; then
				echo "$out"
				return 0
			fi
			break
		done
		sleep 0.5
	done
	die "no leader known after 15 tries"
}

cmd_cleanup()
{
	local d rc=0 a extra foreign left

	[ $# -eq 1 ] || usage
	d=$(absolute_dir "$1")
	d=${d%/}
	[ -e "$d" ] || return 0
	if [ ! -f "${d}/shared/cluster.conf" ]; then
		# Not (yet) a cluster: nothing can have been started.
		rm -rf "$d"
		return 0
	fi
	cluster_load "$d"
	cluster_teardown
	left=$(describe_left)
	if [ -n "$left" ]; then
		msg "ERROR: processes left behind: ${left}"
		rc=1
	fi

	# lo must hold only 127.0.0.1/8 and ::1/128, apart from the addresses
	# of other clusters running side by side.
	foreign=$(foreign_addresses)
	for a in $(lo_extra_addresses); do
		if grep -qxF "${a%/32}" <<<"$foreign"; then
			continue
		fi
		extra="${extra:-} $a"
	done
	if [ -n "${extra:-}" ]; then
		msg "ERROR: lo holds more than 127.0.0.1/8 and ::1/128:${extra}"
		rc=1
	fi
	if [ -z "$left" ]; then
		rm -rf "$DIR"
	else
		msg "keeping ${DIR}"
	fi
	return "$rc"
}

###########################################################################

# The pid whose death ends the cluster: CLTRACK_CLUSTER_OWNER, else the
# process that called us, looking through wrappers that exit with us.
find_owner()
{
	local pid=$PPID comm

	if [ -n "${CLTRACK_CLUSTER_OWNER:-}" ]; then
		echo "$CLTRACK_CLUSTER_OWNER"
		return
	fi
	while [ "$pid" -gt 1 ]; do
		comm=$(cat "/proc/${pid}/comm" 2>/dev/null)
		case "$comm" in
		timeout | env | nice | ionice | stdbuf | setsid | time | sudo)
			pid=$(awk '{ print $4 }' "/proc/${pid}/stat")
			;;
		*)
			break
			;;
		esac
	done
	echo "$pid"
}

[ $# -ge 2 ] || usage
command=$1
shift
OWNER_ARG=$(find_owner)

case "$command" in
start) cmd_start "$@" ;;
stop) cmd_stop "$@" ;;
kill) cmd_kill "$@" ;;
shutdown) cmd_shutdown "$@" ;;
restart) cmd_restart "$@" ;;
wait) cmd_wait "$@" ;;
status) cmd_status "$@" ;;
socket) cmd_socket "$@" ;;
log) cmd_log "$@" ;;
env) cmd_env "$@" ;;
ctdb) cmd_ctdb "$@" ;;
leader) cmd_leader "$@" ;;
cleanup) cmd_cleanup "$@" ;;
*) usage ;;
esac
