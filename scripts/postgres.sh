#!/usr/bin/env bash
# A private PostgreSQL server (Debian package) on loopback, for tests and the local cluster.
#   scripts/postgres.sh start DIR PORT   creates DIR, starts the server, prints its SQLAlchemy URL
#   scripts/postgres.sh stop DIR
# The password is generated per server and kept in DIR; nothing listens beyond 127.0.0.1.
set -euo pipefail
command=$1 dir=$2
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ -z "$bin" ]; then
  echo "PostgreSQL is not installed: run scripts/system_packages.sh (Debian package postgresql)" >&2
  exit 1
fi
# PostgreSQL refuses to run as root; as root, run it as the package's postgres user.
as_server_user() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

case $command in
start)
  port=$3
  mkdir -p "$dir"
  [ "$(id -u)" = 0 ] && chown postgres "$dir"
  if [ ! -f "$dir/password" ]; then
    head -c 18 /dev/urandom | base64 | tr -d '/+=' > "$dir/password"
    chmod 644 "$dir/password"  # read by initdb as the server user; DIR is private to this run
    as_server_user "$bin/initdb" -D "$dir/data" -U botox --auth=scram-sha-256 \
      --pwfile="$dir/password" >"$dir/initdb.log"
  fi
  as_server_user "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1" >/dev/null
  password=$(cat "$dir/password")
  PGPASSWORD=$password "$bin/psql" -h 127.0.0.1 -p "$port" -U botox -d postgres -qtA \
    -c "SELECT 1 FROM pg_database WHERE datname='botox'" | grep -q 1 ||
    PGPASSWORD=$password "$bin/createdb" -h 127.0.0.1 -p "$port" -U botox botox
  echo "postgresql://botox:$password@127.0.0.1:$port/botox"
  ;;
stop)
  as_server_user "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
  ;;
*)
  echo "usage: $0 start DIR PORT | stop DIR" >&2
  exit 2
  ;;
esac
