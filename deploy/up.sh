#!/usr/bin/env bash
# `make up`: Potluck scaled out on this machine. PostgreSQL and Redis from Debian's binaries
# (data under $DEPLOY_DIR), the migrations (once, before any instance), INSTANCES app
# instances (`potluck serve`: granian with WEB_WORKERS workers each, on their own ports), the
# mail worker, and nginx in front (TLS, HTTP/2, /media/ from disk). Idempotent: what runs
# already is left running (nginx reloads its freshly rendered configuration). deploy/down.sh
# stops every process this started, by its PID file, and keeps the data.
#
# Settings (environment; defaults in brackets): DEPLOY_DIR [.deploy], NGINX_HTTPS_PORT [8443],
# NGINX_HTTP_PORT [8080], INSTANCES [2], INSTANCE_BASE_PORT [8101] or INSTANCE_PORTS (a list),
# WEB_WORKERS [2], POSTGRES_PORT [54329], REDIS_PORT [63799]; DATABASE_URL and REDIS_URL use
# servers of your own instead of starting them; every other app setting (MAIL_SERVER, ...)
# is passed through to the instances and the worker. See docs/deploy.md.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

NGINX_HTTPS_PORT=${NGINX_HTTPS_PORT:-8443}
NGINX_HTTP_PORT=${NGINX_HTTP_PORT:-8080}
INSTANCES=${INSTANCES:-2}
INSTANCE_BASE_PORT=${INSTANCE_BASE_PORT:-8101}
if [[ -z ${INSTANCE_PORTS:-} ]]; then
  INSTANCE_PORTS=$(seq "$INSTANCE_BASE_PORT" $((INSTANCE_BASE_PORT + INSTANCES - 1)) | xargs)
fi
POSTGRES_PORT=${POSTGRES_PORT:-54329}
REDIS_PORT=${REDIS_PORT:-63799}
POTLUCK=${POTLUCK:-$ROOT/.venv/bin/potluck}
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
[[ -x $POTLUCK ]] || die "$POTLUCK not found: run make up (it sets up .venv first)"

mkdir -p "$DEPLOY_DIR" "$RUN_DIR" "$LOG_DIR" "$DEPLOY_DIR/media" "$DEPLOY_DIR/instance"
chmod 755 "$DEPLOY_DIR" "$DEPLOY_DIR/media"  # nginx's workers read the images
[[ -e $DEPLOY_DIR/.gitignore ]] || echo '*' >"$DEPLOY_DIR/.gitignore"

# Secrets: made once, kept in $DEPLOY_DIR/secrets.env (only its owner reads it).
SECRETS=$DEPLOY_DIR/secrets.env
if [[ ! -s $SECRETS ]]; then
  (umask 077 && for name in SECRET_KEY POSTGRES_PASSWORD REDIS_PASSWORD; do
    echo "$name=$("$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(48))')"
  done >"$SECRETS")
  say "made secrets in $SECRETS"
fi
declare -A SECRET
while IFS='=' read -r name value; do SECRET[$name]=$value; done <"$SECRETS"
SECRET_KEY=${SECRET_KEY:-${SECRET[SECRET_KEY]}}

# --- nginx must exist before anything starts (installed when missing and root) -------------
NGINX=$(nginx_bin || true)
if [[ -z $NGINX ]] && is_root && command -v apt-get >/dev/null; then
  say "installing nginx from Debian's packages"
  apt-get update -qq >/dev/null || true
  # policy-rc.d keeps the package's own service from starting on port 80.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null 2>&1 \
    || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null
  NGINX=$(nginx_bin || true)
fi
if [[ -z $NGINX ]]; then
  say "nginx is not installed (apt-get install nginx, as root), so the topology cannot start"
  exit 3
fi

# --- PostgreSQL --------------------------------------------------------------------------
start_postgres() {
  local bin dir=$DEPLOY_DIR/postgres password=${SECRET[POSTGRES_PASSWORD]} port
  if ! bin=$(postgres_bin); then
    if is_root && command -v apt-get >/dev/null; then
      say "installing postgresql from Debian's packages"
      apt-get update -qq >/dev/null || true
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    fi
    bin=$(postgres_bin) || die "PostgreSQL is not installed (apt-get install postgresql)"
  fi
  mkdir -p "$dir"
  if is_root; then chown postgres: "$dir"; fi
  if [[ ! -s $dir/data/PG_VERSION ]]; then
    (umask 077 && printf '%s\n' "$password" >"$dir/pwfile")
    if is_root; then chown postgres: "$dir/pwfile"; fi
    as_postgres "$bin/initdb" -D "$dir/data" -U potluck --pwfile="$dir/pwfile" \
      --auth=scram-sha-256 -E UTF8 --locale=C.UTF-8 >/dev/null
    rm -f "$dir/pwfile"
    say "PostgreSQL: made a cluster in $dir/data"
  fi
  if as_postgres "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    port=$(sed -n 4p "$dir/data/postmaster.pid")
    say "PostgreSQL: already running on 127.0.0.1:$port"
  else
    port=$POSTGRES_PORT
    port_in_use "$port" && die "port $port (POSTGRES_PORT) is taken by another program"
    # max_connections: each worker's pool holds up to 15 (SQLAlchemy's 5 + 10 overflow), and
    # each of its blocking threads one more (the hot reads' replay asks over it).
    as_postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
      -o "-h 127.0.0.1 -p $port -k $dir -c max_connections=200" start >/dev/null
    say "PostgreSQL: started on 127.0.0.1:$port"
  fi
  export PGPASSWORD=$password
  if [[ -z $("$bin/psql" -h 127.0.0.1 -p "$port" -U potluck -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = 'potluck'") ]]; then
    "$bin/createdb" -h 127.0.0.1 -p "$port" -U potluck potluck
  fi
  unset PGPASSWORD
  DATABASE_URL=postgresql://potluck:$password@127.0.0.1:$port/potluck
}

# --- Redis -------------------------------------------------------------------------------
start_redis() {
  local dir=$DEPLOY_DIR/redis password=${SECRET[REDIS_PASSWORD]} port
  if ! command -v redis-server >/dev/null; then
    if is_root && command -v apt-get >/dev/null; then
      say "installing redis-server from Debian's packages"
      apt-get update -qq >/dev/null || true
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
    fi
    command -v redis-server >/dev/null || die "Redis is not installed (apt-get install redis-server)"
  fi
  mkdir -p "$dir"
  if alive redis; then
    port=$(cat "$RUN_DIR/redis.port")
    say "Redis: already running on 127.0.0.1:$port"
  else
    port=$REDIS_PORT
    port_in_use "$port" && die "port $port (REDIS_PORT) is taken by another program"
    # Cache entries and rate-limit counters only: nothing to persist, and under memory
    # pressure the least recently used keys go first.
    (umask 077 && cat >"$dir/redis.conf" <<CONF
bind 127.0.0.1
port $port
requirepass $password
dir $dir
save ""
appendonly no
maxmemory 256mb
maxmemory-policy allkeys-lru
daemonize yes
pidfile $RUN_DIR/redis.pid
logfile $LOG_DIR/redis.log
CONF
    )
    redis-server "$dir/redis.conf"
    echo "$port" >"$RUN_DIR/redis.port"
    for _ in $(seq 50); do
      REDISCLI_AUTH=$password redis-cli -p "$port" ping >/dev/null 2>&1 && break
      sleep 0.1
    done
    say "Redis: started on 127.0.0.1:$port"
  fi
  REDIS_URL=redis://:$password@127.0.0.1:$port/0
}

if [[ -n ${DATABASE_URL:-} ]]; then say "PostgreSQL: using DATABASE_URL"; else start_postgres; fi
if [[ -n ${REDIS_URL:-} ]]; then say "Redis: using REDIS_URL"; else start_redis; fi

# --- The app's settings, shared by the migrations, every instance and the worker ---------
export POTLUCK_ENV=${POTLUCK_ENV:-production}
export SECRET_KEY DATABASE_URL REDIS_URL
export MEDIA_ROOT=${MEDIA_ROOT:-$DEPLOY_DIR/media}
export POTLUCK_INSTANCE_PATH=${POTLUCK_INSTANCE_PATH:-$DEPLOY_DIR/instance}
export TRUSTED_PROXIES=${TRUSTED_PROXIES:-127.0.0.1}
export PUBLIC_BASE_URL=${PUBLIC_BASE_URL:-https://127.0.0.1:$NGINX_HTTPS_PORT}
export MAIL_DELIVERY=worker  # only `potluck worker` sends; the instances only queue
export WEB_WORKERS=${WEB_WORKERS:-2}
# For admin commands against this deployment: set -a; . $DEPLOY_DIR/potluck.env; set +a
(umask 077 && for name in POTLUCK_ENV SECRET_KEY DATABASE_URL REDIS_URL MEDIA_ROOT \
  POTLUCK_INSTANCE_PATH TRUSTED_PROXIES PUBLIC_BASE_URL MAIL_DELIVERY; do
  printf '%s=%q\n' "$name" "${!name}"
done >"$DEPLOY_DIR/potluck.env")

say "migrations: potluck setup"
"$POTLUCK" setup >>"$LOG_DIR/setup.log" 2>&1 || die "migrations failed: see $LOG_DIR/setup.log"

# start NAME COMMAND...: run COMMAND in its own session, logging to $LOG_DIR/NAME.log,
# unless the process of $RUN_DIR/NAME.pid is running already.
start() {
  local name=$1
  shift
  if alive "$name"; then
    say "$name: already running (pid $(cat "$RUN_DIR/$name.pid"))"
    return 0
  fi
  (cd "$DEPLOY_DIR" && exec setsid "$@" >>"$LOG_DIR/$name.log" 2>&1 </dev/null) &
  echo $! >"$RUN_DIR/$name.pid"
  say "$name: started (pid $!)"
}

# ready NAME PORT: wait until the instance answers /healthz (or, where the app has none
# yet, its OpenAPI document).
ready() {
  local name=$1 port=$2 code
  for _ in $(seq 300); do
    alive "$name" || die "$name exited: see $LOG_DIR/$name.log"
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/healthz" || true)
    if [[ $code == 404 ]]; then
      code=$(curl -s -o /dev/null -w '%{http_code}' \
        "http://127.0.0.1:$port/api/v1/openapi.json" || true)
    fi
    [[ $code == 200 ]] && return 0
    sleep 0.2
  done
  die "$name did not become ready on port $port: see $LOG_DIR/$name.log"
}

number=0
upstreams=""
for port in $INSTANCE_PORTS; do
  number=$((number + 1))
  if ! alive "app-$number" && port_in_use "$port"; then
    die "port $port (instance $number) is taken by another program"
  fi
  start "app-$number" "$POTLUCK" serve --port "$port" --workers "$WEB_WORKERS"
  upstreams+="server 127.0.0.1:$port max_fails=3 fail_timeout=10s; "
done
number=0
for port in $INSTANCE_PORTS; do
  number=$((number + 1))
  ready "app-$number" "$port"
done
start worker "$POTLUCK" worker

# --- nginx -------------------------------------------------------------------------------
NGINX_DIR=$DEPLOY_DIR/nginx
mkdir -p "$NGINX_DIR/temp"
"$(dirname "$0")/make-certs.sh" "$DEPLOY_DIR/tls"
export NGINX_LISTEN=127.0.0.1 NGINX_HTTPS_PORT NGINX_HTTP_PORT
export NGINX_UPSTREAM_SERVERS=$upstreams
export NGINX_TLS_CERTIFICATE=$DEPLOY_DIR/tls/server.crt NGINX_TLS_KEY=$DEPLOY_DIR/tls/server.key
export NGINX_CLIENT_MAX_BODY_SIZE=${NGINX_CLIENT_MAX_BODY_SIZE:-17m}
export NGINX_RUN_DIR=$RUN_DIR NGINX_LOG_DIR=$LOG_DIR NGINX_TEMP_DIR=$NGINX_DIR/temp
export NGINX_CONF_DIR=$NGINX_DIR NGINX_USER_DIRECTIVE=""
if is_root; then
  # The master runs as root; its workers do not.
  NGINX_USER_DIRECTIVE="user www-data;"
  chown -R www-data: "$NGINX_DIR/temp"
fi
"$PYTHON" "$(dirname "$0")/render_template.py" "$(dirname "$0")/nginx/potluck.conf.template" \
  >"$NGINX_DIR/potluck.conf"
"$PYTHON" "$(dirname "$0")/render_template.py" "$(dirname "$0")/nginx/nginx.conf.template" \
  >"$NGINX_DIR/nginx.conf"
nginx_cmd=("$NGINX" -p "$NGINX_DIR" -c "$NGINX_DIR/nginx.conf" -e "$LOG_DIR/nginx-error.log")
"${nginx_cmd[@]}" -t -q || die "nginx refused $NGINX_DIR/nginx.conf"
if alive nginx; then
  "${nginx_cmd[@]}" -s reload
  say "nginx: running (pid $(cat "$RUN_DIR/nginx.pid")), configuration reloaded"
else
  for port in "$NGINX_HTTPS_PORT" "$NGINX_HTTP_PORT"; do
    port_in_use "$port" && die "port $port (nginx) is taken by another program"
  done
  "${nginx_cmd[@]}"
  say "nginx: started (pid $(cat "$RUN_DIR/nginx.pid"))"
fi

cat <<TEXT

Potluck is up: $PUBLIC_BASE_URL/   (http://127.0.0.1:$NGINX_HTTP_PORT/ redirects there)
  API:          $PUBLIC_BASE_URL/api/v1/recipes
  docs:         $PUBLIC_BASE_URL/api/v1/docs
  instances:    $(for port in $INSTANCE_PORTS; do printf 'http://127.0.0.1:%s/ ' "$port"; done)
  certificate:  signed by $DEPLOY_DIR/tls/ca.crt (curl --cacert $DEPLOY_DIR/tls/ca.crt ...)
  logs:         $LOG_DIR/ (nginx-access, nginx-error, app-N, worker, redis, setup)
                and $DEPLOY_DIR/postgres/server.log
  admin:        set -a; . $DEPLOY_DIR/potluck.env; set +a; $POTLUCK user create NAME EMAIL
  stop:         make down (the data in $DEPLOY_DIR stays)
TEXT
