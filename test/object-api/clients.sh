#!/usr/bin/env bash
# clients.sh -- installs the real object-store clients the object API tests
# drive: Debian's python3-swiftclient (the `swift` CLI), and, when asked,
# rclone and s3cmd. Needs root and apt-get; prints what is missing otherwise.
#
#   test/object-api/clients.sh [swift] [rclone] [s3cmd]   (default: swift)
#
# Exits 0 when every requested client is on PATH afterwards.
set -euo pipefail

want=("$@")
[ ${#want[@]} -eq 0 ] && want=(swift)

pkg_of() {
  case $1 in
    swift) echo python3-swiftclient ;;
    rclone) echo rclone ;;
    s3cmd) echo s3cmd ;;
    *) echo "unknown client: $1 (swift, rclone, s3cmd)" >&2; exit 2 ;;
  esac
}

missing=()
for c in "${want[@]}"; do
  pkg=$(pkg_of "$c")
  command -v "$c" >/dev/null 2>&1 || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "[clients] need root and apt-get to install: ${missing[*]}" >&2
  exit 1
fi
echo "[clients] installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
  apt-get update >/dev/null 2>&1 || true
  apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null
fi
for c in "${want[@]}"; do
  command -v "$c" >/dev/null 2>&1 || { echo "[clients] $c still missing" >&2; exit 1; }
done
