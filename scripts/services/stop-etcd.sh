#!/usr/bin/env bash
# stop-etcd.sh DIR -- stops the etcd started by start-etcd.sh DIR (by DIR/etcd.pid):
# SIGTERM, then SIGKILL after 10 s; only while that PID still runs etcd.
set -uo pipefail
if [ $# -lt 1 ]; then echo "usage: $0 DIR" >&2; exit 2; fi
f="$1/etcd.pid"
[ -s "$f" ] || exit 0
pid=$(cat "$f")
if kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'etcd'; then
  kill -TERM "$pid"
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  echo "[stop-etcd] stopped pid $pid" >&2
fi
rm -f "$f"
