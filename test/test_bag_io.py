"""rosbag2 writing and reading without ROS: a round trip of RGB-D frames."""

import numpy as np
import pytest

from sgnet_ros.bags.io import DEFAULT_TOPICS, RGBDFrame, bag_topics, read_messages, write_rgbd_bag
from sgnet_ros.ros.messages import camera_intrinsics, decode_color, decode_depth, stamp_ns


def test_frames_round_trip_through_a_bag(tmp_path):
    rng = np.random.default_rng(3)
    K = np.array([[300.0, 0, 79.5], [0, 301.0, 59.5], [0, 0, 1]])
    frames = [RGBDFrame(stamp_ns=1_000_000_000 * (i + 1) + 7, K=K,
                        rgb=rng.integers(0, 256, (120, 160, 3), dtype=np.uint8),
                        depth_m=rng.uniform(0.3, 5.0, (120, 160)).astype(np.float32),
                        labels=rng.integers(0, 40, (120, 160), dtype=np.uint8))
              for i in range(3)]
    frames[1].depth_m[:10] = 0.0  # holes stay holes
    assert write_rgbd_bag(tmp_path / "bag", frames, frame_id="cam") == 3
    assert {topic: count for topic, (_, count) in bag_topics(tmp_path / "bag").items()} == {
        DEFAULT_TOPICS.rgb: 3, DEFAULT_TOPICS.depth: 3, DEFAULT_TOPICS.camera_info: 3,
        DEFAULT_TOPICS.labels: 3}
    by_stamp = {frame.stamp_ns: frame for frame in frames}
    for message in read_messages(tmp_path / "bag"):
        msg = message.decode()
        frame = by_stamp[stamp_ns(msg.header)]
        assert message.timestamp_ns == frame.stamp_ns and msg.header.frame_id == "cam"
        if message.topic == DEFAULT_TOPICS.rgb:
            np.testing.assert_array_equal(decode_color(msg), frame.rgb)
        elif message.topic == DEFAULT_TOPICS.depth:
            np.testing.assert_allclose(decode_depth(msg), frame.depth_m, atol=0.0005)
            assert (decode_depth(msg)[frame.depth_m == 0] == 0).all()
        elif message.topic == DEFAULT_TOPICS.camera_info:
            K_read, size = camera_intrinsics(msg)
            np.testing.assert_array_equal(K_read, K)
            assert size == (160, 120)
    with pytest.raises(FileExistsError, match="already exists"):
        write_rgbd_bag(tmp_path / "bag", frames)
