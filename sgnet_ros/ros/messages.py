"""Arrays and buffers <-> sensor_msgs messages, for rclpy and for rosbags alike.

The node publishes rclpy messages and the offline tools write rosbags messages; both
classes have the same fields, so one factory fills either from the same encoded fields
(`image_codec.EncodedImage`, `point_clouds.CloudBuffer`). Only the byte container differs:
rclpy copies `bytes` in 0.5 ms where it would take 50 ms to iterate a numpy array.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from rosbags.typesys import Stores, get_typestore

from sgnet_ros.pipeline.codec import (
    EncodedImage,
    decode_compressed_color,
    decode_compressed_depth,
    decode_image,
    to_depth_m,
    to_rgb8,
)
from sgnet_ros.pipeline.geometry import CameraModel
from sgnet_ros.pipeline.outputs.clouds import CloudBuffer

# The message definitions bags are written with (sensor_msgs, std_msgs: same since Humble).
TYPESTORE = get_typestore(Stores.ROS2_HUMBLE)


@dataclass(frozen=True)
class MessageClasses:
    """The message classes of one backend and how it wants byte arrays."""

    image: type
    camera_info: type
    point_cloud: type
    point_field: type
    string: type
    data_as_bytes: bool

    def _data(self, data: bytes | np.ndarray) -> Any:
        if self.data_as_bytes:
            return data if isinstance(data, bytes) else np.ascontiguousarray(data).tobytes()
        return np.frombuffer(data, dtype=np.uint8) if isinstance(data, bytes) \
            else np.ascontiguousarray(data).reshape(-1).view(np.uint8)

    def image_msg(self, header: Any, fields: EncodedImage) -> Any:
        """A sensor_msgs/Image carrying `fields`."""
        return self.image(header=header, height=fields.height, width=fields.width,
                          encoding=fields.encoding, is_bigendian=fields.is_bigendian,
                          step=fields.step, data=self._data(fields.data))

    def cloud_msg(self, header: Any, cloud: CloudBuffer) -> Any:
        """A sensor_msgs/PointCloud2 carrying one cloud buffer (little-endian)."""
        fields = [self.point_field(name=f.name, offset=f.offset, datatype=f.datatype,
                                   count=f.count) for f in cloud.fields]
        return self.point_cloud(header=header, height=cloud.height, width=cloud.width,
                                fields=fields, is_bigendian=False, point_step=cloud.point_step,
                                row_step=cloud.row_step, data=self._data(cloud.data),
                                is_dense=cloud.is_dense)

    def camera_model_msg(self, header: Any, model: CameraModel) -> Any:
        """A sensor_msgs/CameraInfo describing a CameraModel (the image actually published)."""
        return self.camera_info(
            header=header, height=model.height, width=model.width,
            distortion_model=model.distortion_model, d=model.D.tolist(),
            k=model.K.reshape(-1).tolist(), r=model.R.reshape(-1).tolist(),
            p=model.P.reshape(-1).tolist())

    def camera_info_msg(self, header: Any, info: Any) -> Any:
        """A copy of a camera_info with another header (the label image's)."""
        return self.camera_info(
            header=header, height=info.height, width=info.width,
            distortion_model=info.distortion_model, d=info.d, k=info.k, r=info.r, p=info.p,
            binning_x=info.binning_x, binning_y=info.binning_y, roi=info.roi)


def vision_label_info_classes() -> tuple[type, type] | None:
    """vision_msgs' (LabelInfo, VisionClass), or None where no vision_msgs is installed."""
    try:
        from vision_msgs.msg import LabelInfo, VisionClass
    except ImportError:
        return None
    return LabelInfo, VisionClass


def label_info_msg(classes: tuple[type, type], header: Any, class_names: Sequence[str],
                   unlabeled: int) -> Any:
    """A vision_msgs/LabelInfo naming every class id the label image can hold.

    The unlabeled id is listed too, so a consumer can name every pixel. threshold is 0:
    every labelled pixel is the network's argmax, none is cut by confidence.
    """
    label_info, vision_class = classes
    class_map = [vision_class(class_id=i, class_name=name) for i, name in enumerate(class_names)]
    class_map.append(vision_class(class_id=unlabeled, class_name="unlabeled"))
    return label_info(header=header, class_map=class_map, threshold=0.0)


def rclpy_classes() -> MessageClasses:
    """The rclpy message classes (imported lazily: the ROS-free code never needs them)."""
    from sensor_msgs.msg import CameraInfo, Image, PointCloud2, PointField
    from std_msgs.msg import String

    return MessageClasses(Image, CameraInfo, PointCloud2, PointField, String,
                          data_as_bytes=True)


def rosbags_classes() -> MessageClasses:
    """The rosbags typestore message classes used to write bags."""
    types = TYPESTORE.types
    return MessageClasses(types["sensor_msgs/msg/Image"], types["sensor_msgs/msg/CameraInfo"],
                          types["sensor_msgs/msg/PointCloud2"],
                          types["sensor_msgs/msg/PointField"], types["std_msgs/msg/String"],
                          data_as_bytes=False)


IMAGE_TYPE = "sensor_msgs/msg/Image"
COMPRESSED_IMAGE_TYPE = "sensor_msgs/msg/CompressedImage"
CAMERA_INFO_TYPE = "sensor_msgs/msg/CameraInfo"


def is_compressed(msg: Any) -> bool:
    """True for a sensor_msgs/CompressedImage (any backend): it has `format`, no `encoding`."""
    return hasattr(msg, "format") and not hasattr(msg, "encoding")


def decode_color(msg: Any) -> np.ndarray:
    """sensor_msgs/Image or CompressedImage (any backend) -> (H,W,3) uint8 RGB."""
    if is_compressed(msg):
        return decode_compressed_color(msg.format, msg.data)
    image = decode_image(msg.encoding, msg.height, msg.width, msg.step, msg.is_bigendian,
                         msg.data)
    return to_rgb8(image, msg.encoding)


def decode_depth(msg: Any) -> np.ndarray:
    """sensor_msgs/Image or a depth CompressedImage (any backend) -> (H,W) metres, 0 = invalid."""
    if is_compressed(msg):
        return to_depth_m(*decode_compressed_depth(msg.format, msg.data))
    image = decode_image(msg.encoding, msg.height, msg.width, msg.step, msg.is_bigendian,
                         msg.data)
    return to_depth_m(image, msg.encoding)


def camera_intrinsics(msg: Any) -> tuple[np.ndarray, tuple[int, int]]:
    """sensor_msgs/CameraInfo -> (3x3 K, (width, height))."""
    return np.asarray(msg.k, dtype=np.float64).reshape(3, 3), (int(msg.width), int(msg.height))


def stamp_ns(header: Any) -> int:
    """A header's stamp as integer nanoseconds."""
    return int(header.stamp.sec) * 1_000_000_000 + int(header.stamp.nanosec)


def label_info_json(outputs: Any, model_name: str, cloud_ids: Sequence[int]) -> str:
    """The JSON class map of segmentation/label_info (std_msgs/String): ids, names, colours
    and the cloud topic of each class in `cloud_ids`. One function for the node and the
    offline replay, so both write the same class map."""
    return json.dumps({
        "unlabeled": outputs.unlabeled,
        "classes": [{"id": i, "name": name, "color": [int(c) for c in outputs.palette[i]],
                     "cloud_topic": f"points/{outputs.class_topics[i]}"
                     if i in cloud_ids else None}
                    for i, name in enumerate(outputs.class_names)],
        "model": model_name,
    })
