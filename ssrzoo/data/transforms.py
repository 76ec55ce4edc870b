"""Sample transforms: crops, flips/rotations, exposure, band resampling and RGB simulation.

The geometric and photometric operations here are deterministic functions of their arguments;
randomness lives in :class:`~ssrzoo.data.RandomPatches`, which draws the arguments from a
per-sample seeded generator, so a sample is the same in any worker and any process.

All operations act on every image key of a sample (``'hsi'``, ``'rgb'``, ``'valid'``,
``'mask'``) together, so the RGB input, the cube, its validity and its labels stay aligned.
Physics (resampling, RGB simulation) comes from :mod:`ssrzoo.spectral`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from ..protocols import PROTOCOLS
from ..spectral import get_response, illuminant_spd, resample, simulate_rgb
from ._base import SPATIAL_KEYS, Sample

__all__ = [
    "Compose",
    "ResampleBands",
    "SimulateRGB",
    "crop",
    "flip_rotate",
    "resample_cube",
    "resolve_band_grid",
    "scale_exposure",
]


def _spatial(sample: Sample) -> list[str]:
    return [k for k in SPATIAL_KEYS if k in sample]


def crop(sample: Sample, top: int, left: int, height: int, width: int) -> Sample:
    """The ``height x width`` window at ``(top, left)`` of every image in the sample.

    Raises:
        ValueError: the window does not fit inside the images.
    """
    out = dict(sample)
    h, w = sample["hsi"].shape[-2:]
    if top < 0 or left < 0 or top + height > h or left + width > w:
        raise ValueError(
            f"crop {height}x{width} at ({top}, {left}) does not fit an image of {h}x{w}; use a "
            f"smaller patch or a larger image"
        )
    for k in _spatial(sample):
        out[k] = sample[k][..., top : top + height, left : left + width].clone()
    return out


def flip_rotate(sample: Sample, k: int = 0, flip: bool = False) -> Sample:
    """Mirror left-right (if ``flip``) then rotate by ``k`` quarter turns, every image alike.

    The eight combinations of ``k`` in 0..3 and ``flip`` are the dihedral group of the square;
    odd ``k`` swaps height and width.
    """
    out = dict(sample)
    for key in _spatial(sample):
        x = sample[key]
        if flip:
            x = torch.flip(x, dims=(-1,))
        if k % 4:
            x = torch.rot90(x, k % 4, dims=(-2, -1))
        out[key] = x.contiguous()
    return out


def scale_exposure(sample: Sample, factor: float) -> Sample:
    """Multiply the cube by ``factor``, as a longer or shorter exposure would.

    An ``'rgb'`` already in the sample is scaled by the same factor and clipped to [0, 1],
    which models a linear camera (the NTIRE Clean and ARAD pipelines have no tone curve);
    simulate RGB after this step instead when the cube is the source of truth.
    """
    if not factor > 0:
        raise ValueError(f"exposure factor must be positive, got {factor}")
    out = dict(sample)
    out["hsi"] = sample["hsi"] * factor
    if "rgb" in sample:
        out["rgb"] = (sample["rgb"] * factor).clamp_(0.0, 1.0)
    return out


def resolve_band_grid(spec: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """Band centres and FWHM (nm) from a protocol, a weight, a config or a list of centres.

    Args:
        spec: a protocol name (``'ntire2020'``, ``'cave'``, ``'harvard'``, ``'pavia'``: the
            band grid of :data:`ssrzoo.protocols.PROTOCOLS`, which every weight of that
            protocol shares); an object with ``wavelengths`` (and optionally ``fwhm``), such
            as a ``pretrained_cfg`` (``ssrzoo.get_pretrained_cfg('mae_ktsr_pavia')``) or a
            :class:`~ssrzoo.spectral.BandGrid` or a ``pretrained_cfg``; or a sequence of band
            centres in nm.

    Returns:
        ``(wavelengths (N,), fwhm (N,) or None)``, float64.

    Raises:
        ValueError: an unknown protocol name, no wavelengths, or centres that do not increase.
    """
    if isinstance(spec, str):
        if spec not in PROTOCOLS:
            # The data layer does not import the model registry (docs/contributing.md).
            raise ValueError(
                f"unknown band grid {spec!r}: name a protocol ({', '.join(sorted(PROTOCOLS))}), "
                "or pass a weight's grid, e.g. bands=ssrzoo.get_pretrained_cfg(name)"
            )
        return np.asarray(PROTOCOLS[spec]["wavelengths"], dtype=np.float64), None
    if hasattr(spec, "wavelengths"):
        wl = np.asarray(spec.wavelengths, np.float64)
        if wl.size == 0:
            name = getattr(spec, "name", type(spec).__name__)
            raise ValueError(
                f"{name!r} declares no wavelengths (pretrained_cfg.wavelengths); pass the band "
                "centres in nm instead"
            )
        fw = getattr(spec, "fwhm", None)
        return wl, None if fw is None else np.asarray(fw, dtype=np.float64)
    wl = np.asarray(spec, dtype=np.float64).reshape(-1)
    if wl.size == 0 or np.any(np.diff(wl) <= 0):
        raise ValueError(f"band centres must be increasing nm values, got {wl.tolist()}")
    return wl, None


def resample_cube(
    cube: Any,
    src: np.ndarray,
    dst: np.ndarray,
    method: str = "gaussian",
    fwhm: np.ndarray | None = None,
    edge_tolerance_nm: float = 0.0,
) -> Any:
    """Resample ``(C, H, W)`` from ``src`` to ``dst`` centres (:func:`ssrzoo.spectral.resample`).

    ``dst`` may overhang ``src`` by at most ``edge_tolerance_nm`` (the edge bands are then
    integrated over the source samples they have).

    Raises:
        ValueError: ``dst`` reaches further outside ``src`` than the tolerance.
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    if dst[0] < src[0] - edge_tolerance_nm or dst[-1] > src[-1] + edge_tolerance_nm:
        raise ValueError(
            f"the data covers {src[0]:g}-{src[-1]:g} nm but the target grid spans "
            f"{dst[0]:g}-{dst[-1]:g} nm; choose a grid inside the data's range"
        )
    outside = bool(dst[0] < src[0] or dst[-1] > src[-1])
    return resample(cube, src, dst, method=method, axis=-3, fwhm=fwhm, extrapolate=outside)


class ResampleBands:
    """Transform: resample ``'hsi'`` to another band grid (and set ``'wavelengths'``).

    Args:
        bands: the target grid, anything :func:`resolve_band_grid` accepts.
        method: ``'gaussian'`` (band integration, right when target bands are broader than the
            source spacing) or ``'linear'``.
        edge_tolerance_nm: allowed overhang of the target grid beyond the data's range.
    """

    def __init__(self, bands: Any, method: str = "gaussian", edge_tolerance_nm: float = 5.0):
        self.wavelengths, self.fwhm = resolve_band_grid(bands)
        self.method = method
        self.edge_tolerance_nm = edge_tolerance_nm

    def __call__(self, sample: Sample) -> Sample:
        out = dict(sample)
        src = sample["wavelengths"].double().numpy()
        out["hsi"] = resample_cube(
            sample["hsi"], src, self.wavelengths, self.method, self.fwhm, self.edge_tolerance_nm
        )
        out["wavelengths"] = torch.as_tensor(self.wavelengths, dtype=torch.float32)
        if self.fwhm is not None:
            out["fwhm"] = torch.as_tensor(self.fwhm, dtype=torch.float32)
        else:
            out.pop("fwhm", None)
        return out

    def __repr__(self) -> str:
        wl = self.wavelengths
        return f"ResampleBands({wl.size} bands {wl[0]:g}-{wl[-1]:g} nm, method={self.method!r})"


class SimulateRGB:
    """Transform: set ``sample['rgb']`` to the RGB a camera would record of ``sample['hsi']``.

    Uses :func:`ssrzoo.spectral.simulate_rgb`. For the ``'clean'`` pipeline the default
    ``gain='white'`` is a fixed gain that maps a flat unit spectrum to 1 in the brightest
    channel, so the RGB scales with the cube (exposure augmentation stays consistent); pass
    ``gain='max'`` for NTIRE2020's per-image normalisation. The ``'realistic'`` pipeline sets its
    own exposure from the image mean; the cube's scale then changes the shot-noise level only.

    Args:
        response: camera response (name or :class:`~ssrzoo.spectral.SpectralResponse`); None is
            CIE 1964 10° for ``'clean'`` and required for ``'realistic'``.
        pipeline: ``'clean'`` or ``'realistic'``.
        **options: options of the pipeline (``illuminant``, ``bit_depth``, ``npe``,
            ``jpeg_quality``, ``analog_gain``, ``outside``, ...).

    Call: ``transform(sample, seed=None)``; the seed drives the realistic pipeline's noise.
    """

    def __init__(self, response: Any = None, pipeline: str = "clean", **options: Any) -> None:
        if pipeline not in ("clean", "realistic"):
            raise ValueError(f"unknown pipeline {pipeline!r}; use 'clean' or 'realistic'")
        if pipeline == "realistic" and response is None:
            raise ValueError(
                "the realistic pipeline needs a camera response, e.g. "
                "response=ssrzoo.spectral.load_ntire2022_qe('RGB_Camera_QE.csv')"
            )
        self.response = response
        self.pipeline = pipeline
        self.options = dict(options)
        if pipeline == "clean":
            self.options.setdefault("gain", "white")
        self._white_gain: dict[tuple[float, ...], float] = {}

    def white_gain(self, wavelengths: np.ndarray) -> float:
        """The clean-pipeline gain that maps a flat unit spectrum to 1 in the brightest channel."""
        key = tuple(np.round(np.asarray(wavelengths, dtype=np.float64), 6))
        if key not in self._white_gain:
            resp = get_response(self.response if self.response is not None else "cie1964_10deg")
            mat = resp.matrix(np.asarray(key), outside=self.options.get("outside", "error"))
            if self.options.get("illuminant") is not None:
                mat = mat * illuminant_spd(self.options["illuminant"], np.asarray(key))[None]
            self._white_gain[key] = 1.0 / float(mat.sum(axis=1).max())
        return self._white_gain[key]

    def __call__(self, sample: Sample, seed: int | None = None) -> Sample:
        out = dict(sample)
        wl = sample["wavelengths"].double().numpy()
        opts = dict(self.options)
        if opts.get("gain") == "white":
            opts["gain"] = self.white_gain(wl)
        hsi = sample["hsi"]
        # The realistic pipeline's auto exposure is undefined on a black patch; such a patch
        # gets a black photo rather than an error mid-epoch.
        if self.pipeline == "realistic" and float(hsi.clamp(min=0).mean()) <= 0:
            out["rgb"] = torch.zeros((3, *hsi.shape[-2:]), dtype=torch.float32)
            return out
        rgb = simulate_rgb(hsi, wl, self.pipeline, self.response, seed=seed, **opts)
        out["rgb"] = rgb.to(torch.float32)
        return out

    def __repr__(self) -> str:
        name = getattr(self.response, "name", self.response)
        return f"SimulateRGB(pipeline={self.pipeline!r}, response={name!r})"


class Compose:
    """Apply transforms in order (each a callable ``sample -> sample``)."""

    def __init__(self, transforms: Sequence[Callable[[Sample], Sample]]) -> None:
        self.transforms = list(transforms)

    def __call__(self, sample: Sample) -> Sample:
        for t in self.transforms:
            sample = t(sample)
        return sample

    def __repr__(self) -> str:
        return f"Compose({self.transforms!r})"
