"""The CUDA path on a real GPU: same labels as the CPU, outputs left on the device, no kernel
falling back to the CPU, TensorRT's engine cached. Skipped with a reason without CUDA."""

from collections import Counter

import onnxruntime as ort
import pytest
import torch

from sgnet_ros.benchmarks.pipeline_benchmark import load_frames
from sgnet_ros.pipeline.inference import PROVIDERS, OnnxSegmenter, ProviderOptions
from sgnet_ros.pipeline.pipeline import PipelineConfig, SegmentationPipeline, default_model_path

HAS_CUDA = torch.cuda.is_available() and PROVIDERS["cuda"] in ort.get_available_providers()
pytestmark = [pytest.mark.cuda, pytest.mark.skipif(
    not HAS_CUDA, reason="needs a CUDA GPU, CUDA torch and onnxruntime-gpu")]


def pipeline(provider: str, device: str, io_binding: bool = True) -> SegmentationPipeline:
    return SegmentationPipeline.from_model_path(default_model_path(), PipelineConfig(
        providers=ProviderOptions(order=(provider,)), device=device, io_binding=io_binding))


def test_cuda_pipeline_labels_the_sample_bag_like_the_cpu_pipeline():
    cpu, cuda = pipeline("cpu", "cpu"), pipeline("cuda", "cuda")
    assert cuda.segmenter.report.primary == PROVIDERS["cuda"]
    assert cuda.device.type == "cuda" and cuda.segmenter.device.type == "cuda"
    everything = range(cpu.contract.num_classes)
    for rgb, depth, K in load_frames(3):
        want = cpu.process(rgb, depth, K, cloud_classes=everything).outputs
        got = cuda.process(rgb, depth, K, cloud_classes=everything).outputs
        assert got.labels.dtype == want.labels.dtype and got.labels.shape == want.labels.shape
        assert (got.labels == want.labels).mean() > 0.995
        for class_id, cloud in want.class_clouds.items():
            tolerance = max(50, cloud.width // 100)  # boundary pixels may flip class
            assert abs(got.class_clouds[class_id].width - cloud.width) <= tolerance


def test_io_binding_keeps_the_output_on_the_gpu_and_matches_a_plain_run():
    bound = OnnxSegmenter(default_model_path(), ProviderOptions(order=("cuda",)))
    plain = OnnxSegmenter(default_model_path(), ProviderOptions(order=("cuda",)),
                          io_binding=False)
    height, width = bound.contract.input_size
    generator = torch.Generator().manual_seed(0)
    rgb = torch.randn(1, 3, height, width, generator=generator)
    spatial = torch.randn(1, bound.contract.spatial_channels, height, width, generator=generator)
    want = plain.run(rgb, spatial)
    for _ in range(2):  # the first run learns the output shape, the second reuses it
        got = bound.run(rgb.cuda(), spatial.cuda())
        assert got.device.type == "cuda"
        torch.testing.assert_close(got.cpu(), want, atol=1e-3, rtol=1e-3)


def test_the_default_model_runs_every_compute_kernel_on_the_gpu():
    segmenter = OnnxSegmenter(default_model_path(), ProviderOptions(order=("cuda", "cpu")))
    assert segmenter.cpu_fallback_ops() == Counter()


@pytest.mark.skipif(PROVIDERS["tensorrt"] not in ort.get_available_providers(),
                    reason="needs onnxruntime-gpu with TensorRT")
def test_tensorrt_builds_its_engine_once_and_reuses_the_cache(tmp_path):
    options = ProviderOptions(order=("tensorrt", "cuda"), tensorrt_cache_dir=str(tmp_path))

    def run_once() -> None:
        segmenter = OnnxSegmenter(default_model_path(), options)
        assert segmenter.report.primary == PROVIDERS["tensorrt"]
        height, width = segmenter.contract.input_size
        segmenter.run(torch.zeros(1, 3, height, width, device="cuda"),
                      torch.zeros(1, segmenter.contract.spatial_channels, height, width,
                                  device="cuda"))

    run_once()
    engines = {path: path.stat().st_mtime_ns for path in tmp_path.glob("*.engine")}
    assert engines
    run_once()
    assert {path: path.stat().st_mtime_ns for path in tmp_path.glob("*.engine")} == engines
