"""Pictures: band grid labelled in nm, spectra in nm, sRGB round trip, MRAE error map."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ssrzoo.inference import (
    SpectralImage,
    mrae_map,
    plot_bands,
    plot_error_map,
    plot_round_trip,
    plot_spectra,
)
from ssrzoo.metrics import mrae
from ssrzoo.spectral import render_srgb

WAVELENGTHS = np.arange(400.0, 701.0, 10.0)


@pytest.fixture(scope="module")
def image() -> SpectralImage:
    rng = np.random.default_rng(5)
    cube = (rng.random((31, 20, 30)) * 0.8 + 0.1).astype(np.float32)
    photo = rng.integers(0, 256, size=(20, 30, 3), dtype=np.uint8)
    return SpectralImage(cube=cube, wavelengths=WAVELENGTHS, model="tiny", rgb=photo)


def assert_png(path: Path) -> None:
    with Image.open(path) as im:
        assert im.format == "PNG" and min(im.size) > 50
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # no temp files


def test_band_grid_is_labelled_with_wavelengths(image: SpectralImage, tmp_path: Path) -> None:
    fig = plot_bands(image, path=tmp_path / "bands.png")
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible() and ax.get_title()]
    expected = [f"{w:g} nm" for w in WAVELENGTHS[np.linspace(0, 30, 16).round().astype(int)]]
    assert titles == expected
    panel = fig.axes[1].images[0].get_array()
    np.testing.assert_array_equal(panel, image.cube[2])  # 420 nm, full size (small image)
    assert_png(tmp_path / "bands.png")
    fig = plot_bands(image, bands=[0, 30], max_side=10)
    assert [ax.get_title() for ax in fig.axes[:2]] == ["400 nm", "700 nm"]
    assert fig.axes[0].images[0].get_array().shape == (7, 10)  # subsampled by 3
    with pytest.raises(IndexError, match="out of range"):
        plot_bands(image, bands=[31])


def test_spectra_of_pixels_and_regions_in_nm(image: SpectralImage, tmp_path: Path) -> None:
    fig = plot_spectra(
        image, pixels=[(3, 4)], regions=[(0, 0, 10, 10)], path=tmp_path / "spectra.png"
    )
    ax = fig.axes[1]
    assert ax.get_xlabel() == "wavelength (nm)"
    assert ax.get_ylabel() == "reflectance"
    pixel_line, region_line = ax.get_lines()
    np.testing.assert_array_equal(pixel_line.get_xdata(), WAVELENGTHS)
    np.testing.assert_array_equal(pixel_line.get_ydata(), image.cube[:, 3, 4])
    region_mean = image.cube[:, :10, :10].astype(np.float64).mean(axis=(1, 2))
    np.testing.assert_allclose(region_line.get_ydata(), region_mean, rtol=1e-6)
    assert_png(tmp_path / "spectra.png")
    default = plot_spectra(image)  # the centre pixel when nothing is chosen
    np.testing.assert_array_equal(default.axes[1].get_lines()[0].get_ydata(), image.cube[:, 10, 15])
    with pytest.raises(IndexError, match="outside"):
        plot_spectra(image, pixels=[(20, 0)])


def test_round_trip_shows_the_photo_and_the_srgb_render(
    image: SpectralImage, tmp_path: Path
) -> None:
    fig = plot_round_trip(image, path=tmp_path / "rgb.png")
    photo_ax, render_ax = fig.axes
    assert photo_ax.get_title() == "input photo"
    np.testing.assert_allclose(photo_ax.images[0].get_array(), image.rgb / 255.0, atol=1e-6)
    expected = render_srgb(image.cube, WAVELENGTHS, illuminant="D65").transpose(1, 2, 0)
    np.testing.assert_allclose(render_ax.images[0].get_array(), expected, atol=1e-6)
    assert_png(tmp_path / "rgb.png")
    without_photo = SpectralImage(cube=image.cube, wavelengths=WAVELENGTHS)
    assert len(plot_round_trip(without_photo).axes) == 1
    with pytest.raises(ValueError, match="does not match the 20x30 cube"):
        plot_round_trip(image, rgb=np.zeros((5, 5, 3), np.uint8))


def test_mrae_map_averages_to_the_image_mrae(image: SpectralImage) -> None:
    rng = np.random.default_rng(6)
    truth = image.cube * (1 + 0.1 * rng.standard_normal(image.cube.shape)).astype(np.float32)
    errors = mrae_map(image, truth)
    assert errors.shape == (20, 30)
    by_hand = (np.abs(image.cube - truth) / np.abs(truth)).mean(axis=0)
    np.testing.assert_allclose(errors, by_hand, rtol=1e-6)
    whole = float(mrae(torch.from_numpy(image.cube), torch.from_numpy(truth)))
    assert errors.mean() == pytest.approx(whole, rel=1e-9)
    with pytest.raises(ValueError, match="differ"):
        mrae_map(image, truth[:, :10])


def test_error_map_figure(image: SpectralImage, tmp_path: Path) -> None:
    truth = SpectralImage(cube=image.cube / 1.25, wavelengths=WAVELENGTHS)
    fig = plot_error_map(image, truth, path=tmp_path / "mrae.png")
    ax = fig.axes[0]
    np.testing.assert_allclose(ax.images[0].get_array(), 0.25, rtol=1e-5)  # |1.25t - t| / t
    assert ax.get_title().startswith("tiny: MRAE 0.2500")
    assert_png(tmp_path / "mrae.png")
