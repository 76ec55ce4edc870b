"""Regressions fitted in closed form: linear and root-polynomial regression from RGB to spectra.

:class:`RootPolynomialRegression` is linear regression and root-polynomial regression of degree
2 and 3 with a ridge (Tikhonov) penalty, as benchmarked by Lin & Finlayson, "Physically
Plausible Spectral Reconstruction", Sensors 20(21):6399, 2020 (doi:10.3390/s20216399), with the
root-polynomial terms of Finlayson, Mackiewicz & Hurlbert, "Color Correction Using
Root-Polynomial Regression", IEEE TIP 24(5):1460-1470, 2015 (doi:10.1109/TIP.2015.2405336). The
weights are an ``nn.Parameter``: they save as safetensors, load through
``create_model(..., pretrained=True)`` or ``checkpoint_path=``, and can be fine-tuned by
gradient descent. Forward contract ``(B, 3, H, W) -> (B, num_bands, H, W)``, pixel by pixel.
The colour-science upsamplers, the other classical baselines, are in
:mod:`ssrzoo.models.colour_recovery`.

Registered names (see ``docs/models/classical.md``):

==========================  =========================================  ========================
architecture                what                                       tags
==========================  =========================================  ========================
``linear_regression``       3 linear terms                             ``ntire2020``, ``pavia``
``root_poly2``              6 root-polynomial terms (degree 2)         ``ntire2020``
``root_poly3``              13 root-polynomial terms (degree 3)        ``ntire2020``, ``cave``,
                                                                       ``harvard``
==========================  =========================================  ========================
"""

from __future__ import annotations

import functools
import itertools
import math
import operator
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

import numpy as np
import torch
from torch import nn

from ..protocols import protocol_fields
from ._builder import build_model_with_cfg
from ._layers import NonNegativeOutput, check_rgb_input
from ._pretrained import PretrainedCfg, generate_default_cfgs
from ._registry import register_model, register_model_aliases

_Stats = tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]  # Gram, cross, Y^T Y, count


def _sum_stats(stats: list[_Stats]) -> tuple[torch.Tensor, torch.Tensor, int]:
    """The Gram matrix, cross products and count summed over the folds."""
    gram = functools.reduce(operator.add, (s[0] for s in stats))
    cross = functools.reduce(operator.add, (s[1] for s in stats))
    return gram, cross, sum(s[3] for s in stats)


__all__ = ["RootPolynomialRegression", "root_polynomial_exponents"]

ArrayLike = np.ndarray | torch.Tensor

#: Ridge values (relative, see :meth:`RootPolynomialRegression.fit`) tried by default.
DEFAULT_RIDGES: tuple[float, ...] = tuple(10.0**k for k in range(-9, 1))


def _fold_rows(n: int, folds: int, groups: ArrayLike | None) -> list[np.ndarray]:
    """Row indices of each cross-validation fold (see ``RootPolynomialRegression.fit``)."""
    if groups is None:
        bounds = np.linspace(0, n, folds + 1).astype(int)
        return [np.arange(lo, hi) for lo, hi in itertools.pairwise(bounds.tolist())]
    labels = np.asarray(groups.detach().cpu() if isinstance(groups, torch.Tensor) else groups)
    if labels.shape != (n,):
        raise ValueError(
            f"groups must hold one label per row, shape ({n},), got {labels.shape}; pass e.g. "
            "the image index of each pixel"
        )
    if folds == 1:
        return [np.arange(n)]
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    if len(first) < 2:
        raise ValueError(
            "cross-validation over groups needs at least 2 groups, got 1; pass pixels of "
            "several images, or one ridge value to skip cross-validation"
        )
    # groups in order of first appearance, each whole in one fold
    order = np.argsort(np.argsort(first))[inverse]
    fold_of_row = order % min(folds, len(first))
    return [np.flatnonzero(fold_of_row == k) for k in range(min(folds, len(first)))]


def _as_float64(data: ArrayLike, name: str) -> torch.Tensor:
    tensor = torch.as_tensor(data).detach().to(device="cpu", dtype=torch.float64)
    if tensor.ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D (N, channels) array of pixels, got shape "
            f"{tuple(tensor.shape)}; reshape images with x.permute(0, 2, 3, 1).reshape(-1, C)"
        )
    if not torch.isfinite(tensor).all():
        raise ValueError(f"{name} contains NaN or inf; drop or fix those pixels before fitting")
    return tensor


def root_polynomial_exponents(in_chans: int, degree: int) -> list[tuple[Fraction, ...]]:
    """Exponents of the root-polynomial terms of Finlayson et al. (2015).

    A term of degree ``d`` is the ``d``-th root of a degree-``d`` monomial, e.g.
    ``(r g)^(1/2)`` or ``(r g^2)^(1/3)``; terms equal to a lower-degree one (``(r^2)^(1/2)
    = r``) are dropped. Every term scales linearly with the input, so the regression is
    exposure-invariant: ``f(k x) = k f(x)``.

    Args:
        in_chans: number of input channels.
        degree: highest degree (1 gives the linear terms only).

    Returns:
        One tuple of ``in_chans`` exponents (summing to 1) per term: the ``in_chans``
        linear terms first, then higher degrees in order. For 3 channels the counts are
        3, 6, 13 and 22 for degree 1 to 4.
    """
    if degree < 1 or in_chans < 1:
        raise ValueError(
            f"root-polynomial degree and in_chans must be >= 1, got degree={degree}, "
            f"in_chans={in_chans}"
        )
    seen: set[tuple[Fraction, ...]] = set()
    terms = []
    for d in range(1, degree + 1):
        for combo in itertools.combinations_with_replacement(range(in_chans), d):
            exps = tuple(Fraction(combo.count(c), d) for c in range(in_chans))
            if exps not in seen:
                seen.add(exps)
                terms.append(exps)
    return terms


class RootPolynomialRegression(NonNegativeOutput, nn.Module):
    """Per-pixel (root-)polynomial regression from RGB to spectra, fitted in closed form.

    ``spectrum = W @ phi(rgb)``, where ``phi`` holds the root-polynomial terms of the
    input (:func:`root_polynomial_exponents`; degree 1 is plain linear regression) and
    ``W`` is ``(num_bands, num_features)``. There is no offset term: a zero input gives a
    zero spectrum and scaling the input by ``k`` scales the output by ``k``.

    Build it with :func:`ssrzoo.create_model` (``'linear_regression'``, ``'root_poly2'``,
    ``'root_poly3'``), then call :meth:`fit`. Unfitted, ``W`` is random (as
    ``nn.Linear``'s initialisation), like any untrained model.

    Args:
        degree: root-polynomial degree (1 = linear).
        in_chans: input channels (3 for RGB).
        num_bands: output bands.
        eps: inputs below this are clamped before the roots of degree >= 2, which keeps
            gradients finite at zero (the linear terms are not clamped).

    Shape:
        ``(B, in_chans, H, W)`` non-negative float (in the same units as the RGB it was
        fitted on) -> ``(B, num_bands, H, W)`` in the units of the fitted spectra,
        projected onto ``>= 0`` in eval mode (:class:`~ssrzoo.models.NonNegativeOutput`).
    """

    root_powers: torch.Tensor  # buffers, registered in __init__
    root_degrees: torch.Tensor

    def __init__(
        self, degree: int = 2, in_chans: int = 3, num_bands: int = 31, eps: float = 1e-12
    ) -> None:
        super().__init__()
        self.degree = degree
        self.in_chans = in_chans
        self.num_bands = num_bands
        self.eps = eps
        terms = root_polynomial_exponents(in_chans, degree)
        self.num_features = len(terms)
        # Integer powers and root degrees, non-persistent (derived from degree and in_chans):
        # integers survive model.half()/float() casts, so exponents like 1/3 are formed in
        # the input's own precision.
        nonlinear = terms[in_chans:]
        roots = [math.lcm(*(e.denominator for e in t)) for t in nonlinear]
        powers = [[int(e * d) for e in t] for t, d in zip(nonlinear, roots, strict=True)]
        self.register_buffer(
            "root_powers",
            torch.tensor(powers, dtype=torch.long).reshape(-1, in_chans),
            persistent=False,
        )
        self.register_buffer(
            "root_degrees",
            torch.tensor(roots, dtype=torch.long).reshape(-1, 1),
            persistent=False,
        )
        self.weight = nn.Parameter(torch.empty(num_bands, self.num_features))
        bound = 1.0 / math.sqrt(self.num_features)
        nn.init.uniform_(self.weight, -bound, bound)
        self.ridge_: float | None = None
        self.cv_mse_: dict[float, float] = {}

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Root-polynomial terms along dim 1: ``(N, C, ...)`` -> ``(N, num_features, ...)``."""
        if self.root_powers.shape[0] == 0:
            return x
        # Roots of products as exp(e . log x): one einsum for all terms, and a clamp
        # that gives zero (not NaN) gradients for black pixels.
        log_x = x.clamp_min(self.eps).log()
        powers, degrees = self.root_powers.to(x.device), self.root_degrees.to(x.device)
        exps = powers.to(x.dtype) / degrees.to(x.dtype)
        roots = torch.einsum("fc,nc...->nf...", exps, log_x).exp()
        return torch.cat([x, roots], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = check_rgb_input(x, self.in_chans, dtype=self.weight.dtype)
        return self.project_output(torch.einsum("kf,bfhw->bkhw", self.weight, self.features(x)))

    @torch.no_grad()
    def fit(
        self,
        rgb: ArrayLike,
        spectra: ArrayLike,
        ridge: float | Sequence[float] = DEFAULT_RIDGES,
        *,
        cv_folds: int = 5,
        groups: ArrayLike | None = None,
        response: ArrayLike | None = None,
        wavelengths: Sequence[float] | None = None,
        chunk_size: int = 1 << 18,
    ) -> RootPolynomialRegression:
        """Fit ``W`` by ridge regression in closed form (float64 normal equations).

        Minimises ``mean_n ||W phi(rgb_n) - s_n||^2 + lam ||W||_F^2`` with
        ``lam = ridge * trace(G) / F``, ``G`` the mean feature Gram matrix and ``F`` the
        number of features: making ``ridge`` relative keeps one value meaningful
        whatever the input's scale or exposure. ``ridge=0`` is ordinary least squares.

        Args:
            rgb: ``(N, in_chans)`` pixels, numpy or torch, the same encoding and scale
                the model will see at inference.
            spectra: ``(N, num_bands)`` target spectra of those pixels.
            ridge: one relative ridge value, or several to choose from by ``cv_folds``-fold
                cross-validation (mean squared error on held-out folds, as Lin &
                Finlayson select their regulariser). Folds are contiguous blocks of
                rows, so pass pixels grouped by image to keep folds image-disjoint, or
                pass ``groups``.
            cv_folds: number of folds when ``ridge`` is a sequence.
            groups: optional ``(N,)`` label per row (e.g. the index of the image each pixel
                comes from). Folds are then whole groups, so no image is in both the
                fitted and the held-out part: one fold per group when there are at most
                ``cv_folds`` groups (leave one image out), else groups dealt round-robin
                into ``cv_folds`` folds. Use it when images differ in size, where
                contiguous blocks would cut through them.
            response: optional ``(in_chans, num_bands)`` camera response with
                ``rgb = spectrum @ response.T`` exactly (linear RGB, no gain). The fit is
                then *physically plausible* (Lin & Finlayson 2020): the output is the
                fundamental metamer of the input plus a regressed metameric black, so
                ``response @ output`` reproduces the input RGB (exactly in train mode; in
                eval mode pixels with negative values are clamped, and
                :func:`ssrzoo.spectral.rgb_consistent` restores both properties).
            wavelengths: band centres of ``spectra`` in nm, recorded in
                ``pretrained_cfg``.
            chunk_size: rows processed at a time (bounds memory for millions of pixels).

        Returns:
            ``self``, with ``ridge_`` (the value used) and ``cv_mse_`` (ridge -> held-out
            MSE, when cross-validated) set.
        """
        x = _as_float64(rgb, "rgb")
        y = _as_float64(spectra, "spectra")
        if x.shape[1] != self.in_chans:
            raise ValueError(
                f"rgb has {x.shape[1]} channels but the model takes in_chans={self.in_chans}; "
                "pass (N, in_chans) pixels"
            )
        if y.shape[1] != self.num_bands:
            raise ValueError(
                f"spectra have {y.shape[1]} bands but the model outputs num_bands="
                f"{self.num_bands}; build it with create_model(..., num_bands={y.shape[1]})"
            )
        if x.shape[0] != y.shape[0]:
            raise ValueError(
                f"rgb has {x.shape[0]} rows but spectra have {y.shape[0]}; pass one spectrum "
                "per pixel"
            )
        ridges = [float(r) for r in np.atleast_1d(np.asarray(ridge, dtype=np.float64))]
        if not ridges or min(ridges) < 0:
            raise ValueError(f"ridge must be >= 0 (or a non-empty sequence), got {ridge!r}")
        if len(ridges) > 1 and not 2 <= cv_folds <= x.shape[0]:
            raise ValueError(
                f"cv_folds={cv_folds} needs 2 <= cv_folds <= N={x.shape[0]}; pass one ridge "
                "value to skip cross-validation"
            )
        folds = _fold_rows(x.shape[0], cv_folds if len(ridges) > 1 else 1, groups)

        cfg_changes = self._cfg_changes(response, wavelengths)
        basis = None  # metameric-black projector and fundamental-metamer map
        if response is not None:
            basis = self._plausible_basis(response)
        stats = self._fold_stats(x, y, folds, chunk_size)
        if len(ridges) > 1:
            self.cv_mse_ = {r: self._cv_mse(stats, r, basis) for r in ridges}
            best = min(self.cv_mse_, key=self.cv_mse_.__getitem__)
        else:
            self.cv_mse_, best = {}, ridges[0]
        gram, cross, count = _sum_stats(stats)
        w = self._solve(gram, cross, count, best, basis)
        self.weight.copy_(w.T.to(self.weight))
        self.ridge_ = best
        cfg = getattr(self, "pretrained_cfg", None)
        if isinstance(cfg, PretrainedCfg):
            self.pretrained_cfg = cfg.replace(**cfg_changes)
        return self

    def _plausible_basis(self, response: ArrayLike) -> tuple[torch.Tensor, torch.Tensor]:
        r = torch.as_tensor(response).detach().to("cpu", torch.float64)
        if r.shape != (self.in_chans, self.num_bands):
            raise ValueError(
                f"response must be (in_chans, num_bands) = ({self.in_chans}, {self.num_bands}), "
                f"got {tuple(r.shape)}; sample the camera response at the spectra's wavelengths"
            )
        fundamental = torch.linalg.pinv(r)  # (bands, C): rgb -> fundamental metamer
        black = torch.eye(self.num_bands, dtype=torch.float64) - fundamental @ r
        return black, fundamental

    def _fold_stats(
        self, x: torch.Tensor, y: torch.Tensor, folds: list[np.ndarray], chunk_size: int
    ) -> list[_Stats]:
        """Per fold (its row indices): (Phi^T Phi, Phi^T Y, Y^T Y, n), in chunks."""
        stats = []
        f, k = self.num_features, self.num_bands
        for rows in folds:
            g = torch.zeros(f, f, dtype=torch.float64)
            c = torch.zeros(f, k, dtype=torch.float64)
            yy = torch.zeros(k, k, dtype=torch.float64)
            for start in range(0, len(rows), chunk_size):
                index = torch.from_numpy(rows[start : start + chunk_size])
                phi, part = self.features(x[index]), y[index]
                g += phi.T @ phi
                c += phi.T @ part
                yy += part.T @ part
            stats.append((g, c, yy, len(rows)))
        return stats

    def _solve(
        self,
        g: torch.Tensor,
        c: torch.Tensor,
        n: int,
        ridge: float,
        basis: tuple[torch.Tensor, torch.Tensor] | None,
    ) -> torch.Tensor:
        """``(F, bands)`` ridge solution from summed statistics of ``n`` rows."""
        g, c = g / n, c / n
        lam = ridge * torch.trace(g) / self.num_features
        eye = torch.eye(self.num_features, dtype=torch.float64)
        w = torch.linalg.lstsq(g + lam * eye, c).solution
        if basis is not None:
            # Regress only the metameric black; the fundamental metamer is exact and sits on
            # the linear terms, which are the first in_chans features.
            black, fundamental = basis
            w = w @ black.T
            w[: self.in_chans] += fundamental.T
        return w

    def _cv_mse(
        self,
        stats: list[_Stats],
        ridge: float,
        basis: tuple[torch.Tensor, torch.Tensor] | None,
    ) -> float:
        """Held-out MSE per value, from the fold statistics alone (no second data pass)."""
        gram, cross, rows = _sum_stats(stats)
        sse, values = 0.0, 0
        for g_k, c_k, yy_k, n_k in stats:
            w = self._solve(gram - g_k, cross - c_k, rows - n_k, ridge, basis)
            # ||Phi W - Y||^2 = tr(Y^T Y) - 2 tr(W^T Phi^T Y) + tr(W^T Phi^T Phi W)
            sse += float(torch.trace(yy_k) - 2 * (w * c_k).sum() + (w * (g_k @ w)).sum())
            values += n_k * self.num_bands
        return sse / values

    def _cfg_changes(
        self, response: ArrayLike | None, wavelengths: Sequence[float] | None
    ) -> dict[str, Any]:
        """Config fields that describe the new weights (checked before fitting)."""
        # The published file's checksum and metrics no longer describe refitted weights.
        changes: dict[str, Any] = {"sha256": None, "file": None, "metrics": {}}
        if wavelengths is not None:
            wl = tuple(float(w) for w in wavelengths)
            if len(wl) != self.num_bands:
                raise ValueError(
                    f"got {len(wl)} wavelengths for num_bands={self.num_bands}; give one "
                    "centre wavelength (nm) per band"
                )
            changes.update(wavelengths=wl, fwhm=None)
        if response is not None:
            changes["response"] = torch.as_tensor(response).double().tolist()
        return changes

    def extra_repr(self) -> str:
        return (
            f"degree={self.degree}, in_chans={self.in_chans}, num_bands={self.num_bands}, "
            f"num_features={self.num_features}"
        )


def _create_regression(
    variant: str, arch_degree: int, pretrained: bool = False, **kwargs: Any
) -> RootPolynomialRegression:
    # config.json stores `degree` among the model args; it must agree with the name.
    if kwargs.setdefault("degree", arch_degree) != arch_degree:
        raise ValueError(
            f"{variant} has degree {arch_degree}, got degree={kwargs['degree']}; build "
            "RootPolynomialRegression(degree=...) directly for other degrees"
        )
    return build_model_with_cfg(RootPolynomialRegression, variant, pretrained, **kwargs)


_REGRESSION_PAPER = (
    "Y.-T. Lin, G. D. Finlayson, Physically Plausible Spectral Reconstruction, Sensors "
    "20(21):6399, 2020; G. D. Finlayson, M. Mackiewicz, A. Hurlbert, Color Correction Using "
    "Root-Polynomial Regression, IEEE TIP 24(5):1460-1470, 2015"
)


def _cfg(tag: str, **kwargs: Any) -> PretrainedCfg:
    return PretrainedCfg(
        **{
            "license": "apache-2.0",
            "nonneg_output": True,
            **protocol_fields(tag, paper=_REGRESSION_PAPER, doi="10.3390/s20216399", **kwargs),
        }
    )


default_cfgs = generate_default_cfgs(
    {
        "linear_regression.ntire2020": _cfg(
            "ntire2020",
            sha256="59a03af40a23055b61faf5e45153affd5cfcbdf35a87f6f47c1c75ba9687ffdb",
            bundled=True,
            notes="3 linear terms, no offset; ridge chosen by cross-validation.",
        ),
        "root_poly2.ntire2020": _cfg(
            "ntire2020",
            sha256="ea0f5c1be49a662295569f4919689169f3b3eef83af587285eb466548e08af26",
            bundled=True,
            notes="6 root-polynomial terms (degree 2); ridge chosen by cross-validation.",
        ),
        "root_poly3.ntire2020": _cfg(
            "ntire2020",
            sha256="ef3bb3fed40a2e8b2f55e9b58db9dec28f5425973093dd5e4d07276590636551",
            bundled=True,
            notes="13 root-polynomial terms (degree 3); ridge chosen by cross-validation.",
        ),
        "root_poly3.cave": _cfg(
            "cave",
            sha256="679c0b49efd2798217a309769531403a9db9818fdb7c36cb936acdb1221ea563",
            bundled=True,
            notes="13 root-polynomial terms (degree 3); ridge chosen by cross-validation.",
        ),
        "root_poly3.harvard": _cfg(
            "harvard",
            sha256="7ed15670c01b4b8ae00833d6347636f7b012e0cf98b339f32c5e7f6e6558eb64",
            bundled=True,
            notes="13 root-polynomial terms (degree 3); ridge chosen by cross-validation.",
        ),
        "linear_regression.pavia": _cfg(
            "pavia",
            sha256="3d287d41d352c2fb052d46653549068a9a7820e79ef42a39ca78cd0ef4f1c56f",
            bundled=True,
            notes="3 linear terms, no offset; ridge chosen by cross-validation, leaving one "
            "training scene out.",
        ),
    }
)


@register_model
def linear_regression(pretrained: bool = False, **kwargs: Any) -> RootPolynomialRegression:
    """Linear regression RGB -> spectrum (3 terms, no offset), ridge-regularised."""
    return _create_regression("linear_regression", 1, pretrained, **kwargs)


@register_model
def root_poly2(pretrained: bool = False, **kwargs: Any) -> RootPolynomialRegression:
    """Root-polynomial regression of degree 2 (6 terms), ridge-regularised."""
    return _create_regression("root_poly2", 2, pretrained, **kwargs)


@register_model
def root_poly3(pretrained: bool = False, **kwargs: Any) -> RootPolynomialRegression:
    """Root-polynomial regression of degree 3 (13 terms), ridge-regularised."""
    return _create_regression("root_poly3", 3, pretrained, **kwargs)


register_model_aliases(
    {
        "linear_regression_ntire": "linear_regression.ntire2020",
        "root_poly2_ntire": "root_poly2.ntire2020",
        "root_poly3_ntire": "root_poly3.ntire2020",
        "root_poly3_cave": "root_poly3.cave",
        "root_poly3_harvard": "root_poly3.harvard",
        "linear_regression_pavia": "linear_regression.pavia",
    }
)
