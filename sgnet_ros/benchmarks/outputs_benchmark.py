"""Output stage benchmark: every output of one frame against a straightforward reference.

    python -m sgnet_ros.benchmarks.outputs_benchmark [--quick] [--repeats N] [--threads N]

Prints (1) the time of OutputBuilder.build for a 640x480 frame with every class cloud
requested, stage by stage, next to a reference that upsamples all logits with torch,
blends in float and builds each cloud with a structured-array copy per field and per
class, with the ratio, and (2) nearest-on-labels against bilinear-on-logits resizing, for
speed and for accuracy near label boundaries, on a synthetic scene whose true labels are
known at the camera resolution and whose network logits are those of a perfect network at
the network resolution (the fine logits area-averaged).

CPU time (best run) is the figure to compare on a shared machine: wall time includes
waiting for other processes' cores.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch.nn.functional import avg_pool2d, interpolate

from sgnet_ros.benchmarks.timing import time_calls
from sgnet_ros.pipeline.contract import default_palette
from sgnet_ros.pipeline.nyu40 import CLASS_NAMES
from sgnet_ros.pipeline.outputs.builder import OutputBuilder, OutputOptions

CAMERA_SIZE = (480, 640)
QUICK_CAMERA_SIZE = (120, 160)
POOL = 2  # camera pixels per network pixel along each axis (640x480 -> 320x240)
REGIONS = (6, 8)  # coarse grid of the random field that makes the scene's regions


def synthetic_scene(camera_size: tuple[int, int], num_classes: int, seed: int = 0):
    """True labels at the camera resolution, a perfect network's logits, rgb, depth and K."""
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.randn(1, num_classes, *REGIONS, generator=generator) * 4
    fine_logits = interpolate(coarse, size=camera_size, mode="bicubic", align_corners=False)
    truth = fine_logits[0].argmax(0).numpy()
    network_logits = avg_pool2d(fine_logits, POOL).contiguous().numpy()
    rng = np.random.default_rng(seed)
    height, width = camera_size
    rgb = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    rows, cols = np.mgrid[0:height, 0:width]
    depth = (1.5 + 3.0 * rows / height + np.sin(cols / 40.0)).astype(np.float32)
    depth[rng.random(camera_size) < 0.1] = 0.0  # sensor holes
    focal = 525.0 * width / 640
    K = np.array([[focal, 0, (width - 1) / 2], [0, focal, (height - 1) / 2], [0, 0, 1]])
    return truth, network_logits, rgb, depth, K


@dataclass(frozen=True)
class Timing:
    cpu_best: float  # ms of this process's CPU time, best run: robust to other load
    wall_median: float  # ms of wall-clock time, median run


def measure(function: Callable[[], object], repeats: int) -> Timing:
    """CPU (best) and wall (median) milliseconds of `function`, after one warm-up call."""
    walls, cpus = time_calls(function, repeats)
    return Timing(float(np.min(cpus)), float(np.median(walls)))


class ReferenceOutputs:
    """The straightforward way: full upsampling, float blend, per-field and per-class copies."""

    CLASS_DTYPE = np.dtype(
        {
            "names": ["x", "y", "z", "rgb"],
            "formats": ["<f4"] * 4,
            "offsets": [0, 4, 8, 12],
            "itemsize": 16,
        }
    )
    ORGANIZED_DTYPE = np.dtype(
        {
            "names": ["x", "y", "z", "rgb", "label"],
            "formats": ["<f4"] * 4 + ["<u4"],
            "offsets": [0, 4, 8, 12, 16],
            "itemsize": 20,
        }
    )

    def __init__(self, num_classes: int, options: OutputOptions) -> None:
        self.num_classes = num_classes
        self.options = options
        self.palette = np.array(default_palette(num_classes), np.uint8)

    def labels(self, logits: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        upsampled = interpolate(
            torch.from_numpy(logits), size=size, mode="bilinear", align_corners=False
        )
        return upsampled[0].argmax(0).numpy().astype(np.uint8)

    def overlay(self, labels: np.ndarray, rgb: np.ndarray) -> np.ndarray:
        alpha = self.options.overlay_alpha
        blended = alpha * rgb.astype(np.float32) + (1 - alpha) * self.palette[labels]
        return np.round(blended).astype(np.uint8)

    def clouds(self, labels, rgb, depth, K, classes) -> tuple[bytes, dict[int, bytes]]:
        rows, cols = np.mgrid[0 : depth.shape[0], 0 : depth.shape[1]]
        valid = (depth > 0) & (depth >= self.options.min_depth) & (depth <= self.options.max_depth)
        z = np.where(valid, depth, np.nan).astype(np.float32)
        x = ((cols - K[0, 2]) / K[0, 0] * z).astype(np.float32)
        y = ((rows - K[1, 2]) / K[1, 1] * z).astype(np.float32)
        packed = (
            (rgb[..., 0].astype(np.uint32) << 16)
            | (rgb[..., 1].astype(np.uint32) << 8)
            | rgb[..., 2]
        ).view(np.float32)
        organized = np.empty(depth.shape, self.ORGANIZED_DTYPE)
        organized["x"], organized["y"], organized["z"] = x, y, z
        organized["rgb"], organized["label"] = packed, labels
        per_class = {}
        for class_id in classes:
            mask = valid & (labels == class_id)
            cloud = np.empty(int(mask.sum()), self.CLASS_DTYPE)
            cloud["x"], cloud["y"], cloud["z"] = x[mask], y[mask], z[mask]
            cloud["rgb"] = packed[mask]
            per_class[class_id] = cloud.tobytes()
        return organized.tobytes(), per_class

    def build(self, logits, rgb, depth, K, classes):
        labels = self.labels(logits, depth.shape)
        return labels, self.overlay(labels, rgb), self.clouds(labels, rgb, depth, K, classes)


def boundary_band(truth: np.ndarray, radius: int) -> np.ndarray:
    """Pixels within `radius` of a change of the true label."""
    edge = np.zeros(truth.shape, bool)
    edge[:, 1:] |= truth[:, 1:] != truth[:, :-1]
    edge[1:, :] |= truth[1:, :] != truth[:-1, :]
    band = edge.copy()
    for _ in range(radius):
        grown = band.copy()
        grown[1:, :] |= band[:-1, :]
        grown[:-1, :] |= band[1:, :]
        grown[:, 1:] |= band[:, :-1]
        grown[:, :-1] |= band[:, 1:]
        band = grown
    return band


def print_table(title: str, header: tuple[str, ...], rows: list[tuple]) -> None:
    print(title)
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    for line in (header, *rows):
        print("  ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=True)))


def timing_rows(scenarios, repeats: int) -> list[tuple[str, ...]]:
    """Table rows for (name, ours, reference or None) callables."""
    rows = []
    for name, ours, reference in scenarios:
        mine = measure(ours, repeats)
        row = [name, f"{mine.cpu_best:.2f}", f"{mine.wall_median:.2f}", "", "", ""]
        if reference is not None:
            theirs = measure(reference, repeats)
            row[3:] = [
                f"{theirs.cpu_best:.2f}",
                f"{theirs.wall_median:.2f}",
                f"{theirs.cpu_best / mine.cpu_best:.1f}x",
            ]
        rows.append(tuple(row))
    return rows


TIMING_HEADER = ("frame", "ours cpu", "ours wall", "ref cpu", "ref wall", "speed-up")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny frame, few repeats (CI)")
    parser.add_argument("--repeats", type=int, default=None, help="timed runs per row")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch intra-op threads for the reference"
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    camera_size = QUICK_CAMERA_SIZE if args.quick else CAMERA_SIZE
    repeats = args.repeats or (3 if args.quick else 30)
    num_classes = len(CLASS_NAMES)
    classes = list(range(num_classes))
    truth, logits, rgb, depth, K = synthetic_scene(camera_size, num_classes)
    print(
        f"frame {camera_size[1]}x{camera_size[0]}, network {logits.shape[3]}x{logits.shape[2]}, "
        f"{num_classes} classes; ms: cpu = best of {repeats} runs (process CPU time), "
        f"wall = median; ours is single-threaded, the reference uses {args.threads} torch "
        "thread(s)"
    )

    options = OutputOptions()
    reference = ReferenceOutputs(num_classes, options)

    def ours(clouds=classes, organized=True, **changes):
        builder = OutputBuilder(CLASS_NAMES, None, replace(options, **changes))
        return lambda: builder.build(
            logits, rgb, depth, K, cloud_classes=clouds, organized_cloud=organized
        )

    def theirs(clouds=classes, organized=True):
        if not organized:
            return lambda: reference.overlay(reference.labels(logits, camera_size), rgb)
        return lambda: reference.build(logits, rgb, depth, K, clouds)

    # The path a CUDA pipeline takes: resize and clouds in torch where the frame already is.
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    frame_on_device = (torch.from_numpy(rgb).to(device), torch.from_numpy(depth).to(device))
    logits_on_device = torch.from_numpy(logits).to(device)

    def ours_on_device():
        builder = OutputBuilder(CLASS_NAMES, None, options)

        def run():
            builder.build(logits_on_device, rgb, depth, K, cloud_classes=classes,
                          frame_on_device=frame_on_device)
            if device.type == "cuda":
                torch.cuda.synchronize()
        return run

    all_outputs = f"all outputs, {num_classes} class clouds"
    scenarios = [
        ("labels + overlay", ours((), False), theirs((), False)),
        ("+ organized cloud", ours(()), theirs(())),
        (all_outputs, ours(), theirs()),
        ("all outputs, nearest_labels", ours(resize="nearest_labels"), None),
        ("all outputs + confidence", ours(with_confidence=True), None),
        ("all outputs, class clouds voxel 5 cm", ours(voxel_size=0.05), None),
        (f"{all_outputs}, torch on {device.type} (the CUDA path)", ours_on_device(), None),
    ]
    print_table("\nall outputs of one frame (ms)", TIMING_HEADER, timing_rows(scenarios, repeats))

    out = ours()()
    reference_labels, _, (_, reference_clouds) = theirs()()
    same_sizes = all(out.class_clouds[c].data.nbytes == len(reference_clouds[c]) for c in classes)
    print(
        f"labels agree with the reference on {np.mean(out.labels == reference_labels):.4%} "
        f"of pixels; class cloud sizes equal: {same_sizes}"
    )

    band = boundary_band(truth, radius=2)
    accuracy_rows = []
    for mode in ("nearest_labels", "bilinear_logits"):
        labels = ours((), False, resize=mode)().labels
        timing = measure(ours((), False, resize=mode), repeats)
        correct = labels == truth
        accuracy_rows.append(
            (mode, f"{timing.cpu_best:.2f}", f"{correct.mean():.4f}", f"{correct[band].mean():.4f}")
        )
    timing = measure(theirs((), False), repeats)
    accuracy_rows.append(
        ("reference: torch upsample all + argmax", f"{timing.cpu_best:.2f}", "", "")
    )
    print_table(
        f"\nlabel resize, network -> camera ({band.mean():.1%} of pixels within 2 px of a true "
        "boundary)",
        ("mode", "labels + overlay cpu ms", "pixel accuracy", "boundary-band accuracy"),
        accuracy_rows,
    )


if __name__ == "__main__":
    main()
