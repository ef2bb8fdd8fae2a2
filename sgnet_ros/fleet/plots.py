"""Pictures of a fleet run: latency and mIoU per bag (PNG) and a contact sheet of previews."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

SHEET_TILE_WIDTH = 960  # one preview (input | labels | overlay) scaled to this width


def plot_latency(results: list[dict], path: Path) -> Path:
    """Box plot of per-frame latency per bag, with the pipeline stages' p50 beside it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r["name"] for r in results]
    figure, axes = plt.subplots(figsize=(max(6.0, 0.6 * len(names) + 3), 4.5))
    axes.boxplot([r["latency_samples_ms"] for r in results], showfliers=False)
    axes.set_xticks(range(1, len(names) + 1), names, rotation=45, ha="right")
    axes.set_ylabel("latency per frame (ms): decode + pipeline + messages")
    axes.set_title("Latency per bag (box: p25..p75, whiskers 1.5 IQR)")
    axes.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def plot_miou(bags: list[dict], pooled: dict | None, path: Path) -> Path:
    """Bar per bag with ground truth, a line at the pooled mIoU."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scored = [b for b in bags if b["accuracy"]]
    figure, axes = plt.subplots(figsize=(max(6.0, 0.6 * len(scored) + 3), 4.5))
    axes.bar([b["name"] for b in scored], [b["accuracy"]["miou"] for b in scored])
    if pooled and pooled.get("accuracy"):
        axes.axhline(pooled["accuracy"]["miou"], color="black", linestyle="--",
                     label=f"pooled {pooled['accuracy']['miou']:.3f}")
        axes.legend()
    if not scored:
        axes.text(0.5, 0.5, "no bag has a ground-truth labels topic", ha="center",
                  transform=axes.transAxes)
    axes.set_ylim(0, 1)
    axes.set_ylabel("mIoU (classes present)")
    axes.set_title("mIoU per bag")
    axes.tick_params(axis="x", rotation=45)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def contact_sheet(bags_root: Path, results: list[dict], path: Path, columns: int = 2) -> Path:
    """The first preview of every bag, its name above it, in a grid."""
    tiles = []
    for result in results:
        if not result["previews"]:
            continue
        image = cv2.imread(str(bags_root / result["name"] / result["previews"][0]))
        if image is None:
            continue
        height = round(image.shape[0] * SHEET_TILE_WIDTH / image.shape[1])
        tile = np.full((height + 30, SHEET_TILE_WIDTH, 3), 255, np.uint8)
        tile[30:] = cv2.resize(image, (SHEET_TILE_WIDTH, height), interpolation=cv2.INTER_AREA)
        cv2.putText(tile, result["name"], (6, 21), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1,
                    cv2.LINE_AA)
        tiles.append(tile)
    if not tiles:
        tiles = [np.full((60, SHEET_TILE_WIDTH, 3), 255, np.uint8)]
    height = max(tile.shape[0] for tile in tiles)
    tiles = [np.pad(t, ((0, height - t.shape[0]), (0, 0), (0, 0)), constant_values=255)
             for t in tiles]
    blank = np.full_like(tiles[0], 255)
    tiles += [blank] * (-len(tiles) % columns)
    rows = [np.concatenate(tiles[i:i + columns], axis=1) for i in range(0, len(tiles), columns)]
    cv2.imwrite(str(path), np.concatenate(rows, axis=0))
    return path
