"""rosbag2 reading and writing without ROS, through the `rosbags` library.

Bags hold CDR-serialised messages, the same bytes rclpy sends, so a bag recorded by
`ros2 bag record` on a robot plays through these functions and the bags written here open
in `ros2 bag info`. Messages are (de)serialised with the ROS 2 typestore; image and cloud
fields come from the project's one conversion per thing (`image_codec`, `point_clouds`).
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml
from rosbags.interfaces import (
    Qos,
    QosDurability,
    QosHistory,
    QosLiveliness,
    QosReliability,
    QosTime,
)
from rosbags.rosbag2 import CompressionFormat, CompressionMode, Reader, StoragePlugin, Writer
from rosbags.rosbag2.storage_mcap import McapWriter

from sgnet_ros.bags.mcap_repair import recover, unfinished_mcap
from sgnet_ros.pipeline.codec import (
    depth_m_to_16uc1,
    encode_compressed_color,
    encode_compressed_depth_16uc1,
    encode_image,
)
from sgnet_ros.ros.messages import (
    CAMERA_INFO_TYPE,
    COMPRESSED_IMAGE_TYPE,
    IMAGE_TYPE,
    TYPESTORE,
    rosbags_classes,
)

CHUNK_FLUSH_S = 0.5  # longest time a written message waits in memory before reaching the file


@dataclass(frozen=True)
class BagTopics:
    """Topic names of an RGB-D bag, as a depth_image_proc-style camera namespace lays them out."""

    rgb: str = "/camera/rgb/image_rect_color"
    camera_info: str = "/camera/rgb/camera_info"
    depth: str = "/camera/depth_registered/image_rect"
    labels: str = "/camera/ground_truth/labels"


DEFAULT_TOPICS = BagTopics()
# What realsense2_camera 4.x publishes through image_transport with align_depth.enable.
REALSENSE_COMPRESSED_TOPICS = BagTopics(
    rgb="/camera/camera/color/image_raw/compressed",
    camera_info="/camera/camera/color/camera_info",
    depth="/camera/camera/aligned_depth_to_color/image_raw/compressedDepth")
IMAGE_TYPES = (IMAGE_TYPE, COMPRESSED_IMAGE_TYPE)


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


def compressed_image_message(stamped, fmt: str, data: bytes):
    """A sensor_msgs/CompressedImage of the bag typestore."""
    return TYPESTORE.types[COMPRESSED_IMAGE_TYPE](
        header=stamped, format=fmt, data=np.frombuffer(data, dtype=np.uint8))


def write_rgbd_bag(path: str | Path, frames: Iterable[RGBDFrame],
                   frame_id: str = "camera_color_optical_frame",
                   topics: BagTopics = DEFAULT_TOPICS, compressed: bool = False) -> int:
    """Write rgb8 + 16UC1 millimetre depth + camera_info (+ mono8 labels) per frame.

    `compressed` writes what a robot's image_transport records instead: jpeg colour
    (`compressed`) and png depth (`compressedDepth`), as sensor_msgs/CompressedImage.
    Messages are stamped with the frame's sensor time and logged at that time, as
    `ros2 bag record` would on a live camera. Returns the number of frames written.
    """
    image_msg = rosbags_classes().image_msg
    with BagWriter(path) as writer:
        count = 0
        for frame in frames:
            height, width = frame.depth_m.shape
            stamped = header(frame.stamp_ns, frame_id)
            depth_mm = depth_m_to_16uc1(frame.depth_m)
            if compressed:
                writer.write(topics.rgb, COMPRESSED_IMAGE_TYPE, frame.stamp_ns,
                             compressed_image_message(stamped, *encode_compressed_color(frame.rgb)))
                writer.write(topics.depth, COMPRESSED_IMAGE_TYPE, frame.stamp_ns,
                             compressed_image_message(stamped,
                                                      *encode_compressed_depth_16uc1(depth_mm)))
            else:
                writer.write(topics.rgb, IMAGE_TYPE, frame.stamp_ns,
                             image_msg(stamped, encode_image(frame.rgb, "rgb8")))
                writer.write(topics.depth, IMAGE_TYPE, frame.stamp_ns,
                             image_msg(stamped, encode_image(depth_mm, "16UC1")))
            writer.write(topics.camera_info, CAMERA_INFO_TYPE, frame.stamp_ns,
                         camera_info_message(frame.K, width, height, frame.stamp_ns, frame_id))
            if frame.labels is not None:
                labels = encode_image(frame.labels.astype(np.uint8), "mono8")
                writer.write(topics.labels, IMAGE_TYPE, frame.stamp_ns, image_msg(stamped, labels))
            count += 1
    return count


def offered_qos(latched: bool = False, depth: int = 10) -> Qos:
    """A reliable keep-last profile as `ros2 bag record` stores it (transient local = latched)."""
    zero = QosTime(0, 0)  # rmw's "default": no deadline, lifespan or lease
    return Qos(history=QosHistory.KEEP_LAST, depth=depth, reliability=QosReliability.RELIABLE,
               durability=QosDurability.TRANSIENT_LOCAL if latched else QosDurability.VOLATILE,
               deadline=zero, lifespan=zero, liveliness=QosLiveliness.AUTOMATIC,
               liveliness_lease_duration=zero, avoid_ros_namespace_conventions=False)


def default_qos(topic: str) -> Qos:
    """The QoS the node offers on `topic`: its class map is latched, the rest volatile."""
    return offered_qos(latched=True, depth=1) if topic.endswith("label_info") else offered_qos()


class _FlushingMcapWriter(McapWriter):
    """rosbags' MCAP storage, but every chunk reaches the file within CHUNK_FLUSH_S: a
    killed writer then leaves all but the last half second readable (see mcap_repair)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._chunk_opened = time.monotonic()

    def write(self, connection, timestamp: int, data: bytes | memoryview) -> None:
        super().write(connection, timestamp, data)
        if self.chunk.bio.tell() and time.monotonic() - self._chunk_opened > CHUNK_FLUSH_S:
            self.close_chunk()

    def close_chunk(self) -> None:
        super().close_chunk()
        self.bio.flush()
        self._chunk_opened = time.monotonic()


class _Writer(Writer):
    STORAGE_PLUGINS = {**Writer.STORAGE_PLUGINS, StoragePlugin.MCAP: _FlushingMcapWriter}


class BagWriter:
    """A rosbag2 MCAP writer with zstd chunk compression, as `ros2 bag record -s mcap
    --storage-preset-profile zstd_fast` writes: Foxglove and the `mcap` CLI open it as is.
    Connections open lazily, one per topic, each with the QoS its publisher offers."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if self.path.exists():
            raise FileExistsError(f"output bag {self.path} already exists; choose a new path")
        self._writer = _Writer(self.path, version=9, storage_plugin=StoragePlugin.MCAP)
        self._writer.set_compression(CompressionMode.STORAGE, CompressionFormat.ZSTD)
        self._connections: dict[str, object] = {}

    def __enter__(self) -> BagWriter:
        self._writer.open()
        return self

    def __exit__(self, *exc_info) -> None:
        self._writer.close()

    def _connection(self, topic: str, msgtype: str, qos: Qos | None):
        if topic not in self._connections:
            self._connections[topic] = self._writer.add_connection(
                topic, msgtype, typestore=TYPESTORE,
                offered_qos_profiles=[qos or default_qos(topic)])
        return self._connections[topic]

    def write(self, topic: str, msgtype: str, timestamp_ns: int, message,
              qos: Qos | None = None) -> None:
        """Serialise a typestore message and log it at `timestamp_ns`."""
        self.write_raw(topic, msgtype, timestamp_ns, TYPESTORE.serialize_cdr(message, msgtype),
                       qos)

    def write_raw(self, topic: str, msgtype: str, timestamp_ns: int, data: bytes,
                  qos: Qos | None = None) -> None:
        """Log already serialised CDR bytes, e.g. straight from an rclpy raw subscription.
        `qos` (default: `default_qos(topic)`) counts only for a topic's first message."""
        self._writer.write(self._connection(topic, msgtype, qos), timestamp_ns, data)


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


def repair_unfinished(path: str | Path) -> str | None:
    """Rebuild a bag whose writer was killed from its complete chunks; the line says so.

    Returns None (and touches nothing) for a bag that was closed properly.
    """
    path = Path(path)
    mcap_file = unfinished_mcap(path)
    if mcap_file is None:
        return None
    recovered = recover(mcap_file)
    staging = path.with_name(f".{path.name}.repairing")
    shutil.rmtree(staging, ignore_errors=True)
    rebuilt = staging / path.name  # rosbag2 names the .mcap after its directory
    with BagWriter(rebuilt) as writer:
        for channel_id, log_time, data in recovered.messages:
            topic, schema_id, metadata = recovered.channels[channel_id]
            writer.write_raw(topic, recovered.schemas[schema_id][0], log_time, data,
                             _stored_qos(metadata.get("offered_qos_profiles", "")))
    shutil.rmtree(path)
    rebuilt.rename(path)
    staging.rmdir()
    line = (f"repaired bag {path} (its writer was killed): kept {len(recovered.messages)} "
            f"complete messages, dropped an unfinished tail of {recovered.dropped_bytes} bytes")
    print(line, file=sys.stderr, flush=True)
    return line


def _stored_qos(serialized: str) -> Qos | None:
    """The first profile of an MCAP channel's `offered_qos_profiles` YAML (rosbag2 v9)."""
    profiles = yaml.safe_load(serialized) if serialized else None
    if not profiles:
        return None
    return _qos_from_dict(profiles[0])


def _qos_from_dict(profile: dict) -> Qos:
    def duration(key: str) -> QosTime:
        value = profile.get(key) or {}
        return QosTime(int(value.get("sec", 0)), int(value.get("nsec", 0)))

    return Qos(history=QosHistory[str(profile.get("history", "keep_last")).upper()],
               depth=int(profile.get("depth", 10)),
               reliability=QosReliability[str(profile.get("reliability", "reliable")).upper()],
               durability=QosDurability[str(profile.get("durability", "volatile")).upper()],
               deadline=duration("deadline"), lifespan=duration("lifespan"),
               liveliness=QosLiveliness[str(profile.get("liveliness", "automatic")).upper()],
               liveliness_lease_duration=duration("liveliness_lease_duration"),
               avoid_ros_namespace_conventions=bool(
                   profile.get("avoid_ros_namespace_conventions", False)))


def _open(path: str | Path) -> Reader:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"bag {path} does not exist")
    repair_unfinished(path)
    return Reader(path)


def read_messages(path: str | Path, topics: Sequence[str] | None = None) -> Iterator[BagMessage]:
    """Raw messages of the given topics (all when None) in log-time order."""
    with _open(path) as reader:
        connections = [c for c in reader.connections if topics is None or c.topic in topics]
        if not connections:
            return  # rosbags reads an empty connection list as "every topic"
        for connection, timestamp, data in reader.messages(connections=connections):
            yield BagMessage(connection.topic, connection.msgtype, timestamp, bytes(data))


def bag_topics(path: str | Path) -> dict[str, tuple[str, int]]:
    """topic -> (message type, message count) of a bag."""
    with _open(path) as reader:
        return {c.topic: (c.msgtype, c.msgcount) for c in reader.connections}


def recorded_qos(path: str | Path) -> dict[str, Qos]:
    """topic -> the first QoS profile its publisher offered when it was recorded (if any)."""
    with _open(path) as reader:
        return {c.topic: c.ext.offered_qos_profiles[0] for c in reader.connections
                if getattr(c.ext, "offered_qos_profiles", None)}

