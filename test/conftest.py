"""Shared fixtures. ROS isolation is applied before any test can start rclpy."""

from __future__ import annotations

from pathlib import Path

import pytest

from sgnet_ros.ros.environment import isolate_this_process
from sgnet_ros.ros.shm_cleanup import clean, wait_until_judgeable, zombie_names

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"

# Every ROS process of the suite (this one and its children) stays on loopback, in a
# domain of its own, so parallel runs on one machine never hear each other.
isolate_this_process()
# Tests SIGKILL nodes on purpose: what their Fast DDS shared memory left is removed at the end.
ZOMBIES_BEFORE = zombie_names()


def pytest_terminal_summary(terminalreporter) -> None:
    """One line: zombie Fast DDS segments/ports removed, and how many this session left."""
    wait_until_judgeable()
    terminalreporter.write_line(clean(present_before=ZOMBIES_BEFORE).line())


@pytest.fixture(scope="session")
def default_model() -> Path:
    """The bundled default model, as users get it."""
    path = ROOT / "models" / "sgnet_small_synthetic_hha.onnx"
    assert path.is_file(), f"the bundled model {path} is missing"
    return path


@pytest.fixture(scope="session")
def sample_bag() -> Path:
    """The bundled sample bag (rgb + depth + camera_info + ground truth, 640x480)."""
    path = ROOT / "sgnet_ros" / "data" / "sample_rgbd"
    assert (path / "metadata.yaml").is_file(), f"the sample bag {path} is missing"
    return path
