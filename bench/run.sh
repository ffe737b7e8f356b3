#!/usr/bin/env bash
# bench/run.sh - runs the benchmarks. Debian packages they need (for the
# install script): time (GNU /usr/bin/time for peak RSS), openssl,
# libssl-dev, pkg-config, build-essential (cc, make); optional: python3
# (checks the JSON count), linux-perf and valgrind (profiling only).
#
# usage: bench/run.sh [N]      (N certificates, default 100000)
# Set BENCH_DIR=/var/tmp/certmon-bench to keep the minted fixtures between
# runs; see bench/import.sh for the other knobs (REPS, SAMPLE, THREADS).
set -euo pipefail
exec "$(dirname "${BASH_SOURCE[0]}")/import.sh" "$@"
