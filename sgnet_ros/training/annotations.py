"""Hand-drawn polygon annotations of real RGB-D frames: rasterise, review, read back.

    python -m sgnet_ros.training.annotations test/data/real --review out/review

A frame folder holds `rgb.png|jpg`, `depth.png` (uint16 mm, 0 = missing), `camera.json`
(fx, fy, cx, cy, width, height), `polygons.json` (the human-readable source) and
`labels.png` (uint8 NYU40 ids, 255 = unlabeled), which is always the rasterisation of
`polygons.json`: regions are painted in order (later ones overwrite earlier ones; class 255
carves out unsure areas), then a band of `boundary_px` pixels around every change of label
becomes 255, because hand-drawn edges are only accurate to a few pixels. With
`"unlabeled_without_depth": true` pixels without depth become 255 last (for frames whose colour
is black where the depth camera saw nothing, e.g. Kinect v2 colour registered to depth).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from sgnet_ros.pipeline.nyu40 import CLASS_NAMES, PALETTE

UNLABELED = 255
GRID_STEP_PX = 40


@dataclass
class RealFrame:
    """One annotated real frame, ready for `SegmentationPipeline.process`."""

    name: str
    rgb: np.ndarray  # (H, W, 3) uint8
    depth_m: np.ndarray  # (H, W) float32 metres, 0 = missing
    labels: np.ndarray  # (H, W) uint8 NYU40 ids, 255 = unlabeled
    K: np.ndarray  # 3x3


def rasterise(spec: dict, size: tuple[int, int], depth: np.ndarray | None = None) -> np.ndarray:
    """(H, W) uint8 labels of a polygons.json document; `size` is (height, width); `depth`
    (0 = missing) is needed when the document asks for unlabeled_without_depth."""
    labels = np.full(size, UNLABELED, np.uint8)
    for index, region in enumerate(spec["regions"]):
        class_id = int(region["class"])
        if not (0 <= class_id < len(CLASS_NAMES) or class_id == UNLABELED):
            raise ValueError(f"region {index} has class {class_id}, not a NYU40 id or 255")
        points = np.round(np.asarray(region["points"], np.float64)).astype(np.int32)
        if points.ndim != 2 or points.shape[0] < 3 or points.shape[1] != 2:
            raise ValueError(f"region {index} needs at least 3 [x, y] points")
        cv2.fillPoly(labels, [points], int(class_id))
    band = int(spec.get("boundary_px", 0))
    if band > 0:
        kernel = np.ones((2 * band + 1, 2 * band + 1), np.uint8)
        changes = cv2.dilate(labels, kernel) != cv2.erode(labels, kernel)
        labels[changes] = UNLABELED
    if spec.get("unlabeled_without_depth"):
        if depth is None or depth.shape != labels.shape:
            raise ValueError("unlabeled_without_depth needs the frame's depth at the label size")
        labels[depth == 0] = UNLABELED
    return labels


def read_colour(folder: Path) -> np.ndarray:
    for path in (folder / "rgb.png", folder / "rgb.jpg"):
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR) if path.is_file() else None
        if bgr is not None:
            return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    raise FileNotFoundError(f"{folder} has no readable rgb.png or rgb.jpg")


def read_camera(folder: Path) -> tuple[np.ndarray, tuple[int, int]]:
    """3x3 K and (height, width) from camera.json."""
    camera = json.loads((folder / "camera.json").read_text())
    K = np.array(
        [[camera["fx"], 0.0, camera["cx"]], [0.0, camera["fy"], camera["cy"]], [0.0, 0.0, 1.0]]
    )
    return K, (int(camera["height"]), int(camera["width"]))


def rasterise_folder(folder: Path) -> np.ndarray:
    """The labels that `folder/polygons.json` describes, at the camera's size."""
    _, size = read_camera(folder)
    depth = cv2.imread(str(folder / "depth.png"), cv2.IMREAD_UNCHANGED)
    return rasterise(json.loads((folder / "polygons.json").read_text()), size, depth)


def list_real_frames(root: Path) -> list[Path]:
    """Frame folders under `root` (those holding a polygons.json), sorted by name."""
    folders = sorted(path.parent for path in Path(root).glob("*/polygons.json"))
    if not folders:
        raise FileNotFoundError(f"no <frame>/polygons.json under {root}")
    return folders


def read_real_frame(folder: Path) -> RealFrame:
    """Colour, depth, committed labels and K of one frame folder, checked for consistency."""
    K, size = read_camera(folder)
    rgb = read_colour(folder)
    depth = cv2.imread(str(folder / "depth.png"), cv2.IMREAD_UNCHANGED)
    labels = cv2.imread(str(folder / "labels.png"), cv2.IMREAD_UNCHANGED)
    if depth is None or depth.dtype != np.uint16:
        raise ValueError(f"{folder / 'depth.png'} must be a uint16 millimetre PNG")
    if labels is None or labels.dtype != np.uint8 or labels.ndim != 2:
        raise ValueError(f"{folder / 'labels.png'} must be a single-channel uint8 PNG")
    for what, shape in (("rgb", rgb.shape[:2]), ("depth", depth.shape), ("labels", labels.shape)):
        if tuple(shape) != size:
            raise ValueError(f"{folder}: {what} is {shape}, camera.json says {size}")
    return RealFrame(folder.name, rgb, depth.astype(np.float32) / 1000.0, labels, K)


def draw_grid(image: np.ndarray, step: int = GRID_STEP_PX) -> np.ndarray:
    """A copy with lines every `step` pixels, numbered with their coordinate."""
    out = image.copy()
    height, width = out.shape[:2]
    for x in range(0, width, step):
        cv2.line(out, (x, 0), (x, height - 1), (255, 255, 0), 1)
        cv2.putText(out, str(x), (x + 1, 9), cv2.FONT_HERSHEY_PLAIN, 0.7, (255, 255, 0), 1)
    for y in range(0, height, step):
        cv2.line(out, (0, y), (width - 1, y), (255, 255, 0), 1)
        cv2.putText(out, str(y), (1, y + 10), cv2.FONT_HERSHEY_PLAIN, 0.7, (255, 255, 0), 1)
    return out


def label_colours(labels: np.ndarray) -> np.ndarray:
    """NYU40 palette colours; unlabeled (255) pixels black."""
    table = np.zeros((256, 3), np.uint8)
    table[: len(PALETTE)] = PALETTE
    return table[labels]


def review_image(rgb: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Colour with grid | labels blended over colour with grid, and the class legend."""
    blended = np.where(
        (labels == UNLABELED)[..., None],
        rgb // 3,
        (0.45 * rgb + 0.55 * label_colours(labels)).astype(np.uint8),
    ).astype(np.uint8)
    for class_id in np.unique(labels[labels != UNLABELED]):
        ys, xs = np.nonzero(labels == class_id)
        centre = (int(np.median(xs)), int(np.median(ys)))
        cv2.putText(blended, f"{class_id} {CLASS_NAMES[class_id]}", centre,
                    cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 3)
        cv2.putText(blended, f"{class_id} {CLASS_NAMES[class_id]}", centre,
                    cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1)
    return np.concatenate([draw_grid(rgb), draw_grid(blended)], axis=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sgnet_ros.training.annotations",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("root", type=Path, help="folder of frame folders (test/data/real)")
    parser.add_argument("--review", type=Path, help="also write <frame>.png review images here")
    args = parser.parse_args(argv)
    for folder in list_real_frames(args.root):
        labels = rasterise_folder(folder)
        cv2.imwrite(str(folder / "labels.png"), labels)
        annotated = np.count_nonzero(labels != UNLABELED) / labels.size
        print(f"{folder}: labels.png, {100 * annotated:.1f}% of pixels annotated")
        if args.review:
            args.review.mkdir(parents=True, exist_ok=True)
            image = review_image(read_colour(folder), labels)
            cv2.imwrite(str(args.review / f"{folder.name}.png"),
                        cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
