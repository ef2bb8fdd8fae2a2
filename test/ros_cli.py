"""The real `ros2` command and `ros2 launch` against the installed package, from a test.

Every process runs in the suite's own loopback domain (conftest.py) with AMENT_PREFIX_PATH
naming this venv, the prefix `sgnet-ament-prefix` completed, as after `source
.venv/bin/activate`.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from rclpy.qos import QoSProfile, ReliabilityPolicy
from ros_harness import SpinningNode

from sgnet_ros.ros.children import stop_child
from sgnet_ros.ros.shm_cleanup import clean as clean_shared_memory

ROOT = Path(__file__).resolve().parent.parent
PREFIX = Path(sys.prefix)
BIN = PREFIX / "bin"
SAMPLE_BAG = ROOT / "sgnet_ros" / "data" / "sample_rgbd"
RELIABLE = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
# This venv's tools first, then a system ROS's (sourced before the venv was made).
SEARCH_PATH = f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"
ROS2 = shutil.which("ros2", path=SEARCH_PATH) or str(BIN / "ros2")
COLCON = shutil.which("colcon", path=SEARCH_PATH) or str(BIN / "colcon")
# ros2 launch escalates to SIGTERM and SIGKILL itself after 5 + 5 s.
STOP_TIMEOUT_S = 20.0
# The bag's camera topics (it also holds ground-truth labels, which no node subscribes to).
BAG_INPUTS = ("/camera/rgb/image_rect_color", "/camera/depth_registered/image_rect",
              "/camera/rgb/camera_info")


def tools_missing() -> str | None:
    """Why the ROS 2 tools cannot run here, or None."""
    wanted = ("ros2cli", "launch_ros", "ros2launch", "ros2lifecycle", "composition_interfaces")
    absent = [name for name in wanted if importlib.util.find_spec(name) is None]
    if absent or not Path(ROS2).is_file():
        return (f"the ROS 2 launch and command line tools are not installed ({', '.join(absent)}"
                " missing): tools/install_ros_tools.sh installs them from "
                "../shared/vendor/ros2, which is absent here")
    return None


requires_ros_tools = pytest.mark.skipif(tools_missing() is not None,
                                        reason=str(tools_missing()))


def ros_environment(prefix: Path = PREFIX) -> dict[str, str]:
    """This process's (isolated) environment, with `prefix` on AMENT_PREFIX_PATH."""
    env = dict(os.environ)
    env["AMENT_PREFIX_PATH"] = os.pathsep.join(
        [str(prefix)] + [p for p in env.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p])
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def ros2(*args: str, timeout: float = 60.0, env: dict[str, str] | None = None
         ) -> subprocess.CompletedProcess:
    """`ros2 <args>` to completion, stdout and stderr together."""
    return subprocess.run([ROS2, *args], capture_output=True, text=True,
                          timeout=timeout, env=env or ros_environment(), stdin=subprocess.DEVNULL)


class Launch:
    """`ros2 launch sgnet_ros segment.launch.py <arguments>` in its own session."""

    def __init__(self, *arguments: str, log: Path, command: list[str] | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.log = log
        self._file = log.open("w")
        self.process = subprocess.Popen(
            command or [ROS2, "launch", "sgnet_ros", "segment.launch.py",
                        *arguments],
            stdout=self._file, stderr=subprocess.STDOUT, env=env or ros_environment(),
            start_new_session=True, stdin=subprocess.DEVNULL)
        self.seen: dict[int, psutil.Process] = {}

    def output(self) -> str:
        return self.log.read_text()

    def remember_children(self) -> list[psutil.Process]:
        """Every process the launch started so far (kept to check none survives it)."""
        children = psutil.Process(self.process.pid).children(recursive=True)
        self.seen.update({child.pid: child for child in children})
        return children

    def wait_for_output(self, text: str, timeout: float = 90.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.output():
                return True
            if self.process.poll() is not None:
                return text in self.output()
            time.sleep(0.2)
        return False

    def session(self) -> list[psutil.Process]:
        """Every live process of the launch's session: it, what it started, and orphans."""
        members = []
        for process in psutil.process_iter():
            try:
                if os.getsid(process.pid) == self.process.pid and \
                        process.status() != psutil.STATUS_ZOMBIE:
                    members.append(process)
            except (ProcessLookupError, psutil.Error):
                continue
        return members

    def interrupt(self, timeout: float = 30.0) -> tuple[int, list[psutil.Process]]:
        """SIGINT to `ros2 launch` as Ctrl-C gives it: its exit code and the survivors."""
        if self.process.poll() is None:
            self.remember_children()
            self.process.send_signal(signal.SIGINT)
        code = self.process.wait(timeout=timeout)
        self._file.close()
        survivors = {p.pid: p for p in self.seen.values() if p.is_running()
                     and p.status() != psutil.STATUS_ZOMBIE}
        survivors.update({p.pid: p for p in self.session()})
        return code, list(survivors.values())

    def kill(self) -> None:
        """Clean-up after a test: Ctrl-C first (a SIGKILLed node leaves its Fast DDS shared
        memory behind), then SIGKILL to whatever of the launch's session survives."""
        if self.process.poll() is None:
            self.remember_children()
            self.process.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=STOP_TIMEOUT_S)
        for process in [*self.seen.values(), *self.session()]:
            try:
                process.kill()
            except psutil.NoSuchProcess:
                continue
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self._file.close()


def play_sample_bag(remaps: dict[str, str] | None = None, loops: int = 1,
                    log: Path | None = None) -> subprocess.Popen:
    """`sgnet-play` the bundled bag's camera topics (once the node subscribes to them)."""
    remap_args = [f"{source}:={target}" for source, target in (remaps or {}).items()]
    command = [str(BIN / "sgnet-play"), str(SAMPLE_BAG), "--topics", *BAG_INPUTS,
               "--wait", "90", "--loops", str(loops)]
    if remap_args:
        command += ["--remap", *remap_args]
    return subprocess.Popen(command, stdout=log.open("w") if log else subprocess.DEVNULL,
                            stderr=subprocess.STDOUT, env=ros_environment(),
                            stdin=subprocess.DEVNULL)


class Listener(SpinningNode):
    """Keeps messages of absolute topics, in this process, on a spinning thread."""

    default_timeout = 60.0

    def __init__(self, name: str = "listener") -> None:
        super().__init__(f"sgnet_test_{name}")

    def subscribe(self, topic: str, cls, qos: QoSProfile = RELIABLE) -> None:
        self._keep(topic, cls, qos)

    def messages(self, topic: str) -> list:
        return self._kept(topic)


def stop_everything(listener: Listener, player: subprocess.Popen | None, launch: Launch) -> None:
    """A test's teardown: the listener, the bag player (if started), the launch."""
    listener.close()
    if player is not None:
        stop_child(player)
    launch.kill()
    clean_shared_memory()  # what a process that had to be killed left behind


def copy_sources(destination: Path) -> Path:
    """The project's tracked files, as a fresh clone has them (no .venv, no build output)."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True)
    if listed.returncode != 0:  # not a git checkout: everything but what tools create
        shutil.copytree(ROOT, destination, ignore=shutil.ignore_patterns(
            ".venv", "build", "install", "log", "out", "*.egg-info", "__pycache__", ".git"))
        return destination
    for name in filter(None, listed.stdout.decode().split("\0")):
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    return destination
