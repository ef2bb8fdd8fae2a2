"""Strong augmentation: geometry stays aligned, colour stops explaining the labels, and the
samples are a function of (seed, epoch, index) so a resumed run sees the same ones."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from sgnet_ros.pipeline import nyu40
from sgnet_ros.pipeline.contract import ModelContract
from sgnet_ros.training import augmentation
from sgnet_ros.training.datasets import FrameArrays, SegmentationDataset

BLOCK = 8
SIZE = (48, 64)
CROP = (32, 48)


def block_frames(count: int) -> FrameArrays:
    """Frames of BLOCK-pixel squares whose label is a function of the spatial value in them
    (label = HHA channel 0 / 20) and whose colour is the label's fixed colour."""
    rng = np.random.default_rng(0)
    grid = rng.integers(0, 12, size=(count, SIZE[0] // BLOCK, SIZE[1] // BLOCK))
    labels = np.kron(grid, np.ones((BLOCK, BLOCK), dtype=np.int64)).astype(np.uint8)
    spatial = np.repeat((labels.astype(np.float16) * 20 + 5)[:, None], 3, axis=1)
    spatial[:, 1] = 200 - spatial[:, 1]
    colours = rng.integers(0, 256, size=(12, 3)).astype(np.uint8)
    return FrameArrays(colours[labels], spatial, labels)


def labels_of(spatial: np.ndarray) -> np.ndarray:
    return np.round((spatial[0] - 5) / 20).astype(np.int64)


def dataset(augment: str, seed: int = 0) -> SegmentationDataset:
    return SegmentationDataset(block_frames(16), ModelContract(nyu40.CLASS_NAMES, "hha"),
                               crop=CROP, augment=augment, seed=seed)


def test_strong_augmentation_keeps_labels_a_function_of_the_spatial_channels():
    data = dataset("strong")
    run_lengths = []
    for index in range(len(data)):
        sample = data.sample(index)
        assert sample.labels.shape == CROP and sample.spatial.shape == (3, *CROP)
        labelled = sample.labels != augmentation.IGNORE_LABEL
        assert labelled.any()
        # Nearest-neighbour resampling of both: no blended values, no misplaced pixel.
        assert np.array_equal(labels_of(sample.spatial)[labelled], sample.labels[labelled])
        assert np.allclose((sample.spatial[1] + sample.spatial[0])[labelled], 200)
        row = sample.labels[CROP[0] // 2]
        run_lengths.append(np.diff(np.flatnonzero(np.diff(row) != 0)).mean())
    # The zoom really changes the scale: squares come out smaller and larger than BLOCK.
    assert min(run_lengths) < BLOCK * 0.85 and max(run_lengths) > BLOCK * 1.15


def test_rgb_moves_with_the_labels_under_zoom_crop_and_mirror():
    frames = block_frames(4)
    fill = np.full(3, 127.5, dtype=np.float32)
    for seed in range(12):
        rng = np.random.default_rng(seed)
        index = seed % 4
        original = augmentation.Sample(frames.rgb[index].astype(np.float32) / 255.0,
                                       frames.spatial[index].astype(np.float32),
                                       frames.labels[index])
        sample = augmentation.scale_crop_flip(original, CROP, rng, fill)
        colours = {int(label): frames.rgb[index][frames.labels[index] == label][0] / 255.0
                   for label in np.unique(frames.labels[index])}
        # Two pixels away from square edges the resampled RGB is exactly its square's colour.
        uniform = cv2.erode(sample.labels, np.ones((5, 5), np.uint8)) == cv2.dilate(
            sample.labels, np.ones((5, 5), np.uint8))
        interior = uniform & (sample.labels != augmentation.IGNORE_LABEL)
        interior[:2], interior[-2:], interior[:, :2], interior[:, -2:] = False, False, False, False
        assert interior.sum() > 100
        expected = np.array([colours[int(v)] for v in sample.labels[interior]])
        assert np.abs(sample.rgb[interior] - expected).max() < 0.02


def test_strong_augmentation_makes_a_class_colour_unreliable():
    """Each class has one fixed colour in the frames; after strong augmentation the colour of
    a class spreads over most of the colour cube (basic augmentation keeps it fixed)."""

    def colours_of_label(augment: str) -> np.ndarray:
        data = dataset(augment)
        means = []
        for epoch in range(4):
            data.set_epoch(epoch)
            for index in range(len(data)):
                sample = data.sample(index)
                mask = sample.labels == 3
                if mask.sum() > 20:
                    means.append(sample.rgb[mask].mean(axis=0))
        return np.array(means)

    assert colours_of_label("basic").std(axis=0).max() < 0.01
    assert colours_of_label("strong").std(axis=0).min() > 0.12


def test_samples_depend_on_seed_epoch_and_index_only():
    first, second = dataset("strong"), dataset("strong")
    second.sample(5)  # drawing other samples first changes nothing
    for data in (first, second):
        data.set_epoch(3)
    a, b = first.sample(7), second.sample(7)
    assert np.array_equal(a.rgb, b.rgb) and np.array_equal(a.spatial, b.spatial)
    assert np.array_equal(a.labels, b.labels)
    second.set_epoch(4)
    assert not np.array_equal(a.rgb, second.sample(7).rgb)
    assert not np.array_equal(a.rgb, dataset("strong", seed=1).sample(7).rgb)


def test_unknown_augmentation_is_refused():
    with pytest.raises(ValueError, match="augment"):
        dataset("extreme")
