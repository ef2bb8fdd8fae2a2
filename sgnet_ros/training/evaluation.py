"""`sgnet-eval`: per-class IoU and mIoU of an ONNX model, measured through the node's pipeline.

    sgnet-eval models/sgnet_small_synthetic_hha.onnx --synthetic-seeds 2000000:2000200
    sgnet-eval model.onnx --folder /data/nyudv2 --split test --one-based-labels
    sgnet-eval models/sgnet_small_synthetic_hha.onnx --real test/data/real --real-previews out/real
    sgnet-eval model.onnx --synthetic-seeds 2000000:2000010 --previews ../shared/data/rgbd/redwood \
        --preview-out models/preview

Frames go through `SegmentationPipeline.process` (spatial encoding, ONNX Runtime, label
resizing to the camera resolution), so the score is that of what the robot runs. The mean
is over the classes the model was trained on (contract extra `trained_classes`) unless
--all-classes; predictions the pipeline leaves unlabeled count as errors.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from tqdm import tqdm

from sgnet_ros.training import real_evaluation
from sgnet_ros.training.metrics import (
    ConfusionMatrix,
    iou_table,
    mean_iou,
    per_class_iou,
    pixel_accuracy,
)
from sgnet_ros.training.synthetic import STYLES, class_ids, is_pooled
from sgnet_ros.training.synthetic_cli import parse_size
from sgnet_ros.training.train import parse_seed_range


def synthetic_frames(
    seeds: range, size: tuple[int, int], style: str = "realistic"
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    from sgnet_ros.training.synthetic import synthetic_frame

    for seed in seeds:
        frame = synthetic_frame(seed, size, style=style)
        yield frame.rgb, frame.depth_m, frame.labels, frame.K


def folder_frames(
    root: Path, split: str | None, one_based_labels: bool
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    from sgnet_ros.training.datasets import list_folder, read_folder_frame

    for name in list_folder(root, split):
        yield read_folder_frame(root, name, one_based_labels)


def evaluate_pipeline(pipeline, frames, num_frames: int | None = None) -> np.ndarray:
    """Confusion matrix (K+1 square; the last row/column is 'left unlabeled') over frames."""
    confusion = ConfusionMatrix(pipeline.contract.num_classes + 1)
    for rgb, depth_m, labels, K in tqdm(frames, total=num_frames, desc="evaluating", unit="frame"):
        confusion.update(real_evaluation.predicted_labels(pipeline, rgb, depth_m, K), labels)
    return confusion.matrix


def save_previews(pipeline, frames_dir: Path, prefix: Path, K: np.ndarray) -> list[Path]:
    """Colour | overlay images for every color_N.jpg + depth_N.png (uint16 mm) pair."""
    import cv2

    written = []
    for colour_path in sorted(frames_dir.glob("color_*.jpg")):
        index = colour_path.stem.split("_", 1)[1]
        depth_path = frames_dir / f"depth_{index}.png"
        bgr = cv2.imread(str(colour_path), cv2.IMREAD_COLOR)
        depth = cv2.imread(str(depth_path), cv2.IMREAD_UNCHANGED)
        if bgr is None or depth is None or depth.dtype != np.uint16:
            raise ValueError(f"{colour_path} needs a readable uint16 millimetre {depth_path}")
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        pipeline.reset()
        overlay = pipeline.process(rgb, depth.astype(np.float32) / 1000.0, K).outputs.overlay
        path = prefix.with_name(f"{prefix.name}_{index}.png")
        path.parent.mkdir(parents=True, exist_ok=True)
        side_by_side = np.concatenate([rgb, overlay], axis=1)
        cv2.imwrite(str(path), cv2.cvtColor(side_by_side, cv2.COLOR_RGB2BGR))
        written.append(path)
    if not written:
        raise ValueError(f"no color_*.jpg frames in {frames_dir}")
    return written


def parse_intrinsics(text: str) -> np.ndarray:
    """'fx,fy,cx,cy' -> 3x3 K."""
    try:
        fx, fy, cx, cy = (float(v) for v in text.split(","))
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"intrinsics must be fx,fy,cx,cy, got {text!r}") from error
    return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])


def model_style(contract, requested: str | None = None) -> str:
    """The synthetic style to evaluate on: the one asked for, else the one the model was
    trained on (contract extra `synthetic_style`); models from before styles existed: basic.
    A model trained on pooled styles ("basic+realistic") needs the choice made explicitly."""
    if requested is not None:
        return requested
    trained = (contract.extra or {}).get("synthetic_style", "basic")
    if is_pooled(trained):
        raise SystemExit(f"sgnet-eval: the model was trained on {trained} rooms: choose one "
                         "with --style")
    return trained


def evaluation_classes(contract, all_classes: bool, style: str | None = None) -> list[int]:
    """The classes a mean runs over: the model's trained ones (all with `all_classes`); on
    synthetic frames of `style`, only those the style draws: a model trained on pooled
    styles is not marked down on basic rooms for classes that basic rooms never show."""
    trained = contract.extra.get("trained_classes") if contract.extra else None
    if all_classes or not trained:
        return list(range(contract.num_classes))
    drawn = set(class_ids(style)) if style is not None else None
    return [int(c) for c in trained if drawn is None or int(c) in drawn]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sgnet-eval", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("model", type=Path, help="ONNX model with the sgnet contract metadata")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--synthetic-seeds",
        type=parse_seed_range,
        help="held-out synthetic frames START:STOP (never the training seeds)",
    )
    source.add_argument("--folder", type=Path,
                        help="folder dataset root (sgnet_ros.training.datasets)")
    source.add_argument("--real", type=Path,
                        help="hand-annotated real frames, one folder each (test/data/real)")
    parser.add_argument("--split", default=None, help="folder split file name, e.g. test")
    parser.add_argument("--one-based-labels", action="store_true")
    parser.add_argument(
        "--size", type=parse_size, default=(240, 320), help="synthetic camera HEIGHTxWIDTH"
    )
    parser.add_argument("--style", choices=STYLES, default=None,
                        help="synthetic style (default: the one the model was trained on)")
    parser.add_argument(
        "--all-classes",
        action="store_true",
        help="average over every class, not only the trained ones",
    )
    parser.add_argument("--json", type=Path, help="also write the scores as JSON")
    parser.add_argument(
        "--real-previews",
        type=Path,
        help="with --real: write <frame>.png (colour | prediction | annotation) here",
    )
    parser.add_argument(
        "--previews",
        type=Path,
        help="also segment the color_N.jpg/depth_N.png frames of this folder",
    )
    parser.add_argument(
        "--preview-out",
        type=Path,
        default=Path("models/preview"),
        help="preview path prefix: PREFIX_N.png (colour | overlay)",
    )
    parser.add_argument(
        "--preview-intrinsics",
        type=parse_intrinsics,
        default=parse_intrinsics("525,525,319.5,239.5"),
        help="fx,fy,cx,cy of the preview frames (default: Redwood)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    from sgnet_ros.pipeline.pipeline import PipelineConfig, SegmentationPipeline

    args = build_parser().parse_args(argv)
    if not args.model.is_file():
        raise SystemExit(f"sgnet-eval: model {args.model} does not exist")
    pipeline = SegmentationPipeline.from_model_path(args.model, PipelineConfig(device="cpu"))
    if args.real is not None:
        trained = evaluation_classes(pipeline.contract, args.all_classes)
        return real_evaluation.run(args, pipeline, trained)
    if args.synthetic_seeds is not None:
        style = model_style(pipeline.contract, args.style)
        frames = synthetic_frames(args.synthetic_seeds, args.size, style)
        count = len(args.synthetic_seeds)
    else:
        style = None
        frames, count = folder_frames(args.folder, args.split, args.one_based_labels), None
    write_results(args, pipeline, evaluate_pipeline(pipeline, frames, count), style)
    return 0


def write_results(args: argparse.Namespace, pipeline, matrix: np.ndarray,
                  style: str | None = None) -> None:
    """The IoU table, --json and --previews of a confusion matrix over the chosen frames
    (synthetic frames of `style`, or a folder dataset when None)."""
    names = (*pipeline.contract.class_names, "(unlabeled)")
    classes = evaluation_classes(pipeline.contract, args.all_classes, style)
    print(iou_table(matrix, names, classes))
    if args.json:
        iou = per_class_iou(matrix)
        args.json.write_text(
            json.dumps(
                {
                    "model": str(args.model),
                    "classes": classes,
                    "iou": {names[c]: None if np.isnan(iou[c]) else float(iou[c]) for c in classes},
                    "miou": mean_iou(matrix, classes),
                    "pixel_accuracy": pixel_accuracy(matrix),
                },
                indent=2,
            )
        )
    if args.previews:
        for path in save_previews(
            pipeline, args.previews, args.preview_out, args.preview_intrinsics
        ):
            print(f"wrote {path}")


if __name__ == "__main__":
    raise SystemExit(main())
