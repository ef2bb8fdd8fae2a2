"""A contact sheet of synthetic frames (rgb | depth | labels), to judge the generator by eye."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from sgnet_ros.pipeline import nyu40
from sgnet_ros.training.synthetic.geometry import SyntheticFrame

_PALETTE = np.array(nyu40.PALETTE, dtype=np.uint8)


def depth_colours(depth_m: np.ndarray, far_m: float = 8.0) -> np.ndarray:
    """Depth as turbo colours (near blue, far red); missing depth black."""
    scaled = np.clip(depth_m / far_m * 255.0, 0, 255).astype(np.uint8)
    colours = cv2.applyColorMap(scaled, cv2.COLORMAP_TURBO)[..., ::-1]
    colours[depth_m <= 0] = 0
    return colours


def label_colours(labels: np.ndarray) -> np.ndarray:
    """NYU40 ids in the usual NYU40 palette."""
    return _PALETTE[np.minimum(labels, len(_PALETTE) - 1)]


def contact_sheet(frames: list[SyntheticFrame], columns: int = 2) -> np.ndarray:
    """Rows of (rgb | depth | labels) triptychs, `columns` triptychs per row, 2 px gaps."""
    tiles = [
        np.concatenate([f.rgb, depth_colours(f.depth_m), label_colours(f.labels)], axis=1)
        for f in frames
    ]
    height, width, _ = tiles[0].shape
    rows = -(-len(tiles) // columns)
    sheet = np.full((rows * (height + 2), columns * (width + 2), 3), 255, np.uint8)
    for index, tile in enumerate(tiles):
        row, column = divmod(index, columns)
        y, x = row * (height + 2), column * (width + 2)
        sheet[y : y + height, x : x + width] = tile
    return sheet


def write_contact_sheet(path: Path, frames: list[SyntheticFrame], columns: int = 2) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    ok = cv2.imwrite(str(path), contact_sheet(frames, columns)[..., ::-1],
                     [cv2.IMWRITE_PNG_COMPRESSION, 9])
    if not ok:
        raise OSError(f"could not write {path}")
