"""Procedural surface textures for the realistic style, evaluated at each hit point.

Real rooms are wood grain, floor planks, tiles with grout, carpet, plaster, wallpaper,
fabric, posters and windows, not flat colours; a network that has only seen flat colours
reads any texture as an object. Every pattern is a closed-form function of the hit's
surface coordinates (metres, and 0..1 across a face for posters, doors and windows), so
it stays put when the camera moves and costs a few numpy passes per surface.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass

import numpy as np

KINDS = (
    "plain", "plaster", "wallpaper", "wood", "planks", "tiles", "carpet", "fabric",
    "leather", "metal", "paper", "books", "poster", "window", "door", "shade",
)  # fmt: skip


@dataclass(frozen=True)
class Surface:
    """A material: kind, base and accent colour (linear RGB), pattern scale and seed."""

    kind: str
    colour: tuple[float, float, float]
    accent: tuple[float, float, float]
    scale: float = 0.2  # metres per pattern period
    seed: int = 0
    specular: bool = False  # mirror-like glints: the depth sensor loses them head-on
    emission: float = 0.0  # self-lit (window outside, lamp shade), in units of the key light


def hsv(hue: float, saturation: float, value: float) -> tuple[float, float, float]:
    """Linear RGB of an HSV colour whose value is perceptual (sRGB-like)."""
    red, green, blue = colorsys.hsv_to_rgb(hue % 1.0, saturation, value)
    return (red**2.2, green**2.2, blue**2.2)


# Colour families: (hue range, saturation range, value range).
PALE = ((0.0, 1.0), (0.0, 0.15), (0.75, 0.97))
WARM_PALE = ((0.05, 0.16), (0.05, 0.3), (0.7, 0.95))
WOOD = ((0.04, 0.11), (0.35, 0.75), (0.25, 0.8))
FABRIC = ((0.0, 1.0), (0.1, 0.65), (0.2, 0.85))
DARK = ((0.0, 1.0), (0.0, 0.3), (0.05, 0.22))
GREY = ((0.0, 1.0), (0.0, 0.08), (0.3, 0.85))
CARDBOARD = ((0.07, 0.11), (0.35, 0.6), (0.45, 0.75))
VIVID = ((0.0, 1.0), (0.4, 0.9), (0.4, 0.95))


def colour_from(family: tuple, rng: np.random.Generator) -> tuple[float, float, float]:
    """A random colour of a family."""
    (hues, sats, vals) = family
    return hsv(rng.uniform(*hues), rng.uniform(*sats), rng.uniform(*vals))


def surface(
    kind: str,
    family: tuple,
    rng: np.random.Generator,
    scale: tuple[float, float] = (0.1, 0.4),
    accent_family: tuple | None = None,
    specular: float = 0.0,
    emission: float = 0.0,
) -> Surface:
    """A random surface of `kind` coloured from `family` (accent: a darker variant)."""
    colour = colour_from(family, rng)
    if accent_family is None:
        factor = rng.uniform(0.35, 0.75)
        accent = tuple(float(c * factor) for c in colour)
    else:
        accent = colour_from(accent_family, rng)
    return Surface(
        kind,
        colour,
        accent,
        float(rng.uniform(*scale)),
        int(rng.integers(1 << 30)),
        bool(rng.random() < specular),
        emission,
    )


# ----------------------------------------------------------------------------- noise helpers


def _hash(i: np.ndarray, j: np.ndarray, seed: int) -> np.ndarray:
    """A repeatable pseudo-random value in [0, 1) per integer lattice point."""
    h = (i.astype(np.int64) * 73856093) ^ (j.astype(np.int64) * 19349663) ^ (seed * 83492791)
    h = (h ^ (h >> 13)) * 1274126177
    return ((h ^ (h >> 16)) & 0xFFFF) / 65536.0


def value_noise(u: np.ndarray, v: np.ndarray, seed: int) -> np.ndarray:
    """Smooth noise in [0, 1) with one feature per unit of u and v."""
    i, j = np.floor(u), np.floor(v)
    fu, fv = u - i, v - j
    fu, fv = fu * fu * (3 - 2 * fu), fv * fv * (3 - 2 * fv)
    a, b = _hash(i, j, seed), _hash(i + 1, j, seed)
    c, d = _hash(i, j + 1, seed), _hash(i + 1, j + 1, seed)
    return (a + (b - a) * fu) * (1 - fv) + (c + (d - c) * fu) * fv


def fbm(u: np.ndarray, v: np.ndarray, seed: int, octaves: int = 2) -> np.ndarray:
    """Fractal noise around 0 (about -0.5..0.5)."""
    total, amplitude, norm = 0.0, 1.0, 0.0
    for octave in range(octaves):
        total = total + amplitude * value_noise(u, v, seed + octave)
        norm += amplitude
        u, v, amplitude = u * 2.03, v * 2.03, amplitude * 0.5
    return total / norm - 0.5


def _border(fu: np.ndarray, fv: np.ndarray, width: float) -> np.ndarray:
    """Points within `width` of the unit square's edges."""
    return (fu < width) | (fu > 1 - width) | (fv < width) | (fv > 1 - width)


def _mix(a: tuple, b: tuple, weight: np.ndarray) -> np.ndarray:
    weight = np.clip(weight, 0.0, 1.0)[:, None]
    return np.array(a)[None, :] * (1 - weight) + np.array(b)[None, :] * weight


# ------------------------------------------------------------------------------------ kinds


def _wood_grain(u: np.ndarray, v: np.ndarray, seed: int) -> np.ndarray:
    """0..1 grain lines running along u, wavy and uneven."""
    wobble = 4.0 * fbm(u * 1.5, v * 6.0, seed)
    return (0.5 + 0.5 * np.sin(2 * np.pi * (v * 45.0 + wobble))) ** 3


def _planks(s: Surface, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    width, length = 0.08 + 0.12 * s.scale, 0.7 + 2.0 * s.scale
    row = np.floor(v / width)
    shifted = u + _hash(row, row * 0 + 7, s.seed) * length
    column = np.floor(shifted / length)
    tint = 0.75 + 0.5 * _hash(row, column, s.seed + 1)
    grain = _wood_grain(shifted, v, s.seed + 2)
    colour = _mix(s.colour, s.accent, 0.55 * grain) * tint[:, None]
    gap = (v / width - row < 0.04) | (shifted / length - column < 0.006)
    colour[gap] *= 0.35
    return colour


def _tiles(s: Surface, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    size = 0.1 + s.scale
    i, j = np.floor(u / size), np.floor(v / size)
    tint = 0.9 + 0.2 * _hash(i, j, s.seed)
    marble = 1.0 + 0.12 * fbm(u * 6.0, v * 6.0, s.seed + 1, 3)
    colour = np.array(s.colour)[None, :] * (tint * marble)[:, None]
    grout_width = 0.006 / size
    grout = (u / size - i < grout_width) | (v / size - j < grout_width)
    colour[grout] = np.array(s.accent)
    return colour


def _wallpaper(s: Surface, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    period = 0.05 + 0.3 * s.scale
    pattern = s.seed % 4
    if pattern == 0:  # stripes
        weight = (np.sin(2 * np.pi * u / period) > 0.3).astype(float)
    elif pattern == 1:  # diamonds
        fu, fv = (u / period) % 1.0 - 0.5, (v / period) % 1.0 - 0.5
        weight = (np.abs(fu) + np.abs(fv) < 0.25).astype(float)
    elif pattern == 2:  # dots
        fu, fv = (u / period) % 1.0 - 0.5, (v / period) % 1.0 - 0.5
        weight = (fu * fu + fv * fv < 0.04).astype(float)
    else:  # damask-like blotches
        weight = (fbm(u / period, v / period, s.seed, 2) > 0.1).astype(float)
    colour = _mix(s.colour, s.accent, 0.6 * weight)
    return colour * (1.0 + 0.04 * fbm(u * 3, v * 3, s.seed + 5))[:, None]


def _fabric(s: Surface, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    folds = 1.0 + 0.18 * fbm(u * 3.0, v * 3.0, s.seed, 2)
    weave = 1.0 + 0.05 * np.sin(u * 2500.0) * np.sin(v * 2500.0)
    colour = np.array(s.colour)[None, :] * (folds * weave)[:, None]
    if s.seed % 3 == 0:  # plaid
        period = 0.1 + s.scale
        plaid = ((u / period) % 1.0 < 0.15) | ((v / period) % 1.0 < 0.15)
        colour[plaid] = colour[plaid] * 0.4 + 0.6 * np.array(s.accent)
    return colour


def _poster(s: Surface, fu: np.ndarray, fv: np.ndarray) -> np.ndarray:
    """A picture: a frame, a background gradient and a few coloured shapes."""
    rng = np.random.default_rng(s.seed)
    top, bottom = colour_from(VIVID, rng), colour_from(FABRIC, rng)
    colour = _mix(top, bottom, fv + 0.1 * fbm(fu * 4, fv * 4, s.seed, 2))
    if rng.random() < 0.5:  # a landscape: horizon, ground
        horizon = rng.uniform(0.4, 0.7) + 0.06 * np.sin(fu * rng.uniform(5, 15))
        ground = fv > horizon
        colour[ground] = np.array(colour_from(VIVID, rng)) * (0.6 + 0.4 * fv[ground, None])
    for _ in range(int(rng.integers(2, 7))):
        cu, cv, ru, rv = rng.uniform(0.1, 0.9), rng.uniform(0.1, 0.9), *rng.uniform(0.04, 0.25, 2)
        if rng.random() < 0.5:
            inside = (np.abs(fu - cu) < ru) & (np.abs(fv - cv) < rv)
        else:
            inside = ((fu - cu) / ru) ** 2 + ((fv - cv) / rv) ** 2 < 1.0
        colour[inside] = colour_from(VIVID if rng.random() < 0.7 else DARK, rng)
    colour[_border(fu, fv, rng.uniform(0.02, 0.08))] = np.array(s.accent)
    return colour


def _window(s: Surface, fu: np.ndarray, fv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Frame and mullions in the accent colour; glass shows a bright outside (emissive)."""
    rng = np.random.default_rng(s.seed)
    sky, ground = colour_from(((0.5, 0.62), (0.05, 0.4), (0.8, 1.0)), rng), colour_from(
        ((0.15, 0.4), (0.1, 0.5), (0.3, 0.7)), rng
    )
    horizon = rng.uniform(0.3, 0.9)
    outside = _mix(sky, ground, (fv > horizon) * 1.0)
    outside *= (1.0 + 0.25 * fbm(fu * 6, fv * 6, s.seed, 2))[:, None]
    frame_width = rng.uniform(0.03, 0.07)
    frame = _border(fu, fv, frame_width)
    columns = int(rng.integers(1, 4))
    frame |= np.abs((fu * columns) % 1.0 - 0.5) * 2 > 1 - frame_width * columns * 0.6
    if rng.random() < 0.5:
        frame |= np.abs(fv - 0.5) < frame_width * 0.4
    colour = outside.copy()
    colour[frame] = np.array(s.accent)
    return colour, ~frame


def _door(s: Surface, fu: np.ndarray, fv: np.ndarray) -> np.ndarray:
    colour = np.array(s.colour)[None, :] * (1 + 0.05 * fbm(fu * 3, fv * 8, s.seed))[:, None]
    if s.seed % 2 == 0:  # wood grain
        colour = _mix(s.colour, s.accent, 0.35 * _wood_grain(fv * 2.0, fu * 0.8, s.seed))
    upper = _border((fu - 0.15) / 0.7, (fv - 0.08) / 0.4, 0.02)
    lower = _border((fu - 0.15) / 0.7, (fv - 0.52) / 0.4, 0.02)
    inside = (fu > 0.15) & (fu < 0.85)
    grooves = (upper & (fv > 0.07) & (fv < 0.49)) | (lower & (fv > 0.51) & (fv < 0.93))
    colour[inside & grooves] *= 0.6
    handle = (fu - 0.9) ** 2 * 4 + (fv - 0.52) ** 2 < 0.0006
    colour[handle] = (0.5, 0.5, 0.45)
    return colour


def texture(
    s: Surface, u: np.ndarray, v: np.ndarray, fu: np.ndarray, fv: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(albedo (N, 3) linear RGB, glass mask (N,)) of surface `s` at coordinates.

    u, v: metres in the surface plane (v up on vertical faces); fu, fv: 0..1 across the face.
    """
    glass = np.zeros(len(u), dtype=bool)
    kind = s.kind
    if kind == "planks":
        colour = _planks(s, u, v)
    elif kind == "wood":
        colour = _mix(s.colour, s.accent, 0.5 * _wood_grain(u, v, s.seed))
    elif kind == "tiles":
        colour = _tiles(s, u, v)
    elif kind == "wallpaper":
        colour = _wallpaper(s, u, v)
    elif kind in ("fabric", "shade"):
        colour = _fabric(s, u, v)
    elif kind == "carpet":
        fine = value_noise(u * 300.0, v * 300.0, s.seed)
        mottle = fbm(u * 2.0, v * 2.0, s.seed + 1, 2)
        colour = np.array(s.colour)[None, :] * (0.85 + 0.3 * fine + 0.3 * mottle)[:, None]
    elif kind == "plaster":
        stain = fbm(u * 1.5, v * 1.5, s.seed, 3)
        colour = np.array(s.colour)[None, :] * (1.0 + 0.08 * stain)[:, None]
    elif kind == "leather":
        colour = np.array(s.colour)[None, :] * (1 + 0.12 * fbm(u * 20, v * 20, s.seed))[:, None]
    elif kind == "metal":
        brushed = value_noise(u * 400.0, v * 3.0, s.seed)
        colour = np.array(s.colour)[None, :] * (0.9 + 0.2 * brushed)[:, None]
    elif kind == "books":  # spines side by side, each its own colour and shade
        spine = np.floor(u / (0.015 + 0.04 * s.scale))
        hue, value = _hash(spine, spine * 0 + 1, s.seed), _hash(spine, spine * 0 + 2, s.seed)
        colour = np.stack([0.15 + 0.6 * hue, 0.1 + 0.5 * value, 0.1 + 0.5 * (1 - hue)], axis=1)
        colour *= (0.4 + 0.6 * value)[:, None]
    elif kind == "paper":  # cardboard with a tape stripe
        colour = np.array(s.colour)[None, :] * (1 + 0.1 * fbm(u * 8, v * 8, s.seed))[:, None]
        colour[np.abs(fu - 0.5) < 0.06] = np.array(s.accent)
    elif kind == "poster":
        colour = _poster(s, fu, fv)
    elif kind == "window":
        colour, glass = _window(s, fu, fv)
    elif kind == "door":
        colour = _door(s, fu, fv)
    else:
        colour = np.array(s.colour)[None, :] * (1 + 0.04 * fbm(u * 2, v * 2, s.seed))[:, None]
    return np.clip(colour, 0.0, 1.0), glass
