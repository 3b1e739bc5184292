#!/usr/bin/env bash
# Runs every libFuzzer target of tests/fuzz for a given time ("make fuzz").
#
# Usage: scripts/fuzz.sh [BUILD_DIR] [SECONDS] [JOBS]
#   BUILD_DIR  a build configured with -DWARDSYNC_FUZZ=ON by clang
#              (default build-fuzz; made here when missing)
#   SECONDS    per target (default 60; FUZZ_SECONDS in make)
#   JOBS       targets run at once (default: the number of cores)
#
# Each target starts from the corpus in tests/fuzz/corpus/<target> and
# writes what it finds new to BUILD_DIR/fuzz-corpus/<target> (the repository
# corpus only grows by hand: copy the inputs worth keeping). A crash leaves
# its input as BUILD_DIR/fuzz-artifacts/<target>/crash-* and makes this
# script fail. The executions per target are printed at the end.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build-fuzz}
seconds=${2:-60}
jobs=${3:-$(nproc)}
targets=(frames csv config keys catalogue)
cd "$top"

if [ ! -f "$build/CMakeCache.txt" ]; then
  CC=clang cmake -S . -B "$build" -DWARDSYNC_FUZZ=ON -DWARDSYNC_SANITIZE=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$build" -j"$(nproc)" --target fuzz_targets >/dev/null

run_one() { # TARGET
  local t=$1 work="$build/fuzz-corpus/$1" art="$build/fuzz-artifacts/$1/"
  mkdir -p "$work" "$art"
  # WARDSYNC_LOG=error: the decoders' own warnings would only slow it down.
  WARDSYNC_LOG=error nice -n 10 "$build/tests/fuzz/fuzz_$t" \
    -max_total_time="$seconds" -print_final_stats=1 -rss_limit_mb=2048 \
    -max_len=65536 -artifact_prefix="$art" "$work" "tests/fuzz/corpus/$t" \
    >"$build/fuzz-$t.log" 2>&1
}

echo "fuzz: ${#targets[@]} targets, ${seconds}s each, $jobs at a time"
pids=() names=() failed=0
for t in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do sleep 1; done
  run_one "$t" &
  pids+=($!) names+=("$t")
done
for i in "${!pids[@]}"; do
  if ! wait "${pids[$i]}"; then
    echo "fuzz: ${names[$i]} FAILED (log: $build/fuzz-${names[$i]}.log)" >&2
    failed=1
  fi
done
printf '%-10s %14s %10s %8s\n' target executions exec/s seconds
for t in "${targets[@]}"; do
  log="$build/fuzz-$t.log"
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  printf '%-10s %14s %10s %8s\n' "$t" "${execs:-?}" "${rate:-?}" "$seconds"
done
exit "$failed"
