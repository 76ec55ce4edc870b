"""Physically based synthetic hyperspectral scenes: dead leaves, measured spectra, measured light.

:class:`SyntheticScenes` generates radiance cubes on the fly, on any band grid, at any size:

* **Geometry**: a scale-invariant dead-leaves (occlusion) model, leaf radii drawn from
  ``p(r) ∝ r^-3`` (:mod:`ssrzoo.data.scene_geometry`), which reproduces the ~1/f² power
  spectrum and the occlusion statistics of natural images.
* **Materials**: each scene draws a palette of measured reflectances from a
  :class:`~ssrzoo.data.SpectralLibrary` and each leaf one of them (Zipf weights); with probability
  ``texture_prob`` it blends towards a second palette reflectance along a smooth random field
  (spectral texture), and it carries smooth luminance texture and a linear shading ramp
  (surface orientation).
* **Light**: each scene draws a measured illuminant by category (daylight, tungsten,
  fluorescent, LED); with probability ``mixed_prob`` a second light of another category is
  mixed in along a smooth spatial field (window light plus lamps). ``lit=False`` leaves the
  light out, for protocols whose cubes are reflectance (CAVE).
* **Radiance** = reflectance x shading x illuminant, per band, then normalised like the ICVL
  protocol (99.9th percentile -> 1).

Item ``i`` is drawn from a generator seeded with ``(seed, i)``: deterministic and worker-safe.

The spectral libraries (colour-science's by default, the shared data folder's with
:meth:`SyntheticScenes.from_shared`, or your own) are in :mod:`ssrzoo.data.spectral_libraries`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from torch.utils.data import Dataset

from ._base import Sample, make_sample
from .lighting import DEFAULT_LIGHT_WEIGHTS, LightSampler
from .scene_geometry import dead_leaves, smooth_noise
from .spectral_libraries import (
    SpectralLibrary,
    _planck_and_daylight,
    colour_illuminants,
    colour_reflectances,
    shared_illuminants,
    shared_reflectances,
)
from .transforms import SimulateRGB, resolve_band_grid, scale_exposure

__all__ = ["SyntheticScenes"]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


class SyntheticScenes(Dataset[Sample]):
    """Synthetic radiance scenes: dead leaves x measured reflectances x measured illuminants.

    See the module docstring for the model. Generated on the fly; item ``i`` depends only on
    ``(seed, i)``.

    Args:
        size: ``(height, width)`` or one int, in pixels; any size.
        length: number of scenes per epoch.
        bands: band grid (protocol or model name, ``BandGrid`` or centres in nm:
            :func:`~ssrzoo.data.resolve_band_grid`); default 400-700 nm at 10 nm.
        seed: base seed.
        reflectances: reflectance library; default
            :func:`~ssrzoo.data.spectral_libraries.colour_reflectances`.
        illuminants: illuminant library; default :func:`colour_illuminants`.
        illuminant_weights: probability of each category (renormalised over the categories the
            library has on the grid); default daylight 0.4, tungsten 0.2, fluorescent 0.2,
            LED 0.2.
        mixed_prob: probability that a second light of another category is mixed in.
        min_radius: smallest leaf radius in pixels.
        max_radius: largest leaf radius in pixels (default the larger image side).
        alpha: exponent of the radius law ``p(r) ∝ r^-alpha`` (3 = scale invariant).
        rect_prob: fraction of rectangular leaves (man-made objects) among elliptical ones.
        texture_prob: probability that a leaf blends into a second reflectance.
        palette_size: ``(low, high)``: each scene draws a palette of that many materials
            (uniform count) and its leaves draw from it with Zipf weights ``∝ 1/rank``, as real
            scenes are made of a few dominant materials; None draws every leaf from the whole
            library.
        exposure: optional ``(low, high)`` log-uniform exposure factor after normalisation.
        rgb: a :class:`~ssrzoo.data.SimulateRGB` to add ``'rgb'``, or None.
        return_reflectance: also return the reflectance cube as ``'reflectance'``.
        lit: False renders the scene as a reflectance database stores it (CAVE, Harvard's
            reflectance cubes): shaded reflectance, no illuminant, so that a prior for a
            reflectance protocol learns the RGB-to-spectrum map that protocol asks for.
        transforms: applied to each sample dict.

    Sample: ``hsi (C, H, W)`` radiance with its 99.9th percentile at 1, ``wavelengths``,
    ``illuminant (C,)`` (the primary light, unit mean; all ones, category ``"none"``, when
    not ``lit``), ``illuminant_category``, ``mixed`` (bool), ``name``; ``rgb`` and
    ``reflectance`` when asked for.
    """

    default_illuminant_weights: ClassVar[dict[str, float]] = DEFAULT_LIGHT_WEIGHTS

    def __init__(
        self,
        size: int | Sequence[int] = 128,
        length: int = 1000,
        bands: Any = None,
        seed: int = 0,
        reflectances: SpectralLibrary | None = None,
        illuminants: SpectralLibrary | None = None,
        illuminant_weights: Mapping[str, float] | None = None,
        mixed_prob: float = 0.25,
        min_radius: float = 1.5,
        max_radius: float | None = None,
        alpha: float = 3.0,
        rect_prob: float = 0.3,
        texture_prob: float = 0.6,
        palette_size: tuple[int, int] | None = (3, 12),
        exposure: tuple[float, float] | None = None,
        rgb: SimulateRGB | None = None,
        return_reflectance: bool = False,
        lit: bool = True,
        transforms: Callable[[Sample], Sample] | None = None,
    ) -> None:
        h, w = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
        if h < 1 or w < 1:
            raise ValueError(f"size must be positive, got {size}")
        self.size = (h, w)
        self.length = int(length)
        self.wavelengths = (
            np.arange(400.0, 701.0, 10.0) if bands is None else resolve_band_grid(bands)[0]
        )
        self.seed = seed
        refl = reflectances if reflectances is not None else colour_reflectances()
        lights = illuminants if illuminants is not None else colour_illuminants()
        self.reflectances, _, refl_set = refl.on_grid(self.wavelengths)
        self.reflectances = np.clip(self.reflectances, 0.0, 1.0)
        # Sets are drawn with probability ∝ sqrt(size): a 114 k compilation does not drown a
        # 79-sample natural set, and a 1-sample set is not drawn as often as a large one.
        counts = np.bincount(refl_set)
        p = np.sqrt(counts[refl_set].astype(np.float64)) / counts[refl_set]
        self._refl_p = p / p.sum()
        self.lights = LightSampler(
            lights, self.wavelengths, illuminant_weights or self.default_illuminant_weights
        )
        self.mixed_prob = mixed_prob
        self.min_radius = min_radius
        self.max_radius = max_radius
        self.alpha = alpha
        self.rect_prob = rect_prob
        self.texture_prob = texture_prob
        if palette_size is not None and not 1 <= palette_size[0] <= palette_size[1]:
            raise ValueError(
                f"palette_size must be (low, high) with 1 <= low <= high, got {palette_size}"
            )
        self.palette_size = palette_size
        self.exposure = exposure
        self.rgb = rgb
        self.return_reflectance = return_reflectance
        self.lit = lit
        self.transforms = transforms

    def __len__(self) -> int:
        return self.length

    def _materials(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Library indices of each leaf's main and secondary reflectance."""
        n_refl = self.reflectances.shape[0]
        if self.palette_size is None:
            return rng.choice(n_refl, n, p=self._refl_p), rng.choice(n_refl, n, p=self._refl_p)
        k = int(rng.integers(self.palette_size[0], self.palette_size[1] + 1))
        palette = rng.choice(n_refl, size=k, p=self._refl_p)
        zipf = 1.0 / np.arange(1, k + 1)
        zipf /= zipf.sum()
        return palette[rng.choice(k, n, p=zipf)], palette[rng.choice(k, n, p=zipf)]

    def generate(self, index: int) -> Sample:
        """Scene ``index`` (without ``transforms``)."""
        rng = np.random.default_rng([self.seed, index])
        h, w = self.size
        labels, leaves = dead_leaves(
            rng, h, w, self.min_radius, self.max_radius, self.alpha, self.rect_prob
        )
        n = leaves["radius"].size
        ra, rb = self._materials(rng, n)
        mix = np.where(rng.random(n) < self.texture_prob, rng.uniform(0.2, 1.0, n), 0.0)
        lum_amp = rng.uniform(0.0, 0.35, n)
        base = rng.uniform(0.5, 1.0, n)
        grad = rng.uniform(0.0, 0.5, n)
        gdir = rng.uniform(0.0, 2 * np.pi, n)

        yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
        lab = labels
        r = np.maximum(leaves["radius"][lab], 1.0)
        ramp = (
            (xx - leaves["cx"][lab]) * np.cos(gdir)[lab]
            + (yy - leaves["cy"][lab]) * np.sin(gdir)[lab]
        ) / r
        shading = base[lab] * np.clip(1.0 + grad[lab] * ramp, 0.1, None)
        shading *= np.clip(1.0 + lum_amp[lab] * smooth_noise(rng, h, w, 2.0), 0.05, None)
        # A scene-wide soft light falloff (vignetting of the light, large shadows).
        shading *= np.exp(0.25 * smooth_noise(rng, h, w, 4.0))
        t = mix[lab] * _sigmoid(2.0 * smooth_noise(rng, h, w, 3.0))

        refl_a = self.reflectances[ra][lab]
        refl_b = self.reflectances[rb][lab]
        refl = refl_a + t[..., None].astype(np.float32) * (refl_b - refl_a)

        if self.lit:
            light, category = self.lights.draw(rng)
        else:
            light, category = np.ones(self.wavelengths.size), "none"
        mixed = (
            self.lit and bool(rng.random() < self.mixed_prob) and len(self.lights.categories) > 1
        )
        if mixed:
            light2, _ = self.lights.draw(rng, avoid=category)
            ang = rng.uniform(0, 2 * np.pi)
            ramp_img = (xx / max(w, 1) - 0.5) * np.cos(ang) + (yy / max(h, 1) - 0.5) * np.sin(ang)
            wmap = _sigmoid(6.0 * ramp_img + 1.0 * smooth_noise(rng, h, w, 4.0))[..., None]
            illum = wmap * light + (1.0 - wmap) * light2
        else:
            illum = light[None, None, :]
        radiance = refl * shading[..., None].astype(np.float32) * illum.astype(np.float32)
        cube = np.ascontiguousarray(radiance.transpose(2, 0, 1), dtype=np.float32)
        peak = float(np.percentile(cube, 99.9))
        scale = np.float32(1.0 / peak) if peak > 0 else np.float32(1.0)
        cube *= scale
        extra: dict[str, Any] = {
            "illuminant": light.astype(np.float32),
            "illuminant_category": category,
            "mixed": mixed,
        }
        if self.return_reflectance:
            extra["reflectance"] = np.ascontiguousarray(refl.transpose(2, 0, 1), dtype=np.float32)
        sample = make_sample(cube, self.wavelengths, name=f"synthetic_{self.seed}_{index}", **extra)
        if self.exposure is not None:
            lo, hi = self.exposure
            sample = scale_exposure(sample, float(np.exp(rng.uniform(np.log(lo), np.log(hi)))))
        if self.rgb is not None:
            sample = self.rgb(sample, seed=int(rng.integers(0, 2**31 - 1)))
        return sample

    def __getitem__(self, index: int) -> Sample:
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} is out of range for {len(self)} scenes")
        sample = self.generate(index)
        return self.transforms(sample) if self.transforms is not None else sample

    @classmethod
    def from_shared(cls, root: str | Path, **kwargs: Any) -> SyntheticScenes:
        """Scenes with the rich libraries of the shared data folder.

        Reflectances: :func:`shared_reflectances`; illuminants: :func:`shared_illuminants` plus
        the CIE daylight and Planckian series of :func:`colour_illuminants`.
        """
        extra = SpectralLibrary(_planck_and_daylight(), "illuminant")
        kwargs.setdefault("reflectances", shared_reflectances(root))
        kwargs.setdefault("illuminants", shared_illuminants(root) + extra)
        return cls(**kwargs)

    def __repr__(self) -> str:
        wl = self.wavelengths
        return (
            f"SyntheticScenes(size={self.size}, length={self.length}, bands={wl.size} "
            f"({wl[0]:g}-{wl[-1]:g} nm), reflectances={self.reflectances.shape[0]}, "
            f"illuminants={self.lights.spectra.shape[0] if self.lit else 'none (unlit)'}, "
            f"seed={self.seed})"
        )
