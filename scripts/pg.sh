#!/usr/bin/env bash
# A private PostgreSQL 15 cluster for tests and the demo, on loopback only.
#
#   scripts/pg.sh start    initialise (first time) and start; prints the
#                          connection string and writes it to var/pg/conninfo
#   scripts/pg.sh stop     stop it (and remove a temporary data directory)
#   scripts/pg.sh restart  stop and start it, keeping the data directory
#                          (to load a library set with ALTER SYSTEM)
#   scripts/pg.sh crash    stop it the hard way (-m immediate: no
#                          checkpoint, crash recovery at the next start;
#                          the data directory is kept) - for fault tests
#   scripts/pg.sh status   is it running
#   scripts/pg.sh conninfo print the owner's connection string
#
# start also writes var/pg/hub.password and var/pg/city.password (once),
# the passwords of the wardsync_hub and wardsync_city roles.
#
# PostgreSQL refuses to run as root, so as root the server runs as the
# unprivileged user "postgres". Its data directory lives in var/pg/data when
# that user can reach it; when the clone sits in a folder others cannot
# enter (CI under /root), it lives in a temporary folder whose path is
# printed, remembered in var/pg/datadir and removed by "stop".
#
# Environment: WARDSYNC_PG_PORT (default 54329), WARDSYNC_VAR (default var/).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
var="${WARDSYNC_VAR:-$top/var}/pg"
port="${WARDSYNC_PG_PORT:-54329}"
bindir=$(ls -d /usr/lib/postgresql/15/bin 2>/dev/null || true)
[ -n "$bindir" ] || { echo "pg: PostgreSQL 15 not installed (run scripts/install-deps.sh)" >&2; exit 1; }

mkdir -p "$var"
chmod 700 "$var"

if [ "$(id -u)" -eq 0 ]; then
  runas=(runuser -u postgres --)
  pguser=postgres
else
  runas=()
  pguser=$(id -un)
fi

datadir_file="$var/datadir"

pick_datadir() {
  if [ -f "$datadir_file" ] && [ -d "$(cat "$datadir_file")" ]; then
    cat "$datadir_file"; return
  fi
  local d
  if [ ${#runas[@]} -eq 0 ] || "${runas[@]}" test -w "$var" 2>/dev/null ||
     { chown "$pguser" "$var" && "${runas[@]}" test -w "$var" 2>/dev/null; }; then
    d="$var/data"
  else
    d=$(mktemp -d /tmp/wardsync-pg.XXXXXX)
    chown "$pguser" "$d"
    echo "pg: $top is not reachable by user $pguser; data directory is $d (removed by 'pg.sh stop')" >&2
  fi
  echo "$d" > "$datadir_file"
  echo "$d"
}

pg() { (cd / && "${runas[@]}" "$bindir/$1" "${@:2}"); }

password_file="$var/owner.password"
conninfo_file="$var/conninfo"

write_conninfo() {
  echo "host=127.0.0.1 port=$port dbname=wardsync user=wardsync_owner password=$(cat "$password_file") connect_timeout=5" > "$conninfo_file"
  chmod 600 "$conninfo_file"
}

start() {
  local data; data=$(pick_datadir)
  if [ ! -f "$data/PG_VERSION" ]; then
    [ -f "$password_file" ] || { umask 077; head -c 18 /dev/urandom | base64 | tr -d '/+=' > "$password_file"; }
    local pw; pw=$(mktemp)
    cp "$password_file" "$pw"; chown "$pguser" "$pw"; chmod 600 "$pw"
    mkdir -p "$data"; chown "$pguser" "$data"; chmod 700 "$data"
    echo "pg: initdb $data"
    pg initdb -D "$data" -U wardsync_owner --pwfile="$pw" --auth-local=scram-sha-256 \
       --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$var/initdb.log" 2>&1 ||
      { cat "$var/initdb.log" >&2; rm -f "$pw"; exit 1; }
    rm -f "$pw"
    cat >> "$data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$data'
fsync = on
synchronous_commit = on
max_connections = 60
shared_buffers = 128MB
logging_collector = off
CONF
  fi
  if pg pg_ctl -D "$data" status >/dev/null 2>&1; then
    echo "pg: already running on 127.0.0.1:$port ($data)"
  else
    pg pg_ctl -D "$data" -l "$data/server.log" -w -t 60 start >/dev/null ||
      { echo "pg: could not start; log follows" >&2; tail -20 "$data/server.log" >&2; exit 1; }
    echo "pg: started on 127.0.0.1:$port ($data)"
  fi
  write_conninfo
  # Passwords "district-hub migrate" gives the hub's and the city's roles
  # (hub.hub_role_password_file, hub.city_role_password_file): one per
  # cluster, since roles are cluster-wide.
  local role
  for role in hub city; do
    [ -s "$var/$role.password" ] ||
      (umask 077; head -c 18 /dev/urandom | base64 | tr -d '/+=' > "$var/$role.password")
  done
  PGPASSWORD=$(cat "$password_file") "$bindir/psql" -h 127.0.0.1 -p "$port" -U wardsync_owner -d postgres -qAtc \
    "SELECT 1 FROM pg_database WHERE datname='wardsync'" | grep -q 1 ||
    PGPASSWORD=$(cat "$password_file") "$bindir/createdb" -h 127.0.0.1 -p "$port" -U wardsync_owner wardsync
}

stop() {
  [ -f "$datadir_file" ] || { echo "pg: not initialised"; return 0; }
  local data; data=$(cat "$datadir_file")
  if [ -f "$data/PG_VERSION" ] && pg pg_ctl -D "$data" status >/dev/null 2>&1; then
    pg pg_ctl -D "$data" -m fast -w stop >/dev/null
    echo "pg: stopped"
  fi
  case "$data" in
    /tmp/wardsync-pg.*) rm -rf "$data" "$datadir_file"; echo "pg: removed $data" ;;
  esac
}

restart() {
  local data; data=$(cat "$datadir_file")
  pg pg_ctl -D "$data" -l "$data/server.log" -m fast -w -t 60 restart >/dev/null ||
    { echo "pg: could not restart; log follows" >&2; tail -20 "$data/server.log" >&2; exit 1; }
  echo "pg: restarted on 127.0.0.1:$port ($data)"
}

crash() {
  local data; data=$(cat "$datadir_file")
  pg pg_ctl -D "$data" -m immediate -w stop >/dev/null
  echo "pg: stopped -m immediate"
}

case "${1:-}" in
  start) start ;;
  restart) restart ;;
  crash) crash ;;
  stop) stop ;;
  status)
    [ -f "$datadir_file" ] && pg pg_ctl -D "$(cat "$datadir_file")" status ;;
  conninfo) cat "$conninfo_file" ;;
  -h|--help|"") sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; [ -n "${1:-}" ] ;;
  *) echo "pg: unknown command \"$1\" (start, stop, restart, crash, status, conninfo)" >&2; exit 2 ;;
esac
