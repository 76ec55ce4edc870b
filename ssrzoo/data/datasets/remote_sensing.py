"""Real airborne and field cubes beyond 700 nm in the shared data folder: Samson, Houston, Fenix."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np

from ...io.readers import read_envi, read_mat, read_mat_variable, to_chw
from .._base import HyperspectralDataset, Sample, make_sample
from ..transforms import resample_cube, resolve_band_grid
from ._utils import _SHARED_URL, Transforms, _robust_max

__all__ = ["RemoteSensingScenes"]


class RemoteSensingScenes(HyperspectralDataset):
    """Real airborne and field cubes beyond 700 nm, optionally on a model's band grid.

    Scenes (all in the shared data folder):

    * ``'samson'``: Samson, 95x95, 156 bands 401-889 nm (about 3.1 nm), values in [0, 1] as
      distributed (``remote_sensing/samson.mat``, ``Y`` reshaped in Fortran order);
    * ``'houston2018'``: IEEE GRSS DFC2018 Houston crop, 128x128, 48 bands 380-1050 nm; the
      uint16 values are divided by their 99.9th percentile (an exposure normalisation; the
      absolute units are not documented in the copy);
    * ``'fenix_rock'``: Specim Fenix reflectance, 38x23, 450 bands 378-2504 nm (ENVI, uint16 /
      65535), with ``'valid'`` from the header's ``data ignore value``.

    With ``bands`` set, each cube is resampled with :func:`ssrzoo.spectral.resample`
    (``method='gaussian'`` integrates each target band over the source samples) to that grid;
    a target may overhang a scene's range by at most ``edge_tolerance_nm`` (Samson starts at
    401 nm, a 400-700 nm grid starts at 400), beyond that the scene raises.

    Args:
        root: the shared data folder.
        bands: the target grid: a protocol name (``'ntire2020'``), a model name (its
            ``pretrained_cfg.wavelengths``), a :class:`~ssrzoo.spectral.BandGrid`, or band
            centres in nm (see :func:`~ssrzoo.data.resolve_band_grid`); None keeps native
            bands.
        scenes: which scenes, default all three.
        method: ``'gaussian'`` or ``'linear'`` resampling.
        edge_tolerance_nm: allowed overhang of the target grid beyond the source range.
        transforms: applied to each sample dict.

    Sample: ``hsi``, ``wavelengths`` (target or native), ``name``, ``valid`` (Fenix).
    """

    url = _SHARED_URL
    license = "Samson/Houston: GPL-3.0 source repositories, DFC terms; Fenix: MIT"
    layout = """\
root/
├── remote_sensing/samson.mat              ('Y' (156, 9025))
├── remote_sensing/houston2018_crop.mat    ('hyprImg' (128, 128, 48) uint16)
└── fenix_rock/image.hdr + image.dat       (ENVI BSQ uint16, 450 bands)"""
    scene_files: ClassVar[dict[str, str]] = {
        "samson": "remote_sensing/samson.mat",
        "houston2018": "remote_sensing/houston2018_crop.mat",
        "fenix_rock": "fenix_rock/image.hdr",
    }

    def __init__(
        self,
        root: str | Path,
        split: str = "all",
        bands: Any = None,
        scenes: Sequence[str] | None = None,
        method: Literal["gaussian", "linear"] = "gaussian",
        edge_tolerance_nm: float = 5.0,
        transforms: Transforms = None,
    ) -> None:
        names = list(self.scene_files) if scenes is None else list(scenes)
        unknown = sorted(set(names) - set(self.scene_files))
        if unknown:
            raise ValueError(f"unknown scene(s) {unknown}; choose from {list(self.scene_files)}")
        self.scene_names = names
        self.bands = None if bands is None else resolve_band_grid(bands)
        self.method = method
        self.edge_tolerance_nm = edge_tolerance_nm
        super().__init__(root, split, transforms)

    def _verify(self) -> None:
        for name in self.scene_names:
            path = self.root / self.scene_files[name]
            if not path.is_file():
                raise self._not_found(f"no {self.scene_files[name]}")
            self.items.append((name, path))

    @staticmethod
    def read_native(name: str, path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """A scene on its native bands: ``(cube (C, H, W) float32, wavelengths, valid | None)``."""
        if name == "samson":
            y = read_mat_variable(path, "Y")
            side = round(float(np.sqrt(y.shape[1])))
            cube = y.reshape(y.shape[0], side, side, order="F")
            return cube.astype(np.float32), np.linspace(401.0, 889.0, y.shape[0]), None
        if name == "houston2018":
            cube = to_chw(read_mat(path, ["hyprImg"])["hyprImg"], band_axis=2).astype(np.float32)
            cube /= np.float32(_robust_max(cube))
            return cube, np.linspace(380.0, 1050.0, cube.shape[0]), None
        img = read_envi(path)
        return img.data, img.wavelengths, img.valid

    def _load(self, index: int) -> Sample:
        name, path = self.items[index]
        cube, wl, valid = self.read_native(name, path)
        fwhm = None
        if self.bands is not None:
            dst, fwhm = self.bands
            try:
                cube = resample_cube(cube, wl, dst, self.method, fwhm, self.edge_tolerance_nm)
            except ValueError as err:
                raise ValueError(f"scene {name!r}: {err}, or leave it out (scenes=...)") from err
            wl = dst
        return make_sample(cube, wl, name=name, valid=valid, fwhm=fwhm)
