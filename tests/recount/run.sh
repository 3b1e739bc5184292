#!/usr/bin/env bash
# The recount, long version: many generated districts through the real hub
# and agents (tests/recount/README.md). Starts the private PostgreSQL of
# scripts/pg.sh when it is not running (and then stops it at the end).
#
# Usage: tests/recount/run.sh [--build DIR] [--first N] [--count M] [--keep]
#        (defaults: build, 1, 50)
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build="$top/build" first=1 count=50 keep=()
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=$(cd "$2" && pwd); shift 2 ;;
    --first) first=$2; shift 2 ;;
    --count) count=$2; shift 2 ;;
    --keep) keep=(--keep); shift ;;
    -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "recount: unknown argument \"$1\"" >&2; exit 2 ;;
  esac
done
# The build tree's data folder (migrations, catalogue): programs find
# nothing in the source tree by themselves.
export WARDSYNC_DATA_DIR="${WARDSYNC_DATA_DIR:-$build/data}"
cd "$top"
started=0
if ! scripts/pg.sh status >/dev/null 2>&1; then
  scripts/pg.sh start
  started=1
fi
trap '[ "$started" -eq 0 ] || scripts/pg.sh stop' EXIT
WARDSYNC_TEST_DATABASE=$(scripts/pg.sh conninfo)
export WARDSYNC_TEST_DATABASE
export WARDSYNC_TEST_HUB_PASSWORD_FILE="${WARDSYNC_VAR:-$top/var}/pg/hub.password"
export WARDSYNC_TEST_CITY_PASSWORD_FILE="${WARDSYNC_VAR:-$top/var}/pg/city.password"
python3 tests/recount/driver.py --build "$build" --first "$first" --count "$count" "${keep[@]}"
