"""Network input preparation: resize to the model's input size and normalise, in torch.

The model contract fixes the normalisation; this module is its one implementation on the
runtime side, so the node, the evaluation and the benchmarks feed models identically.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from sgnet_ros.pipeline.contract import ModelContract
from sgnet_ros.pipeline.geometry import scale_intrinsics


def resize_rgb(rgb: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(H,W,3) uint8 -> (3,h,w) float32 in 0..1, antialiased when shrinking."""
    image = rgb.permute(2, 0, 1).unsqueeze(0).float().div_(255.0)
    if tuple(image.shape[-2:]) != tuple(size):
        image = F.interpolate(image, size=size, mode="bilinear", align_corners=False,
                              antialias=True)
    return image[0]


def resize_depth(depth_m: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(H,W) metres -> (h,w) by nearest neighbour (never blends across depth edges)."""
    if tuple(depth_m.shape) == tuple(size):
        return depth_m
    return F.interpolate(depth_m[None, None], size=size, mode="nearest")[0, 0]


def network_intrinsics(K: np.ndarray, camera_size_hw: tuple[int, int],
                       network_size_hw: tuple[int, int]) -> np.ndarray:
    """K of the camera image resized to the network's input."""
    return scale_intrinsics(K, camera_size_hw[::-1], network_size_hw[::-1])


def normalise_rgb(rgb01: torch.Tensor, contract: ModelContract) -> torch.Tensor:
    """(3,h,w) RGB in 0..1 -> the model's normalised input."""
    mean = torch.tensor(contract.rgb_mean, dtype=rgb01.dtype, device=rgb01.device)[:, None, None]
    std = torch.tensor(contract.rgb_std, dtype=rgb01.dtype, device=rgb01.device)[:, None, None]
    return (rgb01 - mean) / std


def normalise_spatial(spatial: torch.Tensor, contract: ModelContract) -> torch.Tensor:
    """(C,h,w) spatial map in encoder units -> the model's normalised input."""
    mean = torch.tensor(contract.spatial_mean, dtype=spatial.dtype,
                        device=spatial.device)[:, None, None]
    std = torch.tensor(contract.spatial_std, dtype=spatial.dtype,
                       device=spatial.device)[:, None, None]
    return (spatial - mean) / std
