"""Spectral libraries: measured reflectances and illuminants, on any band grid.

The default ones come from colour-science (:func:`colour_reflectances`: 78 measured
reflectances, two ColorChecker measurements, the CIE 2024 test colour samples, the NIST CQS
samples; :func:`colour_illuminants`: CIE and measured light sources, CIE daylight at
4000-20000 K, Planckian 2500-3500 K). :func:`shared_reflectances` and
:func:`shared_illuminants` load the richer libraries of the shared data folder (121 k
reflectances, about 400 illuminants), and :meth:`SpectralLibrary.from_file` reads your own in
the documented file format. :class:`~ssrzoo.data.SyntheticScenes` draws its materials and
lights from them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ..io.readers import read_mat
from ..spectral import resample
from .transforms import resolve_band_grid

__all__ = [
    "ILLUMINANT_CATEGORIES",
    "SpectralLibrary",
    "SpectralSet",
    "colour_illuminants",
    "colour_reflectances",
    "shared_illuminants",
    "shared_reflectances",
]

#: The illuminant categories a scene's light is drawn from.
ILLUMINANT_CATEGORIES: tuple[str, ...] = ("daylight", "tungsten", "fluorescent", "led", "other")


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
    return [SpectralSet(path.stem, wl, values.T, np.asarray(path.stem, dtype=object))]


def _sets_from_csv(path: Path) -> list[SpectralSet]:
    table = np.genfromtxt(path, delimiter=",", skip_header=1, dtype=np.float64)
    table = np.atleast_2d(table)
    return [
        SpectralSet(path.stem, table[:, 0], table[:, 1:].T, np.asarray(path.stem, dtype=object))
    ]


def _colour_sds(
    sds: Mapping[str, Any], name: str, groups: Sequence[str] | str
) -> list[SpectralSet]:
    """SpectralSets from colour-science SpectralDistributions, one set per distinct grid."""
    by_grid: dict[tuple[float, float, int], tuple[list[np.ndarray], list[str]]] = {}
    group_list = [groups] * len(sds) if isinstance(groups, str) else list(groups)
    for (_, sd), g in zip(sds.items(), group_list, strict=True):
        wl = np.asarray(sd.wavelengths, dtype=np.float64)
        key = (wl[0], wl[-1], wl.size)
        vals, grp = by_grid.setdefault(key, ([], []))
        vals.append(np.asarray(sd.values, dtype=np.float64))
        grp.append(g)
    out = []
    for (lo, hi, n), (vals, grp) in by_grid.items():
        groups_array = np.asarray(grp, dtype=object)
        out.append(SpectralSet(f"{name}", np.linspace(lo, hi, n), np.stack(vals), groups_array))
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
        SpectralSet(
            "cie_daylight_4000_20000K",
            shape.wavelengths,
            np.stack(day),
            np.asarray("daylight", dtype=object),
        ),
        SpectralSet(
            "planckian_2500_3500K",
            bb_shape.wavelengths,
            np.stack(bb),
            np.asarray("tungsten", dtype=object),
        ),
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
