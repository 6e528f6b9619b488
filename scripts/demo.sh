#!/usr/bin/env bash
# The main job end to end on built-in defaults: tiny model, bundled example task, LoRA, baselines, local hub.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh space
exec .venv/bin/hubtune demo "$@"
