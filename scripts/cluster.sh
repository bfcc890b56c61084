#!/usr/bin/env bash
# The production shape on one machine, from Debian packages: PostgreSQL (conversations and clinic
# records), Redis (lock store), one action server and its escalation outbox, two Rasa replicas, and
# nginx in front (round robin for REST and Twilio, sticky by client address for Socket.IO).
#   scripts/cluster.sh run [DIR] [PORT]     start, print where, stop everything on Ctrl-C (make cluster)
#   scripts/cluster.sh start DIR PORT       start in the background; DIR/cluster.env says where
#   scripts/cluster.sh stop-replica DIR N   drain replica N out of nginx, then stop it (a rolling stop)
#   scripts/cluster.sh stop DIR
# Ports: PORT nginx, PORT+1 and PORT+2 the replicas, PORT+3 actions, PORT+4 PostgreSQL, PORT+5 Redis;
# all on 127.0.0.1. Passwords are generated per cluster and kept in DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
command=${1:-run}
dir=$(realpath -m "${2:-var/cluster}")
port=${3:-8000}
source scripts/server_env.sh

wait_for_http() {  # URL SECONDS
  for _ in $(seq "$2"); do curl -fs "$1" >/dev/null 2>&1 && return 0; sleep 1; done
  echo "no answer from $1: see $dir/logs" >&2
  return 1
}

spawn() {  # NAME COMMAND...: run in its own session, remember the pid, log to DIR/logs/NAME.log
  local name=$1; shift
  setsid "$@" >"$dir/logs/$name.log" 2>&1 < /dev/null &
  echo $! >"$dir/pids/$name"
}

start_replica() {  # N
  local n=$1
  spawn "rasa-$n" .venv/bin/rasa run --model models/current.tar.gz \
    --endpoints deploy/endpoints.production.yml --credentials credentials.yml \
    --interface 127.0.0.1 --port $((port + n))
  wait_for_http "http://127.0.0.1:$((port + n))/webhooks/rest/" 240
}

start() {
  for tool in redis-server nginx; do
    command -v "$tool" >/dev/null || { echo "$tool is missing: run scripts/system_packages.sh" >&2; exit 1; }
  done
  [ -f models/current.tar.gz ] || { echo "no trained model: run make train" >&2; exit 1; }
  mkdir -p "$dir/logs" "$dir/pids" "$dir/redis" "$dir/nginx"
  # PostgreSQL runs as its own user (scripts/postgres.sh), which must be able to reach DIR/postgres.
  chmod o+x "$dir"
  db_url=$(scripts/postgres.sh start "$dir/postgres" $((port + 4)))
  [ -f "$dir/redis/password" ] || head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$dir/redis/password"
  # The lock store needs no persistence: a lock outlives no process by more than its lifetime.
  spawn redis redis-server --bind 127.0.0.1 --port $((port + 5)) --requirepass "$(cat "$dir/redis/password")" \
    --save "" --appendonly no --dir "$dir/redis" --protected-mode yes
  # What deploy/endpoints.production.yml reads (in production: from the orchestrator's secrets).
  export ACTION_SERVER_URL="http://127.0.0.1:$((port + 3))/webhook"
  export DB_HOST=127.0.0.1 DB_PORT=$((port + 4)) DB_NAME=botox DB_USER=botox
  DB_PASSWORD=$(cat "$dir/postgres/password"); export DB_PASSWORD
  export REDIS_HOST=127.0.0.1 REDIS_PORT=$((port + 5))
  REDIS_PASSWORD=$(cat "$dir/redis/password"); export REDIS_PASSWORD
  export RECORDS_DB_URL=$db_url
  SANIC_HOST=127.0.0.1 spawn actions .venv/bin/rasa run actions --actions actions --port $((port + 3))
  spawn outbox .venv/bin/python -m commands.outbox run
  wait_for_http "http://127.0.0.1:$((port + 3))/health" 120
  # One replica first: it creates the tracker tables, so the two never race to.
  start_replica 1
  start_replica 2
  sed -e "s|\${NGINX_STATE_DIR}|$dir/nginx|g" -e "s|\${NGINX_LOG_DIR}|$dir/logs|g" \
    -e "s|\${NGINX_LISTEN}|127.0.0.1:$port|g" -e "s|\${RASA_1}|127.0.0.1:$((port + 1))|g" \
    -e "s|\${RASA_2}|127.0.0.1:$((port + 2))|g" deploy/nginx.conf.template >"$dir/nginx/nginx.conf"
  spawn nginx nginx -c "$dir/nginx/nginx.conf" -p "$dir/nginx" -g "daemon off;"
  wait_for_http "http://127.0.0.1:$port/webhooks/rest/" 30
  cat >"$dir/cluster.env" <<EOF
PORT=$port
CLUSTER_URL=http://127.0.0.1:$port
REPLICA_1_URL=http://127.0.0.1:$((port + 1))
REPLICA_2_URL=http://127.0.0.1:$((port + 2))
DATABASE_URL=$db_url
EOF
}

stop_replica() {  # N. As an orchestrator stops a pod: no new requests first, then SIGTERM, on
  # which Sanic stops accepting and finishes the requests it has. Stopping first would reset the
  # connections nginx had just opened to it, and nginx does not re-send a POST.
  local n=$1
  port=$(sed -n 's/^PORT=//p' "$dir/cluster.env")
  sed -i "s|server 127.0.0.1:$((port + n))[^;]*;|server 127.0.0.1:$((port + n)) down;|" "$dir/nginx/nginx.conf"
  local master workers
  master=$(cat "$dir/nginx/nginx.pid")
  workers=$(pgrep -P "$master" | sort)
  nginx -c "$dir/nginx/nginx.conf" -p "$dir/nginx" -s reload
  # The old workers exit once every request they sent (to either replica) has its answer; Sanic
  # would reset connections whose request it has not started reading when it stops.
  for _ in $(seq 240); do
    [ -z "$(comm -12 <(echo "$workers") <(pgrep -P "$master" | sort))" ] && break
    sleep 0.5
  done
  pid=$(cat "$dir/pids/rasa-$n")
  kill -TERM -- "-$pid"
  for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  rm -f "$dir/pids/rasa-$n"
}

stop() {
  for name in nginx rasa-1 rasa-2 outbox actions redis; do
    [ -f "$dir/pids/$name" ] || continue
    pid=$(cat "$dir/pids/$name")
    kill -TERM -- "-$pid" 2>/dev/null || true
    for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL -- "-$pid" 2>/dev/null || true
    rm -f "$dir/pids/$name"
  done
  [ -d "$dir/postgres/data" ] && scripts/postgres.sh stop "$dir/postgres" 2>/dev/null || true
}

case $command in
run)
  trap 'stop' EXIT INT TERM
  start
  echo "Cluster ready on http://127.0.0.1:$port (REST, Twilio, Socket.IO); logs in $dir/logs. Ctrl-C stops it."
  # Stop everything if a part dies rather than serve half a cluster.
  while sleep 2; do
    for pidfile in "$dir"/pids/*; do
      kill -0 "$(cat "$pidfile")" 2>/dev/null || { echo "$(basename "$pidfile") stopped" >&2; exit 1; }
    done
  done
  ;;
start) start ;;
stop-replica) stop_replica "$3" ;;
stop) stop ;;
*) echo "usage: $0 run [DIR] [PORT] | start DIR PORT | stop-replica DIR N | stop DIR" >&2; exit 2 ;;
esac
