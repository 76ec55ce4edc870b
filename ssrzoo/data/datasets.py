"""The standard spectral-reconstruction benchmarks and generic formats, as torchgeo-style datasets.

Each class reads the layout its users download. Point ``root`` at the folder you unpacked; when
something is missing the :class:`~ssrzoo.exceptions.DatasetNotFoundError` says what, where to
download it and the tree to lay out. Samples are dicts (see :mod:`ssrzoo.data._base`):
``{'hsi': (C, H, W), 'wavelengths': (C,), 'rgb': (3, H, W) when shipped, 'name': str, ...}``.

Values are returned as the dataset stores them unless a class says otherwise (NTIRE cubes are
already normalised by their authors; ICVL applies the protocol documented on :class:`ICVL`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np

from ..exceptions import DatasetNotFoundError
from ._base import HyperspectralDataset, Sample, make_sample
from .readers import (
    ARRAY_SUFFIXES,
    find_band_pngs,
    read_array,
    read_band_pngs,
    read_envi,
    read_mat,
    read_mat_variable,
    read_rgb,
    read_wavelength_sidecar,
    to_chw,
)

__all__ = [
    "CAVE",
    "CAVE_TRAIN_SCENES",
    "CAVE_VAL_SCENES",
    "ICVL",
    "ICVL_DARK_COUNTS",
    "KAIST",
    "NTIRE2020",
    "NTIRE2022",
    "ENVIDataset",
    "Harvard",
    "HyperspectralFolder",
    "PaviaUniversity",
    "icvl_normalise",
    "session_split",
]

WL_400_700 = np.arange(400.0, 701.0, 10.0)
WL_420_720 = np.arange(420.0, 721.0, 10.0)

Transforms = Callable[[Sample], Sample] | None


def _find_dir(root: Path, *names: str) -> Path | None:
    """The first child of ``root`` whose name matches one of ``names``, ignoring case."""
    if not root.is_dir():
        return None
    wanted = [n.lower() for n in names]
    children = {p.name.lower(): p for p in root.iterdir() if p.is_dir()}
    for n in wanted:
        if n in children:
            return children[n]
    return None


def _find_file(folder: Path, name: str) -> Path | None:
    """``folder/name`` ignoring case (``PaviaU_gt.mat`` and ``paviaU_gt.mat`` both ship)."""
    if not folder.is_dir():
        return None
    for p in folder.iterdir():
        if p.name.lower() == name.lower() and p.is_file():
            return p
    return None


def _first_file(paths: Iterable[Path]) -> Path | None:
    """The first of ``paths`` that is an existing file."""
    return next((p for p in paths if p.is_file()), None)


def _wavelengths_from_mat(data: dict[str, np.ndarray], n: int, default: np.ndarray) -> np.ndarray:
    bands = data.get("bands")
    if bands is not None and np.asarray(bands).size == n:
        return np.asarray(bands, dtype=np.float64).reshape(-1)
    return default


def _hwc_cube(path: Path, key: str | Sequence[str]) -> np.ndarray:
    """A MATLAB ``(H, W, C)`` variable as ``(C, H, W)`` float32."""
    arr = read_mat_variable(path, key)
    if arr.ndim != 3:
        raise ValueError(f"{path}: variable {key!r} has shape {arr.shape}; expected (H, W, bands)")
    return np.ascontiguousarray(to_chw(arr, band_axis=2), dtype=np.float32)


# --------------------------------------------------------------------------------------------
# NTIRE / ARAD
# --------------------------------------------------------------------------------------------


def _load_arad(name: str, cube_path: Path, rgb_path: Path | None) -> Sample:
    """An ARAD scene: MATLAB ``cube`` (H, W, 31) plus ``bands`` when present, and its RGB."""
    data = read_mat(cube_path, ["cube", "bands"])
    if "cube" not in data:
        raise ValueError(f"{cube_path} has no variable 'cube'; is it an NTIRE/ARAD cube file?")
    cube = np.ascontiguousarray(to_chw(data["cube"], band_axis=2), dtype=np.float32)
    wl = _wavelengths_from_mat(data, cube.shape[0], WL_400_700)
    rgb = read_rgb(rgb_path) if rgb_path is not None else None
    return make_sample(cube, wl, name=name, rgb=rgb)


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


# --------------------------------------------------------------------------------------------
# CAVE, Harvard, KAIST
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# ICVL
# --------------------------------------------------------------------------------------------

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


def _empty_split_error(
    ds: HyperspectralDataset, assign: Mapping[str, str], left_out: Collection[str] = ()
) -> DatasetNotFoundError:
    """The error of a :func:`session_split` dataset whose split holds none of the scenes."""
    names = sorted(assign)
    counts = {s: sum(assign[n] == s for n in names if n not in left_out) for s in ("train", "val")}
    shown = ", ".join(names[:6]) + (", ..." if len(names) > 6 else "")
    text = (
        f"{type(ds).__name__}: none of the {len(names)} scenes under root='{ds.root}' "
        f"({shown}) is in split {ds.split!r}; the session split puts {counts['train']} in "
        f"'train' and {counts['val']} in 'val'"
    )
    dark = sum(n in left_out for n in names)
    if dark:
        text += f", besides {dark} dark frame(s) left out (include_dark_scenes=True keeps them)"
    return DatasetNotFoundError(
        text + ". 'val' takes whole capture sessions (about 20 % of the scenes by default), "
        "so a few scenes can leave a split empty: use split 'all', or add scenes"
    )


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


# --------------------------------------------------------------------------------------------
# Pavia University
# --------------------------------------------------------------------------------------------

#: Approximate centres of the 103 ROSIS bands kept in PaviaU.mat (430-860 nm, evenly spaced).
WL_ROSIS_103 = np.linspace(430.0, 860.0, 103)


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


# --------------------------------------------------------------------------------------------
# Generic formats
# --------------------------------------------------------------------------------------------


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


class HyperspectralFolder(HyperspectralDataset):
    """A folder of cubes in ``.npy`` / ``.npz`` / ``.mat`` / ``.h5`` with a wavelength sidecar.

    The sidecar is ``wavelengths.json`` (``{"wavelengths_nm": [...], "fwhm_nm": [...]}``) or
    ``wavelengths.txt`` (one band per line: centre in nm, optional FWHM), see
    :func:`~ssrzoo.data.readers.read_wavelength_sidecar`; or pass ``wavelengths=``. The band axis
    is the one whose length equals the number of wavelengths (pass ``band_axis`` if two match).
    An image ``<stem>_rgb.png`` / ``.jpg`` next to a cube becomes its ``'rgb'``. Values as stored.

    Args:
        root: the folder.
        wavelengths: band centres in nm; None reads the sidecar.
        key: variable name inside container files; None takes the largest 3-D array.
        band_axis: the axis of the stored arrays that holds bands; None detects it.
        transforms: applied to each sample dict.
    """

    url = "your own data"
    layout = """\
root/
├── wavelengths.json     ({"wavelengths_nm": [...], "fwhm_nm": [...]})  or wavelengths.txt
├── scene_a.npy          ((C, H, W) or (H, W, C); also .npz / .mat / .h5 / .hdf5)
├── scene_a_rgb.png      (optional)
└── ..."""

    def __init__(
        self,
        root: str | Path,
        split: str = "all",
        wavelengths: Sequence[float] | None = None,
        key: str | None = None,
        band_axis: int | None = None,
        transforms: Transforms = None,
    ) -> None:
        self.key = key
        self.band_axis = band_axis
        self._wl_arg = wavelengths
        self.wavelengths: np.ndarray | None = None
        self.fwhm: np.ndarray | None = None
        super().__init__(root, split, transforms)

    def _verify(self) -> None:
        if not self.root.is_dir():
            raise self._not_found("no folder")
        if self._wl_arg is not None:
            self.wavelengths = np.asarray(self._wl_arg, dtype=np.float64)
        else:
            names = ("wavelengths.json", "wavelengths.txt", "wavelengths.csv")
            sidecar = _first_file(self.root / n for n in names)
            if sidecar is None:
                raise self._not_found("no wavelengths.json / wavelengths.txt sidecar")
            self.wavelengths, self.fwhm = read_wavelength_sidecar(sidecar)
        files = sorted(
            p for p in self.root.iterdir() if p.suffix.lower() in ARRAY_SUFFIXES and p.is_file()
        )
        if not files:
            raise self._not_found(f"no cube files ({', '.join(ARRAY_SUFFIXES)})")
        self.items = [(p.stem, p) for p in files]

    def _load(self, index: int) -> Sample:
        name, path = self.items[index]
        assert self.wavelengths is not None
        arr = np.asarray(read_array(path, self.key))
        try:
            cube = to_chw(arr, self.wavelengths.size, self.band_axis)
        except ValueError as err:
            raise ValueError(f"{path}: {err}") from err
        rgb_path = _first_file(path.with_name(f"{name}_rgb{x}") for x in (".png", ".jpg", ".jpeg"))
        rgb = read_rgb(rgb_path) if rgb_path is not None else None
        return make_sample(cube, self.wavelengths, name=name, rgb=rgb, fwhm=self.fwhm)
