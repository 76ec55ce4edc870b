"""Measured light: drawing illuminants by category, relighting reflectance patches."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ssrzoo.data import (
    DevicePatches,
    HyperspectralDataset,
    LightSampler,
    RandomPatches,
    Relight,
    SimulateRGB,
    colour_illuminants,
    make_sample,
)
from ssrzoo.exceptions import ConfigError
from ssrzoo.train import build_dataset
from ssrzoo.train.config import DatasetConfig

WL = np.arange(400.0, 701.0, 10.0)


class FlatReflectance(HyperspectralDataset):
    """One scene of a constant reflectance (and a disk RGB that relighting must drop)."""

    url = "generated"
    layout = "none"

    def __init__(self, root: str = "unused", split: str = "all", value: float = 0.5):
        self.value = value
        super().__init__(root, split)

    def _verify(self):
        self.items = [0]

    def _load(self, index):
        cube = np.full((31, 16, 16), self.value, np.float32)
        return make_sample(cube, WL, name="flat", rgb=np.full((3, 16, 16), 0.3, np.float32))


@pytest.fixture(scope="module")
def lights():
    return colour_illuminants()


def test_light_sampler_draws_by_category(lights):
    sampler = LightSampler(lights, WL, {"tungsten": 1.0})
    assert sampler.categories == ["tungsten"]
    np.testing.assert_allclose(sampler.spectra.mean(axis=1), 1.0, rtol=1e-5)
    rng = np.random.default_rng(0)
    for _ in range(5):
        spd, category = sampler.draw(rng)
        assert category == "tungsten"
        assert spd[-5:].mean() > 2 * spd[:5].mean()  # incandescent light is red-heavy
    both = LightSampler(lights, WL, {"tungsten": 1.0, "daylight": 1.0})
    assert {both.draw(rng, avoid="tungsten")[1] for _ in range(10)} == {"daylight"}
    with pytest.raises(ValueError, match="unknown illuminant categories"):
        LightSampler(lights, WL, {"candle": 1.0})


def test_relight_scales_reflectance_by_the_light_peak_normalised(lights):
    relight = Relight(lights)
    sample = FlatReflectance(value=1.0)[0]
    out = relight(sample, np.random.default_rng(3))
    light = out["illuminant"]
    assert float(light.max()) == pytest.approx(1.0)
    torch.testing.assert_close(out["hsi"][:, 5, 7], light)
    assert torch.equal(sample["hsi"], torch.ones_like(sample["hsi"]))  # input left untouched
    other = relight(sample, np.random.default_rng(4))["illuminant"]
    assert not torch.allclose(light, other)
    with pytest.raises(ValueError, match="wavelengths"):
        relight({"hsi": sample["hsi"]}, np.random.default_rng(0))


def test_random_patches_relight_each_patch_and_simulate_rgb(lights):
    patches = RandomPatches(
        FlatReflectance(), 8, patches_per_image=6, relight=Relight(lights), rgb="auto"
    )
    first, again = patches[2], patches[2]
    torch.testing.assert_close(first["hsi"], again["hsi"])  # seeded per item
    assert not torch.allclose(first["illuminant"], patches[3]["illuminant"])
    # The disk RGB (0.3 everywhere) showed another light: the patch gets a simulated one.
    expected = SimulateRGB()(dict(first))["rgb"]
    torch.testing.assert_close(first["rgb"], expected)
    with pytest.raises(ValueError, match="disk RGB"):
        RandomPatches(FlatReflectance(), 8, relight=Relight(lights), rgb="disk")
    with pytest.raises(ValueError, match="relight"):
        DevicePatches.from_patches(RandomPatches(FlatReflectance(), 8, relight=Relight(lights)))


def test_recipes_configure_relight(monkeypatch):
    import ssrzoo.data as data

    monkeypatch.setattr(data, "FlatReflectance", FlatReflectance, raising=False)
    monkeypatch.setattr(data, "__all__", [*data.__all__, "FlatReflectance"])
    spec = DatasetConfig(
        name="FlatReflectance",
        patches={"patch_size": 8, "relight": {"library": "colour", "weights": {"led": 1.0}}},
    )
    dataset = build_dataset(spec)
    assert isinstance(dataset.relight, Relight)
    assert dataset.relight.weights == {"led": 1.0}
    assert "illuminant" in dataset[0]
    bad = DatasetConfig(name="FlatReflectance", patches={"patch_size": 8, "relight": {"x": 1}})
    with pytest.raises(ConfigError, match="unknown keys"):
        build_dataset(bad)
    no_root = DatasetConfig(name="FlatReflectance", patches={"patch_size": 8, "relight": True})
    with pytest.raises(ConfigError, match="root"):
        build_dataset(no_root)
    candle = {"library": "colour", "weights": {"candle": 1.0}}
    bad_light = DatasetConfig(name="FlatReflectance", patches={"patch_size": 8, "relight": candle})
    with pytest.raises(ConfigError, match="unknown illuminant categories"):
        build_dataset(bad_light)
    off = DatasetConfig(name="FlatReflectance", patches={"patch_size": 8, "relight": False})
    assert build_dataset(off).relight is None
