"""The model contract shared by training/export (PyTorch) and the runtime (ONNX Runtime).

Everything the node must know about a model travels inside the ONNX file's metadata,
so a model file is self-describing: input/output names, class names, palette, spatial
mode and the normalisation of both inputs.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from sgnet_ros.pipeline import nyu40

INPUT_RGB = "rgb"
INPUT_SPATIAL = "spatial"
OUTPUT_LOGITS = "logits"
OUTPUT_LABELS = "labels"

SPATIAL_CHANNELS = {"hha": 3, "xyz": 3, "depth": 1}
METADATA_KEY = "sgnet_contract"
CONTRACT_VERSION = 1

# RGB is fed as (rgb_uint8 / 255 - mean) / std, channel order R, G, B (ImageNet statistics).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# Spatial maps are fed as (S - mean) / std, per channel, with S in the encoder's units:
# HHA in grey levels 0..255, XYZ in metres (optical frame), depth in metres.
DEFAULT_SPATIAL_NORMALISATION = {
    "hha": ((127.5, 127.5, 127.5), (64.0, 64.0, 64.0)),
    "xyz": ((0.0, 0.0, 2.5), (1.5, 1.0, 1.5)),
    "depth": ((2.5,), (1.5,)),
}


class ContractError(ValueError):
    """A model or its metadata does not satisfy the runtime contract."""


@dataclass(frozen=True)
class ModelContract:
    """What the runtime needs to feed a model and to interpret its output."""

    class_names: tuple[str, ...]
    spatial_mode: str
    palette: tuple[tuple[int, int, int], ...] = ()
    rgb_mean: tuple[float, ...] = IMAGENET_MEAN
    rgb_std: tuple[float, ...] = IMAGENET_STD
    spatial_mean: tuple[float, ...] = ()
    spatial_std: tuple[float, ...] = ()
    input_size: tuple[int, int] = (240, 320)  # (height, width) the model was trained at
    output_stride: int = 8
    variant: str = ""
    source: str = ""  # e.g. sha256 of the checkpoint it was exported from
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.spatial_mode not in SPATIAL_CHANNELS:
            raise ContractError(
                f"spatial_mode {self.spatial_mode!r} is not one of {sorted(SPATIAL_CHANNELS)}")
        if not self.class_names:
            raise ContractError("class_names is empty")
        mean, std = DEFAULT_SPATIAL_NORMALISATION[self.spatial_mode]
        if not self.spatial_mean:
            object.__setattr__(self, "spatial_mean", mean)
        if not self.spatial_std:
            object.__setattr__(self, "spatial_std", std)
        if not self.palette:
            object.__setattr__(self, "palette", default_palette(len(self.class_names)))
        channels = self.spatial_channels
        if len(self.spatial_mean) != channels or len(self.spatial_std) != channels:
            raise ContractError(
                f"spatial normalisation needs {channels} values for mode {self.spatial_mode!r}")
        if len(self.palette) < len(self.class_names):
            raise ContractError(
                f"palette has {len(self.palette)} colours for {len(self.class_names)} classes")

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def spatial_channels(self) -> int:
        return SPATIAL_CHANNELS[self.spatial_mode]

    def to_metadata(self) -> dict[str, str]:
        """ONNX metadata_props entries (string to string)."""
        payload = asdict(self)
        payload["contract_version"] = CONTRACT_VERSION
        return {METADATA_KEY: json.dumps(payload)}

    @classmethod
    def from_metadata(cls, metadata: dict[str, str]) -> ModelContract:
        if METADATA_KEY not in metadata:
            raise ContractError(
                f"the model has no '{METADATA_KEY}' metadata entry; export it with sgnet-export")
        try:
            payload = json.loads(metadata[METADATA_KEY])
        except json.JSONDecodeError as error:
            raise ContractError(f"'{METADATA_KEY}' metadata is not valid JSON: {error}") from error
        version = payload.pop("contract_version", None)
        if version != CONTRACT_VERSION:
            raise ContractError(
                f"contract version {version} is not supported (expected {CONTRACT_VERSION})")
        try:
            return cls(
                class_names=tuple(payload["class_names"]),
                spatial_mode=payload["spatial_mode"],
                palette=tuple(tuple(int(v) for v in colour) for colour in payload["palette"]),
                rgb_mean=tuple(payload["rgb_mean"]),
                rgb_std=tuple(payload["rgb_std"]),
                spatial_mean=tuple(payload["spatial_mean"]),
                spatial_std=tuple(payload["spatial_std"]),
                input_size=tuple(payload["input_size"]),
                output_stride=int(payload["output_stride"]),
                variant=payload.get("variant", ""),
                source=payload.get("source", ""),
                extra=payload.get("extra", {}),
            )
        except KeyError as error:
            raise ContractError(f"contract metadata lacks the field {error}") from error


def default_palette(num_classes: int) -> tuple[tuple[int, int, int], ...]:
    """The NYU40 palette, extended deterministically when a model has more classes."""
    colours = list(nyu40.PALETTE[:num_classes])
    index = len(colours)
    while len(colours) < num_classes:
        # Golden-ratio hue steps give distinct, reproducible colours.
        hue = (index * 0.618033988749895) % 1.0
        colours.append(_hsv_to_rgb(hue, 0.65, 0.9))
        index += 1
    return tuple(colours)


def _hsv_to_rgb(hue: float, saturation: float, value: float) -> tuple[int, int, int]:
    sector = int(hue * 6.0) % 6
    fraction = hue * 6.0 - int(hue * 6.0)
    p = value * (1 - saturation)
    q = value * (1 - fraction * saturation)
    t = value * (1 - (1 - fraction) * saturation)
    rgb = [(value, t, p), (q, value, p), (p, value, t),
           (p, q, value), (t, p, value), (value, p, q)][sector]
    return tuple(int(round(channel * 255)) for channel in rgb)
