"""Official SGNet checkpoints: every official key maps, errors list what does not, and an
official-layout checkpoint exports to ONNX that matches PyTorch."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from official_state import NUM_CLASSES, OFFICIAL, is_abn_scale, official_state_dict

from sgnet_ros.network import build_sgnet
from sgnet_ros.network.export import main as export_main
from sgnet_ros.network.official_checkpoint import (
    ABN_EPS,
    OFFICIAL_RGB_MEAN,
    CheckpointMappingError,
    infer_num_classes,
    infer_variant,
    load_official_checkpoint,
    map_official_state_dict,
)
from sgnet_ros.pipeline.contract import ModelContract


@pytest.mark.parametrize("variant", sorted(OFFICIAL))
def test_every_official_key_maps_with_its_shape(variant: str) -> None:
    official = official_state_dict(variant)
    model = build_sgnet(variant, NUM_CLASSES, "depth")
    mapped = map_official_state_dict(official, model)
    official_names = {key.removeprefix("module.") for key in official}
    # Everything in the model came from the checkpoint, except BN's step counters.
    assert {k for k in mapped if not k.endswith("num_batches_tracked")} == official_names
    model.load_state_dict(mapped)
    for name, value in model.state_dict().items():
        if name in official_names and name != "conv1.weight":
            stored = official[f"module.{name}"]
            if is_abn_scale(name, list(stored.shape)):
                stored = stored.abs() + ABN_EPS  # what InPlace-ABN multiplies by
            assert torch.equal(value, stored), name
    official_parameters = sum(
        int(np.prod(shape))
        for name, shape in OFFICIAL[variant]["keys"]
        if not name.endswith(("running_mean", "running_var"))
    )
    assert sum(p.numel() for p in model.parameters()) == official_parameters


def test_first_convolution_is_turned_from_bgr_to_rgb() -> None:
    official = official_state_dict("r50_fps")
    mapped = map_official_state_dict(official, build_sgnet("r50_fps", NUM_CLASSES, "depth"))
    bgr = official["module.conv1.weight"]
    for rgb_channel, bgr_channel in ((0, 2), (1, 1), (2, 0)):
        assert torch.equal(mapped["conv1.weight"][:, rgb_channel], bgr[:, bgr_channel])


def test_fps_variant_runs_a_checkpoint_trained_with_deep_supervision() -> None:
    official = official_state_dict("r50")  # the released files contain dsn3
    model = build_sgnet("r50_fps", NUM_CLASSES, "depth")
    model.load_state_dict(map_official_state_dict(official, model))


@pytest.mark.parametrize("variant", sorted(OFFICIAL))
def test_variant_and_classes_are_inferred(variant: str) -> None:
    official = {k.removeprefix("module."): v for k, v in official_state_dict(variant).items()}
    assert infer_variant(official) == variant
    assert infer_num_classes(official) == NUM_CLASSES


def test_a_file_without_deep_supervision_loads_as_its_fps_variant(tmp_path) -> None:
    checkpoint = tmp_path / "SGNet_Res50_fps.pth"
    torch.save({"state_dict": official_state_dict("r50_fps"), "epoch": 1}, checkpoint)
    model = load_official_checkpoint(checkpoint)  # no variant given: read from the file
    assert model.variant == "r50_fps" and model.dsn3 is None


def test_mapping_errors_list_every_offending_key() -> None:
    official = official_state_dict("r50")
    del official["module.layer2.0.conv2.offset_generator.weight"]
    official["module.layer9.0.conv1.weight"] = torch.zeros(1)
    model = build_sgnet("r50", 37, "depth")  # 37 classes: both classifiers mismatch
    with pytest.raises(CheckpointMappingError) as caught:
        map_official_state_dict(official, model)
    error = caught.value
    assert error.missing == ["layer2.0.conv2.offset_generator.weight"]
    assert error.unexpected == ["module.layer9.0.conv1.weight"]
    assert sorted(m.split(":")[0] for m in error.mismatched) == [
        "module.dsn3.3.bias",
        "module.dsn3.3.weight",
        "module.dsn4.3.bias",
        "module.dsn4.3.weight",
    ]
    assert "layer9.0.conv1.weight" in str(error) and "dsn4.3.weight" in str(error)


def test_hha_model_cannot_take_the_depth_projector() -> None:
    with pytest.raises(CheckpointMappingError, match="spatial_projector.0.weight"):
        map_official_state_dict(official_state_dict("r50"), build_sgnet("r50", 40, "hha"))


def test_official_checkpoint_round_trip_through_sgnet_export(tmp_path) -> None:
    checkpoint = tmp_path / "SGNet_Res50.pth.tar"
    torch.save(
        {"state_dict": official_state_dict("r50", seed=4), "epoch": 500, "iteration": 1}, checkpoint
    )
    out = tmp_path / "r50.onnx"
    assert (
        export_main(
            ["--checkpoint", str(checkpoint), "--out", str(out), "--height", "64", "--width", "80"]
        )
        == 0
    )
    proto = onnx.load(str(out))
    contract = ModelContract.from_metadata({p.key: p.value for p in proto.metadata_props})
    assert contract.variant == "r50" and contract.spatial_mode == "depth"
    assert contract.num_classes == NUM_CLASSES and contract.rgb_mean == OFFICIAL_RGB_MEAN
    model = load_official_checkpoint(checkpoint)
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    generator = torch.Generator().manual_seed(2)
    for height, width in ((64, 80), (48, 96)):
        rgb = torch.randn(1, 3, height, width, generator=generator)
        depth = torch.rand(1, 1, height, width, generator=generator) * 4.0
        with torch.no_grad():
            expected = model(rgb, depth).numpy()
        (actual,) = session.run(None, {"rgb": rgb.numpy(), "spatial": depth.numpy()})
        assert np.abs(expected).max() > 1e-3  # a meaningful comparison, not all zeros
        assert np.abs(actual - expected).max() <= 1e-4
