#!/usr/bin/env bash
# The publication-rule auditor's long version (docs/DESIGN.md §7 "audit"):
# the property test over WARDSYNC_AUDIT_COUNT random districts (at most
# WARDSYNC_AUDIT_SECONDS), then the ctest tests labelled audit, against a
# private PostgreSQL that it starts and stops.
# Usage: scripts/audit.sh [BUILD_DIR]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
cd "$top"
# The build tree's data folder (migrations, catalogue): programs find
# nothing in the source tree by themselves.
export WARDSYNC_DATA_DIR="${WARDSYNC_DATA_DIR:-$build/data}"
"$top/scripts/pg.sh" start
trap '"$top/scripts/pg.sh" stop' EXIT
WARDSYNC_TEST_DATABASE=$("$top/scripts/pg.sh" conninfo)
export WARDSYNC_TEST_DATABASE
export WARDSYNC_TEST_HUB_PASSWORD_FILE="${WARDSYNC_VAR:-$top/var}/pg/hub.password"
export WARDSYNC_TEST_CITY_PASSWORD_FILE="${WARDSYNC_VAR:-$top/var}/pg/city.password"
export WARDSYNC_AUDIT_COUNT=${WARDSYNC_AUDIT_COUNT:-5000}
export WARDSYNC_AUDIT_SECONDS=${WARDSYNC_AUDIT_SECONDS:-3600}
"$build/tests/audit/audit-property" --seed "${WARDSYNC_AUDIT_SEED:-$(date +%s)}"
unset WARDSYNC_AUDIT_COUNT WARDSYNC_AUDIT_SECONDS
ctest --test-dir "$build" -L audit --output-on-failure
