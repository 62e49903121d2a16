#!/bin/bash
# test_libvirt: `dirtyscope libvirt` against the real libvirtd and QEMU.
#
# usage: test_libvirt.sh DIRTYSCOPE_BIN
#
# libvirtd must answer at qemu:///system: CTest starts it first through
# scripts/libvirtd.sh (the libvirtd fixture) and stops it after, if it
# started it.  No libvirtd is a failure, not a skip: in CI these tests run.
#
# Where this machine has no /dev/kvm, libvirtd's QEMU has only its emulator
# (TCG), and the suite checks what holds there, natively (marked TCG below);
# where it has one (a KVM host, or scripts/kvmhost.sh's emulated one), it
# checks the rest (marked KVM), and the common checks on KVM domains.
# A /dev/kvm that exists but cannot be used skips (exit 77).
# What it checks:
#   - TCG: boot picks QEMU's emulator and says so; `dirtyrate` on that
#     domain measures page-sampling and reports dirty-bitmap (which would
#     crash QEMU 7.2 there) and dirty-ring as unsupported, and the domain
#     still runs after; boot --dirty-ring and boot --accel kvm exit 3
#     naming the missing KVM, accuracy exits 3 naming /dev/kvm, and none
#     leaves a domain;
#   - KVM: boot: a transient domain starts and keeps running; `dirtyrate` on it
#     measures page-sampling (which may rightly answer 0: a 1024-page set in
#     a 128 MiB guest holds about 2 of its 64 sampled pages) and dirty-bitmap
#     (MiB/s > 0), and reports
#     dirty-ring as unsupported; a second domain with --dirty-ring measures
#     dirty-ring and reports dirty-bitmap as unsupported; both go away with a
#     destroy;
#   - both: boot --follow --epochs 3: three epoch lines, exit 0, domain gone;
#   - KVM: accuracy --json -: a row per QEMU mode with the truth and QEMU's MiB/s,
#     the truth within 5% of dirtyscope's exact bitmap count, a chart;
#   - KVM: the replay's teeth: a replay with the wrong seed is noticed (exit
#     1); a domain whose console stays silent is started again;
#   - both, bad input: an unknown domain exits 2 naming it; an unreachable
#     libvirtd exits 3 naming the URI and the script; a calc time of 0 or 61
#     exits 2; SIGINT during `dirtyrate` exits 130;
#   - KVM: SIGINT during accuracy's calculation exits 130 and destroys the
#     domain dirtyscope started.
set -u
[ $# -eq 1 ] || {
	echo "usage: test_libvirt.sh DIRTYSCOPE_BIN" >&2
	exit 2
}
DS=$1
export LC_ALL=C
URI=qemu:///system
. "$(dirname "$0")/lib/ds_check.sh"

kvm=0
if [ -e /dev/kvm ]; then
	if ! [ -c /dev/kvm ] || ! [ -r /dev/kvm ] || ! [ -w /dev/kvm ]; then
		echo "SKIP: a /dev/kvm that cannot be used"
		exit 77
	fi
	kvm=1
fi
command -v virsh >/dev/null || {
	echo "FAIL: no virsh (scripts/deps.sh installs libvirt)"
	exit 1
}
virsh -q -c $URI version >/dev/null 2>&1 || {
	echo "FAIL: no libvirtd at $URI (as root: scripts/libvirtd.sh start)"
	exit 1
}

TMP=$(mktemp -d /tmp/test_libvirt.XXXXXX) || exit 1
TAG=dstest-$$
cleanup()
{
	for d in $(virsh -q -c $URI list --name 2>/dev/null | grep -e "^$TAG" -e "^dirtyscope-accuracy-"); do
		virsh -q -c $URI destroy "$d" >/dev/null 2>&1
	done
	rm -rf "$TMP"
}
trap cleanup EXIT

running() # NAME: is a domain of that name running?
{
	virsh -q -c $URI list --name 2>/dev/null | grep -qx "$1"
}

# json_get FILE PYEXPR: evaluate PYEXPR over `rows`, the JSON lines of FILE.
json_get()
{
	python3 - "$1" "$2" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print(eval(sys.argv[2]))
PY
}

# modes FILE: "MODE=STATUS:MiB/s ..." of a `dirtyrate --json` FILE.
modes()
{
	json_get "$1" '" ".join(r["mode"] + "=" + r["status"] + ":" + str(r.get("mibs", "-")) for r in rows if "mode" in r)'
}

# ---- TCG: no /dev/kvm, so libvirtd's QEMU has only its emulator
if [ $kvm = 0 ]; then
	echo "  no /dev/kvm: the checks of a host without KVM (QEMU's emulator)"
	"$DS" libvirt boot --name $TAG-t --wss 1024 >"$TMP/boot" 2>&1
	rc=$?
	if [ $rc -eq 0 ] && running $TAG-t && grep -q "QEMU's emulator (TCG)" "$TMP/boot"; then
		ok "boot without KVM: $TAG-t runs under QEMU's emulator ($(head -1 "$TMP/boot"))"
	else
		fail "boot without KVM: exit $rc, running: $(running $TAG-t && echo yes || echo no): $(cat "$TMP/boot")"
	fi
	"$DS" libvirt dirtyrate $TAG-t --json "$TMP/dr.json" >"$TMP/dr.out" 2>&1
	rc=$?
	st=$(modes "$TMP/dr.json")
	echo "  dirtyrate (emulated domain): $st"
	if [ $rc -eq 0 ] &&
		json_get "$TMP/dr.json" 'all(r["status"] == "measured" and r["mibs"] >= 0 for r in rows if r.get("mode") == "page-sampling")' | grep -qx True &&
		json_get "$TMP/dr.json" '[r["status"] + ":" + str("emulator" in r["reason"]) for r in rows if r.get("mode") == "dirty-bitmap"]' | grep -qx "\['unsupported:True'\]" &&
		json_get "$TMP/dr.json" '[r["status"] for r in rows if r.get("mode") == "dirty-ring"]' | grep -qx "\['unsupported'\]"; then
		ok "dirtyrate on an emulated domain: page-sampling measured, dirty-bitmap and dirty-ring unsupported"
	else
		fail "dirtyrate on an emulated domain: exit $rc: $st $(cat "$TMP/dr.out")"
	fi
	# The teeth of the refusal: asked for dirty-bitmap there, QEMU 7.2
	# crashes and the domain is gone.
	running $TAG-t && ok "dirtyrate left the emulated domain running" ||
		fail "dirtyrate ended the emulated domain: $(tail -2 /var/log/libvirt/qemu/$TAG-t.log 2>/dev/null)"
	virsh -q -c $URI destroy $TAG-t >/dev/null 2>&1
	running $TAG-t && fail "destroy $TAG-t: still running" || ok "destroy $TAG-t: gone (transient)"
	for args in "--dirty-ring 4096" "--accel kvm"; do
		"$DS" libvirt boot --name $TAG-k $args >"$TMP/out" 2>&1
		rc=$?
		if [ $rc -eq 3 ] && grep -q "offers no KVM" "$TMP/out" && ! running $TAG-k; then
			ok "boot $args without KVM: exit 3, naming the missing KVM, no domain"
		else
			fail "boot $args without KVM: exit $rc: $(cat "$TMP/out")"
		fi
	done
	"$DS" libvirt accuracy --wss 256 >"$TMP/out" 2>&1
	rc=$?
	left=$(virsh -q -c $URI list --name 2>/dev/null | grep -c '^dirtyscope-accuracy-')
	if [ $rc -eq 3 ] && grep -q "cannot open /dev/kvm" "$TMP/out" && [ "$left" = 0 ]; then
		ok "accuracy without /dev/kvm: exit 3, naming it, no domain started"
	else
		fail "accuracy without /dev/kvm: exit $rc, $left domains: $(cat "$TMP/out")"
	fi
fi

# ---- KVM: boot, dirtyrate on it, destroy
if [ $kvm = 1 ]; then
	"$DS" libvirt boot --name $TAG-a --wss 1024 >"$TMP/boot" 2>&1
	rc=$?
	if [ $rc -eq 0 ] && running $TAG-a; then
		ok "boot: $TAG-a running ($(head -1 "$TMP/boot"))"
	else
		fail "boot: exit $rc, running: $(running $TAG-a && echo yes || echo no): $(cat "$TMP/boot")"
	fi
	"$DS" libvirt dirtyrate $TAG-a --json "$TMP/dr.json" >"$TMP/dr.out" 2>&1
	rc=$?
	st=$(modes "$TMP/dr.json")
	echo "  dirtyrate (bitmap domain): $st"
	if [ $rc -eq 0 ] &&
		json_get "$TMP/dr.json" 'all(r["status"] == "measured" and r["mibs"] >= 0 for r in rows if r.get("mode") == "page-sampling")' | grep -qx True &&
		json_get "$TMP/dr.json" 'all(r["status"] == "measured" and r["mibs"] > 0 for r in rows if r.get("mode") == "dirty-bitmap")' | grep -qx True &&
		json_get "$TMP/dr.json" '[r["status"] for r in rows if r.get("mode") == "dirty-ring"]' | grep -qx "\['unsupported'\]"; then
		ok "dirtyrate on a bitmap domain: page-sampling and dirty-bitmap measured, dirty-ring unsupported"
	else
		fail "dirtyrate on a bitmap domain: exit $rc: $st $(cat "$TMP/dr.out")"
	fi

	"$DS" libvirt boot --name $TAG-r --wss 1024 --dirty-ring 4096 >"$TMP/boot" 2>&1
	rc=$?
	[ $rc -eq 0 ] && running $TAG-r || fail "boot --dirty-ring: exit $rc: $(cat "$TMP/boot")"
	"$DS" libvirt dirtyrate $TAG-r --json - >"$TMP/drr.json" 2>"$TMP/drr.err"
	rc=$?
	st=$(modes "$TMP/drr.json")
	echo "  dirtyrate (ring domain): $st"
	if [ $rc -eq 0 ] &&
		json_get "$TMP/drr.json" '[r["status"] for r in rows if r.get("mode") == "dirty-ring"]' | grep -qx "\['measured'\]" &&
		json_get "$TMP/drr.json" '[r["status"] for r in rows if r.get("mode") == "dirty-bitmap"]' | grep -qx "\['unsupported'\]" &&
		json_get "$TMP/drr.json" '[len(r["vcpu-mibs"]) for r in rows if r.get("mode") == "dirty-ring"]' | grep -qx "\[1\]"; then
		ok "dirtyrate on a ring domain: dirty-ring measured (per vCPU too), dirty-bitmap unsupported"
	else
		fail "dirtyrate on a ring domain: exit $rc: $st $(cat "$TMP/drr.err")"
	fi
	for d in $TAG-a $TAG-r; do
		virsh -q -c $URI destroy $d >/dev/null 2>&1
		running $d && fail "destroy $d: still running" || ok "destroy $d: gone (transient)"
		virsh -q -c $URI dominfo $d >/dev/null 2>&1 && fail "$d: still defined after destroy"
	done
fi

# ---- boot --follow
timeout 120 "$DS" libvirt boot --follow --name $TAG-f --wss 256 --epochs 3 >"$TMP/follow" 2>&1
rc=$?
n=$(grep -c '^{"epoch":' "$TMP/follow")
if [ $rc -eq 0 ] && [ "$n" = 3 ] && grep -q '"done":true' "$TMP/follow" && ! running $TAG-f; then
	ok "boot --follow --epochs 3: 3 epoch lines, exit 0, domain gone"
else
	fail "boot --follow: exit $rc, $n epoch lines: $(tail -5 "$TMP/follow")"
fi

# ---- KVM: accuracy
if [ $kvm = 1 ]; then
	# A working set that a guest covers well within one window even on a busy
	# machine: then every window's distinct pages are the whole set, in QEMU's
	# guest and in dirtyscope's, whatever their speeds.
	timeout 600 "$DS" libvirt accuracy --wss 1024 --repeat 2 --json - --plot "$TMP/acc.svg" \
		>"$TMP/acc.json" 2>"$TMP/acc.err"
	rc=$?
	# A domain started again (a silent console, docs/libvirt.md) says why here.
	grep "starting it again" "$TMP/acc.err" | sed 's/^/  /'
	if [ $rc -ne 0 ]; then
		fail "accuracy: exit $rc: $(cat "$TMP/acc.err")"
	else
		cat "$TMP/acc.json" | sed 's/^/  /'
		modes=$(json_get "$TMP/acc.json" '" ".join(r["mode"] for r in rows if "mode" in r)')
		[ "$modes" = "page-sampling dirty-bitmap dirty-ring" ] &&
			json_get "$TMP/acc.json" 'all(r["status"] != "measured" or (r["truth-mibs"] > 0 and "measured-mibs" in r) for r in rows if "mode" in r)' | grep -qx True &&
			ok "accuracy --json -: a row per mode ($modes), truth and QEMU's MiB/s" ||
			fail "accuracy: rows $modes"
		pct=$(json_get "$TMP/acc.json" '[r["truth-vs-exact-pct"] for r in rows if r.get("summary")][0]')
		python3 -c "import sys; sys.exit(0 if abs(float('$pct')) <= 5 else 1)" &&
			ok "accuracy: the truth is within 5% of dirtyscope's exact count ($pct%)" ||
			fail "accuracy: the truth is $pct% off dirtyscope's exact count"
		python3 -c "import sys, xml.dom.minidom as m; m.parse(sys.argv[1])" "$TMP/acc.svg" 2>/dev/null &&
			ok "accuracy --plot: a well-formed SVG" || fail "accuracy --plot: not well-formed XML"
	fi

	# ---- the replay's teeth: a replay with a seed the guest did not use.  The
	# same run's first domain stays paused (a silent console) for 3 s: it must
	# be started again, once, and the run go on to the replay's check.
	DIRTYSCOPE_TEST_SILENT_START=3 DIRTYSCOPE_TEST_REPLAY_SEED=12345 timeout 300 "$DS" libvirt \
		accuracy --workload random --wss 1024 --writes 700 --seed 7 --mode dirty-bitmap \
		--repeat 1 >"$TMP/teeth" 2>&1
	rc=$?
	[ $rc -eq 1 ] && grep -q "the replay of its workload gives" "$TMP/teeth" &&
		ok "accuracy: a replay with the wrong seed is noticed (exit 1)" ||
		fail "accuracy with a wrong replay seed: exit $rc: $(tail -2 "$TMP/teeth")"
	[ "$(grep -cE "its console carried nothing in 3 s \(domain paused, QEMU used [0-9]+\.[0-9] s of CPU meanwhile\); starting it again \(2 of 3\)" "$TMP/teeth")" = 1 ] &&
		ok "accuracy: a domain whose console stays silent is started again, once" ||
		fail "accuracy with a silent first domain: $(head -3 "$TMP/teeth")"

fi

# ---- bad input
"$DS" libvirt dirtyrate no-such-domain-$$ >"$TMP/out" 2>&1
rc=$?
[ $rc -eq 2 ] && grep -q "no domain 'no-such-domain-$$'" "$TMP/out" &&
	ok "an unknown domain exits 2 and is named" || fail "unknown domain: exit $rc: $(cat "$TMP/out")"
bad_uri="qemu+unix:///system?socket=$TMP/no-such-socket"
"$DS" libvirt dirtyrate x --connect "$bad_uri" >"$TMP/out" 2>&1
rc=$?
[ $rc -eq 3 ] && grep -qF "$bad_uri" "$TMP/out" && grep -q "scripts/libvirtd.sh start" "$TMP/out" &&
	ok "an unreachable libvirtd exits 3 naming the URI and the script" ||
	fail "unreachable libvirtd: exit $rc: $(cat "$TMP/out")"
for t in 0 61; do
	for cmd in "dirtyrate x" "accuracy"; do
		"$DS" libvirt $cmd --calc-time $t >"$TMP/out" 2>&1
		rc=$?
		[ $rc -eq 2 ] && grep -q "calc-time" "$TMP/out" &&
			ok "$cmd --calc-time $t exits 2" || fail "$cmd --calc-time $t: exit $rc"
	done
done

# KVM: SIGINT in the middle of a calculation: accuracy's first domain is up
# and measuring (its 5 s calculation has begun) when the signal comes.
if [ $kvm = 1 ]; then
	"$DS" libvirt accuracy --wss 256 --calc-time 5 --repeat 1 >"$TMP/int" 2>&1 &
	pid=$!
	dom=dirtyscope-accuracy-$pid-1
	# Two minutes by the clock, not by a count of tries: where a virsh call is
	# slow (the emulated KVM host) a count would stretch far beyond that.
	end=$((SECONDS + 120))
	while [ $SECONDS -lt $end ]; do
		virsh -q -c $URI domstats --dirtyrate $dom 2>/dev/null | grep -q "calc_status=1" && break
		sleep 0.1
	done
	virsh -q -c $URI domstats --dirtyrate $dom 2>/dev/null | grep -q "calc_status=1" ||
		fail "SIGINT test: $dom never started measuring"
	sleep 1
	kill -INT $pid
	wait $pid
	rc=$?
	sleep 0.5
	if [ $rc -eq 130 ] && ! running $dom; then
		ok "SIGINT during a calculation: exit 130, domain $dom destroyed"
	else
		fail "SIGINT during a calculation: exit $rc, $dom running: $(running $dom && echo yes || echo no): $(cat "$TMP/int")"
	fi
fi

"$DS" libvirt boot --name $TAG-s --wss 256 >/dev/null 2>&1
"$DS" libvirt dirtyrate $TAG-s --mode page-sampling --calc-time 5 >"$TMP/int" 2>&1 &
pid=$!
sleep 2
kill -INT $pid
wait $pid
rc=$?
[ $rc -eq 130 ] && ok "SIGINT during dirtyrate: exit 130" || fail "SIGINT during dirtyrate: exit $rc: $(cat "$TMP/int")"
virsh -q -c $URI destroy $TAG-s >/dev/null 2>&1

[ $failures -eq 0 ] && echo "test_libvirt: all passed" || echo "test_libvirt: $failures failed"
[ $failures -eq 0 ]
