"""Everything published from one segmented frame, built ROS-free from arrays.

The label image, colour overlay and optional confidence are produced at the camera's
resolution from the network's output (any resolution and aspect ratio: the network input
is the whole camera image resized, so both grids span the same field of view). The
labelled organized cloud and the per-class clouds are contiguous buffers shaped like
sensor_msgs/PointCloud2 data, so the node only wraps them.

Everything is vectorised numpy (plus OpenCV channel shuffles) on the CPU, single-threaded.
When the frame is also given as tensors on the network output's device (the pipeline does
so on CUDA), the label resize and the cloud gathering run there in torch
(`device_clouds`), and each buffer is copied to the host once; only the overlay is numpy.
The two cloud buffers (about 10 MB a frame at 640x480) are recycled across frames once
the caller has dropped them, which saves page-faulting fresh memory on every build.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import torch

from sgnet_ros.pipeline.contract import default_palette
from sgnet_ros.pipeline.outputs import device_clouds
from sgnet_ros.pipeline.outputs.buffers import BufferPool
from sgnet_ros.pipeline.outputs.clouds import (
    XYZRGB_FIELDS,
    XYZRGBL_FIELDS,
    CloudBuffer,
    RayCache,
    cloud_from_words,
    point_words,
    unique_topic_tokens,
    voxel_downsample,
    xyzrgb_rows,
)
from sgnet_ros.pipeline.outputs.labels import (
    MAX_MONO8_CLASSES,
    RESIZE_MODES,
    UNLABELED_MONO8,
    UNLABELED_MONO16,
    LabelResizer,
)
from sgnet_ros.pipeline.outputs.overlay import colorize_labels, colour_table, overlay_colours


@dataclass(frozen=True)
class OutputOptions:
    """How outputs are built; mirrors the node's parameters."""

    resize: str = "bilinear_logits"  # measured better at boundaries, see outputs_benchmark
    overlay_alpha: float = 0.5  # weight of the camera image; 0 = pure label colours
    min_depth: float = 0.1
    max_depth: float = 10.0
    cloud_stride: int = 1  # 1 = every pixel
    voxel_size: float = 0.0  # metres; > 0 voxel-downsamples the per-class clouds
    with_confidence: bool = False
    palette: tuple[tuple[int, int, int], ...] | None = None  # overrides the model's

    def __post_init__(self) -> None:
        if self.resize not in RESIZE_MODES:
            raise ValueError(f"resize {self.resize!r} is not one of {RESIZE_MODES}")
        if not 0.0 <= self.overlay_alpha <= 1.0:
            raise ValueError(f"overlay_alpha {self.overlay_alpha} is outside [0, 1]")
        if not 0.0 <= self.min_depth < self.max_depth:
            raise ValueError(
                f"depth range needs 0 <= min_depth < max_depth, got "
                f"{self.min_depth}..{self.max_depth}"
            )
        if int(self.cloud_stride) != self.cloud_stride or self.cloud_stride < 1:
            raise ValueError(f"cloud_stride must be a positive integer, got {self.cloud_stride}")
        if not self.voxel_size >= 0.0:
            raise ValueError(f"voxel_size must be >= 0, got {self.voxel_size}")


@dataclass
class OutputStats:
    """Counters the node and the tests read to see what work was done."""

    frames_built: int = 0
    clouds_built: int = 0
    overlays_built: int = 0
    confidences_built: int = 0


@dataclass
class SegmentationOutputs:
    """One frame's outputs, all at the camera's resolution."""

    labels: np.ndarray  # (H, W) uint8, 255 unlabeled; uint16, 65535 unlabeled, if > 254 classes
    overlay: np.ndarray | None  # (H, W, 3) uint8 rgb; None when nobody wanted it
    confidence: np.ndarray | None  # (H, W) float32 softmax max, when enabled and logits exist
    points: CloudBuffer | None  # organized x y z rgb label
    class_clouds: dict[int, CloudBuffer] = field(default_factory=dict)  # unorganized x y z rgb


class OutputBuilder:
    """Turns network output plus the camera frame into every published output."""

    def __init__(
        self,
        class_names: tuple[str, ...],
        palette: tuple[tuple[int, int, int], ...] | None,
        options: OutputOptions,
    ) -> None:
        if not class_names:
            raise ValueError("class_names is empty")
        if len(class_names) > UNLABELED_MONO16:
            raise ValueError(f"{len(class_names)} classes do not fit a mono16 label image")
        self.class_names = tuple(class_names)
        self.options = options
        self.stats = OutputStats()
        self.class_topics = unique_topic_tokens(self.class_names)
        num_classes = len(self.class_names)
        self.unlabeled = UNLABELED_MONO8 if num_classes <= MAX_MONO8_CLASSES else UNLABELED_MONO16
        chosen = options.palette or palette or default_palette(num_classes)
        self._colour_table = colour_table(chosen, num_classes, self.unlabeled)
        colours = self._colour_table[:num_classes].view(np.uint8).reshape(-1, 4)[:, :3]
        self.palette = tuple(tuple(int(value) for value in colour) for colour in colours)
        self._resizer = LabelResizer(num_classes, self.unlabeled)
        self._geometry = RayCache()
        self._buffers = BufferPool()

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def colorize(self, labels: np.ndarray) -> np.ndarray:
        """Pure label colours (no camera image) of a label image, e.g. for previews."""
        return colorize_labels(labels, self.palette)

    def build(
        self,
        network_output: torch.Tensor | np.ndarray,
        rgb: np.ndarray,
        depth_m: np.ndarray,
        K: np.ndarray,
        cloud_classes: Iterable[int] = (),
        organized_cloud: bool = True,
        frame_on_device: tuple[torch.Tensor, torch.Tensor] | None = None,
        overlay: bool = True,
        confidence: bool = True,
    ) -> SegmentationOutputs:
        """All outputs of one frame; per-class clouds only for the ids in cloud_classes.

        frame_on_device: the same rgb and depth as torch tensors on the device to work on
        (the pipeline passes its CUDA copies): labels and clouds are then made there.
        overlay / confidence: False skips them for this frame (the node: no subscriber);
        confidence is made only where the options ask for it too.
        """
        rgb, depth_m = _check_frame(rgb, depth_m)
        wanted_classes = self._check_classes(cloud_classes)
        options = self.options
        with_confidence = options.with_confidence and confidence
        if frame_on_device is None:
            labels, confidence = self._resizer.resize(
                network_output, depth_m.shape, options.resize, with_confidence
            )
        else:
            output = torch.as_tensor(network_output).to(frame_on_device[0].device)
            device_labels, device_confidence = self._resizer.resize_torch(
                output, depth_m.shape, options.resize, with_confidence
            )
            labels, confidence = self._resizer.to_host(device_labels, device_confidence)
        overlay = overlay_colours(rgb, labels, self._colour_table, options.overlay_alpha) \
            if overlay else None
        points, class_clouds = None, {}
        if organized_cloud or wanted_classes:
            if frame_on_device is None:
                words, class_words, counts = self._host_cloud_words(
                    labels, rgb, depth_m, K, wanted_classes
                )
            else:
                words, class_words, counts = self._device_cloud_words(
                    device_labels, *frame_on_device, K, wanted_classes, organized_cloud
                )
            points, class_clouds = self._wrap_clouds(
                words if organized_cloud else None, class_words, counts, wanted_classes
            )
        self.stats.frames_built += 1
        self.stats.clouds_built += len(class_clouds)
        self.stats.overlays_built += overlay is not None
        self.stats.confidences_built += confidence is not None
        return SegmentationOutputs(labels, overlay, confidence, points, class_clouds)

    def _check_classes(self, cloud_classes: Iterable[int]) -> list[int]:
        wanted = sorted({int(class_id) for class_id in cloud_classes})
        if wanted and (wanted[0] < 0 or wanted[-1] >= self.num_classes):
            raise ValueError(f"cloud_classes {wanted} must be class ids in [0, {self.num_classes})")
        return wanted

    def _host_cloud_words(
        self,
        labels: np.ndarray,
        rgb: np.ndarray,
        depth_m: np.ndarray,
        K: np.ndarray,
        wanted_classes: list[int],
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Organized words (h, w, 5), the wanted classes' x y z rgb rows grouped by class,
        and the row count per class id, in numpy."""
        stride = int(self.options.cloud_stride)
        rays_x, rays_y = self._geometry.rays(K, depth_m.shape, stride)
        depth = depth_m[::stride, ::stride]
        labels = labels[::stride, ::stride]
        rgb = rgb[::stride, ::stride]
        valid = (depth > 0) & (depth >= self.options.min_depth) & (depth <= self.options.max_depth)
        # The organized cloud is also the source the class clouds are gathered from: one
        # vectorised pass over the grid beats gathering depth, rays and colour per point.
        words = self._buffers.get("organized", depth.shape + (5,), np.float32)
        point_words(words, depth, valid, rays_x, rays_y, rgb, labels)
        if not wanted_classes:
            return words, np.empty((0, 4), np.float32), np.zeros(self.num_classes, np.intp)

        # Sort keys: the class of wanted valid points, the unlabeled value (last) otherwise.
        wanted_lut = np.zeros(self.unlabeled + 1, bool)
        wanted_lut[wanted_classes] = True
        flat_labels = labels.reshape(-1)
        keys = np.where(valid.reshape(-1) & wanted_lut[flat_labels], flat_labels, self.unlabeled)
        counts = np.bincount(keys, minlength=self.num_classes)[: self.num_classes]
        # A stable radix sort of small integers: the wanted points, grouped by class.
        chosen = np.argsort(keys, kind="stable")[: counts.sum()]
        class_words = self._buffers.get("classes", (valid.size, 4), np.float32)[: chosen.size]
        xyzrgb_rows(words, chosen, out=class_words)
        return words, class_words, counts

    def _device_cloud_words(
        self,
        labels: torch.Tensor,
        rgb: torch.Tensor,
        depth_m: torch.Tensor,
        K: np.ndarray,
        wanted_classes: list[int],
        organized: bool,
    ) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
        """What `_host_cloud_words` returns, gathered in torch on the tensors' device; each
        buffer is copied once into the recycled host arrays (the organized one only when
        it is published)."""
        stride = int(self.options.cloud_stride)
        rays_x, rays_y = self._geometry.rays_on(depth_m.device, K, tuple(depth_m.shape), stride)
        depth = depth_m[::stride, ::stride].float()
        labels = labels[::stride, ::stride]
        valid = (depth > 0) & (depth >= self.options.min_depth) & (depth <= self.options.max_depth)
        words = device_clouds.point_words(
            depth, valid, rays_x, rays_y, rgb[::stride, ::stride], labels
        )
        host_words = None
        if organized:
            host_words = self._buffers.get("organized", tuple(words.shape), np.float32)
            torch.from_numpy(host_words.view(np.int32)).copy_(words)
        if not wanted_classes:
            return host_words, np.empty((0, 4), np.float32), np.zeros(self.num_classes, np.intp)
        rows, counts = device_clouds.class_rows(
            labels, valid, wanted_classes, self.unlabeled, self.num_classes
        )
        counts = counts.cpu().numpy()
        chosen = rows[: int(counts.sum())]
        class_words = self._buffers.get("classes", (valid.numel(), 4), np.float32)[: chosen.numel()]
        torch.from_numpy(class_words.view(np.int32)).copy_(words.reshape(-1, 5)[chosen, :4])
        return host_words, class_words, counts

    def _wrap_clouds(
        self,
        words: np.ndarray | None,
        class_words: np.ndarray,
        counts: np.ndarray,
        wanted_classes: list[int],
    ) -> tuple[CloudBuffer | None, dict[int, CloudBuffer]]:
        """Cloud buffers over the words (voxel-downsampling the class rows when asked)."""
        points = None if words is None else cloud_from_words(words, XYZRGBL_FIELDS, is_dense=False)
        if not wanted_classes:
            return points, {}
        if self.options.voxel_size > 0:
            row_labels = np.repeat(np.arange(self.num_classes), counts)
            class_words, kept_labels = voxel_downsample(
                class_words, row_labels, self.options.voxel_size
            )
            counts = np.bincount(kept_labels, minlength=self.num_classes)
        ends = np.cumsum(counts)
        clouds = {}
        for class_id in wanted_classes:
            start = ends[class_id - 1] if class_id else 0
            clouds[class_id] = cloud_from_words(
                class_words[start : ends[class_id]], XYZRGB_FIELDS, is_dense=True
            )
        return points, clouds


def _check_frame(rgb: np.ndarray, depth_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    rgb = np.asarray(rgb)
    depth_m = np.asarray(depth_m)
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"rgb must be (H, W, 3) uint8, got {rgb.dtype} {rgb.shape}")
    if depth_m.ndim != 2 or not np.issubdtype(depth_m.dtype, np.floating):
        raise ValueError(
            f"depth_m must be (H, W) float metres, got {depth_m.dtype} {depth_m.shape}; "
            "convert 16UC1 millimetres first"
        )
    if depth_m.shape != rgb.shape[:2]:
        raise ValueError(f"depth {depth_m.shape} and rgb {rgb.shape[:2]} sizes differ")
    return np.ascontiguousarray(rgb), depth_m.astype(np.float32, copy=False)

