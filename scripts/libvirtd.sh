#!/bin/sh
# Start or stop the libvirt daemons dirtyscope's libvirt tests talk to,
# without systemd.
#
# usage: scripts/libvirtd.sh start|stop|status
#
# start  If a libvirtd already answers at qemu:///system, it is left alone and
#        used as it is ("already running, not ours").  Otherwise, as root:
#        virtlogd, then libvirtd, each daemonised, with the configuration
#        below, and waits until libvirtd answers.  Records that it started
#        them, so that stop knows.
# stop   Stops the daemons start started, and nothing else: a libvirtd that
#        was already running stays.  Domains still running are destroyed
#        first, but only when the daemons are ours.
# status Says whether libvirtd answers and whether it is ours.
#
# The configuration: QEMU runs as root with no security driver, because
# /dev/kvm is root-only on these machines and there is no SELinux or
# AppArmor profile to load; without cgroup controllers, which a
# container does not delegate; and without a private /dev per domain
# (namespaces), which adds nothing to a root QEMU with no security driver
# and which, on a host whose /dev is a devtmpfs bound into a chroot (the
# emulated KVM host, scripts/kvmhost.sh), left QEMU unable to open a pty
# for the serial console.  The files are written into a directory of
# our own, which a private mount namespace binds over /etc/libvirt for the
# two daemons alone: the host's /etc/libvirt is never edited, and a libvirtd
# started by systemd later reads its own files as before.
#
# Exit status: 0 done, 1 a daemon failed to start or stop, 2 usage, 3 not
# root (and no libvirtd running).
set -u
STATE=${DS_LIBVIRT_STATE:-/run/dirtyscope-libvirt}
URI=qemu:///system
SOCK=/run/libvirt/libvirt-sock
LOGSOCK=/run/libvirt/virtlogd-sock

answers() {
	[ -S "$SOCK" ] && virsh -q -c "$URI" version >/dev/null 2>&1
}

# live NAME: a process of that name runs.  A zombie does not count: a
# daemon stopped a moment ago stays one until init reaps it, and that
# can take seconds (a virtlogd seen so was then never started again).
live() {
	for p in $(pgrep -x "$1"); do
		case "$(ps -o stat= -p "$p" 2>/dev/null)" in
		Z* | "") ;;
		*) return 0 ;;
		esac
	done
	return 1
}

ours() {
	[ -f "$STATE/ours" ]
}

# Wait up to $2 tenths of a second for pid file $1's process to end (a
# daemon removes its own pid file as it exits: a file gone means it ended).
wait_gone() {
	pid=$(cat "$1" 2>/dev/null) || return 0
	n=0
	while kill -0 "$pid" 2>/dev/null && [ $n -lt "$2" ]; do
		sleep 0.1
		n=$((n + 1))
	done
	! kill -0 "$pid" 2>/dev/null
}

# wait_until WHAT CMD...: CMD every 0.1 s until it succeeds, 20 s at most;
# then one line saying WHAT, within 20 s, and status 1.
wait_until() {
	what=$1
	shift
	n=0
	while ! "$@"; do
		if [ $n -ge 200 ]; then
			echo "libvirtd.sh: $what within 20 s" >&2
			return 1
		fi
		sleep 0.1
		n=$((n + 1))
	done
}

write_config() {
	mkdir -p "$STATE/etc/qemu" || return 1
	cat >"$STATE/etc/qemu.conf" <<'EOF'
# Written by dirtyscope's scripts/libvirtd.sh (see there for why).
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
cgroup_controllers = [ ]
namespaces = [ ]
EOF
	cat >"$STATE/etc/libvirtd.conf" <<'EOF'
# Written by dirtyscope's scripts/libvirtd.sh: the defaults, unix socket only.
EOF
	: >"$STATE/etc/virtlogd.conf"
}

# Run "$@" daemonised in a mount namespace of its own in which our
# configuration directory is /etc/libvirt.
in_ns() {
	unshare --mount --propagation private sh -c \
		'mount --bind "$0/etc" /etc/libvirt && exec "$@"' "$STATE" "$@"
}

start() {
	if answers; then
		if ours; then
			echo "libvirtd.sh: libvirtd is running (started by this script)"
		else
			echo "libvirtd.sh: libvirtd already running, not ours: left alone"
		fi
		return 0
	fi
	if [ "$(id -u)" != 0 ]; then
		echo "libvirtd.sh: no libvirtd at $URI, and starting one needs root" >&2
		return 3
	fi
	for prog in libvirtd virtlogd virsh unshare; do
		command -v $prog >/dev/null 2>&1 || {
			echo "libvirtd.sh: $prog not found (scripts/deps.sh installs it)" >&2
			return 1
		}
	done
	# A stale record from a daemon that died (or a machine that rebooted
	# with /run kept) must not make stop kill an unrelated pid later.
	rm -rf "$STATE"
	write_config || {
		echo "libvirtd.sh: cannot write $STATE" >&2
		return 1
	}
	: >"$STATE/ours"
	if ! live virtlogd; then
		in_ns virtlogd -d -p "$STATE/virtlogd.pid" || {
			echo "libvirtd.sh: virtlogd did not start" >&2
			return 1
		}
	fi
	# virtlogd -d returns before its socket exists, and libvirtd answers
	# sooner than that: a domain started in between failed with "Failed
	# to connect socket to '/run/libvirt/virtlogd-sock'" (1 run in 3).
	wait_until "virtlogd started but made no $LOGSOCK" test -S "$LOGSOCK" || return 1
	in_ns libvirtd -d -p "$STATE/libvirtd.pid" || {
		echo "libvirtd.sh: libvirtd did not start" >&2
		return 1
	}
	wait_until "libvirtd started but does not answer at $URI" answers || return 1
	echo "libvirtd.sh: started virtlogd and libvirtd ($URI)"
}

stop() {
	if ! ours; then
		if answers; then
			echo "libvirtd.sh: libvirtd was not started by this script: left alone"
		else
			echo "libvirtd.sh: nothing to stop"
		fi
		return 0
	fi
	# Transient domains die with a destroy; a QEMU outliving its libvirtd
	# would hold guest RAM and /dev/kvm until someone noticed.
	if answers; then
		for d in $(virsh -q -c "$URI" list --name 2>/dev/null); do
			virsh -q -c "$URI" destroy "$d" >/dev/null 2>&1
		done
	fi
	rc=0
	for d in libvirtd virtlogd; do
		f="$STATE/$d.pid"
		[ -f "$f" ] || continue
		kill "$(cat "$f" 2>/dev/null)" 2>/dev/null
		if ! wait_gone "$f" 100; then
			echo "libvirtd.sh: $d (pid $(cat "$f")) did not stop in 10 s" >&2
			rc=1
		fi
	done
	[ $rc -eq 0 ] && rm -rf "$STATE" && echo "libvirtd.sh: stopped libvirtd and virtlogd"
	return $rc
}

case "${1:-}" in
start) start ;;
stop) stop ;;
status)
	if answers; then
		ours && echo "libvirtd answers at $URI (started by this script)" ||
			echo "libvirtd answers at $URI (not ours)"
	else
		echo "no libvirtd at $URI"
		exit 1
	fi
	;;
*)
	echo "usage: scripts/libvirtd.sh start|stop|status" >&2
	exit 2
	;;
esac
