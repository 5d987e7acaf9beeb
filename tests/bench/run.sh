#!/bin/sh
# glasswatch's benchmarks (README "Benchmarks"): installs what is missing,
# builds a release build in build-bench/ with the benchmark programs, and
# runs tests/bench/bench.py, which prints one table of figures, targets
# and the machine. --quick: fewer records, cycles and seconds.
#   tests/bench/run.sh [--quick] [latency|cycles|backfill|many ...]
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

. tests/deps.sh
# What only the benchmarks use: jq for the cron-style baseline script
# (curl, already a dependency, does its HTTPS and SMTP).
GW_PACKAGES="$GW_PACKAGES jq"
gw_install_deps

quick=0
if [ "${1:-}" = "--quick" ]; then
	quick=1
	shift
fi

if [ ! -d build-bench ]; then
	meson setup build-bench --buildtype=release -Dbench=true -Dtests=false
fi
nice ninja -C build-bench

GLASSWATCHD="$root/build-bench/daemon/glasswatchd" \
GW_BENCH_BACKFILL="$root/build-bench/tests/bench/gw-bench-backfill" \
GW_BENCH_QUICK=$quick \
    exec nice /usr/bin/python3 tests/bench/bench.py "$@"
