"""CAVE multispectral image database, with the scene split of protocol cave-256-v1."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ...io.images import read_rgb
from ...io.readers import find_band_pngs, read_band_pngs
from .._base import HyperspectralDataset, Sample, make_sample
from ._utils import Transforms

__all__ = ["CAVE", "CAVE_TRAIN_SCENES", "CAVE_VAL_SCENES"]


# Protocol cave-256-v1 (docs/protocols.md): a fixed split of the CAVE scenes by name. The
# validation scenes are every fifth of the 24 shared scenes in alphabetical order (index 2,
# 7, 12, 17, 22), chosen by that rule before any training; ``test`` is every other scene of
# the full 32-scene database (the 8 the shared folder holds back).
CAVE_VAL_SCENES: tuple[str, ...] = (
    "cd",
    "fake_and_real_beers",
    "fake_and_real_sushi",
    "photo_and_face",
    "stuffed_toys",
)
CAVE_TRAIN_SCENES: tuple[str, ...] = (
    "balloons",
    "beads",
    "chart_and_stuffed_toy",
    "clay",
    "egyptian_statue",
    "face",
    "fake_and_real_food",
    "fake_and_real_lemon_slices",
    "fake_and_real_lemons",
    "fake_and_real_strawberries",
    "fake_and_real_tomatoes",
    "feathers",
    "hairs",
    "paints",
    "pompoms",
    "real_and_fake_peppers",
    "sponges",
    "superballs",
    "watercolors",
)


class CAVE(HyperspectralDataset):
    """CAVE multispectral image database: 32 indoor scenes, 512x512, 31 bands 400-700 nm.

    Each scene is a folder of single-band PNGs ``<scene>_ms_01.png`` ... ``_31.png`` (band k at
    400 + 10 (k - 1) nm), returned as reflectance: 16-bit counts / 65535. Two quirks of the
    official data are read as they are: ``watercolors`` is stored as 8-bit RGBA (grey, equal
    channels), read as one channel / 255, which puts it on the same scale as the 16-bit scenes
    (an 8-bit value v is the 16-bit value 257 v); ``photo_and_face`` is 8-bit data stored as
    16-bit (peak 48,830 = 190 x 257), so it needs nothing. Folders with fewer bands load too,
    with the wavelengths of the bands present. The scene's ``<scene>_RGB.bmp`` (an sRGB
    rendering made by the authors) becomes ``'rgb'`` when present and the same size.

    Splits follow protocol ``cave-256-v1`` (``docs/protocols.md``), which also holds for the
    full 512x512 download: ``val`` is :data:`CAVE_VAL_SCENES` (5 scenes), ``train``
    :data:`CAVE_TRAIN_SCENES` (19), ``test`` every other scene found (the 8 scenes the
    shared folder holds back), ``all`` every scene.

    Args:
        root: the folder the zip unpacks to (see :attr:`layout`; the doubled
            ``<scene>_ms/<scene>_ms/`` nesting of the official zip and a flat
            ``<scene>/`` layout both work).
        split: ``all``, ``train``, ``val`` or ``test``.
        scenes: scene names to keep within the split (``['balloons', ...]``); None keeps all.
        transforms: applied to each sample dict.

    Citation: Yasuma, Mitsunaga, Iso, Nayar, "Generalized Assorted Pixel Camera: Postcapture
    Control of Resolution, Dynamic Range, and Spectrum", IEEE TIP 2010.
    """

    url = "https://www.cs.columbia.edu/CAVE/databases/multispectral/ (complete_ms_data.zip)"
    citation = "Yasuma et al., Generalized Assorted Pixel Camera, IEEE TIP 2010"
    license = "CAVE research terms"
    splits = ("all", "train", "val", "test")
    layout = """\
root/
├── balloons_ms/balloons_ms/balloons_ms_01.png ... balloons_ms_31.png   (16-bit greyscale)
│                          balloons_RGB.bmp                              (optional)
├── beads_ms/beads_ms/beads_ms_01.png ...
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

    def _in_split(self, scene: str) -> bool:
        if self.split == "train":
            return scene in CAVE_TRAIN_SCENES
        if self.split == "val":
            return scene in CAVE_VAL_SCENES
        if self.split == "test":
            return scene not in CAVE_TRAIN_SCENES and scene not in CAVE_VAL_SCENES
        return True

    def _verify(self) -> None:
        firsts = self.root.rglob("*_01.png") if self.root.is_dir() else []
        folders = sorted({p.parent for p in firsts})
        found = []
        for folder in folders:
            prefix, bands = find_band_pngs(folder)
            scene = re.sub(r"_ms$", "", prefix)
            found.append(scene)
            if self._in_split(scene) and (self.scenes is None or scene in self.scenes):
                self.items.append((scene, bands, folder))
        if not found:
            raise self._not_found("no scene folders of <scene>_ms_01.png ... band images")
        if not self.items:
            raise self._not_found(
                f"none of the {len(found)} scenes found ({', '.join(sorted(found)[:6])}, ...) "
                f"is in split {self.split!r}"
                + (f" and in scenes={sorted(self.scenes)}" if self.scenes is not None else "")
            )

    def _load(self, index: int) -> Sample:
        scene, bands, folder = self.items[index]
        order = sorted(bands)
        cube = read_band_pngs([bands[k] for k in order])
        wl = 400.0 + 10.0 * (np.asarray(order, dtype=np.float64) - 1.0)
        bmp = next(iter(folder.glob("*_RGB.bmp")), None)
        rgb = read_rgb(bmp) if bmp is not None else None
        if rgb is not None and rgb.shape[1:] != cube.shape[1:]:
            rgb = None  # a resized copy of the scene; its RGB no longer lines up
        return make_sample(cube, wl, name=scene, rgb=rgb)
