#!/bin/sh
# An emulated KVM host, for machines that have no /dev/kvm.
#
# usage: scripts/kvmhost.sh [--mem SIZE] [--cpus N] [--timeout SECONDS] [--] COMMAND [ARG...]
#
# QEMU's software emulator (TCG) plays an AMD CPU with SVM and nested
# paging.  A stock Debian kernel boots on it and loads kvm_amd, so the
# emulated machine has a real /dev/kvm: Linux's KVM with NPT, dirty
# logging by write-protecting the nested page tables, bitmap, manual clear
# and dirty ring.  This machine's root filesystem is shared with it over
# virtio-9p (read-write) and COMMAND runs there under chroot, in the current
# directory, with the current environment, as root.  /tmp, /run and
# libvirt's state directories are the emulated machine's own tmpfs (unix
# sockets do not work over 9p, and a daemon on this machine must not see
# the emulated one's files).  COMMAND's output is the emulated machine's
# console, copied to our stdout; our exit status is COMMAND's.
#
# What this is for: running the KVM suites, and dirtyscope itself, where
# the machine has no KVM device.  What it is not: a measurement of any real
# platform.  Guest code runs at the emulator's speed, and the dirty log is
# NPT's (an entry per page made writable, not per store), so figures taken
# here describe QEMU's emulation of an AMD CPU, and say so.
#
# Exit status: COMMAND's; 125 when the emulated machine could not be
# prepared (a missing kernel, busybox or QEMU: scripts/deps.sh installs
# them) or did not report COMMAND's status (a timeout, a panic).
set -e
mem=8G
# One emulated CPU by default: with two, the emulated kernel stalled in
# about one start of three (an RCU stall: one CPU, running the nested
# guest, never answered the other's IPI), and one CPU is as fast for the
# suites, whose guests have one vCPU.
cpus=1
limit=3600
while [ $# -gt 0 ]; do
	case "$1" in
	--mem) mem=$2; shift 2 ;;
	--cpus) cpus=$2; shift 2 ;;
	--timeout) limit=$2; shift 2 ;;
	--) shift; break ;;
	-*) echo "kvmhost.sh: unknown option $1" >&2; exit 125 ;;
	*) break ;;
	esac
done
if [ $# -eq 0 ]; then
	echo "usage: scripts/kvmhost.sh [--mem SIZE] [--cpus N] [--timeout SECONDS] [--] COMMAND [ARG...]" >&2
	exit 125
fi
root=$(cd "$(dirname "$0")/.." && pwd)

die() {
	echo "kvmhost.sh: $*" >&2
	exit 125
}

# The newest installed kernel that has kvm_amd among its modules.
kernel=""
for k in $(ls -v /boot/vmlinuz-* 2>/dev/null); do
	v=${k#/boot/vmlinuz-}
	[ -n "$(find "/lib/modules/$v" -name 'kvm-amd.ko*' 2>/dev/null)" ] && kernel=$k kver=$v
done
[ -n "$kernel" ] || die "no kernel with kvm_amd in /boot and /lib/modules (scripts/deps.sh installs linux-image-amd64)"
[ -r "$kernel" ] || die "$kernel is not readable"
busybox=$(command -v busybox || true)
# Static: it runs before the shared root is mounted.
[ -n "$busybox" ] && ! ldd "$busybox" >/dev/null 2>&1 ||
	die "no statically linked busybox (scripts/deps.sh installs busybox-static)"
command -v qemu-system-x86_64 >/dev/null || die "no qemu-system-x86_64 (scripts/deps.sh installs qemu-system-x86)"

# The initramfs: busybox, the modules for 9p and KVM in load order, and the
# init below.  Built once per kernel and kept beside the builds.
cache="$root/build/kvmhost"
initrd="$cache/initrd-$kver.gz"
if ! [ -s "$initrd" ] || [ "$initrd" -ot "$0" ]; then
	mkdir -p "$cache"
	tree=$(mktemp -d "$cache/tree.XXXXXX")
	mkdir -p "$tree/bin" "$tree/mods" "$tree/proc" "$tree/sys" "$tree/dev" "$tree/host"
	cp "$busybox" "$tree/bin/busybox"
	for m in virtio_pci 9pnet_virtio 9p kvm_amd; do
		modprobe -S "$kver" --show-depends "$m" || die "modprobe cannot resolve $m for $kver"
	done | awk '$1 == "insmod" && !seen[$2]++ { print $2 }' >"$tree/order"
	while read -r f; do
		b=$(basename "$f")
		n=${b%.xz}
		n=${n%.zst}
		case "$b" in
		*.xz) xz -dc "$f" >"$tree/mods/$n" ;;
		*.zst) zstd -qdc "$f" >"$tree/mods/$n" ;;
		*) cp "$f" "$tree/mods/$n" ;;
		esac
		echo "/mods/$n" >>"$tree/load"
	done <"$tree/order"
	cat >"$tree/init" <<'EOF'
#!/bin/busybox sh
# The emulated KVM host's init (written by scripts/kvmhost.sh).
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
while read -r m; do insmod "$m" || echo "kvmhost: insmod $m failed"; done </load
# Loopback: tests listen and connect on localhost.
ip link set lo up
dir=$(sed -n 's/.*kvmhost=\([^ ]*\).*/\1/p' /proc/cmdline)
if ! [ -c /dev/kvm ]; then
	echo "kvmhost: kvm_amd gave no /dev/kvm"
elif ! mount -t 9p -o trans=virtio,version=9p2000.L,msize=524288,cache=loose host /host; then
	echo "kvmhost: cannot mount this machine's root over 9p"
else
	# devpts under /dev before /dev is shared, so that /dev/ptmx finds it
	mkdir -p /dev/pts
	mount -t devpts -o ptmxmode=0666 devpts /dev/pts
	mount --rbind /dev /host/dev
	for d in proc sys; do mount --bind /$d /host/$d; done
	mount -t tmpfs tmp /host/tmp
	mount -t tmpfs run /host/run
	# What a booted system's tmpfiles make in /run: /var/lock points
	# there, and libvirt locks a domain's console pty in it.
	mkdir -p /host/run/lock
	for d in /var/lib/libvirt /var/cache/libvirt /var/log/libvirt; do
		[ -d /host$d ] && mount -t tmpfs state /host$d
	done
	rm -f /host$dir/rc
	chroot /host /bin/sh "$dir/cmd" </dev/null
	echo $? >/host$dir/rc
	sync
fi
poweroff -f
EOF
	chmod +x "$tree/init"
	(cd "$tree" && find . | cpio -o -H newc 2>/dev/null | gzip -1) >"$initrd.tmp"
	mv "$initrd.tmp" "$initrd"
	rm -rf "$tree"
fi

# The command, as a script on the shared filesystem: our directory and
# environment, then COMMAND with each argument quoted.
run=$(mktemp -d "$cache/run.XXXXXX")
trap 'rm -rf "$run"' EXIT
quote() {
	printf "'%s' " "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"
}
{
	export -p | grep -Ev '^export (HOME|OLDPWD|PWD|SHLVL|TERM|_)='
	printf 'cd %s || exit 125\nexec ' "$(quote "$(pwd)")"
	for a in "$@"; do quote "$a"; done
	echo
} >"$run/cmd"

# KVMHOST_MONITOR=SOCKET: the emulator's monitor on that unix socket, to
# look inside a stalled emulated host (`info registers`); else none.
monitor=none
[ -n "${KVMHOST_MONITOR:-}" ] && monitor="unix:$KVMHOST_MONITOR,server,nowait"

# -cpu qemu64 with svm and npt: an AMD CPU whose every feature TCG can
# provide (a real model's name asks for features TCG lacks, and warns).
{
	rc=0
	timeout "$limit" qemu-system-x86_64 -accel tcg,thread=multi -smp "$cpus" \
	-cpu qemu64,+svm,+npt -m "$mem" -display none -serial stdio \
	-no-reboot -kernel "$kernel" -initrd "$initrd" \
	-append "console=ttyS0 quiet loglevel=3 panic=-1 tsc=reliable kvmhost=$run" \
	-virtfs "local,path=/,mount_tag=host,security_model=none,multidevs=remap" \
	-monitor "$monitor" \
	</dev/null || rc=$?
	echo "$rc" >"$run/qemu-rc"
} | sed -u '/^\x1b/d; /SeaBIOS/d; /iPXE/d; /Booting from/d; /^\r*$/d; /reboot: Power down/d'
if ! [ -s "$run/rc" ]; then
	[ "$(cat "$run/qemu-rc" 2>/dev/null)" = 124 ] && die "the emulated host ran out of time (${limit}s)"
	die "the emulated host stopped without COMMAND's status (see its console above)"
fi
exit "$(cat "$run/rc")"
