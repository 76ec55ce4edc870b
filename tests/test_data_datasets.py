"""Dataset classes on tiny fixtures laid out as each official download, plus the real files."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import scipy.io
import torch
from PIL import Image
from test_io_readers import write_band_pngs, write_envi, write_mat5, write_mat73

from ssrzoo.data import (
    CAVE,
    ICVL,
    ICVL_DARK_COUNTS,
    KAIST,
    NTIRE2020,
    NTIRE2022,
    ENVIDataset,
    Harvard,
    HyperspectralFolder,
    PaviaUniversity,
    session_split,
)
from ssrzoo.exceptions import DatasetNotFoundError, SsrzooError

H, W = 6, 8


def _cube(seed: int, bands: int = 31) -> np.ndarray:
    """A MATLAB-order (H, W, C) cube."""
    return np.random.default_rng(seed).random((H, W, bands))


def _rgb(path, seed):
    img = np.random.default_rng(seed).integers(0, 256, (H, W, 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img).save(path, quality=95) if path.suffix == ".jpg" else Image.fromarray(
        img
    ).save(path)
    return img


def _check_sample(sample, bands=31, size=(H, W)):
    assert sample["hsi"].dtype == torch.float32
    assert tuple(sample["hsi"].shape) == (bands, *size)
    assert tuple(sample["wavelengths"].shape) == (bands,)
    assert torch.all(torch.diff(sample["wavelengths"]) > 0)


def _assert_not_found(excinfo, *fragments):
    msg = str(excinfo.value)
    assert isinstance(excinfo.value, SsrzooError) and isinstance(excinfo.value, FileNotFoundError)
    for f in fragments:
        assert f in msg, (f, msg)


# ---------------------------------------------------------------------------------------------
# NTIRE 2020 / 2022
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def ntire2020_root(tmp_path):
    root = tmp_path / "ntire2020"
    cubes = {}
    for split, ids in (("Train", [1, 2]), ("Validation", [451])):
        for i in ids:
            name = f"ARAD_HS_{i:04d}"
            cubes[name] = _cube(i)
            write_mat73(
                root / f"NTIRE2020_{split}_Spectral" / f"{name}.mat",
                cube=cubes[name],
                bands=np.arange(400.0, 701.0, 10.0)[None],
                norm_factor=np.array([[4095.0]]),
            )
            _rgb(root / f"NTIRE2020_{split}_Clean" / f"{name}_clean.png", i)
            _rgb(root / f"NTIRE2020_{split}_RealWorld" / f"{name}_RealWorld.jpg", i)
    return root, cubes


def test_ntire2020_tracks_and_splits(ntire2020_root):
    root, cubes = ntire2020_root
    train = NTIRE2020(root, "train", track="clean")
    assert len(train) == 2
    s = train[1]
    _check_sample(s)
    assert s["name"] == "ARAD_HS_0002"
    np.testing.assert_allclose(s["hsi"].numpy(), cubes["ARAD_HS_0002"].transpose(2, 0, 1), 1e-6)
    expected = np.asarray(Image.open(root / "NTIRE2020_Train_Clean/ARAD_HS_0002_clean.png"))
    np.testing.assert_allclose(s["rgb"].numpy(), expected.transpose(2, 0, 1) / 255.0, 1e-6)
    real = NTIRE2020(root, "val", track="realworld")[0]
    assert real["name"] == "ARAD_HS_0451" and real["rgb"].shape == (3, H, W)
    assert "rgb" not in NTIRE2020(root, "train", track=None)[0]


def test_ntire2020_missing_rgb_and_missing_root(ntire2020_root, tmp_path):
    root, _ = ntire2020_root
    (root / "NTIRE2020_Train_Clean" / "ARAD_HS_0001_clean.png").unlink()
    with pytest.raises(DatasetNotFoundError) as e:
        NTIRE2020(root, "train")
    _assert_not_found(e, "ARAD_HS_0001_clean.png", "codalab")
    with pytest.raises(DatasetNotFoundError) as e:
        NTIRE2020(tmp_path / "empty", "train")
    _assert_not_found(e, "NTIRE2020_Train_Spectral", "codalab.org/competitions/22225", "└──")


def test_ntire2020_corrupt_cube_names_the_file(ntire2020_root):
    root, _ = ntire2020_root
    (root / "NTIRE2020_Train_Spectral" / "ARAD_HS_0002.mat").write_bytes(b"garbage" * 50)
    ds = NTIRE2020(root, "train")
    with pytest.raises(ValueError, match=r"ARAD_HS_0002\.mat"):
        ds[1]


@pytest.fixture
def arad_root(tmp_path):
    root = tmp_path / "ARAD_1K"
    for i in (1, 2, 3):
        name = f"ARAD_1K_{i:04d}"
        # The common layout of MST++: validation cubes moved into Train_Spec.
        write_mat73(root / "Train_Spec" / f"{name}.mat", cube=_cube(10 + i))
        folder = "Train_RGB" if i < 3 else "Valid_RGB"
        _rgb(root / folder / f"{name}.jpg", i)
    (root / "split_txt").mkdir()
    (root / "split_txt" / "train_list.txt").write_text("ARAD_1K_0001\nARAD_1K_0002\n")
    (root / "split_txt" / "valid_list.txt").write_text("ARAD_1K_0003.mat\n")
    return root


def test_ntire2022_split_lists(arad_root):
    train = NTIRE2022(arad_root, "train")
    val = NTIRE2022(arad_root, "val")
    assert [n for n, *_ in train.items] == ["ARAD_1K_0001", "ARAD_1K_0002"]
    assert [n for n, *_ in val.items] == ["ARAD_1K_0003"]
    s = val[0]
    _check_sample(s)
    np.testing.assert_allclose(s["hsi"].numpy(), _cube(13).transpose(2, 0, 1), 1e-6)
    np.testing.assert_allclose(s["wavelengths"].numpy(), np.arange(400, 701, 10))
    assert s["rgb"].shape == (3, H, W)


def test_ntire2022_missing_listed_cube(arad_root):
    (arad_root / "Train_Spec" / "ARAD_1K_0002.mat").unlink()
    with pytest.raises(DatasetNotFoundError) as e:
        NTIRE2022(arad_root, "train")
    _assert_not_found(e, "ARAD_1K_0002.mat", "codalab.lisn.upsaclay.fr/competitions/721")


# ---------------------------------------------------------------------------------------------
# CAVE, Harvard, KAIST
# ---------------------------------------------------------------------------------------------


def test_cave_official_nested_layout(tmp_path):
    counts = np.random.default_rng(3).integers(0, 65536, (31, H, W), dtype=np.uint16)
    scene = tmp_path / "balloons_ms" / "balloons_ms"
    write_band_pngs(scene, "balloons_ms", counts)
    Image.fromarray(np.zeros((H, W, 3), np.uint8)).save(scene / "balloons_RGB.bmp")
    write_band_pngs(tmp_path / "beads_ms" / "beads_ms", "beads_ms", counts[:, :, ::-1])
    ds = CAVE(tmp_path)
    assert [n for n, *_ in ds.items] == ["balloons", "beads"]
    s = ds[0]
    _check_sample(s)
    np.testing.assert_allclose(s["hsi"].numpy(), counts / 65535.0, rtol=1e-6)
    np.testing.assert_allclose(s["wavelengths"].numpy(), np.arange(400, 701, 10))
    assert s["rgb"].shape == (3, H, W)
    assert len(CAVE(tmp_path, scenes=["beads"])) == 1
    with pytest.raises(DatasetNotFoundError) as e:
        CAVE(tmp_path / "nothing")
    _assert_not_found(e, "columbia.edu/CAVE", "balloons_ms_01.png")


def test_real_cave_partial_png_folder(shared_data):
    ds = CAVE(shared_data / "cave_partial_20band")
    s = ds[0]
    assert s["name"] == "balloons"
    _check_sample(s, bands=20, size=(512, 640))
    np.testing.assert_allclose(s["wavelengths"].numpy(), np.arange(400, 591, 10))
    band = np.asarray(Image.open(shared_data / "cave_partial_20band/balloons/balloons_ms_07.png"))
    np.testing.assert_allclose(s["hsi"][6].numpy(), band / 65535.0, rtol=1e-6)


def test_harvard_ref_and_lbl(tmp_path):
    ref = _cube(5)
    lbl = np.ones((H, W), np.uint8)
    lbl[:2, :3] = 0
    write_mat5(tmp_path / "CZ_hsdb" / "img1.mat", ref=ref, lbl=lbl)
    write_mat5(tmp_path / "CZ_hsdbi" / "imga1.mat", ref=ref * 2, lbl=lbl)
    ds = Harvard(tmp_path)
    assert len(ds) == 2
    s = ds[0]
    _check_sample(s)
    np.testing.assert_allclose(s["wavelengths"].numpy(), np.arange(420, 721, 10))
    np.testing.assert_allclose(s["hsi"].numpy(), ref.transpose(2, 0, 1), rtol=1e-6)
    np.testing.assert_array_equal(s["valid"].numpy(), lbl != 0)
    with pytest.raises(DatasetNotFoundError) as e:
        Harvard(tmp_path / "x")
    _assert_not_found(e, "vision.seas.harvard.edu/hyperspec", "CZ_hsdb")


def test_kaist_band_count_sets_wavelengths(tmp_path):
    write_mat73(tmp_path / "scene01.mat", HSI=_cube(6))
    write_mat5(tmp_path / "scene02.mat", HSI=_cube(7, bands=28))
    ds = KAIST(tmp_path)
    a, b = ds[0], ds[1]
    _check_sample(a)
    _check_sample(b, bands=28)
    np.testing.assert_allclose(a["wavelengths"].numpy(), np.arange(420, 721, 10))
    assert b["wavelengths"][0] == pytest.approx(453.5) and b["wavelengths"][-1] == pytest.approx(
        648
    )
    write_mat5(tmp_path / "scene03.mat", HSI=_cube(8, bands=5))
    with pytest.raises(ValueError, match="wavelengths="):
        KAIST(tmp_path)[2]
    assert len(KAIST(tmp_path, wavelengths=[500, 510, 520, 530, 540])[2]["wavelengths"]) == 5


# ---------------------------------------------------------------------------------------------
# ICVL
# ---------------------------------------------------------------------------------------------


def test_icvl_protocol_on_v73_counts(tmp_path):
    rng = np.random.default_rng(9)
    raw = rng.uniform(300, 3000, size=(31, 12, 10))  # (C, H, W) as HDF5 stores rad
    raw[:, 0, 0] = 0  # a hole
    raw[5, 1, 1] = 4095  # saturated
    raw[:, 2, 2] = ICVL_DARK_COUNTS + 1  # darker than the validity threshold
    write_mat73(tmp_path / "4cam_0411-1648.mat", rad=raw.T, bands=np.arange(400.0, 701, 10)[None])
    s = ICVL(tmp_path, "all")[0]
    _check_sample(s, size=(12, 10))
    expected = np.clip(raw - ICVL_DARK_COUNTS, 0, None)
    expected[:, 0, 0] = 0
    expected /= np.percentile(expected[:, ~np.all(raw == 0, axis=0)], 99.9)
    np.testing.assert_allclose(s["hsi"].numpy(), expected, rtol=1e-5)
    valid = s["valid"].numpy()
    assert not valid[0, 0] and not valid[1, 1] and not valid[2, 2]
    assert valid.sum() == 12 * 10 - 3
    raw_back = ICVL(tmp_path, "all", normalize="none", subtract_dark=False)[0]["hsi"].numpy()
    np.testing.assert_allclose(raw_back[:, 1:, 1:], raw[:, 1:, 1:], rtol=1e-6)


def test_icvl_split_that_matches_no_scene_is_an_error(tmp_path):
    raw = np.full((31, 4, 3), 1000.0)
    write_mat73(tmp_path / "4cam_0411-1648.mat", rad=raw.T, bands=np.arange(400.0, 701, 10)[None])
    assert len(ICVL(tmp_path, "train")) == 1
    with pytest.raises(DatasetNotFoundError, match=r"1 scenes .*\(4cam_0411-1648\).* split 'val'"):
        ICVL(tmp_path, "val")


def test_session_split_keeps_sessions_together():
    names = [
        f"scene{i}_{d:04d}-{1000 + i:04d}" for d in (101, 202, 303, 404, 505) for i in range(4)
    ]
    names += ["Master2900k"]
    assign = session_split(names, 0.2)
    sessions = {}
    for n, split in assign.items():
        sessions.setdefault(n.split("_")[-1][:4], set()).add(split)
    assert all(len(v) == 1 for v in sessions.values())
    n_val = sum(v == "val" for v in assign.values())
    assert 3 <= n_val <= 6
    assert assign == session_split(list(reversed(names)), 0.2)


# ---------------------------------------------------------------------------------------------
# Pavia University: a generated cube with the real label maps
# ---------------------------------------------------------------------------------------------


def test_pavia_with_real_label_maps(shared_data, tmp_path):
    labels = shared_data / "pavia_university"
    for name in ("paviaU_gt.mat", "paviaU_train_disjoint.mat", "paviaU_test_disjoint.mat"):
        (tmp_path / name).symlink_to(labels / name)
    with pytest.raises(DatasetNotFoundError) as e:
        PaviaUniversity(tmp_path)
    _assert_not_found(e, "PaviaU.mat", "ehu.eus")
    cube = np.random.default_rng(0).integers(0, 8000, (610, 340, 103), dtype=np.uint16)
    scipy.io.savemat(tmp_path / "PaviaU.mat", {"paviaU": cube})
    full = PaviaUniversity(tmp_path, "all")[0]
    _check_sample(full, bands=103, size=(610, 340))
    assert full["wavelengths"][0] == 430 and full["wavelengths"][-1] == pytest.approx(860)
    np.testing.assert_array_equal(full["hsi"][:, 100, 200].numpy(), cube[100, 200])
    # Counts stated by the data's manifest: 9 classes, 42,776 / 3,921 / 40,002 labelled pixels.
    assert int((full["mask"] > 0).sum()) == 42_776
    assert sorted(torch.unique(full["mask"]).tolist()) == list(range(10))
    assert int((PaviaUniversity(tmp_path, "train")[0]["mask"] > 0).sum()) == 3_921
    assert int((PaviaUniversity(tmp_path, "test")[0]["mask"] > 0).sum()) == 40_002


# ---------------------------------------------------------------------------------------------
# ENVI folder and generic folder
# ---------------------------------------------------------------------------------------------


def test_envi_dataset_folder(tmp_path):
    cube = np.random.default_rng(2).random((H, W, 4)).astype(np.float32)
    write_envi(tmp_path / "a" / "one.hdr", cube, "bil", {"wavelength": [500, 600, 700, 800]})
    write_envi(tmp_path / "two.hdr", cube * 2, "bip", {"wavelength": [500, 600, 700, 800]})
    ds = ENVIDataset(tmp_path)
    assert sorted(n for n, _ in ds.items) == ["one", "two"]
    s = next(ds[i] for i in range(2) if ds[i]["name"] == "one")
    _check_sample(s, bands=4)
    np.testing.assert_allclose(s["hsi"].numpy(), cube.transpose(2, 0, 1), rtol=1e-6)
    assert len(ENVIDataset(tmp_path / "two.hdr")) == 1
    with pytest.raises(DatasetNotFoundError):
        ENVIDataset(tmp_path / "none")


def test_real_fenix_through_envi_dataset(shared_data):
    s = ENVIDataset(shared_data / "fenix_rock")[0]
    _check_sample(s, bands=450, size=(38, 23))
    assert "fwhm" in s and "valid" in s


def test_generic_folder_with_sidecar(tmp_path):
    wl = [450.0, 500.0, 550.0, 600.0, 650.0]
    cube_chw = np.random.default_rng(4).random((5, H, W)).astype(np.float32)
    np.save(tmp_path / "a.npy", cube_chw)
    np.savez(tmp_path / "b.npz", cube=cube_chw.transpose(1, 2, 0))
    write_mat73(tmp_path / "c.mat", x=cube_chw.transpose(1, 2, 0))
    Image.fromarray(np.zeros((H, W, 3), np.uint8)).save(tmp_path / "a_rgb.png")
    with pytest.raises(DatasetNotFoundError) as e:
        HyperspectralFolder(tmp_path)
    _assert_not_found(e, "wavelengths.json")
    (tmp_path / "wavelengths.json").write_text(json.dumps({"wavelengths_nm": wl}))
    ds = HyperspectralFolder(tmp_path)
    assert len(ds) == 3
    for i in range(3):
        s = ds[i]
        _check_sample(s, bands=5)
        np.testing.assert_allclose(s["hsi"].numpy(), cube_chw, rtol=1e-6)
        np.testing.assert_allclose(s["wavelengths"].numpy(), wl)
    assert "rgb" in ds[0] and "rgb" not in ds[1]
    np.save(tmp_path / "bad.npy", np.zeros((4, 4, 4)))
    ds = HyperspectralFolder(tmp_path)
    bad = [n for n, _ in ds.items].index("bad")
    with pytest.raises(ValueError, match=r"bad.npy.*no axis of 5"):
        ds[bad]


def test_transforms_and_unknown_split(tmp_path):
    write_mat73(tmp_path / "scene01.mat", HSI=_cube(6))
    ds = KAIST(tmp_path, transforms=lambda s: {**s, "hsi": s["hsi"] * 0})
    assert float(ds[0]["hsi"].abs().sum()) == 0
    with pytest.raises(ValueError, match="unknown split 'test'"):
        KAIST(tmp_path, split="test")
    shutil.rmtree(tmp_path)
    with pytest.raises(DatasetNotFoundError) as e:
        KAIST(tmp_path)
    _assert_not_found(e, "vclab.kaist.ac.kr", "scene01.mat")


def test_cave_protocol_split_on_a_user_download(tmp_path):
    counts = np.random.default_rng(4).integers(0, 65536, (31, H, W), dtype=np.uint16)
    for scene in ("balloons", "cd", "jelly_beans"):  # train, val, and a scene in neither list
        write_band_pngs(tmp_path / f"{scene}_ms" / f"{scene}_ms", f"{scene}_ms", counts)
    assert [n for n, *_ in CAVE(tmp_path, split="train").items] == ["balloons"]
    assert [n for n, *_ in CAVE(tmp_path, split="val").items] == ["cd"]
    assert [n for n, *_ in CAVE(tmp_path, split="test").items] == ["jelly_beans"]
    assert len(CAVE(tmp_path)) == 3
    with pytest.raises(DatasetNotFoundError, match="in split 'val'"):
        CAVE(tmp_path, split="val", scenes=["balloons"])
    with pytest.raises(ValueError, match="unknown split"):
        CAVE(tmp_path, split="validation")


def test_real_cave_256_protocol_and_quirks(shared_data):
    from ssrzoo.data import CAVE_TRAIN_SCENES, CAVE_VAL_SCENES

    root = shared_data / "cave_256"
    train, val = CAVE(root, split="train"), CAVE(root, split="val")
    assert sorted(n for n, *_ in train.items) == sorted(CAVE_TRAIN_SCENES)
    assert sorted(n for n, *_ in val.items) == sorted(CAVE_VAL_SCENES)
    assert not set(CAVE_TRAIN_SCENES) & set(CAVE_VAL_SCENES)
    with pytest.raises(DatasetNotFoundError):  # the shared folder holds no test scene
        CAVE(root, split="test")
    # watercolors: 8-bit RGBA bands, read as one channel / 255 (values 0-214)
    (water,) = CAVE(root, scenes=["watercolors"])
    _check_sample(water, bands=31, size=(256, 256))
    band = np.asarray(Image.open(root / "watercolors_ms/watercolors_ms/watercolors_ms_16.png"))
    assert band.ndim == 3 and band.dtype == np.uint8
    np.testing.assert_allclose(water["hsi"][15].numpy(), band[..., 0] / 255.0, rtol=1e-6)
    assert 0.5 < float(water["hsi"].max()) <= 214 / 255 + 1e-6
    # photo_and_face: 8-bit data in 16-bit files, returned as counts / 65535 like the others
    (photo,) = CAVE(root, scenes=["photo_and_face"])
    assert float(photo["hsi"].max()) == pytest.approx(48830 / 65535, abs=1e-6)
    assert water["rgb"].shape == (3, 256, 256)  # the BMP preview, same size
