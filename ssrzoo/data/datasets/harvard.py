"""Harvard real-world hyperspectral images (Chakrabarti and Zickler, CVPR 2011)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...io.readers import read_mat, to_chw
from .._base import HyperspectralDataset, Sample, make_sample
from ._utils import WL_420_720, Transforms, _find_dir

__all__ = ["Harvard"]


class Harvard(HyperspectralDataset):
    """Harvard real-world hyperspectral images: 77 scenes, 1040x1392, 31 bands 420-720 nm.

    Each ``.mat`` (v5) holds ``ref`` ``(1040, 1392, 31)`` and ``lbl`` ``(1040, 1392)``, the
    authors' mask of usable pixels (regions with scene motion during the scan are zero); it is
    returned as ``'valid'`` (``lbl != 0``). Values are returned as stored. No official split.

    Args:
        root: folder holding ``CZ_hsdb/`` (outdoor/indoor daylight) and/or ``CZ_hsdbi/``
            (indoor artificial light).
        transforms: applied to each sample dict.

    Citation: Chakrabarti and Zickler, "Statistics of Real-World Hyperspectral Images", CVPR 2011.
    """

    url = "http://vision.seas.harvard.edu/hyperspec/ (CZ_hsdb.zip, CZ_hsdbi.zip)"
    citation = "Chakrabarti and Zickler, Statistics of Real-World Hyperspectral Images, CVPR 2011"
    license = "Harvard hyperspectral database terms (research use)"
    layout = """\
root/
├── CZ_hsdb/img1.mat ... imgh3.mat    ('ref' (1040, 1392, 31), 'lbl' (1040, 1392))
└── CZ_hsdbi/imga5.mat ...            (optional)"""

    def __init__(self, root: str | Path, split: str = "all", transforms: Transforms = None) -> None:
        super().__init__(root, split, transforms)

    def _verify(self) -> None:
        folders = [d for n in ("CZ_hsdb", "CZ_hsdbi") for d in [_find_dir(self.root, n)] if d]
        files = sorted(f for d in folders for f in d.glob("*.mat"))
        if not files and self.root.is_dir():
            files = sorted(self.root.glob("*.mat"))
        if not files:
            raise self._not_found("no CZ_hsdb/*.mat or CZ_hsdbi/*.mat files")
        self.items = [(f.stem, f) for f in files]

    def _load(self, index: int) -> Sample:
        name, path = self.items[index]
        data = read_mat(path, ["ref", "lbl"])
        if "ref" not in data:
            raise ValueError(f"{path} has no variable 'ref'; is it a Harvard (CZ_hsdb) file?")
        cube = np.ascontiguousarray(to_chw(data["ref"], band_axis=2), dtype=np.float32)
        valid = np.asarray(data["lbl"]) != 0 if "lbl" in data else None
        return make_sample(cube, WL_420_720, name=name, valid=valid)
