#!/bin/sh
# Builds the libFuzzer harnesses (build-fuzz, clang, ASan and UBSan) and
# runs each one: first over its kept regression inputs
# (tests/fuzz/regressions/NAME/), then for SECONDS (default 600) from a
# scratch copy of its seed corpus (tests/fuzz/corpus/NAME/), so that a run
# never grows the checked-in corpus. Prints one line per target (execs,
# execs/s, coverage, outcome) and exits non-zero when any target crashed,
# leaked, hit UBSan, hung or could not be built.
#
#	tests/fuzz/run.sh [SECONDS [TARGET...]]
#
# Crashing inputs are copied to build-fuzz/fuzz-artifacts/NAME/: once the
# bug is fixed, keep each one under tests/fuzz/regressions/NAME/. With
# GW_FUZZ_RESULTS=FILE, "NAME OK|FAIL" lines are written there too (for
# tests/run-tests.sh).
set -eu

top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
seconds=${1:-600}
[ $# -gt 0 ] && shift
targets=${*:-config loganalytics graph template smtp answer}
build="build-fuzz"
mkdir -p "$build"
results=${GW_FUZZ_RESULTS:-/dev/null}
: >"$results"

fail_all() {
	echo "fuzz: $1"
	for t in $targets; do
		echo "$t FAIL" >>"$results"
	done
	exit 1
}

# The fuzz build needs clang and its libFuzzer runtime (tests/deps.sh).
command -v clang >/dev/null 2>&1 || fail_all "clang is not installed"
if [ ! -f "$build/build.ninja" ]; then
	CC=clang nice meson setup "$build" -Dfuzz=true -Dtests=false \
	    >"$build/fuzz-setup.log" 2>&1 ||
	    fail_all "meson setup failed (see $build/fuzz-setup.log)"
fi
# Only the harnesses (and libglasswatch): the daemon is not needed here.
exes=""
for t in $targets; do
	exes="$exes tests/fuzz/fuzz-$t"
done
# shellcheck disable=SC2086
nice ninja -C "$build" $exes >"$build/fuzz-build.log" 2>&1 ||
    fail_all "the build failed (see $build/fuzz-build.log)"

scratch=$(mktemp -d "${TMPDIR:-/tmp}/gw-fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
trap 'exit 130' INT TERM
# The config harness writes its file there, never elsewhere.
export TMPDIR="$scratch"
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=1"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}print_stacktrace=1:halt_on_error=1"

failed=0
printf '%-13s %10s %8s %6s  %s\n' target execs exec/s cov outcome
for t in $targets; do
	exe="$build/tests/fuzz/fuzz-$t"
	log="$scratch/$t.log"
	art="$scratch/art-$t"
	outcome=OK
	mkdir -p "$scratch/corpus-$t" "$art"
	if [ ! -x "$exe" ]; then
		outcome="FAIL: no harness $exe"
	fi
	# Every kept crash input first: a fixed bug stays fixed.
	reg="tests/fuzz/regressions/$t"
	if [ "$outcome" = OK ] && [ -d "$reg" ] &&
	    [ -n "$(ls -A "$reg" 2>/dev/null)" ]; then
		if ! nice "$exe" -timeout=10 "$reg"/* >"$log.reg" 2>&1; then
			outcome="FAIL: a regression input fails again (see above)"
			tail -n 40 "$log.reg"
		fi
	fi
	if [ "$outcome" = OK ]; then
		cp tests/fuzz/corpus/"$t"/* "$scratch/corpus-$t/"
		dict=""
		[ -f "tests/fuzz/$t.dict" ] && dict="-dict=tests/fuzz/$t.dict"
		# shellcheck disable=SC2086
		if ! nice "$exe" -max_total_time="$seconds" -timeout=10 \
		    -print_final_stats=1 -artifact_prefix="$art/" $dict \
		    "$scratch/corpus-$t" >"$log" 2>&1; then
			outcome="FAIL"
		fi
		if [ -n "$(ls -A "$art")" ]; then
			keep="$top/$build/fuzz-artifacts/$t"
			mkdir -p "$keep"
			cp "$art"/* "$keep/"
			outcome="FAIL: input kept in $build/fuzz-artifacts/$t/"
		fi
		if [ "$outcome" != OK ]; then
			grep -E "ERROR:|SUMMARY:|runtime error|#[0-9]+ 0x" \
			    "$log" | head -n 30 || true
		fi
	fi
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" \
	    2>/dev/null | tail -n 1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" \
	    2>/dev/null | tail -n 1)
	cov=$(sed -n 's/.* cov: \([0-9]*\) .*/\1/p' "$log" 2>/dev/null |
	    tail -n 1)
	printf '%-13s %10s %8s %6s  %s\n' "$t" "${execs:--}" "${rate:--}" \
	    "${cov:--}" "$outcome"
	case $outcome in
	OK)	echo "$t OK" >>"$results" ;;
	*)	echo "$t FAIL" >>"$results"; failed=$((failed + 1)) ;;
	esac
done
[ "$failed" -eq 0 ]
