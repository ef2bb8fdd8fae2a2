"""The shipped default model: contract metadata, size, and the accuracy the README states."""

from __future__ import annotations

import re
from pathlib import Path

import onnx
import pytest

from sgnet_ros.pipeline import nyu40
from sgnet_ros.pipeline.contract import ModelContract
from sgnet_ros.training.evaluation import (
    evaluate_pipeline,
    evaluation_classes,
    model_style,
    synthetic_frames,
)
from sgnet_ros.training.metrics import mean_iou
from sgnet_ros.training.synthetic import class_ids

MODELS = Path(__file__).resolve().parent.parent / "models"
MODEL = MODELS / "sgnet_small_synthetic_hha.onnx"
README = MODELS / "README.md"
# The README states the mIoU of each fixed held-out batch in exactly this form (the style is
# named when the model was trained on several).
BATCH_PATTERN = re.compile(r"fixed held-out test batch: seeds (\d+):(\d+) at (\d+)x(\d+)"
                           r"(?:, (\w+) rooms)?, mIoU ([0-9.]+)", re.IGNORECASE)

pytestmark = pytest.mark.skipif(not MODEL.is_file(), reason="default model not built yet")


def test_model_carries_the_contract_and_is_small():
    proto = onnx.load(str(MODEL))
    contract = ModelContract.from_metadata({p.key: p.value for p in proto.metadata_props})
    assert contract.spatial_mode == "hha"
    assert contract.class_names == nyu40.CLASS_NAMES
    assert tuple(contract.input_size) == (240, 320)
    assert contract.variant == "small"
    trained_style = contract.extra.get("synthetic_style", "basic")  # pooled ones too
    assert set(contract.extra["trained_classes"]) == set(class_ids(trained_style))
    assert MODEL.stat().st_size < 20e6


def test_held_out_batch_reaches_the_readme_miou():
    from sgnet_ros.pipeline.pipeline import PipelineConfig, SegmentationPipeline

    batches = BATCH_PATTERN.findall(README.read_text())
    assert batches, "models/README.md must state the fixed held-out test batch and its mIoU"
    pipeline = SegmentationPipeline.from_model_path(MODEL, PipelineConfig(device="cpu"))
    for start, stop, height, width, named_style, stated in batches:
        style = model_style(pipeline.contract, named_style or None)
        seeds = range(int(start), int(stop))
        frames = synthetic_frames(seeds, (int(height), int(width)), style)
        matrix = evaluate_pipeline(pipeline, frames, len(seeds))
        measured = mean_iou(matrix, evaluation_classes(pipeline.contract, False, style))
        assert measured == pytest.approx(float(stated), abs=0.02), style
