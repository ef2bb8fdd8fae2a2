"""Record a running node's outputs to a bag, as `ros2 bag record` would, and time them.

Used by `sgnet-replay --mode ros`: it learns the node's output topics from the latched
label_info (which lists the class cloud topics), subscribes to them raw (CDR bytes go to
the bag untouched) and notes when each label image arrives, for the latency summary.

Nothing may be lost on the way: the subscriptions keep all samples (a keep-last history
overwrote clouds while the executor was busy), the bag is written by a thread of its own
so chunk compression never stalls the executor, and playback waits until every output
topic has matched. The report compares what the node published per topic with what was
recorded.
"""

from __future__ import annotations

import json
import queue
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.serialization import deserialize_message
from rclpy.subscription import Subscription

from sgnet_ros.bags.io import BagWriter
from sgnet_ros.pipeline.codec import decode_image

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
    labels_arrived: bool = False
    labels_cdr: bytes | None = None  # kept for previews only
    overlay_cdr: bytes | None = None


@dataclass
class RecorderState:
    """Everything the recorder learnt, for the report."""

    label_info: dict | None = None
    counts: dict[str, int] = field(default_factory=dict)
    frames: dict[int, RecordedFrame] = field(default_factory=dict)
    diagnostics: dict[str, str] = field(default_factory=dict)


class BackgroundBagWriter:
    """Writes to a BagWriter from a thread of its own, in arrival order."""

    def __init__(self, writer: BagWriter) -> None:
        self._writer = writer
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="sgnet_bag_writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            self._writer.write_raw(*item)

    def write_raw(self, topic: str, msgtype: str, timestamp_ns: int, data: bytes) -> None:
        self._queue.put((topic, msgtype, timestamp_ns, data))

    def close(self) -> None:
        """Write what is queued, then stop (the BagWriter itself stays open)."""
        self._queue.put(None)
        self._thread.join()


class OutputRecorder:
    """Subscribes to a node's outputs under `namespace` and writes them to `writer`."""

    def __init__(self, node: Node, namespace: str, writer: BagWriter,
                 keep_images: Callable[[int], bool]) -> None:
        self.node = node
        self.namespace = namespace.rstrip("/")
        self.writer = BackgroundBagWriter(writer)
        self.keep_images = keep_images
        self.state = RecorderState()
        self._labels_topic = self._topic("segmentation/image")
        self._color_topic = self._topic("segmentation/color")
        self._subscriptions = []
        self._output_subscriptions: list[Subscription] = []
        latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self._subscribe("segmentation/label_info", STRING, latched)
        self._subscribe("/diagnostics", DIAGNOSTICS, QoSProfile(depth=10))

    def _topic(self, relative: str) -> str:
        return relative if relative.startswith("/") else f"{self.namespace}/{relative}"

    def _subscribe(self, relative: str, msgtype: str, qos: QoSProfile) -> Subscription:
        from sgnet_ros.bags.player import message_class

        topic = self._topic(relative)
        cls = message_class(msgtype)
        subscription = self.node.create_subscription(
            cls, topic, lambda data, t=topic, m=msgtype, c=cls: self._on_raw(t, m, c, data),
            qos, raw=True)
        self._subscriptions.append(subscription)
        return subscription

    @property
    def ready(self) -> bool:
        """True once label_info arrived, every output subscription has matched the node's
        publisher, and the node says each of its publishers has matched a subscriber.

        DDS matches the two ends separately: a sample the node writes before its publisher
        has matched the recorder never reaches it (that lost the first camera_info of a demo
        run, and held the next ones back until the middleware gave up on it)."""
        if not self._output_subscriptions:
            return False
        count = self.node.count_publishers
        subscribed = self._output_subscriptions[0].get_publisher_count() > 0 and all(
            s.get_publisher_count() > 0 for s in self._output_subscriptions
            if count(s.topic_name))
        return subscribed and \
            self.state.diagnostics.get("outputs without subscribers") == "none"

    def unmatched(self) -> list[str]:
        """Output topics not yet matched at either end (for the timeout message)."""
        ours = [s.topic_name for s in self._output_subscriptions if not s.get_publisher_count()]
        theirs = self.state.diagnostics.get("outputs without subscribers", "no diagnostics yet")
        return [*ours, f"node: {theirs}"]

    def _subscribe_outputs(self) -> None:
        keep_all = QoSProfile(history=HistoryPolicy.KEEP_ALL,
                              reliability=ReliabilityPolicy.RELIABLE)
        outputs = [*FIXED_OUTPUTS.items()]
        outputs += [(entry["cloud_topic"], CLOUD) for entry in self.state.label_info["classes"]
                    if entry.get("cloud_topic")]
        for relative, msgtype in outputs:  # segmentation/image first
            self._output_subscriptions.append(self._subscribe(relative, msgtype, keep_all))

    def missing(self, processed: int) -> dict[str, tuple[int, int]]:
        """topic -> (published, recorded) where the recorder holds fewer messages than the
        `processed` frames the node published on every output topic it advertises."""
        gaps = {}
        for subscription in self._output_subscriptions:
            topic = subscription.topic_name
            recorded = self.state.counts.get(topic, 0)
            if (recorded or self.node.count_publishers(topic)) and recorded < processed:
                gaps[topic] = (processed, recorded)
        return gaps

    def _on_raw(self, topic: str, msgtype: str, cls, data: bytes) -> None:
        """Write every message as received; parse only what the report needs, cheaply."""
        arrival = time.time_ns()
        self.state.counts[topic] = self.state.counts.get(topic, 0) + 1
        if msgtype == DIAGNOSTICS:
            for status in deserialize_message(data, cls).status:
                if status.name.endswith(": segmentation"):
                    self.state.diagnostics = {kv.key: kv.value for kv in status.values}
            return
        self.writer.write_raw(topic, msgtype, arrival, data)
        if msgtype == STRING and self.state.label_info is None:
            self.state.label_info = json.loads(deserialize_message(data, cls).data)
            self._subscribe_outputs()
        elif topic in (self._labels_topic, self._color_topic):
            self._note_frame(topic == self._labels_topic, data, arrival)

    def _note_frame(self, is_labels: bool, data: bytes, arrival: int) -> None:
        frames = self.state.frames
        stamp = header_stamp_ns(data)
        frame = frames.setdefault(stamp, RecordedFrame(index=len(frames), arrival_ns=arrival))
        if is_labels:
            frame.arrival_ns, frame.labels_arrived = arrival, True
        if self.keep_images(frame.index):  # decoded later, off the receive path
            if is_labels:
                frame.labels_cdr = data
            else:
                frame.overlay_cdr = data


def header_stamp_ns(cdr: bytes) -> int:
    """The header stamp of a serialised message whose first field is a std_msgs/Header.

    CDR: a 4-byte encapsulation header, then int32 sec and uint32 nanosec in the byte order
    the encapsulation names (0x0001 little-endian, 0x0000 big-endian).
    """
    order = "<" if cdr[1] == 1 else ">"
    seconds, nanoseconds = struct.unpack_from(f"{order}iI", cdr, 4)
    return seconds * 1_000_000_000 + nanoseconds


def decode_image_cdr(cdr: bytes) -> tuple[str, np.ndarray]:
    """A serialised sensor_msgs/Image -> (encoding, array in that encoding)."""
    from sensor_msgs.msg import Image

    msg = deserialize_message(cdr, Image)
    return msg.encoding, decode_image(msg.encoding, msg.height, msg.width, msg.step,
                                      msg.is_bigendian, msg.data)
