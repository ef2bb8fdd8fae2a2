"""The synthetic generator, both styles: determinism, geometric consistency, label sets, CLI.

The realistic style's own features (textures, sensor model, cameras) are checked in
test_synthetic_realistic.py."""

from __future__ import annotations

import numpy as np
import pytest

from sgnet_ros.training.synthetic import (
    BASIC_CLASS_IDS,
    CEILING,
    FLOOR,
    STYLES,
    SYNTHETIC_CLASS_IDS,
    WALL,
    SensorNoise,
    class_ids,
    intrinsics_for,
    synthetic_frame,
    synthetic_sequence,
)
from sgnet_ros.training.synthetic_cli import main as synth_main

SIZE = (60, 80)


def back_project(frame, depth: np.ndarray) -> np.ndarray:
    """(H, W, 3) room-frame points of a depth image of `frame`'s camera."""
    height, width = depth.shape
    u, v = np.meshgrid(np.arange(width), np.arange(height))
    K = frame.K
    rays = np.stack([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], np.ones_like(u, float)], -1)
    return (rays * depth[..., None]) @ frame.pose.rotation().T + np.array(frame.pose.position)


@pytest.mark.parametrize("style", STYLES)
def test_same_seed_same_frame_and_different_seed_different_frame(style):
    first, again = synthetic_frame(3, SIZE, style=style), synthetic_frame(3, SIZE, style=style)
    other = synthetic_frame(4, SIZE, style=style)
    for name in ("rgb", "depth_m", "labels", "clean_depth_m", "K"):
        np.testing.assert_array_equal(getattr(first, name), getattr(again, name))
    assert first.pose == again.pose
    assert not np.array_equal(first.rgb, other.rgb)


def test_styles_are_named_and_the_default_is_the_trained_class_list():
    assert STYLES == ("realistic", "basic")
    assert class_ids() == SYNTHETIC_CLASS_IDS == class_ids("realistic")
    assert class_ids("basic") == BASIC_CLASS_IDS and len(BASIC_CLASS_IDS) == 8
    assert set(BASIC_CLASS_IDS) < set(SYNTHETIC_CLASS_IDS) and len(SYNTHETIC_CLASS_IDS) == 17
    with pytest.raises(ValueError, match="unknown synthetic style 'toy'"):
        synthetic_frame(0, SIZE, style="toy")


@pytest.mark.parametrize("style", STYLES)
def test_outputs_have_the_documented_types_and_label_ids(style):
    for seed in range(6):
        frame = synthetic_frame(seed, SIZE, style=style)
        assert frame.rgb.shape == (*SIZE, 3) and frame.rgb.dtype == np.uint8
        assert frame.depth_m.shape == SIZE and frame.depth_m.dtype == np.float32
        assert frame.labels.dtype == np.uint8
        assert set(np.unique(frame.labels)) <= set(class_ids(style))
        valid = frame.depth_m > 0
        assert valid.mean() > 0.4
        assert frame.depth_m[valid].min() >= 0.15 and frame.depth_m.max() < 10.0


@pytest.mark.parametrize("style", STYLES)
def test_floor_and_ceiling_pixels_back_project_to_their_heights(style):
    checked = 0
    for seed in range(8):
        frame = synthetic_frame(seed, SIZE, noise=SensorNoise.none(), style=style)
        points = back_project(frame, frame.clean_depth_m.astype(np.float64))
        floor = frame.labels == FLOOR
        if floor.any():
            np.testing.assert_allclose(points[floor][:, 2], 0.0, atol=1e-3)
            checked += 1
        ceiling = frame.labels == CEILING
        if ceiling.any():
            assert np.ptp(points[ceiling][:, 2]) < 1e-3 and points[ceiling][:, 2].min() > 2.3
    assert checked >= 4


@pytest.mark.parametrize("style", STYLES)
def test_noisy_depth_stays_close_to_the_clean_depth(style):
    frame = synthetic_frame(5, (120, 160), style=style)
    valid = frame.depth_m > 0
    error = np.abs(frame.depth_m[valid] - frame.clean_depth_m[valid])
    # Kinect-like: centimetres at a few metres, never gross errors.
    assert np.median(error) < 0.03 and error.max() < 0.25 * frame.clean_depth_m[valid].max()
    assert 0.0 < 1.0 - valid.mean() < 0.4  # some holes, not a sieve


@pytest.mark.parametrize("style", STYLES)
def test_floor_pixels_are_roughly_horizontal_in_the_noisy_depth_too(style):
    frame = synthetic_frame(1, (120, 160), style=style)
    floor = (frame.labels == FLOOR) & (frame.depth_m > 0)
    heights = back_project(frame, frame.depth_m.astype(np.float64))[floor][:, 2]
    assert floor.sum() > 100 and np.median(np.abs(heights)) < 0.05


def test_basic_camera_poses_are_robot_like():
    for seed in range(10):
        pose = synthetic_frame(seed, (16, 16), style="basic").pose
        assert 0.3 <= pose.position[2] <= 1.8
        assert np.radians(-40) - 1e-9 <= pose.pitch <= np.radians(15) + 1e-9
        assert abs(pose.roll) <= np.radians(10) + 1e-9


def test_intrinsics_scale_from_the_reference_camera():
    K = intrinsics_for((240, 320))
    assert K[0, 0] == pytest.approx(262.5) and K[1, 1] == pytest.approx(262.5)
    assert (K[0, 2], K[1, 2]) == (159.5, 119.5)
    with pytest.raises(ValueError, match="at least 8x8"):
        intrinsics_for((4, 4))


@pytest.mark.parametrize("style", STYLES)
def test_sequence_moves_smoothly_in_one_room(style):
    frames = list(synthetic_sequence(2, 6, SIZE, fps=30.0, style=style))
    positions = np.array([f.pose.position for f in frames])
    steps = np.linalg.norm(np.diff(positions, axis=0), axis=1)
    assert np.all(steps > 0) and np.all(steps < 0.05)  # walking speed at 30 Hz
    yaws = np.array([f.pose.yaw for f in frames])
    assert np.all(np.abs(np.diff(yaws)) < np.radians(2))
    assert {WALL} <= set(np.unique(np.concatenate([f.labels.ravel() for f in frames])))
    assert all(np.array_equal(f.K, frames[0].K) for f in frames)  # one camera throughout


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="seed"):
        synthetic_frame(-1, SIZE)
    with pytest.raises(ValueError, match="num_frames"):
        next(synthetic_sequence(0, 0, SIZE))


def test_cli_writes_a_folder_dataset_and_a_bag(tmp_path):
    from sgnet_ros.bags.io import DEFAULT_TOPICS, bag_topics, read_messages
    from sgnet_ros.training.datasets import list_folder, read_folder_frame

    assert synth_main(["folder", str(tmp_path / "set"), "--frames", "2", "--seed", "10",
                       "--size", "24x32"]) == 0
    names = list_folder(tmp_path / "set")
    rgb, depth, labels, K = read_folder_frame(tmp_path / "set", names[0])
    frame = synthetic_frame(10, (24, 32))
    np.testing.assert_array_equal(rgb, frame.rgb)
    np.testing.assert_array_equal(labels, frame.labels)
    np.testing.assert_allclose(depth, frame.depth_m, atol=6e-4)
    np.testing.assert_allclose(K, frame.K)

    assert synth_main(["bag", str(tmp_path / "bag"), "--frames", "3", "--size", "24x32"]) == 0
    topics = bag_topics(tmp_path / "bag")
    for topic in (DEFAULT_TOPICS.rgb, DEFAULT_TOPICS.depth, DEFAULT_TOPICS.camera_info,
                  DEFAULT_TOPICS.labels):
        assert topics[topic][1] == 3
    stamps = [m.timestamp_ns for m in read_messages(tmp_path / "bag", [DEFAULT_TOPICS.rgb])]
    assert np.diff(stamps).tolist() == [33_333_333, 33_333_333]

    assert synth_main(["folder", str(tmp_path / "basic"), "--frames", "1", "--seed", "10",
                       "--size", "24x32", "--style", "basic"]) == 0
    rgb, _, labels, _ = read_folder_frame(tmp_path / "basic", list_folder(tmp_path / "basic")[0])
    np.testing.assert_array_equal(rgb, synthetic_frame(10, (24, 32), style="basic").rgb)


def test_cli_writes_a_contact_sheet_and_its_render_time(tmp_path, capsys):
    import cv2

    sheet = tmp_path / "sheet.png"
    assert synth_main(["sheet", str(sheet), "--frames", "3", "--size", "24x32"]) == 0
    image = cv2.imread(str(sheet))
    assert image.shape == (2 * (24 + 2), 2 * (3 * 32 + 2), 3)  # 2 triptychs a row, 2 rows
    frame = synthetic_frame(0, (24, 32))
    np.testing.assert_array_equal(image[:24, :32, ::-1], frame.rgb)
    assert "rendering" in capsys.readouterr().out
