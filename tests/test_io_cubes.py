"""Cube files: round trips in every format, wavelengths always stored, atomic writes."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io
import spectral.io.envi as envi

from ssrzoo.inference import SpectralImage, format_from_path, load_cube, save_cube
from ssrzoo.io import cubes, read_envi, read_mat, read_wavelength_sidecar
from ssrzoo.models import PretrainedCfg

WAVELENGTHS = np.arange(400.0, 701.0, 10.0)


@pytest.fixture
def image() -> SpectralImage:
    rng = np.random.default_rng(1)
    cube = rng.random((31, 9, 13), dtype=np.float32)
    cfg = PretrainedCfg(architecture="tiny_ssr", tag="test", wavelengths=WAVELENGTHS)
    return SpectralImage(
        cube=cube,
        wavelengths=WAVELENGTHS,
        units="reflectance",
        model="tiny_ssr.test",
        pretrained_cfg=cfg,
        source="photo.png",
        fwhm=np.full(31, 10.0),
        metadata={"tile": np.int64(64), "gain": np.float32(1.5)},
    )


def assert_same(loaded: SpectralImage, original: SpectralImage) -> None:
    np.testing.assert_array_equal(np.asarray(loaded.cube), original.cube)
    np.testing.assert_array_equal(loaded.wavelengths, original.wavelengths)
    assert loaded.units == original.units
    assert loaded.model == original.model


@pytest.mark.parametrize(
    ("name", "files"),
    [
        ("c.npz", ["c.npz"]),
        ("c.npy", ["c.npy", "c.json"]),
        ("c.mat", ["c.mat"]),
        ("c.h5", ["c.h5"]),
        ("c.hdr", ["c.hdr", "c.img"]),
    ],
)
def test_round_trip(tmp_path: Path, image: SpectralImage, name: str, files: list[str]) -> None:
    written = save_cube(image, tmp_path / "out" / name)  # parent folder is created
    assert [p.name for p in written] == files
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(files)  # no temp left
    loaded = load_cube(written[0])
    assert_same(loaded, image)
    np.testing.assert_array_equal(loaded.fwhm, image.fwhm)
    if format_from_path(name) != "envi":  # ENVI headers keep only what ENVI defines
        assert loaded.pretrained_cfg == image.pretrained_cfg
        assert loaded.metadata == {"tile": 64, "gain": 1.5}
        assert loaded.source == "photo.png"


def test_envi_is_read_back_by_spy_and_by_the_dataset_reader(
    tmp_path: Path, image: SpectralImage
) -> None:
    save_cube(image, tmp_path / "c.hdr")
    spy = envi.open(str(tmp_path / "c.hdr"))
    np.testing.assert_array_equal(np.asarray(spy.load()), image.cube.transpose(1, 2, 0))
    assert [float(w) for w in spy.metadata["wavelength"]] == WAVELENGTHS.tolist()
    assert spy.metadata["wavelength units"] == "Nanometers"
    assert spy.metadata["band names"][0] == "400 nm"
    assert spy.bands.centers == WAVELENGTHS.tolist()
    data = read_envi(tmp_path / "c.hdr")
    np.testing.assert_array_equal(data.data, image.cube)
    np.testing.assert_array_equal(data.wavelengths, WAVELENGTHS)
    assert (tmp_path / "c.img").stat().st_size == image.cube.nbytes  # raw BSQ float32


def test_mat_v5_is_ntire_layout(tmp_path: Path, image: SpectralImage) -> None:
    save_cube(image, tmp_path / "c.mat")
    raw = scipy.io.loadmat(tmp_path / "c.mat")
    assert raw["cube"].shape == (9, 13, 31)  # MATLAB H x W x C
    assert raw["cube"].dtype == np.float32
    np.testing.assert_array_equal(raw["cube"][2, 5], image.cube[:, 2, 5])
    np.testing.assert_array_equal(raw["bands"].ravel(), WAVELENGTHS)
    assert json.loads(str(raw["ssrzoo_meta"][0]))["wavelengths_nm"] == WAVELENGTHS.tolist()


def test_mat_v73_is_hdf5_with_matlab_layout(tmp_path: Path, image: SpectralImage) -> None:
    save_cube(image, tmp_path / "c.mat", mat_version="7.3")
    head = (tmp_path / "c.mat").read_bytes()[:128]
    assert head.startswith(b"MATLAB 7.3 MAT-file")
    assert head[124:128] == b"\x00\x02IM"
    with h5py.File(tmp_path / "c.mat", "r") as f:
        assert f["cube"].shape == (31, 13, 9)  # column-major H x W x C
        assert f["cube"].attrs["MATLAB_class"] == b"single"
    assert read_mat(tmp_path / "c.mat")["cube"].shape == (9, 13, 31)  # as MATLAB sees it
    assert_same(load_cube(tmp_path / "c.mat"), image)


def test_large_cubes_switch_to_mat_v73(tmp_path: Path, image: SpectralImage, monkeypatch) -> None:
    monkeypatch.setattr(cubes, "MAT_V5_LIMIT", image.cube.nbytes - 1)
    save_cube(image, tmp_path / "big.mat")
    assert h5py.is_hdf5(tmp_path / "big.mat")
    with pytest.raises(ValueError, match=r"does not fit a v5 \.mat"):
        save_cube(image, tmp_path / "v5.mat", mat_version="5")
    assert not (tmp_path / "v5.mat").exists()


def test_h5_has_wavelength_dimension_scale(tmp_path: Path, image: SpectralImage) -> None:
    save_cube(image, tmp_path / "c.h5", compress=True)
    with h5py.File(tmp_path / "c.h5", "r") as f:
        cube = f["cube"]
        assert cube.compression == "gzip"
        assert cube.dims[0].label == "wavelength"
        np.testing.assert_array_equal(cube.dims[0][0][()], WAVELENGTHS)
        assert f["wavelengths"].attrs["units"] == "nm"


def test_npy_sidecar_is_the_dataset_sidecar_format(tmp_path: Path, image: SpectralImage) -> None:
    save_cube(image, tmp_path / "c.npy")
    wl, fwhm = read_wavelength_sidecar(tmp_path / "c.json")
    np.testing.assert_array_equal(wl, WAVELENGTHS)
    np.testing.assert_array_equal(fwhm, image.fwhm)
    np.testing.assert_array_equal(np.load(tmp_path / "c.npy"), image.cube)


class Boom(RuntimeError):
    pass


@pytest.mark.parametrize("fmt", ["npz", "npy", "mat", "mat73", "h5", "envi"])
@pytest.mark.parametrize("error", [Boom, KeyboardInterrupt])
def test_failed_write_leaves_no_partial_file(
    tmp_path: Path, image: SpectralImage, monkeypatch, fmt: str, error: type[BaseException]
) -> None:
    # The writer has put (some of) its files on disk when the error comes.
    real = cubes._WRITERS[fmt]

    def fail_after_writing(img, paths, meta, compress):  # type: ignore[no-untyped-def]
        real(img, paths, meta, compress)
        assert all(p.exists() for p in paths[:1])
        raise error("disk full")

    monkeypatch.setitem(cubes._WRITERS, fmt, fail_after_writing)
    (tmp_path / "keep.txt").write_text("unrelated")
    suffix = cubes.FORMATS["mat" if fmt == "mat73" else fmt]
    kwargs = {"mat_version": "7.3"} if fmt == "mat73" else {}
    with pytest.raises(error):
        save_cube(image, tmp_path / f"c{suffix}", **kwargs)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


@pytest.mark.parametrize("name", ["c.h5", "c.hdr"])
def test_error_in_the_middle_of_the_cube_leaves_nothing(
    tmp_path: Path, image: SpectralImage, name: str
) -> None:
    # These formats write band by band: make reading band 3 of the cube fail.
    class FailingCube(np.ndarray):
        def __getitem__(self, key):  # type: ignore[no-untyped-def]
            if key == 3:
                raise OSError("read error on band 3")
            return np.ndarray.__getitem__(self, key)

    broken = SpectralImage(cube=image.cube, wavelengths=WAVELENGTHS)
    broken.cube = image.cube.view(FailingCube)
    with pytest.raises(OSError, match="band 3"):
        save_cube(broken, tmp_path / name)
    assert list(tmp_path.iterdir()) == []


def test_failed_write_keeps_the_previous_file(
    tmp_path: Path, image: SpectralImage, monkeypatch
) -> None:
    save_cube(image, tmp_path / "c.npz")
    before = (tmp_path / "c.npz").read_bytes()

    def fail(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise OSError("no space left on device")

    monkeypatch.setitem(cubes._WRITERS, "npz", fail)
    with pytest.raises(OSError, match="no space"):
        save_cube(image, tmp_path / "c.npz")
    assert (tmp_path / "c.npz").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["c.npz"]


def test_bad_paths_and_files(tmp_path: Path, image: SpectralImage) -> None:
    with pytest.raises(ValueError, match=r"suffix '\.txt'"):
        save_cube(image, tmp_path / "c.txt")
    with pytest.raises(ValueError, match="unknown cube format 'tiff'"):
        save_cube(image, tmp_path / "c.npz", format="tiff")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_cube(tmp_path / "none.npz")
    np.save(tmp_path / "bare.npy", image.cube)
    with pytest.raises(FileNotFoundError, match=r"no wavelength sidecar 'bare\.json'"):
        load_cube(tmp_path / "bare.npy")
    scipy.io.savemat(tmp_path / "other.mat", {"x": np.zeros((2, 2))})
    with pytest.raises(ValueError, match=r"needs variables 'cube' .* and 'bands'"):
        load_cube(tmp_path / "other.mat")


def test_spectral_image_validates_its_fields(image: SpectralImage) -> None:
    with pytest.raises(ValueError, match="30 wavelengths for a cube of 31 bands"):
        SpectralImage(cube=image.cube, wavelengths=WAVELENGTHS[:30])
    with pytest.raises(ValueError, match=r"must be \(C, H, W\)"):
        SpectralImage(cube=image.cube[0], wavelengths=WAVELENGTHS)
    with pytest.raises(ValueError, match="must increase"):
        SpectralImage(cube=image.cube, wavelengths=WAVELENGTHS[::-1])
    assert image.band_index(452) == 5 and image.band(452) is not None
    np.testing.assert_array_equal(image.spectrum(3, 4), image.cube[:, 3, 4])
    mean, std = image.region_spectrum(0, 0, 2, 3)
    np.testing.assert_allclose(mean, image.cube[:, :2, :3].reshape(31, -1).mean(1), rtol=1e-6)
    np.testing.assert_allclose(std, image.cube[:, :2, :3].reshape(31, -1).std(1), rtol=1e-5)
    with pytest.raises(IndexError, match="outside"):
        image.spectrum(9, 0)
    assert "31 bands 400-700 nm, 9x13" in repr(image)
