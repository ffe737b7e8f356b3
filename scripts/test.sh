#!/usr/bin/env bash
# Installs what is needed, builds certmon twice (release, and ASan+UBSan),
# and runs every test: unit tests on both builds, system tests on the
# sanitizer build. Ends with one summary line "tests: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${TEST_OUTPUT:-$ROOT/test-output}
mkdir -p "$OUT"

./scripts/install-deps.sh || { echo "tests: 0 passed, 1 failed (installing packages)"; exit 1; }

passed=0
failed=0
note() { printf '\n=== %s\n' "$*"; }

build() {
  note "build $*"
  if ! make -j"$(nproc)" "$@" >"$OUT/build$*.log" 2>&1; then
    cat "$OUT/build$*.log"
    failed=$((failed + 1))
    return 1
  fi
}

# cmocka prints "[  PASSED  ] N test(s)." and "[  FAILED  ] N test(s)".
run_unit() {
  local dir=$1 t log
  for t in "$dir"/tests/test_*; do
    [ -x "$t" ] || continue
    note "$t"
    log="$OUT/$(basename "$dir")-$(basename "$t").log"
    "$t" >"$log" 2>&1
    local rc=$?
    cat "$log"
    local p f
    p=$(grep -oE '\[  PASSED  \] [0-9]+' "$log" | awk '{s+=$4} END{print s+0}')
    f=$(grep -oE '\[  FAILED  \] [0-9]+' "$log" | awk '{s+=$4} END{print s+0}')
    passed=$((passed + p))
    failed=$((failed + f))
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then failed=$((failed + 1)); fi
  done
}

run_system() {
  local bin=$1 log="$OUT/system.log"
  note "system tests against $bin"
  CERTMON_BIN="$bin" TEST_OUTPUT="$OUT" \
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/system 2>&1 | tee "$log"
  local p f e
  p=$(grep -oE '[0-9]+ passed' "$log" | tail -1 | awk '{print $1}')
  f=$(grep -oE '[0-9]+ failed' "$log" | tail -1 | awk '{print $1}')
  e=$(grep -oE '[0-9]+ errors?' "$log" | tail -1 | awk '{print $1}')
  passed=$((passed + ${p:-0}))
  failed=$((failed + ${f:-0} + ${e:-0}))
  if [ -z "$p" ] && [ -z "$f" ]; then failed=$((failed + 1)); fi
}

build && run_unit build
build SAN=1 && run_unit build-san && run_system "$ROOT/build-san/certmon"

echo
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
