"""Measured light for reflectance data: draw an illuminant by category, relight a cube.

CAVE and similar databases store *reflectance*; a camera sees radiance, reflectance times the
light. :class:`Relight` turns each training patch into radiance under a measured illuminant
drawn per patch (daylight, tungsten, fluorescent, LED), so a reflectance database teaches a
model the variety of light it will meet in photos. :class:`LightSampler` is the draw itself,
shared with :class:`~ssrzoo.data.SyntheticScenes`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ._base import Sample
from .spectral_libraries import (
    ILLUMINANT_CATEGORIES,
    SpectralLibrary,
    _planck_and_daylight,
    colour_illuminants,
    shared_illuminants,
)

__all__ = ["DEFAULT_LIGHT_WEIGHTS", "LightSampler", "Relight"]

#: Probability of each illuminant category when none is given.
DEFAULT_LIGHT_WEIGHTS: dict[str, float] = {
    "daylight": 0.4,
    "tungsten": 0.2,
    "fluorescent": 0.2,
    "led": 0.2,
}


def _check_categories(weights: Mapping[str, float]) -> None:
    unknown = sorted(set(weights) - set(ILLUMINANT_CATEGORIES))
    if unknown:
        raise ValueError(f"unknown illuminant categories {unknown}; use {ILLUMINANT_CATEGORIES}")


class LightSampler:
    """Illuminants of a library on one band grid, drawn by category.

    A category is drawn first (with ``weights``), then a light uniformly within it: a library
    with 300 LEDs and 5 tungsten lamps still gives tungsten its share.

    Args:
        library: the illuminants.
        wavelengths: ``(C,)`` band centres (nm) the lights are resampled to.
        weights: probability of each category of :data:`ILLUMINANT_CATEGORIES`
            (renormalised over those the library has); default :data:`DEFAULT_LIGHT_WEIGHTS`.

    Attributes:
        spectra: ``(N, C)`` float32 lights, each scaled to unit mean.
        groups: ``(N,)`` category of each light.
        categories: the categories drawn from.
    """

    def __init__(
        self,
        library: SpectralLibrary,
        wavelengths: np.ndarray,
        weights: Mapping[str, float] | None = None,
    ) -> None:
        wl = np.asarray(wavelengths, dtype=np.float64)
        spd, groups, _ = library.on_grid(wl)
        spd = np.clip(spd, 0.0, None)
        mean = spd.mean(axis=1, keepdims=True)
        ok = mean[:, 0] > 0
        self.spectra = (spd[ok] / mean[ok]).astype(np.float32)
        self.groups = groups[ok]
        weights = dict(weights if weights is not None else DEFAULT_LIGHT_WEIGHTS)
        _check_categories(weights)
        present = {c: np.flatnonzero(self.groups == c) for c in weights}
        self.categories = [c for c, v in weights.items() if v > 0 and present[c].size]
        if not self.categories:
            raise ValueError(
                f"the illuminant library has no spectra of categories {sorted(weights)} on "
                f"{wl[0]:g}-{wl[-1]:g} nm"
            )
        p = np.asarray([weights[c] for c in self.categories], dtype=np.float64)
        self._p = p / p.sum()
        self._members = {c: present[c] for c in self.categories}

    def draw(self, rng: np.random.Generator, avoid: str | None = None) -> tuple[np.ndarray, str]:
        """One light ``(C,)`` (unit mean) and its category; ``avoid`` excludes a category
        when another is available."""
        cats, p = self.categories, self._p
        if avoid is not None and len(cats) > 1:
            keep = [i for i, c in enumerate(cats) if c != avoid]
            cats = [cats[i] for i in keep]
            p = p[keep] / p[keep].sum()
        cat = cats[int(rng.choice(len(cats), p=p))]
        return self.spectra[int(rng.choice(self._members[cat]))], cat


class Relight:
    """Turn a reflectance sample into radiance under a measured light drawn per call.

    ``hsi`` becomes ``hsi * light / max(light)``: a white surface peaks at 1 in its brightest
    band, the scale of the ICVL protocol's normalised radiance, before any exposure
    augmentation. Used by :class:`~ssrzoo.data.RandomPatches` (``relight=``) after cropping, so
    every patch of a scene meets a different light.

    Args:
        illuminants: the light library; default :func:`~ssrzoo.data.colour_illuminants`.
        weights: category probabilities (see :class:`LightSampler`).

    The sample gains ``'illuminant'`` ``(C,)``, the light as applied.
    """

    def __init__(
        self,
        illuminants: SpectralLibrary | None = None,
        weights: Mapping[str, float] | None = None,
    ) -> None:
        # checked here, not at the first draw inside a DataLoader worker
        _check_categories(weights or {})
        self.library = illuminants if illuminants is not None else colour_illuminants()
        self.weights = dict(weights) if weights is not None else None
        self._samplers: dict[tuple[float, ...], LightSampler] = {}

    def sampler(self, wavelengths: np.ndarray) -> LightSampler:
        """The light sampler for one band grid (built once per grid)."""
        key = tuple(float(w) for w in np.asarray(wavelengths).reshape(-1))
        if key not in self._samplers:
            self._samplers[key] = LightSampler(self.library, np.asarray(key), self.weights)
        return self._samplers[key]

    def __call__(self, sample: Sample, rng: np.random.Generator) -> Sample:
        if "wavelengths" not in sample:
            raise ValueError("Relight needs the sample's 'wavelengths' to resample the light")
        light, _ = self.sampler(np.asarray(sample["wavelengths"])).draw(rng)
        light = light / light.max()
        out = dict(sample)
        hsi = sample["hsi"]
        out["hsi"] = hsi * torch.as_tensor(light, dtype=hsi.dtype)[:, None, None]
        out["illuminant"] = torch.as_tensor(light)
        return out

    @classmethod
    def from_shared(cls, root: str | Path, **kwargs: Any) -> Relight:
        """Lights of the shared data folder (:func:`~ssrzoo.data.shared_illuminants`) plus
        the CIE daylight and Planckian series, as :meth:`SyntheticScenes.from_shared
        <ssrzoo.data.SyntheticScenes.from_shared>` uses."""
        extra = SpectralLibrary(_planck_and_daylight(), "illuminant")
        return cls(shared_illuminants(root) + extra, **kwargs)

    def __repr__(self) -> str:
        return f"Relight({self.library!r}, weights={self.weights})"
