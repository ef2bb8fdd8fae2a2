"""One bag of a fleet run, as a Ray worker executes it: `sgnet-replay --mode direct` into a
partial folder, label statistics on the side, then the rename that marks it complete.

Plain functions without Ray, so the same code runs (and is tested) in one process.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sgnet_ros.bags import replay
from sgnet_ros.fleet.layout import (
    OUTPUT_BAG,
    RESULT_FILE,
    BagJob,
    completed_result,
    final_dir,
    partial_dir,
    remove_partials,
)
from sgnet_ros.pipeline.pipeline import PipelineConfig, SegmentationPipeline
from sgnet_ros.ros.parameters import load_parameter_file, validate
from sgnet_ros.training.metrics import ConfusionMatrix


@dataclass(frozen=True)
class BagTaskOptions:
    """What every bag of a run shares: model, parameters and the sgnet-replay flags."""

    model: Path | None = None
    params_file: Path | None = None
    replay_flags: tuple[str, ...] = ()  # topics, namespace, slop, --preview-every
    write_bags: bool = True
    torch_threads: int = 1

    def replay_argv(self, bag: Path, out: Path) -> list[str]:
        argv = [str(bag), "--out", str(out), "--mode", "direct", "--quiet", *self.replay_flags]
        if self.model is not None:
            argv += ["--model", str(self.model)]
        if self.params_file is not None:
            argv += ["--params-file", str(self.params_file)]
        if not self.write_bags:
            argv.append("--no-bag")
        return argv


@dataclass
class LabelStatistics:
    """Per-bag label figures the replay report lacks: pixels per class, confusion, a digest.

    The digest (SHA-256 over every frame's stamp and label bytes, in order) is what tells
    two runs' label images apart without storing them.
    """

    num_classes: int
    class_pixels: np.ndarray = field(init=False)
    confusion: ConfusionMatrix | None = None
    digest: hashlib._Hash = field(default_factory=hashlib.sha256)
    frames: int = 0

    def __post_init__(self) -> None:
        # Index num_classes counts the unlabeled pixels (255 / 65535).
        self.class_pixels = np.zeros(self.num_classes + 1, dtype=np.int64)

    def add(self, stamp_ns: int, labels: np.ndarray, truth: np.ndarray | None) -> None:
        self.digest.update(label_frame_bytes(stamp_ns, labels))
        counts = np.bincount(labels.ravel(), minlength=self.num_classes)
        self.class_pixels[:self.num_classes] += counts[:self.num_classes]
        self.class_pixels[self.num_classes] += int(counts[self.num_classes:].sum())
        if truth is not None:
            if self.confusion is None:
                self.confusion = ConfusionMatrix(self.num_classes)
            self.confusion.update(labels, truth)
        self.frames += 1


def label_frame_bytes(stamp_ns: int, labels: np.ndarray) -> bytes:
    """What the label digest hashes for one frame (also used on label images read back)."""
    return int(stamp_ns).to_bytes(8, "little") + np.ascontiguousarray(labels).tobytes()


_pipelines: dict[tuple, SegmentationPipeline] = {}  # per worker process, reused across bags


def loaded_pipeline(options: BagTaskOptions) -> SegmentationPipeline:
    """The worker's pipeline for this model and parameter file (loaded on its first bag)."""
    key = (options.model, options.params_file, os.environ.get("CUDA_VISIBLE_DEVICES"))
    if key not in _pipelines:
        settings = (load_parameter_file(options.params_file) if options.params_file
                    else validate({}))
        _pipelines[key] = SegmentationPipeline.from_model_path(
            options.model, PipelineConfig.from_settings(settings))
    pipeline = _pipelines[key]
    pipeline.reset()  # no temporal state crosses from one bag to the next
    return pipeline


def record_attempt(bags_root: Path, job: BagJob) -> int:
    """Log this attempt (host, pid) beside the results; returns the attempt number."""
    log = bags_root / f".{job.name}.attempts"
    with log.open("a") as handle:
        handle.write(f"{socket.gethostname()} {os.getpid()}\n")
    return len(log.read_text().splitlines())


# Told (bag name, frames done so far) after every frame, for the run's progress bar.
ProgressReporter = Callable[[str, int], None]


def segment_bag(job: BagJob, bags_root: Path, options: BagTaskOptions,
                progress: ProgressReporter | None = None) -> dict:
    """Replay one bag into its results folder; a failure is returned, never raised."""
    done = completed_result(bags_root, job)
    if done is not None:  # a retried task whose first attempt had already finished
        return done
    bags_root.mkdir(parents=True, exist_ok=True)
    attempt = record_attempt(bags_root, job)
    remove_partials(bags_root, job)  # a killed attempt's leftovers
    partial = partial_dir(bags_root, job, f"{os.getpid()}-{time.time_ns()}")
    partial.mkdir()
    (partial / "worker.pid").write_text(f"{os.getpid()}\n")
    base = {"name": job.name, "bag": str(job.bag), "attempts": attempt,
            "worker": f"{socket.gethostname()}:{os.getpid()}"}
    started = time.perf_counter()
    try:
        import torch

        torch.set_num_threads(max(1, options.torch_threads))
        if not job.bag.exists():
            raise FileNotFoundError(f"bag {job.bag} does not exist")
        args = replay.parse_args(options.replay_argv(job.bag, partial / OUTPUT_BAG))
        pipeline = loaded_pipeline(options)
        stats = LabelStatistics(pipeline.contract.num_classes)

        def on_frame(stamp_ns: int, labels: np.ndarray, truth: np.ndarray | None) -> None:
            stats.add(stamp_ns, labels, truth)
            if progress is not None:
                progress(job.name, stats.frames)

        report = replay.replay(args, pipeline, on_frame)
        if report.published == 0:
            raise ValueError(f"no frame published ({report.frames_in} colour frames on "
                             f"{args.rgb_topic}; synced {report.synced})")
    except Exception as error:  # noqa: BLE001 - a bad bag is reported, the fleet goes on
        shutil.rmtree(partial, ignore_errors=True)
        return {**base, "status": "failed", "error": f"{type(error).__name__}: {error}",
                "seconds": time.perf_counter() - started}
    except SystemExit as error:  # argparse's refusal of a path
        shutil.rmtree(partial, ignore_errors=True)
        return {**base, "status": "failed", "error": f"sgnet-replay refused it (exit {error})",
                "seconds": time.perf_counter() - started}
    (partial / "worker.pid").unlink()
    result = {
        **base, "status": "done", "seconds": time.perf_counter() - started,
        "class_names": list(pipeline.contract.class_names),
        "report": report.as_dict(),
        "latency_samples_ms": report.latency_ms,
        "stage_samples_ms": report.stage_ms,
        "class_pixels": stats.class_pixels.tolist(),
        "confusion": None if stats.confusion is None else stats.confusion.matrix.tolist(),
        "label_sha256": stats.digest.hexdigest(),
        "frames_hashed": stats.frames,
        "previews": sorted(str(path.relative_to(partial))
                           for path in partial.rglob("preview_*.png")),
    }
    (partial / RESULT_FILE).write_text(json.dumps(result))
    try:
        os.rename(partial, final_dir(bags_root, job))
    except OSError:  # another attempt finished first: keep its folder, drop this one
        shutil.rmtree(partial, ignore_errors=True)
        return completed_result(bags_root, job) or result
    return result
