"""Band grids (centre wavelengths in nm, optional FWHM) and resampling between them.

Resampling is a linear operator along the spectral axis, so it is built once as an
``(N_dst, N_src)`` matrix and applied with one contraction; a torch tensor stays a tensor and
keeps its gradient.

Two methods:

* ``'linear'``: piecewise-linear interpolation of the source samples at each target centre.
  Right when the target bands are about as narrow as the source spacing (400–700/10 nm to
  420–720/10 nm, ROSIS 103 bands to 31).
* ``'gaussian'``: band integration. Target band ``i`` with centre ``mu_i`` and full width at half
  maximum ``f_i`` averages the source with weights
  ``w_ij ∝ exp(-(lambda_j - mu_i)^2 / (2 sigma_i^2)) * delta_j`` with
  ``sigma_i = f_i / (2 sqrt(2 ln 2))`` and ``delta_j`` the trapezoid width of source sample
  ``j``; each row is normalised to sum 1 so a flat spectrum stays flat. Right when the target
  bands are broader than the source spacing (Samson's 156 bands at about 3.1 nm to 31 bands of
  10 nm).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._arrays import as_wavelengths, is_tensor

__all__ = ["BandGrid", "resample", "resampling_matrix"]

_FWHM_TO_SIGMA = 1.0 / (2.0 * np.sqrt(2.0 * np.log(2.0)))


class BandGrid:
    """A set of spectral bands: centre wavelengths in nm and, optionally, their FWHM in nm.

    Args:
        wavelengths: band centres in nm, strictly increasing.
        fwhm: full width at half maximum of each band in nm (one value for all bands or one
            per band), or None when unknown.

    Example:
        >>> grid = BandGrid.uniform(400, 700, 10)
        >>> len(grid), grid.wavelengths[:3].tolist()
        (31, [400.0, 410.0, 420.0])
    """

    __slots__ = ("_fwhm", "_wavelengths")

    def __init__(self, wavelengths: Any, fwhm: Any | None = None) -> None:
        wl = as_wavelengths(wavelengths)
        wl.setflags(write=False)
        self._wavelengths = wl
        self._fwhm: np.ndarray | None = None
        if fwhm is not None:
            fw = np.broadcast_to(np.asarray(fwhm, dtype=np.float64), wl.shape).copy()
            if not np.all(np.isfinite(fw)) or np.any(fw <= 0):
                raise ValueError(f"fwhm must be finite and positive nm values, got {fw.tolist()}")
            fw.setflags(write=False)
            self._fwhm = fw

    @classmethod
    def uniform(cls, start: float, stop: float, step: float, fwhm: float | None = None) -> BandGrid:
        """Evenly spaced bands from ``start`` to ``stop`` inclusive, every ``step`` nm."""
        if step <= 0 or stop < start:
            raise ValueError(
                f"uniform grid needs start <= stop and step > 0, got start={start}, "
                f"stop={stop}, step={step}"
            )
        n = round((stop - start) / step) + 1
        wl = start + step * np.arange(n, dtype=np.float64)
        if abs(wl[-1] - stop) > 1e-6 * max(1.0, abs(step)):
            raise ValueError(
                f"stop={stop} nm is not start={start} plus a whole number of steps of {step} nm"
            )
        return cls(wl, fwhm)

    @property
    def wavelengths(self) -> np.ndarray:
        """Band centres in nm, shape ``(N,)``, read-only."""
        return self._wavelengths

    @property
    def fwhm(self) -> np.ndarray | None:
        """FWHM of each band in nm, shape ``(N,)``, or None when unknown."""
        return self._fwhm

    @property
    def step(self) -> float | None:
        """The spacing in nm when the grid is uniform, else None."""
        if len(self) < 2:
            return None
        d = np.diff(self._wavelengths)
        return float(d[0]) if np.allclose(d, d[0], rtol=1e-9, atol=1e-9) else None

    def __len__(self) -> int:
        return int(self._wavelengths.size)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BandGrid):
            return NotImplemented
        same_fwhm = (self._fwhm is None and other._fwhm is None) or (
            self._fwhm is not None
            and other._fwhm is not None
            and np.array_equal(self._fwhm, other._fwhm)
        )
        return np.array_equal(self._wavelengths, other._wavelengths) and same_fwhm

    __hash__ = None  # type: ignore[assignment]  # mutable-looking value type, like ndarray

    def __repr__(self) -> str:
        wl = self._wavelengths
        step = self.step
        where = f"{wl[0]:g}-{wl[-1]:g} nm step {step:g}" if step else f"{wl[0]:g}-{wl[-1]:g} nm"
        fwhm = "set" if self._fwhm is not None else None
        return f"BandGrid({len(self)} bands, {where}, fwhm={fwhm})"

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form: ``{'wavelengths': [...], 'fwhm': [...] | None}``."""
        return {
            "wavelengths": self._wavelengths.tolist(),
            "fwhm": None if self._fwhm is None else self._fwhm.tolist(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BandGrid:
        """Inverse of :meth:`to_dict`."""
        return cls(d["wavelengths"], d.get("fwhm"))


def _trapezoid_widths(wl: np.ndarray) -> np.ndarray:
    if wl.size == 1:
        return np.ones(1)
    edges = np.concatenate([[wl[0]], (wl[1:] + wl[:-1]) / 2.0, [wl[-1]]])
    return np.diff(edges)


def resampling_matrix(
    src_wavelengths: Any,
    dst_wavelengths: Any,
    method: str = "linear",
    fwhm: Any | None = None,
    extrapolate: bool = False,
) -> np.ndarray:
    """The ``(N_dst, N_src)`` float64 matrix ``R`` with ``spectrum_dst = R @ spectrum_src``.

    Args:
        src_wavelengths: source band centres in nm (sequence, array or :class:`BandGrid`).
        dst_wavelengths: target band centres in nm (sequence, array or :class:`BandGrid`).
        method: ``'linear'`` (interpolation) or ``'gaussian'`` (band integration).
        fwhm: target FWHM in nm for ``'gaussian'`` (scalar or one per target band). Defaults to
            the target grid's ``fwhm``, else the target band spacing.
        extrapolate: allow target centres outside the source range; ``'linear'`` then holds the
            edge value and ``'gaussian'`` renormalises over the samples it has. Off by default
            because extrapolated bands are not measurements.

    Raises:
        ValueError: an unknown method, non-increasing wavelengths, or (without
            ``extrapolate``) target centres outside the source range.
    """
    src = as_wavelengths(src_wavelengths, "src_wavelengths")
    dst = as_wavelengths(dst_wavelengths, "dst_wavelengths")
    if method not in ("linear", "gaussian"):
        raise ValueError(f"unknown resampling method {method!r}; use 'linear' or 'gaussian'")
    tol = 1e-6
    outside = (dst < src[0] - tol) | (dst > src[-1] + tol)
    if np.any(outside) and not extrapolate:
        raise ValueError(
            f"target range {dst[0]:g}-{dst[-1]:g} nm is outside the source range "
            f"{src[0]:g}-{src[-1]:g} nm ({int(outside.sum())} target bands outside); resample to "
            f"a grid inside the source range or pass extrapolate=True to hold the edge values"
        )

    if method == "linear":
        mat = np.zeros((dst.size, src.size))
        if src.size == 1:
            mat[:, 0] = 1.0
            return mat
        i = np.clip(np.searchsorted(src, dst, side="right") - 1, 0, src.size - 2)
        t = np.clip((dst - src[i]) / (src[i + 1] - src[i]), 0.0, 1.0)
        rows = np.arange(dst.size)
        mat[rows, i] = 1.0 - t
        mat[rows, i + 1] += t
        return mat

    if fwhm is None and hasattr(dst_wavelengths, "fwhm") and dst_wavelengths.fwhm is not None:
        fwhm = dst_wavelengths.fwhm
    if fwhm is None:
        if dst.size < 2:
            raise ValueError("gaussian resampling to a single band needs its FWHM; pass fwhm=<nm>")
        fwhm = np.gradient(dst)
    fw = np.broadcast_to(np.asarray(fwhm, dtype=np.float64), dst.shape)
    if not np.all(np.isfinite(fw)) or np.any(fw <= 0):
        raise ValueError(f"fwhm must be finite and positive nm values, got {np.asarray(fwhm)}")
    sigma = fw * _FWHM_TO_SIGMA
    z = (src[None, :] - dst[:, None]) / sigma[:, None]
    mat = np.exp(-0.5 * z * z) * _trapezoid_widths(src)[None, :]
    sums = mat.sum(axis=1, keepdims=True)
    if np.any(sums < 1e-12):
        bad = dst[sums[:, 0] < 1e-12]
        raise ValueError(
            f"target bands at {bad.tolist()} nm are too narrow for the source sampling (no source "
            f"sample within their Gaussian); use method='linear' or a larger fwhm"
        )
    weights: np.ndarray = mat / sums
    return weights


def resample(
    cube: Any,
    src_wavelengths: Any,
    dst_wavelengths: Any,
    method: str = "linear",
    axis: int = -3,
    fwhm: Any | None = None,
    extrapolate: bool = False,
) -> Any:
    """Resample spectra from one band grid to another along ``axis``.

    Args:
        cube: numpy array or torch tensor. With the default ``axis=-3`` a cube ``(C, H, W)`` or a
            batch ``(B, C, H, W)``; pass ``axis=-1`` for spectra stored as rows ``(..., C)``.
        src_wavelengths: centres (nm) of the ``C`` input bands.
        dst_wavelengths: centres (nm) of the output bands.
        method: ``'linear'`` or ``'gaussian'``, see :func:`resampling_matrix`.
        axis: the spectral axis.
        fwhm: target FWHM (nm) for ``'gaussian'``.
        extrapolate: see :func:`resampling_matrix`.

    Returns:
        The same kind of array with ``len(dst_wavelengths)`` bands on ``axis``. Floating inputs keep
        their dtype (numpy computes in float64 then casts back); torch keeps its graph.

    Raises:
        ValueError: the band count on ``axis`` differs from ``len(src_wavelengths)`` (with a hint
            when the cube looks like ``(H, W, C)``), or the target range is outside the source.
    """
    mat = resampling_matrix(src_wavelengths, dst_wavelengths, method, fwhm, extrapolate)
    n_src = mat.shape[1]
    shape = tuple(cube.shape)
    if not -len(shape) <= axis < len(shape):
        raise ValueError(f"axis={axis} is out of range for an array of shape {shape}")
    if shape[axis] != n_src:
        hint = ""
        if axis in (-3, len(shape) - 3) and shape[-1] == n_src:
            hint = (
                " the array looks like (H, W, C) with bands last: pass axis=-1 or transpose it to"
                " (C, H, W)"
            )
        raise ValueError(
            f"array of shape {shape} has {shape[axis]} entries on axis {axis} but "
            f"{n_src} source wavelengths were given;{hint or ' pass one wavelength per band'}"
        )
    if is_tensor(cube):
        import torch

        dtype = cube.dtype if cube.is_floating_point() else torch.float32
        r = torch.as_tensor(mat, dtype=dtype, device=cube.device)
        moved = torch.movedim(cube.to(dtype), axis, -1)
        return torch.movedim(moved @ r.T, -1, axis)
    arr = np.asarray(cube)
    out = np.moveaxis(np.moveaxis(arr.astype(np.float64, copy=False), axis, -1) @ mat.T, -1, axis)
    dtype = arr.dtype if np.issubdtype(arr.dtype, np.floating) else np.float64
    return out.astype(dtype, copy=False)
