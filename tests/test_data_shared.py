"""The shared real data as datasets: ICVL strips protocol, CAVE crops, remote sensing, Houston."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import scipy.io
import torch

import ssrzoo
from ssrzoo.data import (
    CAVECrops,
    HoustonCrop,
    ICVLStrips,
    RemoteSensingScenes,
    ResampleBands,
    majority_downsample,
    resolve_band_grid,
)
from ssrzoo.exceptions import DatasetNotFoundError
from ssrzoo.protocols import ROSIS_103

WL31 = np.arange(400.0, 701.0, 10.0)


def _raw_strip(shared_data, name):
    return np.load(shared_data / "icvl_strips" / f"{name}.npz")["rad"].astype(np.float32)


# ---------------------------------------------------------------------------------------------
# ICVL strips
# ---------------------------------------------------------------------------------------------


def test_icvl_strips_splits_by_session(shared_data):
    everything = ICVLStrips(shared_data, "all", include_dark_scenes=True)
    assert len(everything) == 161
    default = ICVLStrips(shared_data, "all")
    left_out = {n for n, _ in everything.items} - {n for n, _ in default.items}
    assert left_out == {"Master2900k", "Master5000K", "Master5000K_2900K"}
    train = {n for n, _ in ICVLStrips(shared_data / "icvl_strips", "train").items}
    val = {n for n, _ in ICVLStrips(shared_data, "val").items}
    assert train | val == {n for n, _ in default.items} and not train & val
    assert 0.15 <= len(val) / len(default) <= 0.3

    def session(name):
        return re.search(r"(\d{4})-\d{4}", name).group(1)

    assert not {session(n) for n in train} & {session(n) for n in val}


def test_icvl_strips_protocol_matches_the_raw_counts(shared_data):
    ds = ICVLStrips(shared_data, "all")
    index = [n for n, _ in ds.items].index("BGU_0522-1127")
    s = ds[index]
    raw = _raw_strip(shared_data, "BGU_0522-1127")  # (rows, W, 31)
    dark = raw[0].mean(axis=0)  # row 0: the unexposed border row
    assert np.all((dark > 180) & (dark < 200))
    body = np.clip(raw[2:] - dark, 0, None).transpose(2, 0, 1)
    expected = body / np.percentile(body, 99.9)
    assert s["hsi"].shape == (31, raw.shape[0] - 2, raw.shape[1])
    np.testing.assert_allclose(s["hsi"].numpy(), expected, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(s["dark_counts"].numpy(), dark, rtol=1e-5)
    np.testing.assert_allclose(s["wavelengths"].numpy(), WL31)
    # Values above 1 are the top 0.1 %.
    assert float((s["hsi"] > 1).float().mean()) == pytest.approx(0.001, abs=0.0005)


def test_icvl_strips_other_normalisations(shared_data):
    name = "4cam_0411-1648"
    raw = _raw_strip(shared_data, name)
    kept = ICVLStrips(shared_data, "all", normalize="none", subtract_dark=False)
    idx = [n for n, _ in kept.items].index(name)
    np.testing.assert_array_equal(kept[idx]["hsi"].numpy(), raw[2:].transpose(2, 0, 1))
    glob = ICVLStrips(shared_data, "all", normalize="global")[idx]["hsi"].numpy()
    dark = raw[0].mean(axis=0)
    expected = np.clip(raw[2:] - dark, 0, None).transpose(2, 0, 1) / (4095 - dark.mean())
    np.testing.assert_allclose(glob, expected, rtol=1e-4, atol=1e-7)


def test_icvl_strips_validity(shared_data):
    ds = ICVLStrips(shared_data, "all")
    names = [n for n, _ in ds.items]
    holes = ds[names.index("rmt_0328-1241-1")]
    raw = _raw_strip(shared_data, "rmt_0328-1241-1")[2:]
    missing = np.all(raw == 0, axis=-1)
    assert missing.sum() > 0
    valid = holes["valid"].numpy()
    assert not valid[missing].any()
    assert float(holes["hsi"][:, torch.from_numpy(missing)].abs().max()) == 0
    fractions = [float(ds[i]["valid"].float().mean()) for i in range(0, len(ds), 10)]
    assert np.median(fractions) > 0.98


def test_icvl_strips_cache_returns_copies(shared_data):
    ds = ICVLStrips(shared_data, "val", cache=True)
    a = ds[0]
    a["hsi"].zero_()
    assert float(ds[0]["hsi"].abs().sum()) > 0


def test_icvl_strips_missing_and_corrupt(shared_data, tmp_path):
    with pytest.raises(DatasetNotFoundError) as e:
        ICVLStrips(tmp_path)
    assert "icvl_strips" in str(e.value) and "MANIFEST" in str(e.value)
    folder = tmp_path / "icvl_strips"
    folder.mkdir()
    (folder / "eve_0331-1549.npz").write_bytes(b"PK\x03\x04 truncated")
    (folder / "index.json").write_text(json.dumps([{"scene": "eve_0331-1549", "max": 3000}]))
    ds = ICVLStrips(tmp_path, "all")
    with pytest.raises(ValueError, match=r"eve_0331-1549\.npz"):
        ds[0]


def test_icvl_strips_split_that_matches_no_scene_is_an_error(tmp_path):
    folder = tmp_path / "icvl_strips"
    folder.mkdir()
    rad = np.full((6, 5, 31), 190.0, dtype=np.float16)
    np.savez(folder / "eve_0331-1549.npz", rad=rad + 1000)  # one bright scene
    np.savez(folder / "Master2900k.npz", rad=rad)  # and a dark frame
    assert len(ICVLStrips(tmp_path, "train")) == 1
    with pytest.raises(DatasetNotFoundError, match=r"none of the 2 scenes .* in split 'val'") as e:
        ICVLStrips(tmp_path, "val")
    text = str(e.value)
    assert "Master2900k, eve_0331-1549" in text and "1 dark frame(s) left out" in text
    assert "split 'all'" in text


# ---------------------------------------------------------------------------------------------
# CAVE crops
# ---------------------------------------------------------------------------------------------


def test_cave_crops(shared_data):
    ds = CAVECrops(shared_data)
    assert [n for n, _ in ds.items] == [
        "balloons_100",
        "balloons_whole_101",
        "chart_and_stuffed_toy_150",
        "feathers_150",
    ]
    for i, size in enumerate([100, 101, 150, 150]):
        s = ds[i]
        assert s["hsi"].shape == (31, size, size)
        omsi = scipy.io.loadmat(shared_data / "cave" / f"{s['name']}.mat")["Omsi"]
        np.testing.assert_allclose(s["hsi"].numpy(), omsi.transpose(2, 0, 1), rtol=1e-6)
    assert len(CAVECrops(shared_data / "cave", scenes=["feathers_150"])) == 1


# ---------------------------------------------------------------------------------------------
# Remote sensing
# ---------------------------------------------------------------------------------------------


def test_remote_sensing_native(shared_data):
    ds = RemoteSensingScenes(shared_data)
    samples = {ds[i]["name"]: ds[i] for i in range(len(ds))}
    samson = samples["samson"]
    assert samson["hsi"].shape == (156, 95, 95)
    y = scipy.io.loadmat(shared_data / "remote_sensing" / "samson.mat")["Y"]
    r, c = 17, 60  # Fortran order: pixel index = r + 95 c
    np.testing.assert_allclose(samson["hsi"][:, r, c].numpy(), y[:, r + 95 * c], rtol=1e-6)
    assert samson["wavelengths"][0] == 401 and samson["wavelengths"][-1] == 889
    houston = samples["houston2018"]
    assert houston["hsi"].shape == (48, 128, 128)
    assert float(np.percentile(houston["hsi"].numpy(), 99.9)) == pytest.approx(1.0, rel=1e-3)
    assert samples["fenix_rock"]["hsi"].shape == (450, 38, 23)


def test_remote_sensing_on_a_model_band_grid(shared_data):
    """Resampled to mae_ktsr's 31 bands; linear resampling checked against np.interp."""
    ds = RemoteSensingScenes(shared_data, bands="ntire2020", method="linear")
    fenix = next(ds[i] for i in range(len(ds)) if ds[i]["name"] == "fenix_rock")
    native = RemoteSensingScenes(shared_data, scenes=["fenix_rock"])[0]
    np.testing.assert_allclose(fenix["wavelengths"].numpy(), WL31)
    src_wl = native["wavelengths"].double().numpy()
    for r, c in [(0, 0), (20, 11)]:
        expected = np.interp(WL31, src_wl, native["hsi"][:, r, c].double().numpy())
        np.testing.assert_allclose(fenix["hsi"][:, r, c].numpy(), expected, rtol=1e-5)
    # Gaussian band integration keeps a flat spectrum flat and stays within the data's range.
    g = RemoteSensingScenes(shared_data, bands=WL31, scenes=["samson"])[0]["hsi"]
    s = RemoteSensingScenes(shared_data, scenes=["samson"])[0]["hsi"]
    assert g.shape == (31, 95, 95) and float(g.max()) <= float(s.max()) + 1e-6


def test_remote_sensing_grid_outside_a_scene(shared_data):
    ds = RemoteSensingScenes(shared_data, bands=np.arange(400.0, 1001.0, 50.0))
    names = [n for n, _ in ds.items]
    with pytest.raises(ValueError, match=r"samson.*401-889"):
        ds[names.index("samson")]
    assert ds[names.index("houston2018")]["hsi"].shape == (13, 128, 128)
    with pytest.raises(ValueError, match="unknown scene"):
        RemoteSensingScenes(shared_data, scenes=["indian_pines"])
    with pytest.raises(DatasetNotFoundError):
        RemoteSensingScenes(shared_data / "cave")


def test_band_grid_from_a_protocol_or_a_config():
    wl, fwhm = resolve_band_grid("pavia")
    np.testing.assert_array_equal(wl, ROSIS_103)
    assert fwhm is None
    cfg = ssrzoo.get_pretrained_cfg("mae_ktsr_pavia")
    np.testing.assert_array_equal(resolve_band_grid(cfg)[0], cfg.wavelengths)
    # A model name is not a band grid: the data layer does not reach the model registry.
    for name in ("no_such_protocol", "mae_ktsr_pavia"):
        with pytest.raises(ValueError, match=r"name a protocol .*get_pretrained_cfg"):
            resolve_band_grid(name)
    with pytest.raises(ValueError, match="declares no wavelengths"):
        resolve_band_grid(cfg.replace(wavelengths=()))


def test_resample_bands_transform(shared_data):
    s = CAVECrops(shared_data, scenes=["balloons_100"])[0]
    out = ResampleBands(np.arange(420.0, 681.0, 20.0), method="linear")(s)
    assert out["hsi"].shape == (14, 100, 100)
    np.testing.assert_allclose(out["hsi"].numpy(), s["hsi"][2:29:2].numpy(), rtol=1e-6)


# ---------------------------------------------------------------------------------------------
# Houston crop with labels
# ---------------------------------------------------------------------------------------------


def test_majority_downsample():
    labels = np.zeros((4, 6), dtype=np.int64)
    labels[:2, :2] = [[3, 3], [3, 1]]  # majority 3
    labels[:2, 2:4] = [[0, 0], [0, 2]]  # only labelled pixel: 2
    labels[2:, 4:] = [[1, 2], [2, 1]]  # tie: smaller id
    out = majority_downsample(labels, 2)
    np.testing.assert_array_equal(out, [[3, 2, 0], [0, 0, 1]])
    with pytest.raises(ValueError, match="divisible"):
        majority_downsample(labels, 4)


def test_houston_crop_for_classification(shared_data):
    s = HoustonCrop(shared_data)[0]
    assert s["hsi"].shape == (48, 128, 128)
    assert s["mask"].shape == (128, 128) and s["mask"].dtype == torch.int64
    assert s["mask_vhr"].shape == (512, 512) and s["rgb_vhr"].shape == (3, 512, 512)
    vhr = scipy.io.loadmat(shared_data / "remote_sensing" / "houston2018_crop.mat")["clasLabs"]
    assert sorted(np.unique(vhr).tolist()) == list(range(13))  # 12 classes + unlabelled
    # Each labelled 4x4 block's vote is a label that occurs in that block.
    mask = s["mask"].numpy()
    for r, c in zip(*np.nonzero(mask), strict=True):
        assert mask[r, c] in vhr[4 * r : 4 * r + 4, 4 * c : 4 * c + 4]
    blocks_with_labels = (vhr.reshape(128, 4, 128, 4) > 0).any(axis=(1, 3))
    np.testing.assert_array_equal(mask > 0, blocks_with_labels)
    resampled = HoustonCrop(shared_data, bands="ntire2020")[0]
    assert resampled["hsi"].shape == (31, 128, 128)
