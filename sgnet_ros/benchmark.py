"""`sgnet-bench`: end-to-end latency of the pipeline per provider, against PyTorch eager.

On the same decoded frames of the bundled 640x480 bag, one run times every configuration
this machine can run: ONNX Runtime on CPU (with and without IO binding), on CUDA and
TensorRT when present, and the same network in plain PyTorch eager (the way the official
SGNet runs) as the anchor. Rows that need hardware that is absent say "not measured". The
table is printed and saved as Markdown and JSON, with the hardware named, for the README.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from tqdm import tqdm

from sgnet_ros.demo import sample_bag_path
from sgnet_ros.inference import PROVIDERS, ProviderOptions, ProviderReport
from sgnet_ros.messages import camera_intrinsics, decode_color, decode_depth
from sgnet_ros.node_stats import percentiles
from sgnet_ros.pipeline import STAGES, PipelineConfig, SegmentationPipeline, default_model_path
from sgnet_ros.readme_sections import replace_section
from sgnet_ros.replay import synced_frames
from sgnet_ros.sync import NewestSynchronizer


@dataclass
class Row:
    """One configuration's measurements (milliseconds)."""

    name: str
    stages: dict[str, list[float]] = field(default_factory=dict)
    total: list[float] = field(default_factory=list)
    startup_s: float = float("nan")
    note: str = ""

    def summary(self) -> dict:
        p50, p95 = percentiles(self.total)
        return {
            "name": self.name, "note": self.note, "startup_s": self.startup_s,
            "end_to_end_p50_ms": p50, "end_to_end_p95_ms": p95,
            "throughput_hz": 1000.0 / float(np.mean(self.total)) if self.total else float("nan"),
            **{f"{stage}_p50_ms": percentiles(self.stages.get(stage, []))[0]
               for stage in STAGES},
        }


def load_frames(count: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The first `count` synced frames of the sample bag, decoded."""
    from sgnet_ros.bag_io import DEFAULT_TOPICS as T

    sync = NewestSynchronizer((T.rgb, T.depth, T.camera_info), queue_size=30, slop_s=0.02)
    frames = []
    for _, items in synced_frames(sample_bag_path(), T, sync):
        K, _ = camera_intrinsics(items[T.camera_info])
        frames.append((decode_color(items[T.rgb]), decode_depth(items[T.depth]), K))
        if len(frames) == count:
            break
    return frames


def measure(name: str, make_pipeline, frames, warmup: int) -> Row:
    """Start-up (build + warm-up) and per-frame timings, every cloud requested."""
    row = Row(name)
    started = time.perf_counter()
    pipeline = make_pipeline()
    everything = range(pipeline.contract.num_classes)
    for rgb, depth, K in frames[:warmup]:
        pipeline.process(rgb, depth, K, cloud_classes=everything)
    row.startup_s = time.perf_counter() - started
    row.note = f"network on {pipeline.segmenter.report.primary}; encoding and outputs on " \
        f"torch {pipeline.device}"
    for rgb, depth, K in tqdm(frames[warmup:], desc=name, unit="frame", leave=False):
        begin = time.perf_counter()
        result = pipeline.process(rgb, depth, K, cloud_classes=everything)
        row.total.append((time.perf_counter() - begin) * 1000.0)
        for stage, value in result.timings_ms.items():
            row.stages.setdefault(stage, []).append(value)
    return row


class EagerSegmenter:
    """The same network in PyTorch eager, shaped like OnnxSegmenter for the pipeline."""

    def __init__(self, onnx_segmenter, device: torch.device) -> None:
        from sgnet_ros.network import build_sgnet

        contract = onnx_segmenter.contract
        self.contract, self.model_path = contract, onnx_segmenter.model_path
        self.report = ProviderReport(requested=["torch"], active=[f"torch eager {device.type}"])
        self.device = device
        # Weights do not change the cost of a forward pass; the architecture does.
        self.model = build_sgnet(contract.variant, contract.num_classes,
                                 contract.spatial_mode).eval().to(device)

    @torch.inference_mode()
    def run(self, rgb: torch.Tensor, spatial: torch.Tensor) -> torch.Tensor:
        return self.model(rgb, spatial)


def eager_pipeline(model: Path, device: str) -> SegmentationPipeline:
    """The pipeline with PyTorch eager in place of ONNX Runtime (same encoding and outputs)."""
    pipeline = SegmentationPipeline.from_model_path(
        model, PipelineConfig(providers=ProviderOptions(order=("cpu",)), device=device))
    pipeline.segmenter = EagerSegmenter(pipeline.segmenter, pipeline.device)
    return pipeline


def hardware() -> str:
    """CPU model and core count, and the GPU when torch sees one."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    text = f"{cpu}, {torch.get_num_threads()} torch threads"
    if torch.cuda.is_available():
        text += f"; GPU {torch.cuda.get_device_name(0)}"
    return text


def run(frames_count: int, warmup: int, model: Path) -> dict:
    frames = load_frames(frames_count + warmup)
    available = ort.get_available_providers()
    rows: list[Row] = []
    for provider, device in (("cpu", "cpu"), ("cuda", "cuda"), ("tensorrt", "cuda")):
        for binding in (True, False):
            name = f"ONNX Runtime {provider.upper()}, IO binding {'on' if binding else 'off'}"
            if device == "cuda" and not (PROVIDERS[provider] in available
                                         and torch.cuda.is_available()):
                rows.append(Row(name, note="not measured (no GPU / provider here)"))
                continue
            config = PipelineConfig(providers=ProviderOptions(order=(provider, "cpu")),
                                    io_binding=binding, device=device)
            rows.append(measure(name, lambda c=config: SegmentationPipeline.from_model_path(
                model, c), frames, warmup))
    for device in ("cpu", "cuda") if torch.cuda.is_available() else ("cpu",):
        rows.append(measure(f"PyTorch eager ({device}), the anchor",
                            lambda d=device: eager_pipeline(model, d), frames, warmup))
    anchor = next(r for r in rows if r.name.startswith("PyTorch eager"))
    summaries = [row.summary() for row in rows]
    anchor_p50 = anchor.summary()["end_to_end_p50_ms"]
    for summary in summaries:
        summary["ratio_vs_eager_cpu"] = summary["end_to_end_p50_ms"] / anchor_p50
    return {
        "hardware": hardware(), "date": time.strftime("%Y-%m-%d"),
        "model": model.name, "frames": len(frames) - warmup,
        "frame_size": f"{frames[0][0].shape[1]}x{frames[0][0].shape[0]}",
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "gpu_peak_mib": torch.cuda.max_memory_allocated() / 2**20
        if torch.cuda.is_available() else None,
        "rows": summaries,
    }


def markdown(result: dict) -> str:
    def cell(value: float, digits: int = 1) -> str:
        return "n/a" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"

    lines = [
        f"Hardware: {result['hardware']}; {result['date']}; model {result['model']}; "
        f"{result['frames']} frames of {result['frame_size']} from the sample bag; every class "
        "cloud and the organized cloud built.", "",
        "| configuration | end-to-end p50 ms | p95 ms | Hz | spatial p50 | inference p50 | "
        "outputs p50 | start-up s | vs eager CPU | note |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for row in result["rows"]:
        lines.append(
            f"| {row['name']} | {cell(row['end_to_end_p50_ms'])} | "
            f"{cell(row['end_to_end_p95_ms'])} | {cell(row['throughput_hz'])} | "
            f"{cell(row['spatial_p50_ms'])} | {cell(row['inference_p50_ms'])} | "
            f"{cell(row['outputs_p50_ms'])} | {cell(row['startup_s'], 2)} | "
            f"{cell(row['ratio_vs_eager_cpu'], 2)} | {row['note']} |")
    lines.append(f"\nPeak RSS {result['peak_rss_mib']:.0f} MiB"
                 + (f", GPU peak {result['gpu_peak_mib']:.0f} MiB" if result["gpu_peak_mib"]
                    else "; GPU memory: not measured (no GPU)") + ".")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sgnet-bench", description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=30, help="frames measured per row")
    parser.add_argument("--warmup", type=int, default=3, help="frames run before measuring")
    parser.add_argument("--model", type=Path, default=None, help="default: the bundled model")
    parser.add_argument("--out", type=Path, default=Path("out/benchmark"),
                        help="folder for benchmark.md and benchmark.json")
    parser.add_argument("--quick", action="store_true", help="3 frames, 1 warm-up (CI)")
    parser.add_argument("--readme", type=Path, default=None,
                        help="also write the table into this README's performance section")
    args = parser.parse_args(argv)
    if args.quick:
        args.frames, args.warmup = 3, 1
    result = run(args.frames, args.warmup, args.model or default_model_path())
    table = markdown(result)
    print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "benchmark.md").write_text(table + "\n")
    (args.out / "benchmark.json").write_text(json.dumps(result, indent=2))
    if args.readme:
        replace_section(args.readme, "performance", table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
