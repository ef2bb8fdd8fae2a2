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

import functools
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

import cv2
import numpy as np
import torch
from torch.nn.functional import interpolate

from sgnet_ros import device_clouds
from sgnet_ros.contract import default_palette
from sgnet_ros.nyu40 import UNLABELED_COLOR
from sgnet_ros.point_clouds import (
    XYZRGB_FIELDS,
    XYZRGB_STEP,
    XYZRGBL_FIELDS,
    CloudBuffer,
    cloud_from_words,
    pack_rgb,
    unique_topic_tokens,
)

RESIZE_MODES = ("bilinear_logits", "nearest_labels")
UNLABELED_MONO8 = 255
UNLABELED_MONO16 = 65535
MAX_MONO8_CLASSES = 254


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


@dataclass
class SegmentationOutputs:
    """One frame's outputs, all at the camera's resolution."""

    labels: np.ndarray  # (H, W) uint8, 255 unlabeled; uint16, 65535 unlabeled, if > 254 classes
    overlay: np.ndarray  # (H, W, 3) uint8 rgb
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
        self._colour_table = _colour_table(chosen, num_classes, self.unlabeled)
        colours = self._colour_table[:num_classes].view(np.uint8).reshape(-1, 4)[:, :3]
        self.palette = tuple(tuple(int(value) for value in colour) for colour in colours)
        self._resizer = _LabelResizer(num_classes, self.unlabeled)
        self._geometry = _RayCache()
        self._buffers = _BufferPool()

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
    ) -> SegmentationOutputs:
        """All outputs of one frame; per-class clouds only for the ids in cloud_classes.

        frame_on_device: the same rgb and depth as torch tensors on the device to work on
        (the pipeline passes its CUDA copies): labels and clouds are then made there.
        """
        rgb, depth_m = _check_frame(rgb, depth_m)
        wanted_classes = self._check_classes(cloud_classes)
        options = self.options
        if frame_on_device is None:
            labels, confidence = self._resizer.resize(
                network_output, depth_m.shape, options.resize, options.with_confidence
            )
        else:
            output = torch.as_tensor(network_output).to(frame_on_device[0].device)
            device_labels, device_confidence = self._resizer.resize_torch(
                output, depth_m.shape, options.resize, options.with_confidence
            )
            labels, confidence = self._resizer.to_host(device_labels, device_confidence)
        overlay = _overlay(rgb, labels, self._colour_table, options.overlay_alpha)
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
        _point_words(words, depth, valid, rays_x, rays_y, rgb, labels)
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
        _xyzrgb_rows(words, chosen, out=class_words)
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
            class_words, kept_labels = _voxel_downsample(
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


def colorize_labels(labels: np.ndarray, palette) -> np.ndarray:
    """(H, W, 3) uint8 colours of class ids; ids without a palette entry get UNLABELED_COLOR."""
    table = np.asarray(palette, dtype=np.uint8).reshape(-1, 3)
    labels = np.asarray(labels)
    known = (labels >= 0) & (labels < len(table))
    colours = table[np.where(known, labels, 0)]
    colours[~known] = UNLABELED_COLOR
    return colours


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


def _colour_table(palette, num_classes: int, unlabeled: int) -> np.ndarray:
    """(unlabeled + 1,) uint32 holding r, g, b, 0 bytes: class colours, then the unlabeled
    colour for any other value. Four-byte entries make the lookup one gather per pixel."""
    colours = np.asarray(palette, dtype=np.int64)
    if colours.ndim != 2 or colours.shape[1] != 3:
        raise ValueError(f"palette must be a list of (r, g, b) triples, got shape {colours.shape}")
    if colours.shape[0] < num_classes:
        raise ValueError(f"palette has {colours.shape[0]} colours for {num_classes} classes")
    if colours.min() < 0 or colours.max() > 255:
        raise ValueError("palette values must be within 0..255")
    table = np.zeros((unlabeled + 1, 4), np.uint8)
    table[:, :3] = UNLABELED_COLOR
    table[:num_classes, :3] = colours[:num_classes]
    return table.view(np.uint32)[:, 0]


def _overlay(
    rgb: np.ndarray,
    labels: np.ndarray,
    colour_table: np.ndarray,
    alpha: float,
) -> np.ndarray:
    """alpha * rgb + (1 - alpha) * label colours, rounded; exact at alpha 0 and 1."""
    colours = np.take(colour_table, labels).view(np.uint8).reshape(labels.shape + (4,))
    mixed = cv2.addWeighted(cv2.cvtColor(rgb, cv2.COLOR_RGB2RGBA), alpha, colours, 1.0 - alpha, 0.0)
    return cv2.cvtColor(mixed, cv2.COLOR_RGBA2RGB)


def _point_words(
    words: np.ndarray,
    depth: np.ndarray,
    valid: np.ndarray,
    rays_x: np.ndarray,
    rays_y: np.ndarray,
    rgb: np.ndarray,
    labels: np.ndarray,
) -> np.ndarray:
    """Fill (H, W, 5) little-endian words x y z rgb label; NaN xyz where depth is not valid.

    Each field is computed as a contiguous plane and interleaved by one stack, which is
    faster than writing each field through a strided view.
    """
    z = np.where(valid, depth, np.float32(np.nan))
    planes = [z * rays_x, z * rays_y, z, pack_rgb(rgb), labels.astype("<u4").view("<f4")]
    np.stack(planes, axis=-1, out=words)  # a raw copy: rgb and label bits pass unchanged


def _xyzrgb_rows(words: np.ndarray, rows: np.ndarray, out: np.ndarray) -> None:
    """Gather the x y z rgb prefix of the given points of x y z rgb label words into out."""
    point_step = words.shape[-1] * words.itemsize
    prefixes = np.ndarray(  # (N,) view of each point's first 16 bytes
        (words.size // words.shape[-1],),
        np.dtype((np.void, XYZRGB_STEP)),
        buffer=words,
        strides=(point_step,),
    )
    np.take(prefixes, rows, out=out.view(prefixes.dtype)[:, 0])  # faster than prefixes[rows]


def _voxel_downsample(
    words: np.ndarray,
    labels: np.ndarray,
    voxel_size: float,
) -> tuple[np.ndarray, np.ndarray]:
    """One point per (class, voxel): the centroid of its points, the colour of one of them.

    Returns points grouped by ascending class, with their labels.
    """
    if labels.size == 0:
        return words, labels
    key = labels.astype(np.int64)  # label-major, so voxels come out grouped by class
    key_space = float(labels.max()) + 1
    for axis in (2, 1, 0):
        cell = np.floor(words[:, axis] / np.float32(voxel_size)).astype(np.int64)
        low, high = cell.min(), cell.max()
        key_space *= float(high - low + 1)
        if key_space >= 2.0**62:
            raise ValueError(f"voxel_size {voxel_size} is too small for this cloud's extent")
        key *= high - low + 1
        key += cell - low
    # Points arrive in image order within each class, so neighbours along a row mostly
    # share a voxel: merging those runs first leaves far fewer keys to sort.
    run_starts = np.flatnonzero(np.concatenate(([True], key[1:] != key[:-1])))
    run_sizes = np.diff(np.append(run_starts, key.size))
    _, first_run, run_voxel = np.unique(key[run_starts], return_index=True, return_inverse=True)
    sizes = np.bincount(run_voxel, weights=run_sizes)
    merged = np.empty((first_run.size, 4), "<f4")
    for axis in range(3):
        run_sums = np.add.reduceat(words[:, axis], run_starts)
        merged[:, axis] = np.bincount(run_voxel, weights=run_sums) / sizes
    first = run_starts[first_run]
    merged.view("<u4")[:, 3] = words.view("<u4")[first, 3]
    return merged, labels[first]


class _BufferPool:
    """Large per-frame arrays, recycled once nothing outside the pool refers to them.

    At 640x480 the two clouds take about 10 MB a frame. Fresh memory is page-faulted in
    on every build (measured at several milliseconds); a recycled array is not. An array
    that the caller still holds, directly or through any view (a kept CloudBuffer, say),
    is never recycled: a new one is made and the old one stays the caller's.
    """

    _PROBE = "unshared probe"

    def __init__(self) -> None:
        self._arrays: dict[str, np.ndarray] = {self._PROBE: np.empty(0)}
        # Measured rather than assumed: interpreters count temporary references differently.
        self._unshared = self._references(self._PROBE)

    def _references(self, name: str) -> int:
        return sys.getrefcount(self._arrays[name])

    def get(self, name: str, shape: tuple[int, ...], dtype) -> np.ndarray:
        """An uninitialised C-contiguous array nobody else refers to."""
        reusable = (
            name in self._arrays
            and self._references(name) == self._unshared
            and self._arrays[name].shape == shape
            and self._arrays[name].dtype == dtype
        )
        if not reusable:
            self._arrays[name] = np.empty(shape, dtype)
        return self._arrays[name]


class _RayCache:
    """Per-pixel viewing rays (x/z, y/z) for the last camera seen, on the strided grid."""

    def __init__(self) -> None:
        self._key: tuple | None = None
        self._rays: tuple[np.ndarray, np.ndarray] | None = None
        self._on_device: dict[torch.device, tuple[torch.Tensor, torch.Tensor]] = {}

    def rays(
        self,
        K: np.ndarray,
        shape: tuple[int, int],
        stride: int,
    ) -> tuple[np.ndarray, np.ndarray]:
        K = np.asarray(K, dtype=np.float64)
        key = (K.tobytes(), shape, stride)
        if key != self._key:
            self._rays = _pixel_rays(K, shape, stride)
            self._key = key
            self._on_device = {}
        return self._rays

    def rays_on(
        self, device: torch.device, K: np.ndarray, shape: tuple[int, int], stride: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The same rays as tensors on `device`, copied there once per camera."""
        rays = self.rays(K, shape, stride)
        if device not in self._on_device:
            self._on_device[device] = tuple(
                torch.from_numpy(np.ascontiguousarray(ray)).to(device) for ray in rays
            )
        return self._on_device[device]


def _pixel_rays(
    K: np.ndarray,
    shape: tuple[int, int],
    stride: int,
) -> tuple[np.ndarray, np.ndarray]:
    """K^-1 [u, v, 1] for zero-based pixel centres, skew included."""
    if K.shape != (3, 3) or not np.isfinite(K).all():
        raise ValueError(f"K must be a finite 3x3 matrix, got shape {K.shape}")
    if not np.allclose(K[2], (0.0, 0.0, 1.0)) or K[1, 0] != 0:
        raise ValueError(f"K must be upper triangular with last row (0, 0, 1), got {K.tolist()}")
    fx, skew, cx, fy, cy = K[0, 0], K[0, 1], K[0, 2], K[1, 1], K[1, 2]
    if fx <= 0 or fy <= 0:
        raise ValueError(f"K has non-positive focal lengths fx={fx}, fy={fy}")
    rows = np.arange(0, shape[0], stride, dtype=np.float64)
    cols = np.arange(0, shape[1], stride, dtype=np.float64)
    rays_y = np.broadcast_to(((rows - cy) / fy)[:, None], (rows.size, cols.size))
    rays_x = ((cols - cx)[None, :] - skew * rays_y) / fx
    return rays_x.astype(np.float32), np.ascontiguousarray(rays_y, dtype=np.float32)


class _AxisTable(NamedTuple):
    """Half-pixel-centre sampling of `source` network cells by `target` camera pixels."""

    nearest: np.ndarray  # source index whose cell contains the target pixel centre
    low: np.ndarray  # bilinear neighbours (align_corners=False, edges clamped)
    high: np.ndarray
    high_weight: np.ndarray  # float32 weight of `high`


@functools.lru_cache(maxsize=16)
def _axis_table(source: int, target: int) -> _AxisTable:
    position = (np.arange(target) + 0.5) * (source / target)
    nearest = np.minimum(np.floor(position), source - 1).astype(np.intp)
    centre = np.maximum(position - 0.5, 0.0)
    low = np.minimum(np.floor(centre), source - 1).astype(np.intp)
    high = np.minimum(low + 1, source - 1)
    return _AxisTable(nearest, low, high, (centre - low).astype(np.float32))


class _LabelResizer:
    """Network logits or labels -> (H, W) labels (and confidence) at the camera resolution.

    bilinear_logits means: upsample the logits bilinearly (half-pixel centres, as torch's
    align_corners=False), then take the argmax. CUDA tensors do exactly that in torch.
    On the CPU, upsampling all K channels costs tens of milliseconds, so the numpy path
    only blends where it can matter: when the four network pixels around a camera pixel
    share one argmax, a convex combination of their logits keeps that winner, so only
    pixels in cells with differing corners are blended. Confidence is the softmax maximum
    at the network resolution, resized like the labels (bilinear or nearest).
    """

    def __init__(self, num_classes: int, unlabeled: int) -> None:
        self.num_classes = num_classes
        self.unlabeled = unlabeled
        # uint8 holds 0..254 labels plus 255 (unlabeled); more classes need a wider type.
        self.dtype = np.uint8 if unlabeled == UNLABELED_MONO8 else np.uint16

    def resize(
        self,
        network_output: torch.Tensor | np.ndarray,
        size: tuple[int, int],
        mode: str,
        with_confidence: bool,
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Labels (uint8/uint16) and the optional confidence, as host arrays."""
        if isinstance(network_output, torch.Tensor) and network_output.device.type != "cpu":
            return self.to_host(*self.resize_torch(network_output, size, mode, with_confidence))
        if isinstance(network_output, torch.Tensor):
            network_output = network_output.detach().numpy()
        output = self._check(np.asarray(network_output))
        if output.ndim == 3:
            return self._nearest(self._clean_labels(output[0]), size), None
        logits = output[0].astype(np.float32, copy=False)
        bilinear = mode == "bilinear_logits"
        labels, peak, runner_up = self._argmax(logits, with_runner_up=bilinear)
        if bilinear:
            camera_labels = self._bilinear(logits, labels, runner_up, size)
        else:
            camera_labels = self._nearest(labels, size)
        if not with_confidence:
            return camera_labels, None
        confidence = np.zeros(labels.shape, np.float32)
        for channel in logits:
            confidence += np.exp(channel - peak)
        confidence = np.reciprocal(confidence, out=confidence)
        if bilinear:
            return camera_labels, _bilinear_resize(confidence, size)
        return camera_labels, self._nearest(confidence, size)

    def resize_torch(
        self, network_output: torch.Tensor, size: tuple[int, int], mode: str, with_confidence: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The same outputs computed in torch on the tensor's device, left there: (H, W)
        int64 labels and the optional float32 confidence."""
        output = self._check(network_output)
        if output.ndim == 3:
            labels = output[0].long()
            in_range = (labels >= 0) & (labels < self.num_classes)
            labels = torch.where(in_range, labels, self.unlabeled)
            return self._nearest_torch(labels, size), None
        logits = output[0:1].float()
        if mode == "bilinear_logits":
            peak, labels = interpolate(logits, size=size, mode="bilinear", align_corners=False)[
                0
            ].max(0)
        else:
            peak, labels = self._nearest_torch(logits[0], size).max(0)
        labels.masked_fill_(peak.isnan(), self.unlabeled)
        if with_confidence:
            confidence = torch.softmax(logits, 1).amax(1, keepdim=True)
            if mode == "bilinear_logits":
                confidence = interpolate(
                    confidence, size=size, mode="bilinear", align_corners=False
                )[0, 0]
            else:
                confidence = self._nearest_torch(confidence[0, 0], size)
            return labels, confidence
        return labels, None

    def to_host(
        self, labels: torch.Tensor, confidence: torch.Tensor | None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Device labels (narrowed first, so fewer bytes cross) and confidence as host arrays."""
        narrow = torch.uint8 if self.dtype == np.uint8 else torch.int32
        host_labels = labels.to(narrow).cpu().numpy().astype(self.dtype, copy=False)
        return host_labels, None if confidence is None else confidence.cpu().numpy()

    def _check(self, output):
        floating = (
            output.is_floating_point()
            if isinstance(output, torch.Tensor)
            else (np.issubdtype(output.dtype, np.floating))
        )
        if output.ndim == 4 and floating and tuple(output.shape[:2]) == (1, self.num_classes):
            return output
        if output.ndim == 3 and not floating and output.shape[0] == 1:
            return output
        raise ValueError(
            f"network output must be logits (1, {self.num_classes}, h, w) float or labels "
            f"(1, h, w) integer, got {output.dtype} {tuple(output.shape)}"
        )

    def _clean_labels(self, labels: np.ndarray) -> np.ndarray:
        in_range = (labels >= 0) & (labels < self.num_classes)
        return np.where(in_range, labels, self.unlabeled).astype(self.dtype)

    def _argmax(
        self,
        logits: np.ndarray,
        with_runner_up: bool = False,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """First index of the channel maximum (unlabeled where a logit is NaN), the maximum,
        and optionally the second largest logit.

        One pass per class over an (h, w) plane: several times faster than numpy's or
        torch's argmax over the leading axis.
        """
        peak = logits[0].copy()
        labels = np.zeros(peak.shape, self.dtype)
        better = np.empty(peak.shape, bool)
        runner_up = np.full(peak.shape, -np.inf, np.float32) if with_runner_up else None
        smaller = np.empty(peak.shape, np.float32)
        for class_id in range(1, logits.shape[0]):
            channel = logits[class_id]
            np.greater(channel, peak, out=better)
            if with_runner_up:
                np.maximum(runner_up, np.minimum(peak, channel, out=smaller), out=runner_up)
            np.maximum(peak, channel, out=peak)  # NaN propagates into peak
            np.copyto(labels, class_id, where=better)
        labels[np.isnan(peak)] = self.unlabeled
        return labels, peak, runner_up

    def _nearest(self, image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        return self._gather(
            image,
            _axis_table(image.shape[0], size[0]).nearest,
            _axis_table(image.shape[1], size[1]).nearest,
        )

    def _nearest_torch(self, image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        rows = torch.from_numpy(_axis_table(image.shape[-2], size[0]).nearest)
        cols = torch.from_numpy(_axis_table(image.shape[-1], size[1]).nearest)
        return image.index_select(-2, rows.to(image.device)).index_select(-1, cols.to(image.device))

    def _bilinear(
        self, logits: np.ndarray, labels: np.ndarray, runner_up: np.ndarray, size: tuple[int, int]
    ) -> np.ndarray:
        """Labels of the bilinearly upsampled logits, blending only pixels of mixed cells.

        A mixed cell's blended winner is almost always one of its corners' labels: blend
        just those candidates, and accept the best when it beats the weighted runner-up
        logits, an upper bound for every other class. The rare rest blends all classes.
        """
        height, width = labels.shape
        rows, cols = _axis_table(height, size[0]), _axis_table(width, size[1])
        # A cell is named by its top-left network pixel; edge cells repeat the last pixel.
        mixed = np.zeros(labels.shape, bool)
        mixed[:, :-1] |= labels[:, 1:] != labels[:, :-1]
        mixed[:-1, :] |= labels[1:, :] != labels[:-1, :]
        mixed[:-1, :-1] |= labels[1:, 1:] != labels[:-1, :-1]
        camera = self._gather(labels, rows.low, cols.low).reshape(-1)
        blend = np.flatnonzero(self._gather(mixed, rows.low, cols.low))
        if blend.size == 0:
            return camera.reshape(size)
        cells = np.flatnonzero(mixed)
        cell_index = np.empty(labels.size, np.int32)  # position of a mixed cell in `cells`
        cell_index[cells] = np.arange(cells.size, dtype=np.int32)
        blend_rows, blend_cols = np.divmod(blend, size[1])
        camera_cell = cell_index[rows.low[blend_rows] * width + cols.low[blend_cols]]

        # Per mixed cell: its corners, their sorted labels (ties go to the smallest class id,
        # as with argmax), each candidate's logit at each corner and the runner-up logits.
        cell_rows, cell_cols = np.divmod(cells, width)
        step_down = np.where(cell_rows < height - 1, width, 0)
        step_right = (cell_cols < width - 1).astype(np.intp)
        corners = np.stack(
            [cells, cells + step_right, cells + step_down, cells + step_down + step_right], axis=1
        )  # (cells, 4)
        candidates = np.sort(labels.reshape(-1)[corners], axis=1)
        nan_corner = candidates[:, 3] == self.unlabeled  # a NaN logit blends into NaN
        candidates[nan_corner] = 0
        candidate_logits = logits.reshape(-1)[  # (cells, candidate, corner)
            candidates[:, :, None].astype(np.intp) * labels.size + corners[:, None, :]
        ]
        corner_runner_up = runner_up.reshape(-1)[corners]

        down, across = rows.high_weight[blend_rows], cols.high_weight[blend_cols]
        weights = np.stack(
            [(1 - down) * (1 - across), (1 - down) * across, down * (1 - across), down * across],
            axis=1,
        )  # (pixels, 4)
        blended = np.einsum("pc,pjc->pj", weights, candidate_logits[camera_cell])
        best = blended.argmax(axis=1)
        winners = candidates.reshape(-1)[camera_cell * 4 + best]
        best_value = blended.reshape(-1)[np.arange(blend.size) * 4 + best]
        bound = np.einsum("pc,pc->p", weights, corner_runner_up[camera_cell])
        nan_corner = nan_corner[camera_cell]
        unsure = np.flatnonzero((best_value <= bound) & ~nan_corner)
        if unsure.size:
            corner_logits = logits.reshape(logits.shape[0], -1)[:, corners[camera_cell[unsure]]]
            winners[unsure] = np.einsum("pc,kpc->pk", weights[unsure], corner_logits).argmax(axis=1)
        winners[nan_corner] = self.unlabeled
        camera[blend] = winners
        return camera.reshape(size)

    @staticmethod
    def _gather(image: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        return np.take(np.take(image, rows, axis=0), cols, axis=1)


def _bilinear_resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Separable bilinear resize with half-pixel centres (as torch align_corners=False)."""
    rows, cols = _axis_table(image.shape[0], size[0]), _axis_table(image.shape[1], size[1])
    row_weight = rows.high_weight[:, None]
    tall = image[rows.low] * (1 - row_weight) + image[rows.high] * row_weight
    return tall[:, cols.low] * (1 - cols.high_weight) + tall[:, cols.high] * cols.high_weight
