#!/usr/bin/env bash
# stop-swift.sh DIR -- stops the servers started by start-swift.sh DIR, by the PIDs
# recorded in DIR/run/*.pid: SIGTERM, then SIGKILL after 10 s. A PID is signalled
# only while it still runs the program that was started (PIDs get reused).
set -uo pipefail
if [ $# -lt 1 ]; then echo "usage: $0 DIR" >&2; exit 2; fi
DIR=$1
[ -d "$DIR/run" ] || exit 0
pids=()
for s in proxy-server object-server container-server account-server memcached; do
  f="$DIR/run/$s.pid"
  [ -s "$f" ] || continue
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$s"; then
    kill -TERM "$pid" 2>/dev/null && pids+=("$pid")
  fi
  rm -f "$f"
done
for _ in $(seq 1 100); do
  alive=0
  for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
  [ $alive = 0 ] && break
  sleep 0.1
done
for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null; done
echo "[stop-swift] stopped ${#pids[@]} process(es)" >&2
exit 0
