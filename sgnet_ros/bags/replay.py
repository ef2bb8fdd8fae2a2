"""`sgnet-replay BAG --out OUT_BAG`: segment a recorded bag, offline or through live topics.

--mode direct feeds every synced frame straight into the pipeline: deterministic, as fast
as the machine allows, for regression tests and evaluation. --mode ros starts the real
node, plays the bag to it through ROS 2 topics at the recorded rate and records what it
publishes, exactly as a robot would see it. Both write the outputs to a bag, preview PNGs
and a report (frames, drops, latency per stage, mIoU when the bag has ground truth).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from pathlib import Path

import numpy as np
from tqdm import tqdm

from sgnet_ros.bags.io import (
    DEFAULT_TOPICS,
    BagTopics,
    BagWriter,
    bag_topics,
    read_messages,
    repair_unfinished,
)
from sgnet_ros.bags.report import ReplayReport, report_dir, write_preview
from sgnet_ros.bags.topics import TopicError, input_types
from sgnet_ros.pipeline.codec import ImageDecodeError, decode_image, encode_image
from sgnet_ros.pipeline.geometry import FrameError
from sgnet_ros.pipeline.pipeline import PipelineConfig, SegmentationPipeline, default_model_path
from sgnet_ros.pipeline.sync import NewestSynchronizer
from sgnet_ros.ros.messages import (
    camera_intrinsics,
    decode_color,
    decode_depth,
    label_info_json,
    rosbags_classes,
    stamp_ns,
)
from sgnet_ros.ros.parameters import cloud_class_ids, load_parameter_file, validate
from sgnet_ros.training.metrics import ConfusionMatrix, per_class_iou

SOURCE_CONFIG = Path(__file__).resolve().parents[2] / "config" / "sgnet.yaml"
# The source tree's parameter file; a pip install without it runs on the schema defaults.
CONFIG = SOURCE_CONFIG if SOURCE_CONFIG.is_file() else None


def synced_frames(bag: Path, topics: BagTopics,
                  sync: NewestSynchronizer) -> Iterator[tuple[int, dict]]:
    """Every synced (rgb, depth, camera_info) set of a bag, in order, as typestore messages."""
    for message in read_messages(bag, list(sync.streams)):
        decoded = message.decode()
        synced = sync.add(message.topic, stamp_ns(decoded.header), decoded)
        if synced is not None:
            yield synced.stamp_ns, synced.items


def label_images(bag: Path, topic: str | None) -> dict[int, np.ndarray]:
    """stamp -> label image of a label topic: ground truth or the node's output (empty when
    the bag has no such topic)."""
    if not topic or topic not in bag_topics(bag):
        return {}
    labels = {}
    for message in read_messages(bag, [topic]):
        msg = message.decode()
        labels[stamp_ns(msg.header)] = decode_image(msg.encoding, msg.height, msg.width,
                                                    msg.step, msg.is_bigendian, msg.data)
    return labels


def accuracy(confusion: ConfusionMatrix, class_names: tuple[str, ...]) -> dict:
    """Per-class IoU of the classes present, and their mean."""
    iou = per_class_iou(confusion.matrix)
    present = {class_names[i]: float(v) for i, v in enumerate(iou) if not np.isnan(v)}
    return {"miou": float(np.mean(list(present.values()))) if present else float("nan"),
            "per_class_iou": present}


# Called with (stamp, label image, ground truth or None) for every published frame.
FrameObserver = Callable[[int, np.ndarray, "np.ndarray | None"], None]


def replay_direct(args: argparse.Namespace, pipeline: SegmentationPipeline,
                  report: ReplayReport, topics: BagTopics, settings: dict,
                  on_frame: FrameObserver | None = None) -> None:
    """Run every synced frame of the bag through the pipeline and write the outputs: the
    same topics the node publishes with the same settings, the latched label_info first."""
    truth = label_images(args.bag, args.labels_topic)
    confusion = ConfusionMatrix(pipeline.contract.num_classes) if truth else None
    msgs = rosbags_classes()
    cloud_ids = cloud_class_ids(settings["cloud_classes"], pipeline.contract.class_names)
    organized = settings["publish_points"]
    namespace = args.namespace.rstrip("/")
    class_topics = pipeline.outputs.class_topics
    counts = bag_topics(args.bag)
    report.frames_in = report.received = counts.get(topics.rgb, ("", 0))[1]
    preview_dir = report_dir(args.out) / "previews"
    sync = NewestSynchronizer((topics.rgb, topics.depth, topics.camera_info), queue_size=30,
                              slop_s=args.slop)
    with nullcontext() if args.no_bag else BagWriter(args.out) as writer:
        label_info = msgs.string(data=label_info_json(
            pipeline.outputs, pipeline.segmenter.model_path.name, cloud_ids))
        first_stamp = next(read_messages(args.bag, [topics.rgb])).timestamp_ns
        if writer is not None:
            writer.write(f"{namespace}/segmentation/label_info", label_info.__msgtype__,
                         first_stamp, label_info)
        report.outputs["segmentation/label_info"] = 1
        for index, (stamp, items) in enumerate(tqdm(
                synced_frames(args.bag, topics, sync), total=report.frames_in,
                desc="replay", unit="frame", disable=args.quiet)):
            report.synced += 1
            started = time.perf_counter()
            rgb_msg = items[topics.rgb]
            try:
                rgb = decode_color(rgb_msg)
                K, info_size = camera_intrinsics(items[topics.camera_info])
                result = pipeline.process(rgb, decode_depth(items[topics.depth]), K, info_size,
                                          cloud_ids, organized)
            except (FrameError, ImageDecodeError) as error:
                reason = getattr(error, "reason", "bad_image")
                report.dropped[reason] = report.dropped.get(reason, 0) + 1
                tqdm.write(f"frame {stamp} dropped: {error}")
                continue
            out, header = result.outputs, rgb_msg.header
            label_encoding = "mono8" if out.labels.dtype.itemsize == 1 else "mono16"
            records = [
                ("segmentation/image", msgs.image_msg(header, encode_image(out.labels,
                                                                           label_encoding))),
                ("segmentation/color", msgs.image_msg(header, encode_image(out.overlay, "rgb8"))),
                ("segmentation/camera_info",
                 msgs.camera_info_msg(header, items[topics.camera_info])),
                *((("segmentation/confidence",
                    msgs.image_msg(header, encode_image(out.confidence, "32FC1"))),)
                  if out.confidence is not None else ()),
                *((("points", msgs.cloud_msg(header, out.points)),)
                  if out.points is not None else ()),
                *((f"points/{class_topics[c]}", msgs.cloud_msg(header, cloud))
                  for c, cloud in out.class_clouds.items()),
            ]
            for relative, message in records:
                if writer is not None:
                    writer.write(f"{namespace}/{relative}", message.__msgtype__, stamp, message)
                report.outputs[relative] = report.outputs.get(relative, 0) + 1
            report.processed += 1
            report.published += 1
            report.latency_ms.append((time.perf_counter() - started) * 1000.0)
            report.add_stage_times(result.timings_ms)
            if stamp in truth and confusion is not None:
                confusion.update(out.labels, truth[stamp])
            if on_frame is not None:
                on_frame(stamp, out.labels, truth.get(stamp))
            if index % args.preview_every == 0:
                write_preview(preview_dir, index, rgb, pipeline.outputs.colorize(out.labels),
                              out.overlay)
    if sync.stats.unsynced:
        report.dropped["unsynced"] = sync.stats.unsynced
    report.pending_at_end = sync.pending
    if confusion is not None:
        report.accuracy = accuracy(confusion, pipeline.contract.class_names)
    report.notes.append("direct mode: latency = decode + pipeline + message building per frame")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="sgnet-replay", description=__doc__.splitlines()[0])
    parser.add_argument("bag", type=Path, help="input rosbag2 directory (sqlite3 or mcap)")
    parser.add_argument("--out", type=Path, required=True, help="output bag directory (new)")
    parser.add_argument("--mode", choices=("direct", "ros"), default="direct")
    parser.add_argument("--model", type=Path, default=None,
                        help="ONNX model (default: the bundled default model)")
    parser.add_argument("--params-file", type=Path, default=CONFIG,
                        help="node parameter YAML (default: config/sgnet.yaml, else the "
                        "built-in defaults)")
    parser.add_argument("--rate", type=float, default=1.0, help="ros mode: playback speed")
    parser.add_argument("--namespace", default="/camera",
                        help="namespace of the node and of the output topics")
    parser.add_argument("--rgb-topic", default=DEFAULT_TOPICS.rgb)
    parser.add_argument("--depth-topic", default=DEFAULT_TOPICS.depth)
    parser.add_argument("--info-topic", default=DEFAULT_TOPICS.camera_info)
    parser.add_argument("--labels-topic", default=DEFAULT_TOPICS.labels,
                        help="ground-truth mono8 label topic for mIoU ('' = none)")
    parser.add_argument("--slop", type=float, default=None,
                        help="direct mode: sync slop in s (default: the parameter file's)")
    parser.add_argument("--preview-every", type=int, default=10, help="a preview PNG every N")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    parser.add_argument("--no-bag", action="store_true",
                        help="direct mode: write only the report and previews, no output bag")
    parser.add_argument("--quiet", action="store_true", help="no per-frame progress bar")
    args = parser.parse_args(argv)
    if args.preview_every < 1:
        parser.error("--preview-every must be >= 1")
    if args.no_bag and args.mode != "direct":
        parser.error("--no-bag is for --mode direct")
    if not args.bag.exists():
        parser.error(f"input bag {args.bag} does not exist")
    if args.out.exists() and not args.overwrite:
        if repair_unfinished(args.out) is None:
            parser.error(f"{args.out} exists; pass --overwrite or choose another --out")
        parser.exit(2, f"sgnet-replay: {args.out} was left unfinished by a killed run and is "
                       "repaired; pass --overwrite to replace it or choose another --out\n")
    return args


def replay(args: argparse.Namespace, pipeline: SegmentationPipeline | None = None,
           on_frame: FrameObserver | None = None) -> ReplayReport:
    """One replay as `sgnet-replay` runs it; direct mode may reuse a loaded pipeline."""
    topics = BagTopics(rgb=args.rgb_topic, depth=args.depth_topic, camera_info=args.info_topic,
                       labels=args.labels_topic)
    types = input_types(args.bag, topics)  # TopicError before anything is written
    if args.out.exists():  # --overwrite, checked in parse_args
        shutil.rmtree(args.out)
        shutil.rmtree(report_dir(args.out), ignore_errors=True)
    model = args.model or default_model_path()
    report = ReplayReport(mode=args.mode, bag=str(args.bag), model=str(model))
    settings = load_parameter_file(args.params_file) if args.params_file else validate({})
    if args.slop is None:
        args.slop = settings["sync.slop"]
    if args.mode == "direct":
        pipeline = pipeline or SegmentationPipeline.from_model_path(
            model, PipelineConfig.from_settings(settings))
        replay_direct(args, pipeline, report, topics, settings, on_frame)
    else:
        from sgnet_ros.bags.replay_ros import replay_ros

        replay_ros(args, model, report, topics, types)
    report.write(report_dir(args.out))
    return report


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        report = replay(args)
    except TopicError as error:  # refused before anything is written: no empty output bag
        print(f"sgnet-replay: {error}", file=sys.stderr)
        return 2
    print("\n".join(report.summary_lines()))
    print(f"outputs: {args.out}  report and previews: {report_dir(args.out)}")
    return 0 if report.published else 1


if __name__ == "__main__":
    sys.exit(main())
