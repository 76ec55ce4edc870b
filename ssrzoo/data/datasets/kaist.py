"""KAIST hyperspectral dataset (Choi et al., SIGGRAPH Asia 2017), 31 or 28 bands."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .._base import HyperspectralDataset, Sample, make_sample
from ._utils import WL_420_720, Transforms, _hwc_cube

__all__ = ["KAIST", "WL_CASSI_28"]


#: The 28 band centres (nm) of the KAIST/CAVE 28-band CASSI benchmarks (TSA-Net, MST).
WL_CASSI_28 = np.array(
    [453.5, 457.5, 462.0, 466.0, 471.5, 476.5, 481.0, 487.0, 492.5, 498.0, 504.0, 510.0, 516.0,
     522.5, 529.5, 536.5, 544.0, 551.5, 558.5, 567.5, 575.5, 584.5, 594.5, 604.0, 614.5, 625.0,
     636.5, 648.0]
)  # fmt: skip


class KAIST(HyperspectralDataset):
    """KAIST hyperspectral dataset: 30 scenes, 2704x3376, 31 bands 420-720 nm at 10 nm.

    Reads the ``.mat`` conversion (variable ``HSI``, ``(H, W, C)``). Wavelengths follow the band
    count: 31 bands are 420-720 nm at 10 nm; 28 bands are the CASSI benchmark grid
    (:data:`WL_CASSI_28`, 453.5-648 nm); pass ``wavelengths=`` for anything else. Values as
    stored. No official split.

    Args:
        root: folder of ``scene01.mat`` ... files.
        key: the variable name(s) to try.
        wavelengths: band centres in nm, overriding the defaults above.
        transforms: applied to each sample dict.

    Citation: Choi, Jeon, Kim, Gutierrez, Kim, "High-Quality Hyperspectral Reconstruction Using
    a Spectral Prior", ACM TOG (SIGGRAPH Asia) 2017.
    """

    url = "http://vclab.kaist.ac.kr/siggraphasia2017p1/"
    citation = (
        "Choi et al., High-Quality Hyperspectral Reconstruction Using a Spectral Prior, "
        "SIGGRAPH Asia 2017"
    )
    license = "KAIST dataset terms (research use)"
    layout = """\
root/
├── scene01.mat     ('HSI' (H, W, 31))
├── scene02.mat
└── ..."""

    def __init__(
        self,
        root: str | Path,
        split: str = "all",
        key: str | Sequence[str] = "HSI",
        wavelengths: Sequence[float] | None = None,
        transforms: Transforms = None,
    ) -> None:
        self.key = key
        self.wavelengths = None if wavelengths is None else np.asarray(wavelengths, float)
        super().__init__(root, split, transforms)

    def _verify(self) -> None:
        files = sorted(self.root.glob("*.mat")) if self.root.is_dir() else []
        if not files:
            raise self._not_found("no *.mat scene files")
        self.items = [(f.stem, f) for f in files]

    def _load(self, index: int) -> Sample:
        name, path = self.items[index]
        cube = _hwc_cube(path, self.key)
        n = cube.shape[0]
        if self.wavelengths is not None:
            wl = self.wavelengths
        elif n == 31:
            wl = WL_420_720
        elif n == 28:
            wl = WL_CASSI_28
        else:
            raise ValueError(f"{path} has {n} bands; pass wavelengths= with {n} centres in nm")
        return make_sample(cube, wl, name=name)
