#!/usr/bin/env bash
# Fault suite: 15 agents stream events into a real hub and PostgreSQL while
# one fault at a time is injected; then chaos-checker compares every outbox
# with the database and prints "lost=N duplicated=N unexpected=N ...", and
# recount.sql compares every tally the hub's triggers keep with a recount
# from the raw rows and prints "tallies checked=N mismatched=M". A scenario
# fails when anything is lost, duplicated or unexpected, or a tally is off.
#
# Each agent gets, per feed, a third identification ballots (survey round
# CHAOS-R1, opened before the agents start), a third petition events and a
# third reception sessions. Petition events come in three files dropped
# into the inbox some seconds apart: petitions received in the first, and
# for some of them accepted, in progress and resolved (on later days) in
# the next two, one of them late (an older change after a newer one);
# other petitions have their whole history in the first file. The second
# file also corrects some reception sessions. So the tally triggers see
# updates that move a row from one bucket to another, not only inserts.
#
# usage: tests/chaos/run.sh [--short] [--build DIR] [SCENARIO...]
#   scenarios: hub-kill agent-kill pg-restart pg-outage replay net
#              (default: all)
#   --short    fewer events and faults (what "make test" runs)
#
# It starts its own private PostgreSQL cluster (a temporary folder, port
# WARDSYNC_CHAOS_PG_PORT, default 25490: below Linux's ephemeral range
# 32768-60999, so that no socket a test opens meanwhile can hold it)
# because it crashes it on purpose.
# Scenario net (root, ip, nft) names its namespaces, bridge and subnet after
# WARDSYNC_CHAOS_NET_ID (0..254; default 0 on the default port, else one
# derived from the port), so that runs on different ports can overlap.
# Every loop is bounded in count and time; all traffic stays on loopback
# or inside the network namespaces and bridge that scenario net creates.
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
build="$top/build"
short=0
scenarios=()
while [ $# -gt 0 ]; do
  case "$1" in
    --short) short=1 ;;
    --build) build=$(cd "$2" && pwd); shift ;;
    -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
    -*) echo "chaos: unknown option $1" >&2; exit 2 ;;
    *) scenarios+=("$1") ;;
  esac
  shift
done
[ ${#scenarios[@]} -gt 0 ] || scenarios=(hub-kill agent-kill pg-restart pg-outage replay net)
# The build tree's data folder (migrations, catalogue): programs find
# nothing in the source tree by themselves.
export WARDSYNC_DATA_DIR="${WARDSYNC_DATA_DIR:-$build/data}"

hub_bin="$build/district-hub/district-hub"
agent_bin="$build/ward-agent/ward-agent"
checker="$build/tests/chaos/chaos-checker"
for b in "$hub_bin" "$agent_bin" "$checker"; do
  [ -x "$b" ] || { echo "chaos: $b not built" >&2; exit 2; }
done

# rows: events per agent and feed are 2 x rows; the direct import of
# scenario agent-kill is one file of rows reception sessions.
# wave_gap: seconds between the three files of petition changes of a feed.
if [ $short -eq 1 ]; then
  rows=200 hub_kills=5 agent_kills=6 replays=20 wave_gap=0.5
else
  rows=4000 hub_kills=20 agent_kills=30 replays=200 wave_gap=4
fi
wards=(LB01 LB02 LB03 LB04 LB05 LB06 LB07 LB08 LB09 LB10 LB11 LB12 LB13 LB14 LB)
per_feed=$(( 2 * rows ))
n_ballots=$(( per_feed / 3 )) n_petitions=$(( per_feed / 3 ))
n_reception=$(( per_feed - n_ballots - n_petitions ))
round=CHAOS-R1 subjects=8

work=$(mktemp -d /tmp/wardsync-chaos.XXXXXX)
pg_port=${WARDSYNC_CHAOS_PG_PORT:-25490}
export WARDSYNC_VAR="$work/var" WARDSYNC_PG_PORT="$pg_port"
hub_pid=""
declare -A agent_pid=()
feeders=()          # background drops of a feed's later files (feed_all)
net_mode=0          # 1: each agent in its own network namespace (scenario net)
# Names and addresses of scenario net (namespaces, bridge, veths, subnet
# 10.231.ID.0/24). ID 0 (the default port's run) uses wsc0..wsc14, wscbr0
# and wscv0..; a run on its own port (WARDSYNC_CHAOS_PG_PORT) gets its own
# ID, so that two runs on one machine do not delete each other's network.
net_id=${WARDSYNC_CHAOS_NET_ID:-$(( pg_port == 25490 ? 0 : pg_port % 250 + 1 ))}
[[ "$net_id" =~ ^[0-9]+$ ]] && [ "$net_id" -le 254 ] ||
  { echo "chaos: WARDSYNC_CHAOS_NET_ID wants 0..254, not \"$net_id\"" >&2; exit 2; }
if [ "$net_id" -eq 0 ]; then
  net_ns=wsc net_br=wscbr0 net_veth=wscv
else
  net_ns="wsc-$net_id-" net_br="wscbr-$net_id" net_veth="wscv-$net_id-"
fi
net_hub=10.231.$net_id.1  # the hub's side of the test bridge

log() { printf '[chaos %5ss] %s\n' "$SECONDS" "$*"; }

cleanup() {
  set +e
  stop_feeders
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

# Survey round CHAOS-R1 over 2023, every unit with its subjects (odd ones
# rated on form leadership, even ones on staff), created and opened in
# every scenario's database so that the hub accepts the ballots.
{
  echo "record,round,a,b,c"
  echo "round,$round,2023-01-01,2023-12-31,chaos"
  echo "form,$round,leadership,leadership,"
  echo "form,$round,staff,staff,"
  for w in "${wards[@]}"; do
    echo "ward,$round,$w,$(( 2 * n_ballots )),"
    for ((i = 1; i <= subjects; i++)); do
      printf 'subject,%s,%s,%s-S%02d,%s\n' "$round" "$w" "$w" "$i" \
        "$([ $((i % 2)) -eq 1 ] && echo leadership || echo staff)"
    done
  done
} >"$work/rounds.csv"

admin_sql() { psql "${owner/dbname=wardsync/dbname=postgres}" -qAtX -v ON_ERROR_STOP=1 -c "SET client_min_messages = warning" -c "$1"; }

# The pull and metrics endpoints are not bound (=none): by default they are
# tcp://*:7402 and 127.0.0.1:9741, which a second hub on the machine
# (another fault run, the demo) would hold, and this hub would then not
# start.
start_hub() {
  local ep=$endpoint
  [ $net_mode -eq 1 ] && ep="tcp://$net_hub:$port"
  WARDSYNC_HUB_PULL=none WARDSYNC_HUB_METRICS_ENDPOINT=none \
    "$hub_bin" --database "$db" run --insecure --ingest "$ep" \
    >>"$work/logs/hub.log" 2>&1 &
  hub_pid=$!
}

start_agent() {
  local w=$1 i
  if [ $net_mode -eq 1 ]; then
    i=$(ward_index "$w")
    ip netns exec "$net_ns$i" "$agent_bin" --home "$work/agents/$w" --ward "$w" \
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
    ip netns add "${net_ns}probe" 2>/dev/null && ip netns del "${net_ns}probe"
}

net_setup() {
  local i
  net_teardown
  ip link add "$net_br" type bridge
  ip addr add "$net_hub/24" dev "$net_br"
  ip link set "$net_br" up
  for i in "${!wards[@]}"; do
    ip netns add "$net_ns$i"
    ip link add "$net_veth$i" type veth peer name eth0 netns "$net_ns$i"
    ip link set "$net_veth$i" master "$net_br" up
    ip netns exec "$net_ns$i" ip addr add "10.231.$net_id.$((10 + i))/24" dev eth0
    ip netns exec "$net_ns$i" ip link set eth0 up
    ip netns exec "$net_ns$i" ip link set lo up
    ip netns exec "$net_ns$i" nft -f - <<NFT
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
  ip netns exec "$net_ns$i" nft flush chain inet chaos in
  ip netns exec "$net_ns$i" nft flush chain inet chaos out
  if [ $# -gt 0 ]; then
    ip netns exec "$net_ns$i" nft add rule inet chaos in "$@"
    ip netns exec "$net_ns$i" nft add rule inet chaos out "$@"
  fi
}

net_loss_all() {
  local i
  for i in "${!wards[@]}"; do
    if [ "$1" -gt 0 ]; then net_rule "$i" numgen random mod 100 \< "$1" drop
    else net_rule "$i"; fi
  done
}

# A namespace can outlive "ip netns del" by minutes (the sockets of an agent
# that was cut off still retrying), and its veth with it; the veths are
# deleted by name too, so that the next net_setup finds the names free.
net_teardown() {
  local n i
  for n in $(ip netns list 2>/dev/null | awk -v re="^${net_ns}[0-9]+\$" '$1 ~ re {print $1}'); do ip netns del "$n"; done
  for i in "${!wards[@]}"; do ip link del "$net_veth$i" 2>/dev/null || true; done
  ip link del "$net_br" 2>/dev/null || true
}

# gen_ballots WARD PART N: N identification ballots of round CHAOS-R1 for
# subjects WARD-S01..S08 (odd subjects on form leadership, 41 items; even
# ones on staff, 36 items, i37..i41 empty), every respondent group, levels
# drawn from a seed of WARD and PART.
gen_ballots() {
  local seed
  seed=$(printf '%s' "$1-$2" | cksum | cut -d' ' -f1)
  awk -v w="$1" -v n="$3" -v round="$round" -v subjects="$subjects" \
      -v seed="$seed" 'BEGIN {
    srand(seed % 1000003)
    printf "survey,form,subject,respondent_group,collected_on"
    for (j = 1; j <= 41; j++) printf ",i%02d", j
    printf "\n"
    for (i = 0; i < n; i++) {
      s = i % subjects; items = s % 2 == 0 ? 41 : 36
      printf "%s,%s,%s-S%02d,%d,2023-%02d-%02d", round,
        (items == 41 ? "leadership" : "staff"), w, s + 1,
        1 + int(i / subjects) % 4, 1 + i % 12, 1 + i % 28
      for (j = 1; j <= 41; j++) {
        r = rand()
        if (j > items) printf ","
        else printf ",%d", (r < 0.7 ? 1 : r < 0.9 ? 2 : 3)
      }
      printf "\n"
    }
  }'
}

# gen_petitions WARD PART N FILE1 FILE2 FILE3: N petition events in three
# files, in blocks of 10 events of 4 petitions:
#   A  received (or transferred, out of jurisdiction): FILE1
#   B  received: FILE1; accepted (+2 days) and in progress (+9): FILE2;
#      resolved (+20): FILE3. In every other block resolved goes to FILE2
#      and in progress to FILE3, a change older than the state it follows.
#   C  received, accepted, in progress, resolved (or withdrawn), all in
#      FILE1: the whole history in one file
#   D  received, first seen in FILE2
gen_petitions() {
  awk -v w="$1" -v p="$2" -v n="$3" -v f1="$4" -v f2="$5" -v f3="$6" '
  function day(doy,   m) { # day doy (1..365) of 2023
    for (m = 1; m < 12 && doy > mdays[m]; m++) doy -= mdays[m]
    return sprintf("2023-%02d-%02d", m, doy)
  }
  function row(file, nr, status, juris, recv, due, changed, k) {
    printf("%s-%s-P%05d,%s,%s,%s,%s,%s,%s,%s,\"chaos, row %d\"\n", w, p, nr,
           kind, channel, status, juris, day(recv), (due ? day(due) : ""),
           day(changed), k) > file
  }
  BEGIN {
    split("31 28 31 30 31 30 31 31 30 31 30 31", mdays, " ")
    split("complaint denunciation recommendation reflection", kinds, " ")
    split("in_person post online", channels, " ")
    split("received accepted in_progress resolved", st, " ")
    split("0 2 9 20", off_b, " ")
    split("0 1 5 12", off_c, " ")
    header = "petition,kind,channel,status,in_jurisdiction,received_on,due_on,changed_on,note"
    print header > f1; print header > f2; print header > f3
    for (k = 0; k < n; k++) {
      c = int(k / 10); pos = k % 10
      recv = 1 + (c * 11) % 320; due = recv + 45
      kind = kinds[1 + c % 4]; channel = channels[1 + c % 3]
      if (pos == 0) {
        if (c % 3 == 2) row(f1, 4 * c, "transferred", "no", recv, 0, recv, k)
        else row(f1, 4 * c, "received", "yes", recv, 0, recv, k)
      } else if (pos <= 4) {
        i = pos
        file = i == 1 ? f1 : i == 2 ? f2 : (i == 3) == (c % 2 == 0) ? f2 : f3
        row(file, 4 * c + 1, st[i], "yes", recv, (i == 1 ? 0 : due),
            recv + off_b[i], k)
      } else if (pos <= 8) {
        i = pos - 4
        s = i == 4 && c % 4 == 3 ? "withdrawn" : st[i]
        row(f1, 4 * c + 2, s, "yes", recv, (i == 1 ? 0 : due),
            recv + off_c[i], k)
      } else {
        row(f2, 4 * c + 3, "received", "yes", recv + 3, 0, recv + 3, k)
      }
    }
  }'
}

# gen_reception WARD PART N FILE1 [FILE2]: N reception sessions; with FILE2,
# one in ten of them is a correction, in FILE2, of a session of FILE1 (same
# code and day, host vice_chair, two more citizens).
gen_reception() {
  awk -v w="$1" -v p="$2" -v n="$3" -v f1="$4" -v f2="${5:-}" '
  function session(file, i, host, citizens) {
    printf("%s-%s-S%05d,2023-%02d-%02d,%s,regular,%d,%d\n", w, p, i,
           1 + i % 12, 1 + i % 28, host, citizens, i % 3) > file
  }
  BEGIN {
    fixes = f2 == "" ? 0 : int(n / 10)
    header = "session,held_on,host_role,mode,citizens,petitions"
    print header > f1
    for (i = 1; i <= n - fixes; i++)
      session(f1, i, (i % 3 == 0 ? "chair" : "officer"), i % 7)
    if (fixes) {
      print header > f2
      for (j = 0; j < fixes; j++)
        session(f2, 1 + 9 * j, "vice_chair", (1 + 9 * j) % 7 + 2)
    }
  }'
}

# feed_all PART: every agent's files of one feed (2 x rows events). The
# ballots, the reception sessions and the first petition file go into the
# inbox now; the second and third files wave_gap and 2 x wave_gap seconds
# later, from the background (stop_feeders, wait_idle).
feed_all() {
  local part=$1 w inbox s2 s3
  for w in "${wards[@]}"; do
    inbox="$work/agents/$w/inbox"
    s2="$work/staged/$part-2/$w" s3="$work/staged/$part-3/$w"
    mkdir -p "$s2" "$s3"
    gen_ballots "$w" "$part" "$n_ballots" >"$inbox/.ballots-$part.tmp"
    gen_petitions "$w" "$part" "$n_petitions" "$inbox/.petitions-$part.tmp" \
      "$s2/petitions-$part-2.csv" "$s3/petitions-$part-3.csv"
    gen_reception "$w" "$part" "$n_reception" "$inbox/.reception-$part.tmp" \
      "$s2/reception-$part-2.csv"
    mv "$inbox/.ballots-$part.tmp" "$inbox/ballots-$part.csv"
    mv "$inbox/.petitions-$part.tmp" "$inbox/petitions-$part.csv"
    mv "$inbox/.reception-$part.tmp" "$inbox/reception-$part.csv"
  done
  (
    for wave in 2 3; do
      sleep "$wave_gap"
      for w in "${wards[@]}"; do
        mv "$work/staged/$part-$wave/$w/"*.csv "$work/agents/$w/inbox/" 2>/dev/null || true
      done
    done
  ) &
  feeders+=($!)
}

stop_feeders() {
  local p
  for p in "${feeders[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  feeders=()
}

# Waits until every feed has dropped its last files (2 x wave_gap at most).
wait_feeders() {
  local p
  for p in "${feeders[@]}"; do wait "$p" 2>/dev/null || true; done
  feeders=()
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

# Waits (at most 300 s) until every feed has dropped its last files and
# every agent has delivered everything.
wait_idle() {
  local q f deadline=$((SECONDS + 300))
  wait_feeders
  while [ $SECONDS -lt $deadline ]; do
    q=$(queued_total); f=$(inbox_files)
    [ "$q" -eq 0 ] && [ "$f" -eq 0 ] && return 0
    sleep 0.5
  done
  log "not idle after 300 s: queued=$q inbox_files=$f"
  return 1
}

# What the scenario stored, and how many petitions a later transaction
# moved to a newer state (an UPDATE the tally triggers had to follow).
stored_summary() {
  psql "$db" -qAtX -v ON_ERROR_STOP=1 -c "
    SELECT format('stored %s ballots, %s petition events (%s petitions updated by a later transaction), %s reception events, %s rejected',
      count(*) FILTER (WHERE kind = 'ballot'),
      count(*) FILTER (WHERE kind = 'petition'),
      (SELECT count(*) FROM petitions p
         JOIN events e ON e.event_id = p.last_event_id
        WHERE e.received_at > (SELECT min(f.received_at)
                                 FROM petition_history h
                                 JOIN events f USING (event_id)
                                WHERE h.ward = p.ward
                                  AND h.petition = p.petition)),
      count(*) FILTER (WHERE kind = 'reception'),
      (SELECT count(*) FROM rejected_events))
      FROM events"
}

check() {
  local name=$1 outboxes=() w
  for w in "${wards[@]}"; do outboxes+=("$work/agents/$w/outbox.db"); done
  local line rc=0
  line=$("$checker" --database "$db" "${outboxes[@]}") || rc=$?
  echo "chaos $name: $line"
  # Every tally against a recount from the raw rows.
  local out trc=0 bad
  out=$(psql "$db" -qAtX -v ON_ERROR_STOP=1 -v show=5 \
          -f "$top/tests/chaos/recount.sql" 2>&1) || trc=$?
  bad=$(sed -n '1s/^tallies checked=[0-9]* mismatched=\([0-9]*\).*/\1/p' <<<"$out")
  if [ $trc -ne 0 ] || [ -z "$bad" ]; then
    echo "chaos $name: tallies could not be recounted: $out"
    return 1
  fi
  sed "1s/^/chaos $name: /; 2,\$ s/^/chaos $name:   /" <<<"$out"
  [ "$bad" -eq 0 ] || rc=1
  log "$(stored_summary)" || true
  return $rc
}

setup_scenario() {
  local name=$1 w
  db_name="wardsync_chaos_${name//-/_}"
  admin_sql "DROP DATABASE IF EXISTS $db_name WITH (FORCE)" >/dev/null
  admin_sql "CREATE DATABASE $db_name" >/dev/null
  db="${owner/dbname=wardsync/dbname=$db_name}"
  rm -rf "$work/agents" "$work/logs" "$work/staged"; mkdir -p "$work/logs"
  "$hub_bin" --database "$db" migrate >>"$work/logs/hub.log" 2>&1
  "$hub_bin" --database "$db" round create --file "$work/rounds.csv" >>"$work/logs/hub.log" 2>&1
  "$hub_bin" --database "$db" round open "$round" >>"$work/logs/hub.log" 2>&1
  for w in "${wards[@]}"; do mkdir -p "$work/agents/$w/inbox"; done
}

stop_all() {
  local w
  stop_feeders
  for w in "${!agent_pid[@]}"; do kill "${agent_pid[$w]}" 2>/dev/null || true; done
  for w in "${!agent_pid[@]}"; do wait "${agent_pid[$w]}" 2>/dev/null || true; done
  agent_pid=()
  if [ -n "$hub_pid" ]; then kill "$hub_pid" 2>/dev/null || true; wait "$hub_pid" 2>/dev/null || true; fi
  hub_pid=""
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
  # First the agent imports what the feeds dropped into its inbox, so that
  # its outbox grows by the direct import alone.
  local w=LB03 before after n
  wait_feeders
  for n in $(seq 1 300); do
    [ -z "$(ls -A "$work/agents/$w/inbox")" ] && break
    sleep 0.1
  done
  before=$("$agent_bin" --home "$work/agents/$w" status --format json | sed -n 's/.*"last_seq": *\([0-9]*\).*/\1/p')
  gen_reception "$w" direct "$rows" "$work/reception-direct.csv"
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
  log "scenario $s: $per_feed events per agent and feed ($n_ballots ballots, $n_petitions petition events, $n_reception reception sessions), ${#wards[@]} agents"
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
