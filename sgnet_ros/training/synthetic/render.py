"""The realistic style's renderer: textured surfaces lit by point lights, with shadows.

Hits come from the shared analytic ray caster; each surface's texture is evaluated in its
own plane, shading is Lambert from up to three lights plus ambient, and the strongest light
casts shadows (one shadow ray per pixel on a quarter-resolution grid, smoothed when
upsampled: soft shadows for a sixteenth of the cost). The camera and depth sensor then
degrade the clean image and depth the way real devices do.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from sgnet_ros.training.synthetic.camera import ImagePipeline, develop
from sgnet_ros.training.synthetic.geometry import (
    Box,
    CameraPose,
    Cylinder,
    SyntheticFrame,
    cast,
    checked_size,
    ray_box,
    ray_cylinder,
)
from sgnet_ros.training.synthetic.layout import CEILING, FLOOR, WALL, Room
from sgnet_ros.training.synthetic.materials import texture
from sgnet_ros.training.synthetic.sensor import DepthCamera, SensorNoise, sensor_depth

SHADOW_STRIDE = 4
_ROOM_NORMALS = np.array(
    [(1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0), (0, 0, 1), (0, 0, -1)], dtype=np.float64
)


@dataclass(frozen=True)
class Devices:
    """The colour camera's image pipeline and the depth sensor, drawn once per sequence."""

    image: ImagePipeline
    depth: DepthCamera

    @classmethod
    def sample(cls, rng: np.random.Generator) -> Devices:
        return cls(ImagePipeline.sample(rng), DepthCamera.sample(rng))


def _room_coordinates(points: np.ndarray, face: int, size: tuple) -> tuple:
    x, y, z = points[:, 0], points[:, 1], points[:, 2]
    if face < 2:
        u, v, extent = y, z, (size[1], size[2])
    elif face < 4:
        u, v, extent = x, z, (size[0], size[2])
    else:
        u, v, extent = x, y, (size[0], size[1])
    return u, v, u / extent[0], v / extent[1]


def _box_coordinates(points: np.ndarray, box: Box) -> tuple:
    """Normals and in-face coordinates on a yawed box (v up on its vertical faces)."""
    c, s = np.cos(box.yaw), np.sin(box.yaw)
    rotate = np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])
    half = np.array(box.half)
    local = (points - np.array(box.center)) @ rotate.T
    axis = np.abs(local / half).argmax(axis=1)
    rows = np.arange(len(local))
    normals_local = np.zeros_like(local)
    normals_local[rows, axis] = np.sign(local[rows, axis])
    first = np.where(axis == 0, 1, 0)
    second = np.where(axis == 2, 1, 2)
    u, v = local[rows, first], local[rows, second]
    fu = (u + half[first]) / (2 * half[first])
    fv = (v + half[second]) / (2 * half[second])
    return normals_local @ rotate, u, v, fu, fv


def _cylinder_coordinates(points: np.ndarray, cylinder: Cylinder) -> tuple:
    radial = points[:, :2] - np.array(cylinder.center_xy)
    distance = np.linalg.norm(radial, axis=1)
    z = points[:, 2]
    normals = np.zeros_like(points)
    normals[:, :2] = radial / np.maximum(distance, 1e-6)[:, None]
    on_cap = np.minimum(np.abs(z - cylinder.z1), np.abs(z - cylinder.z0)) < np.abs(
        distance - cylinder.radius
    )
    normals[on_cap] = 0.0
    normals[on_cap, 2] = np.where(np.abs(z - cylinder.z1) < np.abs(z - cylinder.z0), 1.0, -1.0)[
        on_cap
    ]
    angle = np.arctan2(radial[:, 1], radial[:, 0])
    u = np.where(on_cap, radial[:, 0], angle * cylinder.radius)
    v = np.where(on_cap, radial[:, 1], z)
    fu = angle / (2 * np.pi) + 0.5
    fv = (z - cylinder.z0) / max(cylinder.z1 - cylinder.z0, 1e-6)
    return normals, u, v, fu, fv


def _shadowed(room: Room, points: np.ndarray, light: np.ndarray) -> np.ndarray:
    """Whether each point is hidden from `light` by a primitive (the shell casts none)."""
    directions = points - light  # t = 1 at the point
    blocked = np.zeros(len(points), dtype=bool)
    for primitive in room.primitives:
        if primitive.material.emission > 0:  # lamp shades and windows let light through
            continue
        if isinstance(primitive, Box) and max(primitive.half) < 0.05:
            continue  # handles and the like: shadows too small for the shadow grid
        hit = (
            ray_box(light, directions, primitive)
            if isinstance(primitive, Box)
            else ray_cylinder(light, directions, primitive)
        )
        blocked |= hit < 0.97
    return blocked


def render(
    room: Room,
    pose: CameraPose,
    K: np.ndarray,
    size: tuple[int, int],
    rng: np.random.Generator,
    noise: SensorNoise | None = None,
    devices: Devices | None = None,
) -> SyntheticFrame:
    """Ray-cast the room from `pose`: developed rgb8, sensor depth, labels, clean depth."""
    height, width = checked_size(size)
    noise = SensorNoise() if noise is None else noise
    devices = Devices.sample(rng) if devices is None else devices
    directions, depth, owner, face = cast(room.size, room.primitives, pose, K, (height, width))
    points = np.array(pose.position) + directions * depth[:, None]
    count = len(depth)
    labels = np.empty(count, dtype=np.uint8)
    albedo = np.empty((count, 3))
    normals = np.empty((count, 3))
    emission = np.zeros(count)
    glass = np.zeros(count, dtype=bool)
    specular = np.zeros(count, dtype=bool)

    def fill(pixels: np.ndarray, surface, label: int, coordinates: tuple) -> None:
        surface_normals, u, v, fu, fv = coordinates
        colour, is_glass = texture(surface, u, v, fu, fv)
        normals[pixels], albedo[pixels], labels[pixels] = surface_normals, colour, label
        specular[pixels] = surface.specular
        if surface.emission > 0:
            lit = is_glass if surface.kind == "window" else np.ones(len(u), dtype=bool)
            emission[pixels] = surface.emission * lit
            glass[pixels] = is_glass

    # Pixels grouped by what they hit (-1 - face for the shell), as index lists: each
    # surface then costs in proportion to its pixels, not to the image.
    key = np.where(owner >= 0, owner, -1 - face)
    order = np.argsort(key, kind="stable")
    groups = np.arange(-6, len(room.primitives) + 1)
    bounds = np.searchsorted(key[order], groups)
    shell = (*room.walls, room.floor, room.ceiling)
    shell_labels = (WALL, WALL, WALL, WALL, FLOOR, CEILING)
    for position, group in enumerate(groups[:-1]):
        pixels = order[bounds[position] : bounds[position + 1]]
        if len(pixels) == 0:
            continue
        hits = points[pixels]
        if group < 0:
            index = -1 - group
            u, v, fu, fv = _room_coordinates(hits, index, room.size)
            fill(pixels, shell[index], shell_labels[index], (_ROOM_NORMALS[index], u, v, fu, fv))
            continue
        primitive = room.primitives[group]
        coordinates = (
            _box_coordinates(hits, primitive)
            if isinstance(primitive, Box)
            else _cylinder_coordinates(hits, primitive)
        )
        fill(pixels, primitive.material, primitive.label, coordinates)

    irradiance = np.full((count, 3), room.ambient)
    columns = [np.ascontiguousarray(points[:, axis]) for axis in range(3)]
    normal_columns = [np.ascontiguousarray(normals[:, axis]) for axis in range(3)]
    for number, light in enumerate(room.lights[:3]):
        to_light = [light.position[axis] - columns[axis] for axis in range(3)]
        distance2 = to_light[0] ** 2 + to_light[1] ** 2 + to_light[2] ** 2
        cosine = sum(n * t for n, t in zip(normal_columns, to_light, strict=True))
        falloff = np.clip(cosine / np.sqrt(distance2), 0.0, 1.0) / (distance2 + 0.5)
        if number == 0:
            grid = points.reshape(height, width, 3)[::SHADOW_STRIDE, ::SHADOW_STRIDE]
            blocked = _shadowed(room, grid.reshape(-1, 3), np.array(light.position))
            lit = cv2.resize((~blocked).reshape(grid.shape[:2]).astype(np.float32),
                             (width, height), interpolation=cv2.INTER_LINEAR)
            falloff = falloff * (0.15 + 0.85 * lit.ravel())
        irradiance += falloff[:, None] * np.array(light.colour)[None, :]
    radiance = albedo * irradiance + emission[:, None] * np.array([0.95, 0.97, 1.0])
    rgb = develop(radiance.reshape(height, width, 3), devices.image, rng, noise)

    clean = depth.reshape(height, width).astype(np.float32)
    view = -directions / np.linalg.norm(directions, axis=1, keepdims=True)
    glint = specular & (np.abs((normals * view).sum(axis=1)) > 0.97)
    luminance = albedo @ np.array([0.2126, 0.7152, 0.0722])
    noisy = sensor_depth(
        clean,
        luminance.reshape(height, width),
        glass.reshape(height, width),
        glint.reshape(height, width),
        rng,
        noise,
        devices.depth,
    )
    return SyntheticFrame(
        rgb=rgb,
        depth_m=noisy,
        labels=labels.reshape(height, width),
        K=np.asarray(K, dtype=np.float64),
        pose=pose,
        clean_depth_m=clean,
    )
