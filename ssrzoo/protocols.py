"""The evaluation protocols a weight can be trained for, as pretrained-cfg fields.

A protocol fixes the band grid, the camera response that turns a cube into the input RGB,
the input encoding and the dataset. Every family's ``ntire2020`` (or ``cave``, ...) tag
takes its metadata from here, so all weights of one protocol agree; the datasets, the
Trainer and the benchmarks read the same definitions. This module imports nothing of ssrzoo,
so :mod:`ssrzoo.data` and :mod:`ssrzoo.models` can both use it without importing each other.
See ``docs/protocols.md``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["HARVARD_10NM", "PROTOCOLS", "ROSIS_103", "VIS_10NM", "protocol_fields"]

VIS_10NM = tuple(range(400, 701, 10))
"""31 band centres (nm), 400-700 nm at 10 nm: NTIRE2020, CAVE, ICVL."""
HARVARD_10NM = tuple(range(420, 721, 10))
"""31 band centres (nm), 420-720 nm at 10 nm: Harvard."""
# The 103 bands kept from ROSIS's 115 are usually quoted only as "430-860 nm"; we assume
# uniform spacing over that range (430/102 = 4.216 nm), the convention of Pavia SR work.
ROSIS_103 = tuple(430.0 + i * (860.0 - 430.0) / 102 for i in range(103))
"""103 band centres (nm), 430-860 nm evenly spaced: Pavia University (ROSIS)."""

PROTOCOLS: dict[str, dict[str, Any]] = {
    "ntire2020": dict(
        num_bands=31,
        wavelengths=VIS_10NM,
        response_name="cie1964_10deg",
        input_encoding="linear",
        input_note="NTIRE2020 Clean protocol: linear RGB rendered from the cube with the "
        "CIE 1964 10-degree colour matching functions, no noise, no compression; exposure: one "
        "fixed gain that maps a flat unit spectrum to 1 in the brightest channel, clip to "
        "[0, 1], 8-bit truncation",
        output_units="radiance, normalised to [0, 1]",
        dataset="NTIRE2020 spectral reconstruction challenge, Clean track (ARAD)",
        datasets=("ntire2020",),
        metrics_dataset="NTIRE2020 Clean validation",
    ),
    "cave": dict(
        num_bands=31,
        wavelengths=VIS_10NM,
        response_name="nikon_d700",
        input_encoding="linear",
        input_note="protocol cave-256-v1: linear RGB rendered from the reflectance cube with "
        "the Nikon D700 response (clean pipeline: one fixed gain that maps a flat unit "
        "reflectance to 1 in the brightest channel, clip to [0, 1], 8-bit truncation)",
        output_units="reflectance in [0, 1] (CAVE 16-bit counts / 65535)",
        dataset="CAVE multispectral image database (Yasuma et al. 2010)",
        datasets=("cave",),
        metrics_dataset="CAVE, protocol cave-256-v1 validation split (5 whole scenes)",
    ),
    "harvard": dict(
        num_bands=31,
        wavelengths=HARVARD_10NM,
        response_name="camspec_nikon_d700",
        input_encoding="linear",
        input_note="linear RGB rendered from the cube with the Nikon D700 sensitivity of "
        "the camspec database (Jiang et al., WACV 2013), which spans 400-720 nm and so "
        "covers Harvard's 420-720 nm bands; exposure: clean pipeline, one fixed gain that maps "
        "a flat unit spectrum to 1 in the brightest channel, clip to [0, 1], 8-bit truncation",
        output_units="radiance, normalised to [0, 1]",
        dataset="Harvard real-world hyperspectral images (Chakrabarti & Zickler, CVPR 2011)",
        datasets=("harvard",),
    ),
    "pavia": dict(
        num_bands=103,
        wavelengths=ROSIS_103,
        response_name="rosis_bgr",
        input_encoding="linear",
        input_note="R, G, B channels rendered with the B, G, R rows of the ROSIS spectral "
        "response used to simulate RGB from Pavia University (rosis_pavia_R_4x103.mat); "
        "band centres assumed uniform over 430-860 nm; exposure: clean pipeline, one fixed gain "
        "that maps a flat unit spectrum to 1 in the brightest channel, clip to [0, 1], 8-bit "
        "truncation",
        output_units="reflectance, scaled to [0, 1]",
        dataset="Pavia University, ROSIS sensor, 103 bands",
        datasets=("pavia_university",),
    ),
}
"""Protocol name -> the pretrained-cfg fields every weight of that protocol shares."""


def protocol_fields(tag: str, **overrides: Any) -> dict[str, Any]:
    """The pretrained-cfg fields of protocol ``tag``, with ``overrides`` applied."""
    if tag not in PROTOCOLS:
        raise KeyError(f"unknown protocol {tag!r}; known: {sorted(PROTOCOLS)}")
    return {**PROTOCOLS[tag], **overrides}
