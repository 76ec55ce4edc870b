"""A folder of cubes (.npy, .npz, .mat, .h5) with a wavelength sidecar, as a dataset."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ...io.images import read_rgb
from ...io.readers import ARRAY_SUFFIXES, read_array, read_wavelength_sidecar, to_chw
from .._base import HyperspectralDataset, Sample, make_sample
from ._utils import Transforms, _first_file

__all__ = ["HyperspectralFolder"]


class HyperspectralFolder(HyperspectralDataset):
    """A folder of cubes in ``.npy`` / ``.npz`` / ``.mat`` / ``.h5`` with a wavelength sidecar.

    The sidecar is ``wavelengths.json`` (``{"wavelengths_nm": [...], "fwhm_nm": [...]}``) or
    ``wavelengths.txt`` (one band per line: centre in nm, optional FWHM), see
    :func:`~ssrzoo.io.read_wavelength_sidecar`; or pass ``wavelengths=``. The band axis
    is the one whose length equals the number of wavelengths (pass ``band_axis`` if two match).
    An image ``<stem>_rgb.png`` / ``.jpg`` next to a cube becomes its ``'rgb'``. Values as stored.

    Args:
        root: the folder.
        wavelengths: band centres in nm; None reads the sidecar.
        key: variable name inside container files; None takes the largest 3-D array.
        band_axis: the axis of the stored arrays that holds bands; None detects it.
        transforms: applied to each sample dict.
    """

    url = "your own data"
    layout = """\
root/
├── wavelengths.json     ({"wavelengths_nm": [...], "fwhm_nm": [...]})  or wavelengths.txt
├── scene_a.npy          ((C, H, W) or (H, W, C); also .npz / .mat / .h5 / .hdf5)
├── scene_a_rgb.png      (optional)
└── ..."""

    def __init__(
        self,
        root: str | Path,
        split: str = "all",
        wavelengths: Sequence[float] | None = None,
        key: str | None = None,
        band_axis: int | None = None,
        transforms: Transforms = None,
    ) -> None:
        self.key = key
        self.band_axis = band_axis
        self._wl_arg = wavelengths
        self.wavelengths: np.ndarray | None = None
        self.fwhm: np.ndarray | None = None
        super().__init__(root, split, transforms)

    def _verify(self) -> None:
        if not self.root.is_dir():
            raise self._not_found("no folder")
        if self._wl_arg is not None:
            self.wavelengths = np.asarray(self._wl_arg, dtype=np.float64)
        else:
            names = ("wavelengths.json", "wavelengths.txt", "wavelengths.csv")
            sidecar = _first_file(self.root / n for n in names)
            if sidecar is None:
                raise self._not_found("no wavelengths.json / wavelengths.txt sidecar")
            self.wavelengths, self.fwhm = read_wavelength_sidecar(sidecar)
        files = sorted(
            p for p in self.root.iterdir() if p.suffix.lower() in ARRAY_SUFFIXES and p.is_file()
        )
        if not files:
            raise self._not_found(f"no cube files ({', '.join(ARRAY_SUFFIXES)})")
        self.items = [(p.stem, p) for p in files]

    def _load(self, index: int) -> Sample:
        name, path = self.items[index]
        assert self.wavelengths is not None
        arr = np.asarray(read_array(path, self.key))
        try:
            cube = to_chw(arr, self.wavelengths.size, self.band_axis)
        except ValueError as err:
            raise ValueError(f"{path}: {err}") from err
        rgb_path = _first_file(path.with_name(f"{name}_rgb{x}") for x in (".png", ".jpg", ".jpeg"))
        rgb = read_rgb(rgb_path) if rgb_path is not None else None
        return make_sample(cube, self.wavelengths, name=name, rgb=rgb, fwhm=self.fwhm)
