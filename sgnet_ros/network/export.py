"""Export SGNet to ONNX (standard ops only) with the model contract in its metadata.

``sgnet-export`` takes an official SGNet checkpoint or one written by
``sgnet_ros.network.checkpoints.save_checkpoint``, writes an ONNX file whose inputs are
``rgb`` and ``spatial`` and whose output is ``logits`` (and optionally ``labels``), then
checks ONNX Runtime against PyTorch on a sample.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import sys
import warnings
from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn

from sgnet_ros.network import VARIANTS, SGNet, checkpoints, official_checkpoint
from sgnet_ros.pipeline import nyu40
from sgnet_ros.pipeline.contract import (
    INPUT_RGB,
    INPUT_SPATIAL,
    OUTPUT_LABELS,
    OUTPUT_LOGITS,
    ModelContract,
)

MIN_OPSET = 17


class _ExportWrapper(nn.Module):
    """Adds the optional in-graph argmax so the node can skip it; for a model trained without
    geometry (contract extra `blind_spatial`) the graph replaces its spatial input by the
    zeros it was trained on, so every runtime feeds it correctly without knowing."""

    def __init__(self, model: SGNet, with_labels: bool, blind_spatial: bool = False) -> None:
        super().__init__()
        self.model, self.with_labels, self.blind_spatial = model, with_labels, blind_spatial

    def forward(self, rgb: torch.Tensor, spatial: torch.Tensor):
        if self.blind_spatial:
            spatial = torch.zeros_like(spatial)
        logits = self.model(rgb, spatial)
        if self.with_labels:
            return logits, torch.argmax(logits, dim=1)
        return logits


def _check_contract(model: SGNet, contract: ModelContract) -> ModelContract:
    """Refuse a contract that contradicts the model; fill in what the model decides."""
    if contract.num_classes != model.num_classes:
        raise ValueError(
            f"the contract names {contract.num_classes} classes but the model "
            f"predicts {model.num_classes}"
        )
    if contract.spatial_channels != model.spatial_channels:
        raise ValueError(
            f"the contract's spatial mode {contract.spatial_mode!r} has "
            f"{contract.spatial_channels} channels but the model takes "
            f"{model.spatial_channels}"
        )
    return dataclasses.replace(contract, output_stride=model.output_stride, variant=model.variant)


def export_onnx(
    model: SGNet,
    contract: ModelContract,
    path: str | Path,
    opset: int = 17,
    with_labels: bool = False,
    sample_size: tuple[int, int] = (240, 320),
) -> None:
    """Write ``model`` to ``path`` as ONNX with dynamic batch, height and width.

    The contract's output_stride and variant are taken from the model.
    """
    if opset < MIN_OPSET:
        raise ValueError(f"opset {opset} is too old; SGNet needs opset >= {MIN_OPSET}")
    contract = _check_contract(model, contract)
    height, width = sample_size
    stride = model.output_stride
    if height % stride or width % stride:
        raise ValueError(
            f"sample_size {sample_size} must be a multiple of the output stride {stride}"
        )
    device = next(model.parameters()).device
    rgb = torch.randn(1, 3, height, width, device=device)
    spatial = torch.randn(1, model.spatial_channels, height, width, device=device)
    image_axes = {0: "batch", 2: "height", 3: "width"}
    dynamic_axes = {INPUT_RGB: image_axes, INPUT_SPATIAL: image_axes, OUTPUT_LOGITS: image_axes}
    output_names = [OUTPUT_LOGITS]
    if with_labels:
        output_names.append(OUTPUT_LABELS)
        dynamic_axes[OUTPUT_LABELS] = {0: "batch", 1: "height", 2: "width"}
    was_training = model.training
    model.eval()
    try:
        with warnings.catch_warnings():
            # The TorchScript exporter is deprecated in favour of one that needs onnxscript;
            # its output is what we check below, so its warnings are noise here.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                _ExportWrapper(model, with_labels, is_blind_spatial(contract)),
                (rgb, spatial),
                str(path),
                dynamo=False,
                opset_version=opset,
                input_names=[INPUT_RGB, INPUT_SPATIAL],
                output_names=output_names,
                dynamic_axes=dynamic_axes,
            )
    finally:
        model.train(was_training)
    proto = onnx.load(str(path))
    for key, value in contract.to_metadata().items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(proto)
    onnx.save(proto, str(path))


def is_blind_spatial(contract: ModelContract) -> bool:
    """True for an RGB-only ablation model (sgnet-train --blind-spatial)."""
    return bool(contract.extra.get("blind_spatial", False))


def compare_with_onnxruntime(
    model: SGNet, path: str | Path, height: int, width: int, blind_spatial: bool = False
) -> float:
    """Max abs difference of the logits between PyTorch and ONNX Runtime (CPU)."""
    import onnxruntime as ort

    generator = torch.Generator().manual_seed(0)
    rgb = torch.randn(1, 3, height, width, generator=generator)
    spatial = torch.randn(1, model.spatial_channels, height, width, generator=generator)
    model.eval()
    device = next(model.parameters()).device
    torch_spatial = torch.zeros_like(spatial) if blind_spatial else spatial
    with torch.no_grad():
        expected = model(rgb.to(device), torch_spatial.to(device)).cpu().numpy()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    actual = session.run([OUTPUT_LOGITS], {INPUT_RGB: rgb.numpy(), INPUT_SPATIAL: spatial.numpy()})[
        0
    ]
    return float(np.abs(actual - expected).max())


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _read_class_names(path: str | None) -> tuple[str, ...] | None:
    if path is None:
        return None
    names = tuple(line.strip() for line in Path(path).read_text().splitlines() if line.strip())
    if not names:
        raise ValueError(f"class names file {path} is empty")
    return names


def _load_model(args: argparse.Namespace) -> tuple[SGNet, ModelContract]:
    """A model and its contract from either checkpoint kind."""
    source = f"sha256:{file_sha256(args.checkpoint)}"
    class_names = _read_class_names(args.class_names)
    if checkpoints.is_project_checkpoint(args.checkpoint):
        model, contract, _ = checkpoints.load_checkpoint(args.checkpoint)
        for flag, value, expected in (
            ("--variant", args.variant, model.variant),
            ("--num-classes", args.num_classes, model.num_classes),
            ("--spatial-mode", args.spatial_mode, model.spatial_mode),
        ):
            if value is not None and value != expected:
                raise ValueError(f"{flag} {value} contradicts the checkpoint ({expected})")
        if class_names is not None:
            contract = dataclasses.replace(contract, class_names=class_names, palette=())
        return model, dataclasses.replace(contract, source=source)
    model = official_checkpoint.load_official_checkpoint(
        args.checkpoint,
        variant=args.variant,
        num_classes=args.num_classes,
        spatial_mode=args.spatial_mode or "depth",
    )
    if class_names is None:
        class_names = nyu40.CLASS_NAMES[: model.num_classes]
    contract = official_checkpoint.official_contract(model, class_names, source=source)
    return model, contract


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="sgnet-export",
        description="Export an SGNet checkpoint to ONNX and check it "
        "against PyTorch with ONNX Runtime.",
    )
    parser.add_argument(
        "--checkpoint",
        required=True,
        help="official SGNet .pth/.pth.tar or a checkpoint from sgnet-train",
    )
    parser.add_argument(
        "--variant",
        choices=sorted(VARIANTS),
        help="model variant (default: read from an sgnet-train checkpoint, inferred from an "
        "official one's layers: no dsn3 head means an _fps variant)",
    )
    parser.add_argument(
        "--num-classes", type=int, help="number of classes (default: from the checkpoint)"
    )
    parser.add_argument(
        "--spatial-mode",
        choices=["hha", "xyz", "depth"],
        help="spatial input (default: from the checkpoint; depth for official)",
    )
    parser.add_argument("--class-names", help="text file, one class name per line (default: NYU40)")
    parser.add_argument("--out", required=True, help="output .onnx path")
    parser.add_argument(
        "--with-labels",
        action="store_true",
        help="also output the in-graph argmax 'labels' (N, H, W) int64",
    )
    parser.add_argument("--opset", type=int, default=17)
    parser.add_argument("--height", type=int, default=240, help="sample height for export")
    parser.add_argument("--width", type=int, default=320, help="sample width for export")
    args = parser.parse_args(argv)
    try:
        model, contract = _load_model(args)
        export_onnx(
            model,
            contract,
            args.out,
            opset=args.opset,
            with_labels=args.with_labels,
            sample_size=(args.height, args.width),
        )
        difference = compare_with_onnxruntime(
            model, args.out, args.height, args.width, is_blind_spatial(contract)
        )
    except (ValueError, FileNotFoundError) as error:
        print(f"sgnet-export: error: {error}", file=sys.stderr)
        return 2
    size_mb = Path(args.out).stat().st_size / 1e6
    print(
        f"wrote {args.out} ({size_mb:.1f} MB, variant {model.variant}, "
        f"{model.num_classes} classes, spatial {model.spatial_mode})"
    )
    print(
        f"onnxruntime vs torch at {args.height}x{args.width}: max abs difference {difference:.2e}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
