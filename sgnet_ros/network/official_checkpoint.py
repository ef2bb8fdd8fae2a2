"""Load official SGNet checkpoints (LinZhuoChen/SGNet) into this implementation.

The official checkpoints are ``{"state_dict": ..., "epoch": ..., "iteration": ...}`` saved
from a DataParallel wrapper (keys prefixed ``module.``). This implementation keeps the
official module names, so the mapping is:

- strip the ``module.`` prefix;
- InPlaceABNSync (weight, bias, running_mean, running_var) -> BatchNorm2d of the same name,
  whose ``num_batches_tracked`` counter is not in the official file and is left at 0.
  The weight is loaded as ``|w| + eps``: the official forward kernel (``bn.cu``,
  ``forward_kernel``) scales by ``abs(weight) + eps``, not by ``weight``, and its backward
  follows the sign of ``w``, so trained files hold negative weights;
- ``conv1.weight``: input channels reversed, because the official network reads BGR and
  this one reads RGB (the normalisation moves into the contract, see official_contract);
- ``dsn3.*`` (deep supervision, training only) is dropped for the ``_fps`` variants, which
  run the same trained weights without that head.

Every normalisation layer of the official networks is InPlaceABNSync (eps 1e-5); its
activation and this implementation's counterpart:

- stem ``bn1..bn3``, bottleneck ``bn1``/``bn2``, S-Conv ``spatial_projector.1/.4/.7``:
  activation "none" followed by an ``nn.ReLU`` -> BatchNorm2d then ReLU;
- bottleneck ``bn3`` (ReLU only after the residual sum) and ``downsample.1``:
  activation "none" -> BatchNorm2d alone (identity);
- ``dsn3.1``, ``dsn4.1`` and the ASPP ``head.0.conv1.2``, ``head.0.conv{2..5}.1``,
  ``head.0.bottleneck.1``: the default leaky_relu, slope 0.01 -> BatchNormAct.

Anything else that does not map (unknown key, wrong shape, parameter left unset) raises
CheckpointMappingError listing every offending key.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from sgnet_ros.network.sgnet import VARIANT_SPECS, SGNet, build_sgnet
from sgnet_ros.pipeline.contract import ModelContract

DATAPARALLEL_PREFIX = "module."
BGR_TO_RGB = [2, 1, 0]
FIRST_CONV = "conv1.weight"
DEEP_SUPERVISION_PREFIX = "dsn3."
BATCHNORM_COUNTER = "num_batches_tracked"
# InPlaceABNSync's eps (graphs/ops/libs/bn.py, never overridden by the official models): it
# sits under the square root and is added to |weight| (bn.cu, forward_kernel).
ABN_EPS = 1e-5
# Official input normalisation (data/transform/rgbd_transform.py): RGB in 0..255 minus a
# per-channel mean, no scaling; depth in metres (millimetres / 1000), not normalised.
OFFICIAL_RGB_MEAN = (122.675 / 255.0, 116.669 / 255.0, 104.008 / 255.0)
OFFICIAL_RGB_STD = (1.0 / 255.0,) * 3
OFFICIAL_DEPTH_MEAN = (0.0,)
OFFICIAL_DEPTH_STD = (1.0,)
OFFICIAL_INPUT_SIZE = (480, 640)
OFFICIAL_VARIANTS = tuple(name for name, spec in VARIANT_SPECS.items() if spec.official_file)


class CheckpointMappingError(ValueError):
    """An official checkpoint does not map onto the requested model; lists every problem."""

    def __init__(self, missing: list[str], unexpected: list[str], mismatched: list[str]) -> None:
        self.missing, self.unexpected, self.mismatched = missing, unexpected, mismatched
        parts = []
        for title, keys in (
            ("parameters the checkpoint lacks", missing),
            ("checkpoint keys with no counterpart", unexpected),
            ("shape mismatches", mismatched),
        ):
            if keys:
                parts.append(f"{len(keys)} {title}:\n  " + "\n  ".join(keys))
        super().__init__(
            "the official checkpoint does not map onto the model.\n" + "\n".join(parts)
        )


def unwrap_state_dict(checkpoint: Mapping) -> dict[str, torch.Tensor]:
    """The official state dict without its DataParallel prefix."""
    state = checkpoint.get("state_dict", checkpoint)
    if not isinstance(state, Mapping) or not state:
        raise ValueError("the checkpoint holds no state dict")
    return {key.removeprefix(DATAPARALLEL_PREFIX): value for key, value in state.items()}


def infer_variant(official: Mapping[str, torch.Tensor]) -> str:
    """The official variant a state dict was trained as.

    Released files contain the deep-supervision head ``dsn3``; one without it was trained
    as an ``_fps`` variant, whose definition has no such head.
    """
    layer3_blocks = {key.split(".")[1] for key in official if key.startswith("layer3.")}
    depth = {23: "r101", 6: "r50"}.get(len(layer3_blocks))
    if depth is None:
        raise ValueError(
            f"layer3 has {len(layer3_blocks)} blocks; official SGNet checkpoints "
            "have 23 (ResNet-101) or 6 (ResNet-50)"
        )
    variant = f"{depth}_aspp" if any(key.startswith("head.0.") for key in official) else depth
    if not any(key.startswith(DEEP_SUPERVISION_PREFIX) for key in official):
        variant = f"{variant}_fps"
    return variant


def infer_num_classes(official: Mapping[str, torch.Tensor]) -> int:
    for classifier in ("dsn4.3.weight", "head.1.weight"):
        if classifier in official:
            return int(official[classifier].shape[0])
    raise ValueError("the checkpoint has no classifier (dsn4.3.weight or head.1.weight)")


def abn_scale_keys(model: SGNet) -> set[str]:
    """State-dict keys of the scales of ``model``'s normalisation layers, which all stand
    for official InPlaceABNSync layers."""
    return {
        f"{name}.weight"
        for name, module in model.named_modules()
        if isinstance(module, nn.BatchNorm2d)
    }


def map_official_state_dict(
    official: Mapping[str, torch.Tensor], model: SGNet
) -> dict[str, torch.Tensor]:
    """A complete state dict for ``model`` from an official one (prefix already optional)."""
    target = model.state_dict()
    abn_scales = abn_scale_keys(model)
    mapped: dict[str, torch.Tensor] = {}
    unexpected, mismatched, mismatched_keys = [], [], set()
    for official_key, value in official.items():
        key = official_key.removeprefix(DATAPARALLEL_PREFIX)
        if model.dsn3 is None and key.startswith(DEEP_SUPERVISION_PREFIX):
            continue
        if key not in target:
            unexpected.append(official_key)
            continue
        if key == FIRST_CONV:
            value = value[:, BGR_TO_RGB]
        elif key in abn_scales:
            value = value.abs() + ABN_EPS
        if tuple(value.shape) != tuple(target[key].shape):
            mismatched.append(
                f"{official_key}: checkpoint {tuple(value.shape)}, model {tuple(target[key].shape)}"
            )
            mismatched_keys.add(key)
            continue
        mapped[key] = value.to(target[key].dtype)
    missing = []
    for key, value in target.items():
        if key in mapped or key in mismatched_keys:
            continue
        if key.endswith(BATCHNORM_COUNTER):
            mapped[key] = torch.zeros_like(value)
        else:
            missing.append(key)
    if missing or unexpected or mismatched:
        raise CheckpointMappingError(missing, unexpected, mismatched)
    return mapped


def load_official_checkpoint(
    path: str | Path,
    variant: str | None = None,
    num_classes: int | None = None,
    spatial_mode: str = "depth",
) -> SGNet:
    """Build the official variant and load an official ``.pth``/``.pth.tar`` into it.

    ``variant`` and ``num_classes`` default to what the checkpoint shows. Official
    checkpoints were trained on depth, so spatial_mode is "depth" unless you know better.
    """
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(checkpoint, Mapping):
        raise ValueError(f"{path} does not hold a state dict")
    official = unwrap_state_dict(checkpoint)
    variant = variant or infer_variant(official)
    if variant not in OFFICIAL_VARIANTS:
        raise ValueError(
            f"variant {variant!r} is not an official SGNet variant ({', '.join(OFFICIAL_VARIANTS)})"
        )
    model = build_sgnet(variant, num_classes or infer_num_classes(official), spatial_mode)
    model.load_state_dict(map_official_state_dict(official, model))
    return model.eval()


def official_contract(
    model: SGNet, class_names: tuple[str, ...], source: str = ""
) -> ModelContract:
    """The runtime contract that reproduces the official preprocessing for ``model``."""
    if model.spatial_mode != "depth":
        raise ValueError(
            f"official SGNet models read depth in metres; this model's spatial "
            f"mode is {model.spatial_mode!r}"
        )
    return ModelContract(
        class_names=tuple(class_names),
        spatial_mode="depth",
        rgb_mean=OFFICIAL_RGB_MEAN,
        rgb_std=OFFICIAL_RGB_STD,
        spatial_mean=OFFICIAL_DEPTH_MEAN,
        spatial_std=OFFICIAL_DEPTH_STD,
        input_size=OFFICIAL_INPUT_SIZE,
        output_stride=model.output_stride,
        variant=model.variant,
        source=source,
    )
