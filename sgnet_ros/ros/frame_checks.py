"""The node's per-frame geometry checks: camera_info, registration, distortion, depth quality.

Each refusal is a FrameError with a diagnostics reason and a line that names the field,
frame ids or share at fault and the fix; what passes is counted for /diagnostics. The
arithmetic lives in the ROS-free pipeline.geometry; this adds what needs message headers
and the node's logger.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from sgnet_ros.pipeline.geometry import (
    CameraModel,
    FrameError,
    Rectifier,
    depth_on_color_grid,
    intrinsics_for_image,
    valid_depth_fraction,
)

MOSTLY_INVALID_FRACTION = 0.5  # below this share of valid depth pixels, a throttled warning


def camera_model(msg: Any) -> CameraModel:
    """sensor_msgs/CameraInfo (any backend) -> CameraModel."""
    return CameraModel.from_fields(msg.width, msg.height, msg.distortion_model, msg.d, msg.k,
                                   msg.r, msg.p)


class FrameChecks:
    """Geometry checks and the optional rectification, with their counters."""

    def __init__(self, settings: dict[str, Any], warn: Callable[[str, str], None],
                 info: Callable[[str], None], topics: Callable[[str], str]) -> None:
        self._check_registration = settings["check_registration"]
        self._min_valid = settings["min_valid_depth_fraction"]
        self._rectifier = Rectifier() if settings["rectify"] else None
        self._warn, self._info, self._topic = warn, info, topics
        self._last_distortion: tuple | None = None
        self.empty_frame_ids = 0
        self.valid_depth = float("nan")
        self.input_state = "no frame yet"

    def camera(self, info_msg: Any) -> CameraModel:
        """The validated camera model, before any other work on the frame."""
        model = camera_model(info_msg)
        model.intrinsics()  # raises bad_camera_info naming the field and value
        self._report_distortion(model)
        return model

    def _report_distortion(self, model: CameraModel) -> None:
        """Log once per change of D; diagnostics say whether the input looks rectified."""
        distortion = (model.distortion_model, tuple(model.D.tolist()))
        if not model.distorted:
            self.input_state = "rectified (D = 0)"
        elif self._rectifier is not None:
            self.input_state = f"rectified by the node ({model.distortion_model})"
        else:
            self.input_state = (f"looks unrectified: camera_info D is non-zero "
                                f"({model.distortion_model}); set rectify: true")
        if not model.distorted or distortion == self._last_distortion:
            return
        self._last_distortion = distortion
        values = ", ".join(f"{value:g}" for value in model.D)
        if self._rectifier is not None:
            self._info(f"camera_info D = [{values}] ({model.distortion_model}): rectifying "
                       "colour and depth with OpenCV (rectify: true)")
        else:
            self._warn(f"distortion {distortion}", (
                f"camera_info D = [{values}] ({model.distortion_model}) is non-zero, so "
                f"{self._topic('rgb/image_rect_color')} looks unrectified and every pixel's "
                "ray is bent; feed image_proc's rectified images or set rectify: true"))

    def check_headers(self, rgb_msg: Any, depth_msg: Any) -> None:
        """Empty frame ids warned and counted; depth of another frame refused."""
        rgb_frame, depth_frame = rgb_msg.header.frame_id, depth_msg.header.frame_id
        empty = [name for name, frame in (("colour", rgb_frame), ("depth", depth_frame))
                 if not frame]
        if empty:
            self.empty_frame_ids += 1
            self._warn("empty frame_id", (
                f"the {' and '.join(empty)} image has an empty header.frame_id: outputs carry "
                "it and cannot be placed in TF; set the camera driver's frame_id"))
            return
        if self._check_registration and rgb_frame != depth_frame:
            raise FrameError("unregistered_depth", (
                f"depth frame_id '{depth_frame}' differs from colour frame_id '{rgb_frame}': "
                "the depth is not registered to the colour camera, so pixels would pair with "
                "the wrong depth; enable align_depth on realsense2_camera "
                "(align_depth.enable:=true) or run depth_image_proc's register node, or set "
                "check_registration: false if your driver names registered depth differently"),
                log_key=f"unregistered {depth_frame} {rgb_frame}")

    def prepare(self, rgb: np.ndarray, depth_m: np.ndarray,
                model: CameraModel) -> tuple[np.ndarray, np.ndarray, CameraModel]:
        """Depth on the colour grid, the model at the image's size, rectified when asked;
        frames with too little valid depth refused."""
        height, width = rgb.shape[:2]
        depth_m = depth_on_color_grid(depth_m, (height, width))
        intrinsics_for_image(model.intrinsics(), model.size, (width, height))  # aspect check
        model = model.scaled((width, height))
        if self._rectifier is not None:
            rgb, depth_m, model = self._rectifier.rectify(model, rgb, depth_m)
        self.valid_depth = valid_depth_fraction(depth_m)
        if self.valid_depth < self._min_valid:
            raise FrameError("no_valid_depth", (
                f"{self._topic('depth_registered/image_rect')}: {self.valid_depth:.1%} of the "
                f"pixels have valid depth, below min_valid_depth_fraction={self._min_valid}"))
        if self.valid_depth < MOSTLY_INVALID_FRACTION:
            self._warn("mostly invalid depth", (
                f"{self._topic('depth_registered/image_rect')}: only {self.valid_depth:.1%} of "
                "the pixels have valid depth (0, negative, NaN or inf); HHA and clouds are "
                "mostly empty. Is the depth stream the registered one, and in range?"))
        return rgb, depth_m, model

    def diagnostics(self) -> dict[str, Any]:
        return {"valid depth fraction": self.valid_depth, "input rectified": self.input_state,
                "empty frame ids": self.empty_frame_ids}
