#!/usr/bin/env bash
# Install the ROS 2 command line and launch tools (ros2, launch, launch_ros, launch_testing)
# and colcon into .venv when ../shared/vendor/ros2 (their unmodified upstream sources) is
# present, so the tests can run `ros2 launch`, `ros2 topic/param/node/lifecycle` and
# `colcon build` against the package as on a robot. Without that folder the tests that need
# them skip and say so. With a system ROS, its own tools are used and nothing is installed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
VENDOR="${SGNET_ROS_VENDOR:-$ROOT/../shared/vendor/ros2}"
STAMP="$VENV/.sgnet_ros_tools_stamp"
PACKAGES=(launch launch_xml launch_yaml launch_testing launch_ros launch_testing_ros ros2launch
          ros2cli ros2pkg ros2topic ros2node ros2param ros2service ros2run ros2interface
          ros2lifecycle rosidl_runtime_py)
if [[ ! -d "$VENDOR" ]]; then
  echo "[ros-tools] $VENDOR is absent: the ros2 launch / ros2 CLI / colcon tests will skip"
  exit 0
fi
if ! "$VENV/bin/python" -c "import ros_wheels_bootstrapper" >/dev/null 2>&1; then
  echo "[ros-tools] system ROS: using its ros2, launch and colcon"
  exit 0
fi
CHECK="import composition_interfaces.srv, launch_ros.actions, ros2cli, colcon_core"
want="$(cat "$VENDOR/README.md" "${BASH_SOURCE[0]}" "$ROOT/tools/cmake/wheel_python_targets.cmake" \
        | sha256sum | cut -c1-16)"
if [[ "$(cat "$STAMP" 2>/dev/null)" == "$want" ]] && "$VENV/bin/python" -c "$CHECK" 2>/dev/null; then
  echo "[ros-tools] ros2, launch and colcon are installed"
  exit 0
fi
echo "[ros-tools] installing ros2, launch, launch_ros, launch_testing and colcon into $VENV"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
pip_quiet() { "$VENV/bin/python" -m pip install --quiet "$@" 2>&1 | { grep -v "^WARNING: Location" || true; }; }
pip_quiet osrf-pycommon lark psutil argcomplete packaging importlib-metadata pyyaml \
  colcon-common-extensions
# pip builds in the source folder; build copies so the shared vendor folder stays untouched.
for package in "${PACKAGES[@]}"; do cp -r "$VENDOR/$package" "$WORK/$package"; done
pip_quiet --no-deps --no-build-isolation "${PACKAGES[@]/#/$WORK/}"

# launch_ros imports composition_interfaces: build its services with the wheels' generators,
# as build_test_interfaces.sh builds vision_msgs, patching the wheels' Python targets first.
if ! "$VENV/bin/python" -c "import composition_interfaces.srv" >/dev/null 2>&1; then
  export AMENT_PREFIX_PATH="$VENV"
  BUILD="$WORK/composition_interfaces_build"
  cmake -S "$VENDOR/composition_interfaces" -B "$BUILD" -DCMAKE_PREFIX_PATH="$VENV" \
    -DCMAKE_INSTALL_PREFIX="$VENV" -DPython3_EXECUTABLE="$VENV/bin/python" -DBUILD_TESTING=OFF \
    -DCMAKE_PROJECT_composition_interfaces_INCLUDE="$ROOT/tools/cmake/wheel_python_targets.cmake" \
    -DWHEEL_PYTHON_DEPENDENCIES="rcl_interfaces;builtin_interfaces;service_msgs;type_description_interfaces" \
    > "$WORK/build.log" 2>&1 || { cat "$WORK/build.log"; exit 1; }
  cmake --build "$BUILD" -j "$(nproc)" >> "$WORK/build.log" 2>&1 || { cat "$WORK/build.log"; exit 1; }
  cmake --install "$BUILD" >> "$WORK/build.log" 2>&1 || { cat "$WORK/build.log"; exit 1; }
fi
"$VENV/bin/python" -c "$CHECK"
echo "$want" > "$STAMP"
echo "[ros-tools] installed: $VENV/bin/ros2, $VENV/bin/colcon"
