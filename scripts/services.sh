#!/usr/bin/env bash
# services.sh -- the real services Cairn's integration tests and benchmarks use:
# a single-node OpenStack Swift (tempauth + s3api, proxy on 127.0.0.1:18080) and a
# single-member etcd (127.0.0.1:12379), from Debian's packages.
#
#   scripts/services.sh start  [swift|etcd|all]   install if missing (root, apt-get),
#                                                  start what is not running, wait for
#                                                  health, print the settings
#   scripts/services.sh stop   [swift|etcd|all]   stop them (by the recorded PIDs)
#   scripts/services.sh status [swift|etcd|all]   exit 0 when all are running, else 3
#   scripts/services.sh env    [swift|etcd|all]   print `export K=V` lines for the
#                                                  running ones: eval "$(... env)"
#
# The test harness (test/setup/services.ts) uses two more verbs, so that several
# test runs at once share the services and only the harness stops what it started:
#   scripts/services.sh acquire HOLDER_PID [svc]  start if needed (then marked as
#                                                  started by the harness), register
#                                                  a lease for HOLDER_PID, print K=V
#   scripts/services.sh release HOLDER_PID [svc]  drop that lease; stop a service the
#                                                  harness started once no live lease
#                                                  remains
#
# Run directory: .services/ in the repository root (override: CAIRN_SERVICES_DIR),
# .services/swift (run/*.pid, env.sh, etc/, srv/, log/) and .services/etcd
# (etcd.pid, env.sh, data/). Starting is serialised per service with flock.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
RUNDIR=${CAIRN_SERVICES_DIR:-$ROOT/.services}
SCRIPTS="$HERE/services"
HOST=127.0.0.1
# shellcheck source=services/lib.sh
. "$SCRIPTS/lib.sh"

usage() {
  sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

services_of() { # ARG -> names
  case "${1:-all}" in
    all) echo "swift etcd" ;;
    swift|etcd) echo "$1" ;;
    *) echo "unknown service: $1 (swift, etcd or all)" >&2; exit 2 ;;
  esac
}

running() { # SVC: true when up and healthy
  local d="$RUNDIR/$1" s
  case $1 in
    swift)
      for s in memcached account-server container-server object-server proxy-server; do
        pid_alive "$d/run/$s.pid" || return 1
      done
      curl -fsS -m 2 "http://$HOST:${SWIFT_PROXY_PORT:-18080}/healthcheck" >/dev/null 2>&1 ;;
    etcd)
      pid_alive "$d/etcd.pid" || return 1
      curl -fsS -m 2 "http://$HOST:${ETCD_CLIENT_PORT:-12379}/health" 2>/dev/null | grep -q '"health":"true"' ;;
  esac
}

print_env() { # SVC: K=V lines (with PREFIX) from its env.sh
  local prefix=$1 svc=$2 f="$RUNDIR/$2/env.sh"
  [ -s "$f" ] || return 1
  # env.sh holds `export K=V [K=V...]` lines with plain values (URLs, names)
  sed -e 's/^export //' "$f" | tr ' ' '\n' | grep -E '^[A-Z0-9_]+=' | sed -e "s/^/$prefix/"
}

with_lock() { # SVC CMD... : run CMD holding the service's lock
  local svc=$1; shift
  mkdir -p "$RUNDIR"
  (
    flock -w 900 9 || { echo "[services] timed out waiting for the $svc lock" >&2; exit 1; }
    # CMD runs without fd 9: a daemon it starts must not inherit (and so keep) the lock.
    "$@" 9>&-
  ) 9>"$RUNDIR/.$svc.lock"
}

start_one() { # SVC
  mkdir -p "$RUNDIR/$1" || return 1
  "$SCRIPTS/start-$1.sh" "$RUNDIR/$1" >/dev/null
}

stop_one() { # SVC
  "$SCRIPTS/stop-$1.sh" "$RUNDIR/$1"
  rm -f "$RUNDIR/$1/.harness-started"
}

live_leases() { # SVC: count live leases, removing dead ones
  local dir="$RUNDIR/$1/leases" f n=0
  [ -d "$dir" ] || { echo 0; return; }
  for f in "$dir"/*; do
    [ -e "$f" ] || continue
    if kill -0 "$(basename "$f")" 2>/dev/null; then n=$((n + 1)); else rm -f "$f"; fi
  done
  echo $n
}

# (set -e does not apply inside functions called from `if`/`||`: check each step.)
acquire_one() { # HOLDER SVC
  local holder=$1 svc=$2
  if ! running "$svc"; then
    start_one "$svc" || return 1
    touch "$RUNDIR/$svc/.harness-started" || return 1
  fi
  mkdir -p "$RUNDIR/$svc/leases" && : > "$RUNDIR/$svc/leases/$holder"
}

release_one() { # HOLDER SVC
  local holder=$1 svc=$2
  rm -f "$RUNDIR/$svc/leases/$holder"
  if [ -e "$RUNDIR/$svc/.harness-started" ] && [ "$(live_leases "$svc")" = 0 ]; then
    stop_one "$svc" || return 1
  fi
  return 0
}

cmd=${1:-}; [ -n "$cmd" ] || usage; shift
case $cmd in
  start)
    names=$(services_of "${1:-all}")
    pids=()
    for s in $names; do with_lock "$s" start_one "$s" & pids+=($!); done
    rc=0
    for p in "${pids[@]}"; do wait "$p" || rc=1; done
    for s in $names; do running "$s" && print_env "" "$s" || true; done
    [ $rc = 0 ] || { echo "[services] some services failed to start (see above)" >&2; exit 1; }
    echo "# eval \"\$(scripts/services.sh env)\" exports these" >&2 ;;
  stop)
    for s in $(services_of "${1:-all}"); do with_lock "$s" stop_one "$s"; done ;;
  status)
    rc=0
    for s in $(services_of "${1:-all}"); do
      if running "$s"; then
        extra=""; [ -e "$RUNDIR/$s/.harness-started" ] && extra=", started by the test harness"
        echo "$s: running ($RUNDIR/$s$extra)"
      else
        echo "$s: not running"; rc=3
      fi
    done
    exit $rc ;;
  env)
    rc=0
    for s in $(services_of "${1:-all}"); do
      if running "$s"; then print_env "export " "$s"; else echo "# $s: not running" >&2; rc=3; fi
    done
    exit $rc ;;
  acquire|release)
    holder=${1:-}; [[ "$holder" =~ ^[0-9]+$ ]] || usage; shift
    rc=0
    for s in $(services_of "${1:-all}"); do
      if [ "$cmd" = acquire ]; then
        if with_lock "$s" acquire_one "$holder" "$s"; then print_env "" "$s"; else rc=1; fi
      else
        with_lock "$s" release_one "$holder" "$s" || rc=1
      fi
    done
    exit $rc ;;
  -h|--help|help) usage ;;
  *) usage ;;
esac
