#!/usr/bin/env bash
# Makes sure the system packages the build needs are installed (Debian or Ubuntu), or says how.
set -euo pipefail
need=()
command -v swift >/dev/null 2>&1 || { echo "error: swift is not on PATH; install Swift 6.1 or newer from https://swift.org/install" >&2; exit 1; }
for pkg in libsqlite3-dev libssl-dev; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing ${need[*]}" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null || {
    apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null; }
else
  echo "error: missing system packages: ${need[*]}" >&2
  echo "install them with: sudo apt-get install ${need[*]}" >&2
  exit 1
fi
