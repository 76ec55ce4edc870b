"""project_rgb_consistent: the nearest non-negative spectrum that reproduces the RGB."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.optimize import minimize

from ssrzoo.spectral import get_response, project_rgb_consistent

WL = np.arange(400, 701, 10, dtype=np.float64)
M = get_response("cie1964_10deg").matrix(WL)
M = M / M.sum(axis=1, keepdims=True)  # white -> (1, 1, 1), as the NTIRE2020 weights' gain


def scene(seed: int = 0, shape: tuple[int, int] = (6, 7)) -> tuple[np.ndarray, np.ndarray]:
    """Smooth non-negative spectra ``(31, H, W)`` and a noisy reconstruction with negatives."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(400, 700, size=(3, *shape))
    bumps = np.exp(-(((WL[:, None, None, None] - centres) / 60.0) ** 2))
    truth = np.einsum("jhw,cjhw->chw", rng.uniform(0, 1, size=(3, *shape)), bumps)
    guess = truth + rng.normal(0, 0.3, size=truth.shape)
    return truth, guess


def render(cube: np.ndarray) -> np.ndarray:
    return np.einsum("kc,chw->khw", M, cube)


def test_result_is_nonnegative_reproduces_the_rgb_and_is_the_nearest_such_spectrum() -> None:
    truth, guess = scene()
    rgb = render(truth)
    assert (guess < 0).any()
    out = project_rgb_consistent(guess, rgb, M)
    assert out.shape == guess.shape and out.dtype == np.float64
    assert out.min() >= 0
    # within tol = 1e-9 of each pixel's brightest channel, the documented criterion
    assert np.all(np.abs(render(out) - rgb).max(axis=0) <= 1e-9 * rgb.max(axis=0))
    # The truth is non-negative and consistent, so the projection is at least as close.
    assert np.all(np.linalg.norm(out - guess, axis=0) <= np.linalg.norm(truth - guess, axis=0))
    # The same quadratic programme solved by a general-purpose solver, on a few pixels.
    for y, x in [(0, 0), (2, 5), (5, 3)]:
        s, b = guess[:, y, x], rgb[:, y, x]
        ref = minimize(
            lambda v, s=s: 0.5 * np.sum((v - s) ** 2),
            np.clip(s, 0, None),
            jac=lambda v, s=s: v - s,
            method="SLSQP",
            bounds=[(0, None)] * len(s),
            constraints={"type": "eq", "fun": lambda v, b=b: M @ v - b, "jac": lambda v: M},
            options={"ftol": 1e-14, "maxiter": 500},
        )
        np.testing.assert_allclose(out[:, y, x], ref.x, atol=1e-5)


def test_without_nonnegativity_it_is_the_minimum_norm_correction() -> None:
    truth, guess = scene(1)
    rgb = render(truth)
    out = project_rgb_consistent(guess, rgb, M, nonnegative=False)
    correction = M.T @ np.linalg.solve(M @ M.T, (rgb - render(guess)).reshape(3, -1))
    np.testing.assert_allclose(out, guess + correction.reshape(guess.shape), atol=1e-12)
    assert out.min() < 0


def test_masked_and_unreachable_pixels_are_only_clamped() -> None:
    truth, guess = scene(2)
    rgb = render(truth)
    rgb[:, 0, 0] = (0.5, -0.1, 0.5)  # no non-negative spectrum gives a negative channel
    mask = np.ones(rgb.shape[1:], dtype=bool)
    mask[1, :] = False
    out = project_rgb_consistent(guess, rgb, M, mask=mask)
    np.testing.assert_array_equal(out[:, 1], np.maximum(guess[:, 1], 0))
    np.testing.assert_array_equal(out[:, 0, 0], np.maximum(guess[:, 0, 0], 0))
    rest = mask.copy()
    rest[0, 0] = False
    np.testing.assert_allclose(render(out)[:, rest], rgb[:, rest], rtol=1e-6)


def test_tensors_and_batches_keep_their_kind() -> None:
    truths, guesses = zip(*(scene(seed) for seed in (3, 4)), strict=True)
    guess = torch.from_numpy(np.stack(guesses)).float()
    rgb = torch.from_numpy(np.stack([render(t) for t in truths])).float()
    out = project_rgb_consistent(guess, rgb, torch.from_numpy(M), mask=torch.ones(6, 7) > 0)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32
    assert out.shape == guess.shape and out.min() >= 0
    back = torch.einsum("kc,bchw->bkhw", torch.from_numpy(M).float(), out)
    torch.testing.assert_close(back, rgb, rtol=1e-5, atol=1e-6)


def test_bad_arguments_are_named() -> None:
    truth, guess = scene()
    rgb = render(truth)
    with pytest.raises(ValueError, match="has 30 bands"):
        project_rgb_consistent(guess[:30], rgb, M)
    with pytest.raises(ValueError, match="does not match cube"):
        project_rgb_consistent(guess, rgb[:, :5], M)
    with pytest.raises(ValueError, match="linearly dependent"):
        project_rgb_consistent(guess, rgb, np.stack([M[0], M[0], M[1]]))
    with pytest.raises(ValueError, match="mask of shape"):
        project_rgb_consistent(guess, rgb, M, mask=np.ones((5, 5), dtype=bool))
