#!/usr/bin/env bash
# Fault suite: 15 agents stream events into a real hub and PostgreSQL while
# one fault at a time is injected; then chaos-checker compares every outbox
# with the database and prints "lost=N duplicated=N unexpected=N ...".
#
# usage: tests/chaos/run.sh [--short] [--build DIR] [SCENARIO...]
#   scenarios: hub-kill agent-kill pg-restart pg-outage replay net
#              (default: all)
#   --short    fewer events and faults (what "make test" runs)
#
# It starts its own private PostgreSQL cluster (a temporary folder, port
# WARDSYNC_CHAOS_PG_PORT, default 54390) because it crashes it on purpose.
# Every loop is bounded in count and time; all traffic stays on loopback.
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
build="$top/build"
short=0
scenarios=()
while [ $# -gt 0 ]; do
  case "$1" in
    --short) short=1 ;;
    --build) build=$(cd "$2" && pwd); shift ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "chaos: unknown option $1" >&2; exit 2 ;;
    *) scenarios+=("$1") ;;
  esac
  shift
done
[ ${#scenarios[@]} -gt 0 ] || scenarios=(hub-kill agent-kill pg-restart pg-outage replay net)

hub_bin="$build/district-hub/district-hub"
agent_bin="$build/ward-agent/ward-agent"
checker="$build/tests/chaos/chaos-checker"
for b in "$hub_bin" "$agent_bin" "$checker"; do
  [ -x "$b" ] || { echo "chaos: $b not built" >&2; exit 2; }
done

if [ $short -eq 1 ]; then
  rows=200 hub_kills=5 agent_kills=6 replays=20
else
  rows=4000 hub_kills=20 agent_kills=30 replays=200
fi
wards=(LB01 LB02 LB03 LB04 LB05 LB06 LB07 LB08 LB09 LB10 LB11 LB12 LB13 LB14 LB)

work=$(mktemp -d /tmp/wardsync-chaos.XXXXXX)
export WARDSYNC_VAR="$work/var" WARDSYNC_PG_PORT="${WARDSYNC_CHAOS_PG_PORT:-54390}"
hub_pid=""
declare -A agent_pid=()
net_mode=0          # 1: each agent in its own network namespace (scenario net)
net_hub=10.231.0.1  # the hub's side of the test bridge

log() { printf '[chaos %5ss] %s\n' "$SECONDS" "$*"; }

cleanup() {
  set +e
  for w in "${!agent_pid[@]}"; do kill -9 "${agent_pid[$w]}" 2>/dev/null; done
  [ -n "$hub_pid" ] && kill -9 "$hub_pid" 2>/dev/null
  wait 2>/dev/null
  net_teardown
  "$top/scripts/pg.sh" stop >/dev/null 2>&1
  if [ "${WARDSYNC_KEEP_CHAOS:-0}" = 1 ]; then echo "chaos: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

"$top/scripts/pg.sh" start >/dev/null
owner=$("$top/scripts/pg.sh" conninfo)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
       echo $((20000 + RANDOM % 20000)))
endpoint="tcp://127.0.0.1:$port"

admin_sql() { psql "${owner/dbname=wardsync/dbname=postgres}" -qAtX -v ON_ERROR_STOP=1 -c "SET client_min_messages = warning" -c "$1"; }

start_hub() {
  local ep=$endpoint
  [ $net_mode -eq 1 ] && ep="tcp://$net_hub:$port"
  "$hub_bin" --database "$db" run --insecure --ingest "$ep" \
    >>"$work/logs/hub.log" 2>&1 &
  hub_pid=$!
}

start_agent() {
  local w=$1 i
  if [ $net_mode -eq 1 ]; then
    i=$(ward_index "$w")
    ip netns exec "wsc$i" "$agent_bin" --home "$work/agents/$w" --ward "$w" \
      --hub "tcp://$net_hub:$port" run >>"$work/logs/$w.log" 2>&1 &
  else
    "$agent_bin" --home "$work/agents/$w" --ward "$w" --hub "$endpoint" run \
      >>"$work/logs/$w.log" 2>&1 &
  fi
  agent_pid[$w]=$!
}

ward_index() {
  local i
  for i in "${!wards[@]}"; do [ "${wards[$i]}" = "$1" ] && { echo "$i"; return; }; done
}

# Network faults: a bridge on the host side (the hub binds its address)
# and one namespace per agent behind a veth, each with an nftables table
# whose input and output chains the scenario fills with drop rules. The
# kernel here has no sch_netem, so loss and cut-offs are made with
# nftables; delay, reordering and duplication are not simulated.
net_available() {
  [ "$(id -u)" -eq 0 ] && command -v ip >/dev/null && command -v nft >/dev/null &&
    ip netns add wsc-probe 2>/dev/null && ip netns del wsc-probe
}

net_setup() {
  local i
  net_teardown
  ip link add wscbr0 type bridge
  ip addr add "$net_hub/24" dev wscbr0
  ip link set wscbr0 up
  for i in "${!wards[@]}"; do
    ip netns add "wsc$i"
    ip link add "wscv$i" type veth peer name eth0 netns "wsc$i"
    ip link set "wscv$i" master wscbr0 up
    ip netns exec "wsc$i" ip addr add "10.231.0.$((10 + i))/24" dev eth0
    ip netns exec "wsc$i" ip link set eth0 up
    ip netns exec "wsc$i" ip link set lo up
    ip netns exec "wsc$i" nft -f - <<NFT
table inet chaos {
  chain in { type filter hook input priority 0; }
  chain out { type filter hook output priority 0; }
}
NFT
  done
}

# net_rule NS_INDEX RULE...: replace the namespace's drop rules (none: heal).
net_rule() {
  local i=$1; shift
  ip netns exec "wsc$i" nft flush chain inet chaos in
  ip netns exec "wsc$i" nft flush chain inet chaos out
  if [ $# -gt 0 ]; then
    ip netns exec "wsc$i" nft add rule inet chaos in "$@"
    ip netns exec "wsc$i" nft add rule inet chaos out "$@"
  fi
}

net_loss_all() {
  local i
  for i in "${!wards[@]}"; do
    if [ "$1" -gt 0 ]; then net_rule "$i" numgen random mod 100 \< "$1" drop
    else net_rule "$i"; fi
  done
}

net_teardown() {
  local n
  for n in $(ip netns list 2>/dev/null | awk '/^wsc[0-9]+/ {print $1}'); do ip netns del "$n"; done
  ip link del wscbr0 2>/dev/null || true
}

# N rows of reception sessions and petition events for one unit; part is
# used to keep codes unique across several files of the same unit.
write_files() {
  local w=$1 dir=$2 part=$3 n=$4
  awk -v w="$w" -v p="$part" -v n="$n" 'BEGIN {
    print "session,held_on,host_role,mode,citizens,petitions"
    for (i = 1; i <= n; i++)
      printf "%s-%s-S%05d,2023-%02d-%02d,%s,regular,%d,%d\n", w, p, i,
        1 + i % 12, 1 + i % 28, (i % 3 == 0 ? "chair" : "officer"), i % 7, i % 3
  }' > "$dir/.reception-$part.tmp"
  awk -v w="$w" -v p="$part" -v n="$n" 'BEGIN {
    print "petition,kind,channel,status,in_jurisdiction,received_on,due_on,changed_on,note"
    for (i = 1; i <= n; i++)
      printf "%s-%s-P%05d,complaint,post,received,yes,2023-%02d-%02d,,2023-%02d-%02d,\"chaos, row %d\"\n",
        w, p, i, 1 + i % 12, 1 + i % 28, 1 + i % 12, 1 + i % 28, i
  }' > "$dir/.petitions-$part.tmp"
  mv "$dir/.reception-$part.tmp" "$dir/reception-$part.csv"
  mv "$dir/.petitions-$part.tmp" "$dir/petitions-$part.csv"
}

queued_total() {
  local total=0 q w
  for w in "${wards[@]}"; do
    q=$("$agent_bin" --home "$work/agents/$w" status --format json 2>/dev/null |
        sed -n 's/.*"queued": *\([0-9]*\).*/\1/p')
    total=$((total + ${q:-999999}))
  done
  echo "$total"
}

inbox_files() { find "$work/agents" -path '*/inbox/*' -type f | wc -l; }

# Waits (at most 300 s) until every agent has delivered everything.
wait_idle() {
  local q f deadline=$((SECONDS + 300))
  while [ $SECONDS -lt $deadline ]; do
    q=$(queued_total); f=$(inbox_files)
    [ "$q" -eq 0 ] && [ "$f" -eq 0 ] && return 0
    sleep 0.5
  done
  log "not idle after 300 s: queued=$q inbox_files=$f"
  return 1
}

check() {
  local name=$1 outboxes=() w
  for w in "${wards[@]}"; do outboxes+=("$work/agents/$w/outbox.db"); done
  local line rc=0
  line=$("$checker" --database "$db" "${outboxes[@]}") || rc=$?
  echo "chaos $name: $line"
  return $rc
}

setup_scenario() {
  local name=$1 w
  db_name="wardsync_chaos_${name//-/_}"
  admin_sql "DROP DATABASE IF EXISTS $db_name WITH (FORCE)" >/dev/null
  admin_sql "CREATE DATABASE $db_name" >/dev/null
  db="${owner/dbname=wardsync/dbname=$db_name}"
  rm -rf "$work/agents" "$work/logs"; mkdir -p "$work/logs"
  "$hub_bin" --database "$db" migrate >>"$work/logs/hub.log" 2>&1
  for w in "${wards[@]}"; do mkdir -p "$work/agents/$w/inbox"; done
}

stop_all() {
  local w
  for w in "${!agent_pid[@]}"; do kill "${agent_pid[$w]}" 2>/dev/null || true; done
  for w in "${!agent_pid[@]}"; do wait "${agent_pid[$w]}" 2>/dev/null || true; done
  agent_pid=()
  if [ -n "$hub_pid" ]; then kill "$hub_pid" 2>/dev/null || true; wait "$hub_pid" 2>/dev/null || true; fi
  hub_pid=""
}

feed_all() {
  local part=$1 w
  for w in "${wards[@]}"; do write_files "$w" "$work/agents/$w/inbox" "$part" "$rows"; done
}

rand_sleep() { sleep "$(( RANDOM % $1 )).$(( RANDOM % 10 ))"; }

scenario_hub_kill() {
  local w
  start_hub
  for w in "${wards[@]}"; do start_agent "$w"; done
  feed_all a
  for i in $(seq 1 "$hub_kills"); do
    sleep "0.$(( 2 + RANDOM % 8 ))"
    kill -9 "$hub_pid" 2>/dev/null || true; wait "$hub_pid" 2>/dev/null || true
    sleep "0.$(( RANDOM % 6 ))"
    start_hub
    [ $((i % 5)) -eq 0 ] && log "hub killed $i times"
  done
  wait_idle
}

scenario_agent_kill() {
  local w
  start_hub
  for w in "${wards[@]}"; do start_agent "$w"; done
  feed_all a
  local victims=("${wards[@]}")
  for i in $(seq 1 "$agent_kills"); do
    local w=${victims[$(( RANDOM % ${#victims[@]} ))]}
    sleep "0.$(( 1 + RANDOM % 5 ))"
    kill -9 "${agent_pid[$w]}" 2>/dev/null || true; wait "${agent_pid[$w]}" 2>/dev/null || true
    [ $i -eq $(( agent_kills / 2 )) ] && feed_all b   # kill during a second import too
    start_agent "$w"
  done
  # A direct import killed at a random moment: all of the file or none of it.
  local w=LB03 before after
  before=$("$agent_bin" --home "$work/agents/$w" status --format json | sed -n 's/.*"last_seq": *\([0-9]*\).*/\1/p')
  write_files "$w" "$work" direct "$rows"
  "$agent_bin" --home "$work/agents/$w" --ward "$w" import reception "$work/reception-direct.csv" >/dev/null 2>&1 &
  local imp=$!
  sleep "0.0$(( RANDOM % 10 ))"; kill -9 $imp 2>/dev/null || true; wait $imp 2>/dev/null || true
  after=$("$agent_bin" --home "$work/agents/$w" status --format json | sed -n 's/.*"last_seq": *\([0-9]*\).*/\1/p')
  if [ $(( after - before )) -ne 0 ] && [ $(( after - before )) -ne "$rows" ]; then
    log "killed import left a partial file: $(( after - before )) of $rows rows"; return 1
  fi
  log "killed import: $(( after - before )) of $rows rows queued (all or nothing)"
  wait_idle
}

scenario_pg_restart() {
  local w
  start_hub
  for w in "${wards[@]}"; do start_agent "$w"; done
  feed_all a
  for i in 1 2 3; do
    sleep "0.$(( 3 + RANDOM % 6 ))"
    "$top/scripts/pg.sh" crash >/dev/null
    sleep 1
    "$top/scripts/pg.sh" start >/dev/null
    log "PostgreSQL crashed and restarted ($i)"
  done
  wait_idle
}

scenario_pg_outage() {
  local w
  start_hub
  for w in "${wards[@]}"; do start_agent "$w"; done
  feed_all a
  sleep 0.5
  "$top/scripts/pg.sh" crash >/dev/null
  local outage=$(( short ? 5 : 30 ))
  log "PostgreSQL down for ${outage}s"
  sleep "$outage"
  "$top/scripts/pg.sh" start >/dev/null
  wait_idle
}

# An acknowledged batch replayed many times, a batch with a gap and the same
# event id with new content, sent by the hub's own fault client.
scenario_replay() {
  local w
  start_hub
  for w in "${wards[@]}"; do start_agent "$w"; done
  feed_all a
  wait_idle
  stop_all
  start_hub
  sleep 0.5
  "$build/tests/chaos/chaos-replay" --endpoint "$endpoint" --times "$replays" \
    "$work/agents/LB05/outbox.db" || return 1
  for w in "${wards[@]}"; do start_agent "$w"; done
  wait_idle
}

# Every agent behind a lossy link; five of them cut off entirely for a
# while, then healed.
scenario_net() {
  local w i
  if ! net_available; then
    log "scenario net needs root, ip and nft: not run"; return 1
  fi
  net_setup
  net_mode=1
  start_hub
  for w in "${wards[@]}"; do start_agent "$w"; done
  net_loss_all 10
  log "10% packet loss on every agent's link"
  feed_all a
  sleep 2
  for i in 0 1 2 3 4; do net_rule "$i" drop; done
  log "agents ${wards[*]:0:5} cut off"
  sleep $(( short ? 4 : 20 ))
  for i in 0 1 2 3 4; do net_rule "$i" numgen random mod 100 \< 10 drop; done
  log "cut healed"
  sleep 2
  net_loss_all 0
  wait_idle
  local rc=$?
  net_mode=0
  return $rc
}

failed=0
for s in "${scenarios[@]}"; do
  log "scenario $s: $rows rows per file, 2 files per agent, ${#wards[@]} agents"
  setup_scenario "$s"
  if ! "scenario_${s//-/_}"; then
    log "scenario $s did not finish; logs in $work/logs"; failed=1
    WARDSYNC_KEEP_CHAOS=1
  fi
  stop_all
  net_mode=0
  net_teardown
  "$top/scripts/pg.sh" start >/dev/null
  check "$s" || failed=1
done
exit $failed
