"""`sgnet-eval MODEL --real test/data/real`: scores on hand-annotated real RGB-D frames.

Each frame goes through the node's `SegmentationPipeline` with its own camera K. Only
annotated pixels count (255 = unlabeled). The mean IoU is over the model's trained classes
(contract extra `trained_classes`, else all) that the annotations contain: a trained class
nobody annotated has no ground truth to score. Annotated classes the model was not trained on
(curtain, picture, ...) are listed and count in pixel accuracy, not in the mean.
"""

from __future__ import annotations

import argparse
import json

import cv2
import numpy as np

from sgnet_ros.training.annotations import (
    UNLABELED,
    RealFrame,
    label_colours,
    list_real_frames,
    read_real_frame,
)
from sgnet_ros.training.metrics import ConfusionMatrix, mean_iou, per_class_iou, pixel_accuracy


def predicted_labels(pipeline, rgb: np.ndarray, depth_m: np.ndarray, K: np.ndarray) -> np.ndarray:
    """The pipeline's label image for one independent frame; anything it leaves unlabeled
    becomes class `num_classes` (the confusion matrix's 'left unlabeled' column)."""
    num_classes = pipeline.contract.num_classes
    pipeline.reset()  # independent frames: no temporal state carried between them
    prediction = pipeline.process(rgb, depth_m, K).outputs.labels.astype(np.int64)
    prediction[prediction >= num_classes] = num_classes
    return prediction


def frame_confusion(pipeline, frame: RealFrame) -> tuple[np.ndarray, np.ndarray]:
    """(prediction, (K+1)-square confusion matrix over the frame's annotated pixels)."""
    prediction = predicted_labels(pipeline, frame.rgb, frame.depth_m, frame.K)
    confusion = ConfusionMatrix(pipeline.contract.num_classes + 1, ignore_index=UNLABELED)
    confusion.update(prediction, frame.labels)
    return prediction, confusion.matrix


def scored_classes(matrix: np.ndarray, trained: list[int]) -> tuple[list[int], list[int]]:
    """(annotated trained classes = the mean's classes, annotated untrained classes)."""
    annotated = [int(c) for c in np.nonzero(matrix.sum(axis=1))[0]]
    return [c for c in annotated if c in trained], [c for c in annotated if c not in trained]


def real_table(matrix: np.ndarray, names, in_mean: list[int], untrained: list[int],
               frame_accuracy: dict[str, tuple[int, float]]) -> str:
    """Markdown: per-class IoU of annotated classes, mIoU, pixel accuracy, then per frame."""
    iou = per_class_iou(matrix)
    annotated = matrix.sum(axis=1)
    total = max(int(annotated.sum()), 1)
    lines = ["| id | class | IoU | annotated pixels | in mean |", "|---:|---|---:|---:|:---:|"]
    for c in sorted(in_mean + untrained):
        lines.append(f"| {c} | {names[c]} | {iou[c]:.3f} | {100 * annotated[c] / total:.1f}% "
                     f"| {'yes' if c in in_mean else 'no (untrained)'} |")
    lines.append(f"| | **mIoU** ({len(in_mean)} trained classes) "
                 f"| **{mean_iou(matrix, in_mean):.3f}** | | |")
    lines.append(f"| | pixel accuracy (all annotated pixels) | {pixel_accuracy(matrix):.3f} | | |")
    lines.append(f"| | pixel accuracy (trained-class pixels) "
                 f"| {trained_pixel_accuracy(matrix, in_mean):.3f} | | |")
    lines += ["", "| frame | annotated pixels | pixel accuracy |", "|---|---:|---:|"]
    for name, (pixels, accuracy) in frame_accuracy.items():
        lines.append(f"| {name} | {pixels} | {accuracy:.3f} |")
    return "\n".join(lines)


def trained_pixel_accuracy(matrix: np.ndarray, in_mean: list[int]) -> float:
    """Correct fraction of the pixels annotated with a trained class."""
    rows = matrix[in_mean]
    total = rows.sum()
    return float(rows[np.arange(len(in_mean)), in_mean].sum() / total) if total else float("nan")


def preview_image(frame: RealFrame, prediction: np.ndarray, num_classes: int) -> np.ndarray:
    """Colour | prediction over colour | annotation over colour (unlabeled darkened)."""
    def blended(labels: np.ndarray) -> np.ndarray:
        mixed = (0.4 * frame.rgb + 0.6 * label_colours(labels)).astype(np.uint8)
        return np.where((labels == UNLABELED)[..., None], frame.rgb // 3, mixed).astype(np.uint8)

    predicted = np.where(prediction >= num_classes, UNLABELED, prediction).astype(np.uint8)
    return np.concatenate([frame.rgb, blended(predicted), blended(frame.labels)], axis=1)


def run(args: argparse.Namespace, pipeline, trained: list[int]) -> int:
    """Evaluate every frame under args.real; print the tables; --json, --real-previews."""
    names = (*pipeline.contract.class_names, "(unlabeled)")
    num_classes = pipeline.contract.num_classes
    total = np.zeros((num_classes + 1, num_classes + 1), np.int64)
    frame_accuracy: dict[str, tuple[int, float]] = {}
    for folder in list_real_frames(args.real):
        frame = read_real_frame(folder)
        prediction, matrix = frame_confusion(pipeline, frame)
        total += matrix
        frame_accuracy[frame.name] = (int(matrix.sum()), pixel_accuracy(matrix))
        if args.real_previews:
            args.real_previews.mkdir(parents=True, exist_ok=True)
            path = args.real_previews / f"{frame.name}.png"
            image = preview_image(frame, prediction, num_classes)
            cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
            print(f"wrote {path}")
    in_mean, untrained = scored_classes(total, trained)
    print(real_table(total, names, in_mean, untrained, frame_accuracy))
    if args.json:
        iou = per_class_iou(total)
        args.json.write_text(json.dumps({
            "model": str(args.model),
            "frames": str(args.real),
            "classes_in_mean": in_mean,
            "annotated_untrained_classes": untrained,
            "iou": {names[c]: float(iou[c]) for c in sorted(in_mean + untrained)},
            "miou": mean_iou(total, in_mean),
            "pixel_accuracy": pixel_accuracy(total),
            "pixel_accuracy_trained_classes": trained_pixel_accuracy(total, in_mean),
            "per_frame": {name: {"annotated_pixels": pixels, "pixel_accuracy": accuracy}
                          for name, (pixels, accuracy) in frame_accuracy.items()},
        }, indent=2))
    return 0
