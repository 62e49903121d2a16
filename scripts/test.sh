#!/bin/sh
# The project's test command: install dependencies, build from scratch in
# build/, and run every CTest suite.  KVM suites must run, not skip: a
# skipped suite fails this script.
set -e
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j "$(nproc)"
cd build
rc=0
ctest --output-on-failure >ctest.log 2>&1 || rc=$?
cat ctest.log
[ "$rc" -eq 0 ] || exit "$rc"
if grep -Eq '\*\*\*Skipped|Not Run' ctest.log; then
	echo "test.sh: a suite was skipped or not run; on a KVM host every suite must run" >&2
	exit 1
fi
