"""Output stage: label image alignment, overlay, confidence and clouds checked by round trip."""

import numpy as np
import pytest
import torch
from torch.nn.functional import interpolate

from sgnet_ros.pipeline.contract import default_palette
from sgnet_ros.pipeline.nyu40 import CLASS_NAMES, PALETTE, UNLABELED_COLOR
from sgnet_ros.pipeline.outputs.builder import OutputBuilder, OutputOptions
from sgnet_ros.pipeline.outputs.clouds import read_cloud
from sgnet_ros.pipeline.outputs.overlay import colorize_labels

HEIGHT, WIDTH = 48, 64
NUM_CLASSES = 6
NAMES = ("wall", "floor", "night stand", "chair", "lamp", "otherprop")
# Skewed, off-centre intrinsics so the back-projection has nothing to hide behind.
K = np.array([[50.0, 0.7, 30.2], [0.0, 55.0, 22.9], [0.0, 0.0, 1.0]])


def make_frame(seed=0, height=HEIGHT, width=WIDTH):
    rng = np.random.default_rng(seed)
    rgb = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    depth = rng.uniform(0.05, 12.0, (height, width)).astype(np.float32)
    depth[rng.random((height, width)) < 0.1] = 0.0
    depth[rng.random((height, width)) < 0.05] = np.nan
    return rgb, depth


def smooth_logits(seed=0, size=(24, 32), num_classes=NUM_CLASSES):
    """Region-like logits: a coarse random field upsampled to the network resolution."""
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.randn(1, num_classes, 4, 5, generator=generator) * 3
    return interpolate(coarse, size=size, mode="bilinear", align_corners=False).numpy()


def halves_logits(size, boundary_col, classes=(1, 4)):
    logits = np.zeros((1, NUM_CLASSES) + size, np.float32)
    logits[0, classes[0], :, :boundary_col] = 5.0
    logits[0, classes[1], :, boundary_col:] = 5.0
    return logits


def builder(**options):
    return OutputBuilder(NAMES, None, OutputOptions(**options))


def back_project(depth):
    """Independent reference: K^-1 [u, v, 1] * z for every pixel."""
    rows, cols = np.mgrid[0 : depth.shape[0], 0 : depth.shape[1]]
    pixels = np.stack([cols, rows, np.ones_like(rows)], axis=-1).astype(np.float64)
    return (pixels @ np.linalg.inv(K).T) * depth[..., None]


def decode_rgb(rgb_field):
    bits = np.ascontiguousarray(rgb_field).view(np.uint32)
    return np.stack([(bits >> 16) & 255, (bits >> 8) & 255, bits & 255], axis=-1)


def valid_mask(depth, low=0.1, high=10.0):
    with np.errstate(invalid="ignore"):
        return (depth > 0) & (depth >= low) & (depth <= high)


def test_organized_cloud_round_trip():
    rgb, depth = make_frame()
    out = builder().build(smooth_logits(), rgb, depth, K)
    cloud = read_cloud(out.points)
    assert cloud.shape == (HEIGHT, WIDTH)
    assert out.points.is_dense is False
    valid = valid_mask(depth)
    xyz = np.stack([cloud["x"], cloud["y"], cloud["z"]], axis=-1)
    assert np.isnan(xyz[~valid]).all()
    np.testing.assert_allclose(xyz[valid], back_project(depth)[valid], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(decode_rgb(cloud["rgb"]), rgb)
    assert cloud["label"].dtype == np.uint32
    np.testing.assert_array_equal(cloud["label"], out.labels)


def test_class_clouds_round_trip():
    rgb, depth = make_frame(1)
    out = builder().build(smooth_logits(1), rgb, depth, K, cloud_classes=range(NUM_CLASSES))
    valid = valid_mask(depth)
    reference_xyz = back_project(depth)
    histogram = np.bincount(out.labels[valid], minlength=NUM_CLASSES)
    assert sorted(out.class_clouds) == list(range(NUM_CLASSES))
    for class_id, buffer in out.class_clouds.items():
        assert buffer.height == 1 and buffer.is_dense
        cloud = read_cloud(buffer)[0]
        assert cloud.size == histogram[class_id]
        pixels = valid & (out.labels == class_id)
        expected = np.concatenate([reference_xyz[pixels], rgb[pixels].astype(np.float64)], axis=1)
        decoded = np.concatenate(
            [np.stack([cloud["x"], cloud["y"], cloud["z"]], axis=1), decode_rgb(cloud["rgb"])],
            axis=1,
        )
        order = np.lexsort(expected.T[::-1])
        got_order = np.lexsort(decoded.T[::-1])
        np.testing.assert_allclose(decoded[got_order], expected[order], rtol=1e-5, atol=1e-6)


def test_class_clouds_without_organized_cloud_are_identical():
    rgb, depth = make_frame(2)
    logits = smooth_logits(2)
    with_points = builder().build(logits, rgb, depth, K, cloud_classes=[0, 3, 5])
    without = builder().build(logits, rgb, depth, K, cloud_classes=[0, 3, 5], organized_cloud=False)
    assert without.points is None
    for class_id in (0, 3, 5):
        np.testing.assert_array_equal(
            np.asarray(without.class_clouds[class_id].data),
            np.asarray(with_points.class_clouds[class_id].data),
        )


def test_stride_and_depth_range():
    rgb, depth = make_frame(3)
    out = builder(cloud_stride=3, min_depth=1.0, max_depth=4.0).build(
        smooth_logits(3), rgb, depth, K, cloud_classes=range(NUM_CLASSES)
    )
    assert out.labels.shape == (HEIGHT, WIDTH)  # the label image is never strided
    cloud = read_cloud(out.points)
    assert cloud.shape == (HEIGHT // 3, -(-WIDTH // 3))
    sub_depth = depth[::3, ::3]
    valid = valid_mask(sub_depth, 1.0, 4.0)
    assert (cloud["z"][valid] >= 1.0).all() and (cloud["z"][valid] <= 4.0).all()
    assert np.isnan(cloud["z"][~valid]).all()
    np.testing.assert_allclose(
        cloud["x"][valid], back_project(depth)[::3, ::3, 0][valid], rtol=1e-5, atol=1e-6
    )
    np.testing.assert_array_equal(decode_rgb(cloud["rgb"]), rgb[::3, ::3])
    counts = {class_id: buffer.width for class_id, buffer in out.class_clouds.items()}
    expected = np.bincount(out.labels[::3, ::3][valid], minlength=NUM_CLASSES)
    assert counts == dict(enumerate(expected.tolist()))


@pytest.mark.parametrize("resize", ["bilinear_logits", "nearest_labels"])
@pytest.mark.parametrize(
    ("network_size", "boundary_col", "camera_boundary"),
    [
        ((24, 32), 16, 32),  # half the camera's size, boundary in the middle
        ((30, 20), 10, 32),  # another aspect ratio
        ((12, 40), 15, 24),  # boundary 3/8 of the way across
    ],
)
def test_label_boundary_lands_on_the_same_camera_column(
    resize, network_size, boundary_col, camera_boundary
):
    rgb, depth = make_frame()
    out = builder(resize=resize).build(halves_logits(network_size, boundary_col), rgb, depth, K)
    assert out.labels.shape == (HEIGHT, WIDTH) and out.labels.dtype == np.uint8
    assert (out.labels[:, :camera_boundary] == 1).all()
    assert (out.labels[:, camera_boundary:] == 4).all()


@pytest.mark.parametrize(
    ("network_size", "boundary_col", "camera_boundary"),
    [
        ((24, 32), 16, 32),
        ((30, 20), 10, 32),
    ],
)
def test_label_input_is_aligned_like_logits(network_size, boundary_col, camera_boundary):
    labels = np.full((1,) + network_size, 2, np.int64)
    labels[..., boundary_col:] = 5
    rgb, depth = make_frame()
    out = builder().build(torch.from_numpy(labels), rgb, depth, K)
    assert (out.labels[:, :camera_boundary] == 2).all()
    assert (out.labels[:, camera_boundary:] == 5).all()


def nearly_tied(logits_at_camera, tolerance=1e-4):
    ranked = np.sort(logits_at_camera, axis=0)
    return (ranked[-1] - ranked[-2]) < tolerance


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bilinear_equals_upsampling_all_logits_then_argmax(seed):
    logits = smooth_logits(seed, size=(20, 30))
    # Add per-pixel noise so many cells are mixed, which exercises the blending path.
    logits += np.random.default_rng(seed).normal(0, 0.5, logits.shape).astype(np.float32)
    rgb, depth = make_frame(seed)
    out = builder().build(logits, rgb, depth, K)
    upsampled = interpolate(
        torch.from_numpy(logits), size=(HEIGHT, WIDTH), mode="bilinear", align_corners=False
    )[0].numpy()
    reference = upsampled.argmax(0)
    differ = out.labels != reference
    assert (~differ | nearly_tied(upsampled)).all()
    assert differ.mean() < 0.001


@pytest.mark.parametrize("network_size", [(20, 30), (60, 80), (37, 91)])
def test_both_modes_equal_torch_on_random_logits(network_size):
    """Every cell mixed, up- and downsampling, odd ratios: the same labels as torch."""
    logits = np.random.default_rng(7).normal(size=(1, NUM_CLASSES) + network_size)
    logits = logits.astype(np.float32)
    rgb, depth = make_frame()
    for resize, torch_mode in (
        ("bilinear_logits", "bilinear"),
        ("nearest_labels", "nearest-exact"),
    ):
        out = builder(resize=resize).build(logits, rgb, depth, K)
        extra = {"align_corners": False} if torch_mode == "bilinear" else {}
        upsampled = interpolate(
            torch.from_numpy(logits), size=(HEIGHT, WIDTH), mode=torch_mode, **extra
        )[0].numpy()
        differ = out.labels != upsampled.argmax(0)
        assert (~differ | nearly_tied(upsampled)).all()


def test_torch_path_matches_numpy_path():
    """The path CUDA tensors take, run on CPU tensors, gives the same outputs."""
    logits = smooth_logits(4, size=(20, 30))
    build = builder(with_confidence=True)
    resizer = build._resizer
    for mode in ("bilinear_logits", "nearest_labels"):
        labels, confidence = resizer.resize(logits, (HEIGHT, WIDTH), mode, True)
        torch_labels, torch_confidence = resizer.to_host(*resizer.resize_torch(
            torch.from_numpy(logits), (HEIGHT, WIDTH), mode, True
        ))
        assert torch_labels.dtype == labels.dtype
        assert (torch_labels != labels).mean() < 0.001
        np.testing.assert_allclose(torch_confidence, confidence, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("options", [
    {}, {"cloud_stride": 2}, {"voxel_size": 0.5}, {"min_depth": 1.0, "max_depth": 5.0},
])
@pytest.mark.parametrize("organized", [True, False])
def test_clouds_gathered_on_the_device_are_the_numpy_bytes(options, organized):
    """The path CUDA frames take, run on CPU tensors: the same label image and the same
    cloud bytes, class by class (labels as network output, so both resize alike)."""
    rgb, depth = make_frame(3)
    labels = torch.from_numpy(np.random.default_rng(3).integers(0, NUM_CLASSES, (1, 24, 32)))
    wanted = [0, 2, 5]
    on_host = builder(**options).build(labels.numpy(), rgb, depth, K, wanted, organized)
    on_device = builder(**options).build(
        labels, rgb, depth, K, wanted, organized,
        frame_on_device=(torch.from_numpy(rgb), torch.from_numpy(depth)))
    np.testing.assert_array_equal(on_device.labels, on_host.labels)
    np.testing.assert_array_equal(on_device.overlay, on_host.overlay)
    assert (on_device.points is None) == (on_host.points is None) == (not organized)
    if organized:
        assert bytes(on_device.points.data) == bytes(on_host.points.data)
    assert on_device.class_clouds.keys() == on_host.class_clouds.keys() == set(wanted)
    for class_id, cloud in on_host.class_clouds.items():
        assert on_device.class_clouds[class_id].width == cloud.width > 0
        assert bytes(on_device.class_clouds[class_id].data) == bytes(cloud.data)


def test_confidence_is_softmax_maximum():
    logits = np.zeros((1, NUM_CLASSES, 24, 32), np.float32)
    logits[0, 2] = 2.0  # uniform winner: softmax max = e^2 / (e^2 + 5)
    rgb, depth = make_frame()
    out = builder(with_confidence=True).build(logits, rgb, depth, K)
    assert out.confidence.shape == (HEIGHT, WIDTH) and out.confidence.dtype == np.float32
    np.testing.assert_allclose(out.confidence, np.exp(2) / (np.exp(2) + 5), rtol=1e-5)
    assert builder().build(logits, rgb, depth, K).confidence is None


def test_overlay_and_confidence_are_skipped_for_a_frame_nobody_listens_to():
    logits = smooth_logits()
    rgb, depth = make_frame()
    build = builder(with_confidence=True)
    full = build.build(logits, rgb, depth, K)
    light = build.build(logits, rgb, depth, K, overlay=False, confidence=False)
    assert light.overlay is None and light.confidence is None
    assert full.overlay is not None and full.confidence is not None
    np.testing.assert_array_equal(light.labels, full.labels)


def test_overlay_alpha():
    rgb, depth = make_frame()
    logits = smooth_logits()
    palette = np.array(default_palette(NUM_CLASSES), np.uint8)
    pure = builder(overlay_alpha=0.0).build(logits, rgb, depth, K)
    np.testing.assert_array_equal(pure.overlay, palette[pure.labels])
    camera = builder(overlay_alpha=1.0).build(logits, rgb, depth, K)
    np.testing.assert_array_equal(camera.overlay, rgb)
    half = builder(overlay_alpha=0.5).build(logits, rgb, depth, K)
    mean = (rgb.astype(float) + palette[half.labels]) / 2
    assert np.abs(half.overlay - mean).max() <= 1.0


def test_colorize_maps_ids_and_greys_out_unknown_ones():
    palette = ((10, 20, 30), (40, 50, 60))
    colours = colorize_labels(np.array([[0, 1], [255, -1]]), palette)
    assert colours.dtype == np.uint8 and colours.shape == (2, 2, 3)
    assert colours[0].tolist() == [[10, 20, 30], [40, 50, 60]]
    assert colours[1].tolist() == [list(UNLABELED_COLOR)] * 2
    out = builder().build(smooth_logits(), *make_frame(), K)
    expected = np.array(default_palette(NUM_CLASSES), np.uint8)[out.labels]
    np.testing.assert_array_equal(builder().colorize(out.labels), expected)


def test_palette_override_wins():
    rgb, depth = make_frame()
    custom = tuple((10 * i, 20, 30) for i in range(NUM_CLASSES))
    build = OutputBuilder(NAMES, PALETTE, OutputOptions(overlay_alpha=0.0, palette=custom))
    out = build.build(smooth_logits(), rgb, depth, K)
    np.testing.assert_array_equal(out.overlay, np.array(custom, np.uint8)[out.labels])
    assert build.palette == custom
    assert builder().palette == default_palette(NUM_CLASSES)


def test_more_than_254_classes_give_mono16():
    names = tuple(f"class {i}" for i in range(300))
    labels = np.full((1, 12, 16), 299, np.int32)
    labels[0, :, 8:] = 1000  # not a class: unlabeled
    rgb, depth = make_frame()
    build = OutputBuilder(names, None, OutputOptions())
    out = build.build(labels, rgb, depth, K, cloud_classes=[299])
    assert out.labels.dtype == np.uint16
    assert (out.labels[:, :32] == 299).all() and (out.labels[:, 32:] == 65535).all()
    assert read_cloud(out.points)["label"].max() == 65535
    assert out.class_clouds[299].width == valid_mask(depth)[:, :32].sum()
    assert len(set(build.class_topics.values())) == 300
    logits = np.zeros((1, 300, 12, 16), np.float32)
    logits[0, 270, :, 8:] = 1.0
    assert (build.build(logits, rgb, depth, K).labels[:, 32:] == 270).all()


def test_nan_logits_and_out_of_range_labels_are_unlabeled():
    rgb, depth = make_frame()
    logits = halves_logits((24, 32), 16)
    logits[:, :, :, 24:] = np.nan
    out = builder().build(logits, rgb, depth, K, cloud_classes=range(NUM_CLASSES))
    # Network columns >= 24 are NaN; camera column 47 already blends column 24 in.
    assert (out.labels[:, 47:] == 255).all()
    assert (out.labels[:, :32] == 1).all() and (out.labels[:, 32:47] == 4).all()
    assert (
        sum(cloud.width for cloud in out.class_clouds.values())
        == (valid_mask(depth) & (out.labels != 255)).sum()
    )
    labels = np.array([[[-1, 0, 6, 5]]])
    assert set(np.unique(builder().build(labels, rgb, depth, K).labels)) == {0, 5, 255}


def test_idle_class_topics_cost_nothing_and_empty_classes_still_publish():
    rgb, depth = make_frame()
    build = builder()
    logits = halves_logits((24, 32), 16)  # only classes 1 and 4 present
    out = build.build(logits, rgb, depth, K)
    assert out.class_clouds == {} and build.stats.clouds_built == 0
    out = build.build(logits, rgb, depth, K, cloud_classes=[4, 2], organized_cloud=False)
    assert build.stats.clouds_built == 2
    assert out.points is None
    assert out.class_clouds[2].width == 0 and out.class_clouds[2].height == 1
    assert len(out.class_clouds[2].data) == 0
    assert out.class_clouds[4].width > 0


def test_outputs_kept_by_the_caller_are_never_overwritten():
    build = builder()
    rgb, depth = make_frame(6)
    first = build.build(smooth_logits(6), rgb, depth, K, cloud_classes=[1])
    kept_points = first.points  # the caller keeps only some of the outputs
    kept_class = first.class_clouds[1]
    del first
    points_before = np.array(kept_points.data, copy=True)
    class_before = np.array(kept_class.data, copy=True)
    other_rgb, other_depth = make_frame(7)
    second = build.build(smooth_logits(7), other_rgb, other_depth, K, cloud_classes=[1])
    np.testing.assert_array_equal(kept_points.data, points_before)
    np.testing.assert_array_equal(kept_class.data, class_before)
    assert not np.shares_memory(second.points.data, kept_points.data)


def test_dropped_cloud_buffers_are_recycled():
    build = builder()
    rgb, depth = make_frame()
    out = build.build(smooth_logits(), rgb, depth, K, cloud_classes=[1])
    addresses = (out.points.data.ctypes.data, out.class_clouds[1].data.ctypes.data)
    del out
    again = build.build(smooth_logits(), rgb, depth, K, cloud_classes=[1])
    assert (again.points.data.ctypes.data, again.class_clouds[1].data.ctypes.data) == addresses


def test_class_topics_are_sanitised_and_unique():
    build = OutputBuilder(CLASS_NAMES, PALETTE, OutputOptions())
    assert build.class_topics[31] == "night_stand"
    assert build.class_topics[27] == "shower_curtain"
    assert len(set(build.class_topics.values())) == len(CLASS_NAMES)


def test_voxel_downsampling_keeps_one_centroid_per_class_voxel():
    rgb, depth = make_frame(5)
    depth[:] = np.where(np.isnan(depth), np.nan, 2.0)  # a fronto-parallel plane at 2 m
    voxel = 0.25
    out = builder(voxel_size=voxel).build(
        smooth_logits(5), rgb, depth, K, cloud_classes=range(NUM_CLASSES)
    )
    valid = valid_mask(depth)
    xyz = back_project(depth)
    for class_id, buffer in out.class_clouds.items():
        pixels = valid & (out.labels == class_id)
        cells = np.floor(xyz[pixels] / voxel).astype(int)
        occupied, members = np.unique(cells, axis=0, return_inverse=True)
        cloud = read_cloud(buffer)[0]
        assert cloud.size == len(occupied)
        centroids = np.stack(
            [
                np.bincount(members.ravel(), weights=xyz[pixels][:, axis])
                / np.bincount(members.ravel())
                for axis in range(3)
            ],
            axis=1,
        )
        decoded = np.stack([cloud["x"], cloud["y"], cloud["z"]], axis=1)
        np.testing.assert_allclose(
            decoded[np.lexsort(decoded.T[::-1])],
            centroids[np.lexsort(centroids.T[::-1])],
            atol=1e-5,
        )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"rgb": np.zeros((HEIGHT, WIDTH, 3), np.float32)}, "uint8"),
        ({"depth": np.zeros((HEIGHT, WIDTH), np.uint16)}, "millimetres"),
        ({"depth": np.zeros((HEIGHT, WIDTH + 1), np.float32)}, "differ"),
        ({"K": np.eye(3) * -1}, "K"),
        ({"network_output": np.zeros((1, 3, 8, 8), np.float32)}, "logits"),
        ({"cloud_classes": [NUM_CLASSES]}, "cloud_classes"),
    ],
)
def test_bad_inputs_raise_clear_errors(change, message):
    rgb, depth = make_frame()
    arguments = {
        "network_output": smooth_logits(),
        "rgb": rgb,
        "depth": depth,
        "K": K,
        "cloud_classes": [0],
    }
    arguments.update(change)
    with pytest.raises(ValueError, match=message):
        builder().build(
            arguments["network_output"],
            arguments["rgb"],
            arguments["depth"],
            arguments["K"],
            arguments["cloud_classes"],
        )


@pytest.mark.parametrize(
    "options",
    [
        {"resize": "cubic"},
        {"overlay_alpha": 1.5},
        {"min_depth": 5.0, "max_depth": 1.0},
        {"cloud_stride": 0},
        {"voxel_size": -1.0},
    ],
)
def test_bad_options_raise(options):
    with pytest.raises(ValueError):
        OutputOptions(**options)


def test_benchmark_quick_run_agrees_with_its_reference(capsys):
    from sgnet_ros.benchmarks import outputs_benchmark

    threads = torch.get_num_threads()
    try:
        outputs_benchmark.main(["--quick", "--repeats", "1"])
    finally:
        torch.set_num_threads(threads)  # the command sets it for the reference
    printed = capsys.readouterr().out
    assert "class cloud sizes equal: True" in printed
    assert "labels agree with the reference on 100.0000% of pixels" in printed
    assert "bilinear_logits" in printed and "nearest_labels" in printed
