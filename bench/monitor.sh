#!/usr/bin/env bash
# bench/monitor.sh - one run of the Certificate Expiry Monitor (`certmon
# monitor run --json`) over a store of N certificates (default 100,000;
# about 10% expire within 30 days), with e-mail notification on and a real
# local SMTP server (tests/system/smtpd.py, aiosmtpd) that stores what it
# receives.
#
# The store is built once (import of the bench/mint fixtures into unit
# "servers", Start Time 30 days, E-mail on, one E-mail ID, SMTP plain on
# 127.0.0.1). Every run records notices, so each repetition works on a fresh
# copy of that store and times, in this order:
#   1. `monitor run --dry-run --json`  - what a run would notify (records
#                                        nothing, sends nothing);
#   2. `monitor run --json`            - the real run: notices recorded, one
#                                        message composed, queued and
#                                        delivered to the SMTP server;
#   3. `monitor run --json` again      - right after: nothing is due.
# and checks that run 2 notified the due certificates, reported "sent" and
# that the SMTP server received exactly one message (its size is reported),
# and that run 3 sent nothing. CPU is user + system time of certmon (GNU
# time); the SMTP server's CPU is read from /proc/PID/stat and reported
# separately.
#
# usage: bench/monitor.sh [N]
# env:   BENCH_DIR  where the fixtures live (as in bench/import.sh: set it to
#                   reuse BENCH_DIR/nN; default: a temp dir, removed at exit)
#        WORK_DIR   where the stores are created (default: a temp dir)
#        REPS       repetitions (default 3)
#        THREADS    threads for minting (default 2)
#        CERTMON    certmon binary (default: build <repo>/build/certmon; it is
#                   copied into the work dir)
#        CERTMON_REV what to call that binary in the report
#        PERF_DIR   if set: afterwards, one more real run under `perf record
#                   --call-graph dwarf`, data and a summary kept there
# needs: GNU time (/usr/bin/time), /usr/bin/python3 with aiosmtpd (Debian
#        python3-aiosmtpd), ss (iproute2), openssl, cc, pkg-config, libssl-dev
set -euo pipefail

N=${1:-100000}
REPS=${REPS:-3}
THREADS=${THREADS:-2}
PY=/usr/bin/python3
BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH/.." && pwd)
EMAIL=ops@example.com

case $N in ''|*[!0-9]*) echo "monitor.sh: N must be a number" >&2; exit 2;; esac
[ -x /usr/bin/time ] || { echo "monitor.sh: needs GNU time: apt-get install time" >&2; exit 1; }
"$PY" -c 'import aiosmtpd' 2> /dev/null || { echo "monitor.sh: needs $PY with aiosmtpd (python3-aiosmtpd)" >&2; exit 1; }

NAME=monitor.sh
# shellcheck source=bench/lib.sh
. "$BENCH/lib.sh"
bench_certmon mon

# --- fixtures (as bench/import.sh) -----------------------------------------
bench_fixtures

# --- the SMTP server ---------------------------------------------------------
PORT=$(free_port)
MAILDIR=$WORK/mail
"$PY" "$ROOT/tests/system/smtpd.py" --port "$PORT" --maildir "$MAILDIR" \
	< /dev/null > "$WORK/smtpd.log" 2>&1 &
SMTPD=$!
PIDS+=("$SMTPD")
for _ in $(seq 1 300); do ss -ltnH "sport = :$PORT" | grep -q . && break; sleep 0.05; done
ss -ltnH "sport = :$PORT" | grep -q . || { log "monitor.sh: smtpd does not listen"; cat "$WORK/smtpd.log" >&2; exit 1; }
PEERS=smtpd
peer_cpu() {
	awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$SMTPD/stat"
}
messages() { find "$MAILDIR" -maxdepth 1 -name '[0-9]*.json' | wc -l; }

# --- the store -------------------------------------------------------------
BASE=$WORK/base.db
log "importing $N certificates into $BASE ..."
"$CM" --db "$BASE" unit add servers > /dev/null
t0=$(date +%s%N)
"$CM" --db "$BASE" cert upload --unit servers "$CERTS" > /dev/null
IMPORT_S=$(awk -v a="$t0" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')
"$CM" --db "$BASE" monitor set --start-days 30 --email on --emails "$EMAIL" > /dev/null
"$CM" --db "$BASE" smtp set --host 127.0.0.1 --port "$PORT" --tls none \
	--from certmon@example.com > /dev/null
DB_MB=$(du -k "$BASE"* | awk '{ s += $1 } END { printf "%.0f", s / 1024 }')
log "imported in $IMPORT_S s; store $DB_MB MB"

# --- measuring -------------------------------------------------------------

# summary FILE: "notified expiring critical expired mail alarms"
summary() {
	python3 - "$1" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
c = d["counts"]
print(len(d["notified"]), c["expiring"], c["critical"], c["expired"],
      d["mail"], d["alarms"])
EOF
}

# newest_message_bytes: size of the newest stored message (its raw bytes)
newest_message_bytes() {
	python3 - "$MAILDIR" <<'EOF'
import base64, json, pathlib, sys
f = sorted(pathlib.Path(sys.argv[1]).glob("[0-9]*.json"))[-1]
rec = json.loads(f.read_text())
raw = base64.b64decode(rec["data_b64"])
print(len(raw), len(rec["rcpt_tos"]))
EOF
}

log "certmon: $CERTMON ($REV); work dir $WORK; $REPS repetitions"
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
for rep in $(seq 1 "$REPS"); do
	log "repetition $rep/$REPS"
	db=$WORK/rep$rep.db
	copy_db "$BASE" "$db"

	MOUT=$WORK/dry.$rep.json measure dry "$CM" --db "$db" monitor run --dry-run --json
	read -r dn _ _ _ _ _ < <(summary "$WORK/dry.$rep.json")

	before=$(messages)
	MOUT=$WORK/run.$rep.json measure run "$CM" --db "$db" monitor run --json
	read -r rn rexp rcrit rexpd rmail ralarms < <(summary "$WORK/run.$rep.json")
	after=$(messages)
	got=$(( after - before ))
	read -r bytes rcpts < <(newest_message_bytes)
	echo "$rn $rexp $rcrit $rexpd $rmail $ralarms $got $bytes $rcpts $dn" >> "$WORK/run.facts"
	[ "$rmail" = sent ] || { log "monitor.sh: the run's mail is '$rmail', not 'sent'"; exit 1; }
	[ "$got" -eq 1 ] || { log "monitor.sh: the SMTP server received $got messages, not 1"; exit 1; }
	[ "$rn" -eq "$dn" ] || log "WARNING: the dry run listed $dn certificates, the run notified $rn"

	before=$(messages)
	MOUT=$WORK/again.$rep.json measure again "$CM" --db "$db" monitor run --json
	read -r an _ _ _ amail _ < <(summary "$WORK/again.$rep.json")
	agot=$(( $(messages) - before ))
	echo "$an $amail $agot" >> "$WORK/again.facts"
	rm -f -- "$db" "$db"-wal "$db"-shm
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

if [ -n "${PERF_DIR:-}" ]; then
	mkdir -p "$PERF_DIR"
	copy_db "$BASE" "$WORK/perf.db"
	perf record -q --call-graph dwarf,16384 -F 999 -o "$PERF_DIR/monitor.data" -- \
		"$CM" --db "$WORK/perf.db" monitor run --json > /dev/null 2> "$WORK/perf.err" ||
		{ log "monitor.sh: perf record failed"; cat "$WORK/perf.err" >&2; }
	perf report -i "$PERF_DIR/monitor.data" --children --percent-limit 3 --stdio -g none \
		2> /dev/null | grep -v '^#' | grep -v '^$' | grep -v ' 0x0000' > "$PERF_DIR/monitor.txt" || true
	log "perf: $PERF_DIR/monitor.data, summary in $PERF_DIR/monitor.txt"
fi

# --- report ----------------------------------------------------------------
mb() { median 2 "$WORK/$1.runs" | awk '{ printf "%.0f", $1 / 1024 }'; }
split() { median_row 3 "$WORK/$1.runs" | awk '{ printf "%s + %s", $5, $6 }'; }

RW=$(median 1 "$WORK/run.runs"); RC=$(median 3 "$WORK/run.runs")
DW=$(median 1 "$WORK/dry.runs"); DC=$(median 3 "$WORK/dry.runs")
AW=$(median 1 "$WORK/again.runs"); AC=$(median 3 "$WORK/again.runs")
read -r NOTIFIED NEXP NCRIT NEXPD _ NALARMS _ BYTES RCPTS _ < <(median_row 1 "$WORK/run.facts")
MSGS=$(runs "$WORK/run.facts" 7)
ALL_ONE=$(awk '$7 != 1 { bad = 1 } END { print bad ? "FAIL" : "PASS" }' "$WORK/run.facts")
AGAIN_N=$(runs "$WORK/again.facts" 1); AGAIN_MAIL=$(runs "$WORK/again.facts" 2); AGAIN_MSGS=$(runs "$WORK/again.facts" 3)

cat <<EOF

### $N certificates, medians of $REPS runs ($(date -u +%Y-%m-%d), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), certmon $REV)

| what | wall s | certmon CPU s (user + sys) | peak RSS MB | notified | mail | messages received | SMTP server CPU s |
|---|---:|---:|---:|---:|---|---:|---:|
| \`monitor run --dry-run --json\` | $DW | $DC ($(split dry)) | $(mb dry) | $(runs "$WORK/run.facts" 10) | – | – | $(median 7 "$WORK/dry.runs") |
| **\`monitor run --json\`** (notices recorded, mail delivered) | $RW | **$RC** ($(split run)) | $(mb run) | $NOTIFIED ($NEXP expiring, $NCRIT critical, $NEXPD expired) | sent | $MSGS ($BYTES bytes, $RCPTS recipient) | $(median 7 "$WORK/run.runs") |
| \`monitor run --json\` again at once (nothing due) | $AW | $AC ($(split again)) | $(mb again) | $AGAIN_N | $AGAIN_MAIL | $AGAIN_MSGS | $(median 7 "$WORK/again.runs") |

| target | measured | verdict |
|---|---|---|
| a run over $N certificates (~10% due) takes < 0.5 s of CPU | $RC s CPU (median; runs: $(runs "$WORK/run.runs" 3)) | $(verdict_lt "$RC" 0.5) |
| ... and builds one message | $MSGS message(s) received per run, $BYTES bytes, $NOTIFIED certificates listed | $ALL_ONE |

Runs (wall s): dry run: $(runs "$WORK/dry.runs"); run: $(runs "$WORK/run.runs"); again: $(runs "$WORK/again.runs").
Runs (CPU s): dry run: $(runs "$WORK/dry.runs" 3); run: $(runs "$WORK/run.runs" 3); again: $(runs "$WORK/again.runs" 3).
Alarms raised by the run: $NALARMS (CertValidLessthanADay / CertExpired). Store: $N certificates in unit "servers", $DB_MB MB; import (setup, untimed in the table) $IMPORT_S s.
Medians per column; the user + sys split is that of the run with the median CPU.
Load average (1/5/15 min) at the start: $LOAD_START; at the end: $LOAD_END; before each run: $(runs "$WORK/run.runs" 4).
EOF
