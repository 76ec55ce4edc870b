"""sRGB previews of spectral cubes: CMF -> XYZ -> white balance -> exposure -> sRGB.

Every step that other code leaves implicit is an argument here, so a reconstructed cube and its
ground truth can be rendered with the same white balance and exposure and compared::

    XYZ(x)   = sum_n cmf(lambda_n) * E(lambda_n) * S_n(x)         (E = 1 unless illuminant)
    XYZ_wb   = CAT_Bradford(white -> D65) @ XYZ                    (white from white_balance)
    XYZ_exp  = k * XYZ_wb,  k = 1 / percentile_p(Y_wb)  or a fixed float
    sRGB     = OETF_sRGB(clip(M_XYZ->sRGB @ XYZ_exp, 0, 1))

colour-science provides the CMFs, the Bradford adaptation, the sRGB matrix and the sRGB
transfer function (IEC 61966-2-1).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._arrays import as_wavelengths, to_cube_batch
from .responses import get_response
from .simulate import illuminant_spd

__all__ = ["render_srgb", "xyz_from_cube"]


def _d65_xyz() -> np.ndarray:
    import colour

    xy = colour.CCS_ILLUMINANTS["CIE 1931 2 Degree Standard Observer"]["D65"]
    return np.asarray(colour.xy_to_XYZ(xy), dtype=np.float64)


def xyz_from_cube(
    cube: Any,
    wavelengths: Any,
    cmf: Any = "cie1931_2deg",
    illuminant: Any | None = None,
) -> np.ndarray:
    """Tristimulus values ``XYZ = sum_n cmf(lambda_n) E(lambda_n) S_n``, float64 ``(B, 3, H, W)``.

    Bands outside the CMF's 360–830 nm contribute nothing (they are invisible). Unnormalised:
    a cube in any units gives XYZ in those units times nm-sample sums.
    """
    wl = as_wavelengths(wavelengths)
    batch = to_cube_batch(cube, wl.size)
    mat = get_response(cmf).matrix(wl, outside="zero")
    if illuminant is not None:
        mat = mat * illuminant_spd(illuminant, wl)[None, :]
    out: np.ndarray = np.einsum("kc,bchw->bkhw", mat, batch.data)
    return out


def _white(
    white_balance: Any, xyz: np.ndarray, cmf: Any, illuminant: Any, wl: np.ndarray
) -> np.ndarray | None:
    if isinstance(white_balance, str):
        if white_balance == "none":
            return None
        if white_balance == "gray_world":
            mean: np.ndarray = xyz.reshape(3, -1).mean(axis=1)
            return mean
        if white_balance == "illuminant":
            if illuminant is None:
                raise ValueError(
                    "white_balance='illuminant' needs an illuminant; pass illuminant='D65' (or "
                    "values) or use white_balance='gray_world'"
                )
            mat = get_response(cmf).matrix(wl, outside="zero")
            white: np.ndarray = mat @ illuminant_spd(illuminant, wl)
            return white
        raise ValueError(
            f"unknown white_balance {white_balance!r}; use 'gray_world', 'illuminant', 'none' "
            f"or the scene white as 3 XYZ values"
        )
    white = np.asarray(white_balance, dtype=np.float64)
    if white.shape != (3,):
        raise ValueError(f"white_balance as a white point needs 3 XYZ values, got {white.shape}")
    return white


def render_srgb(
    cube: Any,
    wavelengths: Any,
    *,
    cmf: Any = "cie1931_2deg",
    illuminant: Any | None = None,
    white_balance: Any = "gray_world",
    exposure: float | str = "auto",
    percentile: float = 99.0,
    return_params: bool = False,
) -> Any:
    """Render a spectral cube to display sRGB in [0, 1] for previews and colour checks.

    Args:
        cube: ``(C, H, W)`` or ``(B, C, H, W)`` numpy array or torch tensor of linear spectral
            values: radiance, or reflectance together with ``illuminant``.
        wavelengths: the ``C`` band centres in nm; bands outside 360–830 nm are ignored.
        cmf: colour matching functions (response name or object), CIE 1931 2° by default
            because sRGB is defined on it.
        illuminant: multiply a reflectance cube by this illuminant (name such as ``'D65'`` or one
            value per band). Leave None for radiance.
        white_balance: ``'gray_world'`` (default: the mean scene XYZ becomes D65 white),
            ``'illuminant'`` (the illuminant's white becomes D65), ``'none'``, or the scene white
            as 3 XYZ values (e.g. ``params['white_xyz']`` from an earlier call).
        exposure: ``'auto'`` scales so the ``percentile``-th percentile of luminance Y is 1; a
            float multiplies XYZ by that factor (e.g. ``params['exposure']``).
        percentile: the luminance percentile that ``'auto'`` maps to 1.
        return_params: also return the white point and exposure used, per image, so the same
            rendering can be applied to another cube (e.g. a reconstruction of this one).

    Returns:
        ``(3, H, W)`` or ``(B, 3, H, W)`` sRGB in [0, 1] of the input's kind; with
        ``return_params`` a tuple ``(image, params)`` where ``params`` is a dict
        ``{'white_xyz': array (3,) | None, 'exposure': float}`` (a list of them for a batch).
    """
    import colour

    wl = as_wavelengths(wavelengths)
    batch = to_cube_batch(cube, wl.size)
    xyz_all = xyz_from_cube(batch.data, wl, cmf, illuminant)
    d65 = _d65_xyz()
    to_srgb = np.asarray(colour.RGB_COLOURSPACES["sRGB"].matrix_XYZ_to_RGB, dtype=np.float64)
    images, params = [], []
    for xyz in xyz_all:
        white = _white(white_balance, xyz, cmf, illuminant, wl)
        if white is not None:
            if not (np.all(np.isfinite(white)) and white[1] > 0):
                raise ValueError(
                    f"scene white XYZ {white.tolist()} has no positive luminance; the cube is "
                    f"black or negative, so white balance is undefined (use white_balance='none')"
                )
            cat = colour.adaptation.matrix_chromatic_adaptation_VonKries(
                white / white[1], d65, transform="Bradford"
            )
            xyz = np.einsum("ij,jhw->ihw", cat, xyz)
        if isinstance(exposure, str):
            if exposure != "auto":
                raise ValueError(f"exposure must be 'auto' or a positive float, got {exposure!r}")
            level = float(np.percentile(xyz[1], percentile))
            if level <= 0:
                raise ValueError(
                    f"the {percentile}th percentile of luminance is {level:g}, so auto exposure "
                    f"is undefined; pass a float exposure"
                )
            k = 1.0 / level
        else:
            k = float(exposure)
            if not k > 0:
                raise ValueError(f"exposure must be positive, got {exposure}")
        rgb_lin = np.clip(np.einsum("ij,jhw->ihw", to_srgb, xyz * k), 0.0, 1.0)
        images.append(np.asarray(colour.cctf_encoding(rgb_lin, function="sRGB")))
        params.append({"white_xyz": white, "exposure": k})
    out = batch.wrap(np.clip(np.stack(images), 0.0, 1.0))
    if return_params:
        return out, (params if batch.batched else params[0])
    return out
