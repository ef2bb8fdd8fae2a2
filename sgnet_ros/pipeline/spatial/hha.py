"""HHA encoding of depth (Gupta et al., ECCV 2014) in torch, matching the reference MATLAB code.

HHA = (horizontal disparity, height above the floor, angle between the surface normal and
gravity), each channel scaled to grey levels. The reference works in centimetres and float64;
so does this module, because float32 box sums move the angle channel on ~15% of pixels. Every
step is a tensor operation on the input's device (CUDA or CPU) with no host round trip: the
gravity eigen-problem is solved in closed form and data-dependent choices use torch.where.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional

GRAVITY_SOURCES = ("estimate", "fixed", "tf")
HEIGHT_MODES = ("lowest_point", "camera_height", "tf")
HOLE_POLICIES = ("reference", "zero", "fill")

NORMAL_RADIUS = 3  # (2r+1)^2 window of the normals behind the angle channel
GRAVITY_NORMAL_RADIUS = 10  # window of the smoother normals behind the gravity estimate
GRAVITY_SCHEDULE_DEG = (45.0,) * 5 + (15.0,) * 5  # angle threshold of each gravity iteration
IDENTITY_ROTATION_DEG = 0.1  # gravity closer than this to the optical y axis counts as y
ANGLE_OFFSET_DEG = 38.0  # angle channel = angle + 128 - 90, as in the reference
REFERENCE_GRAVITY = (0.0, 1.0, 0.0)  # optical frame: y points down


@dataclass(frozen=True)
class HHAOptions:
    """Knobs of the HHA encoding; the defaults reproduce the reference (NYUDv2 framing)."""

    # "estimate" (reference: iterate from gravity_vector over surface normals), "fixed"
    # (gravity_vector is the answer) or "tf" (each frame's given gravity is the answer; a
    # frame without one falls back to the estimate).
    gravity_source: str = "estimate"
    # Gravity (pointing down) in the camera optical frame (x right, y down, z forward);
    # any finite non-zero length. Start of the estimate, or the answer when fixed.
    gravity_vector: tuple[float, float, float] = REFERENCE_GRAVITY
    # [0, 1): weight of the previous frame's gravity in SpatialEncoder's exponential
    # smoothing; 0 = every frame on its own (reference).
    gravity_smoothing: float = 0.0
    # "lowest_point" (reference: the floor is the lowest point, see floor_percentile),
    # "camera_height" (the floor lies camera_height_m below the camera) or "tf" (each
    # frame's given camera height; a frame without one falls back to lowest_point).
    height_mode: str = "lowest_point"
    # [0, 50] percent: percentile of point heights taken as the floor in lowest_point mode;
    # 0 = the lowest point (reference), a few percent ignores stray points below the floor.
    floor_percentile: float = 0.0
    # (0, 10] metres: a floor found less than this far below the camera is not believed and
    # camera_height_m is used instead (reference 0.9).
    min_floor_drop_m: float = 0.9
    # (0, 10] metres: camera height above the floor; the fallback of lowest_point mode
    # (reference 1.3) and the answer of camera_height mode.
    camera_height_m: float = 1.3
    # (0, 10000] grey level x metres: disparity channel = disparity_scale /
    # max(depth, disparity_min_depth_m) (reference 310, i.e. 31000 / centimetres).
    disparity_scale: float = 310.0
    # (0, 10] metres: nearer depths give the same disparity (reference 1.0).
    disparity_min_depth_m: float = 1.0
    # Pixels without depth: "reference" (encode them as the reference does, depth 0),
    # "zero" (all three channels 0) or "fill" (take depth from the nearest valid pixels
    # for disparity and height; normals still ignore them, like the reference on NYUDv2).
    hole_policy: str = "reference"

    def __post_init__(self) -> None:
        _require_choice("gravity_source", self.gravity_source, GRAVITY_SOURCES)
        _require_choice("height_mode", self.height_mode, HEIGHT_MODES)
        _require_choice("hole_policy", self.hole_policy, HOLE_POLICIES)
        try:
            gravity_vector_array(self.gravity_vector)
        except ValueError as error:
            raise ValueError(f"HHAOptions.gravity_vector: {error}") from None
        _require_range("gravity_smoothing", self.gravity_smoothing, 0.0, 1.0, include_high=False)
        _require_range("floor_percentile", self.floor_percentile, 0.0, 50.0)
        _require_range("min_floor_drop_m", self.min_floor_drop_m, 0.0, 10.0, include_low=False)
        _require_range("camera_height_m", self.camera_height_m, 0.0, 10.0, include_low=False)
        _require_range("disparity_scale", self.disparity_scale, 0.0, 1e4, include_low=False)
        _require_range(
            "disparity_min_depth_m", self.disparity_min_depth_m, 0.0, 10.0, include_low=False
        )


def _require_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"HHAOptions.{name} must be one of {choices}, got {value!r}")


def _require_range(
    name: str,
    value: float,
    low: float,
    high: float,
    include_low: bool = True,
    include_high: bool = True,
) -> None:
    above_low = value >= low if include_low else value > low
    below_high = value <= high if include_high else value < high
    if not (math.isfinite(value) and above_low and below_high):
        interval = f"{'[' if include_low else '('}{low}, {high}{']' if include_high else ')'}"
        raise ValueError(f"HHAOptions.{name} must lie in {interval}, got {value!r}")


def gravity_vector_array(vector: Sequence[float] | np.ndarray | torch.Tensor) -> np.ndarray:
    """A gravity direction as a unit float64 3-vector; ValueError if it has no direction."""
    if isinstance(vector, torch.Tensor):
        vector = vector.detach().cpu().numpy()
    array = np.asarray(vector, dtype=np.float64).reshape(-1)
    if array.shape != (3,) or not np.all(np.isfinite(array)):
        raise ValueError(f"gravity vector must be 3 finite numbers, got {vector!r}")
    length = float(np.linalg.norm(array))
    if length < 1e-9:
        raise ValueError(f"gravity vector must be non-zero, got {vector!r}")
    return array / length


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole intrinsics in ZERO-based pixel coordinates (ROS camera_info convention)."""

    fx: float
    fy: float
    cx: float
    cy: float


def intrinsics_from_matrix(K: np.ndarray | torch.Tensor | Sequence[float]) -> Intrinsics:
    """Reads fx, fy, cx, cy from a 3x3 camera matrix (or its 9 row-major numbers)."""
    if isinstance(K, torch.Tensor):
        K = K.detach().cpu().numpy()
    matrix = np.asarray(K, dtype=np.float64)
    if matrix.size != 9:
        raise ValueError(f"camera matrix K must be 3x3 (or 9 numbers), got shape {matrix.shape}")
    matrix = matrix.reshape(3, 3)
    fx, fy, cx, cy = matrix[0, 0], matrix[1, 1], matrix[0, 2], matrix[1, 2]
    if not (np.isfinite([fx, fy, cx, cy]).all() and fx > 0 and fy > 0):
        raise ValueError(f"camera matrix K needs finite fx, fy > 0 and finite cx, cy, got {K!r}")
    return Intrinsics(float(fx), float(fy), float(cx), float(cy))


@dataclass(frozen=True)
class HHAResult:
    """An HHA image and the gravity direction it was computed with (for temporal smoothing)."""

    hha: torch.Tensor  # (3, H, W) uint8: disparity, height, angle
    gravity: torch.Tensor  # (3,) float64 unit vector in the optical frame, on the same device


class Workspace:
    """Scratch tensors reused from frame to frame, by name.

    A 640x480 frame streams a few hundred MB through float64 temporaries; on the CPU, fresh
    allocations of that size cost more (page faults) than the arithmetic on them. Encoders
    keep one Workspace; a buffer only grows. Not thread-safe: one per encoder or thread.
    """

    def __init__(self) -> None:
        self._storage: dict[str, torch.Tensor] = {}

    def __call__(
        self, name: str, shape: Sequence[int], like: torch.Tensor, dtype: torch.dtype | None = None
    ) -> torch.Tensor:
        """An uninitialised tensor of shape, with like's device and dtype (unless given)."""
        dtype = dtype or like.dtype
        size = math.prod(shape)
        storage = self._storage.get(name)
        if (
            storage is None
            or storage.numel() < size
            or storage.dtype != dtype
            or storage.device != like.device
        ):
            storage = torch.empty(size, dtype=dtype, device=like.device)
            self._storage[name] = storage
        return storage[:size].view(tuple(shape))

    @property
    def nbytes(self) -> int:
        """Memory held between frames."""
        return sum(storage.numel() * storage.element_size() for storage in self._storage.values())


def compute_hha(
    depth_m: torch.Tensor,
    missing: torch.Tensor | None,
    K: np.ndarray | torch.Tensor,
    one_based_pixels: bool = False,
    options: HHAOptions | None = None,
) -> torch.Tensor:
    """The reference HHA of one depth image, (3, H, W) uint8 on depth_m's device.

    depth_m: (H, W) metres, hole-filled as the reference expects (invalid values count as
    missing). missing: (H, W) bool, True where the sensor gave no depth (None: only invalid
    depth is missing). one_based_pixels=True reproduces the MATLAB reference exactly.
    """
    return encode_hha(depth_m, missing, K, one_based_pixels=one_based_pixels, options=options).hha


def encode_hha(
    depth_m: torch.Tensor,
    missing: torch.Tensor | None,
    K: np.ndarray | torch.Tensor,
    *,
    one_based_pixels: bool = False,
    options: HHAOptions | None = None,
    gravity: Sequence[float] | np.ndarray | torch.Tensor | None = None,
    previous_gravity: torch.Tensor | None = None,
    workspace: Workspace | None = None,
    camera_height_m: float | None = None,
) -> HHAResult:
    """compute_hha, also returning gravity; the one code path behind node, CLI and tests.

    gravity overrides options.gravity_vector for this frame (e.g. from TF); with
    gravity_source "tf" it is the answer. camera_height_m, with height_mode "tf", is this
    frame's camera height above the floor (e.g. from TF). previous_gravity,
    the last frame's result, is blended in with options.gravity_smoothing. workspace keeps
    scratch memory between calls (results never alias it).
    """
    options = options or HHAOptions()
    workspace = workspace or Workspace()
    intrinsics = intrinsics_from_matrix(K)
    depth_m = as_depth_tensor(depth_m)
    shape = depth_m.shape
    z_cm = workspace("z", shape, depth_m, torch.float64).copy_(depth_m)
    no_depth = ~torch.isfinite(z_cm) | (z_cm <= 0)
    if missing is None:
        missing = no_depth
    else:
        missing = _as_mask_tensor(missing, shape, z_cm.device) | no_depth
    if options.hole_policy == "fill":
        z_cm.copy_(fill_holes(z_cm, no_depth))
    else:
        z_cm.masked_fill_(no_depth, 0.0)
    z_cm *= 100.0
    camera = _CameraGrid(intrinsics, shape, z_cm.device, one_based_pixels)
    points = camera.points(z_cm, workspace)

    estimate = options.gravity_source == "estimate" or (
        options.gravity_source == "tf" and gravity is None)
    radii = (GRAVITY_NORMAL_RADIUS, NORMAL_RADIUS) if estimate else (NORMAL_RADIUS,)
    windows = PlaneFitWindows(z_cm, ~missing, camera, radii, workspace)
    start = _device_vector(
        gravity_vector_array(options.gravity_vector if gravity is None else gravity), z_cm
    )
    down = start
    if estimate:
        gravity_normals = unit_normals(windows.sums(GRAVITY_NORMAL_RADIUS), workspace)
        down = estimate_gravity(gravity_normals, start, workspace)
    if previous_gravity is not None and options.gravity_smoothing > 0:
        blended = options.gravity_smoothing * previous_gravity.to(down)
        blended += (1.0 - options.gravity_smoothing) * down
        down = blended / torch.sqrt((blended * blended).sum())

    hha = torch.empty((3, *shape), dtype=torch.uint8, device=z_cm.device)
    channel = workspace("channel", shape, z_cm)
    torch.clamp(z_cm, min=options.disparity_min_depth_m * 100.0, out=channel)
    _round_into(hha[0], channel.reciprocal_().mul_(options.disparity_scale * 100.0))
    _round_into(hha[1], _height_above_floor(points, down, z_cm > 0, options, channel,
                                            camera_height_m))
    cos_angle = _cos_angle_to_gravity(windows.sums(NORMAL_RADIUS), points, down, workspace)
    angle = torch.rad2deg_(torch.acos_(cos_angle.clamp_(-1.0, 1.0)))
    _round_into(hha[2], angle.nan_to_num_(nan=180.0).add_(ANGLE_OFFSET_DEG))
    if options.hole_policy == "zero":
        hha.masked_fill_(missing, 0)
    return HHAResult(hha=hha, gravity=down)


def _device_vector(values: Sequence[float], like: torch.Tensor) -> torch.Tensor:
    """A float64 vector on like's device, filled by kernels: a host-to-device copy from
    pageable memory may wait for the GPU stream."""
    vector = torch.empty(len(values), dtype=torch.float64, device=like.device)
    for index, value in enumerate(values):
        vector[index] = float(value)
    return vector


def as_depth_tensor(depth_m: torch.Tensor | np.ndarray) -> torch.Tensor:
    """depth_m as a tensor, or a ValueError naming what is wrong with it."""
    if isinstance(depth_m, np.ndarray):
        depth_m = torch.from_numpy(depth_m)
    if not isinstance(depth_m, torch.Tensor):
        raise ValueError(f"depth must be a torch.Tensor or numpy array, got {type(depth_m)}")
    if depth_m.ndim != 2 or depth_m.shape[0] < 1 or depth_m.shape[1] < 1:
        raise ValueError(
            f"depth must be a non-empty (H, W) image, got shape {tuple(depth_m.shape)}"
        )
    if not depth_m.is_floating_point():
        raise ValueError(
            f"depth must hold floating-point metres, got {depth_m.dtype}; convert integer "
            "depth (e.g. 16UC1 millimetres) with spatial_encoding.depth_to_metres"
        )
    return depth_m


def _as_mask_tensor(
    mask: torch.Tensor | np.ndarray, shape: torch.Size, device: torch.device
) -> torch.Tensor:
    mask = torch.as_tensor(mask, device=device)
    if mask.shape != shape:
        raise ValueError(f"missing mask shape {tuple(mask.shape)} != depth shape {tuple(shape)}")
    return mask.to(torch.bool)


class _CameraGrid:
    """Per-column X/Z and per-row Y/Z of the pinhole model, in the chosen pixel convention."""

    def __init__(
        self,
        intrinsics: Intrinsics,
        shape: torch.Size,
        device: torch.device,
        one_based_pixels: bool,
    ) -> None:
        offset = 1.0 if one_based_pixels else 0.0
        height, width = shape
        self.intrinsics = intrinsics
        self.column_offsets = torch.arange(width, dtype=torch.float64, device=device)
        self.column_offsets += offset - intrinsics.cx
        self.row_offsets = torch.arange(height, dtype=torch.float64, device=device)
        self.row_offsets += offset - intrinsics.cy
        self.ray_x = self.column_offsets / intrinsics.fx
        self.ray_y = self.row_offsets / intrinsics.fy

    def points(self, z: torch.Tensor, workspace: Workspace) -> torch.Tensor:
        """(3, H, W) points X = (u - cx) Z / fx, Y = (v - cy) Z / fy, Z (reference order)."""
        points = workspace("points", (3, *z.shape), z)
        torch.mul(self.column_offsets, z, out=points[0]).div_(self.intrinsics.fx)
        torch.mul(self.row_offsets[:, None], z, out=points[1]).div_(self.intrinsics.fy)
        points[2] = z
        return points


class PlaneFitWindows:
    """Window sums of the least-squares plane a*x + b*y + c = 1/Z (x = X/Z, y = Y/Z).

    sums(r) gives (9, H, W): sums over the valid pixels of each (2r+1)^2 window (zero padded,
    same size) of x^2, xy, x, y^2, y, 1, x/Z, y/Z, 1/Z. x depends on the column only and y on
    the row only, so the horizontal pass needs just 1, x, x^2 (of the valid mask), 1/Z and
    x/Z, shared by all radii; the vertical pass multiplies in y. Both passes run a few
    channels at a time to bound the scratch memory. The buffer returned by sums() is reused
    by the next call.
    """

    def __init__(
        self,
        z: torch.Tensor,
        valid: torch.Tensor,
        camera: _CameraGrid,
        radii: Sequence[int],
        workspace: Workspace,
    ) -> None:
        height, width = z.shape
        widest = max(radii)
        weight = valid.to(z.dtype)
        padded = _zero_padded(workspace, (5, height, width), dim=2, pad=widest, like=z)
        terms = padded.narrow(2, widest, width)
        ray_x = camera.ray_x
        terms[0] = weight
        torch.mul(weight, ray_x, out=terms[1])
        torch.mul(terms[1], ray_x, out=terms[2])
        torch.reciprocal(z, out=terms[3]).masked_fill_(~valid, 0.0)
        torch.mul(terms[3], ray_x, out=terms[4])
        self._row_sums = {
            radius: workspace(f"row_sums{radius}", (5, height, width + 2 * (widest - radius)), z)
            for radius in radii
        }
        for channels in (slice(0, 3), slice(3, 5)):
            _sliding_sums(
                padded[channels],
                2,
                {2 * radius + 1: sums[channels] for radius, sums in self._row_sums.items()},
                workspace,
            )
        self._widest = widest
        self._ray_y = camera.ray_y[:, None]
        self._workspace = workspace

    def sums(self, radius: int) -> torch.Tensor:
        row_sums = self._row_sums[radius]
        height, width = row_sums.shape[1], row_sums.shape[2] - 2 * (self._widest - radius)
        weight, x, xx, inverse_z, x_inverse_z = row_sums.narrow(2, self._widest - radius, width)
        window = self._workspace("window_sums", (9, height, width), row_sums)
        ray_y = self._ray_y
        for group, first, second, third in (
            (0, xx, x, x),  # -> x^2, xy, x
            (1, None, weight, weight),  # -> y^2, y, 1
            (2, x_inverse_z, inverse_z, inverse_z),  # -> x/Z, y/Z, 1/Z
        ):
            padded = _zero_padded(
                self._workspace, (3, height, width), dim=1, pad=radius, like=row_sums
            )
            terms = padded.narrow(1, radius, height)
            torch.mul(second, ray_y, out=terms[1])
            if first is None:
                torch.mul(terms[1], ray_y, out=terms[0])
            else:
                terms[0] = first
            terms[2] = third
            channels = slice(3 * group, 3 * group + 3)
            _sliding_sums(padded, 1, {2 * radius + 1: window[channels]}, self._workspace)
        return window


def _zero_padded(
    workspace: Workspace, shape: tuple[int, ...], dim: int, pad: int, like: torch.Tensor
) -> torch.Tensor:
    """A workspace tensor of shape grown by pad zeros on both sides of dim (inside unset)."""
    padded_shape = list(shape)
    padded_shape[dim] += 2 * pad
    padded = workspace("padded", padded_shape, like)
    padded.narrow(dim, 0, pad).zero_()
    padded.narrow(dim, pad + shape[dim], pad).zero_()
    return padded


def _sliding_sums(
    values: torch.Tensor, dim: int, outputs: dict[int, torch.Tensor], workspace: Workspace
) -> None:
    """Writes into outputs[length] the sums of `length` consecutive entries along dim
    ('valid' mode).

    Built from doubling power-of-two sums, so a window costs O(log length) additions, the
    order of additions is fixed (the same result on every device) and a window of exact
    zeros sums to exactly zero (an empty window yields NaN normals, as in the reference).
    """
    powers = {1: values}
    size = 1
    while 2 * size <= max(outputs):
        count = powers[size].shape[dim] - size
        shape = list(values.shape)
        shape[dim] = count
        powers[2 * size] = torch.add(
            powers[size].narrow(dim, 0, count),
            powers[size].narrow(dim, size, count),
            out=workspace(f"power{2 * size}", shape, values),
        )
        size *= 2
    for length, total in outputs.items():
        count = values.shape[dim] - length + 1
        parts, offset = [], 0
        for power in sorted(powers, reverse=True):
            if length & power:
                parts.append(powers[power].narrow(dim, offset, count))
                offset += power
        if len(parts) == 1:
            total.copy_(parts[0])
            continue
        torch.add(parts[0], parts[1], out=total)
        for part in parts[2:]:
            total += part


def plane_normals(sums: torch.Tensor, workspace: Workspace) -> torch.Tensor:
    """(3, H, W) un-normalised least-squares plane normals, adjugate(AtA) @ Atb.

    The adjugate keeps windows with too few pixels finite (a zero vector when empty).
    """
    sxx, sxy, sx, syy, sy, count, bx, by, bz = sums
    adjugate = workspace("adjugate", (6, *sxx.shape), sums)
    scratch = workspace("scratch", sxx.shape, sums)
    for entry, (a, b, c, d) in zip(
        adjugate,
        (
            (syy, count, sy, sy),
            (sx, sy, sxy, count),
            (sxy, sy, sx, syy),
            (sxx, count, sx, sx),
            (sxy, sx, sxx, sy),
            (sxx, syy, sxy, sxy),
        ),
        strict=True,
    ):
        torch.mul(a, b, out=entry).sub_(torch.mul(c, d, out=scratch))
    a00, a01, a02, a11, a12, a22 = adjugate
    normals = workspace("normals", (3, *sxx.shape), sums)
    for normal, (first, second, third) in zip(
        normals, ((a00, a01, a02), (a01, a11, a12), (a02, a12, a22)), strict=True
    ):
        torch.mul(first, bx, out=normal)
        normal += torch.mul(second, by, out=scratch)
        normal += torch.mul(third, bz, out=scratch)
    return normals


def _dot(
    vectors: torch.Tensor, others: torch.Tensor, out: torch.Tensor, scratch: torch.Tensor
) -> torch.Tensor:
    """Per-pixel dot product of (3, H, W) fields (or with a (3,) vector) into out."""
    torch.mul(vectors[0], others[0], out=out)
    out += torch.mul(vectors[1], others[1], out=scratch)
    out += torch.mul(vectors[2], others[2], out=scratch)
    return out


def _normalise(normals: torch.Tensor, workspace: Workspace) -> torch.Tensor:
    """Scales (3, H, W) vectors to unit length in place (0/0 -> NaN)."""
    length = workspace("length", normals.shape[1:], normals)
    scratch = workspace("scratch", normals.shape[1:], normals)
    normals /= _dot(normals, normals, length, scratch).sqrt_()
    return normals


def unit_normals(sums: torch.Tensor, workspace: Workspace) -> torch.Tensor:
    """(3, H, W) unit plane normals of window sums, 0 where a window has no direction."""
    return _normalise(plane_normals(sums, workspace), workspace).nan_to_num_(nan=0.0)


def _cos_angle_to_gravity(
    sums: torch.Tensor, points: torch.Tensor, down: torch.Tensor, workspace: Workspace
) -> torch.Tensor:
    """cos of the angle between gravity and each normal oriented away from the camera
    (n_z >= 0, then n . P >= 0, as the reference orients it); NaN where undefined."""
    normals = _normalise(plane_normals(sums, workspace), workspace)
    scratch = workspace("scratch", normals.shape[1:], normals)
    facing = _dot(normals, points, workspace("facing", normals.shape[1:], normals), scratch)
    backwards = normals[2] < 0
    flip = torch.where(backwards, facing > 0, facing < 0) ^ backwards
    cos_angle = _dot(normals, down, workspace("cos_angle", normals.shape[1:], normals), scratch)
    return torch.where(flip, cos_angle.neg(), cos_angle, out=cos_angle)


def estimate_gravity(
    normals: torch.Tensor, start: torch.Tensor, workspace: Workspace | None = None
) -> torch.Tensor:
    """The reference gravity estimate: the direction most parallel to 'floor' normals and
    most perpendicular to 'wall' normals, re-selecting both sets at each iteration.

    normals: (3, H, W) unit normals, 0 where undefined (they then contribute nothing).
    """
    workspace = workspace or Workspace()
    flat = normals.reshape(3, -1)
    pixels = flat.shape[1]
    products = workspace("products", (6, pixels), flat)
    for row, (first, second) in enumerate(((0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2))):
        torch.mul(flat[first], flat[second], out=products[row])
    similarity = workspace("similarity", (pixels,), flat)
    selected = workspace("selected", (pixels,), flat, torch.bool)
    weight = workspace("weight", (pixels,), flat)
    down = start
    for threshold_deg in GRAVITY_SCHEDULE_DEG:
        threshold = math.radians(threshold_deg)
        torch.mv(flat.T, down, out=similarity).abs_()
        # +1 for 'walls', -1 for 'floors' (disjoint sets: thresholds are at most 45 deg).
        weight.copy_(torch.lt(similarity, math.sin(threshold), out=selected))
        weight.masked_fill_(torch.gt(similarity, math.cos(threshold), out=selected), -1.0)
        m = products @ weight
        scatter = torch.stack((m[0], m[1], m[2], m[1], m[3], m[4], m[2], m[4], m[5]))
        candidate, defined = smallest_eigenvector(scatter.reshape(3, 3))
        candidate = torch.where((candidate @ down) < 0, -candidate, candidate)
        down = torch.where(defined, candidate, down)
    return down


def smallest_eigenvector(matrix: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Unit eigenvector of the smallest eigenvalue of a symmetric 3x3 matrix, in closed form.

    No solver call (no host round trip on CUDA) and few, tiny kernels: the eigenvalue from
    the trigonometric solution of the characteristic cubic, the vector as the longest cross
    product of two rows of (matrix - eigenvalue * I). Returns (vector, defined); defined is
    False (vector arbitrary) when the smallest eigenvalue has no unique direction, e.g. for
    a zero matrix.
    """
    mean = torch.trace(matrix) / 3.0
    shifted = matrix.clone()
    shifted.diagonal().sub_(mean)
    spread = torch.sqrt((shifted * shifted).sum() / 6.0)
    half_det = (shifted[0] * torch.linalg.cross(shifted[1], shifted[2])).sum() / 2.0
    cosine = (half_det / spread.pow(3).clamp(min=1e-300)).clamp_(-1.0, 1.0)
    angle = torch.acos(cosine) / 3.0 + 2.0 * math.pi / 3.0
    smallest = mean + 2.0 * spread * torch.cos(angle)
    rows = matrix.clone()
    rows.diagonal().sub_(smallest)
    crosses = torch.linalg.cross(rows, rows.roll(-1, 0))
    squared_lengths = (crosses * crosses).sum(1)
    best = torch.argmax(squared_lengths, dim=0, keepdim=True)
    squared_length = squared_lengths.index_select(0, best)[0]
    vector = crosses.index_select(0, best)[0] * torch.rsqrt(squared_length)
    scale = (matrix * matrix).sum()
    return vector, squared_length > 1e-24 * scale * scale


def _height_above_floor(
    points: torch.Tensor,
    down: torch.Tensor,
    has_depth: torch.Tensor,
    options: HHAOptions,
    out: torch.Tensor,
    camera_height_m: float | None = None,
) -> torch.Tensor:
    """Height in cm: -(R^T p)_y with R taking the optical y axis to gravity, minus the floor.

    The floor lies options.camera_height_m below the camera in camera_height mode, this
    frame's camera_height_m in tf mode (the lowest point when a frame has none)."""
    reference = _device_vector(REFERENCE_GRAVITY, points)
    tilt_deg = torch.rad2deg(torch.acos((down @ reference).clamp(-1.0, 1.0)))
    # (R^T p)_y = p . (R e_y) = p . down, except that the reference skips rotations < 0.1 deg.
    axis = torch.where(tilt_deg > IDENTITY_ROTATION_DEG, down, reference)
    height_cm = _dot(points, -axis, out, torch.empty_like(out))
    if options.height_mode == "camera_height":
        return height_cm.add_(options.camera_height_m * 100.0)
    if options.height_mode == "tf" and camera_height_m is not None:
        return height_cm.add_(float(camera_height_m) * 100.0)
    floor = _floor_height(height_cm, has_depth, options.floor_percentile)
    floor = torch.where(
        floor > -options.min_floor_drop_m * 100.0,
        torch.full_like(floor, -options.camera_height_m * 100.0),
        floor,
    )
    return height_cm.sub_(floor)


def _floor_height(
    height_cm: torch.Tensor, has_depth: torch.Tensor, percentile: float
) -> torch.Tensor:
    """The percentile of heights over pixels with depth (+inf when there are none)."""
    masked = torch.where(has_depth, height_cm, math.inf).reshape(-1)
    if percentile == 0:
        return masked.min()
    ordered = torch.sort(masked).values
    rank = torch.round((has_depth.sum() - 1).clamp(min=0) * (percentile / 100.0)).long()
    return ordered.gather(0, rank.reshape(1))[0]


def _round_into(out: torch.Tensor, values: torch.Tensor) -> None:
    """MATLAB's uint8(): round half away from zero, saturate, NaN -> 0 (values are spent)."""
    out.copy_(values.add_(0.5).floor_().clamp_(0.0, 255.0).nan_to_num_(nan=0.0))


def fill_holes(depth: torch.Tensor, holes: torch.Tensor) -> torch.Tensor:
    """Fills holes with the mean valid depth of the finest pyramid level that has some.

    A fixed number of levels (log2 of the image side), so no data-dependent host sync.
    Depth stays 0 only where the whole image has none.
    """
    weight = (~holes).to(depth.dtype)[None, None]
    total = torch.where(holes, 0.0, depth)[None, None]
    levels = [(total, weight)]
    while max(total.shape[-2:]) > 1:
        # Both pooled with the same divisor, so total / weight stays the mean valid depth.
        total = functional.avg_pool2d(total, 2, ceil_mode=True)
        weight = functional.avg_pool2d(weight, 2, ceil_mode=True)
        levels.append((total, weight))
    coarse = levels[-1][0] / levels[-1][1].clamp(min=1e-12)
    for total, weight in reversed(levels[:-1]):
        upsampled = functional.interpolate(coarse, size=total.shape[-2:], mode="nearest")
        mean = total / weight.clamp(min=1e-12)
        coarse = torch.where(weight > 0, mean, upsampled)
    return torch.where(holes, coarse[0, 0], depth)
