"""Training step cost of each augmentation, against crop + mirror ("basic") in the same run.

    python -m sgnet_ros.benchmarks.training_step_benchmark --threads 1 2

Per batch (SGNet small, batch 8, 144x192 crops of 240x320 synthetic HHA frames): the time to
build the batch (augmentation + normalisation) and the whole step (batch, forward, backward,
AdamW). Strong augmentation is worth it only if a step stays close to a basic one.
"""

from __future__ import annotations

import argparse
import statistics

import torch

from sgnet_ros.benchmarks.timing import time_calls
from sgnet_ros.pipeline import nyu40
from sgnet_ros.pipeline.contract import ModelContract
from sgnet_ros.training.datasets import SegmentationDataset, synthetic_arrays
from sgnet_ros.training.synthetic_cli import parse_size
from sgnet_ros.training.train import class_weights, segmentation_loss


def step_timers(dataset: SegmentationDataset, batch_size: int):
    """(build one batch, one full training step) as callables over successive batches."""
    from sgnet_ros.network import build_sgnet

    model = build_sgnet("small", len(nyu40.CLASS_NAMES), dataset.contract.spatial_mode)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    weights = class_weights(dataset.arrays.labels, len(nyu40.CLASS_NAMES), "sqrt")
    position = {"next": 0}
    model.train()

    def batch():
        start = position["next"]
        position["next"] = (start + batch_size) % (len(dataset) - batch_size + 1)
        items = [dataset[index] for index in range(start, start + batch_size)]
        return [torch.stack(column) for column in zip(*items, strict=True)]

    def step():
        rgb, spatial, labels = batch()
        loss = segmentation_loss(model(rgb, spatial), labels, weights, 0.4)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return batch, step


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="training_step_benchmark", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--frames", type=int, default=48, help="synthetic frames to cycle")
    parser.add_argument("--size", type=parse_size, default=(240, 320))
    parser.add_argument("--crop", type=parse_size, default=(144, 192))
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--cache", default="out/cache")
    args = parser.parse_args(argv)
    arrays = synthetic_arrays(range(0, args.frames), args.size, "hha", args.cache)
    contract = ModelContract(nyu40.CLASS_NAMES, "hha")
    print(f"SGNet small, batch {args.batch_size}, crops {args.crop[0]}x{args.crop[1]} of "
          f"{args.size[0]}x{args.size[1]}; median of {args.repeats} (wall ms, CPU ms)")
    print("| threads | augment | batch wall | batch CPU | step wall | step CPU | step / basic |")
    print("|---|---|---|---|---|---|---|")
    for threads in args.threads:
        torch.set_num_threads(threads)
        reference = None
        for augment in ("basic", "strong"):
            dataset = SegmentationDataset(arrays, contract, crop=args.crop, augment=augment)
            batch, step = step_timers(dataset, args.batch_size)
            batch_wall, batch_cpu = time_calls(batch, args.repeats)
            step_wall, step_cpu = time_calls(step, args.repeats)
            medians = [statistics.median(v) for v in (batch_wall, batch_cpu, step_wall, step_cpu)]
            reference = reference or medians[2]
            print(f"| {threads} | {augment} | {medians[0]:.0f} | {medians[1]:.0f} | "
                  f"{medians[2]:.0f} | {medians[3]:.0f} | {medians[2] / reference:.2f} |",
                  flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
