"""Two `sgnet-replay --mode ros` at once on one machine: each hears only its own run.

Each replay claims a ROS_DOMAIN_ID that no other run holds (sgnet_ros.ros.environment);
before that, two runs that drew the same random id received each other's frames.
"""

import json
import os
import subprocess
import sys

import pytest

from sgnet_ros.bags.io import DEFAULT_TOPICS, RGBDFrame, read_messages, write_rgbd_bag
from sgnet_ros.benchmarks.pipeline_benchmark import load_frames
from sgnet_ros.ros.messages import stamp_ns

pytestmark = pytest.mark.ros
SHIFT_NS = 500 * 1_000_000_000  # the second bag's stamps: the sample bag's, 500 s later


def colour_stamps(bag) -> set[int]:
    return {stamp_ns(m.decode().header) for m in read_messages(bag, [DEFAULT_TOPICS.rgb])}


def test_two_ros_replays_in_parallel_each_receive_exactly_their_own_frames(sample_bag,
                                                                          tmp_path):
    shifted = tmp_path / "shifted_bag"
    first = min(colour_stamps(sample_bag))
    write_rgbd_bag(shifted, (RGBDFrame(first + SHIFT_NS + index * 33_333_333, rgb, depth, K)
                             for index, (rgb, depth, K) in enumerate(load_frames(20))))
    runs = {name: (bag, tmp_path / f"{name}_out") for name, bag in
            (("sample", sample_bag), ("shifted", shifted))}
    # Both runs draw from the same lock folder, as two runs on one machine do.
    env = dict(os.environ, SGNET_ROS_DOMAIN_LOCK_DIR=str(tmp_path / "domain_locks"))
    processes = {name: subprocess.Popen(
        [sys.executable, "-m", "sgnet_ros.bags.replay", str(bag), "--out", str(out),
         "--mode", "ros", "--preview-every", "100"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        for name, (bag, out) in runs.items()}
    outputs = {name: process.communicate(timeout=600)[0]
               for name, process in processes.items()}
    for name, process in processes.items():
        assert process.returncode == 0, outputs[name]
    for name, (bag, out) in runs.items():
        sent = colour_stamps(bag)
        report = json.loads((tmp_path / f"{name}_out_report" / "report.json").read_text())
        assert 0 < report["received"] <= report["frames_in"] == len(sent), (name, report)
        published = {stamp_ns(m.decode().header)
                     for m in read_messages(out, ["/camera/segmentation/image"])}
        assert published and published <= sent, (name, sorted(published - sent)[:3])
