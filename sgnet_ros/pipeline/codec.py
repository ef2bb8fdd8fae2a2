"""REP 118 image decoding and encoding with cv_bridge's semantics, without cv_bridge.

pip has no ROS 2 cv_bridge, so this module is the project's one conversion between
`sensor_msgs/Image` fields and numpy arrays. It works on plain fields (or any object with
them: an rclpy message, a rosbags message), so it is ROS-free and testable alone.

`decode_image` matches `cv_bridge.imgmsg_to_cv2(msg, "passthrough")`: the array keeps the
message's own encoding, row padding (`step`) is removed and big-endian data is swapped to
native order. `to_rgb8` and `to_depth_m` then turn such arrays into what the pipeline eats.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import cv2
import numpy as np

# encoding -> (numpy dtype, channels), the REP 118 / sensor_msgs image_encodings table.
_LAYOUTS: dict[str, tuple[np.dtype, int]] = {
    "rgb8": (np.dtype(np.uint8), 3), "bgr8": (np.dtype(np.uint8), 3),
    "rgba8": (np.dtype(np.uint8), 4), "bgra8": (np.dtype(np.uint8), 4),
    "rgb16": (np.dtype(np.uint16), 3), "bgr16": (np.dtype(np.uint16), 3),
    "rgba16": (np.dtype(np.uint16), 4), "bgra16": (np.dtype(np.uint16), 4),
    "mono8": (np.dtype(np.uint8), 1), "mono16": (np.dtype(np.uint16), 1),
    # yuv422 (UYVY) and yuv422_yuy2 / yuyv (YUYV) carry 2 bytes per pixel.
    "yuv422": (np.dtype(np.uint8), 2), "uyvy": (np.dtype(np.uint8), 2),
    "yuv422_yuy2": (np.dtype(np.uint8), 2), "yuyv": (np.dtype(np.uint8), 2),
}
_CV_DEPTHS = {"8U": np.uint8, "8S": np.int8, "16U": np.uint16, "16S": np.int16,
              "32S": np.int32, "32F": np.float32, "64F": np.float64}

COLOR_ENCODINGS = ("rgb8", "bgr8", "rgba8", "bgra8", "mono8", "yuv422", "uyvy",
                   "yuv422_yuy2", "yuyv")
DEPTH_ENCODINGS = ("16UC1", "mono16", "32FC1")

_TO_RGB = {
    "bgr8": cv2.COLOR_BGR2RGB, "rgba8": cv2.COLOR_RGBA2RGB, "bgra8": cv2.COLOR_BGRA2RGB,
    "mono8": cv2.COLOR_GRAY2RGB, "yuv422": cv2.COLOR_YUV2RGB_UYVY,
    "uyvy": cv2.COLOR_YUV2RGB_UYVY, "yuv422_yuy2": cv2.COLOR_YUV2RGB_YUY2,
    "yuyv": cv2.COLOR_YUV2RGB_YUY2,
}


class ImageDecodeError(ValueError):
    """An image message that cannot be turned into an array; the message says why."""


@dataclass(frozen=True)
class EncodedImage:
    """The data fields of a sensor_msgs/Image, ready to copy into any message class."""

    height: int
    width: int
    encoding: str
    is_bigendian: int
    step: int
    data: bytes


def pixel_layout(encoding: str) -> tuple[np.dtype, int]:
    """(dtype, channels) of a REP 118 encoding, including the generic `16UC1`-style names."""
    if encoding in _LAYOUTS:
        return _LAYOUTS[encoding]
    if len(encoding) >= 4 and encoding[-2] == "C" and encoding[:-2] in _CV_DEPTHS:
        channels = int(encoding[-1])
        if 1 <= channels <= 4:
            return np.dtype(_CV_DEPTHS[encoding[:-2]]), channels
    raise ImageDecodeError(f"unsupported image encoding {encoding!r}")


def decode_image(encoding: str, height: int, width: int, step: int, is_bigendian: bool,
                 data: bytes | bytearray | memoryview | np.ndarray) -> np.ndarray:
    """Fields of a sensor_msgs/Image -> array (H, W) or (H, W, C) in the message's encoding."""
    dtype, channels = pixel_layout(encoding)
    if height <= 0 or width <= 0:
        raise ImageDecodeError(f"{encoding} image has zero size ({width}x{height})")
    row_bytes = width * channels * dtype.itemsize
    if step < row_bytes:
        raise ImageDecodeError(
            f"{encoding} image step {step} is smaller than width*bytes per pixel = {row_bytes}")
    if step % dtype.itemsize:
        raise ImageDecodeError(
            f"{encoding} image step {step} is not a multiple of the {dtype.itemsize}-byte sample")
    buffer = np.frombuffer(data, dtype=np.uint8) if not isinstance(data, np.ndarray) \
        else data.reshape(-1).view(np.uint8)
    needed = height * step
    if buffer.size < needed:
        raise ImageDecodeError(
            f"{encoding} image {width}x{height} is truncated: {buffer.size} bytes of data, "
            f"height*step = {needed}")
    rows = buffer[:needed].reshape(height, step)[:, :row_bytes]
    image = rows.copy().view(dtype)  # owned and writable, as cv_bridge's result
    if dtype.itemsize > 1 and bool(is_bigendian) != (sys.byteorder == "big"):
        image = image.byteswap()
    if channels == 1:
        return image.reshape(height, width)
    return image.reshape(height, width, channels)


def to_rgb8(image: np.ndarray, encoding: str) -> np.ndarray:
    """A decoded colour image -> contiguous (H, W, 3) uint8 RGB."""
    if encoding == "rgb8":
        return image
    if encoding in _TO_RGB:
        if image.shape[-1] == 2 and image.shape[1] % 2:
            raise ImageDecodeError(
                f"{encoding} image width {image.shape[1]} is odd; 4:2:2 pixels come in pairs")
        return cv2.cvtColor(image, _TO_RGB[encoding])
    raise ImageDecodeError(
        f"colour encoding {encoding!r} is not supported; use one of {', '.join(COLOR_ENCODINGS)}")


def to_depth_m(image: np.ndarray, encoding: str) -> np.ndarray:
    """A decoded depth image -> (H, W) metres with 0 wherever depth is invalid.

    REP 118: 16UC1 is millimetres with 0 = no return; 32FC1 is metres where NaN, +-inf and
    non-positive values mean no return. Millimetres become float64 divided by 1000, the
    reference HHA's arithmetic, so the node encodes exactly what `sgnet-hha` writes.
    """
    if encoding in ("16UC1", "mono16"):
        return image.astype(np.float64) / 1000.0
    if encoding == "32FC1":
        depth = image.astype(np.float32, copy=True)
        depth[~np.isfinite(depth) | (depth <= 0)] = 0.0
        return depth
    raise ImageDecodeError(
        f"depth encoding {encoding!r} is not supported; use one of {', '.join(DEPTH_ENCODINGS)}")


def encode_image(image: np.ndarray, encoding: str) -> EncodedImage:
    """Array -> Image fields, the inverse of `decode_image` (native byte order, no padding)."""
    dtype, channels = pixel_layout(encoding)
    expected_ndim = 2 if channels == 1 else 3
    if image.ndim != expected_ndim or (channels > 1 and image.shape[2] != channels):
        raise ValueError(f"array of shape {image.shape} does not fit encoding {encoding!r}")
    data = np.ascontiguousarray(image, dtype=dtype)
    height, width = data.shape[:2]
    return EncodedImage(height=height, width=width, encoding=encoding,
                        is_bigendian=int(sys.byteorder == "big"),
                        step=width * channels * dtype.itemsize, data=data.tobytes())


def depth_m_to_16uc1(depth_m: np.ndarray) -> np.ndarray:
    """Metres (0/NaN invalid) -> uint16 millimetres with 0 = invalid, as drivers publish it."""
    millimetres = np.nan_to_num(depth_m, nan=0.0, posinf=0.0, neginf=0.0) * 1000.0
    return np.clip(np.rint(millimetres), 0, 65535).astype(np.uint16)


# --- sensor_msgs/CompressedImage: image_transport's `compressed` and `compressedDepth` -------
# compressed_depth_image_transport prefixes the PNG with this ConfigHeader: int32 format
# (0 = INV_DEPTH), float32 depthQuantA, float32 depthQuantB, in the publisher's (little-endian)
# byte order. 32FC1 is stored as quantised inverse depth: q = A / depth + B, 0 = no depth.
COMPRESSED_DEPTH_HEADER = np.dtype([("format", "<i4"), ("quant_a", "<f4"), ("quant_b", "<f4")])


def _compressed_bytes(data: bytes | bytearray | memoryview | np.ndarray) -> np.ndarray:
    return np.frombuffer(data, dtype=np.uint8) if not isinstance(data, np.ndarray) \
        else data.reshape(-1).view(np.uint8)


def _imdecode(buffer: np.ndarray, what: str) -> np.ndarray:
    if buffer.size == 0:
        raise ImageDecodeError(f"{what} carries no data")
    image = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ImageDecodeError(f"{what}: OpenCV cannot decode its {buffer.size} bytes")
    return image


def decode_compressed_color(fmt: str, data: bytes | bytearray | memoryview | np.ndarray,
                            ) -> np.ndarray:
    """A `compressed` CompressedImage (jpeg or png; `fmt` like "bgr8; jpeg compressed
    bgr8", or a bare "jpeg") -> contiguous (H, W, 3) uint8 RGB."""
    if "compressedDepth" in fmt:
        raise ImageDecodeError(f"format {fmt!r} is a depth image, not a colour image")
    image = _imdecode(_compressed_bytes(data), f"compressed colour image ({fmt!r})")
    if image.dtype != np.uint8:
        raise ImageDecodeError(
            f"compressed colour image ({fmt!r}) decodes to {image.dtype}; only 8-bit "
            "colour is supported")
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    code = cv2.COLOR_BGRA2RGB if image.shape[2] == 4 else cv2.COLOR_BGR2RGB
    return cv2.cvtColor(image, code)  # OpenCV decodes to BGR(A) whatever the source order


def decode_compressed_depth(fmt: str, data: bytes | bytearray | memoryview | np.ndarray,
                            ) -> tuple[np.ndarray, str]:
    """A depth CompressedImage -> (array, its REP 118 encoding) for `to_depth_m`.

    `compressedDepth` ("16UC1; compressedDepth png", or "32FC1; ..."; "rvl" in place of
    png for the RVL codec): 12-byte ConfigHeader, then a 16-bit PNG (or RVL stream) of
    millimetres (16UC1) or of quantised inverse depth (32FC1, decoded as
    compressed_depth_image_transport does: depth = A / (q - B), q = 0 -> NaN). A plain
    `compressed` png of a 16UC1 image ("16UC1; png compressed mono16") is read as millimetres.
    """
    encoding, _, method = (part.strip() for part in fmt.partition(";"))
    buffer = _compressed_bytes(data)
    what = f"compressed depth image ({fmt!r})"
    if "compressedDepth" not in method:
        if "png" not in method and "png" not in encoding:
            raise ImageDecodeError(f"{what}: only png keeps depth; jpeg would corrupt it")
        image = _imdecode(buffer, what)
        if image.dtype != np.uint16 or image.ndim != 2:
            raise ImageDecodeError(f"{what} decodes to {image.dtype} with shape {image.shape}; "
                                   "depth must be one 16-bit channel (millimetres)")
        return image, "16UC1"
    variant = method.removeprefix("compressedDepth").strip() or "png"
    if variant not in ("png", "rvl"):
        raise ImageDecodeError(f"{what}: compressedDepth {variant!r} is not png or rvl")
    if buffer.size <= COMPRESSED_DEPTH_HEADER.itemsize:
        raise ImageDecodeError(f"{what} has {buffer.size} bytes, not even its 12-byte header")
    config = buffer[:COMPRESSED_DEPTH_HEADER.itemsize].view(COMPRESSED_DEPTH_HEADER)[0]
    payload = buffer[COMPRESSED_DEPTH_HEADER.itemsize:]
    image = _decode_rvl(payload, what) if variant == "rvl" else _imdecode(payload, what)
    if image.dtype != np.uint16 or image.ndim != 2:
        raise ImageDecodeError(f"{what}: its PNG is {image.dtype} with shape {image.shape}, "
                               "not one 16-bit channel")
    if encoding in ("16UC1", "mono16"):
        return image, "16UC1"
    if encoding != "32FC1":
        raise ImageDecodeError(f"{what}: source encoding {encoding!r} is not 16UC1 or 32FC1")
    quantised = image.astype(np.float32)
    with np.errstate(divide="ignore"):
        depth = np.float32(config["quant_a"]) / (quantised - np.float32(config["quant_b"]))
    depth[image == 0] = np.nan
    return depth, "32FC1"


_NIBBLE_SHIFTS = np.arange(28, -1, -4, dtype=np.uint32)


def _decode_rvl(payload: np.ndarray, what: str) -> np.ndarray:
    """compressed_depth_image_transport's RVL (uint32 cols, uint32 rows, then the stream of
    rvl_codec.cpp) -> (rows, cols) uint16, vectorised.

    The stream is 32-bit little-endian words read as nibbles from the top; a value is a run
    of nibbles carrying 3 bits each, lowest first, bit 3 set while more follow. Values come
    as (zeros, nonzeros, zigzag delta per nonzero pixel) until every pixel is covered.
    """
    if payload.size < 8:
        raise ImageDecodeError(f"{what}: RVL data of {payload.size} bytes has no size")
    cols, rows = (int(v) for v in payload[:8].view("<u4"))
    pixels = rows * cols
    words = payload[8:8 + (payload.size - 8) // 4 * 4].view("<u4")
    # the best RVL ratio is 4:1 of 2-byte pixels, as the transport's own sanity check says
    if pixels == 0 or pixels > 5 * (payload.size - 8):
        raise ImageDecodeError(f"{what}: RVL image of {cols}x{rows} cannot come from "
                               f"{payload.size} bytes")
    nibbles = ((words[:, None] >> _NIBBLE_SHIFTS) & 0xF).reshape(-1).astype(np.int64)
    ends = (nibbles & 0x8) == 0
    group = np.concatenate(([0], np.cumsum(ends)[:-1]))
    starts = np.flatnonzero(np.concatenate(([True], ends[:-1])))
    shift = 3 * (np.arange(nibbles.size) - starts[group])
    values = np.bincount(group, weights=(nibbles & 0x7) << shift).astype(np.int64)
    run_pixels, run_values, run_lengths = [], [], []
    position = index = 0
    while position < pixels:
        if index + 2 > values.size:
            raise ImageDecodeError(f"{what}: RVL data ends after {position} of {pixels} pixels")
        zeros, nonzeros = int(values[index]), int(values[index + 1])
        position += zeros
        if nonzeros:
            run_pixels.append(position)
            run_values.append(index + 2)
            run_lengths.append(nonzeros)
        elif not zeros:
            raise ImageDecodeError(f"{what}: RVL data is malformed (an empty run)")
        index += 2 + nonzeros
        position += nonzeros
    if position != pixels or index > values.size:
        raise ImageDecodeError(f"{what}: RVL runs cover {position} pixels, not {pixels}")
    image = np.zeros(pixels, np.uint16)
    if run_lengths:
        lengths = np.asarray(run_lengths)
        within = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        positive = values[np.repeat(run_values, lengths) + within]
        current = np.cumsum((positive >> 1) ^ -(positive & 1))  # zigzag deltas, in order
        image[np.repeat(run_pixels, lengths) + within] = current.astype(np.uint16)
    return image.reshape(rows, cols)


def encode_compressed_color(rgb: np.ndarray, codec: str = "jpeg", quality: int = 90,
                            ) -> tuple[str, bytes]:
    """(H, W, 3) RGB -> (format, data) of a `compressed` CompressedImage, as
    compressed_image_transport writes it from a bgr8 image."""
    params = [cv2.IMWRITE_JPEG_QUALITY, quality] if codec == "jpeg" else []
    ok, encoded = cv2.imencode(f".{codec}", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), params)
    if not ok:
        raise ValueError(f"OpenCV could not encode a {rgb.shape} image as {codec}")
    return f"bgr8; {codec} compressed bgr8", encoded.tobytes()


def encode_compressed_depth_16uc1(depth_mm: np.ndarray) -> tuple[str, bytes]:
    """uint16 millimetres -> (format, data) of a `compressedDepth` png CompressedImage."""
    ok, encoded = cv2.imencode(".png", np.ascontiguousarray(depth_mm, dtype=np.uint16))
    if not ok:
        raise ValueError(f"OpenCV could not encode a {depth_mm.shape} depth image as png")
    header = np.zeros(1, COMPRESSED_DEPTH_HEADER)  # format INV_DEPTH, no quantisation
    return "16UC1; compressedDepth png", header.tobytes() + encoded.tobytes()
