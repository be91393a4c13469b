#!/usr/bin/env bash
# The plugin SDK as a plugin author gets it: install the `dev` component into a temp prefix,
# build examples/ out of tree three ways, and have the real host load and run the results:
#   cmake   find_package(tradehost-plugin) + tradehost_add_plugin()    (examples/*/CMakeLists.txt)
#   pkgconf pkg-config --cflags / --variable=plugin_cflags              (plain cc / c++)
#   v1.0    the same compiler lines with the frozen v1.0 header first   (tests/abi-v1.0)
# Usage: sdk_test.sh SOURCE_DIR BUILD_DIR TRADEHOST_BINARY BUILTIN_PLUGIN_DIR
set -euo pipefail
src=$1 build=$2 tradehost=$3 builtin=$4
work=$(mktemp -d "${TMPDIR:-/tmp}/tradehost-sdk-test.XXXXXX")
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "--- $*"; }

step "install the SDK (component dev) into $work/sdk"
cmake --install "$build" --prefix "$work/sdk" --component dev >"$work/install.log"
for f in include/tradehost/plugin.h include/tradehost/plugin.hpp \
  share/tradehost-plugin/cmake/tradehost-plugin-config.cmake \
  share/tradehost-plugin/cmake/tradehost-plugin-config-version.cmake \
  share/tradehost-plugin/cmake/tradehost-plugin-targets.cmake share/pkgconfig/tradehost-plugin.pc; do
  [ -f "$work/sdk/$f" ] || fail "the dev component did not install $f"
done
cmp -s "$work/sdk/include/tradehost/plugin.h" "$src/plugin-api/include/tradehost/plugin.h" ||
  fail "installed plugin.h differs from plugin-api/include/tradehost/plugin.h"
# The dev component is the SDK only: no binary, no plugin, nothing outside the prefix.
extra=$(cd "$work/sdk" && find . -type f | grep -v -e '^./include/tradehost/' -e '^./share/tradehost-plugin/' \
  -e '^./share/pkgconfig/tradehost-plugin.pc$' -e '^./share/doc/tradehost-dev/' || true)
[ -z "$extra" ] || fail "the dev component installs more than the SDK: $extra"

step "cmake: find_package(tradehost-plugin) out of tree"
mkdir -p "$work/plugins-cmake"
for example in c-strategy cpp-strategy; do
  cmake -S "$src/examples/$example" -B "$work/cmake-$example" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$work/sdk" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF >"$work/cmake-$example.log" ||
    { cat "$work/cmake-$example.log"; fail "configuring examples/$example"; }
  grep -q "^tradehost-plugin_DIR:PATH=$work/sdk/share/tradehost-plugin/cmake$" "$work/cmake-$example/CMakeCache.txt" ||
    fail "examples/$example did not find the SDK in the temp prefix"
  cmake --build "$work/cmake-$example" >"$work/build-$example.log" 2>&1 ||
    { cat "$work/build-$example.log"; fail "building examples/$example"; }
  cp "$work/cmake-$example"/*.so "$work/plugins-cmake/"
done

step "pkg-config: plain compiler lines"
export PKG_CONFIG_LIBDIR="$work/sdk/share/pkgconfig" PKG_CONFIG_PATH=
abi_minor=$(sed -n 's/^#define TH_ABI_VERSION_MINOR \([0-9]*\)$/\1/p' "$src/plugin-api/include/tradehost/plugin.h")
[ "$(pkg-config --modversion tradehost-plugin)" = "1.$abi_minor" ] || fail "pkg-config version is not 1.$abi_minor"
cflags=$(pkg-config --cflags tradehost-plugin)
c_flags=$(pkg-config --variable=plugin_cflags tradehost-plugin)
cxx_flags=$(pkg-config --variable=plugin_cxxflags tradehost-plugin)
ld_flags=$(pkg-config --variable=plugin_ldflags tradehost-plugin)
build_pc() { # OUT_DIR [extra include dir first]
  local out=$1 first=${2:+-I$2}
  mkdir -p "$out"
  # shellcheck disable=SC2086  # flag lists are meant to split
  cc -std=c99 -Wall -Wextra -Wpedantic -Werror $first $cflags $c_flags $ld_flags \
    "$src/examples/c-strategy/threshold.c" -o "$out/example-threshold.so"
  # shellcheck disable=SC2086
  c++ -std=c++20 -O2 -Wall -Wextra -Werror $first $cflags $cxx_flags $ld_flags \
    "$src/examples/cpp-strategy/breakout.cpp" -o "$out/example-breakout.so"
}
build_pc "$work/plugins-pkgconf"

step "v1.0: the examples against the frozen v1.0 header"
build_pc "$work/plugins-v1.0" "$src/tests/abi-v1.0"
# Prove the frozen header was the one compiled: make it unusable and expect the build to fail.
mkdir -p "$work/poisoned/tradehost"
echo '#error frozen header in use' >"$work/poisoned/tradehost/plugin.h"
if cc -std=c99 -I"$work/poisoned" $cflags -fsyntax-only "$src/examples/c-strategy/threshold.c" 2>/dev/null; then
  fail "an -I placed first does not take precedence over the SDK's include path"
fi

# 40 signals: prices 100, 101, ... 120, then 119, 118, ... 101; buy and sell alternate; all strong.
signals="$work/signals.jsonl"
for i in $(seq 0 39); do
  if [ "$i" -lt 20 ]; then price=$((100 + i)); else price=$((140 - i)); fi
  if [ $((i % 2)) = 0 ]; then action=buy; else action=sell; fi
  printf '{"corr_id":"sdk_test_%04d","instrument":"ACME","signal":"%s","strength":0.9,"price":%s,"timestamp":"2025-01-15T10:00:%02dZ"}\n' \
    "$i" "$action" "$price" "$i" >>"$signals"
done

for variant in cmake pkgconf v1.0; do
  step "host: load and run the $variant build"
  dir="$work/plugins-$variant"
  config="$work/$variant.yaml"
  cat >"$config" <<YAML
version: 1
name: sdk-test-$variant
data_dir: $work/data-$variant
plugin_dirs: ["$dir", "$builtin"]
agents:
  - id: threshold
    strategy: {plugin: example-threshold, params: {quantity: 5, min_strength: 0.5}}
  - id: breakout
    strategy: {plugin: example-breakout, params: {lookback: 3, quantity: 2}}
executors:
  - id: sim
    plugin: exec-sim
    params: {seed: 7}
YAML
  mkdir -p "$work/data-$variant"
  "$tradehost" validate -c "$config" >"$work/validate-$variant.log" 2>&1 ||
    { cat "$work/validate-$variant.log"; fail "tradehost validate refused the $variant deployment"; }
  "$tradehost" plugins -c "$config" --json >"$work/plugins-$variant.json" 2>"$work/plugins-$variant.err" ||
    { cat "$work/plugins-$variant.err"; fail "tradehost plugins failed ($variant)"; }
  abi="1.$abi_minor"
  [ "$variant" = v1.0 ] && abi=1.0
  python3 - "$work/plugins-$variant.json" "$dir" "$abi" <<'PY' || fail "tradehost plugins did not list the $variant examples"
import json, os, sys
listing, directory = json.load(open(sys.argv[1])), os.path.realpath(sys.argv[2])
by_name = {p["name"]: p for p in listing["plugins"]}
for name in ("example-threshold", "example-breakout"):
    p = by_name.get(name)
    assert p, f"{name} not loaded; refused: {listing['refused']}"
    assert p["kind"] == "strategy" and p["abi"] == sys.argv[3] and p["version"] == "1.0.0", p
    assert os.path.dirname(os.path.realpath(p["path"])) == directory, p["path"]
assert not [r for r in listing["refused"] if "example" in json.dumps(r)], listing["refused"]
PY
  "$tradehost" replay -c "$config" "$signals" --json --events "$work/events-$variant.jsonl" \
    >"$work/replay-$variant.json" 2>"$work/replay-$variant.err" ||
    { cat "$work/replay-$variant.err"; fail "tradehost replay failed ($variant)"; }
  python3 - "$work/events-$variant.jsonl" <<'PY' || fail "the $variant examples did not trade as written"
import json, sys
intents = {}
for line in open(sys.argv[1]):
    event = json.loads(line)
    if event["subject"] == "decisions.order_intent":
        p = event["payload"]
        intents.setdefault(p["agent_id"], []).append((p["side"], p["quantity"]))
# threshold: one intent per signal (all are strong buys or sells), quantity 5.
assert len(intents.get("threshold", [])) == 40, intents.get("threshold")
assert set(q for _, q in intents["threshold"]) == {5}, intents["threshold"]
# breakout (lookback 3): a buy on each new high from 103 to 120, a sell on each new low from 118.
sides = [s for s, _ in intents.get("breakout", [])]
assert sides == ["buy"] * 18 + ["sell"] * 18, sides
PY
done
echo "sdk_test: all passed"
