"""Classical spectral reconstruction: closed-form regressions and colour-science upsamplers.

Two kinds of baseline share the zoo's registry and forward contract
``(B, 3, H, W) -> (B, num_bands, H, W)``, applied pixel by pixel:

* **Regressions fitted in closed form** (:class:`RootPolynomialRegression`): linear
  regression and root-polynomial regression of degree 2 and 3 with a ridge (Tikhonov)
  penalty, as benchmarked by Lin & Finlayson, "Physically Plausible Spectral
  Reconstruction", Sensors 20(21):6399, 2020 (doi:10.3390/s20216399), with the
  root-polynomial terms of Finlayson, Mackiewicz & Hurlbert, "Color Correction Using
  Root-Polynomial Regression", IEEE TIP 24(5):1460-1470, 2015
  (doi:10.1109/TIP.2015.2405336). Their weights are an ``nn.Parameter``: they save as
  safetensors, load through ``create_model(..., pretrained=True)`` or
  ``checkpoint_path=``, and can be fine-tuned by gradient descent.
* **colour-science reflectance upsamplers** (:class:`Jakob2019Recovery`,
  :class:`Otsu2018Recovery`, :class:`Mallett2019Recovery`): ``colour.recovery``'s
  methods for sRGB input, with no trainable parameters and no gradient path.

Registered names (see ``docs/models/classical.md``):

==========================  =========================================  ===============
architecture                what                                       tags
==========================  =========================================  ===============
``linear_regression``       3 linear terms                             ``ntire2020``
``root_poly2``              6 root-polynomial terms (degree 2)         ``ntire2020``
``root_poly3``              13 root-polynomial terms (degree 3)        ``ntire2020``
``colour_jakob2019``        Jakob & Hanika 2019 sigmoid-polynomial     ``srgb``
``colour_otsu2018``         Otsu, Yamamoto & Hachisuka 2018 clusters   ``srgb``
``colour_mallett2019``      Mallett & Yuksel 2019 spectral primaries   ``srgb``
==========================  =========================================  ===============
"""

from __future__ import annotations

import itertools
import logging
import math
import time
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..spectral import resample
from ._builder import build_model_with_cfg
from ._layers import NonNegativeOutput, check_rgb_input
from ._pretrained import PretrainedCfg, generate_default_cfgs
from ._protocols import VIS_10NM, protocol_fields
from ._registry import register_model, register_model_aliases

__all__ = [
    "Jakob2019Recovery",
    "Mallett2019Recovery",
    "Otsu2018Recovery",
    "RootPolynomialRegression",
    "jakob2019_lut",
    "root_polynomial_exponents",
]

_logger = logging.getLogger(__name__)

ArrayLike = np.ndarray | torch.Tensor

#: Ridge values (relative, see :meth:`RootPolynomialRegression.fit`) tried by default.
DEFAULT_RIDGES: tuple[float, ...] = tuple(10.0**k for k in range(-9, 1))


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


# ---------------------------------------------------------------------------------------
# Closed-form regressions
# ---------------------------------------------------------------------------------------


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
                rows, so pass pixels grouped by image to keep folds image-disjoint.
            cv_folds: number of folds when ``ridge`` is a sequence.
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
        folds = cv_folds if len(ridges) > 1 else 1
        if len(ridges) > 1 and not 2 <= cv_folds <= x.shape[0]:
            raise ValueError(
                f"cv_folds={cv_folds} needs 2 <= cv_folds <= N={x.shape[0]}; pass one ridge "
                "value to skip cross-validation"
            )

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
        total = [sum(s[i] for s in stats) for i in range(4)]
        w = self._solve(total[0], total[1], total[3], best, basis)
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
        self, x: torch.Tensor, y: torch.Tensor, folds: int, chunk_size: int
    ) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]]:
        """Per contiguous fold: (Phi^T Phi, Phi^T Y, Y^T Y, n), accumulated in chunks."""
        stats = []
        bounds = np.linspace(0, x.shape[0], folds + 1).astype(int)
        f, k = self.num_features, self.num_bands
        for lo, hi in itertools.pairwise(bounds.tolist()):
            g = torch.zeros(f, f, dtype=torch.float64)
            c = torch.zeros(f, k, dtype=torch.float64)
            yy = torch.zeros(k, k, dtype=torch.float64)
            for start in range(lo, hi, chunk_size):
                phi = self.features(x[start : min(start + chunk_size, hi)])
                part = y[start : min(start + chunk_size, hi)]
                g += phi.T @ phi
                c += phi.T @ part
                yy += part.T @ part
            stats.append((g, c, yy, hi - lo))
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
        stats: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]],
        ridge: float,
        basis: tuple[torch.Tensor, torch.Tensor] | None,
    ) -> float:
        """Held-out MSE per value, from the fold statistics alone (no second data pass)."""
        total = [sum(s[i] for s in stats) for i in range(4)]
        sse, count = 0.0, 0
        for g_k, c_k, yy_k, n_k in stats:
            w = self._solve(total[0] - g_k, total[1] - c_k, total[3] - n_k, ridge, basis)
            # ||Phi W - Y||^2 = tr(Y^T Y) - 2 tr(W^T Phi^T Y) + tr(W^T Phi^T Phi W)
            sse += float(torch.trace(yy_k) - 2 * (w * c_k).sum() + (w * (g_k @ w)).sum())
            count += n_k * self.num_bands
        return sse / count

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


# ---------------------------------------------------------------------------------------
# colour-science reflectance upsamplers
# ---------------------------------------------------------------------------------------


def _band_grid(
    num_bands: int, wavelengths: Sequence[float] | None, valid: tuple[float, float], what: str
) -> np.ndarray:
    if wavelengths is None:
        grid = np.linspace(400.0, 700.0, num_bands)
    else:
        grid = np.asarray(wavelengths, dtype=np.float64)
        if grid.ndim != 1 or len(grid) != num_bands:
            raise ValueError(
                f"got {grid.size} wavelengths for num_bands={num_bands}; pass one centre "
                "wavelength (nm) per band"
            )
    if np.any(np.diff(grid) <= 0):
        raise ValueError("wavelengths must increase; sort them")
    if grid[0] < valid[0] or grid[-1] > valid[1]:
        raise ValueError(
            f"{what} is defined on {valid[0]:g}-{valid[1]:g} nm, got wavelengths "
            f"{grid[0]:g}-{grid[-1]:g} nm; request bands inside that range"
        )
    return grid


class _ColourRecovery(NonNegativeOutput, nn.Module):
    """Shared plumbing: tensor <-> numpy pixels, band grid, input checks.

    Subclasses implement :meth:`recover` on ``(N, 3)`` sRGB-encoded pixels in [0, 1].
    """

    supports_backward = False
    #: wavelength range (nm) on which the method's spectra are defined
    valid_range: tuple[float, float] = (380.0, 780.0)
    method_name = ""

    def __init__(
        self, in_chans: int = 3, num_bands: int = 31, wavelengths: Sequence[float] | None = None
    ) -> None:
        super().__init__()
        if in_chans != 3:
            raise ValueError(
                f"{type(self).__name__} takes sRGB with in_chans=3, got in_chans={in_chans}"
            )
        self.in_chans = in_chans
        self.num_bands = num_bands
        self.wavelengths = _band_grid(num_bands, wavelengths, self.valid_range, self.method_name)

    def recover(self, srgb: np.ndarray) -> np.ndarray:
        """``(N, 3)`` sRGB-encoded float64 in [0, 1] -> ``(N, num_bands)`` reflectance."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # No parameters to match: the methods compute in float64 and return x's dtype.
        check_rgb_input(x, self.in_chans)
        b, _, h, w = x.shape
        # sRGB outside [0, 1] has no reflectance; the methods assume the gamut.
        pixels = x.detach().permute(0, 2, 3, 1).reshape(-1, 3).double().cpu().numpy()
        spectra = self.recover(np.clip(pixels, 0.0, 1.0))
        out = torch.from_numpy(np.ascontiguousarray(spectra)).to(device=x.device, dtype=x.dtype)
        out = out.reshape(b, h, w, self.num_bands).permute(0, 3, 1, 2).contiguous()
        return self.project_output(out)

    def extra_repr(self) -> str:
        wl = self.wavelengths
        return f"num_bands={self.num_bands}, wavelengths={wl[0]:g}-{wl[-1]:g} nm"


def _srgb_decode(srgb: np.ndarray) -> np.ndarray:
    import colour

    return colour.cctf_decoding(srgb, function="sRGB")


# Built once per (size, path) and process: generating even a small table takes minutes.
_JAKOB_LUTS: dict[tuple[int, str | None], Any] = {}


def jakob2019_lut(size: int = 5, path: str | Path | None = None) -> Any:
    """The ``colour.recovery.LUT3D_Jakob2019`` table for sRGB, built once per process.

    ``LUT3D_Jakob2019.generate`` solves one small optimisation per table entry
    (``3 * size**3`` of them, about 0.1 s each on a free CPU core). The default size 5
    (375 entries) took 36 s on a lightly loaded 2-core machine and 5.5 min on the same
    machine at load 11. The table is kept in memory, so later models reuse it.

    Args:
        size: samples per table axis; larger is more accurate and slower
            (cost grows as ``size**3``). The published tables use 64.
        path: a ``*.coeff`` file: read when it exists (for instance the published
            ``sRGB.coeff`` of Jakob & Hanika's supplement, colour-datasets record 4050598,
            whose size then wins over ``size``), else generated and written there so
            later processes skip the build.

    Returns:
        A ``colour.recovery.LUT3D_Jakob2019`` ready for ``RGB_to_coefficients``.
    """
    from colour import MSDS_CMFS, SDS_ILLUMINANTS, SpectralShape
    from colour.models import RGB_COLOURSPACE_sRGB
    from colour.recovery import LUT3D_Jakob2019

    key = (int(size), str(Path(path).expanduser()) if path is not None else None)
    if key in _JAKOB_LUTS:
        return _JAKOB_LUTS[key]
    lut = LUT3D_Jakob2019()
    file = Path(path).expanduser() if path is not None else None
    if file is not None and file.is_file():
        lut.read(file)
    else:
        start = time.perf_counter()
        _logger.info("generating the Jakob 2019 sRGB table (size %d)", size)
        # 10 nm colour matching functions (the library's own example) instead of its 5 nm
        # default: 2.5x faster to build, and the table's colour error does not change.
        shape = SpectralShape(360, 780, 10)
        cmfs = MSDS_CMFS["CIE 1931 2 Degree Standard Observer"].copy().align(shape)
        illuminant = SDS_ILLUMINANTS["D65"].copy().align(shape)
        lut.generate(
            RGB_COLOURSPACE_sRGB, cmfs, illuminant, int(size), print_callable=_logger.debug
        )
        _logger.info("Jakob 2019 table built in %.1f s", time.perf_counter() - start)
        if file is not None:
            file.parent.mkdir(parents=True, exist_ok=True)
            lut.write(file)
    _JAKOB_LUTS[key] = lut
    return lut


class Jakob2019Recovery(_ColourRecovery):
    """Jakob & Hanika (2019) sigmoid-polynomial reflectance via ``colour.recovery``.

    W. Jakob, J. Hanika, "A Low-Dimensional Function Space for Efficient Spectral
    Upsampling", Computer Graphics Forum 38(2):147-155, 2019 (doi:10.1111/cgf.13626).
    Each pixel's three coefficients come from ``LUT3D_Jakob2019.RGB_to_coefficients``
    on linear sRGB (D65, CIE 1931 2° observer); the spectrum
    ``1/2 + u / (2 sqrt(1 + u^2))`` with ``u = c0 l^2 + c1 l + c2`` is evaluated
    directly at the requested wavelengths ``l`` (nm), as ``colour.recovery.sd_Jakob2019``
    does, so no resampling is needed.

    The lookup table is built lazily on the first forward by :func:`jakob2019_lut` (375
    optimisations for the default ``lut_size=5``: about half a minute on a free core, several
    minutes on a busy one) and shared across models. With ``lut_size=5`` the recovered
    reflectance re-renders to the input colour within 3.7 % on average (linear sRGB,
    uniform random colours; ``lut_size=3``: 16 %); pass ``lut_path`` to the published
    64-sample ``*.coeff`` table for the paper's accuracy.

    Args:
        in_chans: must be 3.
        num_bands: output bands.
        wavelengths: band centres in nm within 360-780; default ``num_bands`` evenly
            spaced over 400-700 nm.
        lut_size: table samples per axis when it is generated.
        lut_path: ``*.coeff`` table to read, or to write after generating.

    Shape:
        ``(B, 3, H, W)`` sRGB-encoded in [0, 1] -> ``(B, num_bands, H, W)`` reflectance
        in [0, 1] (under D65).
    """

    valid_range = (360.0, 780.0)
    method_name = "Jakob 2019"

    def __init__(
        self,
        in_chans: int = 3,
        num_bands: int = 31,
        wavelengths: Sequence[float] | None = None,
        lut_size: int = 5,
        lut_path: str | None = None,
    ) -> None:
        super().__init__(in_chans, num_bands, wavelengths)
        self.lut_size = lut_size
        self.lut_path = lut_path

    def coefficients(self, srgb: np.ndarray) -> np.ndarray:
        """``(N, 3)`` sRGB-encoded pixels -> ``(N, 3)`` sigmoid-polynomial coefficients."""
        lut = jakob2019_lut(self.lut_size, self.lut_path)
        return np.reshape(lut.RGB_to_coefficients(_srgb_decode(srgb)), (-1, 3))

    def recover(self, srgb: np.ndarray) -> np.ndarray:
        c = self.coefficients(srgb)
        u = c[:, :1] * self.wavelengths**2 + c[:, 1:2] * self.wavelengths + c[:, 2:]
        return 0.5 + u / (2.0 * np.sqrt(1.0 + u**2))


class Otsu2018Recovery(_ColourRecovery):
    """Otsu, Yamamoto & Hachisuka (2018) clustered-PCA reflectance via ``colour.recovery``.

    H. Otsu, M. Yamamoto, T. Hachisuka, "Reproducing Spectral Reflectances From
    Tristimulus Colours", Computer Graphics Forum 37(6):370-381, 2018
    (doi:10.1111/cgf.13332). sRGB is converted to CIE XYZ (D65) with
    ``colour.sRGB_to_XYZ``; each pixel's cluster is picked by the library's
    ``Dataset_Otsu2018.select`` on its xy chromaticity, and the cluster's mean plus three
    basis functions are weighted to reproduce the XYZ, then clipped to [0, 1], as
    ``colour.recovery.XYZ_to_sd_Otsu2018`` does with its default dataset, CIE 1931 2°
    observer and D65. The per-cluster 3x3 systems are solved once and applied to all
    pixels of the cluster at once; the basis is resampled (linearly) from the
    dataset's 380-730 nm / 10 nm grid to the requested bands.

    Args:
        in_chans: must be 3.
        num_bands: output bands.
        wavelengths: band centres in nm within 380-730; default ``num_bands`` evenly
            spaced over 400-700 nm.

    Shape:
        ``(B, 3, H, W)`` sRGB-encoded in [0, 1] -> ``(B, num_bands, H, W)`` reflectance
        in [0, 1] (under D65).
    """

    valid_range = (380.0, 730.0)
    method_name = "Otsu 2018"

    def __init__(
        self, in_chans: int = 3, num_bands: int = 31, wavelengths: Sequence[float] | None = None
    ) -> None:
        super().__init__(in_chans, num_bands, wavelengths)
        self._clusters: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}

    def _cluster(self, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(M^-1, XYZ of mean, basis on our bands, mean on our bands)`` of a cluster."""
        if index not in self._clusters:
            import colour
            from colour.colorimetry import handle_spectral_arguments
            from colour.recovery import SPECTRAL_SHAPE_OTSU2018
            from colour.recovery.otsu2018 import DATASET_REFERENCE_OTSU2018 as dataset
            from colour.utilities import suppress_warnings

            native = dataset.shape.wavelengths
            basis, mean = dataset.basis_functions[index], dataset.means[index]
            # XYZ_to_sd_Otsu2018's own defaults and integration; its notices about aligning
            # the CMFs and illuminant are silenced.
            with suppress_warnings(colour_runtime_warnings=True):
                cmfs, illuminant = handle_spectral_arguments(shape_default=SPECTRAL_SHAPE_OTSU2018)
                with colour.domain_range_scale("ignore"):
                    xyz_basis = [
                        colour.sd_to_XYZ(colour.SpectralDistribution(v, native), cmfs, illuminant)
                        / 100
                        for v in (*basis, mean)
                    ]
            m = np.stack(xyz_basis[:3], axis=1)
            self._clusters[index] = (
                np.linalg.inv(m),
                xyz_basis[3],
                resample(basis, native, self.wavelengths, method="linear", axis=-1),
                resample(mean, native, self.wavelengths, method="linear", axis=-1),
            )
        return self._clusters[index]

    def recover(self, srgb: np.ndarray) -> np.ndarray:
        import colour
        from colour.recovery.otsu2018 import DATASET_REFERENCE_OTSU2018 as dataset

        xyz = np.reshape(colour.sRGB_to_XYZ(srgb), (-1, 3))
        xy = np.reshape(colour.XYZ_to_xy(xyz), (-1, 2))
        index = np.fromiter((dataset.select(p) for p in xy), dtype=np.int64, count=len(xy))
        out = np.empty((len(xyz), self.num_bands))
        for k in np.unique(index):
            m_inv, xyz_mean, basis, mean = self._cluster(int(k))
            rows = index == k
            out[rows] = (xyz[rows] - xyz_mean) @ m_inv.T @ basis + mean
        return np.clip(out, 0.0, 1.0)


class Mallett2019Recovery(_ColourRecovery):
    """Mallett & Yuksel (2019) spectral primary decomposition via ``colour.recovery``.

    I. Mallett, C. Yuksel, "Spectral Primary Decomposition for Rendering with sRGB
    Reflectance", EGSR 2019 (doi:10.2312/sr.20191216). The reflectance is the linear sRGB
    weighted sum of the library's three basis spectra
    ``MSDS_BASIS_FUNCTIONS_sRGB_MALLETT2019`` (what ``RGB_to_sd_Mallett2019`` returns),
    computed for all pixels at once; the basis is resampled (linearly) from its
    380-780 nm / 5 nm grid to the requested bands.

    Args:
        in_chans: must be 3.
        num_bands: output bands.
        wavelengths: band centres in nm within 380-780; default ``num_bands`` evenly
            spaced over 400-700 nm.

    Shape:
        ``(B, 3, H, W)`` sRGB-encoded in [0, 1] -> ``(B, num_bands, H, W)`` reflectance
        in [0, 1] (under D65).
    """

    valid_range = (380.0, 780.0)
    method_name = "Mallett 2019"

    def __init__(
        self, in_chans: int = 3, num_bands: int = 31, wavelengths: Sequence[float] | None = None
    ) -> None:
        super().__init__(in_chans, num_bands, wavelengths)
        from colour.recovery import MSDS_BASIS_FUNCTIONS_sRGB_MALLETT2019 as basis

        # (bands, 3): red, green and blue primaries sampled at our bands
        self._basis = resample(basis.values, basis.wavelengths, self.wavelengths, axis=0)

    def recover(self, srgb: np.ndarray) -> np.ndarray:
        return _srgb_decode(srgb) @ self._basis.T


# ---------------------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------------------


def _create_regression(
    variant: str, arch_degree: int, pretrained: bool = False, **kwargs: Any
) -> nn.Module:
    # config.json stores `degree` among the model args; it must agree with the name.
    if kwargs.setdefault("degree", arch_degree) != arch_degree:
        raise ValueError(
            f"{variant} has degree {arch_degree}, got degree={kwargs['degree']}; build "
            "RootPolynomialRegression(degree=...) directly for other degrees"
        )
    return build_model_with_cfg(RootPolynomialRegression, variant, pretrained, **kwargs)


def _create_colour(
    cls: type[_ColourRecovery], variant: str, pretrained: bool = False, **kwargs: Any
) -> nn.Module:
    # No weights exist: `pretrained` is accepted for a uniform API and has nothing to load.
    del pretrained
    if kwargs.get("wavelengths") is not None and "num_bands" not in kwargs:
        kwargs["num_bands"] = len(kwargs["wavelengths"])
    model = build_model_with_cfg(cls, variant, False, **kwargs)
    model.pretrained_cfg = model.pretrained_cfg.replace(
        wavelengths=tuple(model.wavelengths.tolist()), fwhm=None
    )
    return model


_REGRESSION_PAPER = (
    "Y.-T. Lin, G. D. Finlayson, Physically Plausible Spectral Reconstruction, Sensors "
    "20(21):6399, 2020; G. D. Finlayson, M. Mackiewicz, A. Hurlbert, Color Correction Using "
    "Root-Polynomial Regression, IEEE TIP 24(5):1460-1470, 2015"
)
_SRGB_NOTE = "sRGB-encoded (IEC 61966-2-1) in [0, 1], D65 white; values outside [0, 1] are clipped"


def _cfg(**kwargs: Any) -> PretrainedCfg:
    defaults: dict[str, Any] = {
        "num_bands": 31,
        "wavelengths": VIS_10NM,
        "license": "apache-2.0",
        "nonneg_output": True,
    }
    return PretrainedCfg(**{**defaults, **kwargs})


def _regression_cfg(tag: str, **kwargs: Any) -> PretrainedCfg:
    return _cfg(**protocol_fields(tag, paper=_REGRESSION_PAPER, doi="10.3390/s20216399", **kwargs))


def _colour_cfg(**kwargs: Any) -> PretrainedCfg:
    return _cfg(
        input_encoding="srgb",
        input_note=_SRGB_NOTE,
        output_units="reflectance",
        dataset="none: no trained weights (colour-science's published data)",
        notes=(
            "Implemented by colour-science (BSD-3-Clause); no weights: pretrained=True "
            "has nothing to load. Reflectance recovered under D65 with the CIE 1931 2° "
            "observer; compare with radiance cubes only after dividing by the illuminant."
        ),
        **kwargs,
    )


default_cfgs = generate_default_cfgs(
    {
        "linear_regression.ntire2020": _regression_cfg(
            "ntire2020",
            sha256="59a03af40a23055b61faf5e45153affd5cfcbdf35a87f6f47c1c75ba9687ffdb",
            bundled=True,
            notes="3 linear terms, no offset; ridge chosen by cross-validation.",
        ),
        "root_poly2.ntire2020": _regression_cfg(
            "ntire2020",
            sha256="ea0f5c1be49a662295569f4919689169f3b3eef83af587285eb466548e08af26",
            bundled=True,
            notes="6 root-polynomial terms (degree 2); ridge chosen by cross-validation.",
        ),
        "root_poly3.ntire2020": _regression_cfg(
            "ntire2020",
            sha256="ef3bb3fed40a2e8b2f55e9b58db9dec28f5425973093dd5e4d07276590636551",
            bundled=True,
            notes="13 root-polynomial terms (degree 3); ridge chosen by cross-validation.",
        ),
        "root_poly3.cave": _regression_cfg(
            "cave",
            sha256="679c0b49efd2798217a309769531403a9db9818fdb7c36cb936acdb1221ea563",
            bundled=True,
            notes="13 root-polynomial terms (degree 3); ridge chosen by cross-validation.",
        ),
        "colour_jakob2019.srgb": _colour_cfg(
            paper=(
                "W. Jakob, J. Hanika, A Low-Dimensional Function Space for Efficient "
                "Spectral Upsampling, Computer Graphics Forum 38(2):147-155, 2019"
            ),
            doi="10.1111/cgf.13626",
        ),
        "colour_otsu2018.srgb": _colour_cfg(
            paper=(
                "H. Otsu, M. Yamamoto, T. Hachisuka, Reproducing Spectral Reflectances From "
                "Tristimulus Colours, Computer Graphics Forum 37(6):370-381, 2018"
            ),
            doi="10.1111/cgf.13332",
        ),
        "colour_mallett2019.srgb": _colour_cfg(
            paper=(
                "I. Mallett, C. Yuksel, Spectral Primary Decomposition for Rendering with "
                "sRGB Reflectance, Eurographics Symposium on Rendering 2019"
            ),
            doi="10.2312/sr.20191216",
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


@register_model
def colour_jakob2019(pretrained: bool = False, **kwargs: Any) -> Jakob2019Recovery:
    """Jakob & Hanika 2019 reflectance from sRGB (colour-science; lookup table built lazily)."""
    return _create_colour(Jakob2019Recovery, "colour_jakob2019", pretrained, **kwargs)


@register_model
def colour_otsu2018(pretrained: bool = False, **kwargs: Any) -> Otsu2018Recovery:
    """Otsu et al. 2018 reflectance from sRGB (colour-science)."""
    return _create_colour(Otsu2018Recovery, "colour_otsu2018", pretrained, **kwargs)


@register_model
def colour_mallett2019(pretrained: bool = False, **kwargs: Any) -> Mallett2019Recovery:
    """Mallett & Yuksel 2019 reflectance from sRGB (colour-science)."""
    return _create_colour(Mallett2019Recovery, "colour_mallett2019", pretrained, **kwargs)


register_model_aliases(
    {
        "linear_regression_ntire": "linear_regression.ntire2020",
        "root_poly2_ntire": "root_poly2.ntire2020",
        "root_poly3_ntire": "root_poly3.ntire2020",
        "root_poly3_cave": "root_poly3.cave",
    }
)
