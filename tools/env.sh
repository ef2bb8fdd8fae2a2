#!/usr/bin/env bash
# Create or refresh the project's virtual environment in .venv (idempotent, fast when unchanged).
# Uses a system ROS 2 (rclpy importable) when one is sourced; otherwise installs ROS 2 kilted wheels.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PYTHON="${PYTHON:-python3}"
STAMP="$VENV/.sgnet_stamp"

if "$PYTHON" -c "import rclpy" >/dev/null 2>&1; then
  ros_source="system"; extras="test"; venv_flags="--system-site-packages"
else
  ros_source="wheels"; extras="test,ros-wheels"; venv_flags=""
fi
want="$(cat "$ROOT/setup.py" "$ROOT/setup.cfg" | sha256sum | cut -c1-16)-$ros_source"

if [[ ! -x "$VENV/bin/python" ]]; then
  echo "[env] creating $VENV (ROS from $ros_source)"
  "$PYTHON" -m venv $venv_flags "$VENV"
fi
if [[ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]]; then
  echo "[env] installing sgnet_ros[$extras] into $VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  "$VENV/bin/python" -m pip install --quiet -e "$ROOT[$extras]"
  echo "$want" > "$STAMP"
else
  echo "[env] $VENV is up to date"
fi
# pip lays out no ROS prefix: add the ament index marker, share/sgnet_ros and lib/sgnet_ros as
# colcon does, and AMENT_PREFIX_PATH to .venv/bin/activate (idempotent, well under a second).
"$VENV/bin/sgnet-ament-prefix" >/dev/null
