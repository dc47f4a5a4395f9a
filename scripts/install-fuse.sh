#!/usr/bin/env bash
# Installs what a FUSE mount of a Cairn volume (@cairn/fuse) needs on Debian:
#   libfuse2  the FUSE 2 library fuse-native's addon links against (libfuse.so.2)
#   fuse3     fusermount / fusermount3, to unmount (and to mount as a non-root user)
#   attr      setfattr / getfattr (used by the tests)
# and loads the fuse kernel module when /dev/fuse is missing. Runs as root;
# idempotent: does nothing when everything is already there.
#
#   scripts/install-fuse.sh          install what is missing
#   scripts/install-fuse.sh --check  exit 0 when all is there, 1 otherwise (changes nothing)
set -euo pipefail

missing_packages() {
  local pkg missing=()
  for pkg in libfuse2 fuse3 attr; do
    # bookworm calls it libfuse2; later releases libfuse2t64 (which provides it).
    if [ "$pkg" = libfuse2 ] && ldconfig -p 2>/dev/null | grep -q 'libfuse\.so\.2 '; then continue; fi
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed'; then missing+=("$pkg"); fi
  done
  echo "${missing[@]:-}"
}

missing="$(missing_packages)"
if [ "${1:-}" = "--check" ]; then
  [ -z "$missing" ] && [ -c /dev/fuse ] && exit 0
  echo "missing: ${missing:-} $([ -c /dev/fuse ] || echo /dev/fuse)" >&2
  exit 1
fi

if [ -n "$missing" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "install-fuse: installing ${missing} needs root (apt-get)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  pkgs=()
  for pkg in $missing; do
    if [ "$pkg" = libfuse2 ] && ! apt-cache show libfuse2 >/dev/null 2>&1; then
      apt-get update -qq
    fi
    if [ "$pkg" = libfuse2 ] && ! apt-cache show libfuse2 >/dev/null 2>&1 && apt-cache show libfuse2t64 >/dev/null 2>&1; then
      pkg=libfuse2t64
    fi
    pkgs+=("$pkg")
  done
  if ! apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null; then
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
  fi
  echo "install-fuse: installed ${pkgs[*]}" >&2
fi

if [ ! -c /dev/fuse ]; then
  modprobe fuse 2>/dev/null || true
  if [ ! -c /dev/fuse ]; then
    echo "install-fuse: /dev/fuse is missing (no fuse kernel module; in a container, pass --device /dev/fuse)" >&2
    exit 1
  fi
fi
