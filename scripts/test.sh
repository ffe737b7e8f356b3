#!/usr/bin/env bash
# Installs what is needed, builds certmon twice (release, and ASan+UBSan)
# and runs every test: unit tests on both builds; system tests (the real
# binaries against real SMTP, OCSP, HTTP and TLS servers) on the sanitizer
# build; the web admin in headless Chromium; every fuzz target for
# FUZZ_SECONDS (default 30); clang-tidy and cppcheck; the CLI system tests
# under Valgrind memcheck. Ends with one line "tests: N passed, N failed".
# QUICK=1 skips fuzzing, static analysis and Valgrind.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${TEST_OUTPUT:-$ROOT/test-output}
FUZZ_SECONDS=${FUZZ_SECONDS:-30}
mkdir -p "$OUT"

./scripts/install-deps.sh || { echo "tests: 0 passed, 1 failed (installing packages)"; exit 1; }

passed=0
failed=0
note() { printf '\n=== %s\n' "$*"; }
count() { passed=$((passed + ${1:-0})); failed=$((failed + ${2:-0})); }

build() {
  note "build $*"
  if ! make -j"$(nproc)" "$@" >"$OUT/build$*.log" 2>&1; then
    cat "$OUT/build$*.log"
    count 0 1
    return 1
  fi
}

# cmocka prints "[  PASSED  ] N test(s)." and "[  FAILED  ] N test(s)".
run_unit() {
  local dir=$1 t log p f rc
  for t in "$dir"/tests/test_*; do
    [ -x "$t" ] || continue
    note "$t"
    log="$OUT/$(basename "$dir")-$(basename "$t").log"
    "$t" >"$log" 2>&1
    rc=$?
    cat "$log"
    p=$(grep -oE '\[  PASSED  \] [0-9]+' "$log" | awk '{s+=$4} END{print s+0}')
    f=$(grep -oE '\[  FAILED  \] [0-9]+' "$log" | awk '{s+=$4} END{print s+0}')
    count "$p" "$f"
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then count 0 1; fi
  done
}

# pytest's closing line: "N passed, M failed, K errors in ..."
run_pytest() {
  local name=$1 log="$OUT/$1.log" p f e
  shift
  note "$name"
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    TEST_OUTPUT="$OUT" /usr/bin/python3 -m pytest -q -p no:cacheprovider "$@" \
    2>&1 | tee "$log"
  p=$(tail -3 "$log" | grep -oE '[0-9]+ passed' | awk '{print $1}')
  f=$(tail -3 "$log" | grep -oE '[0-9]+ failed' | awk '{print $1}')
  e=$(tail -3 "$log" | grep -oE '[0-9]+ errors?' | awk '{print $1}')
  count "${p:-0}" "$((${f:-0} + ${e:-0}))"
  if [ -z "$p" ] && [ -z "$f" ]; then count 0 1; fi
}

run_browser() {
  local log="$OUT/browser.log" p f
  note "browser tests (chromium)"
  CERTMON_BIN="$ROOT/build-san/certmon" CERTMOND_BIN="$ROOT/build-san/certmond" \
    TEST_OUTPUT="$OUT" tests/browser/run.sh 2>&1 | tee "$log"
  p=$(grep -oE '^ℹ pass [0-9]+' "$log" | awk '{print $3}')
  f=$(grep -oE '^ℹ fail [0-9]+' "$log" | awk '{print $3}')
  count "${p:-0}" "${f:-1}"
}

run_fuzz() {
  local log="$OUT/fuzz.log" n
  note "fuzzing, ${FUZZ_SECONDS} s per target"
  ./fuzz/run.sh "$FUZZ_SECONDS" 2>&1 | tee "$log"
  n=$(grep -c 'crashes 0$' "$log")
  count "$n" "$(grep -cE 'crashes [1-9]|build failed|seeds failed' "$log")"
}

run_analysis() {
  note "static analysis: clang-tidy, cppcheck"
  if ./scripts/analyze.sh >"$OUT/analysis.log" 2>&1; then
    tail -3 "$OUT/analysis.log"
    count 1 0
  else
    cat "$OUT/analysis.log"
    count 0 1
  fi
}

# Valgrind memcheck over the CLI system tests, with their timeouts scaled
# 20x (docs/RELIABILITY.md lists them, and why the others are left out).
# Valgrind runs a command on one core: two groups of about equal duration
# run at once. A group runs NAME FILE... into $OUT/NAME.log; run_valgrind
# counts both logs like run_pytest.
vg_group() {
  local name=$1
  shift
  CERTMON_BIN="$ROOT/scripts/valgrind-certmon" CERTMON_REAL_BIN="$ROOT/build/certmon" \
    CERTMOND_BIN="$ROOT/build/certmond" CERTMON_TIMEOUT_SCALE=20 TEST_OUTPUT="$OUT" \
    /usr/bin/python3 -m pytest -q -p no:cacheprovider "$@" >"$OUT/$name.log" 2>&1
}

run_valgrind() {
  local s=tests/system name log p f e pid1 pid2
  note "valgrind memcheck: the CLI system tests, two groups at once"
  vg_group valgrind-1 $s/test_monitor_settings.py $s/test_monitor_outbox.py \
    $s/test_revocation.py $s/test_crl.py \
    --deselect $s/test_revocation.py::test_a_silent_responder_costs_one_timeout &
  pid1=$!
  vg_group valgrind-2 $s/test_monitor_mail.py $s/test_tls.py $s/test_ocsp.py \
    $s/test_endpoints.py $s/test_ocsp_errors.py $s/test_smtp_lib.py \
    $s/test_list_export.py $s/test_concurrency.py $s/test_units.py \
    $s/test_upload.py $s/test_bad_input.py $s/test_inspect.py &
  pid2=$!
  wait "$pid1" "$pid2"
  for name in valgrind-1 valgrind-2; do
    log="$OUT/$name.log"
    note "$name"
    cat "$log"
    p=$(tail -3 "$log" | grep -oE '[0-9]+ passed' | awk '{print $1}')
    f=$(tail -3 "$log" | grep -oE '[0-9]+ failed' | awk '{print $1}')
    e=$(tail -3 "$log" | grep -oE '[0-9]+ errors?' | awk '{print $1}')
    count "${p:-0}" "$((${f:-0} + ${e:-0}))"
    if [ -z "$p" ] && [ -z "$f" ]; then count 0 1; fi
  done
}

if build && build SAN=1; then
  run_unit build
  run_unit build-san
  CERTMON_BIN="$ROOT/build-san/certmon" CERTMOND_BIN="$ROOT/build-san/certmond" \
    run_pytest system tests/system
  run_browser
  if [ "${QUICK:-0}" != 1 ]; then
    run_fuzz
    run_analysis
    run_valgrind
  fi
fi

echo
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
