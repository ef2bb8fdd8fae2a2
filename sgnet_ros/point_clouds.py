"""PointCloud2-shaped buffers built without ROS: field layouts, packing and an independent reader.

Every cloud is one contiguous little-endian byte buffer plus the field table that
sensor_msgs/PointCloud2 needs, so the node only copies these values into a message.
Colours follow PCL's PointXYZRGB convention: a float32 field named ``rgb`` whose four
bytes are, in memory order, blue, green, red and a zero alpha. The alpha stays zero so
the float is never a NaN bit pattern that a float copy could canonicalise.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import NamedTuple

import cv2
import numpy as np

# sensor_msgs/PointField datatype codes.
INT8, UINT8, INT16, UINT16, INT32, UINT32, FLOAT32, FLOAT64 = range(1, 9)
_DATATYPE_DTYPES = {
    INT8: "i1",
    UINT8: "u1",
    INT16: "i2",
    UINT16: "u2",
    INT32: "i4",
    UINT32: "u4",
    FLOAT32: "f4",
    FLOAT64: "f8",
}


class PointFieldSpec(NamedTuple):
    """One entry of PointCloud2.fields."""

    name: str
    offset: int
    datatype: int
    count: int = 1


@dataclass(frozen=True)
class CloudBuffer:
    """Everything a PointCloud2 carries except its header; data is little-endian."""

    fields: tuple[PointFieldSpec, ...]
    point_step: int
    row_step: int
    width: int
    height: int
    is_dense: bool
    data: np.ndarray | bytes


# x y z rgb, as PCL PointXYZRGB without its padding: 16 bytes a point.
XYZRGB_FIELDS = (
    PointFieldSpec("x", 0, FLOAT32),
    PointFieldSpec("y", 4, FLOAT32),
    PointFieldSpec("z", 8, FLOAT32),
    PointFieldSpec("rgb", 12, FLOAT32),
)
XYZRGB_STEP = 16
# x y z rgb label, as PCL PointXYZRGBL without its padding: 20 bytes a point.
XYZRGBL_FIELDS = XYZRGB_FIELDS + (PointFieldSpec("label", 16, UINT32),)


def cloud_from_words(
    words: np.ndarray, fields: tuple[PointFieldSpec, ...], is_dense: bool
) -> CloudBuffer:
    """Wrap a C-contiguous (height, width, n) or (points, n) array of 4-byte words, no copy."""
    if not words.flags.c_contiguous or words.dtype.itemsize != 4:
        raise ValueError("cloud words must be a C-contiguous array of 4-byte values")
    if words.ndim == 3:
        height, width, per_point = words.shape
    elif words.ndim == 2:
        height, (width, per_point) = 1, words.shape
    else:
        raise ValueError(f"cloud words must be 2-D or 3-D, got shape {words.shape}")
    point_step = per_point * 4
    return CloudBuffer(
        fields=fields,
        point_step=point_step,
        row_step=point_step * width,
        width=width,
        height=height,
        is_dense=is_dense,
        data=words.reshape(-1).view(np.uint8),
    )


def pack_rgb(rgb: np.ndarray) -> np.ndarray:
    """Pack (..., 3) uint8 rgb into PCL's float32 ``rgb`` (bit pattern 0x00RRGGBB)."""
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or rgb.shape[-1:] != (3,):
        raise ValueError(f"rgb must be (..., 3) uint8, got {rgb.dtype} {rgb.shape}")
    if rgb.size == 0:
        return np.zeros(rgb.shape[:-1], "<f4")
    # OpenCV's channel shuffle is several times faster than strided numpy byte copies.
    bgra = cv2.cvtColor(np.ascontiguousarray(rgb).reshape(-1, 1, 3), cv2.COLOR_RGB2BGRA)
    bgra[..., 3] = 0
    return bgra.view("<f4").reshape(rgb.shape[:-1])


def unpack_rgb(rgb_field: np.ndarray) -> np.ndarray:
    """The inverse of pack_rgb: float32 ``rgb`` values to (..., 3) uint8."""
    field = np.ascontiguousarray(rgb_field, dtype="<f4")
    return field[..., None].view(np.uint8)[..., 2::-1].copy()


_NOT_TOKEN_CHARACTERS = re.compile(r"[^a-z0-9]+")


def sanitize_topic_token(name: str, fallback: str = "class") -> str:
    """A valid ROS 2 topic token for a class name: "Night Stand" -> "night_stand".

    Letters are lower-cased and stripped of accents, runs of anything else become one
    underscore (ROS 2 forbids repeated underscores), leading and trailing underscores go,
    and a token that would start with a digit gets the fallback as a prefix.
    """
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    token = _NOT_TOKEN_CHARACTERS.sub("_", ascii_name.lower()).strip("_")
    if not token:
        return fallback
    if token[0].isdigit():
        return f"{fallback}_{token}"
    return token


def unique_topic_tokens(class_names: tuple[str, ...]) -> dict[int, str]:
    """Sanitised tokens per class id, made unique by suffixing the id to later duplicates."""
    tokens: dict[int, str] = {}
    used: set[str] = set()
    for class_id, name in enumerate(class_names):
        token = sanitize_topic_token(name, fallback=f"class_{class_id}")
        while token in used:
            token = f"{token}_{class_id}"
        used.add(token)
        tokens[class_id] = token
    return tokens


def read_cloud(cloud) -> np.ndarray:
    """Decode a cloud into a (height, width) numpy structured array, one field per PointField.

    Independent of how the cloud was built: it only reads the field table, the steps and
    the bytes, so it also decodes a sensor_msgs/PointCloud2 (duck-typed).
    """
    height, width = int(cloud.height), int(cloud.width)
    point_step, row_step = int(cloud.point_step), int(cloud.row_step)
    byte_order = ">" if getattr(cloud, "is_bigendian", False) else "<"
    names, formats, offsets = [], [], []
    for field in cloud.fields:
        if field.datatype not in _DATATYPE_DTYPES:
            raise ValueError(f"field {field.name!r} has unknown datatype {field.datatype}")
        names.append(field.name)
        base = byte_order + _DATATYPE_DTYPES[field.datatype]
        formats.append(base if field.count == 1 else (base, (field.count,)))
        offsets.append(field.offset)
    dtype = np.dtype(
        {"names": names, "formats": formats, "offsets": offsets, "itemsize": point_step}
    )
    if row_step < width * point_step:
        raise ValueError(f"row_step {row_step} is smaller than width * point_step")
    raw = np.frombuffer(cloud.data, dtype=np.uint8)
    if raw.size < height * row_step:
        raise ValueError(f"cloud data has {raw.size} bytes, {height * row_step} are needed")
    if height * width == 0:
        return np.zeros((height, width), dtype)
    rows = raw[: height * row_step].reshape(height, row_step)[:, : width * point_step]
    return np.ascontiguousarray(rows).view(dtype).reshape(height, width)
