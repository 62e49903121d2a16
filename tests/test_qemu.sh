#!/bin/bash
# test_qemu: the guest kernel boots standalone under QEMU (PVH entry).
#
# usage: test_qemu.sh DIRTYSCOPE_BIN
#
# The guest kernel's ELF file is the one `dirtyscope info --json` names
# ("guest-kernel").  QEMU boots it with -kernel (PVH: the ELF note), the
# workload comes from the command line, one JSON line per epoch comes back
# on COM1 and the end through isa-debug-exit (docs/abi.md, standalone mode):
#   - -machine pc, exactly the command docs/abi.md gives: QEMU exits 1
#     (debug-exit 0: ran to its end, its own data check passed), exactly 3
#     epoch lines, epochs 1, 2, 3, each with pages 256, stores 256 and a TSC
#     stamp later than the one before;
#   - -machine microvm, the same;
#   - ds.test=badcheck (a store behind the data check's back): QEMU exits 3
#     and the last line says the check failed;
#   - an unknown workload on the command line: QEMU exits 5 (a guest panic)
#     and the guest says why.
# QEMU missing is a failure, not a skip (scripts/deps.sh installs it).
# Without a /dev/kvm node QEMU emulates (accel=tcg); a /dev/kvm that exists
# but cannot be used exits 77 (skipped), as the other KVM tests do.
set -u
[ $# -eq 1 ] || {
	echo "usage: test_qemu.sh DIRTYSCOPE_BIN" >&2
	exit 2
}
DS=$1
QEMU=qemu-system-x86_64
export LC_ALL=C

. "$(dirname "$0")/lib/ds_check.sh"

# QEMU runs the same guest under its own emulator (TCG) where there is no
# KVM device node at all, so these checks run on every host; a /dev/kvm
# that exists but cannot be used is still a skip, as for the other suites.
ACCEL=kvm
if ! [ -e /dev/kvm ]; then
	ACCEL=tcg
	echo "note: no /dev/kvm: QEMU runs the guest under TCG"
elif ! [ -c /dev/kvm ] || ! [ -r /dev/kvm ] || ! [ -w /dev/kvm ]; then
	echo "SKIP: no usable /dev/kvm"
	exit 77
fi
command -v $QEMU >/dev/null || {
	echo "FAIL: no $QEMU (scripts/deps.sh installs qemu-system-x86)"
	exit 1
}
command -v python3 >/dev/null || {
	echo "FAIL: no python3 (scripts/deps.sh installs it)"
	exit 1
}

GUEST=$("$DS" info --json 2>/dev/null | python3 -c 'import json, sys; print(json.load(sys.stdin)["guest-kernel"] or "")')
[ -n "$GUEST" ] && [ -f "$GUEST" ] || {
	echo "FAIL: dirtyscope info --json names no guest kernel file ('$GUEST')"
	exit 1
}
ok "info --json: guest-kernel $GUEST"

TMP=$(mktemp -d /tmp/test_qemu.XXXXXX) || exit 1
trap 'rm -rf "$TMP"' EXIT

# boot MACHINE APPEND: run QEMU, its serial output in $TMP/out, exit status
# in $rc, wall time in $secs.
boot()
{
	local t0 t1
	t0=$(date +%s%N)
	timeout 120 $QEMU -machine "$1",accel=$ACCEL -m 128M -display none -serial stdio -no-reboot \
		-device isa-debug-exit,iobase=0xf4,iosize=0x04 -kernel "$GUEST" -append "$2" \
		</dev/null >"$TMP/out" 2>"$TMP/err"
	rc=$?
	t1=$(date +%s%N)
	secs=$(((t1 - t0) / 1000000))ms
}

# check_epochs N PAGES: the serial output has exactly N epoch lines, epochs 1..N,
# each with PAGES pages and stores and a TSC after the previous line's.
check_epochs()
{
	python3 - "$TMP/out" "$1" "$2" <<'PY'
import json, sys
path, n, pages = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
lines = [json.loads(l) for l in open(path, errors="replace") if l.startswith("{")]
epochs = [l for l in lines if "epoch" in l]
errors = []
if [e["epoch"] for e in epochs] != list(range(1, n + 1)):
    errors.append("epochs %s, want 1..%d" % ([e["epoch"] for e in epochs], n))
for e in epochs:
    if e.get("pages") != pages or e.get("stores") != pages:
        errors.append("epoch %s: pages %s stores %s, want %d" % (e["epoch"], e.get("pages"), e.get("stores"), pages))
tsc = [l["tsc"] for l in lines if "tsc" in l]
if tsc != sorted(tsc) or len(set(tsc)) != len(tsc):
    errors.append("TSC stamps do not increase: %s" % tsc)
done = [l for l in lines if l.get("done")]
if len(done) != 1 or done[0].get("check") != "ok" or done[0].get("epochs") != n:
    errors.append("no done line with check ok and %d epochs: %s" % (n, done))
print("; ".join(errors))
sys.exit(1 if errors else 0)
PY
}

for m in pc microvm; do
	boot $m "ds.workload=seq ds.wss=256 ds.epochs=3"
	why=$(check_epochs 3 256)
	if [ $rc -eq 1 ] && [ -z "$why" ]; then
		ok "-machine $m: exit 1, epochs 1..3 of 256 pages ($secs)"
	else
		fail "-machine $m: exit $rc (want 1): $why"
		cat "$TMP/out" "$TMP/err"
	fi
done

# The data check's teeth: microvm, as it boots fastest.
boot microvm "ds.workload=random ds.wss=64 ds.epochs=1 ds.test=badcheck"
if [ $rc -eq 3 ] && tail -n 1 "$TMP/out" | grep -q '"check":"failed"' &&
	grep -q '^guest log: self-check' "$TMP/out"; then
	ok "ds.test=badcheck: exit 3, check failed ($secs)"
else
	fail "ds.test=badcheck: exit $rc (want 3)"
	cat "$TMP/out" "$TMP/err"
fi

boot microvm "ds.workload=nosuch"
if [ $rc -eq 5 ] && grep -q '^guest panic: .*ds.workload' "$TMP/out"; then
	ok "ds.workload=nosuch: exit 5, $(head -n 1 "$TMP/out")"
else
	fail "ds.workload=nosuch: exit $rc (want 5)"
	cat "$TMP/out" "$TMP/err"
fi

# Numbers on the command line: every uint64 is one, 2^64 is not.
boot microvm "ds.workload=random ds.wss=64 ds.epochs=1 ds.seed=18446744073709551615"
if [ $rc -eq 1 ] && grep -q '"seed":18446744073709551615,' "$TMP/out"; then
	ok "ds.seed=2^64-1: exit 1, the seed printed back whole"
else
	fail "ds.seed=2^64-1: exit $rc (want 1): $(head -n 1 "$TMP/out")"
fi
boot microvm "ds.workload=random ds.wss=64 ds.epochs=1 ds.seed=18446744073709551616"
if [ $rc -eq 5 ] && grep -q '^guest panic: .*ds.seed: number too large' "$TMP/out"; then
	ok "ds.seed=2^64: exit 5, number too large"
else
	fail "ds.seed=2^64: exit $rc (want 5): $(head -n 1 "$TMP/out")"
fi

[ $failures -eq 0 ] && echo "all passed" || echo "$failures failed"
[ $failures -eq 0 ]
