"""Spectral physics shared by models, datasets, training and evaluation.

Band grids and resampling (:mod:`.bands`), camera responses with a registry and file loaders
(:mod:`.responses`), RGB simulation pipelines (:mod:`.simulate`), sRGB previews
(:mod:`.render`), the photo-to-camera colour correction (:mod:`.camera`) and the projection
onto non-negative, RGB-consistent spectra (:mod:`.consistency`). Pure
numpy/colour-science; imports nothing else of ssrzoo. Formulas and file formats:
``docs/spectral.md``.

>>> from ssrzoo.spectral import BandGrid, get_response, simulate_rgb
>>> grid = BandGrid.uniform(400, 700, 10)
>>> get_response("cie1964_10deg").matrix(grid).shape
(3, 31)
"""

from __future__ import annotations

from .bands import BandGrid, resample, resampling_matrix
from .camera import srgb_to_camera_matrix
from .consistency import project_rgb_consistent
from .render import render_srgb, xyz_from_cube
from .responses import (
    SpectralResponse,
    get_response,
    list_responses,
    load_camspec_jiang2013,
    load_nikon_d700,
    load_ntire2022_qe,
    load_responses_mat,
    load_rosis_srf,
    register_response,
)
from .simulate import (
    NTIRE2022_ANALOG_GAIN,
    illuminant_spd,
    simulate_clean,
    simulate_realistic,
    simulate_rgb,
)

__all__ = [
    "NTIRE2022_ANALOG_GAIN",
    "BandGrid",
    "SpectralResponse",
    "get_response",
    "illuminant_spd",
    "list_responses",
    "load_camspec_jiang2013",
    "load_nikon_d700",
    "load_ntire2022_qe",
    "load_responses_mat",
    "load_rosis_srf",
    "project_rgb_consistent",
    "register_response",
    "render_srgb",
    "resample",
    "resampling_matrix",
    "simulate_clean",
    "simulate_realistic",
    "simulate_rgb",
    "srgb_to_camera_matrix",
    "xyz_from_cube",
]
