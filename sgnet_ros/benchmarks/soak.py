"""Soak: many frames through the pipeline with the resident memory sampled.

    python -m sgnet_ros.benchmarks.soak --frames 10000
    python -m sgnet_ros.benchmarks.soak --size-cycles 200

A node runs for hours; memory that grows per frame ends it. This drives the real pipeline
(every output and cloud built) over the sample bag's frames in a loop and reports RSS after
warm-up and at the end; growth above 5 % of the warm RSS is reported as a failure (exit 1).

--size-cycles alternates a 3840x2160 frame and a 640x480 frame, as the node does them (a
worker thread, MemoryReleaser after each frame): the RSS after the last cycle must stay
within 10 % of the one after the first, and after a few VGA frames it must fall back
towards the VGA level measured before the first 4K frame (both printed).
"""

from __future__ import annotations

import argparse
import math
import sys
import threading
from pathlib import Path

import numpy as np
from tqdm import tqdm

from sgnet_ros.benchmarks.pipeline_benchmark import Frame, load_frames
from sgnet_ros.pipeline.memory import SETTLE_FRAMES, MemoryReleaser
from sgnet_ros.pipeline.pipeline import SegmentationPipeline

GROWTH_LIMIT = 0.05
CYCLE_GROWTH_LIMIT = 0.10
UHD = (2160, 3840)


def rss_mib() -> float:
    """Current resident set size of this process (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def soak(frames_total: int, warmup: int, sample_every: int) -> tuple[float, float, list[float]]:
    """(warm RSS, final RSS, samples) in MiB."""
    frames = load_frames(15)
    pipeline = SegmentationPipeline.from_model_path()
    everything = range(pipeline.contract.num_classes)
    samples, warm = [], None
    for index in tqdm(range(frames_total), desc="soak", unit="frame"):
        rgb, depth, K = frames[index % len(frames)]
        pipeline.process(rgb, depth, K, cloud_classes=everything)
        if index + 1 == warmup:
            warm = rss_mib()
        if index % sample_every == 0:
            samples.append(rss_mib())
    final = rss_mib()
    return (warm if warm is not None else samples[0]), final, samples


def enlarged(frame: Frame, size: tuple[int, int] = UHD) -> Frame:
    """A frame blown up (nearest neighbour) and cropped to `size` (height, width), K to match."""
    rgb, depth, K = frame
    factor = math.ceil(max(size[0] / rgb.shape[0], size[1] / rgb.shape[1]))
    top = (rgb.shape[0] * factor - size[0]) // 2
    left = (rgb.shape[1] * factor - size[1]) // 2

    def blow_up(image: np.ndarray) -> np.ndarray:
        big = image.repeat(factor, axis=0).repeat(factor, axis=1)
        return np.ascontiguousarray(big[top:top + size[0], left:left + size[1]])
    big_K = np.array(K, dtype=np.float64) * [[factor], [factor], [1.0]]
    big_K[0, 2] += (factor - 1) / 2 - left
    big_K[1, 2] += (factor - 1) / 2 - top
    return blow_up(rgb), blow_up(depth), big_K


def size_cycles(cycles: int) -> dict[str, float]:
    """RSS (MiB) at VGA before any 4K frame, after the first and the last 4K+VGA cycle, and
    after SETTLE_FRAMES VGA frames at the end; processing in a worker thread as the node."""
    frames = load_frames(4)
    large = enlarged(frames[0])
    pipeline = SegmentationPipeline.from_model_path()
    everything = range(pipeline.contract.num_classes)
    releaser = MemoryReleaser()
    marks: dict[str, float] = {}

    def run(frame: Frame) -> None:
        rgb, depth, K = frame
        pipeline.process(rgb, depth, K, cloud_classes=everything)
        releaser.after_frame(rgb.shape[0] * rgb.shape[1])

    def work() -> None:
        for index in range(SETTLE_FRAMES):
            run(frames[index % len(frames)])
        marks["VGA before 4K"] = rss_mib()
        for cycle in tqdm(range(cycles), desc="size cycles", unit="cycle"):
            run(large)
            run(frames[cycle % len(frames)])
            if cycle == 0:
                marks["after cycle 1"] = rss_mib()
        marks[f"after cycle {cycles}"] = rss_mib()
        for index in range(SETTLE_FRAMES):
            run(frames[index % len(frames)])
        marks["VGA again"] = rss_mib()

    worker = threading.Thread(target=work, name="soak_worker")
    worker.start()
    worker.join()
    return marks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=10_000)
    parser.add_argument("--warmup", type=int, default=200, help="frames before the baseline")
    parser.add_argument("--sample-every", type=int, default=100)
    parser.add_argument("--size-cycles", type=int, default=0,
                        help="alternate 3840x2160 and 640x480 frames this many times instead")
    args = parser.parse_args(argv)
    if args.size_cycles:
        marks = size_cycles(args.size_cycles)
        plateau = marks["after cycle 1"]
        print("| moment | RSS MiB | vs after cycle 1 |\n|---|---:|---:|")
        for moment, value in marks.items():
            print(f"| {moment} | {value:.1f} | {value / plateau:.3f} |")
        growth = marks[f"after cycle {args.size_cycles}"] / plateau - 1
        print(f"growth over {args.size_cycles} cycles: {100 * growth:+.2f}% "
              f"(limit {100 * CYCLE_GROWTH_LIMIT:.0f}%)")
        return 0 if growth < CYCLE_GROWTH_LIMIT else 1
    warm, final, samples = soak(args.frames, min(args.warmup, args.frames), args.sample_every)
    growth = (final - warm) / warm
    print(f"| frames | RSS after warm-up MiB | RSS at end MiB | growth | limit |\n"
          f"|---:|---:|---:|---:|---:|\n"
          f"| {args.frames} | {warm:.1f} | {final:.1f} | {100 * growth:+.2f}% | "
          f"{100 * GROWTH_LIMIT:.0f}% |")
    print("RSS samples (MiB):", " ".join(f"{s:.0f}" for s in samples))
    return 0 if growth < GROWTH_LIMIT else 1


if __name__ == "__main__":
    sys.exit(main())
