"""Reading photos for inference: every input kind, bit depths, EXIF orientation, bad input."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch
from PIL import Image, ImageOps

from ssrzoo.inference import collect_images, image_info, load_rgb, to_model_input
from ssrzoo.io import to_unit_float

RNG = np.random.default_rng(0)
RGB8 = RNG.integers(0, 256, size=(12, 17, 3), dtype=np.uint8)
RGB16 = RNG.integers(0, 65536, size=(12, 17, 3), dtype=np.uint16)


def write_png16(path: Path, array: np.ndarray) -> None:
    """A 16-bit PNG written by hand (Pillow cannot write 16-bit RGB), filter type 0."""
    height, width = array.shape[:2]
    planes = 1 if array.ndim == 2 else array.shape[2]
    color_type = {1: 0, 3: 2, 4: 6}[planes]
    raw = b"".join(b"\x00" + array[y].astype(">u2").tobytes() for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 16, color_type, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def exif_with_orientation(value: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = value
    return exif


# -- every input kind -------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".png", ".tif", ".bmp"])
def test_lossless_8bit_files_read_exactly(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"photo{suffix}"
    Image.fromarray(RGB8).save(path)
    out = load_rgb(path)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, RGB8)
    assert load_rgb(str(path)).shape == (12, 17, 3)  # str as well as Path


def test_jpeg_reads_close_to_the_original(tmp_path: Path) -> None:
    smooth = np.stack(np.meshgrid(np.linspace(0, 255, 40), np.linspace(0, 255, 32)), -1)
    smooth = np.concatenate([smooth, smooth[..., :1] * 0 + 128], -1).astype(np.uint8)
    Image.fromarray(smooth).save(tmp_path / "p.jpg", quality=95)
    out = load_rgb(tmp_path / "p.jpg")
    assert out.shape == (32, 40, 3) and out.dtype == np.uint8
    assert np.abs(out.astype(int) - smooth).mean() < 3


def test_16bit_png_keeps_full_precision(tmp_path: Path) -> None:
    write_png16(tmp_path / "p16.png", RGB16)
    with Image.open(tmp_path / "p16.png") as im:  # Pillow alone would lose the low byte
        assert np.asarray(im).dtype == np.uint8
    out = load_rgb(tmp_path / "p16.png")
    assert out.dtype == np.uint16
    np.testing.assert_array_equal(out, RGB16)
    assert image_info(tmp_path / "p16.png").bits == 16


def test_16bit_tiff_keeps_full_precision(tmp_path: Path) -> None:
    tifffile.imwrite(tmp_path / "p16.tif", RGB16, photometric="rgb")
    out = load_rgb(tmp_path / "p16.tif")
    assert out.dtype == np.uint16
    np.testing.assert_array_equal(out, RGB16)


def test_pil_numpy_and_tensor_inputs_agree() -> None:
    expected = RGB8
    np.testing.assert_array_equal(load_rgb(Image.fromarray(RGB8)), expected)
    np.testing.assert_array_equal(load_rgb(RGB8), expected)
    np.testing.assert_array_equal(load_rgb(RGB8.transpose(2, 0, 1)), expected)  # (3, H, W)
    chw = torch.from_numpy(RGB8.transpose(2, 0, 1).copy())
    np.testing.assert_array_equal(load_rgb(chw), expected)
    np.testing.assert_array_equal(load_rgb(chw[None]), expected)  # (1, 3, H, W)
    as_float = chw.float() / 255
    out = load_rgb(as_float)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, RGB8 / 255.0, atol=1e-6)
    np.testing.assert_array_equal(load_rgb(RGB16), RGB16)


def test_to_unit_float_scales_by_bit_depth() -> None:
    assert to_unit_float(np.array([0, 255], np.uint8)).tolist() == [0.0, 1.0]
    assert to_unit_float(np.array([0, 65535], np.uint16)).tolist() == [0.0, 1.0]
    np.testing.assert_allclose(to_unit_float(np.array([128], np.uint8)), [128 / 255])


# -- EXIF orientation -------------------------------------------------------------------------


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_of_jpeg_and_16bit_tiff(tmp_path: Path, orientation: int) -> None:
    # Pillow's exif_transpose is the reference for both the Pillow and the tifffile path.
    base = RGB8.copy()
    tagged = Image.fromarray(base)
    tagged.save(tmp_path / "o.png", exif=exif_with_orientation(orientation))
    with Image.open(tmp_path / "o.png") as im:
        expected = np.asarray(ImageOps.exif_transpose(im))
    out = load_rgb(tmp_path / "o.png")
    np.testing.assert_array_equal(out, expected)
    if orientation in (5, 6, 7, 8):
        assert out.shape[:2] == base.shape[1::-1]
    info = image_info(tmp_path / "o.png")
    assert (info.height, info.width) == out.shape[:2]

    wide = base.astype(np.uint16) * 257  # same picture, 16 bits
    tifffile.imwrite(
        tmp_path / "o16.tif", wide, photometric="rgb", extratags=[(274, "H", 1, orientation)]
    )
    np.testing.assert_array_equal(load_rgb(tmp_path / "o16.tif"), expected.astype(np.uint16) * 257)


def test_pil_image_with_exif_is_transposed(tmp_path: Path) -> None:
    Image.fromarray(RGB8).save(tmp_path / "r.jpg", exif=exif_with_orientation(6), quality=100)
    with Image.open(tmp_path / "r.jpg") as im:
        out = load_rgb(im)
    assert out.shape == (17, 12, 3)  # rotated 90 degrees: width and height swap


# -- bad input -------------------------------------------------------------------------------


def test_corrupt_and_truncated_files_are_named(tmp_path: Path) -> None:
    (tmp_path / "junk.png").write_bytes(b"this is not a png at all")
    with pytest.raises(ValueError, match=r"cannot read .*junk\.png.* as an image"):
        load_rgb(tmp_path / "junk.png")
    Image.fromarray(RGB8).save(tmp_path / "whole.jpg")
    data = (tmp_path / "whole.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"cut\.jpg.*(truncated|corrupt)"):
        load_rgb(tmp_path / "cut.jpg")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_rgb(tmp_path / "missing.png")


def test_tiny_image_is_rejected(tmp_path: Path) -> None:
    Image.fromarray(np.zeros((1, 1, 3), np.uint8)).save(tmp_path / "dot.png")
    with pytest.raises(ValueError, match=r"1x1 pixels; reconstruction needs at least 8x8"):
        load_rgb(tmp_path / "dot.png")


def test_grayscale_is_rejected_with_reason(tmp_path: Path) -> None:
    Image.fromarray(RGB8[..., 0]).save(tmp_path / "gray.png")
    with pytest.raises(ValueError, match=r"gray\.png.* is grayscale.*3-channel RGB"):
        load_rgb(tmp_path / "gray.png")
    write_png16(tmp_path / "gray16.png", RGB16[..., 0])
    with pytest.raises(ValueError, match="grayscale"):
        load_rgb(tmp_path / "gray16.png")
    with pytest.raises(ValueError, match="grayscale"):
        load_rgb(RGB8[..., 0])


def test_rgba_needs_alpha_drop(tmp_path: Path) -> None:
    rgba = np.concatenate([RGB8, np.full((12, 17, 1), 7, np.uint8)], axis=-1)
    Image.fromarray(rgba).save(tmp_path / "a.png")
    with pytest.raises(ValueError, match=r"alpha channel \(RGBA\); pass alpha='drop'"):
        load_rgb(tmp_path / "a.png")
    np.testing.assert_array_equal(load_rgb(tmp_path / "a.png", alpha="drop"), RGB8)
    write_png16(tmp_path / "a16.png", np.concatenate([RGB16, RGB16[..., :1]], -1))
    np.testing.assert_array_equal(load_rgb(tmp_path / "a16.png", alpha="drop"), RGB16)


def test_bad_arrays_are_rejected() -> None:
    with pytest.raises(
        ValueError, match=r"values in \[-0.5, 2\]; float images must be in \[0, 1\]"
    ):
        load_rgb(
            np.array([-0.5, 2.0], np.float32)[None, None].repeat(8, 0).repeat(8, 1)[..., [0, 1, 1]]
        )
    with pytest.raises(ValueError, match="dtype int64"):
        load_rgb(np.zeros((8, 8, 3), np.int64))
    with pytest.raises(ValueError, match="batch"):
        load_rgb(torch.zeros(2, 3, 8, 8))
    with pytest.raises(TypeError, match="cannot read an image from list"):
        load_rgb([[1, 2, 3]])  # type: ignore[arg-type]
    nan = np.full((8, 8, 3), 0.5, np.float32)
    nan[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        load_rgb(nan)


def test_collect_images_from_a_mixed_folder(tmp_path: Path) -> None:
    Image.fromarray(RGB8).save(tmp_path / "b.png")
    Image.fromarray(RGB8).save(tmp_path / "a.JPG")
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / ".hidden").write_text("")
    (tmp_path / "sub").mkdir()
    images, skipped = collect_images([tmp_path])
    assert [p.name for p in images] == ["a.JPG", "b.png"]
    assert sorted(p.name for p in skipped) == ["notes.txt", "sub"]
    explicit, _ = collect_images([tmp_path / "notes.txt"])  # named files are always kept
    assert explicit == [tmp_path / "notes.txt"]
    with pytest.raises(FileNotFoundError, match="does not exist"):
        collect_images([tmp_path / "nope"])


# -- conversion to the weight's input space ----------------------------------------------------


def test_srgb_linear_conversion_matches_iec_61966() -> None:
    v = np.linspace(0, 1, 101, dtype=np.float32)
    linear = np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)
    np.testing.assert_allclose(to_model_input(v, "linear", (0, 1)), linear, atol=1e-6)
    back = to_model_input(linear.astype(np.float32), "srgb", (0, 1), source_encoding="linear")
    np.testing.assert_allclose(back, v, atol=1e-5)
    np.testing.assert_array_equal(to_model_input(v, "srgb", (0, 1)), v)  # nothing to do


def test_input_range_is_applied() -> None:
    v = np.array([0.0, 0.25, 1.0], np.float32)
    np.testing.assert_allclose(to_model_input(v, "srgb", (-1, 1)), [-1.0, -0.5, 1.0])
    np.testing.assert_allclose(to_model_input(v, "srgb", (0, 255)), [0.0, 63.75, 255.0])
    with pytest.raises(ValueError, match="'xyz' is not supported"):
        to_model_input(v, "xyz", (0, 1))
