#!/usr/bin/env bash
# Run a command against a throwaway Redis server on a free loopback port:
#   scripts/with-redis.sh pytest ...
# It installs Debian's redis-server when missing and run as root, exports TEST_REDIS_URL,
# runs the command, and stops the server whatever happens. Without Redis it fails under
# CI=true, and otherwise says so and skips the command.
set -euo pipefail
source "$(dirname "$0")/services.sh"

require_service redis redis-server command -v redis-server >/dev/null

DATA=$(mktemp -d /tmp/potluck-redis.XXXXXX)
PORT=$(free_port)
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
