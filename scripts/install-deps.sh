#!/usr/bin/env bash
# Installs the Debian 12 packages certmon needs to build and to test, and
# the npm packages of the browser tests. Uses sudo only when not root;
# skips apt-get when everything is there.
#   --build-only   only what building certmon needs
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=(
  build-essential pkg-config openssl
  libssl-dev libcurl4-openssl-dev libsqlite3-dev libmicrohttpd-dev
  libjansson-dev
)
TEST=(
  libcmocka-dev sqlite3 python3 python3-pytest python3-aiosmtpd
  python3-cryptography           # a one-CertID OCSP parser (RFC 5019)
  python3-jsonschema python3-yaml faketime iproute2 procps time
  prometheus                     # promtool checks /metrics
  wrk bc                         # the daemon benchmark (bench/daemon.sh)
  chromium nodejs npm            # the web admin in a real browser
  clang libclang-rt-14-dev       # libFuzzer
  clang-tidy cppcheck valgrind   # static and dynamic analysis
)
PACKAGES=("${BUILD[@]}")
if [ "${1:-}" != "--build-only" ]; then PACKAGES+=("${TEST[@]}"); fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$p")
done
# a node from elsewhere (e.g. the machine image) is fine for the tests
if command -v node >/dev/null && command -v npm >/dev/null; then
  tmp=()
  for p in "${missing[@]}"; do
    case "$p" in nodejs|npm) ;; *) tmp+=("$p") ;; esac
  done
  missing=("${tmp[@]+"${tmp[@]}"}")
fi
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  echo "installing: ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
    --no-install-recommends "${missing[@]}" >/dev/null
fi
if [ "${1:-}" != "--build-only" ] && [ ! -d tests/browser/node_modules/playwright-core ]; then
  (cd tests/browser && { npm ci --no-audit --no-fund --loglevel=error ||
    npm install --no-audit --no-fund --loglevel=error; }) >&2
fi
