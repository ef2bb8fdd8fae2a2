"""The official SGNet forward pass at inference, in float64, straight from an official
state dict: the yardstick for exported official checkpoints.

Written from LinZhuoChen/SGNet @ 0251018 (graphs/models/SGNet/*.py, graphs/ops/modules/
s_conv.py, graphs/ops/libs/{bn.py,functions.py,src/bn.cu}, graphs/ops/src/*deform*.cu,
utils/utils.py predict_whole), not from sgnet_ros: the compiled ops are re-done here in
plain torch the way their kernels compute.

- InPlaceABNSync at eval: (x - mean) / sqrt(var + eps) * (|w| + eps) + b, then its
  activation ("none" for the backbone's ``BatchNorm2d`` partial, leaky_relu 0.01 by default);
- deformable convolutions (DCNv1 for weight_generator1, modulated DCNv2 for the S-Conv
  itself): tap k = i * 3 + j reads the input at (h * stride - pad + i + offset[2k],
  w * stride - pad + j + offset[2k + 1]), bilinearly, each of the four corners reading 0
  outside the image;
- the network reads BGR and depth (N, H, W); logits are upsampled to the input size,
  bilinear, align_corners=True.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

ABN_EPS = 1e-5
LEAKY_SLOPE = 0.01
BLOCKS_PER_LAYER = {"r50": (3, 4, 6, 3), "r101": (3, 4, 23, 3)}
LAYER_STRIDES = (1, 2, 2, 1)
LAYER_DILATIONS = (1, 1, 2, 4)
ASPP_DILATIONS = (12, 24, 36)


class OfficialSGNet:
    """Official SGNet (dsn head) or SGNet_ASPP, with or without ``dsn3``; eval mode."""

    def __init__(self, state: dict[str, torch.Tensor], resnet: str) -> None:
        """``state``: an official state dict; ``resnet``: "r50" or "r101"."""
        self.state = {
            key.removeprefix("module."): value.to(torch.float64) for key, value in state.items()
        }
        self.blocks = BLOCKS_PER_LAYER[resnet]
        self.aspp = "head.1.weight" in self.state
        self._measured: dict[str, torch.Tensor] | None = None

    def calibrate(self, bgr: torch.Tensor, depth: torch.Tensor) -> dict[str, torch.Tensor]:
        """Every ABN layer's running statistics, measured on (bgr, depth) as training would.

        Random weights with random statistics leave a common mode that swamps every
        per-pixel difference after a hundred layers (one class everywhere); measured
        statistics keep the features normalised, as in a trained network. ASPP's
        image-pooling layer sees one value per image and keeps the stored statistics.
        """
        self._measured = {}
        self(bgr, depth)
        measured, self._measured = self._measured, None
        return measured

    def _abn(self, x: torch.Tensor, name: str, activation: str) -> torch.Tensor:
        if self._measured is not None and x.shape[2] * x.shape[3] > 1:
            for key, value in (
                ("running_mean", x.mean(dim=(0, 2, 3))),
                ("running_var", x.var(dim=(0, 2, 3), unbiased=False)),
            ):
                self.state[f"{name}.{key}"] = self._measured[f"{name}.{key}"] = value

        def channel(key: str) -> torch.Tensor:
            return self.state[f"{name}.{key}"][None, :, None, None]

        gamma = channel("weight").abs() + ABN_EPS
        y = (x - channel("running_mean")) / torch.sqrt(channel("running_var") + ABN_EPS)
        y = y * gamma + channel("bias")
        if activation == "leaky_relu":
            return torch.where(y < 0, y * LEAKY_SLOPE, y)
        if activation == "none":
            return y
        raise ValueError(activation)

    def _conv(
        self, x: torch.Tensor, name: str, stride: int = 1, padding: int = 0, dilation: int = 1
    ) -> torch.Tensor:
        return F.conv2d(
            x,
            self.state[f"{name}.weight"],
            self.state.get(f"{name}.bias"),
            stride=stride,
            padding=padding,
            dilation=dilation,
        )

    def _sconv(self, x: torch.Tensor, depth: torch.Tensor, name: str, stride: int) -> torch.Tensor:
        """graphs/ops/modules/s_conv.py SConv.forward (S given as (N, H, W))."""
        s = F.interpolate(depth[:, None], size=x.shape[-2:], mode="bilinear", align_corners=True)
        for index in (0, 3, 6):
            s = self._conv(s, f"{name}.spatial_projector.{index}", padding=1)
            s = torch.relu(self._abn(s, f"{name}.spatial_projector.{index + 1}", "none"))
        offset = self._conv(s, f"{name}.offset_generator", stride=stride, padding=1)
        s = deformable_conv(
            s, offset, None, self.state[f"{name}.weight_generator1.weight"], None, stride
        )
        mask = torch.sigmoid(self._conv(s, f"{name}.weight_generator2"))
        return deformable_conv(
            x, offset, mask, self.state[f"{name}.weight"], self.state[f"{name}.bias"], stride
        )

    def _bottleneck(
        self,
        x: torch.Tensor,
        depth: torch.Tensor,
        name: str,
        stride: int,
        dilation: int,
        deformable: bool,
    ) -> torch.Tensor:
        out = torch.relu(self._abn(self._conv(x, f"{name}.conv1"), f"{name}.bn1", "none"))
        if deformable:
            out = self._sconv(out, depth, f"{name}.conv2", stride)
        else:
            out = self._conv(out, f"{name}.conv2", stride, padding=dilation, dilation=dilation)
        out = torch.relu(self._abn(out, f"{name}.bn2", "none"))
        out = self._abn(self._conv(out, f"{name}.conv3"), f"{name}.bn3", "none")
        residual = x
        if f"{name}.downsample.0.weight" in self.state:
            residual = self._conv(x, f"{name}.downsample.0", stride)
            residual = self._abn(residual, f"{name}.downsample.1", "none")
        return torch.relu(out + residual)

    def _aspp_head(self, x: torch.Tensor) -> torch.Tensor:
        pooled = self._conv(F.adaptive_avg_pool2d(x, 1), "head.0.conv1.1")
        pooled = self._abn(pooled, "head.0.conv1.2", "leaky_relu")
        features = [F.interpolate(pooled, size=x.shape[-2:], mode="bilinear", align_corners=True)]
        features.append(self._abn(self._conv(x, "head.0.conv2.0"), "head.0.conv2.1", "leaky_relu"))
        for branch, dilation in zip((3, 4, 5), ASPP_DILATIONS, strict=True):
            out = self._conv(x, f"head.0.conv{branch}.0", padding=dilation, dilation=dilation)
            features.append(self._abn(out, f"head.0.conv{branch}.1", "leaky_relu"))
        out = self._conv(torch.cat(features, dim=1), "head.0.bottleneck.0")
        out = self._abn(out, "head.0.bottleneck.1", "leaky_relu")  # then Dropout2d: eval no-op
        return self._conv(out, "head.1")

    def _dsn_head(self, x: torch.Tensor) -> torch.Tensor:
        out = self._abn(self._conv(x, "dsn4.0", padding=1), "dsn4.1", "leaky_relu")
        return self._conv(out, "dsn4.3")  # dsn4.2 is Dropout2d: eval no-op

    def __call__(self, bgr: torch.Tensor, depth: torch.Tensor) -> torch.Tensor:
        """Logits (N, classes, H, W) for a BGR image (N, 3, H, W) and depth (N, H, W)."""
        bgr, depth = bgr.to(torch.float64), depth.to(torch.float64)
        x = bgr
        for index in (1, 2, 3):
            x = self._conv(x, f"conv{index}", stride=2 if index == 1 else 1, padding=1)
            x = torch.relu(self._abn(x, f"bn{index}", "none"))
        x = F.max_pool2d(x, kernel_size=3, stride=2, padding=1)
        for layer, (count, stride, dilation) in enumerate(
            zip(self.blocks, LAYER_STRIDES, LAYER_DILATIONS, strict=True), start=1
        ):
            for index in range(count):
                deformable = index == 0 or index >= count - 2
                x = self._bottleneck(
                    x,
                    depth,
                    f"layer{layer}.{index}",
                    stride if index == 0 else 1,
                    dilation,
                    deformable,
                )
        logits = self._aspp_head(x) if self.aspp else self._dsn_head(x)
        return F.interpolate(logits, size=bgr.shape[-2:], mode="bilinear", align_corners=True)


def bilinear_taps(x: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """x (N, C, H, W) read at real positions rows/cols (N, K, Ho, Wo): (N, C, K, Ho, Wo).

    Each of the four corners reads 0 outside the image (deformable_im2col_bilinear)."""
    batch, channels, height, width = x.shape
    flat = x.reshape(batch, channels, height * width)
    top, left = torch.floor(rows), torch.floor(cols)
    result = torch.zeros(batch, channels, *rows.shape[1:], dtype=x.dtype)
    for corner_row, row_weight in ((top, 1 - (rows - top)), (top + 1, rows - top)):
        for corner_col, col_weight in ((left, 1 - (cols - left)), (left + 1, cols - left)):
            inside = (
                (corner_row >= 0) & (corner_row < height) & (corner_col >= 0) & (corner_col < width)
            )
            index = corner_row.clamp(0, height - 1) * width + corner_col.clamp(0, width - 1)
            index = index.long().reshape(batch, 1, -1).expand(-1, channels, -1)
            values = torch.gather(flat, 2, index).reshape(result.shape)
            result += values * (row_weight * col_weight * inside)[:, None]
    return result


def deformable_conv(
    x: torch.Tensor,
    offset: torch.Tensor,
    mask: torch.Tensor | None,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    stride: int,
    padding: int = 1,
) -> torch.Tensor:
    """Official 3x3 deformable convolution, dilation 1 (DCNv2 with ``mask``, else DCNv1)."""
    kernel = weight.shape[-1]
    out_rows, out_cols = offset.shape[-2:]
    tap_rows = torch.arange(kernel * kernel, dtype=x.dtype) // kernel
    tap_cols = torch.arange(kernel * kernel, dtype=x.dtype) % kernel
    grid_rows = torch.arange(out_rows, dtype=x.dtype) * stride - padding
    grid_cols = torch.arange(out_cols, dtype=x.dtype) * stride - padding
    rows = grid_rows[None, None, :, None] + tap_rows[None, :, None, None] + offset[:, 0::2]
    cols = grid_cols[None, None, None, :] + tap_cols[None, :, None, None] + offset[:, 1::2]
    taps = bilinear_taps(x, rows, cols)
    if mask is not None:
        taps = taps * mask[:, None]
    out = torch.einsum("nckhw,ock->nohw", taps, weight.reshape(*weight.shape[:2], -1))
    return out if bias is None else out + bias[None, :, None, None]
