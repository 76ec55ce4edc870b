"""The IEEE GRSS DFC2018 Houston crop of the shared data folder, with land-cover labels."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np

from ...io.readers import read_mat, to_chw
from .._base import HyperspectralDataset, Sample, make_sample
from ..transforms import resample_cube, resolve_band_grid
from ._utils import _SHARED_URL, Transforms, _robust_max, _subfolder

__all__ = ["HoustonCrop", "majority_downsample"]


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
