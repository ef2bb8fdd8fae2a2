"""Cameras for the realistic style: where they stand, their lens, and what the image
pipeline does to light before it becomes an 8-bit JPEG-compressed frame.

A robot's camera sits 0.3-1.6 m up and looks level or down; a hand-held one is higher and
tilted more. Real frames are auto-exposed (windows blow out), white-balanced imperfectly,
vignetted, slightly blurred, noisy (shot plus read noise) and often JPEG-compressed; a
network trained on clean renders meets all of that for the first time on a robot.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from sgnet_ros.training.synthetic.geometry import CameraPose
from sgnet_ros.training.synthetic.layout import Room
from sgnet_ros.training.synthetic.sensor import SensorNoise

MOUNTS = {  # height (m), pitch (deg), roll (deg) ranges
    "robot": ((0.3, 1.6), (-35.0, 10.0), (-3.0, 3.0)),
    "handheld": ((1.0, 1.8), (-55.0, 20.0), (-12.0, 12.0)),
}
# Kinect v1 colour 62 deg, Xtion 58, RealSense D435 colour 69 and depth 87.
HORIZONTAL_FOV_DEG = (55.0, 90.0)


def camera_matrix(size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A pinhole camera with a typical RGB-D field of view and a slightly off-centre centre."""
    height, width = size
    fov = np.radians(rng.uniform(*HORIZONTAL_FOV_DEG))
    focal = (width / 2) / np.tan(fov / 2)
    cx = (width - 1) / 2 + rng.normal(0, 0.01) * width
    cy = (height - 1) / 2 + rng.normal(0, 0.01) * height
    return np.array([[focal, 0.0, cx], [0.0, focal, cy], [0.0, 0.0, 1.0]])


def sample_camera(room: Room, rng: np.random.Generator, tries: int = 300) -> CameraPose:
    """A robot-mounted (65 %) or hand-held camera at a free spot, facing into the room."""
    mount = "robot" if rng.random() < 0.65 else "handheld"
    heights, pitches, rolls = MOUNTS[mount]
    for attempt in range(tries):
        position = np.array(
            [rng.uniform(0, room.size[0]), rng.uniform(0, room.size[1]), rng.uniform(*heights)]
        )
        if not room.is_free(position, margin=0.35):
            continue
        # Furniture only: not the clearance in front of a door, not the space under a pendant.
        furniture = [spot for spot in room.footprints if 0 < spot[3] < room.size[2]]
        if furniture and rng.random() < 0.75:
            x, y, _, top = furniture[rng.integers(len(furniture))]
            target = np.array([x, y, top / 2])
        else:
            target = np.array([rng.uniform(0, room.size[0]), rng.uniform(0, room.size[1]), 1.0])
        offset = target - position
        if np.hypot(*offset[:2]) < 1.2 and attempt < tries // 2:
            continue
        yaw = np.arctan2(offset[1], offset[0]) + rng.uniform(-0.5, 0.5)
        if mount == "robot":
            pitch = rng.uniform(*pitches)
        else:
            aim = np.degrees(np.arctan2(offset[2], np.hypot(*offset[:2])))
            pitch = np.clip(aim + rng.uniform(-20, 20), *pitches)
        return CameraPose(
            tuple(float(v) for v in position),
            float(yaw),
            float(np.radians(pitch)),
            float(np.radians(rng.uniform(*rolls))),
            mount,
        )
    raise ValueError("no free camera position found in the room")


@dataclass(frozen=True)
class ImagePipeline:
    """One camera's image-processing habits, fixed for a sequence."""

    key: float  # mid-grey the auto-exposure aims for
    white_balance: tuple[float, float, float]
    vignetting: float
    blur_sigma: float  # pixels at 320 wide
    motion_px: int  # 0: none
    motion_angle: float
    shot_noise: float
    read_noise: float
    jpeg_quality: int  # 0: not compressed

    @classmethod
    def sample(cls, rng: np.random.Generator) -> ImagePipeline:
        return cls(
            key=float(rng.uniform(0.14, 0.3) * 2 ** rng.normal(0, 0.3)),
            white_balance=(float(rng.uniform(0.85, 1.15)), 1.0, float(rng.uniform(0.85, 1.15))),
            vignetting=float(rng.uniform(0.0, 0.45)),
            blur_sigma=float(rng.uniform(0.0, 1.0)),
            motion_px=int(rng.integers(3, 9)) if rng.random() < 0.15 else 0,
            motion_angle=float(rng.uniform(0, np.pi)),
            shot_noise=float(rng.uniform(0.05, 0.6)),
            read_noise=float(rng.uniform(0.5, 2.5)),
            jpeg_quality=int(rng.integers(35, 96)) if rng.random() < 0.8 else 0,
        )


def develop(
    radiance: np.ndarray, pipeline: ImagePipeline, rng: np.random.Generator, noise: SensorNoise
) -> np.ndarray:
    """(H, W, 3) linear radiance -> rgb8 as the camera would deliver it."""
    height, width, _ = radiance.shape
    luminance = radiance @ np.array([0.2126, 0.7152, 0.0722])
    exposure = pipeline.key / max(float(np.median(luminance)), 1e-4)
    if noise.camera_effects:
        image = radiance * (exposure * np.array(pipeline.white_balance))
        rows = (np.arange(height) - height / 2) / (height / 2)
        cols = (np.arange(width) - width / 2) / (width / 2)
        radius2 = (rows[:, None] ** 2 + cols[None, :] ** 2) / 2
        image *= (1.0 - pipeline.vignetting * radius2)[..., None]
    else:
        image = radiance * exposure
    image = (np.clip(image, 0.0, 1.0) ** (1 / 2.2) * 255.0).astype(np.float32)
    if noise.camera_effects:
        sigma = pipeline.blur_sigma * width / 320
        if sigma > 0.3:
            image = cv2.GaussianBlur(image, (0, 0), sigma)
        if pipeline.motion_px:
            kernel = np.zeros((pipeline.motion_px, pipeline.motion_px), np.float32)
            centre = (pipeline.motion_px - 1) / 2
            offset = np.array([np.cos(pipeline.motion_angle), np.sin(pipeline.motion_angle)])
            end0, end1 = centre - offset * centre, centre + offset * centre
            cv2.line(kernel, tuple(int(round(v)) for v in end0),
                     tuple(int(round(v)) for v in end1), 1.0)
            image = cv2.filter2D(image, -1, kernel / kernel.sum())
    if noise.rgb_noise > 0:
        strength = noise.rgb_noise / 2.0
        std = np.sqrt(pipeline.shot_noise * image + pipeline.read_noise**2) * strength
        image = image + std * rng.standard_normal(image.shape, dtype=np.float32)
    rgb = np.clip(np.round(image), 0, 255).astype(np.uint8)
    if noise.camera_effects and pipeline.jpeg_quality:
        ok, encoded = cv2.imencode(".jpg", rgb[..., ::-1],
                                   [cv2.IMWRITE_JPEG_QUALITY, pipeline.jpeg_quality])
        rgb = cv2.imdecode(encoded, cv2.IMREAD_COLOR)[..., ::-1].copy()
    return rgb
