"""Official-format checkpoints (``module.`` prefix, negative InPlace-ABN scales, old and new
torch serialisation) exported by ``sgnet-export`` give the official network's logits: ONNX
Runtime against a float64 model written from the official code (official_sgnet_reference)."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
import torch
from official_sgnet_reference import OfficialSGNet
from official_state import official_state_dict

from sgnet_ros.network.export import main as export_main
from sgnet_ros.pipeline.contract import ModelContract

HEIGHT, WIDTH = 48, 64
# float32 through ~100 layers against float64, relative to the logits' range.
RELATIVE_TOLERANCE = 1e-4

# The smallest size sgnet-export accepts for its own check; the graph takes any size.
EXPORT_SAMPLE = ("--height", "16", "--width", "16")
CASES = {
    # variant, ResNet depth, saved in the pre-1.6 (non-zip) format
    "r50": ("r50", True),
    "r101": ("r101", False),
    "r101_aspp": ("r101", False),
}


@pytest.mark.parametrize("variant", sorted(CASES))
def test_exported_official_checkpoint_gives_the_official_logits(variant: str, tmp_path) -> None:
    resnet, legacy_format = CASES[variant]
    generator = torch.Generator().manual_seed(3)
    state = official_state_dict(variant, seed=7)
    statistics = OfficialSGNet(state, resnet).calibrate(*official_inputs(1, generator))
    state.update({f"module.{key}": value.float() for key, value in statistics.items()})
    checkpoint = tmp_path / f"SGNet_{variant}.pth"
    torch.save(
        {"state_dict": state, "epoch": 500, "iteration": 1},
        checkpoint,
        _use_new_zipfile_serialization=not legacy_format,
    )
    out = tmp_path / "model.onnx"
    assert export_main(["--checkpoint", str(checkpoint), "--out", str(out), *EXPORT_SAMPLE]) == 0
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    contract = ModelContract.from_metadata(session.get_modelmeta().custom_metadata_map)
    assert contract.variant == variant

    bgr, depth = official_inputs(1, generator)
    expected = OfficialSGNet(state, resnet)(bgr, depth).numpy()
    rgb = bgr[:, [2, 1, 0]]  # the export reads RGB; the official network BGR
    (actual,) = session.run(
        ["logits"],
        {"rgb": rgb.float().numpy(), "spatial": depth[:, None].float().numpy()},
    )
    logit_range = float(expected.max() - expected.min())
    expected_labels = expected.argmax(axis=1)
    assert len(np.unique(expected_labels)) > 1  # a comparison of more than one class
    assert np.abs(actual - expected).max() <= RELATIVE_TOLERANCE * logit_range
    assert np.array_equal(actual.argmax(axis=1), expected_labels)


def official_inputs(batch: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """A normalised BGR image (0..255 minus the mean) and depth in metres, float64."""
    bgr = torch.randn(batch, 3, HEIGHT, WIDTH, generator=generator, dtype=torch.float64) * 50.0
    depth = torch.rand(batch, HEIGHT, WIDTH, generator=generator, dtype=torch.float64) * 4.0
    return bgr, depth
