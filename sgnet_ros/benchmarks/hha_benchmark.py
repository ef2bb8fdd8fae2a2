"""Spatial encoding benchmark: HHA (and XYZ, depth) per frame, against the Python HHA port.

Run ``python -m sgnet_ros.benchmarks.hha_benchmark`` (``--quick`` for a tiny CI run).
Every row encodes the same NYUDv2 frame (raw depth, holes included) at 320x240 and 640x480.
The reference is the widely used Python port of the MATLAB HHA code; it needs numpy<1.24,
so it runs in its own environment (``--port-python`` and ``--port-dir``, a checkout of
github.com/charlesCXK/Depth2HHA-python), in the same run, on the same frames. Without it,
the ratio is against a saved timing, marked as such. Memory: the scratch the encoder keeps
between frames and the process peak (CPU), or the peak allocated (CUDA).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.nn import functional

from sgnet_ros.pipeline.spatial.encoding import SpatialEncoder

DEFAULT_DEPTH = (
    Path(__file__).resolve().parents[2]
    / "test"
    / "data"
    / "hha"
    / "nyu_demo"
    / "depth_raw_0.1mm.png"
)
DEPTH_SCALE = 0.0001  # the NYUDv2 demo PNG is in 0.1 mm
NYU_K_ONE_BASED = np.array(
    [
        [518.85790117450188, 0.0, 325.58244941119034],
        [0.0, 519.46961112127485, 253.73616633400465],
        [0.0, 0.0, 1.0],
    ]
)
# The port on this project's 2-core development machine, 640x480 (issue 5); used only when
# the port cannot be run here.
SAVED_PORT_SECONDS = {(480, 640): 2.6}

# Runs in the port's own environment: times getHHA(camera, depth, raw) on saved frames.
PORT_TIMER = """
import sys, time
import numpy as np
sys.path.insert(0, sys.argv[1])
from getHHA import getHHA
camera = np.load(sys.argv[2])
repeats = int(sys.argv[3])
for path in sys.argv[4:]:
    depth = np.load(path)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        getHHA(camera, depth, depth)
        times.append(time.perf_counter() - start)
    print(sorted(times)[len(times) // 2])
"""


def load_frames(path: Path, sizes: list[tuple[int, int]]) -> dict[tuple[int, int], torch.Tensor]:
    """The depth frame in metres (float64) at each size (nearest neighbour, holes kept)."""
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None or image.ndim != 2:
        raise SystemExit(f"cannot read a single-channel depth PNG at {path}; pass --depth")
    metres = torch.from_numpy(image.astype(np.float64) * DEPTH_SCALE)
    return {
        size: functional.interpolate(metres[None, None], size=size, mode="nearest")[0, 0]
        for size in sizes
    }


def scaled_camera(size: tuple[int, int], one_based: bool) -> np.ndarray:
    """The NYUDv2 camera matrix for a frame resized to size (0-based unless asked)."""
    scale = size[1] / 640.0
    camera = NYU_K_ONE_BASED.copy()
    if not one_based:
        camera[:2, 2] -= 1.0
    camera[:2] *= scale
    return camera


def encode_times_ms(
    encoder: SpatialEncoder, depth: torch.Tensor, camera: np.ndarray, repeats: int
) -> list[float]:
    """Milliseconds of each encode (after a warm-up that allocates the scratch); sgnet-bench
    takes its percentiles from these."""
    synchronize = torch.cuda.synchronize if encoder.device.type == "cuda" else (lambda: None)
    encoder.encode(depth, camera)
    times = []
    for _ in range(repeats):
        synchronize()
        start = time.perf_counter()
        encoder.encode(depth, camera)
        synchronize()
        times.append(1000.0 * (time.perf_counter() - start))
    return times


def encode_ms(
    encoder: SpatialEncoder, depth: torch.Tensor, camera: np.ndarray, repeats: int
) -> float:
    """Median milliseconds per encode."""
    return statistics.median(encode_times_ms(encoder, depth, camera, repeats))


def port_seconds(
    frames: dict[tuple[int, int], torch.Tensor], python: Path, port_dir: Path, repeats: int
) -> dict[tuple[int, int], float]:
    """Median seconds per frame of the Python port, run in its own interpreter."""
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for size, depth in frames.items():
            paths.append(Path(folder) / f"depth_{size[0]}x{size[1]}.npy")
            np.save(paths[-1], depth.numpy())
        camera_paths = []
        for size in frames:
            camera_paths.append(Path(folder) / f"camera_{size[0]}x{size[1]}.npy")
            np.save(camera_paths[-1], scaled_camera(size, one_based=True))
        seconds = {}
        for size, path, camera_path in zip(frames, paths, camera_paths, strict=True):
            result = subprocess.run(
                [str(python), "-c", PORT_TIMER, str(port_dir), str(camera_path), str(repeats)]
                + [str(path)],
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode != 0:
                raise SystemExit(f"the port failed:\n{result.stderr}")
            seconds[size] = float(result.stdout.split()[-1])
    return seconds


def reference_seconds(
    frames: dict[tuple[int, int], torch.Tensor],
    python: Path | None,
    port_dir: Path | None,
    repeats: int,
) -> tuple[dict[tuple[int, int], float], str]:
    """The port's median seconds per frame size and where they come from: run here when its
    environment is given, else the saved timing (only the sizes it has), so no reader mistakes
    one for the other."""
    if python and port_dir:
        return port_seconds(frames, python, port_dir, repeats), "measured in this run"
    saved = {size: seconds for size, seconds in SAVED_PORT_SECONDS.items() if size in frames}
    return saved, "saved (issue 5, 2-core dev machine), not this run"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny run for CI")
    parser.add_argument("--depth", type=Path, default=DEFAULT_DEPTH, help="0.1 mm depth PNG")
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--port-python", type=Path, help="python of the port's environment")
    parser.add_argument("--port-dir", type=Path, help="checkout of Depth2HHA-python")
    parser.add_argument("--port-repeats", type=int, default=3)
    args = parser.parse_args(argv)

    sizes = [(60, 80), (120, 160)] if args.quick else [(240, 320), (480, 640)]
    repeats = 2 if args.quick else args.repeats
    frames = load_frames(args.depth, sizes)

    port, port_source = {}, "not run with --quick"
    if not args.quick:
        port, port_source = reference_seconds(
            frames, args.port_python, args.port_dir, args.port_repeats
        )

    configurations = [("cpu", threads) for threads in sorted({torch.get_num_threads(), 1})]
    if torch.cuda.is_available():
        configurations.append(("cuda", torch.get_num_threads()))
    default_threads = torch.get_num_threads()
    header = (
        f"{'mode':5} {'size':>8} {'device':10} {'ms/frame':>9} {'scratch MB':>10} "
        f"{'peak MB':>8} {'port s':>7} {'speed-up':>8}"
    )
    print(f"spatial encoding, median of {repeats}; port: {port_source}")
    print(header)
    print("-" * len(header))
    for device, threads in configurations:
        torch.set_num_threads(threads)
        for mode in ("hha", "xyz", "depth"):
            for size, depth in frames.items():
                encoder = SpatialEncoder(mode, device=device)
                if device == "cuda":
                    torch.cuda.reset_peak_memory_stats()
                ms = encode_ms(encoder, depth.to(device), scaled_camera(size, False), repeats)
                if device == "cuda":
                    peak_mb = torch.cuda.max_memory_allocated() / 2**20
                else:
                    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                reference = port.get(size) if mode == "hha" else None
                speed_up = f"{1000.0 * reference / ms:7.1f}x" if reference else ""
                label = "cuda" if device == "cuda" else f"cpu:{threads}t"
                print(
                    f"{mode:5} {size[1]:>4}x{size[0]:<3} {label:10} {ms:9.2f} "
                    f"{encoder.scratch_bytes / 2**20:10.1f} {peak_mb:8.0f} "
                    f"{f'{reference:.2f}' if reference else '':>7} {speed_up:>8}"
                )
    torch.set_num_threads(default_threads)


if __name__ == "__main__":
    main()
