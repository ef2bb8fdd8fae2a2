"""What an RGB-D depth sensor does to a clean depth image, for the realistic style.

Structured-light and active-stereo cameras (Kinect, Xtion, RealSense D4xx) measure
disparity, so depth comes in steps that grow with z^2, its noise is speckle correlated over
a few pixels, and it is missing where the pattern is not seen: in a band along depth
discontinuities, on very dark or glass surfaces, on mirror-like glints, outside the working
range and in small random blobs.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from sgnet_ros.training.synthetic.geometry import EPS


@dataclass(frozen=True)
class SensorNoise:
    """Strength of the simulated RGB-D sensor artefacts (1.0 = Kinect-like)."""

    depth_noise: float = 1.0  # multiplies the axial noise sigma(z)
    quantise: bool = True  # 1/8 px disparity steps
    edge_holes: float = 0.6  # probability a depth-discontinuity pixel is dropped
    dark_holes: float = 0.8  # probability a pixel with albedo luminance < 0.08 is dropped
    specular_holes: bool = True  # glints and (realistic style) glass
    dropout: float = 0.002  # fraction of pixels lost in small random blobs
    rgb_noise: float = 2.0  # grey levels of gaussian sensor noise (realistic: a multiplier /2)
    range_holes: bool = True  # realistic style: no depth outside a random working range
    camera_effects: bool = True  # realistic style: exposure, white balance, blur, JPEG

    @classmethod
    def none(cls) -> SensorNoise:
        return cls(0.0, False, 0.0, 0.0, False, 0.0, 0.0, False, False)


@dataclass(frozen=True)
class DepthCamera:
    """One sensor's draw: its disparity scale, working range and hole habits."""

    focal_baseline: float  # pixel-metres: disparity = focal_baseline / z
    subpixel: float  # disparity step in pixels
    min_range: float
    max_range: float
    edge_band_px: int  # half-width of the missing band along discontinuities (at 320 wide)
    dark_threshold: float  # linear albedo luminance below which the pattern is lost
    glass_holes: float  # probability a glass pixel has no depth

    @classmethod
    def sample(cls, rng: np.random.Generator) -> DepthCamera:
        """Kinect-v1-like to RealSense-D435-like: 380-640 px focal, 5-7.5 cm baseline."""
        return cls(
            focal_baseline=float(rng.uniform(380.0, 640.0) * rng.uniform(0.05, 0.075)),
            subpixel=float(rng.choice((1 / 8, 1 / 8, 1 / 6, 1 / 4))),
            min_range=float(rng.uniform(0.2, 0.5)),
            max_range=float(rng.uniform(3.5, 8.0)),
            edge_band_px=int(rng.integers(1, 4)),
            dark_threshold=float(rng.uniform(0.006, 0.02)),  # linear: near-black only
            glass_holes=float(rng.uniform(0.8, 0.97)),
        )


def quantise_disparity(depth: np.ndarray, focal_baseline: float, subpixel: float) -> np.ndarray:
    """Depth rounded to whole disparity steps: the step is z^2 * subpixel / focal_baseline."""
    disparity = np.round(focal_baseline / np.maximum(depth, EPS) / subpixel) * subpixel
    return focal_baseline / np.maximum(disparity, subpixel)


def discontinuity_band(depth: np.ndarray, band_px: int, jump: float = 0.04) -> np.ndarray:
    """Pixels within `band_px` of a relative depth jump larger than `jump`."""
    edges = np.zeros(depth.shape, dtype=np.uint8)
    relative = np.abs(np.diff(depth, axis=1)) / np.maximum(
        np.minimum(depth[:, 1:], depth[:, :-1]), EPS
    )
    edges[:, 1:] |= relative > jump
    edges[:, :-1] |= relative > jump
    relative = np.abs(np.diff(depth, axis=0)) / np.maximum(np.minimum(depth[1:], depth[:-1]), EPS)
    edges[1:] |= relative > jump
    edges[:-1] |= relative > jump
    if band_px > 1:
        kernel = np.ones((2 * band_px - 1, 2 * band_px - 1), np.uint8)
        edges = cv2.dilate(edges, kernel)
    return edges.astype(bool)


def sensor_depth(
    clean: np.ndarray,
    luminance: np.ndarray,
    glass: np.ndarray,
    glint: np.ndarray,
    rng: np.random.Generator,
    noise: SensorNoise,
    camera: DepthCamera,
) -> np.ndarray:
    """The depth image the sensor reports for `clean` (metres, 0 = no measurement)."""
    height, width = clean.shape
    result = clean.astype(np.float64)
    if noise.depth_noise > 0:
        # Axial sigma grows with z^2 (Nguyen et al. 2012); speckle is correlated over a few
        # pixels, so it is drawn at half resolution.
        sigma = noise.depth_noise * (0.001 + 0.0019 * np.maximum(result - 0.4, 0.0) ** 2)
        coarse = rng.normal(0.0, 1.0, ((height + 1) // 2, (width + 1) // 2))
        result += sigma * np.kron(coarse, np.ones((2, 2)))[:height, :width]
    if noise.quantise:
        result = quantise_disparity(result, camera.focal_baseline, camera.subpixel)
    holes = np.zeros(clean.shape, dtype=bool)
    if noise.range_holes:
        holes |= (clean < camera.min_range) | (clean > camera.max_range)
    if noise.edge_holes > 0:
        band = max(1, round(camera.edge_band_px * width / 320))
        holes |= discontinuity_band(clean, band) & (rng.random(clean.shape) < noise.edge_holes)
    if noise.dark_holes > 0:
        holes |= (luminance < camera.dark_threshold) & (rng.random(clean.shape) < noise.dark_holes)
    if noise.specular_holes:  # glass loses the pattern in patches, not pixel by pixel
        patches = cv2.resize(rng.random(((height + 7) // 8, (width + 7) // 8)), (width, height),
                             interpolation=cv2.INTER_LINEAR)
        holes |= glint | (glass & (patches < camera.glass_holes))
    if noise.dropout > 0:
        block = int(rng.integers(2, 7))
        coarse = rng.random(((height + block - 1) // block, (width + block - 1) // block))
        holes |= np.kron(coarse < noise.dropout, np.ones((block, block), dtype=bool))[
            :height, :width
        ]
    result[holes] = 0.0
    return result.astype(np.float32)
