"""segmentation/label_info as vision_msgs/LabelInfo, and its JSON fallback, over rclpy.

tools/test.sh makes vision_msgs importable (tools/build_test_interfaces.sh). A machine
without it is reproduced by putting a `vision_msgs` that fails to import first on the node
process's PYTHONPATH.
"""

import json
import os

import pytest
from ros_harness import LATCHED, Harness, start_node

pytestmark = pytest.mark.ros
vision_msgs = pytest.importorskip(
    "vision_msgs.msg", reason="vision_msgs is not importable: tools/test.sh builds it")


@pytest.fixture
def harness():
    harness = Harness()
    yield harness
    harness.close()


@pytest.fixture
def without_vision_msgs(tmp_path) -> dict[str, str]:
    """An environment whose Python cannot import vision_msgs, as on a bare ROS install."""
    package = tmp_path / "vision_msgs"
    package.mkdir()
    (package / "__init__.py").write_text("raise ImportError('vision_msgs hidden by the test')\n")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tmp_path), env.get("PYTHONPATH")]))
    return env


def latched_label_info(harness, cls, node) -> object:
    """The label_info a subscriber created after the node is ready receives."""
    try:
        assert harness.wait_for(lambda: any("ready in" in log for log in harness.logs),
                                timeout=90), "the node never became ready"
        harness.subscribe("segmentation/label_info", cls, LATCHED)
        assert harness.wait_for(lambda: harness.messages("segmentation/label_info"), timeout=15)
        return harness.messages("segmentation/label_info")[0]
    finally:
        node.terminate()
        node.communicate(timeout=20)


def test_auto_publishes_vision_msgs_label_info_where_vision_msgs_is_installed(harness):
    node = start_node()
    info = latched_label_info(harness, vision_msgs.LabelInfo, node)
    ids = [c.class_id for c in info.class_map]
    names = [c.class_name for c in info.class_map]
    assert ids == [*range(40), 255]
    assert names[:3] == ["wall", "floor", "cabinet"] and names[-1] == "unlabeled"
    assert info.threshold == 0.0
    assert info.header.stamp.sec > 0


def test_auto_falls_back_to_json_where_vision_msgs_is_missing(harness, without_vision_msgs):
    palette = [[i, 2 * i, 255 - i] for i in range(40)]  # overrides the model's NYU40 colours
    flat = ", ".join(str(value) for colour in palette for value in colour)
    node = start_node("-p", f"palette:=[{flat}]", env=without_vision_msgs)
    info = json.loads(latched_label_info(harness, harness.msgs.string, node).data)
    assert info["unlabeled"] == 255
    assert [c["name"] for c in info["classes"]][:2] == ["wall", "floor"]
    assert [c["color"] for c in info["classes"]] == palette


def test_asking_for_vision_msgs_without_it_stops_start_up_with_one_clear_line(
        without_vision_msgs):
    node = start_node("-p", "label_info_format:=vision_msgs", env=without_vision_msgs)
    output, _ = node.communicate(timeout=120)
    assert node.returncode == 2
    assert "'label_info_format' is 'vision_msgs' but vision_msgs is not importable" in output
    assert "Traceback" not in output
