"""Physically based synthetic hyperspectral scenes: dead leaves, measured spectra, measured light.

:class:`SyntheticScenes` generates radiance cubes on the fly, on any band grid, at any size:

* **Geometry**: a dead-leaves (occlusion) model. Opaque ellipses and rectangles fall front to
  back at uniform random positions with radii drawn from ``p(r) ∝ r^-3`` between ``min_radius``
  and ``max_radius``; each pixel keeps the first leaf that covers it. The ``r^-3`` law makes the
  model scale invariant, which reproduces the ~1/f² power spectrum and the occlusion
  statistics of natural images (Lee, Mumford and Huang, "Occlusion Models for Natural Images:
  A Statistical Study of a Scale-Invariant Dead Leaves Model", IJCV 2001).
* **Materials**: each scene draws a palette of measured reflectances from a
  :class:`SpectralLibrary` and each leaf one of them (Zipf weights); with probability
  ``texture_prob`` it blends towards a second palette reflectance along a smooth random field
  (spectral texture), and it carries smooth luminance texture and a linear shading ramp
  (surface orientation).
* **Light**: each scene draws a measured illuminant by category (daylight, tungsten,
  fluorescent, LED); with probability ``mixed_prob`` a second light of another category is
  mixed in along a smooth spatial field (window light plus lamps).
* **Radiance** = reflectance x shading x illuminant, per band, then normalised like the ICVL
  protocol (99.9th percentile -> 1).

Item ``i`` is drawn from a generator seeded with ``(seed, i)``: deterministic and worker-safe.

Spectral libraries (:class:`SpectralLibrary`): the default ones come from colour-science (78
measured reflectances: two ColorChecker measurements, the CIE 2024 test colour samples, the NIST
CQS samples; CIE and measured light sources, CIE daylight at 4000-20000 K, Planckian
2500-3500 K). :func:`shared_reflectances` and :func:`shared_illuminants` load the richer
libraries of the shared data folder (121 k reflectances, about 400 illuminants), and
:meth:`SpectralLibrary.from_file` reads your own in the documented file format.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
from torch.utils.data import Dataset

from ..spectral import resample
from ._base import Sample, make_sample
from .readers import read_mat
from .transforms import SimulateRGB, resolve_band_grid, scale_exposure

__all__ = [
    "ILLUMINANT_CATEGORIES",
    "SpectralLibrary",
    "SpectralSet",
    "SyntheticScenes",
    "colour_illuminants",
    "colour_reflectances",
    "dead_leaves",
    "sample_radii",
    "shared_illuminants",
    "shared_reflectances",
    "smooth_noise",
]

#: The illuminant categories a scene's light is drawn from.
ILLUMINANT_CATEGORIES: tuple[str, ...] = ("daylight", "tungsten", "fluorescent", "led", "other")


# --------------------------------------------------------------------------------------------
# Spectral libraries
# --------------------------------------------------------------------------------------------


@dataclass
class SpectralSet:
    """Spectra measured on one wavelength grid.

    Attributes:
        name: the set's name (e.g. ``'munsell1269_matte'``).
        wavelengths: ``(K,)`` nm, increasing.
        values: ``(N, K)`` spectra: reflectance factors in [0, 1], or relative spectral power.
        groups: ``(N,)`` category of each spectrum (illuminants: one of
            :data:`ILLUMINANT_CATEGORIES`; reflectances: usually the set name).
    """

    name: str
    wavelengths: np.ndarray
    values: np.ndarray
    groups: np.ndarray

    def __post_init__(self) -> None:
        self.wavelengths = np.asarray(self.wavelengths, dtype=np.float64).reshape(-1)
        self.values = np.atleast_2d(np.asarray(self.values, dtype=np.float32))
        if self.values.shape[1] != self.wavelengths.size:
            raise ValueError(
                f"set {self.name!r}: spectra have {self.values.shape[1]} samples for "
                f"{self.wavelengths.size} wavelengths; store them as (N, K) rows"
            )
        self.groups = np.broadcast_to(np.asarray(self.groups, dtype=object), (len(self),)).copy()

    def __len__(self) -> int:
        return int(self.values.shape[0])

    def covers(self, lo: float, hi: float, tolerance_nm: float) -> bool:
        """Whether ``[lo, hi]`` nm lies inside the set's range, give or take ``tolerance_nm``."""
        return (
            lo >= self.wavelengths[0] - tolerance_nm and hi <= self.wavelengths[-1] + tolerance_nm
        )


class SpectralLibrary:
    """A collection of :class:`SpectralSet` s, possibly on different grids.

    Args:
        sets: the sets.
        kind: ``'reflectance'`` or ``'illuminant'``.

    Use :meth:`on_grid` to get every spectrum that covers a band grid, resampled onto it.

    File format (:meth:`from_file`), one of:

    * ``.npz`` with ``wavelengths_nm`` ``(K,)`` and any number of sets ``<name>`` ``(N, K)``;
    * ``.npz`` with, per set, ``<name>__wl`` ``(K,)`` and ``<name>__R`` (reflectance) or
      ``<name>__S`` (spectral power) ``(N, K)``, optionally ``<name>__category`` ``(N,)``
      strings (for illuminants: daylight, tungsten, fluorescent, led, other);
    * ``.mat`` with ``wavelength`` ``(K,)`` and ``data`` ``(K, N)`` (the isetbio layout);
    * ``.csv``: a header row, then one row per wavelength: the wavelength in nm, then one column
      per spectrum.

    Reflectances are factors in [0, 1]; illuminants are relative spectral power (any scale).
    """

    def __init__(
        self, sets: Sequence[SpectralSet], kind: Literal["reflectance", "illuminant"]
    ) -> None:
        if kind not in ("reflectance", "illuminant"):
            raise ValueError(f"kind must be 'reflectance' or 'illuminant', got {kind!r}")
        self.sets = [s for s in sets if len(s)]
        self.kind = kind

    def __len__(self) -> int:
        return sum(len(s) for s in self.sets)

    def __add__(self, other: SpectralLibrary) -> SpectralLibrary:
        if other.kind != self.kind:
            raise ValueError(f"cannot join a {self.kind} library with an {other.kind} library")
        return SpectralLibrary([*self.sets, *other.sets], self.kind)

    def __repr__(self) -> str:
        names = ", ".join(f"{s.name} ({len(s)})" for s in self.sets[:6])
        more = f", ... {len(self.sets) - 6} more" if len(self.sets) > 6 else ""
        return f"SpectralLibrary({self.kind}, {len(self)} spectra: {names}{more})"

    def select(
        self, sets: Sequence[str] | None = None, exclude: str | None = None
    ) -> SpectralLibrary:
        """A library with only the named sets and/or without sets matching regex ``exclude``."""
        keep = [
            s
            for s in self.sets
            if (sets is None or s.name in sets) and not (exclude and re.search(exclude, s.name))
        ]
        return SpectralLibrary(keep, self.kind)

    def on_grid(
        self, wavelengths: Any, tolerance_nm: float = 5.0
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every spectrum whose set covers ``wavelengths``, resampled onto them.

        A set finer than the target (e.g. 1 nm to 10 nm) is band-integrated
        (``method='gaussian'``), otherwise interpolated (``'linear'``), with
        :func:`ssrzoo.spectral.resample`. Sets that miss the range by more than ``tolerance_nm``
        are left out.

        Returns:
            ``(spectra (N, C) float32, groups (N,) object, set_index (N,) int)``.

        Raises:
            ValueError: no set covers the grid (the message lists the sets' ranges).
        """
        dst = np.asarray(resolve_band_grid(wavelengths)[0])
        blocks, groups, index = [], [], []
        dst_step = float(np.median(np.diff(dst))) if dst.size > 1 else 10.0
        for i, s in enumerate(self.sets):
            if not s.covers(dst[0], dst[-1], tolerance_nm):
                continue
            src_step = float(np.median(np.diff(s.wavelengths))) if s.wavelengths.size > 1 else 1
            method = "gaussian" if src_step < dst_step / 1.5 else "linear"
            outside = bool(dst[0] < s.wavelengths[0] or dst[-1] > s.wavelengths[-1])
            vals = resample(
                s.values, s.wavelengths, dst, method=method, axis=-1, extrapolate=outside
            )
            blocks.append(np.asarray(vals, dtype=np.float32))
            groups.append(s.groups)
            index.append(np.full(len(s), i))
        if not blocks:
            ranges = ", ".join(
                f"{s.name} {s.wavelengths[0]:g}-{s.wavelengths[-1]:g} nm" for s in self.sets
            )
            raise ValueError(
                f"no {self.kind} set covers {dst[0]:g}-{dst[-1]:g} nm (library: {ranges}); "
                f"use a band grid inside these ranges or add spectra that cover it"
            )
        return np.concatenate(blocks), np.concatenate(groups), np.concatenate(index)

    @classmethod
    def from_file(
        cls,
        path: str | Path,
        kind: Literal["reflectance", "illuminant"] = "reflectance",
        group: str | None = None,
    ) -> SpectralLibrary:
        """Read a library file (format in the class docstring).

        Args:
            path: the ``.npz``, ``.mat`` or ``.csv`` file.
            kind: ``'reflectance'`` or ``'illuminant'``.
            group: category for every spectrum (e.g. ``'fluorescent'``), overriding the file's.

        Raises:
            ValueError: an unreadable or unrecognised file (names it).
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no such spectral library file: {path}")
        suffix = path.suffix.lower()
        try:
            if suffix == ".npz":
                sets = _sets_from_npz(path)
            elif suffix == ".mat":
                sets = _sets_from_mat(path)
            elif suffix == ".csv":
                sets = _sets_from_csv(path)
            else:
                raise ValueError(f"unsupported suffix {suffix!r}; use .npz, .mat or .csv")
        except (OSError, KeyError, ValueError) as err:
            raise ValueError(f"cannot read spectral library {path}: {err}") from err
        if group is not None:
            for s in sets:
                s.groups = np.full(len(s), group, dtype=object)
        if not sets:
            raise ValueError(f"{path} holds no spectra in a recognised layout (see from_file)")
        return cls(sets, kind)


def _sets_from_npz(path: Path) -> list[SpectralSet]:
    with np.load(path, allow_pickle=False) as z:
        files = {k: z[k] for k in z.files}
    sets = []
    if "wavelengths_nm" in files:
        wl = files.pop("wavelengths_nm")
        for name, values in files.items():
            if values.ndim == 2 and values.shape[1] == wl.size:
                sets.append(SpectralSet(name, wl, values, name))
        return sets
    for key in files:
        if key.endswith("__wl"):
            name = key[: -len("__wl")]
            values = files.get(f"{name}__R", files.get(f"{name}__S"))
            if values is None:
                continue
            cat = files.get(f"{name}__category")
            groups = (
                cat.astype(str).astype(object)
                if cat is not None and cat.dtype.kind in "US"
                else name
            )
            sets.append(SpectralSet(name, files[key], values, groups))
    return sets


def _sets_from_mat(path: Path) -> list[SpectralSet]:
    data = read_mat(path)
    if "wavelength" not in data or "data" not in data:
        raise ValueError("expected variables 'wavelength' (K,) and 'data' (K, N)")
    wl = np.asarray(data["wavelength"], dtype=np.float64).reshape(-1)
    values = np.asarray(data["data"], dtype=np.float64)
    if values.shape[0] != wl.size:
        values = values.T
    return [SpectralSet(path.stem, wl, values.T, path.stem)]


def _sets_from_csv(path: Path) -> list[SpectralSet]:
    table = np.genfromtxt(path, delimiter=",", skip_header=1, dtype=np.float64)
    table = np.atleast_2d(table)
    return [SpectralSet(path.stem, table[:, 0], table[:, 1:].T, path.stem)]


def _colour_sds(
    sds: Mapping[str, Any], name: str, groups: Sequence[str] | str
) -> list[SpectralSet]:
    """SpectralSets from colour-science SpectralDistributions, one set per distinct grid."""
    by_grid: dict[tuple[float, float, float], tuple[list[np.ndarray], list[str]]] = {}
    group_list = [groups] * len(sds) if isinstance(groups, str) else list(groups)
    for (_, sd), g in zip(sds.items(), group_list, strict=True):
        wl = np.asarray(sd.wavelengths, dtype=np.float64)
        key = (wl[0], wl[-1], wl.size)
        vals, grp = by_grid.setdefault(key, ([], []))
        vals.append(np.asarray(sd.values, dtype=np.float64))
        grp.append(g)
    out = []
    for (lo, hi, n), (vals, grp) in by_grid.items():
        out.append(SpectralSet(f"{name}", np.linspace(lo, hi, n), np.stack(vals), grp))
    return out


def colour_reflectances() -> SpectralLibrary:
    """The measured reflectances colour-science ships (78 spectra).

    ColorChecker (BabelColor average, 380-730 nm; N Ohta, 380-780 nm), CIE 2024 test colour
    samples (15) and NIST CQS 9.0 samples (15), 360-830 nm.
    """
    import colour
    from colour.quality.datasets import SDS_TCS, SDS_VS

    sets: list[SpectralSet] = []
    sets += _colour_sds(
        colour.SDS_COLOURCHECKERS["BabelColor Average"], "colorchecker_babel", "colorchecker"
    )
    sets += _colour_sds(
        colour.SDS_COLOURCHECKERS["ColorChecker N Ohta"], "colorchecker_ohta", "colorchecker"
    )
    sets += _colour_sds(SDS_TCS["CIE 2024"], "cie_tcs_2024", "cie_tcs")
    sets += _colour_sds(SDS_VS["NIST CQS 9.0"], "nist_cqs_9", "nist_cqs")
    return SpectralLibrary(sets, "reflectance")


def _light_category(name: str) -> str | None:
    """The category of a colour-science illuminant or light source, from its name."""
    n = name.lower()
    if n == "e":
        return None  # equal energy is not a light anyone meets
    if "led" in n or n.startswith("phos") or "luxeon" in n:
        return "led"
    if re.match(r"^fl\d", n) or re.search(
        r"\bfl\b|fluorescent|triphosphor|t8 |tl-84|kolor-rite|^f3[24]|^f40", n
    ):
        return "fluorescent"
    if (
        n in ("a", "sa")
        or "incandescent" in n
        or "tungsten" in n
        or "photoflood" in n
        or "a/w" in n
    ):
        return "tungsten"
    if re.match(r"^i?d\d\d$", n) or "daylight" in n or n in ("b", "c"):
        return "daylight"
    return "other"


def _planck_and_daylight() -> list[SpectralSet]:
    """CIE daylight at 4000-20000 K (every 500 K) and Planckian lights at 2500-3500 K."""
    import colour

    shape = colour.SpectralShape(300, 830, 5)
    day = []
    for cct in np.arange(4000.0, 20001.0, 500.0):
        # CIE D-series CCTs use the pre-1968 c2; the 1.4388/1.4380 factor is the CIE's own.
        xy = colour.temperature.CCT_to_xy_CIE_D(cct * 1.4388 / 1.4380)
        day.append(np.asarray(colour.sd_CIE_illuminant_D_series(xy).align(shape).values))
    bb_shape = colour.SpectralShape(300, 2500, 5)
    bb = [
        np.asarray(colour.sd_blackbody(t, bb_shape).values)
        for t in np.arange(2500.0, 3501.0, 100.0)
    ]
    return [
        SpectralSet("cie_daylight_4000_20000K", shape.wavelengths, np.stack(day), "daylight"),
        SpectralSet("planckian_2500_3500K", bb_shape.wavelengths, np.stack(bb), "tungsten"),
    ]


def colour_illuminants() -> SpectralLibrary:
    """The light sources colour-science ships, by category, plus CIE daylight and Planckian series.

    CIE illuminants (A, D50-D75, ID50/ID65, FL1-FL12, FL3.1-FL3.15, HP1-HP5, LED-B1...V2, ISO
    7589) and the measured light sources of ``colour.SDS_LIGHT_SOURCES`` (fluorescent, LED,
    incandescent, discharge lamps), each with a category from :data:`ILLUMINANT_CATEGORIES`;
    CIE daylight at 4000-20000 K and Planckian radiators at 2500-3500 K.
    """
    import colour

    sets: list[SpectralSet] = []
    for source, name in ((colour.SDS_ILLUMINANTS, "cie"), (colour.SDS_LIGHT_SOURCES, "sources")):
        keep = {k: v for k, v in source.items() if _light_category(k) is not None}
        sets += _colour_sds(keep, f"colour_{name}", [_light_category(k) or "" for k in keep])
    return SpectralLibrary(sets + _planck_and_daylight(), "illuminant")


def shared_reflectances(root: str | Path) -> SpectralLibrary:
    """The measured reflectances of the shared data folder (about 120 k spectra).

    From ``spectra/luxpy_1.12.5/luxpy_reflectances_400_700_10nm.npz`` every set except the
    ``*synthetic*`` ones (capbone 114 k, IES TM-30 4880, Munsell 1269, Opstelten 215, CRI2012 real
    210, ...), and from ``spectra/isetbio_v0.1/surfaces`` the Vrhel natural, object, food,
    clothes, hair, paint and Munsell sets (400-700 nm). Licences: luxpy GPLv3, isetbio MIT.

    Args:
        root: the shared data folder (or its ``spectra`` sub-folder).
    """
    base = Path(root)
    base = base / "spectra" if (base / "spectra").is_dir() else base
    lib = SpectralLibrary.from_file(base / "luxpy_1.12.5" / "luxpy_reflectances_400_700_10nm.npz")
    lib = lib.select(exclude="synthetic")
    for name in (
        "Nature",
        "Objects",
        "Food",
        "Clothes",
        "Hair",
        "DupontPaintChip",
        "MunsellSamples",
    ):
        path = base / "isetbio_v0.1" / "surfaces" / f"{name}_Vhrel.mat"
        if path.is_file():
            lib = lib + SpectralLibrary.from_file(path)
    return lib


#: Categories of the CIE illuminant sets in ``luxpy_illuminants_native.npz``.
_LUXPY_CIE_CATEGORY: dict[str, str | list[str]] = {
    "cie_A": "tungsten",
    "cie_B": "daylight",
    "cie_C": "daylight",
    "cie_D65": "daylight",
    "cie_F1_12": "fluorescent",
    "cie_F3_1_15": "fluorescent",
    "cie_HP1_5": "other",
    "cie_LED_B1_B5_BH1_RGB1_V1_V2": "led",
    "cie_L41": "led",
}

_TM30_TYPE_CATEGORY: dict[str, str] = {
    "fluorescent": "fluorescent",
    "high intensity discharge": "other",
    "incandescent/filament": "tungsten",
    "led": "led",
    "mathematical": "other",
    "other": "other",
}


def shared_illuminants(root: str | Path) -> SpectralLibrary:
    """The measured illuminants of the shared data folder (about 350), by category.

    ``spectra/luxpy_1.12.5/luxpy_illuminants_native.npz``: the CIE sets (A, B, C, D65, F1-F12,
    F3.1-F3.15, HP1-HP5, LEDs) and the 318 IES TM-30-15 sources, categorised from
    ``IESTM30_15_Sinfo.txt``; from ``spectra/isetbio_v0.1/lights``: measured daylight, tungsten,
    fluorescent and flash spectra. The CIE daylight basis is not a light and is left out (CIE
    daylight at any CCT comes with :func:`colour_illuminants`).

    Args:
        root: the shared data folder (or its ``spectra`` sub-folder).
    """
    base = Path(root)
    base = base / "spectra" if (base / "spectra").is_dir() else base
    folder = base / "luxpy_1.12.5"
    lib = SpectralLibrary.from_file(folder / "luxpy_illuminants_native.npz", "illuminant")
    info = folder / "IESTM30_15_Sinfo.txt"
    tm30: list[str] = []
    if info.is_file():
        for line in info.read_text().splitlines()[1:]:
            parts = [p.strip() for p in line.split(",")]
            if len(parts) >= 3 and parts[0].isdigit():
                kind = parts[2].lower()
                tm30.append(
                    next((v for k, v in _TM30_TYPE_CATEGORY.items() if kind.startswith(k)), "other")
                )
    sets = []
    for s in lib.sets:
        if s.name == "cie_daylight_S0_S1_S2":
            continue
        if s.name in _LUXPY_CIE_CATEGORY:
            s.groups = np.full(len(s), _LUXPY_CIE_CATEGORY[s.name], dtype=object)
        elif s.name.startswith("iestm30") and len(tm30) == len(s):
            s.groups = np.asarray(tm30, dtype=object)
        else:
            s.groups = np.full(len(s), "other", dtype=object)
        sets.append(s)
    lights = {
        "DaylightPsychBldg": "daylight",
        "Tungsten": "tungsten",
        "Fluorescent": "fluorescent",
        "FluorescentOffice": "fluorescent",
        "Fluorescent2": "fluorescent",
        "Fluorescent7": "fluorescent",
        "Fluorescent11": "fluorescent",
        "VivitarFlash": "other",
    }
    for name, category in lights.items():
        path = base / "isetbio_v0.1" / "lights" / f"{name}.mat"
        if path.is_file():
            sets += SpectralLibrary.from_file(path, "illuminant", group=category).sets
    return SpectralLibrary(sets, "illuminant")


# --------------------------------------------------------------------------------------------
# Geometry and texture
# --------------------------------------------------------------------------------------------


def sample_radii(
    rng: np.random.Generator, n: int, min_radius: float, max_radius: float, alpha: float = 3.0
) -> np.ndarray:
    """``n`` radii from ``p(r) ∝ r^-alpha`` on ``[min_radius, max_radius]`` (inverse CDF)."""
    if not 0 < min_radius <= max_radius:
        raise ValueError(f"need 0 < min_radius <= max_radius, got {min_radius}, {max_radius}")
    u = rng.random(n)
    if abs(alpha - 1.0) < 1e-9:
        return min_radius * (max_radius / min_radius) ** u
    a, b = min_radius ** (1 - alpha), max_radius ** (1 - alpha)
    return (a + u * (b - a)) ** (1.0 / (1 - alpha))


def smooth_noise(rng: np.random.Generator, height: int, width: int, beta: float) -> np.ndarray:
    """Gaussian noise with power spectrum ``∝ 1/f^beta``, zero mean, unit std, ``(H, W)``."""
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.rfftfreq(width)[None, :]
    f = np.sqrt(fx * fx + fy * fy)
    f[0, 0] = 1.0
    amp = f ** (-beta / 2.0)
    amp[0, 0] = 0.0
    spec = (rng.standard_normal(f.shape) + 1j * rng.standard_normal(f.shape)) * amp
    field = np.fft.irfft2(spec, s=(height, width))
    std = field.std()
    return (field - field.mean()) / (std if std > 0 else 1.0)


def _inside(u: Any, v: Any, a: Any, b: Any, rect: Any) -> np.ndarray:
    """Whether offsets ``(u, v)`` along a leaf's axes fall inside it (ellipse or rectangle)."""
    return np.where(rect, (np.abs(u) <= a) & (np.abs(v) <= b), (u / a) ** 2 + (v / b) ** 2 <= 1.0)


#: Leaves up to this radius (px) are rasterised together on a fixed stencil.
_SMALL_RADIUS = 4.0


def dead_leaves(
    rng: np.random.Generator,
    height: int,
    width: int,
    min_radius: float = 1.5,
    max_radius: float | None = None,
    alpha: float = 3.0,
    rect_prob: float = 0.3,
    max_leaves: int = 50_000,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """A dead-leaves label map, leaves falling front to back until the image is covered.

    Each leaf is an ellipse (axis ratio 0.4-1) or, with probability ``rect_prob``, a rectangle,
    at a random angle, radius from :func:`sample_radii`, centred uniformly in the image; a pixel
    keeps the first leaf that covers it. The last uncovered pixels (once 99.9 % are covered, or
    after ``max_leaves``) take the label of their nearest covered pixel, which avoids drawing
    thousands of leaves that land on covered ground.

    Leaves fall in batches of 256. Within a batch the large leaves are drawn first and the small
    ones (radius <= 4 px) after them in one vectorised step; leaves are independent and
    identically distributed, so this reordering inside a batch leaves the model unchanged.

    Returns:
        ``(labels (H, W) int32 in 0..L-1, leaves)`` with ``leaves`` holding ``(L,)`` arrays
        ``cy``, ``cx``, ``radius``, ``angle`` of the visible leaves.
    """
    from scipy.ndimage import distance_transform_edt

    max_radius = float(max(height, width)) if max_radius is None else float(max_radius)
    min_radius = min(float(min_radius), max_radius)
    labels = np.full((height, width), -1, dtype=np.int32)
    flat = labels.reshape(-1)
    uncovered = height * width
    stop = max(1, int(0.001 * height * width))
    kept: list[np.ndarray] = []
    n_kept = 0
    drawn = 0
    half = int(np.ceil(_SMALL_RADIUS)) + 1
    offs = np.arange(-half, half + 1, dtype=np.float64)
    while uncovered > stop and drawn < max_leaves:
        batch = 256
        r = sample_radii(rng, batch, min_radius, max_radius, alpha)
        cy = rng.uniform(-0.5, height - 0.5, batch)
        cx = rng.uniform(-0.5, width - 0.5, batch)
        ang = rng.uniform(0.0, np.pi, batch)
        ratio = rng.uniform(0.4, 1.0, batch)
        rect = rng.random(batch) < rect_prob
        cos, sin = np.cos(ang), np.sin(ang)
        drawn += batch
        for i in np.flatnonzero(r > _SMALL_RADIUS):
            a = r[i]
            y0, y1 = max(int(np.floor(cy[i] - a)), 0), min(int(cy[i] + a) + 2, height)
            x0, x1 = max(int(np.floor(cx[i] - a)), 0), min(int(cx[i] + a) + 2, width)
            if y0 >= y1 or x0 >= x1:
                continue
            sub = labels[y0:y1, x0:x1]
            free = sub < 0
            if not free.any():
                continue
            dy = np.arange(y0, y1)[:, None] - cy[i]
            dx = np.arange(x0, x1)[None, :] - cx[i]
            u = dx * cos[i] + dy * sin[i]
            v = dy * cos[i] - dx * sin[i]
            hit = _inside(u, v, a, a * ratio[i], rect[i]) & free
            n_hit = int(hit.sum())
            if n_hit:
                sub[hit] = n_kept
                kept.append(np.array([cy[i], cx[i], r[i], ang[i]]))
                n_kept += 1
                uncovered -= n_hit
        small = np.flatnonzero(r <= _SMALL_RADIUS)
        if small.size and uncovered > 0:
            py = np.round(cy[small])[:, None, None] + offs[None, :, None]
            px = np.round(cx[small])[:, None, None] + offs[None, None, :]
            dy, dx = py - cy[small, None, None], px - cx[small, None, None]
            c, s_ = cos[small, None, None], sin[small, None, None]
            a = r[small, None, None]
            inside = _inside(
                dx * c + dy * s_,
                dy * c - dx * s_,
                a,
                a * ratio[small, None, None],
                rect[small, None, None],
            )
            inside &= (py >= 0) & (py < height) & (px >= 0) & (px < width)
            leaf, iy, ix = np.nonzero(inside)
            pix = (py[leaf, iy, 0] * width + px[leaf, 0, ix]).astype(np.int64)
            free = flat[pix] < 0
            leaf, pix = leaf[free], pix[free]
            if pix.size:
                order = np.lexsort((leaf, pix))  # per pixel, the first leaf to fall wins
                pix, leaf = pix[order], leaf[order]
                first = np.r_[True, pix[1:] != pix[:-1]]
                pix, leaf = pix[first], leaf[first]
                winners = np.unique(leaf)
                flat[pix] = n_kept + np.searchsorted(winners, leaf)
                w = small[winners]
                kept.extend(np.stack([cy[w], cx[w], r[w], ang[w]], axis=1))
                n_kept += winners.size
                uncovered -= pix.size
    if not kept:
        labels[:] = 0
        kept.append(np.array([height / 2, width / 2, max_radius, 0.0]))
    elif uncovered:
        _, (iy, ix) = distance_transform_edt(labels < 0, return_indices=True)
        labels = labels[iy, ix]
    arr = np.asarray(kept, dtype=np.float64).reshape(-1, 4)
    leaves = {"cy": arr[:, 0], "cx": arr[:, 1], "radius": arr[:, 2], "angle": arr[:, 3]}
    return labels, leaves


# --------------------------------------------------------------------------------------------
# Scenes
# --------------------------------------------------------------------------------------------


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


class SyntheticScenes(Dataset[Sample]):
    """Synthetic radiance scenes: dead leaves x measured reflectances x measured illuminants.

    See the module docstring for the model. Generated on the fly; item ``i`` depends only on
    ``(seed, i)``.

    Args:
        size: ``(height, width)`` or one int, in pixels; any size.
        length: number of scenes per epoch.
        bands: band grid (model name, ``BandGrid`` or centres in nm); default 400-700 nm at
            10 nm.
        seed: base seed.
        reflectances: reflectance library; default :func:`colour_reflectances`.
        illuminants: illuminant library; default :func:`colour_illuminants`.
        illuminant_weights: probability of each category (renormalised over the categories the
            library has on the grid); default daylight 0.4, tungsten 0.2, fluorescent 0.2,
            LED 0.2.
        mixed_prob: probability that a second light of another category is mixed in.
        min_radius: smallest leaf radius in pixels.
        max_radius: largest leaf radius in pixels (default the larger image side).
        alpha: exponent of the radius law ``p(r) ∝ r^-alpha`` (3 = scale invariant).
        rect_prob: fraction of rectangular leaves (man-made objects) among elliptical ones.
        texture_prob: probability that a leaf blends into a second reflectance.
        palette_size: ``(low, high)``: each scene draws a palette of that many materials
            (uniform count) and its leaves draw from it with Zipf weights ``∝ 1/rank``, as real
            scenes are made of a few dominant materials; None draws every leaf from the whole
            library.
        exposure: optional ``(low, high)`` log-uniform exposure factor after normalisation.
        rgb: a :class:`~ssrzoo.data.SimulateRGB` to add ``'rgb'``, or None.
        return_reflectance: also return the reflectance cube as ``'reflectance'``.
        transforms: applied to each sample dict.

    Sample: ``hsi (C, H, W)`` radiance with its 99.9th percentile at 1, ``wavelengths``,
    ``illuminant (C,)`` (the primary light, unit mean), ``illuminant_category``, ``mixed``
    (bool), ``name``; ``rgb`` and ``reflectance`` when asked for.
    """

    default_illuminant_weights: ClassVar[dict[str, float]] = {
        "daylight": 0.4,
        "tungsten": 0.2,
        "fluorescent": 0.2,
        "led": 0.2,
    }

    def __init__(
        self,
        size: int | Sequence[int] = 128,
        length: int = 1000,
        bands: Any = None,
        seed: int = 0,
        reflectances: SpectralLibrary | None = None,
        illuminants: SpectralLibrary | None = None,
        illuminant_weights: Mapping[str, float] | None = None,
        mixed_prob: float = 0.25,
        min_radius: float = 1.5,
        max_radius: float | None = None,
        alpha: float = 3.0,
        rect_prob: float = 0.3,
        texture_prob: float = 0.6,
        palette_size: tuple[int, int] | None = (3, 12),
        exposure: tuple[float, float] | None = None,
        rgb: SimulateRGB | None = None,
        return_reflectance: bool = False,
        transforms: Callable[[Sample], Sample] | None = None,
    ) -> None:
        h, w = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
        if h < 1 or w < 1:
            raise ValueError(f"size must be positive, got {size}")
        self.size = (h, w)
        self.length = int(length)
        self.wavelengths = (
            np.arange(400.0, 701.0, 10.0) if bands is None else resolve_band_grid(bands)[0]
        )
        self.seed = seed
        refl = reflectances if reflectances is not None else colour_reflectances()
        lights = illuminants if illuminants is not None else colour_illuminants()
        self.reflectances, _, refl_set = refl.on_grid(self.wavelengths)
        self.reflectances = np.clip(self.reflectances, 0.0, 1.0)
        # Sets are drawn with probability ∝ sqrt(size): a 114 k compilation does not drown a
        # 79-sample natural set, and a 1-sample set is not drawn as often as a large one.
        counts = np.bincount(refl_set)
        p = np.sqrt(counts[refl_set].astype(np.float64)) / counts[refl_set]
        self._refl_p = p / p.sum()
        spd, groups, _ = lights.on_grid(self.wavelengths)
        spd = np.clip(spd, 0.0, None)
        mean = spd.mean(axis=1, keepdims=True)
        ok = mean[:, 0] > 0
        self.illuminants = (spd[ok] / mean[ok]).astype(np.float32)
        self.illuminant_groups = groups[ok]
        weights = dict(illuminant_weights or self.default_illuminant_weights)
        unknown = sorted(set(weights) - set(ILLUMINANT_CATEGORIES))
        if unknown:
            raise ValueError(
                f"unknown illuminant categories {unknown}; use {ILLUMINANT_CATEGORIES}"
            )
        present = {c: np.flatnonzero(self.illuminant_groups == c) for c in weights}
        self._categories = [c for c, v in weights.items() if v > 0 and present[c].size]
        if not self._categories:
            raise ValueError(
                f"the illuminant library has no spectra of categories {sorted(weights)} on "
                f"{self.wavelengths[0]:g}-{self.wavelengths[-1]:g} nm"
            )
        cw = np.asarray([weights[c] for c in self._categories], dtype=np.float64)
        self._category_p = cw / cw.sum()
        self._members = {c: present[c] for c in self._categories}
        self.mixed_prob = mixed_prob
        self.min_radius = min_radius
        self.max_radius = max_radius
        self.alpha = alpha
        self.rect_prob = rect_prob
        self.texture_prob = texture_prob
        if palette_size is not None and not 1 <= palette_size[0] <= palette_size[1]:
            raise ValueError(
                f"palette_size must be (low, high) with 1 <= low <= high, got {palette_size}"
            )
        self.palette_size = palette_size
        self.exposure = exposure
        self.rgb = rgb
        self.return_reflectance = return_reflectance
        self.transforms = transforms

    def __len__(self) -> int:
        return self.length

    def _light(self, rng: np.random.Generator, avoid: str | None = None) -> tuple[np.ndarray, str]:
        cats, p = self._categories, self._category_p
        if avoid is not None and len(cats) > 1:
            keep = [i for i, c in enumerate(cats) if c != avoid]
            cats = [cats[i] for i in keep]
            p = p[keep] / p[keep].sum()
        cat = cats[int(rng.choice(len(cats), p=p))]
        idx = int(rng.choice(self._members[cat]))
        return self.illuminants[idx], cat

    def _materials(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Library indices of each leaf's main and secondary reflectance."""
        n_refl = self.reflectances.shape[0]
        if self.palette_size is None:
            return rng.choice(n_refl, n, p=self._refl_p), rng.choice(n_refl, n, p=self._refl_p)
        k = int(rng.integers(self.palette_size[0], self.palette_size[1] + 1))
        palette = rng.choice(n_refl, size=k, p=self._refl_p)
        zipf = 1.0 / np.arange(1, k + 1)
        zipf /= zipf.sum()
        return palette[rng.choice(k, n, p=zipf)], palette[rng.choice(k, n, p=zipf)]

    def generate(self, index: int) -> Sample:
        """Scene ``index`` (without ``transforms``)."""
        rng = np.random.default_rng([self.seed, index])
        h, w = self.size
        labels, leaves = dead_leaves(
            rng, h, w, self.min_radius, self.max_radius, self.alpha, self.rect_prob
        )
        n = leaves["radius"].size
        ra, rb = self._materials(rng, n)
        mix = np.where(rng.random(n) < self.texture_prob, rng.uniform(0.2, 1.0, n), 0.0)
        lum_amp = rng.uniform(0.0, 0.35, n)
        base = rng.uniform(0.5, 1.0, n)
        grad = rng.uniform(0.0, 0.5, n)
        gdir = rng.uniform(0.0, 2 * np.pi, n)

        yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
        lab = labels
        r = np.maximum(leaves["radius"][lab], 1.0)
        ramp = (
            (xx - leaves["cx"][lab]) * np.cos(gdir)[lab]
            + (yy - leaves["cy"][lab]) * np.sin(gdir)[lab]
        ) / r
        shading = base[lab] * np.clip(1.0 + grad[lab] * ramp, 0.1, None)
        shading *= np.clip(1.0 + lum_amp[lab] * smooth_noise(rng, h, w, 2.0), 0.05, None)
        # A scene-wide soft light falloff (vignetting of the light, large shadows).
        shading *= np.exp(0.25 * smooth_noise(rng, h, w, 4.0))
        t = mix[lab] * _sigmoid(2.0 * smooth_noise(rng, h, w, 3.0))

        refl_a = self.reflectances[ra][lab]
        refl_b = self.reflectances[rb][lab]
        refl = refl_a + t[..., None].astype(np.float32) * (refl_b - refl_a)

        light, category = self._light(rng)
        mixed = bool(rng.random() < self.mixed_prob) and len(self._categories) > 1
        if mixed:
            light2, _ = self._light(rng, avoid=category)
            ang = rng.uniform(0, 2 * np.pi)
            ramp_img = (xx / max(w, 1) - 0.5) * np.cos(ang) + (yy / max(h, 1) - 0.5) * np.sin(ang)
            wmap = _sigmoid(6.0 * ramp_img + 1.0 * smooth_noise(rng, h, w, 4.0))[..., None]
            illum = wmap * light + (1.0 - wmap) * light2
        else:
            illum = light[None, None, :]
        radiance = refl * shading[..., None].astype(np.float32) * illum.astype(np.float32)
        cube = np.ascontiguousarray(radiance.transpose(2, 0, 1), dtype=np.float32)
        peak = float(np.percentile(cube, 99.9))
        scale = np.float32(1.0 / peak) if peak > 0 else np.float32(1.0)
        cube *= scale
        extra: dict[str, Any] = {
            "illuminant": light.astype(np.float32),
            "illuminant_category": category,
            "mixed": mixed,
        }
        if self.return_reflectance:
            extra["reflectance"] = np.ascontiguousarray(refl.transpose(2, 0, 1), dtype=np.float32)
        sample = make_sample(cube, self.wavelengths, name=f"synthetic_{self.seed}_{index}", **extra)
        if self.exposure is not None:
            lo, hi = self.exposure
            sample = scale_exposure(sample, float(np.exp(rng.uniform(np.log(lo), np.log(hi)))))
        if self.rgb is not None:
            sample = self.rgb(sample, seed=int(rng.integers(0, 2**31 - 1)))
        return sample

    def __getitem__(self, index: int) -> Sample:
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} is out of range for {len(self)} scenes")
        sample = self.generate(index)
        return self.transforms(sample) if self.transforms is not None else sample

    @classmethod
    def from_shared(cls, root: str | Path, **kwargs: Any) -> SyntheticScenes:
        """Scenes with the rich libraries of the shared data folder.

        Reflectances: :func:`shared_reflectances`; illuminants: :func:`shared_illuminants` plus
        the CIE daylight and Planckian series of :func:`colour_illuminants`.
        """
        extra = SpectralLibrary(_planck_and_daylight(), "illuminant")
        kwargs.setdefault("reflectances", shared_reflectances(root))
        kwargs.setdefault("illuminants", shared_illuminants(root) + extra)
        return cls(**kwargs)

    def __repr__(self) -> str:
        wl = self.wavelengths
        return (
            f"SyntheticScenes(size={self.size}, length={self.length}, bands={wl.size} "
            f"({wl[0]:g}-{wl[-1]:g} nm), reflectances={self.reflectances.shape[0]}, "
            f"illuminants={self.illuminants.shape[0]}, seed={self.seed})"
        )
