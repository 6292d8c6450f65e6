#!/usr/bin/env bash
# Run a command against a throwaway PostgreSQL server on a free loopback port:
#   scripts/with-postgres.sh pytest ...
# It installs Debian's postgresql when missing and run as root, starts a fresh cluster
# (as the `postgres` user when root, since initdb refuses root), exports
# TEST_DATABASE_URL, runs the command, and stops the server whatever happens.
# Without PostgreSQL it fails under CI=true, and otherwise says so and skips the command.
set -euo pipefail
source "$(dirname "$0")/services.sh"

find_bin() {
  local dir
  for dir in "$(pg_config --bindir 2>/dev/null || true)" /usr/lib/postgresql/*/bin; do
    if [[ -n "$dir" && -x "$dir/initdb" && -x "$dir/pg_ctl" ]]; then echo "$dir"; return 0; fi
  done
  return 1
}

require_service postgres postgresql find_bin >/dev/null
PG_BIN=$(find_bin)

DATA=$(mktemp -d /tmp/potluck-pg.XXXXXX)
PORT=$(free_port)
as_pg() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}
if [[ $(id -u) -eq 0 ]]; then chown postgres: "$DATA"; fi

stop() {
  as_pg "$PG_BIN/pg_ctl" -D "$DATA/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$DATA"
}
trap stop EXIT

as_pg "$PG_BIN/initdb" -D "$DATA/data" -U potluck --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
as_pg "$PG_BIN/pg_ctl" -D "$DATA/data" -l "$DATA/server.log" -w \
  -o "-h 127.0.0.1 -p $PORT -k $DATA -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
  start >/dev/null
as_pg "$PG_BIN/createdb" -h 127.0.0.1 -p "$PORT" -U potluck potluck_test

export TEST_DATABASE_URL="postgresql+psycopg://potluck@127.0.0.1:$PORT/potluck_test"
echo "with-postgres: PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PORT" >&2
"$@"
