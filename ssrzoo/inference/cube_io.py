"""Writing and reading reconstructed cubes, always with their wavelengths.

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

from .. import __version__
from .._atomic import atomic_files
from ..models import PretrainedCfg
from .spectral_image import SpectralImage

__all__ = ["FORMATS", "atomic_files", "format_from_path", "load_cube", "output_paths", "save_cube"]

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


def format_from_path(path: str | os.PathLike) -> str:
    """The format a file's suffix implies, e.g. ``'envi'`` for ``x.hdr``."""
    suffix = Path(path).suffix.lower()
    if suffix not in _SUFFIX_TO_FORMAT:
        raise ValueError(
            f"cannot tell the cube format of {str(path)!r} from its suffix {suffix!r}; "
            f"use one of {sorted(_SUFFIX_TO_FORMAT)} or pass format= ({', '.join(FORMATS)})"
        )
    return _SUFFIX_TO_FORMAT[suffix]


def output_paths(path: str | os.PathLike, format: str) -> list[Path]:
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


def _meta(image: SpectralImage) -> dict[str, Any]:
    cfg = image.pretrained_cfg
    return {
        "wavelengths_nm": image.wavelengths.tolist(),
        "fwhm_nm": None if image.fwhm is None else image.fwhm.tolist(),
        "units": image.units,
        "model": image.model,
        "source": image.source,
        "shape_chw": list(image.shape),
        "created_by": f"ssrzoo {__version__}",
        "metadata": image.metadata,
        "pretrained_cfg": None if cfg is None else cfg.to_dict(),
    }


def save_cube(
    image: SpectralImage,
    path: str | os.PathLike,
    format: str | None = None,
    *,
    mat_version: str | None = None,
    compress: bool = False,
) -> list[Path]:
    """Write ``image`` with its wavelengths (nm) and metadata.

    Args:
        image: the cube to write.
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
    meta = _meta(image)
    if format == "mat":
        version = mat_version or ("7.3" if image.cube.nbytes > MAT_V5_LIMIT else "5")
        if version not in ("5", "7.3"):
            raise ValueError(f"mat_version {mat_version!r} is not supported; use '5' or '7.3'")
        if version == "5" and image.cube.nbytes > MAT_V5_LIMIT:
            raise ValueError(
                f"a {image.cube.nbytes / 2**30:.1f} GiB cube does not fit a v5 .mat "
                "(2 GiB per variable); use mat_version='7.3'"
            )
        format = "mat73" if version == "7.3" else "mat"
    with atomic_files(*targets) as temps:
        _WRITERS[format](image, temps, meta, compress)
    return targets


def _write_npz(
    image: SpectralImage, paths: list[Path], meta: dict[str, Any], compress: bool
) -> None:
    save = np.savez_compressed if compress else np.savez
    with open(paths[0], "wb") as f:  # a file object: np.savez would append '.npz' to a name
        save(
            f,
            cube=np.asarray(image.cube, dtype=np.float32),
            wavelengths=image.wavelengths,
            meta=np.array(_to_json(meta)),
        )


def _write_npy(
    image: SpectralImage, paths: list[Path], meta: dict[str, Any], compress: bool
) -> None:
    with open(paths[0], "wb") as f:
        np.save(f, np.ascontiguousarray(image.cube, dtype=np.float32))
    paths[1].write_text(_to_json(meta, indent=1))


def _write_mat5(
    image: SpectralImage, paths: list[Path], meta: dict[str, Any], compress: bool
) -> None:
    from scipy.io import savemat

    variables: dict[str, Any] = {
        "cube": np.asarray(image.cube).transpose(1, 2, 0),  # MATLAB's H x W x C
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
    image: SpectralImage, paths: list[Path], meta: dict[str, Any], compress: bool
) -> None:
    import h5py

    path = paths[0]
    cube = image.cube
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
    image: SpectralImage, paths: list[Path], meta: dict[str, Any], compress: bool
) -> None:
    import h5py

    channels, height, width = image.cube.shape
    opts: dict[str, Any] = {"compression": "gzip", "shuffle": True} if compress else {}
    with h5py.File(paths[0], "w") as f:
        cube = f.create_dataset(
            "cube",
            shape=image.cube.shape,
            dtype=np.float32,
            chunks=(1, min(height, 256), min(width, 256)),
            **opts,
        )
        for band in range(channels):
            cube[band] = image.cube[band]
        wl = f.create_dataset("wavelengths", data=image.wavelengths)
        wl.attrs["units"] = "nm"
        wl.make_scale("wavelength")
        cube.dims[0].attach_scale(wl)
        for axis, label in enumerate(("wavelength", "y", "x")):
            cube.dims[axis].label = label
        if image.fwhm is not None:
            f.create_dataset("fwhm", data=image.fwhm).attrs["units"] = "nm"
        cube.attrs["units"] = image.units
        f.attrs["model"] = image.model
        f.attrs["ssrzoo_meta"] = _to_json(meta)


def _write_envi(
    image: SpectralImage, paths: list[Path], meta: dict[str, Any], compress: bool
) -> None:
    from spectral.io.envi import write_envi_header

    hdr, data = paths
    channels, height, width = image.cube.shape
    source = f" from {Path(image.source).name}" if image.source else ""
    header: dict[str, Any] = {
        "description": f"ssrzoo {__version__} reconstruction by {image.model or 'a model'}"
        f"{source}; values: {image.units}",
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
        "ssrzoo units": image.units,
        "ssrzoo model": image.model or "unknown",
    }
    if image.fwhm is not None:
        header["fwhm"] = [f"{w:g}" for w in image.fwhm]
    with open(data, "wb") as f:
        for band in range(channels):
            np.ascontiguousarray(image.cube[band], dtype="<f4").tofile(f)
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


def _from_meta(cube: np.ndarray, wavelengths: Any, meta: dict[str, Any]) -> SpectralImage:
    cfg_dict = meta.get("pretrained_cfg")
    fwhm = meta.get("fwhm_nm")
    return SpectralImage(
        cube=cube,
        wavelengths=np.asarray(wavelengths, dtype=np.float64),
        units=meta.get("units") or "unknown",
        model=meta.get("model") or "",
        pretrained_cfg=PretrainedCfg.from_dict(cfg_dict) if cfg_dict else None,
        source=meta.get("source"),
        fwhm=None if fwhm is None else np.asarray(fwhm, dtype=np.float64),
        metadata=dict(meta.get("metadata") or {}),
    )


def load_cube(path: str | os.PathLike, format: str | None = None) -> SpectralImage:
    """Read a cube written by :func:`save_cube` (or any file of these formats with wavelengths).

    ``.npy`` files are memory-mapped read-only; the other formats are read into memory.
    A ``.mat`` needs a ``cube`` variable (``H x W x C``) and ``bands`` (nm), as NTIRE's
    files have; an ENVI header needs ``wavelength``.

    Raises:
        FileNotFoundError: the file (or its sidecar/data file) is missing.
        ValueError: the file is corrupt or holds no wavelengths.
    """
    from ..data.readers import _check_numpy_file, read_envi, read_mat, read_wavelength_sidecar

    path = Path(path)
    format = format or format_from_path(path)
    if not path.is_file() and format != "envi":
        raise FileNotFoundError(f"cube file {str(path)!r} does not exist; check the path")
    try:
        if format == "npz":
            _check_numpy_file(path, "npz")
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"])) if "meta" in z.files else {}
                return _from_meta(z["cube"], z["wavelengths"], meta)
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
            return _from_meta(np.load(path, mmap_mode="r"), wavelengths, meta)
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
            return _from_meta(cube, np.ravel(variables["bands"]), meta)
        if format == "h5":
            import h5py

            with h5py.File(path, "r") as f:
                meta = json.loads(f.attrs["ssrzoo_meta"]) if "ssrzoo_meta" in f.attrs else {}
                return _from_meta(np.asarray(f["cube"]), np.asarray(f["wavelengths"]), meta)
        hsi = read_envi(path.with_suffix(".hdr"))
        header = hsi.metadata
        meta = {
            "units": header.get("ssrzoo units", "unknown"),
            "model": header.get("ssrzoo model", ""),
            "fwhm_nm": None if hsi.fwhm is None else hsi.fwhm.tolist(),
            "source": None,
        }
        return _from_meta(hsi.data, hsi.wavelengths, meta)
    except (KeyError, json.JSONDecodeError) as err:
        raise ValueError(
            f"{str(path)!r} is not a cube file of format {format!r} ({type(err).__name__}: {err}); "
            "was it written by ssrzoo?"
        ) from err
