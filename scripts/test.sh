#!/usr/bin/env bash
# Install everything the test suite needs on a fresh Debian machine, then run it.
#   bash scripts/test.sh                   # the default suite (what CI runs: every test
#                                          # but the one marked slow)
#   bash scripts/test.sh -m "not system"   # the fast loop: no launched app, browser or
#                                          # timing budget (tests/conftest.py keeps slow out)
#   bash scripts/test.sh -m slow           # extra pytest arguments are passed through
# As root on Debian it apt-installs Chromium and PostgreSQL first.
set -euo pipefail
cd "$(dirname "$0")/.."

# System parts the tests drive for real: Chromium (browser tests) and PostgreSQL.
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  need=()
  [ -x /usr/bin/chromium ] || need+=(chromium)
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
  if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
  fi
fi

PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -r requirements-test.txt
# keras-hub is a test peer only; without --no-deps it would pull in TensorFlow.
.venv/bin/pip install -q --no-deps keras-hub==0.32.0

export KERAS_BACKEND=jax JAX_PLATFORMS=cpu
exec .venv/bin/python -m pytest "$@"
