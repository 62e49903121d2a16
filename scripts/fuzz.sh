#!/bin/sh
# Build the libFuzzer targets (tests/fuzz/, clang, ASan + UBSan) in
# build-fuzz/, replay their seed corpora and tests/fuzz/regressions/ (CTest),
# then fuzz each target, starting from both, for SECONDS (default 60).  A
# crash, leak or sanitizer report fails the script and leaves the
# reproducer in build-fuzz/tests/fuzz/crashes/.
set -e
cd "$(dirname "$0")/.."
secs=${1:-60}
cc=$(command -v clang-14 || command -v clang)
cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER="$cc" \
	-DDIRTYSCOPE_FUZZ=ON -DBUILD_TESTING=OFF
cmake --build build-fuzz -j "$(nproc)" --target fuzz_all
export ASAN_OPTIONS=halt_on_error=1:detect_leaks=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
(cd build-fuzz && ctest --output-on-failure)
fz=build-fuzz/tests/fuzz
mkdir -p "$fz/crashes"
for t in $(cd "$fz/seeds" && ls); do
	mkdir -p "$fz/corpus/$t"
	echo "fuzz.sh: $t for ${secs}s"
	# New inputs go to corpus/<t>; the seeds and regressions are read, never
	# written.
	"$fz/$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 \
		-artifact_prefix="$fz/crashes/$t-" "$fz/corpus/$t" "$fz/seeds/$t" \
		"tests/fuzz/regressions/$t" 2>"$fz/$t.log" || {
		tail -60 "$fz/$t.log"
		echo "fuzz.sh: $t failed; reproducer in $fz/crashes/" >&2
		exit 1
	}
	grep -E '^stat::number_of_executed_units|^#[0-9]+.*DONE' "$fz/$t.log" | tail -2
done
