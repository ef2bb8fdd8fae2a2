"""Small real ONNX files for tests that need a model of a given (possibly wrong) shape."""

from __future__ import annotations

from pathlib import Path

import onnx
import torch

from sgnet_ros.pipeline.contract import ModelContract


class _PerPixelClassifier(torch.nn.Module):
    """A 1x1 conv over concatenated rgb and spatial: fast, deterministic, contract-shaped."""

    def __init__(self, in_channels: int, num_classes: int, output_stride: int) -> None:
        super().__init__()
        self.classifier = torch.nn.Conv2d(in_channels, num_classes, kernel_size=1)
        self.output_stride = output_stride

    def forward(self, rgb: torch.Tensor, spatial: torch.Tensor) -> torch.Tensor:
        features = torch.cat([rgb, spatial], dim=1)
        if self.output_stride > 1:
            features = torch.nn.functional.avg_pool2d(features, self.output_stride)
        return self.classifier(features)


def export_test_model(path: Path, contract: ModelContract | None, *, rgb_channels: int = 3,
                      spatial_channels: int | None = None, num_outputs: int | None = None,
                      input_names: tuple[str, str] = ("rgb", "spatial"),
                      output_name: str = "logits", output_stride: int = 1,
                      weights: torch.Tensor | None = None) -> Path:
    """Export a per-pixel classifier with `contract` in its metadata (None = no metadata)."""
    spatial_channels = spatial_channels if spatial_channels is not None else (
        contract.spatial_channels if contract else 3)
    num_outputs = num_outputs or (contract.num_classes if contract else 40)
    model = _PerPixelClassifier(rgb_channels + spatial_channels, num_outputs, output_stride)
    if weights is not None:
        with torch.no_grad():
            model.classifier.weight.copy_(weights[:, :, None, None])
            model.classifier.bias.zero_()
    model.eval()
    dynamic = {0: "batch", 2: "height", 3: "width"}
    torch.onnx.export(
        model, (torch.zeros(1, rgb_channels, 48, 64), torch.zeros(1, spatial_channels, 48, 64)),
        str(path), input_names=list(input_names), output_names=[output_name],
        dynamic_axes={input_names[0]: dynamic, input_names[1]: dynamic, output_name: dynamic},
        opset_version=17, dynamo=False)
    if contract is not None:
        proto = onnx.load(str(path))
        for key, value in contract.to_metadata().items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = key, value
        onnx.save(proto, str(path))
    return path
