# Shared by the with-*.sh service starters (source it; it defines functions only).

# require_service NAME PACKAGE CHECK...: succeed when CHECK succeeds, installing Debian's
# PACKAGE first when it does not and we are root. When it still fails, the caller stops:
# with status 1 under CI=true (a missing service fails the run), else 0 after saying that
# the command is skipped.
require_service() {
  local name=$1 package=$2
  shift 2
  "$@" && return 0
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "with-$name: installing $package from Debian's packages" >&2
    apt-get update -qq >/dev/null || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package" >/dev/null || true
    "$@" && return 0
  fi
  if [[ "${CI:-}" == "true" ]]; then
    echo "with-$name: $package is not installed and could not be installed" >&2
    exit 1
  fi
  echo "with-$name: $package not found: SKIPPING this pass (install $package to run it)" >&2
  exit 0
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
