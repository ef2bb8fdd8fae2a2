"""The ROS-free camera model: P over K, what the rectifier caches and what it refuses."""

import math

import numpy as np
import pytest

from sgnet_ros.pipeline.geometry import CameraModel, FrameError, Rectifier

K = np.array([[131.2, 0.0, 79.5], [0.0, 131.2, 59.5], [0.0, 0.0, 1.0]])


def model(d=(0.0,) * 5, distortion_model="plumb_bob", p=None) -> CameraModel:
    projection = np.hstack([K, np.zeros((3, 1))]) if p is None else p
    return CameraModel.from_fields(160, 120, distortion_model, d, K.ravel(),
                                   np.eye(3).ravel(), projection.ravel())


def frame() -> tuple[np.ndarray, np.ndarray]:
    rgb = np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    return rgb, np.full((120, 160), 2.0, np.float32)


def test_rectified_images_project_with_the_projection_matrix_else_the_camera_matrix():
    P = np.hstack([K * np.array([[0.9], [0.9], [1]]), np.zeros((3, 1))])
    np.testing.assert_array_equal(model(p=P).intrinsics(), P[:, :3])
    np.testing.assert_array_equal(model(p=np.zeros((3, 4))).intrinsics(), K)


def test_maps_are_built_once_per_camera_info_and_depth_keeps_exact_values():
    rectifier = Rectifier()
    rgb, depth = frame()
    bent = model(d=(-0.2, 0.05, 0.0, 0.0, 0.0))
    for _ in range(3):
        _, rectified_depth, described = rectifier.rectify(bent, rgb, depth)
    assert rectifier.maps_built == 1
    assert set(np.unique(rectified_depth)) <= {0.0, 2.0}  # nearest: no blended depths
    assert not described.distorted and np.array_equal(described.K, K)
    rectifier.rectify(model(d=(-0.1, 0.0, 0.0, 0.0, 0.0)), rgb, depth)
    assert rectifier.maps_built == 2
    rectifier.rectify(model(), rgb, depth)  # nothing to undo: no map needed
    assert rectifier.maps_built == 2


def test_equidistant_distortion_is_rectified_and_unknown_models_are_refused():
    rgb, depth = frame()
    Rectifier().rectify(model(d=(0.1, 0.01, 0.0, 0.0), distortion_model="equidistant"),
                        rgb, depth)
    with pytest.raises(FrameError, match="distortion_model 'thin_prism' cannot be rectified"):
        Rectifier().rectify(model(d=(0.1,), distortion_model="thin_prism"), rgb, depth)


def test_non_finite_distortion_is_bad_camera_info_naming_the_entry():
    with pytest.raises(FrameError, match=r"D\[1\] = nan") as refused:
        model(d=(0.0, math.nan, 0.0, 0.0, 0.0)).intrinsics()
    assert refused.value.reason == "bad_camera_info"
