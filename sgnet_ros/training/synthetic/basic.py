"""The "basic" style: the first generator, kept so the shipped model's figures reproduce.

Eight classes, flat-coloured boxes and cylinders under one light. A room is an axis-aligned
box (room frame: x, y on the floor, z up, floor at z = 0) holding furniture built from yawed
boxes and vertical cylinders. Every pixel's ray is intersected
with every primitive in closed form, so depth, labels and colour come from the same hit and
are consistent by construction. Colour is lambertian shading of procedural textures; depth
gets a structured-light sensor model (depth-dependent noise, disparity quantisation, holes
at edges and on dark or specular surfaces). Labels are NYUDv2-40 ids (0-based).
Everything is deterministic per seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sgnet_ros.pipeline import nyu40
from sgnet_ros.training.synthetic.geometry import (
    EPS,
    Box,
    CameraPose,
    Cylinder,
    SyntheticFrame,
    box_normals,
    cast,
    checked_size,
    cylinder_normals,
)
from sgnet_ros.training.synthetic.layout import local_to_room, on_wall
from sgnet_ros.training.synthetic.sensor import SensorNoise

WALL, FLOOR, CABINET, BED, CHAIR, TABLE, CEILING, BOX = (
    nyu40.CLASS_NAMES.index(name)
    for name in ("wall", "floor", "cabinet", "bed", "chair", "table", "ceiling", "box")
)
BASIC_CLASS_IDS: tuple[int, ...] = tuple(
    sorted((WALL, FLOOR, CABINET, BED, CHAIR, TABLE, CEILING, BOX))
)
"""The NYU40 ids this style draws; every label pixel is one of these."""

STEREO_FOCAL_BASELINE = 525.0 * 0.075  # pixel-metres of a Kinect-like projector/camera pair
DEPTH_RANGE_M = (0.4, 8.0)


# --------------------------------------------------------------------------- scene description


@dataclass(frozen=True)
class Material:
    """Albedo (linear 0..1 RGB) and a procedural texture evaluated at the 3-D hit point."""

    albedo: tuple[float, float, float]
    texture: str = "plain"  # plain | noise | stripes | checker
    strength: float = 0.0
    scale: float = 1.0
    phase: tuple[float, ...] = (0.0, 0.0, 0.0)
    specular: bool = False


@dataclass
class Room:
    """Room extents (metres), its surfaces' materials, furniture and a point light."""

    size: tuple[float, float, float]
    wall_materials: tuple[Material, Material, Material, Material]  # x=0, x=max, y=0, y=max
    floor_material: Material
    ceiling_material: Material
    primitives: list[Box | Cylinder] = field(default_factory=list)
    footprints: list[tuple[float, float, float, float]] = field(default_factory=list)
    light: tuple[float, float, float] = (0.0, 0.0, 0.0)
    ambient: float = 0.4

    def is_free(self, position: np.ndarray, margin: float = 0.3) -> bool:
        """Whether a camera at `position` is inside the room and clear of all furniture."""
        x, y, z = position
        inside = (
            margin <= x <= self.size[0] - margin
            and margin <= y <= self.size[1] - margin
            and 0.1 <= z <= self.size[2] - 0.2
        )
        if not inside:
            return False
        return all(
            np.hypot(x - fx, y - fy) > radius + margin or z > top + margin
            for fx, fy, radius, top in self.footprints
        )


# ------------------------------------------------------------------------------- room builder


def _hsv(hue: float, saturation: float, value: float) -> tuple[float, float, float]:
    sector = int(hue * 6.0) % 6
    fraction = hue * 6.0 - np.floor(hue * 6.0)
    p, q = value * (1 - saturation), value * (1 - fraction * saturation)
    t = value * (1 - (1 - fraction) * saturation)
    rgb = [
        (value, t, p),
        (q, value, p),
        (p, value, t),
        (p, q, value),
        (t, p, value),
        (value, p, q),
    ][sector]
    return tuple(float(c) for c in rgb)


# Colour families per class, (hue range, saturation range, value range), chosen at random.
_WOOD = ((0.05, 0.11), (0.35, 0.7), (0.25, 0.75))
_PALE = ((0.0, 1.0), (0.0, 0.2), (0.7, 0.95))
_FABRIC = ((0.0, 1.0), (0.2, 0.7), (0.3, 0.9))
_DARK = ((0.0, 1.0), (0.0, 0.3), (0.04, 0.2))
_GREY = ((0.0, 1.0), (0.0, 0.08), (0.35, 0.8))
_CARDBOARD = ((0.07, 0.11), (0.35, 0.6), (0.45, 0.8))
_COLOUR_FAMILIES = {
    WALL: ((_PALE, 0.75), (_FABRIC, 0.25)),
    FLOOR: ((_WOOD, 0.45), (_GREY, 0.3), (_FABRIC, 0.25)),
    CEILING: ((_PALE, 1.0),),
    CABINET: ((_WOOD, 0.5), (_PALE, 0.25), (_DARK, 0.1), (_FABRIC, 0.15)),
    BED: ((_FABRIC, 0.6), (_PALE, 0.4)),
    CHAIR: ((_WOOD, 0.35), (_FABRIC, 0.4), (_DARK, 0.15), (_GREY, 0.1)),
    TABLE: ((_WOOD, 0.55), (_PALE, 0.2), (_DARK, 0.1), (_GREY, 0.15)),
    BOX: ((_CARDBOARD, 0.6), (_FABRIC, 0.4)),
}
_TEXTURES = {
    WALL: ("plain", "noise"),
    FLOOR: ("stripes", "checker", "noise"),
    CEILING: ("plain",),
    CABINET: ("stripes", "plain", "noise"),
    BED: ("noise", "plain", "stripes"),
    CHAIR: ("plain", "stripes", "noise"),
    TABLE: ("stripes", "plain", "noise"),
    BOX: ("plain", "noise"),
}


def random_material(label: int, rng: np.random.Generator) -> Material:
    """A colour and texture drawn from the class's colour families."""
    families = _COLOUR_FAMILIES[label]
    weights = np.array([weight for _, weight in families])
    (hues, sats, vals), _ = families[rng.choice(len(families), p=weights / weights.sum())]
    albedo = _hsv(rng.uniform(*hues), rng.uniform(*sats), rng.uniform(*vals))
    texture = str(rng.choice(_TEXTURES[label]))
    strength = 0.0 if texture == "plain" else float(rng.uniform(0.08, 0.3))
    scale = float(rng.uniform(0.3, 0.8) if texture == "checker" else rng.uniform(2.0, 12.0))
    return Material(
        albedo=albedo,
        texture=texture,
        strength=strength,
        scale=scale,
        phase=tuple(float(v) for v in rng.uniform(0, 2 * np.pi, 6)),
        specular=bool(rng.random() < 0.15 and label in (CABINET, TABLE, BOX)),
    )


class _Layout:
    """Rejection sampling of non-overlapping furniture footprints."""

    def __init__(self, room: Room, rng: np.random.Generator) -> None:
        self.room, self.rng = room, rng

    def place(
        self, radius: float, against_wall: bool, depth: float, top: float, tries: int = 30
    ) -> tuple[float, float, float] | None:
        """(x, y, yaw) of a free spot; against a wall the object's back faces the wall."""
        size_x, size_y, _ = self.room.size
        for _ in range(tries):
            if against_wall:
                wall = self.rng.integers(4)
                along = self.rng.uniform(radius, (size_x if wall < 2 else size_y) - radius)
                x, y, yaw = on_wall(self.room.size, int(wall), along, depth / 2 + 0.02)
                yaw += self.rng.normal(0, 0.03)
            else:
                x = self.rng.uniform(radius + 0.1, size_x - radius - 0.1)
                y = self.rng.uniform(radius + 0.1, size_y - radius - 0.1)
                yaw = self.rng.uniform(-np.pi, np.pi)
            clear = all(
                np.hypot(x - fx, y - fy) > radius + fr for fx, fy, fr, _ in self.room.footprints
            )
            if clear and radius < min(size_x, size_y) / 2:
                self.room.footprints.append((x, y, radius, top))
                return x, y, yaw
        return None


def _legs(
    x: float,
    y: float,
    yaw: float,
    half_x: float,
    half_y: float,
    height: float,
    thickness: float,
    label: int,
    material: Material,
) -> list[Box]:
    legs = []
    for sx in (-1, 1):
        for sy in (-1, 1):
            cx, cy = local_to_room(x, y, yaw, sx * (half_x - thickness), sy * (half_y - thickness))
            legs.append(
                Box(
                    (cx, cy, height / 2),
                    (thickness / 2, thickness / 2, height / 2),
                    yaw,
                    label,
                    material,
                )
            )
    return legs


def _add_cabinet(room: Room, layout: _Layout, rng: np.random.Generator) -> None:
    width, depth, height = rng.uniform(0.4, 1.4), rng.uniform(0.35, 0.6), rng.uniform(0.5, 2.1)
    spot = layout.place(np.hypot(width, depth) / 2, True, depth, height)
    if spot is None:
        return
    x, y, yaw = spot
    material = random_material(CABINET, rng)
    room.primitives.append(
        Box((x, y, height / 2), (depth / 2, width / 2, height / 2), yaw, CABINET, material)
    )
    if rng.random() < 0.5:  # a plinth or a door panel gives the front some structure
        fx, fy = local_to_room(x, y, yaw, depth / 2, 0.0)
        panel = random_material(CABINET, rng)
        room.primitives.append(
            Box(
                (fx, fy, height / 2),
                (0.01, width / 2 - 0.03, height / 2 - 0.05),
                yaw,
                CABINET,
                panel,
            )
        )


def _add_bed(room: Room, layout: _Layout, rng: np.random.Generator) -> None:
    width, length = rng.uniform(0.9, 1.8), rng.uniform(1.9, 2.1)
    top = rng.uniform(0.4, 0.65)
    spot = layout.place(np.hypot(width, length) / 2, True, length, top)
    if spot is None:
        return
    x, y, yaw = spot
    frame_material, sheet = random_material(BED, rng), random_material(BED, rng)
    frame_top = top - rng.uniform(0.12, 0.25)
    room.primitives.append(
        Box((x, y, frame_top / 2), (length / 2, width / 2, frame_top / 2), yaw, BED, frame_material)
    )
    room.primitives.append(
        Box(
            (x, y, (frame_top + top) / 2),
            (length / 2 - 0.02, width / 2 - 0.02, (top - frame_top) / 2),
            yaw,
            BED,
            sheet,
        )
    )
    head_height = rng.uniform(0.8, 1.25)
    hx, hy = local_to_room(x, y, yaw, -length / 2 + 0.03, 0.0)
    room.primitives.append(
        Box(
            (hx, hy, head_height / 2),
            (0.03, width / 2 + 0.03, head_height / 2),
            yaw,
            BED,
            frame_material,
        )
    )
    for side in (-1, 1) if width > 1.3 else (0,):  # pillows, part of the bed in NYU40 terms
        px, py = local_to_room(x, y, yaw, -length / 2 + 0.3, side * width / 4)
        room.primitives.append(
            Box((px, py, top + 0.06), (0.2, min(0.3, width / 4), 0.06), yaw, BED, sheet)
        )


def _add_table(room: Room, layout: _Layout, rng: np.random.Generator) -> None:
    height = rng.uniform(0.45, 0.8)
    material = random_material(TABLE, rng)
    round_table = rng.random() < 0.3
    if round_table:
        radius = rng.uniform(0.35, 0.6)
        spot = layout.place(radius + 0.05, False, 2 * radius, height)
        if spot is None:
            return
        x, y, _ = spot
        room.primitives += [
            Cylinder((x, y), radius, height - 0.04, height, TABLE, material),
            Cylinder((x, y), 0.04, 0.0, height, TABLE, material),
            Cylinder((x, y), radius * 0.5, 0.0, 0.03, TABLE, material),
        ]
        half_x = half_y = radius * 0.7
        yaw = 0.0
    else:
        length, width = rng.uniform(0.6, 1.6), rng.uniform(0.5, 1.0)
        spot = layout.place(np.hypot(length, width) / 2, rng.random() < 0.4, width, height)
        if spot is None:
            return
        x, y, yaw = spot
        thickness = rng.uniform(0.03, 0.06)
        half_x, half_y = width / 2, length / 2
        room.primitives.append(
            Box(
                (x, y, height - thickness / 2),
                (half_x, half_y, thickness / 2),
                yaw,
                TABLE,
                material,
            )
        )
        room.primitives += _legs(
            x, y, yaw, half_x, half_y, height - thickness, rng.uniform(0.04, 0.07), TABLE, material
        )
    for _ in range(rng.integers(0, 4)):  # objects on the table top
        size = rng.uniform(0.08, 0.3, 3) * (1.0, 1.0, 0.9)
        ox, oy = local_to_room(
            x,
            y,
            yaw,
            rng.uniform(-1, 1) * max(half_x - size[0], 0.0),
            rng.uniform(-1, 1) * max(half_y - size[1], 0.0),
        )
        room.primitives.append(
            Box(
                (ox, oy, height + size[2] / 2),
                tuple(size / 2),
                rng.uniform(-np.pi, np.pi),
                BOX,
                random_material(BOX, rng),
            )
        )
    for _ in range(rng.integers(0, 3)):  # chairs around the table
        angle = rng.uniform(-np.pi, np.pi)
        distance = max(half_x, half_y) + rng.uniform(0.35, 0.6)
        cx, cy = x + distance * np.cos(angle), y + distance * np.sin(angle)
        _add_chair(room, layout, rng, at=(cx, cy, angle))


def _add_chair(
    room: Room,
    layout: _Layout,
    rng: np.random.Generator,
    at: tuple[float, float, float] | None = None,
) -> None:
    seat, seat_height = rng.uniform(0.38, 0.5), rng.uniform(0.4, 0.5)
    back_height = seat_height + rng.uniform(0.3, 0.5)
    if at is None:
        spot = layout.place(seat * 0.75, False, seat, back_height)
        if spot is None:
            return
        x, y, yaw = spot
    else:
        x, y, yaw = at
        if (
            not room.is_free(np.array([x, y, 0.5]), margin=seat * 0.75)
            or min(x, y, room.size[0] - x, room.size[1] - y) < seat
        ):
            return
        room.footprints.append((x, y, seat * 0.75, back_height))
    material = random_material(CHAIR, rng)
    thickness = rng.uniform(0.04, 0.08)
    style = rng.random()
    if style < 0.2:  # a round stool
        room.primitives += [
            Cylinder((x, y), seat / 2, seat_height - thickness, seat_height, CHAIR, material),
            Cylinder((x, y), 0.03, 0.0, seat_height, CHAIR, material),
        ]
        return
    if style < 0.45:  # an upholstered armchair: solid base
        room.primitives.append(
            Box(
                (x, y, seat_height / 2), (seat / 2, seat / 2, seat_height / 2), yaw, CHAIR, material
            )
        )
    else:
        room.primitives.append(
            Box(
                (x, y, seat_height - thickness / 2),
                (seat / 2, seat / 2, thickness / 2),
                yaw,
                CHAIR,
                material,
            )
        )
        room.primitives += _legs(
            x, y, yaw, seat / 2, seat / 2, seat_height - thickness, 0.035, CHAIR, material
        )
    # The backrest sits on the side facing away from `yaw` (chairs face their table).
    bx, by = local_to_room(x, y, yaw, seat / 2 - 0.02, 0.0)
    room.primitives.append(
        Box(
            (bx, by, (seat_height + back_height) / 2),
            (0.02, seat / 2, (back_height - seat_height) / 2),
            yaw,
            CHAIR,
            material,
        )
    )


def _add_floor_box(room: Room, layout: _Layout, rng: np.random.Generator) -> None:
    size = rng.uniform(0.2, 0.6, 3)
    spot = layout.place(np.hypot(size[0], size[1]) / 2, rng.random() < 0.5, size[0], size[2])
    if spot is None:
        return
    x, y, yaw = spot
    room.primitives.append(
        Box((x, y, size[2] / 2), tuple(size / 2), yaw, BOX, random_material(BOX, rng))
    )


def generate_room(rng: np.random.Generator) -> Room:
    """A random room with beds, cabinets, tables (with objects and chairs), chairs and boxes."""
    size = (
        float(rng.uniform(3.0, 7.0)),
        float(rng.uniform(3.0, 7.0)),
        float(rng.uniform(2.4, 3.0)),
    )
    wall = random_material(WALL, rng)
    walls = [wall] * 4
    if rng.random() < 0.3:
        walls[int(rng.integers(4))] = random_material(WALL, rng)
    room = Room(
        size=size,
        wall_materials=tuple(walls),
        floor_material=random_material(FLOOR, rng),
        ceiling_material=random_material(CEILING, rng),
        light=(
            float(rng.uniform(0.3, 0.7) * size[0]),
            float(rng.uniform(0.3, 0.7) * size[1]),
            size[2] - 0.05,
        ),
        ambient=float(rng.uniform(0.3, 0.5)),
    )
    layout = _Layout(room, rng)
    if rng.random() < 0.5:
        _add_bed(room, layout, rng)
    for _ in range(rng.integers(1, 5)):
        _add_cabinet(room, layout, rng)
    for _ in range(rng.integers(1, 3)):
        _add_table(room, layout, rng)
    for _ in range(rng.integers(0, 4)):
        _add_chair(room, layout, rng)
    for _ in range(rng.integers(0, 5)):
        _add_floor_box(room, layout, rng)
    return room


def sample_camera(room: Room, rng: np.random.Generator, tries: int = 200) -> CameraPose:
    """A robot-like camera: height 0.3-1.8 m, pitch -40..+15 deg, roll +-10 deg, free spot.

    Most cameras aim roughly at a piece of furniture from 1.2 m or more away, the way a
    robot's view of a room is framed, rather than into the nearest bare wall.
    """
    for attempt in range(tries):
        position = np.array(
            [rng.uniform(0, room.size[0]), rng.uniform(0, room.size[1]), rng.uniform(0.3, 1.8)]
        )
        if not room.is_free(position):
            continue
        target = np.array([room.size[0] / 2, room.size[1] / 2, 1.0])
        if room.footprints and rng.random() < 0.8:
            x, y, _, top = room.footprints[rng.integers(len(room.footprints))]
            target = np.array([x, y, top / 2])
        offset = target - position
        if np.hypot(*offset[:2]) < 1.2 and attempt < tries // 2:
            continue
        yaw = np.arctan2(offset[1], offset[0]) + rng.uniform(-0.45, 0.45)
        pitch = np.arctan2(offset[2], np.hypot(*offset[:2])) + rng.uniform(-0.25, 0.25)
        pitch = np.clip(pitch, np.radians(-40), np.radians(15))
        return CameraPose(
            tuple(float(v) for v in position),
            float(yaw),
            float(pitch),
            float(np.radians(rng.uniform(-10, 10))),
        )
    raise ValueError("no free camera position found in the room")


# ------------------------------------------------------------------------------------ renderer


def _texture_factor(points: np.ndarray, normals: np.ndarray, material: Material) -> np.ndarray:
    """A multiplicative albedo modulation around 1 from the surface position."""
    if material.texture == "plain" or material.strength == 0.0:
        return np.ones(len(points))
    k, phase = material.scale, material.phase
    x, y, z = points[:, 0], points[:, 1], points[:, 2]
    if material.texture == "checker":
        # Tiles in the surface's own plane: drop the coordinate along the dominant normal axis.
        axis = np.abs(normals).argmax(axis=1)
        u = np.where(axis == 0, y, x)
        v = np.where(axis == 2, y, z)
        tile = (np.floor(u / k) + np.floor(v / k)) % 2
        return 1.0 + material.strength * (tile - 0.5)
    if material.texture == "stripes":
        along = np.cos(phase[3]) * x + np.sin(phase[3]) * y + 0.3 * z
        wobble = 0.8 * np.sin(0.7 * k * (np.sin(phase[4]) * x - np.cos(phase[4]) * y) + phase[1])
        return 1.0 + material.strength * np.sin(k * along + wobble + phase[0])
    wave = np.sin(k * 0.5 * x + phase[0]) * np.sin(k * 0.6 * y + phase[1]) + 0.5 * np.sin(
        k * (0.8 * z + 0.3 * x) + phase[2]
    )
    return 1.0 + material.strength * wave / 1.5


def render(
    room: Room,
    pose: CameraPose,
    K: np.ndarray,
    size: tuple[int, int],
    rng: np.random.Generator,
    noise: SensorNoise | None = None,
) -> SyntheticFrame:
    """Ray-cast the room from `pose`: rgb8, noisy depth (metres), labels, clean depth."""
    height, width = checked_size(size)
    noise = SensorNoise() if noise is None else noise
    directions, depth, owner, face = cast(room.size, room.primitives, pose, K, (height, width))
    origin = np.array(pose.position)

    points = origin + directions * depth[:, None]
    labels = np.empty(depth.shape, dtype=np.uint8)
    albedo = np.empty((len(depth), 3))
    normals = np.empty((len(depth), 3))
    specular = np.zeros(len(depth), dtype=bool)
    room_normals = np.array(
        [(1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0), (0, 0, 1), (0, 0, -1)], dtype=np.float64
    )
    room_materials = (*room.wall_materials, room.floor_material, room.ceiling_material)
    room_labels = (WALL, WALL, WALL, WALL, FLOOR, CEILING)
    surfaces = [(owner == -1) & (face == f) for f in range(6)]
    for f, mask in enumerate(surfaces):
        if mask.any():
            normals[mask] = room_normals[f]
            _shade_surface(mask, points, normals, room_materials[f], albedo, specular)
            labels[mask] = room_labels[f]
    for index, primitive in enumerate(room.primitives):
        mask = owner == index
        if not mask.any():
            continue
        normals[mask] = (
            box_normals(points[mask], primitive)
            if isinstance(primitive, Box)
            else cylinder_normals(points[mask], primitive)
        )
        _shade_surface(mask, points, normals, primitive.material, albedo, specular)
        labels[mask] = primitive.label

    to_light = np.array(room.light) - points
    distance = np.linalg.norm(to_light, axis=1, keepdims=True)
    lambert = np.clip((normals * to_light / distance).sum(axis=1), 0.0, 1.0)
    falloff = 1.0 / (1.0 + 0.05 * distance[:, 0] ** 2)
    shading = room.ambient + (1.0 - room.ambient) * 1.3 * lambert * falloff
    colour = np.clip(albedo * shading[:, None], 0.0, 1.0) ** (1 / 2.2) * 255.0
    if noise.rgb_noise > 0:
        colour += rng.normal(0.0, noise.rgb_noise, colour.shape)
    rgb = np.clip(np.round(colour), 0, 255).astype(np.uint8).reshape(height, width, 3)

    view = -directions / np.linalg.norm(directions, axis=1, keepdims=True)
    facing = np.abs((normals * view).sum(axis=1))
    clean = depth.reshape(height, width).astype(np.float32)
    noisy = _sensor_depth(
        clean,
        albedo.reshape(height, width, 3),
        (specular & (facing > 0.97)).reshape(height, width),
        rng,
        noise,
    )
    return SyntheticFrame(
        rgb=rgb,
        depth_m=noisy,
        labels=labels.reshape(height, width),
        K=np.asarray(K, dtype=np.float64),
        pose=pose,
        clean_depth_m=clean,
    )


def _shade_surface(
    mask: np.ndarray,
    points: np.ndarray,
    normals: np.ndarray,
    material: Material,
    albedo: np.ndarray,
    specular: np.ndarray,
) -> None:
    factor = _texture_factor(points[mask], normals[mask], material)
    albedo[mask] = np.clip(np.array(material.albedo)[None, :] * factor[:, None], 0.0, 1.0)
    specular[mask] = material.specular


def _sensor_depth(
    depth: np.ndarray,
    albedo: np.ndarray,
    specular_glint: np.ndarray,
    rng: np.random.Generator,
    noise: SensorNoise,
) -> np.ndarray:
    """Structured-light artefacts: axial noise, disparity steps, range limits and holes."""
    height, width = depth.shape
    result = depth.astype(np.float64)
    if noise.depth_noise > 0:
        # Axial sigma grows with the square of the range (Nguyen et al. 2012, Kinect v1);
        # the speckle makes it correlated over a few pixels, so it is drawn at 1/2 resolution.
        sigma = noise.depth_noise * (0.0012 + 0.0019 * (result - 0.4) ** 2)
        coarse = rng.normal(0.0, 1.0, ((height + 1) // 2, (width + 1) // 2))
        result += sigma * np.kron(coarse, np.ones((2, 2)))[:height, :width]
    if noise.quantise:
        disparity = np.round(STEREO_FOCAL_BASELINE / np.maximum(result, EPS) * 8.0) / 8.0
        result = STEREO_FOCAL_BASELINE / np.maximum(disparity, 1.0 / 8.0)
    holes = (depth < DEPTH_RANGE_M[0]) | (depth > DEPTH_RANGE_M[1])
    if noise.edge_holes > 0:
        jump = np.zeros_like(holes)
        relative = np.abs(np.diff(depth, axis=1)) / np.minimum(depth[:, 1:], depth[:, :-1])
        jump[:, 1:] |= relative > 0.05
        jump[:, :-1] |= relative > 0.05
        relative = np.abs(np.diff(depth, axis=0)) / np.minimum(depth[1:], depth[:-1])
        jump[1:] |= relative > 0.05
        holes |= jump & (rng.random(depth.shape) < noise.edge_holes)
    if noise.dark_holes > 0:
        luminance = albedo @ np.array([0.299, 0.587, 0.114])
        holes |= (luminance < 0.08) & (rng.random(depth.shape) < noise.dark_holes)
    if noise.specular_holes:
        holes |= specular_glint
    if noise.dropout > 0:
        block = 4
        coarse = rng.random(((height + block - 1) // block, (width + block - 1) // block))
        holes |= np.kron(coarse < noise.dropout, np.ones((block, block), dtype=bool))[
            :height, :width
        ]
    result[holes] = 0.0
    return result.astype(np.float32)
