"""Confusion matrix, IoU and mIoU against values computed by hand."""

from __future__ import annotations

import numpy as np
import pytest

from sgnet_ros.training.metrics import (
    ConfusionMatrix,
    confusion_matrix,
    iou_table,
    mean_iou,
    per_class_iou,
    pixel_accuracy,
)

TARGET = np.array([[0, 0, 1], [1, 2, 255]])
PREDICTION = np.array([[0, 1, 1], [1, 2, 0]])
# Counted pixels (target, prediction): (0,0) (0,1) (1,1) (1,1) (2,2); the 255 pixel is ignored.
HAND_CONFUSION = np.array([[1, 1, 0, 0],
                           [0, 2, 0, 0],
                           [0, 0, 1, 0],
                           [0, 0, 0, 0]])


def test_confusion_matrix_matches_the_hand_count():
    np.testing.assert_array_equal(confusion_matrix(PREDICTION, TARGET, 4), HAND_CONFUSION)


def test_iou_and_miou_match_the_hand_computation():
    iou = per_class_iou(HAND_CONFUSION)
    # class 0: 1 / (2 + 1 - 1); class 1: 2 / (2 + 3 - 2); class 2: 1 / 1; class 3: absent.
    np.testing.assert_allclose(iou[:3], [0.5, 2 / 3, 1.0])
    assert np.isnan(iou[3])
    assert mean_iou(HAND_CONFUSION) == pytest.approx((0.5 + 2 / 3 + 1.0) / 3)
    assert mean_iou(HAND_CONFUSION, classes=[0, 2]) == pytest.approx(0.75)
    assert pixel_accuracy(HAND_CONFUSION) == pytest.approx(4 / 5)


def test_a_class_predicted_but_absent_scores_zero():
    matrix = confusion_matrix(np.array([3, 0]), np.array([0, 0]), 4)
    iou = per_class_iou(matrix)
    assert iou[3] == 0.0 and iou[0] == pytest.approx(0.5)


def test_accumulation_equals_one_matrix_over_all_pixels():
    rng = np.random.default_rng(0)
    target, prediction = rng.integers(0, 5, (3, 20, 20)), rng.integers(0, 5, (3, 20, 20))
    total = ConfusionMatrix(5)
    for t, p in zip(target, prediction, strict=True):
        total.update(p, t)
    np.testing.assert_array_equal(total.matrix, confusion_matrix(prediction, target, 5))
    assert total.matrix.sum() == target.size


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="differ"):
        confusion_matrix(np.zeros(3), np.zeros(4), 2)
    with pytest.raises(ValueError, match="outside"):
        confusion_matrix(np.array([5]), np.array([0]), 2)
    with pytest.raises(ValueError, match="square"):
        per_class_iou(np.zeros((2, 3)))


def test_table_lists_classes_and_the_mean():
    table = iou_table(HAND_CONFUSION, ["wall", "floor", "bed", "sofa"], classes=[0, 1, 2])
    assert "| 1 | floor | 0.667 |" in table and "**0.722**" in table and "sofa" not in table
