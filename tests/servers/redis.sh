#!/usr/bin/env bash
# Starts or stops a throwaway redis-server for tests, with its files in one directory.
#   redis.sh start <dir>   starts on a free loopback port (the same port again when <dir> was
#                          used before) and writes redis://127.0.0.1:PORT to <dir>/redis.url
#   redis.sh stop <dir>    stops it; the data stays in <dir> for a later start
set -euo pipefail

usage() {
  echo "usage: $0 start|stop <dir>" >&2
  exit 2
}

(($# == 2)) || usage
action=$1
dir=$2
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

free_port() {
  python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

start() {
  if [[ -f $dir/redis.pid ]] && kill -0 "$(cat "$dir/redis.pid")" 2>/dev/null; then
    echo "redis-server is already running from $dir" >&2
    return 0
  fi
  local port
  if [[ -f $dir/redis.port ]]; then
    port=$(cat "$dir/redis.port")
  else
    port=$(free_port)
    echo "$port" >"$dir/redis.port"
  fi
  redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --daemonize yes \
    --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --appendonly yes \
    --appendfsync everysec --save '' --protected-mode yes >/dev/null
  for _ in $(seq 1 100); do
    if redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -q PONG; then
      echo "redis://127.0.0.1:$port" >"$dir/redis.url"
      return 0
    fi
    sleep 0.05
  done
  echo "redis-server did not answer on 127.0.0.1:$port; see $dir/redis.log" >&2
  exit 1
}

stop() {
  [[ -f $dir/redis.pid ]] || return 0
  local pid
  pid=$(cat "$dir/redis.pid")
  if kill "$pid" 2>/dev/null; then
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.05
    done
  fi
  rm -f "$dir/redis.pid"
}

case $action in
  start) start ;;
  stop) stop ;;
  *) usage ;;
esac
