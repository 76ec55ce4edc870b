"""Band grids and resampling: linear interpolation, Gaussian band integration, errors."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.io
import torch

from ssrzoo.spectral import BandGrid, resample, resampling_matrix

WL31 = np.arange(400.0, 701.0, 10.0)


def test_uniform_grid_is_inclusive_and_evenly_spaced():
    grid = BandGrid.uniform(400, 700, 10)
    assert len(grid) == 31
    np.testing.assert_array_equal(grid.wavelengths, WL31)
    assert grid.step == 10.0
    assert grid.fwhm is None
    with pytest.raises(ValueError, match="whole number of steps"):
        BandGrid.uniform(400, 705, 10)


def test_grid_fwhm_broadcast_equality_and_dict_round_trip():
    grid = BandGrid(WL31, fwhm=10.0)
    np.testing.assert_array_equal(grid.fwhm, np.full(31, 10.0))
    assert BandGrid.from_dict(grid.to_dict()) == grid
    assert grid != BandGrid(WL31)
    assert BandGrid([400, 450, 460]).step is None
    with pytest.raises(ValueError):
        grid.wavelengths[0] = 1.0  # read-only, so a shared grid cannot be corrupted


@pytest.mark.parametrize(
    ("wavelengths", "match"),
    [
        ([400, 410, 410, 420], "strictly increasing"),
        ([400, 420, 410], "strictly increasing"),
        ([400, float("nan"), 420], "NaN"),
        ([[400, 410]], "1-D"),
    ],
)
def test_bad_wavelengths_are_rejected_with_the_reason(wavelengths, match):
    with pytest.raises(ValueError, match=match):
        BandGrid(wavelengths)


def test_linear_resampling_matches_numpy_interp_per_pixel():
    rng = np.random.default_rng(0)
    cube = rng.random((31, 4, 5))
    dst = np.array([400.0, 403.0, 457.5, 612.25, 699.0, 700.0])
    out = resample(cube, WL31, dst)
    expected = np.stack(
        [np.interp(dst, WL31, cube[:, i, j]) for i in range(4) for j in range(5)], axis=1
    ).reshape(dst.size, 4, 5)
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-12)


def test_shifted_grid_inside_the_source_is_an_exact_band_selection():
    cube = np.random.default_rng(1).random((2, 31, 3, 3))
    out = resample(cube, WL31, np.arange(420.0, 701.0, 10.0))
    np.testing.assert_array_equal(out, cube[:, 2:])


def test_target_outside_source_range_is_an_error_unless_extrapolating():
    cube = np.random.default_rng(2).random((31, 2, 2))
    with pytest.raises(ValueError, match=r"420-720 nm is outside the source range 400-700 nm"):
        resample(cube, WL31, np.arange(420.0, 721.0, 10.0))
    out = resample(cube, WL31, np.arange(420.0, 721.0, 10.0), extrapolate=True)
    np.testing.assert_array_equal(out[-2:], np.stack([cube[-1], cube[-1]]))


def test_band_count_mismatch_and_hwc_layout_are_named():
    with pytest.raises(ValueError, match="30 entries on axis -3 but 31"):
        resample(np.zeros((30, 4, 4)), WL31, WL31[:10])
    with pytest.raises(ValueError, match=r"\(H, W, C\)"):
        resample(np.zeros((4, 5, 31)), WL31, WL31[:10])
    spectra = np.random.default_rng(3).random((7, 31))
    out = resample(spectra, WL31, WL31[::2], axis=-1)
    np.testing.assert_array_equal(out, spectra[:, ::2])


def test_torch_input_keeps_dtype_and_gradient():
    x = torch.rand(2, 31, 3, 4, requires_grad=True)
    y = resample(x, WL31, np.arange(405.0, 700.0, 10.0))
    assert y.dtype == torch.float32 and y.shape == (2, 30, 3, 4)
    y.sum().backward()
    # every interior source band feeds two half-weighted targets, the edge bands one
    np.testing.assert_allclose(x.grad[0, :, 0, 0].numpy(), [0.5] + [1.0] * 29 + [0.5])


def test_gaussian_rows_sum_to_one_and_match_numerical_band_integration():
    src = np.arange(380.0, 781.0, 1.0)
    dst = BandGrid(np.arange(420.0, 701.0, 20.0), fwhm=15.0)
    mat = resampling_matrix(src, dst, method="gaussian")
    np.testing.assert_allclose(mat.sum(axis=1), 1.0, atol=1e-12)

    def spectrum(wl):
        return 1.0 + 0.5 * np.sin(wl / 23.0) + 1e-3 * (wl - 550.0)

    # independent: integrate spectrum x Gaussian on a 0.01 nm grid with the trapezoid rule
    fine = np.arange(380.0, 780.0, 0.01)
    sigma = 15.0 / (2 * np.sqrt(2 * np.log(2)))
    expected = []
    for mu in dst.wavelengths:
        w = np.exp(-0.5 * ((fine - mu) / sigma) ** 2)
        expected.append(np.trapezoid(w * spectrum(fine), fine) / np.trapezoid(w, fine))
    np.testing.assert_allclose(mat @ spectrum(src), expected, rtol=1e-5)


def test_gaussian_without_fwhm_uses_target_spacing_and_too_narrow_fails():
    src = np.arange(400.0, 701.0, 10.0)
    mat = resampling_matrix(src, np.arange(410.0, 691.0, 40.0), method="gaussian")
    assert np.all(mat.argmax(axis=1) == np.arange(1, 31, 4))  # peaks at the target centres
    with pytest.raises(ValueError, match="too narrow"):
        resampling_matrix(src, [405.0, 415.0], method="gaussian", fwhm=0.05)
    with pytest.raises(ValueError, match="unknown resampling method"):
        resampling_matrix(src, src, method="cubic")


def test_samson_156_bands_to_31(shared_data):
    mat = scipy.io.loadmat(shared_data / "remote_sensing" / "samson.mat")
    cube = mat["Y"].reshape(156, 95, 95, order="F")  # (bands, rows, cols) per MANIFEST
    src = np.linspace(401.0, 889.0, 156)
    with pytest.raises(ValueError, match="outside the source range"):
        resample(cube, src, WL31)  # 400 nm is below Samson's first band
    dst = BandGrid(np.arange(410.0, 701.0, 10.0), fwhm=10.0)
    broad = resample(cube, src, dst, method="gaussian")
    narrow = resample(cube, src, dst)
    assert broad.shape == (30, 95, 95)
    # Band integration smooths but must stay close to point sampling on smooth real spectra,
    # and it must conserve the per-pixel mean level.
    rel = np.abs(broad - narrow).mean() / np.abs(narrow).mean()
    assert rel < 0.05
    np.testing.assert_allclose(broad.mean(), narrow.mean(), rtol=0.02)
