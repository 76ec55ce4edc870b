"""Reading RGB images: photos to reconstruct, and the RGB images that datasets ship.

A photo (:func:`load_rgb`) is read into an ``(H, W, 3)`` array in its native type
(``uint8``, ``uint16`` or ``float32`` in [0, 1]) so that a 16-bit image keeps its precision
and a large image costs one or two bytes per value until a tile of it is converted. The
conversion to what a weight expects (:func:`to_model_input`) happens tile by tile.

Pillow decodes 8-bit files but silently truncates 16-bit RGB PNG and TIFF to 8 bits, so
16-bit PNGs go through pypng and TIFFs deeper than 8 bits through tifffile. EXIF
orientation is honoured in every path (``ImageOps.exif_transpose`` for Pillow images; the
same eight orientations applied to the array otherwise).

:func:`read_rgb` reads a dataset's RGB image (NTIRE's PNG and JPG, CAVE's BMP) as the
``(3, H, W)`` float32 that dataset samples hold.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageOps, TiffImagePlugin, UnidentifiedImageError

from .readers import _corrupt, _require_file

__all__ = [
    "IMAGE_SUFFIXES",
    "ImageSource",
    "collect_images",
    "image_info",
    "load_rgb",
    "read_rgb",
    "to_model_input",
    "to_unit_float",
]

_logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")
"""File suffixes (lower case) that :func:`collect_images` treats as photos."""

MIN_SIDE = 8
"""Smallest accepted height or width in pixels: below it there is no spatial context."""

ImageSource = str | os.PathLike[str] | Image.Image | np.ndarray | torch.Tensor
"""What :func:`load_rgb` accepts: a file path, a Pillow image, a numpy array or a tensor."""

_EXIF_ORIENTATION = 0x0112
_GRAY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}


@dataclass(frozen=True)
class ImageInfo:
    """What a file's header says, read without decoding the pixels.

    Attributes:
        height: rows after EXIF orientation.
        width: columns after EXIF orientation.
        bits: bits per channel (8 or 16; 32 for float TIFF).
        mode: Pillow's mode name (``'RGB'``, ``'RGBA'``, ``'L'``...).
    """

    height: int
    width: int
    bits: int
    mode: str


def _open(path: Path) -> Image.Image:
    if not path.exists():
        raise FileNotFoundError(f"image {str(path)!r} does not exist; check the path")
    if path.is_dir():
        raise IsADirectoryError(f"{str(path)!r} is a folder; pass image files or use the CLI")
    try:
        return Image.open(path)
    except UnidentifiedImageError as err:
        raise ValueError(
            f"cannot read {str(path)!r} as an image (corrupt, or not PNG/JPEG/TIFF); "
            "open it in an image viewer to check"
        ) from err
    except Image.DecompressionBombError as err:
        raise ValueError(
            f"{str(path)!r} is larger than Pillow's decompression-bomb limit "
            f"({Image.MAX_IMAGE_PIXELS} pixels); if you trust the file, set "
            "PIL.Image.MAX_IMAGE_PIXELS = None before predicting"
        ) from err
    except (OSError, SyntaxError, ValueError, EOFError) as err:
        if isinstance(err, PermissionError):
            raise
        raise _undecodable(path, err) from err


def _undecodable(path: Path, err: BaseException) -> ValueError:
    return ValueError(
        f"cannot decode {str(path)!r} ({type(err).__name__}: {str(err)[:80]}); "
        "the file is truncated or corrupt"
    )


def _bits(im: Image.Image, path: Path) -> int:
    if im.format == "PNG":
        # IHDR is always the first chunk, so the bit depth sits at byte 24 of the file.
        with open(path, "rb") as f:
            head = f.read(26)
        return head[24] if len(head) >= 26 else 8
    if isinstance(im, TiffImagePlugin.TiffImageFile):  # format 'TIFF'
        bits = im.tag_v2.get(258, (8,))  # BitsPerSample
        return int(bits[0] if isinstance(bits, tuple) else bits)
    if im.mode.startswith("I;16"):
        return 16
    return 8


def _orientation(im: Image.Image) -> int:
    try:
        return int(im.getexif().get(_EXIF_ORIENTATION, 1))
    except Exception:  # a malformed EXIF block must not stop reading the pixels
        return 1


def image_info(path: str | os.PathLike[str]) -> ImageInfo:
    """Size, bit depth and mode of an image file, without decoding its pixels.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is not an image Pillow can identify.
    """
    path = Path(path)
    with _open(path) as im:
        width, height = im.size
        if _orientation(im) in (5, 6, 7, 8):
            width, height = height, width
        return ImageInfo(height=height, width=width, bits=_bits(im, path), mode=im.mode)


def _apply_orientation(arr: np.ndarray, orientation: int) -> np.ndarray:
    # The eight EXIF orientations, as Pillow's exif_transpose applies them to an image.
    if orientation == 2:
        return arr[:, ::-1]
    if orientation == 3:
        return arr[::-1, ::-1]
    if orientation == 4:
        return arr[::-1]
    if orientation == 5:
        return np.swapaxes(arr, 0, 1)
    if orientation == 6:
        return np.rot90(arr, -1)
    if orientation == 7:
        return np.swapaxes(arr[::-1, ::-1], 0, 1)
    if orientation == 8:
        return np.rot90(arr, 1)
    return arr


def _read_png16(path: Path) -> np.ndarray:
    import png  # pypng: Pillow cannot decode 16-bit RGB PNG without truncating it

    width, height, rows, info = png.Reader(filename=str(path)).asDirect()
    planes = info["planes"]
    arr = np.vstack([np.asarray(row, dtype=np.uint16) for row in rows])
    return arr.reshape(height, width, planes) if planes > 1 else arr.reshape(height, width)


def _read_tiff(path: Path) -> np.ndarray:
    import tifffile  # Pillow truncates 16-bit RGB TIFF to 8 bits

    with tifffile.TiffFile(path) as tif:
        page = tif.pages[0]
        arr: np.ndarray = page.asarray()
        if arr.ndim == 3 and page.planarconfig == 2 and arr.shape[0] in (3, 4):
            arr = np.moveaxis(arr, 0, -1)
    return arr


def _from_pil(im: Image.Image, name: str) -> np.ndarray:
    im = ImageOps.exif_transpose(im)
    if im.mode in _GRAY_MODES:
        return np.asarray(im)  # rejected as grayscale by the caller, with its name
    if im.mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    elif im.mode == "PA":
        im = im.convert("RGBA")
    elif im.mode not in ("RGB", "RGBA"):
        _logger.warning("%s: converting %s to RGB with Pillow's default transform", name, im.mode)
        im = im.convert("RGB")
    return np.asarray(im)


def _read_file(path: Path) -> np.ndarray:
    with _open(path) as im:
        bits = _bits(im, path)
        orientation = _orientation(im)
        try:
            if im.format == "PNG" and bits == 16 and im.mode not in _GRAY_MODES:
                return _apply_orientation(_read_png16(path), orientation)
            if im.format == "TIFF" and bits > 8:
                return _apply_orientation(_read_tiff(path), orientation)
            im.load()
            return _from_pil(im, repr(str(path)))
        except (MemoryError, PermissionError):
            raise
        except Exception as err:  # Pillow, pypng and tifffile each have their own errors
            raise _undecodable(path, err) from err


def _from_tensor(t: torch.Tensor) -> np.ndarray:
    t = t.detach().cpu()
    if t.ndim == 4:
        if t.shape[0] != 1:
            raise ValueError(
                f"expected one image, got a batch of shape {tuple(t.shape)}; "
                "call predict once per image (or use Reconstructor in a loop)"
            )
        t = t[0]
    if t.ndim == 3 and t.shape[0] in (1, 2, 3, 4) and t.shape[-1] not in (3, 4):
        t = t.permute(1, 2, 0)  # torch images are (C, H, W)
    if t.is_floating_point():
        t = t.float()
    return t.numpy()


def load_rgb(image: ImageSource, *, alpha: str = "error", name: str | None = None) -> np.ndarray:
    """Read a photo as an ``(H, W, 3)`` array in its native type.

    Args:
        image: a path (PNG, JPEG, TIFF, BMP, WebP; 8 or 16 bits per channel), a Pillow
            image, a numpy array ``(H, W, 3)`` (or ``(3, H, W)``), or a tensor
            ``(3, H, W)``/``(1, 3, H, W)`` (or ``(H, W, 3)``). Integer arrays must be
            ``uint8`` or ``uint16``; float arrays must hold values in [0, 1].
        alpha: ``'error'`` rejects a fourth (alpha) channel; ``'drop'`` discards it.
        name: how to call the image in error messages (default: its path or kind).

    Returns:
        ``(H, W, 3)`` ``uint8``, ``uint16`` or ``float32`` (in [0, 1]), EXIF orientation
        applied for files and Pillow images. Pass it to :func:`to_unit_float`.

    Raises:
        ValueError: corrupt file, grayscale, alpha with ``alpha='error'``, unsupported
            dtype, values out of [0, 1], or a side shorter than 8 pixels.
        FileNotFoundError: the path does not exist.
    """
    if alpha not in ("error", "drop"):
        raise ValueError(f"alpha={alpha!r} is not supported; use 'error' or 'drop'")
    if isinstance(image, (str, os.PathLike)):
        name = name or repr(str(image))
        arr = _read_file(Path(image))
    elif isinstance(image, Image.Image):
        name = name or "the PIL image"
        arr = _from_pil(image, name)
    elif isinstance(image, torch.Tensor):
        name = name or "the tensor"
        arr = _from_tensor(image)
    elif isinstance(image, np.ndarray):
        name = name or "the array"
        arr = image
        if arr.ndim == 3 and arr.shape[0] in (3, 4) and arr.shape[-1] not in (3, 4):
            arr = np.moveaxis(arr, 0, -1)
    else:
        raise TypeError(
            f"cannot read an image from {type(image).__name__}; pass a path, PIL image, "
            "numpy array or torch tensor"
        )
    return _check_rgb(np.asarray(arr), name, alpha)


def _check_rgb(arr: np.ndarray, name: str, alpha: str) -> np.ndarray:
    if arr.ndim == 2 or (arr.ndim == 3 and arr.shape[-1] in (1, 2)):
        raise ValueError(
            f"{name} is grayscale (shape {arr.shape}); spectral reconstruction needs a "
            "3-channel RGB photo"
        )
    if arr.ndim != 3 or arr.shape[-1] not in (3, 4):
        raise ValueError(
            f"{name} has shape {arr.shape}; expected an RGB image (H, W, 3) or (3, H, W)"
        )
    if arr.shape[-1] == 4:
        if alpha != "drop":
            raise ValueError(
                f"{name} has an alpha channel (RGBA); pass alpha='drop' (CLI: --alpha drop) "
                "to ignore it, or save the photo as RGB"
            )
        arr = arr[..., :3]
    height, width = arr.shape[:2]
    if min(height, width) < MIN_SIDE:
        raise ValueError(
            f"{name} is {height}x{width} pixels; reconstruction needs at least "
            f"{MIN_SIDE}x{MIN_SIDE} (the models use spatial context)"
        )
    if arr.dtype.kind == "f":
        arr = arr.astype(np.float32, copy=False)
        low, high = float(np.nanmin(arr)), float(np.nanmax(arr))
        if not np.isfinite(arr).all():
            raise ValueError(f"{name} contains NaN or inf values; clean it before predicting")
        if low < -1e-3 or high > 1 + 1e-3:
            raise ValueError(
                f"{name} is float with values in [{low:g}, {high:g}]; float images must be "
                "in [0, 1] (divide 8-bit data by 255, 16-bit by 65535)"
            )
    elif arr.dtype == np.bool_ or arr.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"{name} has dtype {arr.dtype}; pass uint8, uint16, or float in [0, 1]")
    return arr


def read_rgb(path: str | Path) -> np.ndarray:
    """A dataset's RGB image (PNG, JPG, BMP, ...) as ``(3, H, W)`` float32 in [0, 1].

    8-bit images are divided by 255, 16-bit by 65535. Greyscale is repeated to 3 channels and
    alpha dropped. Unlike :func:`load_rgb` (photos to reconstruct, which must be RGB), any
    image is accepted, as datasets store it.
    """
    path = _require_file(path)
    try:
        with Image.open(path) as im:
            if im.mode in ("I;16", "I;16B", "I"):
                arr = np.asarray(im).astype(np.float32) / 65535.0
                arr = np.repeat(arr[..., None], 3, axis=-1)
            else:
                arr = np.asarray(im.convert("RGB")).astype(np.float32) / 255.0
    except Exception as err:
        raise _corrupt(path, err, "an image") from err
    return np.ascontiguousarray(arr.transpose(2, 0, 1))


def to_unit_float(arr: np.ndarray) -> np.ndarray:
    """Scale ``uint8``/``uint16``/float data to ``float32`` in [0, 1] (a copy)."""
    unit: np.ndarray
    if arr.dtype == np.uint8:
        unit = arr.astype(np.float32) / np.float32(255)
    elif arr.dtype == np.uint16:
        unit = arr.astype(np.float32) / np.float32(65535)
    else:
        unit = np.clip(arr, 0.0, 1.0, dtype=np.float32)
    return unit


def to_model_input(
    rgb: np.ndarray,
    input_encoding: str,
    input_range: Sequence[float],
    source_encoding: str = "srgb",
    camera_matrix: np.ndarray | None = None,
) -> np.ndarray:
    """Convert photo values in [0, 1] to what a weight expects.

    Args:
        rgb: ``float32`` values in [0, 1], shape ``(..., 3)``.
        input_encoding: the weight's ``pretrained_cfg.input_encoding``: ``'srgb'``
            (gamma-encoded, as photos are stored) or ``'linear'`` (proportional to light).
        input_range: the weight's ``pretrained_cfg.input_range`` ``(low, high)``.
        source_encoding: how ``rgb`` is encoded: ``'srgb'`` for ordinary photos,
            ``'linear'`` for linear (raw-like) data.
        camera_matrix: ``(3, 3)`` ``M`` with ``camera_rgb = M @ linear_srgb``
            (:func:`ssrzoo.spectral.srgb_to_camera_matrix`), applied to an sRGB photo
            going to a linear weight, after decoding; negative results are clipped to 0.

    Returns:
        ``float32`` array of the same shape, in ``input_range``.

    The sRGB transfer functions are IEC 61966-2-1's, from colour-science.
    """
    for label, value in (("input_encoding", input_encoding), ("source", source_encoding)):
        if value not in ("srgb", "linear"):
            raise ValueError(f"{label} {value!r} is not supported; use 'srgb' or 'linear'")
    out = rgb
    if source_encoding != input_encoding:
        from colour.models import eotf_inverse_sRGB, eotf_sRGB

        convert = eotf_sRGB if input_encoding == "linear" else eotf_inverse_sRGB
        out = np.asarray(convert(rgb), dtype=np.float32)
    if camera_matrix is not None and source_encoding == "srgb" and input_encoding == "linear":
        matrix = np.asarray(camera_matrix, dtype=np.float32)
        out = np.maximum(out @ matrix.T, np.float32(0.0))
    low, high = float(input_range[0]), float(input_range[1])
    if (low, high) != (0.0, 1.0):
        out = out * np.float32(high - low) + np.float32(low)
    return out.astype(np.float32, copy=False)


def collect_images(paths: Iterable[str | os.PathLike[str]]) -> tuple[list[Path], list[Path]]:
    """Expand files and folders into image files, in a stable order.

    A folder contributes its files (not recursively) whose suffix is in
    :data:`IMAGE_SUFFIXES`; other files in it are returned as skipped. A file named
    explicitly is always kept, whatever its suffix, so a corrupt or mislabelled file gives
    its own error later.

    Returns:
        ``(images, skipped)``.

    Raises:
        FileNotFoundError: a path does not exist.
    """
    images: list[Path] = []
    skipped: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for child in sorted(path.iterdir()):
                if child.is_file() and child.suffix.lower() in IMAGE_SUFFIXES:
                    images.append(child)
                elif not child.name.startswith("."):
                    skipped.append(child)
        elif path.is_file():
            images.append(path)
        else:
            raise FileNotFoundError(f"input {str(path)!r} does not exist; check the path")
    return images, skipped


def describe_source(image: Any) -> str | None:
    """The path of a file input, else ``None`` (stored in the result's metadata)."""
    return str(image) if isinstance(image, (str, os.PathLike)) else None
