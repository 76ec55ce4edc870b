"""predict / Reconstructor: conversion to the weight's input, tiling, self-ensemble, memory."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import tiny_model
import torch
from PIL import Image
from torch import nn

import ssrzoo
from ssrzoo.inference import InsufficientMemoryError, Reconstructor, TileGrid, tiled_apply
from ssrzoo.io import load_rgb, to_model_input, to_unit_float
from ssrzoo.metrics import bp_mrae
from ssrzoo.models import PretrainedCfg, build_model_with_cfg
from ssrzoo.spectral import srgb_to_camera_matrix

RNG = np.random.default_rng(3)
PHOTO = RNG.integers(0, 256, size=(45, 61, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def model() -> nn.Module:
    torch.manual_seed(0)
    return ssrzoo.create_model("tiny_ssr_test").eval()


def direct(model: nn.Module, rgb01: np.ndarray) -> np.ndarray:
    """The model on a whole ``(H, W, 3)`` image in [0, 1], no ssrzoo inference code."""
    with torch.no_grad():
        x = torch.from_numpy(np.ascontiguousarray(rgb01.transpose(2, 0, 1), np.float32))[None]
        return model(x)[0].numpy()


class DeepConv(nn.Module):
    """Five 3x3 convolutions: a receptive field of 5 pixels on each side."""

    def __init__(self, in_chans: int = 3, num_bands: int = 31) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(in_chans, 8, 3, padding=1)]
        for _ in range(3):
            layers += [nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1)]
        layers += [nn.ReLU(), nn.Conv2d(8, num_bands, 3, padding=1)]
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def deep_model() -> nn.Module:
    torch.manual_seed(1)
    cfg = PretrainedCfg(architecture="deep", wavelengths=tiny_model.WAVELENGTHS)
    return build_model_with_cfg(DeepConv, "deep", pretrained_cfg=cfg)


# -- what comes out ---------------------------------------------------------------------------


def test_predict_returns_the_cube_with_its_metadata(model: nn.Module) -> None:
    result = ssrzoo.predict(model, PHOTO, tile=0)
    assert isinstance(result, ssrzoo.SpectralImage)
    assert result.cube.shape == (31, 45, 61) and result.cube.dtype == np.float32
    np.testing.assert_allclose(result.cube, direct(model, PHOTO / 255.0), atol=1e-5)
    assert result.wavelengths.tolist() == list(map(float, tiny_model.WAVELENGTHS))
    assert result.units == "reflectance"
    assert result.model == "tiny_ssr.test"
    assert result.pretrained_cfg is model.pretrained_cfg
    np.testing.assert_array_equal(result.rgb, PHOTO)


def test_every_input_kind_gives_the_same_cube(model: nn.Module, tmp_path: Path) -> None:
    Image.fromarray(PHOTO).save(tmp_path / "p.png")
    rec = Reconstructor(model, tile=0)
    reference = rec(PHOTO).cube
    inputs = [
        tmp_path / "p.png",
        str(tmp_path / "p.png"),
        Image.fromarray(PHOTO),
        PHOTO.transpose(2, 0, 1),
        torch.from_numpy(PHOTO.transpose(2, 0, 1).copy()),
        torch.from_numpy(PHOTO.transpose(2, 0, 1).copy()).float()[None] / 255,
        (PHOTO.astype(np.uint16) * 257),
    ]
    for image in inputs:
        np.testing.assert_allclose(rec(image).cube, reference, atol=1e-5)
    assert rec(tmp_path / "p.png").source == str(tmp_path / "p.png")


def test_input_is_converted_to_what_the_weight_expects() -> None:
    linear_model = ssrzoo.create_model(
        "tiny_ssr_test",
        pretrained_cfg_overlay={"input_encoding": "linear", "input_range": (0.0, 2.0)},
    )
    v = PHOTO / 255.0
    linear = np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)  # IEC 61966-2-1
    result = ssrzoo.predict(linear_model, PHOTO, tile=0, camera_correction=False)
    np.testing.assert_allclose(result.cube, direct(linear_model, 2.0 * linear), atol=1e-5)
    # Linear input to a linear weight: only the range changes.
    as_linear = ssrzoo.predict(linear_model, PHOTO, tile=0, source_encoding="linear")
    np.testing.assert_allclose(as_linear.cube, direct(linear_model, 2.0 * v), atol=1e-5)


def test_camera_correction_maps_linear_srgb_to_the_weights_camera() -> None:
    linear_model = ssrzoo.create_model(
        "tiny_ssr_test", pretrained_cfg_overlay={"input_encoding": "linear"}
    )
    v = PHOTO / 255.0
    linear = np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)
    matrix = srgb_to_camera_matrix("cie1964_10deg", tiny_model.WAVELENGTHS)  # its response_name
    camera = np.maximum(np.einsum("kc,hwc->hwk", matrix, linear), 0.0)
    result = ssrzoo.predict(linear_model, PHOTO, tile=0, camera_correction=True)
    assert result.metadata["camera_correction"] is True
    np.testing.assert_allclose(result.cube, direct(linear_model, camera), atol=1e-5)
    # The default turns it on for an sRGB photo and a linear weight with a known response...
    default = ssrzoo.predict(linear_model, PHOTO, tile=0)
    assert default.metadata["camera_correction"] is True
    np.testing.assert_allclose(default.cube, result.cube, atol=1e-6)
    # ...and leaves it off for sRGB weights and for weights without a response.
    srgb_model = ssrzoo.create_model("tiny_ssr_test")
    assert ssrzoo.predict(srgb_model, PHOTO, tile=0).metadata["camera_correction"] is False
    unknown = ssrzoo.create_model(
        "tiny_ssr.wide", pretrained_cfg_overlay={"input_encoding": "linear"}
    )
    assert ssrzoo.predict(unknown, PHOTO, tile=0).metadata["camera_correction"] is False
    # Linear data is taken to be in the camera's space already: no matrix.
    raw = ssrzoo.predict(
        linear_model, PHOTO, tile=0, camera_correction=True, source_encoding="linear"
    )
    np.testing.assert_allclose(raw.cube, direct(linear_model, v), atol=1e-5)
    with pytest.raises(ValueError, match="input_encoding='linear'"):
        Reconstructor(ssrzoo.create_model("tiny_ssr_test"), camera_correction=True)
    no_response = ssrzoo.create_model(
        "tiny_ssr.wide", pretrained_cfg_overlay={"input_encoding": "linear"}
    )
    with pytest.raises(ValueError, match="no camera response"):
        Reconstructor(no_response, camera_correction=True)


def test_model_by_name_loads_its_weights(model: nn.Module, tmp_path: Path) -> None:
    ssrzoo.save_pretrained(model, tmp_path / "export")
    result = ssrzoo.predict(f"local-dir:{tmp_path / 'export'}", PHOTO, tile=0, device="cpu")
    np.testing.assert_allclose(result.cube, direct(model, PHOTO / 255.0), atol=1e-5)


def test_photo_to_a_nir_grid_weight() -> None:
    """An sRGB photo into the 430-860 nm Pavia weight: colour-corrected on its visible bands."""
    result = ssrzoo.predict("mae_ktsr_pavia", PHOTO, tile=0, device="cpu")
    assert result.cube.shape == (103, *PHOTO.shape[:2]) and np.isfinite(result.cube).all()
    assert result.wavelengths[0] == 430.0 and result.wavelengths[-1] == 860.0


def test_small_images_run(model: nn.Module) -> None:
    small = PHOTO[:8, :9]  # the smallest accepted side
    result = ssrzoo.predict(model, small)
    np.testing.assert_allclose(result.cube, direct(model, small / 255.0), atol=1e-5)


def test_bad_models_are_reported() -> None:
    class Wrong(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x[:, :2]

    wrong = Wrong()
    with pytest.raises(ValueError, match=r"no pretrained_cfg.*wavelengths="):
        Reconstructor(wrong)
    rec = Reconstructor(wrong, wavelengths=[500.0, 600.0, 700.0])
    expected = r"returned shape \(1, 2, \d+, \d+\) for input .*; expected \(B, 3, H, W\)"
    with pytest.raises(RuntimeError, match=expected):
        rec(PHOTO[:16, :16])
    with pytest.raises(ValueError, match="tile=-1"):
        Reconstructor(wrong, wavelengths=[1.0, 2.0, 3.0], tile=-1)


# -- tiling -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("height", "width"), [(45, 61), (100, 37), (128, 128), (33, 200)])
@pytest.mark.parametrize(("tile", "overlap"), [(32, 8), (48, 16), (64, 32)])
def test_blend_weights_sum_to_one(height: int, width: int, tile: int, overlap: int) -> None:
    grid = TileGrid(height, width, tile, overlap)
    total = np.zeros((height, width))
    for rows, cols, weights in grid:
        assert weights.shape == (grid.tile_h, grid.tile_w)
        total[rows, cols] += weights
    assert total.min() > 0.5  # every pixel is covered with weight (the blend divides by it)
    rows_sum, cols_sum = grid.coverage()  # what tiled_apply divides by, without an HxW map
    np.testing.assert_allclose(np.outer(rows_sum, cols_sum), total, atol=1e-6)
    only_neighbours_overlap = all(
        starts[i + 2] >= starts[i] + tile
        for starts in (grid.ys, grid.xs)
        for i in range(len(starts) - 2)
    )
    if only_neighbours_overlap:  # then the windows form a partition of unity
        np.testing.assert_allclose(total, 1.0, atol=1e-5)
    if height > tile:  # the quarter of the overlap next to a cut edge gets no weight
        _, _, first = next(iter(grid))
        assert np.all(first[-(overlap // 4) :, :] == 0)


def test_tiled_equals_untiled(model: nn.Module) -> None:
    whole = ssrzoo.predict(model, PHOTO, tile=0).cube
    tiled = ssrzoo.predict(model, PHOTO, tile=32, overlap=8, progress=True)
    assert tiled.metadata["tile"] == 32
    assert len(TileGrid(45, 61, 32, 8)) > 1
    np.testing.assert_allclose(tiled.cube, whole, atol=1e-5)


def test_tiled_equals_untiled_for_a_deeper_network() -> None:
    # Receptive field 5 px: the default overlap keeps 8 px of context on each cut edge.
    deep = deep_model()
    image = RNG.integers(0, 256, size=(150, 130, 3), dtype=np.uint8)
    whole = ssrzoo.predict(deep, image, tile=0).cube
    tiled = ssrzoo.predict(deep, image, tile=64, tile_batch=1).cube
    np.testing.assert_allclose(tiled, whole, atol=1e-5)
    # Tiles overlapping by exactly 4 px keep only 1 px of context: now the cut shows.
    image = RNG.integers(0, 256, size=(64 + 60 * 2, 64 + 60, 3), dtype=np.uint8)
    whole = ssrzoo.predict(deep, image, tile=0).cube
    short = ssrzoo.predict(deep, image, tile=64, overlap=4).cube
    scale = np.abs(whole).max()
    assert 1e-4 * scale < np.abs(short - whole).max() < scale


def test_tiled_apply_batches_and_writes_into_out() -> None:
    image = RNG.random((50, 70, 2)).astype(np.float32)
    calls: list[int] = []

    def fn(windows: np.ndarray) -> np.ndarray:
        calls.append(len(windows))
        return windows.transpose(0, 3, 1, 2) * 2  # a pointwise "model"

    out = np.full((2, 50, 70), np.nan, dtype=np.float32)
    result = tiled_apply(fn, image, 2, tile=32, overlap=8, out=out, batch=3)
    assert result is out
    np.testing.assert_allclose(out, image.transpose(2, 0, 1) * 2, atol=1e-6)
    assert sum(calls) == len(TileGrid(50, 70, 32, 8)) and max(calls) == 3


def test_out_memmap(model: nn.Module, tmp_path: Path) -> None:
    out = np.lib.format.open_memmap(tmp_path / "cube.npy", "w+", np.float32, (31, 45, 61))
    result = ssrzoo.predict(model, PHOTO, tile=32, out=out)
    assert result.cube is out
    out.flush()
    np.testing.assert_allclose(
        np.load(tmp_path / "cube.npy"), direct(model, PHOTO / 255), atol=1e-5
    )


# -- automatic tile size and memory ------------------------------------------------------------


def test_tile_size_follows_the_budget(model: nn.Module) -> None:
    rec = Reconstructor(model)
    per_pixel = rec._tile_bytes_per_pixel()
    assert per_pixel > 4 * 31  # at least the output tile itself
    assert rec.tile_size(1000, 1000, budget=int(per_pixel * 100**2)) == 96
    assert rec.tile_size(1000, 1000, budget=int(per_pixel * 300**2)) == 288
    assert rec.tile_size(200, 150, budget=int(per_pixel * 300**2)) == 200  # fits: no tiling
    assert rec.tile_size(5000, 5000, budget=10**15) == 1024  # capped
    with pytest.raises(InsufficientMemoryError, match="64x64 tile"):
        rec.tile_size(1000, 1000, budget=int(per_pixel * 40**2))
    assert Reconstructor(model, tile=0).tile_size(300, 200) == 300


def test_small_memory_limit_picks_small_tiles(model: nn.Module) -> None:
    image = RNG.integers(0, 256, size=(200, 150, 3), dtype=np.uint8)
    rec = Reconstructor(model)
    fixed = 200 * 150 * (4 * 31 + 4)
    limit = fixed + 2 * int(rec._tile_bytes_per_pixel() * 80**2)
    small = Reconstructor(model, memory_limit=limit)(image)
    assert 64 <= small.metadata["tile"] <= 96
    np.testing.assert_allclose(small.cube, direct(model, image / 255.0), atol=1e-5)


def fake_png_header(path: Path, width: int, height: int) -> None:
    """A PNG whose header claims a huge size; its pixel data is missing."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
    )


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_huge_image_with_too_little_memory_is_refused_before_decoding(
    model: nn.Module, tmp_path: Path
) -> None:
    fake_png_header(tmp_path / "huge.png", 10_000, 10_000)  # 100 MP
    rec = Reconstructor(model, memory_limit=4 * 2**30)
    with pytest.raises(InsufficientMemoryError, match=r"10000x10000 image \(100 MP\) needs about"):
        rec(tmp_path / "huge.png")
    with pytest.raises(MemoryError, match=r"11\.55 GiB for the 31-band float32 cube"):
        rec(tmp_path / "huge.png")
    with pytest.raises(InsufficientMemoryError, match="45x61 image"):
        Reconstructor(model, memory_limit=10_000)(PHOTO)


# -- self-ensemble ----------------------------------------------------------------------------


def test_self_ensemble_is_the_mean_of_eight_dihedral_predictions(model: nn.Module) -> None:
    v = PHOTO / 255.0
    outputs = []
    for k in range(4):
        for flip in (False, True):
            x = np.rot90(v, k, axes=(0, 1))
            x = x[:, ::-1] if flip else x
            y = direct(model, x)
            y = y[:, :, ::-1] if flip else y
            outputs.append(np.rot90(y, -k, axes=(1, 2)))
    expected = np.mean(outputs, axis=0)
    plain = ssrzoo.predict(model, PHOTO, tile=0).cube
    ensembled = ssrzoo.predict(model, PHOTO, tile=0, ensemble=True)
    assert ensembled.metadata["ensemble"] is True
    np.testing.assert_allclose(ensembled.cube, expected, atol=1e-5)
    assert np.abs(ensembled.cube - plain).max() > 1e-3  # the model is not flip-invariant
    tiled = ssrzoo.predict(model, PHOTO, tile=32, overlap=8, ensemble=True).cube
    np.testing.assert_allclose(tiled, expected, atol=1e-5)


# -- physically plausible output ----------------------------------------------------------------

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "synthetic_scene.png"


def unclipped_back_projection(rec: Reconstructor, photo: np.ndarray, cube: np.ndarray):
    """BP-MRAE of ``cube`` against the model's input RGB on unclipped pixels, and that mask."""
    unit = to_unit_float(photo)
    cfg = rec.cfg
    x = to_model_input(unit, cfg.input_encoding, cfg.input_range, "srgb", rec.camera_matrix)
    unclipped = ((unit > 0) & (unit < 1)).all(-1) & (x > 0).all(-1)
    rgb = x.transpose(2, 0, 1)[:, unclipped][None, :, None]
    score = bp_mrae(cube[:, unclipped][None, :, None], rgb, np.asarray(cfg.response))
    return float(score), unclipped


def test_rgb_consistent_reproduces_the_input_rgb_of_unclipped_pixels() -> None:
    photo = load_rgb(EXAMPLE)
    plain = Reconstructor("mae_ktsr_ntire", device="cpu", tile=0)
    consistent = Reconstructor("mae_ktsr_ntire", device="cpu", tile=0, rgb_consistent=True)
    before, after = plain(photo), consistent(photo)
    bp_before, unclipped = unclipped_back_projection(plain, photo, before.cube)
    bp_after, _ = unclipped_back_projection(consistent, photo, after.cube)
    assert bp_after <= 1e-3 < bp_before
    assert after.cube.min() >= 0 and before.cube.min() >= 0
    assert (~unclipped).any()  # clipped pixels are left as the model made them
    np.testing.assert_array_equal(after.cube[:, ~unclipped], before.cube[:, ~unclipped])
    assert after.metadata["rgb_consistent"] and not before.metadata["rgb_consistent"]
    # Blending tiles and averaging the self-ensemble keep the RGB: both are convex mixes.
    small = photo[::2, ::2]
    tiled = ssrzoo.predict(
        consistent.model, small, tile=64, overlap=16, ensemble=True, rgb_consistent=True
    )
    assert unclipped_back_projection(consistent, small, tiled.cube)[0] <= 1e-3


def test_rgb_consistent_needs_a_linear_weight_with_a_response(model: nn.Module) -> None:
    with pytest.raises(ValueError, match="rgb_consistent needs a weight that takes linear RGB"):
        Reconstructor(model, rgb_consistent=True)


def test_exposure_brings_the_photo_to_the_training_exposure_and_back() -> None:
    # A photo taken at half the training gain: the model must see it doubled, and the cube
    # must come back in the photo's units (half what the model returns).
    torch.manual_seed(2)
    cfg = PretrainedCfg(
        architecture="deep", wavelengths=tiny_model.WAVELENGTHS, input_encoding="linear"
    )
    net = build_model_with_cfg(DeepConv, "deep", pretrained_cfg=cfg).eval()
    rgb = PHOTO.astype(np.float32) / 255 * 0.5
    got = ssrzoo.predict(net, rgb, source_encoding="linear", tile=0, exposure=0.5)
    np.testing.assert_allclose(got.cube, 0.5 * direct(net, rgb / 0.5), rtol=1e-5, atol=1e-6)
    assert got.metadata["exposure"] == 0.5
    plain = ssrzoo.predict(net, rgb, source_encoding="linear", tile=0)
    np.testing.assert_allclose(plain.cube, direct(net, rgb), rtol=1e-5, atol=1e-6)
    assert not np.allclose(plain.cube, got.cube)  # the model is not linear in its input
    for bad in (0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="must be a positive number"):
            Reconstructor(net, exposure=bad)


def test_exposure_needs_a_weight_that_takes_linear_rgb(model: nn.Module) -> None:
    with pytest.raises(ValueError, match="scales linear RGB"):
        Reconstructor(model, exposure=2.0)
