#!/bin/bash
# cltrackd against the real Linux kernel: Debian's kernel boots in QEMU
# (TCG, no KVM, no network device) and its nfsd uses cltrackd over
# rpc_pipefs while its own NFS client mounts the export over loopback.
# The scenario is selftest/kernel/guest-init.sh; the measured facts it
# relies on are in shared/spec/kernel-vm.md.
#
# Prints the serial console (the guest's PASS/FAIL lines and logs), then
# a recap and, last, "N passed, N failed".  Skips (0 passed, 0 failed)
# only when qemu-system-x86_64 cannot run at all.
#
# Nothing downloaded is committed: the kernel package that
# linux-image-amd64 points to is fetched with "apt-get download" into
# a git-ignored cache and only partly unpacked there.
#
# Environment:
#   CLTRACK_KERNEL_CACHE     cache folder (default
#                            buildtools/third_party/kernel-vm)
#   CLTRACK_KERNEL_TIMEOUT   seconds before qemu is killed (default 240)
#   CLTRACK_KERNEL_GRACE     grace time of the early-end runs (default 20)
#   CLTRACK_KERNEL_GRACE2    grace time of the purge run (default 10)
#   CLTRACK_KERNEL_KEEP=1    keep the work folder (initramfs, console log)
#   CLTRACK_KERNEL_QEMU      the qemu program (default qemu-system-x86_64)

set -u

SRC=${CLTRACK_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${CLTRACK_BUILDDIR:-$SRC/build}
CACHE=${CLTRACK_KERNEL_CACHE:-$SRC/buildtools/third_party/kernel-vm}
QEMU_TIMEOUT=${CLTRACK_KERNEL_TIMEOUT:-240}
GRACE=${CLTRACK_KERNEL_GRACE:-20}
GRACE2=${CLTRACK_KERNEL_GRACE2:-10}
HERE=$SRC/selftest/kernel

# Modules the scenario needs; their dependencies are found with modinfo.
ROOT_MODULES="nfsd nfsv4"
# Programs copied into the guest, with the libraries ldd names.
GUEST_PROGRAMS="/usr/sbin/rpc.nfsd /usr/sbin/exportfs /usr/sbin/rpc.mountd
/sbin/mount.nfs /usr/bin/flock"

WORK=""
DL=""
T_BEGIN=$(date +%s.%N)

cleanup()
{
	if [ -n "$DL" ]; then
		rm -rf "$DL" "$DL.log"
	fi
	if [ -n "$WORK" ] && [ -d "$WORK" ]; then
		if [ "${CLTRACK_KERNEL_KEEP:-0}" = 1 ]; then
			echo "kept $WORK"
		else
			rm -rf "$WORK"
		fi
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

msg()
{
	echo "test_kernel: $*"
}

elapsed()
{
	awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'
}

skip()
{
	echo "SKIP: $*"
	echo "0 passed, 0 failed"
	exit 0
}

# A failure before the guest ran: one failed check.
die()
{
	echo "FAIL host: $*"
	echo "0 passed, 1 failed"
	exit 1
}

# --- can qemu run at all? ---------------------------------------------------

QEMU=$(command -v "${CLTRACK_KERNEL_QEMU:-qemu-system-x86_64}") ||
	skip "qemu-system-x86_64 is not installed (apt-get install qemu-system-x86; buildtools/bootstrap.sh does)"
"$QEMU" -version >/dev/null 2>&1 ||
	skip "qemu-system-x86_64 does not run: $("$QEMU" -version 2>&1 | head -n 1)"

for tool in busybox dpkg-deb apt-get apt-cache modinfo gzip; do
	command -v "$tool" >/dev/null 2>&1 ||
		die "$tool not found (buildtools/bootstrap.sh installs busybox-static and kmod)"
done
busybox cpio --help >/dev/null 2>&1 || die "busybox has no cpio applet"
BUSYBOX=$(command -v busybox)
file_out=$(LC_ALL=C ldd "$BUSYBOX" 2>&1)
case "$file_out" in
*"not a dynamic executable"*) ;;
*) die "$BUSYBOX is not static (apt-get install busybox-static)" ;;
esac
for p in $GUEST_PROGRAMS; do
	[ -x "$p" ] || die "$p missing (nfs-kernel-server, nfs-common, util-linux)"
done
for p in helper/cltrackd helper/cltrack; do
	[ -x "$BUILD/$p" ] || die "$BUILD/$p not built (run make)"
done

# --- the kernel: the package linux-image-amd64 points to ------------------

# apt runs downloads as _apt when it can; give it a folder it may write.
apt_download()
{
	dir=$1
	pkg=$2
	chmod 755 "$dir"
	if id _apt >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
		chown _apt "$dir"
	fi
	(cd "$dir" && apt-get -q download "$pkg" </dev/null)
}

kernel_package()
{
	apt-cache depends linux-image-amd64 2>/dev/null |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }'
}

fetch_kernel()
{
	KPKG=$(kernel_package)
	if [ -z "$KPKG" ] && [ "$(id -u)" -eq 0 ]; then
		msg "apt-cache knows no linux-image-amd64; running apt-get update"
		apt-get -q update </dev/null >/dev/null 2>&1
		KPKG=$(kernel_package)
	fi
	if [ -z "$KPKG" ]; then
		# Offline: use what the cache holds.
		KPKG=$(ls "$CACHE" 2>/dev/null | grep '^linux-image-[0-9]' |
			sort -V | tail -n 1)
		[ -n "$KPKG" ] ||
			die "cannot tell which kernel linux-image-amd64 points to, and the cache is empty"
		msg "apt-cache unavailable, using cached $KPKG"
	fi
	KVER=${KPKG#linux-image-}
	KDIR=$CACHE/$KPKG
	if [ -f "$KDIR/.complete" ]; then
		return 0
	fi

	mkdir -p "$CACHE"
	dl=$(mktemp -d "$CACHE/.download.XXXXXX") ||
		die "cannot create a folder in $CACHE"
	DL=$dl
	msg "downloading $KPKG"
	if ! apt_download "$dl" "$KPKG" >"$dl.log" 2>&1; then
		if [ "$(id -u)" -eq 0 ]; then
			apt-get -q update </dev/null >/dev/null 2>&1
			apt_download "$dl" "$KPKG" >"$dl.log" 2>&1
		fi
	fi
	deb=$(ls "$dl"/*.deb 2>/dev/null | head -n 1)
	if [ -z "$deb" ]; then
		cat "$dl.log"
		rm -rf "$dl" "$dl.log"
		die "apt-get download $KPKG failed"
	fi
	# Only the kernel image and the module folders we may need:
	# 400 MB unpacked otherwise.
	stage=$dl/tree
	mkdir -p "$stage"
	if ! dpkg-deb --fsys-tarfile "$deb" |
		tar -x -C "$stage" --wildcards \
			"./boot/vmlinuz-$KVER" \
			"./lib/modules/$KVER/modules.*" \
			"./lib/modules/$KVER/kernel/fs/*" \
			"./lib/modules/$KVER/kernel/net/*" \
			"./lib/modules/$KVER/kernel/lib/*" \
			"./lib/modules/$KVER/kernel/crypto/*"; then
		rm -rf "$dl" "$dl.log"
		die "cannot unpack $deb"
	fi
	rm -rf "$KDIR"
	mv "$stage" "$KDIR"
	basename "$deb" >"$KDIR/.deb"
	touch "$KDIR/.complete"
	rm -rf "$dl" "$dl.log"
	DL=""
}

# Module names in load order (dependencies first), as paths relative to
# lib/modules/<ver>.
module_order()
{
	moddir=$KDIR/lib/modules/$KVER
	declare -A seen=()
	visit()
	{
		local name=$1 path dep
		name=${name//-/_}
		[ -n "${seen[$name]:-}" ] && return 0
		seen[$name]=1
		path=$(cd "$moddir" && find kernel -name "$name.ko" -o \
			-name "${name//_/-}.ko" | head -n 1)
		if [ -z "$path" ]; then
			if grep -qE "/(${name}|${name//_/-})\.ko$" \
				"$moddir/modules.builtin" 2>/dev/null; then
				return 0
			fi
			echo "module $name not found" >&2
			return 1
		fi
		for dep in $(modinfo -F depends "$moddir/$path" | tr ',' ' '); do
			visit "$dep" || return 1
		done
		echo "$path"
	}
	for m in $ROOT_MODULES; do
		visit "$m" || return 1
	done
}

# --- the initramfs -----------------------------------------------------------

copy_with_libs()
{
	root=$1
	bin=$2
	dest=$3
	mkdir -p "$root$(dirname "$dest")"
	cp -L "$bin" "$root$dest" || return 1
	for lib in $(ldd "$bin" | awk '/=> \// { print $3 } /^\t\// { print $1 }'); do
		[ -e "$root$lib" ] && continue
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib" || return 1
	done
}

build_initramfs()
{
	root=$WORK/root
	mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,run,var/lib/nfs,lib/modules}
	cp "$BUSYBOX" "$root/bin/busybox"
	cp "$HERE/guest-init.sh" "$root/init"
	chmod 755 "$root/init"

	for p in $GUEST_PROGRAMS; do
		copy_with_libs "$root" "$p" "$p" || return 1
	done
	ln -s mount.nfs "$root/sbin/mount.nfs4"
	copy_with_libs "$root" "$BUILD/helper/cltrackd" /usr/sbin/cltrackd ||
		return 1
	copy_with_libs "$root" "$BUILD/helper/cltrack" /usr/bin/cltrack ||
		return 1
	# getpwnam() and friends, libtirpc's transports
	for f in /lib/x86_64-linux-gnu/libnss_files.so.2 /etc/netconfig; do
		if [ -e "$f" ]; then
			mkdir -p "$root$(dirname "$f")"
			cp -L "$f" "$root$f"
		fi
	done
	printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
	printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
	printf '127.0.0.1 localhost cltrack-vm\n' >"$root/etc/hosts"
	printf 'passwd: files\ngroup: files\nhosts: files\n' >"$root/etc/nsswitch.conf"
	: >"$root/etc/fstab"

	moddir=$KDIR/lib/modules/$KVER
	order=$(module_order) || return 1
	for m in $order; do
		mkdir -p "$root/lib/modules/$KVER/$(dirname "$m")"
		cp "$moddir/$m" "$root/lib/modules/$KVER/$m"
	done
	echo "$order" >"$root/etc/cltrack-modules"
	MODULE_COUNT=$(echo "$order" | wc -l)

	(cd "$root" && find . | busybox cpio -o -H newc 2>/dev/null) |
		gzip -1 >"$WORK/initrd.gz"
}

# --- run ---------------------------------------------------------------------------

t0=$(date +%s.%N)
fetch_kernel
T_FETCH=$(elapsed "$t0")
VMLINUZ=$KDIR/boot/vmlinuz-$KVER
[ -f "$VMLINUZ" ] || die "no $VMLINUZ in the cache"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/cltrack-kernel.XXXXXX") ||
	die "mktemp failed"
t0=$(date +%s.%N)
build_initramfs || die "building the initramfs failed"
T_INITRD=$(elapsed "$t0")
msg "kernel $KPKG ($(cat "$KDIR/.deb")), fetched/checked in ${T_FETCH}s"
msg "initramfs: $MODULE_COUNT modules, $(du -k "$WORK/initrd.gz" | cut -f1) KiB, built in ${T_INITRD}s"

msg "booting (TCG, no KVM, -nic none, timeout ${QEMU_TIMEOUT}s)"
CONSOLE=$WORK/console.log
t0=$(date +%s.%N)
timeout -k 10 "$QEMU_TIMEOUT" "$QEMU" -accel tcg -m 1024 -smp 2 \
	-nographic -nic none -no-reboot \
	-kernel "$VMLINUZ" -initrd "$WORK/initrd.gz" \
	-append "console=ttyS0 quiet panic=-1 cltrack_grace=$GRACE cltrack_grace2=$GRACE2 cltrack_watchdog=$((QEMU_TIMEOUT - 20))" \
	</dev/null 2>&1 | tr -d '\r' | tee "$CONSOLE"
rc=${PIPESTATUS[0]}
T_QEMU=$(elapsed "$t0")

# --- results -----------------------------------------------------------------------

passed=$(grep -c '^PASS ' "$CONSOLE")
failed=$(grep -c '^FAIL ' "$CONSOLE")
echo
echo "===== recap ====="
grep -E '^(PASS|FAIL) ' "$CONSOLE"
if ! grep -q '^KTEST-SUMMARY ' "$CONSOLE"; then
	if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
		echo "FAIL host: qemu killed after ${QEMU_TIMEOUT}s"
	else
		echo "FAIL host: the guest did not finish its scenario (qemu exit $rc)"
	fi
	failed=$((failed + 1))
elif [ "$rc" -ne 0 ]; then
	echo "FAIL host: qemu exited $rc"
	failed=$((failed + 1))
else
	# Every check the guest made must have reached the console whole.
	guest=$(sed -n 's/.*KTEST-SUMMARY \([0-9]*\) passed, \([0-9]*\) failed.*/\1 \2/p' "$CONSOLE" | tail -n 1)
	if [ "$guest" != "$passed $failed" ]; then
		echo "FAIL host: the guest counted $guest (passed failed), the console shows $passed $failed"
		failed=$((failed + 1))
	fi
fi
t_init=$(sed -n 's/.*ktest: \/init started at \([0-9.]*\) s uptime.*/\1/p' "$CONSOLE")
t_end=$(sed -n 's/.*ktest: guest finished at \([0-9.]*\) s uptime.*/\1/p' "$CONSOLE")
# Step durations from the guest's "ktest: [uptime] step N: ..." lines.
awk '
	/ktest: \[[0-9.]+\] (step |scenario done)/ {
		t = $2; gsub(/[][]/, "", t)
		if (name != "") {
			printf "time: %-50s %5.1f s\n", name, t - start
		}
		name = $0; sub(/.*\] /, "", name); start = t
	}' "$CONSOLE"
echo "times: fetch ${T_FETCH}s, initramfs ${T_INITRD}s, qemu ${T_QEMU}s" \
	"(guest kernel to /init ${t_init:-?}s, scenario done at ${t_end:-?}s uptime)," \
	"whole test $(elapsed "$T_BEGIN")s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
