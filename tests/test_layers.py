"""Shared model helpers: the RGB input check, pad/crop, and the FLOPs counter."""

from __future__ import annotations

import re

import pytest
import torch
from torch import nn

from ssrzoo.models._cost import count_flops
from ssrzoo.models._layers import check_rgb_input, crop_to, pad_to_multiple


def test_check_rgb_input_accepts_float_images() -> None:
    for dtype in (torch.float16, torch.bfloat16, torch.float32, torch.float64):
        check_rgb_input(torch.rand(2, 3, 5, 7).to(dtype))
    check_rgb_input(torch.rand(1, 31, 4, 4), in_chans=31)
    check_rgb_input(torch.empty(1, 3, 4, 4, device="meta"))  # no values to check


@pytest.mark.parametrize(
    ("x", "error", "detail"),
    [
        (torch.rand(2, 4, 8, 8), ValueError, r"got shape \(2, 4, 8, 8\); pass 3 channels"),
        (torch.rand(3, 8, 8), ValueError, r"add a batch dimension"),
        (torch.rand(0, 3, 8, 8), ValueError, r"empty shape \(0, 3, 8, 8\)"),
        (torch.rand(1, 3, 0, 8), ValueError, r"empty shape"),
        (torch.tensor(float("nan")).expand(1, 3, 2, 2), ValueError, "NaN or inf"),
        (torch.tensor(float("-inf")).expand(1, 3, 2, 2), ValueError, "NaN or inf"),
        (torch.zeros(1, 3, 2, 2, dtype=torch.uint8), TypeError, "torch.uint8.*divide 8-bit"),
        (torch.zeros(1, 3, 2, 2, dtype=torch.int64), TypeError, "torch.int64"),
        ([[0.0]], TypeError, "got list; pass a torch.Tensor"),
    ],
)
def test_check_rgb_input_rejects(x, error: type[Exception], detail: str) -> None:
    with pytest.raises(error, match=r"expected \(B, 3, H, W\) float RGB input") as info:
        check_rgb_input(x)
    assert len(str(info.value).splitlines()) == 1
    assert re.search(detail, str(info.value))


def test_pad_to_multiple_and_crop_back() -> None:
    x = torch.arange(2 * 3 * 5 * 7, dtype=torch.float32).reshape(2, 3, 5, 7)
    padded, size = pad_to_multiple(x, 4)
    assert padded.shape == (2, 3, 8, 8) and size == (5, 7)
    torch.testing.assert_close(crop_to(padded, size), x)
    # Reflection: the first padded row mirrors row 3 about the last row (4).
    torch.testing.assert_close(padded[..., 5, :7], x[..., 3, :])
    padded, _ = pad_to_multiple(x, (1, 8))
    assert padded.shape == (2, 3, 5, 8)
    same, size = pad_to_multiple(x, 1)
    assert same is x and size == (5, 7)


def test_pad_falls_back_to_replicate_for_tiny_images() -> None:
    x = torch.rand(1, 3, 1, 2)
    padded, size = pad_to_multiple(x, 8)  # reflection needs pad < side
    assert padded.shape == (1, 3, 8, 8)
    torch.testing.assert_close(padded[..., 7, 7], x[..., 0, 1])
    torch.testing.assert_close(crop_to(padded, size), x)


def test_count_flops_counts_two_per_mac_on_meta_and_cpu() -> None:
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 5, 1))
    macs = 10 * 12 * (8 * 3 * 9 + 5 * 8)
    assert count_flops(model, (1, 3, 10, 12)) == 2 * macs
    assert count_flops(model, (1, 3, 10, 12), device="cpu") == 2 * macs
    assert count_flops(model, (2, 3, 10, 12)) == 4 * macs
    assert next(model.parameters()).device.type == "cpu"  # the model itself is untouched
    assert model.training
