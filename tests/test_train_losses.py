"""Reconstruction loss terms and validation metrics against direct numpy formulas."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ssrzoo.train import ReconstructionLoss, reconstruction_metrics


def _data(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    g = torch.Generator().manual_seed(seed)
    target = torch.rand(2, 6, 5, 4, generator=g, dtype=torch.float64) + 0.05
    pred = target + 0.1 * torch.randn(2, 6, 5, 4, generator=g, dtype=torch.float64)
    response = np.random.default_rng(seed).uniform(0, 1, size=(3, 6))
    return pred, target, response


def _np_terms(p: np.ndarray, t: np.ndarray, m: np.ndarray, eps: float) -> dict[str, float]:
    mrae = np.mean(np.abs(p - t) / np.maximum(np.abs(t), eps))
    l1 = np.mean(np.abs(p - t))
    # spectral angle per pixel, radians, along the band axis
    dot = np.sum(p * t, axis=1)
    cos = dot / (np.linalg.norm(p, axis=1) * np.linalg.norm(t, axis=1))
    sam = np.mean(np.arccos(np.clip(cos, -1, 1)))
    rp = np.einsum("kc,bchw->bkhw", m, p)
    rt = np.einsum("kc,bchw->bkhw", m, t)
    bp = np.mean(np.abs(rp - rt) / np.maximum(np.abs(rt), eps))
    return {"mrae": mrae, "l1": l1, "sam": sam, "bp": bp}


def test_terms_and_weighted_sum_match_formulas() -> None:
    pred, target, response = _data()
    expected = _np_terms(pred.numpy(), target.numpy(), response, eps=1e-3)
    weights = {"mrae": 1.0, "l1": 0.5, "sam": 0.2, "bp": 0.3}
    loss_fn = ReconstructionLoss(**weights, response=torch.from_numpy(response), eps=1e-3)
    total, terms = loss_fn(pred.float(), target.float())
    for key, value in expected.items():
        assert float(terms[key]) == pytest.approx(value, rel=1e-4), key
    assert float(total) == pytest.approx(sum(weights[k] * expected[k] for k in weights), rel=1e-4)


def test_zero_weights_are_left_out_and_gradients_flow() -> None:
    pred, target, _ = _data(1)
    pred = pred.float().requires_grad_(True)
    total, terms = ReconstructionLoss(mrae=0.0, l1=1.0)(pred, target.float())
    assert set(terms) == {"l1"}
    total.backward()
    # d mean|p - t| / dp = sign(p - t) / N
    expected = torch.sign(pred.detach() - target.float()) / pred.numel()
    torch.testing.assert_close(pred.grad, expected)


def test_eps_floors_dark_targets() -> None:
    target = torch.zeros(1, 2, 2, 2)
    pred = torch.full((1, 2, 2, 2), 0.01)
    _, terms = ReconstructionLoss(eps=0.1)(pred, target)
    assert float(terms["mrae"]) == pytest.approx(0.1)


def test_bad_use_is_refused() -> None:
    with pytest.raises(ValueError, match="needs the camera response"):
        ReconstructionLoss(bp=1.0)
    with pytest.raises(ValueError, match="one > 0"):
        ReconstructionLoss(mrae=0.0)
    with pytest.raises(ValueError, match="differ"):
        ReconstructionLoss()(torch.rand(1, 3, 4, 4), torch.rand(1, 4, 4, 4))


def test_validation_metrics_are_per_image_sums() -> None:
    pred, target, response = _data(2)
    got = reconstruction_metrics(pred, target, torch.from_numpy(response))
    p, t = pred.numpy(), target.numpy()
    per_image = {"mrae": [], "rmse": [], "psnr": [], "sam": [], "bp_mrae": []}
    for i in range(p.shape[0]):
        a, b = p[i], t[i]
        per_image["mrae"].append(np.mean(np.abs(a - b) / np.abs(b)))
        mse = np.mean((a - b) ** 2)
        per_image["rmse"].append(np.sqrt(mse))
        per_image["psnr"].append(10 * np.log10(1.0 / mse))
        cos = np.sum(a * b, 0) / (np.linalg.norm(a, axis=0) * np.linalg.norm(b, axis=0))
        per_image["sam"].append(np.degrees(np.mean(np.arccos(np.clip(cos, -1, 1)))))
        ra, rb = np.einsum("kc,chw->khw", response, a), np.einsum("kc,chw->khw", response, b)
        per_image["bp_mrae"].append(np.mean(np.abs(ra - rb) / np.abs(rb)))
    assert set(got) == set(per_image)
    for key, values in per_image.items():
        assert got[key] == pytest.approx(float(np.sum(values)), rel=1e-6), key
    assert "bp_mrae" not in reconstruction_metrics(pred, target)
