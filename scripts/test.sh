#!/bin/sh
# The project's test command: install dependencies, build from scratch in
# build/, and run every CTest suite; then again in build-san/ with
# AddressSanitizer and UndefinedBehaviorSanitizer on every host target
# (never the guest); then every fuzz target briefly (scripts/fuzz.sh 10).
# KVM suites must run, not skip: a skipped suite fails this script.  Every
# stage runs even after one failed; the exit status is the first failure's.
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
if ! [ -c /dev/kvm ]; then
	echo "test.sh: this machine has no /dev/kvm: the KVM suites will skip, and a skip fails this run" >&2
fi

# run_suite DIR: every CTest suite in DIR; a failure or a skip fails the run.
run_suite() {
	rc=0
	(cd "$1" && ctest --output-on-failure >ctest.log 2>&1) || rc=$?
	cat "$1/ctest.log"
	if [ "$rc" -ne 0 ]; then
		echo "test.sh: a suite failed in $1" >&2
		failed "$rc"
	elif grep -Eq '\*\*\*Skipped|Not Run' "$1/ctest.log"; then
		echo "test.sh: a suite was skipped or not run in $1; on a KVM host every suite must run" >&2
		failed 1
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

scripts/fuzz.sh 10 || failed $?
[ "$status" -eq 0 ] || echo "test.sh: failed (exit $status); the first failure is above" >&2
exit "$status"
