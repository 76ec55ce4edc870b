"""The linear-sRGB -> camera colour correction that lets photos feed simulated-RGB weights."""

from __future__ import annotations

import numpy as np
import pytest

from ssrzoo.spectral import get_response, illuminant_spd, srgb_to_camera_matrix

WL = np.arange(400, 701, 10, dtype=np.float64)


def _srgb_of(spectra: np.ndarray) -> np.ndarray:
    """Independent path: colour-science's sd_to_XYZ-free matrix form of XYZ -> linear sRGB."""
    import colour

    cmf = get_response("cie1931_2deg").matrix(WL)
    light = illuminant_spd("D65", WL)
    light = light / light.mean()
    xyz = spectra @ cmf.T / (light @ cmf[1])
    return xyz @ np.asarray(colour.RGB_COLOURSPACES["sRGB"].matrix_XYZ_to_RGB).T


def test_cmf_camera_is_recovered_exactly() -> None:
    """A camera that is a linear mix of the CIE 1931 CMFs is reached exactly."""
    mix = np.array([[0.9, 0.1, 0.0], [0.0, 1.0, 0.0], [0.1, 0.0, 0.8]])
    camera = 0.05 * mix @ get_response("cie1931_2deg").matrix(WL)
    m = srgb_to_camera_matrix(camera, WL)
    rng = np.random.default_rng(0)
    light = illuminant_spd("D65", WL)
    spectra = rng.uniform(0, 1, (50, WL.size)) * (light / light.mean())[None]
    predicted = _srgb_of(spectra) @ m.T
    np.testing.assert_allclose(predicted, spectra @ camera.T, rtol=1e-6, atol=1e-9)
    # sRGB white (1, 1, 1) -> camera value of a white surface under the same light; not
    # exact because sRGB's rounded matrix and D65 tabulated at 10 nm disagree by ~0.2 %.
    white = np.ones(3) @ m.T
    np.testing.assert_allclose(white, camera @ (light / light.mean()), rtol=5e-3)


def test_cie1964_camera_is_close() -> None:
    """The NTIRE2020 Clean camera (CIE 1964 10°) is close to, not equal to, a 1931 mix."""
    camera = get_response("cie1964_10deg").matrix(WL)
    m = srgb_to_camera_matrix("cie1964_10deg", WL)
    light = illuminant_spd("D65", WL)
    rng = np.random.default_rng(1)
    spectra = rng.uniform(0.05, 1, (200, WL.size)) * (light / light.mean())[None]
    predicted = _srgb_of(spectra) @ m.T
    truth = spectra @ camera.T
    relative = np.abs(predicted - truth) / truth
    assert np.median(relative) < 0.03


def test_bad_response_shape_and_nan() -> None:
    with pytest.raises(ValueError, match=r"\(3, 31\)"):
        srgb_to_camera_matrix(np.ones((3, 30)), WL)
    bad = np.ones((3, 31))
    bad[0, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        srgb_to_camera_matrix(bad, WL)


def test_bands_beyond_the_visible_are_left_out() -> None:
    """A 400-860 nm grid (e.g. the ROSIS one): sRGB says nothing beyond 780 nm."""
    wide = np.arange(400, 861, 10, dtype=np.float64)
    visible = wide <= 780
    camera = np.zeros((3, wide.size))
    camera[:, visible] = 0.05 * get_response("cie1931_2deg").matrix(wide[visible])
    expected = srgb_to_camera_matrix(camera[:, visible], wide[visible])
    np.testing.assert_allclose(srgb_to_camera_matrix(camera, wide), expected)
    # a camera mostly sensitive in the NIR: still a matrix, with a warning saying why
    camera[0, ~visible] = 1.0
    with pytest.warns(UserWarning, match="outside 360-780 nm"):
        srgb_to_camera_matrix(camera, wide)
    nir = np.arange(800, 1001, 10, dtype=np.float64)
    with pytest.raises(ValueError, match="fewer than 3"):
        srgb_to_camera_matrix(np.ones((3, nir.size)), nir)
