"""Inference on real photos: RGB in, spectral cube with wavelengths out.

* :func:`predict` / :class:`Reconstructor`: read a photo (8/16-bit PNG, JPEG, TIFF, PIL,
  numpy, tensor), convert it to what the weight expects, run the model in overlapping tiles
  (optionally as an 8-way self-ensemble) and return a :class:`SpectralImage`.
* :func:`save_cube` / :func:`load_cube`: ``.npz``, ``.npy`` (+ JSON), ``.mat`` (v5/v7.3),
  ``.h5`` and ENVI, always with the wavelengths; writes are atomic. The formats, and the
  photo readers, live in :mod:`ssrzoo.io` and are re-exported here.
* :func:`plot_bands`, :func:`plot_spectra`, :func:`plot_round_trip`, :func:`plot_error_map`.
* :func:`export_onnx`: a model as an ONNX graph with its metadata; :class:`OnnxModule` runs
  such graphs in onnxruntime (``Reconstructor(..., backend="onnxruntime")``).

See ``docs/inference.md``.
"""

from __future__ import annotations

from ..exceptions import InsufficientMemoryError
from ..io.cubes import FORMATS, format_from_path
from ..io.images import IMAGE_SUFFIXES, collect_images, image_info, load_rgb, to_model_input
from .onnx import OnnxModule, export_onnx
from .plots import (
    mrae_map,
    plot_bands,
    plot_error_map,
    plot_round_trip,
    plot_spectra,
    save_figure,
)
from .predictor import Reconstructor, available_memory, predict
from .spectral_image import SpectralImage, load_cube, save_cube
from .tiling import TileGrid, tiled_apply

__all__ = [
    "FORMATS",
    "IMAGE_SUFFIXES",
    "InsufficientMemoryError",
    "OnnxModule",
    "Reconstructor",
    "SpectralImage",
    "TileGrid",
    "available_memory",
    "collect_images",
    "export_onnx",
    "format_from_path",
    "image_info",
    "load_cube",
    "load_rgb",
    "mrae_map",
    "plot_bands",
    "plot_error_map",
    "plot_round_trip",
    "plot_spectra",
    "predict",
    "save_cube",
    "save_figure",
    "tiled_apply",
    "to_model_input",
]
