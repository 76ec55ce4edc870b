"""Writing and reading cube files, always with their wavelengths.

:func:`write_cube` and :func:`read_cube` handle the formats for any
:class:`~ssrzoo.io.HyperspectralImage` and a JSON-able metadata dict;
:func:`ssrzoo.inference.save_cube` and :func:`ssrzoo.inference.load_cube` store a model's
:class:`~ssrzoo.inference.SpectralImage` (units, weight, provenance) through them.

Formats (chosen by ``format=`` or the file suffix):

============  =============  ===============================================================
format        suffix         layout
============  =============  ===============================================================
``npz``       ``.npz``       ``cube`` ``(C, H, W)`` float32, ``wavelengths`` ``(C,)`` nm,
                             ``meta`` (a JSON string: units, model, pretrained cfg, ...)
``npy``       ``.npy``       the ``(C, H, W)`` cube; wavelengths and metadata in a sidecar
                             ``<stem>.json`` (``wavelengths_nm``, ``fwhm_nm``, ...)
``mat``       ``.mat``       ``cube`` as MATLAB ``H x W x C`` single, ``bands`` ``1 x C``
                             (nm; NTIRE's names), ``ssrzoo_meta`` (JSON char). v5 through
                             SciPy; v7.3 (HDF5, through h5py) when the cube is 2 GiB or more,
                             which v5 cannot hold, or when asked
``h5``        ``.h5``        ``cube`` ``(C, H, W)`` float32 (chunked), ``wavelengths`` ``(C,)``
                             attached to axis 0 as an HDF5 dimension scale, attrs with the
                             metadata
``envi``      ``.hdr``       ENVI header (written by SPy's ``envi.write_envi_header``) with
                             ``wavelength``, ``wavelength units = Nanometers``, ``fwhm``,
                             ``band names``; data ``<stem>.img``, BSQ little-endian float32
============  =============  ===============================================================

Every write goes to hidden temporary files beside the target and is renamed into place
only when complete, so an error (or Ctrl-C) never leaves a partial output file.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from .._atomic import atomic_files
from ..version import __version__
from .readers import (
    HyperspectralImage,
    _check_numpy_file,
    read_envi,
    read_mat,
    read_wavelength_sidecar,
)

__all__ = ["FORMATS", "format_from_path", "output_paths", "read_cube", "write_cube"]

FORMATS: dict[str, str] = {
    "npz": ".npz",
    "npy": ".npy",
    "mat": ".mat",
    "h5": ".h5",
    "envi": ".hdr",
}
"""Format name -> suffix of the main file written."""

_SUFFIX_TO_FORMAT = {
    ".npz": "npz",
    ".npy": "npy",
    ".mat": "mat",
    ".h5": "h5",
    ".hdf5": "h5",
    ".hdr": "envi",
    ".img": "envi",
}
MAT_V5_LIMIT = 2**31 - 1
"""Bytes: a MATLAB v5 variable cannot be larger (a 32-bit size field)."""


def format_from_path(path: str | os.PathLike[str]) -> str:
    """The format a file's suffix implies, e.g. ``'envi'`` for ``x.hdr``."""
    suffix = Path(path).suffix.lower()
    if suffix not in _SUFFIX_TO_FORMAT:
        raise ValueError(
            f"cannot tell the cube format of {str(path)!r} from its suffix {suffix!r}; "
            f"use one of {sorted(_SUFFIX_TO_FORMAT)} or pass format= ({', '.join(FORMATS)})"
        )
    return _SUFFIX_TO_FORMAT[suffix]


def output_paths(path: str | os.PathLike[str], format: str) -> list[Path]:
    """The files a write of ``format`` to ``path`` creates (main file first)."""
    path = Path(path)
    if format == "envi":
        return [path.with_suffix(".hdr"), path.with_suffix(".img")]
    if format == "npy":
        return [path, path.with_suffix(".json")]
    return [path]


def _to_json(meta: dict[str, Any], **kwargs: Any) -> str:
    """JSON text of the metadata; numpy values become lists/numbers, anything else a string."""

    def default(obj: Any) -> Any:
        return obj.tolist() if hasattr(obj, "tolist") else str(obj)

    return json.dumps(meta, default=default, **kwargs)


def write_cube(
    image: HyperspectralImage,
    path: str | os.PathLike[str],
    format: str | None = None,
    *,
    mat_version: str | None = None,
    compress: bool = False,
) -> list[Path]:
    """Write ``image.data`` with its wavelengths (nm) and ``image.metadata``.

    Args:
        image: the cube ``(C, H, W)`` (a numpy array or a ``np.memmap``), its wavelengths and
            FWHM, and in ``metadata`` what to store beside them as JSON (its ``'units'``,
            ``'model'`` and ``'source'`` also go into the ENVI and HDF5 headers). The JSON
            starts with the wavelengths and FWHM, as ``'wavelengths_nm'`` and ``'fwhm_nm'``.
        path: target file; for ENVI the ``.hdr`` (the data goes to ``<stem>.img``).
            Missing parent folders are created; existing files are replaced atomically.
        format: ``'npz'``, ``'npy'``, ``'mat'``, ``'h5'`` or ``'envi'``; default from the
            suffix of ``path``.
        mat_version: ``'5'`` or ``'7.3'``; default v5, or v7.3 when the cube is >= 2 GiB.
        compress: compress where the format allows (npz, mat, h5).

    Returns:
        The files written, main file first.
    """
    format = format or format_from_path(path)
    if format not in FORMATS:
        raise ValueError(f"unknown cube format {format!r}; use one of {', '.join(FORMATS)}")
    targets = output_paths(path, format)
    targets[0].parent.mkdir(parents=True, exist_ok=True)
    fwhm = image.fwhm
    meta = {
        "wavelengths_nm": np.asarray(image.wavelengths).tolist(),
        "fwhm_nm": None if fwhm is None else np.asarray(fwhm).tolist(),
        **{k: v for k, v in image.metadata.items() if k not in ("wavelengths_nm", "fwhm_nm")},
    }
    nbytes = image.data.nbytes
    if format == "mat":
        version = mat_version or ("7.3" if nbytes > MAT_V5_LIMIT else "5")
        if version not in ("5", "7.3"):
            raise ValueError(f"mat_version {mat_version!r} is not supported; use '5' or '7.3'")
        if version == "5" and nbytes > MAT_V5_LIMIT:
            raise ValueError(
                f"a {nbytes / 2**30:.1f} GiB cube does not fit a v5 .mat "
                "(2 GiB per variable); use mat_version='7.3'"
            )
        format = "mat73" if version == "7.3" else "mat"
    with atomic_files(*targets) as temps:
        _WRITERS[format](image, temps, meta, compress)
    return targets


def _write_npz(
    image: HyperspectralImage, paths: list[Path], meta: dict[str, Any], compress: bool
) -> None:
    save = np.savez_compressed if compress else np.savez
    with open(paths[0], "wb") as f:  # a file object: np.savez would append '.npz' to a name
        save(
            f,
            cube=np.asarray(image.data, dtype=np.float32),
            wavelengths=image.wavelengths,
            meta=np.array(_to_json(meta)),
        )


def _write_npy(
    image: HyperspectralImage, paths: list[Path], meta: dict[str, Any], compress: bool
) -> None:
    with open(paths[0], "wb") as f:
        np.save(f, np.ascontiguousarray(image.data, dtype=np.float32))
    paths[1].write_text(_to_json(meta, indent=1))


def _write_mat5(
    image: HyperspectralImage, paths: list[Path], meta: dict[str, Any], compress: bool
) -> None:
    from scipy.io import savemat

    variables: dict[str, Any] = {
        "cube": np.asarray(image.data).transpose(1, 2, 0),  # MATLAB's H x W x C
        "bands": image.wavelengths[None, :],
        "ssrzoo_meta": _to_json(meta),
    }
    if image.fwhm is not None:
        variables["fwhm"] = image.fwhm[None, :]
    with open(paths[0], "wb") as f:
        savemat(f, variables, do_compression=compress, oned_as="row")


def _mat73_header() -> bytes:
    # MAT 7.3 = HDF5 with a 512-byte user block: 116 bytes of text, 8 of subsystem offset,
    # version 0x0200 and the endian marker 'IM' (MATLAB "MAT-File Format", 7.3 section).
    stamp = time.strftime("%a %b %d %H:%M:%S %Y")
    text = f"MATLAB 7.3 MAT-file, Platform: {sys.platform}, Created on: {stamp} HDF5 schema 1.00 ."
    head = text.encode("ascii")[:116].ljust(116, b" ") + b" " * 8 + b"\x00\x02" + b"IM"
    return head.ljust(512, b"\x00")


def _write_mat73(
    image: HyperspectralImage, paths: list[Path], meta: dict[str, Any], compress: bool
) -> None:
    import h5py

    path = paths[0]
    cube = image.data
    channels, height, width = cube.shape
    opts: dict[str, Any] = {"compression": "gzip"} if compress else {}
    with h5py.File(path, "w", userblock_size=512) as f:
        # MATLAB is column-major: an H x W x C variable is stored as (C, W, H).
        dset = f.create_dataset(
            "cube",
            shape=(channels, width, height),
            dtype=np.float32,
            chunks=(1, min(width, 512), min(height, 512)) if compress else None,
            **opts,
        )
        for band in range(channels):  # band by band keeps the extra memory to one band
            dset[band] = np.asarray(cube[band], dtype=np.float32).T
        dset.attrs["MATLAB_class"] = np.bytes_("single")
        for name, values in (("bands", image.wavelengths), ("fwhm", image.fwhm)):
            if values is not None:
                d = f.create_dataset(name, data=np.asarray(values, dtype=np.float64)[:, None])
                d.attrs["MATLAB_class"] = np.bytes_("double")
        chars = np.frombuffer(_to_json(meta).encode("utf-16-le"), dtype=np.uint16)
        d = f.create_dataset("ssrzoo_meta", data=chars[:, None])
        d.attrs["MATLAB_class"] = np.bytes_("char")
        d.attrs["MATLAB_int_decode"] = np.int32(2)
    with open(path, "r+b") as f:
        f.write(_mat73_header())


def _write_h5(
    image: HyperspectralImage, paths: list[Path], meta: dict[str, Any], compress: bool
) -> None:
    import h5py

    channels, height, width = image.data.shape
    opts: dict[str, Any] = {"compression": "gzip", "shuffle": True} if compress else {}
    with h5py.File(paths[0], "w") as f:
        cube = f.create_dataset(
            "cube",
            shape=image.data.shape,
            dtype=np.float32,
            chunks=(1, min(height, 256), min(width, 256)),
            **opts,
        )
        for band in range(channels):
            cube[band] = image.data[band]
        wl = f.create_dataset("wavelengths", data=image.wavelengths)
        wl.attrs["units"] = "nm"
        wl.make_scale("wavelength")
        cube.dims[0].attach_scale(wl)
        for axis, label in enumerate(("wavelength", "y", "x")):
            cube.dims[axis].label = label
        if image.fwhm is not None:
            f.create_dataset("fwhm", data=image.fwhm).attrs["units"] = "nm"
        cube.attrs["units"] = meta.get("units", "unknown")
        f.attrs["model"] = meta.get("model", "")
        f.attrs["ssrzoo_meta"] = _to_json(meta)


def _write_envi(
    image: HyperspectralImage, paths: list[Path], meta: dict[str, Any], compress: bool
) -> None:
    from spectral.io.envi import write_envi_header

    hdr, data = paths
    channels, height, width = image.data.shape
    units, model = meta.get("units", "unknown"), meta.get("model")
    source = f" from {Path(meta['source']).name}" if meta.get("source") else ""
    header: dict[str, Any] = {
        "description": f"ssrzoo {__version__} reconstruction by {model or 'a model'}"
        f"{source}; values: {units}",
        "samples": width,
        "lines": height,
        "bands": channels,
        "header offset": 0,
        "file type": "ENVI Standard",
        "data type": 4,  # float32
        "interleave": "bsq",
        "byte order": 0,  # little endian
        "wavelength units": "Nanometers",
        "wavelength": [f"{w:g}" for w in image.wavelengths],
        "band names": [f"{w:g} nm" for w in image.wavelengths],
        "ssrzoo units": units,
        "ssrzoo model": model or "unknown",
    }
    if image.fwhm is not None:
        header["fwhm"] = [f"{w:g}" for w in image.fwhm]
    with open(data, "wb") as f:
        for band in range(channels):
            np.ascontiguousarray(image.data[band], dtype="<f4").tofile(f)
    write_envi_header(str(hdr), header)


_WRITERS = {
    "npz": _write_npz,
    "npy": _write_npy,
    "mat": _write_mat5,
    "mat73": _write_mat73,
    "h5": _write_h5,
    "envi": _write_envi,
}


def _decode_chars(value: Any) -> str:
    arr = np.asarray(value)
    if arr.dtype.kind == "U":
        return "".join(arr.ravel().tolist())
    if arr.dtype.kind in "ui":  # a v7.3 char array: UTF-16 code units
        return arr.ravel().astype("<u2").tobytes().decode("utf-16-le")
    return str(arr)


def _stored(cube: np.ndarray, wavelengths: Any, meta: dict[str, Any]) -> HyperspectralImage:
    fwhm = meta.get("fwhm_nm")
    return HyperspectralImage(
        data=cube if cube.dtype == np.float32 else cube.astype(np.float32),
        wavelengths=np.asarray(wavelengths, dtype=np.float64),
        fwhm=None if fwhm is None else np.asarray(fwhm, dtype=np.float64),
        metadata=meta,
    )


def read_cube(path: str | os.PathLike[str], format: str | None = None) -> HyperspectralImage:
    """Read a cube written by :func:`write_cube` (or any file of these formats with wavelengths).

    ``.npy`` files are memory-mapped read-only; the other formats are read into memory.
    A ``.mat`` needs a ``cube`` variable (``H x W x C``) and ``bands`` (nm), as NTIRE's
    files have; an ENVI header needs ``wavelength``.

    Returns:
        The cube ``(C, H, W)`` float32, its wavelengths and FWHM (nm), and as ``metadata`` the
        JSON metadata stored with it (empty for a file ssrzoo did not write; for ENVI, the
        ``'units'`` and ``'model'`` of its header).

    Raises:
        FileNotFoundError: the file (or its sidecar/data file) is missing.
        ValueError: the file is corrupt or holds no wavelengths.
    """
    path = Path(path)
    format = format or format_from_path(path)
    if not path.is_file() and format != "envi":
        raise FileNotFoundError(f"cube file {str(path)!r} does not exist; check the path")
    try:
        if format == "npz":
            _check_numpy_file(path, "npz")
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"])) if "meta" in z.files else {}
                return _stored(z["cube"], z["wavelengths"], meta)
        if format == "npy":
            _check_numpy_file(path, "npy")
            sidecar = path.with_suffix(".json")
            if not sidecar.is_file():
                raise FileNotFoundError(
                    f"{str(path)!r} has no wavelength sidecar {sidecar.name!r}; write one with "
                    '{"wavelengths_nm": [...]} (nm)'
                )
            wavelengths, fwhm = read_wavelength_sidecar(sidecar)  # checks the keys
            meta = json.loads(sidecar.read_text())
            meta["fwhm_nm"] = None if fwhm is None else fwhm.tolist()
            return _stored(np.load(path, mmap_mode="r"), wavelengths, meta)
        if format == "mat":
            variables = read_mat(path)
            if "cube" not in variables or "bands" not in variables:
                raise ValueError(
                    f"{str(path)!r} needs variables 'cube' (H x W x C) and 'bands' (nm); it "
                    f"holds {sorted(variables)}"
                )
            meta = (
                json.loads(_decode_chars(variables["ssrzoo_meta"]))
                if ("ssrzoo_meta" in variables)
                else {}
            )
            cube = np.ascontiguousarray(np.asarray(variables["cube"]).transpose(2, 0, 1))
            return _stored(cube, np.ravel(variables["bands"]), meta)
        if format == "h5":
            import h5py

            with h5py.File(path, "r") as f:
                meta = json.loads(f.attrs["ssrzoo_meta"]) if "ssrzoo_meta" in f.attrs else {}
                return _stored(np.asarray(f["cube"]), np.asarray(f["wavelengths"]), meta)
        hsi = read_envi(path.with_suffix(".hdr"))
        header = hsi.metadata
        meta = {
            "units": header.get("ssrzoo units", "unknown"),
            "model": header.get("ssrzoo model", ""),
            "fwhm_nm": None if hsi.fwhm is None else hsi.fwhm.tolist(),
            "source": None,
        }
        return _stored(hsi.data, hsi.wavelengths, meta)
    except (KeyError, json.JSONDecodeError) as err:
        raise ValueError(
            f"{str(path)!r} is not a cube file of format {format!r} ({type(err).__name__}: {err}); "
            "was it written by ssrzoo?"
        ) from err
