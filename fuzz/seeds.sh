#!/usr/bin/env bash
# seeds.sh - makes the seed corpus fuzz/corpus/cert/ of fuzz_cert from the
# unit-test fixtures (tests/fixtures/mkcerts.sh). Corpora are generated,
# never committed.
set -euo pipefail

cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

bash tests/fixtures/mkcerts.sh "$tmp" >/dev/null
mkdir -p fuzz/corpus/cert
for f in "$tmp"/*.pem "$tmp"/*.der "$tmp"/*.p7b "$tmp"/*.p12 "$tmp"/*.bin \
    "$tmp"/*.key; do
	[ -s "$f" ] || continue
	cp "$f" "fuzz/corpus/cert/$(basename "$f")"
done
echo "fuzz/corpus/cert: $(ls fuzz/corpus/cert | wc -l) seeds"
