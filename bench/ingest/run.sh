#!/usr/bin/env bash
# Ingest benchmark: prints figures, never fails a build.
#
# usage: bench/ingest/run.sh [--build DIR] [--events N] [--latency-seconds S]
#   --events N           events per agent outbox (default 100000; 15 agents)
#   --latency-seconds S  duration of the steady-load latency run (default 20)
#
# (a) the database's own ceiling: the same events by a bare libpq COPY, one
#     row each, 10,000 rows a transaction, synchronous_commit on;
# (b) wardsync end to end: 15 agents with pre-filled outboxes draining
#     through the hub into PostgreSQL, acks after commit;
# then the ack latency at a steady 150 events/s (10 per agent) next to the
# database's one-row commit latency, and the peak RSS of hub and agent.
# Its own private PostgreSQL runs in a temporary folder (port
# WARDSYNC_BENCH_PG_PORT, default 54391) and everything stays on loopback.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build="$top/build" events=100000 latency_seconds=20
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=$(cd "$2" && pwd); shift ;;
    --events) events=$2; shift ;;
    --latency-seconds) latency_seconds=$2; shift ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
hub_bin="$build/district-hub/district-hub"
agent_bin="$build/ward-agent/ward-agent"
wards=(LB01 LB02 LB03 LB04 LB05 LB06 LB07 LB08 LB09 LB10 LB11 LB12 LB13 LB14 LB)

work=$(mktemp -d /tmp/wardsync-bench.XXXXXX)
export WARDSYNC_VAR="$work/var" WARDSYNC_PG_PORT="${WARDSYNC_BENCH_PG_PORT:-54391}"
hub_pid=""
cleanup() {
  set +e
  pkill -f "$work/agents" 2>/dev/null
  [ -n "$hub_pid" ] && kill "$hub_pid" 2>/dev/null && wait "$hub_pid" 2>/dev/null
  "$top/scripts/pg.sh" stop >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT
say() { printf '[bench %5ss] %s\n' "$SECONDS" "$*" >&2; }

"$top/scripts/pg.sh" start >/dev/null
owner=$("$top/scripts/pg.sh" conninfo)
psql "${owner/dbname=wardsync/dbname=postgres}" -qAtX -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS wardsync_bench" -c "CREATE DATABASE wardsync_bench" >/dev/null
db="${owner/dbname=wardsync/dbname=wardsync_bench}"
"$hub_bin" --database "$db" migrate >"$work/migrate.log" 2>&1
port=$(( 30000 + RANDOM % 20000 ))
endpoint="tcp://127.0.0.1:$port"

say "filling ${#wards[@]} outboxes with $events events each (petition and reception events)"
mkdir -p "$work/csv"
for w in "${wards[@]}"; do
  half=$(( events / 2 ))
  awk -v w="$w" -v n="$half" 'BEGIN {
    print "petition,kind,channel,status,in_jurisdiction,received_on,due_on,changed_on,note"
    for (i = 1; i <= n; i++)
      printf "%s-P%07d,complaint,post,received,yes,2023-%02d-%02d,,2023-%02d-%02d,bench\n",
        w, i, 1 + i % 12, 1 + i % 28, 1 + i % 12, 1 + i % 28 }' > "$work/csv/petitions-$w.csv"
  awk -v w="$w" -v n="$(( events - half ))" 'BEGIN {
    print "session,held_on,host_role,mode,citizens,petitions"
    for (i = 1; i <= n; i++)
      printf "%s-S%07d,2023-%02d-%02d,officer,regular,%d,0\n", w, i, 1 + i % 12, 1 + i % 28, i % 7 }' > "$work/csv/reception-$w.csv"
  "$agent_bin" --home "$work/agents/$w" --ward "$w" --hub "$endpoint" import petitions "$work/csv/petitions-$w.csv" >/dev/null 2>&1
  "$agent_bin" --home "$work/agents/$w" --ward "$w" --hub "$endpoint" import reception "$work/csv/reception-$w.csv" >/dev/null 2>&1
done
total=$(( events * ${#wards[@]} ))

say "(a) bare COPY of the same $total events"
outboxes=(); for w in "${wards[@]}"; do outboxes+=("$work/agents/$w/outbox.db"); done
copy_out=$("$build/bench/ingest/copy-ceiling" --database "$db" "${outboxes[@]}")
echo "$copy_out"
copy_rate=$(sed -n 's/.*copy_events_per_s=\([0-9]*\).*/\1/p' <<<"$copy_out")
commit_p99=$(sed -n 's/.*db_commit_p99_ms=\([0-9.]*\).*/\1/p' <<<"$copy_out")

peak_kb() { awk '/VmHWM/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

say "(b) wardsync end to end: 15 agents draining through the hub"
"$hub_bin" --database "$db" run --insecure --ingest "$endpoint" >"$work/hub.log" 2>&1 &
hub_pid=$!
for _ in $(seq 1 100); do grep -q 'endpoint=' "$work/hub.log" && break; sleep 0.1; done
start=$(date +%s.%N)
pids=()
for w in "${wards[@]}"; do
  "$agent_bin" --home "$work/agents/$w" --ward "$w" --hub "$endpoint" run --until-idle --max-seconds 7200 >"$work/agent-$w.log" 2>&1 &
  pids+=($!)
done
agent_peak=0 hub_peak=0 last_report=$SECONDS
while kill -0 "${pids[0]}" 2>/dev/null || [ "$(jobs -rp | wc -l)" -gt 1 ]; do
  p=$(peak_kb "${pids[0]}"); [ "${p:-0}" -gt "$agent_peak" ] && agent_peak=$p
  h=$(peak_kb "$hub_pid"); [ "${h:-0}" -gt "$hub_peak" ] && hub_peak=$h
  if [ $((SECONDS - last_report)) -ge 10 ]; then
    done_n=$(psql "$db" -qAtX -c "SELECT coalesce(sum(committed_through),0) FROM agents")
    say "  $done_n of $total events committed"
    last_report=$SECONDS
  fi
  alive=0; for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
  [ $alive -eq 0 ] && break
  sleep 0.5
done
for p in "${pids[@]}"; do wait "$p" || say "an agent exited with an error"; done
elapsed=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN {printf "%.2f", b - a}')
stored=$(psql "$db" -qAtX -c "SELECT count(*) FROM events")
e2e_rate=$(awk -v n="$stored" -v t="$elapsed" 'BEGIN {printf "%.0f", n / t}')
echo "wardsync_events=$stored wardsync_seconds=$elapsed wardsync_events_per_s=$e2e_rate"
echo "ingest_ratio_vs_copy=$(awk -v a="$e2e_rate" -v b="$copy_rate" 'BEGIN {printf "%.3f", a / b}')"

say "ack latency at a steady 150 events/s for ${latency_seconds}s"
"$build/bench/ingest/ack-latency" --endpoint "$endpoint" --seconds "$latency_seconds" --rate 10
echo "db_commit_p99_ms=$commit_p99 (target: ack_p99_ms under 3x this)"
h=$(peak_kb "$hub_pid"); [ "${h:-0}" -gt "$hub_peak" ] && hub_peak=$h
awk -v h="$hub_peak" -v a="$agent_peak" 'BEGIN {printf "hub_peak_rss_mib=%.1f agent_peak_rss_mib=%.1f\n", h / 1024, a / 1024}'
