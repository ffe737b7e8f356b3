#!/usr/bin/env bash
# Runs the browser tests of the web admin: a real certmond (CERTMOND_BIN,
# default build/certmond) and certmon (CERTMON_BIN, default build/certmon) on
# loopback, driven in Debian's chromium (CHROMIUM, default /usr/bin/chromium)
# with playwright-core. Screenshots go to $TEST_OUTPUT/screenshots (default
# test-output/screenshots). Starts nothing itself: each test file starts its
# own daemon. Ends with node's test summary (ℹ tests / pass / fail).
set -uo pipefail
cd "$(dirname "$0")"
if [ ! -d node_modules/playwright-core ]; then
  npm ci --no-audit --no-fund --loglevel=error || npm install --no-audit --no-fund --loglevel=error || exit 1
fi
# one test file at a time (each drives its own daemon and browser); older
# Node versions without the option run them one by one anyway on 2 cores
conc=""
if node --help 2>/dev/null | grep -q -- '--test-concurrency'; then conc="--test-concurrency=1"; fi
exec node --test $conc --test-reporter=spec ./*.test.mjs
