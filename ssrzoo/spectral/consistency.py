"""Physically plausible reconstructions: spectra that are non-negative and reproduce the RGB.

A reconstructed spectrum ``s`` of a pixel whose camera RGB is ``b`` is *RGB-consistent* when
``M @ s = b`` for the camera's ``(K, C)`` response ``M`` (Lin & Finlayson, "Physically
Plausible Spectral Reconstruction", Sensors 20(21):6399, 2020, doi:10.3390/s20216399).
Without a sign constraint the nearest such spectrum is the minimum-norm correction

    x = s + M^T (M M^T)^-1 (b - M s),

the orthogonal projection onto the affine set ``{x : M x = b}``. It can make some bands
negative, which radiance cannot be. :func:`project_rgb_consistent` therefore returns the
Euclidean projection onto ``{x : M x = b, x >= 0}``: the spectrum nearest to ``s`` that is
both consistent and non-negative. It is computed exactly (not by alternating projections,
which reach the set only in the limit: on the example scene some pixels still miss their
RGB by more than 10 % after 20 rounds) by a semismooth Newton method on the
``K``-dimensional dual:

    x(lam) = max(0, s + M^T lam),     solve  M x(lam) = b,

started from the affine projection, so a pixel whose affine projection is already
non-negative costs one step. The dual is a convex piecewise quadratic, so Newton with a
backtracking line search identifies the active bands in a few steps (four at most on the
example scene). A pixel whose RGB no non-negative spectrum reproduces (outside the
cone ``{M x : x >= 0}``: e.g. a colour-corrected photo more saturated than the camera can
record) has no solution; it is left as ``max(s, 0)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._arrays import to_cube_batch

__all__ = ["project_rgb_consistent"]

#: Backtracking halvings per Newton step before a pixel is given up on.
_MAX_HALVINGS = 30


def project_rgb_consistent(
    cube: Any,
    rgb: Any,
    response: Any,
    *,
    mask: Any | None = None,
    nonnegative: bool = True,
    max_iter: int = 30,
    tol: float = 1e-9,
) -> Any:
    """The spectra nearest to ``cube`` that reproduce ``rgb`` through ``response``.

    Per pixel, the Euclidean projection of the spectrum onto ``{x : M x = rgb, x >= 0}``
    (or onto ``{x : M x = rgb}`` with ``nonnegative=False``); see the module docstring.

    Args:
        cube: reconstructed spectra ``(C, H, W)`` or ``(B, C, H, W)``, numpy or torch.
        rgb: the camera RGB the cube was reconstructed from, ``(K, H, W)`` or
            ``(B, K, H, W)``, on the scale of ``response @ spectrum`` (a model's input).
        response: ``(K, C)`` matrix with ``rgb = response @ spectrum``, gain included, e.g.
            ``model.pretrained_cfg.response``.
        mask: optional bool ``(H, W)`` or ``(B, H, W)``, True where ``rgb`` can be trusted.
            Pixels that were clipped (a channel at 0 or at saturation) carry a wrong RGB;
            pass False for them and they are left as the model made them (clamped to
            ``>= 0`` if ``nonnegative``).
        nonnegative: also require ``x >= 0``; False gives Lin & Finlayson's minimum-norm
            correction, which may be negative.
        max_iter: Newton iterations per pixel before it is given up on.
        tol: a pixel is solved when every channel of ``response @ x - rgb`` is within
            ``tol`` times its largest RGB value.

    Returns:
        The corrected cube, shaped and typed as ``cube``. With ``nonnegative`` it is
        ``>= 0`` everywhere; masked pixels, and pixels whose RGB no non-negative spectrum
        reproduces, are ``max(cube, 0)``.

    Example:
        >>> import numpy as np
        >>> m = np.array([[1.0, 1.0, 0.0], [0.0, 1.0, 1.0]])  # 2 channels, 3 bands
        >>> s = np.array([1.0, -0.5, 0.2]).reshape(3, 1, 1)
        >>> x = project_rgb_consistent(s, np.array([0.5, 0.5]).reshape(2, 1, 1), m)
        >>> np.round(x[:, 0, 0], 6).tolist(), np.round(m @ x[:, 0, 0], 6).tolist()
        ([0.5, 0.0, 0.5], [0.5, 0.5])
    """
    m = np.asarray(response, dtype=np.float64)
    if m.ndim != 2 or not np.all(np.isfinite(m)):
        raise ValueError(
            f"response must be a finite (K, C) matrix with rgb = response @ spectrum, got "
            f"shape {m.shape}"
        )
    k, c = m.shape
    if np.linalg.matrix_rank(m) < k:
        raise ValueError(
            f"response rows are linearly dependent (rank {np.linalg.matrix_rank(m)} < {k}): "
            "no spectrum is pinned down by its RGB; check the response matrix"
        )
    if max_iter < 0 or tol < 0:
        raise ValueError(f"max_iter and tol must be >= 0, got {max_iter} and {tol}")
    spectra = to_cube_batch(cube, c, "cube")
    target = to_cube_batch(rgb, k, "rgb").data
    s = spectra.data
    if target.shape[0] != s.shape[0] or target.shape[2:] != s.shape[2:]:
        raise ValueError(
            f"rgb of shape {target.shape} does not match cube of shape {s.shape}: "
            "give one RGB per pixel of the cube"
        )
    b, _, h, w = s.shape
    keep = np.ones((b, h, w), dtype=bool)
    if mask is not None:
        mask = np.asarray(mask.detach().cpu() if hasattr(mask, "detach") else mask, dtype=bool)
        try:
            keep = np.broadcast_to(mask, (b, h, w)).copy()
        except ValueError as err:
            raise ValueError(
                f"mask of shape {mask.shape} does not fit the cube's pixels {(b, h, w)}; "
                "pass (H, W) or (B, H, W) booleans"
            ) from err

    pixels = s.transpose(0, 2, 3, 1).reshape(-1, c)
    values = target.transpose(0, 2, 3, 1).reshape(-1, k)
    keep = keep.reshape(-1) & np.isfinite(pixels).all(1) & np.isfinite(values).all(1)
    out = np.maximum(pixels, 0.0) if nonnegative else pixels.copy()
    sel = np.flatnonzero(keep)
    s_sel, b_sel = pixels[sel], values[sel]
    lam = np.linalg.solve(m @ m.T, (b_sel - s_sel @ m.T).T).T
    x = s_sel + lam @ m
    if nonnegative:
        negative = np.flatnonzero((x < 0).any(axis=1))
        solved, x_neg = _newton(s_sel[negative], b_sel[negative], m, lam[negative], max_iter, tol)
        x[negative] = np.where(solved[:, None], x_neg, np.maximum(s_sel[negative], 0.0))
    out[sel] = x
    cube_out = out.reshape(b, h, w, c).transpose(0, 3, 1, 2)
    return spectra.wrap(cube_out)


def _newton(
    s: np.ndarray, b: np.ndarray, m: np.ndarray, lam: np.ndarray, max_iter: int, tol: float
) -> tuple[np.ndarray, np.ndarray]:
    """Solve ``m @ max(0, s + lam @ m) = b`` for ``lam`` per row; returns ``(solved, x)``.

    Minimises the dual ``g(lam) = |max(0, s + lam m)|^2 / 2 - lam . b``, whose gradient is
    the RGB residual and whose generalised Hessian is ``m D m^T`` with ``D`` the active
    (positive) bands. Only unsolved rows are iterated.
    """
    n, k = b.shape
    x = np.maximum(s + lam @ m, 0.0)
    solved = np.zeros(n, dtype=bool)
    limit = tol * np.abs(b).max(axis=1)
    # Keeps the Hessian invertible when the active bands do not span every channel.
    ridge = 1e-12 * np.trace(m @ m.T) * np.eye(k)
    todo = np.arange(n)
    for _ in range(max_iter + 1):
        grad = x[todo] @ m.T - b[todo]
        done = np.abs(grad).max(axis=1) <= limit[todo]
        solved[todo[done]] = True
        todo, grad = todo[~done], grad[~done]
        if todo.size == 0:
            break
        s_t, b_t, lam_t = s[todo], b[todo], lam[todo]
        z = s_t + lam_t @ m
        hess = np.einsum("kc,nc,jc->nkj", m, (z > 0).astype(np.float64), m) + ridge
        step = np.linalg.solve(hess, grad[..., None])[..., 0]
        g0 = _dual(z, lam_t, b_t)
        t = np.ones(todo.size)
        new = lam_t - step
        for _ in range(_MAX_HALVINGS):
            worse = _dual(s_t + new @ m, new, b_t) > g0
            if not worse.any():
                break
            t[worse] *= 0.5
            new[worse] = lam_t[worse] - t[worse, None] * step[worse]
        else:
            new[worse] = lam_t[worse]  # no descent found: keep, the pixel stays unsolved
        lam[todo] = new
        x[todo] = np.maximum(s_t + new @ m, 0.0)
    return solved, x


def _dual(z: np.ndarray, lam: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dual objective per row, from ``z = s + lam @ m``."""
    zp = np.maximum(z, 0.0)
    dual: np.ndarray = 0.5 * np.einsum("nc,nc->n", zp, zp) - np.einsum("nk,nk->n", lam, b)
    return dual
