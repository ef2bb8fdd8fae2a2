"""The realistic synthetic style: labels agree with geometry, the depth sensor model behaves
like a structured-light / active-stereo camera, cameras are robot-like or hand-held, and
every trained class turns up."""

from __future__ import annotations

import numpy as np
import pytest

from sgnet_ros.training.synthetic import (
    CEILING,
    DOOR,
    FLOOR,
    PICTURE,
    SYNTHETIC_CLASS_IDS,
    WALL,
    WINDOW,
    SensorNoise,
    synthetic_frame,
)
from sgnet_ros.training.synthetic.camera import HORIZONTAL_FOV_DEG, MOUNTS
from sgnet_ros.training.synthetic.sensor import discontinuity_band

SIZE = (96, 128)
SEEDS = range(40)
QUIET = SensorNoise.none()


def heights(frame, depth: np.ndarray) -> np.ndarray:
    """(H, W) room-frame height of every pixel of a depth image of `frame`'s camera."""
    height, width = depth.shape
    u, v = np.meshgrid(np.arange(width), np.arange(height))
    K = frame.K
    rays = np.stack([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], np.ones_like(u, float)], -1)
    return ((rays * depth[..., None]) @ frame.pose.rotation().T)[..., 2] + frame.pose.position[2]


@pytest.fixture(scope="module")
def frames():
    return [synthetic_frame(seed, SIZE) for seed in SEEDS]


def test_every_trained_class_appears_across_a_few_hundred_seeds():
    seen = set()
    for seed in range(300):
        seen |= set(np.unique(synthetic_frame(seed, (48, 64), noise=QUIET).labels).tolist())
    assert seen == set(SYNTHETIC_CLASS_IDS)


def test_labels_agree_with_the_geometry():
    checked = {FLOOR: 0, CEILING: 0, DOOR: 0, PICTURE: 0, WINDOW: 0}
    for seed in SEEDS:
        frame = synthetic_frame(seed, SIZE, noise=QUIET)
        z = heights(frame, frame.clean_depth_m.astype(np.float64))
        labels = frame.labels
        assert z.min() > -1e-3  # nothing below the floor
        if (labels == FLOOR).any():
            np.testing.assert_allclose(z[labels == FLOOR], 0.0, atol=1e-3)
            checked[FLOOR] += 1
        if (labels == CEILING).any():
            ceiling = z[labels == CEILING]
            assert np.ptp(ceiling) < 1e-3 and ceiling.min() > 2.3
            assert z.max() <= ceiling.max() + 1e-3  # nothing above the ceiling
            checked[CEILING] += 1
        for label, low, high in ((DOOR, 0.0, 2.25), (PICTURE, 0.5, 3.0), (WINDOW, 0.3, 3.2)):
            if (labels == label).sum() > 5:
                assert low - 1e-3 <= z[labels == label].min()
                assert z[labels == label].max() <= high
                checked[label] += 1
    assert min(checked.values()) >= 3, checked


def test_window_glass_is_bright_and_mostly_without_depth(frames):
    window_pixels = holes = brighter = with_windows = 0
    for frame in frames:
        window = frame.labels == WINDOW
        if window.sum() < 20:
            continue
        with_windows += 1
        window_pixels += window.sum()
        holes += (frame.depth_m[window] == 0).sum()
        luminance = frame.rgb.astype(float).mean(axis=2)
        brighter += np.median(luminance[window]) > np.median(luminance[frame.labels == WALL])
    assert with_windows >= 5
    assert holes / window_pixels > 0.6
    assert brighter >= 0.7 * with_windows


def test_depth_holes_crowd_along_depth_discontinuities(frames):
    band_holes = band_count = inner_holes = inner_count = 0
    for frame in frames:
        clean = frame.clean_depth_m
        band = discontinuity_band(clean, 1)
        interior = ~discontinuity_band(clean, 5)
        missing = frame.depth_m == 0
        band_holes, band_count = band_holes + missing[band].sum(), band_count + band.sum()
        inner_holes += missing[interior].sum()
        inner_count += interior.sum()
    band_rate, inner_rate = band_holes / band_count, inner_holes / inner_count
    assert band_rate > 0.3 and band_rate > 3 * inner_rate, (band_rate, inner_rate)


def test_depth_steps_and_noise_grow_with_distance():
    quantised = SensorNoise(0.0, True, 0.0, 0.0, False, 0.0, 0.0, False, False)
    speckled = SensorNoise(1.0, False, 0.0, 0.0, False, 0.0, 0.0, False, False)
    for noise in (quantised, speckled):
        near, far = [], []
        for seed in SEEDS:
            frame = synthetic_frame(seed, SIZE, noise=noise)
            error = np.abs(frame.depth_m - frame.clean_depth_m)
            near.append(error[(frame.clean_depth_m > 0.8) & (frame.clean_depth_m < 1.5)])
            far.append(error[(frame.clean_depth_m > 3.0) & (frame.clean_depth_m < 4.5)])
        near_error, far_error = np.percentile(np.concatenate(near), 90), np.percentile(
            np.concatenate(far), 90)
        # Both grow with z^2: (3.75 / 1.15)^2 is about 10; ask for 4.
        assert far_error > 4 * near_error > 0, (noise, near_error, far_error)


def test_no_depth_outside_the_working_range():
    ranged = SensorNoise(0.0, False, 0.0, 0.0, False, 0.0, 0.0, True, False)
    beyond = lost = 0
    for seed in SEEDS:
        frame = synthetic_frame(seed, SIZE, noise=ranged)
        clean, depth = frame.clean_depth_m, frame.depth_m
        assert (depth[(clean > 8.0) | (clean < 0.2)] == 0).all()
        assert (depth[(clean > 0.5) & (clean < 3.5)] > 0).all()
        beyond += (clean > 5.5).sum()
        lost += ((clean > 5.5) & (depth == 0)).sum()
    assert beyond > 0 and 0.2 < lost / beyond < 1.0  # a random maximum between 3.5 and 8 m


def test_cameras_are_robot_mounted_or_hand_held():
    mounts = set()
    for seed in range(60):
        frame = synthetic_frame(seed, (16, 24), noise=QUIET)
        pose = frame.pose
        heights_m, pitches, rolls = MOUNTS[pose.mount]
        mounts.add(pose.mount)
        assert heights_m[0] <= pose.position[2] <= heights_m[1]
        assert pitches[0] - 1e-9 <= np.degrees(pose.pitch) <= pitches[1] + 1e-9
        assert rolls[0] - 1e-9 <= np.degrees(pose.roll) <= rolls[1] + 1e-9
        fov = np.degrees(2 * np.arctan(24 / 2 / frame.K[0, 0]))
        assert HORIZONTAL_FOV_DEG[0] - 1e-6 <= fov <= HORIZONTAL_FOV_DEG[1] + 1e-6
    assert mounts == {"robot", "handheld"}
    assert MOUNTS["robot"] == ((0.3, 1.6), (-35.0, 10.0), (-3.0, 3.0))


def test_the_camera_pipeline_changes_the_image_but_not_the_labels():
    plain = SensorNoise(rgb_noise=0.0, camera_effects=False)
    developed = SensorNoise(rgb_noise=0.0)
    differences = []
    for seed in range(6):
        before, after = synthetic_frame(seed, SIZE, plain), synthetic_frame(seed, SIZE, developed)
        np.testing.assert_array_equal(before.labels, after.labels)
        differences.append(np.abs(before.rgb.astype(int) - after.rgb.astype(int)).mean())
    assert min(differences) > 1.0  # white balance, vignetting, blur and JPEG all move pixels
