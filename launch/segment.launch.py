"""Start the SGNet segmentation node (and optionally RViz) next to an RGB-D camera.

    ros2 launch sgnet_ros segment.launch.py camera:=realsense rviz:=true

Everything the node receives comes from sgnet_ros.ros.launch_config, which the tests check.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, LogInfo, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from sgnet_ros.ros.launch_config import (
    NODE_NAME,
    input_remaps,
    node_environment,
    node_executable,
    node_parameters,
    parse_bool,
    rviz_problem,
)

SHARE = get_package_share_directory("sgnet_ros")


def _nodes(context):
    value = lambda name: LaunchConfiguration(name).perform(context)  # noqa: E731
    problem = rviz_problem() if parse_bool(value("rviz")) else None
    actions = [LogInfo(msg=f"WARNING: {problem}")] if problem else []
    actions.append(Node(
        package="sgnet_ros", executable=node_executable(parse_bool(value("lifecycle"))),
        name=NODE_NAME, namespace=value("namespace"), output="screen", emulate_tty=True,
        parameters=node_parameters(value("params_file"), value("model"),
                                   parse_bool(value("use_sim_time"))),
        remappings=input_remaps(value("camera")),
        additional_env=node_environment(value("transport")),
    ))
    if parse_bool(value("rviz")) and not problem:
        actions.append(Node(package="rviz2", executable="rviz2", name="rviz2",
                            arguments=["-d", os.path.join(SHARE, "config", "sgnet.rviz")]))
    return actions


def generate_launch_description():
    return LaunchDescription([
        DeclareLaunchArgument("params_file",
                              default_value=os.path.join(SHARE, "config", "sgnet.yaml"),
                              description="node parameter YAML"),
        DeclareLaunchArgument("model", default_value="",
                              description="ONNX model; empty = the bundled default"),
        DeclareLaunchArgument("namespace", default_value="camera",
                              description="namespace of the node, its inputs and outputs"),
        DeclareLaunchArgument("use_sim_time", default_value="false",
                              description="use /clock (bag replays with --clock)"),
        DeclareLaunchArgument("camera", default_value="default",
                              description="input remaps: default or realsense"),
        DeclareLaunchArgument("transport", default_value="inherit",
                              description="inherit (the shell's RMW settings) or configured "
                              "(Fast DDS profile for large messages, this host only)"),
        DeclareLaunchArgument("rviz", default_value="false",
                              description="also open RViz with config/sgnet.rviz (if installed)"),
        DeclareLaunchArgument("lifecycle", default_value="false",
                              description="start the managed node: it waits for "
                                          "`ros2 lifecycle set` configure and activate"),
        OpaqueFunction(function=_nodes),
    ])
