"""`sgnet-bench`: end-to-end latency of the pipeline per provider, against PyTorch eager.

On the same decoded frames of the bundled 640x480 bag, one run times every configuration
this machine can run: ONNX Runtime on CPU (with and without IO binding), on CUDA and
TensorRT when present, and the same network in plain PyTorch eager (the way the official
SGNet runs) as the anchor; then ONNX Runtime on CPU on the same frames halved to 320x240, the
size of the 2-core target. Rows that need hardware that is absent say "not measured". The
issue's targets are judged from the rows, and HHA alone is timed against the reference
Python port (sgnet_ros.benchmarks.hha_benchmark). Everything is printed and saved as Markdown
and JSON, with the hardware named, for the README.
"""

from __future__ import annotations

import argparse
import json
import os
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

from sgnet_ros.bags.demo import sample_bag_path
from sgnet_ros.bags.replay import synced_frames
from sgnet_ros.benchmarks import hha_benchmark
from sgnet_ros.benchmarks.decode_benchmark import decode_costs, decode_table
from sgnet_ros.benchmarks.readme_sections import replace_section
from sgnet_ros.benchmarks.report import markdown, targets
from sgnet_ros.pipeline.geometry import intrinsics_for_image
from sgnet_ros.pipeline.inference import PROVIDERS, ProviderOptions, ProviderReport, read_contract
from sgnet_ros.pipeline.pipeline import (
    STAGES,
    PipelineConfig,
    SegmentationPipeline,
    default_model_path,
)
from sgnet_ros.pipeline.spatial.encoding import SpatialEncoder
from sgnet_ros.pipeline.sync import NewestSynchronizer
from sgnet_ros.ros.messages import camera_intrinsics, decode_color, decode_depth
from sgnet_ros.ros.stats import percentiles

Frame = tuple[np.ndarray, np.ndarray, np.ndarray]  # rgb uint8, depth metres, K
HHA_SIZE = (480, 640)


@dataclass
class Row:
    """One configuration's measurements (milliseconds)."""

    name: str
    frame_size: str
    stages: dict[str, list[float]] = field(default_factory=dict)
    total: list[float] = field(default_factory=list)
    startup_s: float = float("nan")
    note: str = ""
    variant: str = ""  # the model's, from its contract: the GPU targets name variants
    network_on: str = ""
    gpu_used_mib: float | None = None  # device-wide, see gpu_used_mib()

    def summary(self) -> dict:
        p50, p95 = percentiles(self.total)
        return {
            "name": self.name, "frame_size": self.frame_size, "note": self.note,
            "variant": self.variant, "network_on": self.network_on,
            "gpu_device_used_mib": self.gpu_used_mib, "startup_s": self.startup_s,
            "end_to_end_p50_ms": p50, "end_to_end_p95_ms": p95,
            "throughput_hz": 1000.0 / float(np.mean(self.total)) if self.total else float("nan"),
            **{f"{stage}_p50_ms": percentiles(self.stages.get(stage, []))[0]
               for stage in STAGES},
        }


def load_frames(count: int) -> list[Frame]:
    """The first `count` synced frames of the sample bag, decoded."""
    from sgnet_ros.bags.io import DEFAULT_TOPICS as T

    sync = NewestSynchronizer((T.rgb, T.depth, T.camera_info), queue_size=30, slop_s=0.02)
    frames = []
    for _, items in synced_frames(sample_bag_path(), T, sync):
        K, _ = camera_intrinsics(items[T.camera_info])
        frames.append((decode_color(items[T.rgb]), decode_depth(items[T.depth]), K))
        if len(frames) == count:
            break
    return frames


def halved(frames: list[Frame]) -> list[Frame]:
    """The frames at half size, as a 320x240 camera would give them.

    Colour: the mean of each 2x2 block. Depth: every second pixel, so invalid zeros are never
    blended into a valid neighbour. K is scaled the way the pipeline scales it for any
    camera_info of another size; new pixel i samples old pixel 2i in the depth the geometry
    comes from, so cx' = cx / 2 is exact for it.
    """
    small = []
    for rgb, depth, K in frames:
        height, width = (size // 2 for size in rgb.shape[:2])
        blocks = rgb[:2 * height, :2 * width].reshape(height, 2, width, 2, 3)
        small.append((blocks.mean(axis=(1, 3)).round().astype(np.uint8),
                      np.ascontiguousarray(depth[:2 * height:2, :2 * width:2]),
                      intrinsics_for_image(K, (rgb.shape[1], rgb.shape[0]), (width, height))))
    return small


def size_of(frames: list[Frame]) -> str:
    """'WxH' of the frames, as rows and targets name sizes."""
    height, width = frames[0][0].shape[:2]
    return f"{width}x{height}"


def gpu_used_mib() -> float:
    """Memory in use on the whole GPU: unlike torch's allocator statistics, this sees ONNX
    Runtime's CUDA arena (and any other process)."""
    free, total = torch.cuda.mem_get_info()
    return (total - free) / 2**20


def measure(name: str, make_pipeline, frames: list[Frame], warmup: int,
            cuda: bool = False) -> Row:
    """Start-up (build + warm-up) and per-frame timings, every cloud requested; for a CUDA
    row also the device-wide memory in use before it and after its last frame."""
    row = Row(name, size_of(frames))
    before = gpu_used_mib() if cuda else None
    started = time.perf_counter()
    pipeline = make_pipeline()
    everything = range(pipeline.contract.num_classes)
    for rgb, depth, K in frames[:warmup]:
        pipeline.process(rgb, depth, K, cloud_classes=everything)
    row.startup_s = time.perf_counter() - started
    row.variant, row.network_on = pipeline.contract.variant, pipeline.segmenter.report.primary
    row.note = f"network on {row.network_on}; encoding and outputs on torch {pipeline.device}"
    for rgb, depth, K in tqdm(frames[warmup:], desc=name, unit="frame", leave=False):
        begin = time.perf_counter()
        result = pipeline.process(rgb, depth, K, cloud_classes=everything)
        row.total.append((time.perf_counter() - begin) * 1000.0)
        for stage, value in result.timings_ms.items():
            row.stages.setdefault(stage, []).append(value)
    if cuda:
        row.gpu_used_mib = max(before, gpu_used_mib())
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
    text = f"{cpu}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads"
    if torch.cuda.is_available():
        text += f"; GPU {torch.cuda.get_device_name(0)}"
    return text


def hha_comparison(repeats: int, port_python: Path | None, port_dir: Path | None,
                   port_repeats: int) -> dict:
    """HHA alone at 640x480, this project per device against the reference Python port, on
    hha_benchmark's frame and with its timers, so both benchmarks tell the same story."""
    depth = hha_benchmark.load_frames(hha_benchmark.DEFAULT_DEPTH, [HHA_SIZE])
    camera = hha_benchmark.scaled_camera(HHA_SIZE, one_based=False)
    port, source = hha_benchmark.reference_seconds(depth, port_python, port_dir, port_repeats)
    port_ms = 1000.0 * port[HHA_SIZE]
    rows = []
    for device in ("cpu", "cuda"):
        name = f"this project, {device.upper()}"
        if device == "cuda" and not torch.cuda.is_available():
            rows.append({"name": name, "p50_ms": None, "p95_ms": None, "port_over_this": None,
                         "note": "not measured (no GPU)"})
            continue
        times = hha_benchmark.encode_times_ms(SpatialEncoder("hha", device=device),
                                              depth[HHA_SIZE].to(device), camera, repeats)
        p50, p95 = percentiles(times)
        rows.append({"name": name, "p50_ms": p50, "p95_ms": p95, "port_over_this": port_ms / p50,
                     "note": f"{torch.get_num_threads()} torch threads" if device == "cpu"
                     else torch.cuda.get_device_name(0)})
    rows.append({"name": "reference Python port (Depth2HHA-python)", "p50_ms": port_ms,
                 "p95_ms": None, "port_over_this": 1.0, "note": f"median; {source}"})
    return {"frame_size": f"{HHA_SIZE[1]}x{HHA_SIZE[0]}", "repeats": repeats,
            "frame": "the NYUDv2 demo depth, holes kept", "port_source": source, "rows": rows}


def run(frames_count: int, warmup: int, model: Path) -> dict:
    """Every pipeline row this machine can run, and the targets judged from them."""
    frames = load_frames(frames_count + warmup)
    available = ort.get_available_providers()
    rows: list[Row] = []
    for provider, device in (("cpu", "cpu"), ("cuda", "cuda"), ("tensorrt", "cuda")):
        for binding in (True, False):
            name = f"ONNX Runtime {provider.upper()}, IO binding {'on' if binding else 'off'}"
            if device == "cuda" and not (PROVIDERS[provider] in available
                                         and torch.cuda.is_available()):
                rows.append(Row(name, size_of(frames),
                                note="not measured (no GPU / provider here)"))
                continue
            config = PipelineConfig(providers=ProviderOptions(order=(provider, "cpu")),
                                    io_binding=binding, device=device)
            rows.append(measure(name, lambda c=config: SegmentationPipeline.from_model_path(
                model, c), frames, warmup, cuda=device == "cuda"))
    for device in ("cpu", "cuda") if torch.cuda.is_available() else ("cpu",):
        rows.append(measure(f"PyTorch eager ({device}), the anchor",
                            lambda d=device: eager_pipeline(model, d), frames, warmup,
                            cuda=device == "cuda"))
    cpu_config = PipelineConfig(providers=ProviderOptions(order=("cpu",)), device="cpu")
    rows.append(measure("ONNX Runtime CPU, IO binding on, 320x240 frames",
                        lambda: SegmentationPipeline.from_model_path(model, cpu_config),
                        halved(frames), warmup))
    anchor = next(r for r in rows if r.name.startswith("PyTorch eager"))
    summaries = [row.summary() for row in rows]
    anchor_p50 = anchor.summary()["end_to_end_p50_ms"]
    for summary in summaries:  # against the anchor only at the anchor's frame size
        summary["ratio_vs_eager_cpu"] = summary["end_to_end_p50_ms"] / anchor_p50 \
            if summary["frame_size"] == anchor.frame_size else float("nan")
    gpu_name = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    gpu_used = [row.gpu_used_mib for row in rows if row.gpu_used_mib is not None]
    return {
        "hardware": hardware(), "date": time.strftime("%Y-%m-%d"),
        "model": model.name, "frames": len(frames) - warmup, "frame_size": size_of(frames),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "gpu_peak_mib": torch.cuda.max_memory_allocated() / 2**20 if gpu_name else None,
        "gpu_device_peak_mib": max(gpu_used) if gpu_used else None,
        "rows": summaries,
        "targets": targets(summaries, read_contract(default_model_path()).variant,
                           os.cpu_count(), gpu_name),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sgnet-bench", description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=30, help="frames measured per row")
    parser.add_argument("--warmup", type=int, default=3, help="frames run before measuring")
    parser.add_argument("--model", type=Path, default=None, help="default: the bundled model")
    parser.add_argument("--out", type=Path, default=Path("out/benchmark"),
                        help="folder for benchmark.md and benchmark.json")
    parser.add_argument("--quick", action="store_true",
                        help="3 frames, 1 warm-up, 3 HHA repeats, 1 port repeat (CI)")
    parser.add_argument("--hha-repeats", type=int, default=20, help="HHA encodes timed")
    parser.add_argument("--port-python", type=Path, default=None,
                        help="python of the reference HHA port's environment")
    parser.add_argument("--port-dir", type=Path, default=None,
                        help="checkout of Depth2HHA-python; without both, its saved timing")
    parser.add_argument("--port-repeats", type=int, default=3, help="port runs per frame")
    parser.add_argument("--readme", type=Path, default=None,
                        help="also write the table into this README's performance section")
    args = parser.parse_args(argv)
    if args.quick:
        args.frames, args.warmup, args.hha_repeats, args.port_repeats = 3, 1, 3, 1
    result = run(args.frames, args.warmup, args.model or default_model_path())
    # The HHA frame (and the port's saved timing) is the source tree's NYUDv2 demo depth.
    result["hha"] = hha_comparison(args.hha_repeats, args.port_python, args.port_dir,
                                   args.port_repeats) \
        if hha_benchmark.DEFAULT_DEPTH.is_file() else None
    result["decode"] = decode_costs(frames=args.frames if args.frames < 15 else 15)
    table = markdown(result) + "\n\n" + decode_table(result["decode"])
    print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "benchmark.md").write_text(table + "\n")
    (args.out / "benchmark.json").write_text(json.dumps(result, indent=2))
    if args.readme:
        replace_section(args.readme, "performance", table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
