"""`sgnet-hha` and `sgnet-eval` on Ray: the same commands plus --ray / --address.

Without those flags they are the single-process tools, untouched. With them the images
(HHA) or frames (evaluation) are cut into chunks, one Ray task each: HHA tasks write the
very PNGs the single process would (each image is encoded on its own), evaluation tasks
return integer confusion matrices whose sum is the single process's matrix, so the table
and --json file are the same bytes.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

from sgnet_ros.fleet.cluster import require_ray, start_ray
from sgnet_ros.pipeline.pipeline import PipelineConfig, SegmentationPipeline
from sgnet_ros.pipeline.spatial.hha import HHAOptions
from sgnet_ros.training import evaluation, hha_cli
from sgnet_ros.training.datasets import list_folder, read_folder_frame


def ray_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(add_help=False)
    group = parser.add_argument_group("Ray (sgnet-fleet's engine)")
    group.add_argument("--ray", action="store_true", help="run the work as Ray tasks")
    group.add_argument("--address", default=None,
                       help="existing Ray cluster (implies --ray); default: a local Ray")
    group.add_argument("--num-cpus", type=int, default=None, help="CPUs of the local Ray")
    group.add_argument("--cpus-per-task", type=float, default=1.0, help="CPUs each task asks for")
    group.add_argument("--gpus-per-task", type=float, default=0.0, help="GPUs each task asks for")
    group.add_argument("--chunk-size", type=int, default=25, help="images or frames per task")
    return parser


def with_ray_help(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The tool's parser, its --help also listing the Ray flags."""
    return argparse.ArgumentParser(prog=parser.prog, description=parser.description,
                                   formatter_class=parser.formatter_class,
                                   parents=[parser, ray_parser()], conflict_handler="resolve")


def asks_for_help(argv: Sequence[str]) -> bool:
    """--help is answered by the parser that also lists the Ray flags."""
    return "-h" in argv or "--help" in argv


def chunks(items: Sequence, size: int) -> list[Sequence]:
    return [items[start:start + size] for start in range(0, len(items), max(1, size))]


def run_tasks(function: Callable, payloads: list[tuple], ray_args: argparse.Namespace,
              desc: str) -> list:
    """function(*payload) for every payload as Ray tasks; results in payload order."""
    ray = require_ray()
    started_here = start_ray(ray_args.address, ray_args.num_cpus, None)
    try:
        remote = ray.remote(max_retries=3)(function).options(
            num_cpus=ray_args.cpus_per_task, num_gpus=ray_args.gpus_per_task)
        refs = [remote.remote(*payload) for payload in payloads]
        results = {}
        with tqdm(total=len(refs), desc=desc, unit="task") as bar:
            pending = list(refs)
            while pending:
                ready, pending = ray.wait(pending, num_returns=1)
                try:
                    results[ready[0]] = ray.get(ready[0])
                except ray.exceptions.RayTaskError as error:  # the task's own error, as such
                    raise error.cause from None
                bar.update()
        return [results[ref] for ref in refs]
    finally:
        if started_here:
            ray.shutdown()


def encode_hha_chunk(work: Sequence[tuple[Path, Path | None, Path]], matrix: np.ndarray,
                     options: HHAOptions, device: str, depth_scale: float) -> int:
    hha_cli.encode_files(work, matrix, options, device, depth_scale, progress=False)
    return len(work)


def hha_main(argv: Sequence[str] | None = None) -> int:
    """sgnet-hha, on Ray with --ray / --address."""
    ray_args, rest = ray_parser().parse_known_args(argv)
    if not (ray_args.ray or ray_args.address or asks_for_help(rest)):
        return hha_cli.main(rest)
    parser = with_ray_help(hha_cli.build_parser())
    args = parser.parse_args(rest)
    try:
        matrix, options = hha_cli.camera_matrix(args), hha_cli.hha_options(args)
        work = hha_cli.jobs(args)
    except ValueError as error:
        parser.exit(2, f"sgnet-hha: error: {error}\n")
    if options.gravity_smoothing > 0:
        parser.exit(2, "sgnet-hha: error: --gravity-smoothing carries state from image to "
                    "image; it needs the single-process order, not --ray\n")
    payloads = [(chunk, matrix, options, args.device, args.depth_scale)
                for chunk in chunks(work, ray_args.chunk_size)]
    try:
        written = sum(run_tasks(encode_hha_chunk, payloads, ray_args, "HHA chunks"))
    except ValueError as error:  # an unreadable image, as the single process says it
        parser.exit(2, f"sgnet-hha: error: {error}\n")
    print(f"wrote {written} HHA images to {args.output}")
    return 0


_eval_pipelines: dict[Path, SegmentationPipeline] = {}  # per Ray worker


def evaluate_chunk(model: Path, source: tuple) -> np.ndarray:
    """Confusion matrix of one chunk: ("synthetic", seeds, size, style) or ("folder", root, names,
    one_based_labels); the pipeline is sgnet-eval's (CPU)."""
    if model not in _eval_pipelines:
        _eval_pipelines[model] = SegmentationPipeline.from_model_path(
            model, PipelineConfig(device="cpu"))
    if source[0] == "synthetic":
        _, seeds, size, style = source
        frames, count = evaluation.synthetic_frames(seeds, size, style), len(seeds)
    else:
        _, root, names, one_based = source
        frames, count = (read_folder_frame(root, name, one_based) for name in names), len(names)
    return evaluation.evaluate_pipeline(_eval_pipelines[model], frames, count)


def eval_main(argv: list[str] | None = None) -> int:
    """sgnet-eval, on Ray with --ray / --address."""
    ray_args, rest = ray_parser().parse_known_args(argv)
    if not (ray_args.ray or ray_args.address or asks_for_help(rest)):
        return evaluation.main(rest)
    args = with_ray_help(evaluation.build_parser()).parse_args(rest)
    if args.real is not None:
        raise SystemExit("sgnet-eval: --real runs its few frames in one process; drop --ray")
    if not args.model.is_file():
        raise SystemExit(f"sgnet-eval: model {args.model} does not exist")
    model = args.model.resolve()
    pipeline = SegmentationPipeline.from_model_path(args.model, PipelineConfig(device="cpu"))
    if args.synthetic_seeds is not None:
        style = evaluation.model_style(pipeline.contract, args.style)
        sources = [("synthetic", seeds, args.size, style)
                   for seeds in chunks(args.synthetic_seeds, ray_args.chunk_size)]
    else:
        style = None
        names = list_folder(args.folder, args.split)
        sources = [("folder", args.folder.resolve(), chunk, args.one_based_labels)
                   for chunk in chunks(names, ray_args.chunk_size)]
    matrices = run_tasks(evaluate_chunk, [(model, source) for source in sources], ray_args,
                         "evaluation chunks")
    evaluation.write_results(args, pipeline, np.sum(matrices, axis=0), style)
    return 0

