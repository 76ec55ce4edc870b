"""File I/O: hyperspectral cubes in the formats datasets ship, ssrzoo's cube files, RGB images.

* :mod:`ssrzoo.io.readers`: MATLAB ``.mat`` (v5 and v7.3), single-band PNG stacks, ENVI,
  ``.npy`` / ``.npz`` / ``.h5`` arrays with a wavelength sidecar; each returns ``(C, H, W)``
  arrays with wavelengths in nm.
* :mod:`ssrzoo.io.cubes`: :func:`write_cube` / :func:`read_cube`, cube files that always keep
  their wavelengths (``.npz``, ``.npy`` + JSON, ``.mat``, ``.h5``, ENVI), written atomically.
* :mod:`ssrzoo.io.images`: photos to reconstruct (8/16-bit PNG, JPEG, TIFF, EXIF orientation)
  and the RGB images of datasets.

This package imports nothing of ssrzoo but :mod:`ssrzoo.version` and the atomic-write helper,
so :mod:`ssrzoo.data` and :mod:`ssrzoo.inference` both read and write files through it.
"""

from __future__ import annotations

from .cubes import FORMATS, format_from_path, output_paths, read_cube, write_cube
from .images import (
    IMAGE_SUFFIXES,
    ImageSource,
    collect_images,
    image_info,
    load_rgb,
    read_rgb,
    to_model_input,
    to_unit_float,
)
from .readers import (
    ARRAY_SUFFIXES,
    HyperspectralImage,
    find_band_pngs,
    read_array,
    read_band_pngs,
    read_envi,
    read_mat,
    read_mat_variable,
    read_wavelength_sidecar,
    to_chw,
)

__all__ = [
    "ARRAY_SUFFIXES",
    "FORMATS",
    "IMAGE_SUFFIXES",
    "HyperspectralImage",
    "ImageSource",
    "collect_images",
    "find_band_pngs",
    "format_from_path",
    "image_info",
    "load_rgb",
    "output_paths",
    "read_array",
    "read_band_pngs",
    "read_cube",
    "read_envi",
    "read_mat",
    "read_mat_variable",
    "read_rgb",
    "read_wavelength_sidecar",
    "to_chw",
    "to_model_input",
    "to_unit_float",
    "write_cube",
]
