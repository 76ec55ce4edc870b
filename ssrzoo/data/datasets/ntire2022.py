"""NTIRE 2022 Spectral Recovery Challenge, ARAD_1K: 900 train + 50 validation scenes."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from .._base import HyperspectralDataset, Sample
from ._utils import Transforms, _find_dir, _find_file, _first_file, _load_arad

__all__ = ["NTIRE2022"]


class NTIRE2022(HyperspectralDataset):
    """NTIRE 2022 Spectral Recovery Challenge, ARAD_1K: 900 train + 50 validation scenes.

    482x512 cubes of 31 bands, 400-700 nm at 10 nm (``cube`` in MATLAB v7.3 files), with the
    challenge's JPG RGB (NTIRE2022 camera QE, analog gains, noise, JPEG). The split is read from
    ``split_txt/{train,valid}_list.txt`` (one scene id per line, as MST++ distributes them) when
    present, else from the ``Train_Spec`` / ``Valid_Spec`` folders. Cubes are looked up in both
    spectral folders, so the common layout that moves validation cubes into ``Train_Spec`` works.

    Args:
        root: the ``ARAD_1K`` folder (see :attr:`layout`).
        split: ``'train'`` or ``'val'``.
        rgb: load the challenge JPG as ``'rgb'``.
        transforms: applied to each sample dict.

    Citation: Arad et al., "NTIRE 2022 Spectral Recovery Challenge and Data Set", CVPR
    Workshops 2022.
    """

    url = "https://codalab.lisn.upsaclay.fr/competitions/721"
    citation = "Arad et al., NTIRE 2022 Spectral Recovery Challenge and Data Set, CVPRW 2022"
    license = "NTIRE 2022 challenge terms (research use)"
    layout = """\
root/
├── Train_Spec/ARAD_1K_0001.mat ... ARAD_1K_0900.mat   (MATLAB v7.3, 'cube')
├── Train_RGB/ARAD_1K_0001.jpg ...
├── Valid_Spec/ARAD_1K_0901.mat ... ARAD_1K_0950.mat
├── Valid_RGB/ARAD_1K_0901.jpg ...
└── split_txt/train_list.txt, valid_list.txt            (optional; one id per line)"""
    splits = ("train", "val")
    _spec_dirs: ClassVar[dict[str, tuple[str, ...]]] = {
        "train": ("Train_Spec", "Train_Spectral"),
        "val": ("Valid_Spec", "Valid_Spectral"),
    }
    _rgb_dirs: ClassVar[dict[str, tuple[str, ...]]] = {
        "train": ("Train_RGB",),
        "val": ("Valid_RGB",),
    }
    _lists: ClassVar[dict[str, str]] = {"train": "train_list.txt", "val": "valid_list.txt"}

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        rgb: bool = True,
        transforms: Transforms = None,
    ) -> None:
        self.rgb = rgb
        super().__init__(root, split, transforms)

    def _verify(self) -> None:
        spec_dirs = [
            d for s in self.splits for d in [_find_dir(self.root, *self._spec_dirs[s])] if d
        ]
        split_dir = _find_dir(self.root, "split_txt")
        listing = _find_file(split_dir, self._lists[self.split]) if split_dir else None
        if listing is not None:
            lines = listing.read_text().splitlines()
            ids = [Path(line.strip()).stem for line in lines if line.strip()]
        else:
            own = _find_dir(self.root, *self._spec_dirs[self.split])
            ids = sorted(p.stem for p in own.glob("*.mat")) if own else []
        if not ids:
            raise self._not_found(f"no {self._spec_dirs[self.split][0]}/*.mat cubes")
        rgb_dirs = [d for s in self.splits for d in [_find_dir(self.root, *self._rgb_dirs[s])] if d]
        for scene in ids:
            cube = _first_file(d / f"{scene}.mat" for d in spec_dirs)
            if cube is None:
                raise self._not_found(f"cube {scene}.mat (split {self.split!r}) is missing")
            rgb = None
            if self.rgb:
                rgb = _first_file(d / f"{scene}.jpg" for d in rgb_dirs)
                if rgb is None:
                    raise self._not_found(f"RGB image {scene}.jpg is missing (or pass rgb=False)")
            self.items.append((scene, cube, rgb))

    def _load(self, index: int) -> Sample:
        return _load_arad(*self.items[index])
