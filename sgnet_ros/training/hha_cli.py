"""sgnet-hha: depth images -> HHA PNGs (R = disparity, G = height, B = angle).

It encodes through the same SpatialEncoder as the ROS node, so HHA precomputed for training
is exactly what the node feeds the model. One file in and one out, or a folder in and a
folder out (a whole dataset, with a progress bar).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import torch
import yaml
from tqdm import tqdm

from sgnet_ros.pipeline.spatial.encoding import SpatialEncoder, depth_to_metres
from sgnet_ros.pipeline.spatial.hha import HHAOptions

DEPTH_SUFFIXES = (".png", ".npy")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sgnet-hha",
        description=(
            "Encode depth images as HHA PNGs (R = disparity, G = height, B = angle) with the "
            "node's encoder. DEPTH and OUTPUT are files, or folders for a whole dataset."
        ),
    )
    parser.add_argument("depth", type=Path, help="depth PNG (integer units) or .npy, or a folder")
    parser.add_argument("output", type=Path, help="HHA PNG to write, or a folder")
    parser.add_argument(
        "--raw",
        type=Path,
        help="raw sensor depth (file or folder, matched by name): its zeros mark the pixels "
        "the sensor missed when DEPTH is hole-filled (as in NYUDv2)",
    )
    parser.add_argument(
        "--depth-scale",
        type=float,
        default=0.001,
        help="metres per unit of integer depth images (default 0.001: millimetres; "
        "NYUDv2 0.1 mm PNGs: 0.0001); floating-point .npy files are metres",
    )
    camera = parser.add_argument_group("camera matrix (either the four numbers or a YAML file)")
    for name in ("fx", "fy", "cx", "cy"):
        camera.add_argument(f"--{name}", type=float, help="pixels")
    camera.add_argument(
        "--camera-info",
        type=Path,
        help="camera_info YAML (camera_calibration_parsers 'camera_matrix: {data: [...]}' or "
        "a CameraInfo message with 'k: [...]')",
    )
    camera.add_argument(
        "--one-based-pixels",
        action="store_true",
        help="cx, cy are in 1-based pixel coordinates (MATLAB, NYUDv2 toolbox); ROS is 0-based",
    )
    parser.add_argument(
        "--device",
        default="auto",
        help="torch device, or 'auto' for CUDA when available (same output either way)",
    )
    hha = parser.add_argument_group(
        "HHA options: the fields of sgnet_ros.pipeline.spatial.hha.HHAOptions "
        "(defaults reproduce the reference)"
    )
    for field in dataclasses.fields(HHAOptions):
        flag = "--" + field.name.replace("_", "-")
        if field.name == "gravity_vector":
            hha.add_argument(flag, type=float, nargs=3, default=field.default, metavar="X")
        elif isinstance(field.default, str):
            hha.add_argument(flag, default=field.default, help=f"default {field.default}")
        else:
            hha.add_argument(
                flag, type=float, default=field.default, help=f"default {field.default}"
            )
    return parser


def camera_matrix(args: argparse.Namespace) -> np.ndarray:
    """The 0-based 3x3 camera matrix from --fx/--fy/--cx/--cy or --camera-info."""
    numbers = [args.fx, args.fy, args.cx, args.cy]
    if args.camera_info is not None:
        if any(number is not None for number in numbers):
            raise ValueError("give either --camera-info or --fx/--fy/--cx/--cy, not both")
        matrix = read_camera_info(args.camera_info)
    elif all(number is not None for number in numbers):
        fx, fy, cx, cy = numbers
        matrix = np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])
    else:
        raise ValueError("the camera matrix is needed: --fx --fy --cx --cy or --camera-info")
    if args.one_based_pixels:
        matrix[0, 2] -= 1.0
        matrix[1, 2] -= 1.0
    return matrix


def read_camera_info(path: Path) -> np.ndarray:
    """The 3x3 camera matrix of a camera_info YAML file."""
    content = yaml.safe_load(path.read_text())
    if not isinstance(content, dict):
        raise ValueError(f"{path}: not a camera_info YAML mapping")
    if isinstance(content.get("camera_matrix"), dict):
        numbers = content["camera_matrix"].get("data")
    else:
        numbers = content.get("k", content.get("K"))
    if numbers is None or len(numbers) != 9:
        raise ValueError(f"{path}: no 9-number 'camera_matrix.data' or 'k' entry")
    return np.asarray(numbers, dtype=np.float64).reshape(3, 3)


def read_depth(path: Path, depth_scale: float) -> torch.Tensor:
    """Depth in metres: integer PNG/.npy times depth_scale, floating-point .npy as is."""
    if path.suffix == ".npy":
        image = np.load(path)
    else:
        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if image is None:
            raise ValueError(f"{path}: cannot read the image")
    if image.ndim != 2:
        raise ValueError(f"{path}: depth must be single-channel, got shape {image.shape}")
    return depth_to_metres(image, depth_scale)


def write_hha(path: Path, hha: torch.Tensor) -> None:
    """Writes (3, H, W) HHA as a PNG whose R, G, B are disparity, height, angle."""
    image = hha.to("cpu", torch.uint8).permute(1, 2, 0).numpy()[:, :, ::-1]
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), np.ascontiguousarray(image)):
        raise ValueError(f"{path}: cannot write the PNG")


def jobs(args: argparse.Namespace) -> list[tuple[Path, Path | None, Path]]:
    """(depth, raw or None, output) per image, for a file or a whole folder."""
    if not args.depth.exists():
        raise ValueError(f"{args.depth} does not exist")
    if args.depth.is_file():
        if args.output.is_dir():
            raise ValueError(f"{args.output} is a folder; give an output file for one image")
        return [(args.depth, args.raw, args.output)]
    if args.raw is not None and not args.raw.is_dir():
        raise ValueError(f"with a depth folder, --raw must be a folder too: {args.raw}")
    depths = sorted(path for path in args.depth.iterdir() if path.suffix in DEPTH_SUFFIXES)
    if not depths:
        raise ValueError(f"{args.depth} holds no .png or .npy depth images")
    listed = []
    for depth in depths:
        raw = None
        if args.raw is not None:
            raw = args.raw / depth.name
            if not raw.is_file():
                raise ValueError(f"no raw depth {raw} for {depth}")
        listed.append((depth, raw, args.output / f"{depth.stem}.png"))
    return listed


def hha_options(args: argparse.Namespace) -> HHAOptions:
    """The HHAOptions of the command line's --<field> flags."""
    return HHAOptions(
        **{
            field.name: tuple(value) if field.name == "gravity_vector" else value
            for field in dataclasses.fields(HHAOptions)
            for value in [getattr(args, field.name)]
        }
    )


def encode_files(
    work: Sequence[tuple[Path, Path | None, Path]],
    matrix: np.ndarray,
    options: HHAOptions,
    device: str,
    depth_scale: float,
    progress: bool = True,
) -> None:
    """Encode and write every (depth, raw, output) job in order, with one encoder."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    encoder = SpatialEncoder("hha", device=device, hha=options)
    for depth_path, raw_path, output_path in tqdm(
        work, desc="HHA", unit="image", disable=len(work) == 1 or not progress
    ):
        depth = read_depth(depth_path, depth_scale)
        missing = None
        if raw_path is not None:
            missing = read_depth(raw_path, depth_scale) == 0
        write_hha(output_path, encoder.encode(depth, matrix, missing=missing))


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        matrix, options = camera_matrix(args), hha_options(args)
        encode_files(jobs(args), matrix, options, args.device, args.depth_scale)
    except ValueError as error:
        parser.exit(2, f"sgnet-hha: error: {error}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
