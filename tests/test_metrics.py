"""Metrics: hand-computed values, scikit-image agreement, dtype/batch invariance, the Evaluator."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from ssrzoo.metrics import METRICS, Evaluator, bp_mrae, mrae, psnr, rmse, sam, ssim
from ssrzoo.spectral import get_response

# (C=2, H=1, W=2): four values with easy relative errors 0.1, 0.2, 0.5, 0.5
PRED = torch.tensor([[[1.1, 2.0]], [[0.5, 3.0]]], dtype=torch.float64)
TARGET = torch.tensor([[[1.0, 2.5]], [[1.0, 2.0]]], dtype=torch.float64)


def test_mrae_rmse_psnr_on_hand_computed_values():
    assert mrae(PRED, TARGET).item() == pytest.approx((0.1 + 0.2 + 0.5 + 0.5) / 4, abs=1e-15)
    mse = (0.1**2 + 0.5**2 + 0.5**2 + 1.0**2) / 4
    assert rmse(PRED, TARGET).item() == pytest.approx(math.sqrt(mse), abs=1e-15)
    assert psnr(PRED, TARGET).item() == pytest.approx(10 * math.log10(1 / mse), abs=1e-12)
    assert psnr(PRED, TARGET, data_range=255).item() == pytest.approx(
        10 * math.log10(255**2 / mse), abs=1e-12
    )
    assert psnr(TARGET, TARGET).item() == math.inf


def test_mrae_epsilon_policy_floor_and_mask():
    target = torch.tensor([[[0.0, 2.0]]], dtype=torch.float64)
    pred = torch.tensor([[[0.5, 1.0]]], dtype=torch.float64)
    # floor: 0.5 / 1e-6 and 1.0 / 2.0
    assert mrae(pred, target).item() == pytest.approx((0.5 / 1e-6 + 0.5) / 2)
    assert mrae(pred, target, eps=0.1).item() == pytest.approx((0.5 / 0.1 + 0.5) / 2)
    # mask: the zero target is left out
    assert mrae(pred, target, mask=True).item() == pytest.approx(0.5)
    # above eps the floor changes nothing: identical to the NTIRE |p - t| / t
    assert mrae(PRED, TARGET, eps=0.5).item() == mrae(PRED, TARGET, eps=0.0).item()
    with pytest.raises(ValueError, match="no target value with"):
        mrae(pred[..., :1], target[..., :1], mask=True)


def test_sam_hand_computed_angles_and_zero_norm_guard():
    # pixel 0: orthogonal (90); pixel 1: 45; pixel 2: parallel but scaled (0)
    pred = torch.tensor([[[1.0, 1.0, 3.0]], [[0.0, 1.0, 6.0]]], dtype=torch.float64)
    target = torch.tensor([[[0.0, 1.0, 1.0]], [[1.0, 0.0, 2.0]]], dtype=torch.float64)
    assert sam(pred, target, reduction="none").item() == pytest.approx((90 + 45 + 0) / 3)
    # zero spectra: zero vs non-zero is 90, zero vs zero is 0 (never NaN)
    zp = torch.tensor([[[0.0, 0.0]], [[0.0, 0.0]]], dtype=torch.float64)
    zt = torch.tensor([[[1.0, 0.0]], [[0.0, 0.0]]], dtype=torch.float64)
    assert sam(zp, zt).item() == pytest.approx(45.0)
    # tiny angles are resolved, where arccos(cos) would return exactly 0
    tiny = torch.tensor([[[1.0]], [[1e-9]]], dtype=torch.float64)
    ref = torch.tensor([[[1.0]], [[0.0]]], dtype=torch.float64)
    assert sam(tiny, ref).item() == pytest.approx(math.degrees(1e-9), rel=1e-6)


def test_ssim_hand_computed_for_constant_images():
    a, b = 0.3, 0.6
    p = torch.full((2, 16, 16), a, dtype=torch.float64)
    t = torch.full((2, 16, 16), b, dtype=torch.float64)
    c1 = 0.01**2
    assert ssim(p, t).item() == pytest.approx((2 * a * b + c1) / (a * a + b * b + c1), abs=1e-12)
    assert ssim(t, t).item() == pytest.approx(1.0, abs=1e-12)


def _pair(seed: int, shape=(3, 8, 24, 27)):
    g = torch.Generator().manual_seed(seed)
    target = torch.rand(shape, generator=g) * 0.9 + 0.05
    pred = (target + 0.05 * torch.randn(shape, generator=g)).clamp(0, 1)
    return pred, target


def test_psnr_and_ssim_agree_with_scikit_image():
    pred, target = _pair(0)
    p64, t64 = pred.double().numpy(), target.double().numpy()
    ours_psnr = psnr(pred, target, reduction="none").numpy()
    ours_ssim = ssim(pred, target, reduction="none").numpy()
    for i in range(pred.shape[0]):
        ref_psnr = peak_signal_noise_ratio(t64[i], p64[i], data_range=1.0)
        ref_ssim = structural_similarity(
            t64[i],
            p64[i],
            channel_axis=0,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
            data_range=1.0,
        )
        assert ours_psnr[i] == pytest.approx(ref_psnr, abs=1e-10)
        assert ours_ssim[i] == pytest.approx(ref_ssim, abs=1e-10)
    ref_255 = structural_similarity(
        t64[0] * 255,
        p64[0] * 255,
        channel_axis=0,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        data_range=255.0,
    )
    assert ssim(
        pred[0].double() * 255, target[0].double() * 255, data_range=255
    ).item() == pytest.approx(ref_255, abs=1e-10)


@pytest.mark.parametrize("name", ["mrae", "rmse", "psnr", "sam", "ssim"])
def test_float32_float64_numpy_and_batch_give_identical_numbers(name):
    fn = METRICS[name]
    pred, target = _pair(1)
    v32 = fn(pred, target).item()
    v64 = fn(pred.double(), target.double()).item()
    vnp = fn(pred.numpy(), target.numpy()).item()
    assert v32 == v64 == vnp  # bit-identical: everything is computed in float64
    per_image = [fn(pred[i], target[i]).item() for i in range(pred.shape[0])]
    assert fn(pred, target, reduction="none").tolist() == per_image
    assert v64 == pytest.approx(sum(per_image) / len(per_image), rel=1e-15)


def test_border_crop_equals_scoring_the_cropped_tensors():
    pred, target = _pair(2, (2, 4, 40, 44))
    for fn in (mrae, rmse, psnr, sam, ssim):
        assert (
            fn(pred, target, crop=7).item()
            == fn(pred[..., 7:-7, 7:-7], target[..., 7:-7, 7:-7]).item()
        )
    with pytest.raises(ValueError, match="removes the whole 40x44 image"):
        rmse(pred, target, crop=20)


def test_shape_errors_never_broadcast():
    pred, target = _pair(3, (2, 4, 12, 12))
    with pytest.raises(ValueError, match=r"differs from target shape"):
        mrae(pred, target[:, :3])
    with pytest.raises(ValueError, match=r"differs from target shape"):
        rmse(pred, target[:1])  # would broadcast silently in plain torch
    with pytest.raises(ValueError, match=r"\(C, H, W\) or \(B, C, H, W\)"):
        psnr(pred[0, 0], target[0, 0])
    with pytest.raises(ValueError, match="at least 11x11"):
        ssim(pred[..., :8, :8], target[..., :8, :8])
    with pytest.raises(ValueError, match="reduction must be"):
        sam(pred, target, reduction="sum")


def test_bp_mrae_with_a_matrix_on_hand_computed_values():
    m = torch.tensor([[1.0, 1.0, 0.0], [0.0, 1.0, 2.0]], dtype=torch.float64)  # (K=2, C=3)
    target = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64).view(3, 1, 1)
    pred = torch.tensor([1.0, 2.0, 2.0], dtype=torch.float64).view(3, 1, 1)
    # M @ target = (3, 8), M @ pred = (3, 6): relative errors 0 and 0.25
    assert bp_mrae(pred, target, m).item() == pytest.approx(0.125)
    rgb = torch.tensor([3.0, 8.0], dtype=torch.float64).view(2, 1, 1)
    assert bp_mrae(pred, rgb, m).item() == pytest.approx(0.125)  # against the input RGB
    with pytest.raises(ValueError, match="neither the cube shape"):
        bp_mrae(pred, torch.ones(4, 1, 1), m)
    with pytest.raises(ValueError, match=r"expected \(channels, 3\)"):
        bp_mrae(pred, target, m.T)


def test_bp_mrae_with_a_registry_response_needs_the_wavelengths():
    wl = np.arange(400.0, 701.0, 10.0)
    pred, target = _pair(4, (2, 31, 6, 6))
    resp = get_response("cie1964_10deg")
    expected = mrae(
        torch.einsum("kc,bchw->bkhw", torch.from_numpy(resp.matrix(wl)), pred.double()),
        torch.einsum("kc,bchw->bkhw", torch.from_numpy(resp.matrix(wl)), target.double()),
    )
    assert bp_mrae(pred, target, resp, wavelengths=wl).item() == expected.item()
    with pytest.raises(ValueError, match="pass wavelengths="):
        bp_mrae(pred, target, resp)


def test_evaluator_rows_summary_and_table():
    pred, target = _pair(5, (3, 6, 16, 16))
    m = np.random.default_rng(0).random((3, 6))
    ev = Evaluator(response=m)
    assert ev.metrics == ("mrae", "rmse", "psnr", "sam", "ssim", "bp_mrae")
    rows = ev.update(pred[:2], target[:2], names=["a", "b"])
    ev.update(pred[2], target[2], names="c")
    assert [r["name"] for r in ev.results] == ["a", "b", "c"] and len(ev) == 3
    assert rows[1]["psnr"] == psnr(pred[1], target[1]).item()
    summary = ev.summary()
    for name in ev.metrics:
        direct = bp_mrae(pred, target, m) if name == "bp_mrae" else METRICS[name](pred, target)
        assert summary[name] == pytest.approx(direct.item(), rel=1e-14)
    table = ev.table()
    lines = table.splitlines()
    assert lines[0].startswith("| image | MRAE ↓") and "PSNR ↑" in lines[0]
    assert len(lines) == 2 + 3 + 1 and lines[-1].startswith("| **mean (3)**")
    assert f"{summary['sam']:.4f}" in lines[-1]
    ev.reset()
    with pytest.raises(ValueError, match="no images evaluated"):
        ev.summary()
    with pytest.raises(ValueError, match="unknown metric"):
        Evaluator(metrics=("mrae", "lpips"))
    with pytest.raises(ValueError, match="needs a response"):
        Evaluator(metrics=("bp_mrae",))


def test_evaluator_crop_and_input_rgb_for_back_projection():
    pred, target = _pair(6, (2, 5, 30, 30))
    m = np.random.default_rng(1).random((3, 5))
    rgb = torch.einsum("kc,bchw->bkhw", torch.from_numpy(m), target.double())
    ev = Evaluator(metrics=("rmse",), crop=4, response=m)
    rows = ev.update(pred, target, rgb=rgb)
    assert rows[0]["rmse"] == rmse(pred[0], target[0], crop=4).item()
    assert rows[1]["bp_mrae"] == pytest.approx(bp_mrae(pred[1], target[1], m, crop=4).item())
