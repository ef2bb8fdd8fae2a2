"""REP 118 decoding with cv_bridge's semantics, and a fuzz of the decoder."""

import contextlib
import sys

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sgnet_ros.pipeline.codec import (
    ImageDecodeError,
    decode_image,
    depth_m_to_16uc1,
    encode_image,
    to_depth_m,
    to_rgb8,
)

RNG = np.random.default_rng(7)
RGB = RNG.integers(0, 256, (5, 7, 3), dtype=np.uint8)


def fields(image, encoding, pad=0, bigendian=False):
    """Image fields with `pad` bytes of row padding, optionally big-endian."""
    data = image.astype(image.dtype.newbyteorder(">")) if bigendian else image
    rows = data.reshape(image.shape[0], -1).view(np.uint8)
    padded = np.zeros((rows.shape[0], rows.shape[1] + pad), np.uint8)
    padded[:, :rows.shape[1]] = rows
    return dict(encoding=encoding, height=image.shape[0], width=image.shape[1],
                step=padded.shape[1], is_bigendian=bigendian, data=padded.tobytes())


@pytest.mark.parametrize("encoding, source", [
    ("rgb8", RGB),
    ("bgr8", RGB[..., ::-1]),
    ("rgba8", np.dstack([RGB, np.full(RGB.shape[:2], 9, np.uint8)])),
    ("bgra8", np.dstack([RGB[..., ::-1], np.full(RGB.shape[:2], 9, np.uint8)])),
])
def test_colour_encodings_become_rgb8(encoding, source):
    decoded = decode_image(**fields(np.ascontiguousarray(source), encoding, pad=3))
    np.testing.assert_array_equal(to_rgb8(decoded, encoding), RGB)


def test_mono8_is_replicated_to_three_channels():
    grey = RGB[..., 0].copy()
    rgb = to_rgb8(decode_image(**fields(grey, "mono8")), "mono8")
    assert rgb.shape == (5, 7, 3)
    for channel in range(3):
        np.testing.assert_array_equal(rgb[..., channel], grey)


def test_yuyv_and_uyvy_convert_like_opencv():
    yuyv = RNG.integers(0, 256, (4, 6, 2), dtype=np.uint8)
    for encoding, code in (("yuv422_yuy2", cv2.COLOR_YUV2RGB_YUY2),
                           ("yuv422", cv2.COLOR_YUV2RGB_UYVY)):
        decoded = decode_image(**fields(yuyv, encoding))
        np.testing.assert_array_equal(to_rgb8(decoded, encoding), cv2.cvtColor(yuyv, code))


def test_16uc1_millimetres_and_32fc1_metres_with_invalid_values():
    millimetres = np.array([[0, 1000, 65535]], np.uint16)
    depth = to_depth_m(decode_image(**fields(millimetres, "16UC1", pad=2)), "16UC1")
    np.testing.assert_allclose(depth, [[0.0, 1.0, 65.535]], rtol=1e-6)
    metres = np.array([[np.nan, np.inf, -1.0, 0.0, 2.5]], np.float32)
    depth = to_depth_m(decode_image(**fields(metres, "32FC1")), "32FC1")
    np.testing.assert_array_equal(depth, [[0, 0, 0, 0, 2.5]])


def test_big_endian_data_is_swapped_to_native_order():
    millimetres = np.array([[1, 258, 4000]], np.uint16)
    decoded = decode_image(**fields(millimetres, "16UC1", bigendian=True))
    np.testing.assert_array_equal(decoded, millimetres)
    assert decoded.dtype.byteorder in ("=", "<" if sys.byteorder == "little" else ">", "|")


@pytest.mark.parametrize("change, message", [
    ({"data": b"\x00" * 10}, "truncated"),
    ({"height": 0}, "zero size"),
    ({"step": 5}, "step 5 is smaller"),
    ({"encoding": "bayer_rggb8"}, "unsupported image encoding 'bayer_rggb8'"),
])
def test_malformed_images_are_refused_by_name(change, message):
    bad = {**fields(RGB, "rgb8"), **change}
    with pytest.raises(ImageDecodeError, match=message):
        decode_image(**bad)


def test_odd_width_yuv422_is_refused():
    with pytest.raises(ImageDecodeError, match="width 3 is odd"):
        to_rgb8(np.zeros((2, 3, 2), np.uint8), "yuv422")


def test_wrong_stream_encodings_are_refused_by_name():
    with pytest.raises(ImageDecodeError, match="colour encoding '16UC1'"):
        to_rgb8(np.zeros((2, 2), np.uint16), "16UC1")
    with pytest.raises(ImageDecodeError, match="depth encoding 'rgb8'"):
        to_depth_m(RGB, "rgb8")


@pytest.mark.parametrize("encoding, image", [
    ("rgb8", RGB), ("mono16", RNG.integers(0, 65535, (3, 4), dtype=np.uint16)),
    ("32FC1", RNG.random((3, 4), dtype=np.float32)),
])
def test_encode_then_decode_is_the_identity(encoding, image):
    encoded = encode_image(image, encoding)
    decoded = decode_image(encoded.encoding, encoded.height, encoded.width, encoded.step,
                           encoded.is_bigendian, encoded.data)
    np.testing.assert_array_equal(decoded, image)


def test_metres_to_16uc1_marks_invalid_as_zero():
    np.testing.assert_array_equal(depth_m_to_16uc1(np.array([np.nan, 0.0, 1.2344, 99.0])),
                                  [0, 0, 1234, 65535])


def test_decoding_agrees_with_cv_bridge_where_it_is_installed():
    cv_bridge = pytest.importorskip("cv_bridge", reason="cv_bridge comes with a system ROS")
    from sensor_msgs.msg import Image

    bridge = cv_bridge.CvBridge()
    for encoding, image in (("bgr8", RGB), ("16UC1", np.arange(12, dtype=np.uint16).reshape(3, 4)),
                            ("32FC1", RNG.random((3, 4), dtype=np.float32))):
        f = fields(image, encoding, pad=4)
        msg = Image(height=f["height"], width=f["width"], encoding=encoding,
                    is_bigendian=0, step=f["step"], data=f["data"])
        np.testing.assert_array_equal(decode_image(**f), bridge.imgmsg_to_cv2(msg, "passthrough"))


ENCODINGS = ["rgb8", "bgr8", "rgba8", "bgra8", "mono8", "mono16", "16UC1", "32FC1", "yuv422",
             "yuv422_yuy2", "8UC3", "bayer_rggb8", "", "64FC1", "16UC9"]


@settings(max_examples=400, deadline=None)
@given(encoding=st.sampled_from(ENCODINGS), height=st.integers(-2, 12),
       width=st.integers(-2, 12), step=st.integers(-4, 120), bigendian=st.booleans(),
       data=st.binary(max_size=800))
def test_decoding_never_fails_with_anything_but_a_named_error(encoding, height, width, step,
                                                              bigendian, data):
    try:
        image = decode_image(encoding, height, width, step, bigendian, data)
    except ImageDecodeError:
        return
    assert image.shape[:2] == (height, width)
    for convert in (to_rgb8, to_depth_m):
        with contextlib.suppress(ImageDecodeError):
            convert(image, encoding)
