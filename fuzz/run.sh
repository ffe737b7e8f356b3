#!/usr/bin/env bash
# run.sh SECONDS [NAME...] - builds every fuzz target (fuzz/build.sh), makes
# the seed corpora from real objects (fuzz/seeds.sh), and runs each target
# for SECONDS. Prints one line per target: runs, execs/s, coverage, crashes.
# Exits non-zero when a target crashed, leaked or failed one of its checks;
# the crashing input is kept as fuzz/crash-NAME-* to become a regression test.
set -uo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:?usage: fuzz/run.sh SECONDS [NAME...]}
shift
OUT=${OUT:-fuzz/build}
./fuzz/build.sh "$@" >/dev/null || { echo "fuzz: build failed"; exit 1; }
./fuzz/seeds.sh >/dev/null || { echo "fuzz: seeds failed"; exit 1; }
if [ $# -eq 0 ]; then
	set -- $(for f in fuzz/fuzz_*.c; do basename "$f" .c; done | sed 's/^fuzz_//')
fi
failed=0
for name in "$@"; do
	corpus=fuzz/corpus/$name
	mkdir -p "$corpus"
	log=$(mktemp)
	"$OUT/fuzz_$name" -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 \
	    -timeout=10 -artifact_prefix="fuzz/crash-$name-" -print_final_stats=1 \
	    "$corpus" >"$log" 2>&1
	rc=$?
	runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$')
	speed=$(grep -oE 'stat::average_exec_per_sec: *[0-9]+' "$log" | grep -oE '[0-9]+$')
	cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+')
	ft=$(grep -oE 'ft: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+')
	crashes=0
	if [ $rc -ne 0 ]; then
		crashes=1
		failed=1
		grep -E 'ERROR|SUMMARY|==[0-9]+==' "$log" | head -5
	fi
	printf 'fuzz_%-10s %ss  runs %s  %s exec/s  cov %s  ft %s  crashes %s\n' \
	    "$name" "$SECONDS_EACH" "${runs:-?}" "${speed:-?}" "${cov:-?}" \
	    "${ft:-?}" "$crashes"
	rm -f "$log"
done
exit $failed
