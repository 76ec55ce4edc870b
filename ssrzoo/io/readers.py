"""Readers for the on-disk formats hyperspectral datasets ship in.

Every reader returns numpy arrays with the spectral axis first, ``(C, H, W)``, and wavelengths
in nm. They do no normalisation beyond what the format itself defines (16-bit PNG counts /
65535, ENVI ``reflectance scale factor``), so a dataset class can state its own protocol.

Formats:

* MATLAB ``.mat``: v5/v7 through :func:`scipy.io.loadmat`, v7.3 (HDF5) through :mod:`h5py`.
  :func:`read_mat` returns every variable in MATLAB's own axis order for both, so
  ``size(cube) == [482 512 31]`` in MATLAB is ``(482, 512, 31)`` here whatever the version.
* Folders of single-band 16-bit PNGs named ``<prefix>_<k>.png`` (CAVE).
* ENVI ``.hdr`` + raw binary (BSQ, BIL or BIP) through SPy's :mod:`spectral.io.envi`.
* ``.npy`` / ``.npz`` / ``.mat`` / ``.h5`` / ``.hdf5`` arrays with a wavelength sidecar file.

RGB images are read by :mod:`ssrzoo.io.images`, the cube files ssrzoo writes by
:mod:`ssrzoo.io.cubes`.

A file that exists but cannot be parsed raises :class:`ValueError` naming the file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "ARRAY_SUFFIXES",
    "HyperspectralImage",
    "find_band_pngs",
    "read_array",
    "read_band_pngs",
    "read_envi",
    "read_mat",
    "read_mat_variable",
    "read_wavelength_sidecar",
    "to_chw",
]

#: File suffixes :func:`read_array` understands.
ARRAY_SUFFIXES: tuple[str, ...] = (".npy", ".npz", ".mat", ".h5", ".hdf5")


# Not merged with ssrzoo.inference.SpectralImage, though both hold a cube and its wavelengths:
# this is what a file holds (the cube, the wavelengths its header lists, a validity mask, the
# header's fields), known to the data layer, which must not import the models. SpectralImage
# is a model's output: it names the weight (a PretrainedCfg) and the photo it came from, and
# plots and saves itself; it is written and read through this class (ssrzoo.io.cubes).
@dataclass
class HyperspectralImage:
    """A cube with its band metadata, as read from disk.

    Attributes:
        data: ``(C, H, W)`` float32 array.
        wavelengths: ``(C,)`` band centres in nm, increasing.
        fwhm: ``(C,)`` full widths at half maximum in nm, or None when the file has none.
        valid: ``(H, W)`` bool array of pixels holding data (False where the format marks
            "no data"), or None when every pixel is valid.
        metadata: anything else the file says (header fields, scale factors, source path).
    """

    data: np.ndarray
    wavelengths: np.ndarray
    fwhm: np.ndarray | None = None
    valid: np.ndarray | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


def _require_file(path: str | Path) -> Path:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    return path


def _corrupt(path: Path, err: BaseException, what: str) -> ValueError:
    return ValueError(
        f"cannot read {path} as {what} ({type(err).__name__}: {err}); the file is corrupt, "
        f"truncated or not {what}: download it again from the dataset's source"
    )


#: The first bytes of each numpy format, and what starts that way.
_NUMPY_MAGIC = {"npy": (b"\x93NUMPY", "a .npy array"), "npz": (b"PK\x03\x04", "an .npz archive")}


def _check_numpy_file(path: Path, kind: str) -> None:
    """Say a file is not a valid ``kind`` (``"npy"``, ``"npz"``) file, rather than a pickle.

    ``np.load(allow_pickle=False)`` takes any file that is neither a .npy nor a zip archive
    for a pickle and refuses it with a hint to pass ``allow_pickle=True``: wrong for random
    bytes, and unsafe advice.
    """
    magic, what = _NUMPY_MAGIC[kind]
    with open(path, "rb") as f:
        head = f.read(len(magic))
    if head != magic:
        raise ValueError(
            f"{str(path)!r} is not a valid {path.suffix} file (it does not start as {what} "
            "does); it is damaged or of another format"
        )


def read_mat(path: str | Path, keys: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """Read variables of a MATLAB file, v5/v7 or v7.3, in MATLAB's axis order.

    h5py sees a v7.3 variable with its axes reversed (MATLAB is column-major); this function
    transposes them back, so both versions give the shape MATLAB's ``size`` reports.

    Args:
        path: the ``.mat`` file.
        keys: variable names to read; None reads every numeric variable.

    Returns:
        name -> array. MATLAB structs and cell arrays of a v7.3 file are skipped.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: the file cannot be parsed (names the file).
    """
    import h5py

    path = _require_file(path)
    try:
        if h5py.is_hdf5(path):
            out: dict[str, np.ndarray] = {}
            with h5py.File(path, "r") as f:
                names = list(keys) if keys is not None else list(f.keys())
                for name in names:
                    if name in f and isinstance(f[name], h5py.Dataset) and not name.startswith("#"):
                        out[name] = np.asarray(f[name]).T
            return out
        from scipy.io import loadmat

        raw = loadmat(path, variable_names=None if keys is None else list(keys))
        return {k: v for k, v in raw.items() if not k.startswith("__")}
    except Exception as err:  # every parser error means the same thing to a caller
        raise _corrupt(path, err, "a MATLAB .mat file") from err


def read_mat_variable(path: str | Path, key: str | Sequence[str]) -> np.ndarray:
    """One variable of a ``.mat`` file (see :func:`read_mat`), trying ``key`` names in order.

    Raises:
        ValueError: none of the names is in the file (the message lists what is there).
    """
    keys = [key] if isinstance(key, str) else list(key)
    data = read_mat(path, keys)
    for k in keys:
        if k in data:
            return data[k]
    found = sorted(read_mat(path).keys())
    raise ValueError(
        f"{path} has no variable {' or '.join(repr(k) for k in keys)} (it holds {found}); "
        f"pass key=<name> or check that this is the right file"
    )


def to_chw(
    array: np.ndarray, num_bands: int | None = None, band_axis: int | None = None
) -> np.ndarray:
    """Move the band axis of a 3-D array to the front.

    Args:
        array: a 3-D array.
        num_bands: the number of bands, used to find the band axis when ``band_axis`` is None.
        band_axis: the axis holding bands; None finds the unique axis of length ``num_bands``,
            or, without ``num_bands``, assumes MATLAB's ``(H, W, C)`` (axis 2).

    Raises:
        ValueError: not 3-D, no axis of length ``num_bands``, or more than one.
    """
    if array.ndim != 3:
        raise ValueError(f"need a 3-D cube, got shape {array.shape}; pass (H, W, C) or (C, H, W)")
    if band_axis is None:
        if num_bands is None:
            band_axis = 2
        else:
            axes = [i for i, n in enumerate(array.shape) if n == num_bands]
            if not axes:
                raise ValueError(
                    f"cube of shape {array.shape} has no axis of {num_bands} bands; check the "
                    f"wavelength list matches the data"
                )
            if len(axes) > 1:
                raise ValueError(
                    f"cube of shape {array.shape} has several axes of length {num_bands}; pass "
                    f"band_axis= to say which one holds the bands"
                )
            band_axis = axes[0]
    return np.moveaxis(array, band_axis, 0)


_BAND_PNG = re.compile(r"^(?P<prefix>.+?)_(?P<index>\d+)\.png$", re.IGNORECASE)


def find_band_pngs(folder: str | Path) -> tuple[str, dict[int, Path]]:
    """Find single-band PNGs ``<prefix>_<k>.png`` in a folder (CAVE's ``balloons_ms_01.png``).

    Returns:
        ``(prefix, {k: path})`` with 1-based band numbers ``k``.

    Raises:
        FileNotFoundError: no such PNGs, or several prefixes in one folder.
    """
    folder = Path(folder)
    groups: dict[str, dict[int, Path]] = {}
    for p in sorted(folder.glob("*")):
        m = _BAND_PNG.match(p.name)
        if m and p.is_file():
            groups.setdefault(m["prefix"], {})[int(m["index"])] = p
    if not groups:
        raise FileNotFoundError(f"no band images named <prefix>_<k>.png in {folder}")
    if len(groups) > 1:
        raise FileNotFoundError(
            f"{folder} mixes band images of several scenes ({sorted(groups)}); put each scene in "
            f"its own folder"
        )
    prefix, bands = next(iter(groups.items()))
    return prefix, bands


def _read_gray_png(path: Path) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(path) as im:
            arr = np.asarray(im)
    except Exception as err:
        raise _corrupt(path, err, "an image") from err
    if arr.ndim == 3:
        # A few CAVE bands were saved as grey RGB(A); their channels are equal.
        arr = arr[..., 0]
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / 255.0
    if arr.dtype in (np.uint16, np.int32, np.uint32):
        # Pillow opens 16-bit greyscale PNGs as mode I;16 (uint16) or I (int32) by version.
        return arr.astype(np.float32) / 65535.0
    raise ValueError(f"{path} has pixel type {arr.dtype}; expected 8- or 16-bit greyscale")


def read_band_pngs(paths: Sequence[str | Path]) -> np.ndarray:
    """Stack single-band PNGs into ``(C, H, W)`` float32, 16-bit counts / 65535 (8-bit / 255).

    Raises:
        ValueError: a file cannot be decoded, or the bands differ in size (names the file).
    """
    bands: list[np.ndarray] = []
    for p in paths:
        band = _read_gray_png(_require_file(p))
        if bands and band.shape != bands[0].shape:
            raise ValueError(
                f"{p} is {band.shape[1]}x{band.shape[0]} px but the first band is "
                f"{bands[0].shape[1]}x{bands[0].shape[0]}; all bands of a scene must match"
            )
        bands.append(band)
    if not bands:
        raise ValueError("no band images given")
    return np.stack(bands)


def _envi_wavelengths(
    meta: dict[str, Any], n: int, path: Path
) -> tuple[np.ndarray, np.ndarray | None]:
    if "wavelength" not in meta:
        raise ValueError(
            f"{path} has no 'wavelength' field; add 'wavelength = {{...}}' (nm) to the header"
        )
    wl = np.asarray([float(v) for v in meta["wavelength"]], dtype=np.float64)
    fw = np.asarray([float(v) for v in meta["fwhm"]], dtype=np.float64) if "fwhm" in meta else None
    units = str(meta.get("wavelength units", "nanometers")).strip().lower()
    if units in ("micrometers", "micrometer", "microns", "micron", "um", "µm"):
        factor = 1000.0
    elif units in ("nanometers", "nanometer", "nm", "unknown", ""):
        # No units given: values above 100 can only be nm for optical sensors.
        factor = 1.0 if units != "unknown" or wl.max() > 100 else 1000.0
    else:
        raise ValueError(f"{path}: unsupported 'wavelength units = {units}'; use nm or micrometers")
    if wl.size != n or (fw is not None and fw.size != n):
        raise ValueError(
            f"{path} lists {wl.size} wavelengths for {n} bands; fix the header's wavelength list"
        )
    return wl * factor, None if fw is None else fw * factor


def read_envi(hdr_path: str | Path, image_path: str | Path | None = None) -> HyperspectralImage:
    """Read an ENVI image (``.hdr`` + raw binary, BSQ/BIL/BIP) with SPy.

    The ``reflectance scale factor`` field is applied (so a Specim reflectance file stored as
    uint16 with factor 65535 comes back in [0, 1]); ``data ignore value`` pixels (all bands equal
    to it) are flagged in ``valid``; wavelengths in micrometres are converted to nm.

    Args:
        hdr_path: the header file.
        image_path: the binary file; None lets SPy find it next to the header (``.img``,
            ``.dat``, ``.raw``, no suffix, ...).

    Raises:
        FileNotFoundError: the header or the binary file is missing.
        ValueError: a corrupt header, a binary file of the wrong size, or no wavelengths.
    """
    from spectral.io import envi

    hdr_path = _require_file(hdr_path)
    try:
        img = envi.open(str(hdr_path), None if image_path is None else str(image_path))
    except envi.EnviDataFileNotFoundError as err:
        raise FileNotFoundError(
            f"no binary data file for ENVI header {hdr_path}; put it next to the header with the "
            f"same name (.img, .dat or .raw) or pass image_path="
        ) from err
    except Exception as err:
        raise _corrupt(hdr_path, err, "an ENVI header") from err
    meta = dict(img.metadata)
    try:
        raw = np.asarray(img.load(scale=False))
    except Exception as err:
        raise _corrupt(Path(img.filename), err, "ENVI image data") from err
    scale = float(getattr(img, "scale_factor", 1.0) or 1.0)
    data = np.ascontiguousarray(np.moveaxis(raw, -1, 0)).astype(np.float32) / np.float32(scale)
    wl, fw = _envi_wavelengths(meta, data.shape[0], hdr_path)
    valid = None
    if "data ignore value" in meta:
        ignore = float(meta["data ignore value"])
        valid = ~np.all(raw == ignore, axis=-1)
    meta.update(source=str(hdr_path), scale_factor=scale)
    return HyperspectralImage(data=data, wavelengths=wl, fwhm=fw, valid=valid, metadata=meta)


def read_array(path: str | Path, key: str | None = None) -> np.ndarray:
    """The array stored in a ``.npy``, ``.npz``, ``.mat``, ``.h5`` or ``.hdf5`` file.

    Args:
        path: the file.
        key: the variable inside a container file; None takes its only variable, or, if it
            holds several, the largest 3-D one.

    Raises:
        ValueError: an unknown suffix, a corrupt file, or a missing ``key`` (names the file).
    """
    path = _require_file(path)
    suffix = path.suffix.lower()
    if suffix not in ARRAY_SUFFIXES:
        raise ValueError(f"{path} has suffix {suffix!r}; supported: {', '.join(ARRAY_SUFFIXES)}")
    if suffix == ".mat":
        arrays = read_mat(path) if key is None else {key: read_mat_variable(path, key)}
    else:
        if suffix in (".npy", ".npz"):
            _check_numpy_file(path, suffix[1:])
        try:
            if suffix == ".npy":
                array: np.ndarray = np.load(path, allow_pickle=False)
                return array
            if suffix == ".npz":
                with np.load(path, allow_pickle=False) as z:
                    names = [key] if key is not None and key in z.files else z.files
                    arrays = {n: z[n] for n in names}
            else:
                import h5py

                with h5py.File(path, "r") as f:
                    names = (
                        [key]
                        if key is not None and key in f
                        else [n for n in f if isinstance(f[n], h5py.Dataset)]
                    )
                    arrays = {n: np.asarray(f[n]) for n in names}
        except Exception as err:
            raise _corrupt(path, err, f"a {suffix} array file") from err
    if key is not None:
        if key not in arrays:
            raise ValueError(f"{path} has no array {key!r} (it holds {sorted(arrays)}); fix key=")
        return arrays[key]
    cubes = {n: a for n, a in arrays.items() if np.asarray(a).ndim == 3}
    pool = cubes or arrays
    if not pool:
        raise ValueError(f"{path} holds no arrays")
    return max(pool.values(), key=lambda a: np.asarray(a).size)


def read_wavelength_sidecar(path: str | Path) -> tuple[np.ndarray, np.ndarray | None]:
    """Band centres (and FWHM) from a sidecar file, in nm.

    Two formats:

    * ``.json``: ``{"wavelengths_nm": [...], "fwhm_nm": [...]}`` (``fwhm_nm`` optional; the
      keys ``wavelengths`` / ``fwhm`` are accepted too);
    * text (``.txt``, ``.csv``): one band per line, the centre in nm and optionally its FWHM,
      separated by whitespace or a comma; lines starting with ``#`` are comments.

    Returns:
        ``(wavelengths, fwhm or None)``, float64.
    """
    path = _require_file(path)
    try:
        if path.suffix.lower() == ".json":
            spec = json.loads(path.read_text())
            spec = spec if isinstance(spec, dict) else {}
            wl_raw = spec.get("wavelengths_nm", spec.get("wavelengths"))
            wl = None if wl_raw is None else np.asarray(wl_raw, dtype=np.float64)
            fw_raw = spec.get("fwhm_nm", spec.get("fwhm"))
            fw = None if fw_raw is None else np.asarray(fw_raw, dtype=np.float64)
        else:
            rows = [
                [float(v) for v in re.split(r"[,\s]+", line.strip()) if v]
                for line in path.read_text().splitlines()
                if line.strip() and not line.lstrip().startswith("#")
            ]
            if any(len(r) != len(rows[0]) for r in rows) or len(rows[0]) > 2:
                raise ValueError("each line must hold a wavelength and optionally a FWHM")
            table = np.asarray(rows, dtype=np.float64)
            wl = table[:, 0]
            fw = table[:, 1] if table.shape[1] == 2 else None
    except Exception as err:
        raise _corrupt(path, err, "a wavelength sidecar (JSON or text)") from err
    if wl is None:
        raise ValueError(
            f"{path} has no 'wavelengths_nm' key; a JSON wavelength sidecar must hold "
            '{"wavelengths_nm": [...]} (nm, one per band) and optionally "fwhm_nm"'
        )
    if wl.ndim != 1 or wl.size == 0 or np.any(np.diff(wl) <= 0):
        raise ValueError(f"{path} must list increasing wavelengths in nm, got {wl.tolist()}")
    return wl, fw
