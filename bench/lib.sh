# bench/lib.sh - what the benchmark scripts share: messages, the cleanup of
# work directories and child processes, the certmon binary under test and
# its name in the report, copying a store, timing a command, and the
# medians of the report. Sourced (bash) by bench/import.sh,
# bench/monitor.sh and bench/revocation.sh after they set
#   NAME   the script's name, for messages ("monitor.sh")
#   BENCH  the bench/ directory, ROOT the repository
# and before anything is started (it sets the EXIT trap).

log() { printf '%s\n' "$*" >&2; }

# Removed (CLEANUP: directories) and killed (PIDS: processes) at exit.
CLEANUP=()
PIDS=()
cleanup() {
	local p d
	for p in "${PIDS[@]}"; do kill "$p" 2> /dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2> /dev/null || true; done
	for d in "${CLEANUP[@]}"; do rm -rf -- "$d"; done
}
trap cleanup EXIT

# bench_certmon PREFIX: builds bench/ and, unless CERTMON names a binary,
# build/certmon; makes the work directory WORK (in WORK_DIR, or TMPDIR as
# certmon-PREFIX.*; removed at exit); copies the binary to CM (a rebuild
# during the run does not change it) and names it in REV: CERTMON_REV,
# else the commit (and whether lib/, cli/ or include/ hold uncommitted
# changes), else the path given.
bench_certmon() {
	make -s -C "$BENCH" >&2
	if [ -z "${CERTMON:-}" ]; then
		make -s -C "$ROOT" build/certmon >&2
		CERTMON=$ROOT/build/certmon
	fi
	if [ -n "${WORK_DIR:-}" ]; then
		mkdir -p "$WORK_DIR"
		WORK=$(mktemp -d "$WORK_DIR/$1.XXXXXX")
	else
		WORK=$(mktemp -d "${TMPDIR:-/tmp}/certmon-$1.XXXXXX")
	fi
	CLEANUP+=("$WORK")
	cp "$CERTMON" "$WORK/certmon"
	CM=$WORK/certmon
	if [ -n "${CERTMON_REV:-}" ]; then
		REV=$CERTMON_REV
	elif [ "$CERTMON" = "$ROOT/build/certmon" ]; then
		REV=$(git -C "$ROOT" rev-parse --short HEAD 2> /dev/null || echo unknown)
		if [ -n "$(git -C "$ROOT" status --porcelain -- lib cli include 2> /dev/null)" ]; then
			REV="$REV + uncommitted changes in lib/cli/include"
		fi
	else
		REV=$CERTMON
	fi
}

# bench_fixtures: N distinct certificates (bench/mint, THREADS threads)
# in CERTS, inside FIX: BENCH_DIR/nN when BENCH_DIR is set (kept, and
# reused by later runs with the same N), else a temporary directory
# removed at exit.
bench_fixtures() {
	if [ -n "${BENCH_DIR:-}" ]; then
		mkdir -p "$BENCH_DIR"
		FIX=$(cd "$BENCH_DIR" && pwd)/n$N
	else
		FIX=$(mktemp -d "${TMPDIR:-/tmp}/certmon-bench.XXXXXX")/n$N
		CLEANUP+=("$(dirname "$FIX")")
	fi
	CERTS=$FIX/certs
	if [ -f "$FIX/.complete" ] && [ "$(find "$CERTS" -maxdepth 1 -type f | wc -l)" -eq "$N" ]; then
		log "reusing $N certificates in $CERTS (minted $(cat "$FIX/.complete"))"
	else
		rm -rf -- "$FIX"
		mkdir -p "$FIX"
		log "minting $N certificates into $CERTS ..."
		"$BENCH/build/mint" "$CERTS" "$N" --threads "$THREADS" --ca-dir "$FIX" >&2
		date -u +%Y-%m-%dT%H:%M:%SZ > "$FIX/.complete"
	fi
}

# copy_db SRC DST: the SQLite store SRC (with its -wal and -shm) as DST
copy_db() {
	local f
	rm -f -- "$2" "$2"-wal "$2"-shm "$2"-journal
	for f in "$1" "$1"-wal "$1"-shm; do
		[ -e "$f" ] && cp -- "$f" "$2${f#"$1"}"
	done
	return 0
}

free_port() {
	python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# measure NAME CMD...: runs CMD (stdout to $MOUT, default /dev/null; stderr
# to $WORK/NAME.err; a failure ends the script) and appends "wall_s rss_kb
# cpu_s load1_before user_s sys_s peer_cpu_s" to $WORK/NAME.runs. When
# CMD talks to servers, the script sets PEERS to what to call them and
# defines peer_cpu, their CPU seconds so far.
MOUT=/dev/null
PEERS=
peer_cpu() { echo 0; }
measure() {
	local name=$1; shift
	local tf=$WORK/time.out t0 t1 wall load p0 p1 pcpu
	load=$(cut -d' ' -f1 /proc/loadavg)
	p0=$(peer_cpu)
	t0=$(date +%s%N)
	if ! /usr/bin/time -f '%e %U %S %M' -o "$tf" "$@" > "$MOUT" 2> "$WORK/$name.err"; then
		log "$NAME: FAILED ($name): $*"
		tail -n 20 "$WORK/$name.err" >&2
		exit 1
	fi
	t1=$(date +%s%N)
	p1=$(peer_cpu)
	wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
	pcpu=$(awk -v a="$p0" -v b="$p1" 'BEGIN { printf "%.2f", b - a }')
	tail -n 1 "$tf" | awk -v w="$wall" -v l="$load" -v p="$pcpu" \
		'{ printf "%s %d %.2f %s %.2f %.2f %s\n", w, $4, $2 + $3, l, $2, $3, p }' \
		>> "$WORK/$name.runs"
	log "  $name: ${wall} s wall, $(tail -n 1 "$WORK/$name.runs" | cut -d' ' -f3) s" \
		"CPU${PEERS:+ ($PEERS: $pcpu s)}, peak RSS" \
		"$(( $(tail -n 1 "$WORK/$name.runs" | cut -d' ' -f2) / 1024 )) MB (load before: $load)"
}

# --- the report ---------------------------------------------------------------
# median COLUMN FILE
median() {
	awk -v c="$1" '{ print $c }' "$2" | sort -g | awk '
		{ a[NR] = $1 }
		END { if (NR % 2) print a[(NR + 1) / 2];
		      else printf "%.3f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
# median_row COLUMN FILE: the whole row of the run whose COLUMN is the
# median (the lower middle one for an even count)
median_row() { sort -g -k "$1,$1" "$2" | awk '{ a[NR] = $0 } END { print a[int((NR + 1) / 2)] }'; }
# runs FILE [COLUMN]: the column's values, comma-separated, in run order
runs() { awk -v c="${2:-1}" '{ printf "%s%s", sep, $c; sep = ", " }' "$1"; }
calc() { awk "BEGIN { printf \"$1\", $2 }"; }
verdict_le() { awk -v v="$1" -v lim="$2" 'BEGIN { print (v + 0 <= lim + 0) ? "PASS" : "FAIL" }'; }
verdict_lt() { awk -v v="$1" -v lim="$2" 'BEGIN { print (v + 0 < lim + 0) ? "PASS" : "FAIL" }'; }
