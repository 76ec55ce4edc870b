"""The CAVE crops of the shared data folder."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ...io.readers import read_mat_variable, to_chw
from .._base import HyperspectralDataset, Sample, make_sample
from ._utils import _SHARED_URL, WL_400_700, Transforms, _subfolder

__all__ = ["CAVECrops"]


class CAVECrops(HyperspectralDataset):
    """The CAVE crops of the shared data folder (``cave/*.mat``, variable ``Omsi``).

    ``feathers_150``, ``chart_and_stuffed_toy_150`` (150x150), ``balloons_100`` (100x100): values
    as stored (CAVE 16-bit counts / 65535, about [0, 0.8]); ``balloons_whole_101``: the whole
    scene resized to 101x101 and divided by its maximum. 31 bands, 400-700 nm at 10 nm.

    Args:
        root: the shared data folder or its ``cave`` sub-folder.
        scenes: file stems to keep; None keeps all.
        transforms: applied to each sample dict.

    Citation: Yasuma et al., IEEE TIP 2010 (CAVE).
    """

    url = _SHARED_URL + "; full dataset: https://www.cs.columbia.edu/CAVE/databases/multispectral/"
    citation = "Yasuma et al., Generalized Assorted Pixel Camera, IEEE TIP 2010"
    license = "CAVE research terms"
    layout = """\
root/
└── cave/
    ├── feathers_150.mat   ('Omsi' (H, W, 31))
    └── ..."""

    def __init__(
        self,
        root: str | Path,
        split: str = "all",
        scenes: Sequence[str] | None = None,
        transforms: Transforms = None,
    ) -> None:
        self.scenes = None if scenes is None else set(scenes)
        super().__init__(root, split, transforms)

    def _verify(self) -> None:
        folder = _subfolder(self.root, "cave")
        files = sorted(folder.glob("*.mat")) if folder.is_dir() else []
        self.items = [(f.stem, f) for f in files if self.scenes is None or f.stem in self.scenes]
        if not self.items:
            raise self._not_found("no cave/*.mat crops")

    def _load(self, index: int) -> Sample:
        name, path = self.items[index]
        cube = to_chw(read_mat_variable(path, "Omsi"), band_axis=2)
        return make_sample(cube, WL_400_700, name=name)
