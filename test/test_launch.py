"""The launch file and what it passes to the node, without launch/launch_ros installed
(test_ros2_launch.py runs it with the real launch system where it is)."""

import ast
from importlib import metadata
from pathlib import Path

import pytest

from sgnet_ros.ros.launch_config import (
    CAMERA_REMAPS,
    input_remaps,
    node_executable,
    node_parameters,
    parse_bool,
    rviz_problem,
)
from sgnet_ros.ros.node import DEPTH, INFO, RGB
from sgnet_ros.ros.parameters import ParameterError

ROOT = Path(__file__).resolve().parent.parent
LAUNCH_FILE = ROOT / "launch" / "segment.launch.py"

# The documented public API of launch / launch_ros (Humble .. Kilted) the file may use.
DOCUMENTED_API = {
    "launch": {"LaunchDescription"},
    "launch.actions": {"DeclareLaunchArgument", "OpaqueFunction", "IncludeLaunchDescription",
                       "GroupAction", "LogInfo"},
    "launch.conditions": {"IfCondition", "UnlessCondition"},
    "launch.substitutions": {"LaunchConfiguration", "PathJoinSubstitution"},
    "launch_ros.actions": {"Node", "PushRosNamespace"},
    "ament_index_python.packages": {"get_package_share_directory"},
}


def test_launch_file_compiles_and_imports_only_documented_names():
    tree = ast.parse(LAUNCH_FILE.read_text(), filename=str(LAUNCH_FILE))
    compile(tree, str(LAUNCH_FILE), "exec")
    functions = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    assert "generate_launch_description" in functions
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module != "sgnet_ros.ros.launch_config":
            names = {alias.name for alias in node.names}
            assert node.module in DOCUMENTED_API or node.module == "os", node.module
            if node.module in DOCUMENTED_API:
                assert names <= DOCUMENTED_API[node.module], (node.module, names)


def test_launch_arguments_are_the_documented_ones():
    tree = ast.parse(LAUNCH_FILE.read_text())
    declared = {call.args[0].value for call in ast.walk(tree)
                if isinstance(call, ast.Call) and getattr(call.func, "id", "") ==
                "DeclareLaunchArgument"}
    assert declared == {"params_file", "model", "namespace", "use_sim_time", "camera", "rviz",
                        "lifecycle", "transport"}
    readme = (ROOT / "README.md").read_text()
    for argument in declared:
        assert f"`{argument}" in readme, f"launch argument {argument} is not in the README"


def test_realsense_remaps_cover_every_input_of_the_node():
    remaps = dict(input_remaps("realsense"))
    assert set(remaps) == {RGB, DEPTH, INFO}
    assert remaps[DEPTH] == "/camera/camera/aligned_depth_to_color/image_raw"
    assert input_remaps("default") == []
    with pytest.raises(ValueError, match="'kinect'"):
        input_remaps("kinect")
    assert set(CAMERA_REMAPS) == {"default", "realsense"}


def test_node_parameters_put_overrides_after_the_file(tmp_path):
    params = ROOT / "config" / "sgnet.yaml"
    assert node_parameters(str(params), "", False) == [str(params), {"use_sim_time": False}]
    assert node_parameters(str(params), "/m.onnx", True)[1] == {"use_sim_time": True,
                                                                 "model_path": "/m.onnx"}
    with pytest.raises(ParameterError, match=r"params file .*missing.yaml: cannot be read"):
        node_parameters(str(tmp_path / "missing.yaml"), "", False)


def test_both_node_executables_are_installed_console_scripts():
    scripts = {ep.name for ep in metadata.distribution("sgnet_ros").entry_points
               if ep.group == "console_scripts"}
    assert {node_executable(False), node_executable(True)} <= scripts
    assert node_executable(True) != node_executable(False)


def test_rviz_is_looked_up_in_the_ament_index(tmp_path, monkeypatch):
    monkeypatch.setenv("AMENT_PREFIX_PATH", str(tmp_path))
    assert "rviz2 is not installed" in rviz_problem()
    marker = tmp_path / "share" / "ament_index" / "resource_index" / "packages" / "rviz2"
    marker.parent.mkdir(parents=True)
    marker.touch()
    assert rviz_problem() is None


def test_a_broken_params_file_stops_the_launch_with_the_parser_position(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("sgnet_segmentation:\n  ros__parameters:\n    sync.slop: [0.1\n")
    with pytest.raises(ParameterError) as refusal:
        node_parameters(str(broken), "", False)
    assert str(refusal.value).startswith(f"params file {broken} is not valid YAML: line 4, ")
    assert "\n" not in str(refusal.value)


def test_launch_booleans():
    assert parse_bool("True") and parse_bool("1") and not parse_bool("false")
    with pytest.raises(ValueError, match="'maybe'"):
        parse_bool("maybe")


def test_package_installs_launch_config_and_models():
    setup = (ROOT / "setup.py").read_text()
    for folder in ("launch", "config", "models"):
        assert f'share/{{PACKAGE}}/{folder}' in setup
    assert (ROOT / "resource" / "sgnet_ros").is_file()
    package_xml = (ROOT / "package.xml").read_text()
    assert '<package format="3">' in package_xml and "ament_python" in package_xml
