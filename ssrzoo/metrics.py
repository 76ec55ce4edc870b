"""Spectral reconstruction metrics that give the same numbers everywhere.

Every metric is a plain function ``name(pred, target, ...)`` (torchmetrics' argument order) on
``(B, C, H, W)`` or ``(C, H, W)`` torch tensors (numpy arrays are accepted too). The rules that
make the numbers stable:

* Inputs are cast to float64 before any arithmetic, so a float32 tensor and its float64 copy give
  bit-identical results, and accumulation error does not depend on the torch version.
* Each metric is computed per image, then averaged over the batch with equal weight. So a batch
  gives exactly the mean of the per-image values, and ``reduction='none'`` returns those ``(B,)``
  values for per-image reporting.
* ``crop`` removes that many pixels from each spatial border first (NTIRE2022 scored with 128).
* NaN in a prediction propagates to the result (it is a real failure, not something to hide).

Definitions (per image, ``N`` = number of values, ``P`` = number of pixels):

* ``MRAE = (1/N) sum |p - t| / max(|t|, eps)`` (NTIRE2018-2022 with an explicit zero policy).
* ``RMSE = sqrt((1/N) sum (p - t)^2)``.
* ``PSNR = 10 log10(data_range^2 / MSE)``, MSE over the whole image and all bands.
* ``SAM = (1/P) sum angle(p_x, t_x)`` in degrees.
* ``SSIM``: Wang et al. 2004 with an 11×11 Gaussian window (sigma 1.5), K1 = 0.01, K2 = 0.03,
  per band over the valid region, averaged over bands.
* ``BP-MRAE``: MRAE between the prediction projected through a camera response and the input RGB
  (or the target projected through the same response).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .spectral import SpectralResponse

__all__ = [
    "HIGHER_IS_BETTER",
    "METRICS",
    "Evaluator",
    "bp_mrae",
    "metrics_table",
    "mrae",
    "mrae_per_image",
    "psnr",
    "rmse",
    "sam",
    "sam_map",
    "ssim",
]


def _as_float64(x: Any, name: str) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x.detach().to(torch.float64)
    return torch.as_tensor(np.asarray(x), dtype=torch.float64)


def _batch(x: torch.Tensor, name: str) -> torch.Tensor:
    if x.ndim == 3:
        return x.unsqueeze(0)
    if x.ndim == 4:
        return x
    raise ValueError(f"expected {name} of shape (C, H, W) or (B, C, H, W), got {tuple(x.shape)}")


def _crop(x: torch.Tensor, crop: int) -> torch.Tensor:
    if crop < 0:
        raise ValueError(f"crop must be >= 0 pixels, got {crop}")
    if crop == 0:
        return x
    h, w = x.shape[-2:]
    if 2 * crop >= min(h, w):
        raise ValueError(
            f"crop={crop} removes the whole {h}x{w} image; use a crop below {min(h, w) // 2}"
        )
    return x[..., crop : h - crop, crop : w - crop]


def _pair(pred: Any, target: Any, crop: int) -> tuple[torch.Tensor, torch.Tensor]:
    p = _batch(_as_float64(pred, "pred"), "pred")
    t = _batch(_as_float64(target, "target"), "target")
    if p.shape != t.shape:
        raise ValueError(
            f"pred shape {tuple(p.shape)} differs from target shape {tuple(t.shape)}; both must "
            f"be (B, C, H, W) or (C, H, W) with the same bands and size (no broadcasting)"
        )
    if p.device != t.device:
        t = t.to(p.device)
    return _crop(p, crop), _crop(t, crop)


def _reduce(values: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return values.mean()
    if reduction == "none":
        return values
    raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")


def mrae_per_image(p: torch.Tensor, t: torch.Tensor, eps: float, mask: bool) -> torch.Tensor:
    """Per-image MRAE ``(B,)`` of ``(B, C, H, W)`` tensors, differentiable, in their dtype.

    The building block of :func:`mrae` (which adds float64, cropping and reduction) and of
    the MRAE training loss; ``eps`` and ``mask`` as in :func:`mrae`.
    """
    if eps < 0:
        raise ValueError(f"eps must be >= 0, got {eps}")
    denom = t.abs()
    err = (p - t).abs()
    if mask:
        valid = denom >= eps if eps > 0 else denom > 0
        counts = valid.flatten(1).sum(dim=1)
        if torch.any(counts == 0):
            raise ValueError(
                f"MRAE with mask=True: an image has no target value with |t| >= eps={eps}; "
                f"lower eps or use mask=False"
            )
        rel = torch.where(valid, err / torch.where(valid, denom, torch.ones_like(denom)), 0.0)
        return rel.flatten(1).sum(dim=1) / counts
    return (err / denom.clamp_min(eps)).flatten(1).mean(dim=1)


def mrae(
    pred: Any,
    target: Any,
    *,
    eps: float = 1e-6,
    mask: bool = False,
    crop: int = 0,
    reduction: str = "mean",
) -> torch.Tensor:
    """Mean relative absolute error, ``(1/N) sum |p - t| / max(|t|, eps)`` per image.

    Epsilon policy: the denominator is floored at ``eps`` (default 1e-6), so wherever
    ``|t| >= eps`` the value equals the NTIRE challenges' ``|p - t| / t`` exactly, and a zero
    target gives a large but finite error instead of inf. ``mask=True`` instead leaves out the
    values with ``|t| < eps`` (a validity mask; ``eps=0`` then drops only exact zeros). Data
    with dark pixels (e.g. dark-subtracted ICVL) should set one of these deliberately.

    Args:
        pred: reconstruction ``(B, C, H, W)`` or ``(C, H, W)``.
        target: ground truth, same shape.
        eps: denominator floor (or mask threshold), in the data's units.
        mask: drop values with ``|t| < eps`` instead of flooring.
        crop: pixels removed from each border first.
        reduction: ``'mean'`` (float64 scalar) or ``'none'`` (``(B,)`` per-image values).
    """
    p, t = _pair(pred, target, crop)
    return _reduce(mrae_per_image(p, t, eps, mask), reduction)


def rmse(pred: Any, target: Any, *, crop: int = 0, reduction: str = "mean") -> torch.Tensor:
    """Root mean squared error per image, ``sqrt((1/N) sum (p - t)^2)``, in the data's units."""
    p, t = _pair(pred, target, crop)
    return _reduce((p - t).square().flatten(1).mean(dim=1).sqrt(), reduction)


def psnr(
    pred: Any,
    target: Any,
    *,
    data_range: float = 1.0,
    crop: int = 0,
    reduction: str = "mean",
) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB per image, ``10 log10(data_range^2 / MSE)``.

    MSE is taken over the whole image (all bands and pixels), not per band; an exact match gives
    ``inf``. ``data_range`` is the peak (1 for data in [0, 1]).
    """
    if not data_range > 0:
        raise ValueError(f"data_range must be positive, got {data_range}")
    p, t = _pair(pred, target, crop)
    mse = (p - t).square().flatten(1).mean(dim=1)
    return _reduce(10.0 * torch.log10(data_range**2 / mse), reduction)


def sam_map(p: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Per-pixel spectral angle in radians, ``(B, H, W)``.

    Uses ``2 atan2(|a - b|, |a + b|)`` on unit vectors (accurate for tiny angles where
    ``arccos`` of a cosine near 1 loses half its digits). Zero-norm guard: a zero spectrum is
    given the zero vector as its direction, so zero vs non-zero is 90° and zero vs zero is 0°.
    """
    pn = p.norm(dim=1, keepdim=True)
    tn = t.norm(dim=1, keepdim=True)
    a = torch.where(pn > 0, p / torch.where(pn > 0, pn, 1.0), 0.0)
    b = torch.where(tn > 0, t / torch.where(tn > 0, tn, 1.0), 0.0)
    return 2.0 * torch.atan2((a - b).norm(dim=1), (a + b).norm(dim=1))


def sam(pred: Any, target: Any, *, crop: int = 0, reduction: str = "mean") -> torch.Tensor:
    """Spectral angle mapper in degrees: mean over pixels of the angle between spectra.

    ``angle = arccos(<p, t> / (|p| |t|))``, computed in a numerically stable form; a pixel where
    one spectrum is all zero counts as 90°, where both are zero as 0°.
    """
    p, t = _pair(pred, target, crop)
    return _reduce(torch.rad2deg(sam_map(p, t)).flatten(1).mean(dim=1), reduction)


def _gaussian_window(size: int, sigma: float, dtype: torch.dtype, device: Any) -> torch.Tensor:
    x = torch.arange(size, dtype=dtype, device=device) - (size - 1) / 2.0
    g = torch.exp(-(x * x) / (2.0 * sigma * sigma))
    g = g / g.sum()
    return g[:, None] * g[None, :]


def ssim(
    pred: Any,
    target: Any,
    *,
    data_range: float = 1.0,
    win_size: int = 11,
    sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
    crop: int = 0,
    reduction: str = "mean",
) -> torch.Tensor:
    """Structural similarity (Wang et al., IEEE TIP 2004), mean over bands.

    For each band, local means, variances and covariance come from a normalised
    ``win_size``×``win_size`` Gaussian window (``sigma`` 1.5) with population (not sample)
    statistics; ``SSIM = ((2 mu_p mu_t + C1)(2 s_pt + C2)) / ((mu_p^2 + mu_t^2 + C1)(s_p^2 + s_t^2
    + C2))`` with ``C1 = (k1 L)^2``, ``C2 = (k2 L)^2``, ``L = data_range``, averaged over the
    positions where the window fits inside the image and then over bands. Matches
    ``skimage.metrics.structural_similarity(gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False, data_range=L)``.
    """
    if not data_range > 0:
        raise ValueError(f"data_range must be positive, got {data_range}")
    if win_size < 1 or win_size % 2 == 0:
        raise ValueError(f"win_size must be a positive odd number, got {win_size}")
    p, t = _pair(pred, target, crop)
    c, h, w = p.shape[1:]
    if h < win_size or w < win_size:
        raise ValueError(
            f"SSIM needs images of at least {win_size}x{win_size} pixels, got {h}x{w}; "
            f"pass a smaller win_size or a smaller crop"
        )
    win = _gaussian_window(win_size, sigma, p.dtype, p.device).expand(c, 1, win_size, win_size)

    def filt(x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, win, groups=c)

    mu_p, mu_t = filt(p), filt(t)
    var_p = filt(p * p) - mu_p * mu_p
    var_t = filt(t * t) - mu_t * mu_t
    cov = filt(p * t) - mu_p * mu_t
    c1 = (k1 * data_range) ** 2
    c2 = (k2 * data_range) ** 2
    smap = ((2 * mu_p * mu_t + c1) * (2 * cov + c2)) / (
        (mu_p * mu_p + mu_t * mu_t + c1) * (var_p + var_t + c2)
    )
    return _reduce(smap.flatten(2).mean(dim=2).mean(dim=1), reduction)


def _response_matrix(response: Any, wavelengths: Any | None, num_bands: int) -> torch.Tensor:
    if isinstance(response, SpectralResponse):
        if wavelengths is not None:
            mat = response.matrix(wavelengths)
        elif response.wavelengths.size == num_bands:
            mat = response.values
        else:
            raise ValueError(
                f"response {response.name!r} is sampled at {response.wavelengths.size} "
                f"wavelengths but the cube has {num_bands} bands; pass wavelengths=<band centres>"
            )
    else:
        mat = _as_float64(response, "response").cpu().numpy()
    mat = np.asarray(mat, dtype=np.float64)
    if mat.ndim != 2 or mat.shape[1] != num_bands:
        raise ValueError(
            f"response matrix has shape {mat.shape}; expected (channels, {num_bands}) to project "
            f"{num_bands}-band cubes (rgb = response @ spectrum)"
        )
    if not np.all(np.isfinite(mat)):
        raise ValueError("response matrix contains NaN or inf; check the response numbers")
    return torch.from_numpy(mat)


def bp_mrae(
    pred: Any,
    target: Any,
    response: Any,
    *,
    wavelengths: Any | None = None,
    eps: float = 1e-6,
    mask: bool = False,
    crop: int = 0,
    reduction: str = "mean",
) -> torch.Tensor:
    """Back-projection MRAE: is the reconstruction consistent with the RGB it came from?

    ``BP-MRAE = MRAE(M @ pred, rgb)`` where ``M`` is the ``(K, C)`` response and ``rgb`` is
    ``target`` itself when it has ``K`` channels (the input photo, on the scale of ``M @ cube``),
    or ``M @ target`` when ``target`` is a cube shaped like ``pred`` (the NTIRE2020 form). Same
    epsilon policy as :func:`mrae`.

    Args:
        pred: reconstructed cube ``(B, C, H, W)`` or ``(C, H, W)``.
        target: ground-truth cube (same shape as ``pred``) or the RGB ``(B, K, H, W)``.
        response: a :class:`~ssrzoo.spectral.SpectralResponse` or a ``(K, C)`` matrix (e.g.
            ``simulate_rgb(..., return_info=True)[1]['matrix'][i]``).
        wavelengths: band centres (nm) to sample a ``SpectralResponse`` at.
        eps, mask, crop, reduction: as in :func:`mrae`.
    """
    p = _batch(_as_float64(pred, "pred"), "pred")
    t = _batch(_as_float64(target, "target"), "target")
    mat = _response_matrix(response, wavelengths, p.shape[1]).to(p.device)
    rgb_p = torch.einsum("kc,bchw->bkhw", mat, p)
    if t.shape == p.shape:
        rgb_t = torch.einsum("kc,bchw->bkhw", mat, t.to(p.device))
    elif t.shape == rgb_p.shape:
        rgb_t = t
    else:
        raise ValueError(
            f"target shape {tuple(t.shape)} is neither the cube shape {tuple(p.shape)} nor the "
            f"back-projected RGB shape {tuple(rgb_p.shape)}"
        )
    return mrae(rgb_p, rgb_t, eps=eps, mask=mask, crop=crop, reduction=reduction)


#: name -> metric function; every one takes ``(pred, target, *, crop, reduction, ...)``.
METRICS: dict[str, Callable[..., torch.Tensor]] = {
    "mrae": mrae,
    "rmse": rmse,
    "psnr": psnr,
    "sam": sam,
    "ssim": ssim,
    "bp_mrae": bp_mrae,
}

#: whether a larger value is better, for tables and model selection.
HIGHER_IS_BETTER: dict[str, bool] = {
    "mrae": False,
    "rmse": False,
    "psnr": True,
    "sam": False,
    "ssim": True,
    "bp_mrae": False,
}


class Evaluator:
    """Accumulates per-image metrics over an evaluation set and renders a table.

    Args:
        metrics: metric names from :data:`METRICS`; ``'bp_mrae'`` is added when ``response``
            is given.
        crop: pixels removed from each border before every metric (NTIRE2022: 128).
        data_range: peak value for PSNR and SSIM.
        eps: MRAE/BP-MRAE epsilon (see :func:`mrae`).
        mask: MRAE/BP-MRAE validity mask instead of the floor.
        response: camera response for BP-MRAE (``SpectralResponse`` or ``(K, C)`` matrix).
        wavelengths: band centres (nm) for sampling ``response``.

    Example:
        >>> import torch
        >>> ev = Evaluator(metrics=("mrae", "psnr"))
        >>> gt = torch.rand(2, 31, 16, 16) + 0.1
        >>> _ = ev.update(gt * 1.01, gt, names=["a", "b"])
        >>> round(ev.summary()["mrae"], 4)
        0.01
    """

    def __init__(
        self,
        metrics: Sequence[str] = ("mrae", "rmse", "psnr", "sam", "ssim"),
        *,
        crop: int = 0,
        data_range: float = 1.0,
        eps: float = 1e-6,
        mask: bool = False,
        response: Any | None = None,
        wavelengths: Any | None = None,
    ) -> None:
        names = list(metrics)
        if response is not None and "bp_mrae" not in names:
            names.append("bp_mrae")
        unknown = [m for m in names if m not in METRICS]
        if unknown:
            raise ValueError(f"unknown metric(s) {unknown}; available: {sorted(METRICS)}")
        if "bp_mrae" in names and response is None:
            raise ValueError("metric 'bp_mrae' needs a response; pass response=...")
        self.metrics = tuple(names)
        self.crop = crop
        self.data_range = data_range
        self.eps = eps
        self.mask = mask
        self.response = response
        self.wavelengths = wavelengths
        self._rows: list[dict[str, Any]] = []

    def reset(self) -> None:
        """Forget all images seen so far."""
        self._rows = []

    def __len__(self) -> int:
        return len(self._rows)

    def _compute(self, name: str, pred: Any, target: Any, rgb: Any | None) -> torch.Tensor:
        kw: dict[str, Any] = {"crop": self.crop, "reduction": "none"}
        if name in ("mrae", "bp_mrae"):
            kw.update(eps=self.eps, mask=self.mask)
        if name in ("psnr", "ssim"):
            kw["data_range"] = self.data_range
        if name == "bp_mrae":
            return bp_mrae(
                pred,
                rgb if rgb is not None else target,
                self.response,
                wavelengths=self.wavelengths,
                **kw,
            )
        return METRICS[name](pred, target, **kw)

    def update(
        self,
        pred: Any,
        target: Any,
        names: Sequence[str] | None = None,
        rgb: Any | None = None,
    ) -> list[dict[str, Any]]:
        """Score a batch; returns (and stores) one row per image.

        Args:
            pred: reconstructions ``(B, C, H, W)`` or ``(C, H, W)``.
            target: ground truth, same shape.
            names: one name per image (default: running index).
            rgb: the input RGB for BP-MRAE; without it the target is back-projected.
        """
        values = {m: self._compute(m, pred, target, rgb) for m in self.metrics}
        n = int(next(iter(values.values())).numel())
        if names is None:
            names = [str(len(self._rows) + i) for i in range(n)]
        elif isinstance(names, str):
            names = [names]
        if len(names) != n:
            raise ValueError(f"{len(names)} names for a batch of {n} images")
        rows = [
            {"name": str(names[i]), **{m: float(values[m][i]) for m in self.metrics}}
            for i in range(n)
        ]
        self._rows.extend(rows)
        return rows

    @property
    def results(self) -> list[dict[str, Any]]:
        """Per-image rows ``{'name': ..., metric: value, ...}`` in the order seen."""
        return list(self._rows)

    def summary(self) -> dict[str, float]:
        """Mean of each metric over all images (each image weighs the same)."""
        if not self._rows:
            raise ValueError("no images evaluated yet; call update(pred, target) first")
        return {
            m: float(np.mean(np.array([r[m] for r in self._rows], dtype=np.float64)))
            for m in self.metrics
        }

    def table(self, per_image: bool = True, digits: int = 4) -> str:
        """A Markdown table: one row per image (optional) and a final mean row."""
        return metrics_table(self._rows, self.summary(), per_image=per_image, digits=digits)


def metrics_table(
    rows: Sequence[Mapping[str, Any]],
    summary: Mapping[str, float],
    *,
    per_image: bool = True,
    digits: int = 4,
) -> str:
    """A Markdown table of per-image rows and their mean, one column per ``summary`` metric.

    Args:
        rows: ``{'name': ..., metric: value}`` per image, as :attr:`Evaluator.results`.
        summary: metric name -> mean, in column order; the last row, ``mean (len(rows))``.
        per_image: include one row per image, not only the mean.
        digits: decimals shown.
    """
    names = list(summary)
    arrows = {m: ("↑" if HIGHER_IS_BETTER.get(m, False) else "↓") for m in names}
    head = "| image | " + " | ".join(f"{m.upper()} {arrows[m]}" for m in names) + " |"
    sep = "|---|" + "---:|" * len(names)

    def fmt(v: float) -> str:
        return f"{v:.{digits}f}" if math.isfinite(v) else str(v)

    lines = [head, sep]
    if per_image:
        for r in rows:
            lines.append(f"| {r['name']} | " + " | ".join(fmt(r[m]) for m in names) + " |")
    lines.append(f"| **mean ({len(rows)})** | " + " | ".join(fmt(summary[m]) for m in names) + " |")
    return "\n".join(lines)
