#!/usr/bin/env bash
# Make sure Debian's chromium is there for the browser tests (tests/browser): installed when
# missing and run as root. Without it the browser tests skip themselves, except under CI=true,
# where this stops the run.
set -euo pipefail

CHROMIUM=/usr/bin/chromium
if [[ -x $CHROMIUM ]]; then exit 0; fi
if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
  echo "ensure-chromium: installing chromium from Debian's packages" >&2
  apt-get update -qq >/dev/null || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null || true
  if [[ -x $CHROMIUM ]]; then exit 0; fi
fi
if [[ "${CI:-}" == "true" ]]; then
  echo "ensure-chromium: $CHROMIUM is missing and could not be installed" >&2
  exit 1
fi
echo "ensure-chromium: $CHROMIUM not found: the browser tests will be SKIPPED" >&2
