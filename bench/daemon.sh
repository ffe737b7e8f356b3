#!/usr/bin/env bash
# bench/daemon.sh - certmond with 100,000 certificates in its store (about
# 10% not valid: the bench/mint fixtures): time from start to listening,
# idle CPU over 60 s (from /proc/PID/stat), RSS, latency of the first page
# of GET /api/v1/certs?state=expiring under `wrk -c 16` (p50/p99), and one
# /metrics scrape in the default mode. Loopback only. Medians of REPS runs
# where a run is cheap.
#
# usage: bench/daemon.sh        env: BENCH_DIR (fixtures, reused),
#                                    REPS (default 3), IDLE (default 60)
# needs: wrk, bc, curl, make; the fixtures are minted by bench/mint if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
N=100000
REPS=${REPS:-3}
IDLE=${IDLE:-60}
BENCH_DIR=${BENCH_DIR:-/var/tmp/certmon-bench}
CERTS=$BENCH_DIR/n$N/certs
make -s -j"$(nproc)" build/certmon build/certmond
make -s -C bench
if [ ! -d "$CERTS" ]; then
  mkdir -p "$(dirname "$CERTS")"
  bench/build/mint "$CERTS" "$N" --threads 2 >/dev/null
fi
WORK=$(mktemp -d)
trap 'kill "$PID" 2>/dev/null || true; rm -rf "$WORK"' EXIT
DB=$WORK/store.db
CM="$ROOT/build/certmon --db $DB"
$CM unit add bench --trust >/dev/null
$CM cert upload --unit bench "$CERTS" >/dev/null
TOKEN=$($CM token add bench)
PORT=$(( 20000 + RANDOM % 20000 ))
median() { sort -n | awk '{a[NR]=$1} END{print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

start_daemon() {
  ./build/certmond --db "$DB" --listen "127.0.0.1:$PORT" --no-tls 2>"$WORK/d.log" &
  PID=$!
}
wait_listen() {
  while ! ss -ltn | grep -q "127.0.0.1:$PORT "; do sleep 0.005; done
}

echo "== start to listening ($REPS runs)"
starts=()
for r in $(seq "$REPS"); do
  t0=$(date +%s.%N)
  start_daemon
  wait_listen
  t1=$(date +%s.%N)
  starts+=("$(echo "$t1 - $t0" | bc)")
  kill "$PID"; wait "$PID" 2>/dev/null || true
done
START=$(printf '%s\n' "${starts[@]}" | median)
echo "   ${starts[*]} s; median $START s"

start_daemon
wait_listen
sleep 3   # let the start-up run of the monitor finish
echo "== idle CPU over $IDLE s"
ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
HZ=$(getconf CLK_TCK)
c0=$(ticks); sleep "$IDLE"; c1=$(ticks)
IDLE_PCT=$(echo "scale=3; ($c1 - $c0) * 100 / $HZ / $IDLE" | bc)
RSS=$(awk '/VmHWM/ {print int($2/1024)}' "/proc/$PID/status")
echo "   $IDLE_PCT % of a core; peak RSS so far ${RSS} MB"

echo "== GET /api/v1/certs?state=expiring (first page of 100), wrk -t2 -c16 -d20s"
cat > "$WORK/auth.lua" <<LUA
wrk.headers["Authorization"] = "Bearer $TOKEN"
LUA
wrk -t2 -c16 -d20s --latency -s "$WORK/auth.lua" \
  "http://127.0.0.1:$PORT/api/v1/certs?state=expiring&limit=100" > "$WORK/wrk.txt"
grep -E "Requests/sec|50%|99%|Non-2xx" "$WORK/wrk.txt" | sed 's/^/   /'
P99=$(awk '$1 == "99%" {print $2}' "$WORK/wrk.txt")

echo "== /metrics, default mode ($REPS scrapes)"
scr=()
for r in $(seq "$REPS"); do
  scr+=("$(curl -s -o "$WORK/metrics.txt" -w '%{time_total}' "http://127.0.0.1:$PORT/metrics")")
done
SCRAPE=$(printf '%s\n' "${scr[@]}" | median)
echo "   ${scr[*]} s; median $SCRAPE s; $(wc -l < "$WORK/metrics.txt") lines"
RSS=$(awk '/VmHWM/ {print int($2/1024)}' "/proc/$PID/status")
echo "== peak RSS of the daemon: $RSS MB"
echo
echo "| what | measured | target |"
echo "|---|---:|---|"
echo "| start to listening, median of $REPS | $START s | < 1 s |"
echo "| idle CPU over $IDLE s | $IDLE_PCT % of a core | < 1 % |"
echo "| peak RSS | $RSS MB | < 150 MB |"
echo "| GET certs?state=expiring first page, p99 (wrk -c 16) | $P99 | < 50 ms |"
echo "| /metrics scrape, median of $REPS | $SCRAPE s | < 1 s |"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
