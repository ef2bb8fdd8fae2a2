"""Cloud buffers: topic tokens, PCL rgb packing and the independent reader."""

import re
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sgnet_ros.pipeline.outputs.clouds import (
    FLOAT32,
    UINT8,
    UINT16,
    XYZRGB_FIELDS,
    CloudBuffer,
    PointFieldSpec,
    cloud_from_words,
    pack_rgb,
    read_cloud,
    sanitize_topic_token,
    unique_topic_tokens,
    unpack_rgb,
)

ROS_TOKEN = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


@pytest.mark.parametrize(
    ("name", "token"),
    [
        ("night stand", "night_stand"),
        ("Shower  Curtain", "shower_curtain"),
        ("floor-mat", "floor_mat"),
        ("étagère", "etagere"),
        ("__lamp__", "lamp"),
        ("3d printer", "class_3d_printer"),
        ("???", "class"),
        ("", "class"),
    ],
)
def test_sanitize_topic_token_examples(name, token):
    assert sanitize_topic_token(name) == token


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=30))
def test_sanitized_tokens_are_valid_ros_tokens(name):
    token = sanitize_topic_token(name)
    assert ROS_TOKEN.match(token), token
    assert "__" not in token
    assert not token.endswith("_")


def test_unique_topic_tokens_disambiguates_duplicates():
    tokens = unique_topic_tokens(("chair", "Chair", "chair_1", "chair"))
    assert tokens[0] == "chair"
    assert len(set(tokens.values())) == 4
    assert all(ROS_TOKEN.match(token) for token in tokens.values())


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(*[st.integers(0, 255)] * 3), min_size=1, max_size=20))
def test_pack_rgb_matches_pcl_bit_layout(colours):
    rgb = np.array(colours, np.uint8)
    packed = pack_rgb(rgb)
    assert packed.dtype == np.float32
    assert not np.isnan(packed).any()
    expected = [(r << 16) | (g << 8) | b for r, g, b in colours]
    assert packed.view("<u4").tolist() == expected
    np.testing.assert_array_equal(unpack_rgb(packed), rgb)


def test_pack_rgb_rejects_non_uint8():
    with pytest.raises(ValueError, match="uint8"):
        pack_rgb(np.zeros((2, 3), np.float32))


def test_read_cloud_honours_offsets_counts_padding_and_byte_order():
    fields = (
        PointFieldSpec("a", 0, UINT16),
        PointFieldSpec("pair", 4, FLOAT32, 2),
        PointFieldSpec("flag", 12, UINT8),
    )
    point_step, width, height = 16, 2, 2
    row_step = point_step * width + 8  # rows padded by 8 bytes
    rows = []
    for row in range(height):
        record = b""
        for col in range(width):
            record += struct.pack(">H2xffB3x", 10 * row + col, row + 0.5, col - 0.5, 7)
        rows.append(record + b"\xff" * 8)

    class BigEndianCloud:
        is_bigendian = True

    cloud = BigEndianCloud()
    cloud.fields, cloud.point_step, cloud.row_step = fields, point_step, row_step
    cloud.width, cloud.height, cloud.data = width, height, b"".join(rows)
    decoded = read_cloud(cloud)
    assert decoded.shape == (2, 2)
    assert decoded["a"].tolist() == [[0, 1], [10, 11]]
    assert decoded["pair"][1, 0].tolist() == [1.5, -0.5]
    assert (decoded["flag"] == 7).all()


def test_cloud_from_words_wraps_one_contiguous_buffer():
    words = np.arange(2 * 3 * 4, dtype="<f4").reshape(2, 3, 4)
    cloud = cloud_from_words(words, XYZRGB_FIELDS, is_dense=True)
    assert (cloud.height, cloud.width, cloud.point_step, cloud.row_step) == (2, 3, 16, 48)
    assert cloud.data.dtype == np.uint8 and cloud.data.flags.c_contiguous
    assert cloud.data.size == words.nbytes
    decoded = read_cloud(cloud)
    np.testing.assert_array_equal(decoded["z"], words[..., 2])


def test_cloud_from_words_rejects_non_contiguous_words():
    words = np.zeros((4, 8), "<f4")[:, ::2]
    with pytest.raises(ValueError, match="contiguous"):
        cloud_from_words(words, XYZRGB_FIELDS, is_dense=True)


def test_empty_cloud_decodes_to_no_points():
    cloud = cloud_from_words(np.zeros((0, 4), "<f4"), XYZRGB_FIELDS, is_dense=True)
    assert (cloud.height, cloud.width) == (1, 0)
    assert read_cloud(cloud).size == 0


def test_read_cloud_rejects_short_data_and_unknown_types():
    short = CloudBuffer(XYZRGB_FIELDS, 16, 32, 2, 1, True, np.zeros(20, np.uint8))
    with pytest.raises(ValueError, match="bytes"):
        read_cloud(short)
    odd = CloudBuffer((PointFieldSpec("x", 0, 42),), 4, 4, 1, 1, True, np.zeros(4, np.uint8))
    with pytest.raises(ValueError, match="datatype"):
        read_cloud(odd)
