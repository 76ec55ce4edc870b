"""colour-science reflectance upsamplers as models: Jakob 2019, Otsu 2018, Mallett 2019.

:class:`Jakob2019Recovery`, :class:`Otsu2018Recovery` and :class:`Mallett2019Recovery` run
``colour.recovery``'s methods for sRGB input pixel by pixel, under the zoo's registry and
forward contract ``(B, 3, H, W) -> (B, num_bands, H, W)``, with no trainable parameters and no
gradient path. The regressions fitted in closed form, the other classical baselines, are in
:mod:`ssrzoo.models.regression`.

Registered names (see ``docs/models/classical.md``):

==========================  =========================================  ===============
architecture                what                                       tags
==========================  =========================================  ===============
``colour_jakob2019``        Jakob & Hanika 2019 sigmoid-polynomial     ``srgb``
``colour_otsu2018``         Otsu, Yamamoto & Hachisuka 2018 clusters   ``srgb``
``colour_mallett2019``      Mallett & Yuksel 2019 spectral primaries   ``srgb``
==========================  =========================================  ===============
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch
from torch import nn

from ..protocols import VIS_10NM
from ..spectral import resample
from ._builder import build_model_with_cfg
from ._layers import NonNegativeOutput, check_rgb_input
from ._pretrained import PretrainedCfg, generate_default_cfgs
from ._registry import register_model

__all__ = ["Jakob2019Recovery", "Mallett2019Recovery", "Otsu2018Recovery", "jakob2019_lut"]

_logger = logging.getLogger(__name__)


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

            # colour types the dataset's fields optional; the bundled one has them all.
            native = dataset.shape.wavelengths  # type: ignore[union-attr]
            basis = dataset.basis_functions[index]  # type: ignore[index]
            mean = dataset.means[index]  # type: ignore[index]
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


_C = TypeVar("_C", bound=_ColourRecovery)


def _create_colour(cls: type[_C], variant: str, pretrained: bool = False, **kwargs: Any) -> _C:
    # No weights exist: `pretrained` is accepted for a uniform API and has nothing to load.
    del pretrained
    if kwargs.get("wavelengths") is not None and "num_bands" not in kwargs:
        kwargs["num_bands"] = len(kwargs["wavelengths"])
    model = build_model_with_cfg(cls, variant, False, **kwargs)
    cfg = model.pretrained_cfg
    assert isinstance(cfg, PretrainedCfg)  # set by build_model_with_cfg
    wavelengths = tuple(model.wavelengths.tolist())
    # A plain attribute, which nn.Module's typing does not expect (as in build_model_with_cfg).
    model.pretrained_cfg = cfg.replace(wavelengths=wavelengths, fwhm=None)  # type: ignore[assignment]
    return model


_SRGB_NOTE = "sRGB-encoded (IEC 61966-2-1) in [0, 1], D65 white; values outside [0, 1] are clipped"


def _cfg(**kwargs: Any) -> PretrainedCfg:
    return PretrainedCfg(
        **{
            "num_bands": 31,
            "wavelengths": VIS_10NM,
            "license": "apache-2.0",
            "nonneg_output": True,
            "input_encoding": "srgb",
            "input_note": _SRGB_NOTE,
            "output_units": "reflectance",
            "dataset": "none: no trained weights (colour-science's published data)",
            "notes": (
                "Implemented by colour-science (BSD-3-Clause); no weights: pretrained=True "
                "has nothing to load. Reflectance recovered under D65 with the CIE 1931 2° "
                "observer; compare with radiance cubes only after dividing by the illuminant."
            ),
            **kwargs,
        }
    )


default_cfgs = generate_default_cfgs(
    {
        "colour_jakob2019.srgb": _cfg(
            paper=(
                "W. Jakob, J. Hanika, A Low-Dimensional Function Space for Efficient "
                "Spectral Upsampling, Computer Graphics Forum 38(2):147-155, 2019"
            ),
            doi="10.1111/cgf.13626",
        ),
        "colour_otsu2018.srgb": _cfg(
            paper=(
                "H. Otsu, M. Yamamoto, T. Hachisuka, Reproducing Spectral Reflectances From "
                "Tristimulus Colours, Computer Graphics Forum 37(6):370-381, 2018"
            ),
            doi="10.1111/cgf.13332",
        ),
        "colour_mallett2019.srgb": _cfg(
            paper=(
                "I. Mallett, C. Yuksel, Spectral Primary Decomposition for Rendering with "
                "sRGB Reflectance, Eurographics Symposium on Rendering 2019"
            ),
            doi="10.2312/sr.20191216",
        ),
    }
)


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
