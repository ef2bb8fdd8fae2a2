"""Hand-annotated real frames (test/data/real): their labels, provenance and sgnet-eval on them.

The scores are re-derived here independently: the frames are read with cv2 and json, run
through a fresh `SegmentationPipeline`, and IoU is counted with numpy, so `sgnet-eval --real`
must agree with a computation that shares none of its evaluation code.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from sgnet_ros.pipeline.nyu40 import CLASS_NAMES
from sgnet_ros.pipeline.pipeline import PipelineConfig, SegmentationPipeline
from sgnet_ros.training.annotations import rasterise, rasterise_folder

REAL = Path(__file__).resolve().parent / "data" / "real"
FRAMES = sorted(path.parent for path in REAL.glob("*/polygons.json"))


def test_the_real_frames_are_there():
    assert len(FRAMES) >= 6, f"expected the annotated real frames under {REAL}"


@pytest.mark.parametrize("folder", FRAMES, ids=lambda path: path.name)
def test_polygons_rasterise_to_exactly_the_committed_labels(folder: Path):
    committed = cv2.imread(str(folder / "labels.png"), cv2.IMREAD_UNCHANGED)
    assert committed is not None and committed.dtype == np.uint8 and committed.ndim == 2
    np.testing.assert_array_equal(rasterise_folder(folder), committed)


@pytest.mark.parametrize("folder", FRAMES, ids=lambda path: path.name)
def test_each_frame_is_complete_and_consistent(folder: Path):
    camera = json.loads((folder / "camera.json").read_text())
    size = (camera["height"], camera["width"])
    colour = next(folder.glob("rgb.*"))
    assert cv2.imread(str(colour)).shape[:2] == size
    depth = cv2.imread(str(folder / "depth.png"), cv2.IMREAD_UNCHANGED)
    assert depth.dtype == np.uint16 and depth.shape == size
    assert np.count_nonzero(depth) > 0.5 * depth.size, "depth must be millimetres, mostly valid"
    labels = cv2.imread(str(folder / "labels.png"), cv2.IMREAD_UNCHANGED)
    ids = set(np.unique(labels).tolist()) - {255}
    assert ids and ids <= set(range(len(CLASS_NAMES)))
    assert np.count_nonzero(labels != 255) > 0.2 * labels.size, "too little annotated"


@pytest.mark.parametrize("folder", FRAMES, ids=lambda path: path.name)
def test_each_frame_states_its_provenance(folder: Path):
    text = (folder / "PROVENANCE.md").read_text()
    for field in ("Source:", "Licence:", "Camera:", "Annotated:"):
        assert field in text, f"{folder.name}/PROVENANCE.md lacks a {field!r} line"
    assert "annotated by hand by an sgnet_ros engineer from the colour image, 2026-11-30" in text


def test_regions_paint_in_order_and_edges_become_unlabeled():
    spec = {
        "boundary_px": 1,
        "regions": [
            {"class": 0, "points": [[0, 0], [11, 0], [11, 11], [0, 11]]},
            {"class": 1, "points": [[4, 4], [7, 4], [7, 7], [4, 7]]},
            {"class": 255, "points": [[0, 0], [1, 0], [1, 1], [0, 1]]},
        ],
    }
    labels = rasterise(spec, (12, 12))
    expected = np.zeros((12, 12), np.uint8)
    expected[4:8, 4:8] = 1
    expected[0:2, 0:2] = 255
    # every pixel within one pixel (8-neighbourhood) of a differently labelled pixel
    edges = np.zeros_like(expected, bool)
    for y in range(12):
        for x in range(12):
            window = expected[max(y - 1, 0):y + 2, max(x - 1, 0):x + 2]
            edges[y, x] = window.min() != window.max()
    expected[edges] = 255
    np.testing.assert_array_equal(labels, expected)


def independent_prediction(pipeline: SegmentationPipeline, folder: Path) -> np.ndarray:
    camera = json.loads((folder / "camera.json").read_text())
    K = np.array([[camera["fx"], 0, camera["cx"]], [0, camera["fy"], camera["cy"]], [0, 0, 1.0]])
    rgb = cv2.cvtColor(cv2.imread(str(next(folder.glob("rgb.*")))), cv2.COLOR_BGR2RGB)
    depth_m = cv2.imread(str(folder / "depth.png"), cv2.IMREAD_UNCHANGED) / 1000.0
    pipeline.reset()
    return pipeline.process(rgb, depth_m.astype(np.float32), K).outputs.labels


def test_sgnet_eval_real_agrees_with_an_independent_count(default_model: Path, tmp_path: Path):
    scores_path, previews = tmp_path / "real.json", tmp_path / "previews"
    result = subprocess.run(
        [sys.executable, "-m", "sgnet_ros.training.evaluation", str(default_model),
         "--real", str(REAL), "--json", str(scores_path), "--real-previews", str(previews)],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr
    scores = json.loads(scores_path.read_text())

    pipeline = SegmentationPipeline.from_model_path(default_model, PipelineConfig(device="cpu"))
    num_classes = pipeline.contract.num_classes
    intersection = np.zeros(num_classes, np.int64)
    annotated = np.zeros(num_classes, np.int64)
    predicted = np.zeros(num_classes, np.int64)
    for folder in FRAMES:
        labels = cv2.imread(str(folder / "labels.png"), cv2.IMREAD_UNCHANGED)
        prediction = independent_prediction(pipeline, folder)
        keep = labels != 255
        truth, guess = labels[keep].astype(int), prediction[keep].astype(int)
        correct = truth == guess
        frame = scores["per_frame"][folder.name]
        assert frame["annotated_pixels"] == keep.sum()
        assert frame["pixel_accuracy"] == pytest.approx(correct.mean(), abs=1e-12)
        intersection += np.bincount(truth[correct], minlength=num_classes)[:num_classes]
        annotated += np.bincount(truth, minlength=num_classes)[:num_classes]
        predicted += np.bincount(guess[guess < num_classes], minlength=num_classes)[:num_classes]
        preview = cv2.imread(str(previews / f"{folder.name}.png"))
        assert preview.shape[:2] == (labels.shape[0], 3 * labels.shape[1])

    trained = [int(c) for c in pipeline.contract.extra["trained_classes"]]
    in_mean = [c for c in trained if annotated[c] > 0]
    assert scores["classes_in_mean"] == in_mean
    with np.errstate(invalid="ignore"):  # classes neither annotated nor predicted: 0 / 0
        iou = intersection / (annotated + predicted - intersection)
    for c in np.nonzero(annotated)[0]:
        assert scores["iou"][CLASS_NAMES[c]] == pytest.approx(iou[c], abs=1e-12), CLASS_NAMES[c]
    assert scores["miou"] == pytest.approx(iou[in_mean].mean(), abs=1e-12)
    assert scores["pixel_accuracy"] == pytest.approx(intersection.sum() / annotated.sum())
    assert "mIoU" in result.stdout and "tum_desk" in result.stdout


def test_sgnet_eval_real_refuses_ray_instead_of_misreading_the_folder(default_model: Path):
    from sgnet_ros.fleet import datasets

    with pytest.raises(SystemExit, match="--real runs its few frames in one process"):
        datasets.eval_main([str(default_model), "--real", str(REAL), "--ray"])
