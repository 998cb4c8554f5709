#!/usr/bin/env bash
# Refresh the README's images in docs/screenshots/ by running the browser tests that take
# them (a plain test run writes its screenshots to a temporary folder instead).
#   bash scripts/screenshots.sh          # after scripts/test.sh has set up .venv once
#   bash scripts/screenshots.sh -x       # extra pytest arguments are passed through
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x /usr/bin/chromium ] || { echo "needs /usr/bin/chromium (apt-get install -y chromium)" >&2; exit 1; }
export KERAS_BACKEND=jax JAX_PLATFORMS=cpu ALBERT_DEMO_SCREENSHOTS="$PWD/docs/screenshots"
mkdir -p "$ALBERT_DEMO_SCREENSHOTS"
exec .venv/bin/python -m pytest -m "" \
  tests/app/test_browser.py tests/app/test_browser_annotations.py \
  tests/app/test_browser_explain.py tests/app/test_browser_finetune.py \
  tests/campaigns/test_campaign_browser.py "$@"
