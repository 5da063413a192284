#!/usr/bin/env bash
# A throwaway PostgreSQL server on 127.0.0.1 for tests and benchmarks: its data and its unix socket
# live in one temporary folder that is deleted when the server stops. Run as root, the server runs
# as the `postgres` user (PostgreSQL refuses to run as root).
#
#   scripts/postgres.sh serve PORT   start, print "ready postgres://postgres@127.0.0.1:PORT/postgres",
#                                    stop and clean up when stdin closes (the tests hold it open,
#                                    so the server goes away with them even if they crash)
#   scripts/postgres.sh start PORT   start in the background, print the URL and the folder
#   scripts/postgres.sh stop DIR     stop the server started in DIR and delete DIR
set -euo pipefail

find_bin() {
  local found
  found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [[ -n "$found" && -x "$found/initdb" ]]; then
    echo "$found"
  elif command -v initdb >/dev/null 2>&1; then
    dirname "$(command -v initdb)"
  else
    echo "postgres.sh: initdb not found; install PostgreSQL (Debian: apt-get install -y postgresql)" >&2
    exit 1
  fi
}

# Run a PostgreSQL program as the postgres user when we are root, as ourselves otherwise.
as_owner() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start() {
  local port=$1 bin dir
  bin=$(find_bin) || exit 1
  dir=$(mktemp -d /tmp/outpost-pg.XXXXXX)
  if [[ $(id -u) -eq 0 ]]; then chown postgres "$dir"; fi
  as_owner "$bin/initdb" -D "$dir/data" -U postgres -A trust --no-sync -E UTF8 >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; rm -rf "$dir"; exit 1; }
  # fsync off: a test server never needs to survive a power cut, and commits get ~10x cheaper.
  as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" \
    start >/dev/null ||
    { cat "$dir/server.log" >&2; rm -rf "$dir"; exit 1; }
  echo "$dir"
}

stop() {
  local dir=$1 bin
  bin=$(find_bin) || exit 1
  as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}

case "${1:-}" in
  serve)
    dir=$(start "$2")
    echo "ready postgres://postgres@127.0.0.1:$2/postgres"
    # Wait for the caller to go away (EOF on stdin), then take everything down.
    cat >/dev/null || true
    stop "$dir"
    ;;
  start)
    dir=$(start "$2")
    echo "postgres://postgres@127.0.0.1:$2/postgres"
    echo "$dir"
    ;;
  stop) stop "$2" ;;
  *)
    echo "usage: $0 serve PORT | start PORT | stop DIR" >&2
    exit 2
    ;;
esac
