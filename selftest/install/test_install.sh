#!/bin/bash
# "waf install --destdir=TMP" of the tree that is already built, then check
# the installed tree against docs/install.md: paths, modes, that the
# programs run, the library links through pkg-config, the man pages
# render, the unit verifies, and CTDB finds the event script.
#
# Run by "make test" (CLTRACK_SRCDIR/CLTRACK_BUILDDIR set by waf test), or
# by hand: bash selftest/install/test_install.sh.  Prints PASS/FAIL lines
# and "N passed, N failed" last.  Nothing outside the temp dir changes:
# the install goes to a DESTDIR and the build is not reconfigured (waf
# install of an up-to-date tree compiles nothing).

set -u

SRC=${CLTRACK_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${CLTRACK_BUILDDIR:-$SRC/build}
WAF=$SRC/buildtools/waf

passed=0
failed=0
pass() { echo "PASS: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
check() {
	local what=$1
	shift
	if "$@"; then pass "$what"; else fail "$what"; fi
}
finish() {
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
	exit
}

TMP=$(mktemp -d /tmp/cltrack-install.XXXXXX) || exit 1
trap 'rm -rf "$TMP"' EXIT
D=$TMP/destdir

# The lock file that names BUILD (.lock-waf_linux_build, or the one of
# "make test-asan", WAFLOCK=.lock-waf-asan), so that waf installs what
# this test run built.
if [ -z "${WAFLOCK:-}" ]; then
	for lock in "$SRC"/.lock-waf*; do
		[ -f "$lock" ] || continue
		if grep -q "^out_dir = '$BUILD'$" "$lock"; then
			WAFLOCK=$(basename "$lock")
			export WAFLOCK
			break
		fi
	done
fi
if [ ! -f "$BUILD/c4che/_cache.py" ]; then
	fail "configured build in $BUILD (run make first)"
	finish
fi

# The configured install directories.
conf_var() {
	python3 - "$BUILD/c4che/_cache.py" "$1" <<'EOF'
import ast, sys
for line in open(sys.argv[1]):
	name, sep, value = line.partition(' = ')
	if sep and name == sys.argv[2]:
		v = ast.literal_eval(value.strip())
		print(v if isinstance(v, str) else ' '.join(v))
EOF
}
for var in PREFIX BINDIR SBINDIR LIBEXECDIR LIBDIR INCLUDEDIR MANDIR \
	   DOCDIR SYSCONFDIR LOCALSTATEDIR SYSTEMDSYSTEMUNITDIR CTDB_DATADIR \
	   MULTIARCH; do
	eval "$var=\$(conf_var $var)"
done

# With the default ./configure the layout is Debian's, exactly.
if [ "$PREFIX" = /usr ]; then
	triplet=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null ||
		  gcc -print-multiarch)
	expect_dir() {
		check "default $1 is $3 (configured: $2)" test "$2" = "$3"
	}
	expect_dir bindir "$BINDIR" /usr/bin
	expect_dir sbindir "$SBINDIR" /usr/sbin
	expect_dir libexecdir "$LIBEXECDIR" /usr/libexec
	expect_dir libdir "$LIBDIR" "/usr/lib/$triplet"
	expect_dir includedir "$INCLUDEDIR" /usr/include
	expect_dir mandir "$MANDIR" /usr/share/man
	expect_dir docdir "$DOCDIR" /usr/share/doc/cltrack
	expect_dir sysconfdir "$SYSCONFDIR" /etc
	expect_dir localstatedir "$LOCALSTATEDIR" /var
	expect_dir "ctdb datadir" "$CTDB_DATADIR" /usr/share/ctdb
	# bookworm: systemd.pc and nfs-kernel-server say /lib/systemd/system
	unitdir=$(pkg-config --variable=systemdsystemunitdir systemd \
		  2>/dev/null || true)
	expect_dir "systemd unit dir" "$SYSTEMDSYSTEMUNITDIR" \
		   "${unitdir:-/lib/systemd/system}"
fi

# --- install ---------------------------------------------------------------
(cd "$SRC" && "$WAF" install --destdir="$D") >"$TMP/install.log" 2>&1
rc=$?
check "waf install --destdir exits 0" test $rc -eq 0
if [ $rc -ne 0 ]; then
	sed 's/^/    | /' "$TMP/install.log" | tail -40
	finish
fi
if grep -q '^\[ *[0-9]*/[0-9]*\] \(Compiling\|Linking\)' "$TMP/install.log"; then
	echo "NOTE: waf install built something (the tree was not up to date):"
	grep '^\[ *[0-9]*/[0-9]*\] ' "$TMP/install.log" | sed 's/^/    | /'
fi

# path mode [type]: installed, with that mode
has() {
	local path=$D$1 mode=$2 type=${3:-f} actual
	if [ "$type" = d ]; then
		[ -d "$path" ] && [ ! -L "$path" ] || { fail "$1 is a directory"; return; }
	elif [ "$type" = l ]; then
		[ -L "$path" ] && [ -e "$path" ] || { fail "$1 is a symlink that resolves"; return; }
		pass "$1 -> $(readlink "$path")"
		return
	else
		[ -f "$path" ] && [ ! -L "$path" ] || { fail "$1 is a regular file"; return; }
	fi
	actual=$(stat -c %a "$path")
	check "$1 mode $mode" test "$actual" = "$mode"
}

has "$SBINDIR/cltrackd" 755
has "$BINDIR/cltrack" 755
has "$LIBEXECDIR/cltrack/nfsdcltrack" 755
so=$(cd "$D$LIBDIR" 2>/dev/null && ls libcltrack.so.*.*.* 2>/dev/null | head -1)
if [ -n "$so" ]; then
	has "$LIBDIR/$so" 755
	soname=$(objdump -p "$D$LIBDIR/$so" | awk '$1 == "SONAME" { print $2 }')
	check "libcltrack SONAME is libcltrack.so.N ($soname)" \
		test -n "$soname" -a "${soname%.so.*}" = libcltrack
	has "$LIBDIR/$soname" - l
	has "$LIBDIR/libcltrack.so" - l
else
	fail "$LIBDIR/libcltrack.so.N.N.N installed"
fi
has "$INCLUDEDIR/cltrack/client.h" 644
has "$INCLUDEDIR/cltrack/proto.h" 644
has "$LIBDIR/pkgconfig/cltrack.pc" 644
has "$CTDB_DATADIR/events/legacy/59.cltrack.script" 755
has "$DOCDIR/examples/59.cltrack.options" 644
has "$DOCDIR/examples/cltrack.conf.example" 644
has "$SYSCONFDIR/cltrack/cltrack.conf" 644
check "cltrack.conf is docs/cltrack.conf.example" \
	cmp -s "$D$SYSCONFDIR/cltrack/cltrack.conf" "$SRC/docs/cltrack.conf.example"
has "$SYSTEMDSYSTEMUNITDIR/cltrackd.service" 644
has "$LOCALSTATEDIR/lib/cltrack" 700 d
man_pages="man8/cltrackd.8 man8/cltrack.8 man8/nfsdcltrack-cltrack.8 man5/cltrack.conf.5"
for page in "$SRC"/docs/*.7 "$SRC"/docs/*.1; do
	[ -f "$page" ] || continue
	section=${page##*.}
	man_pages="$man_pages man$section/$(basename "$page")"
done
for page in $man_pages; do
	has "$MANDIR/$page" 644
done
extra=$(cd "$D" && find . \( -type f -o -type l \) | sed 's|^\.||' | sort |
	grep -v -e "^$MANDIR/" -e "^$DOCDIR/" -e "^$INCLUDEDIR/cltrack/" \
		-e "^$LIBDIR/libcltrack\.so" -e "^$LIBDIR/pkgconfig/cltrack\.pc$" \
		-e "^$SBINDIR/cltrackd$" -e "^$BINDIR/cltrack$" \
		-e "^$LIBEXECDIR/cltrack/nfsdcltrack$" \
		-e "^$CTDB_DATADIR/events/legacy/59\.cltrack\.script$" \
		-e "^$SYSCONFDIR/cltrack/cltrack\.conf$" \
		-e "^$SYSTEMDSYSTEMUNITDIR/cltrackd\.service$")
check "nothing else installed${extra:+ (also: $(echo $extra))}" test -z "$extra"

# --- the programs run --------------------------------------------------------
out=$("$D$SBINDIR/cltrackd" --version 2>&1)
check "cltrackd --version runs ($out)" \
	test $? -eq 0 -a -n "$out"
"$D$BINDIR/cltrack" --help >"$TMP/help" 2>&1
check "cltrack --help runs" test $? -eq 0 -a -s "$TMP/help"
"$D$LIBEXECDIR/cltrack/nfsdcltrack" --help >"$TMP/help" 2>&1
check "nfsdcltrack defaults: socket /run/cltrack/cltrackd.sock" \
	grep -q 'default /run/cltrack/cltrackd.sock' "$TMP/help"
check "nfsdcltrack defaults: config /etc/cltrack/cltrack.conf" \
	grep -q 'default /etc/cltrack/cltrack.conf' "$TMP/help"
# Where it really connects, if no cltrackd or config is on this host
# (otherwise this would send an upcall to it).
if [ ! -e /run/cltrack/cltrackd.sock ] && [ ! -e /etc/cltrack/cltrack.conf ]; then
	env -i "$D$LIBEXECDIR/cltrack/nfsdcltrack" -f -d check 00 \
		>"$TMP/umh" 2>&1
	check "nfsdcltrack connects to /run/cltrack/cltrackd.sock" \
		grep -q 'via /run/cltrack/cltrackd.sock$' "$TMP/umh"
fi
for prog in "$SBINDIR/cltrackd" "$BINDIR/cltrack" \
	    "$LIBEXECDIR/cltrack/nfsdcltrack"; do
	LD_LIBRARY_PATH=$D$LIBDIR ldd "$D$prog" >"$TMP/ldd" 2>&1
	if grep -q 'not found' "$TMP/ldd"; then
		fail "ldd $prog: $(grep 'not found' "$TMP/ldd" | tr -s ' \t' ' ')"
	elif grep -q libcltrack "$TMP/ldd"; then
		check "ldd $prog: libcltrack from DESTDIR" \
			grep -q "libcltrack.so.* => $D$LIBDIR/" "$TMP/ldd"
	else
		pass "ldd $prog: resolves (libcltrack linked in, not the .so)"
	fi
	check "$prog has no RPATH/RUNPATH into the build tree" \
		sh -c "! objdump -p '$D$prog' | grep -q 'R.*PATH'"
done

# --- libcltrack through pkg-config -----------------------------------------
export PKG_CONFIG_PATH=$D$LIBDIR/pkgconfig PKG_CONFIG_SYSROOT_DIR=$D
check "cltrack.pc Version $(pkg-config --modversion cltrack 2>&1) is the vnum in wscript" \
	grep -q "^LIBCLTRACK_VNUM = '$(pkg-config --modversion cltrack)'" "$SRC/wscript"
flags=$(pkg-config --cflags --libs cltrack 2>&1)
check "pkg-config --cflags --libs cltrack: $flags" \
	sh -c "echo '$flags' | grep -q -- '-lcltrack' && echo '$flags' | grep -q -- '-ltalloc'"
cat >"$TMP/t.c" <<'EOF'
#include <stdio.h>
#include <talloc.h>
#include <cltrack/client.h>
#include <cltrack/proto.h>

int main(int argc, char *argv[])
{
	TALLOC_CTX *mem_ctx = talloc_new(NULL);
	struct cltrack_client *c = NULL;
	int ret = cltrack_connect(mem_ctx, argv[1], 1000, &c);

	printf("cltrack_connect: %s\n", cltrack_strerror(ret));
	talloc_free(mem_ctx);
	return ret != 0 ? 0 : 1;
}
EOF
# -Wl,--as-needed,--no-undefined as Debian's toolchain defaults are strict
# about libraries named only indirectly
if cc -Wall -Werror -o "$TMP/t" "$TMP/t.c" $flags -Wl,--as-needed \
	>"$TMP/cc.log" 2>&1; then
	pass "a program compiles and links against the installed libcltrack"
	LD_LIBRARY_PATH=$D$LIBDIR "$TMP/t" "$TMP/no-such.sock" >"$TMP/t.out" 2>&1
	check "it runs with the installed libcltrack ($(cat "$TMP/t.out"))" \
		test $? -eq 0
	LD_LIBRARY_PATH=$D$LIBDIR ldd "$TMP/t" >"$TMP/ldd" 2>&1
	check "it loads $LIBDIR/${soname:-libcltrack.so.N} from DESTDIR" \
		grep -q "${soname:-libcltrack.so} => $D$LIBDIR/" "$TMP/ldd"
else
	fail "a program compiles and links against the installed libcltrack"
	sed 's/^/    | /' "$TMP/cc.log"
fi
unset PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR

# --- man pages ---------------------------------------------------------------
for page in $man_pages; do
	path=$D$MANDIR/$page
	[ -f "$path" ] || continue
	MANWIDTH=80 man -l "$path" >"$TMP/man.out" 2>"$TMP/man.err" </dev/null
	rc=$?
	check "man -l $page renders" test $rc -eq 0 -a -s "$TMP/man.out"
	MANWIDTH=80 man --warnings -l "$path" 2>&1 >/dev/null </dev/null |
		grep . >"$TMP/man.warn"
	if [ -s "$TMP/man.warn" ]; then
		echo "NOTE: groff warnings in $page:"
		sed 's/^/    | /' "$TMP/man.warn" | head -10
	fi
done

# --- systemd unit --------------------------------------------------------------
unit=$D$SYSTEMDSYSTEMUNITDIR/cltrackd.service
if [ -f "$unit" ]; then
	check "unit ExecStart is $SBINDIR/cltrackd" \
		grep -qx "ExecStart=$SBINDIR/cltrackd" "$unit"
	for line in DefaultDependencies=no \
		    'Conflicts=umount.target nfsdcld.service' \
		    'Requires=rpc_pipefs.target proc-fs-nfsd.mount' \
		    'After=rpc_pipefs.target proc-fs-nfsd.mount systemd-remount-fs.service' \
		    'Before=nfs-server.service umount.target' \
		    Type=forking WantedBy=nfs-server.service; do
		check "unit has $line" grep -qx "$line" "$unit"
	done
	if command -v systemd-analyze >/dev/null; then
		# The installed binary, since /usr/sbin/cltrackd may not exist
		mkdir -p "$TMP/unit"
		sed "s|^ExecStart=|ExecStart=$D|" "$unit" >"$TMP/unit/cltrackd.service"
		systemd-analyze --no-pager verify --man=no \
			"$TMP/unit/cltrackd.service" >"$TMP/verify" 2>&1
		rc=$?
		check "systemd-analyze verify: clean" \
			test $rc -eq 0 -a ! -s "$TMP/verify"
		sed 's/^/    | /' "$TMP/verify" | head -20
	else
		echo "NOTE: no systemd-analyze, the unit was not verified"
	fi
fi

# --- CTDB finds the event script ---------------------------------------------
script=$D$CTDB_DATADIR/events/legacy/59.cltrack.script
if ! command -v ctdb >/dev/null; then
	echo "NOTE: ctdb is not installed: checked the file placement only"
elif [ -f "$script" ]; then
	# In test mode ctdb's etcdir is $CTDB_BASE and its datadir
	# $CTDB_BASE/share: point that at the installed /usr/share/ctdb.
	# "event script list/enable" work on the directories, no daemon.
	base=$TMP/ctdb
	mkdir -p "$base/events/legacy"
	ln -s "$D$CTDB_DATADIR" "$base/share"
	ctdb_t() { CTDB_BASE=$base CTDB_TEST_MODE=yes timeout 10 ctdb "$@"; }
	ctdb_t event script list legacy >"$TMP/list" 2>&1
	check "ctdb event script list legacy shows 59.cltrack, disabled" \
		grep -qx '  59.cltrack' "$TMP/list"
	ctdb_t event script enable legacy 59.cltrack >"$TMP/enable" 2>&1
	check "ctdb event script enable legacy 59.cltrack exits 0" test $? -eq 0
	link=$base/events/legacy/59.cltrack.script
	check "it links events/legacy/59.cltrack.script to the installed script" \
		test -L "$link" -a "$(readlink -f "$link")" = "$(readlink -f "$script")"
	ctdb_t event script list legacy >"$TMP/list" 2>&1
	check "ctdb event script list legacy shows 59.cltrack enabled" \
		grep -qx '\* 59.cltrack' "$TMP/list"
	ctdb_t event script disable legacy 59.cltrack >/dev/null 2>&1
	check "ctdb event script disable legacy 59.cltrack removes the link" \
		test ! -e "$link" -a ! -L "$link"
fi

# --- reinstall keeps an admin's cltrack.conf; uninstall too -------------------
conf=$D$SYSCONFDIR/cltrack/cltrack.conf
if [ -f "$conf" ]; then
	printf '[cltrackd]\n\tdebug level = INFO\n' >"$conf"
	cp "$conf" "$TMP/conf.admin"
	(cd "$SRC" && "$WAF" install --destdir="$D") >"$TMP/install2.log" 2>&1
	check "second waf install exits 0" test $? -eq 0
	check "it keeps the edited cltrack.conf" cmp -s "$conf" "$TMP/conf.admin"
	check "it installs cltrack.conf.example next to it" \
		cmp -s "$conf.example" "$SRC/docs/cltrack.conf.example"
	(cd "$SRC" && "$WAF" uninstall --destdir="$D") >"$TMP/uninstall.log" 2>&1
	check "waf uninstall exits 0" test $? -eq 0
	check "uninstall keeps the edited cltrack.conf" \
		cmp -s "$conf" "$TMP/conf.admin"
	check "uninstall removes $SBINDIR/cltrackd" test ! -e "$D$SBINDIR/cltrackd"
	check "uninstall removes cltrack.conf.example" test ! -e "$conf.example"
fi

finish
