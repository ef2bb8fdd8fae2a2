"""S-Conv against a plain hand-written reference, its Conv2d limit, and its gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sgnet_ros.network.sconv import SConv, deformable_conv2d


def output_size(size: int, stride: int, padding: int, dilation: int) -> int:
    """Output size of a 3x3 convolution."""
    return (size + 2 * padding - 2 * dilation - 1) // stride + 1


def bilinear_zero_outside(image: np.ndarray, y: float, x: float) -> np.ndarray:
    """(C,) value of a (C, H, W) image at (y, x); pixels outside the image count as zero."""
    channels, height, width = image.shape
    value = np.zeros(channels)
    y_low, x_low = int(np.floor(y)), int(np.floor(x))
    for row, row_weight in ((y_low, 1.0 - (y - y_low)), (y_low + 1, y - y_low)):
        for col, col_weight in ((x_low, 1.0 - (x - x_low)), (x_low + 1, x - x_low)):
            if 0 <= row < height and 0 <= col < width:
                value += row_weight * col_weight * image[:, row, col]
    return value


def reference_deformable_conv(x, offset, mask, weight, bias, stride, padding, dilation):
    """Modulated deformable convolution written as loops, in float64 numpy.

    Offset channel 2k is dy and 2k + 1 is dx of tap k = i * kernel + j (the official layout).
    """
    x, offset, weight = (
        np.asarray(torch.as_tensor(t).detach(), dtype=np.float64) for t in (x, offset, weight)
    )
    batch, _, _, _ = x.shape
    out_channels, _, kernel, _ = weight.shape
    out_height, out_width = offset.shape[-2:]
    output = np.zeros((batch, out_channels, out_height, out_width))
    for n in range(batch):
        for row in range(out_height):
            for col in range(out_width):
                total = np.zeros(out_channels)
                for i in range(kernel):
                    for j in range(kernel):
                        tap = i * kernel + j
                        y = row * stride - padding + i * dilation + offset[n, 2 * tap, row, col]
                        x_pos = (
                            col * stride - padding + j * dilation + offset[n, 2 * tap + 1, row, col]
                        )
                        sample = bilinear_zero_outside(x[n], y, x_pos)
                        if mask is not None:
                            sample = sample * float(mask[n, tap, row, col])
                        total += weight[:, :, i, j] @ sample
                output[n, :, row, col] = total + (0.0 if bias is None else np.asarray(bias))
    return output


def randomise(module: SConv, generator: torch.Generator, offset_scale: float) -> SConv:
    """Non-trivial S-Conv: large offsets (some leave the image) and non-unit BN statistics."""
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.copy_(
                torch.randn(parameter.shape, generator=generator, dtype=parameter.dtype) * 0.5
            )
        module.offset_generator.bias.mul_(offset_scale)
        for child in module.modules():
            if isinstance(child, torch.nn.BatchNorm2d):
                child.running_mean.normal_(0.0, 0.2, generator=generator)
                child.running_var.uniform_(0.5, 2.0, generator=generator)
    return module.eval()


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("dilation", [1, 2])
def test_deformable_conv_matches_loops(stride: int, dilation: int) -> None:
    generator = torch.Generator().manual_seed(stride * 10 + dilation)
    height, width, padding = 7, 9, dilation
    out_height = output_size(height, stride, padding, dilation)
    out_width = output_size(width, stride, padding, dilation)
    x = torch.randn(2, 3, height, width, generator=generator, dtype=torch.float64)
    # Fractional offsets up to +-6 px: many taps land between pixels or outside the image.
    offset = (
        torch.randn(2, 18, out_height, out_width, generator=generator, dtype=torch.float64) * 3.0
    )
    offset[0, :, 0, 0] = 0.5  # exactly half-way between pixels
    offset[1, 0, 0, 0] = -(height + 2.0)  # far above the image: the tap reads zero
    mask = torch.rand(2, 9, out_height, out_width, generator=generator, dtype=torch.float64)
    weight = torch.randn(4, 3, 3, 3, generator=generator, dtype=torch.float64)
    bias = torch.randn(4, generator=generator, dtype=torch.float64)
    actual = deformable_conv2d(x, offset, mask, weight, bias, stride, padding, dilation)
    expected = reference_deformable_conv(x, offset, mask, weight, bias, stride, padding, dilation)
    assert np.abs(actual.numpy() - expected).max() <= 1e-5


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("dilation", [1, 2])
@pytest.mark.parametrize("spatial_channels", [1, 3])
def test_sconv_matches_reference(stride: int, dilation: int, spatial_channels: int) -> None:
    generator = torch.Generator().manual_seed(100 * stride + 10 * dilation + spatial_channels)
    layer = SConv(
        3,
        4,
        stride=stride,
        padding=dilation,
        dilation=dilation,
        bias=True,
        spatial_channels=spatial_channels,
        projector_channels=5,
    ).double()
    randomise(layer, generator, offset_scale=4.0)
    x = torch.randn(1, 3, 8, 10, generator=generator, dtype=torch.float64)
    spatial = torch.randn(1, spatial_channels, 16, 20, generator=generator, dtype=torch.float64)
    with torch.no_grad():
        actual = layer(x, spatial)
        # Ordinary convolutions with torch; both deformable convolutions by hand.
        resized = F.interpolate(spatial, size=(8, 10), mode="bilinear", align_corners=True)
        projected = layer.spatial_projector(resized)
        offset = layer.offset_generator(projected)
    assert offset.abs().max() > 2.0, "offsets should be large enough to leave the image"
    guidance = reference_deformable_conv(
        projected, offset, None, layer.weight_generator1.weight, None, stride, dilation, dilation
    )
    with torch.no_grad():
        mask = torch.sigmoid(layer.weight_generator2(torch.from_numpy(guidance)))
    expected = reference_deformable_conv(
        x, offset, mask, layer.weight, layer.bias.detach(), stride, dilation, dilation
    )
    assert actual.shape == expected.shape
    assert np.abs(actual.numpy() - expected).max() <= 1e-5


@pytest.mark.parametrize(("stride", "dilation"), [(1, 1), (2, 1), (1, 2), (2, 2)])
def test_zero_offsets_and_unit_mask_is_conv2d(stride: int, dilation: int) -> None:
    generator = torch.Generator().manual_seed(7)
    x = torch.randn(2, 5, 11, 13, generator=generator, dtype=torch.float64)
    weight = torch.randn(6, 5, 3, 3, generator=generator, dtype=torch.float64)
    bias = torch.randn(6, generator=generator, dtype=torch.float64)
    expected = F.conv2d(x, weight, bias, stride=stride, padding=dilation, dilation=dilation)
    offset = torch.zeros(2, 18, *expected.shape[-2:], dtype=torch.float64)
    mask = torch.ones(2, 9, *expected.shape[-2:], dtype=torch.float64)
    actual = deformable_conv2d(x, offset, mask, weight, bias, stride, dilation, dilation)
    assert torch.allclose(actual, expected, atol=1e-5, rtol=0)


def test_deformable_conv_gradcheck() -> None:
    generator = torch.Generator().manual_seed(3)
    x = torch.randn(1, 2, 5, 6, generator=generator, dtype=torch.float64, requires_grad=True)
    # Offsets kept away from integers: bilinear sampling has kinks there.
    offset = (
        torch.randint(-2, 3, (1, 18, 5, 6), generator=generator).double()
        + 0.3
        + 0.4 * torch.rand(1, 18, 5, 6, generator=generator, dtype=torch.float64)
    )
    offset.requires_grad_(True)
    mask = torch.rand(1, 9, 5, 6, generator=generator, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(3, 2, 3, 3, generator=generator, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(3, generator=generator, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda *inputs: deformable_conv2d(*inputs, stride=1, padding=1, dilation=1),
        (x, offset, mask, weight, bias),
    )


def test_sconv_gradients_reach_offset_and_mask_generators() -> None:
    generator = torch.Generator().manual_seed(5)
    layer = SConv(2, 3, stride=1, padding=1, spatial_channels=1, projector_channels=4).double()
    randomise(layer, generator, offset_scale=1.0)
    x = torch.randn(1, 2, 5, 6, generator=generator, dtype=torch.float64, requires_grad=True)
    spatial = torch.randn(1, 1, 5, 6, generator=generator, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(layer, (x, spatial))
    layer.train()
    layer(x, spatial).square().sum().backward()
    for parameter in (
        layer.offset_generator.weight,
        layer.weight_generator1.weight,
        layer.weight_generator2.weight,
        layer.spatial_projector[0].weight,
    ):
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0


def test_fresh_sconv_starts_as_masked_conv() -> None:
    """Offsets start at zero (official init), so only the mask separates it from Conv2d."""
    layer = SConv(3, 4, spatial_channels=3, projector_channels=4).double().eval()
    with torch.no_grad():
        layer.weight_generator2.bias.fill_(60.0)  # sigmoid saturates: mask of ones
        layer.weight_generator2.weight.zero_()
        x = torch.randn(1, 3, 9, 7, dtype=torch.float64)
        spatial = torch.randn(1, 3, 9, 7, dtype=torch.float64)
        expected = F.conv2d(x, layer.weight, layer.bias, padding=1)
        assert torch.allclose(layer(x, spatial), expected, atol=1e-5, rtol=0)


def test_sconv_rejects_wrong_spatial_channels() -> None:
    with pytest.raises(ValueError, match="spatial_channels"):
        SConv(3, 4, spatial_channels=2)
    layer = SConv(3, 4, spatial_channels=1)
    with pytest.raises(ValueError, match="1-channel"):
        layer(torch.randn(1, 3, 8, 8), torch.randn(1, 3, 8, 8))
