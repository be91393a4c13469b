#!/usr/bin/env bash
# Runs the packages' maintainer scripts for real, in a private mount namespace where /etc is a
# copy, /var/lib, /var/log and /run are empty temp dirs: nothing on the machine changes. Checks what
# docs/packaging.md promises: the system user, directory owners and modes, install-time secrets
# kept across upgrades, remove keeping data, purge deleting config and data (Debian), and the
# same for the RPM scriptlets. Needs root and `unshare -m` (exit 77, skipped, otherwise).
# Usage: maintainer_scripts_test.sh SOURCE_DIR
set -euo pipefail
src=$(realpath "$1")

if [ "${TRADEHOST_IN_NAMESPACE:-}" != 1 ]; then
  if [ "$(id -u)" != 0 ] || ! unshare -m --propagation private true 2>/dev/null; then
    echo "SKIP: needs root and mount namespaces (unshare -m)"
    exit 77
  fi
  work=$(mktemp -d "${TMPDIR:-/tmp}/tradehost-maint-test.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  for flavour in deb rpm; do
    TRADEHOST_IN_NAMESPACE=1 WORK="$work/$flavour" FLAVOUR=$flavour \
      unshare -m --propagation private bash "$0" "$src"
  done
  echo "maintainer_scripts_test: 2 passed, 0 failed"
  exit 0
fi

# --- inside the namespace -----------------------------------------------------------------
fail() { echo "FAIL ($FLAVOUR): $*" >&2; exit 1; }
mkdir -p "$WORK/varlib" "$WORK/varlog" "$WORK/run"
cp -a /etc "$WORK/etc"
# Start from a machine without the package's user, whatever this one has.
sed -i '/^tradehost:/d' "$WORK"/etc/passwd "$WORK"/etc/group "$WORK"/etc/shadow "$WORK"/etc/gshadow 2>/dev/null || true
mount --bind "$WORK/etc" /etc
mount --bind "$WORK/varlib" /var/lib
mount --bind "$WORK/varlog" /var/log # useradd touches lastlog/faillog
mount --bind "$WORK/run" /run # no /run/systemd/system: the scripts must not start anything
# The package's unit where systemd looks for it (deb-systemd-helper reads its [Install]).
mkdir -p "$WORK/units"
cp "$src/packaging/tradehost.service" "$WORK/units/"
[ -d /usr/lib/systemd/system ] && mount --bind "$WORK/units" /usr/lib/systemd/system

owner_mode() { stat -c '%U:%G %a' "$1"; }
expect_eq() { [ "$1" = "$2" ] || fail "$3: got '$1', want '$2'"; }
check_installed() {
  getent passwd tradehost >/dev/null || fail "no tradehost user"
  getent group tradehost >/dev/null || fail "no tradehost group"
  expect_eq "$(getent passwd tradehost | cut -d: -f6)" /var/lib/tradehost "home of tradehost"
  case $(getent passwd tradehost | cut -d: -f7) in */nologin | */false) ;; *) fail "tradehost has a login shell" ;; esac
  [ "$(id -u tradehost)" -lt 1000 ] || fail "tradehost is not a system user"
  expect_eq "$(owner_mode /var/lib/tradehost)" "tradehost:tradehost 750" "/var/lib/tradehost"
  expect_eq "$(owner_mode /var/lib/tradehost/plugins)" "root:root 755" "/var/lib/tradehost/plugins"
  expect_eq "$(owner_mode /etc/tradehost/secrets.env)" "root:tradehost 640" "/etc/tradehost/secrets.env"
  grep -Eq '^TRADEHOST_WEBHOOK_SECRET=[0-9a-f]{64}$' /etc/tradehost/secrets.env || fail "no webhook secret"
  grep -Eq '^TRADEHOST_ADMIN_TOKEN=[0-9a-f]{64}$' /etc/tradehost/secrets.env || fail "no admin token"
  [ "$(sed -n 's/^TRADEHOST_WEBHOOK_SECRET=//p' /etc/tradehost/secrets.env)" != \
    "$(sed -n 's/^TRADEHOST_ADMIN_TOKEN=//p' /etc/tradehost/secrets.env)" ] || fail "secret and token are equal"
}

# What unpacking the package leaves before the scripts run.
mkdir -p /etc/tradehost /etc/default
echo "version: 1" >/etc/tradehost/tradehost.yaml

if [ "$FLAVOUR" = deb ]; then
  scripts=$src/packaging/deb
  export DPKG_MAINTSCRIPT_PACKAGE=tradehost # as dpkg runs them (deb-systemd-helper insists)
  wants=/etc/systemd/system/multi-user.target.wants/tradehost.service
  mkdir -p /var/lib/tradehost/plugins # shipped by the .deb, owned by root until postinst
  DPKG_MAINTSCRIPT_NAME=postinst sh "$scripts/postinst" configure
  check_installed
  if command -v deb-systemd-helper >/dev/null && [ -d /usr/lib/systemd/system ]; then
    [ -L "$wants" ] || fail "postinst did not enable tradehost.service"
  fi
  secrets=$(sha256sum /etc/tradehost/secrets.env)
  echo "audit data" >/var/lib/tradehost/audit.db
  # Upgrade: prerm, then the new postinst with the old version; secrets and data survive.
  DPKG_MAINTSCRIPT_NAME=prerm sh "$scripts/prerm" upgrade 0.1.0
  DPKG_MAINTSCRIPT_NAME=postinst sh "$scripts/postinst" configure 0.1.0
  check_installed
  expect_eq "$(sha256sum /etc/tradehost/secrets.env)" "$secrets" "secrets after upgrade"
  # Remove keeps configuration and data.
  DPKG_MAINTSCRIPT_NAME=prerm sh "$scripts/prerm" remove
  DPKG_MAINTSCRIPT_NAME=postrm sh "$scripts/postrm" remove
  [ -f /var/lib/tradehost/audit.db ] || fail "remove deleted the data"
  [ -f /etc/tradehost/secrets.env ] || fail "remove deleted the secrets"
  # Purge deletes them (dpkg itself deletes the conffiles first).
  rm /etc/tradehost/tradehost.yaml
  DPKG_MAINTSCRIPT_NAME=postrm sh "$scripts/postrm" purge
  [ ! -e "$wants" ] || fail "purge left tradehost.service enabled"
  [ ! -e /var/lib/tradehost ] || fail "purge left /var/lib/tradehost"
  [ ! -e /etc/tradehost ] || fail "purge left /etc/tradehost: $(ls -A /etc/tradehost)"
  getent passwd tradehost >/dev/null || fail "purge deleted the user (Debian keeps system users)"
else
  scripts=$src/packaging/rpm
  sh "$scripts/pre.sh" 1
  sh "$scripts/post.sh" 1
  check_installed
  secrets=$(sha256sum /etc/tradehost/secrets.env)
  echo "audit data" >/var/lib/tradehost/audit.db
  # Upgrade: new %pre/%post with 2, old %preun/%postun with 1.
  sh "$scripts/pre.sh" 2
  sh "$scripts/post.sh" 2
  sh "$scripts/preun.sh" 1
  sh "$scripts/postun.sh" 1
  check_installed
  expect_eq "$(sha256sum /etc/tradehost/secrets.env)" "$secrets" "secrets after upgrade"
  # Erase: secrets go, data stays (rpm has no purge).
  sh "$scripts/preun.sh" 0
  sh "$scripts/postun.sh" 0
  [ ! -e /etc/tradehost/secrets.env ] || fail "erase left the secrets"
  [ -f /var/lib/tradehost/audit.db ] || fail "erase deleted the data"
fi
echo "ok: $FLAVOUR maintainer scripts"
