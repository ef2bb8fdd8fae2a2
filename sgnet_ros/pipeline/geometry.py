"""Frame geometry: the camera model of a camera_info, its checks, rectification, depth grid.

These are the checks depth_image_proc leaves to the user; a robot's driver mix gets them
wrong often enough (half-resolution depth, camera_info of another stream, K all zeros,
distortion on a topic named rectified) that each gets a named refusal or a lossless fix
here, before any stage sees the frame. The model follows image_geometry.PinholeCameraModel:
a rectified image is projected with P, not K.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import cv2
import numpy as np

FIELD_OF_VIEW_DEG = (1.0, 179.0)
MAX_SKEW_FRACTION = 1e-6  # |K[0][1]| / fx below this is rounding, above it a sheared camera
FISHEYE_MODELS = ("equidistant", "fisheye")
PINHOLE_MODELS = ("plumb_bob", "rational_polynomial", "")


class FrameError(ValueError):
    """A frame the pipeline refuses; `reason` is the diagnostics counter it moves.

    `log_key` throttles its log line apart from other refusals of the same reason (another
    pair of frame ids is news)."""

    def __init__(self, reason: str, message: str, log_key: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.log_key = log_key or reason


def scale_intrinsics(K: np.ndarray, from_size: tuple[int, int],
                     to_size: tuple[int, int]) -> np.ndarray:
    """K of a (width, height) image resized to another (width, height), as image_proc does."""
    scale_x = to_size[0] / from_size[0]
    scale_y = to_size[1] / from_size[1]
    scaled = np.array(K, dtype=np.float64).reshape(3, 3)
    scaled[0] *= scale_x
    scaled[1] *= scale_y
    return scaled


def _bad_camera_info(field: str, value: float, why: str) -> FrameError:
    return FrameError("bad_camera_info", f"camera_info {field} = {value!r} {why}; is the "
                      "camera_info topic the colour camera's, and is the camera calibrated?",
                      log_key=f"bad_camera_info {field} {value!r}")


def check_intrinsics(K: np.ndarray, size: tuple[int, int] | None = None,
                     name: str = "K") -> np.ndarray:
    """A usable 3x3 pinhole matrix, or a FrameError naming the offending field and value.

    Focal lengths finite and positive with a field of view of 1..179 degrees over `size`
    (width, height), principal point finite, last row [0, 0, 1] and no meaningful skew (a
    rounding-level skew is set to 0). Plain float arithmetic: no numpy overflow warnings.
    """
    K = np.array(K, dtype=np.float64).reshape(3, 3)
    for (row, col), label in (((0, 0), "fx"), ((1, 1), "fy")):
        focal = float(K[row, col])
        field = f"{name}[{row}][{col}] ({label})"
        if not (math.isfinite(focal) and focal > 0):
            raise _bad_camera_info(field, focal, "is not a finite positive focal length")
        extent = (size or (0, 0))[col]
        if extent > 0:
            fov = math.degrees(2.0 * math.atan2(extent / 2.0, focal))
            if not FIELD_OF_VIEW_DEG[0] <= fov <= FIELD_OF_VIEW_DEG[1]:
                raise _bad_camera_info(
                    field, focal, f"gives a field of view of {fov:.3g} deg over {extent} "
                    f"pixels, outside {FIELD_OF_VIEW_DEG[0]:g}..{FIELD_OF_VIEW_DEG[1]:g} deg")
    for (row, col), label in (((0, 2), "cx"), ((1, 2), "cy")):
        if not math.isfinite(float(K[row, col])):
            raise _bad_camera_info(f"{name}[{row}][{col}] ({label})", float(K[row, col]),
                                   "is not a finite principal point")
    for (row, col), wanted in (((1, 0), 0.0), ((2, 0), 0.0), ((2, 1), 0.0), ((2, 2), 1.0)):
        if float(K[row, col]) != wanted:
            raise _bad_camera_info(f"{name}[{row}][{col}]", float(K[row, col]),
                                   f"must be {wanted:g} in a pinhole camera matrix")
    skew = float(K[0, 1])
    if not (math.isfinite(skew) and abs(skew) <= MAX_SKEW_FRACTION * K[0, 0]):
        raise _bad_camera_info(f"{name}[0][1] (skew)", skew,
                               "is a skew this node does not model (expected 0)")
    K[0, 1] = 0.0
    return K


@dataclass(frozen=True)
class CameraModel:
    """What a sensor_msgs/CameraInfo says about an image, without ROS types.

    K, D and R describe the raw camera; P the rectified image (image_geometry's
    PinholeCameraModel projects with P). A camera_info whose P is left all zero (some
    simulators) is read through K.
    """

    width: int
    height: int
    distortion_model: str
    D: np.ndarray
    K: np.ndarray  # 3x3
    R: np.ndarray  # 3x3
    P: np.ndarray  # 3x4

    @classmethod
    def from_fields(cls, width: int, height: int, distortion_model: str, d, k, r,
                    p) -> CameraModel:
        """From the flat arrays of a camera_info message."""
        r = np.asarray(r, dtype=np.float64).reshape(-1)
        p = np.asarray(p, dtype=np.float64).reshape(-1)
        return cls(int(width), int(height), str(distortion_model),
                   np.asarray(d, dtype=np.float64).reshape(-1),
                   np.asarray(k, dtype=np.float64).reshape(3, 3),
                   r.reshape(3, 3) if r.size == 9 and np.any(r) else np.eye(3),
                   p.reshape(3, 4) if p.size == 12 else np.zeros((3, 4)))

    @property
    def size(self) -> tuple[int, int] | None:
        """(width, height), or None when the camera_info leaves them 0."""
        return (self.width, self.height) if self.width > 0 and self.height > 0 else None

    @property
    def has_projection(self) -> bool:
        return bool(np.any(self.P[:, :3]))

    @property
    def distorted(self) -> bool:
        """Non-zero D: the image this camera_info describes is not rectified."""
        return bool(np.any(self.D != 0))

    def intrinsics(self) -> np.ndarray:
        """The validated 3x3 matrix that projects the rectified image (P's, else K)."""
        for index, value in enumerate(self.D.tolist()):
            if not math.isfinite(value):
                raise _bad_camera_info(f"D[{index}]", value, "is not a finite distortion")
        K = check_intrinsics(self.K, self.size, "K")
        return check_intrinsics(self.P[:, :3], self.size, "P") if self.has_projection else K

    def rectified(self) -> CameraModel:
        """The model of this camera's rectified image: no distortion, K = P, R = I."""
        projection = self.P if self.has_projection else np.hstack([self.K, np.zeros((3, 1))])
        return replace(self, distortion_model="plumb_bob", D=np.zeros(5),
                       K=projection[:, :3].copy(), R=np.eye(3), P=projection.copy())

    def scaled(self, size: tuple[int, int]) -> CameraModel:
        """The same view at another (width, height), as image_proc's resize scales it."""
        if self.size is None or self.size == tuple(size):
            return replace(self, width=int(size[0]), height=int(size[1]))
        scale = np.array([[size[0] / self.width], [size[1] / self.height], [1.0]])
        return replace(self, width=int(size[0]), height=int(size[1]), K=self.K * scale,
                       P=self.P * scale)


class Rectifier:
    """Undistorts and rectifies colour and depth with OpenCV, for setups without image_proc.

    The pixel maps are computed once per camera model and reused: building them costs tens
    of milliseconds, applying them a few. Colour is interpolated bilinearly; depth takes
    the nearest pixel, because averaging depths across an edge would invent surfaces.
    """

    def __init__(self) -> None:
        self._key: bytes | None = None
        self._maps: tuple[np.ndarray, np.ndarray] | None = None
        self.maps_built = 0

    def _pixel_maps(self, model: CameraModel) -> tuple[np.ndarray, np.ndarray]:
        key = b"".join((repr((model.width, model.height, model.distortion_model)).encode(),
                        model.D.tobytes(), model.K.tobytes(), model.R.tobytes(),
                        model.P.tobytes()))
        if key != self._key:
            target = model.rectified().K
            size = (model.width, model.height)
            if model.distortion_model in FISHEYE_MODELS:
                self._maps = cv2.fisheye.initUndistortRectifyMap(
                    model.K, model.D[:4], model.R, target, size, cv2.CV_32FC1)
            elif model.distortion_model in PINHOLE_MODELS:
                self._maps = cv2.initUndistortRectifyMap(
                    model.K, model.D, model.R, target, size, cv2.CV_32FC1)
            else:
                raise FrameError(
                    "bad_camera_info",
                    f"camera_info distortion_model '{model.distortion_model}' cannot be "
                    f"rectified here (known: {', '.join(PINHOLE_MODELS[:2] + FISHEYE_MODELS)})")
            self._key = key
            self.maps_built += 1
        return self._maps

    def rectify(self, model: CameraModel, rgb: np.ndarray,
                depth_m: np.ndarray) -> tuple[np.ndarray, np.ndarray, CameraModel]:
        """Rectified colour, depth (same grid) and the model that now describes them."""
        if not model.distorted and np.array_equal(model.R, np.eye(3)):
            return rgb, depth_m, model.rectified()
        map_x, map_y = self._pixel_maps(model)
        rectified_rgb = cv2.remap(rgb, map_x, map_y, cv2.INTER_LINEAR,
                                  borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        rectified_depth = cv2.remap(depth_m, map_x, map_y, cv2.INTER_NEAREST,
                                    borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        return rectified_rgb, rectified_depth, model.rectified()


def valid_depth_fraction(depth_m: np.ndarray) -> float:
    """Share of pixels with a usable depth (finite and > 0)."""
    if depth_m.size == 0:
        return 0.0
    return float(np.count_nonzero(np.isfinite(depth_m) & (depth_m > 0))) / depth_m.size


def intrinsics_for_image(K: np.ndarray, info_size: tuple[int, int] | None,
                         image_size: tuple[int, int]) -> np.ndarray:
    """K for the colour image, scaled when camera_info describes the same view at another size."""
    K = check_intrinsics(K, info_size if info_size and all(info_size) else image_size)
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
