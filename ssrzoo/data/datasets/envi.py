"""Every ENVI image under a folder, as a dataset."""

from __future__ import annotations

from pathlib import Path

from ...io.readers import read_envi
from .._base import HyperspectralDataset, Sample, make_sample
from ._utils import Transforms

__all__ = ["ENVIDataset"]


class ENVIDataset(HyperspectralDataset):
    """Every ENVI image (``.hdr`` + binary, BSQ/BIL/BIP) under a folder, through SPy.

    Wavelengths and FWHM come from each header (micrometres converted to nm), the
    ``reflectance scale factor`` is applied, and ``data ignore value`` pixels are returned as
    ``valid = False``.

    Args:
        root: a folder (searched recursively for ``*.hdr``) or one ``.hdr`` file.
        transforms: applied to each sample dict.
    """

    url = "your own capture or provider (ENVI header + binary)"
    layout = """\
root/
├── scene_a.hdr   (ENVI header with 'wavelength = {...}')
├── scene_a.dat   (or .img / .raw / no suffix)
└── ..."""

    def __init__(self, root: str | Path, split: str = "all", transforms: Transforms = None) -> None:
        super().__init__(root, split, transforms)

    def _verify(self) -> None:
        if self.root.is_file() and self.root.suffix.lower() == ".hdr":
            headers = [self.root]
        else:
            headers = sorted(self.root.rglob("*.hdr")) if self.root.is_dir() else []
        if not headers:
            raise self._not_found("no ENVI .hdr files")
        self.items = [(h.stem, h) for h in headers]

    def _load(self, index: int) -> Sample:
        name, hdr = self.items[index]
        img = read_envi(hdr)
        return make_sample(img.data, img.wavelengths, name=name, valid=img.valid, fwhm=img.fwhm)
