"""``SpectralImage``: a reconstructed cube together with what its numbers mean, and its files.

:func:`save_cube` and :func:`load_cube` store a :class:`SpectralImage` with its units, weight
metadata and provenance in any format of :mod:`ssrzoo.io.cubes`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..io.cubes import read_cube, write_cube
from ..io.readers import HyperspectralImage
from ..models import PretrainedCfg
from ..version import __version__

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["SpectralImage", "load_cube", "save_cube"]


# Not merged with ssrzoo.io.HyperspectralImage (a file's cube, validity mask and header, as
# read, in the layer below the models): this is a model's output, tied to the weight that made
# it (a PretrainedCfg) and to the photo it came from, with the pictures and files a user asks
# of a result. See the comment on HyperspectralImage.
@dataclass
class SpectralImage:
    """A hyperspectral cube with its band wavelengths, units and provenance.

    Attributes:
        cube: ``(C, H, W)`` ``float32`` (a numpy array or a ``np.memmap``), band ``c``
            centred at ``wavelengths[c]``.
        wavelengths: ``(C,)`` band centres in nm, increasing.
        units: what the values mean, e.g. ``'reflectance'`` (from the weight's
            ``pretrained_cfg.output_units``).
        model: the name of the model that produced the cube (``''`` if unknown).
        pretrained_cfg: the weight's metadata (camera response, training data, licence).
        rgb: the input photo ``(H, W, 3)`` as read (``uint8``/``uint16``/``float32`` in
            [0, 1]), kept for round-trip pictures; ``None`` when not available.
        source: the input file's path, if it came from a file.
        fwhm: band widths in nm, if known.
        metadata: anything else worth storing (tile size, ensemble, ...).
    """

    cube: np.ndarray
    wavelengths: np.ndarray
    units: str = "reflectance"
    model: str = ""
    pretrained_cfg: PretrainedCfg | None = None
    rgb: np.ndarray | None = field(default=None, repr=False)
    source: str | None = None
    fwhm: np.ndarray | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.cube.ndim != 3:
            raise ValueError(
                f"cube must be (C, H, W), got shape {self.cube.shape}; for (H, W, C) data "
                "pass cube.transpose(2, 0, 1)"
            )
        if self.cube.dtype != np.float32:
            self.cube = self.cube.astype(np.float32)
        self.wavelengths = np.asarray(self.wavelengths, dtype=np.float64).reshape(-1)
        if self.wavelengths.size != self.cube.shape[0]:
            raise ValueError(
                f"{self.wavelengths.size} wavelengths for a cube of {self.cube.shape[0]} bands; "
                "give one centre wavelength (nm) per band"
            )
        if np.any(np.diff(self.wavelengths) <= 0):
            raise ValueError("wavelengths must increase (nm, one per band)")
        if self.fwhm is not None:
            self.fwhm = np.asarray(self.fwhm, dtype=np.float64).reshape(-1)
        if self.rgb is not None and self.rgb.shape[:2] != self.cube.shape[1:]:
            raise ValueError(
                f"rgb of shape {self.rgb.shape} does not match the cube's {self.cube.shape[1:]}"
            )

    @property
    def num_bands(self) -> int:
        """Number of bands ``C``."""
        return int(self.cube.shape[0])

    @property
    def height(self) -> int:
        return int(self.cube.shape[1])

    @property
    def width(self) -> int:
        return int(self.cube.shape[2])

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(C, H, W)``."""
        return tuple(self.cube.shape)

    def band_index(self, wavelength: float) -> int:
        """Index of the band whose centre is nearest ``wavelength`` (nm)."""
        return int(np.argmin(np.abs(self.wavelengths - float(wavelength))))

    def band(self, wavelength: float) -> np.ndarray:
        """The ``(H, W)`` image of the band nearest ``wavelength`` (nm)."""
        return self.cube[self.band_index(wavelength)]

    def spectrum(self, y: int, x: int) -> np.ndarray:
        """The ``(C,)`` spectrum at row ``y``, column ``x``."""
        if not (0 <= y < self.height and 0 <= x < self.width):
            raise IndexError(
                f"pixel (y={y}, x={x}) is outside the {self.height}x{self.width} image"
            )
        return np.asarray(self.cube[:, y, x])

    def region_spectrum(self, y0: int, x0: int, y1: int, x1: int) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation ``(C,)`` over rows ``y0:y1``, columns ``x0:x1``."""
        region = np.asarray(self.cube[:, y0:y1, x0:x1], dtype=np.float64)
        if region.size == 0:
            raise IndexError(
                f"region y {y0}:{y1}, x {x0}:{x1} is empty in the {self.height}x{self.width} image"
            )
        flat = region.reshape(self.num_bands, -1)
        return flat.mean(axis=1), flat.std(axis=1)

    def to_srgb(self) -> np.ndarray:
        """The cube rendered to sRGB ``(3, H, W)`` in [0, 1] (``ssrzoo.spectral.render_srgb``)."""
        from ..spectral import render_srgb

        return np.asarray(render_srgb(self.cube, self.wavelengths), dtype=np.float32)

    def save(
        self, path: str | os.PathLike[str], format: str | None = None, **kwargs: Any
    ) -> list[Path]:
        """Write the cube and its wavelengths; see :func:`ssrzoo.inference.save_cube`."""
        return save_cube(self, path, format=format, **kwargs)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> SpectralImage:
        """Read a file written by :meth:`save`; see :func:`ssrzoo.inference.load_cube`."""
        return load_cube(path)

    def plot_bands(self, **kwargs: Any) -> Figure:
        """Band grid labelled in nm; see :func:`ssrzoo.inference.plot_bands`."""
        from .plots import plot_bands

        return plot_bands(self, **kwargs)

    def plot_spectra(
        self,
        pixels: Sequence[tuple[int, int]] = (),
        regions: Sequence[tuple[int, int, int, int]] = (),
        **kwargs: Any,
    ) -> Figure:
        """Spectra of pixels/regions in nm; see :func:`ssrzoo.inference.plot_spectra`."""
        from .plots import plot_spectra

        return plot_spectra(self, pixels=pixels, regions=regions, **kwargs)

    def plot_round_trip(self, **kwargs: Any) -> Figure:
        """Photo beside the cube's sRGB render; see :func:`ssrzoo.inference.plot_round_trip`."""
        from .plots import plot_round_trip

        return plot_round_trip(self, **kwargs)

    def __repr__(self) -> str:
        wl = self.wavelengths
        return (
            f"SpectralImage({self.num_bands} bands {wl[0]:g}-{wl[-1]:g} nm, "
            f"{self.height}x{self.width}, units={self.units!r}, model={self.model!r})"
        )


def save_cube(
    image: SpectralImage,
    path: str | os.PathLike[str],
    format: str | None = None,
    *,
    mat_version: str | None = None,
    compress: bool = False,
) -> list[Path]:
    """Write ``image`` with its wavelengths (nm) and metadata.

    The metadata (units, model, source, ``pretrained_cfg``, ``metadata``) is stored as JSON
    beside the cube; the formats are those of :func:`ssrzoo.io.write_cube`.

    Args:
        image: the cube to write.
        path, format, mat_version, compress: as for :func:`ssrzoo.io.write_cube`.

    Returns:
        The files written, main file first.
    """
    cfg = image.pretrained_cfg
    meta = {
        "units": image.units,
        "model": image.model,
        "source": image.source,
        "shape_chw": list(image.shape),
        "created_by": f"ssrzoo {__version__}",
        "metadata": image.metadata,
        "pretrained_cfg": None if cfg is None else cfg.to_dict(),
    }
    stored = HyperspectralImage(
        data=image.cube, wavelengths=image.wavelengths, fwhm=image.fwhm, metadata=meta
    )
    return write_cube(stored, path, format, mat_version=mat_version, compress=compress)


def load_cube(path: str | os.PathLike[str], format: str | None = None) -> SpectralImage:
    """Read a cube written by :func:`save_cube` (or any file of these formats with wavelengths).

    ``.npy`` files are memory-mapped read-only; the other formats are read into memory.
    A ``.mat`` needs a ``cube`` variable (``H x W x C``) and ``bands`` (nm), as NTIRE's
    files have; an ENVI header needs ``wavelength``.

    Raises:
        FileNotFoundError: the file (or its sidecar/data file) is missing.
        ValueError: the file is corrupt or holds no wavelengths.
    """
    stored = read_cube(path, format)
    meta = stored.metadata
    cfg_dict = meta.get("pretrained_cfg")
    return SpectralImage(
        cube=stored.data,
        wavelengths=stored.wavelengths,
        units=meta.get("units") or "unknown",
        model=meta.get("model") or "",
        pretrained_cfg=PretrainedCfg.from_dict(cfg_dict) if cfg_dict else None,
        source=meta.get("source"),
        fwhm=stored.fwhm,
        metadata=dict(meta.get("metadata") or {}),
    )
