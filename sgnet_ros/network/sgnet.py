"""SGNet: the segmentation model and its variants (official ones and the shipped "small").

Heads follow the official code: ``dsn4`` (3x3 conv 512 + BN + LeakyReLU + dropout + 1x1
classifier) on layer4, or ``head`` (ASPP + 1x1 classifier) for the ASPP variant, and the
deep-supervision head ``dsn3`` on layer3 (absent in the official ``_fps`` definitions).
InPlaceABNSync is mapped to BatchNorm2d followed by its activation (LeakyReLU 0.01 by
default, none where the official code asks for activation='none').
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from sgnet_ros.network.backbone import BackboneSpec, ResNetBackbone
from sgnet_ros.pipeline.contract import SPATIAL_CHANNELS

ABN_SLOPE = 0.01  # InPlaceABNSync's default activation: leaky_relu with slope 0.01


class BatchNormAct(nn.BatchNorm2d):
    """InPlaceABNSync at inference: batch norm then LeakyReLU(0.01), same parameter names."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(super().forward(x), ABN_SLOPE, inplace=True)


def _seg_head(in_channels: int, mid_channels: int, num_classes: int) -> nn.Sequential:
    """The official dsn3/dsn4 head; indices 0, 1, 3 match the official state dict."""
    return nn.Sequential(
        nn.Conv2d(in_channels, mid_channels, kernel_size=3, padding=1),
        BatchNormAct(mid_channels),
        nn.Dropout2d(0.1),
        nn.Conv2d(mid_channels, num_classes, kernel_size=1),
    )


def _conv_abn(
    in_channels: int, out_channels: int, kernel_size: int = 1, dilation: int = 1
) -> list[nn.Module]:
    padding = dilation if kernel_size == 3 else 0
    return [
        nn.Conv2d(
            in_channels, out_channels, kernel_size, padding=padding, dilation=dilation, bias=False
        ),
        BatchNormAct(out_channels),
    ]


class ASPPModule(nn.Module):
    """Atrous spatial pyramid pooling as in the official SGNet_ASPP (five branches)."""

    def __init__(
        self,
        in_channels: int,
        inner_channels: int = 256,
        out_channels: int = 512,
        dilations: tuple[int, int, int] = (12, 24, 36),
    ) -> None:
        super().__init__()
        self.conv1 = nn.Sequential(nn.AdaptiveAvgPool2d(1), *_conv_abn(in_channels, inner_channels))
        self.conv2 = nn.Sequential(*_conv_abn(in_channels, inner_channels))
        self.conv3 = nn.Sequential(*_conv_abn(in_channels, inner_channels, 3, dilations[0]))
        self.conv4 = nn.Sequential(*_conv_abn(in_channels, inner_channels, 3, dilations[1]))
        self.conv5 = nn.Sequential(*_conv_abn(in_channels, inner_channels, 3, dilations[2]))
        self.bottleneck = nn.Sequential(
            *_conv_abn(5 * inner_channels, out_channels), nn.Dropout2d(0.1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Bilinear upsampling of a 1x1 map is a broadcast; expand is exact and cheaper.
        pooled = self.conv1(x).expand(-1, -1, x.shape[2], x.shape[3])
        branches = (pooled, self.conv2(x), self.conv3(x), self.conv4(x), self.conv5(x))
        return self.bottleneck(torch.cat(branches, dim=1))


@dataclass(frozen=True)
class VariantSpec:
    """Everything that distinguishes one SGNet variant from another."""

    description: str
    backbone: BackboneSpec
    head: str  # "dsn" (official SGNet) or "aspp" (official SGNet_ASPP)
    head_channels: int
    aux_head: bool  # deep supervision head (dsn3) on layer3
    official_file: str = ""  # graphs/models/SGNet/<file> in LinZhuoChen/SGNet


_R101 = BackboneSpec("bottleneck", (3, 4, 23, 3), (64, 64, 128), (64, 128, 256, 512), 64)
_R50 = BackboneSpec("bottleneck", (3, 4, 6, 3), (64, 64, 128), (64, 128, 256, 512), 64)
# ResNet-18 layout at reduced width, with a narrow spatial projector: trainable on a CPU
# in minutes and fast enough for a CPU node.
_SMALL = BackboneSpec("basic", (2, 2, 2, 2), (16, 16, 32), (32, 48, 96, 128), 16)

VARIANT_SPECS: dict[str, VariantSpec] = {
    "small": VariantSpec(
        "ResNet-18 layout at reduced width with S-Conv; the shipped CPU model",
        _SMALL,
        "dsn",
        96,
        True,
    ),
    "r101": VariantSpec(
        "official SGNet: ResNet-101, dsn head, deep supervision",
        _R101,
        "dsn",
        512,
        True,
        "SGNet.py",
    ),
    "r101_fps": VariantSpec(
        "official SGNet_fps: SGNet without the deep-supervision head",
        _R101,
        "dsn",
        512,
        False,
        "SGNet_fps.py",
    ),
    "r50": VariantSpec(
        "official SGNet_Res50: ResNet-50, dsn head, deep supervision",
        _R50,
        "dsn",
        512,
        True,
        "SGNet_Res50.py",
    ),
    "r50_fps": VariantSpec(
        "official SGNet_Res50_fps: SGNet_Res50 without deep supervision",
        _R50,
        "dsn",
        512,
        False,
        "SGNet_Res50_fps.py",
    ),
    "r101_aspp": VariantSpec(
        "official SGNet_ASPP: ResNet-101, ASPP head, deep supervision",
        _R101,
        "aspp",
        512,
        True,
        "SGNet_ASPP.py",
    ),
    "r101_aspp_fps": VariantSpec(
        "official SGNet_ASPP_fps: SGNet_ASPP without deep supervision",
        _R101,
        "aspp",
        512,
        False,
        "SGNet_ASPP_fps.py",
    ),
}

VARIANTS: dict[str, str] = {name: spec.description for name, spec in VARIANT_SPECS.items()}


class SGNet(ResNetBackbone):
    """SGNet: (rgb, spatial) -> logits at input resolution; (logits, aux) in train mode.

    ``aux`` is the deep-supervision prediction from layer3, or None for variants without
    that head (the official ``_fps`` definitions).
    """

    def __init__(self, variant: str, num_classes: int, spatial_mode: str) -> None:
        if variant not in VARIANT_SPECS:
            raise ValueError(
                f"unknown SGNet variant {variant!r}; expected one of {sorted(VARIANT_SPECS)}"
            )
        if spatial_mode not in SPATIAL_CHANNELS:
            raise ValueError(
                f"spatial_mode {spatial_mode!r} is not one of {sorted(SPATIAL_CHANNELS)}"
            )
        if num_classes < 1:
            raise ValueError(f"num_classes must be positive, got {num_classes}")
        spec = VARIANT_SPECS[variant]
        super().__init__(spec.backbone, SPATIAL_CHANNELS[spatial_mode])
        self.variant, self.num_classes, self.spatial_mode = variant, num_classes, spatial_mode
        self.spatial_channels = SPATIAL_CHANNELS[spatial_mode]
        if spec.aux_head:
            self.dsn3 = _seg_head(self.layer3_channels, spec.head_channels, num_classes)
        else:
            self.dsn3 = None
        if spec.head == "aspp":
            # Official names: "head" for the ASPP variant, "dsn4" otherwise.
            self.head = nn.Sequential(
                ASPPModule(self.layer4_channels),
                nn.Conv2d(spec.head_channels, num_classes, kernel_size=1),
            )
            self._main_head = "head"
        else:
            self.dsn4 = _seg_head(self.layer4_channels, spec.head_channels, num_classes)
            self._main_head = "dsn4"

    def forward(
        self, rgb: torch.Tensor, spatial: torch.Tensor
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor | None]:
        if rgb.dim() != 4 or rgb.shape[1] != 3:
            raise ValueError(f"rgb must be (N, 3, H, W), got {tuple(rgb.shape)}")
        if spatial.dim() != 4 or spatial.shape[1] != self.spatial_channels:
            raise ValueError(
                f"spatial must be (N, {self.spatial_channels}, H, W) for mode "
                f"{self.spatial_mode!r}, got {tuple(spatial.shape)}"
            )
        size = rgb.shape[-2:]
        layer3, layer4 = self.forward_features(rgb, spatial)
        logits = _upsample(getattr(self, self._main_head)(layer4), size)
        if not self.training:
            return logits
        aux = None if self.dsn3 is None else _upsample(self.dsn3(layer3), size)
        return logits, aux


def _upsample(logits: torch.Tensor, size: torch.Size) -> torch.Tensor:
    # align_corners=True as in the official evaluation (predict_whole).
    return F.interpolate(logits, size=size, mode="bilinear", align_corners=True)


def build_sgnet(variant: str, num_classes: int, spatial_mode: str) -> SGNet:
    """Build an SGNet variant (see VARIANTS) for ``num_classes`` and a spatial mode."""
    return SGNet(variant, num_classes, spatial_mode)
