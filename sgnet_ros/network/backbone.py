"""Dilated ResNet backbones with S-Conv placed as in the official SGNet.

Module names mirror the official ``graphs/models/SGNet/*.py`` (conv1..bn3 deep stem,
layer1..layer4, conv1/bn1/... inside blocks, downsample.0/.1) so that official checkpoints
map onto this implementation key for key.

Official design facts reproduced here:
- deep stem: three 3x3 convs (stride 2 on the first) then a 3x3/2 max-pool (output stride 4);
- layer strides (1, 2, 2, 1) and dilations (1, 1, 2, 4): output stride 16;
- in every layer the first block and the last two blocks use S-Conv for their 3x3 conv
  (the one carrying the stride); S-Conv keeps padding 1 and dilation 1 even inside the
  dilated layers, as the official blocks do.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from sgnet_ros.network.sconv import SConv

LAYER_STRIDES = (1, 2, 2, 1)
LAYER_DILATIONS = (1, 1, 2, 4)
OUTPUT_STRIDE = 16


@dataclass(frozen=True)
class BackboneSpec:
    """Shape of a backbone: block type, blocks per layer and channel widths."""

    block: str  # "bottleneck" (ResNet-50/101) or "basic" (ResNet-18/34)
    blocks: tuple[int, int, int, int]
    stem_channels: tuple[int, int, int]
    widths: tuple[int, int, int, int]  # the 3x3 conv width of each layer ("planes")
    projector_channels: int  # S-Conv spatial projector width (official: 64)


def uses_sconv(block_index: int, num_blocks: int) -> bool:
    """Official placement: the first block and the last two blocks of each layer."""
    return block_index == 0 or block_index >= num_blocks - 2


def _spatial_conv(
    in_channels: int,
    out_channels: int,
    stride: int,
    dilation: int,
    with_sconv: bool,
    spatial_channels: int,
    projector_channels: int,
) -> nn.Module:
    if with_sconv:
        return SConv(
            in_channels,
            out_channels,
            kernel_size=3,
            stride=stride,
            padding=1,
            spatial_channels=spatial_channels,
            projector_channels=projector_channels,
        )
    return nn.Conv2d(
        in_channels,
        out_channels,
        kernel_size=3,
        stride=stride,
        padding=dilation,
        dilation=dilation,
        bias=False,
    )


class Bottleneck(nn.Module):
    """ResNet bottleneck (1x1, 3x3, 1x1) whose 3x3 may be an S-Conv."""

    expansion = 4

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int,
        dilation: int,
        downsample: nn.Module | None,
        with_sconv: bool,
        spatial_channels: int,
        projector_channels: int,
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = _spatial_conv(
            planes, planes, stride, dilation, with_sconv, spatial_channels, projector_channels
        )
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * self.expansion, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.with_sconv = with_sconv

    def forward(self, x: torch.Tensor, spatial: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.conv2(out, spatial) if self.with_sconv else self.conv2(out)
        out = self.relu(self.bn2(out))
        out = self.bn3(self.conv3(out))
        residual = x if self.downsample is None else self.downsample(x)
        return self.relu(out + residual)


class BasicBlock(nn.Module):
    """ResNet basic block (3x3, 3x3) whose first (strided) 3x3 may be an S-Conv."""

    expansion = 1

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int,
        dilation: int,
        downsample: nn.Module | None,
        with_sconv: bool,
        spatial_channels: int,
        projector_channels: int,
    ) -> None:
        super().__init__()
        self.conv1 = _spatial_conv(
            inplanes, planes, stride, dilation, with_sconv, spatial_channels, projector_channels
        )
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(
            planes, planes, kernel_size=3, padding=dilation, dilation=dilation, bias=False
        )
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.with_sconv = with_sconv

    def forward(self, x: torch.Tensor, spatial: torch.Tensor) -> torch.Tensor:
        out = self.conv1(x, spatial) if self.with_sconv else self.conv1(x)
        out = self.relu(self.bn1(out))
        out = self.bn2(self.conv2(out))
        residual = x if self.downsample is None else self.downsample(x)
        return self.relu(out + residual)


BLOCKS = {"bottleneck": Bottleneck, "basic": BasicBlock}


class ResNetBackbone(nn.Module):
    """Deep-stem dilated ResNet (output stride 16) carrying S along to its S-Convs."""

    output_stride = OUTPUT_STRIDE

    def __init__(self, spec: BackboneSpec, spatial_channels: int) -> None:
        super().__init__()
        if spec.block not in BLOCKS:
            raise ValueError(f"unknown block type {spec.block!r}; expected one of {sorted(BLOCKS)}")
        block = BLOCKS[spec.block]
        stem_a, stem_b, stem_c = spec.stem_channels
        self.conv1 = nn.Conv2d(3, stem_a, kernel_size=3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(stem_a)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(stem_a, stem_b, kernel_size=3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(stem_b)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv3 = nn.Conv2d(stem_b, stem_c, kernel_size=3, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(stem_c)
        self.relu3 = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        inplanes = stem_c
        layers = []
        for planes, num_blocks, stride, dilation in zip(
            spec.widths, spec.blocks, LAYER_STRIDES, LAYER_DILATIONS, strict=True
        ):
            layer, inplanes = self._make_layer(
                block,
                inplanes,
                planes,
                num_blocks,
                stride,
                dilation,
                spatial_channels,
                spec.projector_channels,
            )
            layers.append(layer)
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.layer3_channels = spec.widths[2] * block.expansion
        self.layer4_channels = spec.widths[3] * block.expansion

    @staticmethod
    def _make_layer(
        block: type[nn.Module],
        inplanes: int,
        planes: int,
        num_blocks: int,
        stride: int,
        dilation: int,
        spatial_channels: int,
        projector_channels: int,
    ) -> tuple[nn.ModuleList, int]:
        out_channels = planes * block.expansion
        downsample = None
        if stride != 1 or inplanes != out_channels:
            downsample = nn.Sequential(
                nn.Conv2d(inplanes, out_channels, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )
        blocks = []
        for index in range(num_blocks):
            blocks.append(
                block(
                    inplanes if index == 0 else out_channels,
                    planes,
                    stride if index == 0 else 1,
                    dilation,
                    downsample if index == 0 else None,
                    uses_sconv(index, num_blocks),
                    spatial_channels,
                    projector_channels,
                )
            )
        return nn.ModuleList(blocks), out_channels

    def forward_features(
        self, rgb: torch.Tensor, spatial: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Layer3 and layer4 features (both at output stride 16)."""
        x = self.relu1(self.bn1(self.conv1(rgb)))
        x = self.relu2(self.bn2(self.conv2(x)))
        x = self.relu3(self.bn3(self.conv3(x)))
        x = self.maxpool(x)
        for block in (*self.layer1, *self.layer2, *self.layer3):
            x = block(x, spatial)
        layer3 = x
        for block in self.layer4:
            x = block(x, spatial)
        return layer3, x
