"""Readers of the official on-disk formats, on tiny files written here in those formats."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io
from PIL import Image

from ssrzoo.io import (
    find_band_pngs,
    read_array,
    read_band_pngs,
    read_envi,
    read_mat,
    read_mat_variable,
    read_rgb,
    read_wavelength_sidecar,
    to_chw,
)

# ---------------------------------------------------------------------------------------------
# Writers of the official formats (also used by test_data_datasets.py)
# ---------------------------------------------------------------------------------------------


def write_mat73(path: Path, **variables: np.ndarray) -> Path:
    """A MATLAB v7.3 file as MATLAB writes it: HDF5 after a 512-byte header, axes reversed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w", userblock_size=512) as f:
        for name, value in variables.items():
            # MATLAB is column-major: h5py sees size(x) reversed.
            f.create_dataset(name, data=np.asarray(value).T)
    header = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: test HDF5 schema 1.00 ."
    with open(path, "r+b") as f:
        f.write(header.ljust(116, b" ") + b" " * 8 + b"\x00\x02IM")
    return path


def write_mat5(path: Path, **variables: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(path, variables)
    return path


def write_band_pngs(folder: Path, prefix: str, cube_u16: np.ndarray) -> list[Path]:
    """One 16-bit greyscale PNG per band, ``<prefix>_01.png`` ... (CAVE)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k, band in enumerate(cube_u16, start=1):
        p = folder / f"{prefix}_{k:02d}.png"
        Image.fromarray(band.astype(np.uint16)).save(p)
        paths.append(p)
    return paths


def write_envi(
    hdr: Path, cube_hwc: np.ndarray, interleave: str, metadata: dict, ext: str = ".img"
) -> Path:
    from spectral.io import envi

    hdr.parent.mkdir(parents=True, exist_ok=True)
    envi.save_image(
        str(hdr), cube_hwc, interleave=interleave, metadata=metadata, ext=ext, force=True
    )
    return hdr


def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


# ---------------------------------------------------------------------------------------------
# MATLAB
# ---------------------------------------------------------------------------------------------


def test_mat_v5_and_v73_give_matlab_axis_order(tmp_path):
    cube = rng().random((5, 7, 3))  # MATLAB size [5 7 3]
    bands = np.array([[400.0, 450.0, 500.0]])
    v5 = read_mat(write_mat5(tmp_path / "a.mat", cube=cube, bands=bands))
    v73 = read_mat(write_mat73(tmp_path / "b.mat", cube=cube, bands=bands))
    assert h5py.is_hdf5(tmp_path / "b.mat")
    for data in (v5, v73):
        np.testing.assert_allclose(data["cube"], cube)
        np.testing.assert_allclose(np.ravel(data["bands"]), [400, 450, 500])
    only = read_mat(tmp_path / "b.mat", ["bands"])
    assert list(only) == ["bands"]


def test_mat_missing_variable_lists_what_is_there(tmp_path):
    path = write_mat73(tmp_path / "x.mat", rad=np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match=r"no variable 'cube'.*\['rad'\]"):
        read_mat_variable(path, "cube")
    np.testing.assert_array_equal(read_mat_variable(path, ["cube", "rad"]), np.zeros((2, 2, 2)))


@pytest.mark.parametrize("content", [b"not a mat file at all" * 10, b""])
def test_corrupt_mat_names_the_file(tmp_path, content):
    path = tmp_path / "broken_scene.mat"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=r"broken_scene\.mat"):
        read_mat(path)


def test_truncated_mat73_names_the_file(tmp_path):
    path = write_mat73(tmp_path / "cut.mat", cube=rng().random((16, 16, 31)))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"cut\.mat"):
        read_mat(path)


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nothing\.mat"):
        read_mat(tmp_path / "nothing.mat")


# ---------------------------------------------------------------------------------------------
# PNG bands, RGB images
# ---------------------------------------------------------------------------------------------


def test_band_pngs_are_counts_over_65535(tmp_path):
    counts = rng().integers(0, 65536, size=(4, 6, 5), dtype=np.uint16)
    paths = write_band_pngs(tmp_path / "s_ms", "s_ms", counts)
    prefix, bands = find_band_pngs(tmp_path / "s_ms")
    assert prefix == "s_ms" and sorted(bands) == [1, 2, 3, 4]
    cube = read_band_pngs(paths)
    assert cube.dtype == np.float32 and cube.shape == (4, 6, 5)
    np.testing.assert_allclose(cube, counts / 65535.0, rtol=1e-6)


def test_band_png_size_mismatch_names_the_file(tmp_path):
    paths = write_band_pngs(tmp_path, "a", np.zeros((1, 4, 4), np.uint16))
    odd = tmp_path / "a_02.png"
    Image.fromarray(np.zeros((5, 4), np.uint16)).save(odd)
    with pytest.raises(ValueError, match=r"a_02\.png"):
        read_band_pngs([*paths, odd])


def test_corrupt_png_names_the_file(tmp_path):
    bad = tmp_path / "x_01.png"
    bad.write_bytes(b"\x89PNG garbage")
    with pytest.raises(ValueError, match=r"x_01\.png"):
        read_band_pngs([bad])


def test_folder_with_two_scenes_is_refused(tmp_path):
    write_band_pngs(tmp_path, "a_ms", np.zeros((1, 2, 2), np.uint16))
    write_band_pngs(tmp_path, "b_ms", np.zeros((1, 2, 2), np.uint16))
    with pytest.raises(FileNotFoundError, match="several"):
        find_band_pngs(tmp_path)


def test_read_rgb_8bit(tmp_path):
    img = rng().integers(0, 256, size=(3, 4, 3), dtype=np.uint8)
    Image.fromarray(img).save(tmp_path / "x.png")
    rgb = read_rgb(tmp_path / "x.png")
    assert rgb.shape == (3, 3, 4)
    np.testing.assert_allclose(rgb, img.transpose(2, 0, 1) / 255.0, rtol=1e-6)


# ---------------------------------------------------------------------------------------------
# ENVI
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("interleave", ["bsq", "bil", "bip"])
def test_envi_interleaves_units_scale_and_ignore_value(tmp_path, interleave):
    counts = rng().integers(1, 10_000, size=(3, 4, 5), dtype=np.uint16)  # (rows, cols, bands)
    counts[0, 0, :] = 0  # a no-data pixel
    meta = {
        "wavelength": [0.40, 0.45, 0.50, 0.55, 0.60],
        "wavelength units": "Micrometers",
        "fwhm": [0.01] * 5,
        "reflectance scale factor": 10000,
        "data ignore value": 0,
    }
    hdr = write_envi(tmp_path / f"scene_{interleave}.hdr", counts, interleave, meta)
    img = read_envi(hdr)
    assert img.data.shape == (5, 3, 4)
    np.testing.assert_allclose(img.data, counts.transpose(2, 0, 1) / 10000.0, rtol=1e-6)
    np.testing.assert_allclose(img.wavelengths, [400, 450, 500, 550, 600])
    np.testing.assert_allclose(img.fwhm, [10.0] * 5)
    expected_valid = np.ones((3, 4), bool)
    expected_valid[0, 0] = False
    np.testing.assert_array_equal(img.valid, expected_valid)


def test_envi_missing_binary_and_corrupt_header(tmp_path):
    hdr = write_envi(
        tmp_path / "a.hdr", np.ones((2, 2, 3), np.float32), "bsq", {"wavelength": [500, 600, 700]}
    )
    (tmp_path / "a.img").unlink()
    with pytest.raises(FileNotFoundError, match=r"a\.hdr"):
        read_envi(hdr)
    bad = tmp_path / "bad.hdr"
    bad.write_text("this is not an ENVI header\n")
    with pytest.raises(ValueError, match=r"bad\.hdr"):
        read_envi(bad)


def test_envi_without_wavelengths_is_refused(tmp_path):
    hdr = write_envi(tmp_path / "nowl.hdr", np.ones((2, 2, 3), np.float32), "bsq", {})
    with pytest.raises(ValueError, match="wavelength"):
        read_envi(hdr)


def test_real_fenix_envi_patch(shared_data):
    """The Specim Fenix patch: BSQ uint16, 450 bands, 38 lines, 23 samples, value / 65535."""
    folder = shared_data / "fenix_rock"
    img = read_envi(folder / "image.hdr")
    assert img.data.shape == (450, 38, 23)
    raw = np.fromfile(folder / "image.dat", dtype="<u2").reshape(450, 38, 23)  # BSQ order
    np.testing.assert_allclose(img.data, raw / 65535.0, rtol=1e-6)
    assert img.wavelengths[0] == pytest.approx(378.19, abs=0.01)
    assert img.wavelengths[-1] == pytest.approx(2503.73, abs=0.01)
    assert np.all(np.diff(img.wavelengths) > 0) and img.fwhm is not None
    np.testing.assert_array_equal(img.valid, ~np.all(raw == 0, axis=0))


# ---------------------------------------------------------------------------------------------
# Generic arrays and sidecars
# ---------------------------------------------------------------------------------------------


def test_read_array_every_container(tmp_path):
    cube = rng().random((3, 4, 5)).astype(np.float32)
    np.save(tmp_path / "a.npy", cube)
    np.savez(tmp_path / "b.npz", cube=cube, small=np.zeros(3))
    with h5py.File(tmp_path / "c.h5", "w") as f:
        f["data"] = cube
        f["aux"] = np.zeros((2, 2))
    write_mat5(tmp_path / "d.mat", cube=cube)
    for name in ("a.npy", "b.npz", "c.h5", "d.mat"):
        np.testing.assert_array_equal(read_array(tmp_path / name), cube)
    np.testing.assert_array_equal(read_array(tmp_path / "b.npz", key="small"), np.zeros(3))
    with pytest.raises(ValueError, match="nope"):
        read_array(tmp_path / "b.npz", key="nope")
    (tmp_path / "e.tif").write_bytes(b"x")
    with pytest.raises(ValueError, match=r"e\.tif"):
        read_array(tmp_path / "e.tif")


def test_corrupt_npz_names_the_file(tmp_path):
    (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04 broken zip")
    with pytest.raises(ValueError, match=r"bad\.npz"):
        read_array(tmp_path / "bad.npz")


def test_wavelength_sidecars(tmp_path):
    (tmp_path / "w.json").write_text(
        json.dumps({"wavelengths_nm": [450, 550], "fwhm_nm": [10, 12]})
    )
    wl, fw = read_wavelength_sidecar(tmp_path / "w.json")
    np.testing.assert_array_equal(wl, [450, 550])
    np.testing.assert_array_equal(fw, [10, 12])
    (tmp_path / "w.txt").write_text("# centre fwhm\n400, 5\n410, 5\n420, 6\n")
    wl, fw = read_wavelength_sidecar(tmp_path / "w.txt")
    np.testing.assert_array_equal(wl, [400, 410, 420])
    np.testing.assert_array_equal(fw, [5, 5, 6])
    (tmp_path / "plain.txt").write_text("700\n800\n")
    assert read_wavelength_sidecar(tmp_path / "plain.txt")[1] is None
    (tmp_path / "bad.txt").write_text("700\n600\n")
    with pytest.raises(ValueError, match="increasing"):
        read_wavelength_sidecar(tmp_path / "bad.txt")


def test_to_chw_finds_the_band_axis():
    x = np.zeros((4, 5, 31))
    assert to_chw(x, 31).shape == (31, 4, 5)
    assert to_chw(np.zeros((31, 4, 5)), 31).shape == (31, 4, 5)
    assert to_chw(x).shape == (31, 4, 5)  # MATLAB (H, W, C) by default
    with pytest.raises(ValueError, match="several axes"):
        to_chw(np.zeros((3, 3, 5)), 3)
    with pytest.raises(ValueError, match="no axis of 7"):
        to_chw(x, 7)
