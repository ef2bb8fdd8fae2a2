"""What `launch/segment.launch.py` passes to the node, as plain functions.

`launch` and `launch_ros` are not on PyPI, so the launch file stays a thin shell and
everything it decides (parameter files, model override, input remaps per camera driver)
lives here, where tests check it without a ROS installation.
"""

from __future__ import annotations

from sgnet_ros.ros.dds_profile import transport_environment
from sgnet_ros.ros.parameters import (
    NODE_NAME,  # noqa: F401 - re-exported for the launch file
    read_parameter_yaml,
)

NODE_EXECUTABLE = "segmentation_node"
LIFECYCLE_EXECUTABLE = "segmentation_lifecycle_node"

# Input topic remaps per camera driver; keys are the node's relative input names.
CAMERA_REMAPS: dict[str, dict[str, str]] = {
    # depth_image_proc / openni2 / astra layout in the node's namespace: nothing to remap.
    "default": {},
    # realsense2_camera (ROS 2 wrapper 4.x) with align_depth.enable:=true.
    "realsense": {
        "rgb/image_rect_color": "/camera/camera/color/image_raw",
        "depth_registered/image_rect": "/camera/camera/aligned_depth_to_color/image_raw",
        "rgb/camera_info": "/camera/camera/color/camera_info",
    },
}


def input_remaps(camera: str) -> list[tuple[str, str]]:
    """(from, to) remaps of the node's inputs for a camera driver named in CAMERA_REMAPS."""
    if camera not in CAMERA_REMAPS:
        raise ValueError(f"camera {camera!r} is not one of {sorted(CAMERA_REMAPS)}")
    return list(CAMERA_REMAPS[camera].items())


def node_parameters(params_file: str, model: str, use_sim_time: bool) -> list:
    """The node's `parameters=` list: the YAML file, then launch-argument overrides.

    The file is read here, as the node reads its own, so a missing or broken one stops the
    launch with one line (path and parser position) instead of a traceback from rcl.
    """
    read_parameter_yaml(params_file)
    overrides: dict[str, object] = {"use_sim_time": use_sim_time}
    if model:
        overrides["model_path"] = model
    return [params_file, overrides]


def node_executable(lifecycle: bool) -> str:
    """The plain node, or the managed one that waits for `ros2 lifecycle set`."""
    return LIFECYCLE_EXECUTABLE if lifecycle else NODE_EXECUTABLE


def rviz_problem() -> str | None:
    """Why `rviz:=true` cannot open RViz here, or None when rviz2 is installed.

    Checked before anything starts. The node still starts without RViz: it is what the robot
    needs, and a viewer missing on a headless machine should not take perception down.
    """
    from ament_index_python.packages import PackageNotFoundError, get_package_prefix

    try:
        get_package_prefix("rviz2")
    except PackageNotFoundError:
        return ("rviz:=true, but rviz2 is not installed (no package 'rviz2' on "
                "AMENT_PREFIX_PATH): starting the segmentation node without RViz; install "
                "ros-$ROS_DISTRO-rviz2, or open config/sgnet.rviz in RViz on another machine")
    return None


def parse_bool(text: str) -> bool:
    """A launch argument's true/false text as a bool."""
    lowered = text.strip().lower()
    if lowered not in ("true", "false", "1", "0"):
        raise ValueError(f"expected true or false, got {text!r}")
    return lowered in ("true", "1")


def node_environment(transport: str) -> dict[str, str]:
    """Extra environment of the node for the `transport` launch argument: `configured` =
    the shipped Fast DDS profile (large messages on one host, loopback only), `inherit` =
    whatever the launching shell set (another RMW, several hosts)."""
    if transport == "inherit":
        return {}
    if transport != "configured":
        raise ValueError(f"transport {transport!r} is not one of configured, inherit")
    return transport_environment("configured")
