#!/usr/bin/env bash
# Runs each libFuzzer target for a while: ./scripts/fuzz.sh BUILD_DIR SECONDS TARGET...
# The seed corpus (tests/fuzz/corpus/TARGET) is read, new inputs go to BUILD_DIR/corpus/TARGET,
# a crash, leak or sanitizer report leaves its input in BUILD_DIR/artifacts/ and fails the run.
set -uo pipefail
build=$1 seconds=$2
shift 2
root=$(cd "$(dirname "$0")/.." && pwd)
failed=()
for target in "$@"; do
  corpus=$build/corpus/$target
  mkdir -p "$corpus" "$build/artifacts"
  dict=()
  [ -f "$root/tests/fuzz/$target.dict" ] && dict=(-dict="$root/tests/fuzz/$target.dict")
  log=$build/fuzz-$target.log
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$build/bin/fuzz_$target" -max_total_time="$seconds" -print_final_stats=1 -timeout=30 -rss_limit_mb=4096 \
    -artifact_prefix="$build/artifacts/$target-" "${dict[@]}" "$corpus" "$root/tests/fuzz/corpus/$target" \
    >"$log" 2>&1
  status=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  if [ $status -ne 0 ]; then
    failed+=("$target")
    echo "fuzz_$target: FAILED after ${runs:-?} executions (log $log):"
    grep -E 'ERROR|SUMMARY|artifact|Test unit written' "$log" | head -20
  else
    echo "fuzz_$target: ${runs:-?} executions in ${seconds} s, no finding"
  fi
done
[ ${#failed[@]} -eq 0 ] || { echo "fuzz findings in: ${failed[*]}"; exit 1; }
