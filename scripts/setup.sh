#!/usr/bin/env bash
# Create .venv and install hubtune into it: torch 2.13.0 (CPU build) first, then the project with the given extras.
# Usage: bash scripts/setup.sh [extras]   e.g. bash scripts/setup.sh test
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
# Installing torch first keeps pip from pulling a multi-GB CUDA build as a dependency.
.venv/bin/python -m pip install --quiet torch==2.13.0
if [ -n "$extras" ]; then
  .venv/bin/python -m pip install --quiet -e ".[$extras]"
else
  .venv/bin/python -m pip install --quiet -e .
fi
