#!/usr/bin/env bash
# Ingest benchmark: prints figures, never fails a build.
#
# usage: bench/ingest/run.sh [--build DIR] [--events N] [--latency-seconds S]
#                            [--queued N] [--keep]
#   --events N           events per agent outbox (default 100000; 15 agents)
#   --latency-seconds S  duration of the steady-load latency run (default 20)
#   --queued N           then fill one more outbox with N events, imported
#                        in chunks of at most 100,000, and drain it alone
#                        through the hub (default 0: skip this part)
#   --no-pulls           skip part (d), pulls beside ingest
#   --profile            load pg_stat_statements (every statement, those
#                        inside the writer's functions too) and print, after
#                        (b), the 15 statements that took the most of its
#                        database time (profile: lines on stderr)
#   --keep               leave the work folder (logs, outboxes) in /tmp and
#                        print its name; PostgreSQL is stopped all the same
#
# Every outbox holds a third identification ballots (forms of 41 and 36
# items, for survey round BENCH-R1, created and opened before the drain), a
# third petition events (3 events in 5 are one of the four changes,
# received, accepted, in_progress, resolved, of one petition) and a third
# reception sessions.
#
# (a) the database's own ceiling: the same events, read from the same
#     outboxes, by a bare libpq COPY, one row each, 10,000 rows a
#     transaction, synchronous_commit on;
# (b) wardsync end to end: 15 agents with pre-filled outboxes draining
#     through the hub into PostgreSQL, acks after commit; then the number
#     of events stored and rejected (any rejection is said on stderr: the
#     figures would then not measure ingest);
# then the ack latency at a steady 150 events/s (10 per agent) next to the
# database's one-row commit latency, then the same for 14 wards while the
# fifteenth sends batches of 10,000 events each holding one event_id
# conflict (bad_batch=10000 ...); both again once settled (VACUUM
# (ANALYZE) and CHECKPOINT after the load: settle_seconds, then lines
# starting settled_), and the peak RSS of the hub and of the
# largest agent during (b) (hub_peak_rss_mib, agent_peak_rss_mib);
# (d) pulls beside ingest (unless --no-pulls): the hub restarted with its
#     pull endpoint on loopback; the time of one full pull of each dataset
#     by city-pull on the database (b) filled (full_pull_seconds, with the
#     number of ballot ratings stored), then the ack latency of 15 agents
#     sending one batch a second each, without and then with a city client
#     pulling ballot_aggregates and indicators from the start in a loop
#     (pulls_ack_p99_ms_without / _with; target: with under 2 x without);
# (c) with --queued N: the agent's peak RSS over importing and draining
#     its N queued events, and the hub's peak RSS during that drain
#     (queued_events=N hub_peak_rss_queued_mib=X agent_peak_rss_queued_mib=Y,
#     then the times and the import and drain peaks apart).
# Its own private PostgreSQL runs in a temporary folder (port
# WARDSYNC_BENCH_PG_PORT, default 25491) and everything stays on loopback
# (the hub's pull endpoint is not bound).
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build="$top/build" events=100000 latency_seconds=20 queued=0 keep=0 pulls=1 profile=0
usage() { awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; }
whole() { # NAME VALUE MIN MAX: a whole number in MIN..MAX, else exit 2
  if ! [[ "$2" =~ ^[0-9]+$ ]] || [ "${#2}" -gt 9 ] || [ "$2" -lt "$3" ] || [ "$2" -gt "$4" ]; then
    echo "bench: $1 wants a whole number from $3 to $4, not \"$2\"" >&2; exit 2
  fi
}
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=$(cd "$2" && pwd); shift ;;
    --events) whole --events "${2-}" 3 10000000; events=$2; shift ;;
    --latency-seconds) whole --latency-seconds "${2-}" 1 3600; latency_seconds=$2; shift ;;
    --queued) whole --queued "${2-}" 0 100000000; queued=$2; shift ;;
    --no-pulls) pulls=0 ;;
    --profile) profile=1 ;;
    --keep) keep=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "bench: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done
# The build tree's data folder (migrations, catalogue): programs find
# nothing in the source tree by themselves.
export WARDSYNC_DATA_DIR="${WARDSYNC_DATA_DIR:-$build/data}"
cd "$top"
hub_bin="$build/district-hub/district-hub"
agent_bin="$build/ward-agent/ward-agent"
peak_rss="$build/bench/ingest/peak-rss"
for b in "$hub_bin" "$agent_bin" "$peak_rss" "$build/bench/ingest/copy-ceiling" "$build/bench/ingest/ack-latency"; do
  [ -x "$b" ] || { echo "bench: $b not built (run: make build)" >&2; exit 1; }
done
wards=(LB01 LB02 LB03 LB04 LB05 LB06 LB07 LB08 LB09 LB10 LB11 LB12 LB13 LB14 LB)
round=BENCH-R1 subjects_per_ward=40
# An agent drain gives up after this long (ward-agent run --max-seconds);
# the script's own waiting loops stop a minute later.
drain_max_seconds=7200
chunk_max=100000

work=$(mktemp -d /tmp/wardsync-bench.XXXXXX)
export WARDSYNC_VAR="$work/var" WARDSYNC_PG_PORT="${WARDSYNC_BENCH_PG_PORT:-25491}"
hub_pid="" bg_pids=()
# Stops the given pids: SIGTERM, up to 10 s, then SIGKILL.
stop_pids() {
  local p deadline=$((SECONDS + 10))
  for p in "$@"; do kill -TERM "$p" 2>/dev/null; done
  for p in "$@"; do
    while kill -0 "$p" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  return 0
}
cleanup() {
  set +e
  [ ${#bg_pids[@]} -eq 0 ] || stop_pids "${bg_pids[@]}"
  [ -z "$hub_pid" ] || stop_pids "$hub_pid"
  "$top/scripts/pg.sh" stop >/dev/null 2>&1
  if [ "$keep" -eq 1 ]; then
    rm -rf "${work:?}/var"; echo "bench: work folder kept: $work" >&2
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
say() { printf '[bench %5ss] %s\n' "$SECONDS" "$*" >&2; }
loud() { printf 'bench: WARNING: %s\n' "$*" >&2; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN {printf "%.2f", b - a}'; }
mib() { awk -v k="${1:-0}" 'BEGIN {printf "%.1f", k / 1024}'; }
peak_kb() { awk '/VmHWM/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
peak_of() { # FILE...: the largest KiB figure peak-rss wrote
  { cat "$@" 2>/dev/null || true; } | awk 'BEGIN {m = 0} $1 + 0 > m {m = $1 + 0} END {print m}'
}

"$top/scripts/pg.sh" start >/dev/null
owner=$("$top/scripts/pg.sh" conninfo)
psql "${owner/dbname=wardsync/dbname=postgres}" -qAtX -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS wardsync_bench" -c "CREATE DATABASE wardsync_bench" >/dev/null
db="${owner/dbname=wardsync/dbname=wardsync_bench}"
sql() { psql "$db" -qAtX -v ON_ERROR_STOP=1 "$@"; }
if [ "$profile" -eq 1 ]; then
  psql "$owner" -qAtX -c "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'" >/dev/null
  "$top/scripts/pg.sh" restart >/dev/null
  psql "$owner" -qAtX -c "ALTER SYSTEM SET pg_stat_statements.track = 'all'" \
    -c "SELECT pg_reload_conf()" >/dev/null
  sql -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null
fi
"$hub_bin" --database "$db" migrate >"$work/migrate.log" 2>&1 ||
  { cat "$work/migrate.log" >&2; die "district-hub migrate failed"; }
port=$(( 30000 + RANDOM % 20000 ))
endpoint="tcp://127.0.0.1:$port"

# ---------------------------------------------------------------- data
# gen KIND WARD PREFIX FIRST COUNT: COUNT rows of a CSV the agent imports
# with "import KIND", numbered from FIRST (0-based, per ward and kind, so
# that chunks continue one another); petition and session codes start with
# PREFIX, ballots rate subjects WARD-S01..S40 of round BENCH-R1 (odd
# subjects on form leadership, 41 items; even ones on staff, 36 items).
gen() {
  awk -v kind="$1" -v ward="$2" -v prefix="$3" -v first="$4" -v n="$5" \
      -v round="$round" -v subjects="$subjects_per_ward" 'BEGIN {
    if (kind == "ballots") {
      srand(first + 1)
      printf "survey,form,subject,respondent_group,collected_on"
      for (i = 1; i <= 41; i++) printf ",i%02d", i
      printf "\n"
      for (k = first; k < first + n; k++) {
        s = k % subjects; items = s % 2 == 0 ? 41 : 36
        printf "%s,%s,%s-S%02d,%d,2023-%02d-%02d", round,
          (items == 41 ? "leadership" : "staff"), ward, s + 1, 1 + k % 4,
          1 + k % 12, 1 + k % 28
        for (i = 1; i <= 41; i++) {
          r = rand()
          if (i > items) printf ","
          else printf ",%d", (r < 0.75 ? 1 : r < 0.93 ? 2 : 3)
        }
        printf "\n"
      }
    } else if (kind == "petitions") {
      split("received accepted in_progress resolved", st, " ")
      split("0 2 9 20", off, " ")
      split("complaint denunciation recommendation reflection", kinds, " ")
      split("in_person post online", channels, " ")
      print "petition,kind,channel,status,in_jurisdiction,received_on,due_on,changed_on,note"
      for (k = first; k < first + n; k++) {
        # in every 5 events: one petition received only, then the four
        # changes of the next petition, each a day or more after the last
        c = int(k / 5); pos = k % 5
        id = pos == 0 ? 2 * c : 2 * c + 1
        status = pos == 0 ? "received" : st[pos]
        shift = pos == 0 ? 0 : off[pos]
        mm = 1 + c % 12; dd = 1 + c % 5
        due = status == "received" ? "" : mm < 12 ? sprintf("2023-%02d-%02d", mm + 1, dd) : sprintf("2024-01-%02d", dd)
        printf "%s-P%07d,%s,%s,%s,yes,2023-%02d-%02d,%s,2023-%02d-%02d,bench\n",
          prefix, id, kinds[1 + c % 4], channels[1 + c % 3], status, mm, dd,
          due, mm, dd + shift
      }
    } else {
      split("chair vice_chair officer", hosts, " ")
      print "session,held_on,host_role,mode,citizens,petitions"
      for (k = first; k < first + n; k++)
        printf "%s-R%07d,2023-%02d-%02d,%s,%s,%d,%d\n", prefix, k,
          1 + k % 12, 1 + k % 28, hosts[1 + k % 3],
          k % 10 == 9 ? "ad_hoc" : "regular", k % 7, (k % 7 > 2 ? 1 : 0)
    }
  }'
}

# queue_csv HOME WARD KIND FILE [PEAKFILE]: queue FILE in the agent's outbox;
# a refused file stops the bench (there would be nothing right to measure).
queue_csv() {
  local home=$1 w=$2 kind=$3 file=$4 peak=${5:-/dev/null}
  "$peak_rss" "$peak" "$agent_bin" --home "$home" --ward "$w" --hub "$endpoint" \
    import "$kind" "$file" >"$work/import.log" 2>&1 ||
    { head -n 20 "$work/import.log" >&2; die "ward-agent import $kind $file failed"; }
}

queued_in() { # HOME WARD: events queued in that outbox
  "$agent_bin" --home "$1" --ward "$2" status --format json |
    sed -n 's/.*"queued":\([0-9]*\).*/\1/p'
}

# Survey round BENCH-R1 over 2023: every ward with its subjects, open, so
# that the hub accepts the ballots (it rejects those of a round that is
# unknown or not open, or of a subject the round does not list).
category=(staff leadership) # of subject S01 (odd: leadership), S02, ...
n_ballots=$(( events / 3 )) n_petition_events=$(( events / 3 ))
n_reception=$(( events - 2 * (events / 3) ))
{
  echo "record,round,a,b,c"
  echo "round,$round,2023-01-01,2023-12-31,bench"
  echo "form,$round,leadership,leadership,"
  echo "form,$round,staff,staff,"
  for w in "${wards[@]}"; do
    echo "ward,$round,$w,$n_ballots,"
    for ((s = 1; s <= subjects_per_ward; s++)); do
      printf 'subject,%s,%s,%s-S%02d,%s\n' "$round" "$w" "$w" "$s" "${category[s % 2]}"
    done
  done
} >"$work/rounds.csv"
{ "$hub_bin" --database "$db" round create --file "$work/rounds.csv" &&
  "$hub_bin" --database "$db" round open "$round"; } >>"$work/migrate.log" 2>&1 ||
  { tail -n 20 "$work/migrate.log" >&2; die "could not create and open survey round $round"; }
say "survey round: $("$hub_bin" --database "$db" round show "$round" 2>>"$work/migrate.log")"

say "filling ${#wards[@]} outboxes with $events events each ($n_ballots ballots, $n_petition_events petition events, $n_reception reception sessions)"
mkdir -p "$work/csv"
for w in "${wards[@]}"; do
  home="$work/agents/$w"
  gen ballots "$w" "$w" 0 "$n_ballots" >"$work/csv/ballots-$w.csv"
  gen petitions "$w" "$w" 0 "$n_petition_events" >"$work/csv/petitions-$w.csv"
  gen reception "$w" "$w" 0 "$n_reception" >"$work/csv/reception-$w.csv"
  for kind in ballots petitions reception; do
    queue_csv "$home" "$w" "$kind" "$work/csv/$kind-$w.csv"
  done
  rm -f "$work/csv/"*"-$w.csv"
  q=$(queued_in "$home" "$w")
  [ "$q" = "$events" ] || die "outbox of $w holds ${q:-?} events, not $events"
done
total=$(( events * ${#wards[@]} ))
say "  $total events queued"

say "(a) bare COPY of the same $total events"
outboxes=(); for w in "${wards[@]}"; do outboxes+=("$work/agents/$w/outbox.db"); done
copy_out=$("$build/bench/ingest/copy-ceiling" --database "$db" "${outboxes[@]}")
echo "$copy_out"
copy_rate=$(sed -n 's/.*copy_events_per_s=\([0-9]*\).*/\1/p' <<<"$copy_out")
commit_p99=$(sed -n 's/.*db_commit_p99_ms=\([0-9.]*\).*/\1/p' <<<"$copy_out")

say "(b) wardsync end to end: 15 agents draining through the hub"
WARDSYNC_HUB_PULL=none WARDSYNC_HUB_METRICS_ENDPOINT=none "$hub_bin" --database "$db" run --insecure --ingest "$endpoint" >"$work/hub.log" 2>&1 &
hub_pid=$!
for _ in $(seq 1 100); do grep -q 'endpoint=' "$work/hub.log" && break; sleep 0.1; done
grep -q 'endpoint=' "$work/hub.log" ||
  { tail -n 20 "$work/hub.log" >&2; die "district-hub did not start within 10 s"; }

# drain LABEL EXPECTED PID...: waits (bounded) until the given agents have
# exited, printing the hub's committed count every 10 s; a hung agent is
# stopped. Returns how many agents did not exit 0.
drain() {
  local label=$1 expected=$2; shift 2
  local deadline=$((SECONDS + drain_max_seconds + 60)) last=$SECONDS p alive bad=0
  while [ "$SECONDS" -lt "$deadline" ]; do
    alive=0; for p in "$@"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ $alive -eq 1 ] || break
    if [ $((SECONDS - last)) -ge 10 ]; then
      say "  $label: $(sql -c "SELECT coalesce(sum(committed_through), 0) - $base_committed FROM agents") of $expected events committed"
      last=$SECONDS
    fi
    sleep 0.5
  done
  for p in "$@"; do
    if kill -0 "$p" 2>/dev/null; then
      loud "$label: an agent still runs after $((drain_max_seconds + 60)) s; stopping it"
      stop_pids "$p"; bad=$((bad + 1))
    elif ! wait "$p"; then
      bad=$((bad + 1))
    fi
  done
  return $bad
}
agent_run() { # HOME WARD LOG PEAKFILE: ward-agent run in the background
  "$peak_rss" "$4" "$agent_bin" --home "$1" --ward "$2" --hub "$endpoint" \
    run --until-idle --max-seconds "$drain_max_seconds" >"$3" 2>&1 &
  bg_pids+=($!)
}

base_committed=0
[ "$profile" -eq 0 ] || sql -c "SELECT pg_stat_statements_reset()" >/dev/null
start=$(now)
pids=()
for w in "${wards[@]}"; do
  agent_run "$work/agents/$w" "$w" "$work/agent-$w.log" "$work/agent-$w.peak"
  pids+=("${bg_pids[-1]}")
done
failed=0; drain "(b)" "$total" "${pids[@]}" || failed=$?
elapsed=$(since "$start")
bg_pids=()
if [ "$profile" -eq 1 ]; then
  say "profile of (b): the statements that took the most database time"
  sql -F ' ' -c "SELECT 'profile: total_ms=' || round(total_exec_time) || ' calls=' || calls || ' rows=' || rows || ' top=' || toplevel || ' sql=' || left(regexp_replace(query, '\s+', ' ', 'g'), 110) FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 15" >&2
fi
if [ "$failed" -ne 0 ]; then
  loud "(b): $failed agents exited with an error; the last lines of their logs:"
  tail -q -n 2 "$work"/agent-*.log >&2
fi
stored=$(sql -c "SELECT count(*) FROM events")
rejected=$(sql -c "SELECT count(*) FROM rejected_events")
conflicts=$(sql -c "SELECT coalesce(sum(conflict), 0) FROM agents")
e2e_rate=$(awk -v n="$stored" -v t="$elapsed" 'BEGIN {printf "%.0f", n / t}')
echo "wardsync_events=$stored wardsync_seconds=$elapsed wardsync_events_per_s=$e2e_rate"
echo "ingest_ratio_vs_copy=$(awk -v a="$e2e_rate" -v b="$copy_rate" 'BEGIN {printf "%.3f", a / b}')"
echo "queued_total=$total stored_events=$stored rejected_events=$rejected conflict_events=$conflicts"
if [ "$rejected" -gt 0 ]; then
  loud "(b): the hub REJECTED $rejected of $total events, so these figures do not measure ingest; reasons:"
  sql -c "SELECT count(*) || ' x ' || kind || ': ' || reason FROM rejected_events GROUP BY kind, reason ORDER BY count(*) DESC LIMIT 10" >&2
elif [ "$stored" -ne "$total" ]; then
  loud "(b): $stored events stored, but $total were queued"
fi
agent_peak=$(peak_of "$work"/agent-*.peak)

say "ack latency at a steady 150 events/s for ${latency_seconds}s"
"$build/bench/ingest/ack-latency" --endpoint "$endpoint" --seconds "$latency_seconds" --rate 10
echo "db_commit_p99_ms=$commit_p99 (target: ack_p99_ms under 3x this)"
say "ack latency of 14 well-behaved wards while LB01 sends a batch of 10,000 events with one conflict every 2 s, ${latency_seconds}s"
"$build/bench/ingest/ack-latency" --endpoint "$endpoint" --seconds "$latency_seconds" --rate 10 --bad-batch 10000
echo "(target: ack_p99_ms under 50 with the bad batch)"
# The same two, settled: what a district sees once the maintenance a bulk
# load sets off (autovacuum of the loaded tables, the next checkpoint) is
# done, here run at once instead of waited for.
say "settling: VACUUM (ANALYZE) and CHECKPOINT after the load"
settle_start=$(now)
sql -c "VACUUM (ANALYZE)" -c "CHECKPOINT" >/dev/null
echo "settle_seconds=$(since "$settle_start")"
say "settled: ack latency at a steady 150 events/s for ${latency_seconds}s, then beside the bad batch"
"$build/bench/ingest/ack-latency" --endpoint "$endpoint" --seconds "$latency_seconds" --rate 10 | sed 's/^/settled_/'
"$build/bench/ingest/ack-latency" --endpoint "$endpoint" --seconds "$latency_seconds" --rate 10 --bad-batch 10000 | sed 's/^/settled_/'
hub_peak=$(peak_kb "$hub_pid")
echo "hub_peak_rss_mib=$(mib "$hub_peak") agent_peak_rss_mib=$(mib "$agent_peak")"

# ---------------------------------------------------------------- (d)
if [ "$pulls" -eq 1 ]; then
  city_bin="$build/city-pull/city-pull"
  [ -x "$city_bin" ] || die "$city_bin not built (run: make build)"
  say "(d) pulls beside ingest: the hub again, with its pull endpoint on loopback"
  stop_pids "$hub_pid"
  pull_ep="tcp://127.0.0.1:$(( 30000 + RANDOM % 20000 ))"
  WARDSYNC_HUB_PULL="$pull_ep" WARDSYNC_HUB_METRICS_ENDPOINT=none "$hub_bin" --database "$db" run --insecure --ingest "$endpoint" >"$work/hub-pulls.log" 2>&1 &
  hub_pid=$!
  for _ in $(seq 1 100); do grep -q 'pull endpoint=' "$work/hub-pulls.log" && break; sleep 0.1; done
  grep -q 'pull endpoint=' "$work/hub-pulls.log" ||
    { tail -n 20 "$work/hub-pulls.log" >&2; die "district-hub did not start its pull endpoint within 10 s"; }
  echo "ballot_ratings=$(sql -c "SELECT coalesce(sum(cardinality(levels)), 0) FROM ballots")"
  # pull_once DATASETS DIR: one pull from the start into a fresh folder.
  pull_once() { rm -rf "$2"; "$city_bin" --hub bench="$pull_ep" --dataset "$1" --output "$2" >/dev/null 2>>"$work/city-pull.log"; }
  for ds in indicators petitions ballot_aggregates sync_status; do
    start=$(now)
    if pull_once "$ds" "$work/pull-$ds"; then
      rows=$(cat "$work/pull-$ds"/"$ds".* 2>/dev/null | wc -l)
      echo "full_pull dataset=$ds seconds=$(since "$start") lines=$rows"
    else
      loud "(d): city-pull of $ds failed (see $work/city-pull.log)"
    fi
  done
  say "(d) ack latency of 15 agents at one batch a second each, ${latency_seconds}s, without pulls"
  without=$("$build/bench/ingest/ack-latency" --endpoint "$endpoint" --seconds "$latency_seconds" --rate 1)
  echo "$without"
  say "(d) the same while a city client pulls ballot_aggregates and indicators from the start in a loop"
  touch "$work/pulling"
  (
    n=0
    while [ -f "$work/pulling" ] && [ "$n" -lt 10000 ]; do
      pull_once ballot_aggregates,indicators "$work/pull-loop" || sleep 0.2
      n=$((n + 1))
    done
    echo "$n" >"$work/pulls-done"
  ) &
  loop_pid=$!; bg_pids+=("$loop_pid")
  with=$("$build/bench/ingest/ack-latency" --endpoint "$endpoint" --seconds "$latency_seconds" --rate 1)
  rm -f "$work/pulling"; wait "$loop_pid" 2>/dev/null || true
  echo "$with"
  p99() { sed -n 's/.*ack_p99_ms=\([0-9.]*\).*/\1/p' <<<"$1"; }
  echo "pulls_ack_p99_ms_without=$(p99 "$without") pulls_ack_p99_ms_with=$(p99 "$with") pulls_completed=$(cat "$work/pulls-done" 2>/dev/null || echo 0) (target: with under 2 x without)"
fi

[ "$queued" -gt 0 ] || exit 0

# ---------------------------------------------------------------- (c)
# One more outbox (a second agent instance of LB01, its own petition and
# session codes), filled in chunks, each chunk a third of each kind.
qw=LB01 qhome="$work/queued"
say "(c) filling one more outbox ($qw) with $queued events, in chunks of at most $chunk_max"
start=$(now)
next_b=0 next_p=0 next_r=0 filled=0 chunk_i=0
while [ "$filled" -lt "$queued" ] && [ "$chunk_i" -lt $(( queued / chunk_max + 2 )) ]; do
  chunk=$(( queued - filled < chunk_max ? queued - filled : chunk_max ))
  cb=$(( chunk / 3 )) cp=$(( chunk / 3 )); cr=$(( chunk - cb - cp ))
  for spec in "ballots $next_b $cb" "petitions $next_p $cp" "reception $next_r $cr"; do
    read -r kind first n <<<"$spec"
    [ "$n" -gt 0 ] || continue
    gen "$kind" "$qw" "$qw-Q" "$first" "$n" >"$work/csv/chunk.csv"
    queue_csv "$qhome" "$qw" "$kind" "$work/csv/chunk.csv" "$work/queued-import-$chunk_i-$kind.peak"
  done
  next_b=$((next_b + cb)) next_p=$((next_p + cp)) next_r=$((next_r + cr))
  filled=$((filled + chunk)) chunk_i=$((chunk_i + 1))
  say "  $filled of $queued events queued ($(since "$start") s)"
done
rm -f "$work/csv/chunk.csv"
import_seconds=$(since "$start")
q=$(queued_in "$qhome" "$qw")
[ "$q" = "$queued" ] || die "(c): the outbox holds ${q:-?} events, not $queued"
import_peak=$(peak_of "$work"/queued-import-*.peak)
instance=$("$agent_bin" --home "$qhome" --ward "$qw" status --format json |
  sed -n 's/.*"agent_instance":"\([^"]*\)".*/\1/p')

# The hub's VmHWM is reset (clear_refs 5) so that it holds the peak of
# this drain alone; should the kernel refuse, it also holds (b)'s peak.
if ! { echo 5 >"/proc/$hub_pid/clear_refs"; } 2>/dev/null; then
  loud "(c): could not reset the hub's peak RSS; hub_peak_rss_queued_mib includes (b)"
fi
say "(c) draining the $queued queued events through the hub"
base_committed=$(sql -c "SELECT coalesce(sum(committed_through), 0) FROM agents")
start=$(now)
agent_run "$qhome" "$qw" "$work/agent-queued.log" "$work/queued-drain.peak"
failed=0; drain "(c)" "$queued" "${bg_pids[-1]}" || failed=$?
drain_seconds=$(since "$start")
bg_pids=()
hub_queued_peak=$(peak_kb "$hub_pid")
[ "$failed" -eq 0 ] || loud "(c): the agent exited with an error: $(tail -n 3 "$work/agent-queued.log")"
drain_peak=$(peak_of "$work/queued-drain.peak")
agent_queued_peak=$(( import_peak > drain_peak ? import_peak : drain_peak ))
q_stored=$(sql -v inst="$instance" <<<"SELECT count(*) FROM events WHERE agent_instance = :'inst'")
q_rejected=$(sql -v inst="$instance" <<<"SELECT count(*) FROM rejected_events WHERE agent_instance = :'inst'")
echo "queued_events=$queued hub_peak_rss_queued_mib=$(mib "$hub_queued_peak") agent_peak_rss_queued_mib=$(mib "$agent_queued_peak")"
echo "queued_import_seconds=$import_seconds queued_drain_seconds=$drain_seconds queued_drain_events_per_s=$(awk -v n="$q_stored" -v t="$drain_seconds" 'BEGIN {printf "%.0f", n / t}') agent_peak_rss_queued_import_mib=$(mib "$import_peak") agent_peak_rss_queued_drain_mib=$(mib "$drain_peak")"
echo "queued_stored_events=$q_stored queued_rejected_events=$q_rejected"
if [ "$q_rejected" -gt 0 ]; then
  loud "(c): the hub REJECTED $q_rejected of $queued queued events, so these figures do not measure ingest; reasons:"
  sql -v inst="$instance" <<<"SELECT count(*) || ' x ' || kind || ': ' || reason FROM rejected_events WHERE agent_instance = :'inst' GROUP BY kind, reason ORDER BY count(*) DESC LIMIT 10" >&2
elif [ "$q_stored" -ne "$queued" ]; then
  loud "(c): $q_stored events stored, but $queued were queued"
fi
