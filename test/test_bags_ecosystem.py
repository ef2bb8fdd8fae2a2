"""Bags as robots record them and as Foxglove reads them.

A RealSense-style bag (jpeg `compressed` colour, png `compressedDepth` depth, on
realsense2_camera's names) segments in both replay modes like its raw twin; every bag the
tools write decodes message by message with Foxglove's own readers (`mcap`,
`mcap-ros2-support`) with no extra step; topics and QoS are what a ROS 2 user expects.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from mcap.reader import make_reader
from mcap_ros2.decoder import DecoderFactory

from sgnet_ros.bags.compare import label_agreement
from sgnet_ros.bags.io import (
    DEFAULT_TOPICS,
    REALSENSE_COMPRESSED_TOPICS,
    BagWriter,
    bag_topics,
    read_messages,
)
from sgnet_ros.ros.children import stop_child

ROOT = Path(__file__).resolve().parent.parent
TWIN = ROOT / "sgnet_ros" / "data" / "sample_rgbd_realsense_compressed"
TWIN_FLAGS = ["--rgb-topic", REALSENSE_COMPRESSED_TOPICS.rgb,
              "--depth-topic", REALSENSE_COMPRESSED_TOPICS.depth,
              "--info-topic", REALSENSE_COMPRESSED_TOPICS.camera_info]
NS = "/camera"


def replay(bag: Path, out: Path, *flags: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sgnet_ros.bags.replay", str(bag), "--out",
                           str(out), "--params-file", str(ROOT / "config" / "sgnet.yaml"),
                           *flags], capture_output=True, text=True, timeout=timeout)


def foxglove_read(bag: Path) -> dict[str, int]:
    """topic -> messages decoded by Foxglove's readers; checks chunk compression on the way."""
    (mcap_file,) = bag.glob("*.mcap")
    counts: dict[str, int] = {}
    with open(mcap_file, "rb") as stream:
        reader = make_reader(stream, decoder_factories=[DecoderFactory()])
        summary = reader.get_summary()
        assert summary is not None and summary.chunk_indexes, f"{mcap_file} has no index"
        assert {c.compression for c in summary.chunk_indexes} == {"zstd"}
        for _schema, channel, _message, decoded in reader.iter_decoded_messages():
            assert decoded is not None
            counts[channel.topic] = counts.get(channel.topic, 0) + 1
    metadata = yaml.safe_load((bag / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert metadata["compression_mode"] == "" and metadata["storage_identifier"] == "mcap"
    return counts


def offered_durability(bag: Path) -> dict[str, str]:
    metadata = yaml.safe_load((bag / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    return {entry["topic_metadata"]["name"]:
            entry["topic_metadata"]["offered_qos_profiles"][0]["durability"]
            for entry in metadata["topics_with_message_count"]}


@pytest.fixture(scope="module")
def raw_twin(sample_bag, tmp_path_factory) -> Path:
    """The raw sample cut to the compressed twin's frames (same stamps)."""
    stamps = {m.timestamp_ns for m in read_messages(TWIN, [REALSENSE_COMPRESSED_TOPICS.rgb])}
    path = tmp_path_factory.mktemp("raw") / "raw_twin"
    with BagWriter(path) as writer:
        for message in read_messages(sample_bag):
            if message.timestamp_ns in stamps:
                writer.write_raw(message.topic, message.msgtype, message.timestamp_ns,
                                 message.data)
    return path


@pytest.fixture(scope="module")
def outputs(raw_twin, tmp_path_factory) -> dict[str, Path]:
    """Direct replays of the raw and compressed twins, a ros-mode replay of the compressed."""
    root = tmp_path_factory.mktemp("outputs")
    runs = {"raw_direct": (raw_twin, []), "compressed_direct": (TWIN, TWIN_FLAGS),
            "compressed_ros": (TWIN, [*TWIN_FLAGS, "--mode", "ros", "--rate", "0.5"])}
    for name, (bag, flags) in runs.items():
        result = replay(bag, root / name, *flags)
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    return {name: root / name for name in runs}


def test_bundled_bags_open_with_foxglove_readers(sample_bag):
    assert foxglove_read(sample_bag)[DEFAULT_TOPICS.rgb] == 45
    counts = foxglove_read(TWIN)
    assert counts[REALSENSE_COMPRESSED_TOPICS.rgb] == counts[REALSENSE_COMPRESSED_TOPICS.depth]
    assert bag_topics(TWIN)[REALSENSE_COMPRESSED_TOPICS.depth][0] == \
        "sensor_msgs/msg/CompressedImage"


def test_compressed_twin_segments_like_its_raw_twin_in_both_modes(outputs):
    direct = label_agreement(outputs["raw_direct"], outputs["compressed_direct"])
    live = label_agreement(outputs["raw_direct"], outputs["compressed_ros"])
    print(f"compressed vs raw, direct: {direct}; ros: {live}")
    assert direct.frames == 15 and live.frames >= 1
    for agreement in (direct, live):  # jpeg q90 moves a few boundary pixels only
        assert agreement.miou > 0.9 and agreement.pixel_agreement > 0.98, agreement


def test_output_bags_open_with_foxglove_readers_and_both_modes_write_the_same_topics(outputs):
    topics = {name: foxglove_read(path) for name, path in outputs.items()}
    assert set(topics["compressed_direct"]) == set(topics["compressed_ros"])
    for counts in topics.values():
        assert counts[f"{NS}/segmentation/label_info"] == 1
        assert counts[f"{NS}/segmentation/image"] >= 1


def test_label_info_is_recorded_latched_and_frames_volatile(outputs):
    for path in outputs.values():
        durability = offered_durability(path)
        assert durability.pop(f"{NS}/segmentation/label_info") == "transient_local"
        assert set(durability.values()) == {"volatile"}


def test_ros_mode_reports_no_recorder_loss(outputs):
    report = json.loads((outputs["compressed_ros"].parent / "compressed_ros_report"
                         / "report.json").read_text())
    assert report["recorder_loss"] == {}, report
    counts = foxglove_read(outputs["compressed_ros"])
    assert counts[f"{NS}/segmentation/image"] == report["processed"]
    assert counts[f"{NS}/points"] == report["processed"]


def test_default_topics_missing_are_refused_with_the_flags_to_pass(tmp_path):
    out = tmp_path / "out"
    result = replay(TWIN, out)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "has no topic /camera/rgb/image_rect_color" in lines[0]
    assert ("try --rgb-topic /camera/camera/color/image_raw/compressed --depth-topic "
            "/camera/camera/aligned_depth_to_color/image_raw/compressedDepth --info-topic "
            "/camera/camera/color/camera_info") in lines[0]
    assert not out.exists()


def test_a_topic_of_an_unusable_type_is_named_with_its_type(tmp_path):
    out = tmp_path / "out"
    result = replay(TWIN, out, "--rgb-topic", REALSENSE_COMPRESSED_TOPICS.camera_info,
                    "--depth-topic", REALSENSE_COMPRESSED_TOPICS.depth,
                    "--info-topic", REALSENSE_COMPRESSED_TOPICS.camera_info, "--mode", "ros")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"sgnet-replay: {TWIN}: topic /camera/camera/color/camera_info is "
        "sensor_msgs/msg/CameraInfo, which this tool cannot use here (expected "
        "sensor_msgs/msg/Image or sensor_msgs/msg/CompressedImage)")
    assert not out.exists()


def test_sgnet_play_offers_the_recorded_qos_so_label_info_reaches_a_late_subscriber(outputs):
    import rclpy
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
    from std_msgs.msg import String

    player = subprocess.Popen([sys.executable, "-m", "sgnet_ros.bags.player",
                               str(outputs["compressed_direct"]), "--rate", "0.02", "--wait", "0"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if not rclpy.ok():
        rclpy.init()
    node = rclpy.create_node("late_label_info_subscriber")
    try:
        started = next((line for line in player.stdout if line.startswith("{")), None)
        assert started, "the player never started playing"  # its first JSON line
        time.sleep(2.0)  # label_info went out before anyone listened
        received = []
        latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        node.create_subscription(String, f"{NS}/segmentation/label_info",
                                 lambda msg: received.append(msg.data), latched)
        deadline = time.monotonic() + 15
        while not received and time.monotonic() < deadline:
            rclpy.spin_once(node, timeout_sec=0.1)
        assert received, "a late subscriber got no label_info from sgnet-play"
        assert json.loads(received[0])["classes"][0]["cloud_topic"] == "points/wall"
    finally:
        node.destroy_node()
        stop_child(player)
