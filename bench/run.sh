#!/usr/bin/env bash
# bench/run.sh - runs the import/list benchmark (bench/import.sh; the TLS
# hook benchmark is bench/tls_hook.sh). Debian packages it needs (for the
# install script): time (GNU /usr/bin/time, for peak RSS), openssl,
# libssl-dev, pkg-config, build-essential (cc, make), plus the project's own
# build dependencies; optional: python3 (checks the JSON count), linux-perf
# and valgrind (profiling only).
#
# usage: bench/run.sh [N]      (N certificates, default 100000)
# Set BENCH_DIR=/var/tmp/certmon-bench to keep the minted fixtures between
# runs; see bench/import.sh for the other knobs (REPS, SAMPLE, THREADS).
set -euo pipefail
exec "$(dirname "${BASH_SOURCE[0]}")/import.sh" "$@"
