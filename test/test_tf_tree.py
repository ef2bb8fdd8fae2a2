"""The /tf buffer used where tf2_ros is missing: chains, interpolation, no extrapolation."""

import math

import numpy as np
import pytest

from sgnet_ros.ros.tf_gravity import Edge, TransformTree, TransformUnavailableError

SECOND = 1_000_000_000


def yaw(degrees: float) -> np.ndarray:
    half = math.radians(degrees) / 2
    return np.array([0.0, 0.0, math.sin(half), math.cos(half)])


@pytest.fixture
def tree() -> TransformTree:
    tree = TransformTree()
    tree.add("base_link", Edge("odom", 1 * SECOND, np.zeros(3), yaw(0)), static=False)
    tree.add("base_link", Edge("odom", 3 * SECOND, np.array([2.0, 0, 0]), yaw(90)), static=False)
    tree.add("camera", Edge("base_link", 0, np.array([0.0, 0.0, 1.0]), yaw(0)), static=True)
    return tree


def test_a_dynamic_edge_is_interpolated_at_the_stamp_and_chained_with_a_static_one(tree):
    rotation, translation = tree.lookup("odom", "camera", 2 * SECOND)
    np.testing.assert_allclose(translation, [1.0, 0.0, 1.0], atol=1e-12)
    angle = math.degrees(math.atan2(rotation[1, 0], rotation[0, 0]))
    assert angle == pytest.approx(45.0)


def test_the_inverse_lookup_undoes_the_forward_one(tree):
    forward = tree.lookup("odom", "camera", 2 * SECOND)
    backward = tree.lookup("camera", "odom", 2 * SECOND)
    point = np.array([0.3, -0.2, 0.5])
    moved = forward[0] @ point + forward[1]
    np.testing.assert_allclose(backward[0] @ moved + backward[1], point, atol=1e-12)


@pytest.mark.parametrize("stamp, words", [(4 * SECOND, "no extrapolation"),
                                          (SECOND // 2, "no extrapolation")])
def test_a_stamp_outside_the_known_window_is_refused(tree, stamp, words):
    with pytest.raises(TransformUnavailableError, match=words):
        tree.lookup("odom", "camera", stamp)


def test_frames_in_separate_trees_are_refused(tree):
    tree.add("other_camera", Edge("map", 0, np.zeros(3), yaw(0)), static=True)
    with pytest.raises(TransformUnavailableError, match="not connected"):
        tree.lookup("other_camera", "camera", 2 * SECOND)
