#!/usr/bin/env bash
# Start private, throwaway PostgreSQL 15 and Redis servers for the tests, and
# print the environment that points at them:
#
#   eval "$(scripts/services.sh start DIR)"   ...   scripts/services.sh stop DIR
#
# PostgreSQL refuses to run as root, so as root the cluster belongs to the
# postgres user. Missing binaries are installed when running as root on
# Debian; otherwise the package to install is named.
set -euo pipefail
cmd=${1:?start or stop}
dir=${2:?a folder for the servers}

pg_bin() {
  for d in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && { echo "$d"; return 0; }
  done
  return 1
}

ensure_binaries() {
  local missing=()
  pg_bin >/dev/null || missing+=(postgresql)
  command -v redis-server >/dev/null || missing+=(redis-server)
  [ ${#missing[@]} = 0 ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing ${missing[*]}" >&2
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
  else
    echo "missing: install the Debian packages: ${missing[*]}" >&2
    exit 1
  fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start() {
  ensure_binaries
  mkdir -p "$dir"
  local bin pgport redisport
  bin=$(pg_bin)
  pgport=$(free_port)
  redisport=$(free_port)
  mkdir -p "$dir/pg" "$dir/redis"
  [ "$(id -u)" = 0 ] && chown postgres "$dir/pg" && chmod 700 "$dir/pg"
  as_pg "$bin/initdb" -D "$dir/pg/data" -U postgres --auth=trust -E UTF8 --no-locale \
    >"$dir/pg/initdb.log" 2>&1
  # Durability is irrelevant for a throwaway test server; speed is not.
  as_pg "$bin/pg_ctl" -D "$dir/pg/data" -l "$dir/pg/server.log" -w start -o \
    "-p $pgport -k $dir/pg -c listen_addresses=127.0.0.1 -c fsync=off \
     -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
    >/dev/null
  as_pg "$bin/createdb" -h 127.0.0.1 -p "$pgport" -U postgres cloudexpress
  redis-server --port "$redisport" --bind 127.0.0.1 --save "" --appendonly no \
    --daemonize yes --pidfile "$dir/redis/redis.pid" --logfile "$dir/redis/redis.log" \
    --dir "$dir/redis" >/dev/null
  for _ in $(seq 1 50); do
    redis-cli -p "$redisport" ping >/dev/null 2>&1 && break
    sleep 0.1
  done
  echo "$pgport" >"$dir/pg/port"
  echo "export DATABASE_URL=postgres://postgres@127.0.0.1:$pgport/cloudexpress"
  echo "export REDIS_URL=redis://127.0.0.1:$redisport/0"
  echo "export PG_BIN=$bin"
}

stop() {
  local bin
  if [ -f "$dir/redis/redis.pid" ]; then
    kill "$(cat "$dir/redis/redis.pid")" 2>/dev/null || true
  fi
  if [ -d "$dir/pg/data" ] && bin=$(pg_bin); then
    as_pg "$bin/pg_ctl" -D "$dir/pg/data" -m immediate stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
}

"$cmd"
