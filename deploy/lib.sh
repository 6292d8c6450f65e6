# Shared by deploy/up.sh and deploy/down.sh (source it; it sets paths and defines functions).

ROOT=${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
DEPLOY_DIR=${DEPLOY_DIR:-$ROOT/.deploy}
RUN_DIR=$DEPLOY_DIR/run
LOG_DIR=$DEPLOY_DIR/log

say() { echo "deploy: $*" >&2; }
die() { say "$*"; exit 1; }
is_root() { [[ $(id -u) -eq 0 ]]; }

# alive NAME: the process recorded in $RUN_DIR/NAME.pid is running.
alive() {
  local pidfile=$RUN_DIR/$1.pid
  [[ -s $pidfile ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

port_in_use() { (: <"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

postgres_bin() {
  local dir
  for dir in "$(pg_config --bindir 2>/dev/null || true)" /usr/lib/postgresql/*/bin; do
    if [[ -n "$dir" && -x "$dir/initdb" && -x "$dir/pg_ctl" ]]; then echo "$dir"; return 0; fi
  done
  return 1
}

nginx_bin() { command -v nginx || { [[ -x /usr/sbin/nginx ]] && echo /usr/sbin/nginx; }; }

# initdb and the server refuse to run as root: as root they run as Debian's `postgres` user.
as_postgres() {
  if is_root; then runuser -u postgres -- "$@"; else "$@"; fi
}
