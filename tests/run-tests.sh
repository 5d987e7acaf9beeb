#!/bin/sh
# Installs what is missing, builds glasswatch twice (a normal build and one
# with AddressSanitizer and UndefinedBehaviorSanitizer), runs every test in
# both, runs each fuzzing harness briefly (tests/fuzz/run.sh: one result
# per target), and prints "N passed, N failed, N skipped". Exits non-zero
# on any failure; with CI=true a skipped integration test is a failure too.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
. tests/deps.sh
gw_install_deps

# Debian's python3 runs the test helpers (python3-aiosmtpd lives there).
export GW_PYTHON=/usr/bin/python3

run_build() {
	dir=$1
	shift
	if [ ! -f "$dir/build.ninja" ]; then
		meson setup "$dir" "$@"
	else
		meson setup --reconfigure "$dir" "$@" >/dev/null
	fi
	ninja -C "$dir"
	# Per-test timeouts are set in meson.build; never skip a test because
	# the machine is slow.
	meson test -C "$dir" --print-errorlogs --num-processes 2 || true
}

# LeakSanitizer cannot run under ptrace-based tools; abort on the first
# UBSan report so that a report fails the test.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

run_build build
run_build build-sanitize -Db_sanitize=address,undefined -Db_lundef=false

# A short libFuzzer run of every harness (README.md "Proof"): one result
# per target in the summary.
export GW_FUZZ_RESULTS="$top/build-fuzz/fuzz-results.txt"
tests/fuzz/run.sh 15 || true

/usr/bin/python3 - build/meson-logs/testlog.json \
    build-sanitize/meson-logs/testlog.json <<'PY'
import json, os, sys
passed = failed = skipped = 0
strict = os.environ.get("CI") == "true"
for path in sys.argv[1:]:
    build = path.split("/")[0]
    if not os.path.exists(path):
        print(f"{build}: no test log: the build failed")
        failed += 1
        continue
    with open(path) as f:
        for line in f:
            t = json.loads(line)
            r = t["result"]
            name = f'{build}: {t["name"]}'
            if r in ("OK", "EXPECTEDFAIL"):
                passed += 1
            elif r == "SKIP":
                if strict and any("integration" in s
                                  for s in t.get("suite", [])):
                    print(f"{name}: skipped, which CI counts as a failure")
                    failed += 1
                else:
                    skipped += 1
            else:
                print(f"{name}: {r}")
                failed += 1
fuzz = os.environ.get("GW_FUZZ_RESULTS")
if fuzz:
    results = []
    if os.path.exists(fuzz):
        with open(fuzz) as f:
            results = [line.split() for line in f if line.strip()]
    if not results:
        print("build-fuzz: no fuzzing results: the fuzz run failed")
        failed += 1
    for name, r in results:
        if r == "OK":
            passed += 1
        else:
            print(f"build-fuzz: fuzz-{name}: {r}")
            failed += 1
print(f"{passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed or passed == 0 else 0)
PY
