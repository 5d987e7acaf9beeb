#!/bin/sh
# On demand (too slow for CI): every unit test and every integration test
# with glasswatchd under valgrind memcheck, in the plain build (valgrind
# and AddressSanitizer do not mix). Any memcheck error or definite leak
# fails the test. Usage: tests/valgrind.sh [integration-NAME ...]
# (names given: only those integration tests, no unit tests).
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
. tests/deps.sh
GW_PACKAGES="$GW_PACKAGES valgrind"
gw_install_deps

export GW_PYTHON=/usr/bin/python3
dir=build-valgrind
if [ ! -f "$dir/build.ninja" ]; then
	meson setup "$dir"
fi
ninja -C "$dir"

# memcheck runs code 20-50 times slower: every wait of the tests and
# every meson timeout grows to match.
export GW_VALGRIND=1
export GW_TIMEOUT_SCALE="${GW_TIMEOUT_SCALE:-6}"
# Check forks each test by default; memcheck then reports the children.
export CK_FORK=no
status=0
if [ $# -eq 0 ]; then
	meson test -C "$dir" --suite unit --print-errorlogs \
	    --timeout-multiplier 10 --wrapper 'valgrind --quiet
	    --error-exitcode=99 --leak-check=full --show-leak-kinds=definite
	    --errors-for-leak-kinds=definite' || status=1
fi
meson test -C "$dir" --suite integration --print-errorlogs \
    --timeout-multiplier 6 --num-processes 1 "$@" || status=1
exit $status
