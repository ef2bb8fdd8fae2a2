"""The node on live compressed topics, and a transport/type mismatch named in its log.

A real node process subscribes to `<base>/compressed` and `<base>/compressedDepth` by its
transport parameters; the test publishes sensor_msgs/CompressedImage over rclpy, as
image_transport's plugins would, and gets the segmentation back.
"""

from __future__ import annotations

import numpy as np
import pytest
from ros_harness import NAMESPACE, RELIABLE, running_node, synthetic_frame
from sensor_msgs.msg import CompressedImage, Image

from sgnet_ros.pipeline.codec import (
    decode_image,
    encode_compressed_color,
    encode_compressed_depth_16uc1,
)
from sgnet_ros.ros.messages import decode_color, decode_depth

BASE = 1_700_000_100_000_000_000


@pytest.fixture(scope="module")
def harness():
    # The harness publishes raw frames, which this node does not subscribe to: no waiting.
    with running_node("-p", "transport.rgb:=compressed", "-p", "transport.depth:=compressedDepth",
                      "-p", "cloud_classes:=[none]", "-p", "warmup_size:=[320, 240]",
                      "-p", "diagnostics_period:=0.5", outputs=[("segmentation/image", Image)],
                      wait_for_inputs=False) as harness:
        yield harness


def test_raw_publishers_on_a_compressed_node_are_named_with_the_parameter_to_set(harness):
    wrong_type = harness.node.create_publisher(
        Image, f"{NAMESPACE}/depth_registered/image_rect/compressedDepth", RELIABLE)
    try:
        assert harness.wait_for(lambda: any(
            "input type mismatch: /cam/depth_registered/image_rect/compressedDepth is published "
            "as sensor_msgs/msg/Image but subscribed as sensor_msgs/msg/CompressedImage "
            "(transport.depth: compressedDepth)" in log for log in harness.logs), 60), \
            harness.logs[-5:]
        # the harness publishes raw colour on the base topic: the node says which value fits
        assert harness.wait_for(lambda: any(
            "nothing is published on /cam/rgb/image_rect_color/compressed (transport.rgb: "
            "compressed) but /cam/rgb/image_rect_color has a publisher: set transport.rgb: raw"
            in log for log in harness.logs), 30), harness.logs[-5:]
        assert harness.wait_for(lambda: "input type mismatch transport.depth" in
                                harness.diagnostics, 10), harness.diagnostics
    finally:
        topic = f"{NAMESPACE}/depth_registered/image_rect/compressedDepth"
        harness.node.destroy_publisher(wrong_type)
        # rclpy defers the destruction while the spinning executor holds the publisher's
        # event handles; until it is gone, another type on this topic is refused.
        assert harness.wait_for(lambda: not any(
            info.node_name == harness.node.get_name()
            for info in harness.node.get_publishers_info_by_topic(topic)), 10)


def test_diagnostics_name_the_outputs_no_subscriber_has_matched_yet(harness):
    """What a recorder waits for before it plays: both ends of every output matched."""
    assert harness.wait_for(lambda: "outputs without subscribers" in harness.diagnostics, 10)
    unmatched = harness.diagnostics["outputs without subscribers"].split(", ")
    assert "/cam/segmentation/color" in unmatched and "/cam/points" in unmatched
    assert "/cam/segmentation/image" not in unmatched  # the harness subscribes to it


def test_the_node_segments_live_compressed_topics(harness):
    from builtin_interfaces.msg import Time
    from std_msgs.msg import Header

    rgb, depth, K = synthetic_frame()
    rgb_array = decode_image(rgb.encoding, rgb.height, rgb.width, rgb.step, rgb.is_bigendian,
                             rgb.data)
    depth_mm = decode_image(depth.encoding, depth.height, depth.width, depth.step,
                            depth.is_bigendian, depth.data)
    colour = harness.node.create_publisher(
        CompressedImage, f"{NAMESPACE}/rgb/image_rect_color/compressed", RELIABLE)
    depth_pub = harness.node.create_publisher(
        CompressedImage, f"{NAMESPACE}/depth_registered/image_rect/compressedDepth", RELIABLE)
    assert harness.wait_for(lambda: colour.get_subscription_count()
                            and depth_pub.get_subscription_count(), 60)
    header = Header(stamp=Time(sec=BASE // 10**9, nanosec=BASE % 10**9), frame_id="cam_optical")
    rgb_format, rgb_data = encode_compressed_color(rgb_array, "png")
    depth_format, depth_data = encode_compressed_depth_16uc1(depth_mm)
    rgb_msg = CompressedImage(header=header, format=rgb_format, data=rgb_data)
    depth_msg = CompressedImage(header=header, format=depth_format, data=depth_data)
    # the node's own decoding of what it will receive is lossless here (png)
    np.testing.assert_array_equal(decode_color(rgb_msg), rgb_array)
    np.testing.assert_array_equal(decode_depth(depth_msg), depth_mm / 1000.0)
    for _ in range(20):  # until the node has matched us
        info = harness.msgs.camera_info(header=header, height=rgb.height, width=rgb.width,
                                        distortion_model="plumb_bob", d=[0.0] * 5,
                                        k=K.reshape(-1).tolist(),
                                        r=np.eye(3).reshape(-1).tolist(),
                                        p=np.hstack([K, np.zeros((3, 1))]).reshape(-1).tolist())
        harness.publishers["rgb/camera_info"].publish(info)
        depth_pub.publish(depth_msg)
        colour.publish(rgb_msg)
        if harness.wait_for(lambda: BASE in harness.stamps("segmentation/image"), 3):
            break
    labels = next(m for m in harness.messages("segmentation/image")
                  if m.header.stamp.sec == BASE // 10**9)
    assert (labels.width, labels.height) == (rgb.width, rgb.height)
