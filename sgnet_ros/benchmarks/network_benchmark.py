"""SGNet network benchmark: S-Conv cost, parameters, MACs and latency per variant.

Run ``python -m sgnet_ros.benchmarks.network_benchmark`` (add ``--quick`` for a tiny CI run);
run as a module it sets OMP_WAIT_POLICY=PASSIVE (unless set) so that PyTorch's OpenMP threads
do not spin on a shared machine. Every timing is the median of several runs, with ratios
against references measured in the same run: S-Conv against a plain 3x3 Conv2d of the same
shape (and against the naive formulation, one grid_sample per tap), ONNX Runtime CPU against
PyTorch eager per variant.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from sgnet_ros.benchmarks.timing import time_calls
from sgnet_ros.network import VARIANTS, build_sgnet
from sgnet_ros.network.export import export_onnx
from sgnet_ros.network.sconv import SConv, conv_from_taps
from sgnet_ros.network.sgnet import VARIANT_SPECS
from sgnet_ros.pipeline.contract import ModelContract

# The _fps variants differ from their base only by the training-only dsn3 head, which the
# inference graph never runs: their ONNX graphs are identical, so they are not re-timed.
DISTINCT_INFERENCE_GRAPHS = [name for name, spec in VARIANT_SPECS.items() if spec.aux_head]


def median_ms(run: Callable[[], object], repeats: int, warmup: int = 2) -> tuple[float, float]:
    """Median wall and process-CPU milliseconds per call."""
    walls, cpus = time_calls(run, repeats, warmup)
    return statistics.median(walls), statistics.median(cpus)


def ort_session(path: Path, threads: int) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # Spinning worker threads only burn a shared CPU (and inflate CPU time); a node wants
    # them parked too.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def export_plain(module: nn.Module, inputs: tuple[torch.Tensor, ...], path: Path) -> None:
    """ONNX export of a building block (no contract) for timing."""
    names = [f"input{i}" for i in range(len(inputs))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module, inputs, str(path), dynamo=False, opset_version=17, input_names=names
        )


class NaiveSConv(nn.Module):
    """The straightforward port: one grid_sample per kernel tap and per deformable conv.

    Shares the parameters of ``layer``; only here as the benchmark's point of comparison.
    """

    def __init__(self, layer: SConv) -> None:
        super().__init__()
        self.layer = layer

    def _deform(
        self,
        x: torch.Tensor,
        offset: torch.Tensor,
        mask: torch.Tensor | None,
        weight: torch.Tensor,
        bias: torch.Tensor | None,
    ) -> torch.Tensor:
        layer = self.layer
        kernel = layer.kernel_size
        batch, _, height, width = x.shape
        out_height, out_width = offset.shape[-2:]
        rows = torch.arange(out_height, dtype=x.dtype) * layer.stride - layer.padding
        cols = torch.arange(out_width, dtype=x.dtype) * layer.stride - layer.padding
        taps = []
        for tap in range(kernel * kernel):
            i, j = divmod(tap, kernel)
            y = rows[:, None] + i * layer.dilation + offset[:, 2 * tap]
            x_pos = cols[None, :] + j * layer.dilation + offset[:, 2 * tap + 1]
            grid = torch.stack(((2 * x_pos + 1) / width - 1, (2 * y + 1) / height - 1), dim=-1)
            sampled = F.grid_sample(
                x, grid, mode="bilinear", padding_mode="zeros", align_corners=False
            )
            if mask is not None:
                sampled = sampled * mask[:, tap : tap + 1]
            taps.append(sampled.reshape(batch, x.shape[1], 1, -1))
        return conv_from_taps(torch.cat(taps, dim=2), weight, bias, out_height, out_width)

    def forward(self, x: torch.Tensor, spatial: torch.Tensor) -> torch.Tensor:
        layer = self.layer
        spatial = F.interpolate(spatial, size=x.shape[-2:], mode="bilinear", align_corners=True)
        projected = layer.spatial_projector(spatial)
        offset = layer.offset_generator(projected)
        guidance = self._deform(projected, offset, None, layer.weight_generator1.weight, None)
        mask = torch.sigmoid(layer.weight_generator2(guidance))
        return self._deform(x, offset, mask, layer.weight, layer.bias)


class _PlainConv(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1, bias=False)

    def forward(self, x: torch.Tensor, spatial: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


def sconv_table(
    channels: int,
    height: int,
    width: int,
    projector: int,
    threads: int,
    repeats: int,
    workdir: Path,
) -> None:
    """S-Conv (fused and naive) against a plain 3x3 convolution of the same shape."""
    torch.manual_seed(0)
    layer = SConv(channels, channels, spatial_channels=1, projector_channels=projector).eval()
    with torch.no_grad():
        nn.init.normal_(layer.offset_generator.weight, std=0.05)
    x = torch.randn(1, channels, height, width)
    spatial = torch.randn(1, 1, 4 * height, 4 * width)
    candidates = {
        "Conv2d 3x3 (reference)": _PlainConv(channels).eval(),
        "S-Conv, one grid_sample": layer,
        "S-Conv, grid_sample per tap": NaiveSConv(layer).eval(),
    }
    with torch.no_grad():
        difference = (
            (layer(x, spatial) - candidates["S-Conv, grid_sample per tap"](x, spatial))
            .abs()
            .max()
            .item()
        )
    print(
        f"\nS-Conv {channels}->{channels} channels at {width}x{height}, projector {projector}, "
        f"{threads} threads (fused vs per-tap max abs difference {difference:.1e})"
    )
    print(
        f"{'layer':30s} {'torch ms':>9s} {'x conv':>7s} {'ORT ms':>8s} {'x conv':>7s} "
        f"{'ORT cpu ms':>10s} {'x conv':>7s}"
    )
    reference = None
    for name, module in tqdm(candidates.items(), desc="S-Conv", leave=False):
        path = workdir / "block.onnx"
        export_plain(module, (x, spatial), path)
        session = ort_session(path, threads)
        feed = {"input0": x.numpy(), "input1": spatial.numpy()}
        feed = {i.name: feed[i.name] for i in session.get_inputs()}
        with torch.no_grad():
            torch_ms, _ = median_ms(lambda module=module: module(x, spatial), repeats)
        ort_ms, ort_cpu_ms = median_ms(
            lambda session=session, feed=feed: session.run(None, feed), repeats
        )
        reference = reference or (torch_ms, ort_ms, ort_cpu_ms)
        tqdm.write(
            f"{name:30s} {torch_ms:9.2f} {torch_ms / reference[0]:7.1f} "
            f"{ort_ms:8.2f} {ort_ms / reference[1]:7.1f} "
            f"{ort_cpu_ms:10.2f} {ort_cpu_ms / reference[2]:7.1f}"
        )


def count_macs(model: nn.Module, rgb: torch.Tensor, spatial: torch.Tensor) -> int:
    """Multiply-accumulates of one forward pass: convolutions and the S-Conv matmuls."""
    total = 0

    def conv_hook(module: nn.Conv2d, _inputs, output: torch.Tensor) -> None:
        nonlocal total
        kernel = module.kernel_size[0] * module.kernel_size[1]
        total += output.numel() * module.in_channels // module.groups * kernel

    def sconv_hook(module: SConv, inputs, output: torch.Tensor) -> None:
        nonlocal total
        positions = output.shape[0] * output.shape[2] * output.shape[3]
        taps = module.kernel_size * module.kernel_size
        guide = module.weight_generator1.weight
        total += (
            positions
            * taps
            * (module.in_channels * module.out_channels + guide.shape[0] * guide.shape[1])
        )

    handles = [
        m.register_forward_hook(conv_hook) for m in model.modules() if isinstance(m, nn.Conv2d)
    ]
    handles += [
        m.register_forward_hook(sconv_hook) for m in model.modules() if isinstance(m, SConv)
    ]
    with torch.no_grad():
        model(rgb, spatial)
    for handle in handles:
        handle.remove()
    return total


def variant_table(
    variants: list[str], sizes: list[tuple[int, int]], threads: int, repeats: int, workdir: Path
) -> None:
    print(
        f"\nVariants (40 classes, depth input), batch 1, {threads} threads; "
        "ratio = torch ms / ORT ms; cpu = ORT process CPU time"
    )
    header = f"{'variant':14s} {'params M':>8s} {'ONNX MB':>8s}"
    for height, width in sizes:
        header += (
            f" {f'GMAC@{width}x{height}':>14s} {'ORT ms':>8s} {'cpu ms':>7s}"
            f" {'torch ms':>9s} {'ratio':>6s}"
        )
    print(header)
    for variant in tqdm(variants, desc="variants", leave=False):
        model = build_sgnet(variant, 40, "depth").eval()
        contract = ModelContract(
            class_names=tuple(f"c{i}" for i in range(40)), spatial_mode="depth"
        )
        path = workdir / f"{variant}.onnx"
        export_onnx(model, contract, path, sample_size=sizes[0])
        session = ort_session(path, threads)
        params = sum(p.numel() for p in model.parameters()) / 1e6
        row = f"{variant:14s} {params:8.2f} {path.stat().st_size / 1e6:8.1f}"
        heavy = variant != "small"
        for height, width in sizes:
            rgb, spatial = torch.randn(1, 3, height, width), torch.rand(1, 1, height, width)
            macs = count_macs(model, rgb, spatial) / 1e9
            feed = {"rgb": rgb.numpy(), "spatial": spatial.numpy()}
            runs = max(3, repeats // 5) if heavy else repeats
            warmup = 1 if heavy else 2
            ort_ms, ort_cpu_ms = median_ms(lambda s=session, f=feed: s.run(None, f), runs, warmup)
            with torch.no_grad():
                torch_ms, _ = median_ms(lambda m=model, r=rgb, s=spatial: m(r, s), runs, warmup)
            row += (
                f" {macs:14.2f} {ort_ms:8.1f} {ort_cpu_ms:7.1f} {torch_ms:9.1f}"
                f" {torch_ms / ort_ms:6.2f}"
            )
        tqdm.write(row)
        path.unlink()


def _size(text: str) -> tuple[int, int]:
    width, height = (int(v) for v in text.lower().split("x"))
    return height, width


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="tiny shapes and only the small variant (CI smoke run)"
    )
    parser.add_argument(
        "--variants",
        nargs="+",
        choices=sorted(VARIANTS),
        help=f"default: {' '.join(DISTINCT_INFERENCE_GRAPHS)}",
    )
    parser.add_argument("--sizes", nargs="+", type=_size, help="WxH, default 320x240 640x480")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.quick:
        variants, sizes, repeats = ["small"], [(64, 96)], 3
        sconv_shape = (16, 15, 20, 8)
    else:
        variants = args.variants or DISTINCT_INFERENCE_GRAPHS
        sizes, repeats = args.sizes or [(240, 320), (480, 640)], args.repeats
        sconv_shape = (64, 60, 80, 64)  # the reference case: 64 channels at 80x60
    with tempfile.TemporaryDirectory() as workdir:
        sconv_table(*sconv_shape, threads=args.threads, repeats=repeats, workdir=Path(workdir))
        variant_table(variants, sizes, args.threads, repeats, Path(workdir))
    print(f"\nonnxruntime {ort.__version__}, torch {torch.__version__}, numpy {np.__version__}")


if __name__ == "__main__":
    if "OMP_WAIT_POLICY" not in os.environ:
        # Spinning OpenMP workers make torch timings meaningless on a loaded CPU (100x
        # slower here). The runtime reads this variable when it loads, hence the re-exec.
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
        os.execv(sys.executable, [sys.executable, "-m", __spec__.name, *sys.argv[1:]])
    main()
