#!/bin/bash
#
# The model and the code must not drift apart silently (issue 5 item 4):
# every action of selftest/model/grace.pml (listed in actions.txt) is
# defined in the model, and is mapped in code-map.txt either to a C
# function that exists, or to PENDING with a reason.  A grace_* function
# of helper/grace.c named like an action must be the one mapped to it.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
model="$here/grace.pml"
passed=0 failed=0 pending=0
ok() { echo "PASS $1"; passed=$((passed + 1)); }
bad() { echo "FAIL $1"; failed=$((failed + 1)); }

# is NAME defined as a C function in FILE (at the start of a line, as
# our style writes definitions)?
c_defines() {
	grep -Eq "^[a-z].*[ *]$2\(" "$top/$1" &&
	grep -Eq "^$2\(|[ *]$2\([^;]*$" "$top/$1"
}

while read -r action; do
	[ -n "$action" ] || continue
	# the model: an inline of that name, a macro named in the comment
	# above it, or a step that prints the action's name in a trail
	if grep -Eq "^inline $action\(|(/\*| \*) $action( |:|\*/| \*/)|ACT node%d $action" \
		"$model"; then
		ok "model defines $action"
	else
		bad "model defines $action (no 'inline $action(' or '/* $action */' in grace.pml)"
	fi
	line=$(grep -E "^$action[[:space:]]" "$here/code-map.txt")
	if [ -z "$line" ]; then
		bad "$action is mapped in code-map.txt"
		continue
	fi
	set -- $line
	if [ "$2" = PENDING ]; then
		if [ $# -ge 4 ]; then
			pending=$((pending + 1))
			ok "$action: pending, with a reason"
		else
			bad "$action: PENDING needs a reason"
		fi
	elif [ $# -eq 3 ] && [ -f "$top/$2" ] && c_defines "$2" "$3"; then
		ok "$action is implemented by $3() in $2"
	else
		bad "$action: $3() not defined in $2"
	fi
done <"$here/actions.txt"

# the other way: a function of grace.c named like an action is mapped
for fn in $(grep -Eo "^(static )?[a-z][a-z_ ]*[ *](grace_[a-z_]+)\(" \
		"$top/helper/grace.c" | grep -Eo "grace_[a-z_]+\($" | tr -d '('); do
	if grep -qx "$fn" "$here/actions.txt" &&
	   ! grep -Eq "^$fn[[:space:]]+helper/grace.c[[:space:]]+$fn$" \
		"$here/code-map.txt"; then
		bad "grace.c's $fn() is an action but code-map.txt maps it elsewhere"
	fi
done
ok "every grace.c function named like an action is mapped to itself"

echo "$(grep -c . "$here/actions.txt") actions, $pending pending"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
