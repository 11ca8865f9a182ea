#!/usr/bin/env bash
# Starts and stops a throw-away PostgreSQL 15 server for tests.
#
#   tests/servers/postgres.sh start DIR   initdb into DIR/data, start on a free 127.0.0.1 port
#                                         (and a unix socket in DIR), write the connection URL
#                                         to DIR/postgres.url
#   tests/servers/postgres.sh restart DIR stop the server and start it again on the same port
#   tests/servers/postgres.sh stop DIR    stop the server and remove DIR
#
# PostgreSQL refuses to run as root, so under euid 0 the server runs as the `postgres` system
# user and DIR is chowned to it. Durability is off (fsync=off): the data is disposable.
set -euo pipefail

usage() {
  echo "usage: $0 start|restart|stop DIR" >&2
  exit 2
}
(($# == 2)) || usage
action=$1
dir=$2

bin_dir=${PG_BIN_DIR:-/usr/lib/postgresql/15/bin}
if [[ ! -x $bin_dir/pg_ctl ]]; then
  echo "pg_ctl not found in $bin_dir; install postgresql-15 or set PG_BIN_DIR" >&2
  exit 1
fi

server_user=$(id -un)
as_server_user=()
if ((EUID == 0)); then
  server_user=postgres
  as_server_user=(runuser -u postgres --)
fi

# Prints a TCP port that was free on 127.0.0.1 a moment ago.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start() {
  if [[ -e $dir ]]; then
    echo "removing the leftovers of an earlier server in $dir" >&2
    stop
  fi
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  if ((EUID == 0)); then chown "$server_user" "$dir"; fi
  cd /  # the server user may not be able to enter the caller's directory

  "${as_server_user[@]}" "$bin_dir/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 \
    --no-sync --no-instructions >"$dir/initdb.log" 2>&1 || {
    cat "$dir/initdb.log" >&2
    exit 1
  }

  local port attempt
  for attempt in 1 2 3; do
    port=$(free_port)
    if "${as_server_user[@]}" "$bin_dir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
      start >/dev/null; then
      echo "postgresql://postgres@127.0.0.1:$port/postgres" >"$dir/postgres.url"
      return 0
    fi
    echo "server did not start on port $port (attempt $attempt)" >&2
  done
  cat "$dir/server.log" >&2
  exit 1
}

stop() {
  if [[ -d $dir/data ]]; then
    "${as_server_user[@]}" "$bin_dir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null || true
  fi
  rm -rf "$dir"
}

restart() {
  dir=$(cd "$dir" && pwd)
  cd /
  "${as_server_user[@]}" "$bin_dir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -m fast -w -t 30 \
    restart >/dev/null
}

case $action in
  start) start ;;
  restart) restart ;;
  stop) stop ;;
  *) usage ;;
esac
