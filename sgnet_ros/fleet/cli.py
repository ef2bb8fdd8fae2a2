"""`sgnet-fleet BAGS... --out DIR`: segment and evaluate many bags as Ray tasks.

    sgnet-fleet /data/bags --out out/fleet                      # local Ray on this machine
    sgnet-fleet bags.txt --out out/fleet --no-bags --resume     # evaluation only; skip done
    sgnet-fleet /nfs/bags --out /nfs/fleet --address ray://head:10001 --gpus-per-task 1

Each bag runs `sgnet-replay --mode direct` in a Ray task and gets what that writes (output
bag unless --no-bags, previews, report), in OUT/bags/NAME/; the run writes
OUT/fleet_report.{md,json}, latency and mIoU plots and a contact sheet of previews.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from tqdm import tqdm

from sgnet_ros.bags.io import DEFAULT_TOPICS, bag_topics
from sgnet_ros.bags.replay import CONFIG
from sgnet_ros.fleet.cluster import cluster_description, require_ray, start_ray
from sgnet_ros.fleet.layout import BagJob, completed_result, fleet_jobs, remove_partials
from sgnet_ros.fleet.plots import contact_sheet, plot_latency, plot_miou
from sgnet_ros.fleet.report import FleetReport
from sgnet_ros.fleet.task import BagTaskOptions, segment_bag
from sgnet_ros.pipeline.pipeline import default_model_path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sgnet-fleet", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sources", type=Path, nargs="+",
                        help="bags, folders searched for bags, or text files listing bags")
    parser.add_argument("--out", type=Path, required=True, help="results folder")
    parser.add_argument("--model", type=Path, default=None, help="ONNX model (default: bundled)")
    parser.add_argument("--params-file", type=Path, default=CONFIG,
                        help="node parameter YAML (default: config/sgnet.yaml)")
    parser.add_argument("--no-bags", action="store_true",
                        help="evaluation only: reports and previews, no output bags")
    parser.add_argument("--resume", action="store_true",
                        help="keep the bags whose results in --out are complete")
    ray_group = parser.add_argument_group("Ray")
    ray_group.add_argument("--address", default=None,
                           help="existing cluster (ray://host:10001 or host:6379); default: "
                           "a local Ray started for this run")
    ray_group.add_argument("--num-cpus", type=int, default=None,
                           help="CPUs of the local Ray (default: all of this machine)")
    ray_group.add_argument("--cpus-per-task", type=float, default=1.0,
                           help="CPUs each bag's task asks for (also its torch threads)")
    ray_group.add_argument("--gpus-per-task", type=float, default=0.0,
                           help="GPUs each bag's task asks for: 1 = one model per GPU")
    ray_group.add_argument("--max-retries", type=int, default=3,
                           help="re-runs of a bag whose worker died (Ray task retries)")
    replay_group = parser.add_argument_group(
        "passed to sgnet-replay for every bag (unset: sgnet-replay's defaults)")
    for flag in REPLAY_FLAGS:
        replay_group.add_argument(flag, default=None)
    replay_group.add_argument("--preview-every", type=int, default=10)
    return parser


# sgnet-replay's flags that pick the input topics and shape the outputs, passed on as given.
REPLAY_FLAGS = ("--rgb-topic", "--depth-topic", "--info-topic", "--labels-topic",
                "--namespace", "--slop")


def task_options(args: argparse.Namespace) -> BagTaskOptions:
    flags = ["--preview-every", str(args.preview_every)]
    for flag in REPLAY_FLAGS:
        value = getattr(args, flag.removeprefix("--").replace("-", "_"))
        if value is not None:
            flags += [flag, value]
    model = args.model.resolve() if args.model else None
    params = args.params_file.resolve() if args.params_file else None
    return BagTaskOptions(model=model, params_file=params, replay_flags=tuple(flags),
                          write_bags=not args.no_bags,
                          torch_threads=max(1, int(args.cpus_per_task)))


def colour_frames(job: BagJob, rgb_topic: str | None) -> int:
    """Colour frames of a bag by its metadata (0 when unreadable: it will fail in its task)."""
    try:
        return bag_topics(job.bag).get(rgb_topic or DEFAULT_TOPICS.rgb, ("", 0))[1]
    except Exception:  # noqa: BLE001 - the task reports the error
        return 0


class FrameProgress:
    """Frames done per bag, told by the tasks as they go (a retried bag starts again)."""

    def __init__(self) -> None:
        self.frames: dict[str, int] = {}

    def set(self, name: str, frames: int) -> None:
        self.frames[name] = frames

    def total(self) -> int:
        return sum(self.frames.values())


def run_fleet(args: argparse.Namespace, jobs: list[BagJob], report: FleetReport) -> None:
    """Submit every job not already complete, collect results as they come, Ctrl-C stops."""
    ray = require_ray()
    bags_root = args.out / "bags"
    options = task_options(args)
    remote = ray.remote(max_retries=args.max_retries)(segment_bag).options(
        num_cpus=args.cpus_per_task, num_gpus=args.gpus_per_task)
    todo = []
    for job in jobs:
        done = completed_result(bags_root, job) if args.resume else None
        if done is not None:
            report.results.append(done)
            report.resumed.append(job.name)
        else:
            todo.append(job)
    counter = ray.remote(num_cpus=0)(FrameProgress).remote()

    def tell(name: str, frames: int) -> None:
        counter.set.remote(name, frames)

    pending = {remote.remote(job, bags_root.resolve(), options, tell): job for job in todo}
    bag_bar = tqdm(total=len(jobs), initial=len(report.resumed), desc="bags", unit="bag")
    frame_bar = tqdm(total=sum(colour_frames(job, args.rgb_topic) for job in jobs),
                     desc="frames", unit="frame")
    resumed_frames = sum(r["report"]["frames_in"] for r in report.results)
    try:
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=0.5)
            frame_bar.update(min(frame_bar.total, resumed_frames + ray.get(counter.total.remote()))
                             - frame_bar.n)
            for ref in ready:
                job = pending.pop(ref)
                try:
                    result = ray.get(ref)
                except ray.exceptions.RayError as error:  # worker died more than max_retries
                    result = {"name": job.name, "bag": str(job.bag), "status": "failed",
                              "error": f"{type(error).__name__}: {error}".splitlines()[0],
                              "attempts": args.max_retries + 1}
                report.results.append(result)
                bag_bar.update()
                if result["status"] == "failed":
                    tqdm.write(f"FAILED {job.name}: {result['error']}")
    except KeyboardInterrupt:
        report.interrupted = True
        for ref in pending:
            ray.cancel(ref, force=True)
        for job in pending.values():
            report.not_run.append(job.name)
            remove_partials(bags_root, job)
    finally:
        bag_bar.close()
        frame_bar.close()
    order = {job.name: index for index, job in enumerate(jobs)}
    report.results.sort(key=lambda result: order[result["name"]])


def write_outputs(out: Path, report: FleetReport) -> None:
    """The report, the plots and the contact sheet."""
    report.write(out)
    done = report.done()
    data = report.as_dict()
    plot_latency(done, out / "latency_per_bag.png")
    plot_miou(data["bags"], data["pooled"], out / "miou_per_bag.png")
    contact_sheet(out / "bags", done, out / "contact_sheet.png")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.preview_every < 1:
        parser.error("--preview-every must be >= 1")
    jobs = fleet_jobs(args.sources, args.out)
    if not jobs:
        parser.error(f"no bag found in {', '.join(map(str, args.sources))}")
    existing = args.out / "bags"
    if not args.resume and existing.is_dir() and any(existing.iterdir()):
        parser.error(f"{existing} holds results; pass --resume to keep them or choose another "
                     "--out")
    started = time.perf_counter()
    started_here = start_ray(args.address, args.num_cpus, None)
    ray = require_ray()
    try:
        report = FleetReport(model=str(args.model or default_model_path()),
                             cluster=cluster_description())
        print(f"sgnet-fleet: {len(jobs)} bag(s) on {report.cluster}", flush=True)
        run_fleet(args, jobs, report)
    finally:
        if started_here:
            ray.shutdown()
    report.wall_s = time.perf_counter() - started
    write_outputs(args.out, report)
    print("\n".join(report.summary_lines()))
    print(f"report: {args.out / 'fleet_report.md'}")
    if report.interrupted:
        return 130
    return 1 if report.failed() else 0


if __name__ == "__main__":
    sys.exit(main())
