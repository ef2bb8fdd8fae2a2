"""Regenerate the bundled sample bags from sgnet_ros/data/sample_rgbd (kept for provenance).

    .venv/bin/python tools/make_sample_bags.py SOURCE_BAG

SOURCE_BAG: the raw sample as first bundled (45 frames 640x480, rgb8 + 16UC1 + camera_info +
ground-truth labels). Writes, beside each other under sgnet_ros/data/:
- sample_rgbd: the same messages, byte for byte, as an MCAP with zstd chunks (opens in
  Foxglove as is);
- sample_rgbd_realsense_compressed: a twin of its first TWIN_FRAMES frames as a robot
  records them, on realsense2_camera's topic names: jpeg (quality 90) colour on
  .../color/image_raw/compressed, png depth on .../aligned_depth_to_color/image_raw/
  compressedDepth, camera_info, the labels (short, to keep the package small).
"""

from __future__ import annotations

import itertools
import shutil
import sys
from pathlib import Path

from sgnet_ros.bags.io import (
    DEFAULT_TOPICS,
    REALSENSE_COMPRESSED_TOPICS,
    BagTopics,
    BagWriter,
    RGBDFrame,
    read_messages,
    write_rgbd_bag,
)
from sgnet_ros.pipeline.codec import decode_image
from sgnet_ros.ros.messages import camera_intrinsics, decode_color, decode_depth, stamp_ns

DATA = Path(__file__).resolve().parents[1] / "sgnet_ros" / "data"
TWIN_FRAMES = 15


def frames(bag: Path):
    """The source bag's frames, one RGBDFrame per colour stamp."""
    by_stamp: dict[int, dict] = {}
    for message in read_messages(bag):
        msg = message.decode()
        by_stamp.setdefault(stamp_ns(msg.header), {})[message.topic] = msg
    for stamp, items in sorted(by_stamp.items()):
        labels = items[DEFAULT_TOPICS.labels]
        yield RGBDFrame(stamp, decode_color(items[DEFAULT_TOPICS.rgb]),
                        decode_depth(items[DEFAULT_TOPICS.depth]),
                        camera_intrinsics(items[DEFAULT_TOPICS.camera_info])[0],
                        decode_image(labels.encoding, labels.height, labels.width, labels.step,
                                     labels.is_bigendian, labels.data))


def main(source: str) -> None:
    source_bag = Path(source)
    raw, twin = DATA / "sample_rgbd", DATA / "sample_rgbd_realsense_compressed"
    staging = DATA / ".staging"
    shutil.rmtree(staging, ignore_errors=True)
    staged = staging / raw.name  # rosbag2 names the .mcap after its directory
    with BagWriter(staged) as writer:
        for message in read_messages(source_bag):
            writer.write_raw(message.topic, message.msgtype, message.timestamp_ns, message.data)
    shutil.rmtree(twin, ignore_errors=True)
    topics = BagTopics(rgb=REALSENSE_COMPRESSED_TOPICS.rgb,
                       depth=REALSENSE_COMPRESSED_TOPICS.depth,
                       camera_info=REALSENSE_COMPRESSED_TOPICS.camera_info,
                       labels=DEFAULT_TOPICS.labels)
    count = write_rgbd_bag(twin, itertools.islice(frames(source_bag), TWIN_FRAMES),
                           topics=topics, compressed=True)
    if raw.exists():
        shutil.rmtree(raw)
    staged.rename(raw)
    staging.rmdir()
    for bag in (raw, twin):
        size = sum(f.stat().st_size for f in bag.iterdir())
        print(f"{bag.name}: {size / 1e6:.2f} MB")
    print(f"twin: {count} frames")


if __name__ == "__main__":
    main(sys.argv[1])
