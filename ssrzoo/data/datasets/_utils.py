"""Helpers shared by the dataset classes: finding files, MATLAB cubes, the shared data folder."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from ...exceptions import DatasetNotFoundError
from ...io.images import read_rgb
from ...io.readers import read_mat, read_mat_variable, to_chw
from .._base import HyperspectralDataset, Sample, make_sample

WL_400_700 = np.arange(400.0, 701.0, 10.0)
WL_420_720 = np.arange(420.0, 721.0, 10.0)

Transforms = Callable[[Sample], Sample] | None


def _find_dir(root: Path, *names: str) -> Path | None:
    """The first child of ``root`` whose name matches one of ``names``, ignoring case."""
    if not root.is_dir():
        return None
    wanted = [n.lower() for n in names]
    children = {p.name.lower(): p for p in root.iterdir() if p.is_dir()}
    for n in wanted:
        if n in children:
            return children[n]
    return None


def _find_file(folder: Path, name: str) -> Path | None:
    """``folder/name`` ignoring case (``PaviaU_gt.mat`` and ``paviaU_gt.mat`` both ship)."""
    if not folder.is_dir():
        return None
    for p in folder.iterdir():
        if p.name.lower() == name.lower() and p.is_file():
            return p
    return None


def _first_file(paths: Iterable[Path]) -> Path | None:
    """The first of ``paths`` that is an existing file."""
    return next((p for p in paths if p.is_file()), None)


def _wavelengths_from_mat(data: dict[str, np.ndarray], n: int, default: np.ndarray) -> np.ndarray:
    bands = data.get("bands")
    if bands is not None and np.asarray(bands).size == n:
        return np.asarray(bands, dtype=np.float64).reshape(-1)
    return default


def _hwc_cube(path: Path, key: str | Sequence[str]) -> np.ndarray:
    """A MATLAB ``(H, W, C)`` variable as ``(C, H, W)`` float32."""
    arr = read_mat_variable(path, key)
    if arr.ndim != 3:
        raise ValueError(f"{path}: variable {key!r} has shape {arr.shape}; expected (H, W, bands)")
    return np.ascontiguousarray(to_chw(arr, band_axis=2), dtype=np.float32)


def _load_arad(name: str, cube_path: Path, rgb_path: Path | None) -> Sample:
    """An ARAD scene: MATLAB ``cube`` (H, W, 31) plus ``bands`` when present, and its RGB."""
    data = read_mat(cube_path, ["cube", "bands"])
    if "cube" not in data:
        raise ValueError(f"{cube_path} has no variable 'cube'; is it an NTIRE/ARAD cube file?")
    cube = np.ascontiguousarray(to_chw(data["cube"], band_axis=2), dtype=np.float32)
    wl = _wavelengths_from_mat(data, cube.shape[0], WL_400_700)
    rgb = read_rgb(rgb_path) if rgb_path is not None else None
    return make_sample(cube, wl, name=name, rgb=rgb)


def _empty_split_error(
    ds: HyperspectralDataset, assign: Mapping[str, str], left_out: Collection[str] = ()
) -> DatasetNotFoundError:
    """The error of a :func:`session_split` dataset whose split holds none of the scenes."""
    names = sorted(assign)
    counts = {s: sum(assign[n] == s for n in names if n not in left_out) for s in ("train", "val")}
    shown = ", ".join(names[:6]) + (", ..." if len(names) > 6 else "")
    text = (
        f"{type(ds).__name__}: none of the {len(names)} scenes under root='{ds.root}' "
        f"({shown}) is in split {ds.split!r}; the session split puts {counts['train']} in "
        f"'train' and {counts['val']} in 'val'"
    )
    dark = sum(n in left_out for n in names)
    if dark:
        text += f", besides {dark} dark frame(s) left out (include_dark_scenes=True keeps them)"
    return DatasetNotFoundError(
        text + ". 'val' takes whole capture sessions (about 20 % of the scenes by default), "
        "so a few scenes can leave a split empty: use split 'all', or add scenes"
    )


_SHARED_URL = (
    "the ssrzoo shared data folder (../shared/data beside a checkout; see its MANIFEST.md for "
    "the upstream sources)"
)


def _subfolder(root: Path, name: str) -> Path:
    """``root/name`` when ``root`` is the shared data folder, else ``root`` itself."""
    return root / name if (root / name).is_dir() else root


def _robust_max(cube: np.ndarray) -> float:
    return float(np.percentile(cube, 99.9))
