"""Synthetic scenes: dead-leaves statistics, physics of radiance, libraries, determinism."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.io
import torch
from torch.utils.data import DataLoader

from ssrzoo.data import (
    SimulateRGB,
    SpectralLibrary,
    SyntheticScenes,
    colour_illuminants,
    colour_reflectances,
    dead_leaves,
    shared_illuminants,
    shared_reflectances,
)
from ssrzoo.data.scene_geometry import sample_radii, smooth_noise

WL = np.arange(400.0, 701.0, 10.0)


@pytest.fixture(scope="module")
def scenes():
    # Built once: the colour-science libraries take a few seconds to assemble.
    return SyntheticScenes(size=(48, 64), length=20, seed=0, return_reflectance=True)


def _radial_power_slope(img: np.ndarray) -> float:
    """Slope of log power vs log spatial frequency, over the mid frequencies."""
    img = img - img.mean()
    power = np.abs(np.fft.fftshift(np.fft.fft2(img))) ** 2
    h, w = img.shape
    yy, xx = np.indices((h, w))
    r = np.hypot(yy - h // 2, xx - w // 2).astype(int)
    radial = np.bincount(r.ravel(), power.ravel()) / np.bincount(r.ravel())
    f = np.arange(4, min(h, w) // 4)
    return float(np.polyfit(np.log(f), np.log(radial[f]), 1)[0])


def test_radii_follow_the_power_law():
    rng = np.random.default_rng(0)
    r = sample_radii(rng, 40_000, 2.0, 100.0, alpha=3.0)
    assert r.min() >= 2.0 and r.max() <= 100.0
    # CDF of p(r) ∝ r^-3 on [2, 100], computed by hand.
    grid = np.array([2.5, 3, 4, 6, 10, 20, 50])
    cdf = (2.0**-2 - grid**-2) / (2.0**-2 - 100.0**-2)
    empirical = (r[:, None] <= grid[None]).mean(axis=0)
    np.testing.assert_allclose(empirical, cdf, atol=0.01)


def test_smooth_noise_spectrum():
    field = smooth_noise(np.random.default_rng(1), 128, 128, beta=3.0)
    assert abs(field.mean()) < 1e-9 and field.std() == pytest.approx(1.0)
    assert _radial_power_slope(field) == pytest.approx(-3.0, abs=0.4)


def test_dead_leaves_cover_the_image_with_scale_invariant_statistics():
    labels, leaves = dead_leaves(np.random.default_rng(2), 256, 256, min_radius=1.5)
    n = leaves["radius"].size
    assert labels.min() == 0 and labels.max() == n - 1
    assert np.unique(labels).size == n  # every kept leaf is visible
    # Occlusion: a large leaf's pixels lie within its own radius of its centre.
    big = int(np.argmax(leaves["radius"]))
    yy, xx = np.nonzero(labels == big)
    dist = np.hypot(yy - leaves["cy"][big], xx - leaves["cx"][big])
    assert dist.max() <= leaves["radius"][big] * np.sqrt(2) + 1.5
    # Random grey per leaf: scale invariance shows as a power spectrum close to 1/f^2.
    grey = np.random.default_rng(3).random(n)[labels]
    assert -2.8 < _radial_power_slope(grey) < -1.6


def test_radiance_is_reflectance_times_shading_times_illuminant():
    ds = SyntheticScenes(size=32, length=4, seed=1, mixed_prob=0.0, return_reflectance=True)
    s = ds[0]
    assert not s["mixed"]
    ratio = s["hsi"].double() / s["reflectance"].double().clamp(min=1e-12)
    ok = s["reflectance"].min(dim=0).values > 0.05
    per_pixel = ratio[:, ok] / s["illuminant"].double()[:, None]  # shading x normalisation
    spread = per_pixel.std(dim=0) / per_pixel.mean(dim=0)
    assert float(spread.max()) < 1e-4


def test_unlit_scenes_are_shaded_reflectance():
    # lit=False: what a reflectance database (CAVE) stores, every band scaled alike per pixel
    ds = SyntheticScenes(size=32, length=4, seed=1, lit=False, return_reflectance=True)
    s = ds[0]
    assert not s["mixed"] and s["illuminant_category"] == "none"
    assert torch.equal(s["illuminant"], torch.ones_like(s["illuminant"]))
    ok = s["reflectance"].min(dim=0).values > 0.05
    ratio = s["hsi"].double()[:, ok] / s["reflectance"].double()[:, ok]
    assert float((ratio.std(dim=0) / ratio.mean(dim=0)).max()) < 1e-4
    lit = SyntheticScenes(size=32, length=4, seed=1, mixed_prob=0.0, return_reflectance=True)[0]
    assert torch.equal(lit["reflectance"], s["reflectance"])  # the same scene, lit
    assert not torch.allclose(lit["hsi"], s["hsi"], rtol=0.05)
    assert "unlit" in repr(ds)


def test_scenes_are_deterministic_and_any_size(scenes):
    a, b = scenes[3], scenes[3]
    assert torch.equal(a["hsi"], b["hsi"]) and a["name"] == "synthetic_0_3"
    assert not torch.equal(scenes[3]["hsi"], scenes[4]["hsi"])
    assert a["hsi"].shape == (31, 48, 64) and a["hsi"].dtype == torch.float32
    assert float(np.percentile(a["hsi"].numpy(), 99.9)) == pytest.approx(1.0, rel=1e-3)
    assert float(a["hsi"].min()) >= 0
    with pytest.raises(IndexError):
        scenes[20]


def test_scenes_identical_in_workers(scenes):
    loader = DataLoader(torch.utils.data.Subset(scenes, [0, 1, 2, 3]), batch_size=2, num_workers=2)
    got = torch.cat([b["hsi"] for b in loader])
    torch.testing.assert_close(
        got, torch.stack([scenes[i]["hsi"] for i in range(4)]), rtol=0, atol=0
    )


def test_any_band_grid_inside_the_libraries():
    wl = np.arange(450.0, 651.0, 5.0)
    ds = SyntheticScenes(size=16, length=2, bands=wl)
    s = ds[0]
    assert s["hsi"].shape == (41, 16, 16)
    np.testing.assert_allclose(s["wavelengths"].numpy(), wl)
    with pytest.raises(ValueError, match="no reflectance set covers 400-1000 nm"):
        SyntheticScenes(size=16, bands=np.arange(400.0, 1001.0, 10.0))


def test_illuminant_categories_and_mixing():
    tungsten = SyntheticScenes(
        size=16, length=6, illuminant_weights={"tungsten": 1.0}, mixed_prob=0.0
    )
    for i in range(6):
        s = tungsten[i]
        assert s["illuminant_category"] == "tungsten"
        spd = s["illuminant"].numpy()
        assert spd[-5:].mean() > 2 * spd[:5].mean()  # incandescent light is red-heavy
    mixed = SyntheticScenes(size=16, length=6, mixed_prob=1.0)
    assert all(mixed[i]["mixed"] for i in range(6))
    with pytest.raises(ValueError, match="unknown illuminant categories"):
        SyntheticScenes(size=16, illuminant_weights={"candle": 1.0})


def test_palette_limits_the_materials_of_a_scene():
    one = SyntheticScenes(
        size=24, length=2, palette_size=(1, 1), texture_prob=0.0, return_reflectance=True
    )[0]["reflectance"]
    assert torch.allclose(one, one[:, :1, :1].expand_as(one))
    many = SyntheticScenes(
        size=24, length=2, palette_size=None, texture_prob=0.0, return_reflectance=True
    )[0]["reflectance"]
    assert torch.unique(many.reshape(31, -1), dim=1).shape[1] > 5
    with pytest.raises(ValueError, match="palette_size"):
        SyntheticScenes(size=8, palette_size=(4, 2))


def test_rgb_simulation_attached():
    ds = SyntheticScenes(size=16, length=2, rgb=SimulateRGB())
    rgb = ds[0]["rgb"]
    assert rgb.shape == (3, 16, 16) and float(rgb.min()) >= 0 and float(rgb.max()) <= 1


def test_colour_libraries():
    refl, _, _ = colour_reflectances().on_grid(WL)
    assert refl.shape == (78, 31) and refl.min() >= 0 and refl.max() <= 1.01
    spd, cats, _ = colour_illuminants().on_grid(WL)
    assert {"daylight", "tungsten", "fluorescent", "led"} <= set(cats)
    # CIE D65 (5 nm table) is in the library; on 10 nm bands it is band-integrated, so it
    # matches point samples of the table to a few percent, not exactly.
    import colour

    sd = colour.SDS_ILLUMINANTS["D65"]
    d65 = np.interp(WL, sd.wavelengths, sd.values)
    err = [np.abs(row / row.mean() - d65 / d65.mean()).max() for row in spd]
    assert min(err) < 0.05 and cats[int(np.argmin(err))] == "daylight"


def test_library_file_formats(tmp_path):
    wl = np.arange(400.0, 701.0, 10.0)
    rows = np.random.default_rng(0).random((5, 31))
    np.savez(tmp_path / "a.npz", wavelengths_nm=wl, leaves=rows, stones=rows[:2])
    lib = SpectralLibrary.from_file(tmp_path / "a.npz")
    assert len(lib) == 7 and [s.name for s in lib.sets] == ["leaves", "stones"]
    np.testing.assert_allclose(lib.on_grid(wl)[0][:5], rows, rtol=1e-6)

    fine = np.arange(380.0, 781.0, 1.0)
    spd = np.stack([np.ones_like(fine), fine / 500.0])
    np.savez(
        tmp_path / "b.npz",
        lamps__wl=fine,
        lamps__S=spd,
        lamps__category=np.array(["led", "tungsten"]),
    )
    lights = SpectralLibrary.from_file(tmp_path / "b.npz", "illuminant")
    vals, cats, _ = lights.on_grid(wl)
    assert list(cats) == ["led", "tungsten"]
    np.testing.assert_allclose(vals[0], 1.0, rtol=1e-6)  # band integration keeps flat flat
    np.testing.assert_allclose(vals[1], wl / 500.0, rtol=1e-3)  # and a line a line

    scipy.io.savemat(tmp_path / "c.mat", {"wavelength": wl[:, None], "data": rows.T})
    np.testing.assert_allclose(
        SpectralLibrary.from_file(tmp_path / "c.mat").on_grid(wl)[0], rows, rtol=1e-6
    )
    table = np.column_stack([wl, rows.T])
    np.savetxt(tmp_path / "d.csv", table, delimiter=",", header="nm,a,b,c,d,e")
    np.testing.assert_allclose(
        SpectralLibrary.from_file(tmp_path / "d.csv").on_grid(wl)[0], rows, rtol=1e-6
    )

    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match=r"bad\.npz"):
        SpectralLibrary.from_file(tmp_path / "bad.npz")
    with pytest.raises(ValueError, match="no reflectance set covers"):
        lib.on_grid(np.arange(300.0, 501.0, 10.0))


def test_shared_libraries(shared_data):
    refl = shared_reflectances(shared_data)
    assert len(refl) > 114_000
    assert not any("synthetic" in s.name for s in refl.sets)
    lights = shared_illuminants(shared_data)
    assert len(lights) >= 340
    _, cats, _ = lights.on_grid(WL)
    counts = {c: int((cats == c).sum()) for c in set(cats)}
    assert counts["led"] > 100 and counts["fluorescent"] > 30 and counts["tungsten"] >= 10
    ds = SyntheticScenes.from_shared(shared_data, size=24, length=2)
    assert ds[0]["hsi"].shape == (31, 24, 24)
