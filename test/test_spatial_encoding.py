"""SpatialEncoder: XYZ, depth and HHA modes, HHA options and edge cases on synthetic rooms."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sgnet_ros.pipeline.spatial.encoding import SpatialEncoder, depth_to_metres
from sgnet_ros.pipeline.spatial.hha import HHAOptions, compute_hha

HEIGHT, WIDTH = 120, 160
K = np.array([[140.0, 0.0, 79.5], [0.0, 140.0, 59.5], [0.0, 0.0, 1.0]])
FLOOR, WALL = 1, 2


def rotation(axis: str, degrees: float) -> np.ndarray:
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    if axis == "x":
        return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])  # about z, the optical axis


def render_room(
    camera_height: float,
    pitch_deg: float = 10.0,
    roll_deg: float = 0.0,
    shape: tuple[int, int] = (HEIGHT, WIDTH),
    camera: np.ndarray = K,
) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
    """Depth (metres) of a 6 x 2.6 m room seen from camera_height, pitched down and rolled.

    Returns depth, a FLOOR/WALL label per pixel and gravity in the optical frame. World
    frame: x right, y up, z forward; optical frame: x right, y down, z forward.
    """
    height, width = shape
    rows, columns = np.mgrid[0:height, 0:width].astype(np.float64)
    rays = np.stack(
        (
            (columns - camera[0, 2]) / camera[0, 0],
            (rows - camera[1, 2]) / camera[1, 1],
            np.ones_like(rows),
        ),
        axis=-1,
    )
    optical_to_world = (
        rotation("x", pitch_deg) @ np.diag([1.0, -1.0, 1.0]) @ rotation("z", roll_deg)
    )
    directions = rays @ optical_to_world.T
    dx, dy, dz = directions[..., 0], directions[..., 1], directions[..., 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        candidates = {
            FLOOR: np.where(dy < 0, -camera_height / dy, np.inf),
            WALL: np.minimum.reduce(
                [
                    np.where(dz > 0, 4.0 / dz, np.inf),  # back wall
                    np.where(dx > 0, 3.0 / dx, np.inf),
                    np.where(dx < 0, -3.0 / dx, np.inf),
                    np.where(dy > 0, (2.6 - camera_height) / dy, np.inf),  # ceiling
                ]
            ),
        }
    depth = np.minimum(candidates[FLOOR], candidates[WALL])
    labels = np.where(candidates[FLOOR] <= candidates[WALL], FLOOR, WALL)
    gravity = optical_to_world.T @ np.array([0.0, -1.0, 0.0])
    return torch.from_numpy(depth), labels, gravity


def floor_interior(labels: np.ndarray) -> torch.Tensor:
    """Floor pixels away from the floor's edges (where normal windows straddle walls)."""
    floor = torch.from_numpy(labels == FLOOR).double()[None, None]
    eroded = -torch.nn.functional.max_pool2d(-floor, 21, stride=1, padding=10)
    return eroded[0, 0] > 0.5


# --- XYZ and depth ---------------------------------------------------------------------------


def test_xyz_back_projects_pixels_in_metres():
    depth = torch.full((HEIGHT, WIDTH), 2.0)
    depth[5, 7] = 0.0
    xyz = SpatialEncoder("xyz").encode(depth, K)
    assert xyz.shape == (3, HEIGHT, WIDTH) and xyz.dtype == torch.float32
    row, column = 100, 20
    expected = [(column - 79.5) / 140.0 * 2.0, (row - 59.5) / 140.0 * 2.0, 2.0]
    assert xyz[:, row, column].tolist() == pytest.approx(expected, rel=1e-6)
    assert xyz[:, 5, 7].tolist() == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf"), float("-inf")])
def test_invalid_depth_is_zero_in_depth_and_xyz(bad):
    depth = torch.full((4, 6), 1.5)
    depth[1, 2] = bad
    encoded = SpatialEncoder("depth").encode(depth, K)
    assert encoded.shape == (1, 4, 6)
    assert encoded[0, 1, 2] == 0.0 and encoded[0, 0, 0] == pytest.approx(1.5)
    xyz = SpatialEncoder("xyz").encode(depth, K)
    assert torch.isfinite(xyz).all() and (xyz[:, 1, 2] == 0).all()


def test_numpy_depth_and_flat_camera_matrix_are_accepted():
    depth = np.full((4, 6), 1.5, dtype=np.float32)
    xyz = SpatialEncoder("xyz").encode(depth, K.reshape(-1).tolist())
    assert torch.equal(xyz, SpatialEncoder("xyz").encode(torch.from_numpy(depth), K))


# --- HHA through the encoder -----------------------------------------------------------------


def test_encoder_hha_is_compute_hha_as_float():
    depth, _, _ = render_room(1.4)
    encoded = SpatialEncoder("hha").encode(depth.float(), K)
    assert encoded.dtype == torch.float32 and encoded.shape == (3, HEIGHT, WIDTH)
    expected = compute_hha(depth.float(), None, K)
    assert torch.equal(encoded, expected.float())
    # The workspace kept between frames changes nothing.
    encoder = SpatialEncoder("hha")
    first = encoder.encode(depth.float(), K)
    assert torch.equal(encoder.encode(depth.float(), K), first)


@pytest.mark.parametrize("roll_deg, pitch_deg", [(30.0, 10.0), (0.0, 30.0), (-30.0, 25.0)])
def test_tilted_camera_still_sees_the_floor_as_floor(roll_deg, pitch_deg):
    depth, labels, gravity = render_room(1.5, pitch_deg=pitch_deg, roll_deg=roll_deg)
    encoder = SpatialEncoder("hha")
    hha = encoder.encode(depth, K)
    assert float(encoder.gravity.cpu() @ torch.from_numpy(gravity)) > math.cos(math.radians(0.5))
    floor = floor_interior(labels)
    assert floor.sum() > 500
    assert (hha[2][floor] - 38).abs().max() <= 2  # angle ~0 deg -> 38
    # Height ~0 cm (the floor is the lowest point); the estimate's few tenths of a degree
    # tilt the far floor by a few cm.
    assert hha[1][floor].max() <= 4


def test_untilted_reference_would_fail_on_a_tilted_scene():
    """Guards the test above: with gravity fixed to the optical y axis the floor is wrong."""
    depth, labels, _ = render_room(1.5, pitch_deg=10.0, roll_deg=30.0)
    hha = compute_hha(depth, None, K, options=HHAOptions(gravity_source="fixed"))
    assert (hha[2][floor_interior(labels)].int() - 38).abs().min() >= 20


def test_camera_below_0_9_m_assumes_1_3_m():
    depth, labels, _ = render_room(0.5, pitch_deg=20.0)
    hha = compute_hha(depth, None, K)
    floor = floor_interior(labels)
    # Floor 50 cm below the camera, camera taken as 130 cm up: floor at 80 cm.
    assert (hha[1][floor].int() - 80).abs().max() <= 1
    high = compute_hha(render_room(1.2, pitch_deg=20.0)[0], None, K)
    assert hha[1][floor].float().mean() > high[1][floor].float().mean() + 60


def test_known_camera_height():
    depth, labels, _ = render_room(0.5, pitch_deg=20.0)
    options = HHAOptions(height_mode="camera_height", camera_height_m=0.5)
    hha = compute_hha(depth, None, K, options=options)
    assert hha[1][floor_interior(labels)].max() <= 1


def test_floor_percentile_ignores_stray_points_below_the_floor():
    depth, labels, _ = render_room(1.5, pitch_deg=20.0)
    stray = depth.clone()
    stray[-3:, :] *= 1.5  # a few rows of points far below the floor (reflections)
    plain = compute_hha(stray, None, K)
    robust = compute_hha(stray, None, K, options=HHAOptions(floor_percentile=5.0))
    floor = floor_interior(labels)
    assert plain[1][floor].float().mean() > 20
    assert robust[1][floor].float().mean() < 3


def test_fixed_gravity_from_tf_is_used_as_given():
    depth, labels, gravity = render_room(1.5, pitch_deg=10.0, roll_deg=30.0)
    encoder = SpatialEncoder("hha", hha=HHAOptions(gravity_source="fixed"))
    hha = encoder.encode(depth, K, gravity=gravity * 9.81)
    assert torch.allclose(encoder.gravity.cpu(), torch.from_numpy(gravity))
    assert (hha[2][floor_interior(labels)] - 38).abs().max() <= 1


def test_gravity_smoothing_blends_frames_until_reset():
    level, _, _ = render_room(1.5, pitch_deg=10.0)
    rolled, _, _ = render_room(1.5, pitch_deg=10.0, roll_deg=20.0)
    encoder = SpatialEncoder("hha", hha=HHAOptions(gravity_smoothing=0.5))
    encoder.encode(level, K)
    level_gravity = encoder.gravity.clone()
    encoder.encode(rolled, K)
    blended = encoder.gravity.clone()
    encoder.reset()
    assert encoder.gravity is None
    encoder.encode(rolled, K)
    rolled_gravity = encoder.gravity.clone()
    angle = lambda a, b: math.degrees(math.acos(min(1.0, float(a @ b))))  # noqa: E731
    total = angle(level_gravity, rolled_gravity)
    assert total > 15
    assert angle(blended, level_gravity) == pytest.approx(total / 2, abs=1.0)


# --- edge cases --------------------------------------------------------------------------------


def test_all_zero_depth():
    depth = torch.zeros(HEIGHT, WIDTH)
    hha = SpatialEncoder("hha").encode(depth, K)
    # Reference behaviour: depth 0 -> nearest disparity, height of the assumed 1.3 m camera,
    # no normal -> angle 180 deg.
    assert (hha[0] == 255).all() and (hha[1] == 130).all() and (hha[2] == 218).all()
    zeroed = SpatialEncoder("hha", hha=HHAOptions(hole_policy="zero")).encode(depth, K)
    assert (zeroed == 0).all()
    filled = SpatialEncoder("hha", hha=HHAOptions(hole_policy="fill")).encode(depth, K)
    assert torch.equal(filled, hha)


def test_single_valid_pixel():
    depth = torch.zeros(HEIGHT, WIDTH)
    depth[60, 80] = 2.0
    hha = SpatialEncoder("hha").encode(depth, K)
    assert hha[0, 60, 80] == round(310 / 2.0)
    assert (hha[2] == 218).all()  # one point defines no plane


def test_nan_and_inf_depth_count_as_missing():
    depth, _, _ = render_room(1.5)
    holes = torch.zeros_like(depth, dtype=torch.bool)
    holes[30:40, 50:70] = True
    as_zero = compute_hha(depth.masked_fill(holes, 0.0), None, K)
    for bad in (float("nan"), float("inf"), float("-inf"), -1.0):
        assert torch.equal(compute_hha(depth.masked_fill(holes, bad), None, K), as_zero)


def test_millimetre_and_metre_images_agree():
    depth, _, _ = render_room(1.5)
    millimetres = torch.round(depth * 1000).to(torch.int32).numpy().astype(np.uint16)
    from_16uc1 = SpatialEncoder("hha").encode(depth_to_metres(millimetres, 0.001), K)
    metres_32fc1 = (millimetres / 1000.0).astype(np.float32)
    from_32fc1 = SpatialEncoder("hha").encode(depth_to_metres(metres_32fc1), K)
    difference = (from_16uc1 - from_32fc1).abs()
    assert difference.max() <= 1
    assert (difference == 0).double().mean() > 0.995


def test_integer_depth_needs_a_scale():
    with pytest.raises(ValueError, match="depth_scale"):
        depth_to_metres(np.zeros((4, 4), dtype=np.uint16))
    with pytest.raises(ValueError, match="floating-point metres"):
        SpatialEncoder("hha").encode(torch.zeros(4, 4, dtype=torch.int32), K)


def test_odd_image_size():
    shape = (333, 517)
    camera = np.array([[300.0, 0.0, 258.0], [0.0, 300.0, 166.0], [0.0, 0.0, 1.0]])
    depth, labels, _ = render_room(1.5, pitch_deg=25.0, shape=shape, camera=camera)
    for mode, channels in (("hha", 3), ("xyz", 3), ("depth", 1)):
        assert SpatialEncoder(mode).encode(depth, camera).shape == (channels, *shape)
    hha = SpatialEncoder("hha").encode(depth, camera)
    assert (hha[2][floor_interior(labels)] - 38).abs().max() <= 1


def test_hole_policies():
    depth, _, _ = render_room(1.5)
    holes = torch.zeros_like(depth, dtype=torch.bool)
    holes[40:44, 60:64] = True
    raw = depth.masked_fill(holes, 0.0)
    zeroed = SpatialEncoder("hha", hha=HHAOptions(hole_policy="zero")).encode(raw, K)
    assert (zeroed[:, holes] == 0).all() and (zeroed[0, ~holes] > 0).all()
    filled = SpatialEncoder("hha", hha=HHAOptions(hole_policy="fill")).encode(raw, K)
    complete = SpatialEncoder("hha").encode(depth, K)
    # Filled depth comes from the neighbours: disparity and height like the full frame's.
    assert (filled[:2, holes] - complete[:2, holes]).abs().max() <= 2
    reference = SpatialEncoder("hha").encode(raw, K)
    assert (reference[0, holes] == 255).all()


@pytest.mark.parametrize(
    "field, value",
    [
        ("gravity_source", "imu"),
        ("height_mode", "median"),
        ("hole_policy", "inpaint"),
        ("gravity_vector", (0.0, 0.0, 0.0)),
        ("gravity_smoothing", 1.0),
        ("floor_percentile", 60.0),
        ("camera_height_m", 0.0),
        ("disparity_scale", -1.0),
        ("disparity_min_depth_m", float("nan")),
        ("min_floor_drop_m", 11.0),
    ],
)
def test_invalid_options_are_rejected(field, value):
    with pytest.raises(ValueError, match=field):
        HHAOptions(**{field: value})


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: SpatialEncoder("rgb"), "spatial mode"),
        (lambda: SpatialEncoder("xyz").encode(torch.ones(2, 3, 4), K), r"\(H, W\)"),
        (lambda: SpatialEncoder("hha").encode(torch.ones(8, 8), np.eye(2)), "3x3"),
        (lambda: SpatialEncoder("xyz").encode(torch.ones(8, 8), np.zeros((3, 3))), "fx"),
        (
            lambda: SpatialEncoder("hha").encode(torch.ones(8, 8), K, missing=torch.ones(4, 4)),
            "missing mask shape",
        ),
    ],
)
def test_bad_input_raises_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("mode", ["hha", "xyz", "depth"])
def test_cuda_encoder_matches_cpu(mode):
    depth, _, _ = render_room(1.5, roll_deg=15.0)
    cuda = SpatialEncoder(mode, device="cuda").encode(depth, K)
    assert cuda.device.type == "cuda"
    cpu = SpatialEncoder(mode).encode(depth, K)
    if mode == "hha":
        assert torch.equal(cuda.cpu(), cpu)
    else:
        assert torch.allclose(cuda.cpu(), cpu, rtol=1e-6, atol=1e-6)
