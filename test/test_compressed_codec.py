"""CompressedImage decoding checked against independent implementations.

compressedDepth: the images are encoded here from the published format
(compressed_depth_image_transport's codec.cpp: a 12-byte ConfigHeader, then a 16-bit PNG;
32FC1 as quantised inverse depth), with a PNG writer made of zlib and struct, not OpenCV.
jpeg/png colour and raw encodings: compared with rosbags-image (cv_bridge's semantics).
"""

import struct
import zlib

import cv2
import numpy as np
import pytest
from rosbags.image import compressed_image_to_cvimage, image_to_cvimage
from rosbags.typesys import Stores, get_typestore

from sgnet_ros.pipeline.codec import (
    ImageDecodeError,
    decode_compressed_color,
    decode_compressed_depth,
    decode_image,
    encode_compressed_color,
    encode_compressed_depth_16uc1,
    encode_image,
    to_depth_m,
    to_rgb8,
)

RNG = np.random.default_rng(15)
STORE = get_typestore(Stores.ROS2_HUMBLE)


def png_gray16(image: np.ndarray) -> bytes:
    """A 16-bit greyscale PNG (big-endian samples, filter 0 per row), by the PNG spec."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + \
            struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    height, width = image.shape
    rows = b"".join(b"\x00" + image[r].astype(">u2").tobytes() for r in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 16, 0,
                                                              0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def config_header(quant_a: float = 0.0, quant_b: float = 0.0) -> bytes:
    """ConfigHeader {int32 format = INV_DEPTH (0); float depthParam[2]}, little-endian."""
    return struct.pack("<iff", 0, quant_a, quant_b)


def test_compressed_depth_16uc1_png_decodes_to_the_millimetres():
    millimetres = RNG.integers(0, 8000, (48, 64)).astype(np.uint16)
    millimetres[5:9, 10:20] = 0  # no return
    image, encoding = decode_compressed_depth("16UC1; compressedDepth png",
                                              config_header() + png_gray16(millimetres))
    assert encoding == "16UC1"
    np.testing.assert_array_equal(image, millimetres)
    np.testing.assert_array_equal(to_depth_m(image, encoding), millimetres / 1000.0)


def test_compressed_depth_32fc1_inverse_depth_decodes_as_the_published_quantisation():
    depth_max, depth_quantization = 10.0, 100.0  # the publisher's defaults
    metres = RNG.uniform(0.3, 9.0, (40, 50)).astype(np.float32)
    metres[0, :7] = np.nan
    metres[1, :3] = 12.0  # beyond depth_max: sent as 0 = no depth
    quant_a = np.float32(depth_quantization * (depth_quantization + 1.0))
    quant_b = np.float32(1.0 - quant_a / np.float32(depth_max))
    with np.errstate(invalid="ignore"):
        keep = metres < depth_max  # NaN compares false, as in the C++ loop
        quantised = np.zeros(metres.shape, np.uint16)
        quantised[keep] = (quant_a / metres[keep] + quant_b).astype(np.uint16)  # C++ truncates
    data = config_header(float(quant_a), float(quant_b)) + png_gray16(quantised)
    decoded, encoding = decode_compressed_depth("32FC1; compressedDepth png", data)
    assert encoding == "32FC1" and decoded.dtype == np.float32
    assert np.isnan(decoded[~keep]).all()
    expected = quant_a / (quantised[keep].astype(np.float32) - quant_b)
    np.testing.assert_allclose(decoded[keep], expected, rtol=1e-6)
    # the quantisation step at 9 m is ~8 mm: the decoded depth is the true one within it
    np.testing.assert_allclose(decoded[keep], metres[keep], atol=0.01)
    assert (to_depth_m(decoded, encoding)[~keep] == 0).all()


def rvl_encode(image: np.ndarray) -> bytes:
    """rvl_codec.cpp's CompressRVL, line by line: uint32 cols, rows, then the VLE stream."""
    words, state = [], {"word": 0, "nibbles": 0}

    def vle(value: int) -> None:
        while True:
            nibble = value & 0x7
            value >>= 3
            if value:
                nibble |= 0x8
            state["word"] = ((state["word"] << 4) | nibble) & 0xFFFFFFFF
            state["nibbles"] += 1
            if state["nibbles"] == 8:
                words.append(state["word"])
                state["word"], state["nibbles"] = 0, 0
            if not value:
                return

    pixels, previous, at = [int(v) for v in image.reshape(-1)], 0, 0
    while at < len(pixels):
        zeros = 0
        while at < len(pixels) and not pixels[at]:
            at, zeros = at + 1, zeros + 1
        vle(zeros)
        nonzeros = 0
        while at + nonzeros < len(pixels) and pixels[at + nonzeros]:
            nonzeros += 1
        vle(nonzeros)
        for _ in range(nonzeros):
            delta = pixels[at] - previous
            vle(((delta << 1) ^ (delta >> 31)) & 0xFFFFFFFF)
            previous, at = pixels[at], at + 1
    if state["nibbles"]:
        words.append((state["word"] << 4 * (8 - state["nibbles"])) & 0xFFFFFFFF)
    height, width = image.shape
    return struct.pack("<II", width, height) + struct.pack(f"<{len(words)}I", *words)


def test_compressed_depth_rvl_decodes_what_the_published_encoder_writes():
    millimetres = RNG.integers(300, 9000, (37, 53)).astype(np.uint16)
    millimetres[RNG.random(millimetres.shape) < 0.2] = 0  # scattered holes
    millimetres[10:14] = 0  # and whole rows
    millimetres[20, 5:9] = [65535, 1, 65535, 2]  # the largest deltas both ways
    image, encoding = decode_compressed_depth("16UC1; compressedDepth rvl",
                                              config_header() + rvl_encode(millimetres))
    assert encoding == "16UC1"
    np.testing.assert_array_equal(image, millimetres)


def test_compressed_depth_rvl_32fc1_is_inverse_depth_too():
    quantised = RNG.integers(1, 30000, (9, 11)).astype(np.uint16)
    quantised[0, :4] = 0
    data = config_header(10100.0, -9.0) + rvl_encode(quantised)
    decoded, encoding = decode_compressed_depth("32FC1; compressedDepth rvl", data)
    assert encoding == "32FC1" and np.isnan(decoded[0, :4]).all()
    np.testing.assert_allclose(decoded[quantised > 0],
                               np.float32(10100.0) / (quantised[quantised > 0] + np.float32(9.0)),
                               rtol=1e-6)


def test_old_compressed_depth_format_without_method_is_png():
    millimetres = RNG.integers(1, 5000, (8, 8)).astype(np.uint16)
    image, _ = decode_compressed_depth("16UC1; compressedDepth",
                                       config_header() + png_gray16(millimetres))
    np.testing.assert_array_equal(image, millimetres)


def test_encoder_writes_what_an_independent_reader_of_the_format_reads():
    millimetres = RNG.integers(0, 6000, (30, 40)).astype(np.uint16)
    fmt, data = encode_compressed_depth_16uc1(millimetres)
    assert fmt == "16UC1; compressedDepth png"
    assert struct.unpack("<iff", data[:12]) == (0, 0.0, 0.0)
    assert data[12:20] == b"\x89PNG\r\n\x1a\n"
    ihdr = struct.unpack(">IIBB", data[12 + 16:12 + 26])
    assert ihdr == (40, 30, 16, 0)  # width, height, 16-bit, greyscale


@pytest.mark.parametrize("codec", ["jpeg", "png"])
def test_colour_decodes_like_rosbags_image(codec):
    rgb = cv2.GaussianBlur(RNG.integers(0, 256, (48, 64, 3), dtype=np.uint8), (5, 5), 0)
    fmt, data = encode_compressed_color(rgb, codec)
    message = STORE.types["sensor_msgs/msg/CompressedImage"](
        header=None, format=fmt, data=np.frombuffer(data, np.uint8))
    reference_bgr = compressed_image_to_cvimage(message, "bgr8")
    np.testing.assert_array_equal(decode_compressed_color(fmt, data), reference_bgr[..., ::-1])
    if codec == "png":
        np.testing.assert_array_equal(decode_compressed_color(fmt, data), rgb)


def test_grey_jpeg_becomes_three_equal_channels():
    grey = RNG.integers(0, 256, (16, 16), dtype=np.uint8)
    _, data = cv2.imencode(".jpg", grey)
    rgb = decode_compressed_color("mono8; jpeg compressed mono8", data.tobytes())
    assert rgb.shape == (16, 16, 3)
    assert (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all()


@pytest.mark.parametrize("encoding, make", [
    ("rgb8", lambda: RNG.integers(0, 256, (6, 8, 3), dtype=np.uint8)),
    ("bgr8", lambda: RNG.integers(0, 256, (6, 8, 3), dtype=np.uint8)),
    ("mono8", lambda: RNG.integers(0, 256, (6, 8), dtype=np.uint8)),
    ("16UC1", lambda: RNG.integers(0, 65535, (6, 8), dtype=np.uint16)),
    ("32FC1", lambda: RNG.uniform(0, 5, (6, 8)).astype(np.float32)),
])
def test_raw_encodings_decode_like_rosbags_image(encoding, make):
    fields = encode_image(make(), encoding)
    message = STORE.types["sensor_msgs/msg/Image"](
        header=None, height=fields.height, width=fields.width, encoding=encoding,
        is_bigendian=fields.is_bigendian, step=fields.step,
        data=np.frombuffer(fields.data, np.uint8))
    ours = decode_image(encoding, fields.height, fields.width, fields.step,
                        fields.is_bigendian, fields.data)
    np.testing.assert_array_equal(ours, image_to_cvimage(message))
    if encoding in ("rgb8", "bgr8"):
        np.testing.assert_array_equal(to_rgb8(ours, encoding),
                                      image_to_cvimage(message, "rgb8"))


@pytest.mark.parametrize("fmt, data, words", [
    ("16UC1; compressedDepth png", b"\x00" * 5, "12-byte header"),
    ("16UC1; compressedDepth png", config_header() + b"not a png", "cannot decode"),
    ("16UC1; compressedDepth zstd", config_header() + b"\x00" * 16, "is not png or rvl"),
    ("16UC1; compressedDepth rvl", config_header() + struct.pack("<II", 4000, 3000) + b"\0" * 8,
     "cannot come from"),
    ("16UC1; compressedDepth rvl", config_header() + struct.pack("<II", 4, 3), "cannot come from"),
    ("bgr8; jpeg compressed bgr8", b"\xff\xd8", "only png keeps depth"),
])
def test_bad_depth_is_one_clear_error(fmt, data, words):
    with pytest.raises(ImageDecodeError, match=words):
        decode_compressed_depth(fmt, data)


def test_a_depth_image_on_the_colour_input_is_refused_by_name():
    with pytest.raises(ImageDecodeError, match="is a depth image"):
        decode_compressed_color("16UC1; compressedDepth png", config_header() + b"x")
    with pytest.raises(ImageDecodeError, match="carries no data"):
        decode_compressed_color("jpeg", b"")
