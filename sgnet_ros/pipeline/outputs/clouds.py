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
import torch

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


def point_words(
    words: np.ndarray,
    depth: np.ndarray,
    valid: np.ndarray,
    rays_x: np.ndarray,
    rays_y: np.ndarray,
    rgb: np.ndarray,
    labels: np.ndarray,
) -> np.ndarray:
    """Fill (H, W, 5) little-endian words x y z rgb label; NaN xyz where depth is not valid.

    Each field is computed as a contiguous plane and interleaved by one stack, which is
    faster than writing each field through a strided view.
    """
    z = np.where(valid, depth, np.float32(np.nan))
    planes = [z * rays_x, z * rays_y, z, pack_rgb(rgb), labels.astype("<u4").view("<f4")]
    np.stack(planes, axis=-1, out=words)  # a raw copy: rgb and label bits pass unchanged


def xyzrgb_rows(words: np.ndarray, rows: np.ndarray, out: np.ndarray) -> None:
    """Gather the x y z rgb prefix of the given points of x y z rgb label words into out."""
    point_step = words.shape[-1] * words.itemsize
    prefixes = np.ndarray(  # (N,) view of each point's first 16 bytes
        (words.size // words.shape[-1],),
        np.dtype((np.void, XYZRGB_STEP)),
        buffer=words,
        strides=(point_step,),
    )
    np.take(prefixes, rows, out=out.view(prefixes.dtype)[:, 0])  # faster than prefixes[rows]


def voxel_downsample(
    words: np.ndarray,
    labels: np.ndarray,
    voxel_size: float,
) -> tuple[np.ndarray, np.ndarray]:
    """One point per (class, voxel): the centroid of its points, the colour of one of them.

    Returns points grouped by ascending class, with their labels.
    """
    if labels.size == 0:
        return words, labels
    key = labels.astype(np.int64)  # label-major, so voxels come out grouped by class
    key_space = float(labels.max()) + 1
    for axis in (2, 1, 0):
        cell = np.floor(words[:, axis] / np.float32(voxel_size)).astype(np.int64)
        low, high = cell.min(), cell.max()
        key_space *= float(high - low + 1)
        if key_space >= 2.0**62:
            raise ValueError(f"voxel_size {voxel_size} is too small for this cloud's extent")
        key *= high - low + 1
        key += cell - low
    # Points arrive in image order within each class, so neighbours along a row mostly
    # share a voxel: merging those runs first leaves far fewer keys to sort.
    run_starts = np.flatnonzero(np.concatenate(([True], key[1:] != key[:-1])))
    run_sizes = np.diff(np.append(run_starts, key.size))
    _, first_run, run_voxel = np.unique(key[run_starts], return_index=True, return_inverse=True)
    sizes = np.bincount(run_voxel, weights=run_sizes)
    merged = np.empty((first_run.size, 4), "<f4")
    for axis in range(3):
        run_sums = np.add.reduceat(words[:, axis], run_starts)
        merged[:, axis] = np.bincount(run_voxel, weights=run_sums) / sizes
    first = run_starts[first_run]
    merged.view("<u4")[:, 3] = words.view("<u4")[first, 3]
    return merged, labels[first]


class RayCache:
    """Per-pixel viewing rays (x/z, y/z) for the last camera seen, on the strided grid."""

    def __init__(self) -> None:
        self._key: tuple | None = None
        self._rays: tuple[np.ndarray, np.ndarray] | None = None
        self._on_device: dict[torch.device, tuple[torch.Tensor, torch.Tensor]] = {}

    def rays(
        self,
        K: np.ndarray,
        shape: tuple[int, int],
        stride: int,
    ) -> tuple[np.ndarray, np.ndarray]:
        K = np.asarray(K, dtype=np.float64)
        key = (K.tobytes(), shape, stride)
        if key != self._key:
            self._rays = _pixel_rays(K, shape, stride)
            self._key = key
            self._on_device = {}
        return self._rays

    def rays_on(
        self, device: torch.device, K: np.ndarray, shape: tuple[int, int], stride: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The same rays as tensors on `device`, copied there once per camera."""
        rays = self.rays(K, shape, stride)
        if device not in self._on_device:
            self._on_device[device] = tuple(
                torch.from_numpy(np.ascontiguousarray(ray)).to(device) for ray in rays
            )
        return self._on_device[device]


def _pixel_rays(
    K: np.ndarray,
    shape: tuple[int, int],
    stride: int,
) -> tuple[np.ndarray, np.ndarray]:
    """K^-1 [u, v, 1] for zero-based pixel centres, skew included."""
    if K.shape != (3, 3) or not np.isfinite(K).all():
        raise ValueError(f"K must be a finite 3x3 matrix, got shape {K.shape}")
    if not np.allclose(K[2], (0.0, 0.0, 1.0)) or K[1, 0] != 0:
        raise ValueError(f"K must be upper triangular with last row (0, 0, 1), got {K.tolist()}")
    fx, skew, cx, fy, cy = K[0, 0], K[0, 1], K[0, 2], K[1, 1], K[1, 2]
    if fx <= 0 or fy <= 0:
        raise ValueError(f"K has non-positive focal lengths fx={fx}, fy={fy}")
    rows = np.arange(0, shape[0], stride, dtype=np.float64)
    cols = np.arange(0, shape[1], stride, dtype=np.float64)
    rays_y = np.broadcast_to(((rows - cy) / fy)[:, None], (rows.size, cols.size))
    rays_x = ((cols - cx)[None, :] - skew * rays_y) / fx
    return rays_x.astype(np.float32), np.ascontiguousarray(rays_y, dtype=np.float32)

