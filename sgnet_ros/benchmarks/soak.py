"""Soak: many frames through the pipeline with the resident memory sampled.

    python -m sgnet_ros.benchmarks.soak --frames 10000

A node runs for hours; memory that grows per frame ends it. This drives the real pipeline
(every output and cloud built) over the sample bag's frames in a loop and reports RSS after
warm-up and at the end; growth above 5 % of the warm RSS is reported as a failure (exit 1).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from sgnet_ros.benchmarks.pipeline_benchmark import load_frames
from sgnet_ros.pipeline.pipeline import SegmentationPipeline

GROWTH_LIMIT = 0.05


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=10_000)
    parser.add_argument("--warmup", type=int, default=200, help="frames before the baseline")
    parser.add_argument("--sample-every", type=int, default=100)
    args = parser.parse_args(argv)
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
