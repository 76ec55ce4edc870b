"""The 161 ICVL strips of the shared data folder, under the ssrzoo ICVL protocol."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np

from .._base import HyperspectralDataset, Sample, make_sample
from ._utils import _SHARED_URL, WL_400_700, Transforms, _empty_split_error, _subfolder
from .icvl import icvl_normalise, session_split

__all__ = ["ICVLStrips"]


class ICVLStrips(HyperspectralDataset):
    """The 161 ICVL strips of the shared data folder, under the ssrzoo ICVL protocol.

    Each ``icvl_strips/<scene>.npz`` holds ``rad`` ``(rows, W, 31)`` float16 raw counts
    (0-4095) of a full-width strip of 9-19 rows of an ICVL image (Arad & Ben-Shahar, ECCV
    2016), 400-700 nm at 10 nm.

    Protocol ("icvl-strips-v1"), decided from measurements on all 161 strips:

    1. **Border rows.** Row 0 of every strip is an unexposed border row (mean 186.6-196 counts,
       flat across bands within 1.3 counts, noise std 0.74 counts); row 1 is dark too in 148
       strips and a half-lit transition row in the other 13. Both rows are dropped.
    2. **Dark floor.** The per-band mean of row 0 is the scene's dark level; it is subtracted
       (per band) and the result clipped at 0. (The raw minima, about 185 counts, sit ~4 counts
       below the dark mean because they are noise minima; subtracting them would leave a
       pedestal.)
    3. **Missing and saturated pixels.** Pixels whose 31 bands are exactly 0 are holes of the
       truncated upstream files (4 strips); pixels with a band >= 4094 counts are saturated.
    4. **Validity.** ``'valid'`` is False for missing or saturated pixels and where any band is
       less than 4 counts (about 5 sigma) above the dark level: 99.3 % of pixels stay valid.
       Compute MRAE and other relative metrics on valid pixels only.
    5. **Normalisation** (``normalize='scene'``, default): each scene is divided by the 99.9th
       percentile of its dark-subtracted values, an exposure normalisation like the ARAD
       ``norm_factor`` (the top 0.1 % may exceed 1). ``'global'`` divides by ``4095 - dark``
       instead (absolute exposure kept); ``'none'`` leaves counts.
    6. **Excluded scenes.** Strips whose brightest value is less than 64 counts above the dark
       level are dark frames (the three ``Master*`` scenes, about 26 counts); they are left out
       unless ``include_dark_scenes=True``.
    7. **Split.** ``'val'`` holds whole capture sessions (scenes sharing an MMDD date, often the
       same place minutes apart), about 20 % of the scenes, chosen by
       :func:`~ssrzoo.data.session_split`; ``'train'`` the rest.

    ``subtract_dark=False`` keeps the released pedestal (still dropping border rows), which
    compresses differences between methods under MRAE; declare the protocol in model cards.

    Args:
        root: the shared data folder or its ``icvl_strips`` sub-folder.
        split: ``'train'``, ``'val'`` or ``'all'``.
        normalize: ``'scene'``, ``'global'`` or ``'none'`` (see above).
        subtract_dark: subtract the per-scene dark level (step 2).
        include_dark_scenes: keep the dark frames of step 6.
        val_fraction: fraction of scenes in ``'val'``.
        cache: keep processed strips in memory after their first load (about 1.5 MB each;
            samples are copies, so callers may modify them). For patch training prefer
            ``RandomPatches(..., cache_size=len(dataset))``, which crops without the copy.
        transforms: applied to each sample dict.

    Sample: ``hsi (31, rows - 2, W)``, ``wavelengths``, ``valid (rows - 2, W)``, ``name``,
    ``dark_counts (31,)``, ``peak_counts`` (the scene's 99.9th percentile, counts).
    """

    url = _SHARED_URL + "; full images: https://icvl.cs.bgu.ac.il/hyperspectral/"
    citation = "Arad and Ben-Shahar, Sparse Recovery of Hyperspectral Signal from Natural RGB Images, ECCV 2016"  # noqa: E501
    license = "ICVL research terms"
    layout = """\
root/                         (the shared data folder, or icvl_strips/ itself)
└── icvl_strips/
    ├── index.json
    ├── 4cam_0411-1648.npz    ('rad' (rows, W, 31) float16 counts, 'wavelengths_nm')
    └── ..."""
    splits = ("train", "val", "all")
    #: Rows dropped from the top of every strip (unexposed border + transition row).
    border_rows: ClassVar[int] = 2
    #: Strips whose brightest value is less than this many counts above dark are dark frames.
    min_peak_counts: ClassVar[float] = 64.0

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        normalize: Literal["scene", "global", "none"] = "scene",
        subtract_dark: bool = True,
        include_dark_scenes: bool = False,
        val_fraction: float = 0.2,
        cache: bool = False,
        transforms: Transforms = None,
    ) -> None:
        if normalize not in ("scene", "global", "none"):
            raise ValueError(f"unknown normalize {normalize!r}; use 'scene', 'global' or 'none'")
        self.normalize = normalize
        self.subtract_dark = subtract_dark
        self.include_dark_scenes = include_dark_scenes
        self.val_fraction = val_fraction
        self.cache = cache
        self._cache: dict[int, Sample] = {}
        super().__init__(root, split, transforms)
        self.wavelengths = WL_400_700.copy()

    def _verify(self) -> None:
        folder = _subfolder(self.root, "icvl_strips")
        files = sorted(folder.glob("*.npz")) if folder.is_dir() else []
        if not files:
            raise self._not_found("no icvl_strips/<scene>.npz files")
        self.folder = folder
        names = [f.stem for f in files]
        assign = session_split(names, self.val_fraction)
        dark_frames = set() if self.include_dark_scenes else self._dark_frames(folder, files)
        self.items = [
            (f.stem, f)
            for f in files
            if f.stem not in dark_frames and self.split in ("all", assign[f.stem])
        ]
        if not self.items:
            raise _empty_split_error(self, assign, dark_frames)

    def _dark_frames(self, folder: Path, files: Sequence[Path]) -> set[str]:
        """Scenes whose maximum is within ``min_peak_counts`` of the dark level."""
        index = folder / "index.json"
        if index.is_file():
            maxima = {e["scene"]: float(e["max"]) for e in json.loads(index.read_text())}
        else:
            maxima = {f.stem: float(np.load(f)["rad"].max()) for f in files}
        # The dark level varies by a few counts between scenes; its largest value is used
        # so a scene is only called dark when no dark level could make it bright.
        return {n for n, m in maxima.items() if m - 196.0 < self.min_peak_counts}

    def _process(self, index: int) -> Sample:
        name, path = self.items[index]
        try:
            with np.load(path, allow_pickle=False) as z:
                rad = z["rad"]
        except Exception as err:
            raise ValueError(
                f"cannot read ICVL strip {path} ({type(err).__name__}: {err}); the file is "
                f"corrupt or truncated: restore it from the shared data folder"
            ) from err
        raw = np.ascontiguousarray(np.moveaxis(rad, -1, 0), dtype=np.float32)
        border = raw[:, 0, :]
        present = ~np.all(border == 0, axis=0)
        dark = border[:, present].mean(axis=1)
        body = raw[:, self.border_rows :, :]
        cube, valid, peak = icvl_normalise(body, dark, self.normalize, self.subtract_dark)
        return make_sample(
            cube,
            self.wavelengths,
            name=name,
            valid=valid,
            dark_counts=dark.astype(np.float32),
            peak_counts=peak,
        )

    def _load(self, index: int) -> Sample:
        sample = self._cache.get(index) if self.cache else None
        if sample is None:
            sample = self._process(index)
            if self.cache:
                self._cache[index] = sample
        # Callers may modify samples in place; the cached tensors must survive that.
        return {k: v.clone() if hasattr(v, "clone") else v for k, v in sample.items()}
