#!/usr/bin/env bash
# start-swift.sh DIR
#
# Starts a single-node, single-replica OpenStack Swift ("Swift All In One") from
# Debian's packages for development and tests: memcached + account, container,
# object and proxy servers bound to 127.0.0.1, with tempauth, s3api, bulk, tempurl,
# copy, slo, dlo, versioned_writes and symlink in the proxy pipeline.
# Installs the packages first if they are missing (needs root; ~35-60 s once).
# Configs, rings, data and logs go under DIR; PIDs to DIR/run/<server>.pid; the
# connection settings to DIR/env.sh (sourceable) and to stdout as KEY=VALUE lines.
# Idempotent: when the servers recorded in DIR/run are alive and healthy, it only
# prints the settings again. Stop with stop-swift.sh DIR.
#
# Environment (all optional):
#   SWIFT_PROXY_PORT=18080 SWIFT_OBJECT_PORT=16200 SWIFT_CONTAINER_PORT=16201
#   SWIFT_ACCOUNT_PORT=16202 SWIFT_MEMCACHED_PORT=21211
#   SWIFT_LOG_LEVEL=WARNING  (INFO logs one line per request into DIR/log)
#   SWIFT_START_TIMEOUT=60   (seconds to wait for every /healthcheck)
#   CAIRN_SERVICES_SKIP_INSTALL=1 (never call apt-get)
set -euo pipefail

if [ $# -lt 1 ]; then echo "usage: $0 DIR" >&2; exit 2; fi
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
mkdir -p "$1"
DIR=$(cd "$1" && pwd)

PROXY_PORT=${SWIFT_PROXY_PORT:-18080}
OBJECT_PORT=${SWIFT_OBJECT_PORT:-16200}
CONTAINER_PORT=${SWIFT_CONTAINER_PORT:-16201}
ACCOUNT_PORT=${SWIFT_ACCOUNT_PORT:-16202}
MEMCACHED_PORT=${SWIFT_MEMCACHED_PORT:-21211}
LOG_LEVEL=${SWIFT_LOG_LEVEL:-WARNING}
START_TIMEOUT=${SWIFT_START_TIMEOUT:-60}
RUN_USER=$(id -un)
HOST=127.0.0.1
AUTH_URL="http://$HOST:$PROXY_PORT/auth/v1.0"
SERVERS=(memcached account-server container-server object-server proxy-server)

log() { echo "[start-swift] $*" >&2; }

ensure_packages start-swift "$DIR/apt.log" \
  swift-proxy swift-object swift-container swift-account python3-swiftclient memcached curl

# Swift's servers always read /etc/swift/swift.conf (hash path prefix/suffix and the
# storage policies; swift_dir does not move it). Debian ships one; write one only if
# it is missing.
if ! grep -qs '^swift_hash_path_\(suffix\|prefix\)' /etc/swift/swift.conf; then
  if [ "$(id -u)" = 0 ] || [ -w /etc/swift ]; then
    mkdir -p /etc/swift
    cat > /etc/swift/swift.conf <<'CONF'
[swift-hash]
swift_hash_path_suffix = saio-test-suffix
swift_hash_path_prefix = saio-test-prefix

[storage-policy:0]
name = Policy-0
default = yes
CONF
  else
    log "/etc/swift/swift.conf is missing and not writable"; exit 1
  fi
fi

healthy() { curl -fsS -m 2 "http://$HOST:$PROXY_PORT/healthcheck" >/dev/null 2>&1; }

all_alive=1
for s in "${SERVERS[@]}"; do pid_alive "$DIR/run/$s.pid" || all_alive=0; done
if [ $all_alive = 1 ] && healthy; then
  log "already running in $DIR"
else
  for s in "${SERVERS[@]}"; do
    if pid_alive "$DIR/run/$s.pid"; then
      log "$s from a previous start is still running (pid $(cat "$DIR/run/$s.pid")) but Swift is not healthy; stop it first"
      exit 1
    fi
  done
  for port in "$PROXY_PORT" "$OBJECT_PORT" "$CONTAINER_PORT" "$ACCOUNT_PORT" "$MEMCACHED_PORT"; do
    if port_in_use "$HOST" "$port"; then log "port $HOST:$port is already in use (another Swift?)"; exit 1; fi
  done

  mkdir -p "$DIR/etc" "$DIR/srv/d1" "$DIR/run" "$DIR/log"
  # The object server keeps metadata in user.* xattrs of its files.
  if ! /usr/bin/python3 -c 'import sys,xattr; xattr.setxattr(sys.argv[1],"user.swift.probe",b"1"); xattr.removexattr(sys.argv[1],"user.swift.probe")' "$DIR/srv/d1" 2>/dev/null; then
    log "the filesystem of $DIR/srv does not support user xattrs, which Swift's object server needs"; exit 1
  fi

  server_default() { # PORT LOGNAME
    cat <<CONF
[DEFAULT]
bind_ip = $HOST
bind_port = $1
workers = 0
user = $RUN_USER
swift_dir = $DIR/etc
devices = $DIR/srv
mount_check = false
log_name = $2
log_level = $LOG_LEVEL
log_udp_host = $HOST
log_udp_port = 9
fallocate_reserve = 0
eventlet_debug = false
CONF
  }
  for kind in account container object; do
    case $kind in
      account) port=$ACCOUNT_PORT ;; container) port=$CONTAINER_PORT ;; object) port=$OBJECT_PORT ;;
    esac
    { server_default "$port" "$kind-server"; cat <<CONF

[pipeline:main]
pipeline = healthcheck $kind-server

[app:$kind-server]
use = egg:swift#$kind

[filter:healthcheck]
use = egg:swift#healthcheck
CONF
    } > "$DIR/etc/$kind-server.conf"
  done

  cat > "$DIR/etc/proxy-server.conf" <<CONF
[DEFAULT]
bind_ip = $HOST
bind_port = $PROXY_PORT
workers = 0
user = $RUN_USER
swift_dir = $DIR/etc
log_name = proxy-server
log_level = $LOG_LEVEL
log_udp_host = $HOST
log_udp_port = 9
eventlet_debug = false

[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk tempurl s3api tempauth copy slo dlo versioned_writes symlink proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
allow_account_management = true
account_autocreate = true
# With one device a single 507 (e.g. ENOSPC when ext4 cannot hold an object's xattr
# metadata) would otherwise error-limit the only node for 60 s and turn into 503s.
error_suppression_interval = 0

[filter:catch_errors]
use = egg:swift#catch_errors

[filter:gatekeeper]
use = egg:swift#gatekeeper

[filter:healthcheck]
use = egg:swift#healthcheck

[filter:proxy-logging]
use = egg:swift#proxy_logging

[filter:cache]
use = egg:swift#memcache
memcache_servers = $HOST:$MEMCACHED_PORT

[filter:listing_formats]
use = egg:swift#listing_formats

[filter:bulk]
use = egg:swift#bulk

[filter:tempurl]
use = egg:swift#tempurl

[filter:s3api]
use = egg:swift#s3api
location = us-east-1
s3_acl = false
# virtual-host style addressing: <bucket>.localhost:<port>
storage_domain = localhost

[filter:tempauth]
use = egg:swift#tempauth
user_admin_admin = admin .admin .reseller_admin
user_test_tester = testing .admin
user_test2_tester2 = testing2 .admin
user_test_tester3 = testing3

[filter:copy]
use = egg:swift#copy

[filter:slo]
use = egg:swift#slo

[filter:dlo]
use = egg:swift#dlo

[filter:versioned_writes]
use = egg:swift#versioned_writes
allow_versioned_writes = true
allow_object_versioning = true

[filter:symlink]
use = egg:swift#symlink
CONF

  # Rings: part power 8, 1 replica, one device d1 = DIR/srv/d1 (mount_check = false).
  /usr/bin/python3 - "$DIR/etc" "$HOST" "$ACCOUNT_PORT" "$CONTAINER_PORT" "$OBJECT_PORT" <<'PY'
import os, sys
from swift.common.ring import RingBuilder
d, host = sys.argv[1], sys.argv[2]
ports = dict(account=int(sys.argv[3]), container=int(sys.argv[4]), object=int(sys.argv[5]))
for name, port in ports.items():
    b = RingBuilder(8, 1, 1)
    b.add_dev({'id': 0, 'region': 1, 'zone': 1, 'ip': host, 'port': port,
               'device': 'd1', 'weight': 100.0, 'meta': ''})
    b.rebalance()
    b.save(os.path.join(d, name + '.builder'))
    b.get_ring().save(os.path.join(d, name + '.ring.gz'))
PY

  # memcached is required: tempauth keeps its tokens there.
  nohup /usr/bin/memcached -l "$HOST" -p "$MEMCACHED_PORT" -U 0 -m 64 -c 1024 -u "$RUN_USER" \
    >"$DIR/log/memcached.log" 2>&1 </dev/null &
  echo $! > "$DIR/run/memcached.pid"
  for s in account container object proxy; do
    # -v: log to stderr (captured in DIR/log) as well as to syslog over UDP (discarded)
    nohup "/usr/bin/swift-$s-server" "$DIR/etc/$s-server.conf" -v \
      >"$DIR/log/$s-server.log" 2>&1 </dev/null &
    echo $! > "$DIR/run/$s-server.pid"
  done

  deadline=$((SECONDS + START_TIMEOUT))
  for port in "$ACCOUNT_PORT" "$CONTAINER_PORT" "$OBJECT_PORT" "$PROXY_PORT"; do
    until curl -fsS -m 2 "http://$HOST:$port/healthcheck" >/dev/null 2>&1; do
      for s in "${SERVERS[@]}"; do
        if ! pid_alive "$DIR/run/$s.pid"; then
          log "$s died during startup; last log lines:"; tail -20 "$DIR/log/$s.log" >&2
          "$HERE/stop-swift.sh" "$DIR" 2>/dev/null || true
          exit 1
        fi
      done
      if [ $SECONDS -ge $deadline ]; then
        log "timed out waiting for $HOST:$port/healthcheck"
        "$HERE/stop-swift.sh" "$DIR" 2>/dev/null || true
        exit 1
      fi
      sleep 0.2
    done
  done
  log "up in ${SECONDS}s"
fi

cat > "$DIR/env.sh" <<ENV
export ST_AUTH=$AUTH_URL
export ST_USER=test:tester
export ST_KEY=testing
export SWIFT_AUTH_URL=$AUTH_URL
export SWIFT_USER=test:tester
export SWIFT_KEY=testing
export SWIFT_STORAGE_URL=http://$HOST:$PROXY_PORT/v1/AUTH_test
export SWIFT_MEMCACHED=$HOST:$MEMCACHED_PORT
export S3_ENDPOINT=http://$HOST:$PROXY_PORT
export S3_ACCESS_KEY_ID=test:tester
export S3_SECRET_ACCESS_KEY=testing
export S3_REGION=us-east-1
ENV
sed -e 's/^export //' "$DIR/env.sh"
