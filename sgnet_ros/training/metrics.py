"""Semantic segmentation scores: confusion matrix, per-class IoU, mean IoU and their table.

Rows of the confusion matrix are ground truth, columns predictions. IoU of class c is
C[c,c] / (row c + column c - C[c,c]); a class that is neither in the ground truth nor
predicted has no IoU (NaN) and is left out of the mean.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

IGNORE_INDEX = 255


def confusion_matrix(
    prediction: np.ndarray, target: np.ndarray, num_classes: int, ignore_index: int = IGNORE_INDEX
) -> np.ndarray:
    """(K, K) int64 counts; target pixels equal to `ignore_index` are skipped."""
    prediction, target = np.asarray(prediction), np.asarray(target)
    if prediction.shape != target.shape:
        raise ValueError(f"prediction {prediction.shape} and target {target.shape} differ")
    if num_classes < 1:
        raise ValueError(f"num_classes must be positive, got {num_classes}")
    keep = target != ignore_index
    target, prediction = target[keep].astype(np.int64), prediction[keep].astype(np.int64)
    for name, values in (("target", target), ("prediction", prediction)):
        if values.size and (values.min() < 0 or values.max() >= num_classes):
            raise ValueError(
                f"{name} holds class ids outside 0..{num_classes - 1} "
                f"(found {values.min()}..{values.max()})"
            )
    counts = np.bincount(target * num_classes + prediction, minlength=num_classes**2)
    return counts.reshape(num_classes, num_classes)


class ConfusionMatrix:
    """Accumulates a confusion matrix over many frames."""

    def __init__(self, num_classes: int, ignore_index: int = IGNORE_INDEX) -> None:
        self.num_classes, self.ignore_index = num_classes, ignore_index
        self.matrix = np.zeros((num_classes, num_classes), dtype=np.int64)

    def update(self, prediction: np.ndarray, target: np.ndarray) -> None:
        self.matrix += confusion_matrix(prediction, target, self.num_classes, self.ignore_index)


def per_class_iou(matrix: np.ndarray) -> np.ndarray:
    """IoU per class; NaN for classes absent from both ground truth and prediction."""
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"a confusion matrix must be square, got shape {matrix.shape}")
    intersection = np.diag(matrix)
    union = matrix.sum(axis=0) + matrix.sum(axis=1) - intersection
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, intersection / union, np.nan)


def mean_iou(matrix: np.ndarray, classes: Sequence[int] | None = None) -> float:
    """Mean of the defined IoUs, over `classes` only when given (e.g. the trained classes)."""
    iou = per_class_iou(matrix)
    if classes is not None:
        iou = iou[list(classes)]
    defined = iou[~np.isnan(iou)]
    return float(defined.mean()) if defined.size else float("nan")


def pixel_accuracy(matrix: np.ndarray) -> float:
    """Fraction of counted pixels whose prediction equals the ground truth."""
    matrix = np.asarray(matrix)
    total = matrix.sum()
    return float(np.trace(matrix) / total) if total else float("nan")


def iou_table(
    matrix: np.ndarray, class_names: Sequence[str], classes: Sequence[int] | None = None
) -> str:
    """A markdown table: class id, name, IoU, ground-truth pixel share; then mIoU and accuracy."""
    iou = per_class_iou(matrix)
    if len(class_names) < len(iou):
        raise ValueError(f"{len(class_names)} class names for {len(iou)} classes")
    shown = (
        list(classes)
        if classes is not None
        else [c for c in range(len(iou)) if not np.isnan(iou[c])]
    )
    ground_truth = np.asarray(matrix).sum(axis=1)
    total = max(int(ground_truth.sum()), 1)
    lines = ["| id | class | IoU | pixels |", "|---:|---|---:|---:|"]
    for c in shown:
        value = "n/a" if np.isnan(iou[c]) else f"{iou[c]:.3f}"
        lines.append(f"| {c} | {class_names[c]} | {value} | {100 * ground_truth[c] / total:.1f}% |")
    lines.append(f"| | **mIoU** | **{mean_iou(matrix, shown):.3f}** | |")
    lines.append(f"| | pixel accuracy | {pixel_accuracy(matrix):.3f} | |")
    return "\n".join(lines)
