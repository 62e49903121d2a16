#!/bin/sh
# The project's test command: install dependencies, build from scratch in
# build/, and run every CTest suite; then again in build-san/ with
# AddressSanitizer and UndefinedBehaviorSanitizer on every host target
# (never the guest); then every fuzz target briefly (scripts/fuzz.sh 10).
# On a host with /dev/kvm every suite must run: a skipped suite fails this
# script.  On a host without it (no KVM device node at all), the suites that
# need KVM skip; each such skip must say so in its own output (it names
# /dev/kvm), any other skip still fails, and the skipped suites are listed
# at the end; then those of them that pass on a real NPT host run again, in
# both builds, in an emulated KVM host (scripts/kvmhost.sh), where they
# must pass.  Every stage runs even after one failed; the exit status is
# the first failure's.
set -e
cd "$(dirname "$0")/.."
root=$(pwd)
scripts/deps.sh

# The first failure's status; every stage still runs, so that one run
# shows all that fails (a machine without /dev/kvm fails the first stage
# by its skips, and the sanitizers and fuzzers still have their say).
status=0
failed() {
	[ "$status" -ne 0 ] || status=$1
}
kvm=1
if ! [ -e /dev/kvm ]; then
	kvm=0
	echo "test.sh: this machine has no /dev/kvm: the suites that need KVM will skip and be listed at the end" >&2
fi
# The suites that did not run for want of /dev/kvm, over all stages.
no_kvm=""

# skipped_without_kvm DIR: the names of DIR's skipped suites (CTest's list
# in ctest.log) whose own output (LastTest.log) names /dev/kvm; any other
# skipped or not-run suite is named on stderr and makes the status 1.
skipped_without_kvm() {
	sed -n 's/^[[:space:]]*[0-9]* - \([^ ]*\) (\(Skipped\|Not Run\))$/\1/p' "$1/ctest.log" |
	awk -v lastlog="$1/Testing/Temporary/LastTest.log" '
	BEGIN {
		while ((getline l < lastlog) > 0) {
			if (l ~ /^[0-9]+\/[0-9]+ Testing: /) { split(l, f, " "); name = f[3]; out = 0 }
			else if (l == "Output:") out = 1
			else if (l == "<end of output>") out = 0
			else if (out && l ~ /\/dev\/kvm/) kvm[name] = 1
		}
	}
	{
		if ($1 in kvm) print $1
		else { print "test.sh: " $1 " skipped without naming /dev/kvm" > "/dev/stderr"; bad = 1 }
	}
	END { exit bad }'
}

# run_suite DIR: every CTest suite in DIR; a failure fails the run, and so
# does a skip, unless this host has no /dev/kvm and the suite said that is
# why it skipped.
run_suite() {
	rc=0
	(cd "$1" && ctest --output-on-failure >ctest.log 2>&1) || rc=$?
	cat "$1/ctest.log"
	if [ "$rc" -ne 0 ]; then
		echo "test.sh: a suite failed in $1" >&2
		failed "$rc"
	elif grep -Eq '\*\*\*Skipped|Not Run' "$1/ctest.log"; then
		if [ $kvm = 1 ]; then
			echo "test.sh: a suite was skipped or not run in $1; on a KVM host every suite must run" >&2
			failed 1
			return
		fi
		names=$(skipped_without_kvm "$1") || failed 1
		no_kvm="$no_kvm
$(basename "$1"): $(echo $names)"
	fi
}

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j "$(nproc)"
run_suite "$root/build"

# The same suites under ASan + UBSan: any report aborts the test (halt_on_error,
# -fno-sanitize-recover=all), leaks included.
cmake -S . -B build-san -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDIRTYSCOPE_SANITIZE=address,undefined
cmake --build build-san -j "$(nproc)"
ASAN_OPTIONS=halt_on_error=1:detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	run_suite "$root/build-san"

# On a host with no /dev/kvm, the KVM suites that pass on a real NPT host
# run in the emulated one (scripts/kvmhost.sh, docs/platform-notes.md), in
# both builds; there /dev/kvm exists, so a skip fails like a failure.
# The others fail there for reasons of their own (the platform notes name
# them) and stay in the NOT RUN list.
emulated='test_smp|test_cli|test_virtio_kvm|test_compare|test_hostwb|test_exit|test_edges|test_imageid|test_stop|test_install|test_migrate|test_files|test_trust|test_timed|test_vmstate'
# test_libvirt runs in the stages above, natively, with the checks that
# hold where libvirtd's QEMU has only its emulator; its KVM checks (a
# dirty-ring domain, accuracy against dirtyscope's own VMM) run in the
# emulated host too, in a start of their own (below), in the normal build
# only (the sanitizer build runs its native checks).

# run_emulated DIR LIST SECONDS LOG: the suites of DIR named in LIST (a
# regex alternation) in the emulated KVM host, SECONDS at most, its output
# in DIR/LOG.  The main list took 12 minutes in the normal build with two
# busy loops beside it, before five more suites joined it: an hour.
# test_libvirt took 7.5 minutes alone under that load: 25 minutes.
run_emulated() {
	rc=0
	(cd "$1" && "$root/scripts/kvmhost.sh" --timeout "$3" \
		ctest --timeout 600 --output-on-failure -R "^($2)\$") >"$1/$4" 2>&1 || rc=$?
	cat "$1/$4"
	if [ "$rc" -ne 0 ]; then
		echo "test.sh: a suite failed in the emulated KVM host in $1 (exit $rc)" >&2
		failed "$rc"
	elif grep -Eq '\*\*\*Skipped|Not Run' "$1/kvmhost.log"; then
		echo "test.sh: a suite skipped in the emulated KVM host in $1, which has /dev/kvm" >&2
		failed 1
	else
		echo "test.sh: ran in the emulated KVM host in $(basename "$1"): $(echo "$2" | tr '|' ' ')" >&2
	fi
}
if [ $kvm = 0 ]; then
	run_emulated "$root/build" "$emulated" 3600 kvmhost.log
	run_emulated "$root/build" test_libvirt 1500 kvmhost-libvirt.log
	ASAN_OPTIONS=halt_on_error=1:detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		run_emulated "$root/build-san" "$emulated" 3600 kvmhost.log
fi

scripts/fuzz.sh 10 || failed $?
if [ -n "$no_kvm" ]; then
	echo "test.sh: NOT RUN for want of /dev/kvm (this machine has none; they run on a KVM host;" \
		"the emulated KVM host ran both builds' $(echo "$emulated" | tr '|' ' '), and the normal" \
		"build's test_libvirt):$no_kvm" >&2
fi
[ "$status" -eq 0 ] || echo "test.sh: failed (exit $status); the first failure is above" >&2
exit "$status"
