"""Rooms for the realistic style: the shell, its surfaces, lights, and where things go.

Room frame: x, y on the floor, z up, floor at z = 0; walls 0..3 are x = 0, x = max, y = 0,
y = max. Furniture against a wall has its local +x axis pointing into the room (its back to
the wall). Footprints keep furniture apart and cameras out of it; wall spans keep doors,
windows and pictures from overlapping.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

import sgnet_ros.training.synthetic.materials as mat
from sgnet_ros.pipeline import nyu40
from sgnet_ros.training.synthetic.geometry import Box, Cylinder

(WALL, FLOOR, CABINET, BED, CHAIR, SOFA, TABLE, DOOR, WINDOW, PICTURE, COUNTER, DESK,
 SHELVES, CEILING, BOX, LAMP, OTHERPROP) = (
    nyu40.CLASS_NAMES.index(name)
    for name in ("wall", "floor", "cabinet", "bed", "chair", "sofa", "table", "door", "window",
                 "picture", "counter", "desk", "shelves", "ceiling", "box", "lamp", "otherprop")
)  # fmt: skip
TRAINED_CLASS_IDS: tuple[int, ...] = tuple(
    sorted((WALL, FLOOR, CABINET, BED, CHAIR, SOFA, TABLE, DOOR, WINDOW, PICTURE, COUNTER,
            DESK, SHELVES, CEILING, BOX, LAMP, OTHERPROP))
)  # fmt: skip
"""The NYU40 ids the realistic style draws: the classes a model trained on it knows."""

# Per class: (texture kind, colour family, weight).
_LOOKS = {
    WALL: (("plaster", mat.PALE, 0.35), ("plaster", mat.WARM_PALE, 0.2),
           ("wallpaper", mat.PALE, 0.2), ("plain", mat.FABRIC, 0.1), ("tiles", mat.PALE, 0.05),
           ("plaster", mat.GREY, 0.1)),
    FLOOR: (("planks", mat.WOOD, 0.45), ("tiles", mat.GREY, 0.15), ("tiles", mat.WARM_PALE, 0.1),
            ("carpet", mat.FABRIC, 0.2), ("plain", mat.GREY, 0.1)),
    CEILING: (("plaster", mat.PALE, 1.0),),
    CABINET: (("wood", mat.WOOD, 0.45), ("plain", mat.PALE, 0.3), ("plain", mat.DARK, 0.1),
              ("metal", mat.GREY, 0.15)),
    BED: (("fabric", mat.FABRIC, 0.6), ("fabric", mat.PALE, 0.4)),
    SOFA: (("fabric", mat.FABRIC, 0.7), ("leather", mat.DARK, 0.15), ("leather", mat.WOOD, 0.15)),
    CHAIR: (("wood", mat.WOOD, 0.35), ("fabric", mat.FABRIC, 0.3), ("plain", mat.DARK, 0.15),
            ("metal", mat.GREY, 0.1), ("leather", mat.DARK, 0.1)),
    TABLE: (("wood", mat.WOOD, 0.6), ("plain", mat.PALE, 0.2), ("plain", mat.DARK, 0.1),
            ("metal", mat.GREY, 0.1)),
    DESK: (("wood", mat.WOOD, 0.5), ("plain", mat.PALE, 0.3), ("plain", mat.DARK, 0.2)),
    SHELVES: (("wood", mat.WOOD, 0.55), ("plain", mat.PALE, 0.3), ("plain", mat.DARK, 0.15)),
    COUNTER: (("tiles", mat.PALE, 0.2), ("plain", mat.GREY, 0.4), ("wood", mat.WOOD, 0.2),
              ("plain", mat.DARK, 0.2)),
    BOX: (("paper", mat.CARDBOARD, 0.7), ("plain", mat.VIVID, 0.3)),
    OTHERPROP: (("plain", mat.VIVID, 0.4), ("plain", mat.DARK, 0.2), ("metal", mat.GREY, 0.15),
                ("fabric", mat.FABRIC, 0.15), ("plain", mat.PALE, 0.1)),
    LAMP: (("metal", mat.GREY, 0.5), ("plain", mat.DARK, 0.3), ("wood", mat.WOOD, 0.2)),
    DOOR: (("door", mat.PALE, 0.5), ("door", mat.WOOD, 0.5)),
}  # fmt: skip


def look(label: int, rng: np.random.Generator) -> mat.Surface:
    """A random surface for class `label` from its usual materials."""
    options = _LOOKS[label]
    weights = np.array([weight for *_, weight in options])
    kind, family, _ = options[rng.choice(len(options), p=weights / weights.sum())]
    specular = 0.3 if kind in ("metal", "plain") and label not in (WALL, CEILING) else 0.0
    return mat.surface(kind, family, rng, specular=specular)


@dataclass(frozen=True)
class Light:
    """A point light: position (room frame) and linear RGB intensity at 1 m."""

    position: tuple[float, float, float]
    colour: tuple[float, float, float]


@dataclass
class Room:
    """Room extents (metres), shell surfaces, primitives, lights and placement book-keeping."""

    size: tuple[float, float, float]
    walls: tuple[mat.Surface, mat.Surface, mat.Surface, mat.Surface]
    floor: mat.Surface
    ceiling: mat.Surface
    primitives: list[Box | Cylinder] = field(default_factory=list)
    footprints: list[tuple[float, float, float, float]] = field(default_factory=list)
    lights: list[Light] = field(default_factory=list)
    ambient: float = 0.3
    wall_spans: list[tuple[int, float, float, float, float]] = field(default_factory=list)

    def is_free(self, position: np.ndarray, margin: float = 0.3) -> bool:
        """Whether a camera at `position` is inside the room and clear of all furniture."""
        x, y, z = position
        inside = (
            margin <= x <= self.size[0] - margin
            and margin <= y <= self.size[1] - margin
            and 0.1 <= z <= self.size[2] - 0.2
        )
        return inside and all(
            np.hypot(x - fx, y - fy) > radius + margin or z > top + margin
            for fx, fy, radius, top in self.footprints
        )

    def add(self, primitive: Box | Cylinder) -> None:
        self.primitives.append(primitive)

    def wall_length(self, wall: int) -> float:
        return self.size[1] if wall < 2 else self.size[0]


def local_to_room(x: float, y: float, yaw: float, dx: float, dy: float) -> tuple[float, float]:
    """A furniture-local offset (dx forward, dy left) to room coordinates."""
    c, s = np.cos(yaw), np.sin(yaw)
    return x + c * dx - s * dy, y + s * dx + c * dy


def on_wall(
    size: tuple[float, float, float], wall: int, along: float, offset: float
) -> tuple[float, float, float]:
    """(x, y, yaw) of a point `offset` metres in front of wall `wall` at `along`, facing
    into a room of extents `size`."""
    size_x, size_y, _ = size
    return {
        0: (offset, along, 0.0),
        1: (size_x - offset, along, np.pi),
        2: (along, offset, np.pi / 2),
        3: (along, size_y - offset, -np.pi / 2),
    }[wall]


def free_wall_span(
    room: Room, rng: np.random.Generator, width: float, z0: float, z1: float, tries: int = 20
) -> tuple[int, float] | None:
    """A wall and a centre along it where [z0, z1] x width touches no door, window or picture."""
    for _ in range(tries):
        wall = int(rng.integers(4))
        length = room.wall_length(wall)
        if width + 0.3 > length:
            continue
        along = float(rng.uniform(width / 2 + 0.15, length - width / 2 - 0.15))
        clash = any(
            w == wall and abs(along - a) < (width + span) / 2 + 0.1 and z0 < top and bottom < z1
            for w, a, span, bottom, top in room.wall_spans
        )
        if not clash:
            room.wall_spans.append((wall, along, width, z0, z1))
            return wall, along
    return None


class Layout:
    """Rejection sampling of non-overlapping furniture footprints."""

    def __init__(self, room: Room, rng: np.random.Generator) -> None:
        self.room, self.rng = room, rng

    def place(
        self, radius: float, against_wall: bool, depth: float, top: float, tries: int = 30
    ) -> tuple[float, float, float] | None:
        """(x, y, yaw) of a free spot; against a wall the object's back faces the wall."""
        size_x, size_y, _ = self.room.size
        if radius >= min(size_x, size_y) / 2:
            return None
        for _ in range(tries):
            if against_wall:
                wall = int(self.rng.integers(4))
                length = self.room.wall_length(wall)
                along = self.rng.uniform(radius, length - radius)
                x, y, yaw = on_wall(self.room.size, wall, along, depth / 2 + 0.01)
                yaw += self.rng.normal(0, 0.02)
            else:
                x = self.rng.uniform(radius + 0.1, size_x - radius - 0.1)
                y = self.rng.uniform(radius + 0.1, size_y - radius - 0.1)
                yaw = self.rng.uniform(-np.pi, np.pi)
            if self.claim(x, y, radius, top, inside=not against_wall):
                return x, y, yaw
        return None

    def claim(self, x: float, y: float, radius: float, top: float, inside: bool = True) -> bool:
        """Reserve the footprint at (x, y) for a piece `top` metres high if it is clear."""
        if not self.is_clear(x, y, radius, inside):
            return False
        self.room.footprints.append((x, y, radius, top))
        return True

    def is_clear(self, x: float, y: float, radius: float, inside: bool = True) -> bool:
        """No footprint within `radius`; with `inside`, also not across a wall."""
        size_x, size_y, _ = self.room.size
        edge = radius * 0.5
        if inside and not (edge <= x <= size_x - edge and edge <= y <= size_y - edge):
            return False
        return all(
            np.hypot(x - fx, y - fy) > radius + fr for fx, fy, fr, _ in self.room.footprints
        )


def new_room(rng: np.random.Generator) -> Room:
    """An empty room shell: extents, wall/floor/ceiling surfaces, ambient level."""
    extents = ((2.8, 7.0), (2.8, 7.0), (2.4, 3.2))
    size = tuple(float(rng.uniform(low, high)) for low, high in extents)
    wall = look(WALL, rng)
    walls = [wall] * 4
    if rng.random() < 0.3:  # an accent wall
        walls[int(rng.integers(4))] = look(WALL, rng)
    return Room(
        size=size,
        walls=tuple(walls),
        floor=look(FLOOR, rng),
        ceiling=look(CEILING, rng),
        ambient=float(rng.uniform(0.15, 0.4)),
    )


def warm_light(rng: np.random.Generator, power: float) -> tuple[float, float, float]:
    """Incandescent to daylight white, scaled to `power`."""
    warmth = rng.uniform(-0.15, 0.25)
    return (power * (1 + warmth), power, power * (1 - warmth))
