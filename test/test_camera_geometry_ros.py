"""Camera geometry over real rclpy: camera_info checks, registration, distortion, depth
quality, rays from P (test_rectify_tf_ros.py: rectify and gravity from TF).

One node process with the default geometry settings plus a valid-depth floor. Every
refusal is checked for its log line, its diagnostics reason and the next good frame.
"""

import math

import numpy as np
import pytest
from ros_harness import running_node, synthetic_frame
from sensor_msgs.msg import CameraInfo, Image, PointCloud2

from sgnet_ros.pipeline.codec import encode_image

pytestmark = pytest.mark.ros
SECOND = 1_000_000_000
BASE = 1_760_000_000 * SECOND


class Stamps:
    """Unique, increasing stamps across the module (the synchroniser resets otherwise)."""

    next = BASE

    @classmethod
    def take(cls) -> int:
        cls.next += SECOND // 10
        return cls.next


def geometry_node(*parameters: str):
    """A node with `parameters` whose frame, spatial and cloud outputs the harness keeps."""
    outputs = (("segmentation/image", Image), ("segmentation/camera_info", CameraInfo),
               ("segmentation/spatial", Image), ("points", PointCloud2))
    return running_node("-p", "cloud_classes:=[none]", "-p", "label_info_format:=json",
                        *parameters, outputs=outputs)


def primed(harness, width: int, height: int) -> bool:
    """True once a frame made the round trip: discovery has settled both ways, so the
    first frame of a test is not lost while the node still matches our publishers."""
    rgb, depth, K = synthetic_frame(height, width)
    return any(send_and_wait(harness, Stamps.take(), rgb, depth, K, timeout=10)
               for _ in range(9))


@pytest.fixture(scope="module")
def plain():
    """Default geometry settings; frames under 5 % valid depth are dropped."""
    with geometry_node("-p", "warmup_size:=[160, 120]",
                       "-p", "min_valid_depth_fraction:=0.05") as harness:
        assert primed(harness, 160, 120), "no frame came back from the node"
        yield harness
    assert "RuntimeWarning" not in harness.node_output  # e.g. numpy overflow on fx = 1e-300


def counter(harness, key) -> float:
    return float(harness.diagnostics.get(key, 0))


def at_stamp(harness, topic, stamp):
    return next(m for m in harness.messages(topic)
                if m.header.stamp.sec * SECOND + m.header.stamp.nanosec == stamp)


def send_and_wait(harness, stamp, rgb, depth, K, topic="segmentation/image", timeout=30.0,
                  **kwargs) -> bool:
    harness.publish_frame(stamp, rgb, depth, K, **kwargs)
    return harness.wait_for(lambda: stamp in harness.stamps(topic), timeout=timeout)


def good_frame():
    rgb, depth, K = synthetic_frame(120, 160)
    return dict(rgb=rgb, depth=depth, K=K)


def logged(harness, since: int, *fragments: str, timeout: float = 10.0) -> bool:
    return harness.wait_for(lambda: any(all(f in log for f in fragments)
                                        for log in harness.logs[since:]), timeout=timeout)


def expect_refusal(harness, frame: dict, reason: str, *fragments: str,
                   since: int | None = None) -> None:
    """The frame is dropped for `reason` with a log line holding `fragments` (after log
    `since`), and the next good frame is published."""
    key = f"dropped {reason}"
    before = counter(harness, key)
    since = len(harness.logs) if since is None else since
    harness.publish_frame(Stamps.take(), **frame)
    assert harness.wait_for(lambda: counter(harness, key) > before, timeout=10), (
        f"{key} did not move; diagnostics {harness.diagnostics}")
    assert logged(harness, since, *fragments), (fragments, harness.logs[since:])
    assert send_and_wait(harness, Stamps.take(), **good_frame()), "the next good frame was lost"


def intrinsics_with(**entries) -> np.ndarray:
    K = good_frame()["K"].copy()
    for name, value in entries.items():
        K[int(name[1]), int(name[2])] = value
    return K


K_CASES = [
    ("focal length 1e300", intrinsics_with(k00=1e300), "K[0][0] (fx) = 1e+300", "field of view"),
    ("focal length 1e-300", intrinsics_with(k00=1e-300), "K[0][0] (fx) = 1e-300", "field of view"),
    ("K[2][2] = 0", intrinsics_with(k22=0.0), "K[2][2] = 0.0", "must be 1"),
    ("skew of half a pixel", intrinsics_with(k01=0.5), "K[0][1] (skew) = 0.5", "skew"),
    ("principal point at infinity", intrinsics_with(k02=math.inf), "K[0][2] (cx) = inf",
     "principal point"),
]


@pytest.mark.parametrize("name, K, field, why", K_CASES, ids=[c[0] for c in K_CASES])
def test_implausible_intrinsics_are_refused_before_any_work_naming_field_and_value(plain, name, K,
                                                                          field, why):
    frame = {**good_frame(), "K": K}
    expect_refusal(plain, frame, "bad_camera_info", f"camera_info {field}", why)


def test_unregistered_depth_is_refused_naming_both_frames_and_the_fix_for_each_pair(plain):
    for depth_frame in ("cam_depth_optical", "other_depth_frame"):
        frame = {**good_frame(), "rgb_frame": "cam_optical", "depth_frame": depth_frame}
        expect_refusal(plain, frame, "unregistered_depth", f"depth frame_id '{depth_frame}'",
                       "colour frame_id 'cam_optical'", "align_depth", "register")


def test_depth_without_valid_pixels_is_refused_as_no_valid_depth(plain):
    """All zeros, all negative, all infinite: each dropped; the same line is throttled."""
    since = len(plain.logs)
    for value in (0.0, -1.0, math.inf):
        frame = good_frame()
        frame["depth"] = encode_image(np.full((120, 160), value, np.float32), "32FC1")
        expect_refusal(plain, frame, "no_valid_depth", "0.0% of the pixels have valid depth",
                       "min_valid_depth_fraction=0.05", since=since)
    assert plain.wait_for(lambda: counter(plain, "valid depth fraction") == 1.0, timeout=5)


def test_mostly_invalid_depth_is_processed_with_a_warning_and_its_fraction(plain):
    frame = good_frame()
    metres = np.full((120, 160), 2.0, np.float32)
    metres[:, 32:] = 0.0  # 20 % valid: above the 5 % floor, below half
    frame["depth"] = encode_image(metres, "32FC1")
    since, stamp = len(plain.logs), Stamps.take()
    assert send_and_wait(plain, stamp, **frame)
    assert logged(plain, since, "only 20.0% of the pixels have valid depth")
    assert plain.wait_for(lambda: counter(plain, "valid depth fraction") == 0.2, timeout=5)


def test_empty_frame_ids_are_warned_about_and_counted(plain):
    before, since = counter(plain, "empty frame ids"), len(plain.logs)
    assert send_and_wait(plain, Stamps.take(), **good_frame(), rgb_frame="", depth_frame="")
    assert logged(plain, since, "colour and depth image has an empty header.frame_id")
    assert plain.wait_for(lambda: counter(plain, "empty frame ids") > before, timeout=5)
    assert send_and_wait(plain, Stamps.take(), **good_frame())


def distortion(d: list[float]) -> dict:
    return {"d": d, "distortion_model": "plumb_bob"}


def test_distortion_on_a_rectified_topic_is_logged_once_per_change_and_diagnosed(plain):
    since = len(plain.logs)
    for d in ([-0.2, 0.05, 0.0, 0.0, 0.0],) * 2 + ([-0.3, 0.1, 0.0, 0.0, 0.0],):
        stamp = Stamps.take()
        assert send_and_wait(plain, stamp, **good_frame(), info_fields=distortion(d))
    assert plain.wait_for(lambda: "looks unrectified" in plain.diagnostics.get(
        "input rectified", ""), timeout=5), plain.diagnostics
    lines = [log for log in plain.logs[since:] if "looks unrectified" in log]
    assert len(lines) == 2, lines  # one per distinct D, not per frame
    assert "D = [-0.2, 0.05, 0, 0, 0] (plumb_bob)" in lines[0] and "rectify: true" in lines[0]
    assert "D = [-0.3, 0.1, 0, 0, 0]" in lines[1]
    # Without rectify the label image is the distorted image: its camera_info says so.
    info = at_stamp(plain, "segmentation/camera_info", stamp)
    assert list(info.d) == [-0.3, 0.1, 0.0, 0.0, 0.0]
    assert send_and_wait(plain, Stamps.take(), **good_frame())
    assert plain.wait_for(lambda: plain.diagnostics.get("input rectified") == "rectified (D = 0)",
                          timeout=5)


def cloud_xyz(msg) -> np.ndarray:
    """(H, W, 3) float32 x y z of an organized PointCloud2."""
    raw = np.frombuffer(bytes(msg.data), np.uint8).reshape(msg.height, msg.width,
                                                           msg.point_step)
    return raw[..., :12].copy().view(np.float32).reshape(msg.height, msg.width, 3)


def test_rays_come_from_the_projection_matrix_as_image_geometry_projects_rectified_images(plain):
    frame = good_frame()
    P = np.hstack([frame["K"], np.zeros((3, 1))])
    frame["K"] = frame["K"] * np.array([[1.5], [1.5], [1.0]])  # the raw camera's, not ours
    stamp = Stamps.take()
    assert send_and_wait(plain, stamp, topic="points", **frame,
                         info_fields={"p": P.reshape(-1).tolist()})
    xyz = cloud_xyz(at_stamp(plain, "points", stamp))
    row, col = 100, 150
    fx, cx = P[0, 0], P[0, 2]
    assert xyz[row, col, 0] == pytest.approx((col - cx) / fx * xyz[row, col, 2], rel=1e-5)


def test_published_camera_info_describes_the_published_image(plain):
    frame = good_frame()
    K = frame["K"]
    stamp = Stamps.take()
    assert send_and_wait(plain, stamp, **{**frame, "K": K * np.array([[2], [2], [1]])},
                         info_size=(320, 240))
    assert plain.wait_for(lambda: stamp in plain.stamps("segmentation/camera_info"))
    info = at_stamp(plain, "segmentation/camera_info", stamp)
    assert (info.width, info.height) == (160, 120)
    np.testing.assert_allclose(np.reshape(info.k, (3, 3)), K)
    np.testing.assert_allclose(np.reshape(info.p, (3, 4))[:, :3], K)
