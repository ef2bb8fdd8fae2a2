"""sgnet-replay on the bundled bag: direct mode in-process, ros mode across real processes."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from sgnet_ros.bags import replay
from sgnet_ros.bags.io import DEFAULT_TOPICS, bag_topics, read_messages
from sgnet_ros.ros.messages import stamp_ns


def input_headers(bag):
    """stamp -> frame_id of the bag's colour images, and the camera size."""
    headers, size = {}, None
    for message in read_messages(bag, [DEFAULT_TOPICS.rgb]):
        msg = message.decode()
        headers[stamp_ns(msg.header)] = msg.header.frame_id
        size = (msg.height, msg.width)
    return headers, size


def check_output_bag(out_bag, sample_bag, namespace="/camera"):
    """Every output topic present; stamps, frame_ids and sizes those of the inputs."""
    headers, (height, width) = input_headers(sample_bag)
    topics = bag_topics(out_bag)
    for relative in ("segmentation/image", "segmentation/color", "segmentation/camera_info",
                     "points", "points/floor", "points/wall"):
        assert f"{namespace}/{relative}" in topics, f"{relative} missing from {sorted(topics)}"
    label_topic = f"{namespace}/segmentation/image"
    published = 0
    for message in read_messages(out_bag, [label_topic, f"{namespace}/points"]):
        msg = message.decode()
        stamp = stamp_ns(msg.header)
        assert stamp in headers, f"output stamp {stamp} is not an input stamp"
        assert msg.header.frame_id == headers[stamp]
        assert (msg.height, msg.width) == (height, width)
        if message.topic == label_topic:
            assert msg.encoding == "mono8"
            labels = np.frombuffer(msg.data, np.uint8)
            assert labels.max() < 40 or labels.max() == 255
            published += 1
    return published, len(headers)


def test_direct_replay_processes_every_frame_deterministically_with_miou(sample_bag, tmp_path):
    out = tmp_path / "direct_bag"
    assert replay.main([str(sample_bag), "--out", str(out), "--preview-every", "20"]) == 0
    published, frames = check_output_bag(out, sample_bag)
    assert published == frames >= 30
    report = json.loads((tmp_path / "direct_bag_report" / "report.json").read_text())
    assert report["frames_in"] == report["synced"] == report["published"] == frames
    assert report["processed"] == frames
    assert report["dropped"] == {}
    assert set(report["stage_ms"]) == {"spatial", "inference", "outputs"}
    assert 0.0 < report["accuracy"]["miou"] <= 1.0
    assert "floor" in report["accuracy"]["per_class_iou"]
    previews = sorted((tmp_path / "direct_bag_report" / "previews").glob("*.png"))
    assert len(previews) == len(range(0, frames, 20))


@pytest.mark.ros
def test_ros_replay_plays_the_bag_through_a_live_node_and_records_every_output(sample_bag,
                                                                              tmp_path):
    out = tmp_path / "ros_bag"
    result = subprocess.run(
        [sys.executable, "-m", "sgnet_ros.bags.replay", str(sample_bag), "--out", str(out),
         "--mode", "ros", "--preview-every", "3"],
        capture_output=True, text=True, timeout=300, env=dict(os.environ))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "frames in 45 / received" in result.stdout
    assert "latency stamp->publish: p50" in result.stdout
    published, frames = check_output_bag(out, sample_bag)
    report = json.loads((tmp_path / "ros_bag_report" / "report.json").read_text())
    assert report["frames_in"] == frames >= 30
    assert report["published"] == published > 0
    assert 0 < report["received"] <= frames
    assert report["published"] <= report["processed"]
    # Every frame the node received was processed, dropped for a reason, or still waiting.
    assert report["processed"] + sum(report["dropped"].values()) + report["pending_at_end"] \
        == report["received"], report
    latency = report["latency_ms"]
    assert 0 < latency["p50"] <= latency["p95"] <= latency["max"] < 10_000
    assert list((tmp_path / "ros_bag_report" / "previews").glob("*.png"))
    node_log = (tmp_path / "ros_bag_report" / "node.log").read_text()
    assert "summary:" in node_log and "Traceback" not in node_log
