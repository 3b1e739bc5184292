#!/usr/bin/env bash
# Runs the whole system on one machine with the Long Biên seed data:
# a private PostgreSQL, one district hub and 15 ward agents (LB01..LB14 and
# the district office LB), each fed its CSV files through its inbox, then
# prints the district's indicators for the report's period as of its last
# day (seedgen's calendar: 2023-08-07..2024-05-31), and checks the totals
# of DESIGN §1, the district's inspections and job rotation
# (docs/DESIGN.md §6) and what depends on the as-of day.
#
# Usage: scripts/demo.sh [BUILD_DIR]      (default: build; "make demo")
#        scripts/demo.sh --help
#
# Environment:
#   WARDSYNC_VAR           state folder (default: <repo>/var); the demo
#                          writes var/demo/{seed,agents,logs,indicators*.csv}
#                          and PostgreSQL lives in var/pg (scripts/pg.sh)
#   WARDSYNC_PG_PORT       PostgreSQL port (default 54329)
#   WARDSYNC_DEMO_PORT     hub ingest port on 127.0.0.1 (default 7401)
#   WARDSYNC_DEMO_PULL_PORT  hub pull port on 127.0.0.1 (default ingest + 1);
#                          city-pull writes var/demo/city/ and the
#                          warehouse database wardsync_city_demo,
#                          city-pull report var/demo/city.html, and
#                          district-hub report var/demo/report.html
#   WARDSYNC_DEMO_TIMEOUT  seconds to wait for every agent to drain (300)
#   WARDSYNC_DEMO_SEED     seedgen seed (default 2023)
#
# The database is "wardsync_demo", dropped and created again on every run,
# so that the demo is repeatable. A PostgreSQL this script started is
# stopped on exit, success or failure; one that was already running is left
# running. Everything runs as in production: the hub connects as the
# wardsync_hub role (password from var/pg/hub.password) and serves CURVE
# only; every agent has its own key pair, made and enrolled afresh in
# var/demo/keys on every run.
set -euo pipefail

usage() { sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; }
case "${1:-}" in
  -h|--help) usage; exit 0 ;;
  -*) echo "demo: unknown option \"$1\"" >&2; usage >&2; exit 2 ;;
esac
[ $# -le 1 ] || { usage >&2; exit 2; }

top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
if [ -d "$build" ]; then
  build=$(cd "$build" && pwd)
else
  build="$top/$build"
fi
# The build tree's data folder (migrations, catalogue): programs find
# nothing in the source tree by themselves.
export WARDSYNC_DATA_DIR="${WARDSYNC_DATA_DIR:-$build/data}"
export WARDSYNC_VAR="${WARDSYNC_VAR:-$top/var}"
demo="$WARDSYNC_VAR/demo"
ingest_port="${WARDSYNC_DEMO_PORT:-7401}"
timeout="${WARDSYNC_DEMO_TIMEOUT:-300}"
seed="${WARDSYNC_DEMO_SEED:-2023}"
endpoint="tcp://127.0.0.1:$ingest_port"
pull_endpoint="tcp://127.0.0.1:${WARDSYNC_DEMO_PULL_PORT:-$((ingest_port + 1))}"
units=(LB01 LB02 LB03 LB04 LB05 LB06 LB07 LB08 LB09 LB10 LB11 LB12 LB13 LB14 LB)

hub_bin="$build/district-hub/district-hub"
agent_bin="$build/ward-agent/ward-agent"
seedgen_bin="$build/tools/seedgen"
citypull_bin="$build/city-pull/city-pull"
for b in "$hub_bin" "$agent_bin" "$seedgen_bin" "$citypull_bin"; do
  [ -x "$b" ] || { echo "demo: $b not built (run: make build)" >&2; exit 1; }
done
psql_bin=$(command -v psql || echo /usr/lib/postgresql/15/bin/psql)

cd "$top"
started=$(date +%s)
elapsed() { echo $(( $(date +%s) - started )); }
say() { printf '[%4ss] %s\n' "$(elapsed)" "$*"; }

# ------------------------------------------------------------ cleanup
hub_pid=
declare -A agent_pid=()
pg_started=0

# Sends SIGTERM to the given pids, waits up to 15 s, then SIGKILLs the rest.
stop_pids() {
  local pids=("$@") p deadline
  [ ${#pids[@]} -gt 0 ] || return 0
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  deadline=$(( $(date +%s) + 15 ))
  for p in "${pids[@]}"; do
    while kill -0 "$p" 2>/dev/null && [ "$(date +%s)" -lt "$deadline" ]; do
      sleep 0.2
    done
    if kill -0 "$p" 2>/dev/null; then
      echo "demo: pid $p did not stop after SIGTERM; sending SIGKILL" >&2
      kill -KILL "$p" 2>/dev/null || true
    fi
    wait "$p" 2>/dev/null || true
  done
}

stop_all() {
  local pids=()
  for c in "${!agent_pid[@]}"; do pids+=("${agent_pid[$c]}"); done
  agent_pid=()
  stop_pids "${pids[@]}"
  if [ -n "$hub_pid" ]; then
    stop_pids "$hub_pid"
    hub_pid=
  fi
}

on_exit() {
  local rc=$?
  trap - EXIT INT TERM
  stop_all
  if [ "$pg_started" -eq 1 ]; then
    "$top/scripts/pg.sh" stop || true
    rm -f "$demo/pg-started"
  fi
  if [ "$rc" -ne 0 ]; then
    echo "demo: FAILED after $(elapsed)s (logs in $demo/logs)" >&2
  fi
  exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

show_log_tails() {
  local f
  for f in "$demo"/logs/*.log; do
    [ -s "$f" ] || continue
    echo "---- tail $f" >&2
    tail -n 15 "$f" >&2
  done
}

fail() {
  echo "demo: $*" >&2
  show_log_tails
  exit 1
}

# ------------------------------------------------------------ leftovers
# An earlier run killed with SIGKILL cannot have stopped its programs; stop
# those still running (checked by pid and command line) before clearing
# the folders they use.
if [ -f "$demo/pids" ]; then
  stale=()
  while read -r p; do
    cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline" || true)
    case "$cmd" in
      "$hub_bin run "*|"$agent_bin --home $demo/agents/"*) stale+=("$p") ;;
    esac
  done <"$demo/pids"
  if [ ${#stale[@]} -gt 0 ]; then
    say "stopping ${#stale[@]} programs left over by an earlier run: ${stale[*]}"
    stop_pids "${stale[@]}"
  fi
fi

# ------------------------------------------------------------ PostgreSQL
# var/demo/pg-started marks a cluster this script started: a run killed
# before its trap ran leaves that mark, and the next run adopts the cluster.
if "$top/scripts/pg.sh" status >/dev/null 2>&1; then
  if [ -f "$demo/pg-started" ]; then
    pg_started=1
    say "adopting the PostgreSQL an earlier demo run left running"
  else
    say "PostgreSQL already running (WARDSYNC_PG_PORT=${WARDSYNC_PG_PORT:-54329}); left running at the end"
  fi
else
  pg_started=1
  "$top/scripts/pg.sh" start
fi
owner_conninfo=$("$top/scripts/pg.sh" conninfo)
admin_conninfo=$(sed 's/dbname=[^ ]*/dbname=postgres/' <<<"$owner_conninfo")
demo_conninfo=$(sed 's/dbname=[^ ]*/dbname=wardsync_demo/' <<<"$owner_conninfo")
"$psql_bin" "$admin_conninfo" -X -q -v ON_ERROR_STOP=1 \
  -c 'SET client_min_messages = warning' \
  -c 'DROP DATABASE IF EXISTS wardsync_demo WITH (FORCE)' \
  -c 'CREATE DATABASE wardsync_demo' ||
  fail "could not create database wardsync_demo"
say "database wardsync_demo created afresh"
# Through the environment, not the command line: the conninfo holds a
# password that ps(1) would show to every user.
export WARDSYNC_HUB_DATABASE="$demo_conninfo"

# ------------------------------------------------------------ fresh state
case "$demo" in
  */demo) rm -rf "$demo" ;;
  *) fail "refusing to clear \"$demo\"" ;;
esac
mkdir -p "$demo/logs" "$demo/agents"
[ "$pg_started" -eq 0 ] || : >"$demo/pg-started"

"$seedgen_bin" --seed "$seed" --out "$demo/seed" >"$demo/logs/seedgen.log" 2>&1 ||
  fail "seedgen failed"
sed -n '/^calendar: /p;/^unit /,/^total /p;/^district /p' "$demo/logs/seedgen.log"

# The seed's calendar (tools/seedgen.c, struct calendar), as seedgen
# prints it: the report's period (both days included), the day it judges
# open petitions on (its last day), and a day by which every remediation
# plan's outcome is known. seedgen also prints what the hub must find on
# those days ("district LB as of DAY:" lines).
seed_key() { # KEY LINE: the value of KEY=VALUE in LINE
  sed -n "s/.*[ :]$1=\([^ ]*\).*/\1/p" <<<"$2"
}
calendar=$(grep '^calendar: ' "$demo/logs/seedgen.log") ||
  fail "seedgen printed no calendar line"
period=$(seed_key period "$calendar")
as_of=$(seed_key as_of "$calendar")
settled=$(seed_key settled "$calendar")
if [ -z "$period" ] || [ -z "$as_of" ] || [ -z "$settled" ]; then
  fail "cannot read period, as_of and settled from: $calendar"
fi
seed_as_of=$(grep "^district LB as of $as_of: " "$demo/logs/seedgen.log") ||
  fail "seedgen printed no figures as of $as_of"
seed_settled=$(grep "^district LB as of $settled: " "$demo/logs/seedgen.log") ||
  fail "seedgen printed no figures as of $settled"

# ------------------------------------------------------------ hub
# The hub role's password: one per cluster (scripts/pg.sh writes it).
hub_password_file="$WARDSYNC_VAR/pg/hub.password"
[ -s "$hub_password_file" ] ||
  (umask 077; head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$hub_password_file")
WARDSYNC_HUB_HUB_ROLE_PASSWORD_FILE="$hub_password_file" \
  "$hub_bin" migrate >"$demo/logs/migrate.log" 2>&1 ||
  fail "district-hub migrate failed"
say "district-hub migrate: ok (as the owner)"

# The survey round must exist and be open before ballots arrive: the hub
# rejects a ballot of an unknown or closed round, or for a subject the
# round does not list in the sender's ward.
"$hub_bin" round create --file "$demo/seed/rounds.csv" >>"$demo/logs/migrate.log" 2>&1 ||
  fail "district-hub round create failed"
"$hub_bin" round open 2023-R1 >>"$demo/logs/migrate.log" 2>&1 ||
  fail "district-hub round open failed"
say "survey round: $("$hub_bin" round show 2023-R1 2>>"$demo/logs/migrate.log")"

# Keys: the hub's pair, and one pair per agent enrolled for its unit.
keys="$demo/keys"
mkdir -p "$keys" && chmod 700 "$keys"
"$hub_bin" keygen "$keys/hub.key" >"$demo/logs/keys.log" 2>&1 ||
  fail "district-hub keygen failed"
for code in "${units[@]}"; do
  { "$agent_bin" keygen "$keys/$code.key" &&
    "$hub_bin" enroll --ward "$code" --key "$keys/$code.key"; } \
    >>"$demo/logs/keys.log" 2>&1 || fail "could not make and enroll the key of $code"
done
say "CURVE keys: hub and ${#units[@]} agents, each enrolled for its unit"
export WARDSYNC_AGENT_HUB_PUBLIC_KEY="$keys/hub.key"
# The city's key, enrolled as city:HN: what city-pull presents.
{ "$hub_bin" keygen "$keys/city.key" &&
  "$hub_bin" enroll --city HN --key "$keys/city.key"; } \
  >>"$demo/logs/keys.log" 2>&1 || fail "could not make and enroll the city's key"

# The hub runs as wardsync_hub, not as the owner.
hub_conninfo=$(sed -e 's/user=[^ ]*/user=wardsync_hub/' \
  -e "s/password=[^ ]*/password=$(cat "$hub_password_file")/" <<<"$demo_conninfo")
WARDSYNC_HUB_PULL="$pull_endpoint" \
WARDSYNC_HUB_DATABASE="$hub_conninfo" WARDSYNC_HUB_SECRET_KEY="$keys/hub.key_secret" \
  "$hub_bin" run --ingest "$endpoint" >"$demo/logs/hub.log" 2>&1 &
hub_pid=$!
echo "$hub_pid" >>"$demo/pids"
for _ in $(seq 1 150); do
  grep -q 'ingest endpoint=' "$demo/logs/hub.log" 2>/dev/null && break
  kill -0 "$hub_pid" 2>/dev/null || { wait "$hub_pid" || true; hub_pid=; fail "district-hub run exited at start"; }
  sleep 0.2
done
grep -q 'ingest endpoint=' "$demo/logs/hub.log" ||
  fail "district-hub did not report its ingest endpoint within 30 s"
say "hub running (pid $hub_pid): $(grep -o 'ingest endpoint=[^ ]*' "$demo/logs/hub.log" | head -1)"

# ------------------------------------------------------------ agents
agent() { # CODE ARGS...: ward-agent for one unit
  local code=$1; shift
  WARDSYNC_AGENT_SECRET_KEY="$keys/$code.key_secret" \
    "$agent_bin" --home "$demo/agents/$code" --ward "$code" --hub "$endpoint" "$@"
}

for code in "${units[@]}"; do
  mkdir -p "$demo/agents/$code/inbox"
  # The binary itself, not the agent() function: a backgrounded function
  # is a subshell, and SIGTERM to it would orphan the ward-agent.
  WARDSYNC_AGENT_SECRET_KEY="$keys/$code.key_secret" \
    "$agent_bin" --home "$demo/agents/$code" --ward "$code" --hub "$endpoint" \
    run >"$demo/logs/$code.log" 2>&1 &
  agent_pid[$code]=$!
  echo "$!" >>"$demo/pids"
done
sleep 0.5
for code in "${units[@]}"; do
  kill -0 "${agent_pid[$code]}" 2>/dev/null ||
    fail "ward-agent $code exited at start (log: $demo/logs/$code.log)"
done
say "15 agents running"

# Files the agent of CODE should have taken in by now, one per line.
declare -A expected=()

# Drops one seed file into an agent's inbox: copy under a hidden temporary
# name first, then rename, so that the agent never sees half a file.
feed() { # CODE KIND
  local code=$1 kind=$2 src="$demo/seed/$1/$2.csv" inbox="$demo/agents/$1/inbox"
  [ -f "$src" ] || return 0
  cp "$src" "$inbox/.$kind.csv.part"
  mv "$inbox/.$kind.csv.part" "$inbox/$kind.csv"
  expected[$code]+="$kind.csv"$'\n'
}

json_number() { # KEY JSON
  sed -n "s/.*\"$1\"[[:space:]]*:[[:space:]]*\([0-9][0-9]*\).*/\1/p" <<<"$2"
}

# Waits until every agent has an empty inbox, its expected files in done/,
# nothing in rejected/ and nothing queued; prints progress meanwhile.
wait_drained() { # PHASE
  local phase=$1 deadline=$(( $(date +%s) + timeout )) last_print=0
  while :; do
    local all_done=1 queued_total=0 delivered_total=0 rejected_total=0
    local files_done=0 files_expected=0 code
    for code in "${units[@]}"; do
      local home="$demo/agents/$code" f
      kill -0 "${agent_pid[$code]}" 2>/dev/null ||
        fail "ward-agent $code is no longer running (log: $demo/logs/$code.log)"
      if [ -n "$(ls -A "$home/rejected" 2>/dev/null)" ]; then
        echo "demo: ward-agent $code rejected a file:" >&2
        ls -l "$home/rejected" >&2
        for f in "$home"/rejected/*.report.txt; do
          [ -f "$f" ] && { echo "---- $f" >&2; head -n 20 "$f" >&2; }
        done
        fail "a seed file was rejected"
      fi
      while IFS= read -r f; do
        [ -n "$f" ] || continue
        files_expected=$((files_expected + 1))
        if compgen -G "$home/done/${f%.csv}*" >/dev/null; then
          files_done=$((files_done + 1))
        else
          all_done=0
        fi
      done <<<"${expected[$code]:-}"
      [ -z "$(ls -A "$home/inbox" 2>/dev/null)" ] || all_done=0
      local status queued delivered rejected
      status=$(agent "$code" status --format json 2>/dev/null) || { all_done=0; continue; }
      queued=$(json_number queued "$status")
      delivered=$(json_number delivered "$status")
      rejected=$(json_number rejected "$status")
      [ -n "$queued" ] || { all_done=0; continue; }
      queued_total=$((queued_total + queued))
      delivered_total=$((delivered_total + ${delivered:-0}))
      rejected_total=$((rejected_total + ${rejected:-0}))
      [ "$queued" -eq 0 ] || all_done=0
    done
    local now; now=$(date +%s)
    if [ "$all_done" -eq 1 ] || [ $((now - last_print)) -ge 3 ]; then
      say "$phase: files done $files_done/$files_expected, events queued $queued_total, delivered $delivered_total, rejected by hub $rejected_total"
      last_print=$now
    fi
    if [ "$all_done" -eq 1 ]; then
      [ "$rejected_total" -eq 0 ] || {
        for code in "${units[@]}"; do agent "$code" status --format table >&2 || true; done
        fail "the hub rejected $rejected_total events"
      }
      return 0
    fi
    [ "$now" -lt "$deadline" ] || fail "$phase: agents not drained after ${timeout}s"
    sleep 1
  done
}

# Ballots, petitions, reception and the district office's inspections and
# rotations first; remediation plans once the ballots that flag their
# subjects are at the hub.
for code in "${units[@]}"; do
  for kind in ballots petitions reception inspections rotations; do feed "$code" "$kind"; done
done
wait_drained "phase 1 (ballots, petitions, reception, inspections, rotations)"
for code in "${units[@]}"; do feed "$code" remediation; done
wait_drained "phase 2 (remediation)"

# ------------------------------------------------------------ a clerk's mistakes
# What a clerk does wrong (issue #11), shown on LB01, the totals still
# exact afterwards: the same file imported again is refused, naming the
# earlier import; a wrong file imported and delivered counts until it is
# withdrawn, and not after.
citizens_now() {
  "$hub_bin" indicators --period "$period" --as-of "$as_of" --format csv |
    awk -F, '$1 == "reception_citizens" && $2 == "LB" { print $6 }'
}
if out=$(agent LB01 import petitions "$demo/seed/LB01/petitions.csv" 2>&1); then
  fail "LB01's petitions.csv imported a second time was accepted"
fi
grep -q "đã nhập rồi" <<<"$out" || fail "the repeated import did not say it was imported before: $out"
say "LB01 imports petitions.csv again: $(head -n 1 <<<"$out")"
citizens_before=$(citizens_now)
wrong="$demo/tiep-cong-dan-nham.csv"
printf 'session,held_on,host_role,mode,citizens,petitions\n%s\n%s\n' \
  "LB01-NHAM-001,$as_of,chair,regular,40,0" "LB01-NHAM-002,$as_of,chair,regular,35,0" >"$wrong"
agent LB01 import reception "$wrong" >>"$demo/logs/mistakes.log" 2>&1 ||
  fail "the wrong reception file was not imported (log: $demo/logs/mistakes.log)"
wait_drained "phase 3 (a wrong file)"
citizens_wrong=$(citizens_now)
[ "$citizens_wrong" = $((citizens_before + 75)) ] ||
  fail "the wrong file's 75 citizens: reception_citizens $citizens_before -> $citizens_wrong"
wrong_id=$(agent LB01 imports --format json |
  python3 -c 'import json,sys; print(max(i["id"] for i in json.load(sys.stdin)))')
agent LB01 withdraw "$wrong_id" --reason "nhập nhầm tệp" >>"$demo/logs/mistakes.log" 2>&1 ||
  fail "ward-agent withdraw $wrong_id failed (log: $demo/logs/mistakes.log)"
wait_drained "phase 4 (the wrong file withdrawn)"
citizens_after=$(citizens_now)
[ "$citizens_after" = "$citizens_before" ] ||
  fail "after the withdrawal reception_citizens is $citizens_after, not $citizens_before"
say "LB01 imported a wrong file (reception_citizens $citizens_before -> $citizens_wrong), withdrew import $wrong_id: $citizens_after again"

# ------------------------------------------------------------ indicators
# The district's report: its period, judged on its last day, as the
# district judged it then (not today).
echo
"$hub_bin" indicators --period "$period" --as-of "$as_of" --format table ||
  fail "district-hub indicators --format table failed"
echo
"$hub_bin" indicators --period "$period" --as-of "$as_of" --format csv \
  >"$demo/indicators.csv" || fail "district-hub indicators --format csv failed"
say "wrote $demo/indicators.csv (period $period, as of $as_of)"
# The same records judged on other days: once every remediation plan's
# outcome is known, and today (no --as-of, every record).
"$hub_bin" indicators --period "$period" --as-of "$settled" --format csv \
  >"$demo/indicators-settled.csv" ||
  fail "district-hub indicators --as-of $settled failed"
"$hub_bin" indicators --format csv >"$demo/indicators-today.csv" ||
  fail "district-hub indicators (today) failed"
say "wrote $demo/indicators-settled.csv (as of $settled) and $demo/indicators-today.csv (today)"

# The district's own rollup rows: org_unit LB, of the file in check_csv.
check_failed=0
check_csv="$demo/indicators.csv"
check() { # CODE EXPECTED [optional]
  local code=$1 want=$2 optional=${3:-} got
  got=$(awk -F, -v c="$code" 'NR > 1 && $1 == c && $2 == "LB" { print $6 }' "$check_csv")
  if [ -z "$got" ] && [ -n "$optional" ]; then
    printf '  %-28s expected %6s  not published by this hub: skipped\n' "$code" "$want"
  elif [ -z "$got" ]; then
    printf '  %-28s expected %6s  got (no row)    FAIL\n' "$code" "$want"
    check_failed=1
  elif [ "$(wc -l <<<"$got")" -ne 1 ]; then
    printf '  %-28s expected %6s  got several rows: %s  FAIL\n' "$code" "$want" "$(tr '\n' ' ' <<<"$got")"
    check_failed=1
  elif awk -v g="$got" -v w="$want" 'BEGIN { exit !(g + 0 == w + 0 && g ~ /^[0-9.]+$/) }'; then
    printf '  %-28s expected %6s  got %6s  OK\n' "$code" "$want" "$got"
  else
    printf '  %-28s expected %6s  got %6s  FAIL\n' "$code" "$want" "$got"
    check_failed=1
  fi
}
echo "district LB rollup:"
head -n 1 "$demo/indicators.csv"
awk -F, 'NR > 1 && $2 == "LB"' "$demo/indicators.csv"
echo
echo "checks:"
check ballots_received 1022
check petitions_in_jurisdiction 204
check petitions_resolved 152
check petitions_in_progress 52
check reception_sessions 167
check reception_citizens 537
check petitions_received 235
check subjects_flagged 22
# The district's report on inspections and job rotation (issue #15; how
# each line maps to indicators: docs/DESIGN.md §7).
check inspections_held_party 3
check units_inspected_party 3
check party_members_inspected 3
check inspection_teams 2
check units_inspected_planned 20
check units_inspected_unannounced 14
check inspection_violations 0
check cadres_appointed 18
check cadres_rotated 30

# A ratio: numerator, denominator and the value rounded to one decimal
# (of a percentage when PERCENT is given).
check_ratio() { # CODE NUM DEN SHOWN [percent]
  local code=$1 num=$2 den=$3 shown=$4 pct=${5:-} line
  line=$(awk -F, -v c="$code" 'NR > 1 && $1 == c && $2 == "LB"' "$check_csv")
  if awk -F, -v n="$num" -v d="$den" -v s="$shown" -v p="$pct" '
       { v = $6 * (p != "" ? 100 : 1); r = sprintf("%.1f", v) }
       END { exit !(NR == 1 && $4 == n && $5 == d && r == s) }' <<<"$line"; then
    printf '  %-28s expected %s/%s = %s%s  OK\n' "$code" "$num" "$den" "$shown" "${pct:+ %}"
  else
    printf '  %-28s expected %s/%s = %s%s  got %s  FAIL\n' "$code" "$num" "$den" "$shown" "${pct:+ %}" "$line"
    check_failed=1
  fi
}
check_ratio petition_resolution_rate 152 204 74.5 percent
check_ratio citizens_per_session 537 167 3.2

# What depends on the day, as seedgen recounts it from its own files
# (docs/DESIGN.md §7): on the report's last day, some open petitions are
# overdue and none of the plans (due later) is; once the plans are settled,
# 17 were completed on time and 3 are overdue; today, every open petition
# is overdue.
seed_ratio() { # KEY LINE -> "NUM DEN SHOWN" (SHOWN: percent, one decimal)
  awk -F/ '{ printf "%s %s %.1f", $1, $2, $2 ? 100 * $1 / $2 : 0 }' \
    <<<"$(seed_key "$1" "$2")"
}
echo "checks as of $as_of (the report's last day):"
for code in petitions_overdue_open petition_backlog_age_0_15 \
  petition_backlog_age_16_30 petition_backlog_age_31_45 \
  petition_backlog_age_over_45 remediation_overdue; do
  check "$code" "$(seed_key "$code" "$seed_as_of")"
done
# shellcheck disable=SC2046 # NUM DEN SHOWN, three words
check_ratio chair_reception_weeks $(seed_ratio chair_reception_weeks "$seed_as_of") percent
# shellcheck disable=SC2046
check_ratio remediation_on_time $(seed_ratio remediation_on_time "$seed_as_of") percent
overdue_as_of=$(seed_key petitions_overdue_open "$seed_as_of")
if [ "$overdue_as_of" -lt 52 ]; then
  printf '  %-28s %s of the 52 open petitions overdue on %s, not all  OK\n' \
    'overdue is judged on as-of' "$overdue_as_of" "$as_of"
else
  printf '  %-28s %s of the 52 open petitions overdue on %s  FAIL (the seed should leave some on time)\n' \
    'overdue is judged on as-of' "$overdue_as_of" "$as_of"
  check_failed=1
fi
echo "checks as of $settled (every plan's outcome known):"
check_csv="$demo/indicators-settled.csv"
# shellcheck disable=SC2046
check_ratio remediation_on_time $(seed_ratio remediation_on_time "$seed_settled") percent
check remediation_overdue "$(seed_key remediation_overdue "$seed_settled")"
echo "checks as of today ($(TZ=Asia/Ho_Chi_Minh date +%F), every record):"
check_csv="$demo/indicators-today.csv"
check petitions_in_progress 52
check petitions_overdue_open 52
check_csv="$demo/indicators.csv"

ind() { awk -F, -v c="$1" 'NR > 1 && $1 == c && $2 == "LB" { print $'"${2:-6}"' }' "$demo/indicators.csv"; }
echo
printf 'district LB: %s ballots, %s subjects flagged, petition resolution rate %s/%s = %s %%, %s reception sessions, %s citizens, %s citizens per session\n' \
  "$(ind ballots_received | sed -E ':a;s/^([0-9]+)([0-9]{3})/\1,\2/;ta')" "$(ind subjects_flagged)" \
  "$(ind petition_resolution_rate 4)" "$(ind petition_resolution_rate 5)" \
  "$(awk -v v="$(ind petition_resolution_rate)" 'BEGIN { printf "%.1f", v * 100 }')" \
  "$(ind reception_sessions)" "$(ind reception_citizens)" \
  "$(awk -v v="$(ind citizens_per_session)" 'BEGIN { printf "%.1f", v }')"
printf 'district LB: %s inspections of %s party organisations and %s party members\n' \
  "$(ind inspections_held_party)" "$(ind units_inspected_party)" "$(ind party_members_inspected)"
printf "district LB: %s public-service inspection teams (the district's bodies and the 14 wards' party committees, %s units), unannounced inspections of %s ward people's committees, %s violations\n" \
  "$(ind inspection_teams)" "$(ind units_inspected_planned)" \
  "$(ind units_inspected_unannounced)" "$(ind inspection_violations)"
printf 'district LB: %s cadres appointed or moved\n' "$(ind cadres_appointed)"
printf 'district LB: %s leaders rotated after 8 or more years in one post (%s still due, compliance %s)\n' \
  "$(ind rotation_compliance 4)" "$(ind cadres_due_rotation)" "$(ind rotation_compliance)"
if [ "$(ind rotation_compliance 4)" != 30 ]; then
  printf '  %-28s expected %6s  got %6s  FAIL\n' 'rotated after 8+ years' 30 "$(ind rotation_compliance 4)"
  check_failed=1
fi

# The flag rule of DESIGN §6 (defaults) recounted in SQL over the stored
# ballots, independently of the hub's own indicator code.
flag_sql="
WITH per_item AS (
  SELECT b.survey, b.ward, b.subject, l.item, count(*) AS n,
         count(*) FILTER (WHERE l.level = 3) AS c3,
         count(*) FILTER (WHERE l.level >= 2) AS c23
    FROM ballots b JOIN ballot_levels l USING (event_id)
   GROUP BY b.survey, b.ward, b.subject, l.item)
SELECT count(DISTINCT (survey, ward, subject)) FROM per_item
 WHERE n >= 10 AND (10 * c3 >= 3 * n OR 2 * c23 >= n)"
if flagged=$("$psql_bin" "$demo_conninfo" -X -qAt -v ON_ERROR_STOP=1 -c "$flag_sql" 2>&1); then
  if [ "$flagged" = 22 ]; then
    printf '  %-28s expected %6s  got %6s  OK (SQL recount over ballot_levels)\n' subjects_flagged 22 "$flagged"
  else
    printf '  %-28s expected %6s  got %6s  FAIL (SQL recount over ballot_levels)\n' subjects_flagged 22 "$flagged"
    check_failed=1
  fi
else
  printf '  %-28s SQL recount not possible: %s\n' subjects_flagged "$(head -n 1 <<<"$flagged")"
fi

# ------------------------------------------------------------ city, report
# The city pulls the district (CURVE, as city:HN) into one CSV per dataset,
# then once more: the repeated pull brings only what changed, and the files
# still hold the whole dataset. Then into the city warehouse, database
# wardsync_city_demo on the same cluster. As of the report's last day
# ($as_of), like the district's report: the indicators and the petitions'
# overdue as they stood then.
rm -rf "$demo/city"
say "city-pull: pulling the district from $pull_endpoint"
city_pull() {
  "$citypull_bin" --hub "LB=$pull_endpoint key=$keys/hub.key" \
    --secret-key "$keys/city.key_secret" --output "$demo/city" \
    --timeout-ms 300000 --as-of "$as_of" "$@"
}
city_pull 2>&1 | sed 's/^/  /' || fail "city-pull failed (see above)"
say "city-pull again (incremental: only changes since the last cursor)"
city_pull 2>&1 | sed 's/^/  /' || fail "second city-pull failed (see above)"
for ds in indicators petitions ballot_aggregates sync_status inspections rotations; do
  rows=$(($(wc -l <"$demo/city/$ds.csv") - 1))
  [ "$rows" -gt 0 ] || fail "$demo/city/$ds.csv is empty after the second pull"
  printf '  %-24s %s rows\n' "$ds.csv" "$rows"
done
say "wrote $demo/city/{indicators,petitions,ballot_aggregates,sync_status,inspections,rotations}.csv and changes/"
warehouse_conninfo=$(sed 's/dbname=[^ ]*/dbname=wardsync_city_demo/' <<<"$owner_conninfo")
"$psql_bin" "$admin_conninfo" -X -q -v ON_ERROR_STOP=1 \
  -c 'SET client_min_messages = warning' \
  -c 'DROP DATABASE IF EXISTS wardsync_city_demo WITH (FORCE)' \
  -c 'CREATE DATABASE wardsync_city_demo' ||
  fail "could not create database wardsync_city_demo"
say "city-pull --into the city warehouse (database wardsync_city_demo)"
city_pull --into "$warehouse_conninfo" 2>&1 | sed 's/^/  /' ||
  fail "city-pull --into failed (see above)"
"$psql_bin" "$warehouse_conninfo" -X -q -v ON_ERROR_STOP=1 \
  -c 'SELECT district, wards, petitions_received, petitions_resolved, ballots_received FROM city.district_figures' |
  sed 's/^/  /' || fail "could not read the warehouse"
# The city's figure is the district's, as of the same day.
city_overdue=$("$psql_bin" "$warehouse_conninfo" -X -At -v ON_ERROR_STOP=1 \
  -c "SELECT value FROM city.indicators WHERE district = 'LB' AND code = 'petitions_overdue_open' AND org_unit = 'LB' AND period = 'all'") ||
  fail "could not read petitions_overdue_open from the warehouse"
hub_overdue=$("$hub_bin" indicators --as-of "$as_of" --format csv |
  awk -F, '$1 == "petitions_overdue_open" && $2 == "LB" && $3 == "all" { print $6 }')
if [ -n "$city_overdue" ] && [ "$city_overdue" = "$hub_overdue" ]; then
  printf '  %-28s %s as of %s, as the district says  OK\n' \
    'city petitions_overdue_open' "$city_overdue" "$as_of"
else
  fail "the city's petitions_overdue_open of LB as of $as_of is \"$city_overdue\", the district's \"$hub_overdue\""
fi
"$citypull_bin" report --from "$warehouse_conninfo" -o "$demo/city.html" ||
  fail "city-pull report failed"
say "wrote $demo/city.html"
"$hub_bin" status || fail "district-hub status: a unit is silent or never seen (see above)"
"$hub_bin" report --as-of "$as_of" -o "$demo/report.html" ||
  fail "district-hub report failed"
if grep -q "số liệu đến ngày $as_of" "$demo/report.html"; then
  say "wrote $demo/report.html (figures as of $as_of)"
else
  echo "  report.html does not say its figures are as of $as_of  FAIL"
  check_failed=1
fi

say "stopping agents and hub"
stop_all
if [ "$check_failed" -ne 0 ]; then
  echo "demo: FAIL: the district totals are not those of the seed data" >&2
  exit 1
fi
say "demo OK: all district totals exact; finished in $(elapsed)s"
