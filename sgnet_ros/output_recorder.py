"""Record a running node's outputs to a bag, as `ros2 bag record` would, and time them.

Used by `sgnet-replay --mode ros`: it learns the node's output topics from the latched
label_info (which lists the class cloud topics), subscribes to them raw (CDR bytes go to
the bag untouched) and notes when each label image arrives, for the latency summary.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from rclpy.serialization import deserialize_message

from sgnet_ros.bag_io import BagWriter
from sgnet_ros.image_codec import decode_image
from sgnet_ros.messages import decode_color, stamp_ns

IMAGE = "sensor_msgs/msg/Image"
CAMERA_INFO = "sensor_msgs/msg/CameraInfo"
CLOUD = "sensor_msgs/msg/PointCloud2"
STRING = "std_msgs/msg/String"
DIAGNOSTICS = "diagnostic_msgs/msg/DiagnosticArray"

FIXED_OUTPUTS = {
    "segmentation/image": IMAGE, "segmentation/color": IMAGE,
    "segmentation/camera_info": CAMERA_INFO, "segmentation/confidence": IMAGE,
    "points": CLOUD,
}


@dataclass
class RecordedFrame:
    """What arrived for one input stamp (index = order of first arrival)."""

    index: int
    arrival_ns: int
    labels: np.ndarray | None = None
    overlay: np.ndarray | None = None


@dataclass
class RecorderState:
    """Everything the recorder learnt, for the report."""

    label_info: dict | None = None
    counts: dict[str, int] = field(default_factory=dict)
    frames: dict[int, RecordedFrame] = field(default_factory=dict)
    diagnostics: dict[str, str] = field(default_factory=dict)


class OutputRecorder:
    """Subscribes to a node's outputs under `namespace` and writes them to `writer`."""

    def __init__(self, node: Node, namespace: str, writer: BagWriter,
                 keep_images: Callable[[int], bool]) -> None:
        self.node = node
        self.namespace = namespace.rstrip("/")
        self.writer = writer
        self.keep_images = keep_images
        self.state = RecorderState()
        self._labels_topic = self._topic("segmentation/image")
        self._color_topic = self._topic("segmentation/color")
        self._subscriptions = []
        latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self._subscribe("segmentation/label_info", STRING, latched)
        self._subscribe("/diagnostics", DIAGNOSTICS, QoSProfile(depth=10))

    def _topic(self, relative: str) -> str:
        return relative if relative.startswith("/") else f"{self.namespace}/{relative}"

    def _subscribe(self, relative: str, msgtype: str, qos: QoSProfile) -> None:
        from sgnet_ros.bag_player import message_class

        topic = self._topic(relative)
        cls = message_class(msgtype)
        self._subscriptions.append(self.node.create_subscription(
            cls, topic, lambda data, t=topic, m=msgtype, c=cls: self._on_raw(t, m, c, data),
            qos, raw=True))

    @property
    def ready(self) -> bool:
        """True once label_info arrived and the output subscriptions exist."""
        return self.state.label_info is not None

    def _subscribe_outputs(self) -> None:
        reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        for relative, msgtype in FIXED_OUTPUTS.items():
            self._subscribe(relative, msgtype, reliable)
        for entry in self.state.label_info["classes"]:
            if entry.get("cloud_topic"):
                self._subscribe(entry["cloud_topic"], CLOUD, reliable)

    def _on_raw(self, topic: str, msgtype: str, cls, data: bytes) -> None:
        arrival = time.time_ns()
        self.state.counts[topic] = self.state.counts.get(topic, 0) + 1
        if msgtype == DIAGNOSTICS:
            array = deserialize_message(data, cls)
            for status in array.status:
                if status.name.endswith(": segmentation"):
                    self.state.diagnostics = {kv.key: kv.value for kv in status.values}
            return
        self.writer.write_raw(topic, msgtype, arrival, data)
        if msgtype == STRING and self.state.label_info is None:
            self.state.label_info = json.loads(deserialize_message(data, cls).data)
            self._subscribe_outputs()
            return
        if topic in (self._labels_topic, self._color_topic):
            self._note_frame(topic, deserialize_message(data, cls), arrival)

    def _note_frame(self, topic: str, message, arrival: int) -> None:
        stamp = stamp_ns(message.header)
        frames = self.state.frames
        frame = frames.setdefault(stamp, RecordedFrame(index=len(frames), arrival_ns=arrival))
        is_labels = topic == self._labels_topic
        if is_labels:
            frame.arrival_ns = arrival
        if not self.keep_images(frame.index):
            return
        if is_labels:
            frame.labels = decode_image(message.encoding, message.height, message.width,
                                        message.step, message.is_bigendian, message.data)
        else:
            frame.overlay = decode_color(message)
