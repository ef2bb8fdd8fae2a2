"""rosbag2 reading and writing without ROS, through the `rosbags` library.

Bags hold CDR-serialised messages, the same bytes rclpy sends, so a bag recorded by
`ros2 bag record` on a robot plays through these functions and the bags written here open
in `ros2 bag info`. Messages are (de)serialised with the ROS 2 typestore; image and cloud
fields come from the project's one conversion per thing (`image_codec`, `point_clouds`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rosbags.rosbag2 import CompressionFormat, CompressionMode, Reader, StoragePlugin, Writer

from sgnet_ros.pipeline.codec import depth_m_to_16uc1, encode_image
from sgnet_ros.ros.messages import TYPESTORE, rosbags_classes

IMAGE_TYPE = "sensor_msgs/msg/Image"
CAMERA_INFO_TYPE = "sensor_msgs/msg/CameraInfo"


@dataclass(frozen=True)
class BagTopics:
    """Topic names of an RGB-D bag, as a depth_image_proc-style camera namespace lays them out."""

    rgb: str = "/camera/rgb/image_rect_color"
    camera_info: str = "/camera/rgb/camera_info"
    depth: str = "/camera/depth_registered/image_rect"
    labels: str = "/camera/ground_truth/labels"


DEFAULT_TOPICS = BagTopics()


@dataclass
class RGBDFrame:
    """One registered RGB-D frame, with optional ground-truth labels (255 = unlabeled)."""

    stamp_ns: int
    rgb: np.ndarray
    depth_m: np.ndarray
    K: np.ndarray
    labels: np.ndarray | None = None


def header(stamp_ns: int, frame_id: str):
    """A std_msgs/Header of the bag typestore."""
    time_type = TYPESTORE.types["builtin_interfaces/msg/Time"]
    header_type = TYPESTORE.types["std_msgs/msg/Header"]
    stamp = time_type(sec=int(stamp_ns // 1_000_000_000), nanosec=int(stamp_ns % 1_000_000_000))
    return header_type(stamp=stamp, frame_id=frame_id)


def camera_info_message(K: np.ndarray, width: int, height: int, stamp_ns: int, frame_id: str):
    """A pinhole sensor_msgs/CameraInfo without distortion (rectified images)."""
    K = np.asarray(K, dtype=np.float64).reshape(3, 3)
    projection = np.zeros((3, 4))
    projection[:, :3] = K
    roi_type = TYPESTORE.types["sensor_msgs/msg/RegionOfInterest"]
    return TYPESTORE.types[CAMERA_INFO_TYPE](
        header=header(stamp_ns, frame_id), height=height, width=width,
        distortion_model="plumb_bob", d=np.zeros(5), k=K.reshape(-1), r=np.eye(3).reshape(-1),
        p=projection.reshape(-1), binning_x=0, binning_y=0,
        roi=roi_type(x_offset=0, y_offset=0, height=0, width=0, do_rectify=False))


def write_rgbd_bag(path: str | Path, frames: Iterable[RGBDFrame],
                   frame_id: str = "camera_color_optical_frame",
                   topics: BagTopics = DEFAULT_TOPICS) -> int:
    """Write rgb8 + 16UC1 millimetre depth + camera_info (+ mono8 labels) per frame.

    Messages are stamped with the frame's sensor time and logged at that time, as
    `ros2 bag record` would on a live camera. Returns the number of frames written.
    """
    image_msg = rosbags_classes().image_msg
    with BagWriter(path) as writer:
        count = 0
        for frame in frames:
            height, width = frame.depth_m.shape
            stamped = header(frame.stamp_ns, frame_id)
            writer.write(topics.rgb, IMAGE_TYPE, frame.stamp_ns,
                         image_msg(stamped, encode_image(frame.rgb, "rgb8")))
            depth = encode_image(depth_m_to_16uc1(frame.depth_m), "16UC1")
            writer.write(topics.depth, IMAGE_TYPE, frame.stamp_ns, image_msg(stamped, depth))
            writer.write(topics.camera_info, CAMERA_INFO_TYPE, frame.stamp_ns,
                         camera_info_message(frame.K, width, height, frame.stamp_ns, frame_id))
            if frame.labels is not None:
                labels = encode_image(frame.labels.astype(np.uint8), "mono8")
                writer.write(topics.labels, IMAGE_TYPE, frame.stamp_ns, image_msg(stamped, labels))
            count += 1
    return count


class BagWriter:
    """A zstd-compressed rosbag2 (mcap) writer that opens one connection per topic lazily."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if self.path.exists():
            raise FileExistsError(f"output bag {self.path} already exists; choose a new path")
        self._writer = Writer(self.path, version=9, storage_plugin=StoragePlugin.MCAP)
        self._writer.set_compression(CompressionMode.FILE, CompressionFormat.ZSTD)
        self._connections: dict[str, object] = {}

    def __enter__(self) -> BagWriter:
        self._writer.open()
        return self

    def __exit__(self, *exc_info) -> None:
        self._writer.close()

    def _connection(self, topic: str, msgtype: str):
        if topic not in self._connections:
            self._connections[topic] = self._writer.add_connection(topic, msgtype,
                                                                   typestore=TYPESTORE)
        return self._connections[topic]

    def write(self, topic: str, msgtype: str, timestamp_ns: int, message) -> None:
        """Serialise a typestore message and log it at `timestamp_ns`."""
        self.write_raw(topic, msgtype, timestamp_ns, TYPESTORE.serialize_cdr(message, msgtype))

    def write_raw(self, topic: str, msgtype: str, timestamp_ns: int, data: bytes) -> None:
        """Log already serialised CDR bytes, e.g. straight from an rclpy raw subscription."""
        self._writer.write(self._connection(topic, msgtype), timestamp_ns, data)


@dataclass(frozen=True)
class BagMessage:
    """One raw message of a bag: CDR bytes plus where and when it was logged."""

    topic: str
    msgtype: str
    timestamp_ns: int
    data: bytes

    def decode(self):
        """The message as a typestore object (fields named as in the .msg definition)."""
        return TYPESTORE.deserialize_cdr(self.data, self.msgtype)


def read_messages(path: str | Path, topics: Sequence[str] | None = None) -> Iterator[BagMessage]:
    """Raw messages of the given topics (all when None) in log-time order."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"bag {path} does not exist")
    with Reader(path) as reader:
        connections = [c for c in reader.connections if topics is None or c.topic in topics]
        for connection, timestamp, data in reader.messages(connections=connections):
            yield BagMessage(connection.topic, connection.msgtype, timestamp, bytes(data))


def bag_topics(path: str | Path) -> dict[str, tuple[str, int]]:
    """topic -> (message type, message count) of a bag."""
    with Reader(Path(path)) as reader:
        return {c.topic: (c.msgtype, c.msgcount) for c in reader.connections}
