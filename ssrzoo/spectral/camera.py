"""From photos to a camera's RGB: the colour-correction matrix linear sRGB -> camera.

A weight trained on RGB simulated through a response ``R`` (e.g. the NTIRE2020 Clean
"camera", the CIE 1964 x̄ȳz̄ functions) expects ``rgb = R @ spectrum``; an ordinary photo
holds sRGB. After undoing the sRGB transfer function, :func:`srgb_to_camera_matrix` maps
linear sRGB to that camera's space with the 3x3 matrix ``M`` that best reproduces, over the
24 ColorChecker reflectances (and a perfect white, weighted up) under an illuminant,

    camera_s = R @ (rho_s * E / mean(E))       linear sRGB_s = M_XYZ->sRGB @ XYZ_s / Y_white

so a white surface of the photo maps to the camera's value of a white surface of the
training data. It is a least-squares colour correction: exact for responses that are a
linear mix of the CIE 1931 functions, an approximation for real cameras.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ._arrays import as_wavelengths
from .responses import get_response
from .simulate import illuminant_spd

__all__ = ["srgb_to_camera_matrix"]

_WHITE_WEIGHT = 10.0
#: Where colour matching functions, D65 and the ColorChecker spectra are tabulated.
_VISIBLE_NM = (360.0, 780.0)
#: Warn when more of the camera's sensitivity than this lies outside ``_VISIBLE_NM``.
_OUTSIDE_WARN = 0.05


def srgb_to_camera_matrix(
    response: Any,
    wavelengths: Any,
    illuminant: Any = "D65",
) -> np.ndarray:
    """The ``(3, 3)`` matrix ``M`` with ``camera_rgb ≈ M @ linear_srgb``.

    Args:
        response: the camera as a ``(3, N)`` matrix on ``wavelengths`` (e.g. a weight's
            ``pretrained_cfg.response``, gain included) or a registered response name.
        wavelengths: band centres in nm of the matrix (``N`` values). Bands outside
            360-780 nm (e.g. the NIR of a 430-860 nm grid) are left out: a photo's sRGB says
            nothing about them; a warning says when the camera is sensitive there.
        illuminant: scene light assumed by the photo's white balance; the sRGB white point is
            D65, so ``'D65'`` unless you know better.

    Returns:
        float64 ``(3, 3)``; apply to ``(3, H, W)`` linear sRGB as ``einsum('kc,chw->khw')``.
    """
    import colour

    wl = as_wavelengths(wavelengths)
    if isinstance(response, str):
        cam = get_response(response).matrix(wl)
    else:
        cam = np.asarray(response, dtype=np.float64)
        if cam.shape != (3, wl.size):
            raise ValueError(
                f"response must be (3, {wl.size}) on the given wavelengths, got {cam.shape}"
            )
    if not np.isfinite(cam).all():
        raise ValueError("response contains NaN or inf; check the camera response values")
    visible = (wl >= _VISIBLE_NM[0]) & (wl <= _VISIBLE_NM[1])
    if visible.sum() < 3:
        raise ValueError(
            f"the bands {wl[0]:g}-{wl[-1]:g} nm have fewer than 3 inside 360-780 nm, where "
            "sRGB is defined; a colour correction from sRGB photos is not possible"
        )
    if not visible.all():
        outside = float(np.abs(cam[:, ~visible]).sum() / max(np.abs(cam).sum(), 1e-30))
        if outside > _OUTSIDE_WARN:
            warnings.warn(
                f"{outside:.0%} of the camera's sensitivity lies outside 360-780 nm, which an "
                "sRGB photo does not record; the colour correction ignores it",
                stacklevel=2,
            )
        if not isinstance(illuminant, str):
            illuminant = np.asarray(illuminant, dtype=np.float64)[visible]
        wl, cam = wl[visible], cam[:, visible]
    light = illuminant_spd(illuminant, wl)
    light = light / light.mean()
    checker = colour.SDS_COLOURCHECKERS["ColorChecker N Ohta"]
    refl = np.stack(
        [np.interp(wl, sd.wavelengths, sd.values) for sd in checker.values()] + [np.ones_like(wl)]
    )
    spectra = refl * light[None]  # (S, N)
    camera = spectra @ cam.T  # (S, 3)
    cmf = get_response("cie1931_2deg").matrix(wl)
    xyz = spectra @ cmf.T
    xyz = xyz / xyz[-1, 1]  # perfect white has Y = 1
    to_srgb = np.asarray(colour.RGB_COLOURSPACES["sRGB"].matrix_XYZ_to_RGB, dtype=np.float64)
    srgb = xyz @ to_srgb.T  # (S, 3), linear
    weights = np.ones(len(refl))
    weights[-1] = _WHITE_WEIGHT
    w = np.sqrt(weights)[:, None]
    solution, *_ = np.linalg.lstsq(srgb * w, camera * w, rcond=None)
    matrix: np.ndarray = solution.T
    return matrix
