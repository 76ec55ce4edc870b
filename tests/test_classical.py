"""Classical baselines: closed-form (root-)polynomial regression and colour-science upsamplers."""

from __future__ import annotations

import itertools
from pathlib import Path

import colour
import numpy as np
import pytest
import torch

import ssrzoo
from ssrzoo.metrics import mrae
from ssrzoo.models import file_sha256
from ssrzoo.models.colour_recovery import (
    Jakob2019Recovery,
    Mallett2019Recovery,
    Otsu2018Recovery,
    jakob2019_lut,
)
from ssrzoo.models.regression import RootPolynomialRegression, root_polynomial_exponents
from ssrzoo.spectral import get_response, simulate_rgb

WL = np.arange(400.0, 701.0, 10.0)
REGRESSIONS = ["linear_regression", "root_poly2", "root_poly3"]


def _predict(model: torch.nn.Module, rgb: np.ndarray) -> np.ndarray:
    """(N, 3) pixels through the image forward as a (1, 3, 1, N) image -> (N, bands)."""
    x = torch.from_numpy(np.ascontiguousarray(rgb.T[None, :, None, :]))
    with torch.no_grad():
        out = model(x.double() if next(model.parameters(), None) is None else x.float())
    return out[0, :, 0].T.double().numpy()


def _smooth_spectra(rng: np.random.Generator, n: int) -> np.ndarray:
    """Positive spectra as random mixtures of broad Gaussian bumps over 400-700 nm."""
    centres = np.linspace(380, 720, 8)
    bumps = np.exp(-0.5 * ((WL[None] - centres[:, None]) / 45.0) ** 2)  # (8, 31)
    return rng.random((n, 8)) @ bumps + 0.02


# --- root-polynomial terms -------------------------------------------------------------


def test_root_polynomial_term_counts_and_values() -> None:
    # Finlayson et al. 2015: 3, 6, 13, 22 terms for degree 1-4 of RGB.
    assert [len(root_polynomial_exponents(3, d)) for d in (1, 2, 3, 4)] == [3, 6, 13, 22]
    r, g, b = 0.2, 0.5, 0.9
    model = RootPolynomialRegression(degree=3)
    phi = model.features(torch.tensor([[r, g, b]], dtype=torch.float64))[0].numpy()
    expected = [r, g, b, (r * g) ** 0.5, (r * b) ** 0.5, (g * b) ** 0.5]
    expected += [np.cbrt(v) for v in (r * r * g, r * r * b, r * g * g, r * g * b, r * b * b)]
    expected += [np.cbrt(g * g * b), np.cbrt(g * b * b)]
    np.testing.assert_allclose(np.sort(phi), np.sort(expected), rtol=1e-12)
    np.testing.assert_allclose(phi[:6], expected[:6], rtol=1e-12)


@pytest.mark.parametrize("name", REGRESSIONS)
def test_regression_is_exposure_invariant(name: str) -> None:
    model = ssrzoo.create_model(name)
    x = torch.rand(1, 3, 4, 5, dtype=torch.float64)
    model.double()
    torch.testing.assert_close(model(2.5 * x), 2.5 * model(x))


def test_root_terms_have_finite_gradients_at_black() -> None:
    model = ssrzoo.create_model("root_poly3")
    x = torch.zeros(1, 3, 2, 2)
    x[0, 0, 0, 0] = 0.3  # one channel lit, the others exactly zero
    x.requires_grad_(True)
    model(x).square().sum().backward()
    assert torch.isfinite(x.grad).all()
    assert torch.isfinite(model.weight.grad).all()


# --- fitting ---------------------------------------------------------------------------


@pytest.mark.parametrize("as_torch", [False, True])
def test_fit_recovers_a_known_linear_map(as_torch: bool) -> None:
    rng = np.random.default_rng(0)
    rgb = rng.random((2000, 3))
    true_w = rng.normal(size=(31, 3))
    spectra = rgb @ true_w.T
    args = (torch.from_numpy(rgb), torch.from_numpy(spectra)) if as_torch else (rgb, spectra)
    lin = ssrzoo.create_model("linear_regression").fit(*args, ridge=0.0)
    np.testing.assert_allclose(lin.weight.detach().double().numpy(), true_w, atol=1e-5)
    # A higher-degree model contains the linear terms: it finds the same map, zero elsewhere.
    rp = ssrzoo.create_model("root_poly2").fit(*args, ridge=0.0)
    w = rp.weight.detach().double().numpy()
    np.testing.assert_allclose(w[:, :3], true_w, atol=1e-4)
    np.testing.assert_allclose(w[:, 3:], 0.0, atol=1e-4)
    test = rng.random((50, 3))
    np.testing.assert_allclose(_predict(rp, test), test @ true_w.T, atol=1e-4)


def test_fit_recovers_a_known_root_polynomial_map() -> None:
    rng = np.random.default_rng(1)
    rgb = rng.random((3000, 3)) + 0.05
    model = ssrzoo.create_model("root_poly3")
    phi = model.features(torch.from_numpy(rgb)).numpy()
    true_w = rng.normal(size=(31, phi.shape[1]))
    model.fit(rgb, phi @ true_w.T, ridge=0.0)
    np.testing.assert_allclose(model.weight.detach().double().numpy(), true_w, atol=2e-3)


def _ridge_reference(rgb: np.ndarray, spectra: np.ndarray, ridge: float, degree: int) -> np.ndarray:
    """Independent numpy solution of the documented objective, (bands, F)."""
    phi = RootPolynomialRegression(degree=degree).features(torch.from_numpy(rgb)).numpy()
    gram = phi.T @ phi / len(phi)
    lam = ridge * np.trace(gram) / phi.shape[1]
    return np.linalg.solve(gram + lam * np.eye(phi.shape[1]), phi.T @ spectra / len(phi)).T


def test_ridge_shrinks_weights_and_matches_closed_form() -> None:
    rng = np.random.default_rng(2)
    rgb = rng.random((400, 3))
    spectra = _smooth_spectra(rng, 400)
    model = ssrzoo.create_model("root_poly2")
    norms = []
    for ridge in (0.0, 1e-3, 1e-1, 10.0):
        model.fit(rgb, spectra, ridge=ridge)
        w = model.weight.detach().double().numpy()
        np.testing.assert_allclose(
            w, _ridge_reference(rgb, spectra, ridge, 2), rtol=1e-4, atol=1e-5
        )
        norms.append(np.linalg.norm(w))
        assert model.ridge_ == ridge
    assert all(a > b for a, b in itertools.pairwise(norms))
    # ridge=0 is ordinary least squares
    phi = model.features(torch.from_numpy(rgb)).numpy()
    model.fit(rgb, spectra, ridge=0.0)
    ols = np.linalg.lstsq(phi, spectra, rcond=None)[0].T
    np.testing.assert_allclose(model.weight.detach().double().numpy(), ols, rtol=1e-4, atol=1e-5)


def test_cross_validation_scores_are_held_out_errors() -> None:
    rng = np.random.default_rng(3)
    rgb = rng.random((300, 3))
    spectra = _smooth_spectra(rng, 300) + rng.normal(scale=0.05, size=(300, 31))
    ridges = (1e-6, 1e-2, 1.0)
    model = ssrzoo.create_model("root_poly3").fit(rgb, spectra, ridge=ridges, cv_folds=3)
    assert set(model.cv_mse_) == set(ridges)
    assert model.ridge_ == min(model.cv_mse_, key=model.cv_mse_.get)
    # Recompute each held-out MSE by refitting on the other folds explicitly.
    folds = np.array_split(np.arange(300), 3)
    phi = model.features(torch.from_numpy(rgb)).numpy()
    for ridge in ridges:
        sse = 0.0
        for held in folds:
            train = np.setdiff1d(np.arange(300), held)
            w = _ridge_reference(rgb[train], spectra[train], ridge, 3)
            sse += np.sum((phi[held] @ w.T - spectra[held]) ** 2)
        assert model.cv_mse_[ridge] == pytest.approx(sse / spectra.size, rel=1e-6)


def test_cross_validation_over_groups_holds_out_whole_groups() -> None:
    rng = np.random.default_rng(5)
    rgb = rng.random((260, 3))
    spectra = _smooth_spectra(rng, 260) + rng.normal(scale=0.05, size=(260, 31))
    # three images of unequal size, interleaved: contiguous folds would cut through them
    groups = rng.permutation(np.repeat([7, 2, 9], [200, 40, 20]))
    ridges = (1e-6, 1e-2, 1.0)
    model = ssrzoo.create_model("root_poly3").fit(rgb, spectra, ridge=ridges, groups=groups)
    phi = model.features(torch.from_numpy(rgb)).numpy()
    for ridge in ridges:
        sse = 0.0
        for label in (7, 2, 9):  # 3 groups <= 5 folds: leave one group out
            held = groups == label
            w = _ridge_reference(rgb[~held], spectra[~held], ridge, 3)
            sse += np.sum((phi[held] @ w.T - spectra[held]) ** 2)
        assert model.cv_mse_[ridge] == pytest.approx(sse / spectra.size, rel=1e-6)
    # more groups than folds: each group stays whole inside one fold
    many = np.repeat(np.arange(6), [60, 50, 50, 40, 40, 20])
    two = ssrzoo.create_model("root_poly3").fit(rgb, spectra, ridge=ridges, cv_folds=2, groups=many)
    held = np.isin(many, (0, 2, 4))  # groups dealt round-robin in order of appearance
    sse = 0.0
    for fold in (held, ~held):
        w = _ridge_reference(rgb[~fold], spectra[~fold], 1e-2, 3)
        sse += np.sum((phi[fold] @ w.T - spectra[fold]) ** 2)
    assert two.cv_mse_[1e-2] == pytest.approx(sse / spectra.size, rel=1e-6)


def test_fit_rejects_bad_groups() -> None:
    rng = np.random.default_rng(6)
    rgb, spectra = rng.random((50, 3)), _smooth_spectra(rng, 50)
    model = ssrzoo.create_model("root_poly2")
    with pytest.raises(ValueError, match="one label per row"):
        model.fit(rgb, spectra, ridge=(1e-3, 1e-1), groups=np.zeros(49))
    with pytest.raises(ValueError, match="at least 2 groups"):
        model.fit(rgb, spectra, ridge=(1e-3, 1e-1), groups=np.zeros(50))
    model.fit(rgb, spectra, ridge=1e-3, groups=np.zeros(50))  # one ridge: no CV, no check


def test_physically_plausible_fit_reproduces_the_rgb() -> None:
    rng = np.random.default_rng(4)
    response = get_response("cie1964_10deg").matrix(WL)
    response = response / response.sum(axis=1, keepdims=True)
    spectra = _smooth_spectra(rng, 600)
    rgb = spectra @ response.T
    plain = ssrzoo.create_model("root_poly2").fit(rgb, spectra, ridge=1e-4)
    plausible = ssrzoo.create_model("root_poly2").fit(rgb, spectra, ridge=1e-4, response=response)
    test_spectra = _smooth_spectra(rng, 100)
    test_rgb = test_spectra @ response.T
    back = _predict(plausible, test_rgb) @ response.T
    np.testing.assert_allclose(back, test_rgb, rtol=1e-4, atol=1e-6)
    assert np.abs(_predict(plain, test_rgb) @ response.T - test_rgb).max() > 1e-3
    assert plausible.pretrained_cfg.response is not None


def test_fit_rejects_bad_shapes() -> None:
    model = ssrzoo.create_model("root_poly2")
    with pytest.raises(ValueError, match="num_bands=20"):
        model.fit(np.ones((10, 3)), np.ones((10, 20)))
    with pytest.raises(ValueError, match="4 channels"):
        model.fit(np.ones((10, 4)), np.ones((10, 31)))
    with pytest.raises(ValueError, match="reshape images"):
        model.fit(np.ones((1, 3, 4, 4)), np.ones((10, 31)))
    with pytest.raises(ValueError, match="ridge"):
        model.fit(np.ones((10, 3)), np.ones((10, 31)), ridge=-1.0)
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        model(torch.rand(1, 4, 8, 8))


def test_fitted_model_round_trips_through_save_pretrained(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    rgb = rng.random((500, 3))
    spectra = _smooth_spectra(rng, 500)
    model = ssrzoo.create_model("root_poly3_ntire").fit(rgb, spectra, wavelengths=WL)
    folder = ssrzoo.save_pretrained(model, tmp_path / "rp3")
    x = torch.rand(2, 3, 5, 7)
    expected = model(x)

    loaded = ssrzoo.create_model(f"local-dir:{folder}")
    assert type(loaded) is RootPolynomialRegression and loaded.degree == 3
    torch.testing.assert_close(loaded(x), expected)
    assert loaded.pretrained_cfg.wavelengths == tuple(WL)
    assert loaded.pretrained_cfg.response_name == "cie1964_10deg"

    weights = folder / "model.safetensors"
    by_file = ssrzoo.create_model(
        "root_poly3",
        pretrained=True,
        pretrained_cfg_overlay={"file": str(weights), "sha256": file_sha256(weights)},
    )
    torch.testing.assert_close(by_file(x), expected)
    by_checkpoint = ssrzoo.create_model("root_poly3", checkpoint_path=weights)
    torch.testing.assert_close(by_checkpoint(x), expected)
    with pytest.raises(ssrzoo.CheckpointError):
        ssrzoo.create_model("root_poly2", checkpoint_path=weights)


def test_registry_names_and_cfgs() -> None:
    names = ssrzoo.list_models(module="regression")
    assert set(REGRESSIONS) <= set(names)
    for name in REGRESSIONS:
        cfg = ssrzoo.get_pretrained_cfg(f"{name}_ntire")
        assert cfg.name == f"{name}.ntire2020"
        assert cfg.wavelengths == tuple(WL) and cfg.response_name == "cie1964_10deg"
        assert cfg.bundled and len(cfg.sha256) == 64  # fitted weights ship in the package
    counts = {n: ssrzoo.models.count_params(ssrzoo.create_model(n)) for n in REGRESSIONS}
    assert counts == {"linear_regression": 93, "root_poly2": 186, "root_poly3": 403}


# --- colour-science upsamplers -------------------------------------------------------------


@pytest.fixture(scope="module")
def srgb() -> np.ndarray:
    return np.random.default_rng(6).uniform(0.05, 0.95, size=(40, 3))


def test_otsu2018_matches_the_library(srgb: np.ndarray) -> None:
    out = Otsu2018Recovery().recover(srgb)
    for pixel, spectrum in zip(srgb, out, strict=True):
        ref = colour.XYZ_to_sd(colour.sRGB_to_XYZ(pixel), method="Otsu 2018")
        np.testing.assert_allclose(spectrum, ref[WL], atol=1e-10)


def test_mallett2019_matches_the_library(srgb: np.ndarray) -> None:
    out = Mallett2019Recovery().recover(srgb)
    for pixel, spectrum in zip(srgb, out, strict=True):
        ref = colour.recovery.RGB_to_sd_Mallett2019(colour.cctf_decoding(pixel, "sRGB"))
        np.testing.assert_allclose(spectrum, ref[WL], atol=1e-10)


@pytest.mark.slow  # builds the Jakob 2019 lookup table (about 0.5-5 min)
def test_jakob2019_matches_the_library(srgb: np.ndarray) -> None:
    model = ssrzoo.create_model("colour_jakob2019")  # default table, shared with other tests
    assert isinstance(model, Jakob2019Recovery)
    out = model.recover(srgb)
    lut = jakob2019_lut(model.lut_size)
    for pixel, spectrum in zip(srgb[:10], out[:10], strict=True):
        ref = lut.RGB_to_sd(colour.cctf_decoding(pixel, "sRGB"), colour.SpectralShape(400, 700, 10))
        np.testing.assert_allclose(spectrum, ref.values, atol=1e-10)


def _srgb_of(spectra: np.ndarray, wl: np.ndarray) -> np.ndarray:
    """Linear sRGB of reflectances under D65 with the CIE 1931 2° observer."""
    cmfs = colour.MSDS_CMFS["CIE 1931 2 Degree Standard Observer"][wl]
    d65 = colour.SDS_ILLUMINANTS["D65"][wl]
    xyz = (spectra * d65) @ cmfs / (d65 @ cmfs[:, 1])
    return colour.XYZ_to_sRGB(xyz, apply_cctf_encoding=False)


@pytest.mark.parametrize(
    ("name", "wl", "tol"),
    [
        ("colour_mallett2019", np.arange(380.0, 781.0, 5.0), 0.01),
        ("colour_otsu2018", np.arange(380.0, 731.0, 10.0), 0.01),
        pytest.param(
            "colour_jakob2019", np.arange(360.0, 781.0, 5.0), 0.12, marks=pytest.mark.slow
        ),
    ],
)
def test_colour_models_reproduce_the_input_colour(name: str, wl: np.ndarray, tol: float) -> None:
    # Desaturated colours, inside every method's gamut: recovered reflectance re-renders
    # to the input (Jakob's tolerance is that of its small default lookup table).
    srgb = np.random.default_rng(7).uniform(0.25, 0.75, size=(30, 3))
    model = ssrzoo.create_model(name, wavelengths=wl)  # Jakob: default table, built once
    assert model.pretrained_cfg.num_bands == len(wl)
    assert model.pretrained_cfg.wavelengths == tuple(wl)
    out = _predict(model, srgb)
    assert out.min() >= 0 and out.max() <= 1
    linear = colour.cctf_decoding(srgb, "sRGB")
    assert np.abs(_srgb_of(out, wl) - linear).mean() < tol


@pytest.mark.parametrize(
    ("name", "native_step"), [("colour_mallett2019", 5.0), ("colour_otsu2018", 10.0)]
)
def test_colour_models_band_grid(name: str, native_step: float) -> None:
    x = 0.25 + 0.5 * torch.rand(1, 3, 3, 4)  # inside the gamut: no clipping
    full = ssrzoo.create_model(name, pretrained=True)  # no weights: nothing to load
    assert full.pretrained_cfg.wavelengths == tuple(WL)
    sub = ssrzoo.create_model(name, wavelengths=[420.0, 500.0, 650.0])
    torch.testing.assert_close(sub(x), full(x)[:, [2, 10, 25]])
    # Halfway between two samples of the method's own grid: their mean (linear resampling).
    wl = [400.0, 400.0 + native_step / 2, 400.0 + native_step]
    out = ssrzoo.create_model(name, wavelengths=wl)(x)
    torch.testing.assert_close(out[:, 1], out[:, [0, 2]].mean(1))
    with pytest.raises(ValueError, match="nm"):
        ssrzoo.create_model(name, wavelengths=[350.0, 400.0])
    assert not getattr(full, "supports_backward", True)
    assert ssrzoo.models.count_params(full) == 0


def test_colour_model_round_trips_through_save_pretrained(tmp_path: Path) -> None:
    model = ssrzoo.create_model("colour_otsu2018", wavelengths=[450.0, 550.0, 650.0])
    folder = ssrzoo.save_pretrained(model, tmp_path / "otsu")
    loaded = ssrzoo.create_model(f"local-dir:{folder}")
    x = torch.rand(1, 3, 4, 4)
    torch.testing.assert_close(loaded(x), model(x))
    assert loaded.pretrained_cfg.wavelengths == (450.0, 550.0, 650.0)


# --- real spectra: ICVL strips ---------------------------------------------------------------

# Dark level subtracted from the raw counts: the strips' per-band median scene minimum is
# 185.8-188 counts (MANIFEST.md), so 185 removes the pedestal without cutting real signal.
ICVL_DARK = 185.0
# Valid pixels: every band at least this far above the dark level (MRAE divides by the
# target, so near-black pixels would dominate it) and no band near saturation (4095).
ICVL_MIN_SIGNAL = 20.0
ICVL_SATURATION = 4000.0


def _icvl_pixels(files: list[Path]) -> tuple[np.ndarray, np.ndarray]:
    """NTIRE2020-Clean RGB and exposure-normalised spectra of the valid pixels.

    Each strip is cropped to 9 rows x 1016 columns (every 4th kept) so all stack in one
    batch. ``simulate_rgb(pipeline='clean')`` scales each image so its brightest RGB value
    is 1; the spectra are scaled by the same per-image gain, so RGB and spectra share one
    exposure (the RGB keeps the challenge's 8-bit truncation).
    """
    raw = np.stack([np.load(f)["rad"][:9, :1016:4] for f in files]).astype(np.float64)
    cubes = np.clip(raw - ICVL_DARK, 0.0, None).transpose(0, 3, 1, 2)  # (B, 31, 9, 254)
    rgb, info = simulate_rgb(cubes, WL, pipeline="clean", return_info=True)
    spectra = cubes * info["gain"][:, None, None, None]
    valid = ((raw.min(-1) - ICVL_DARK >= ICVL_MIN_SIGNAL) & (raw.max(-1) < ICVL_SATURATION)).ravel()
    rgb = rgb.transpose(0, 2, 3, 1).reshape(-1, 3)[valid]
    spectra = spectra.transpose(0, 2, 3, 1).reshape(-1, 31)[valid]
    return rgb, spectra


def _pixel_mrae(pred: np.ndarray, target: np.ndarray) -> float:
    as_image = [torch.from_numpy(a.T[:, None, :].copy()) for a in (pred, target)]  # (31, 1, N)
    return float(mrae(*as_image))


def test_regressions_beat_constant_spectrum_on_icvl(shared_data: Path) -> None:
    files = sorted((shared_data / "icvl_strips").glob("*.npz"))
    if len(files) < 20:
        pytest.skip("too few ICVL strips in the shared data folder")
    # Scene-disjoint split in name order (captures of one session stay on one side).
    cut = int(0.6 * len(files))
    rgb_train, spectra_train = _icvl_pixels(files[:cut])
    rgb_test, spectra_test = _icvl_pixels(files[cut:])
    assert len(rgb_train) > 50_000 and len(rgb_test) > 20_000

    constant = np.broadcast_to(spectra_train.mean(axis=0), spectra_test.shape)
    baseline = _pixel_mrae(constant, spectra_test)
    results = {}
    for name in REGRESSIONS:
        model = ssrzoo.create_model(f"{name}_ntire").fit(rgb_train, spectra_train)
        results[name] = _pixel_mrae(_predict(model, rgb_test), spectra_test)
    print(
        f"ICVL ({len(rgb_train)} fit / {len(rgb_test)} test pixels) MRAE: constant spectrum "
        f"{baseline:.4f}, " + ", ".join(f"{k} {v:.4f}" for k, v in results.items())
    )
    for name, value in results.items():
        assert value < 0.25 * baseline, (name, value, baseline)
    assert results["root_poly3"] < results["linear_regression"]
