"""Each way of installing the package gives a prefix that `ros2 launch`/`ros2 run` accept.

The editable pip install (tools/env.sh), a wheel install (`pip install .`) and `colcon build`
in a workspace must all hold the ament index marker, share/sgnet_ros/{package.xml, launch,
config, models} and lib/sgnet_ros/<every executable>; the last two are then launched for
real with the bundled bag.
"""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from ros_cli import (
    BIN,
    COLCON,
    PREFIX,
    ROOT,
    Launch,
    Listener,
    copy_sources,
    play_sample_bag,
    requires_ros_tools,
    ros2,
    ros_environment,
    stop_everything,
)

PACKAGE_FILES = ("package.xml", "launch/segment.launch.py", "config/sgnet.yaml",
                 "config/sgnet.rviz", "models/sgnet_small_synthetic_hha.onnx")


def console_scripts() -> set[str]:
    return {ep.name for ep in metadata.distribution("sgnet_ros").entry_points
            if ep.group == "console_scripts"}


def write_prefix(prefix: Path, scripts: Path, env: dict[str, str] | None = None) -> None:
    """The installed `sgnet-ament-prefix`, as a user runs it after pip."""
    subprocess.run([str(scripts / "sgnet-ament-prefix"), "--prefix", str(prefix),
                    "--scripts", str(scripts)], check=True, env=env, capture_output=True,
                   cwd=prefix)


def assert_ros_prefix(prefix: Path, scripts: Path) -> None:
    """What colcon installs for an ament_python package, checked file by file."""
    assert (prefix / "share/ament_index/resource_index/packages/sgnet_ros").is_file()
    share = prefix / "share" / "sgnet_ros"
    for name in PACKAGE_FILES:
        assert (share / name).is_file(), name
    assert not (share / "launch").is_symlink()  # `ros2 launch` finds files with os.walk
    lib = prefix / "lib" / "sgnet_ros"
    assert {path.name for path in lib.iterdir()} == console_scripts()
    for path in lib.iterdir():
        assert path.resolve() == (scripts / path.name).resolve(), path
        assert os.access(path, os.X_OK), path


def share_directory(prefix: Path) -> str:
    """What ament_index_python answers for sgnet_ros with only `prefix` on the path."""
    env = dict(os.environ, AMENT_PREFIX_PATH=str(prefix))
    return subprocess.run(
        [sys.executable, "-c", "from ament_index_python.packages import "
         "get_package_share_directory as d; print(d('sgnet_ros'))"],
        env=env, capture_output=True, text=True, check=True).stdout.strip()


def test_editable_install_links_the_checkout_into_a_colcon_layout(tmp_path):
    prefix = tmp_path / "venv"
    (prefix / "bin").mkdir(parents=True)
    (prefix / "bin" / "activate").write_text('VIRTUAL_ENV="somewhere"\n')
    write_prefix(prefix, BIN)
    write_prefix(prefix, BIN)  # idempotent
    assert_ros_prefix(prefix, BIN)
    share = prefix / "share" / "sgnet_ros"
    for name in PACKAGE_FILES:  # links: an edit in the checkout counts at once
        assert (share / name).resolve() == ROOT / name
    assert share_directory(prefix) == str(share)
    activate = prefix / "bin" / "activate"
    sourced = subprocess.run(
        ["bash", "-c", f'source {activate}; source {activate}; echo "$AMENT_PREFIX_PATH"'],
        env=dict(os.environ, AMENT_PREFIX_PATH="/opt/ros/kilted"), capture_output=True,
        text=True, check=True).stdout.strip()
    assert sourced == f"{prefix}:/opt/ros/kilted"


def test_the_venv_of_tools_env_sh_is_a_ros_prefix():
    assert_ros_prefix(PREFIX, BIN)
    activated = subprocess.run(
        ["bash", "-c", f'source {BIN}/activate && echo "$AMENT_PREFIX_PATH"'],
        env={k: v for k, v in os.environ.items() if k != "AMENT_PREFIX_PATH"},
        capture_output=True, text=True, check=True).stdout.strip()
    assert activated == str(PREFIX)


@pytest.mark.ros
@requires_ros_tools
def test_ros2_run_starts_the_node_of_the_venv(tmp_path):
    """`ros2 run` finds lib/sgnet_ros/segmentation_node; the node refuses a missing model."""
    missing = tmp_path / "missing.onnx"
    result = ros2("run", "sgnet_ros", "segmentation_node", "--ros-args", "-p",
                  f"model_path:={missing}", timeout=120)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "cannot start" in result.stdout + result.stderr
    assert str(missing) in result.stdout + result.stderr


@pytest.fixture(scope="module")
def wheel_prefix(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """`pip install .` (a wheel, not editable) into a fresh folder, then sgnet-ament-prefix.

    `--target` rather than `--prefix`: pip would uninstall this venv's own sgnet_ros first.
    The folder gets bin/, share/ and the packages, as a prefix would.
    """
    work = tmp_path_factory.mktemp("wheel")
    source = copy_sources(work / "src")
    prefix = work / "prefix"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-build-isolation", "--target", str(prefix), str(source)],
                   check=True, capture_output=True)
    env = dict(os.environ, PYTHONPATH=str(prefix))
    write_prefix(prefix, prefix / "bin", env)
    return prefix, env


def test_wheel_install_keeps_its_files_and_gains_lib(wheel_prefix):
    prefix, _ = wheel_prefix
    assert_ros_prefix(prefix, prefix / "bin")
    share = prefix / "share" / "sgnet_ros"
    for name in PACKAGE_FILES:  # the copies pip wrote from data_files, not links
        assert not (share / name).is_symlink(), name
    assert share_directory(prefix) == str(share)


@pytest.mark.ros
@requires_ros_tools
def test_ros2_launch_runs_the_node_of_a_wheel_install(wheel_prefix, tmp_path):
    prefix, env = wheel_prefix
    env = ros_environment(prefix) | {"PYTHONPATH": env["PYTHONPATH"]}
    executables = ros2("pkg", "executables", "sgnet_ros", env=env).stdout
    assert "sgnet_ros segmentation_node" in executables
    assert "sgnet_ros segmentation_lifecycle_node" in executables
    launch = Launch(log=tmp_path / "launch.log", env=env)
    try:
        assert launch.wait_for_output("ready in"), launch.output()
        command = " ".join(p for c in launch.remember_children() for p in c.cmdline())
        assert f"{prefix}/lib/sgnet_ros/segmentation_node" in command
        assert f"{prefix}/share/sgnet_ros/config/sgnet.yaml" in command
        code, survivors = launch.interrupt()
        assert code == 0 and survivors == [], launch.output()
    finally:
        launch.kill()


@pytest.mark.ros
@requires_ros_tools
def test_colcon_build_then_ros2_launch_segments_the_bag(tmp_path):
    """The robot's path: colcon build in a workspace, source install/setup.bash, launch."""
    from sensor_msgs.msg import Image

    workspace = tmp_path / "ws"
    copy_sources(workspace / "src" / "sgnet_ros")
    built = subprocess.run([COLCON, "build", "--packages-select", "sgnet_ros"],
                           cwd=workspace, env=ros_environment(), capture_output=True, text=True,
                           timeout=600)
    assert built.returncode == 0, built.stdout + built.stderr
    install = workspace / "install" / "sgnet_ros"
    assert (install / "lib" / "sgnet_ros" / "segmentation_node").is_file()
    listener = Listener("colcon")
    listener.subscribe("/camera/segmentation/image", Image)
    launch = Launch(log=tmp_path / "launch.log", command=[
        "bash", "-c", f"source {workspace}/install/setup.bash && "
                      "exec ros2 launch sgnet_ros segment.launch.py"])
    player = None
    try:
        assert launch.wait_for_output("ready in"), launch.output()
        node = next(c for c in launch.remember_children()
                    if f"{install}/lib/sgnet_ros/segmentation_node" in c.cmdline())
        assert str(install) in node.environ()["PYTHONPATH"]
        assert f"{install}/share/sgnet_ros/config/sgnet.yaml" in node.cmdline()
        player = play_sample_bag(log=tmp_path / "player.log")
        assert listener.wait_for(lambda: len(listener.messages("/camera/segmentation/image")),
                                 timeout=120), launch.output()
        code, survivors = launch.interrupt()
        assert code == 0 and survivors == [], launch.output()
    finally:
        stop_everything(listener, player, launch)
