#!/usr/bin/env bash
# Builds the .deb and .rpm packages of a build tree with CPack and checks them as a user would
# meet them: lintian and rpmlint without errors, the file lists and control data, the maintainer
# scripts, the installed tradehost run from the unpacked .deb (validate, plugins), the unit file
# (systemd-analyze verify), and the -dev package building an example plugin out of tree.
#
# Usage: packaging/test-packages.sh BUILD_DIR
#   PACKAGE_DIR=dir  check the packages already in dir instead of running cpack (make package)
# Needs: cpack, dpkg-deb, lintian, rpm (rpmbuild), rpmlint, systemd-analyze, cmake, cc.
set -euo pipefail
build=$(realpath "${1:?usage: test-packages.sh BUILD_DIR}")
src=$(realpath "$(dirname "$0")/..")
work=$(mktemp -d "${TMPDIR:-/tmp}/tradehost-package-test.XXXXXX")
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
passed=0
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { passed=$((passed + 1)); echo "ok: $*"; }
version=$(sed -n 's/^CPACK_PACKAGE_VERSION:.*=//p; s/^set(CPACK_PACKAGE_VERSION "\(.*\)")$/\1/p' "$build/CPackConfig.cmake" | head -1)
[ -n "$version" ] || fail "no CPACK_PACKAGE_VERSION in $build/CPackConfig.cmake (configure the build first)"

for tool in cpack dpkg-deb lintian rpmbuild rpm rpmlint systemd-analyze; do
  command -v "$tool" >/dev/null || fail "$tool is missing (make package installs the PACKAGE_PACKAGES)"
done

if [ -n "${PACKAGE_DIR:-}" ]; then
  packages=$(realpath "$PACKAGE_DIR")
else
  packages="$work/packages"
  cpack --config "$build/CPackConfig.cmake" -B "$packages" >"$work/cpack.log" 2>&1 ||
    { tail -40 "$work/cpack.log"; fail "cpack"; }
fi
deb=$(ls "$packages"/tradehost_"$version"-1_*.deb 2>/dev/null | head -1)
dev_deb=$(ls "$packages"/tradehost-dev_"$version"-1_all.deb 2>/dev/null | head -1)
rpm=$(ls "$packages"/tradehost-"$version"-1.*.rpm 2>/dev/null | grep -v noarch | head -1)
dev_rpm=$(ls "$packages"/tradehost-devel-"$version"-1.noarch.rpm 2>/dev/null | head -1)
[ -f "$deb" ] && [ -f "$dev_deb" ] && [ -f "$rpm" ] && [ -f "$dev_rpm" ] ||
  fail "expected tradehost and tradehost-dev .deb, tradehost and tradehost-devel .rpm in $packages: $(ls "$packages")"
ok "packages: $(basename "$deb") $(basename "$dev_deb") $(basename "$rpm") $(basename "$dev_rpm")"

# --- file lists -----------------------------------------------------------------------------
deb_files() { dpkg-deb -c "$1" | awk '{print $6}' | sed 's|^\./|/|; s|/$||' | grep -v '^$' | sort; }
rpm_files() { rpm -qlp "$1" 2>/dev/null | sort; }
runtime_required="/usr/bin/tradehost
/usr/lib/tradehost/plugins/momentum.so
/usr/lib/tradehost/plugins/risk-limits.so
/usr/lib/tradehost/plugins/exec-sim.so
/usr/lib/tradehost/plugins/audit-sqlite.so
/usr/share/tradehost/schemas/deployment.schema.json
/usr/share/tradehost/schemas/signal.schema.json
/etc/tradehost/tradehost.yaml
/etc/default/tradehost
/usr/lib/systemd/system/tradehost.service
/var/lib/tradehost/plugins
/usr/share/man/man1/tradehost.1.gz
/usr/share/bash-completion/completions/tradehost"
dev_required="/usr/include/tradehost/plugin.h
/usr/include/tradehost/plugin.hpp
/usr/share/tradehost-plugin/cmake/tradehost-plugin-config.cmake
/usr/share/tradehost-plugin/cmake/tradehost-plugin-config-version.cmake
/usr/share/tradehost-plugin/cmake/tradehost-plugin-targets.cmake
/usr/share/pkgconfig/tradehost-plugin.pc
/usr/share/doc/tradehost-dev/examples/c-strategy/threshold.c
/usr/share/doc/tradehost-dev/examples/cpp-strategy/breakout.cpp"
check_list() { # NAME LISTING REQUIRED ALLOWED_REGEX
  local missing extra
  missing=$(comm -23 <(sort <<<"$3") <(sort <<<"$2"))
  [ -z "$missing" ] || fail "$1 lacks: $missing"
  extra=$(grep -Ev "$4" <<<"$2" || true)
  [ -z "$extra" ] || fail "$1 has unexpected files: $extra"
}
runtime_allowed='^/(usr|usr/bin(/tradehost)?|usr/lib(/tradehost(/plugins(/[a-z0-9_-]+\.so)?)?)?|usr/lib/systemd(/system(/tradehost\.service)?)?|usr/share|usr/share/tradehost(/schemas(/[a-z-]+\.schema\.json)?)?|usr/share/man(/man1(/tradehost\.1\.gz)?)?|usr/share/bash-completion(/completions(/tradehost)?)?|usr/share/doc(/tradehost(/(copyright|changelog\.Debian\.gz|packaging\.md))?)?|etc|etc/tradehost(/tradehost\.yaml)?|etc/default(/tradehost)?|var|var/lib|var/lib/tradehost(/plugins)?)$'
dev_allowed='^/(usr|usr/include(/tradehost(/plugin\.h(pp)?)?)?|usr/share|usr/share/tradehost-plugin(/cmake(/tradehost-plugin-[a-z-]+\.cmake)?)?|usr/share/pkgconfig(/tradehost-plugin\.pc)?|usr/share/doc(/tradehost-dev(/[a-z-]+\.md|/copyright|/changelog\.Debian\.gz|/examples(/[A-Za-z0-9._+-]+){0,2})?)?)$'
check_list tradehost.deb "$(deb_files "$deb")" "$runtime_required" "$runtime_allowed"
check_list tradehost-dev.deb "$(deb_files "$dev_deb")" "$dev_required" "$dev_allowed"
# The .rpm leaves the data directories to %post (they are owned by the user %pre creates).
check_list tradehost.rpm "$(rpm_files "$rpm")" "$(grep -v '^/var/' <<<"$runtime_required")" "$runtime_allowed"
rpm_files "$rpm" | grep -q '^/var/' && fail "tradehost.rpm owns files under /var"
check_list tradehost-devel.rpm "$(rpm_files "$dev_rpm")" "$dev_required" "$dev_allowed"
ok "file lists (deb and rpm, both packages)"

# --- control data ---------------------------------------------------------------------------
field() { dpkg-deb -f "$1" "$2"; }
[ "$(field "$deb" Version)" = "$version-1" ] || fail "tradehost.deb Version is $(field "$deb" Version)"
depends=$(field "$deb" Depends)
for dep in adduser libc6 libstdc++6 libyaml-cpp libssl3 libsqlite3-0; do
  grep -q "$dep" <<<"$depends" || fail "tradehost.deb Depends lacks $dep (shlibdeps?): $depends"
done
[ "$(field "$dev_deb" Architecture)" = all ] || fail "tradehost-dev.deb is not Architecture: all"
mkdir -p "$work/control"
dpkg-deb -e "$deb" "$work/control"
diff <(sort "$work/control/conffiles") <(printf '/etc/default/tradehost\n/etc/tradehost/tradehost.yaml\n') ||
  fail "tradehost.deb conffiles"
for script in postinst prerm postrm; do
  [ -x "$work/control/$script" ] || fail "tradehost.deb has no executable $script"
  sh -n "$work/control/$script" || fail "$script does not parse"
done
grep -q 'adduser --system' "$work/control/postinst" || fail "postinst does not create the system user"
grep -q 'stop tradehost.service' "$work/control/prerm" || fail "prerm does not stop the service"
sed -n '/^  purge)/,/;;/p' "$work/control/postrm" | grep -q 'rm -rf /var/lib/tradehost' ||
  fail "postrm does not purge the data directory on purge"
sed -n '/^  remove)/,/;;/p' "$work/control/postrm" | grep -q 'rm ' && fail "postrm deletes files on remove"
ok "deb control: version, shlibdeps, conffiles, maintainer scripts"

configfiles=$(rpm -qp --configfiles "$rpm" 2>/dev/null | sort | tr '\n' ' ')
[ "$configfiles" = "/etc/default/tradehost /etc/tradehost/tradehost.yaml " ] || fail "rpm config files: $configfiles"
rpm -qp --qf '[%{FILEFLAGS:fflags} %{FILENAMES}\n]' "$rpm" 2>/dev/null | grep -q '^cn /etc/tradehost/tradehost.yaml$' ||
  fail "rpm: tradehost.yaml is not %config(noreplace)"
scripts=$(rpm -qp --scripts "$rpm" 2>/dev/null)
for want in 'useradd -r' 'install -d -m 0750 -o tradehost -g tradehost /var/lib/tradehost' 'secrets.env' 'disable --now tradehost.service' 'try-restart tradehost.service'; do
  grep -q -- "$want" <<<"$scripts" || fail "rpm scriptlets lack '$want'"
done
rpm -qp --requires "$rpm" 2>/dev/null | grep -q 'libyaml-cpp' || fail "rpm has no automatic library requires"
rpm -qp --provides "$dev_rpm" 2>/dev/null | grep -q "^tradehost-dev = $version" || fail "tradehost-devel.rpm does not provide tradehost-dev"
ok "rpm: %config(noreplace), scriptlets, requires"

# --- linters --------------------------------------------------------------------------------
lintian --fail-on error --tag-display-limit 0 "$deb" "$dev_deb" >"$work/lintian.log" 2>&1 ||
  { cat "$work/lintian.log"; fail "lintian reports errors"; }
grep -E '^[WE]:' "$work/lintian.log" | sed 's/^/  lintian: /' || true
ok "lintian: no errors"
set +e
rpmlint --rpmlintrc "$src/packaging/rpm/rpmlintrc" "$rpm" "$dev_rpm" >"$work/rpmlint.log" 2>&1
set -e
summary=$(grep -E '[0-9]+ packages and [0-9]+ specfiles checked' "$work/rpmlint.log" || true)
errors=$(sed -n 's/.*checked; \([0-9]*\) errors.*/\1/p' <<<"$summary")
[ "$errors" = 0 ] || { cat "$work/rpmlint.log"; fail "rpmlint: ${summary:-no summary line}"; }
grep ': W: ' "$work/rpmlint.log" | sed 's/^/  rpmlint: /' || true
ok "rpmlint: no errors ($summary)"

# --- the unpacked packages, run --------------------------------------------------------------
root="$work/root"
dpkg-deb -x "$deb" "$root"
dpkg-deb -x "$dev_deb" "$root"
mkdir -p "$work/data"
installed_env=(PATH=/usr/bin:/bin HOME="$work" TRADEHOST_SCHEMA_DIR="$root/usr/share/tradehost/schemas"
  TRADEHOST_BUILTIN_PLUGIN_DIR="$root/usr/lib/tradehost/plugins"
  TRADEHOST_DROPIN_PLUGIN_DIR="$root/var/lib/tradehost/plugins" TRADEHOST_DATA_DIR="$work/data")
run_installed() { env -i "${installed_env[@]}" "$@"; }
config="$root/etc/tradehost/tradehost.yaml"
run_installed "$root/usr/bin/tradehost" --version | grep -q "^tradehost $version " || fail "installed tradehost --version"
# Without the install-time secret the deployment is refused, naming the variable.
if run_installed "$root/usr/bin/tradehost" validate -c "$config" >"$work/validate-nosecret.log" 2>&1; then
  fail "validate accepted the packaged deployment without TRADEHOST_WEBHOOK_SECRET"
fi
grep -q TRADEHOST_WEBHOOK_SECRET "$work/validate-nosecret.log" || { cat "$work/validate-nosecret.log"; fail "validate did not name the missing secret"; }
run_installed TRADEHOST_WEBHOOK_SECRET=0123456789abcdef "$root/usr/bin/tradehost" validate -c "$config" \
  >"$work/validate.log" 2>&1 || { cat "$work/validate.log"; fail "installed tradehost validate -c /etc/tradehost/tradehost.yaml"; }
ok "installed: tradehost validate -c /etc/tradehost/tradehost.yaml"

# The -dev package builds the C example out of tree; it goes into the drop-in directory.
cmake -S "$root/usr/share/doc/tradehost-dev/examples/c-strategy" -B "$work/example" \
  -DCMAKE_PREFIX_PATH="$root/usr" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF >"$work/example.log" 2>&1 &&
  cmake --build "$work/example" >>"$work/example.log" 2>&1 || { cat "$work/example.log"; fail "building the example with the -dev package"; }
grep -q "^tradehost-plugin_DIR:PATH=$root/usr/share/tradehost-plugin/cmake$" "$work/example/CMakeCache.txt" ||
  fail "the example did not use the unpacked -dev package"
cp "$work/example/example-threshold.so" "$root/var/lib/tradehost/plugins/"
ok "tradehost-dev: examples/c-strategy builds out of tree"

run_installed TRADEHOST_WEBHOOK_SECRET=x "$root/usr/bin/tradehost" plugins -c "$config" --json >"$work/plugins.json" 2>"$work/plugins.err" ||
  { cat "$work/plugins.err"; fail "installed tradehost plugins"; }
python3 - "$work/plugins.json" "$root" <<'PY' || fail "installed tradehost plugins: unexpected listing"
import json, os, sys
listing, root = json.load(open(sys.argv[1])), os.path.realpath(sys.argv[2])
where = {p["name"]: os.path.dirname(os.path.realpath(p["path"])) for p in listing["plugins"]}
for name in ("momentum", "risk-limits", "exec-sim", "audit-sqlite"):
    assert where.get(name) == root + "/usr/lib/tradehost/plugins", (name, where)
assert where.get("example-threshold") == root + "/var/lib/tradehost/plugins", where
assert not listing["refused"], listing["refused"]
PY
ok "installed: tradehost plugins lists the 4 built-in plugins and the dropped-in example"

# The packaged deployment runs: start it from the unpacked root, wait for /healthz, stop it.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# env execs tradehost, so $! is the host itself.
env -i "${installed_env[@]}" TRADEHOST_WEBHOOK_SECRET=x "$root/usr/bin/tradehost" run -c "$config" \
  --listen "127.0.0.1:$port" >"$work/run.log" 2>&1 &
pid=$!
healthy=""
for _ in $(seq 1 100); do # up to 10 s
  if curl -fsS "http://127.0.0.1:$port/healthz" >"$work/healthz.json" 2>/dev/null; then healthy=1; break; fi
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
kill -TERM "$pid" 2>/dev/null || true
wait "$pid" && stopped=0 || stopped=$?
pid=""
[ -n "$healthy" ] || { cat "$work/run.log"; fail "installed tradehost run: /healthz never answered"; }
grep -q '"ok":true' "$work/healthz.json" || fail "installed tradehost run: /healthz says $(cat "$work/healthz.json")"
[ "$stopped" = 0 ] || { tail -20 "$work/run.log"; fail "installed tradehost run: exit $stopped after SIGTERM"; }
[ -f "$work/data/audit.db" ] || fail "installed tradehost run: no audit database in the data directory"
ok "installed: tradehost run with /etc/tradehost/tradehost.yaml serves /healthz and stops cleanly"

bash -n "$root/usr/share/bash-completion/completions/tradehost" || fail "packaged bash completion does not parse"
zcat "$root/usr/share/man/man1/tradehost.1.gz" | grep -q '^\.TH TRADEHOST 1' || fail "man page"
ok "bash completion and man page"

# --- the unit ---------------------------------------------------------------------------------
# verify resolves the unit's commands, dependencies and man page: give it the unpacked root plus
# the host's standard targets and kill(1). It exits 0 even for unknown keys or bad values, so
# any line naming the unit fails the test (except seccomp names newer than this libseccomp).
unit="$root/usr/lib/systemd/system/tradehost.service"
for key in NoNewPrivileges=yes ProtectSystem=strict ReadWritePaths=/var/lib/tradehost PrivateTmp=yes \
  'ExecReload=/bin/kill -HUP $MAINPID' User=tradehost 'Environment=TRADEHOST_SCHEMA_DIR=/usr/share/tradehost/schemas'; do
  grep -qxF -- "$key" "$unit" || fail "unit lacks $key"
done
mkdir -p "$root/bin"
cp /usr/lib/systemd/system/*.target "$root/usr/lib/systemd/system/"
cp /usr/lib/systemd/system/systemd-tmpfiles-setup.service /usr/lib/systemd/system/tmp.mount \
  "$root/usr/lib/systemd/system/" 2>/dev/null || true
printf '#!/bin/sh\n' >"$root/bin/kill" # only its presence is checked; every systemd system has one
chmod 0755 "$root/bin/kill"
MANPATH="$root/usr/share/man" SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --root="$root" "$unit" \
  >"$work/verify.log" 2>&1 || { cat "$work/verify.log"; fail "systemd-analyze verify"; }
if grep -v 'Failed to parse system call' "$work/verify.log" | grep -q 'tradehost'; then
  cat "$work/verify.log"; fail "systemd-analyze verify reports problems with tradehost.service"
fi
ok "systemd-analyze verify tradehost.service"

echo "package tests: $passed passed, 0 failed"
