"""sgnet-hha: files and folders in, HHA PNGs out, identical to the node's encoder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import yaml

from sgnet_ros.pipeline.spatial.encoding import SpatialEncoder, depth_to_metres
from sgnet_ros.training.hha_cli import main

DATA = Path(__file__).resolve().parent / "data" / "hha" / "nyu_img5001"
FX, FY = 518.85790117450188, 519.46961112127485
CX, CY = 325.58244941119034, 253.73616633400465  # 1-based, as NYUDv2 publishes them
CAMERA_FLAGS = ["--fx", str(FX), "--fy", str(FY), "--cx", str(CX), "--cy", str(CY)]
ZERO_BASED_K = np.array([[FX, 0.0, CX - 1.0], [0.0, FY, CY - 1.0], [0.0, 0.0, 1.0]])


def read_hha_png(path: Path) -> torch.Tensor:
    """(3, H, W) in HHA order from a PNG whose R, G, B are disparity, height, angle."""
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert image is not None and image.dtype == np.uint8 and image.shape[2] == 3
    return torch.from_numpy(image[:, :, ::-1].copy()).permute(2, 0, 1)


@pytest.fixture(scope="module")
def small_frames(tmp_path_factory) -> Path:
    """Two 120x160 crops of the NYUDv2 frame (filled and raw, millimetres)."""
    folder = tmp_path_factory.mktemp("frames")
    filled = cv2.imread(str(DATA / "depth_filled_mm.png"), cv2.IMREAD_UNCHANGED)
    raw = cv2.imread(str(DATA / "depth_raw_mm.png"), cv2.IMREAD_UNCHANGED)
    for name, (top, left) in {"a": (0, 0), "b": (200, 300)}.items():
        (folder / "depth").mkdir(exist_ok=True)
        (folder / "raw").mkdir(exist_ok=True)
        cv2.imwrite(
            str(folder / "depth" / f"{name}.png"), filled[top : top + 120, left : left + 160]
        )
        cv2.imwrite(str(folder / "raw" / f"{name}.png"), raw[top : top + 120, left : left + 160])
    return folder


def node_encoding(depth_png: Path, raw_png: Path | None = None) -> torch.Tensor:
    """What the node's encoder gives for the same millimetre image."""
    depth = depth_to_metres(cv2.imread(str(depth_png), cv2.IMREAD_UNCHANGED), 0.001)
    missing = None
    if raw_png is not None:
        missing = torch.from_numpy(cv2.imread(str(raw_png), cv2.IMREAD_UNCHANGED) == 0)
    encoded = SpatialEncoder("hha").encode(depth, ZERO_BASED_K, missing=missing)
    return encoded.to(torch.uint8)


def test_one_file_matches_the_node_encoder_and_the_reference(tmp_path):
    output = tmp_path / "hha.png"
    argv = [str(DATA / "depth_filled_mm.png"), str(output), "--raw", str(DATA / "depth_raw_mm.png")]
    assert main([*argv, *CAMERA_FLAGS, "--one-based-pixels", "--device", "cpu"]) == 0
    written = read_hha_png(output)
    expected = node_encoding(DATA / "depth_filled_mm.png", DATA / "depth_raw_mm.png")
    assert torch.equal(written, expected)
    reference = read_hha_png(DATA / "hha_reference_matlab.png")
    assert torch.equal(written[0], reference[0])  # and it is still the reference HHA
    assert ((written.int() - reference.int()).abs() <= 1).double().mean() > 0.99


def test_folder_in_folder_out(small_frames, tmp_path):
    output = tmp_path / "hha"
    argv = [str(small_frames / "depth"), str(output), "--raw", str(small_frames / "raw")]
    assert main([*argv, *CAMERA_FLAGS, "--one-based-pixels"]) == 0
    assert sorted(path.name for path in output.iterdir()) == ["a.png", "b.png"]
    for name in ("a", "b"):
        expected = node_encoding(
            small_frames / "depth" / f"{name}.png", small_frames / "raw" / f"{name}.png"
        )
        assert torch.equal(read_hha_png(output / f"{name}.png"), expected)


@pytest.mark.parametrize("layout", ["calibration", "message"])
def test_camera_info_yaml(small_frames, tmp_path, layout):
    matrix = [FX, 0.0, CX - 1.0, 0.0, FY, CY - 1.0, 0.0, 0.0, 1.0]
    if layout == "calibration":
        content = {"image_width": 160, "camera_matrix": {"rows": 3, "cols": 3, "data": matrix}}
    else:
        content = {"header": {"frame_id": "camera"}, "k": matrix}
    info = tmp_path / "camera_info.yaml"
    info.write_text(yaml.safe_dump(content))
    depth_png = small_frames / "depth" / "a.png"
    assert main([str(depth_png), str(tmp_path / "a.png"), "--camera-info", str(info)]) == 0
    assert torch.equal(read_hha_png(tmp_path / "a.png"), node_encoding(depth_png))


def test_float_metres_npy(small_frames, tmp_path):
    depth_png = small_frames / "depth" / "a.png"
    metres = cv2.imread(str(depth_png), cv2.IMREAD_UNCHANGED).astype(np.float32) / 1000
    np.save(tmp_path / "a.npy", metres)
    assert main([str(tmp_path / "a.npy"), str(tmp_path / "a.png"), *CAMERA_FLAGS]) == 0
    K = np.array([[FX, 0.0, CX], [0.0, FY, CY], [0.0, 0.0, 1.0]])
    expected = SpatialEncoder("hha").encode(torch.from_numpy(metres), K).to(torch.uint8)
    assert torch.equal(read_hha_png(tmp_path / "a.png"), expected)


def test_hha_options_reach_the_encoder(small_frames, tmp_path):
    depth_png = small_frames / "depth" / "a.png"
    argv = [str(depth_png), str(tmp_path / "a.png"), *CAMERA_FLAGS, "--disparity-scale", "100"]
    assert main(argv) == 0
    assert read_hha_png(tmp_path / "a.png")[0].max() <= 100


@pytest.mark.parametrize(
    "extra, message",
    [
        ([], "camera matrix is needed"),
        ([*CAMERA_FLAGS, "--hole-policy", "blur"], "hole_policy"),
        ([*CAMERA_FLAGS, "--depth-scale", "0"], "depth_scale"),
    ],
)
def test_bad_arguments_exit_with_a_message(small_frames, tmp_path, capsys, extra, message):
    depth_png = small_frames / "depth" / "a.png"
    with pytest.raises(SystemExit) as exit_info:
        main([str(depth_png), str(tmp_path / "out.png"), *extra])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_runs_as_a_module():
    result = subprocess.run(
        [sys.executable, "-m", "sgnet_ros.training.hha_cli", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "R = disparity" in result.stdout
