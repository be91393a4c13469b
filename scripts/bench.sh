#!/usr/bin/env bash
# Runs every benchmark that was built and prints their tables. Usage: scripts/bench.sh [BUILD_DIR]
set -uo pipefail
build=${1:-build}
here=$(cd "$(dirname "$0")/.." && pwd)
status=0
run() {
  local name=$1; shift
  printf '\n== %s ==\n' "$name"
  "$@" || { echo "benchmark $name failed"; status=1; }
}
for b in abi bus exec audit jetstream hot_reload crypto; do
  [ -x "$build/bin/bench_$b" ] && run "$b" "$build/bin/bench_$b"
done
[ -x "$here/bench/gateway/run.sh" ] && BUILD_DIR="$build" run gateway "$here/bench/gateway/run.sh"
# 20 s per run: a p99 over 20,000 signals at 1,000/s, steadier than over 5 s (docs/jetstream.md).
if [ -x "$build/bin/bench_e2e" ]; then
  run "e2e embedded" "$build/bin/bench_e2e" --bus embedded --seconds 20 --steady 5
  run "e2e jetstream" "$build/bin/bench_e2e" --bus jetstream --seconds 20 --steady 5
fi
exit $status
