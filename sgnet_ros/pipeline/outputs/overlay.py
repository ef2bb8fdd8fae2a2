"""Label colours and the overlay of label colours on the camera image."""

from __future__ import annotations

import cv2
import numpy as np

from sgnet_ros.pipeline.nyu40 import UNLABELED_COLOR


def colorize_labels(labels: np.ndarray, palette) -> np.ndarray:
    """(H, W, 3) uint8 colours of class ids; ids without a palette entry get UNLABELED_COLOR."""
    table = np.asarray(palette, dtype=np.uint8).reshape(-1, 3)
    labels = np.asarray(labels)
    known = (labels >= 0) & (labels < len(table))
    colours = table[np.where(known, labels, 0)]
    colours[~known] = UNLABELED_COLOR
    return colours


def colour_table(palette, num_classes: int, unlabeled: int) -> np.ndarray:
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


def overlay_colours(
    rgb: np.ndarray,
    labels: np.ndarray,
    colour_table: np.ndarray,
    alpha: float,
) -> np.ndarray:
    """alpha * rgb + (1 - alpha) * label colours, rounded; exact at alpha 0 and 1."""
    colours = np.take(colour_table, labels).view(np.uint8).reshape(labels.shape + (4,))
    mixed = cv2.addWeighted(cv2.cvtColor(rgb, cv2.COLOR_RGB2RGBA), alpha, colours, 1.0 - alpha, 0.0)
    return cv2.cvtColor(mixed, cv2.COLOR_RGBA2RGB)

