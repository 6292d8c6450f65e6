#!/usr/bin/env bash
# `make down`: stop every process deploy/up.sh started, by its PID file (nginx first, so no
# request reaches a stopping instance, PostgreSQL last). The data in $DEPLOY_DIR stays.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

# stop NAME SIGNAL: send SIGNAL to the process of $RUN_DIR/NAME.pid and wait for it and its
# session (`up.sh` starts each in its own) to end; after 30 s, kill that session.
stop() {
  local name=$1 signal=$2 pid
  if ! alive "$name"; then
    rm -f "$RUN_DIR/$name.pid"
    return 0
  fi
  pid=$(cat "$RUN_DIR/$name.pid")
  kill "-$signal" "$pid" 2>/dev/null || true
  for _ in $(seq 300); do
    kill -0 "$pid" 2>/dev/null || kill -0 -- "-$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null || kill -0 -- "-$pid" 2>/dev/null; then
    say "$name: still running after 30 s, killing it"
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$RUN_DIR/$name.pid"
  say "$name: stopped"
}

[[ -d $RUN_DIR ]] || { say "nothing was started in $DEPLOY_DIR"; exit 0; }
stop nginx QUIT  # graceful: requests in flight are finished
for pidfile in "$RUN_DIR"/app-*.pid; do
  [[ -e $pidfile ]] && stop "$(basename "$pidfile" .pid)" TERM
done
stop worker TERM
stop redis TERM
rm -f "$RUN_DIR/redis.port"
if [[ -s $DEPLOY_DIR/postgres/data/postmaster.pid ]]; then
  bin=$(postgres_bin) || die "PostgreSQL's binaries are gone; stop it by the pid in postmaster.pid"
  as_postgres "$bin/pg_ctl" -D "$DEPLOY_DIR/postgres/data" -m fast -w stop >/dev/null
  say "PostgreSQL: stopped"
fi
say "down; the data stays in $DEPLOY_DIR"
