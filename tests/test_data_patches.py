"""Random patches: shapes, augmentation consistency, RGB sources, determinism across workers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from ssrzoo.data import (
    HyperspectralDataset,
    ICVLStrips,
    RandomPatches,
    SimulateRGB,
    crop,
    flip_rotate,
    make_sample,
    scale_exposure,
)
from ssrzoo.spectral import get_response

WL = np.arange(400.0, 701.0, 10.0)


class ToyImages(HyperspectralDataset):
    """Images whose 'rgb' is a copy of three cube bands, so any misalignment shows."""

    url = "generated"
    layout = "none"

    def __init__(self, sizes, with_rgb=True, invalid_right=False):
        self.sizes = sizes
        self.with_rgb = with_rgb
        self.invalid_right = invalid_right
        super().__init__("unused")

    def _verify(self):
        self.items = list(range(len(self.sizes)))

    def _load(self, index):
        h, w = self.sizes[index]
        rng = np.random.default_rng(index)
        cube = rng.uniform(0.05, 0.5, (31, h, w)).astype(np.float32)
        valid = np.ones((h, w), bool)
        if self.invalid_right:
            valid[:, w // 2 :] = False
        rgb = cube[[25, 15, 5]].copy() if self.with_rgb else None
        return make_sample(cube, WL, name=f"toy{index}", rgb=rgb, valid=valid)


def test_crop_and_dihedral_ops_move_everything_together():
    s = ToyImages([(6, 9)])[0]
    c = crop(s, 1, 2, 4, 5)
    np.testing.assert_array_equal(c["hsi"].numpy(), s["hsi"][:, 1:5, 2:7].numpy())
    for k in range(4):
        for flip in (False, True):
            out = flip_rotate(c, k, flip)
            expected = np.rot90(
                c["hsi"].numpy()[..., ::-1] if flip else c["hsi"].numpy(), k, (1, 2)
            )
            np.testing.assert_array_equal(out["hsi"].numpy(), expected)
            np.testing.assert_array_equal(out["rgb"].numpy(), expected[[25, 15, 5]])
            assert out["valid"].shape == expected.shape[1:]
    with pytest.raises(ValueError, match="does not fit"):
        crop(s, 3, 0, 4, 5)


def test_disk_rgb_stays_aligned_and_scaled_with_the_cube():
    patches = RandomPatches(
        ToyImages([(20, 30), (25, 25)]),
        (8, 12),
        patches_per_image=6,
        exposure=(0.5, 3.0),
        rgb="disk",
    )
    for i in range(len(patches)):
        p = patches[i]
        assert p["hsi"].shape == (31, 8, 12) and p["rgb"].shape == (3, 8, 12)
        expected = p["hsi"][[25, 15, 5]].clamp(0, 1)
        torch.testing.assert_close(p["rgb"], expected, rtol=1e-6, atol=1e-7)


def test_simulated_rgb_scales_with_exposure():
    sim = SimulateRGB(bit_depth=None)
    a = RandomPatches(ToyImages([(16, 16)], with_rgb=False), 8, seed=3, simulate=sim)[0]
    b = RandomPatches(
        ToyImages([(16, 16)], with_rgb=False), 8, seed=3, simulate=sim, exposure=(0.5, 0.9)
    )[0]
    factor = float(b["hsi"].sum() / a["hsi"].sum())
    assert 0.5 <= factor <= 0.9
    torch.testing.assert_close(b["hsi"], a["hsi"] * factor, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(b["rgb"], a["rgb"] * factor, rtol=1e-4, atol=1e-6)
    # The fixed white gain: a flat unit spectrum gives 1 in the brightest channel.
    m = get_response("cie1964_10deg").matrix(WL)
    assert sim.white_gain(WL) == pytest.approx(1.0 / m.sum(axis=1).max())
    flat = make_sample(np.ones((31, 2, 2), np.float32), WL)
    assert float(sim(flat)["rgb"].max()) == pytest.approx(1.0, abs=1e-6)


def test_rgb_source_choices():
    with_rgb = ToyImages([(10, 10)])
    no_rgb = ToyImages([(10, 10)], with_rgb=False)
    sim = RandomPatches(with_rgb, 4, rgb="simulate")[0]
    assert not torch.allclose(sim["rgb"], sim["hsi"][[25, 15, 5]])
    assert "rgb" in RandomPatches(no_rgb, 4, rgb="auto")[0]
    assert "rgb" not in RandomPatches(with_rgb, 4, rgb=None)[0]
    with pytest.raises(ValueError, match="ships no RGB"):
        RandomPatches(no_rgb, 4, rgb="disk")[0]


def test_thin_patches_keep_their_shape_under_rotation():
    patches = RandomPatches(ToyImages([(7, 200)]), (4, 32), patches_per_image=40, seed=1)
    ks = set()
    for i in range(len(patches)):
        p = patches[i]
        assert p["hsi"].shape == (31, 4, 32)
        ks.add(int(p["patch"][3]))
    assert ks <= {0, 2} and ks == {0, 2}  # quarter turns would need 32 rows
    square = RandomPatches(ToyImages([(40, 40)]), (4, 32), patches_per_image=40, seed=1)
    assert {int(square[i]["patch"][3]) for i in range(40)} == {0, 1, 2, 3}
    assert all(square[i]["hsi"].shape == (31, 4, 32) for i in range(40))


def test_patches_prefer_valid_windows():
    patches = RandomPatches(
        ToyImages([(16, 64)], invalid_right=True),
        (8, 8),
        patches_per_image=20,
        min_valid=1.0,
        max_tries=50,
        rot90=False,
    )
    assert all(bool(patches[i]["valid"].all()) for i in range(20))


def test_small_images_are_skipped_and_all_small_is_an_error():
    patches = RandomPatches(ToyImages([(4, 4), (20, 20)]), 8, patches_per_image=3)
    assert all(int(patches[i]["patch"][0]) == 1 for i in range(len(patches)))
    with pytest.raises(ValueError, match="smaller patch_size"):
        RandomPatches(ToyImages([(4, 4)]), 8)[0]


def test_deterministic_per_seed_and_epoch():
    ds = ToyImages([(30, 30), (30, 40)])
    a = RandomPatches(ds, 8, patches_per_image=4, seed=5, exposure=(0.5, 2.0))
    b = RandomPatches(ds, 8, patches_per_image=4, seed=5, exposure=(0.5, 2.0))
    for i in (0, 3, 7):
        torch.testing.assert_close(a[i]["hsi"], b[i]["hsi"], rtol=0, atol=0)
    c = RandomPatches(ds, 8, patches_per_image=4, seed=6, exposure=(0.5, 2.0))
    assert not torch.equal(a[0]["hsi"], c[0]["hsi"])
    before = [a[i]["patch"] for i in range(8)]
    a.set_epoch(1)
    after = [a[i]["patch"] for i in range(8)]
    assert any(not torch.equal(x, y) for x, y in zip(before, after, strict=True))


def test_same_batches_in_two_workers_as_in_the_main_process(shared_data):
    strips = ICVLStrips(shared_data, "val")
    sim = SimulateRGB(response="cie1964_10deg")
    patches = RandomPatches(
        strips,
        (8, 32),
        patches_per_image=1,
        seed=11,
        exposure=(0.7, 1.4),
        simulate=sim,
        cache_size=4,
    )
    subset = torch.utils.data.Subset(patches, list(range(8)))
    loader = DataLoader(subset, batch_size=4, num_workers=2, shuffle=False)
    batches = list(loader)
    direct = torch.stack([patches[i]["hsi"] for i in range(8)])
    torch.testing.assert_close(torch.cat([b["hsi"] for b in batches]), direct, rtol=0, atol=0)
    rgb = torch.stack([patches[i]["rgb"] for i in range(8)])
    torch.testing.assert_close(torch.cat([b["rgb"] for b in batches]), rgb, rtol=0, atol=0)
    assert batches[0]["hsi"].shape == (4, 31, 8, 32)


def test_realistic_pipeline_is_seeded():
    qe = get_response("nikon_5100_npl")
    sim = SimulateRGB(response=qe, pipeline="realistic", jpeg_quality=None)
    patches = RandomPatches(ToyImages([(16, 16)], with_rgb=False), 8, seed=2, simulate=sim)
    torch.testing.assert_close(patches[0]["rgb"], patches[0]["rgb"], rtol=0, atol=0)
    other = RandomPatches(ToyImages([(16, 16)], with_rgb=False), 8, seed=9, simulate=sim)
    assert not torch.equal(patches[0]["rgb"], other[0]["rgb"])
    with pytest.raises(ValueError, match="camera response"):
        SimulateRGB(pipeline="realistic")


def test_scale_exposure_validates():
    s = ToyImages([(4, 4)])[0]
    with pytest.raises(ValueError, match="positive"):
        scale_exposure(s, 0.0)
    out = scale_exposure(s, 10.0)
    assert float(out["rgb"].max()) <= 1.0
