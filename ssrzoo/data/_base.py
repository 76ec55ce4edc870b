"""The dataset base class and the sample format every ssrzoo dataset returns.

A sample is a dict (torchgeo style):

* ``'hsi'``: ``(C, H, W)`` float32 tensor, the spectral cube;
* ``'wavelengths'``: ``(C,)`` float32 tensor, band centres in nm;
* ``'rgb'``: ``(3, H, W)`` float32 tensor in [0, 1], when the dataset ships one or a
  transform simulates it;
* ``'valid'``: ``(H, W)`` bool tensor, False where the data is missing or unusable (evaluate
  metrics on valid pixels only);
* ``'mask'``: ``(H, W)`` int64 tensor of class labels (0 = unlabelled), for classification data;
* ``'name'``: str, the scene's identifier; other keys are documented by each dataset.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch.utils.data import Dataset

from ..exceptions import DatasetNotFoundError

__all__ = ["SPATIAL_KEYS", "HyperspectralDataset", "Sample", "make_sample"]

Sample = dict[str, Any]

#: Sample keys that hold images aligned with ``'hsi'`` (cropped and flipped together).
SPATIAL_KEYS: tuple[str, ...] = ("hsi", "rgb", "valid", "mask")


def make_sample(
    hsi: np.ndarray,
    wavelengths: np.ndarray,
    *,
    name: str | None = None,
    rgb: np.ndarray | None = None,
    valid: np.ndarray | None = None,
    mask: np.ndarray | None = None,
    fwhm: np.ndarray | None = None,
    **extra: Any,
) -> Sample:
    """Build a sample dict from numpy arrays (see the module docstring for the keys).

    Args:
        hsi: ``(C, H, W)`` cube, any float or integer dtype (converted to float32).
        wavelengths: ``(C,)`` band centres in nm.
        name: scene identifier.
        rgb: ``(3, H, W)`` image in [0, 1].
        valid: ``(H, W)`` bool validity map.
        mask: ``(H, W)`` integer class labels.
        fwhm: ``(C,)`` band FWHM in nm.
        **extra: more entries, numpy arrays become tensors.

    Raises:
        ValueError: shapes that do not agree.
    """
    hsi = np.asarray(hsi)
    wl = np.asarray(wavelengths, dtype=np.float32).reshape(-1)
    if hsi.ndim != 3 or hsi.shape[0] != wl.size:
        raise ValueError(
            f"cube of shape {hsi.shape} does not match {wl.size} wavelengths; expected (C, H, W) "
            f"with C = len(wavelengths)"
        )
    size = hsi.shape[1:]
    sample: Sample = {
        "hsi": torch.from_numpy(np.ascontiguousarray(hsi, dtype=np.float32)),
        "wavelengths": torch.from_numpy(wl.copy()),
    }
    if rgb is not None:
        rgb = np.asarray(rgb)
        if rgb.shape[1:] != size:
            raise ValueError(
                f"RGB image {rgb.shape[2]}x{rgb.shape[1]} px does not match the cube "
                f"{size[1]}x{size[0]} px"
            )
        sample["rgb"] = torch.from_numpy(np.ascontiguousarray(rgb, dtype=np.float32))
    if valid is not None:
        sample["valid"] = torch.from_numpy(np.ascontiguousarray(valid, dtype=bool))
    if mask is not None:
        sample["mask"] = torch.from_numpy(np.ascontiguousarray(mask, dtype=np.int64))
    for key in ("valid", "mask"):
        if key in sample and tuple(sample[key].shape) != size:
            raise ValueError(f"'{key}' has shape {tuple(sample[key].shape)}, the cube is {size}")
    if fwhm is not None:
        sample["fwhm"] = torch.as_tensor(np.asarray(fwhm, dtype=np.float32))
    if name is not None:
        sample["name"] = name
    for key, value in extra.items():
        sample[key] = (
            torch.from_numpy(np.ascontiguousarray(value))
            if isinstance(value, np.ndarray)
            else value
        )
    return sample


class HyperspectralDataset(Dataset[Sample]):
    """Base class of the ssrzoo datasets (torchgeo's pattern).

    Subclasses set the class attributes below, implement :meth:`_verify` (find the files,
    raising :meth:`_not_found` when they are absent) and :meth:`_load` (read item ``index``
    as a sample). ``dataset[i]`` returns ``transforms(sample)`` when ``transforms`` is set.

    Attributes:
        url: where to download the official data.
        citation: the paper to cite.
        license: the data's terms, in words.
        layout: the expected tree under ``root``, shown in the not-found error.
        splits: the accepted ``split`` values.
    """

    url: ClassVar[str] = ""
    citation: ClassVar[str] = ""
    license: ClassVar[str] = ""
    layout: ClassVar[str] = ""
    splits: ClassVar[tuple[str, ...]] = ("all",)

    def __init__(
        self,
        root: str | Path,
        split: str = "all",
        transforms: Callable[[Sample], Sample] | None = None,
    ) -> None:
        if split not in self.splits:
            raise ValueError(
                f"unknown split {split!r} for {type(self).__name__}; use one of {list(self.splits)}"
            )
        self.root = Path(root).expanduser()
        self.split = split
        self.transforms = transforms
        self.items: list[Any] = []
        self._verify()

    def _verify(self) -> None:
        raise NotImplementedError

    def _load(self, index: int) -> Sample:
        raise NotImplementedError

    def _not_found(self, what: str) -> DatasetNotFoundError:
        """The error for data that is not on disk: what is missing, where to get it, the tree."""
        return DatasetNotFoundError(
            f"{type(self).__name__} (split {self.split!r}): {what} under root='{self.root}'; "
            f"download it from {self.url} and lay it out as:\n{self.layout.rstrip()}"
        )

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> Sample:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} is out of range for {len(self)} items")
        sample = self._load(index % len(self))
        if self.transforms is not None:
            sample = self.transforms(sample)
        return sample

    def __repr__(self) -> str:
        return f"{type(self).__name__}(root='{self.root}', split={self.split!r}, items={len(self)})"
