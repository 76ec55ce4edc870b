"""The real data of ssrzoo's shared data folder as first-class datasets.

The shared folder (``../shared/data`` beside a checkout; see its ``MANIFEST.md``) holds real
pieces of the public datasets: 161 ICVL strips, CAVE crops, remote-sensing cubes beyond 700 nm
and the Houston 2018 crop with class labels. It is never shipped with the package: pass its
path as ``root`` (either the data folder itself or the dataset's sub-folder).

* :class:`ICVLStrips`: ICVL strips with the ssrzoo ICVL protocol (dark rows, normalisation,
  validity) and a validation split by capture session.
* :class:`CAVECrops`: the CAVE ``Omsi`` crops.
* :class:`RemoteSensingScenes`: Samson (156 bands), Houston 2018 (48 bands) and the Specim
  Fenix rock (450 bands), optionally resampled to a model's band grid.
* :class:`HoustonCrop`: the Houston 2018 crop with its 12-class labels, for classification.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np

from ._base import HyperspectralDataset, Sample, make_sample
from .datasets import WL_400_700, _empty_split_error, icvl_normalise, session_split
from .readers import read_envi, read_mat, read_mat_variable, to_chw
from .transforms import resample_cube, resolve_band_grid

__all__ = ["CAVECrops", "HoustonCrop", "ICVLStrips", "RemoteSensingScenes"]

Transforms = Callable[[Sample], Sample] | None

_SHARED_URL = (
    "the ssrzoo shared data folder (../shared/data beside a checkout; see its MANIFEST.md for "
    "the upstream sources)"
)


def _subfolder(root: Path, name: str) -> Path:
    """``root/name`` when ``root`` is the shared data folder, else ``root`` itself."""
    return root / name if (root / name).is_dir() else root


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


def _robust_max(cube: np.ndarray) -> float:
    return float(np.percentile(cube, 99.9))


class RemoteSensingScenes(HyperspectralDataset):
    """Real airborne and field cubes beyond 700 nm, optionally on a model's band grid.

    Scenes (all in the shared data folder):

    * ``'samson'``: Samson, 95x95, 156 bands 401-889 nm (about 3.1 nm), values in [0, 1] as
      distributed (``remote_sensing/samson.mat``, ``Y`` reshaped in Fortran order);
    * ``'houston2018'``: IEEE GRSS DFC2018 Houston crop, 128x128, 48 bands 380-1050 nm; the
      uint16 values are divided by their 99.9th percentile (an exposure normalisation; the
      absolute units are not documented in the copy);
    * ``'fenix_rock'``: Specim Fenix reflectance, 38x23, 450 bands 378-2504 nm (ENVI, uint16 /
      65535), with ``'valid'`` from the header's ``data ignore value``.

    With ``bands`` set, each cube is resampled with :func:`ssrzoo.spectral.resample`
    (``method='gaussian'`` integrates each target band over the source samples) to that grid;
    a target may overhang a scene's range by at most ``edge_tolerance_nm`` (Samson starts at
    401 nm, a 400-700 nm grid starts at 400), beyond that the scene raises.

    Args:
        root: the shared data folder.
        bands: the target grid: a model name (its ``pretrained_cfg.wavelengths``), a
            :class:`~ssrzoo.spectral.BandGrid`, or band centres in nm; None keeps native bands.
        scenes: which scenes, default all three.
        method: ``'gaussian'`` or ``'linear'`` resampling.
        edge_tolerance_nm: allowed overhang of the target grid beyond the source range.
        transforms: applied to each sample dict.

    Sample: ``hsi``, ``wavelengths`` (target or native), ``name``, ``valid`` (Fenix).
    """

    url = _SHARED_URL
    license = "Samson/Houston: GPL-3.0 source repositories, DFC terms; Fenix: MIT"
    layout = """\
root/
├── remote_sensing/samson.mat              ('Y' (156, 9025))
├── remote_sensing/houston2018_crop.mat    ('hyprImg' (128, 128, 48) uint16)
└── fenix_rock/image.hdr + image.dat       (ENVI BSQ uint16, 450 bands)"""
    scene_files: ClassVar[dict[str, str]] = {
        "samson": "remote_sensing/samson.mat",
        "houston2018": "remote_sensing/houston2018_crop.mat",
        "fenix_rock": "fenix_rock/image.hdr",
    }

    def __init__(
        self,
        root: str | Path,
        split: str = "all",
        bands: Any = None,
        scenes: Sequence[str] | None = None,
        method: Literal["gaussian", "linear"] = "gaussian",
        edge_tolerance_nm: float = 5.0,
        transforms: Transforms = None,
    ) -> None:
        names = list(self.scene_files) if scenes is None else list(scenes)
        unknown = sorted(set(names) - set(self.scene_files))
        if unknown:
            raise ValueError(f"unknown scene(s) {unknown}; choose from {list(self.scene_files)}")
        self.scene_names = names
        self.bands = None if bands is None else resolve_band_grid(bands)
        self.method = method
        self.edge_tolerance_nm = edge_tolerance_nm
        super().__init__(root, split, transforms)

    def _verify(self) -> None:
        for name in self.scene_names:
            path = self.root / self.scene_files[name]
            if not path.is_file():
                raise self._not_found(f"no {self.scene_files[name]}")
            self.items.append((name, path))

    @staticmethod
    def read_native(name: str, path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """A scene on its native bands: ``(cube (C, H, W) float32, wavelengths, valid | None)``."""
        if name == "samson":
            y = read_mat_variable(path, "Y")
            side = round(float(np.sqrt(y.shape[1])))
            cube = y.reshape(y.shape[0], side, side, order="F")
            return cube.astype(np.float32), np.linspace(401.0, 889.0, y.shape[0]), None
        if name == "houston2018":
            cube = to_chw(read_mat(path, ["hyprImg"])["hyprImg"], band_axis=2).astype(np.float32)
            cube /= np.float32(_robust_max(cube))
            return cube, np.linspace(380.0, 1050.0, cube.shape[0]), None
        img = read_envi(path)
        return img.data, img.wavelengths, img.valid

    def _load(self, index: int) -> Sample:
        name, path = self.items[index]
        cube, wl, valid = self.read_native(name, path)
        fwhm = None
        if self.bands is not None:
            dst, fwhm = self.bands
            try:
                cube = resample_cube(cube, wl, dst, self.method, fwhm, self.edge_tolerance_nm)
            except ValueError as err:
                raise ValueError(f"scene {name!r}: {err}, or leave it out (scenes=...)") from err
            wl = dst
        return make_sample(cube, wl, name=name, valid=valid, fwhm=fwhm)


def majority_downsample(labels: np.ndarray, factor: int) -> np.ndarray:
    """Downsample a label map by ``factor`` with a per-block vote among labelled pixels.

    Each ``factor x factor`` block takes its most frequent non-zero label (ties go to the smaller
    id); a block without labelled pixels is 0 (unlabelled).
    """
    h, w = labels.shape
    if h % factor or w % factor:
        raise ValueError(f"label map {labels.shape} is not divisible by the factor {factor}")
    blocks = labels.reshape(h // factor, factor, w // factor, factor).transpose(0, 2, 1, 3)
    blocks = blocks.reshape(h // factor, w // factor, factor * factor).astype(np.int64)
    n_classes = int(labels.max()) + 1
    counts = np.zeros((h // factor, w // factor, n_classes), dtype=np.int64)
    for c in range(1, n_classes):
        counts[..., c] = (blocks == c).sum(-1)
    out = counts.argmax(-1)
    out[counts.max(-1) == 0] = 0
    return out


class HoustonCrop(HyperspectralDataset):
    """The IEEE GRSS DFC2018 Houston crop with its land-cover labels, for classification.

    One scene: ``hyprImg`` (128x128, 48 bands 380-1050 nm, uint16, divided by its 99.9th
    percentile), the co-registered 512x512 very-high-resolution RGB ``rgbImg`` and labels
    ``clasLabs`` (512x512, 12 classes with the source crop's ids 1-12, 0 = unlabelled). The
    labels are brought to the cube's grid by a 4x4 majority vote among labelled pixels
    (:func:`majority_downsample`).

    Args:
        root: the shared data folder or its ``remote_sensing`` sub-folder.
        bands: optional target band grid, as for :class:`RemoteSensingScenes`.
        method: resampling method when ``bands`` is set.
        edge_tolerance_nm: allowed overhang of the target grid beyond 380-1050 nm.
        transforms: applied to the sample dict.

    Sample: ``hsi (48, 128, 128)``, ``wavelengths``, ``mask (128, 128)`` int64, ``rgb_vhr
    (3, 512, 512)`` float32 in [0, 1], ``mask_vhr (512, 512)`` int64, ``name``.

    Citation: 2018 IEEE GRSS Data Fusion Contest (Xu et al., IEEE JSTARS 2019); crop from
    Ramirez et al., IGARSS 2021.
    """

    url = _SHARED_URL + "; full scene: IEEE GRSS DFC2018 (https://hyperspectral.ee.uh.edu/)"
    citation = "Xu et al., Advanced Multi-Sensor Optical Remote Sensing for Urban Land Use and Land Cover Classification: Outcome of the 2018 IEEE GRSS Data Fusion Contest, IEEE JSTARS 2019"  # noqa: E501
    license = "GPL-3.0 source repository; DFC2018 terms"
    layout = """\
root/
└── remote_sensing/houston2018_crop.mat   ('hyprImg', 'rgbImg', 'clasLabs')"""

    def __init__(
        self,
        root: str | Path,
        split: str = "all",
        bands: Any = None,
        method: Literal["gaussian", "linear"] = "gaussian",
        edge_tolerance_nm: float = 5.0,
        transforms: Transforms = None,
    ) -> None:
        self.bands = None if bands is None else resolve_band_grid(bands)
        self.method = method
        self.edge_tolerance_nm = edge_tolerance_nm
        super().__init__(root, split, transforms)

    def _verify(self) -> None:
        path = _subfolder(self.root, "remote_sensing") / "houston2018_crop.mat"
        if not path.is_file():
            raise self._not_found("no remote_sensing/houston2018_crop.mat")
        self.items = [("houston2018", path)]

    def _load(self, index: int) -> Sample:
        name, path = self.items[index]
        data = read_mat(path, ["hyprImg", "rgbImg", "clasLabs"])
        missing = {"hyprImg", "rgbImg", "clasLabs"} - set(data)
        if missing:
            raise ValueError(f"{path} lacks {sorted(missing)}; is it the DFC2018 Houston crop?")
        cube = to_chw(data["hyprImg"], band_axis=2).astype(np.float32)
        cube /= np.float32(_robust_max(cube))
        wl = np.linspace(380.0, 1050.0, cube.shape[0])
        fwhm = None
        if self.bands is not None:
            dst, fwhm = self.bands
            cube = resample_cube(cube, wl, dst, self.method, fwhm, self.edge_tolerance_nm)
            wl = dst
        labels_vhr = np.asarray(data["clasLabs"]).astype(np.int64)
        factor = labels_vhr.shape[0] // cube.shape[1]
        mask = majority_downsample(labels_vhr, factor)
        rgb_vhr = np.asarray(data["rgbImg"]).transpose(2, 0, 1).astype(np.float32) / 255.0
        return make_sample(
            cube, wl, name=name, mask=mask, fwhm=fwhm, rgb_vhr=rgb_vhr, mask_vhr=labels_vhr
        )
