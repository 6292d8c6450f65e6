#!/usr/bin/env bash
# Run a command against a throwaway Redis server on a free loopback port:
#   scripts/with-redis.sh pytest ...
# It installs Debian's redis-server when missing and run as root, exports TEST_REDIS_URL,
# runs the command, and stops the server whatever happens. Without Redis it fails under
# CI=true, and otherwise says so and skips the command.
set -euo pipefail

if ! command -v redis-server >/dev/null; then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "with-redis: installing redis-server from Debian's packages" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  fi
  if ! command -v redis-server >/dev/null; then
    if [[ "${CI:-}" == "true" ]]; then
      echo "with-redis: redis-server is not installed and could not be installed" >&2
      exit 1
    fi
    echo "with-redis: redis-server not found: SKIPPING '$*' (install redis-server to run it)" >&2
    exit 0
  fi
fi

DATA=$(mktemp -d /tmp/potluck-redis.XXXXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --bind 127.0.0.1 --port "$PORT" --save "" --appendonly no --dir "$DATA" \
  --daemonize yes --pidfile "$DATA/redis.pid" --logfile "$DATA/redis.log" >/dev/null

stop() {
  if [[ -f "$DATA/redis.pid" ]]; then kill "$(cat "$DATA/redis.pid")" 2>/dev/null || true; fi
  rm -rf "$DATA"
}
trap stop EXIT

for _ in $(seq 50); do
  if redis-cli -p "$PORT" ping >/dev/null 2>&1; then break; fi
  sleep 0.1
done
export TEST_REDIS_URL="redis://127.0.0.1:$PORT/0"
echo "with-redis: Redis $(redis-server --version | awk '{print $3}' | cut -d= -f2) on 127.0.0.1:$PORT" >&2
"$@"
