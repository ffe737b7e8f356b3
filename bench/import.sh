#!/usr/bin/env bash
# bench/import.sh - import N distinct PEM certificates (default 100,000) into
# a new store and `cert list --json` them, side by side in one run with
#   - the floor: the same files only parsed by OpenSSL (bench/floor.c:
#     read + PEM decode + d2i_X509 + SHA-256 + notAfter, no store), and
#   - the shell loop admins write today: `openssl x509 -noout -enddate
#     -checkend 0` once per file, timed on a sample (default 1,000 files)
#     and given per certificate.
# Every measurement is repeated REPS times (interleaved) and the median is
# reported, with wall-clock time and peak RSS (GNU time's %M).
#
# usage: bench/import.sh [N]
# env:   BENCH_DIR  where the fixtures live; set it to keep them and reuse
#                   them in later runs (default: a temp dir, removed at exit)
#        WORK_DIR   where the stores are created (default: a temp dir on the
#                   same file system as TMPDIR, removed at exit)
#        REPS       repetitions (default 3)
#        SAMPLE     files in the openssl-loop sample (default 1000)
#        THREADS    threads for the floor (default 2)
#        CERTMON    certmon binary to use (default: build <repo>/build/certmon)
# needs: GNU time (/usr/bin/time, Debian package `time`), openssl, cc,
#        pkg-config, libssl-dev; python3 (optional, to check the JSON count)
set -euo pipefail

N=${1:-100000}
REPS=${REPS:-3}
SAMPLE=${SAMPLE:-1000}
THREADS=${THREADS:-2}
BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH/.." && pwd)

case $N in ''|*[!0-9]*) echo "import.sh: N must be a number" >&2; exit 2;; esac
[ -x /usr/bin/time ] || { echo "import.sh: needs GNU time: apt-get install time" >&2; exit 1; }

NAME=import.sh
# shellcheck source=bench/lib.sh
. "$BENCH/lib.sh"
bench_certmon import
FLOOR=$BENCH/build/floor

# --- fixtures --------------------------------------------------------------
bench_fixtures

# the openssl-loop sample: every (N/SAMPLE)-th file, spread over the set
find "$CERTS" -maxdepth 1 -type f -name '*.pem' | sort > "$WORK/all.txt"
step=$(( N / SAMPLE )); [ "$step" -ge 1 ] || step=1
awk -v s="$step" -v m="$SAMPLE" '(NR - 1) % s == 0 && c < m { print; c++ }' \
	"$WORK/all.txt" > "$WORK/sample.txt"
NSAMPLE=$(wc -l < "$WORK/sample.txt")

openssl_loop() {
	local f
	while IFS= read -r f; do
		# an expired file (old reused fixtures) makes -checkend exit 1
		openssl x509 -noout -enddate -checkend 0 -in "$f" > /dev/null || true
	done < "$1"
}
export -f openssl_loop

count_json() {
	if command -v python3 > /dev/null; then
		python3 -c '
import json, sys
d = json.load(sys.stdin)
if isinstance(d, dict):
    d = next((v for v in d.values() if isinstance(v, list)), [])
print(len(d))' < "$1"
	else
		grep -o '"fingerprint"' "$1" | wc -l
	fi
}

log "certmon: $CERTMON ($REV); store in $WORK; $REPS repetitions"
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
for rep in $(seq 1 "$REPS"); do
	log "repetition $rep/$REPS"
	measure floor1 "$FLOOR" "$CERTS" --threads 1
	measure floor2 "$FLOOR" "$CERTS" --threads "$THREADS"
	measure floor2ctx "$FLOOR" "$CERTS" --threads "$THREADS" --libctx-per-thread
	measure floor2proc "$FLOOR" "$CERTS" --procs "$THREADS" --threads 1

	db=$WORK/rep$rep.db
	rm -f -- "$db" "$db"-wal "$db"-shm "$db"-journal
	"$CM" --db "$db" unit add bench --trust > /dev/null
	measure import "$CM" --db "$db" cert upload --unit bench "$CERTS"
	measure list "$CM" --db "$db" cert list --json

	measure loop bash -c 'openssl_loop "$1"' _ "$WORK/sample.txt"
	if [ "$rep" -lt "$REPS" ]; then
		rm -f -- "$db" "$db"-wal "$db"-shm "$db"-journal
	fi
done

# check what the store holds (untimed)
MOUT=$WORK/list.json measure listcheck "$CM" --db "$db" cert list --json
COUNT=$(count_json "$WORK/list.json")
DB_MB=$(du -k "$db"* | awk '{ s += $1 } END { printf "%.1f", s / 1024 }')
[ "$COUNT" -eq "$N" ] || log "WARNING: the store lists $COUNT certificates, expected $N"

LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

# --- report ----------------------------------------------------------------
mw() { median 1 "$WORK/$1.runs"; }
mr() { median 2 "$WORK/$1.runs" | awk '{ printf "%.0f", $1 / 1024 }'; }
mc() { median 3 "$WORK/$1.runs"; }
# CPU microseconds per certificate: median CPU s of NAME over COUNT certs
cus() { awk -v t="$(mc "$1")" -v n="$2" 'BEGIN { printf "%.0f", t / n * 1e6 }'; }
rate() { awk -v n="$1" -v t="$2" 'BEGIN { printf "%.0f", n / t }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

F1=$(mw floor1); F2=$(mw floor2); FC=$(mw floor2ctx); FP=$(mw floor2proc)
IM=$(mw import); LI=$(mw list); LO=$(mw loop)
LOOP_US=$(awk -v t="$LO" -v n="$NSAMPLE" 'BEGIN { printf "%.0f", t / n * 1e6 }')
R_CTX=$(ratio "$IM" "$FC"); R_2=$(ratio "$IM" "$F2")
IM_RSS=$(mr import); LI_RSS=$(mr list)

cat <<EOF

### $N certificates, medians of $REPS runs ($(date -u +%Y-%m-%d), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'))

| what | wall s | certs/s | wall vs 2-core floor | CPU s | CPU µs/cert | peak RSS MB |
|---|---:|---:|---:|---:|---:|---:|
| floor, 1 thread | $F1 | $(rate "$N" "$F1") | $(ratio "$F1" "$FC")× | $(mc floor1) | $(cus floor1 "$N") | $(mr floor1) |
| floor, $THREADS threads, one shared OpenSSL library context | $F2 | $(rate "$N" "$F2") | $(ratio "$F2" "$FC")× | $(mc floor2) | $(cus floor2 "$N") | $(mr floor2) |
| **floor, $THREADS threads, one library context per thread (the 2-core floor)** | $FC | $(rate "$N" "$FC") | 1.00× | $(mc floor2ctx) | $(cus floor2ctx "$N") | $(mr floor2ctx) |
| floor, $THREADS processes (RSS: the largest one) | $FP | $(rate "$N" "$FP") | $(ratio "$FP" "$FC")× | $(mc floor2proc) | $(cus floor2proc "$N") | $(mr floor2proc) |
| \`certmon cert upload\` (import into a new store) | $IM | $(rate "$N" "$IM") | **${R_CTX}×** (${R_2}× the shared-context floor) | $(mc import) | $(cus import "$N") | $IM_RSS |
| \`certmon cert list --json\` | $LI | $(rate "$N" "$LI") | – | $(mc list) | $(cus list "$N") | $LI_RSS |
| openssl x509 shell loop, $NSAMPLE-file sample | $LO | $(rate "$NSAMPLE" "$LO") ($LOOP_US µs/cert) | $(awk -v a="$LO" -v n="$NSAMPLE" -v f="$FC" -v m="$N" 'BEGIN { printf "%.0f", (a / n) / (f / m) }')× per cert | $(mc loop) | $(cus loop "$NSAMPLE") | $(mr loop) |

| target | measured | verdict |
|---|---|---|
| import within 1.5× of the 2-core floor | ${R_CTX}× | $(verdict_le "$R_CTX" 1.5) |
| import within 1.5× of the shared-context 2-thread floor | ${R_2}× | $(verdict_le "$R_2" 1.5) |
| list of $N < 1 s | $LI s | $(verdict_lt "$LI" 1) |
| peak RSS < 200 MB (import) | $IM_RSS MB | $(verdict_lt "$IM_RSS" 200) |
| peak RSS < 200 MB (list) | $LI_RSS MB | $(verdict_lt "$LI_RSS" 200) |

Runs (wall s): floor 1 thread: $(runs "$WORK/floor1.runs"); floor $THREADS threads: $(runs "$WORK/floor2.runs");
floor $THREADS threads, libctx per thread: $(runs "$WORK/floor2ctx.runs"); floor $THREADS processes: $(runs "$WORK/floor2proc.runs");
import: $(runs "$WORK/import.runs"); list: $(runs "$WORK/list.runs"); openssl loop: $(runs "$WORK/loop.runs").
Store after import: $COUNT certificates listed, $DB_MB MB on disk (with WAL).
Files in the page cache (warm) for every contender. Load average (1/5/15 min) at the start: $LOAD_START; at the end: $LOAD_END.
Medians per column (wall, CPU and RSS medians are taken separately).
EOF
