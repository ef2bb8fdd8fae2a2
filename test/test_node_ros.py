"""The real node over rclpy: outputs, latched label info, bad input matrix.

The node runs in its own process; this process publishes camera frames and listens, over
a loopback-only ROS domain of the suite's own (see conftest.py).
"""

import json
import time

import numpy as np
import pytest
from ros_harness import LATCHED, running_node, start_node, synthetic_frame
from sensor_msgs.msg import CameraInfo, Image, PointCloud2

from sgnet_ros.pipeline.codec import encode_image

pytestmark = pytest.mark.ros
SECOND = 1_000_000_000
BASE = 1_750_000_000 * SECOND


@pytest.fixture(scope="module")
def harness():
    outputs = (("segmentation/image", Image), ("segmentation/color", Image),
               ("segmentation/camera_info", CameraInfo), ("points", PointCloud2))
    with running_node("-p", "cloud_classes:=[floor, wall]", "-p", "label_info_format:=json",
                      "-p", "warmup_size:=[320, 240]", outputs=outputs) as harness:
        yield harness


class Stamps:
    """Unique, increasing stamps across the module's tests (the synchroniser resets otherwise)."""

    next = BASE

    @classmethod
    def take(cls) -> int:
        cls.next += SECOND // 10
        return cls.next


def send_and_wait(harness, stamp, rgb, depth, K, topic="segmentation/image", **kwargs) -> bool:
    harness.publish_frame(stamp, rgb, depth, K, **kwargs)
    return harness.wait_for(lambda: stamp in harness.stamps(topic), timeout=30)


def counter(harness, key) -> int:
    return int(harness.diagnostics.get(key, 0))


def test_a_frame_comes_back_on_every_output_aligned_with_the_camera(harness):
    rgb, depth, K = synthetic_frame(240, 320)
    stamp = Stamps.take()
    assert send_and_wait(harness, stamp, rgb, depth, K)
    for topic in ("segmentation/color", "segmentation/camera_info", "points"):
        assert harness.wait_for(lambda t=topic: stamp in harness.stamps(t)), topic
    label = next(m for m in harness.messages("segmentation/image")
                 if m.header.stamp.sec * SECOND + m.header.stamp.nanosec == stamp)
    assert (label.height, label.width, label.encoding) == (240, 320, "mono8")
    assert label.header.frame_id == "cam_optical"
    labels = np.frombuffer(bytes(label.data), np.uint8)
    assert labels.max() < 40
    cloud = harness.messages("points")[-1]
    assert (cloud.height, cloud.width) == (240, 320)
    assert [f.name for f in cloud.fields] == ["x", "y", "z", "rgb", "label"]


def test_start_up_warms_up_at_the_configured_camera_size(harness):
    assert harness.wait_for(lambda: any("warm-up (2 frames of 320x240) took" in log
                                        for log in harness.logs), timeout=10), harness.logs[:5]


def test_label_info_is_latched_for_late_subscribers(harness):
    harness.subscribe("segmentation/label_info", harness.msgs.string, LATCHED)
    assert harness.wait_for(lambda: harness.messages("segmentation/label_info"), timeout=10)
    info = json.loads(harness.messages("segmentation/label_info")[0].data)
    names = [c["name"] for c in info["classes"]]
    assert names[:3] == ["wall", "floor", "cabinet"] and len(names) == 40
    topics = {c["name"]: c["cloud_topic"] for c in info["classes"] if c["cloud_topic"]}
    assert topics == {"wall": "points/wall", "floor": "points/floor"}


def test_class_clouds_are_built_only_for_subscribed_topics(harness):
    rgb, depth, K = synthetic_frame(120, 160)
    assert send_and_wait(harness, Stamps.take(), rgb, depth, K)
    assert harness.wait_for(lambda: "class clouds built" in harness.diagnostics, timeout=5)
    built = counter(harness, "class clouds built")
    assert send_and_wait(harness, Stamps.take(), rgb, depth, K)
    time.sleep(1.2)  # one more diagnostics period
    assert counter(harness, "class clouds built") == built  # nobody listens: nothing built
    harness.subscribe("points/floor", harness.msgs.point_cloud)
    assert harness.wait_for(lambda: harness.node.count_subscribers("/cam/points/floor") > 0)
    time.sleep(0.5)
    stamp = Stamps.take()
    assert send_and_wait(harness, stamp, rgb, depth, K, topic="points/floor")
    cloud = next(m for m in harness.messages("points/floor")
                 if m.header.stamp.sec * SECOND + m.header.stamp.nanosec == stamp)
    assert [f.name for f in cloud.fields] == ["x", "y", "z", "rgb"] and cloud.height == 1
    assert harness.wait_for(lambda: counter(harness, "class clouds built") > built, timeout=5)


def _bad_cases():
    rgb, depth, K = synthetic_frame(120, 160)
    raw = np.frombuffer(rgb.data, np.uint8).reshape(120, 160, 3)
    millimetres = np.frombuffer(depth.data, np.uint16).reshape(120, 160)
    truncated = rgb.__class__(**{**rgb.__dict__, "data": rgb.data[:1000]})
    bayer = rgb.__class__(**{**rgb.__dict__, "encoding": "bayer_rggb8"})
    odd_depth = encode_image(np.ascontiguousarray(millimetres[:100, :150]), "16UC1")
    return [
        ("truncated colour", dict(rgb=truncated, depth=depth, K=K), "dropped bad_rgb"),
        ("unsupported encoding", dict(rgb=bayer, depth=depth, K=K), "dropped bad_rgb"),
        ("depth of another size", dict(rgb=rgb, depth=odd_depth, K=K), "dropped size_mismatch"),
        ("K all zeros", dict(rgb=rgb, depth=depth, K=np.zeros((3, 3))),
         "dropped bad_camera_info"),
        ("camera_info of another aspect", dict(rgb=rgb, depth=depth, K=K, info_size=(100, 100)),
         "dropped size_mismatch"),
    ], (raw, millimetres, K)


BAD_CASES, GOOD = _bad_cases()


@pytest.mark.parametrize("name, frame, counter_key", BAD_CASES, ids=[c[0] for c in BAD_CASES])
def test_bad_input_is_counted_and_the_next_good_frame_is_processed(harness, name, frame,
                                                                   counter_key):
    before = counter(harness, counter_key)
    harness.publish_frame(Stamps.take(), **frame)
    assert harness.wait_for(lambda: counter(harness, counter_key) > before, timeout=10), (
        f"{name}: {counter_key} did not move; diagnostics {harness.diagnostics}")
    raw, millimetres, K = GOOD
    assert send_and_wait(harness, Stamps.take(), encode_image(raw, "rgb8"),
                         encode_image(millimetres, "16UC1"), K), f"node dead after {name}"


@pytest.mark.parametrize("name, make", [
    ("bgr8 colour", lambda raw, mm: (encode_image(raw[..., ::-1].copy(), "bgr8"),
                                     encode_image(mm, "16UC1"))),
    ("mono8 colour", lambda raw, mm: (encode_image(raw[..., 0].copy(), "mono8"),
                                      encode_image(mm, "16UC1"))),
    ("32FC1 metres depth", lambda raw, mm: (encode_image(raw, "rgb8"),
                                            encode_image(mm.astype(np.float32) / 1000, "32FC1"))),
    ("half-resolution depth", lambda raw, mm: (encode_image(raw, "rgb8"),
                                               encode_image(mm[::2, ::2].copy(), "16UC1"))),
])
def test_other_driver_encodings_and_sizes_are_converted(harness, name, make):
    raw, millimetres, K = GOOD
    rgb, depth = make(raw, millimetres)
    stamp = Stamps.take()
    assert send_and_wait(harness, stamp, rgb, depth, K), name
    label = next(m for m in harness.messages("segmentation/image")
                 if m.header.stamp.sec * SECOND + m.header.stamp.nanosec == stamp)
    assert (label.height, label.width) == (120, 160)


def test_camera_info_at_another_resolution_of_the_same_view_is_scaled(harness):
    raw, millimetres, K = GOOD
    assert send_and_wait(harness, Stamps.take(), encode_image(raw, "rgb8"),
                         encode_image(millimetres, "16UC1"), K * np.array([[2], [2], [1]]),
                         info_size=(320, 240))


def test_zero_stamps_are_processed_and_flagged(harness):
    raw, millimetres, K = GOOD
    before = counter(harness, "zero stamps")
    rgb, depth = encode_image(raw, "rgb8"), encode_image(millimetres, "16UC1")
    assert send_and_wait(harness, 0, rgb, depth, K)
    assert harness.wait_for(lambda: counter(harness, "zero stamps") > before, timeout=5)
    # The next frame jumps forward again: no stall.
    assert send_and_wait(harness, Stamps.take(), rgb, depth, K)


def test_a_driver_with_incompatible_qos_is_named_with_the_fix(harness):
    from rclpy.qos import QoSProfile, ReliabilityPolicy

    best_effort = QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT)
    publisher = harness.node.create_publisher(harness.msgs.image, "/cam/rgb/image_rect_color",
                                              best_effort)
    try:
        assert harness.wait_for(lambda: any(
            "incompatible with input_qos=reliable" in log and "set input_qos: best_effort" in log
            and "/cam/rgb/image_rect_color" in log for log in harness.logs), timeout=15), \
            harness.logs[-5:]
    finally:
        harness.node.destroy_publisher(publisher)


def test_bad_parameter_stops_start_up_with_one_clear_line():
    node = start_node("-p", "sync.slop:=5.0")
    output, _ = node.communicate(timeout=120)
    assert node.returncode == 2
    assert "parameter 'sync.slop' = 5.0 is out of range; allowed: 0.0 .. 1.0" in output
    assert "Traceback" not in output


def test_missing_model_stops_start_up_with_one_clear_line(tmp_path):
    node = start_node("-p", f"model_path:={tmp_path / 'nope.onnx'}")
    output, _ = node.communicate(timeout=120)
    assert node.returncode == 2
    assert f"model file {tmp_path / 'nope.onnx'} does not exist" in output
    assert "Traceback" not in output
