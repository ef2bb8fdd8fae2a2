"""HHA against the original MATLAB code's output on real NYUDv2 frames (test/data/hha)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from torch.nn import functional

from sgnet_ros.pipeline.spatial.hha import (
    HHAOptions,
    compute_hha,
    encode_hha,
    smallest_eigenvector,
)

DATA = Path(__file__).resolve().parent / "data" / "hha"
# NYUDv2 colour camera, 1-based pixel coordinates as in the MATLAB code.
NYU_K = np.array(
    [
        [518.85790117450188, 0.0, 325.58244941119034],
        [0.0, 519.46961112127485, 253.73616633400465],
        [0.0, 0.0, 1.0],
    ]
)


def read_png(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert image is not None, f"missing test data {path}"
    return image


def read_reference_hha(path: Path) -> torch.Tensor:
    """(3, H, W) uint8 in HHA order (the PNG stores R = disparity; OpenCV reads BGR)."""
    return torch.from_numpy(read_png(path)[:, :, ::-1].copy()).permute(2, 0, 1)


def frame(name: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(depth in metres as MATLAB computes it, missing mask, MATLAB HHA)."""
    if name == "nyu_demo":
        depth = read_png(DATA / name / "depth_filled_0.1mm.png") / 10000.0
        missing = np.zeros(depth.shape, dtype=bool)  # the reference used depth as raw depth
        reference = read_reference_hha(DATA / name / "hha_reference_matlab_filled.png")
    else:
        depth = read_png(DATA / name / "depth_filled_mm.png") / 1000.0
        missing = read_png(DATA / name / "depth_raw_mm.png") == 0
        reference = read_reference_hha(DATA / name / "hha_reference_matlab.png")
    return torch.from_numpy(depth), torch.from_numpy(missing), reference


def pixels_in_window(mask: torch.Tensor, radius: int) -> torch.Tensor:
    kernel = torch.ones(1, 1, 2 * radius + 1, 2 * radius + 1, dtype=torch.float64)
    return functional.conv2d(mask.double()[None, None], kernel, padding=radius)[0, 0]


@pytest.fixture(scope="module", params=["nyu_demo", "nyu_img5001"])
def matlab_case(request):
    depth, missing, reference = frame(request.param)
    ours = compute_hha(depth, missing, NYU_K, one_based_pixels=True)
    return request.param, missing, reference, ours


def test_disparity_is_bit_exact(matlab_case):
    _, _, reference, ours = matlab_case
    assert torch.equal(ours[0], reference[0])


def test_height_and_angle_within_one_grey_level(matlab_case):
    name, missing, reference, ours = matlab_case
    valid = ~missing
    difference = (ours.int() - reference.int()).abs()
    for channel in (1, 2):
        close = (difference[channel] <= 1)[valid].double().mean().item()
        exact = (difference[channel] == 0)[valid].double().mean().item()
        assert close >= 0.98, f"{name} channel {channel}: only {close:.4f} within 1"
        assert exact >= 0.99, f"{name} channel {channel}: only {exact:.4f} exact"
    # Larger differences only where the 7x7 normal window is nearly empty.
    sparse = pixels_in_window(valid, 3) < 8
    assert not (difference[1] > 1).any()
    assert not ((difference[2] > 1) & ~sparse).any()


def test_demo_frame_matches_exactly():
    """Without missing pixels every window is full, so nothing excuses a difference."""
    depth, missing, reference = frame("nyu_demo")
    assert torch.equal(compute_hha(depth, missing, NYU_K, one_based_pixels=True), reference)


def test_zero_based_camera_matrix_is_the_same_camera():
    depth, missing, _ = frame("nyu_img5001")
    shifted = NYU_K.copy()
    shifted[:2, 2] -= 1.0
    one_based = compute_hha(depth, missing, NYU_K, one_based_pixels=True)
    assert torch.equal(compute_hha(depth, missing, shifted), one_based)


def test_disparity_rounds_half_away_from_zero():
    # 124 m -> 12400 cm -> 31000 / 12400 = 2.5 exactly: MATLAB's uint8 gives 3, not 2.
    depth = torch.full((16, 16), 124.0, dtype=torch.float64)
    assert (compute_hha(depth, None, NYU_K)[0] == 3).all()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_gives_the_same_uint8_as_cpu():
    depth, missing, _ = frame("nyu_img5001")
    for options in (HHAOptions(), HHAOptions(hole_policy="fill", floor_percentile=2.0)):
        cpu = compute_hha(depth, missing, NYU_K, one_based_pixels=True, options=options)
        cuda = compute_hha(
            depth.cuda(), missing.cuda(), NYU_K, one_based_pixels=True, options=options
        )
        assert cuda.device.type == "cuda"
        assert torch.equal(cuda.cpu(), cpu)


@pytest.mark.parametrize(
    "options",
    [
        HHAOptions(),
        HHAOptions(hole_policy="fill", floor_percentile=5.0, gravity_smoothing=0.5),
        HHAOptions(hole_policy="zero", gravity_source="fixed", height_mode="camera_height"),
    ],
)
def test_no_host_round_trip(options):
    """Meta tensors hold no data: any .item(), .cpu() or data-dependent branch would raise."""
    depth = torch.empty((48, 64), device="meta")
    previous = torch.empty(3, dtype=torch.float64, device="meta")
    result = encode_hha(depth, None, NYU_K, options=options, previous_gravity=previous)
    assert result.hha.shape == (3, 48, 64)
    assert result.hha.dtype == torch.uint8


def test_closed_form_eigenvector_matches_eigh():
    generator = torch.Generator().manual_seed(0)
    for _ in range(200):
        a = torch.randn(3, 3, dtype=torch.float64, generator=generator)
        matrix = a + a.T
        vector, defined = smallest_eigenvector(matrix)
        values, vectors = torch.linalg.eigh(matrix)
        assert bool(defined)
        assert abs(abs(float(vector @ vectors[:, 0])) - 1.0) < 1e-9
        assert torch.allclose(matrix @ vector, values[0] * vector, atol=1e-9)


def test_eigenvector_of_zero_matrix_is_undefined():
    _, defined = smallest_eigenvector(torch.zeros(3, 3, dtype=torch.float64))
    assert not bool(defined)
