#!/usr/bin/env bash
# The README's test command: set up .venv (idempotent), lint, and run the whole pytest suite.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/tools/env.sh"
bash "$ROOT/tools/build_test_interfaces.sh"
bash "$ROOT/tools/install_ros_tools.sh"
# .venv is a ROS prefix (sgnet-ament-prefix): ros2 launch / ros2 run find sgnet_ros there.
export AMENT_PREFIX_PATH="$ROOT/.venv${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
cd "$ROOT"
"$ROOT/.venv/bin/ruff" check .
# Every variant's torch-vs-ONNX parity runs by default (SGNET_FULL_TESTS=0 skips ResNet-50/101).
export SGNET_FULL_TESTS="${SGNET_FULL_TESTS:-1}"
# pytest exits 5 when it collected no test; that must fail too, so no special-casing here.
exec "$ROOT/.venv/bin/python" -m pytest test "$@"
