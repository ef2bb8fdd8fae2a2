"""sgnet-train runs: the RGB-only ablation ignores geometry through ONNX Runtime, a time budget
stops mid-epoch and --resume lands on the same weights as an uninterrupted run, --init warm
starts, and the contract names the generator's classes."""

from __future__ import annotations

import json

import numpy as np
import onnxruntime as ort
import pytest
import torch

from sgnet_ros.network import export
from sgnet_ros.network.checkpoints import load_checkpoint
from sgnet_ros.pipeline.contract import INPUT_RGB, INPUT_SPATIAL, OUTPUT_LOGITS, ModelContract
from sgnet_ros.pipeline.preprocessing import normalise_rgb, normalise_spatial
from sgnet_ros.pipeline.spatial.encoding import SpatialEncoder
from sgnet_ros.training.datasets import SegmentationDataset, synthetic_arrays
from sgnet_ros.training.synthetic import synthetic_frame
from sgnet_ros.training.train import main

SIZE = (48, 64)


def common(tmp_path, run: str) -> list[str]:
    return ["--train-seeds", "0:12", "--val-seeds", "1000000:1000002", "--size", "48x64",
            "--batch-size", "4", "--cache", str(tmp_path / "cache"), "--out",
            str(tmp_path / run), "--seed", "5", "--threads", "1"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One normal and one --blind-spatial model, trained alike."""
    root = tmp_path_factory.mktemp("runs")
    assert main([*common(root, "normal"), "--epochs", "1"]) == 0
    assert main([*common(root, "blind"), "--epochs", "1", "--blind-spatial"]) == 0
    return root


def logits_for_two_geometries(model_path) -> tuple[np.ndarray, np.ndarray]:
    """Logits of one RGB image paired with the HHA of two different rooms."""
    session = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    contract = ModelContract.from_metadata(session.get_modelmeta().custom_metadata_map)
    rgb_frame = synthetic_frame(3_000_000, SIZE)
    rgb = normalise_rgb(torch.from_numpy(rgb_frame.rgb).permute(2, 0, 1).float() / 255, contract)
    outputs = []
    for seed in (3_000_001, 3_000_002):
        frame = synthetic_frame(seed, SIZE)
        hha = SpatialEncoder("hha").encode(torch.from_numpy(frame.depth_m), frame.K)
        spatial = normalise_spatial(hha.float(), contract)
        outputs.append(session.run([OUTPUT_LOGITS], {INPUT_RGB: rgb[None].numpy(),
                                                     INPUT_SPATIAL: spatial[None].numpy()})[0])
    return outputs[0], outputs[1]


def test_blind_spatial_model_ignores_the_spatial_input_through_onnxruntime(trained):
    first, second = logits_for_two_geometries(trained / "blind" / "model.onnx")
    assert np.array_equal(first, second)
    contract = load_checkpoint(trained / "blind" / "best.pt")[1]
    assert contract.extra["blind_spatial"] is True
    # ... and in training it only ever saw the constant it is fed in the graph.
    arrays = synthetic_arrays(range(2), SIZE, "hha")
    for augment in ("none", "strong"):
        blind = SegmentationDataset(arrays, contract, augment=augment, blind_spatial=True)
        assert all(not spatial.any() for _, spatial, _ in blind)


def test_normal_model_reads_the_spatial_input(trained):
    first, second = logits_for_two_geometries(trained / "normal" / "model.onnx")
    assert np.abs(first - second).max() > 1e-6  # float noise is far below; equal when blind


def test_sgnet_export_keeps_a_blind_checkpoint_blind(trained, capsys):
    path = trained / "blind" / "reexported.onnx"
    assert export.main(["--checkpoint", str(trained / "blind" / "best.pt"), "--out", str(path),
                        "--height", "48", "--width", "64"]) == 0
    difference = float(capsys.readouterr().out.rsplit("difference", 1)[1])
    assert difference < 1e-4
    first, second = logits_for_two_geometries(path)
    assert np.array_equal(first, second)


def test_the_contract_records_the_augmentation_and_whether_geometry_was_seen(trained):
    normal = load_checkpoint(trained / "normal" / "best.pt")[1]
    blind = load_checkpoint(trained / "blind" / "best.pt")[1]
    assert normal.extra["augment"] == blind.extra["augment"] == "strong"
    assert normal.extra["blind_spatial"] is False and blind.extra["blind_spatial"] is True


def state_of(path) -> dict[str, torch.Tensor]:
    return load_checkpoint(path)[0].state_dict()


def test_a_spent_time_budget_stops_mid_epoch_and_resume_matches_an_uninterrupted_run(tmp_path):
    assert main([*common(tmp_path, "straight"), "--epochs", "2"]) == 0
    interrupted = [*common(tmp_path, "interrupted"), "--epochs", "2"]
    assert main([*interrupted, "--max-minutes", "0"]) == 0  # budget spent: one step
    summary = json.loads((tmp_path / "interrupted" / "summary.json").read_text())
    assert summary["steps"] == 1 and not summary["finished"]
    assert summary["history"][-1]["complete"] is False
    assert (tmp_path / "interrupted" / "model.onnx").is_file()
    assert main([*interrupted, "--resume"]) == 0
    summary = json.loads((tmp_path / "interrupted" / "summary.json").read_text())
    assert summary["steps"] == 6 and summary["finished"]
    straight = state_of(tmp_path / "straight" / "last.pt")
    resumed = state_of(tmp_path / "interrupted" / "last.pt")
    for name, tensor in straight.items():
        assert torch.equal(tensor, resumed[name]), name


def test_init_starts_from_another_runs_weights(trained, tmp_path):
    arguments = [*common(tmp_path, "warm"), "--epochs", "1", "--max-steps", "1", "--lr", "0"]
    assert main([*arguments, "--init", str(trained / "normal" / "best.pt")]) == 0
    warm, source = state_of(tmp_path / "warm" / "last.pt"), state_of(trained / "normal" / "best.pt")
    learned = [name for name in source if "running" not in name and "batches" not in name]
    assert all(torch.equal(warm[name], source[name]) for name in learned)


def test_init_from_a_different_model_is_refused(trained, tmp_path):
    with pytest.raises(SystemExit, match="does not fit"):
        main([*common(tmp_path, "xyz"), "--spatial-mode", "depth", "--epochs", "1",
              "--init", str(trained / "normal" / "best.pt")])

