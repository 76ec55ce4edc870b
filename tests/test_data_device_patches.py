"""DevicePatches: batched crops, dihedral augmentation, exposure and clean RGB on one device."""

import itertools

import numpy as np
import pytest
import torch

from ssrzoo.data import DevicePatches, RandomPatches, SimulateRGB, make_sample
from ssrzoo.spectral import simulate_clean

WL = np.arange(400, 701, 10, dtype=np.float64)


def _dihedral(x: torch.Tensor) -> list[torch.Tensor]:
    out = []
    for k, mirror in itertools.product(range(4), (False, True)):
        y = torch.rot90(x, k, dims=(-2, -1))
        out.append(y.flip(-1) if mirror else y)
    return out


def _source_of(patch: torch.Tensor, images: list[torch.Tensor]) -> tuple[int, int] | None:
    """``(image, transform)`` such that the patch is an exact transformed window, else None."""
    h, w = patch.shape[-2:]
    for i, image in enumerate(images):
        for t, view in enumerate(_dihedral(image)):
            windows = view.unfold(-2, h, 1).unfold(-2, w, 1)  # (C, nh, nw, h, w)
            if (windows == patch[:, None, None]).all(0).all(-1).all(-1).any():
                return i, t
    return None


def test_patches_are_transformed_windows_of_the_images_and_cover_the_dihedral_group():
    g = torch.Generator().manual_seed(0)
    images = [torch.rand(4, 7, 7, generator=g), torch.rand(4, 9, 12, generator=g)]
    patches = DevicePatches(images, (4, 4), response=torch.rand(3, 4), seed=1)
    batch = patches.sample(64)
    assert batch["hsi"].shape == (64, 4, 4, 4) and batch["rgb"].shape == (64, 3, 4, 4)
    found = [_source_of(p, images) for p in batch["hsi"]]
    assert all(f is not None for f in found)
    assert {f[0] for f in found} == {0, 1}  # both image sizes are drawn
    assert len({f[1] for f in found}) >= 6  # quarter turns and mirrors, not one orientation


def test_non_square_patches_keep_their_shape_and_images_too_small_are_skipped():
    images = [torch.rand(2, 3, 20), torch.rand(2, 2, 2)]
    patches = DevicePatches(images, (3, 8), response=torch.ones(1, 2))
    assert len(patches) == 1 and patches.skipped == 1
    assert patches.sample(8)["hsi"].shape == (8, 2, 3, 8)
    with pytest.raises(ValueError, match="no image holds"):
        DevicePatches(images, (30, 30), response=torch.ones(1, 2))


def test_rgb_is_the_clean_pipeline_of_the_exposed_patch():
    cube = torch.rand(31, 16, 16) * 0.8
    sim = SimulateRGB(response="cie1964_10deg")
    matrix = torch.as_tensor(sim.white_gain(WL) * _cmf(), dtype=torch.float32)
    patches = DevicePatches([cube], (8, 8), response=matrix, exposure=(0.5, 2.0), seed=3)
    batch = patches.sample(16)
    expected = simulate_clean(batch["hsi"].double().numpy(), WL, gain=sim.white_gain(WL))
    np.testing.assert_allclose(batch["rgb"].numpy(), expected, atol=1.01 / 255)
    ratio = batch["hsi"].flatten(1).max(1).values / cube.max()
    assert float(ratio.min()) >= 0.5 * 0.5 and float(ratio.max()) <= 2.0 + 1e-6
    assert len(torch.unique(ratio)) > 8  # one exposure per sample


def _cmf() -> np.ndarray:
    from ssrzoo.spectral import get_response

    return get_response("cie1964_10deg").matrix(WL)


def test_same_seed_same_batches_and_state_resumes_the_stream():
    images = [torch.rand(31, 32, 32)]
    a = DevicePatches(images, (8, 8), response=torch.rand(3, 31), seed=5)
    b = DevicePatches(images, (8, 8), response=torch.rand(3, 31), seed=5)
    torch.testing.assert_close(a.sample(4)["hsi"], b.sample(4)["hsi"])
    state = a.state_dict()
    first = a.sample(4)["hsi"]
    a.load_state_dict(state)
    torch.testing.assert_close(a.sample(4)["hsi"], first)


def _dataset(n: int = 3, rgb: bool = False) -> list:
    g = torch.Generator().manual_seed(0)
    out = []
    for i in range(n):
        cube = torch.rand(31, 24, 24, generator=g).numpy()
        out.append(make_sample(cube, WL, name=f"s{i}", rgb=cube[:3] if rgb else None))
    return out


def test_from_patches_takes_the_patch_settings_and_refuses_what_it_cannot_reproduce():
    patches = RandomPatches(_dataset(), 16, exposure=(0.8, 1.2), rgb="simulate", rot90=False)
    device = DevicePatches.from_patches(patches, seed=0)
    assert device.patch_size == (16, 16) and device.exposure == (0.8, 1.2) and not device.rot90
    assert len(device) == 3
    with pytest.raises(ValueError, match="ships its own RGB"):
        DevicePatches.from_patches(RandomPatches(_dataset(rgb=True), 16, rgb="auto"))
    realistic = SimulateRGB(response="cie1964_10deg", pipeline="realistic")
    with pytest.raises(ValueError, match="clean pipeline"):
        DevicePatches.from_patches(RandomPatches(_dataset(), 16, simulate=realistic))
