"""Frame geometry checks: depth registered to the colour grid, K that fits the image.

These are the checks depth_image_proc leaves to the user; a robot's driver mix gets them
wrong often enough (half-resolution depth, camera_info of another stream, K all zeros) that
each gets a named refusal or a lossless fix here, before any stage sees the frame.
"""

from __future__ import annotations

import numpy as np


class FrameError(ValueError):
    """A frame the pipeline refuses; `reason` is the diagnostics counter it moves."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def scale_intrinsics(K: np.ndarray, from_size: tuple[int, int],
                     to_size: tuple[int, int]) -> np.ndarray:
    """K of a (width, height) image resized to another (width, height), as image_proc does."""
    scale_x = to_size[0] / from_size[0]
    scale_y = to_size[1] / from_size[1]
    scaled = np.array(K, dtype=np.float64).reshape(3, 3)
    scaled[0] *= scale_x
    scaled[1] *= scale_y
    return scaled


def check_intrinsics(K: np.ndarray) -> np.ndarray:
    """A usable 3x3 pinhole K, or a FrameError that points at the camera_info topic."""
    K = np.asarray(K, dtype=np.float64).reshape(3, 3)
    if not np.all(np.isfinite(K)) or K[0, 0] <= 0 or K[1, 1] <= 0:
        raise FrameError(
            "bad_camera_info",
            f"camera_info K has no usable focal length (fx={K[0, 0]}, fy={K[1, 1]}); is the "
            "camera_info topic the colour camera's, and is the camera calibrated?")
    return K


def intrinsics_for_image(K: np.ndarray, info_size: tuple[int, int] | None,
                         image_size: tuple[int, int]) -> np.ndarray:
    """K for the colour image, scaled when camera_info describes the same view at another size."""
    K = check_intrinsics(K)
    if info_size is None or tuple(info_size) == tuple(image_size) or info_size == (0, 0):
        return K
    info_w, info_h = info_size
    image_w, image_h = image_size
    if abs(info_w * image_h - info_h * image_w) > max(info_w, info_h) * 0.01:
        raise FrameError(
            "size_mismatch",
            f"camera_info is {info_w}x{info_h} but the colour image is {image_w}x{image_h} "
            "with another aspect ratio; subscribe to the colour camera's own camera_info")
    return scale_intrinsics(K, info_size, image_size)


def depth_on_color_grid(depth_m: np.ndarray, color_shape: tuple[int, int]) -> np.ndarray:
    """Depth resampled to the colour image's grid when their sizes differ by an exact ratio.

    Nearest neighbour only: averaging depths across an edge would invent surfaces.
    """
    if depth_m.shape == tuple(color_shape):
        return depth_m
    depth_h, depth_w = depth_m.shape
    color_h, color_w = color_shape
    up = color_h % depth_h == 0 and color_h // depth_h == color_w / depth_w
    down = depth_h % color_h == 0 and depth_h // color_h == depth_w / color_w
    if not (up or down):
        raise FrameError(
            "size_mismatch",
            f"depth is {depth_w}x{depth_h} but colour is {color_w}x{color_h}: not an exact "
            "integer ratio; the depth must be registered to the colour camera")
    rows = (np.arange(color_h) * depth_h) // color_h
    cols = (np.arange(color_w) * depth_w) // color_w
    return depth_m[rows[:, None], cols[None, :]]
