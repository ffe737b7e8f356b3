#!/usr/bin/env bash
# The cost of certmon's TLS hook per handshake, in process (see
# bench/tls_hook.c for the cases and docs/BENCHMARKS.md for the method).
# Builds the release libcertmon, links bench/tls_hook.c against it and
# runs it: N handshakes per case (default 10000). Exits non-zero when a
# target is missed.
#
#   bench/tls_hook.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-10000}

make -s -j"$(nproc)" build/libcertmon.a >/dev/null
mkdir -p bench/build
# shellcheck disable=SC2046 # pkg-config output is a list of flags
cc -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -Iinclude \
    -o bench/build/tls_hook bench/tls_hook.c build/libcertmon.a \
    $(pkg-config --libs openssl libcurl sqlite3 jansson) -lpthread

echo "== $(date -u +%Y-%m-%dT%H:%M:%SZ) $(uname -m), $(nproc) CPUs, $(openssl version)"
echo "== $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
bench/build/tls_hook "$N"
