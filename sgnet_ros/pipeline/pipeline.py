"""The ROS-free segmentation pipeline: decoded arrays in, output buffers out.

The ROS node, `sgnet-replay --mode direct`, the evaluation and the benchmarks all drive
this one object, so what they measure is what the robot runs. Stages: frame checks ->
spatial encoding (torch, CUDA when present) -> inference (ONNX Runtime) -> outputs.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sgnet_ros.pipeline.geometry import FrameError, depth_on_color_grid, intrinsics_for_image
from sgnet_ros.pipeline.inference import OnnxSegmenter, ProviderOptions
from sgnet_ros.pipeline.outputs.builder import OutputBuilder, OutputOptions, SegmentationOutputs
from sgnet_ros.pipeline.preprocessing import (
    network_intrinsics,
    normalise_rgb,
    normalise_spatial,
    resize_depth,
    resize_rgb,
)
from sgnet_ros.pipeline.shipped import shipped_file
from sgnet_ros.pipeline.spatial.encoding import HHAOptions, SpatialEncoder

DEFAULT_MODEL_NAME = "sgnet_small_synthetic_hha.onnx"
STAGES = ("spatial", "inference", "outputs")


def default_model_path() -> Path:
    """The bundled default model: the source tree's models/, else the ament share directory."""
    return shipped_file("models", DEFAULT_MODEL_NAME)


def select_device(requested: str) -> tuple[torch.device, str | None]:
    """The torch device for `auto`/`cuda`/`cpu`, with a warning when CUDA was asked for in vain."""
    if requested == "cpu":
        return torch.device("cpu"), None
    if torch.cuda.is_available():
        return torch.device("cuda"), None
    warning = "device 'cuda' requested but torch has no CUDA; using the CPU" \
        if requested == "cuda" else None
    return torch.device("cpu"), warning


@dataclass(frozen=True)
class PipelineConfig:
    """Everything the pipeline needs besides the model file."""

    providers: ProviderOptions = field(default_factory=ProviderOptions)
    io_binding: bool = True
    device: str = "auto"
    outputs: OutputOptions = field(default_factory=OutputOptions)
    hha: HHAOptions = field(default_factory=HHAOptions)

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> PipelineConfig:
        """The configuration for validated node parameters (`parameters.validate`)."""
        palette = settings["palette"]
        known = {option.name for option in fields(HHAOptions)}  # hha.gravity_frame is the node's
        hha_fields = {name.removeprefix("hha."): tuple(value) if isinstance(value, list) else value
                      for name, value in settings.items()
                      if name.startswith("hha.") and name.removeprefix("hha.") in known}
        return cls(
            providers=ProviderOptions(order=tuple(settings["providers"]),
                                      tensorrt_cache_dir=settings["tensorrt_cache_dir"],
                                      tensorrt_fp16=settings["tensorrt_fp16"],
                                      threads=settings.get("threads.onnx", 0)),
            io_binding=settings["io_binding"], device=settings["device"],
            outputs=OutputOptions(
                resize=settings["resize"], overlay_alpha=settings["overlay_alpha"],
                min_depth=settings["min_depth"], max_depth=settings["max_depth"],
                cloud_stride=settings["cloud_stride"], voxel_size=settings["voxel_size"],
                with_confidence=settings["publish_confidence"],
                palette=tuple(tuple(palette[i:i + 3]) for i in range(0, len(palette), 3))
                if palette else None),
            hha=HHAOptions(**hha_fields))


@dataclass
class PipelineResult:
    """One processed frame: the outputs and how long each stage took (ms)."""

    outputs: SegmentationOutputs
    timings_ms: dict[str, float]
    K: np.ndarray  # the colour camera's K the outputs are aligned to
    spatial: torch.Tensor | None = None  # (C, h, w) network-size map in encoder units


@dataclass
class EncodedFrame:
    """A frame between the stages: the inputs at camera and at network resolution."""

    rgb: np.ndarray
    depth_m: np.ndarray
    K: np.ndarray
    rgb_t: torch.Tensor
    depth_t: torch.Tensor
    encoded: torch.Tensor  # (C, h, w) spatial map in encoder units
    rgb_in: torch.Tensor
    spatial_in: torch.Tensor
    timings_ms: dict[str, float] = field(default_factory=dict)


class SegmentationPipeline:
    """Spatial encoding, SGNet inference and output building for one model."""

    def __init__(self, segmenter: OnnxSegmenter, config: PipelineConfig | None = None) -> None:
        config = config or PipelineConfig()
        self.segmenter = segmenter
        self.contract = segmenter.contract
        self.device, device_warning = select_device(config.device)
        self.warnings = list(segmenter.report.warnings)
        self.notes = list(segmenter.report.notes)
        if device_warning:
            self.warnings.append(device_warning)
        self.encoder = SpatialEncoder(self.contract.spatial_mode, device=self.device,
                                      hha=config.hha)
        palette = config.outputs.palette or self.contract.palette
        if len(palette) < self.contract.num_classes:
            raise ValueError(
                f"palette has {len(palette)} colours but the model has "
                f"{self.contract.num_classes} classes")
        self.outputs = OutputBuilder(self.contract.class_names, palette, config.outputs)

    @classmethod
    def from_model_path(cls, model_path: str | Path | None = None,
                        config: PipelineConfig | None = None) -> SegmentationPipeline:
        """Load a model (the bundled default when None) and build the pipeline around it."""
        config = config or PipelineConfig()
        segmenter = OnnxSegmenter(model_path or default_model_path(), config.providers,
                                  io_binding=config.io_binding)
        return cls(segmenter, config)

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.contract.class_names

    def reset(self) -> None:
        """Forget temporal state (e.g. smoothed gravity) when the input jumps back in time."""
        self.encoder.reset()

    def _to_device(self, array: np.ndarray) -> torch.Tensor:
        """The one host-to-device copy of a decoded image.

        For CUDA it goes through page-locked memory (torch's caching host allocator reuses
        the block, and knows when the copy is done), so the transfer is a DMA that does not
        stall on pageable pages.
        """
        tensor = torch.from_numpy(np.ascontiguousarray(array))
        if self.device.type != "cuda":
            return tensor
        return tensor.pin_memory().to(self.device, non_blocking=True)

    def process(self, rgb: np.ndarray, depth_m: np.ndarray, K: np.ndarray,
                info_size: tuple[int, int] | None = None, cloud_classes: Iterable[int] = (),
                organized_cloud: bool = True, gravity: np.ndarray | None = None,
                camera_height_m: float | None = None) -> PipelineResult:
        """Segment one registered RGB-D frame.

        rgb: (H,W,3) uint8; depth_m: float32 metres (0 = invalid) on the colour grid or an
        exact integer ratio of it; K: the camera's rectified intrinsics, for an image of
        `info_size` (width, height) when that differs from the colour image. gravity (down,
        optical frame) and camera_height_m: this frame's, e.g. from TF (HHA only).
        """
        frame = self.encode(rgb, depth_m, K, info_size, gravity, camera_height_m)
        return self.finish(frame, self.infer(frame), cloud_classes, organized_cloud)

    def _lap(self, frame: EncodedFrame, stage: str, started: float) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        frame.timings_ms[stage] = (time.perf_counter() - started) * 1000.0

    def encode(self, rgb: np.ndarray, depth_m: np.ndarray, K: np.ndarray,
               info_size: tuple[int, int] | None = None, gravity: np.ndarray | None = None,
               camera_height_m: float | None = None) -> EncodedFrame:
        """The first stage: frame checks, spatial encoding and normalised network inputs."""
        started = time.perf_counter()
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise FrameError("bad_encoding", f"colour must be (H,W,3) uint8, got "
                                             f"{rgb.shape} {rgb.dtype}")
        height, width = rgb.shape[:2]
        depth_m = depth_on_color_grid(depth_m, (height, width))
        K = intrinsics_for_image(K, info_size, (width, height))
        size = tuple(self.contract.input_size)
        rgb_t, depth_t = self._to_device(rgb), self._to_device(depth_m)
        encoded = self.encoder.encode(resize_depth(depth_t, size),
                                      network_intrinsics(K, (height, width), size),
                                      gravity=gravity, camera_height_m=camera_height_m)
        frame = EncodedFrame(rgb, depth_m, K, rgb_t, depth_t, encoded,
                             normalise_rgb(resize_rgb(rgb_t, size), self.contract),
                             normalise_spatial(encoded, self.contract))
        self._lap(frame, "spatial", started)
        return frame

    def infer(self, frame: EncodedFrame) -> torch.Tensor:
        """The second stage: the network on the encoded frame."""
        started = time.perf_counter()
        target = self.segmenter.device
        output = self.segmenter.run(frame.rgb_in[None].to(target),
                                    frame.spatial_in[None].to(target))
        self._lap(frame, "inference", started)
        return output

    def finish(self, frame: EncodedFrame, network_output: torch.Tensor,
               cloud_classes: Iterable[int] = (), organized_cloud: bool = True,
               overlay: bool = True, confidence: bool = True) -> PipelineResult:
        """The third stage: labels, overlay and clouds at camera resolution (overlay and
        confidence only where asked for)."""
        started = time.perf_counter()
        # On CUDA the frame is already there: labels and clouds are made on the GPU too.
        on_device = (frame.rgb_t, frame.depth_t) if self.device.type == "cuda" else None
        outputs = self.outputs.build(network_output, frame.rgb, frame.depth_m, frame.K,
                                     cloud_classes=cloud_classes, organized_cloud=organized_cloud,
                                     frame_on_device=on_device, overlay=overlay,
                                     confidence=confidence)
        self._lap(frame, "outputs", started)
        return PipelineResult(outputs=outputs, timings_ms=frame.timings_ms, K=frame.K,
                              spatial=frame.encoded)
