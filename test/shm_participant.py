"""A child ROS process for the shared-memory tests: publishes a 1 MB image every 0.1 s on one
topic and prints `heard <pid>` the first time an image of another such process arrives.
SIGINT ends it cleanly (rclpy shuts its context down)."""

from __future__ import annotations

import contextlib
import os

import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image

TOPIC = "shm_probe"
SIZE = 1_000_000


def main() -> None:
    rclpy.init()
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
    with contextlib.suppress(KeyboardInterrupt, ExternalShutdownException):
        rclpy.spin(node)
    node.destroy_node()
    rclpy.try_shutdown()


if __name__ == "__main__":
    main()
