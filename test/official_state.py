"""Random state dicts in the official SGNet checkpoint layout, as trained files have them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

FIXTURE = json.loads((Path(__file__).parent / "data" / "official_sgnet_keys.json").read_text())
OFFICIAL = FIXTURE["variants"]
NUM_CLASSES = FIXTURE["num_classes"]
# Share of InPlace-ABN scales stored negative: the official backward follows sign(w), so
# trained files hold both signs.
NEGATIVE_SCALE_SHARE = 0.3


def is_abn_scale(name: str, shape: list[int]) -> bool:
    """Official 1-D weights are InPlace-ABN scales (every conv weight is 4-D)."""
    return name.endswith("weight") and len(shape) == 1


def official_state_dict(variant: str, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random weights in the official layout (DataParallel prefix included), sized so that
    activations stay in range through a deep network; ~30% of the ABN scales negative."""
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for name, shape in OFFICIAL[variant]["keys"]:
        if name.endswith("running_var"):
            value = torch.rand(shape, generator=generator) + 0.5
        elif name.endswith("running_mean") or name.endswith("bias"):
            value = torch.randn(shape, generator=generator) * 0.05
        elif is_abn_scale(name, shape):
            magnitude = torch.rand(shape, generator=generator) * 0.5 + 0.25
            negative = torch.rand(shape, generator=generator) < NEGATIVE_SCALE_SHARE
            value = torch.where(negative, -magnitude, magnitude)
        else:
            fan_in = int(np.prod(shape[1:]))
            value = torch.randn(shape, generator=generator) / fan_in**0.5
        state[f"module.{name}"] = value
    return state
