"""`sgnet-demo`: the README's first command, on the bundled model and sample bag.

Starts the node, plays the bundled RGB-D bag to it through real ROS 2 topics, records
every output topic to out/demo/segmentation_bag with preview PNGs, and prints a summary.
"""

from __future__ import annotations

import argparse
import sys
from importlib import resources
from pathlib import Path

from sgnet_ros.bags import replay

SAMPLE_BAG = "sample_rgbd"


def sample_bag_path() -> Path:
    """The sample bag shipped inside the package (sgnet_ros/data/sample_rgbd)."""
    return Path(str(resources.files("sgnet_ros"))) / "data" / SAMPLE_BAG


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sgnet-demo", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("out/demo/segmentation_bag"))
    parser.add_argument("--mode", choices=("ros", "direct"), default="ros")
    parser.add_argument("--rate", type=float, default=1.0, help="playback speed factor")
    args = parser.parse_args(argv)
    return replay.main([str(sample_bag_path()), "--out", str(args.out), "--mode", args.mode,
                        "--rate", str(args.rate), "--preview-every", "5", "--overwrite"])


if __name__ == "__main__":
    sys.exit(main())
