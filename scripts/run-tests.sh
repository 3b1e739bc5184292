#!/usr/bin/env bash
# Runs every test against a private PostgreSQL that it starts and stops.
# Usage: scripts/run-tests.sh [BUILD_DIR]
# Integration tests read the owner's connection string from
# WARDSYNC_TEST_DATABASE and create databases of their own in that cluster.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
cd "$top"
# The build tree's data folder (migrations, catalogue): programs find
# nothing in the source tree by themselves.
export WARDSYNC_DATA_DIR="${WARDSYNC_DATA_DIR:-$build/data}"
started=$(date +%s)

"$top/scripts/pg.sh" start
trap '"$top/scripts/pg.sh" stop' EXIT
WARDSYNC_TEST_DATABASE=$("$top/scripts/pg.sh" conninfo)
export WARDSYNC_TEST_DATABASE
# The wardsync_hub role's password (scripts/pg.sh): tests run the hub as
# that role, as production does.
export WARDSYNC_TEST_HUB_PASSWORD_FILE="${WARDSYNC_VAR:-$top/var}/pg/hub.password"
export WARDSYNC_TEST_CITY_PASSWORD_FILE="${WARDSYNC_VAR:-$top/var}/pg/city.password"

echo "== docker-compose.yml and Dockerfile"
"$top/tests/docker/check.sh" "$build"

echo "== ctest"
# Every test, the independent recount (tests/recount: three generated
# districts, every indicator recomputed from the input files) included;
# "make recount" runs it on many more.
ctest --test-dir "$build" --output-on-failure -j2 --timeout 300

# The unit and integration suites and the fuzz corpus again, built with
# AddressSanitizer and UndefinedBehaviorSanitizer (the hub and agents the
# integration tests start are the sanitized ones). WARDSYNC_SANITIZE_TESTS=0
# skips this (a quick local run).
if [ "${WARDSYNC_SANITIZE_TESTS:-1}" != 0 ]; then
  asan="${build%/}-asan"
  echo "== ASan + UBSan build ($asan)"
  werror=()
  [ -z "${CI:-}" ] || werror=(-DWARDSYNC_WERROR=ON)
  cmake -S "$top" -B "$asan" -DWARDSYNC_SANITIZE=ON "${werror[@]}" >/dev/null
  cmake --build "$asan" -j2 >"$asan/build.log" 2>&1 ||
    { tail -n 40 "$asan/build.log" >&2; exit 1; }
  echo "== ctest under ASan + UBSan (unit, integration, fuzz corpus)"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:check_initialization_order=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir "$asan" -L 'unit|integration|fuzz' --output-on-failure \
      -j2 --timeout 300
fi

# The unit suite under Valgrind: no leak, no invalid access.
if [ "${WARDSYNC_VALGRIND_TESTS:-1}" != 0 ]; then
  echo "== valgrind (unit suite)"
  command -v valgrind >/dev/null || { echo "valgrind not installed" >&2; exit 1; }
  vg_one() { # TEST_BINARY: 0, or the log's tail and 1
    local log; log="$1.valgrind.log"
    WARDSYNC_LOG=error WARDSYNC_CATALOGUE= valgrind -q --leak-check=full \
      --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect \
      --error-exitcode=99 "$1" >"$log" 2>&1 && return 0
    echo "valgrind: $(basename "$1") FAILED (log: $log)" >&2
    tail -n 30 "$log" >&2
    return 1
  }
  export -f vg_one
  vg_tests=$(ctest --test-dir "$build" -L unit -N -V | sed -n 's/^[0-9]*: Test command: //p')
  # Two at a time: Valgrind is slow, the machine has two cores.
  xargs -P2 -I{} bash -c 'vg_one "$@"' _ {} <<<"$vg_tests" || exit 1
  echo "valgrind: $(wc -l <<<"$vg_tests") unit test programs, no leaks, no errors"
fi

echo "run-tests: finished in $(( $(date +%s) - started ))s"
