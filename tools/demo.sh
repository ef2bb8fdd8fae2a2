#!/usr/bin/env bash
# The README's main command: set up .venv (idempotent) and run the node on a sample bag
# (--bag raw: sample_rgbd, default; --bag realsense: its compressed RealSense-style twin).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/tools/env.sh"
cd "$ROOT"
exec "$ROOT/.venv/bin/sgnet-demo" "$@"
