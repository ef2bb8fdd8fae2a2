"""Furniture, wall fixtures, lamps and clutter for the realistic style, and whole rooms.

Each builder adds a piece made of boxes and cylinders to the room, with the class the NYU40
annotators would give it (a countertop is counter, the cupboards under it cabinet; books
and monitors are otherprop). Room types (bedroom, living room, kitchen, office) draw the
pieces that belong together, so layouts look like rooms rather than random showrooms.
"""

from __future__ import annotations

import numpy as np

import sgnet_ros.training.synthetic.materials as mat
from sgnet_ros.training.synthetic.geometry import Box, Cylinder
from sgnet_ros.training.synthetic.layout import (
    BED,
    BOX,
    CABINET,
    CHAIR,
    COUNTER,
    DESK,
    DOOR,
    FLOOR,
    LAMP,
    OTHERPROP,
    PICTURE,
    SHELVES,
    SOFA,
    TABLE,
    WINDOW,
    Layout,
    Light,
    Room,
    free_wall_span,
    local_to_room,
    look,
    new_room,
    on_wall,
    warm_light,
)

Rng = np.random.Generator


def _part(room: Room, x: float, y: float, yaw: float, local: tuple[float, float, float],
          half: tuple[float, float, float], label: int, surface: mat.Surface) -> None:
    """A box at furniture-local offset `local` (forward, left, height of its centre)."""
    cx, cy = local_to_room(x, y, yaw, local[0], local[1])
    room.add(Box((float(cx), float(cy), float(local[2])), tuple(float(h) for h in half),
                 float(yaw), label, surface))


def _legs(room: Room, x: float, y: float, yaw: float, half_x: float, half_y: float,
          height: float, thickness: float, label: int, surface: mat.Surface) -> None:
    for sx in (-1, 1):
        for sy in (-1, 1):
            _part(room, x, y, yaw, (sx * (half_x - thickness), sy * (half_y - thickness),
                                    height / 2), (thickness / 2, thickness / 2, height / 2),
                  label, surface)


# ------------------------------------------------------------------------- wall fixtures


def add_door(room: Room, rng: Rng) -> None:
    width, height = rng.uniform(0.75, 0.95), rng.uniform(1.98, 2.1)
    spot = free_wall_span(room, rng, width + 0.2, 0.0, height + 0.1)
    if spot is None:
        return
    wall, along = spot
    x, y, yaw = on_wall(room.size, wall, along, 0.0)
    frame = mat.surface("plain", mat.PALE if rng.random() < 0.7 else mat.WOOD, rng)
    _part(room, x, y, yaw, (0.0, 0.0, (height + 0.06) / 2), (0.025, width / 2 + 0.06,
                                                             (height + 0.06) / 2), DOOR, frame)
    _part(room, x, y, yaw, (0.02 if rng.random() < 0.8 else -0.02, 0.0, height / 2),
          (0.02, width / 2, height / 2), DOOR, look(DOOR, rng))
    fx, fy = local_to_room(x, y, yaw, 0.5, 0.0)
    room.footprints.append((float(fx), float(fy), width / 2 + 0.1, 0.0))  # keep it reachable


def add_window(room: Room, rng: Rng) -> None:
    width, height = rng.uniform(0.7, 2.2), rng.uniform(0.9, 1.6)
    bottom = rng.uniform(0.5, 1.1)
    top = min(bottom + height, room.size[2] - 0.15)
    spot = free_wall_span(room, rng, width + 0.1, bottom - 0.1, top + 0.05)
    if spot is None:
        return
    wall, along = spot
    x, y, yaw = on_wall(room.size, wall, along, 0.0)
    frame = mat.colour_from(mat.PALE if rng.random() < 0.8 else mat.WOOD, rng)
    window = mat.Surface("window", mat.colour_from(mat.PALE, rng), frame,
                         seed=int(rng.integers(1 << 30)), emission=float(rng.uniform(1.5, 6.0)))
    _part(room, x, y, yaw, (0.0, 0.0, (bottom + top) / 2), (0.03, width / 2, (top - bottom) / 2),
          WINDOW, window)
    sill = mat.Surface("plain", frame, frame)
    _part(room, x, y, yaw, (0.0, 0.0, bottom - 0.02), (0.08, width / 2 + 0.05, 0.02), WINDOW, sill)
    lx, ly = local_to_room(x, y, yaw, 0.6, 0.0)
    daylight = window.emission * rng.uniform(0.6, 1.2) * width * (top - bottom)
    room.lights.append(Light((float(lx), float(ly), (bottom + top) / 2),
                             (daylight * 0.9, daylight * 0.95, daylight)))


def add_picture(room: Room, rng: Rng) -> None:
    width = rng.uniform(0.25, 1.2)
    height = width * rng.uniform(0.5, 1.4)
    centre = rng.uniform(1.1, min(1.8, room.size[2] - height / 2 - 0.2))
    spot = free_wall_span(room, rng, width, centre - height / 2, centre + height / 2)
    if spot is None:
        return
    wall, along = spot
    x, y, yaw = on_wall(room.size, wall, along, 0.015)
    accent = mat.colour_from(mat.DARK if rng.random() < 0.5 else mat.WOOD, rng)
    poster = mat.Surface("poster", accent, accent, seed=int(rng.integers(1 << 30)),
                         specular=bool(rng.random() < 0.3))
    _part(room, x, y, yaw, (0.0, 0.0, centre), (0.015, width / 2, height / 2), PICTURE, poster)


# ------------------------------------------------------------------------------- lamps


def add_lamp_at(room: Room, rng: Rng, x: float, y: float, base_z: float, height: float) -> None:
    """A lamp standing at (x, y, base_z): base, pole and a shade that may be lit."""
    body = look(LAMP, rng)
    shade_radius = rng.uniform(0.1, 0.25) * (1.0 if height > 1.0 else 0.7)
    shade_height = rng.uniform(0.18, 0.35) * (1.0 if height > 1.0 else 0.7)
    lit = rng.random() < 0.7
    shade = mat.surface("shade", mat.WARM_PALE, rng, emission=float(rng.uniform(0.8, 2.0)) if lit
                        else 0.0)
    room.add(Cylinder((x, y), shade_radius * 0.8, base_z, base_z + 0.03, LAMP, body))
    room.add(Cylinder((x, y), 0.015, base_z, base_z + height - shade_height, LAMP, body))
    room.add(Cylinder((x, y), shade_radius, base_z + height - shade_height, base_z + height, LAMP,
                      shade))
    if lit:
        room.lights.append(Light((x, y, base_z + height - shade_height / 2),
                                 warm_light(rng, rng.uniform(0.4, 1.0))))


def add_floor_lamp(room: Room, layout: Layout, rng: Rng) -> None:
    height = rng.uniform(1.3, 1.8)
    spot = layout.place(0.25, rng.random() < 0.5, 0.5, height)
    if spot is not None:
        add_lamp_at(room, rng, spot[0], spot[1], 0.0, height)


def add_pendant(room: Room, rng: Rng, x: float, y: float) -> None:
    """A ceiling lamp over (x, y): a cord and a shade, lit."""
    drop = rng.uniform(0.3, 0.9)
    z1 = room.size[2]
    radius = rng.uniform(0.12, 0.3)
    body = look(LAMP, rng)
    room.add(Cylinder((x, y), 0.01, z1 - drop, z1, LAMP, body))
    shade = mat.surface("shade", mat.WARM_PALE if rng.random() < 0.6 else mat.VIVID, rng,
                        emission=float(rng.uniform(0.5, 1.5)))
    room.add(Cylinder((x, y), radius, z1 - drop - 0.25, z1 - drop, LAMP, shade))
    room.footprints.append((x, y, radius, z1))  # no camera under it: it would stand inside


# -------------------------------------------------------------------------- small things


def add_clutter_on(room: Room, rng: Rng, x: float, y: float, yaw: float, half_x: float,
                   half_y: float, z: float, count: int) -> None:
    """`count` small objects (otherprop, sometimes box) standing on a surface at height z."""
    for _ in range(count):
        dx = rng.uniform(-1, 1) * max(half_x - 0.08, 0.0)
        dy = rng.uniform(-1, 1) * max(half_y - 0.08, 0.0)
        ox, oy = local_to_room(x, y, yaw, dx, dy)
        kind = rng.random()
        if kind < 0.4:  # bottle, cup, vase
            radius, height = rng.uniform(0.03, 0.08), rng.uniform(0.08, 0.35)
            room.add(Cylinder((float(ox), float(oy)), radius, z, z + height, OTHERPROP,
                              look(OTHERPROP, rng)))
        elif kind < 0.6:  # a stack of books or papers
            size = rng.uniform((0.15, 0.2, 0.03), (0.3, 0.3, 0.15))
            books = mat.surface("books", mat.VIVID, rng)
            room.add(Box((float(ox), float(oy), z + size[2] / 2), tuple(size / 2),
                         float(rng.uniform(-np.pi, np.pi)), OTHERPROP, books))
        elif kind < 0.8:  # a monitor or a picture frame standing up
            width, height = rng.uniform(0.3, 0.65), rng.uniform(0.2, 0.45)
            surface = mat.surface("plain", mat.DARK, rng, specular=0.5)
            room.add(Box((float(ox), float(oy), z + 0.1 + height / 2),
                         (0.02, width / 2, height / 2),
                         float(yaw + rng.normal(0, 0.3)), OTHERPROP, surface))
            room.add(Cylinder((float(ox), float(oy)), 0.06, z, z + 0.1, OTHERPROP, surface))
        else:
            size = rng.uniform(0.08, 0.3, 3)
            room.add(Box((float(ox), float(oy), z + size[2] / 2), tuple(size / 2),
                         float(rng.uniform(-np.pi, np.pi)), BOX, look(BOX, rng)))


def add_floor_clutter(room: Room, layout: Layout, rng: Rng) -> None:
    """A bin, a plant, a bag or a stack of cardboard boxes on the floor."""
    kind = rng.random()
    if kind < 0.45:
        size = rng.uniform(0.25, 0.6, 3)
        spot = layout.place(np.hypot(size[0], size[1]) / 2, rng.random() < 0.6, size[0], size[2])
        if spot is None:
            return
        x, y, yaw = spot
        room.add(Box((x, y, size[2] / 2), tuple(size / 2), yaw, BOX, look(BOX, rng)))
        if rng.random() < 0.4:  # another one on top
            top = size * rng.uniform(0.5, 0.9, 3)
            room.add(Box((x, y, size[2] + top[2] / 2), tuple(top / 2), yaw + rng.normal(0, 0.2),
                         BOX, look(BOX, rng)))
        return
    radius, height = rng.uniform(0.1, 0.25), rng.uniform(0.25, 0.6)
    spot = layout.place(radius + 0.05, rng.random() < 0.5, 2 * radius, height)
    if spot is None:
        return
    x, y, _ = spot
    room.add(Cylinder((x, y), radius, 0.0, height, OTHERPROP, look(OTHERPROP, rng)))
    if kind < 0.75:  # a plant in the pot
        leaves = mat.surface("fabric", ((0.2, 0.4), (0.4, 0.8), (0.15, 0.5)), rng)
        room.add(Cylinder((x, y), radius * rng.uniform(1.2, 2.0), height + 0.05,
                          height + rng.uniform(0.3, 0.9), OTHERPROP, leaves))


def add_rug(room: Room, layout: Layout, rng: Rng) -> None:
    """A rug: floor in NYU40 terms, but a different texture on it (under furniture too)."""
    length, width = rng.uniform(1.2, 3.0), rng.uniform(0.8, 2.0)
    x, y = (float(rng.uniform(0.3, 0.7) * side) for side in room.size[:2])
    kind = "carpet" if rng.random() < 0.5 else "fabric"
    rug = mat.surface(kind, mat.FABRIC if rng.random() < 0.7 else mat.VIVID, rng)
    room.add(Box((x, y, 0.0004), (length / 2, width / 2, 0.0004), float(rng.uniform(0, np.pi)),
                 FLOOR, rug))  # thinner than a millimetre: floor pixels stay at floor height


# ---------------------------------------------------------------------------- furniture


def add_cabinet(room: Room, layout: Layout, rng: Rng, tall: bool | None = None) -> None:
    """A cupboard, wardrobe or chest of drawers against a wall, with door fronts."""
    tall = rng.random() < 0.4 if tall is None else tall
    width, depth = rng.uniform(0.4, 1.6), rng.uniform(0.35, 0.65)
    height = rng.uniform(1.5, 2.2) if tall else rng.uniform(0.45, 1.0)
    spot = layout.place(np.hypot(width, depth) / 2, True, depth, height)
    if spot is None:
        return
    x, y, yaw = spot
    body = look(CABINET, rng)
    _part(room, x, y, yaw, (0.0, 0.0, height / 2), (depth / 2, width / 2, height / 2), CABINET,
          body)
    _fronts(room, rng, x, y, yaw, depth, width, 0.08, height, body)
    if not tall and rng.random() < 0.6:
        add_clutter_on(room, rng, x, y, yaw, depth / 2, width / 2, height, int(rng.integers(1, 4)))
    elif not tall and rng.random() < 0.5:
        add_lamp_at(room, rng, x, y, height, rng.uniform(0.35, 0.6))


def _fronts(room: Room, rng: Rng, x: float, y: float, yaw: float, depth: float, width: float,
            z0: float, z1: float, body: mat.Surface) -> None:
    """Door or drawer fronts on a cabinet's face: panels with gaps and handles."""
    columns = min(6, max(1, int(round(width / rng.uniform(0.35, 0.6)))))
    rows = 1 if rng.random() < 0.6 else int(rng.integers(2, 4))
    front = body if rng.random() < 0.6 else look(CABINET, rng)
    handle = mat.surface("metal", mat.GREY, rng, specular=0.5)
    panel_w, panel_h = width / columns, (z1 - z0) / rows
    for column in range(columns):
        for row in range(rows):
            dy = -width / 2 + (column + 0.5) * panel_w
            z = z0 + (row + 0.5) * panel_h
            _part(room, x, y, yaw, (depth / 2 + 0.008, dy, z),
                  (0.008, panel_w / 2 - 0.006, panel_h / 2 - 0.006), CABINET, front)
            hy = dy + (panel_w * 0.35 if rows == 1 else 0.0) * (1 if column % 2 else -1)
            _part(room, x, y, yaw, (depth / 2 + 0.025, hy, z + (panel_h * 0.3 if rows == 1
                                                                else 0.0)),
                  (0.01, 0.01 if rows == 1 else 0.06, 0.06 if rows == 1 else 0.01), CABINET,
                  handle)


def add_counter(room: Room, layout: Layout, rng: Rng) -> None:
    """A kitchen run: cabinets (cabinet) under a countertop (counter), maybe wall cupboards."""
    length, depth, height = rng.uniform(1.2, 3.2), rng.uniform(0.55, 0.65), rng.uniform(0.86, 0.95)
    spot = layout.place(length / 2, True, depth, height)
    if spot is None:
        return
    x, y, yaw = spot
    body = look(CABINET, rng)
    _part(room, x, y, yaw, (-0.03, 0.0, (height - 0.04) / 2),
          (depth / 2 - 0.03, length / 2, (height - 0.04) / 2), CABINET, body)
    _fronts(room, rng, x - 0.03 * np.cos(yaw), y - 0.03 * np.sin(yaw), yaw, depth - 0.06, length,
            0.1, height - 0.05, body)
    thickness = rng.uniform(0.03, 0.05)
    top = look(COUNTER, rng)
    _part(room, x, y, yaw, (0.01, 0.0, height - thickness / 2),
          (depth / 2 + 0.01, length / 2 + 0.01, thickness / 2), COUNTER, top)
    add_clutter_on(room, rng, x, y, yaw, depth / 2, length / 2, height, int(rng.integers(1, 6)))
    if rng.random() < 0.6 and room.size[2] > 2.3:
        upper_depth, bottom = rng.uniform(0.3, 0.38), rng.uniform(1.4, 1.55)
        upper_top = min(bottom + rng.uniform(0.6, 0.8), room.size[2] - 0.05)
        back = -depth / 2 + upper_depth / 2
        _part(room, x, y, yaw, (back, 0.0, (bottom + upper_top) / 2),
              (upper_depth / 2, length / 2, (upper_top - bottom) / 2), CABINET, body)
        bx, by = local_to_room(x, y, yaw, back, 0.0)
        _fronts(room, rng, bx, by, yaw, upper_depth, length, bottom, upper_top, body)


def add_shelves(room: Room, layout: Layout, rng: Rng) -> None:
    """An open shelf unit (shelves) holding books and boxes."""
    width, depth, height = rng.uniform(0.6, 1.4), rng.uniform(0.25, 0.4), rng.uniform(0.8, 2.1)
    spot = layout.place(np.hypot(width, depth) / 2, rng.random() < 0.9, depth, height)
    if spot is None:
        return
    x, y, yaw = spot
    wood, side = look(SHELVES, rng), 0.02
    for sy in (-1, 1):
        _part(room, x, y, yaw, (0.0, sy * (width / 2 - side / 2), height / 2),
              (depth / 2, side / 2, height / 2), SHELVES, wood)
    _part(room, x, y, yaw, (-depth / 2 + 0.005, 0.0, height / 2), (0.005, width / 2, height / 2),
          SHELVES, wood)
    boards = int(rng.integers(2, 6))
    spacing = height / boards
    for index in range(boards + 1):
        z = min(index * spacing + 0.01, height - 0.01)
        _part(room, x, y, yaw, (0.0, 0.0, z), (depth / 2, width / 2 - side, 0.01), SHELVES, wood)
        if index == boards or rng.random() < 0.2:
            continue
        filled = rng.uniform(0.3, 0.95) * (width - 2 * side)
        book_height = min(rng.uniform(0.15, 0.32), spacing - 0.04)
        offset = rng.uniform(-1, 1) * (width - 2 * side - filled) / 2
        books = mat.surface("books", mat.VIVID, rng)
        label = BOX if rng.random() < 0.15 else OTHERPROP
        if label == BOX:
            books = look(BOX, rng)
        _part(room, x, y, yaw, (0.0, offset, z + 0.01 + book_height / 2),
              (depth / 2 - 0.03, filled / 2, book_height / 2), label, books)


def add_bed(room: Room, layout: Layout, rng: Rng) -> None:
    width, length, top = rng.uniform(0.9, 1.8), rng.uniform(1.9, 2.1), rng.uniform(0.45, 0.65)
    spot = layout.place(np.hypot(width, length) / 2, True, length, top)
    if spot is None:
        return
    x, y, yaw = spot
    frame, sheet = look(BED, rng), look(BED, rng)
    if rng.random() < 0.5:
        frame = mat.surface("wood", mat.WOOD, rng)
    frame_top = top - rng.uniform(0.15, 0.25)
    _part(room, x, y, yaw, (0.0, 0.0, frame_top / 2), (length / 2, width / 2, frame_top / 2), BED,
          frame)
    _part(room, x, y, yaw, (0.02, 0.0, (frame_top + top) / 2),
          (length / 2 - 0.03, width / 2 - 0.02, (top - frame_top) / 2), BED, sheet)
    blanket = look(BED, rng)
    cover = rng.uniform(0.5, 0.8) * length
    _part(room, x, y, yaw, (length / 2 - cover / 2, 0.0, top + 0.02),
          (cover / 2 + 0.01, width / 2 + 0.01, 0.03), BED, blanket)
    head = rng.uniform(0.8, 1.25)
    _part(room, x, y, yaw, (-length / 2 + 0.03, 0.0, head / 2), (0.03, width / 2 + 0.03, head / 2),
          BED, frame)
    for side in (-1, 1) if width > 1.3 else (0,):  # pillows: part of the bed in NYU40 terms
        _part(room, x, y, yaw, (-length / 2 + 0.3, side * width / 4, top + 0.07),
              (0.18, min(0.3, width / 4 - 0.02), 0.07), BED, sheet)
    if rng.random() < 0.6:  # a bedside table with a lamp
        side = rng.choice((-1, 1))
        nx, ny = local_to_room(x, y, yaw, -length / 2 + 0.25, side * (width / 2 + 0.3))
        if layout.claim(nx, ny, 0.28, 0.6):
            size = rng.uniform(0.4, 0.5)
            room.add(Box((nx, ny, 0.275), (0.2, size / 2, 0.275), yaw, CABINET,
                         look(CABINET, rng)))
            add_lamp_at(room, rng, nx, ny, 0.55, rng.uniform(0.3, 0.55))


def add_sofa(room: Room, layout: Layout, rng: Rng) -> None:
    length, depth = rng.uniform(1.4, 2.5), rng.uniform(0.8, 1.0)
    seat, back = rng.uniform(0.38, 0.47), rng.uniform(0.75, 0.95)
    spot = layout.place(np.hypot(length, depth) / 2, rng.random() < 0.7, depth, back)
    if spot is None:
        return
    x, y, yaw = spot
    cover = look(SOFA, rng)
    arm_w, arm_h, back_t = rng.uniform(0.1, 0.25), rng.uniform(0.55, 0.7), rng.uniform(0.15, 0.25)
    base = (seat - 0.12) / 2
    _part(room, x, y, yaw, (0.0, 0.0, base), (depth / 2, length / 2, base),
          SOFA, cover)
    _part(room, x, y, yaw, (-depth / 2 + back_t / 2, 0.0, back / 2), (back_t / 2, length / 2,
                                                                      back / 2), SOFA, cover)
    for sy in (-1, 1):
        _part(room, x, y, yaw, (0.0, sy * (length / 2 - arm_w / 2), arm_h / 2),
              (depth / 2, arm_w / 2, arm_h / 2), SOFA, cover)
    cushions = int(rng.integers(1, 4))
    inner = length - 2 * arm_w
    for index in range(cushions):
        dy = -inner / 2 + (index + 0.5) * inner / cushions
        _part(room, x, y, yaw, (back_t / 2, dy, seat - 0.06),
              ((depth - back_t) / 2 - 0.01, inner / cushions / 2 - 0.01, 0.06), SOFA, cover)
    if rng.random() < 0.7:  # a coffee table in front
        tx, ty = local_to_room(x, y, yaw, depth / 2 + rng.uniform(0.4, 0.7), 0.0)
        add_table(room, layout, rng, at=(tx, ty, yaw), low=True)


def add_table(room: Room, layout: Layout, rng: Rng, at: tuple | None = None,
              low: bool = False) -> None:
    """A dining, side or coffee table with things on it and chairs around it."""
    height = rng.uniform(0.38, 0.5) if low else rng.uniform(0.68, 0.78)
    surface = look(TABLE, rng)
    length, width = rng.uniform(0.6, 1.8), rng.uniform(0.5, 1.0)
    radius = np.hypot(length, width) / 2
    if at is None:
        spot = layout.place(radius, rng.random() < 0.2, width, height)
        if spot is None:
            return
        x, y, yaw = spot
    else:
        x, y, yaw = at
        if not layout.claim(x, y, radius, height):
            return
    if rng.random() < 0.25:  # round, on a pedestal
        radius = min(length, width) / 2 + 0.1
        room.add(Cylinder((x, y), radius, height - 0.04, height, TABLE, surface))
        room.add(Cylinder((x, y), 0.05, 0.0, height, TABLE, surface))
        room.add(Cylinder((x, y), radius * 0.45, 0.0, 0.03, TABLE, surface))
        half_x = half_y = radius * 0.7
    else:
        thickness = rng.uniform(0.025, 0.06)
        half_x, half_y = width / 2, length / 2
        _part(room, x, y, yaw, (0.0, 0.0, height - thickness / 2), (half_x, half_y, thickness / 2),
              TABLE, surface)
        _legs(room, x, y, yaw, half_x, half_y, height - thickness, rng.uniform(0.035, 0.07), TABLE,
              surface)
    add_clutter_on(room, rng, x, y, yaw, half_x, half_y, height, int(rng.integers(0, 5)))
    if low:
        return
    for _ in range(int(rng.integers(0, 5))):
        angle = rng.uniform(-np.pi, np.pi)
        distance = max(half_x, half_y) * rng.uniform(0.8, 1.1) + 0.35
        add_chair(room, layout, rng, at=(x + distance * np.cos(angle),
                                         y + distance * np.sin(angle), angle))


def add_chair(room: Room, layout: Layout, rng: Rng, at: tuple | None = None) -> None:
    """A chair or office chair; its backrest on the local +x side (away from its table)."""
    seat, seat_height = rng.uniform(0.4, 0.52), rng.uniform(0.42, 0.5)
    back_height = seat_height + rng.uniform(0.3, 0.55)
    if at is None:
        spot = layout.place(seat * 0.75, False, seat, back_height)
        if spot is None:
            return
        x, y, yaw = spot
    else:
        x, y, yaw = at
        if not layout.claim(x, y, seat * 0.7, back_height):
            return
    yaw += rng.normal(0, 0.25)
    surface = look(CHAIR, rng)
    thickness = rng.uniform(0.04, 0.09)
    style = rng.random()
    if style < 0.3:  # an office chair: a column on a star base
        room.add(Cylinder((x, y), seat * 0.5, 0.04, 0.09, CHAIR, mat.surface("plain", mat.DARK,
                                                                              rng)))
        room.add(Cylinder((x, y), 0.03, 0.05, seat_height - thickness, CHAIR, surface))
    elif style < 0.45:  # upholstered, solid to the floor
        _part(room, x, y, yaw, (0.0, 0.0, (seat_height - thickness) / 2),
              (seat / 2, seat / 2, (seat_height - thickness) / 2), CHAIR, surface)
    else:
        _legs(room, x, y, yaw, seat / 2, seat / 2, seat_height - thickness, 0.03, CHAIR, surface)
    _part(room, x, y, yaw, (0.0, 0.0, seat_height - thickness / 2),
          (seat / 2, seat / 2, thickness / 2), CHAIR, surface)
    _part(room, x, y, yaw, (seat / 2 - 0.03, 0.0, (seat_height + back_height) / 2),
          (0.025, seat / 2 - 0.01, (back_height - seat_height) / 2), CHAIR, surface)


def add_desk(room: Room, layout: Layout, rng: Rng) -> None:
    """A desk against a wall: top, side panels or legs, maybe drawers; things on it; a chair."""
    length, depth, height = rng.uniform(1.0, 1.8), rng.uniform(0.55, 0.8), rng.uniform(0.71, 0.77)
    spot = layout.place(np.hypot(length, depth) / 2, True, depth, height)
    if spot is None:
        return
    x, y, yaw = spot
    surface = look(DESK, rng)
    thickness = rng.uniform(0.025, 0.045)
    _part(room, x, y, yaw, (0.0, 0.0, height - thickness / 2), (depth / 2, length / 2,
                                                                thickness / 2), DESK, surface)
    if rng.random() < 0.5:
        for sy in (-1, 1):
            _part(room, x, y, yaw, (0.0, sy * (length / 2 - 0.015), (height - thickness) / 2),
                  (depth / 2 - 0.02, 0.015, (height - thickness) / 2), DESK, surface)
    else:
        _legs(room, x, y, yaw, depth / 2, length / 2, height - thickness, 0.04, DESK, surface)
    if rng.random() < 0.5:  # a drawer pedestal
        side = rng.choice((-1, 1)) * (length / 2 - 0.22)
        _part(room, x, y, yaw, (0.0, side, (height - thickness) / 2),
              (depth / 2 - 0.03, 0.2, (height - thickness) / 2), DESK, surface)
    add_clutter_on(room, rng, x - 0.1 * np.cos(yaw), y - 0.1 * np.sin(yaw), yaw, depth / 2 - 0.1,
                   length / 2, height, int(rng.integers(1, 5)))
    if rng.random() < 0.3:
        lx, ly = local_to_room(x, y, yaw, -depth / 4, rng.choice((-1, 1)) * length * 0.4)
        add_lamp_at(room, rng, lx, ly, height, rng.uniform(0.3, 0.5))
    cx, cy = local_to_room(x, y, yaw, depth / 2 + rng.uniform(0.2, 0.45), rng.uniform(-0.3, 0.3))
    add_chair(room, layout, rng, at=(cx, cy, yaw))


# -------------------------------------------------------------------------------- rooms

_ROOM_TYPES = {
    # piece: (probability of at least one, most of them)
    "bedroom": {add_bed: (0.95, 1), add_cabinet: (0.8, 2), add_desk: (0.4, 1),
                add_shelves: (0.4, 1), add_floor_lamp: (0.3, 1), add_chair: (0.3, 1),
                add_sofa: (0.1, 1)},
    "living": {add_sofa: (0.95, 2), add_table: (0.5, 1), add_shelves: (0.6, 2),
               add_cabinet: (0.6, 2), add_floor_lamp: (0.6, 2), add_chair: (0.5, 2)},
    "kitchen": {add_counter: (0.95, 2), add_table: (0.8, 1), add_cabinet: (0.5, 2),
                add_chair: (0.3, 2), add_shelves: (0.2, 1)},
    "office": {add_desk: (0.95, 3), add_shelves: (0.7, 2), add_cabinet: (0.8, 3),
               add_table: (0.3, 1), add_chair: (0.4, 2), add_floor_lamp: (0.3, 1),
               add_sofa: (0.15, 1)},
    "dining": {add_table: (0.95, 2), add_cabinet: (0.7, 2), add_shelves: (0.4, 1),
               add_counter: (0.3, 1), add_floor_lamp: (0.3, 1), add_sofa: (0.2, 1)},
}  # fmt: skip


def generate_room(rng: Rng) -> Room:
    """A random furnished room of a random type, with its door, windows, pictures and lights."""
    room = new_room(rng)
    layout = Layout(room, rng)
    if rng.random() < 0.35:
        add_rug(room, layout, rng)
    if rng.random() < 0.85:
        add_door(room, rng)
    for _ in range(int(rng.integers(0, 3))):
        add_window(room, rng)
    room_type = _ROOM_TYPES[str(rng.choice(list(_ROOM_TYPES)))]
    for builder, (chance, most) in room_type.items():
        if rng.random() < chance:
            for _ in range(int(rng.integers(1, most + 1))):
                builder(room, layout, rng)
    for _ in range(int(rng.integers(0, 5))):
        add_floor_clutter(room, layout, rng)
    for _ in range(int(rng.integers(0, 5))):
        add_picture(room, rng)
    for _ in range(int(rng.integers(1, 3))):  # ceiling lights, some as pendant lamps
        x, y = (float(rng.uniform(0.25, 0.75) * side) for side in room.size[:2])
        if rng.random() < 0.35:
            add_pendant(room, rng, x, y)
        power = rng.uniform(1.0, 3.0)
        room.lights.append(Light((x, y, room.size[2] - 0.3), warm_light(rng, power)))
    room.lights.sort(key=lambda light: -sum(light.colour))  # the strongest casts the shadows
    return room
