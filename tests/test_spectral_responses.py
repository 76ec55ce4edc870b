"""SpectralResponse, the registry (colour-science data) and every file loader on the real files."""

from __future__ import annotations

import colour
import numpy as np
import pytest
import scipy.io

from ssrzoo.models import PretrainedCfg
from ssrzoo.spectral import (
    BandGrid,
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

WL31 = np.arange(400.0, 701.0, 10.0)


def test_registry_ships_the_cie_observers_from_colour_science():
    names = list_responses()
    assert {"cie1931_2deg", "cie1964_10deg"} <= set(names)
    assert list_responses("cie19*") == ["cie1931_2deg", "cie1964_10deg"]
    for name, key in [
        ("cie1931_2deg", "CIE 1931 2 Degree Standard Observer"),
        ("cie1964_10deg", "CIE 1964 10 Degree Standard Observer"),
    ]:
        resp = get_response(name)
        cmfs = colour.MSDS_CMFS[key]
        np.testing.assert_array_equal(resp.wavelengths, cmfs.wavelengths)
        np.testing.assert_array_equal(resp.values, np.asarray(cmfs.values).T)
        assert resp.channel_names == ("x_bar", "y_bar", "z_bar")
        # 1 nm tables: sampling at whole nm must return the table rows themselves
        rows = np.searchsorted(cmfs.wavelengths, WL31)
        np.testing.assert_array_equal(resp.matrix(WL31), np.asarray(cmfs.values)[rows].T)


def test_registry_camera_names_cover_colour_camera_sensitivities():
    for key, msds in colour.MSDS_CAMERA_SENSITIVITIES.items():
        slug = "".join(c if c.isalnum() else "_" for c in key.lower())
        slug = "_".join(part for part in slug.split("_") if part)
        resp = get_response(slug)
        np.testing.assert_array_equal(resp.values, np.asarray(msds.values).T)
        np.testing.assert_array_equal(resp.wavelengths, msds.wavelengths)


def test_unknown_name_suggests_close_matches():
    with pytest.raises(ValueError, match="did you mean 'cie1964_10deg'"):
        get_response("cie1964_10_deg")


def test_register_response_and_overwrite_guard():
    resp = SpectralResponse(WL31, np.ones((3, 31)), name="flat_test")
    register_response("flat_test_response", resp, overwrite=True)
    assert get_response("flat_test_response") is resp
    with pytest.raises(ValueError, match="already registered"):
        register_response("flat_test_response", resp)


def test_bad_responses_are_rejected_with_the_reason():
    values = np.ones((3, 31))
    values[1, 5] = np.nan
    with pytest.raises(ValueError, match="NaN/inf at channel 1 and 450 nm"):
        SpectralResponse(WL31, values, name="broken")
    with pytest.raises(ValueError, match="strictly increasing"):
        SpectralResponse(WL31[::-1], np.ones((3, 31)))
    with pytest.raises(ValueError, match=r"\(channels, 31\)"):
        SpectralResponse(WL31, np.ones((31, 3)))
    with pytest.raises(ValueError, match="2 channel names for 3 channels"):
        SpectralResponse(WL31, np.ones((3, 31)), ["a", "b"])


def test_matrix_outside_measured_range_errors_or_zero_fills():
    resp = SpectralResponse(WL31, np.ones((3, 31)), name="vis")
    grid = np.arange(380.0, 721.0, 10.0)
    with pytest.raises(ValueError, match="measured over 400-700 nm"):
        resp.matrix(grid)
    mat = resp.matrix(grid, outside="zero")
    assert mat[:, :2].sum() == 0 and mat[:, -2:].sum() == 0
    np.testing.assert_array_equal(mat[:, 2:-2], 1.0)


def test_gaussian_matrix_averages_the_response_over_each_band():
    cie = get_response("cie1964_10deg")
    grid = BandGrid(WL31, fwhm=10.0)
    point = cie.matrix(grid)
    band = cie.matrix(grid, method="gaussian")
    # band averaging of a smooth CMF stays within a few percent of its peak, and
    # conserves the integral (sum over the 10 nm bands) to well under 1 %
    assert np.abs(band - point).max() < 0.05 * point.max()
    np.testing.assert_allclose(band.sum(axis=1), point.sum(axis=1), rtol=5e-3)


def test_select_scaled_and_dict_round_trip():
    resp = get_response("cie1931_2deg")
    sel = resp.select(["z_bar", "x_bar"])
    np.testing.assert_array_equal(sel.values, resp.values[[2, 0]])
    scaled = resp.scaled([2.0, 1.0, 0.5])
    np.testing.assert_array_equal(scaled.values[0], 2.0 * resp.values[0])
    back = SpectralResponse.from_dict(resp.to_dict())
    np.testing.assert_array_equal(back.values, resp.values)
    assert back.channel_names == resp.channel_names and back.name == resp.name
    with pytest.raises(ValueError, match="no channel 'Q'"):
        resp.select(["Q"])


def test_response_travels_in_pretrained_cfg_numbers():
    resp = get_response("cie1964_10deg")
    cfg = PretrainedCfg(architecture="dummy", wavelengths=tuple(WL31), **resp.as_cfg(WL31))
    assert cfg.response_name == "cie1964_10deg"
    rebuilt = SpectralResponse.from_cfg(cfg)
    np.testing.assert_array_equal(rebuilt.matrix(WL31), resp.matrix(WL31))
    with pytest.raises(ValueError, match="carries no response"):
        SpectralResponse.from_cfg(PretrainedCfg(architecture="dummy"))


# ---- loaders on the real files ---------------------------------------------------------------


def test_load_ntire2022_rgb_qe(shared_data):
    path = shared_data / "responses" / "ntire2022_rgb_camera_qe.csv"
    raw = np.genfromtxt(path, delimiter=",", names=True)
    resp = load_ntire2022_qe(path)
    assert resp.channel_names == ("R", "G", "B")
    np.testing.assert_array_equal(resp.wavelengths, np.arange(360.0, 751.0))
    np.testing.assert_array_equal(resp.values[0], raw["R"])
    np.testing.assert_array_equal(resp.values[1], raw["G1"])
    np.testing.assert_array_equal(resp.values[2], raw["B"])
    mean = load_ntire2022_qe(path, green="mean")
    np.testing.assert_allclose(mean.values[1], (raw["G1"] + raw["G2"]) / 2)
    # a colour camera: peaks in the red, green, blue order of wavelength
    peaks = resp.wavelengths[resp.values.argmax(axis=1)]
    assert peaks[0] > peaks[1] > peaks[2]


def test_load_ntire2022_ms16_qe(shared_data):
    path = shared_data / "responses" / "ntire2022_ms16_camera_qe.csv"
    resp = load_ntire2022_qe(path)
    assert resp.num_channels == 16 and resp.channel_names[0] == "C10"
    header_peaks = np.array([float(v) for v in path.read_text().splitlines()[1].split(",")[1:17]])
    measured = resp.wavelengths[resp.values.argmax(axis=1)]
    np.testing.assert_allclose(measured, header_peaks, atol=5.0)


def test_load_camspec_jiang2013(shared_data):
    cams = load_camspec_jiang2013(shared_data / "responses" / "camspec_jiang2013_28cameras.txt")
    assert len(cams) == 28
    assert next(iter(cams)) == "Canon 1DMarkIII" and "Nikon D700" in cams
    d700 = cams["Nikon D700"]
    np.testing.assert_array_equal(d700.wavelengths, np.arange(400.0, 721.0, 10.0))
    assert d700.values.shape == (3, 33)
    for resp in cams.values():
        peaks = resp.wavelengths[resp.values.argmax(axis=1)]
        assert peaks[0] > peaks[1] > peaks[2], resp.name


def test_load_responses_mat_first_28_equal_camspec(shared_data):
    resp = shared_data / "responses"
    stack = load_responses_mat(resp / "rgb_responses_52_400_700.mat")
    assert len(stack) == 52
    cams = list(load_camspec_jiang2013(resp / "camspec_jiang2013_28cameras.txt").values())
    for i in range(28):
        np.testing.assert_array_equal(stack[f"response_{i:02d}"].values, cams[i].values[:, :31])
    named = load_responses_mat(
        resp / "rgb_responses_52_400_700.mat", names=[f"r{i}" for i in range(52)]
    )
    np.testing.assert_array_equal(named["r51"].wavelengths, WL31)
    with pytest.raises(ValueError, match="no variable 'X'"):
        load_responses_mat(resp / "rgb_responses_52_400_700.mat", key="X")


def test_load_nikon_d700_mat_and_xls_agree(shared_data):
    resp = shared_data / "responses"
    mat = load_nikon_d700(resp / "nikon_d700_31band.mat")
    xls = load_nikon_d700(resp / "nikon_d700_qu.xls")
    raw = scipy.io.loadmat(resp / "nikon_d700_31band.mat")["R"]
    np.testing.assert_array_equal(mat.values, raw.T)
    np.testing.assert_array_equal(xls.wavelengths, WL31)
    # the two sources publish the same camera at different scales (and the xls in B, G, R
    # column order): normalised, each channel must match closely
    a = mat.values / mat.values.sum(axis=1, keepdims=True)
    b = xls.values / xls.values.sum(axis=1, keepdims=True)
    for ch in range(3):
        assert np.corrcoef(a[ch], b[ch])[0, 1] > 0.97
    with pytest.raises(ValueError, match="unsupported extension"):
        load_nikon_d700(resp / "ntire2022_rgb_camera_qe.csv")


def test_load_rosis_srf(shared_data):
    path = shared_data / "responses" / "rosis_pavia_R_4x103.mat"
    resp = load_rosis_srf(path)
    assert resp.channel_names == ("B", "G", "R", "NIR")
    np.testing.assert_allclose(resp.wavelengths[[0, -1]], [430.0, 860.0])
    np.testing.assert_array_equal(resp.values, scipy.io.loadmat(path)["R"])
    peaks = resp.wavelengths[resp.values.argmax(axis=1)]
    assert np.all(np.diff(peaks) > 0)  # B < G < R < NIR
    assert 740 < peaks[3] < 860  # IKONOS NIR band is 757-853 nm
    rgb = resp.select(["R", "G", "B"])
    assert rgb.matrix(np.linspace(430.0, 860.0, 103)).shape == (3, 103)


def test_loaders_reject_the_wrong_file(shared_data, tmp_path):
    resp = shared_data / "responses"
    with pytest.raises(ValueError, match="not an NTIRE2022 QE csv"):
        load_ntire2022_qe(resp / "camspec_jiang2013_28cameras.txt")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_rosis_srf(tmp_path / "missing.mat")
    with pytest.raises(ValueError, match="no camera blocks"):
        load_camspec_jiang2013(resp / "ntire2022_rgb_camera_qe.csv")
