#!/usr/bin/env bash
# Remove the crampwatch service and its venv. Keeps /etc/crampwatch and /var/lib/crampwatch
# (configuration and recordings) unless --purge is given. DESTDIR as in install.sh.
set -euo pipefail
root="${DESTDIR:-}"
purge=0
[ "${1:-}" = "--purge" ] && purge=1

if [ -z "$root" ] && [ "$(id -u)" -ne 0 ]; then
  echo "uninstall: run as root" >&2
  exit 1
fi
if [ -z "$root" ]; then
  systemctl disable --now crampwatch.service 2>/dev/null || true
fi
rm -f "$root/etc/systemd/system/crampwatch.service"
rm -rf "$root/opt/crampwatch"
if [ "$purge" -eq 1 ]; then
  rm -rf "$root/etc/crampwatch" "$root/var/lib/crampwatch"
  if [ -z "$root" ] && getent passwd crampwatch >/dev/null; then userdel crampwatch; fi
fi
if [ -z "$root" ]; then systemctl daemon-reload; fi
echo "uninstall: done"
