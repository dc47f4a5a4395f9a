#!/usr/bin/env bash
# start-etcd.sh DIR
#
# Starts a single-member etcd (Debian's etcd-server) bound to 127.0.0.1, data in
# DIR/data, installing the packages first if they are missing (needs root). Waits
# for /health, writes DIR/env.sh and prints ETCD_ENDPOINTS=... on stdout. The PID
# goes to DIR/etcd.pid. Idempotent: a healthy etcd recorded there is reused.
# Stop with stop-etcd.sh DIR.
#
# Environment (all optional): ETCD_CLIENT_PORT=12379 ETCD_PEER_PORT=12380
#   ETCD_START_TIMEOUT=30 ETCD_LOG_LEVEL=warn CAIRN_SERVICES_SKIP_INSTALL=1
set -euo pipefail
if [ $# -lt 1 ]; then echo "usage: $0 DIR" >&2; exit 2; fi
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
mkdir -p "$1"
DIR=$(cd "$1" && pwd)
HOST=127.0.0.1
CPORT=${ETCD_CLIENT_PORT:-12379}
PPORT=${ETCD_PEER_PORT:-12380}
TIMEOUT=${ETCD_START_TIMEOUT:-30}
ENDPOINT="http://$HOST:$CPORT"
log() { echo "[start-etcd] $*" >&2; }

ensure_packages start-etcd "$DIR/apt.log" etcd-server etcd-client curl

healthy() { curl -fsS -m 2 "$ENDPOINT/health" 2>/dev/null | grep -q '"health":"true"'; }

if pid_alive "$DIR/etcd.pid"; then
  if healthy; then
    log "already running (pid $(cat "$DIR/etcd.pid"))"
  else
    log "etcd pid $(cat "$DIR/etcd.pid") is alive but unhealthy; stop it first"; exit 1
  fi
else
  for port in "$CPORT" "$PPORT"; do
    if port_in_use "$HOST" "$port"; then log "port $HOST:$port is already in use"; exit 1; fi
  done
  # a fresh single-member cluster, unless DIR/data holds one already
  state=new
  [ -d "$DIR/data/member" ] && state=existing
  nohup /usr/bin/etcd --name node1 --data-dir "$DIR/data" \
    --listen-client-urls "$ENDPOINT" --advertise-client-urls "$ENDPOINT" \
    --listen-peer-urls "http://$HOST:$PPORT" --initial-advertise-peer-urls "http://$HOST:$PPORT" \
    --initial-cluster "node1=http://$HOST:$PPORT" --initial-cluster-state $state \
    --initial-cluster-token "etcd-$CPORT" \
    --logger zap --log-level "${ETCD_LOG_LEVEL:-warn}" \
    >"$DIR/etcd.log" 2>&1 </dev/null &
  echo $! > "$DIR/etcd.pid"
  deadline=$((SECONDS + TIMEOUT))
  until healthy; do
    if ! pid_alive "$DIR/etcd.pid"; then
      log "etcd died; last log lines:"; tail -20 "$DIR/etcd.log" >&2; rm -f "$DIR/etcd.pid"; exit 1
    fi
    if [ $SECONDS -ge $deadline ]; then
      log "timed out waiting for $ENDPOINT/health"; "$HERE/stop-etcd.sh" "$DIR" || true; exit 1
    fi
    sleep 0.1
  done
  log "up in ${SECONDS}s (pid $(cat "$DIR/etcd.pid"))"
fi
echo "export ETCD_ENDPOINTS=$ENDPOINT ETCDCTL_API=3 ETCDCTL_ENDPOINTS=$ENDPOINT" > "$DIR/env.sh"
echo "ETCD_ENDPOINTS=$ENDPOINT"
