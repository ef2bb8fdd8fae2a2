"""Training augmentation that leaves colour unable to explain the labels.

The synthetic rooms paint each class in its own family of colours; a network trained on them
as they are learns those colours and fails on a real camera. Here the RGB image gets strong,
varied photometric changes (and sometimes loses its colours and texture altogether) while the
spatial channels stay exact, so geometry is the only cue that always holds.

Geometric changes (scale, crop, flip) move RGB, spatial maps and labels together: RGB is
resampled bilinearly, spatial maps and labels by nearest neighbour, as the pipeline resizes
depth before it encodes it (a nearest sample of a depth-derived map is the map of the nearest
depth sample; a blend would invent surfaces between depth edges). The nearest sample is taken
at pixel centres (INTER_NEAREST_EXACT), the convention of the bilinear RGB resize, so the two
stay aligned to the sub-pixel.

Every draw comes from the numpy Generator the caller passes, so a (seed, epoch, index)
generator gives the same sample whenever it is asked for (exact resume).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

IGNORE_LABEL = 255
SCALE_RANGE = (0.6, 1.5)
# RGB -> YIQ; hue is a rotation of (I, Q), saturation their length.
_RGB_TO_YIQ = np.array(
    [[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]], dtype=np.float64
)
_YIQ_TO_RGB = np.linalg.inv(_RGB_TO_YIQ)


@dataclass
class Sample:
    """rgb (H,W,3) float32 in 0..1, spatial (C,H,W) float32 in encoder units, labels (H,W)."""

    rgb: np.ndarray
    spatial: np.ndarray
    labels: np.ndarray


def scale_crop_flip(
    sample: Sample,
    out_size: tuple[int, int],
    rng: np.random.Generator,
    spatial_fill: np.ndarray,
    scale_range: tuple[float, float] | None = SCALE_RANGE,
    flip_x_channel: bool = False,
    flip: bool = True,
) -> Sample:
    """Random zoom in `scale_range` (none when None), a random `out_size` window, a mirror with
    probability 1/2 (never when not `flip`). Where the zoomed frame is smaller than the
    window the rest is padding: grey RGB, `spatial_fill` (the normalisation mean), ignored
    labels."""
    rgb, spatial, labels = sample.rgb, sample.spatial, sample.labels
    if scale_range is not None:
        scale = float(rng.uniform(*scale_range))
        height, width = labels.shape
        size_wh = (max(1, round(width * scale)), max(1, round(height * scale)))
        rgb = cv2.resize(rgb, size_wh, interpolation=cv2.INTER_AREA if scale < 1 else
                         cv2.INTER_LINEAR)
        spatial = np.stack(
            [cv2.resize(channel, size_wh, interpolation=cv2.INTER_NEAREST_EXACT)
             for channel in spatial]
        )
        labels = cv2.resize(labels, size_wh, interpolation=cv2.INTER_NEAREST_EXACT)
    rgb, spatial, labels = _window(rgb, spatial, labels, out_size, rng, spatial_fill)
    if flip and rng.random() < 0.5:
        rgb, spatial, labels = rgb[:, ::-1], spatial[:, :, ::-1].copy(), labels[:, ::-1]
        if flip_x_channel:
            spatial[0] = -spatial[0]  # mirroring negates the optical x coordinate
    return Sample(np.ascontiguousarray(rgb), np.ascontiguousarray(spatial),
                  np.ascontiguousarray(labels))


def _window(rgb, spatial, labels, out_size, rng, spatial_fill):
    """A random out_size window; padded where the image is smaller than the window."""
    out_h, out_w = out_size
    height, width = labels.shape
    pad_h, pad_w = max(out_h - height, 0), max(out_w - width, 0)
    if pad_h or pad_w:
        top, left = int(rng.integers(0, pad_h + 1)), int(rng.integers(0, pad_w + 1))
        padding = ((top, pad_h - top), (left, pad_w - left))
        rgb = np.pad(rgb, (*padding, (0, 0)), constant_values=0.5)
        spatial = np.stack(
            [np.pad(channel, padding, constant_values=fill)
             for channel, fill in zip(spatial, spatial_fill, strict=True)]
        )
        labels = np.pad(labels, padding, constant_values=IGNORE_LABEL)
        height, width = labels.shape
    top = int(rng.integers(0, height - out_h + 1))
    left = int(rng.integers(0, width - out_w + 1))
    rows, cols = slice(top, top + out_h), slice(left, left + out_w)
    return rgb[rows, cols], spatial[:, rows, cols], labels[rows, cols]


def colour_matrix(rng: np.random.Generator) -> np.ndarray:
    """One 3x3 RGB transform: hue rotation, saturation (greyscale at times), white balance
    gains and a channel shuffle, composed so the image is touched once."""
    angle = rng.uniform(-np.pi, np.pi)
    saturation = 0.0 if rng.random() < 0.15 else rng.uniform(0.3, 1.6)
    cos, sin = np.cos(angle) * saturation, np.sin(angle) * saturation
    hue_saturation = np.array([[1.0, 0.0, 0.0], [0.0, cos, -sin], [0.0, sin, cos]])
    matrix = _YIQ_TO_RGB @ hue_saturation @ _RGB_TO_YIQ
    gains = np.diag(rng.uniform(0.7, 1.3, size=3))
    shuffle = np.eye(3)[rng.permutation(3)] if rng.random() < 0.3 else np.eye(3)
    return (shuffle @ gains @ matrix).astype(np.float32)


def random_colour_remap(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each channel through its own random, non-monotonic curve: colours and shading lose
    their meaning, edges stay."""
    knots = rng.uniform(0.0, 1.0, size=(3, int(rng.integers(3, 7))))
    grid = np.linspace(0.0, 1.0, 256)
    result = np.empty_like(rgb)
    levels = np.clip(rgb * 255.0, 0, 255).astype(np.uint8)
    for channel in range(3):
        curve = np.interp(grid, np.linspace(0.0, 1.0, knots.shape[1]), knots[channel])
        result[..., channel] = curve.astype(np.float32)[levels[..., channel]]
    return result


def photometric(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Strong colour and texture changes of an (H,W,3) float32 0..1 image."""
    if rng.random() < 0.1:  # colour and texture gone: only the edges of the shapes remain
        rgb = random_colour_remap(rgb, rng)
    elif rng.random() < 0.05:
        rgb = cv2.GaussianBlur(rgb, (0, 0), float(rng.uniform(3.0, 6.0)))
    rgb = rgb @ colour_matrix(rng).T
    contrast = rng.uniform(0.5, 1.5)
    brightness = rng.uniform(-0.25, 0.25)
    mean = rgb.mean()
    rgb = (rgb - mean) * contrast + mean + brightness
    rgb = np.clip(rgb, 0.0, 1.0)
    rgb = rgb ** np.float32(np.exp(rng.uniform(-0.5, 0.5)))  # gamma 0.6..1.65
    if rng.random() < 0.3:
        rgb = cv2.GaussianBlur(rgb, (0, 0), float(rng.uniform(0.5, 1.5)))
    if rng.random() < 0.5:
        sigma = rng.uniform(0.005, 0.05)
        rgb = rgb + rng.standard_normal(rgb.shape, dtype=np.float32) * np.float32(sigma)
    return np.clip(rgb, 0.0, 1.0).astype(np.float32)
