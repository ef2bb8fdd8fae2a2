"""Training smoke test: the loss goes down, checkpoints resume, the ONNX export segments."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from sgnet_ros.pipeline import nyu40
from sgnet_ros.pipeline.contract import ModelContract
from sgnet_ros.training.datasets import SegmentationDataset, synthetic_arrays
from sgnet_ros.training.synthetic import SYNTHETIC_CLASS_IDS, synthetic_frame
from sgnet_ros.training.train import class_weights, main, seed_everything, segmentation_loss

SIZE = (48, 64)


def test_a_few_steps_reduce_the_loss_on_a_fixed_batch():
    from sgnet_ros.network import build_sgnet

    seed_everything(0)
    arrays = synthetic_arrays(range(4), SIZE, "hha")
    contract = ModelContract(nyu40.CLASS_NAMES, "hha")
    rgb, spatial, labels = (torch.stack(t) for t in zip(*SegmentationDataset(arrays, contract),
                                                        strict=True))
    model = build_sgnet("small", len(nyu40.CLASS_NAMES), "hha")
    weights = class_weights(arrays.labels, len(nyu40.CLASS_NAMES), "sqrt")
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    losses = []
    for _ in range(8):
        loss = segmentation_loss(model(rgb, spatial), labels, weights, 0.4)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


def test_class_weights_favour_rare_classes_and_skip_absent_ones():
    labels = np.array([0] * 90 + [1] * 10 + [255] * 50, dtype=np.uint8)
    weights = class_weights(labels, 4, "sqrt")
    assert weights[1] == pytest.approx(3.0 * weights[0])  # sqrt(90 / 10)
    assert weights[2] == 0 and weights[3] == 0
    assert float(weights[:2].mean()) == pytest.approx(1.0)


def test_command_trains_resumes_exports_and_the_pipeline_runs_the_model(tmp_path):
    from sgnet_ros.pipeline.pipeline import PipelineConfig, SegmentationPipeline

    common = ["--train-seeds", "0:8", "--val-seeds", "1000000:1000002", "--size", "48x64",
              "--batch-size", "4", "--cache", str(tmp_path / "cache"), "--out",
              str(tmp_path / "run"), "--seed", "3"]
    assert main([*common, "--epochs", "1"]) == 0
    assert main([*common, "--epochs", "2", "--resume"]) == 0
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert [entry["epoch"] for entry in summary["history"]] == [1, 2]
    # The generator's class list, even where 8 training frames miss a class.
    assert summary["trained_classes"] == list(SYNTHETIC_CLASS_IDS)

    pipeline = SegmentationPipeline.from_model_path(tmp_path / "run" / "model.onnx",
                                                    PipelineConfig(device="cpu"))
    assert pipeline.contract.spatial_mode == "hha"
    assert pipeline.contract.class_names == nyu40.CLASS_NAMES
    assert pipeline.contract.extra["trained_classes"] == summary["trained_classes"]
    assert pipeline.contract.extra["synthetic_style"] == "realistic"
    frame = synthetic_frame(2_000_000, (60, 80))
    labels = pipeline.process(frame.rgb, frame.depth_m, frame.K).outputs.labels
    assert labels.shape == (60, 80) and labels.max() < len(nyu40.CLASS_NAMES)


def test_overlapping_seed_ranges_are_refused(tmp_path):
    with pytest.raises(SystemExit, match="overlap"):
        main(["--train-seeds", "0:4", "--val-seeds", "2:6", "--size", "48x64",
              "--cache", str(tmp_path), "--out", str(tmp_path / "run")])


def test_pooled_styles_train_on_both_and_evaluation_asks_which(tmp_path, capsys):
    from sgnet_ros.training import evaluation
    from sgnet_ros.training.synthetic import class_ids

    run = tmp_path / "run"
    assert main(["--style", "basic", "realistic", "--train-seeds", "0:4",
                 "--val-seeds", "1000000:1000002", "--size", "48x64", "--batch-size", "4",
                 "--epochs", "1", "--cache", str(tmp_path / "cache"), "--out", str(run)]) == 0
    summary = json.loads((run / "summary.json").read_text())
    # 4 seeds in each of two styles: 8 frames, two batches of 4.
    assert summary["steps"] == 2
    pooled = set(class_ids("basic")) | set(class_ids("realistic"))
    assert summary["trained_classes"] == sorted(pooled)
    with pytest.raises(SystemExit, match="basic\\+realistic rooms: choose one with --style"):
        evaluation.main([str(run / "model.onnx"), "--synthetic-seeds", "2000000:2000001",
                         "--size", "48x64"])
    results = tmp_path / "basic.json"
    assert evaluation.main([str(run / "model.onnx"), "--synthetic-seeds", "2000000:2000001",
                            "--size", "48x64", "--style", "basic", "--json", str(results)]) == 0
    assert "mIoU" in capsys.readouterr().out
    # On basic rooms the mean runs over the classes basic rooms draw, not all 17 it knows.
    assert json.loads(results.read_text())["classes"] == sorted(class_ids("basic"))
