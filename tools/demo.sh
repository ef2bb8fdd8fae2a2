#!/usr/bin/env bash
# The README's main command: set up .venv (idempotent) and run the node on a sample bag
# (--bag raw: sample_rgbd, default; --bag realsense: its compressed RealSense-style twin).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/tools/env.sh"
# .venv is a ROS prefix (sgnet-ament-prefix): ros2 launch / ros2 run find sgnet_ros there.
export AMENT_PREFIX_PATH="$ROOT/.venv${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
cd "$ROOT"
exec "$ROOT/.venv/bin/sgnet-demo" "$@"
