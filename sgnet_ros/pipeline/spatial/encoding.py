"""The spatial map S that guides SGNet's S-Conv: HHA, XYZ or depth, from one depth image.

SpatialEncoder is the single code path used by the ROS node, `sgnet-hha` and training, so a
frame encodes identically everywhere. Units are the encoder's (see sgnet_ros.pipeline.contract):
HHA in grey levels 0..255, XYZ in metres in the camera optical frame (x right, y down,
z forward; REP 103), depth in metres; pixels without depth are 0 in XYZ and depth.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from sgnet_ros.pipeline.codec import EncodedImage, encode_image
from sgnet_ros.pipeline.contract import SPATIAL_CHANNELS
from sgnet_ros.pipeline.spatial.hha import (
    HHAOptions,
    Workspace,
    as_depth_tensor,
    encode_hha,
    intrinsics_from_matrix,
)

__all__ = ["HHAOptions", "SpatialEncoder", "depth_to_metres", "encode_depth", "encode_xyz",
           "spatial_image"]


def depth_to_metres(
    depth: np.ndarray | torch.Tensor, depth_scale: float | None = None
) -> torch.Tensor:
    """Depth image -> float metres tensor (0 where the sensor gave nothing).

    Integer images (16UC1) need depth_scale, the metres per unit (0.001 for millimetres);
    they become float64, divided by the units per metre as the reference does, so the
    disparity channel stays bit-exact. Floating-point images (32FC1) are metres already and
    are returned as they are (depth_scale is not applied to them).
    """
    if isinstance(depth, np.ndarray):
        depth = torch.from_numpy(np.ascontiguousarray(depth))
    if not isinstance(depth, torch.Tensor):
        raise ValueError(f"depth must be a numpy array or torch.Tensor, got {type(depth)}")
    if depth.is_floating_point():
        return depth
    if depth.dtype in (torch.bool, torch.complex64, torch.complex128):
        raise ValueError(f"unsupported depth dtype {depth.dtype}")
    if depth_scale is None or not depth_scale > 0:
        raise ValueError(
            f"integer depth ({depth.dtype}) needs depth_scale > 0 in metres per unit "
            f"(0.001 for millimetres), got {depth_scale!r}"
        )
    return depth.to(torch.float64) / (1.0 / depth_scale)


def encode_xyz(depth_m: torch.Tensor, K: np.ndarray | torch.Tensor) -> torch.Tensor:
    """(3, H, W) float32 points in metres in the optical frame; 0 where depth is invalid."""
    intrinsics = intrinsics_from_matrix(K)
    depth = encode_depth(depth_m)
    height, width = depth.shape[-2:]
    columns = torch.arange(width, dtype=torch.float32, device=depth.device)
    rows = torch.arange(height, dtype=torch.float32, device=depth.device)
    x = (columns - intrinsics.cx)[None, :] / intrinsics.fx * depth[0]
    y = (rows - intrinsics.cy)[:, None] / intrinsics.fy * depth[0]
    return torch.stack((x, y, depth[0]))


def encode_depth(depth_m: torch.Tensor) -> torch.Tensor:
    """(1, H, W) float32 metres; 0 where depth is NaN, infinite or <= 0."""
    depth = as_depth_tensor(depth_m)
    valid = torch.isfinite(depth) & (depth > 0)
    return torch.where(valid, depth, 0.0).to(torch.float32)[None]


class SpatialEncoder:
    """Encodes depth frames into the spatial map of one mode, on one device.

    Stateful only for HHA gravity smoothing (HHAOptions.gravity_smoothing); call reset()
    when the stream restarts (e.g. a bag loops). It also keeps HHA scratch memory between
    frames (fresh float64 temporaries would cost more than the arithmetic), so use one
    encoder per thread.
    """

    def __init__(
        self,
        mode: str,
        device: torch.device | str = "cpu",
        hha: HHAOptions | None = None,
    ) -> None:
        if mode not in SPATIAL_CHANNELS:
            raise ValueError(f"spatial mode must be one of {tuple(SPATIAL_CHANNELS)}, got {mode!r}")
        self.mode = mode
        self.device = torch.device(device)
        self.hha_options = hha or HHAOptions()
        self.channels = SPATIAL_CHANNELS[mode]
        self._previous_gravity: torch.Tensor | None = None
        self._workspace = Workspace()

    def reset(self) -> None:
        """Forgets the temporal state (the smoothed gravity)."""
        self._previous_gravity = None

    @property
    def scratch_bytes(self) -> int:
        """Memory the encoder keeps between frames (HHA scratch tensors)."""
        return self._workspace.nbytes

    @property
    def gravity(self) -> torch.Tensor | None:
        """The gravity direction (optical frame) of the last HHA frame, None before any."""
        return self._previous_gravity

    def encode(
        self,
        depth_m: torch.Tensor | np.ndarray,
        K: np.ndarray | torch.Tensor,
        gravity: Sequence[float] | np.ndarray | None = None,
        missing: torch.Tensor | np.ndarray | None = None,
        camera_height_m: float | None = None,
    ) -> torch.Tensor:
        """(C, H, W) float32 spatial map on the encoder's device, in encoder units.

        HHA only: gravity is this frame's gravity (down) in the optical frame, e.g. from TF;
        it replaces HHAOptions.gravity_vector as the estimate's start or as the answer.
        camera_height_m: this frame's camera height above the floor (height_mode "tf").
        missing (H, W) bool marks pixels the sensor did not measure when depth_m has been
        hole-filled offline (datasets); by default the invalid pixels of depth_m.
        """
        depth = as_depth_tensor(depth_m).to(self.device)
        if self.mode == "depth":
            return encode_depth(depth)
        if self.mode == "xyz":
            return encode_xyz(depth, K)
        result = encode_hha(
            depth,
            missing,
            K,
            options=self.hha_options,
            gravity=gravity,
            previous_gravity=self._previous_gravity,
            workspace=self._workspace,
            camera_height_m=camera_height_m,
        )
        self._previous_gravity = result.gravity
        return result.hha.to(torch.float32)


def spatial_image(spatial: torch.Tensor, mode: str) -> EncodedImage:
    """A spatial map as an image to look at: HHA as rgb8 (its grey levels are integers),
    XYZ as 32FC3 and depth as 32FC1 metres."""
    array = spatial.detach().to("cpu").permute(1, 2, 0).numpy()
    if mode == "hha":
        return encode_image(np.ascontiguousarray(array.astype(np.uint8)), "rgb8")
    if mode == "xyz":
        return encode_image(np.ascontiguousarray(array, dtype=np.float32), "32FC3")
    return encode_image(np.ascontiguousarray(array[..., 0], dtype=np.float32), "32FC1")
