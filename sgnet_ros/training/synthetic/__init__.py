"""Procedural indoor RGB-D frames with ground-truth NYU40 labels, deterministic per seed.

Two styles. "realistic" (the default): furnished rooms of 17 classes with textured
surfaces, doors, windows and pictures, several lights with shadows, robot and hand-held
cameras, and the artefacts of real colour cameras and depth sensors. "basic": the first
generator (8 classes, flat colours), kept so the shipped model's published figures stay
reproducible. Modules: geometry (ray casting), layout and furniture (rooms), materials
(textures), render (shading), camera (poses, lens, image pipeline), sensor (depth model).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

import sgnet_ros.training.synthetic.basic as basic
import sgnet_ros.training.synthetic.camera as camera
import sgnet_ros.training.synthetic.furniture as furniture
import sgnet_ros.training.synthetic.render as render
from sgnet_ros.training.synthetic.basic import BASIC_CLASS_IDS
from sgnet_ros.training.synthetic.geometry import (
    CameraPose,
    SyntheticFrame,
    checked_size,
    intrinsics_for,
)
from sgnet_ros.training.synthetic.layout import (
    BED,
    BOX,
    CABINET,
    CEILING,
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
    TRAINED_CLASS_IDS,
    WALL,
    WINDOW,
)
from sgnet_ros.training.synthetic.sensor import SensorNoise

__all__ = [
    "BASIC_CLASS_IDS", "BED", "BOX", "CABINET", "CEILING", "CHAIR", "COUNTER", "DEFAULT_STYLE",
    "DESK", "DOOR", "FLOOR", "LAMP", "OTHERPROP", "PICTURE", "SHELVES", "SOFA", "STYLES",
    "SYNTHETIC_CLASS_IDS", "TABLE", "WALL", "WINDOW", "CameraPose", "SensorNoise",
    "SyntheticFrame", "class_ids", "intrinsics_for", "is_pooled", "pooled_style",
    "synthetic_frame", "synthetic_sequence",
]  # fmt: skip

SYNTHETIC_CLASS_IDS: tuple[int, ...] = TRAINED_CLASS_IDS
"""The classes of the default style: what a model trained on it knows (`trained_classes`)."""


@dataclass(frozen=True)
class _Style:
    generate_room: Callable[[np.random.Generator], Any]
    sample_camera: Callable[[Any, np.random.Generator], CameraPose]
    camera_matrix: Callable[[tuple[int, int], np.random.Generator], np.ndarray]
    sample_devices: Callable[[np.random.Generator], Any]  # fixed for a whole sequence
    render: Callable[..., SyntheticFrame]
    class_ids: tuple[int, ...]


_STYLES = {
    "realistic": _Style(
        furniture.generate_room,
        camera.sample_camera,
        camera.camera_matrix,
        render.Devices.sample,
        lambda room, pose, K, size, rng, noise, devices: render.render(
            room, pose, K, size, rng, noise, devices
        ),
        TRAINED_CLASS_IDS,
    ),
    "basic": _Style(
        basic.generate_room,
        basic.sample_camera,
        lambda size, rng: intrinsics_for(size),  # one fixed camera; draws nothing
        lambda rng: None,
        lambda room, pose, K, size, rng, noise, devices: basic.render(
            room, pose, K, size, rng, noise
        ),
        BASIC_CLASS_IDS,
    ),
}
STYLES: tuple[str, ...] = tuple(_STYLES)
DEFAULT_STYLE = "realistic"
POOL_SEPARATOR = "+"


def _style(name: str) -> _Style:
    if name not in _STYLES:
        raise ValueError(f"unknown synthetic style {name!r}; choose one of {', '.join(STYLES)}")
    return _STYLES[name]


def pooled_style(styles: Sequence[str]) -> str:
    """The name of styles trained together ("realistic+basic"), as a model contract records
    it; one style keeps its own name."""
    for name in styles:
        _style(name)
    return POOL_SEPARATOR.join(styles)


def is_pooled(style: str) -> bool:
    """Whether `style` names several styles trained together."""
    return POOL_SEPARATOR in style


def class_ids(style: str = DEFAULT_STYLE) -> tuple[int, ...]:
    """The NYU40 ids a style draws, every label pixel being one of these; of a pooled style,
    those any of its styles draws."""
    if is_pooled(style):
        return tuple(sorted({c for name in style.split(POOL_SEPARATOR)
                             for c in _style(name).class_ids}))
    return _style(style).class_ids


def _room_for(
    seed: int, size: tuple[int, int], style: str
) -> tuple[_Style, tuple[int, int], np.random.Generator, Any]:
    """The style, the checked size, the seed's generator and the room it draws first."""
    chosen = _style(style)
    size = checked_size(size)
    rng = np.random.default_rng(seed)
    return chosen, size, rng, chosen.generate_room(rng)


def synthetic_frame(
    seed: int,
    size: tuple[int, int] = (240, 320),
    noise: SensorNoise | None = None,
    style: str = DEFAULT_STYLE,
) -> SyntheticFrame:
    """One frame of a fresh room and camera; the same seed always gives the same frame."""
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    chosen, size, rng, room = _room_for(seed, size, style)
    pose = chosen.sample_camera(room, rng)
    K = chosen.camera_matrix(size, rng)
    return chosen.render(room, pose, K, size, rng, noise, chosen.sample_devices(rng))


def synthetic_sequence(
    seed: int,
    num_frames: int,
    size: tuple[int, int] = (480, 640),
    noise: SensorNoise | None = None,
    fps: float = 30.0,
    speed_m_s: float = 0.3,
    turn_deg_s: float = 20.0,
    style: str = DEFAULT_STYLE,
) -> Iterator[SyntheticFrame]:
    """A smooth camera move through one room: walk forward-sideways while panning.

    The path is checked to stay clear of furniture before rendering; positions follow a
    gentle curve and the pitch sways by a few degrees, like a camera on a moving base. The
    camera, its image pipeline and depth sensor stay the same for the whole sequence.
    """
    if num_frames < 1:
        raise ValueError(f"num_frames must be positive, got {num_frames}")
    chosen, size, rng, room = _room_for(seed, size, style)
    duration = num_frames / fps
    for _ in range(200):
        start = chosen.sample_camera(room, rng)
        heading = start.yaw + rng.uniform(-0.6, 0.6)
        turn = np.radians(turn_deg_s) * rng.choice((-1.0, 1.0))
        poses = []
        for index in range(num_frames):
            time = index / fps
            phase = time / duration
            step = speed_m_s * time
            position = np.array(start.position) + (
                step * np.cos(heading),
                step * np.sin(heading),
                0.02 * np.sin(2 * np.pi * phase),
            )
            poses.append(
                CameraPose(
                    tuple(float(v) for v in position),
                    start.yaw + turn * time,
                    start.pitch + np.radians(3.0) * np.sin(2 * np.pi * phase),
                    start.roll * (1.0 - 0.5 * phase),
                    start.mount,
                )
            )
        if all(room.is_free(np.array(pose.position)) for pose in poses):
            break
    else:
        raise ValueError(f"no collision-free camera path found in the room of seed {seed}")
    K = chosen.camera_matrix(size, rng)
    devices = chosen.sample_devices(rng)
    for pose in poses:
        yield chosen.render(room, pose, K, size, rng, noise, devices)
