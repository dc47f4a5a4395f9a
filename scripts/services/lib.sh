# shellcheck shell=bash
# Helpers shared by the scripts in scripts/services/ (sourced, not run).
#
# ensure_packages TAG LOGFILE PKG...
#   Installs the Debian packages that are not installed yet, with apt-get, as root.
#   Fails (returns 1) with a message when packages are missing and this process is
#   not root, or when CAIRN_SERVICES_SKIP_INSTALL=1. A policy-rc.d that forbids
#   service starts is put in place during the install so that the packages' own
#   units do not start daemons with the distribution's configuration (and ports).
#   Waits up to 5 minutes for the dpkg lock (another install in progress).

ensure_packages() {
  local tag=$1 logfile=$2; shift 2
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "[$tag] missing packages: ${missing[*]} and apt-get is not available (not Debian?)" >&2; return 1
  fi
  if [ "${CAIRN_SERVICES_SKIP_INSTALL:-0}" = 1 ]; then
    echo "[$tag] missing packages: ${missing[*]} (CAIRN_SERVICES_SKIP_INSTALL=1)" >&2; return 1
  fi
  if [ "$(id -u)" != 0 ]; then
    echo "[$tag] missing packages: ${missing[*]}; run as root to install them" >&2; return 1
  fi
  echo "[$tag] installing: ${missing[*]} (the first time takes a minute)" >&2
  local made_policy=0 rc=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    made_policy=1
  fi
  local apt=(apt-get -q -o DPkg::Lock::Timeout=300)
  if ! DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y --no-install-recommends "${missing[@]}" >"$logfile" 2>&1; then
    DEBIAN_FRONTEND=noninteractive "${apt[@]}" update >>"$logfile" 2>&1 || true
    DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y --no-install-recommends "${missing[@]}" >>"$logfile" 2>&1 || rc=$?
  fi
  [ $made_policy = 1 ] && rm -f /usr/sbin/policy-rc.d
  if [ $rc != 0 ]; then
    echo "[$tag] apt-get failed (see $logfile):" >&2; tail -20 "$logfile" >&2; return 1
  fi
  return 0
}

# pid_alive FILE: true when FILE holds the pid of a live process.
pid_alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# port_in_use HOST PORT: true when something accepts connections on HOST:PORT.
port_in_use() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
