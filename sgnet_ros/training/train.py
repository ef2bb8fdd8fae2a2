"""`sgnet-train`: train an SGNet variant on a folder dataset or the synthetic generator.

    sgnet-train --data synthetic --train-seeds 0:3000 --val-seeds 1000000:1000100 \\
        --variant small --spatial-mode hha --size 240x320 --epochs 8 --seed 0 \\
        --out out/train_small --cache out/cache --export models/sgnet_small_synthetic_hha.onnx
    sgnet-train --data folder --root /data/nyudv2 --train-split train --val-split test ...

Cross-entropy on the main output plus the deep-supervision output (weighted), AdamW with a
warm-up and poly decay, a held-out mIoU after each epoch, a checkpoint per epoch (last.pt,
best.pt; --resume continues from last.pt, to the batch), and an ONNX export of the best
checkpoint with the model contract (class names, normalisation, spatial mode) in its metadata.

--augment strong (the default) zooms, crops and mirrors every frame and changes its colours
beyond recognition at times, so the network has to read the geometry of the spatial input.
--blind-spatial is the RGB-only ablation: the network only ever sees a constant spatial input
and its ONNX graph ignores the spatial input it is fed. --max-minutes stops (mid-epoch if
need be, with a checkpoint that --resume continues exactly) in time to validate and export.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from sgnet_ros.pipeline import nyu40
from sgnet_ros.pipeline.contract import SPATIAL_CHANNELS, ModelContract
from sgnet_ros.training.datasets import (
    AUGMENTATIONS,
    IGNORE_INDEX,
    FrameArrays,
    SegmentationDataset,
    folder_arrays,
    synthetic_arrays,
)
from sgnet_ros.training.metrics import ConfusionMatrix, mean_iou
from sgnet_ros.training.synthetic import DEFAULT_STYLE, STYLES, class_ids, pooled_style
from sgnet_ros.training.synthetic_cli import parse_size


def parse_seed_range(text: str) -> range:
    """'0:3000' -> range(0, 3000)."""
    try:
        start, stop = (int(part) for part in text.split(":"))
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"seed range must be START:STOP, got {text!r}") from error
    if not 0 <= start < stop:
        raise argparse.ArgumentTypeError(f"seed range needs 0 <= START < STOP, got {text!r}")
    return range(start, stop)


def seed_everything(seed: int) -> None:
    """Same seed, same run: Python, numpy and torch generators, deterministic kernels."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)


def class_weights(labels: np.ndarray, num_classes: int, scheme: str) -> torch.Tensor:
    """Cross-entropy weights: 1 / sqrt(pixel frequency), mean 1 over the classes present."""
    if scheme == "none":
        return torch.ones(num_classes)
    counts = np.bincount(labels[labels != IGNORE_INDEX].ravel(), minlength=num_classes)
    counts = counts[:num_classes].astype(np.float64)
    present = counts > 0
    weights = np.zeros(num_classes)
    weights[present] = 1.0 / np.sqrt(counts[present] / counts.sum())
    weights[present] /= weights[present].mean()
    return torch.tensor(weights, dtype=torch.float32)


def segmentation_loss(
    output, labels: torch.Tensor, weights: torch.Tensor, aux_weight: float
) -> torch.Tensor:
    """Cross-entropy of the main logits plus `aux_weight` times that of the deep supervision."""
    logits, aux = output if isinstance(output, tuple) else (output, None)
    loss = F.cross_entropy(logits, labels, weight=weights, ignore_index=IGNORE_INDEX)
    if aux is not None and aux_weight > 0:
        loss = loss + aux_weight * F.cross_entropy(
            aux, labels, weight=weights, ignore_index=IGNORE_INDEX
        )
    return loss


@torch.no_grad()
def evaluate_model(
    model: torch.nn.Module,
    dataset: SegmentationDataset,
    num_classes: int,
    device: torch.device,
    batch_size: int = 8,
) -> np.ndarray:
    """Confusion matrix of the PyTorch model on a dataset (full frames, no augmentation)."""
    was_training = model.training
    model.eval()
    confusion = ConfusionMatrix(num_classes)
    # Its own generator: validating must not move the global RNG that dropout draws from.
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=False,
                                         generator=torch.Generator())
    for rgb, spatial, labels in loader:
        prediction = model(rgb.to(device), spatial.to(device)).argmax(dim=1)
        confusion.update(prediction.cpu().numpy(), labels.numpy())
    model.train(was_training)
    return confusion.matrix


def poly_schedule(total_steps: int, warmup_steps: int, power: float = 0.9):
    """Linear warm-up then the poly decay used by the SGNet paper."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = (step - warmup_steps) / max(total_steps - warmup_steps, 1)
        return max(1.0 - progress, 0.0) ** power

    return factor


def load_data(args: argparse.Namespace) -> tuple[FrameArrays, FrameArrays]:
    size = tuple(args.size)
    if args.data == "synthetic":
        overlap = set(args.train_seeds) & set(args.val_seeds)
        if overlap:
            raise ValueError(f"training and validation seeds overlap ({len(overlap)} seeds)")
        return tuple(
            FrameArrays.concatenate([
                synthetic_arrays(seeds, size, args.spatial_mode, args.cache, args.workers, style)
                for style in args.style
            ])
            for seeds in (args.train_seeds, args.val_seeds)
        )
    if args.root is None:
        raise ValueError("--data folder needs --root")
    return tuple(
        folder_arrays(
            args.root,
            split,
            size,
            args.spatial_mode,
            args.cache,
            args.one_based_labels,
            args.workers,
        )
        for split in (args.train_split, args.val_split)
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sgnet-train",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    data = parser.add_argument_group("data")
    data.add_argument("--data", choices=("synthetic", "folder"), default="synthetic")
    data.add_argument("--root", type=Path,
                      help="folder dataset root (see sgnet_ros.training.datasets)")
    data.add_argument("--train-split", default="train")
    data.add_argument("--val-split", default="test")
    data.add_argument(
        "--one-based-labels",
        action="store_true",
        help="folder labels use 0 = unlabeled and 1..40 (common NYUDv2 releases)",
    )
    data.add_argument("--style", choices=STYLES, nargs="+", default=[DEFAULT_STYLE],
                      help="synthetic generator style(s) (sgnet_ros.training.synthetic); with "
                      "several, every seed is drawn in each style and the frames are pooled")
    data.add_argument("--train-seeds", type=parse_seed_range, default=range(0, 3000))
    data.add_argument("--val-seeds", type=parse_seed_range, default=range(1_000_000, 1_000_100))
    data.add_argument(
        "--size", type=parse_size, default=(240, 320), help="network input HEIGHTxWIDTH"
    )
    data.add_argument(
        "--crop",
        type=parse_size,
        default=None,
        help="random training crops HEIGHTxWIDTH (full frames when omitted)",
    )
    data.add_argument(
        "--augment",
        choices=AUGMENTATIONS,
        default="strong",
        help="training augmentation: basic = crop + mirror; strong = also zoom 0.6-1.5x and "
        "strong colour/texture changes of RGB",
    )
    data.add_argument(
        "--cache", type=Path, default=Path("out/cache"), help="where encoded frames are cached"
    )
    data.add_argument("--workers", type=int, default=1, help="processes for encoding")
    model = parser.add_argument_group("model")
    model.add_argument("--variant", default="small")
    model.add_argument("--spatial-mode", choices=sorted(SPATIAL_CHANNELS), default="hha")
    model.add_argument(
        "--blind-spatial",
        action="store_true",
        help="RGB-only ablation: constant spatial input in training; the exported graph "
        "ignores its spatial input",
    )
    model.add_argument("--init", type=Path, default=None,
                       help="start from this sgnet-train checkpoint's weights (warm start)")
    optim = parser.add_argument_group("optimisation")
    optim.add_argument("--epochs", type=int, default=8)
    optim.add_argument("--batch-size", type=int, default=8)
    optim.add_argument("--lr", type=float, default=2e-3)
    optim.add_argument("--weight-decay", type=float, default=1e-4)
    optim.add_argument("--aux-weight", type=float, default=0.4)
    optim.add_argument("--class-weighting", choices=("sqrt", "none"), default="sqrt")
    optim.add_argument("--seed", type=int, default=0)
    optim.add_argument(
        "--max-steps", type=int, default=None, help="stop after this many steps (smoke tests)"
    )
    run = parser.add_argument_group("run")
    run.add_argument("--out", type=Path, default=Path("out/train"))
    run.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    run.add_argument(
        "--max-minutes",
        type=float,
        default=None,
        help="time budget of this invocation (data encoding included): training stops in "
        "time to validate and export; --resume continues",
    )
    run.add_argument("--export", type=Path, default=None, help="ONNX path (default OUT/model.onnx)")
    run.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    run.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    return parser


def epoch_order(num_frames: int, seed: int, epoch: int) -> list[int]:
    """The frame order of an epoch; a function of (seed, epoch) so a resume can skip into it."""
    generator = torch.Generator().manual_seed(seed * 1000 + epoch)
    return torch.randperm(num_frames, generator=generator).tolist()


def load_initial_weights(model: torch.nn.Module, path: Path, device: torch.device) -> None:
    """--init: another run's weights, for a warm start (same variant, classes, spatial mode)."""
    from sgnet_ros.network.checkpoints import load_checkpoint

    source, _, _ = load_checkpoint(path, map_location=device)
    try:
        model.load_state_dict(source.state_dict())
    except RuntimeError as error:
        raise ValueError(f"--init {path} does not fit this model: {error}") from error
    print(f"initialised from {path}")


def train(args: argparse.Namespace) -> dict:
    """Run a training; returns a summary (history, best mIoU, paths)."""
    from sgnet_ros.network import build_sgnet
    from sgnet_ros.network.checkpoints import load_checkpoint, save_checkpoint
    from sgnet_ros.network.export import export_onnx, file_sha256

    invoked = time.monotonic()
    deadline = None if args.max_minutes is None else invoked + 60.0 * args.max_minutes
    if args.epochs < 1 or args.batch_size < 1:
        raise ValueError("--epochs and --batch-size must be positive")
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device("cuda" if args.device != "cpu" and torch.cuda.is_available() else "cpu")
    seed_everything(args.seed)
    train_arrays, val_arrays = load_data(args)
    num_classes = len(nyu40.CLASS_NAMES)
    if args.data == "synthetic":  # the generator's class list, even if a short run misses one
        trained_classes = list(class_ids(pooled_style(args.style)))
    else:
        trained_classes = sorted(
            int(c) for c in np.unique(train_arrays.labels) if c != IGNORE_INDEX)
    contract = ModelContract(
        class_names=nyu40.CLASS_NAMES,
        spatial_mode=args.spatial_mode,
        input_size=tuple(args.size),
        variant=args.variant,
        extra={
            "trained_classes": trained_classes,
            "training_data": args.data,
            **({"synthetic_style": pooled_style(args.style)} if args.data == "synthetic" else {}),
            "augment": args.augment,
            "blind_spatial": bool(args.blind_spatial),
            "training_command": " ".join(["sgnet-train", *getattr(args, "command", [])]),
        },
    )
    train_set = SegmentationDataset(
        train_arrays, contract, crop=args.crop, augment=args.augment, seed=args.seed,
        blind_spatial=args.blind_spatial,
    )
    val_set = SegmentationDataset(val_arrays, contract, blind_spatial=args.blind_spatial)
    weights = class_weights(train_arrays.labels, num_classes, args.class_weighting).to(device)

    model = build_sgnet(args.variant, num_classes, args.spatial_mode).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    steps_per_epoch = len(train_set) // args.batch_size
    if steps_per_epoch == 0:
        raise ValueError(f"{len(train_set)} training frames make no batch of {args.batch_size}")
    total_steps = steps_per_epoch * args.epochs
    if args.max_steps is not None:
        total_steps = min(total_steps, args.max_steps)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, poly_schedule(total_steps, min(100, max(total_steps // 10, 1)))
    )
    args.out.mkdir(parents=True, exist_ok=True)
    start_epoch, start_batch, step, best_miou, history = 0, 0, 0, -1.0, []
    if args.resume and (args.out / "last.pt").is_file():
        resumed, _, state = load_checkpoint(args.out / "last.pt", map_location=device)
        model.load_state_dict(resumed.state_dict())
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["torch_rng"])
        start_epoch, step = int(state["epoch"]), int(state["step"])
        start_batch = int(state["batches_done"])
        if start_batch >= steps_per_epoch:
            start_epoch, start_batch = start_epoch + 1, 0
        best_miou, history = float(state["best_miou"]), json.loads(state["history"])
        print(f"resumed from {args.out / 'last.pt'} at epoch {start_epoch + 1}, "
              f"batch {start_batch}")
    elif args.init is not None:
        load_initial_weights(model, args.init, device)

    validation_seconds, out_of_time = 0.0, False
    for epoch in range(start_epoch, args.epochs):
        if step >= total_steps or out_of_time:
            break
        train_set.set_epoch(epoch)
        first_batch = start_batch if epoch == start_epoch else 0
        order = epoch_order(len(train_set), args.seed, epoch)[first_batch * args.batch_size:]
        loader = torch.utils.data.DataLoader(
            train_set, batch_size=args.batch_size, sampler=order, drop_last=True,
            generator=torch.Generator(),  # its seed draw must not move the global torch RNG
        )
        model.train()
        started, losses, batches_done = time.perf_counter(), [], first_batch
        progress = tqdm(
            loader,
            desc=f"epoch {epoch + 1}/{args.epochs}",
            unit="batch",
            total=min(steps_per_epoch - first_batch, total_steps - step),
        )
        for rgb, spatial, labels in progress:
            output = model(rgb.to(device), spatial.to(device))
            loss = segmentation_loss(output, labels.to(device), weights, args.aux_weight)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            step += 1
            batches_done += 1
            losses.append(loss.item())
            progress.set_postfix(
                loss=f"{np.mean(losses[-20:]):.3f}", lr=f"{schedule.get_last_lr()[0]:.2e}"
            )
            if step >= total_steps:
                break
            # Stop while there is still time to validate (as long as last time) and export.
            if deadline is not None and time.monotonic() + validation_seconds > deadline:
                out_of_time = True
                break
        progress.close()
        complete = batches_done >= steps_per_epoch or step >= total_steps
        validation_started = time.perf_counter()
        matrix = evaluate_model(model, val_set, num_classes, device, args.batch_size)
        miou = mean_iou(matrix, trained_classes)
        validation_seconds = time.perf_counter() - validation_started
        history.append(
            {
                "epoch": epoch + 1,
                "step": step,
                "complete": complete,
                "loss": float(np.mean(losses)) if losses else float("nan"),
                "val_miou": miou,
                "seconds": time.perf_counter() - started,
            }
        )
        print(
            f"epoch {epoch + 1}{'' if complete else f' (stopped at batch {batches_done})'}: "
            f"loss {history[-1]['loss']:.4f}  held-out mIoU {miou:.4f}  "
            f"({history[-1]['seconds']:.0f} s)",
            flush=True,
        )
        if miou > best_miou:
            best_miou = miou
            save_checkpoint(
                args.out / "best.pt", model, args.variant, contract, epoch=epoch, val_miou=miou
            )
        save_checkpoint(
            args.out / "last.pt",
            model,
            args.variant,
            contract,
            optimizer=optimizer,
            scheduler=schedule,
            epoch=epoch,
            batches_done=steps_per_epoch if step >= total_steps else batches_done,
            step=step,
            best_miou=best_miou,
            history=json.dumps(history),
            torch_rng=torch.get_rng_state(),
        )
    if out_of_time:
        print(f"--max-minutes {args.max_minutes} reached after step {step}; "
              "--resume continues from here", flush=True)

    best_model, best_contract, _ = load_checkpoint(args.out / "best.pt")
    export_path = args.export or args.out / "model.onnx"
    export_path.parent.mkdir(parents=True, exist_ok=True)
    best_contract = dataclasses.replace(
        best_contract, source=f"sha256:{file_sha256(args.out / 'best.pt')}")
    export_onnx(best_model.eval(), best_contract, export_path, sample_size=tuple(args.size))
    summary = {
        "best_val_miou": best_miou,
        "history": history,
        "onnx": str(export_path),
        "trained_classes": trained_classes,
        "steps": step,
        "finished": step >= total_steps or not out_of_time,
    }
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"best held-out mIoU {best_miou:.4f}; exported {export_path}")
    return summary


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.command = list(sys.argv[1:] if argv is None else argv)
    try:
        train(args)
    except ValueError as error:
        raise SystemExit(f"sgnet-train: {error}") from error
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
