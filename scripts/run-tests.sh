#!/usr/bin/env bash
# Runs every test against a private PostgreSQL that it starts and stops.
# Usage: scripts/run-tests.sh [BUILD_DIR]
# Integration tests read the owner's connection string from
# WARDSYNC_TEST_DATABASE and create databases of their own in that cluster.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
cd "$top"
started=$(date +%s)

"$top/scripts/pg.sh" start
trap '"$top/scripts/pg.sh" stop' EXIT
WARDSYNC_TEST_DATABASE=$("$top/scripts/pg.sh" conninfo)
export WARDSYNC_TEST_DATABASE

echo "== docker-compose.yml"
if command -v docker-compose >/dev/null; then
  docker-compose -f docker-compose.yml config -q
  echo "docker-compose config: ok"
else
  echo "docker-compose not installed" >&2; exit 1
fi

echo "== ctest"
ctest --test-dir "$build" --output-on-failure -j2 --timeout 300

echo "run-tests: finished in $(( $(date +%s) - started ))s"
