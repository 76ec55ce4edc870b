"""NTIRE 2020 Spectral Reconstruction Challenge (ARAD): 450 train + 10 validation scenes."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

from .._base import HyperspectralDataset, Sample
from ._utils import Transforms, _find_dir, _load_arad

__all__ = ["NTIRE2020"]


class NTIRE2020(HyperspectralDataset):
    """NTIRE 2020 Spectral Reconstruction Challenge (ARAD): 450 train + 10 validation scenes.

    Each scene is a 482x512 cube of 31 bands, 400-700 nm at 10 nm, normalised by its authors
    (``cube``, stored as MATLAB v7.3 ``(482, 512, 31)``), with the challenge RGB: the *Clean*
    track's 8-bit PNG (CIE 1964 projection, no noise) or the *Real World* track's JPG (unknown
    camera, noise, compression).

    Args:
        root: folder holding the ``NTIRE2020_*`` folders (see :attr:`layout`).
        split: ``'train'`` or ``'val'``.
        track: ``'clean'``, ``'realworld'``, or None for cubes only (simulate RGB yourself).
        transforms: applied to each sample dict.

    Sample: ``hsi (31, 482, 512)``, ``wavelengths``, ``rgb (3, 482, 512)`` unless ``track`` is
    None, ``name`` (``'ARAD_HS_0001'``).

    Citation: Arad et al., "NTIRE 2020 Challenge on Spectral Reconstruction from an RGB Image",
    CVPR Workshops 2020.
    """

    url = (
        "https://competitions.codalab.org/competitions/22225 (Clean) and "
        "https://competitions.codalab.org/competitions/22226 (Real World)"
    )
    citation = (
        "Arad et al., NTIRE 2020 Challenge on Spectral Reconstruction from an RGB Image, CVPRW 2020"
    )
    license = "NTIRE 2020 challenge terms (research use)"
    layout = """\
root/
├── NTIRE2020_Train_Spectral/ARAD_HS_0001.mat ... ARAD_HS_0450.mat   (MATLAB v7.3, 'cube')
├── NTIRE2020_Train_Clean/ARAD_HS_0001_clean.png ...
├── NTIRE2020_Train_RealWorld/ARAD_HS_0001_RealWorld.jpg ...
├── NTIRE2020_Validation_Spectral/ARAD_HS_0451.mat ... ARAD_HS_0460.mat
├── NTIRE2020_Validation_Clean/ARAD_HS_0451_clean.png ...
└── NTIRE2020_Validation_RealWorld/ARAD_HS_0451_RealWorld.jpg ..."""
    splits = ("train", "val")
    _prefix: ClassVar[dict[str, str]] = {"train": "NTIRE2020_Train", "val": "NTIRE2020_Validation"}
    _rgb: ClassVar[dict[str, tuple[str, str]]] = {
        "clean": ("Clean", "_clean.png"),
        "realworld": ("RealWorld", "_RealWorld.jpg"),
    }

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        track: Literal["clean", "realworld"] | None = "clean",
        transforms: Transforms = None,
    ) -> None:
        if track is not None and track not in self._rgb:
            raise ValueError(f"unknown track {track!r}; use 'clean', 'realworld' or None")
        self.track = track
        super().__init__(root, split, transforms)

    def _verify(self) -> None:
        prefix = self._prefix[self.split]
        spec = _find_dir(self.root, f"{prefix}_Spectral")
        cubes = sorted(spec.glob("*.mat")) if spec else []
        if not cubes:
            raise self._not_found(f"no {prefix}_Spectral/*.mat cubes")
        rgb_dir = None
        if self.track is not None:
            folder, _ = self._rgb[self.track]
            rgb_dir = _find_dir(self.root, f"{prefix}_{folder}")
            if rgb_dir is None:
                raise self._not_found(f"no {prefix}_{folder}/ folder of {self.track} RGB images")
        for cube in cubes:
            rgb = None
            if rgb_dir is not None:
                rgb = rgb_dir / f"{cube.stem}{self._rgb[self.track][1]}"  # type: ignore[index]
                if not rgb.is_file():
                    raise self._not_found(f"RGB image {rgb.name} for cube {cube.name} is missing")
            self.items.append((cube.stem, cube, rgb))

    def _load(self, index: int) -> Sample:
        return _load_arad(*self.items[index])
