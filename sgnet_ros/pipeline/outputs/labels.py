"""The network output at the camera's resolution: label ids (bilinear on logits or nearest
on labels) and the optional confidence, on the host in numpy or on the device in torch."""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np
import torch
from torch.nn.functional import interpolate

RESIZE_MODES = ("bilinear_logits", "nearest_labels")
UNLABELED_MONO8 = 255
UNLABELED_MONO16 = 65535
MAX_MONO8_CLASSES = 254


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


class LabelResizer:
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
            return camera_labels, bilinear_resize(confidence, size)
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


def bilinear_resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Separable bilinear resize with half-pixel centres (as torch align_corners=False)."""
    rows, cols = _axis_table(image.shape[0], size[0]), _axis_table(image.shape[1], size[1])
    row_weight = rows.high_weight[:, None]
    tall = image[rows.low] * (1 - row_weight) + image[rows.high] * row_weight
    return tall[:, cols.low] * (1 - cols.high_weight) + tall[:, cols.high] * cols.high_weight

