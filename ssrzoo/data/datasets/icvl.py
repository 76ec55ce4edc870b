"""ICVL natural hyperspectral images and the ssrzoo ICVL protocol (dark level, validity, split)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

import numpy as np

from ...io.readers import read_mat
from .._base import HyperspectralDataset, Sample, make_sample
from ._utils import WL_400_700, Transforms, _empty_split_error, _wavelengths_from_mat

__all__ = [
    "ICVL",
    "ICVL_DARK_COUNTS",
    "ICVL_MIN_SIGNAL_COUNTS",
    "ICVL_PEAK_PERCENTILE",
    "ICVL_WHITE_COUNTS",
    "icvl_normalise",
    "session_split",
]


#: ICVL's sensor is 12-bit: raw counts run 0-4095.
ICVL_WHITE_COUNTS = 4095.0
#: Dark level (counts) of the ICVL camera: the median, over the 161 shared ICVL strips, of the
#: mean of each strip's unexposed border row (186.6-196 counts, flat across bands within 1.3).
ICVL_DARK_COUNTS = 189.6
#: A pixel is valid only if every band is at least this many counts above the dark level
#: (about 5 sigma of the 0.74-count noise measured on the border rows).
ICVL_MIN_SIGNAL_COUNTS = 4.0
#: Percentile of a scene's dark-subtracted values that ``normalize='scene'`` maps to 1.
ICVL_PEAK_PERCENTILE = 99.9


def icvl_normalise(
    raw: np.ndarray,
    dark: float | np.ndarray = ICVL_DARK_COUNTS,
    normalize: Literal["scene", "global", "none"] = "scene",
    subtract_dark: bool = True,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Apply the ssrzoo ICVL protocol to raw counts.

    Steps: pixels whose bands are all exactly 0 are missing (holes in the released files);
    pixels with a band at or above 4094 counts are saturated; ``dark`` (one value or one per
    band, counts) is subtracted and the result clipped at 0; ``valid`` keeps pixels that are
    neither missing nor saturated and whose every band is at least
    :data:`ICVL_MIN_SIGNAL_COUNTS` above the dark level; then the cube is scaled:

    * ``'scene'``: divided by its :data:`ICVL_PEAK_PERCENTILE` th percentile (an exposure
      normalisation like the ARAD ``norm_factor``; the brightest 0.1 % may exceed 1);
    * ``'global'``: divided by ``4095 - dark`` (absolute exposure kept);
    * ``'none'``: counts.

    Args:
        raw: ``(C, H, W)`` raw counts.
        dark: dark level in counts, scalar or ``(C,)``.
        normalize: ``'scene'``, ``'global'`` or ``'none'``.
        subtract_dark: False keeps the pedestal (the cube as released, ``'global'`` then divides
            by 4095); ``valid`` is computed the same way.

    Returns:
        ``(cube (C, H, W) float32, valid (H, W) bool, peak)`` with ``peak`` the scene's
        percentile in dark-subtracted counts (what ``'scene'`` divides by).
    """
    if normalize not in ("scene", "global", "none"):
        raise ValueError(f"unknown normalize {normalize!r}; use 'scene', 'global' or 'none'")
    raw = np.asarray(raw, dtype=np.float32)
    dark_b = np.broadcast_to(
        np.asarray(dark, dtype=np.float32).reshape(-1, 1, 1), (raw.shape[0], 1, 1)
    )
    missing = np.all(raw == 0, axis=0)
    saturated = np.any(raw >= ICVL_WHITE_COUNTS - 1, axis=0)
    signal = np.clip(raw - dark_b, 0.0, None)
    signal[:, missing] = 0.0
    valid = ~missing & ~saturated & np.all(raw - dark_b >= ICVL_MIN_SIGNAL_COUNTS, axis=0)
    present = signal[:, ~missing]
    peak = float(np.percentile(present, ICVL_PEAK_PERCENTILE)) if present.size else 0.0
    cube = signal if subtract_dark else np.where(missing[None], 0.0, raw).astype(np.float32)
    if normalize == "scene":
        cube = cube / np.float32(max(peak, 1.0))
    elif normalize == "global":
        top = ICVL_WHITE_COUNTS - (float(np.mean(dark_b)) if subtract_dark else 0.0)
        cube = cube / np.float32(top)
    return np.ascontiguousarray(cube, dtype=np.float32), valid, peak


def _session(name: str) -> str:
    """The capture session of an ICVL scene: its MMDD date (``'nachal_0823-1040'`` -> ``'0823'``).

    Scenes shot on one day are often the same place minutes apart, so they split together.
    """
    m = re.search(r"(\d{4})-\d{4}", name)
    return m.group(1) if m else name


def session_split(
    names: Sequence[str], val_fraction: float = 0.2, key: Callable[[str], str] = _session
) -> dict[str, str]:
    """Assign each scene to ``'train'`` or ``'val'`` by capture session, deterministically.

    Sessions are visited in the order of the SHA-256 of their key; each is moved to validation
    if that keeps validation within ``val_fraction`` (+25 % slack) of the scenes, until the
    fraction is reached. No session straddles the split, and the assignment depends only on the
    scene names, not on the machine or the file order.

    Returns:
        scene name -> ``'train'`` | ``'val'``.
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    groups: dict[str, list[str]] = {}
    for n in names:
        groups.setdefault(key(n), []).append(n)
    order = sorted(groups, key=lambda g: hashlib.sha256(g.encode()).hexdigest())
    out = dict.fromkeys(names, "train")
    target = val_fraction * len(names)
    count = 0
    for g in order:
        if count >= target:
            break
        if count + len(groups[g]) <= 1.25 * target:
            for n in groups[g]:
                out[n] = "val"
            count += len(groups[g])
    return out


class ICVL(HyperspectralDataset):
    """ICVL natural hyperspectral images: 201 scenes, 31 bands 400-700 nm, raw 12-bit counts.

    Each ``.mat`` (v7.3) holds ``rad`` (raw counts; HDF5 shape ``(31, 1392, 1300)``) and
    ``bands`` (wavelengths). The cube is returned in the HDF5 storage order, ``(31, 1392,
    1300)``, the orientation of the shared ICVL strips.

    Protocol (shared with :class:`~ssrzoo.data.ICVLStrips`, see :func:`icvl_normalise`): subtract
    the dark level (:data:`ICVL_DARK_COUNTS`, a constant here because a full image's border rows
    are not identified), clip at 0, normalise each scene so its 99.9th percentile is 1, and
    return ``'valid'`` (not missing, not saturated, every band >= 4 counts above dark). Report
    metrics on valid pixels. ICVL has no official split; ``'train'`` / ``'val'`` use
    :func:`session_split` (by capture date, 20 % validation).

    Args:
        root: folder of ``<scene>.mat`` files.
        split: ``'train'``, ``'val'`` or ``'all'``.
        normalize: ``'scene'`` (default), ``'global'`` or ``'none'``.
        subtract_dark: False keeps the released pedestal.
        transforms: applied to each sample dict.

    Citation: Arad and Ben-Shahar, "Sparse Recovery of Hyperspectral Signal from Natural RGB
    Images", ECCV 2016.
    """

    url = "https://icvl.cs.bgu.ac.il/hyperspectral/"
    citation = (
        "Arad and Ben-Shahar, Sparse Recovery of Hyperspectral Signal from Natural RGB Images, "
        "ECCV 2016"
    )
    license = "ICVL research terms"
    layout = """\
root/
├── 4cam_0411-1648.mat     (MATLAB v7.3: 'rad' (1392 x 1300 x 31 counts), 'bands')
├── BGU_0403-1419-1.mat
└── ..."""
    splits = ("train", "val", "all")

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        normalize: Literal["scene", "global", "none"] = "scene",
        subtract_dark: bool = True,
        transforms: Transforms = None,
    ) -> None:
        self.normalize = normalize
        self.subtract_dark = subtract_dark
        super().__init__(root, split, transforms)

    def _verify(self) -> None:
        files = sorted(self.root.glob("*.mat")) if self.root.is_dir() else []
        if not files:
            raise self._not_found("no <scene>.mat files")
        assign = session_split([f.stem for f in files])
        self.items = [(f.stem, f) for f in files if self.split in ("all", assign[f.stem])]
        if not self.items:
            raise _empty_split_error(self, assign)

    def _load(self, index: int) -> Sample:
        name, path = self.items[index]
        data = read_mat(path, ["rad", "bands"])
        if "rad" not in data:
            raise ValueError(f"{path} has no variable 'rad'; is it an ICVL .mat file?")
        # read_mat gives MATLAB order (W, H, C) for this file; .T restores HDF5's (C, H, W).
        raw = np.ascontiguousarray(data["rad"].T)
        wl = _wavelengths_from_mat(data, raw.shape[0], WL_400_700)
        cube, valid, _ = icvl_normalise(raw, ICVL_DARK_COUNTS, self.normalize, self.subtract_dark)
        return make_sample(cube, wl, name=name, valid=valid)
