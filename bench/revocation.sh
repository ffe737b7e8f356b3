#!/usr/bin/env bash
# bench/revocation.sh - `certmon revocation run` over N certificates
# (default 10,000) against local `openssl ocsp` responders, side by side in
# one run with
#   - the floor: OpenSSL's OCSP_basic_verify alone on responses captured from
#     the same responders (bench/ocsp_floor.c, the delegated case), and
#   - the shell loop admins write today: `openssl ocsp -issuer CA -cert LEAF
#     -url URL -CAfile CA -resp_text` once per certificate, timed on a sample
#     (default 200) and given per certificate.
#
# The PKI is minted for each run by bench/ocsp_mint.c: an ECDSA P-256 CA, a
# delegated responder certificate (EKU OCSPSigning, nocheck, P-256) and N
# leaves whose AIA OCSP URLs go round-robin to RESPONDERS `openssl ocsp`
# processes (each serves one request at a time; certmon sends at most 4 at a
# time to each host:port). The responders run with `-ndays 1`, so every
# answer has a nextUpdate and is cached.
#
# Each repetition copies a store that holds the CA and the responder (trust
# unit "trust") and the N leaves (unit "leaves"), with Enable OCSP on and
# the AIA as the URI source, then times
#   1. `revocation run --json` - nothing cached: N+1 certificates (the
#      leaves and the responder certificate; the CA is a root: skipped),
#      asked about up to 16 per OCSP request (one issuer, one URL);
#   2. `revocation run --json` again on the same store - all from the cache;
#   3. the floor (ocsp_floor on the captured responses);
#   4. the openssl shell loop on the sample.
# and reports medians. CPU is user + system time of the certmon process (GNU
# time); the responders' CPU is read from /proc/PID/stat before and after
# and reported separately.
#
# usage: bench/revocation.sh [N]
# env:   RESPONDERS  number of openssl ocsp responders (default 4)
#        REPS        repetitions (default 3)
#        SAMPLE      certificates in the openssl-loop sample (default 200)
#        CAPTURE     responses captured for the floor (default 1000)
#        FLOOR_REPS  calls per captured response in the floor (default 5)
#        WORK_DIR    where the PKI and the stores go (default: a temp dir,
#                    removed at exit)
#        CERTMON     certmon binary to use (default: build <repo>/build/certmon;
#                    it is copied into the work dir so that a rebuild during
#                    the run does not change it)
#        PERF_DIR    if set: afterwards, one more uncached and one more cached
#                    run under `perf record --call-graph dwarf`, with the data
#                    and a `perf report` summary kept in that directory
#        CERTMON_REV what to call that binary in the report (default: the
#                    repository's HEAD, or the path given in CERTMON)
# needs: GNU time (/usr/bin/time), openssl, ss (iproute2), python3, cc,
#        pkg-config, libssl-dev
set -euo pipefail

N=${1:-10000}
RESPONDERS=${RESPONDERS:-4}
REPS=${REPS:-3}
SAMPLE=${SAMPLE:-200}
CAPTURE=${CAPTURE:-1000}
FLOOR_REPS=${FLOOR_REPS:-5}
BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH/.." && pwd)

case $N in ''|*[!0-9]*) echo "revocation.sh: N must be a number" >&2; exit 2;; esac
[ -x /usr/bin/time ] || { echo "revocation.sh: needs GNU time: apt-get install time" >&2; exit 1; }
command -v ss > /dev/null || { echo "revocation.sh: needs ss (iproute2)" >&2; exit 1; }

NAME=revocation.sh
# shellcheck source=bench/lib.sh
. "$BENCH/lib.sh"
bench_certmon rev

# --- the PKI and the responders --------------------------------------------
listening() { ss -ltnH "sport = :$1" | grep -q .; }

PORTS=()
URL_ARGS=()
for i in $(seq 1 "$RESPONDERS"); do
	p=$(free_port)
	PORTS+=("$p")
	URL_ARGS+=(--url "http://127.0.0.1:$p/")
done
PKI=$WORK/pki
t0=$(date +%s%N)
"$BENCH/build/ocsp_mint" "$PKI" "$N" "${URL_ARGS[@]}" >&2
log "minted in $(awk -v a="$t0" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }') s"

RPIDS=()
for p in "${PORTS[@]}"; do
	# never probe openssl ocsp's port with a bare connection (it spins on an
	# empty one): wait for it with ss
	openssl ocsp -index "$PKI/index.txt" -port "$p" \
		-rsigner "$PKI/responder.pem" -rkey "$PKI/responder-key.pem" \
		-CA "$PKI/ca.pem" -ndays 1 -ignore_err -timeout 5 \
		< /dev/null > "$WORK/ocsp-$p.log" 2>&1 &
	PIDS+=("$!")
	RPIDS+=("$!")
done
for p in "${PORTS[@]}"; do
	for _ in $(seq 1 300); do listening "$p" && break; sleep 0.05; done
	listening "$p" || { log "revocation.sh: openssl ocsp does not listen on $p"; cat "$WORK/ocsp-$p.log" >&2; exit 1; }
done
log "$RESPONDERS responders on ports ${PORTS[*]}"

# peer_cpu: user + system seconds of all responders so far (measure)
PEERS=responders
peer_cpu() {
	local pid t=0
	for pid in "${RPIDS[@]}"; do
		t=$(( t + $(awk '{ print $14 + $15 }' "/proc/$pid/stat") ))
	done
	awk -v t="$t" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", t / hz }'
}

# --- the store -------------------------------------------------------------
BASE=$WORK/base.db
"$CM" --db "$BASE" unit add trust --trust > /dev/null
"$CM" --db "$BASE" unit add leaves > /dev/null
"$CM" --db "$BASE" cert upload --unit trust "$PKI/ca.pem" "$PKI/responder.pem" > /dev/null
"$CM" --db "$BASE" cert upload --unit leaves "$PKI/certs" > /dev/null
"$CM" --db "$BASE" revocation set --ocsp on --uri-source cert --check on \
	--every 24h --trust-unit trust > /dev/null

# --- samples ---------------------------------------------------------------
# the openssl-loop sample and the capture set: evenly spread over the leaves
# (so over every responder); urls.txt maps each leaf to its URL
spread() {
	local m=$1 step
	step=$(( N / m )); [ "$step" -ge 1 ] || step=1
	awk -v s="$step" -v m="$m" '(NR - 1) % s == 0 && c < m { print; c++ }' "$PKI/urls.txt"
}
spread "$SAMPLE" > "$WORK/sample.txt"
NSAMPLE=$(wc -l < "$WORK/sample.txt")
spread "$CAPTURE" > "$WORK/capture.txt"

# the responses of the floor, captured with the openssl client (untimed)
mkdir -p "$WORK/resp"
log "capturing $(wc -l < "$WORK/capture.txt") responses for the floor ..."
# xargs appends "leaf url n" to: sh -c SCRIPT CA RESPDIR
awk '{ printf "%s %s %06d\n", $1, $2, NR }' "$WORK/capture.txt" |
	xargs -P 2 -n 3 sh -c 'openssl ocsp -issuer "$0" -cert "$2" -url "$3" \
		-respout "$1/$4.der" -noverify -timeout 5 > /dev/null 2>&1' \
		"$PKI/ca.pem" "$WORK/resp"
NCAPTURED=$(find "$WORK/resp" -name '*.der' | wc -l)
log "captured $NCAPTURED responses"

# --- measuring -------------------------------------------------------------

# check_run FILE WANT_CHECKED WANT_CACHED MIN_REQUESTS [MAX_REQUESTS]: the
# run's JSON says what it should (every check good)
check_run() {
	python3 - "$@" <<'EOF'
import json, sys
path, checked, cached, lo = sys.argv[1], *map(int, sys.argv[2:5])
hi = int(sys.argv[5]) if len(sys.argv) > 5 else lo
d = json.load(open(path))
got = (d["checked"], d["from_cache"], d["requests"], d["counts"].get("good"))
want = (checked, cached, min(max(d["requests"], lo), hi), checked)
if got != want:
    sys.exit(f"unexpected run report {path}: checked, from_cache, requests, "
             f"good = {got}, expected {want}; counts {d['counts']}")
print(f"{d['checked']} {d['from_cache']} {d['requests']} {d['counts']['good']}")
EOF
}

openssl_loop() {
	local leaf url
	while read -r leaf url; do
		openssl ocsp -issuer "$2" -cert "$leaf" -url "$url" -CAfile "$2" \
			-resp_text > /dev/null 2>&1 || echo "openssl ocsp failed: $leaf" >&2
	done < "$1"
}
export -f openssl_loop

NCHECK=$(( N + 1 ))     # the leaves and the responder certificate
log "certmon: $CERTMON ($REV); work dir $WORK; $REPS repetitions"
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
for rep in $(seq 1 "$REPS"); do
	log "repetition $rep/$REPS"
	MOUT=$WORK/floor.$rep.txt measure floor "$BENCH/build/ocsp_floor" \
		--ca "$PKI/ca.pem" --reps "$FLOOR_REPS" "$WORK/resp"
	awk '$1 == "verify" { print $5, $7, $13 }' "$WORK/floor.$rep.txt" >> "$WORK/floor_verify.runs"
	awk '$1 == "d2i+verify" { print $5, $7, $13 }' "$WORK/floor.$rep.txt" >> "$WORK/floor_d2i.runs"

	db=$WORK/rep$rep.db
	copy_db "$BASE" "$db"
	MOUT=$WORK/uncached.$rep.json measure uncached "$CM" --db "$db" revocation run --json
	# one request asks about up to 16 certificates of one issuer
	check_run "$WORK/uncached.$rep.json" "$NCHECK" 0 $(( (NCHECK + 15) / 16 )) "$NCHECK" \
		| cut -d' ' -f3 >> "$WORK/requests.runs"
	MOUT=$WORK/cached.$rep.json measure cached "$CM" --db "$db" revocation run --json
	check_run "$WORK/cached.$rep.json" "$NCHECK" "$NCHECK" 0 > /dev/null

	measure loop bash -c 'openssl_loop "$1" "$2"' _ "$WORK/sample.txt" "$PKI/ca.pem"
	if grep -q 'openssl ocsp failed' "$WORK/loop.err"; then
		log "revocation.sh: the openssl loop failed:"; head -3 "$WORK/loop.err" >&2; exit 1
	fi
	rm -f -- "$db" "$db"-wal "$db"-shm
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

# optional profile (not part of the figures): one more uncached and one
# more cached run under perf, data kept in PERF_DIR
PHASES='
import collections, re, sys
phases, subs = sys.argv[1].split(","), sys.argv[2].split(",")
tot, ph, sub, frames = 0, collections.Counter(), collections.Counter(), []
def flush():
    global tot
    if not frames:
        return
    tot += 1
    p = next((x for x in phases if x in frames), "other")
    s = next((x for x in subs if x in frames), "rest")
    ph[p] += 1
    sub[p, s] += 1
for line in sys.stdin:
    if not line.strip():
        flush(); frames = []
    elif line[0] in " \t":
        m = re.match(r"\s+[0-9a-f]+\s+(\S+?)(\+0x[0-9a-f]+)?\s+\(", line)
        if m:
            frames.append(m.group(1))
    else:
        frames = []
flush()
print("samples", tot)
for p, n in ph.most_common():
    print(f"{100 * n / tot:6.1f}% {p}")
    for (q, s), k in sorted(sub.items(), key=lambda x: -x[1]):
        if q == p:
            print(f"          {100 * k / tot:6.1f}% {s}")
'
if [ -n "${PERF_DIR:-}" ]; then
	mkdir -p "$PERF_DIR"
	copy_db "$BASE" "$WORK/perf.db"
	for kind in uncached cached; do
		perf record -q --call-graph dwarf,16384 -F 499 -o "$PERF_DIR/$kind.data" -- \
			"$CM" --db "$WORK/perf.db" revocation run --json > /dev/null 2> "$WORK/perf.err" ||
			{ log "revocation.sh: perf record failed"; cat "$WORK/perf.err" >&2; }
		perf report -i "$PERF_DIR/$kind.data" --children --percent-limit 3 --stdio -g none \
			2> /dev/null | grep -v '^#' | grep -v '^$' | grep -v ' 0x0000' > "$PERF_DIR/$kind.txt" || true
		# where the samples fall: the first phase (function) found on
		# each sample's stack, then the first of the listed callees
		perf script -i "$PERF_DIR/$kind.data" 2> /dev/null | python3 -c "$PHASES" \
			cm_ocsp_request_build_many,cm_ocsp_validate_many,cm_fetch_many,record_job,job_cert,item_cert,load_items,print_report_json \
			decode,X509_verify,EVP_DigestVerifyFinal,ASN1_item_unpack,cm_cert_from_der,sqlite3_prepare_v2,sqlite3_step \
			> "$PERF_DIR/$kind.phases.txt" || true
		log "perf: $PERF_DIR/$kind.data, summaries in $PERF_DIR/$kind.txt and $kind.phases.txt"
	done
fi
REQS=$(cat "$WORK"/ocsp-*.log | grep -c 'Received request' || true)

# --- report ----------------------------------------------------------------

FV=$(median 1 "$WORK/floor_verify.runs"); FV90=$(median 2 "$WORK/floor_verify.runs"); FVC=$(median 3 "$WORK/floor_verify.runs")
FD=$(median 1 "$WORK/floor_d2i.runs"); FD90=$(median 2 "$WORK/floor_d2i.runs"); FDC=$(median 3 "$WORK/floor_d2i.runs")
UW=$(median 1 "$WORK/uncached.runs"); UC=$(median 3 "$WORK/uncached.runs")
read -r _ _ _ _ UU US _ < <(median_row 3 "$WORK/uncached.runs")
UR=$(median 2 "$WORK/uncached.runs" | awk '{ printf "%.0f", $1 / 1024 }')
URC=$(median 7 "$WORK/uncached.runs")
CW=$(median 1 "$WORK/cached.runs"); CC=$(median 3 "$WORK/cached.runs")
read -r _ _ _ _ CU CS _ < <(median_row 3 "$WORK/cached.runs")
CR=$(median 2 "$WORK/cached.runs" | awk '{ printf "%.0f", $1 / 1024 }')
LW=$(median 1 "$WORK/loop.runs"); LC=$(median 3 "$WORK/loop.runs"); LRC=$(median 7 "$WORK/loop.runs")

UREQ=$(median 1 "$WORK/requests.runs")
U_US=$(calc '%.0f' "$UC / $NCHECK * 1e6")
R_FLOOR=$(calc '%.2f' "$U_US / $FV")
R_D2I=$(calc '%.2f' "$U_US / $FD")
U_WALL_US=$(calc '%.0f' "$UW / $NCHECK * 1e6")
L_US=$(calc '%.0f' "$LW / $NSAMPLE * 1e6")

cat <<EOF

### $N certificates, $RESPONDERS responders, medians of $REPS runs ($(date -u +%Y-%m-%d), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), certmon $REV)

| what | wall s | checks/s | wall µs/check | certmon CPU s (user + sys) | CPU µs/check | vs floor | responders' CPU s (µs/request) | peak RSS MB |
|---|---:|---:|---:|---:|---:|---:|---:|---:|
| \`revocation run\`, nothing cached ($NCHECK checks, $UREQ requests) | $UW | $(calc '%.0f' "$NCHECK / $UW") | $U_WALL_US | $UC ($UU + $US) | **$U_US** | **${R_FLOOR}×** (${R_D2I}× d2i + verify) | $URC ($(calc '%.0f' "$URC / $UREQ * 1e6")) | $UR |
| \`revocation run\`, all from the cache ($NCHECK checks, 0 requests) | **$CW** | $(calc '%.0f' "$NCHECK / $CW") | $(calc '%.0f' "$CW / $NCHECK * 1e6") | $CC ($CU + $CS) | $(calc '%.0f' "$CC / $NCHECK * 1e6") | – | – | $CR |
| floor: \`OCSP_basic_verify\`, decoded once ($NCAPTURED responses × $FLOOR_REPS) | – | – | – | – | **$FV** median (p90 $FV90; CPU/call $FVC) | 1.00× | – | – |
| floor: \`d2i\` + \`OCSP_basic_verify\` | – | – | – | – | $FD median (p90 $FD90; CPU/call $FDC) | $(calc '%.2f' "$FD / $FV")× | – | – |
| \`openssl ocsp -resp_text\` shell loop, $NSAMPLE-certificate sample | $LW | $(calc '%.1f' "$NSAMPLE / $LW") | $L_US | $LC | $(calc '%.0f' "$LC / $NSAMPLE * 1e6") | $(calc '%.0f' "$LC / $NSAMPLE * 1e6 / $FV")× | $LRC ($(calc '%.0f' "$LRC / $NSAMPLE * 1e6")) | – |

| target | measured | verdict |
|---|---|---|
| CPU per uncached check ≤ 2× the floor (\`OCSP_basic_verify\` alone) | $U_US µs = ${R_FLOOR}× $FV µs | $(verdict_le "$R_FLOOR" 2) |
| a fully cached run of $NCHECK < 0.2 s | $CW s wall ($CC s CPU) | $(verdict_lt "$CW" 0.2) |

Runs (wall s): uncached: $(runs "$WORK/uncached.runs"); cached: $(runs "$WORK/cached.runs"); openssl loop: $(runs "$WORK/loop.runs").
Runs (certmon CPU s): uncached: $(runs "$WORK/uncached.runs" 3); cached: $(runs "$WORK/cached.runs" 3); responders during the uncached runs: $(runs "$WORK/uncached.runs" 7).
Floor medians per run (µs): verify $(runs "$WORK/floor_verify.runs"); d2i + verify $(runs "$WORK/floor_d2i.runs").
Per certificate, certmon's uncached run takes $U_WALL_US µs of wall time against $L_US µs for the shell loop ($(calc '%.0f' "$L_US / $U_WALL_US")×).
Requests logged by the responders over the whole script: $REQS (captures and loops included).
Medians per column; the user + sys split is that of the run with the median CPU.
Load average (1/5/15 min) at the start: $LOAD_START; at the end: $LOAD_END; before each run: uncached $(runs "$WORK/uncached.runs" 4); cached $(runs "$WORK/cached.runs" 4).
EOF
