"""Pictures of reconstructed cubes, with matplotlib.

Each function returns a :class:`matplotlib.figure.Figure` built without ``pyplot`` (no global
state, works without a display) and, given ``path``, also writes it as PNG atomically.
Large cubes are shown subsampled to at most ``max_side`` pixels per side; spectra and
error statistics always use the full-resolution cube.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._atomic import atomic_files
from ..io.images import to_unit_float
from .spectral_image import SpectralImage

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "mrae_map",
    "plot_bands",
    "plot_error_map",
    "plot_round_trip",
    "plot_spectra",
    "save_figure",
]

_COLORS = ("tab:red", "tab:blue", "tab:green", "tab:orange", "tab:purple", "tab:brown")


def _figure(**kwargs: Any) -> Figure:
    from matplotlib.figure import Figure  # imported here: `import ssrzoo` stays light

    return Figure(layout="constrained", **kwargs)


def save_figure(fig: Figure, path: str | os.PathLike[str], dpi: int = 100) -> Path:
    """Write ``fig`` as PNG to ``path`` via a temporary file (never a partial file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_files(path) as (temp,):
        fig.savefig(temp, format="png", dpi=dpi, bbox_inches="tight")
    return path


def _stride(height: int, width: int, max_side: int) -> int:
    return max(1, -(-max(height, width) // max_side))


def _finish(fig: Figure, path: str | os.PathLike[str] | None) -> Figure:
    if path is not None:
        save_figure(fig, path)
    return fig


def _render(cube: np.ndarray, wavelengths: np.ndarray, units: str) -> np.ndarray:
    """sRGB ``(H, W, 3)`` of a cube, lit by D65 when it holds reflectance."""
    from ..spectral import render_srgb

    illuminant = "D65" if units == "reflectance" else None
    rgb = render_srgb(np.asarray(cube, dtype=np.float32), wavelengths, illuminant=illuminant)
    return np.clip(np.asarray(rgb).transpose(1, 2, 0), 0.0, 1.0)


def plot_bands(
    image: SpectralImage,
    *,
    bands: Sequence[int] | None = None,
    max_bands: int = 16,
    ncols: int | None = None,
    cmap: str = "gray",
    max_side: int = 256,
    path: str | os.PathLike[str] | None = None,
) -> Figure:
    """A grid of band images, each titled with its centre wavelength in nm.

    All panels share one colour scale (0 to the 99.5th percentile of the shown bands), so
    brightness compares across wavelengths; the colour bar is in the cube's units.

    Args:
        image: the cube.
        bands: band indices to show; default ``max_bands`` evenly spaced ones.
        max_bands: how many bands to show by default.
        ncols: grid columns; default about square.
        cmap: matplotlib colour map.
        max_side: panels are subsampled to at most this many pixels per side.
        path: also write the figure here (PNG).
    """
    count = image.num_bands
    if bands is None:
        spread = np.linspace(0, count - 1, min(max_bands, count)).round().astype(int)
        bands = np.unique(spread).tolist()
    bands = [int(b) for b in bands]
    if any(not 0 <= b < count for b in bands):
        raise IndexError(f"band indices {bands} out of range for {count} bands")
    step = _stride(image.height, image.width, max_side)
    panels = np.asarray(image.cube[bands, ::step, ::step], dtype=np.float32)
    vmin = min(0.0, float(np.nanmin(panels)))
    vmax = float(np.nanpercentile(panels, 99.5)) or 1.0
    ncols = ncols or int(np.ceil(np.sqrt(len(bands))))
    nrows = int(np.ceil(len(bands) / ncols))
    aspect = image.height / image.width
    fig = _figure(figsize=(2.2 * ncols + 0.8, 2.2 * nrows * aspect + 0.6))
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    shown = None
    for ax, band, panel in zip(axes, bands, panels, strict=False):
        shown = ax.imshow(panel, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
        ax.set_title(f"{image.wavelengths[band]:g} nm", fontsize=9)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in axes[len(bands) :]:
        ax.set_visible(False)
    if shown is not None:
        fig.colorbar(shown, ax=list(axes[: len(bands)]), shrink=0.8, label=image.units)
    fig.suptitle(f"{image.model or 'cube'}: {count} bands", fontsize=10)
    return _finish(fig, path)


def _context_image(image: SpectralImage, step: int) -> np.ndarray:
    if image.rgb is not None:
        return to_unit_float(np.asarray(image.rgb[::step, ::step]))
    band_mean = np.asarray(image.cube[:, ::step, ::step], dtype=np.float32).mean(axis=0)
    top = float(np.percentile(band_mean, 99.5)) or 1.0
    return np.clip(band_mean / top, 0, 1)


def plot_spectra(
    image: SpectralImage,
    pixels: Sequence[tuple[int, int]] = (),
    regions: Sequence[tuple[int, int, int, int]] = (),
    *,
    max_side: int = 512,
    path: str | os.PathLike[str] | None = None,
) -> Figure:
    """Spectra of chosen pixels and regions against wavelength in nm.

    Left: the input photo (or the band mean) with the locations marked; right: the
    spectra, a region drawn as its mean with a band of one standard deviation.

    Args:
        image: the cube.
        pixels: ``(y, x)`` positions; default the image centre.
        regions: ``(y0, x0, y1, x1)`` boxes (rows ``y0:y1``, columns ``x0:x1``).
        max_side: the photo panel is subsampled to at most this size.
        path: also write the figure here (PNG).
    """
    if not pixels and not regions:
        pixels = [(image.height // 2, image.width // 2)]
    step = _stride(image.height, image.width, max_side)
    fig = _figure(figsize=(11, 4.2))
    ax_img, ax = fig.subplots(1, 2, width_ratios=(1, 1.6))
    ax_img.imshow(_context_image(image, step), cmap="gray", interpolation="nearest")
    ax_img.set_xticks([])
    ax_img.set_yticks([])
    wl = image.wavelengths
    for i, (y, x) in enumerate(pixels):
        color = _COLORS[i % len(_COLORS)]
        ax.plot(wl, image.spectrum(int(y), int(x)), color=color, label=f"pixel y={y}, x={x}")
        ax_img.plot(x / step, y / step, "+", color=color, markersize=12, markeredgewidth=2)
    for j, (y0, x0, y1, x1) in enumerate(regions):
        color = _COLORS[(len(pixels) + j) % len(_COLORS)]
        mean, std = image.region_spectrum(int(y0), int(x0), int(y1), int(x1))
        ax.plot(wl, mean, color=color, linestyle="--", label=f"region y {y0}:{y1}, x {x0}:{x1}")
        ax.fill_between(wl, mean - std, mean + std, color=color, alpha=0.2)
        ax_img.add_patch(
            # imshow puts pixel centres on integers: the box's edges sit half a pixel out.
            _rectangle(
                (x0 / step - 0.5, y0 / step - 0.5), (x1 - x0) / step, (y1 - y0) / step, color
            )
        )
    ax.set_xlabel("wavelength (nm)")
    ax.set_ylabel(image.units)
    ax.set_xlim(wl[0], wl[-1])
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(f"spectra ({image.model or 'cube'})", fontsize=10)
    return _finish(fig, path)


def _rectangle(xy: tuple[float, float], width: float, height: float, color: str) -> Any:
    from matplotlib.patches import Rectangle

    return Rectangle(xy, width, height, fill=False, edgecolor=color, linewidth=1.5)


def plot_round_trip(
    image: SpectralImage,
    *,
    rgb: np.ndarray | None = None,
    max_side: int = 768,
    path: str | os.PathLike[str] | None = None,
) -> Figure:
    """The input photo beside the sRGB render of the reconstructed cube.

    The render (``ssrzoo.spectral.render_srgb``: CIE 1931 2° observer, D65 light for
    reflectance, grey-world white balance, auto exposure) shows whether the cube's colours
    and structure are those of the photo.

    Args:
        image: the cube; its ``rgb`` is the photo unless ``rgb`` is given.
        rgb: the photo ``(H, W, 3)`` (``uint8``/``uint16``/float in [0, 1]).
        max_side: panels are subsampled to at most this size.
        path: also write the figure here (PNG).
    """
    photo = rgb if rgb is not None else image.rgb
    if photo is not None and tuple(photo.shape[:2]) != (image.height, image.width):
        raise ValueError(
            f"photo of {photo.shape[0]}x{photo.shape[1]} px does not match the "
            f"{image.height}x{image.width} cube; pass the photo the cube was predicted from"
        )
    step = _stride(image.height, image.width, max_side)
    render = _render(image.cube[:, ::step, ::step], image.wavelengths, image.units)
    panels = [("sRGB render of the cube", render)]
    if photo is not None:
        panels.insert(0, ("input photo", to_unit_float(np.asarray(photo[::step, ::step]))))
    fig = _figure(figsize=(5 * len(panels), 5 * image.height / image.width + 0.6))
    for ax, (title, picture) in zip(
        np.atleast_1d(fig.subplots(1, len(panels))), panels, strict=True
    ):
        ax.imshow(picture, interpolation="nearest")
        ax.set_title(title, fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    wl = image.wavelengths
    fig.suptitle(f"{image.model or 'cube'}: {wl[0]:g}-{wl[-1]:g} nm", fontsize=10)
    return _finish(fig, path)


def mrae_map(
    pred: SpectralImage | np.ndarray, target: SpectralImage | np.ndarray, *, eps: float = 1e-6
) -> np.ndarray:
    """Per-pixel MRAE ``(H, W)``: mean over bands of ``|p - t| / max(|t|, eps)``.

    Computed with :func:`ssrzoo.metrics.mrae` (each pixel scored as one image), so the map
    averages to the image's MRAE.
    """
    from ..metrics import mrae

    p = pred.cube if isinstance(pred, SpectralImage) else np.asarray(pred)
    t = target.cube if isinstance(target, SpectralImage) else np.asarray(target)
    if p.shape != t.shape:
        raise ValueError(
            f"prediction {p.shape} and ground truth {t.shape} differ; both must be (C, H, W)"
        )
    channels, height, width = p.shape
    out = np.empty((height, width), dtype=np.float64)
    rows = max(1, 2**22 // max(channels * width, 1))  # bounded float64 temporaries
    for y in range(0, height, rows):
        pp = np.asarray(p[:, y : y + rows]).reshape(channels, -1).T[:, :, None, None]
        tt = np.asarray(t[:, y : y + rows]).reshape(channels, -1).T[:, :, None, None]
        out[y : y + rows] = mrae(pp, tt, eps=eps, reduction="none").numpy().reshape(-1, width)
    return out


def plot_error_map(
    pred: SpectralImage,
    target: SpectralImage | np.ndarray,
    *,
    eps: float = 1e-6,
    vmax: float | None = None,
    max_side: int = 768,
    path: str | os.PathLike[str] | None = None,
) -> Figure:
    """Per-pixel MRAE of a reconstruction against ground truth, with its mean.

    Args:
        pred: the reconstruction.
        target: ground truth cube ``(C, H, W)`` on the same bands.
        eps: MRAE denominator floor (see :func:`ssrzoo.metrics.mrae`).
        vmax: top of the colour scale; default the 99th percentile of the map.
        max_side: the map is subsampled to at most this size for display.
        path: also write the figure here (PNG).
    """
    errors = mrae_map(pred, target, eps=eps)
    step = _stride(errors.shape[0], errors.shape[1], max_side)
    shown = errors[::step, ::step]
    top = vmax if vmax is not None else float(np.nanpercentile(errors, 99)) or 1.0
    fig = _figure(figsize=(6, 5 * errors.shape[0] / errors.shape[1] + 0.8))
    ax = fig.subplots()
    im = ax.imshow(shown, cmap="magma", vmin=0.0, vmax=top, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    fig.colorbar(im, ax=ax, shrink=0.85, label="MRAE per pixel")
    ax.set_title(
        f"{pred.model or 'prediction'}: MRAE {errors.mean():.4f} (median {np.median(errors):.4f})",
        fontsize=10,
    )
    return _finish(fig, path)
