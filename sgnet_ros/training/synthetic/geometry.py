"""Shared ray casting for every synthetic style: primitives, camera, closed-form hits.

Rays are intersected analytically with the room box, yawed boxes and vertical cylinders;
numpy does this faster than a triangle ray caster for scenes of a few dozen primitives
(screen-space culling keeps the cost proportional to each primitive's area on screen), and
depth, labels and shading all come from the same hit, so they agree by construction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

REFERENCE_SIZE = (480, 640)  # (height, width) of the reference camera
REFERENCE_FOCAL = 525.0  # pixels at the reference size (Kinect / Xtion colour camera)
EPS = 1e-6


def intrinsics_for(size: tuple[int, int]) -> np.ndarray:
    """The reference 525 px / 640x480 pinhole camera scaled to (height, width)."""
    height, width = checked_size(size)
    scale_x, scale_y = width / REFERENCE_SIZE[1], height / REFERENCE_SIZE[0]
    return np.array(
        [
            [REFERENCE_FOCAL * scale_x, 0.0, (width - 1) / 2.0],
            [0.0, REFERENCE_FOCAL * scale_y, (height - 1) / 2.0],
            [0.0, 0.0, 1.0],
        ]
    )


@dataclass(frozen=True)
class Box:
    """A box yawed about the vertical axis: centre, half extents (room axes before yaw)."""

    center: tuple[float, float, float]
    half: tuple[float, float, float]
    yaw: float
    label: int
    material: Any  # the style's surface description


@dataclass(frozen=True)
class Cylinder:
    """A vertical cylinder between heights z0 and z1."""

    center_xy: tuple[float, float]
    radius: float
    z0: float
    z1: float
    label: int
    material: Any  # the style's surface description


@dataclass(frozen=True)
class CameraPose:
    """Camera position in the room frame and its yaw/pitch/roll (radians)."""

    position: tuple[float, float, float]
    yaw: float
    pitch: float
    roll: float
    mount: str = "robot"  # robot | handheld: which height and angle ranges it was drawn from

    def rotation(self) -> np.ndarray:
        """R_room_from_optical: columns are the optical x (right), y (down), z (forward) axes."""
        cp, sp = np.cos(self.pitch), np.sin(self.pitch)
        cy, sy = np.cos(self.yaw), np.sin(self.yaw)
        forward = np.array([cp * cy, cp * sy, sp])
        right = np.array([sy, -cy, 0.0])
        down = np.cross(forward, right)
        cr, sr = np.cos(self.roll), np.sin(self.roll)
        right, down = cr * right + sr * down, -sr * right + cr * down
        return np.stack([right, down, forward], axis=1)


@dataclass
class SyntheticFrame:
    """One rendered frame: rgb8, depth in metres (0 = invalid), NYU40 labels, camera."""

    rgb: np.ndarray
    depth_m: np.ndarray
    labels: np.ndarray
    K: np.ndarray
    pose: CameraPose
    clean_depth_m: np.ndarray


NEAR_CLIP_M = 0.05
_CORNER_SIGNS = np.array([(sx, sy, sz) for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)])
_BOX_EDGES = np.array(
    [(i, j) for i in range(8) for j in range(i + 1, 8)
     if np.abs(_CORNER_SIGNS[i] - _CORNER_SIGNS[j]).sum() == 2]
)


def bounding_corners(primitive: Box | Cylinder) -> np.ndarray:
    """The 8 corners of the primitive's bounding box in the room frame."""
    signs = _CORNER_SIGNS
    if isinstance(primitive, Cylinder):
        center = np.array([*primitive.center_xy, (primitive.z0 + primitive.z1) / 2])
        half = np.array([primitive.radius, primitive.radius, (primitive.z1 - primitive.z0) / 2])
        return center + signs * half
    c, s = np.cos(primitive.yaw), np.sin(primitive.yaw)
    local = signs * np.array(primitive.half)
    rotate = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    return np.array(primitive.center) + local @ rotate.T


def screen_pixels(
    primitive: Box | Cylinder, pose: CameraPose, K: np.ndarray, size: tuple[int, int]
) -> np.ndarray | None:
    """Flat indices of the pixels inside the primitive's projected bounding box.

    Culling keeps rendering cost proportional to the primitives' screen area. A bounding box
    wholly outside one side of the view frustum is empty; one reaching behind the camera is
    clipped at NEAR_CLIP_M first (nothing is ever that close to a camera in these rooms).
    """
    height, width = size
    corners = (bounding_corners(primitive) - np.array(pose.position)) @ pose.rotation()
    x, y, z = corners[:, 0], corners[:, 1], corners[:, 2]
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    # Points on pixel rays satisfy all of these; a box failing one at every corner is unseen.
    outside = (
        (z <= 0).all()
        or (fx * x + cx * z < 0).all()
        or ((width - 1 - cx) * z - fx * x < 0).all()
        or (fy * y + cy * z < 0).all()
        or ((height - 1 - cy) * z - fy * y < 0).all()
    )
    if outside:
        return np.empty(0, dtype=np.int64)
    if (z < NEAR_CLIP_M).any():
        a, b = corners[_BOX_EDGES[:, 0]], corners[_BOX_EDGES[:, 1]]
        crossing = (a[:, 2] - NEAR_CLIP_M) * (b[:, 2] - NEAR_CLIP_M) < 0
        a, b = a[crossing], b[crossing]
        fraction = (NEAR_CLIP_M - a[:, 2]) / (b[:, 2] - a[:, 2])
        corners = np.concatenate([corners[z >= NEAR_CLIP_M], a + fraction[:, None] * (b - a)])
        if len(corners) == 0:  # wholly nearer than the clip plane
            return np.empty(0, dtype=np.int64)
    u = K[0, 0] * corners[:, 0] / corners[:, 2] + K[0, 2]
    v = K[1, 1] * corners[:, 1] / corners[:, 2] + K[1, 2]
    col0, col1 = max(int(np.floor(u.min())), 0), min(int(np.ceil(u.max())) + 1, width)
    row0, row1 = max(int(np.floor(v.min())), 0), min(int(np.ceil(v.max())) + 1, height)
    if col0 >= col1 or row0 >= row1:
        return np.empty(0, dtype=np.int64)
    rows, cols = np.meshgrid(np.arange(row0, row1), np.arange(col0, col1), indexing="ij")
    return (rows * width + cols).ravel()


def ray_box(origin: np.ndarray, directions: np.ndarray, box: Box) -> np.ndarray:
    c, s = np.cos(box.yaw), np.sin(box.yaw)
    rotate = np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])  # room -> box local
    local_origin = rotate @ (origin - np.array(box.center))
    local_dirs = directions @ rotate.T
    # Slab by slab on contiguous columns: several times faster than reducing (N, 3) arrays.
    t_near = np.full(len(directions), -np.inf)
    t_far = np.full(len(directions), np.inf)
    for axis, half in enumerate(box.half):
        along = np.ascontiguousarray(local_dirs[:, axis])
        safe = np.where(np.abs(along) < EPS, EPS, along)
        t_a = (-half - local_origin[axis]) / safe
        t_b = (half - local_origin[axis]) / safe
        np.maximum(t_near, np.minimum(t_a, t_b), out=t_near)
        np.minimum(t_far, np.maximum(t_a, t_b), out=t_far)
    return np.where((t_near <= t_far) & (t_near > EPS), t_near, np.inf)


def box_normals(points: np.ndarray, box: Box) -> np.ndarray:
    c, s = np.cos(box.yaw), np.sin(box.yaw)
    rotate = np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])
    local = (points - np.array(box.center)) @ rotate.T / np.array(box.half)
    axis = np.abs(local).argmax(axis=1)
    normals_local = np.zeros_like(local)
    normals_local[np.arange(len(local)), axis] = np.sign(local[np.arange(len(local)), axis])
    return normals_local @ rotate


def ray_cylinder(origin: np.ndarray, directions: np.ndarray, cylinder: Cylinder) -> np.ndarray:
    ox, oy = origin[0] - cylinder.center_xy[0], origin[1] - cylinder.center_xy[1]
    dx, dy, dz = directions[:, 0], directions[:, 1], directions[:, 2]
    a = dx * dx + dy * dy
    b = 2 * (ox * dx + oy * dy)
    c = ox * ox + oy * oy - cylinder.radius**2
    discriminant = b * b - 4 * a * c
    with np.errstate(invalid="ignore", divide="ignore"):
        t_side = (-b - np.sqrt(discriminant)) / (2 * a)
    z_side = origin[2] + t_side * dz
    side_ok = (
        (discriminant >= 0)
        & (a > EPS)
        & (t_side > EPS)
        & (z_side >= cylinder.z0)
        & (z_side <= cylinder.z1)
    )
    t = np.where(side_ok, t_side, np.inf)
    for cap, facing in (
        (cylinder.z1, origin[2] > cylinder.z1),
        (cylinder.z0, origin[2] < cylinder.z0),
    ):
        if not facing:
            continue
        safe = np.where(np.abs(dz) < EPS, EPS, dz)
        t_cap = (cap - origin[2]) / safe
        radial = (ox + t_cap * dx) ** 2 + (oy + t_cap * dy) ** 2
        cap_ok = (t_cap > EPS) & (radial <= cylinder.radius**2)
        t = np.where(cap_ok & (t_cap < t), t_cap, t)
    return t


def cylinder_normals(points: np.ndarray, cylinder: Cylinder) -> np.ndarray:
    radial = points[:, :2] - np.array(cylinder.center_xy)
    distance = np.linalg.norm(radial, axis=1)
    to_side = np.abs(distance - cylinder.radius)
    to_top, to_bottom = np.abs(points[:, 2] - cylinder.z1), np.abs(points[:, 2] - cylinder.z0)
    normals = np.zeros_like(points)
    normals[:, :2] = radial / np.maximum(distance, EPS)[:, None]
    on_top = (to_top < to_side) & (to_top <= to_bottom)
    on_bottom = (to_bottom < to_side) & ~on_top
    normals[on_top] = (0.0, 0.0, 1.0)
    normals[on_bottom] = (0.0, 0.0, -1.0)
    return normals


def room_hits(
    origin: np.ndarray, directions: np.ndarray, size: tuple[float, float, float]
) -> tuple[np.ndarray, np.ndarray]:
    """Distance to the room's inside and which face: 0 x=0, 1 x=max, 2 y=0, 3 y=max, 4 floor,
    5 ceiling."""
    upper = np.array(size)
    safe = np.where(np.abs(directions) < EPS, EPS, directions)
    t_axes = np.where(safe > 0, (upper - origin) / safe, (0.0 - origin) / safe)
    axis = t_axes.argmin(axis=1)
    t = t_axes[np.arange(len(t_axes)), axis]
    positive = safe[np.arange(len(safe)), axis] > 0
    face = np.array([0, 2, 4])[axis] + positive
    return t, face


def checked_size(size: tuple[int, int]) -> tuple[int, int]:
    height, width = (int(v) for v in size)
    if height < 8 or width < 8:
        raise ValueError(f"image size (height, width) must be at least 8x8, got {size}")
    return height, width




def camera_rays(pose: CameraPose, K: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(H*W, 3) room-frame ray directions scaled so that optical z = 1 (t is the depth)."""
    height, width = size
    u, v = np.meshgrid(np.arange(width, dtype=np.float64), np.arange(height, dtype=np.float64))
    rays_optical = np.stack(
        [(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], np.ones_like(u)], axis=-1
    ).reshape(-1, 3)
    return rays_optical @ pose.rotation().T


def cast(
    room_size: tuple[float, float, float],
    primitives: list,
    pose: CameraPose,
    K: np.ndarray,
    size: tuple[int, int],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Nearest hit per pixel: (directions, depth, owner primitive index or -1, room face)."""
    directions = camera_rays(pose, K, size)
    origin = np.array(pose.position)
    depth, face = room_hits(origin, directions, room_size)
    owner = np.full(depth.shape, -1)
    for index, primitive in enumerate(primitives):
        pixels = screen_pixels(primitive, pose, K, size)
        if pixels is not None and len(pixels) == 0:
            continue
        subset = directions if pixels is None else directions[pixels]
        hit = (
            ray_box(origin, subset, primitive)
            if isinstance(primitive, Box)
            else ray_cylinder(origin, subset, primitive)
        )
        if pixels is None:
            pixels = np.arange(len(depth))
        closer = hit < depth[pixels]
        depth[pixels[closer]], owner[pixels[closer]] = hit[closer], index
    return directions, depth, owner, face


def primitive_normals(points: np.ndarray, primitive: Box | Cylinder) -> np.ndarray:
    """Outward unit normals of `primitive` at surface points."""
    if isinstance(primitive, Box):
        return box_normals(points, primitive)
    return cylinder_normals(points, primitive)
