#!/usr/bin/env bash
# Installs the Debian 12 packages certmon needs to build and to test.
# Uses sudo only when not root; skips apt-get when everything is there.
set -euo pipefail

PACKAGES=(
  build-essential pkg-config openssl
  libssl-dev libcurl4-openssl-dev libsqlite3-dev libmicrohttpd-dev
  libjansson-dev libcmocka-dev
  sqlite3 python3 python3-pytest python3-aiosmtpd faketime
  iproute2 procps time
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "installing: ${missing[*]}" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
