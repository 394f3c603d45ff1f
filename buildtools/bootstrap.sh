#!/bin/sh
# Install what building and testing cltrack needs on Debian bookworm:
#   1. the Debian packages in CLTRACK_DEB_PACKAGES, when any is missing;
#   2. waflib, unpacked from the xmds2 .deb into buildtools/third_party/waflib
#      (Debian has no waf package; see shared/spec/build.md).
#
# Idempotent: when everything is present it does no apt work and prints
# nothing.  Safe without a terminal or stdin (CI=true).

set -eu

# Add new build or test dependencies here, space separated.
# qemu-system-x86, busybox-static and kmod are for selftest/kernel (the
# kernel itself is fetched by that test, into a git-ignored cache).
CLTRACK_DEB_PACKAGES="libtalloc-dev libtevent-dev libtdb-dev libcmocka-dev \
ctdb tdb-tools libsqlite3-dev libjansson-dev libpopt-dev libiniparser-dev \
pkg-config python3 nfs-kernel-server sqlite3 gnuplot-nox spin clang \
valgrind iproute2 procps gcc make libc6-dev libclang-rt-14-dev \
qemu-system-x86 busybox-static kmod"

# The only Debian package that carries a usable waflib.  It is never
# installed (it pulls ~70 packages): only its .deb is unpacked.
WAF_DEB_PACKAGE="xmds2"
WAF_DEB_VERSION="3.1.0+dfsg2-3"
WAF_DEB_SHA256="7d98e8d058b0e6a214c9892489793c43cef983a3b967f566ffdf826498335b6b"
WAF_DEB_WAFLIB="usr/lib/python3/dist-packages/xpdeint/waf/waflib"
WAF_VERSION="2.0.15"

TOP=$(cd "$(dirname "$0")/.." && pwd)
WAFLIB_DIR="$TOP/buildtools/third_party/waflib"
POLICY_RC_D=/usr/sbin/policy-rc.d
# One lock for the whole machine: several work trees may bootstrap at once.
LOCK_FILE=/run/lock/cltrack-bootstrap.lock

export DEBIAN_FRONTEND=noninteractive
APT_OPTS="-q -o DPkg::Lock::Timeout=300 -o Dpkg::Options::=--force-confdef \
-o Dpkg::Options::=--force-confold"

SUDO=""
APT_UPDATED=no
CREATED_POLICY_RC_D=no
TMP_DIR=""

msg()
{
	echo "bootstrap: $*" >&2
}

die()
{
	echo "bootstrap: ERROR: $*" >&2
	exit 1
}

cleanup()
{
	if [ "$CREATED_POLICY_RC_D" = yes ]; then
		$SUDO rm -f "$POLICY_RC_D"
	fi
	if [ -n "$TMP_DIR" ]; then
		rm -rf "$TMP_DIR"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

missing_packages()
{
	for pkg in $CLTRACK_DEB_PACKAGES; do
		status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null) || true
		if [ "$status" != "install ok installed" ]; then
			printf '%s ' "$pkg"
		fi
	done
}

# Root runs apt itself; anyone else may use password-less sudo.
need_root()
{
	if [ "$(id -u)" -eq 0 ]; then
		return 0
	fi
	if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
		SUDO="sudo -n"
		return 0
	fi
	die "$1 needs root. Run as root:
    sh $TOP/buildtools/bootstrap.sh
or install by hand:
    apt-get update && apt-get install --no-install-recommends $2"
}

take_lock()
{
	lock_dir=$(dirname "$LOCK_FILE")
	if ! command -v flock >/dev/null 2>&1 || [ ! -w "$lock_dir" ]; then
		return 0
	fi
	exec 9>>"$LOCK_FILE"
	flock -w 900 9 || die "another bootstrap holds $LOCK_FILE for 15 min"
}

# A failed index (an unreachable third-party source) must not stop us:
# the install below tells whether what we need could be found.
apt_update_once()
{
	if [ "$APT_UPDATED" = yes ]; then
		return 0
	fi
	APT_UPDATED=yes
	msg "apt-get update"
	# shellcheck disable=SC2086
	if ! $SUDO apt-get $APT_OPTS update </dev/null >&2; then
		msg "warning: apt-get update reported errors, trying anyway"
	fi
}

# ctdb and nfs-kernel-server start services from their postinst; on a
# build machine or in a container they must not.
block_service_start()
{
	if [ -e "$POLICY_RC_D" ]; then
		return 0
	fi
	printf '#!/bin/sh\n# temporary, from cltrack bootstrap.sh\nexit 101\n' |
		$SUDO tee "$POLICY_RC_D" >/dev/null
	$SUDO chmod 755 "$POLICY_RC_D"
	CREATED_POLICY_RC_D=yes
}

install_packages()
{
	missing=$(missing_packages)
	if [ -z "$missing" ]; then
		return 0
	fi
	need_root "installing packages ($missing)" "$missing"
	take_lock
	# Another work tree may have installed them while we waited.
	missing=$(missing_packages)
	if [ -z "$missing" ]; then
		return 0
	fi
	msg "installing: $missing"
	apt_update_once
	block_service_start
	# shellcheck disable=SC2086
	if ! $SUDO apt-get $APT_OPTS install -y --no-install-recommends \
		$missing </dev/null >&2; then
		die "apt-get install failed for: $missing
Check that the Debian bookworm archive is reachable ('apt-get update'),
that no other apt/dpkg run is stuck ('dpkg --configure -a' repairs an
interrupted one), then run: sh $TOP/buildtools/bootstrap.sh"
	fi
	if [ "$CREATED_POLICY_RC_D" = yes ]; then
		$SUDO rm -f "$POLICY_RC_D"
		CREATED_POLICY_RC_D=no
	fi
	missing=$(missing_packages)
	if [ -n "$missing" ]; then
		die "still not installed after apt-get: $missing"
	fi
}

sha256_of()
{
	sha256sum "$1" | cut -d' ' -f1
}

download_waf_deb()
{
	deb_name="${WAF_DEB_PACKAGE}_${WAF_DEB_VERSION}_all.deb"
	deb_file="$TMP_DIR/$deb_name"
	cached="/var/cache/apt/archives/$deb_name"

	if [ -f "$cached" ] && [ "$(sha256_of "$cached")" = "$WAF_DEB_SHA256" ]; then
		cp "$cached" "$deb_file"
		return 0
	fi
	# apt drops to the _apt user for downloads when it can write here.
	chmod 755 "$TMP_DIR"
	if id _apt >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
		chown _apt "$TMP_DIR"
	fi
	if ! (cd "$TMP_DIR" &&
	      apt-get -q download "$WAF_DEB_PACKAGE=$WAF_DEB_VERSION" \
		</dev/null >&2); then
		# The package lists may be missing or stale.
		if [ "$(id -u)" -eq 0 ] || [ -n "$SUDO" ]; then
			apt_update_once
			(cd "$TMP_DIR" &&
			 apt-get -q download "$WAF_DEB_PACKAGE=$WAF_DEB_VERSION" \
				</dev/null >&2) || true
		fi
	fi
	if [ ! -f "$deb_file" ]; then
		die "could not download $WAF_DEB_PACKAGE=$WAF_DEB_VERSION, which carries waflib.
As root run 'apt-get update', check that the Debian bookworm archive is
reachable, then run: sh $TOP/buildtools/bootstrap.sh"
	fi
	if [ -d /var/cache/apt/archives ] && [ -w /var/cache/apt/archives ]; then
		cp "$deb_file" "$cached" 2>/dev/null || true
	fi
}

install_waflib()
{
	if [ -f "$WAFLIB_DIR/Context.py" ]; then
		return 0
	fi
	for tool in apt-get dpkg-deb sha256sum; do
		command -v "$tool" >/dev/null 2>&1 ||
			die "$tool not found: this bootstrap needs Debian (bookworm)"
	done
	msg "fetching waflib $WAF_VERSION from $WAF_DEB_PACKAGE $WAF_DEB_VERSION"
	TMP_DIR=$(mktemp -d "${TMPDIR:-/tmp}/cltrack-waf.XXXXXX")
	download_waf_deb

	sum=$(sha256_of "$deb_file")
	if [ "$sum" != "$WAF_DEB_SHA256" ]; then
		die "SHA256 mismatch for $deb_name:
    expected $WAF_DEB_SHA256
    got      $sum
Do not use this file. Tell the build maintainer; shared/spec/build.md
records the expected checksum."
	fi

	dpkg-deb -x "$deb_file" "$TMP_DIR/x" ||
		die "dpkg-deb -x failed on $deb_name"
	src="$TMP_DIR/x/$WAF_DEB_WAFLIB"
	if ! grep -q "^WAFVERSION=\"$WAF_VERSION\"" "$src/Context.py" 2>/dev/null; then
		die "$deb_name has no waflib $WAF_VERSION at $WAF_DEB_WAFLIB"
	fi

	# Copy beside the target, then rename: a concurrent or interrupted
	# run never leaves a half-copied waflib behind.
	mkdir -p "$(dirname "$WAFLIB_DIR")"
	stage=$(mktemp -d "$(dirname "$WAFLIB_DIR")/.waflib.XXXXXX")
	cp -R "$src/." "$stage/"
	chmod 755 "$stage"
	if [ -f "$WAFLIB_DIR/Context.py" ]; then
		rm -rf "$stage"
		return 0
	fi
	rm -rf "$WAFLIB_DIR"
	mv "$stage" "$WAFLIB_DIR"
	msg "waflib $WAF_VERSION installed in buildtools/third_party/waflib"
}

install_packages
install_waflib
