"""The side-by-side tables and shipping plot of models/README.md, from real sgnet-eval output."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest

from sgnet_ros.pipeline import nyu40
from sgnet_ros.training import compare, evaluation
from sgnet_ros.training.train import main as train_main

REAL = Path(__file__).resolve().parent / "data" / "real"


@pytest.fixture(scope="module")
def results(default_model: Path, tmp_path_factory) -> dict[str, Path]:
    """sgnet-eval JSON of the default model (6 trained classes on the real frames) and of a
    tiny model trained on pooled styles (17 classes)."""
    root = tmp_path_factory.mktemp("compare")
    train_main(["--style", "basic", "realistic", "--train-seeds", "0:4", "--val-seeds",
                "1000000:1000002", "--size", "48x64", "--batch-size", "4", "--epochs", "1",
                "--cache", str(root / "cache"), "--out", str(root / "run")])
    paths = {}
    for name, model in (("default", default_model), ("tiny", root / "run" / "model.onnx")):
        paths[f"{name}_real"] = root / f"{name}_real.json"
        paths[f"{name}_basic"] = root / f"{name}_basic.json"
        evaluation.main([str(model), "--real", str(REAL), "--json", str(paths[f"{name}_real"])])
        evaluation.main([str(model), "--synthetic-seeds", "2000000:2000002", "--size",
                         "240x320", "--style", "basic", "--json", str(paths[f"{name}_basic"])])
    return paths


def test_the_table_compares_every_model_over_the_first_models_classes(results, capsys):
    assert compare.main(["table", f"default={results['default_real']}",
                         f"tiny={results['tiny_real']}"]) == 0
    table = capsys.readouterr().out.splitlines()
    default, tiny = (json.loads(results[k].read_text()) for k in ("default_real", "tiny_real"))
    assert len(default["classes_in_mean"]) == 6 and len(tiny["classes_in_mean"]) > 6
    common = next(line for line in table if line.startswith("| mIoU over default's 6 classes"))
    cells = [float(cell) for cell in common.strip("|").split("|")[1:]]
    names = [nyu40.CLASS_NAMES[class_id] for class_id in default["classes_in_mean"]]
    assert cells[0] == pytest.approx(default["miou"], abs=5e-4)
    assert cells[1] == pytest.approx(np.mean([tiny["iou"][n] for n in names]), abs=5e-4)
    # Header, one row per class either model was scored on, the two means, pixel accuracy.
    assert sum(line.startswith("| ") for line in table) == 1 + len(tiny["iou"]) + 3


def test_the_plot_is_written_and_mismatched_models_are_refused(results, tmp_path):
    out = tmp_path / "ship.png"
    assert compare.main(["plot", "--real", f"default={results['default_real']}",
                         f"tiny={results['tiny_real']}", "--synthetic",
                         f"default={results['default_basic']}", f"tiny={results['tiny_basic']}",
                         "--out", str(out)]) == 0
    assert matplotlib.image.imread(out).shape[:2] == (484, 704)
    with pytest.raises(SystemExit, match="same models in order"):
        compare.main(["plot", "--real", f"a={results['default_real']}", "--synthetic",
                      f"b={results['default_basic']}", "--out", str(out)])
