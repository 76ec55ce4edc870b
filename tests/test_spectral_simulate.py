"""RGB simulation: NTIRE2020 Clean and NTIRE2022-style realistic pipelines, tiny and real cubes."""

from __future__ import annotations

import colour
import numpy as np
import pytest
import torch

from ssrzoo.spectral import (
    NTIRE2022_ANALOG_GAIN,
    SpectralResponse,
    illuminant_spd,
    load_ntire2022_qe,
    simulate_rgb,
)

WL31 = np.arange(400.0, 701.0, 10.0)


def _cie1964_at(wl: np.ndarray) -> np.ndarray:
    """CIE 1964 table rows at whole-nm wavelengths, straight from colour-science, (3, N)."""
    cmfs = colour.MSDS_CMFS["CIE 1964 10 Degree Standard Observer"]
    return np.asarray(cmfs.values)[np.searchsorted(cmfs.wavelengths, wl)].T


def _cube(seed: int = 0, shape=(31, 6, 7)) -> np.ndarray:
    return np.random.default_rng(seed).random(shape) * 0.8 + 0.05


def test_clean_is_cie1964_projection_normalised_to_its_max_and_truncated_to_8_bits():
    cube = _cube()
    rgb = simulate_rgb(cube, WL31)
    lin = np.einsum("kc,chw->khw", _cie1964_at(WL31), cube)
    expected = np.floor(lin / lin.max() * 255 + 1e-9) / 255
    np.testing.assert_array_equal(rgb, expected)
    assert rgb.shape == (3, 6, 7) and rgb.dtype == np.float64
    assert rgb.max() == 1.0


def test_clean_fixed_gain_clips_and_bit_depth_none_keeps_floats():
    cube = _cube(1)
    lin = np.einsum("kc,chw->khw", _cie1964_at(WL31), cube)
    gain = 1.5 / lin.max()  # 1/3 of the brightest range clips at 1
    rgb = simulate_rgb(cube, WL31, gain=gain, bit_depth=None)
    np.testing.assert_allclose(rgb, np.clip(lin * gain, 0, 1), rtol=0, atol=1e-15)
    assert (rgb == 1.0).any()
    rgb12 = simulate_rgb(cube, WL31, gain=gain, bit_depth=12)
    np.testing.assert_allclose(rgb12 * 4095, np.round(rgb12 * 4095), atol=1e-9)


def test_clean_return_info_matrix_reproduces_the_linear_image():
    cube = _cube(2)
    rgb, info = simulate_rgb(cube, WL31, bit_depth=None, return_info=True)
    np.testing.assert_allclose(
        np.einsum("kc,chw->khw", info["matrix"][0], cube), rgb, rtol=1e-12, atol=0
    )


def test_torch_batch_equals_numpy_per_image():
    cubes = np.stack([_cube(3), _cube(4)])
    out = simulate_rgb(torch.from_numpy(cubes).float(), WL31)
    assert isinstance(out, torch.Tensor) and out.shape == (2, 3, 6, 7)
    assert out.dtype == torch.float32
    for i in range(2):
        ref = simulate_rgb(cubes[i].astype(np.float32), WL31)
        np.testing.assert_array_equal(out[i].numpy(), ref)


def test_illuminant_by_name_equals_its_values():
    cube = _cube(5)
    d65 = colour.SDS_ILLUMINANTS["D65"]
    values = np.asarray(d65.values)[np.searchsorted(d65.wavelengths, WL31)]
    np.testing.assert_allclose(illuminant_spd("D65", WL31), values)
    a = simulate_rgb(cube, WL31, illuminant="D65")
    b = simulate_rgb(cube, WL31, illuminant=values)
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="unknown illuminant"):
        illuminant_spd("D66", WL31)


@pytest.mark.parametrize(
    ("cube", "wavelengths", "kwargs", "exc", "match"),
    [
        (np.zeros((6, 7, 31)), WL31, {}, ValueError, r"looks like \(H, W, C\)"),
        (np.zeros((30, 6, 7)), WL31, {}, ValueError, "30 bands .* but 31 wavelengths"),
        (np.ones((31, 2, 2)), WL31[::-1], {}, ValueError, "strictly increasing"),
        (np.zeros((31, 2, 2)), WL31, {}, ValueError, "all-zero"),
        (np.ones((31, 2, 2)), WL31, {"npe": 3}, TypeError, "takes no option"),
        (np.ones((31, 2, 2)), WL31, {"gain": "mean"}, ValueError, "gain must be"),
    ],
)
def test_bad_input_gives_a_clear_error(cube, wavelengths, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        simulate_rgb(cube, wavelengths, **kwargs)


def test_nan_in_a_response_is_refused_before_simulating():
    values = _cie1964_at(WL31).copy()
    values[2, 3] = np.nan
    with pytest.raises(ValueError, match="NaN/inf at channel 2 and 430 nm"):
        simulate_rgb(_cube(), WL31, response=SpectralResponse(WL31, values, name="bad"))


def _flat_camera() -> SpectralResponse:
    rng = np.random.default_rng(7)
    return SpectralResponse(WL31, rng.random((3, 31)) * 0.05, name="toy_camera")


def test_realistic_without_noise_or_jpeg_is_gain_exposure_and_truncation():
    cube = _cube(8)
    cam = _flat_camera()
    rgb = simulate_rgb(
        cube, WL31, "realistic", response=cam, npe=0, jpeg_quality=None, target_mean=0.3
    )
    lin = np.einsum("kc,chw->khw", cam.values * np.array(NTIRE2022_ANALOG_GAIN)[:, None], cube)
    expected = np.floor(np.clip(lin * 0.3 / lin.mean(), 0, 1) * 255 + 1e-9) / 255
    np.testing.assert_array_equal(rgb, expected)


def test_realistic_is_deterministic_under_a_seed_and_noisy_otherwise():
    cube = _cube(9, (31, 16, 16))
    cam = _flat_camera()
    a = simulate_rgb(cube, WL31, "realistic", response=cam, seed=123)
    b = simulate_rgb(cube, WL31, "realistic", response=cam, seed=123)
    c = simulate_rgb(cube, WL31, "realistic", response=cam, seed=124)
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).max() > 0
    # output sits on the 8-bit lattice after JPEG decoding
    np.testing.assert_allclose(a * 255, np.round(a * 255), atol=1e-9)


def test_realistic_noise_grows_as_photo_electrons_shrink():
    cube = np.full((31, 32, 32), 0.5)
    cam = _flat_camera()
    opts = {"response": cam, "jpeg_quality": None, "seed": 0}
    clean = simulate_rgb(cube, WL31, "realistic", npe=0, **opts)
    dim = simulate_rgb(cube, WL31, "realistic", npe=5, **opts)
    bright = simulate_rgb(cube, WL31, "realistic", npe=5000, **opts)
    assert np.std(dim - clean) > 5 * np.std(bright - clean)


def test_realistic_needs_a_camera_and_matching_gains():
    with pytest.raises(ValueError, match="needs a camera response"):
        simulate_rgb(_cube(), WL31, "realistic")
    cam4 = SpectralResponse(WL31, np.ones((4, 31)), name="four")
    with pytest.raises(ValueError, match="analog_gain has 3 values for a 4-channel"):
        simulate_rgb(_cube(), WL31, "realistic", response=cam4)
    with pytest.raises(ValueError, match="unknown pipeline"):
        simulate_rgb(_cube(), WL31, "noisy")


# ---- real data ---------------------------------------------------------------------------------

ICVL_SCENES = ("4cam_0411-1648", "nachal_0823-1214", "objects_0924-1620", "prk_0328-1034")


def _icvl(shared_data, scene: str) -> tuple[np.ndarray, np.ndarray]:
    with np.load(shared_data / "icvl_strips" / f"{scene}.npz") as z:
        return z["rad"].astype(np.float64).transpose(2, 0, 1), z["wavelengths_nm"].astype(float)


@pytest.mark.parametrize("scene", ICVL_SCENES)
def test_ntire2020_clean_of_real_icvl_strip_is_a_reasonable_image(shared_data, scene):
    cube, wl = _icvl(shared_data, scene)  # raw counts as released, dark floor included
    np.testing.assert_array_equal(wl, WL31)
    rgb = simulate_rgb(cube, wl, "clean")
    cmf = _cie1964_at(wl)
    lin = np.einsum("kc,chw->khw", cmf, cube)
    # the projection, gain and truncation, recomputed independently from colour's table
    assert np.abs(rgb - np.floor(lin / lin.max() * 255) / 255).max() <= 1 / 255 + 1e-12
    assert rgb.max() == 1.0
    # every band carries the ~185-count dark floor, so no channel reaches black
    floor = np.floor(180.0 * cmf.sum(axis=1) / lin.max() * 255) / 255
    assert np.all(rgb.reshape(3, -1).min(axis=1) >= floor)
    # a photo, not noise or a flat field: little clipping, real contrast, channels that move
    # together as they do in natural scenes
    assert (rgb == 1.0).mean() < 0.01
    assert 0.1 < rgb.mean() < 0.9
    assert rgb[1].std() > 0.01
    flat = rgb.reshape(3, -1)
    assert np.corrcoef(flat)[0, 1] > 0.8 and np.corrcoef(flat)[1, 2] > 0.5


def test_realistic_rgb_of_real_icvl_strip_with_the_ntire2022_camera(shared_data):
    qe = load_ntire2022_qe(shared_data / "responses" / "ntire2022_rgb_camera_qe.csv")
    cube, wl = _icvl(shared_data, "omer_0331-1150")
    cube = np.clip(cube - 185.0, 0, None) / 4095.0  # normalised like the NTIRE2022 cubes
    rgb = simulate_rgb(cube, wl, "realistic", response=qe, seed=0)
    again = simulate_rgb(cube, wl, "realistic", response=qe, seed=0)
    np.testing.assert_array_equal(rgb, again)
    assert rgb.shape == (3, *cube.shape[1:])
    # exposure brings the mean to 0.18; truncation and clipping of highlights pull it down a bit
    assert 0.15 < rgb.mean() < 0.19
    # the analog gains scale R and B against G: compare channel-mean ratios with and without
    # them (noise and JPEG off; exposure is common to all channels so it cancels)
    opts = {"response": qe, "npe": 0, "jpeg_quality": None, "target_mean": 0.1}
    with_gain = simulate_rgb(cube, wl, "realistic", **opts).reshape(3, -1).mean(axis=1)
    no_gain = simulate_rgb(cube, wl, "realistic", analog_gain=None, **opts).reshape(3, -1)
    no_gain = no_gain.mean(axis=1)
    ratio = (with_gain / with_gain[1]) / (no_gain / no_gain[1])
    np.testing.assert_allclose(ratio, NTIRE2022_ANALOG_GAIN, rtol=0.03)
