"""The standard spectral-reconstruction benchmarks, generic formats and the shared real data,
as torchgeo-style datasets, one file per dataset.

Each class reads the layout its users download. Point ``root`` at the folder you unpacked; when
something is missing the :class:`~ssrzoo.exceptions.DatasetNotFoundError` says what, where to
download it and the tree to lay out. Samples are dicts (see :mod:`ssrzoo.data._base`):
``{'hsi': (C, H, W), 'wavelengths': (C,), 'rgb': (3, H, W) when shipped, 'name': str, ...}``.

Values are returned as the dataset stores them unless a class says otherwise (NTIRE cubes are
already normalised by their authors; ICVL applies the protocol documented on :class:`ICVL`).

The shared data folder (``../shared/data`` beside a checkout; see its ``MANIFEST.md``) holds
real pieces of the public datasets, read by :class:`ICVLStrips` (161 ICVL strips under the
ssrzoo ICVL protocol), :class:`CAVECrops` (the CAVE ``Omsi`` crops),
:class:`RemoteSensingScenes` (Samson, Houston 2018 and the Specim Fenix rock, optionally
resampled to a model's band grid) and :class:`HoustonCrop` (the Houston 2018 crop with its
12-class labels). It is never shipped with the package: pass its path as ``root`` (either the
data folder itself or the dataset's sub-folder).
"""

from __future__ import annotations

from .cave import CAVE, CAVE_TRAIN_SCENES, CAVE_VAL_SCENES
from .cave_crops import CAVECrops
from .envi import ENVIDataset
from .folder import HyperspectralFolder
from .harvard import Harvard
from .houston import HoustonCrop, majority_downsample
from .icvl import ICVL, ICVL_DARK_COUNTS, icvl_normalise, session_split
from .icvl_strips import ICVLStrips
from .kaist import KAIST
from .ntire2020 import NTIRE2020
from .ntire2022 import NTIRE2022
from .pavia import PaviaUniversity
from .remote_sensing import RemoteSensingScenes

__all__ = [
    "CAVE",
    "CAVE_TRAIN_SCENES",
    "CAVE_VAL_SCENES",
    "ICVL",
    "ICVL_DARK_COUNTS",
    "KAIST",
    "NTIRE2020",
    "NTIRE2022",
    "CAVECrops",
    "ENVIDataset",
    "Harvard",
    "HoustonCrop",
    "HyperspectralFolder",
    "ICVLStrips",
    "PaviaUniversity",
    "RemoteSensingScenes",
    "icvl_normalise",
    "majority_downsample",
    "session_split",
]
