"""Cloud words gathered in torch on the device the frame is already on (the GPU).

After inference on CUDA, the label image, the depth and the colour are all on the GPU;
gathering the clouds there leaves the host one copy per buffer instead of a numpy pass
over every pixel. The words are bit for bit those of the numpy path in `outputs`
(x y z rgb label, 4 bytes each, NaN xyz where depth is invalid; class rows grouped by
class in pixel order), which the tests check by running this on CPU tensors.
"""

from __future__ import annotations

import torch


def point_words(depth: torch.Tensor, valid: torch.Tensor, rays_x: torch.Tensor,
                rays_y: torch.Tensor, rgb: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """(H, W, 5) int32 words x y z rgb label; float fields are carried as their bits."""
    z = torch.where(valid, depth, torch.full((), float("nan"), device=depth.device))
    channels = rgb.to(torch.int32)
    packed_rgb = (channels[..., 0] << 16) | (channels[..., 1] << 8) | channels[..., 2]
    floats = [(z * rays_x).view(torch.int32), (z * rays_y).view(torch.int32),
              z.view(torch.int32)]
    return torch.stack([*floats, packed_rgb, labels.to(torch.int32)], dim=-1)


def class_rows(labels: torch.Tensor, valid: torch.Tensor, wanted: list[int], unlabeled: int,
               num_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Flat indices of the valid points of wanted classes, grouped by ascending class in pixel
    order (a stable sort), and the number of points per class id."""
    is_wanted = torch.zeros(unlabeled + 1, dtype=torch.bool, device=labels.device)
    is_wanted[wanted] = True
    flat = labels.reshape(-1).long()
    keys = torch.where(valid.reshape(-1) & is_wanted[flat], flat, unlabeled)
    counts = torch.bincount(keys, minlength=unlabeled + 1)[:num_classes]
    order = torch.sort(keys, stable=True).indices
    return order, counts
