"""`sgnet-synth`: write synthetic RGB-D frames as a dataset folder, a rosbag2 bag or a sheet.

    sgnet-synth folder out/synth --frames 2000 --seed 0 --size 240x320
    sgnet-synth bag out/room_bag --frames 45 --seed 7 --size 480x640
    sgnet-synth sheet models/synthetic_examples.png --frames 12 --size 120x160

A folder uses the layout `sgnet_ros.training.datasets.FolderDataset` reads (rgb/, depth/, labels/,
intrinsics/, one seed per frame); a bag holds one smooth camera move through one room; a sheet
shows rgb | depth | labels side by side. `--style` picks the generator (realistic, basic).
Every command prints the rendering time per frame (one process; encoding and writing apart).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from tqdm import tqdm

from sgnet_ros.training.synthetic import (
    DEFAULT_STYLE,
    STYLES,
    SensorNoise,
    SyntheticFrame,
    synthetic_frame,
    synthetic_sequence,
)


def parse_size(text: str) -> tuple[int, int]:
    """'240x320' -> (240, 320): height x width."""
    try:
        height, width = (int(part) for part in text.lower().split("x"))
    except ValueError as error:
        raise argparse.ArgumentTypeError(
            f"size must be HEIGHTxWIDTH, e.g. 240x320, got {text!r}"
        ) from error
    if height < 8 or width < 8:
        raise argparse.ArgumentTypeError(f"size must be at least 8x8, got {text!r}")
    return height, width


class RenderClock:
    """Wall-clock seconds spent producing frames, apart from encoding and writing them."""

    def __init__(self) -> None:
        self.seconds, self.frames = 0.0, 0

    def timed(self, frames: Iterable[SyntheticFrame]) -> Iterator[SyntheticFrame]:
        iterator = iter(frames)
        while True:
            started = time.perf_counter()
            frame = next(iterator, None)
            self.seconds += time.perf_counter() - started
            if frame is None:
                return
            self.frames += 1
            yield frame


CLOCK = RenderClock()


def sample_bag_noise() -> SensorNoise:
    """Milder artefacts than the training default, so a committed bag compresses to a few MB."""
    return SensorNoise(depth_noise=0.5, rgb_noise=0.0, dropout=0.0005)


def write_folder(
    root: Path,
    seeds: range,
    size: tuple[int, int],
    noise: SensorNoise | None = None,
    style: str = DEFAULT_STYLE,
) -> int:
    """Render one frame per seed into the dataset folder layout; returns the frame count."""
    from sgnet_ros.training.datasets import write_folder_frame

    frames = CLOCK.timed(synthetic_frame(seed, size, noise, style) for seed in seeds)
    for seed, frame in zip(seeds, tqdm(frames, total=len(seeds), desc="synthetic frames",
                                       unit="frame"), strict=True):
        write_folder_frame(root, f"{seed:06d}", frame.rgb, frame.depth_m, frame.labels, frame.K)
    return len(seeds)


def write_bag(
    path: Path,
    seed: int,
    num_frames: int,
    size: tuple[int, int],
    noise: SensorNoise | None = None,
    fps: float = 30.0,
    style: str = DEFAULT_STYLE,
) -> int:
    """One moving-camera sequence with ground-truth labels as a rosbag2 bag."""
    from sgnet_ros.bags.io import RGBDFrame, write_rgbd_bag

    start_ns = 1_700_000_000 * 1_000_000_000
    period_ns = int(round(1e9 / fps))
    frames = (
        RGBDFrame(
            stamp_ns=start_ns + index * period_ns,
            rgb=frame.rgb,
            depth_m=frame.depth_m,
            K=frame.K,
            labels=frame.labels,
        )
        for index, frame in enumerate(
            tqdm(
                CLOCK.timed(synthetic_sequence(seed, num_frames, size, noise, fps=fps,
                                               style=style)),
                total=num_frames,
                desc="bag frames",
                unit="frame",
            )
        )
    )
    return write_rgbd_bag(path, frames)


def write_sheet(path: Path, seeds: range, size: tuple[int, int], style: str = DEFAULT_STYLE) -> int:
    """A contact sheet (rgb | depth | labels) of one frame per seed, two per row."""
    from sgnet_ros.training.synthetic.preview import write_contact_sheet

    frames = CLOCK.timed(synthetic_frame(seed, size, style=style) for seed in seeds)
    write_contact_sheet(path, list(frames))
    return len(seeds)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sgnet-synth",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="output", required=True)
    folder = sub.add_parser("folder", help="a dataset folder, one random room per frame")
    folder.add_argument("path", type=Path)
    folder.add_argument("--frames", type=int, default=1000)
    folder.add_argument("--seed", type=int, default=0, help="first seed; frame i uses seed+i")
    folder.add_argument("--size", type=parse_size, default=(240, 320), help="HEIGHTxWIDTH")
    bag = sub.add_parser("bag", help="a rosbag2 bag of one moving camera in one room")
    bag.add_argument("path", type=Path)
    bag.add_argument("--frames", type=int, default=45)
    bag.add_argument("--seed", type=int, default=0)
    bag.add_argument("--size", type=parse_size, default=(480, 640), help="HEIGHTxWIDTH")
    bag.add_argument("--fps", type=float, default=30.0)
    bag.add_argument(
        "--mild-noise",
        action="store_true",
        help="weaker sensor noise, for small committed sample bags",
    )
    sheet = sub.add_parser("sheet", help="a PNG contact sheet: rgb | depth | labels per frame")
    sheet.add_argument("path", type=Path)
    sheet.add_argument("--frames", type=int, default=12)
    sheet.add_argument("--seed", type=int, default=0, help="first seed; frame i uses seed+i")
    sheet.add_argument("--size", type=parse_size, default=(120, 160), help="HEIGHTxWIDTH")
    for command in (folder, bag, sheet):
        command.add_argument("--style", choices=STYLES, default=DEFAULT_STYLE,
                             help="generator style (default %(default)s)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.frames < 1:
        raise SystemExit(f"sgnet-synth: --frames must be positive, got {args.frames}")
    if args.seed < 0:
        raise SystemExit(f"sgnet-synth: --seed must be non-negative, got {args.seed}")
    seeds = range(args.seed, args.seed + args.frames)
    if args.output == "folder":
        count = write_folder(args.path, seeds, args.size, style=args.style)
    elif args.output == "sheet":
        count = write_sheet(args.path, seeds, args.size, args.style)
    else:
        noise = sample_bag_noise() if args.mild_noise else None
        count = write_bag(args.path, args.seed, args.frames, args.size, noise, args.fps,
                          args.style)
    seconds = CLOCK.seconds / max(CLOCK.frames, 1)
    files = [args.path] if args.path.is_file() else Path(args.path).rglob("*")
    size_mb = sum(f.stat().st_size for f in files if f.is_file()) / 1e6
    print(f"wrote {count} {args.style} frames to {args.path} ({size_mb:.1f} MB); "
          f"rendering {seconds:.3f} s per {args.size[0]}x{args.size[1]} frame (one process)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
