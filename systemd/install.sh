#!/usr/bin/env bash
# Install crampwatch as a system service (idempotent). Run as root from a checkout:
#   sudo systemd/install.sh [--with-virtual]
# --with-virtual also installs the 'virtual' extra (bumble: the virtual wearable of `crampwatch
# demo` and `--virtual`), which the daemon does not need.
# DESTDIR=/some/root installs into a throwaway root instead (used by the tests): no user is created
# and systemctl is not called there.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(dirname "$here")"
root="${DESTDIR:-}"
prefix="$root/opt/crampwatch"
confdir="$root/etc/crampwatch"
unitdir="$root/etc/systemd/system"

say() { echo "install: $*"; }

extras="plot"
for arg in "$@"; do
  case "$arg" in
    --with-virtual) extras="plot,virtual" ;;
    *) echo "usage: $0 [--with-virtual]" >&2; exit 2 ;;
  esac
done

if [ -z "$root" ] && [ "$(id -u)" -ne 0 ]; then
  echo "install: run as root (sudo $0)" >&2
  exit 1
fi

if [ -z "$root" ]; then
  if ! getent group crampwatch >/dev/null; then groupadd --system crampwatch; say "group crampwatch"; fi
  if ! getent passwd crampwatch >/dev/null; then
    useradd --system --gid crampwatch --home-dir /var/lib/crampwatch --no-create-home \
      --shell /usr/sbin/nologin crampwatch
    say "user crampwatch"
  fi
fi

mkdir -p "$prefix" "$confdir" "$unitdir"
if [ ! -x "$prefix/venv/bin/python" ]; then
  python3 -m venv "$prefix/venv"
  say "venv $prefix/venv"
fi
if [ -z "${CRAMPWATCH_SKIP_PIP:-}" ]; then
  "$prefix/venv/bin/python" -m pip install -q --upgrade "$repo[$extras]"
  say "package installed into $prefix/venv (extras: $extras)"
else
  say "pip skipped (CRAMPWATCH_SKIP_PIP); would install crampwatch[$extras]"
fi

if [ ! -e "$confdir/crampwatch.toml" ]; then
  install -m 0640 "$repo/config/crampwatch.toml" "$confdir/crampwatch.toml"
  say "config $confdir/crampwatch.toml (edit it: wearable address, MQTT broker)"
else
  say "config $confdir/crampwatch.toml kept"
fi

unit="$unitdir/crampwatch.service"
groups="bluetooth audio"
if getent group gpio >/dev/null; then groups="$groups gpio"; fi
sed "s/^SupplementaryGroups=.*/SupplementaryGroups=$groups/" "$here/crampwatch.service" > "$unit.tmp"
chmod 0644 "$unit.tmp"
mv "$unit.tmp" "$unit"
say "unit $unit"

if [ -z "$root" ]; then
  chown root:crampwatch "$confdir/crampwatch.toml"
  systemctl daemon-reload
  systemctl enable crampwatch.service
  say "enabled; start with: systemctl start crampwatch; logs: journalctl -u crampwatch -f"
fi
