"""Play a rosbag2 bag onto live ROS topics, like `ros2 bag play`, without the ros2 CLI.

Messages go out as the recorded CDR bytes, so sensor stamps are exactly those of the bag.
Each topic is published with the QoS its publisher offered when it was recorded (as
`ros2 bag play` does), so a latched topic such as segmentation/label_info stays latched for
a subscriber that comes late; topics recorded without one are published reliable.
Playback starts once every publisher has a subscriber (the node is up), paced at the
recorded rate times `--rate`. The first stdout line is a JSON record of the wall time that
bag time 0 was mapped to, so a recorder can measure latency from the header stamp.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time

from sgnet_ros.bags.io import bag_topics, read_messages, recorded_qos


def message_class(msgtype: str):
    """`sensor_msgs/msg/Image` -> the rclpy class, or None when not importable here."""
    package, _, name = msgtype.split("/")
    try:
        return getattr(importlib.import_module(f"{package}.msg"), name)
    except (ImportError, AttributeError):
        return None


def parse_remaps(pairs: list[str]) -> dict[str, str]:
    """`from:=to` pairs -> {from: to}."""
    remaps = {}
    for pair in pairs:
        source, separator, target = pair.partition(":=")
        if not separator or not source or not target:
            raise SystemExit(f"--remap expects FROM:=TO, got {pair!r}")
        remaps[source] = target
    return remaps


def rclpy_qos(recorded):
    """The rclpy QoSProfile of a recorded rosbags Qos (None: reliable, volatile, depth 10)."""
    from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

    if recorded is None:
        return QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    return QoSProfile(
        history=HistoryPolicy.KEEP_ALL if recorded.history.name == "KEEP_ALL"
        else HistoryPolicy.KEEP_LAST,
        depth=max(1, recorded.depth),
        reliability=ReliabilityPolicy.BEST_EFFORT if recorded.reliability.name == "BEST_EFFORT"
        else ReliabilityPolicy.RELIABLE,
        durability=DurabilityPolicy.TRANSIENT_LOCAL
        if recorded.durability.name == "TRANSIENT_LOCAL" else DurabilityPolicy.VOLATILE)


def play(bag: str, topics: list[str] | None, remaps: dict[str, str], rate: float,
         wait_s: float, loops: int) -> int:
    """Publish the bag; returns the number of messages sent."""
    import rclpy

    rclpy.init()
    node = rclpy.create_node("sgnet_bag_player")
    log = node.get_logger()
    publishers = {}
    offered = recorded_qos(bag)
    for topic, (msgtype, _count) in bag_topics(bag).items():
        if topics and topic not in topics:
            continue
        cls = message_class(msgtype)
        if cls is None:
            log.warning(f"skipping {topic}: message type {msgtype} is not installed")
            continue
        publishers[topic] = node.create_publisher(cls, remaps.get(topic, topic),
                                                  rclpy_qos(offered.get(topic)))
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline and not all(
            p.get_subscription_count() for p in publishers.values()):
        rclpy.spin_once(node, timeout_sec=0.05)
    missing = [t for t, p in publishers.items() if not p.get_subscription_count()]
    if missing:
        log.warning(f"playing although nobody subscribes to {missing} after {wait_s:.0f} s")
    sent = 0
    for loop in range(loops):
        start_wall = time.time_ns() + 200_000_000
        bag_start = None
        for message in read_messages(bag, list(publishers)):
            if bag_start is None:
                bag_start = message.timestamp_ns
                print(json.dumps({"loop": loop, "start_wall_ns": start_wall,
                                  "bag_start_ns": bag_start, "rate": rate}), flush=True)
            due = start_wall + (message.timestamp_ns - bag_start) / rate
            delay = (due - time.time_ns()) / 1e9
            if delay > 0:
                time.sleep(delay)
            publishers[message.topic].publish(message.data)
            sent += 1
    time.sleep(0.2)  # let reliable transport drain before the publishers go away
    node.destroy_node()
    rclpy.try_shutdown()
    return sent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bag", help="rosbag2 directory (sqlite3 or mcap)")
    parser.add_argument("--topics", nargs="*", help="topics to play (default: all)")
    parser.add_argument("--remap", nargs="*", default=[], metavar="FROM:=TO")
    parser.add_argument("--rate", type=float, default=1.0, help="playback speed factor")
    parser.add_argument("--wait", type=float, default=30.0,
                        help="seconds to wait for subscribers before playing anyway")
    parser.add_argument("--loops", type=int, default=1, help="times to play the bag")
    args = parser.parse_args(argv)
    if args.rate <= 0:
        parser.error("--rate must be positive")
    sent = play(args.bag, args.topics, parse_remaps(args.remap), args.rate, args.wait, args.loops)
    print(json.dumps({"sent": sent}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
