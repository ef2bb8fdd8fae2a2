"""`python -m sgnet_ros.fleet.benchmark`: what Ray costs and buys on N synthetic bags.

    python -m sgnet_ros.fleet.benchmark --bags 8 --frames 15 --size 240x320

The reference, measured in the same run, is the plain loop a user would write without
Ray: `sgnet-replay --mode direct` on each bag in turn, in one process. Then sgnet-fleet
on a fresh local Ray with 1 worker (the task asks for every CPU) and with 2 workers (one
CPU each), both counted from submission to the last result, so worker start and model
load are in. Separately, the Ray overhead per task: an empty task's round trip, one at a
time and in a batch. The table ends with what a 1000-bag run costs on K nodes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from sgnet_ros.bags import replay
from sgnet_ros.fleet import cli
from sgnet_ros.fleet.cluster import require_ray, start_ray
from sgnet_ros.fleet.report import FleetReport
from sgnet_ros.training.synthetic_cli import parse_size, write_bag


def empty_task() -> None:
    """The no-op whose round trip is Ray's per-task overhead."""


def ray_overhead_ms(count: int) -> dict[str, float]:
    """ms per empty task: submitted and awaited one by one, and submitted as one batch."""
    ray = require_ray()
    remote = ray.remote(empty_task)
    ray.get([remote.remote() for _ in range(4)])  # workers up
    started = time.perf_counter()
    for _ in range(count):
        ray.get(remote.remote())
    serial = (time.perf_counter() - started) * 1000 / count
    started = time.perf_counter()
    ray.get([remote.remote() for _ in range(count)])
    batch = (time.perf_counter() - started) * 1000 / count
    return {"serial_ms": serial, "batch_ms": batch}


def sequential_replays(bags: list[Path], out: Path) -> float:
    """Seconds for sgnet-replay --mode direct on every bag in turn (one process)."""
    started = time.perf_counter()
    for bag in bags:
        args = replay.parse_args([str(bag), "--out", str(out / bag.name), "--quiet"])
        replay.replay(args)
    return time.perf_counter() - started


def fleet_run(bags_dir: Path, out: Path, workers: int, cpus: int) -> tuple[float, FleetReport]:
    """Seconds for sgnet-fleet on a fresh local Ray whose tasks fit `workers` at a time."""
    args = cli.build_parser().parse_args(
        [str(bags_dir), "--out", str(out), "--cpus-per-task", str(cpus / workers)])
    jobs = cli.fleet_jobs(args.sources, args.out)
    start_ray(None, cpus, None)
    try:
        report = FleetReport(model="default", cluster=f"local, {workers} worker(s)")
        started = time.perf_counter()
        cli.run_fleet(args, jobs, report)
        return time.perf_counter() - started, report
    finally:
        require_ray().shutdown()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bags", type=int, default=8)
    parser.add_argument("--frames", type=int, default=15, help="frames per bag")
    parser.add_argument("--size", type=parse_size, default=(240, 320), help="HEIGHTxWIDTH")
    parser.add_argument("--overhead-tasks", type=int, default=200)
    parser.add_argument("--out", type=Path, default=Path("out/benchmark"))
    args = parser.parse_args(argv)
    cpus = 2
    with tempfile.TemporaryDirectory(prefix="sgnet_fleet_bench_") as scratch:
        root = Path(scratch)
        bags = [root / "bags" / f"bag{index:03d}" for index in range(args.bags)]
        for index, bag in enumerate(bags):
            write_bag(bag, 100 + index, args.frames, args.size)
        frames = args.bags * args.frames
        one_worker = None
        rows = [("sequential sgnet-replay --mode direct (reference)",
                 sequential_replays(bags, root / "sequential"))]
        for workers in (1, 2):
            seconds, report = fleet_run(root / "bags", root / f"fleet{workers}", workers, cpus)
            assert len(report.done()) == args.bags, report.summary_lines()
            one_worker = report if workers == 1 else one_worker
            rows.append((f"sgnet-fleet, {workers} worker(s) x {cpus // workers} CPU", seconds))
        start_ray(None, cpus, None)
        try:
            overhead = ray_overhead_ms(args.overhead_tasks)
        finally:
            require_ray().shutdown()
    reference = rows[0][1]
    # A worker's seconds per frame when it has this machine's CPUs to itself: the 1-worker
    # run's median bag (read, segment, write) over that bag's frames.
    per_frame_s = statistics.median(r["seconds"] for r in one_worker.done()) / args.frames
    load = os.getloadavg()[0]
    lines = [f"{args.bags} synthetic bags x {args.frames} frames of "
             f"{args.size[1]}x{args.size[0]}, {os.cpu_count()} CPUs (load average "
             f"{load:.1f} at the end), local Ray of {cpus} CPUs",
             "", "| run | wall s | frames/s | speed-up vs reference |", "|---|---:|---:|---:|"]
    lines += [f"| {name} | {seconds:.1f} | {frames / seconds:.2f} | {reference / seconds:.2f} |"
              for name, seconds in rows]
    lines += ["", f"Ray overhead per empty task: {overhead['serial_ms']:.2f} ms one at a time, "
              f"{overhead['batch_ms']:.2f} ms in a batch of {args.overhead_tasks}.", "",
              "1000 bags of 9000 frames (5 min at 30 Hz) on K nodes like this one, one "
              f"{cpus}-CPU worker each, at {per_frame_s * 1000:.0f} ms/frame (the 1-worker "
              "run's median bag time over its frames) plus the per-task overhead:", "",
              "| nodes | hours |", "|---:|---:|"]
    for nodes in (1, 4, 16, 64):
        hours = 1000 * (9000 * per_frame_s + overhead["serial_ms"] / 1000) / nodes / 3600
        lines.append(f"| {nodes} | {hours:.1f} |")
    text = "\n".join(lines)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "fleet.md").write_text(text + "\n")
    (args.out / "fleet.json").write_text(json.dumps(
        {"rows": dict(rows), "ray_overhead_ms": overhead, "frames": frames,
         "per_worker_frame_s": per_frame_s}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
