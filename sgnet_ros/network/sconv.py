"""Spatial information guided convolution (S-Conv) with standard ops only.

The official S-Conv runs on hand-written CUDA deformable-convolution kernels. Here the
deformable sampling is ONE ``grid_sample`` over all kernel taps followed by ONE matmul
(im2col style), and the layer's two deformable convolutions share one sampling grid. The
layer runs on any PyTorch device and exports to ONNX as
GridSample + MatMul, which ONNX Runtime (CPU, CUDA) and TensorRT run without custom ops.

Semantics match the official kernels (DCNv2, ``modulated_deform_im2col_cuda.cu``):
tap ``k = i * kernel_w + j`` samples the input at
``(h_out * stride - padding + i * dilation + offset[2k], w_out * stride - padding + j * dilation
+ offset[2k + 1])`` (offset channel 2k is dy, 2k+1 is dx), bilinearly with zeros outside the
image, and is multiplied by ``mask[k]`` before the weighted sum.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def tap_grid(
    offset: torch.Tensor,
    height: int,
    width: int,
    kernel_size: int,
    stride: int,
    padding: int,
    dilation: int,
) -> torch.Tensor:
    """grid_sample grid of every deformed tap, (N, K * H_out, W_out, 2), for an H x W input.

    offset is (N, 2K, H_out, W_out) in the official layout: channel 2k is dy, 2k + 1 is dx.
    """
    batch, _, out_height, out_width = offset.shape
    taps = kernel_size * kernel_size
    tap_index = torch.arange(taps, device=offset.device)
    tap_rows = torch.div(tap_index, kernel_size, rounding_mode="floor").to(offset.dtype)
    tap_cols = torch.remainder(tap_index, kernel_size).to(offset.dtype)
    rows = torch.arange(out_height, dtype=offset.dtype, device=offset.device) * stride - padding
    cols = torch.arange(out_width, dtype=offset.dtype, device=offset.device) * stride - padding
    # Undeformed tap positions in pixels, (K, H_out, 1) and (K, 1, W_out), then in
    # grid_sample's align_corners=False units, where pixel p sits at (2p + 1) / size - 1
    # (finite even for a 1-pixel map, unlike the align_corners=True form).
    base_y = (rows[None, :] + tap_rows[:, None] * dilation)[:, :, None]
    base_x = (cols[None, :] + tap_cols[:, None] * dilation)[:, None, :]
    base = torch.stack(
        torch.broadcast_tensors(
            (2.0 * base_y + 1.0) / height - 1.0, (2.0 * base_x + 1.0) / width - 1.0
        ),
        dim=1,
    )
    scale = torch.stack(
        (
            2.0 / torch.tensor(height, dtype=offset.dtype, device=offset.device),
            2.0 / torch.tensor(width, dtype=offset.dtype, device=offset.device),
        )
    )
    # Scale and shift in the offsets' own (N, K, 2, H_out, W_out) layout, where the
    # broadcasts are cheap, then move (dy, dx) last as the (x, y) pair grid_sample wants.
    offset = offset.reshape(batch, taps, 2, out_height, out_width)
    grid = offset * scale[:, None, None] + base
    return grid.flip(2).permute(0, 1, 3, 4, 2).reshape(batch, taps * out_height, out_width, 2)


def sample_taps(x: torch.Tensor, grid: torch.Tensor, taps: int) -> torch.Tensor:
    """Bilinear samples of ``x`` (zero outside) at all taps in one call: (N, C, K, L)."""
    sampled = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return sampled.reshape(x.shape[0], x.shape[1], taps, -1)


def conv_from_taps(
    columns: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    out_height: int,
    out_width: int,
) -> torch.Tensor:
    """The convolution sum over sampled taps (N, C, K, L) as one matmul: (N, O, H_out, W_out)."""
    batch = columns.shape[0]
    columns = columns.reshape(batch, -1, columns.shape[-1])
    output = torch.matmul(weight.reshape(weight.shape[0], -1), columns)
    if bias is not None:
        output = output + bias[:, None]
    return output.reshape(batch, weight.shape[0], out_height, out_width)


def deformable_conv2d(
    x: torch.Tensor,
    offset: torch.Tensor,
    mask: torch.Tensor | None,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    stride: int = 1,
    padding: int = 0,
    dilation: int = 1,
) -> torch.Tensor:
    """Modulated deformable convolution (DCNv2; DCNv1 when ``mask`` is None).

    x (N, C, H, W); offset (N, 2K, H_out, W_out); mask (N, K, H_out, W_out);
    weight (O, C, k, k); bias (O,). Returns (N, O, H_out, W_out).
    """
    kernel_size = weight.shape[-1]
    taps = kernel_size * kernel_size
    out_height, out_width = offset.shape[-2], offset.shape[-1]
    grid = tap_grid(offset, x.shape[2], x.shape[3], kernel_size, stride, padding, dilation)
    columns = sample_taps(x, grid, taps)
    if mask is not None:
        columns = columns * mask.reshape(x.shape[0], 1, taps, -1)
    return conv_from_taps(columns, weight, bias, out_height, out_width)


class DeformableWeight(nn.Module):
    """Weight of the official weight_generator1, a bias-free deformable 3x3 convolution.

    SConv samples its input on the grid it builds for the feature map, so this module only
    holds the weight, under the official name.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, kernel_size, kernel_size))
        bound = 1.0 / math.sqrt(in_channels * kernel_size * kernel_size)
        nn.init.uniform_(self.weight, -bound, bound)


def _conv_bn_relu(in_channels: int, out_channels: int) -> list[nn.Module]:
    return [
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    ]


class SConv(nn.Module):
    """S-Conv: a 3x3 convolution whose sampling offsets and per-tap weights come from S.

    ``spatial_channels`` is 1 (depth; the official ``SConv``) or 3 (HHA/XYZ; ``SConv_xyz``).
    ``projector_channels`` is 64 in the official design; smaller values make a cheaper layer.
    ``bias=False`` keeps a frozen zero bias, as the official layer does, so official
    checkpoints map one to one.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        padding: int = 1,
        dilation: int = 1,
        bias: bool = False,
        spatial_channels: int = 1,
        projector_channels: int = 64,
    ) -> None:
        super().__init__()
        if spatial_channels not in (1, 3):
            raise ValueError(f"spatial_channels must be 1 or 3, got {spatial_channels}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride = kernel_size, stride
        self.padding, self.dilation = padding, dilation
        self.spatial_channels = spatial_channels
        taps = kernel_size * kernel_size
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, kernel_size, kernel_size))
        bound = 1.0 / math.sqrt(in_channels * taps)
        nn.init.uniform_(self.weight, -bound, bound)
        self.bias = nn.Parameter(torch.zeros(out_channels), requires_grad=bias)
        self.spatial_projector = nn.Sequential(
            *_conv_bn_relu(spatial_channels, projector_channels),
            *_conv_bn_relu(projector_channels, projector_channels),
            *_conv_bn_relu(projector_channels, projector_channels),
        )
        # The generators share the main convolution's geometry so that offsets and mask
        # line up with its output pixels (official: dilation 1 everywhere).
        self.offset_generator = nn.Conv2d(
            projector_channels,
            2 * taps,
            kernel_size,
            stride=stride,
            padding=padding,
            dilation=dilation,
        )
        # Zero offsets at start: the layer begins as a regular (mask-modulated) convolution.
        nn.init.zeros_(self.offset_generator.weight)
        nn.init.zeros_(self.offset_generator.bias)
        self.weight_generator1 = DeformableWeight(
            projector_channels, projector_channels, kernel_size
        )
        self.weight_generator2 = nn.Conv2d(projector_channels, taps, kernel_size=1)

    def forward(self, x: torch.Tensor, spatial: torch.Tensor) -> torch.Tensor:
        if spatial.shape[1] != self.spatial_channels:
            raise ValueError(
                f"S-Conv expects {self.spatial_channels}-channel spatial input, "
                f"got {spatial.shape[1]} channels"
            )
        spatial = F.interpolate(spatial, size=x.shape[-2:], mode="bilinear", align_corners=True)
        projected = self.spatial_projector(spatial)
        offset = self.offset_generator(projected)
        out_height, out_width = offset.shape[-2], offset.shape[-1]
        taps = self.kernel_size * self.kernel_size
        # The weight generator samples the projected S at the very taps the main convolution
        # samples x at: one grid serves both.
        grid = tap_grid(
            offset,
            x.shape[2],
            x.shape[3],
            self.kernel_size,
            self.stride,
            self.padding,
            self.dilation,
        )
        guidance = conv_from_taps(
            sample_taps(projected, grid, taps),
            self.weight_generator1.weight,
            None,
            out_height,
            out_width,
        )
        mask = torch.sigmoid(self.weight_generator2(guidance))
        columns = sample_taps(x, grid, taps) * mask.reshape(x.shape[0], 1, taps, -1)
        return conv_from_taps(columns, self.weight, self.bias, out_height, out_width)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, padding={self.padding}, dilation={self.dilation}, "
            f"spatial_channels={self.spatial_channels}"
        )
