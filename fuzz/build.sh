#!/usr/bin/env bash
# build.sh [NAME...] - builds the libFuzzer targets fuzz/fuzz_NAME.c (all of
# them by default) into fuzz/build/fuzz_NAME, with ASan and UBSan.
#
# Run one:  ./fuzz/build/fuzz_cert -max_total_time=60 fuzz/corpus/cert
# (fuzz/seeds.sh makes the seed corpora; corpora are not committed).
# EXTRA_CFLAGS adds flags, e.g. EXTRA_CFLAGS=-DFUZZ_ORACLE_X509.
set -euo pipefail

cd "$(dirname "$0")/.."
CC=${CC:-clang}
OUT=${OUT:-fuzz/build}
CFLAGS="-std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
	-Iinclude -Ilib ${EXTRA_CFLAGS:-}"
LIBS="$(pkg-config --cflags --libs openssl libcurl sqlite3 jansson) -lpthread"

if [ $# -eq 0 ]; then
	set -- $(for f in fuzz/fuzz_*.c; do basename "$f" .c; done | sed 's/^fuzz_//')
fi
mkdir -p "$OUT"
for name in "$@"; do
	echo "== fuzz_$name"
	# shellcheck disable=SC2086
	$CC $CFLAGS "fuzz/fuzz_$name.c" lib/*.c $LIBS -o "$OUT/fuzz_$name"
done
