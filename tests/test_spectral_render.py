"""sRGB previews: colorimetry vs colour-science, explicit white balance and exposure, round trip."""

from __future__ import annotations

import json

import colour
import numpy as np
import pytest
import torch

from ssrzoo.spectral import render_srgb, xyz_from_cube

WL31 = np.arange(400.0, 701.0, 10.0)


def _lab(srgb_chw: np.ndarray) -> np.ndarray:
    return colour.XYZ_to_Lab(colour.sRGB_to_XYZ(np.moveaxis(srgb_chw, 0, -1)))


def _delta_e(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return colour.delta_E(_lab(a), _lab(b), method="CIE 2000")


def test_xyz_is_the_cmf_weighted_sum_of_bands():
    cube = np.random.default_rng(0).random((31, 3, 4))
    cmfs = colour.MSDS_CMFS["CIE 1931 2 Degree Standard Observer"]
    table = np.asarray(cmfs.values)[np.searchsorted(cmfs.wavelengths, WL31)]
    np.testing.assert_allclose(xyz_from_cube(cube, WL31)[0], np.einsum("ck,chw->khw", table, cube))


@pytest.mark.filterwarnings("ignore::colour.utilities.ColourRuntimeWarning")
def test_macbeth_chart_under_d65_matches_colour_science(shared_data):
    """24 measured ColorChecker reflectances rendered through the full pipeline vs colour's
    own ASTM-E308 integration at 1 nm: the two must agree to under 1.5 ΔE2000 per patch."""
    data = np.load(shared_data / "spectra" / "luxpy_1.12.5" / "luxpy_reflectances_400_700_10nm.npz")
    np.testing.assert_array_equal(data["wavelengths_nm"], WL31)
    refl = data["macbeth_cc24"]  # (24, 31)
    cube = refl.T[:, None, :]  # (31, 1, 24): one row of 24 patches

    white_y = xyz_from_cube(np.ones((31, 1, 1)), WL31, illuminant="D65")[0, 1, 0, 0]
    ours = render_srgb(
        cube, WL31, illuminant="D65", white_balance="illuminant", exposure=1.0 / white_y
    )

    cmfs = colour.MSDS_CMFS["CIE 1931 2 Degree Standard Observer"]
    d65 = colour.SDS_ILLUMINANTS["D65"]
    ref = []
    for r in refl:
        sd = colour.SpectralDistribution(dict(zip(WL31, r, strict=True)))
        xyz = colour.sd_to_XYZ(sd, cmfs, d65) / 100.0
        ref.append(np.clip(colour.XYZ_to_sRGB(xyz), 0, 1))
    ref = np.array(ref).T[:, None, :]
    de = _delta_e(ours, ref)
    assert de.max() < 1.5, de.round(2)


def test_gray_world_makes_a_uniform_scene_neutral_and_none_keeps_the_cast():
    # equal-energy light has a pinkish cast against sRGB's D65 white
    cube = np.ones((31, 4, 4))
    balanced = render_srgb(cube, WL31)
    # neutral, and auto exposure -> white (to the 4 digits of the IEC sRGB matrix)
    np.testing.assert_allclose(balanced, 1.0, atol=1e-4)
    np.testing.assert_allclose(balanced[0], balanced[2], atol=1e-4)
    raw = render_srgb(cube, WL31, white_balance="none", exposure=0.5 / 10.0)
    xyz_e = xyz_from_cube(cube, WL31)[0, :, 0, 0]
    expected = np.clip(colour.XYZ_to_sRGB(xyz_e * 0.05), 0, 1)
    np.testing.assert_allclose(raw[:, 0, 0], expected, atol=1e-6)
    assert raw[0, 0, 0] > raw[2, 0, 0]


def test_params_returned_reproduce_the_rendering_and_exposure_is_linear():
    cube = np.random.default_rng(1).random((31, 8, 8)) + 0.1
    img, params = render_srgb(cube, WL31, return_params=True)
    again = render_srgb(cube, WL31, white_balance=params["white_xyz"], exposure=params["exposure"])
    np.testing.assert_array_equal(img, again)
    # the same fixed parameters on a cube 4x brighter = exposure 4x larger
    brighter = render_srgb(
        4 * cube, WL31, white_balance=params["white_xyz"], exposure=params["exposure"]
    )
    np.testing.assert_allclose(
        brighter,
        render_srgb(cube, WL31, white_balance=params["white_xyz"], exposure=4 * params["exposure"]),
        atol=1e-12,
    )


def test_torch_batch_in_torch_out():
    cube = torch.rand(2, 31, 5, 6, dtype=torch.float64) + 0.05
    out = render_srgb(cube, WL31)
    assert isinstance(out, torch.Tensor) and out.shape == (2, 3, 5, 6) and out.dtype == cube.dtype
    np.testing.assert_array_equal(out[1].numpy(), render_srgb(cube[1].numpy(), WL31))
    assert out.min() >= 0.0 and out.max() <= 1.0


def test_render_errors_are_explicit():
    with pytest.raises(ValueError, match=r"looks like \(H, W, C\)"):
        render_srgb(np.ones((4, 4, 31)), WL31)
    with pytest.raises(ValueError, match="needs an illuminant"):
        render_srgb(np.ones((31, 2, 2)), WL31, white_balance="illuminant")
    with pytest.raises(ValueError, match="no positive luminance"):
        render_srgb(np.zeros((31, 2, 2)), WL31)
    with pytest.raises(ValueError, match="exposure must be"):
        render_srgb(np.ones((31, 2, 2)), WL31, exposure="bright")


# ---- round trip on real ICVL cubes -----------------------------------------------------------


def _icvl_scenes(shared_data):
    index = json.loads((shared_data / "icvl_strips" / "index.json").read_text())
    usable = [d["scene"] for d in index if d["max"] > 600]
    test = usable[5::10][:4]
    train = [s for s in usable[::3] if s not in test][:30]
    return train, test


def _load(shared_data, scene):
    with np.load(shared_data / "icvl_strips" / f"{scene}.npz") as z:
        cube = z["rad"].astype(np.float64).transpose(2, 0, 1)
    # the first two rows of the strips hold only the dark floor; subtract the 185-count floor
    return np.clip(cube[:, 2:] - 185.0, 0.0, None) / 4095.0


def _decode(srgb):
    return np.asarray(colour.cctf_decoding(srgb, function="sRGB"))


def test_rendering_a_reconstruction_reproduces_the_input_photo(shared_data):
    """An 8-bit sRGB 'photo' of a real ICVL cube is reconstructed to 31 bands by a linear
    least-squares model fitted on OTHER scenes; rendering that reconstruction must give back the
    photo's colours. With the photo's fixed white balance and exposure this holds to < 1.5 ΔE2000
    on average; a reconstruction 16x too bright fails it by far. With automatic white balance
    and exposure (what a preview does) it still holds to < 3 ΔE2000."""
    train, test = _icvl_scenes(shared_data)
    train_cubes = [_load(shared_data, s) for s in train]
    # one fixed 'camera': the mean gray-world white of the training scenes, one exposure
    white = np.mean(
        [render_srgb(c, WL31, return_params=True)[1]["white_xyz"] for c in train_cubes], axis=0
    )
    pooled = np.concatenate([c.reshape(31, 1, -1) for c in train_cubes], axis=2)
    exposure = render_srgb(pooled, WL31, white_balance=white, return_params=True)[1]["exposure"]
    fixed = {"white_balance": white, "exposure": exposure}

    rgb_lin, spectra = [], []
    for c in train_cubes:
        photo = render_srgb(c, WL31, **fixed)
        ok = ((photo > 0) & (photo < 1)).all(axis=0)  # unclipped pixels only
        rgb_lin.append(_decode(photo)[:, ok])
        spectra.append(c[:, ok])
    r, s = np.concatenate(rgb_lin, axis=1), np.concatenate(spectra, axis=1)
    recon = s @ r.T @ np.linalg.inv(r @ r.T)  # (31, 3): linear RGB -> spectrum

    for scene in test:
        cube = _load(shared_data, scene)
        photo = np.round(render_srgb(cube, WL31, **fixed) * 255) / 255  # saved as 8-bit
        estimate = np.einsum("cr,rhw->chw", recon, _decode(photo))
        # it is a real spectral reconstruction, not a copy of the cube
        mrae = np.mean(np.abs(estimate - cube) / (cube + 1e-3))
        assert 0.005 < mrae < 0.25, (scene, mrae)

        de = _delta_e(photo, render_srgb(estimate, WL31, **fixed))
        assert de.mean() < 1.5, (scene, de.mean())
        de16 = _delta_e(photo, render_srgb(16 * estimate, WL31, **fixed))
        assert de16.mean() > 20, (scene, de16.mean())

        auto_photo = np.round(render_srgb(cube, WL31) * 255) / 255
        auto_estimate = np.einsum("cr,rhw->chw", recon, _decode(auto_photo))
        de_auto = _delta_e(auto_photo, render_srgb(auto_estimate, WL31))
        assert de_auto.mean() < 3.0, (scene, de_auto.mean())
