"""This project's training checkpoints: weights plus what is needed to rebuild the model.

A checkpoint is a plain dict (tensors, numbers, strings) so it loads with
``torch.load(weights_only=True)``: no pickled classes, nothing executed on load.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from sgnet_ros.network.sgnet import SGNet, build_sgnet
from sgnet_ros.pipeline.contract import ModelContract

FORMAT = "sgnet_ros.checkpoint"
FORMAT_VERSION = 1
_RESERVED = (
    "format",
    "format_version",
    "variant",
    "num_classes",
    "spatial_mode",
    "contract",
    "state_dict",
)


def save_checkpoint(
    path: str | Path, model: nn.Module, variant: str, contract: ModelContract, **extra: Any
) -> None:
    """Save ``model`` with its variant and contract; ``extra`` holds training state.

    Extra values with a ``state_dict()`` (an optimizer, a scheduler) are stored as that
    state dict; load it back with their ``load_state_dict``.
    """
    clashes = sorted(set(extra) & set(_RESERVED))
    if clashes:
        raise ValueError(f"extra checkpoint fields {clashes} clash with reserved names")
    num_classes = getattr(model, "num_classes", contract.num_classes)
    spatial_mode = getattr(model, "spatial_mode", contract.spatial_mode)
    if contract.num_classes != num_classes or contract.spatial_mode != spatial_mode:
        raise ValueError(
            f"the contract ({contract.num_classes} classes, {contract.spatial_mode}) "
            f"does not match the model ({num_classes} classes, {spatial_mode})"
        )
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "variant": variant,
        "num_classes": num_classes,
        "spatial_mode": spatial_mode,
        "contract": contract.to_metadata(),
        "state_dict": {key: value.detach().cpu() for key, value in model.state_dict().items()},
    }
    for key, value in extra.items():
        payload[key] = value.state_dict() if hasattr(value, "state_dict") else value
    path = Path(path)
    temporary = path.with_name(path.name + ".tmp")
    torch.save(payload, temporary)
    temporary.replace(path)  # never leave a half-written checkpoint behind


def is_project_checkpoint(path: str | Path) -> bool:
    """True for a file written by save_checkpoint (as opposed to an official checkpoint)."""
    payload = torch.load(path, map_location="cpu", weights_only=True)
    return isinstance(payload, dict) and payload.get("format") == FORMAT


def load_checkpoint(
    path: str | Path, map_location: str | torch.device = "cpu"
) -> tuple[SGNet, ModelContract, dict[str, Any]]:
    """Rebuild the model with build_sgnet and load its weights; returns (model, contract, extra)."""
    payload = torch.load(path, map_location=map_location, weights_only=True)
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(
            f"{path} is not an sgnet_ros checkpoint (official SGNet checkpoints "
            "load with sgnet_ros.network.official_checkpoint)"
        )
    if payload.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"{path}: checkpoint format version {payload.get('format_version')} "
            f"is not supported (expected {FORMAT_VERSION})"
        )
    model = build_sgnet(payload["variant"], payload["num_classes"], payload["spatial_mode"])
    model.load_state_dict(payload["state_dict"])
    model.to(map_location)
    contract = ModelContract.from_metadata(payload["contract"])
    extra = {key: value for key, value in payload.items() if key not in _RESERVED}
    return model, contract, extra
