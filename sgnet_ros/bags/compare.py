"""Agreement of the label images of two output bags, frame by frame on common stamps.

    python -m sgnet_ros.bags.compare REFERENCE_BAG OTHER_BAG [--topic /camera/segmentation/image]

Used to check that a compressed bag segments like its raw twin: mIoU of OTHER's labels
against REFERENCE's (as if REFERENCE were ground truth) and the share of equal pixels.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sgnet_ros.bags.replay import label_images
from sgnet_ros.training.metrics import ConfusionMatrix, per_class_iou

LABELS_TOPIC = "/camera/segmentation/image"


@dataclass(frozen=True)
class Agreement:
    frames: int
    miou: float
    pixel_agreement: float


def label_agreement(reference: Path, other: Path, topic: str = LABELS_TOPIC) -> Agreement:
    """mIoU and pixel agreement of `other`'s labels against `reference`'s, common stamps."""
    ours, theirs = label_images(reference, topic), label_images(other, topic)
    common = sorted(set(ours) & set(theirs))
    if not common:
        raise ValueError(f"{reference} and {other} share no stamp on {topic}")
    unlabeled = 255 if ours[common[0]].dtype == np.uint8 else 65535
    confusion = ConfusionMatrix(unlabeled, ignore_index=unlabeled)
    equal = total = 0
    for stamp in common:
        confusion.update(theirs[stamp], ours[stamp])
        equal += int(np.count_nonzero(theirs[stamp] == ours[stamp]))
        total += ours[stamp].size
    iou = per_class_iou(confusion.matrix)
    return Agreement(len(common), float(np.nanmean(iou)), equal / total)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reference", type=Path)
    parser.add_argument("other", type=Path)
    parser.add_argument("--topic", default=LABELS_TOPIC)
    args = parser.parse_args(argv)
    print(json.dumps(label_agreement(args.reference, args.other, args.topic).__dict__))
    return 0


if __name__ == "__main__":
    sys.exit(main())
