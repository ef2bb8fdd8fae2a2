"""The managed node (`lifecycle:=true`) driven through its states with `ros2 lifecycle set`.

configure loads the model and warms up, activate opens the topics, deactivate closes them
and keeps the model, cleanup releases it, shutdown finalizes; the bag plays throughout.
"""

from __future__ import annotations

import re
import time

import pytest
import yaml
from ros_cli import (
    ROOT,
    Launch,
    Listener,
    play_sample_bag,
    requires_ros_tools,
    ros2,
    stop_everything,
)

from sgnet_ros.ros.parameters import NODE_NAME

pytestmark = [pytest.mark.ros, requires_ros_tools]
NODE = f"/camera/{NODE_NAME}"
LABELS = "/camera/segmentation/image"
RGB_IN = "/camera/rgb/image_rect_color"


def lifecycle(*args: str) -> str:
    """`ros2 lifecycle <args>` on the node; retried while discovery has not found it yet."""
    deadline = time.monotonic() + 60
    while True:
        result = ros2("lifecycle", *args, "--no-daemon", "--spin-time", "1")
        if "Node not found" not in result.stdout + result.stderr or time.monotonic() > deadline:
            return result.stdout + result.stderr


def transition(listener: Listener, name: str, goal: str) -> None:
    """`ros2 lifecycle set`, then the node's own transition_event must name the new state."""
    output = lifecycle("set", NODE, name)
    assert "Transitioning successful" in output, output
    events = lambda: listener.messages(f"{NODE}/transition_event")  # noqa: E731
    assert listener.wait_for(lambda: events() and events()[-1].goal_state.label == goal,
                             timeout=10), [e.goal_state.label for e in events()]


def test_lifecycle_transitions_from_ros2_lifecycle_set(tmp_path):
    from lifecycle_msgs.msg import TransitionEvent
    from sensor_msgs.msg import Image

    listener = Listener("lifecycle")
    listener.subscribe(LABELS, Image)
    listener.subscribe(f"{NODE}/transition_event", TransitionEvent)
    launch = Launch("lifecycle:=true", log=tmp_path / "launch.log")
    player = None
    try:
        labels = lambda: len(listener.messages(LABELS))  # noqa: E731
        publishing = lambda: listener.node.count_publishers(LABELS) > 0  # noqa: E731
        subscribed = lambda: listener.node.count_subscribers(RGB_IN) > 0  # noqa: E731
        assert launch.wait_for_output("unconfigured"), launch.output()
        assert lifecycle("get", NODE).startswith("unconfigured [1]")
        assert "configured in" not in launch.output()  # no model before configure
        assert not publishing() and not subscribed()

        transition(listener, "configure", "inactive")
        assert "configured in" in launch.output() and "warm-up" in launch.output()
        assert not publishing() and not subscribed()

        player = play_sample_bag(loops=60, log=tmp_path / "player.log")
        transition(listener, "activate", "active")
        assert listener.wait_for(lambda: labels() >= 3, timeout=90), launch.output()

        transition(listener, "deactivate", "inactive")
        assert listener.wait_for(lambda: not publishing() and not subscribed(), timeout=30)
        assert "model released" not in launch.output()

        before = labels()
        transition(listener, "activate", "active")  # again, without loading the model again
        assert listener.wait_for(lambda: labels() >= before + 3, timeout=90), launch.output()
        assert launch.output().count("configured in") == 1
        assert launch.output().count("warm-up (2 frames") == 1

        transition(listener, "deactivate", "inactive")
        transition(listener, "cleanup", "unconfigured")
        assert "model released" in launch.output()
        transition(listener, "shutdown", "finalized")
        assert lifecycle("get", NODE).startswith("finalized [4]")
        assert not publishing() and not subscribed()

        code, survivors = launch.interrupt()  # the node must end on SIGINT itself, even idle
        assert code == 0 and survivors == [], launch.output()
        assert re.search(r"process has finished cleanly \[pid \d+\]", launch.output()), \
            launch.output()
    finally:
        stop_everything(listener, player, launch)


def test_configure_refuses_a_bad_parameter_and_the_node_lives_on(tmp_path):
    params = yaml.safe_load((ROOT / "config" / "sgnet.yaml").read_text())
    params["/**"]["ros__parameters"]["sync.slop"] = 5.0  # allowed: 0.0 .. 1.0
    params_file = tmp_path / "params.yaml"
    params_file.write_text(yaml.safe_dump(params))
    launch = Launch("lifecycle:=true", f"params_file:={params_file}", log=tmp_path / "launch.log")
    try:
        assert launch.wait_for_output("unconfigured"), launch.output()
        output = lifecycle("set", NODE, "configure")
        assert "Transitioning failed" in output, output
        assert lifecycle("get", NODE).startswith("unconfigured [1]")
        assert re.search(r"cannot configure: .*sync\.slop.*5\.0", launch.output()), \
            launch.output()
        code, survivors = launch.interrupt()
        assert code == 0 and survivors == [], launch.output()
        assert "process has finished cleanly" in launch.output()
    finally:
        launch.kill()
