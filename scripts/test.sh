#!/usr/bin/env bash
# Run the test suite in a fresh .venv. The browser test drives Debian's chromium: installed here when missing (root).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
      || echo "warning: could not install chromium; the browser test will fail" >&2
  else
    echo "warning: chromium is not installed (apt-get install chromium); the browser test will fail" >&2
  fi
fi
export HUBTUNE_NO_PROGRESS=1
# Tiny models gain nothing from intra-op threads, and tests that start several processes would oversubscribe 2 cores.
export OMP_NUM_THREADS=1
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
