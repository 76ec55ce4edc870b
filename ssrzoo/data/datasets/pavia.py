"""Pavia University (ROSIS): one scene, 103 bands, 9 land-cover classes, disjoint split."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np

from ...io.readers import read_mat_variable
from ...protocols import ROSIS_103
from .._base import HyperspectralDataset, Sample, make_sample
from ._utils import Transforms, _find_file, _hwc_cube

__all__ = ["WL_ROSIS_103", "PaviaUniversity"]


#: Approximate centres of the 103 ROSIS bands kept in PaviaU.mat (430-860 nm, evenly spaced):
#: the band grid of the ``pavia`` protocol.
WL_ROSIS_103 = np.asarray(ROSIS_103)


class PaviaUniversity(HyperspectralDataset):
    """Pavia University (ROSIS): one 610x340 scene, 103 bands 430-860 nm, 9 land-cover classes.

    ``PaviaU.mat`` holds ``paviaU`` ``(610, 340, 103)``; ``PaviaU_gt.mat`` holds ``paviaU_gt``
    (0 = unlabelled, 1-9 the classes). ``split='train'`` / ``'test'`` use the standard disjoint
    sample sets (``paviaU_train_disjoint.mat`` ``TRpavia_fixed``, 3,921 px;
    ``paviaU_test_disjoint.mat`` ``TSpavia_fixed``, 40,002 px) as the ``'mask'`` instead of the
    full ground truth. Wavelengths are approximate (even spacing, :data:`WL_ROSIS_103`). Values
    as stored.

    The disjoint sets are their own label maps: 1,147 of the 3,921 training pixels lie outside
    ``paviaU_gt``'s labelled area (the training polygons were drawn separately), so take the
    labels of a split from its own mask, not from the ground truth.

    Args:
        root: folder holding the files (names matched ignoring case).
        split: ``'all'`` (full ground truth), ``'train'`` or ``'test'``.
        transforms: applied to the sample dict.
        labels_root: folder holding the label file of ``split`` if it is not beside the cube,
            e.g. the ``pavia_university`` folder of the ssrzoo shared data, which has the
            ground truth and the disjoint split but not the cube.

    Sample: ``hsi (103, 610, 340)``, ``wavelengths``, ``mask (610, 340)`` int64, ``name``.

    Citation: Gamba, "A collection of data for urban area characterization", IGARSS 2004; the
    disjoint split: Haut et al.'s HSI-datasets collection.
    """

    url = (
        "https://www.ehu.eus/ccwintco/index.php/Hyperspectral_Remote_Sensing_Scenes "
        "(PaviaU.mat, PaviaU_gt.mat)"
    )
    citation = "Gamba, A collection of data for urban area characterization, IGARSS 2004"
    license = "free for research use, as stated by the providers"
    layout = """\
root/
├── PaviaU.mat                   ('paviaU' (610, 340, 103))
├── PaviaU_gt.mat                ('paviaU_gt' (610, 340))
├── paviaU_train_disjoint.mat    (optional, 'TRpavia_fixed')
└── paviaU_test_disjoint.mat     (optional, 'TSpavia_fixed')"""
    splits = ("all", "train", "test")
    _labels: ClassVar[dict[str, tuple[str, str]]] = {
        "all": ("PaviaU_gt.mat", "paviaU_gt"),
        "train": ("paviaU_train_disjoint.mat", "TRpavia_fixed"),
        "test": ("paviaU_test_disjoint.mat", "TSpavia_fixed"),
    }

    def __init__(
        self,
        root: str | Path,
        split: str = "all",
        transforms: Transforms = None,
        labels_root: str | Path | None = None,
    ) -> None:
        self.labels_root = None if labels_root is None else Path(labels_root).expanduser()
        super().__init__(root, split, transforms)

    def _verify(self) -> None:
        cube = _find_file(self.root, "PaviaU.mat")
        fname, _ = self._labels[self.split]
        labels = _find_file(self.labels_root or self.root, fname)
        if cube is None:
            raise self._not_found("no PaviaU.mat")
        if labels is None:
            where = f" in {str(self.labels_root)!r}" if self.labels_root else ""
            raise self._not_found(f"no {fname}{where} for split {self.split!r}")
        self.items = [("paviaU", cube, labels)]

    def read_mask(self) -> np.ndarray:
        """The split's label map ``(610, 340)`` alone, without reading the cube."""
        return read_mat_variable(self.items[0][2], self._labels[self.split][1])

    def _load(self, index: int) -> Sample:
        name, cube_path, label_path = self.items[index]
        cube = _hwc_cube(cube_path, "paviaU")
        mask = self.read_mask()
        if mask.shape != cube.shape[1:]:
            raise ValueError(
                f"{label_path} is {mask.shape}, the cube {cube_path} is {cube.shape[1:]}"
            )
        return make_sample(cube, WL_ROSIS_103[: cube.shape[0]], name=name, mask=mask)
