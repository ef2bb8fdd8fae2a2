"""`sgnet-demo`: the README's first command, on the bundled model and a bundled sample bag.

Starts the node, plays a bundled RGB-D bag to it through real ROS 2 topics, records
every output topic to out/demo/segmentation_bag with preview PNGs, and prints a summary.
`--bag raw` (default) plays sample_rgbd (raw rgb8 + 16UC1); `--bag realsense` plays
its twin as a RealSense records it (jpeg `compressed` colour, png `compressedDepth` depth
on realsense2_camera's topic names), which the node then subscribes to compressed.
"""

from __future__ import annotations

import argparse
import sys
from importlib import resources
from pathlib import Path

from sgnet_ros.bags import replay
from sgnet_ros.bags.io import REALSENSE_COMPRESSED_TOPICS

SAMPLE_BAG = "sample_rgbd"
SAMPLE_BAGS = {"raw": (SAMPLE_BAG, []),
               "realsense": ("sample_rgbd_realsense_compressed",
                             ["--rgb-topic", REALSENSE_COMPRESSED_TOPICS.rgb,
                              "--depth-topic", REALSENSE_COMPRESSED_TOPICS.depth,
                              "--info-topic", REALSENSE_COMPRESSED_TOPICS.camera_info])}


def sample_bag_path(name: str = SAMPLE_BAG) -> Path:
    """A sample bag shipped inside the package (sgnet_ros/data/<name>)."""
    return Path(str(resources.files("sgnet_ros"))) / "data" / name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sgnet-demo", description=__doc__.splitlines()[0])
    parser.add_argument("--bag", choices=tuple(SAMPLE_BAGS), default="raw",
                        help="raw: sample_rgbd; realsense: its compressed RealSense-style twin")
    parser.add_argument("--out", type=Path, default=Path("out/demo/segmentation_bag"))
    parser.add_argument("--mode", choices=("ros", "direct"), default="ros")
    parser.add_argument("--rate", type=float, default=1.0, help="playback speed factor")
    args = parser.parse_args(argv)
    name, topic_flags = SAMPLE_BAGS[args.bag]
    return replay.main([str(sample_bag_path(name)), "--out", str(args.out), "--mode", args.mode,
                        "--rate", str(args.rate), "--preview-every", "5", "--overwrite",
                        *topic_flags])


if __name__ == "__main__":
    sys.exit(main())
