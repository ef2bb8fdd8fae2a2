"""A child ROS process for the shared-memory tests: publishes a 1 MB image every 0.1 s on one
topic and prints `heard <pid>` the first time an image of another such process arrives.
SIGINT ends it cleanly (node destroyed, context shut down)."""

from __future__ import annotations

import os
import signal
import threading

import rclpy
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rclpy.signals import SignalHandlerOptions
from sensor_msgs.msg import Image

TOPIC = "shm_probe"
SIZE = 1_000_000


def main() -> None:
    rclpy.init(signal_handler_options=SignalHandlerOptions.NO)  # the context outlives SIGINT
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    me = str(os.getpid())
    node = rclpy.create_node(f"shm_participant_{me}")
    heard: set[str] = set()

    def on_image(msg: Image) -> None:
        sender = msg.header.frame_id
        if sender != me and sender not in heard:
            heard.add(sender)
            print(f"heard {sender}", flush=True)

    qos = QoSProfile(depth=2, reliability=ReliabilityPolicy.RELIABLE)
    node.create_subscription(Image, TOPIC, on_image, qos)
    publisher = node.create_publisher(Image, TOPIC, qos)
    message = Image(height=1, width=SIZE, encoding="mono8", step=SIZE, data=bytes(SIZE))
    message.header.frame_id = me
    node.create_timer(0.1, lambda: publisher.publish(message))
    while not stop.is_set():
        rclpy.spin_once(node, timeout_sec=0.1)
    node.destroy_node()
    rclpy.try_shutdown()


if __name__ == "__main__":
    main()
