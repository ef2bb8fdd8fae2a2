"""The inference stage refuses off-contract models at load, and IO binding matches plain runs."""

import numpy as np
import pytest
import torch
from model_factory import export_test_model

from sgnet_ros.pipeline.contract import ModelContract
from sgnet_ros.pipeline.inference import (
    ModelLoadError,
    OnnxSegmenter,
    ProviderOptions,
    read_contract,
)

CONTRACT = ModelContract(class_names=("wall", "floor", "chair"), spatial_mode="xyz",
                         variant="test")


@pytest.fixture(scope="module")
def good_model(tmp_path_factory):
    return export_test_model(tmp_path_factory.mktemp("m") / "good.onnx", CONTRACT)


def test_contract_travels_in_the_model_file(good_model):
    assert read_contract(good_model) == CONTRACT


@pytest.mark.parametrize("build, message", [
    (lambda p: p, "does not exist"),
    (lambda p: (p.write_bytes(b"not a protobuf at all" * 10), p)[1], "not a readable ONNX"),
    (lambda p: export_test_model(p, None), "no 'sgnet_contract' metadata"),
    (lambda p: export_test_model(p, CONTRACT, input_names=("image", "spatial")),
     "inputs \\['image', 'spatial'\\]"),
    (lambda p: export_test_model(p, CONTRACT, spatial_channels=1), "expected \\(N, 3, H, W\\)"),
    (lambda p: export_test_model(p, CONTRACT, num_outputs=5), "names 3 classes"),
    (lambda p: export_test_model(p, CONTRACT, output_name="scores"),
     "outputs \\['scores'\\]"),
])
def test_off_contract_models_are_refused_with_one_clear_message(tmp_path, build, message):
    path = build(tmp_path / "model.onnx")
    with pytest.raises(ModelLoadError, match=message):
        OnnxSegmenter(path, ProviderOptions(order=("cpu",)))


def test_unknown_provider_is_refused(good_model):
    with pytest.raises(ModelLoadError, match="unknown execution provider 'gpu'"):
        OnnxSegmenter(good_model, ProviderOptions(order=("gpu",)))


def test_missing_cuda_is_a_note_in_the_default_list_and_a_warning_when_asked_for(good_model):
    import onnxruntime

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("this onnxruntime has CUDA; the fall-back is not exercised")
    segmenter = OnnxSegmenter(good_model, ProviderOptions(order=("cuda", "cpu")))
    assert segmenter.report.active == ["CPUExecutionProvider"]
    assert segmenter.report.warnings == []
    assert any("CUDAExecutionProvider in the default provider list" in n and "onnxruntime-gpu"
               in n for n in segmenter.report.notes)
    asked = OnnxSegmenter(good_model, ProviderOptions(order=("cuda",)))
    assert asked.report.active == ["CPUExecutionProvider"]
    assert any("CUDAExecutionProvider requested" in w for w in asked.report.warnings)


def test_io_binding_gives_the_same_logits_as_a_plain_run(good_model):
    bound = OnnxSegmenter(good_model, ProviderOptions(order=("cpu",)), io_binding=True)
    plain = OnnxSegmenter(good_model, ProviderOptions(order=("cpu",)), io_binding=False)
    generator = torch.Generator().manual_seed(0)
    for height, width in ((24, 32), (24, 32), (40, 56)):  # the repeat uses the bound buffer
        rgb = torch.randn(1, 3, height, width, generator=generator)
        spatial = torch.randn(1, 3, height, width, generator=generator)
        expected = plain.run(rgb, spatial)
        result = bound.run(rgb, spatial)
        assert result.shape == (1, 3, height, width)
        np.testing.assert_allclose(result.numpy(), expected.numpy(), atol=1e-6)


def test_profiled_run_reports_where_every_kernel_ran(good_model):
    segmenter = OnnxSegmenter(good_model, ProviderOptions(order=("cpu",)))
    placement = segmenter.placement(torch.zeros(1, 3, 24, 32), torch.zeros(1, 3, 24, 32))
    assert set(placement) == {"CPUExecutionProvider"}
    assert placement["CPUExecutionProvider"]["Conv"] == 1
    # On the CPU provider nothing "falls back": the CPU is the choice.
    assert not segmenter.cpu_fallback_ops()
