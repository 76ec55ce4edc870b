"""Datasets, training patches, transforms and synthetic scenes for spectral reconstruction.

Every dataset follows torchgeo's pattern: ``Dataset(root, split, transforms)``, a ``_verify()``
that raises :class:`~ssrzoo.exceptions.DatasetNotFoundError` naming the official source and
the expected tree, and samples as dicts ``{'hsi': (C, H, W), 'wavelengths': (C,), 'rgb':
(3, H, W), ...}`` of float32 tensors. See ``docs/datasets.md``. Each dataset has a file of
:mod:`ssrzoo.data.datasets`; the file readers live in :mod:`ssrzoo.io` and are re-exported here.

>>> from ssrzoo.data import ICVLStrips, RandomPatches  # doctest: +SKIP
>>> patches = RandomPatches(ICVLStrips("../shared/data"), patch_size=(8, 64))  # doctest: +SKIP
>>> patches[0]["rgb"].shape  # doctest: +SKIP
torch.Size([3, 8, 64])
"""

from ..io.images import read_rgb
from ..io.readers import (
    HyperspectralImage,
    read_array,
    read_band_pngs,
    read_envi,
    read_mat,
    read_mat_variable,
    read_wavelength_sidecar,
)
from ._base import SPATIAL_KEYS, HyperspectralDataset, Sample, make_sample
from .datasets import (
    CAVE,
    CAVE_TRAIN_SCENES,
    CAVE_VAL_SCENES,
    ICVL,
    ICVL_DARK_COUNTS,
    KAIST,
    NTIRE2020,
    NTIRE2022,
    CAVECrops,
    ENVIDataset,
    Harvard,
    HoustonCrop,
    HyperspectralFolder,
    ICVLStrips,
    PaviaUniversity,
    RemoteSensingScenes,
    icvl_normalise,
    majority_downsample,
    session_split,
)
from .device_patches import DevicePatches
from .lighting import DEFAULT_LIGHT_WEIGHTS, LightSampler, Relight
from .patches import RandomPatches
from .scene_geometry import dead_leaves
from .spectral_libraries import (
    ILLUMINANT_CATEGORIES,
    SpectralLibrary,
    SpectralSet,
    colour_illuminants,
    colour_reflectances,
    shared_illuminants,
    shared_reflectances,
)
from .synthetic import SyntheticScenes
from .transforms import (
    Compose,
    ResampleBands,
    SimulateRGB,
    crop,
    flip_rotate,
    resolve_band_grid,
    scale_exposure,
)

__all__ = [
    "CAVE",
    "CAVE_TRAIN_SCENES",
    "CAVE_VAL_SCENES",
    "DEFAULT_LIGHT_WEIGHTS",
    "ICVL",
    "ICVL_DARK_COUNTS",
    "ILLUMINANT_CATEGORIES",
    "KAIST",
    "NTIRE2020",
    "NTIRE2022",
    "SPATIAL_KEYS",
    "CAVECrops",
    "Compose",
    "DevicePatches",
    "ENVIDataset",
    "Harvard",
    "HoustonCrop",
    "HyperspectralDataset",
    "HyperspectralFolder",
    "HyperspectralImage",
    "ICVLStrips",
    "LightSampler",
    "PaviaUniversity",
    "RandomPatches",
    "Relight",
    "RemoteSensingScenes",
    "ResampleBands",
    "Sample",
    "SimulateRGB",
    "SpectralLibrary",
    "SpectralSet",
    "SyntheticScenes",
    "colour_illuminants",
    "colour_reflectances",
    "crop",
    "dead_leaves",
    "flip_rotate",
    "icvl_normalise",
    "majority_downsample",
    "make_sample",
    "read_array",
    "read_band_pngs",
    "read_envi",
    "read_mat",
    "read_mat_variable",
    "read_rgb",
    "read_wavelength_sidecar",
    "resolve_band_grid",
    "scale_exposure",
    "session_split",
    "shared_illuminants",
    "shared_reflectances",
]
