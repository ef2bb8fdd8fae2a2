"""Start-up loop for a ROS transport: N publisher/subscriber pairs, each in two processes.

    python -m sgnet_ros.benchmarks.transport_check --pairs 100 --transport configured

Each pair is a fresh publisher process and a fresh subscriber process (loopback only, in
the domain this run claimed; pairs run one after the other); the publisher sends a 6 MB
cloud-sized message every 33 ms, the subscriber counts what arrives within `--timeout` s
and its stamp->arrival latency. A pair is connected when its subscriber received
`--messages` messages. Prints a table and writes JSON; exits 1 unless every pair connected.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

from sgnet_ros.ros.children import stop_child
from sgnet_ros.ros.dds_profile import TRANSPORTS
from sgnet_ros.ros.environment import claim_domain_id, isolated_ros_environment
from sgnet_ros.ros.shm_cleanup import clean as clean_shared_memory
from sgnet_ros.ros.shm_cleanup import zombie_names

TOPIC = "transport_check"
LAYERED = "layered"  # LOCALHOST plus the profile: rmw_fastrtps adds its transports on top


def _publish(size_bytes: int, period_s: float, duration_s: float) -> None:
    import rclpy
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from rclpy.signals import SignalHandlerOptions
    from sensor_msgs.msg import Image

    # SIGINT ends the loop; the context stays valid for a clean exit that frees the segment.
    rclpy.init(signal_handler_options=SignalHandlerOptions.NO)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    node = rclpy.create_node("transport_check_publisher")
    publisher = node.create_publisher(Image, TOPIC, QoSProfile(
        depth=2, reliability=ReliabilityPolicy.RELIABLE))
    msg = Image(height=1, width=size_bytes, encoding="mono8", step=size_bytes)
    msg.data = bytes(size_bytes)
    end = time.monotonic() + duration_s
    while time.monotonic() < end and not stop.is_set():
        msg.header.stamp = node.get_clock().now().to_msg()
        publisher.publish(msg)
        time.sleep(period_s)
    node.destroy_node()
    rclpy.try_shutdown()


def _subscribe(messages: int, timeout_s: float) -> None:
    import rclpy
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image

    rclpy.init()
    node = rclpy.create_node("transport_check_subscriber")
    latencies: list[float] = []
    started = time.monotonic()
    first: list[float] = []

    def on_image(msg: Image) -> None:
        now = node.get_clock().now().nanoseconds
        stamp = msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec
        latencies.append((now - stamp) / 1e6)
        if not first:
            first.append(time.monotonic() - started)

    node.create_subscription(Image, TOPIC, on_image, QoSProfile(
        depth=2, reliability=ReliabilityPolicy.RELIABLE))
    while time.monotonic() - started < timeout_s and len(latencies) < messages:
        rclpy.spin_once(node, timeout_sec=0.05)
    print(json.dumps({"received": len(latencies), "first_s": first[0] if first else None,
                      "latency_ms": latencies}), flush=True)
    node.destroy_node()
    rclpy.try_shutdown()


def pair_environment(transport: str, domain_id: int) -> dict[str, str]:
    """The children's environment: the loop's domain, loopback, the transport asked for."""
    if transport == LAYERED:
        env = isolated_ros_environment(domain_id, transport="configured")
        env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
        return env
    return isolated_ros_environment(domain_id, transport=transport)


def run_pair(transport: str, domain_id: int, size_bytes: int, messages: int,
             timeout_s: float) -> dict:
    """One publisher and one subscriber process; the subscriber's account of the pair."""
    env = pair_environment(transport, domain_id)
    module = [sys.executable, "-m", "sgnet_ros.benchmarks.transport_check"]
    publisher = subprocess.Popen(
        module + ["--role", "publish", "--size", str(size_bytes), "--duration",
                  str(timeout_s + 5)], env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True)
    subscriber = subprocess.run(
        module + ["--role", "subscribe", "--messages", str(messages), "--timeout",
                  str(timeout_s)], env=env, capture_output=True, text=True,
        timeout=timeout_s + 60)
    stop_child(publisher)
    _, publisher_errors = publisher.communicate()
    lines = [line for line in subscriber.stdout.splitlines() if line.startswith("{")]
    result = json.loads(lines[-1]) if lines else {"received": 0, "first_s": None,
                                                   "latency_ms": []}
    result["errors"] = (subscriber.stderr + publisher_errors).strip()[-500:]
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--role", choices=("loop", "publish", "subscribe"), default="loop")
    parser.add_argument("--transport", choices=(*TRANSPORTS, LAYERED), default="configured")
    parser.add_argument("--pairs", type=int, default=100)
    parser.add_argument("--size", type=int, default=6_144_000, help="message bytes")
    parser.add_argument("--messages", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=15.0)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--out", type=Path, default=Path("out/benchmark/transport_check.json"))
    args = parser.parse_args(argv)
    if args.role == "publish":
        _publish(args.size, 1 / 30, args.duration)
        return 0
    if args.role == "subscribe":
        _subscribe(args.messages, args.timeout)
        return 0
    results = []
    zombies_before = zombie_names()  # what a killed child leaves is reported at the end
    domain_id = claim_domain_id()  # pairs run one after the other: one domain for the loop
    for index in range(args.pairs):
        result = run_pair(args.transport, domain_id, args.size, args.messages, args.timeout)
        results.append(result)
        state = "connected" if result["received"] >= args.messages else "NOT CONNECTED"
        print(f"pair {index + 1}/{args.pairs}: {state}, {result['received']} messages, "
              f"first after {result['first_s']} s", flush=True)
        if result["received"] < args.messages and result["errors"]:
            print(result["errors"], flush=True)
    print(clean_shared_memory(present_before=zombies_before).line(), flush=True)
    connected = sum(r["received"] >= args.messages for r in results)
    latencies = [v for r in results for v in r["latency_ms"][1:]]  # the first waits for match
    p50, p95, p99 = np.percentile(latencies, (50, 95, 99)) if latencies else (np.nan,) * 3
    firsts = [r["first_s"] for r in results if r["first_s"] is not None]
    summary = {"transport": args.transport, "pairs": args.pairs, "connected": connected,
               "message_bytes": args.size, "latency_p50_ms": p50, "latency_p95_ms": p95,
               "latency_p99_ms": p99, "latency_max_ms": max(latencies, default=np.nan),
               "first_message_median_s": float(np.median(firsts)) if firsts else None}
    print("| transport | pairs | connected | msg MB | p50 ms | p95 ms | p99 ms | max ms | "
          "first msg s |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(f"| {args.transport} | {args.pairs} | {connected} | {args.size / 1e6:.1f} | {p50:.1f} "
          f"| {p95:.1f} | {p99:.1f} | {summary['latency_max_ms']:.1f} | "
          f"{summary['first_message_median_s'] or float('nan'):.2f} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=1, default=float))
    return 0 if connected == args.pairs else 1


if __name__ == "__main__":
    sys.exit(main())
