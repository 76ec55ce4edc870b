"""Spectral responses (camera sensitivities, colour matching functions), a registry, file loaders.

A :class:`SpectralResponse` is ``C`` channels sampled at ``N`` wavelengths (nm); ``matrix(grid)``
samples it on a cube's bands so ``rgb = matrix @ spectrum``.

Shipped (registry, from the colour-science package, BSD-3, never retyped):

* ``'cie1931_2deg'``, ``'cie1964_10deg'``, ``'cie2015_2deg'``, ``'cie2015_10deg'``: CIE
  colour matching functions ``x_bar, y_bar, z_bar`` at 1 nm, 360–830 nm.
* ``'nikon_5100_npl'``, ``'sigma_sdmerill_npl'``: the camera sensitivities that colour-science
  ships (``colour.MSDS_CAMERA_SENSITIVITIES``, NPL measurements), channels ``R, G, B``.

Loaded from files the user provides (licences unclear, so not shipped); formats in
``docs/spectral.md``: :func:`load_ntire2022_qe`, :func:`load_camspec_jiang2013`,
:func:`load_responses_mat`, :func:`load_nikon_d700`, :func:`load_rosis_srf`.
"""

from __future__ import annotations

import csv
import difflib
import fnmatch
import re
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from ._arrays import as_wavelengths
from .bands import resampling_matrix

__all__ = [
    "SpectralResponse",
    "get_response",
    "list_responses",
    "load_camspec_jiang2013",
    "load_nikon_d700",
    "load_ntire2022_qe",
    "load_responses_mat",
    "load_rosis_srf",
    "register_response",
]


class SpectralResponse:
    """``C`` spectral sensitivities sampled at ``N`` increasing wavelengths.

    Args:
        wavelengths: sample wavelengths in nm, shape ``(N,)``, strictly increasing.
        values: sensitivities, shape ``(C, N)`` (one row per channel), finite. Units are the
            source's (relative QE, CMF values); pipelines set the overall gain explicitly.
        channel_names: one name per row; defaults to ``('R', 'G', 'B')`` for 3 channels.
        name: registry or file name, used in messages and model metadata.
        source: where the numbers come from (citation, file).

    Raises:
        ValueError: wrong shapes, non-increasing wavelengths, or NaN/inf values (the message
            names the channel and wavelength).
    """

    __slots__ = ("_channel_names", "_values", "_wavelengths", "name", "source")

    def __init__(
        self,
        wavelengths: Any,
        values: Any,
        channel_names: Sequence[str] | None = None,
        name: str = "",
        source: str = "",
    ) -> None:
        label = f"response {name!r}" if name else "response"
        wl = as_wavelengths(wavelengths, f"{label} wavelengths")
        vals = np.array(values, dtype=np.float64)
        if vals.ndim == 1:
            vals = vals[None]
        if vals.ndim != 2 or vals.shape[1] != wl.size:
            raise ValueError(
                f"{label}: values must be (channels, {wl.size}) to match {wl.size} wavelengths, "
                f"got shape {vals.shape}; transpose a (wavelengths, channels) table with .T"
            )
        bad = ~np.isfinite(vals)
        if bad.any():
            c, n = np.argwhere(bad)[0]
            raise ValueError(
                f"{label} has NaN/inf at channel {c} and {wl[n]:g} nm ({int(bad.sum())} bad "
                f"values); fill or drop those samples before building the response"
            )
        if channel_names is None:
            channel_names = (
                ("R", "G", "B")
                if vals.shape[0] == 3
                else tuple(f"c{i}" for i in range(vals.shape[0]))
            )
        channel_names = tuple(str(c) for c in channel_names)
        if len(channel_names) != vals.shape[0]:
            raise ValueError(
                f"{label}: {len(channel_names)} channel names for {vals.shape[0]} channels"
            )
        wl.setflags(write=False)
        vals.setflags(write=False)
        self._wavelengths = wl
        self._values = vals
        self._channel_names = channel_names
        self.name = name
        self.source = source

    @property
    def wavelengths(self) -> np.ndarray:
        """Sample wavelengths in nm, shape ``(N,)``, read-only."""
        return self._wavelengths

    @property
    def values(self) -> np.ndarray:
        """Sensitivities, shape ``(C, N)``, read-only."""
        return self._values

    @property
    def channel_names(self) -> tuple[str, ...]:
        """One name per channel."""
        return self._channel_names

    @property
    def num_channels(self) -> int:
        """``C``."""
        return int(self._values.shape[0])

    def __repr__(self) -> str:
        wl = self._wavelengths
        return (
            f"SpectralResponse({self.name!r}, channels={list(self._channel_names)}, "
            f"{wl.size} samples {wl[0]:g}-{wl[-1]:g} nm)"
        )

    def matrix(
        self,
        wavelengths: Any,
        method: str = "linear",
        fwhm: Any | None = None,
        outside: str = "error",
    ) -> np.ndarray:
        """The response sampled on a cube's bands, float64 ``(C, N)``: ``rgb = M @ spectrum``.

        Args:
            wavelengths: the cube's band centres in nm (sequence, array or ``BandGrid``).
            method: ``'linear'`` samples the response at each band centre (what the NTIRE
                challenges did); ``'gaussian'`` averages it over each band's FWHM.
            fwhm: band FWHM in nm for ``'gaussian'`` (defaults to the grid's, else its spacing).
            outside: what to do with bands outside the response's measured range: ``'error'``
                (default) or ``'zero'`` (the channel is taken as blind there).

        Raises:
            ValueError: bands outside the measured range with ``outside='error'``.
        """
        wl = as_wavelengths(wavelengths)
        if outside not in ("error", "zero"):
            raise ValueError(f"outside must be 'error' or 'zero', got {outside!r}")
        lo, hi = self._wavelengths[0], self._wavelengths[-1]
        inside = (wl >= lo - 1e-6) & (wl <= hi + 1e-6)
        if not inside.all() and outside == "error":
            raise ValueError(
                f"response {self.name!r} is measured over {lo:g}-{hi:g} nm but the bands span "
                f"{wl[0]:g}-{wl[-1]:g} nm; crop the cube to that range or pass outside='zero'"
            )
        mat = np.zeros((self.num_channels, wl.size))
        if inside.any():
            if fwhm is None and hasattr(wavelengths, "fwhm") and wavelengths.fwhm is not None:
                fwhm = wavelengths.fwhm
            if fwhm is not None and np.ndim(fwhm) > 0:
                fwhm = np.asarray(fwhm, dtype=np.float64)[inside]
            if method == "gaussian" and fwhm is None and wl.size > 1:
                fwhm = np.gradient(wl)[inside]
            r = resampling_matrix(self._wavelengths, wl[inside], method, fwhm)
            mat[:, inside] = self._values @ r.T
        return mat

    def resample(
        self, wavelengths: Any, method: str = "linear", outside: str = "error"
    ) -> SpectralResponse:
        """A new response sampled at ``wavelengths`` (see :meth:`matrix`)."""
        wl = as_wavelengths(wavelengths)
        return SpectralResponse(
            wl,
            self.matrix(wavelengths, method=method, outside=outside),
            self._channel_names,
            self.name,
            self.source,
        )

    def select(self, channels: Sequence[str | int]) -> SpectralResponse:
        """A response with only ``channels`` (names or indices), in that order."""
        idx = []
        for ch in channels:
            if isinstance(ch, str):
                if ch not in self._channel_names:
                    raise ValueError(
                        f"response {self.name!r} has no channel {ch!r}; it has "
                        f"{list(self._channel_names)}"
                    )
                idx.append(self._channel_names.index(ch))
            else:
                idx.append(int(ch))
        return SpectralResponse(
            self._wavelengths,
            self._values[idx],
            [self._channel_names[i] for i in idx],
            self.name,
            self.source,
        )

    def scaled(self, gains: Any) -> SpectralResponse:
        """A response with each channel multiplied by ``gains`` (scalar or one per channel)."""
        g = np.broadcast_to(np.asarray(gains, dtype=np.float64), (self.num_channels,))
        return SpectralResponse(
            self._wavelengths,
            self._values * g[:, None],
            self._channel_names,
            self.name,
            self.source,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (plain lists), so a response travels with model metadata."""
        return {
            "name": self.name,
            "wavelengths": self._wavelengths.tolist(),
            "values": self._values.tolist(),
            "channel_names": list(self._channel_names),
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SpectralResponse:
        """Inverse of :meth:`to_dict`."""
        return cls(
            d["wavelengths"],
            d["values"],
            d.get("channel_names"),
            d.get("name", ""),
            d.get("source", ""),
        )

    def as_cfg(self, wavelengths: Any) -> dict[str, Any]:
        """The two ``PretrainedCfg`` fields for a model whose output bands are ``wavelengths``.

        Returns ``{'response_name': name, 'response': ((...), ...)}``: ``C`` rows of ``N``
        numbers, the response sampled at the bands, so ``rgb = response @ spectrum`` renders a
        model's output back to RGB without access to this registry.
        """
        mat = self.matrix(wavelengths)
        return {
            "response_name": self.name or None,
            "response": tuple(tuple(float(v) for v in row) for row in mat),
        }

    @classmethod
    def from_cfg(cls, cfg: Any) -> SpectralResponse:
        """Rebuild the response attached to a model's pretrained cfg (object or mapping).

        Reads ``response`` (rows of numbers), ``wavelengths`` and ``response_name``.
        """
        get = cfg.get if isinstance(cfg, Mapping) else lambda k, d=None: getattr(cfg, k, d)
        rows = get("response")
        if not rows:
            raise ValueError(
                f"cfg {get('name', '')!r} carries no response numbers; the weight does not say "
                f"which RGB it was trained on"
            )
        return cls(get("wavelengths"), rows, name=get("response_name") or "", source="cfg")


# ---------------------------------------------------------------------------------------------
# Registry

_FACTORIES: dict[str, tuple[Callable[[], SpectralResponse], str]] = {}
_CACHE: dict[str, SpectralResponse] = {}


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def register_response(
    name: str,
    response: SpectralResponse | Callable[[], SpectralResponse],
    description: str = "",
    overwrite: bool = False,
) -> None:
    """Add a named response (or a zero-argument factory building one) to the registry.

    Raises:
        ValueError: ``name`` is taken and ``overwrite`` is False.
    """
    if name in _FACTORIES and not overwrite:
        raise ValueError(f"response {name!r} is already registered; pass overwrite=True")
    factory = (lambda r=response: r) if isinstance(response, SpectralResponse) else response
    _FACTORIES[name] = (factory, description)
    _CACHE.pop(name, None)


def list_responses(filter: str = "*") -> list[str]:
    """Sorted names of registered responses, optionally filtered by an fnmatch pattern."""
    return sorted(n for n in _FACTORIES if fnmatch.fnmatch(n, filter))


def get_response(name: str | SpectralResponse) -> SpectralResponse:
    """Look up a response by registry name (a :class:`SpectralResponse` passes through).

    Raises:
        ValueError: unknown name, with the closest registered names.
    """
    if isinstance(name, SpectralResponse):
        return name
    if name not in _FACTORIES:
        close = difflib.get_close_matches(str(name), list(_FACTORIES), n=3)
        hint = f"did you mean {', '.join(repr(c) for c in close)}? " if close else ""
        raise ValueError(
            f"unknown response {name!r}; {hint}ssrzoo.spectral.list_responses() lists them, and "
            f"file responses come from the load_* functions"
        )
    if name not in _CACHE:
        _CACHE[name] = _FACTORIES[name][0]()
    return _CACHE[name]


def _colour_msds(collection: str, key: str, name: str, channels: Sequence[str]) -> SpectralResponse:
    import colour

    msds = getattr(colour, collection)[key]
    return SpectralResponse(
        msds.wavelengths,
        np.asarray(msds.values).T,
        channels,
        name,
        f"colour-science {colour.__version__}: colour.{collection}[{key!r}]",
    )


def _register_builtin() -> None:
    cmfs = {
        "cie1931_2deg": "CIE 1931 2 Degree Standard Observer",
        "cie1964_10deg": "CIE 1964 10 Degree Standard Observer",
        "cie2015_2deg": "CIE 2015 2 Degree Standard Observer",
        "cie2015_10deg": "CIE 2015 10 Degree Standard Observer",
    }
    for name, key in cmfs.items():
        register_response(
            name,
            partial(_colour_msds, "MSDS_CMFS", key, name, ("x_bar", "y_bar", "z_bar")),
            f"{key} colour matching functions (colour-science)",
        )
    # Camera keys are listed here rather than read from colour at import time, so importing
    # ssrzoo.spectral does not pay colour's import cost; a test checks they match colour's.
    for key in ("Nikon 5100 (NPL)", "Sigma SDMerill (NPL)"):
        name = _slug(key)
        register_response(
            name,
            partial(_colour_msds, "MSDS_CAMERA_SENSITIVITIES", key, name, ("R", "G", "B")),
            f"{key} camera sensitivities (colour-science)",
        )


_register_builtin()

# ---------------------------------------------------------------------------------------------
# File loaders


def _check_file(path: str | Path) -> Path:
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"response file {str(p)!r} does not exist; check the path")
    return p


def load_ntire2022_qe(path: str | Path, green: str = "G1") -> SpectralResponse:
    """Load an NTIRE2022 spectral-recovery challenge camera QE csv.

    Two layouts (boazarad/NTIRE2022_spectral ``resources/``):

    * RGB: header ``Wavelength[nm],R,G1,G2,B``, one row per nm (360–750). Returns channels
      ``R, G, B``; ``green`` picks ``'G1'`` (what the challenge's code projected with),
      ``'G2'`` or ``'mean'`` of the two Bayer greens.
    * 16-channel multispectral: header ``Channel,C10,C12,...``, a second row ``NM,650,705,...``
      (peak wavelengths), then one row per nm. Returns the 16 channels in file order.

    The challenge's analog gains (R 2.2933984, G 1, B 1.62308182) are NOT applied here: they are
    a pipeline setting (``simulate_rgb(..., pipeline='realistic')``).
    """
    p = _check_file(path)
    with p.open(newline="") as f:
        rows = [[c.strip() for c in r] for r in csv.reader(f) if any(c.strip() for c in r)]
    if not rows:
        raise ValueError(f"{p}: empty csv")
    header = [c for c in rows[0] if c]
    if header[0].lower().startswith("wavelength"):
        cols = {c: i for i, c in enumerate(rows[0])}
        missing = [c for c in ("R", "G1", "G2", "B") if c not in cols]
        if missing:
            raise ValueError(f"{p}: RGB QE csv lacks columns {missing}; header is {rows[0]}")
        data = np.array([[float(r[i]) for i in range(len(rows[0]))] for r in rows[1:]])
        wl = data[:, 0]
        if green == "mean":
            g = (data[:, cols["G1"]] + data[:, cols["G2"]]) / 2.0
        elif green in ("G1", "G2"):
            g = data[:, cols[green]]
        else:
            raise ValueError(f"green must be 'G1', 'G2' or 'mean', got {green!r}")
        values = np.stack([data[:, cols["R"]], g, data[:, cols["B"]]])
        return SpectralResponse(
            wl, values, ("R", "G", "B"), "ntire2022_rgb", f"NTIRE2022 RGB camera QE ({p.name})"
        )
    if header[0].lower() == "channel" and len(rows) > 2 and rows[1][0].upper() == "NM":
        names = header[1:]
        n = len(names)
        data = np.array([[float(c) for c in r[: n + 1]] for r in rows[2:]])
        return SpectralResponse(
            data[:, 0],
            data[:, 1:].T,
            names,
            "ntire2022_ms16",
            f"NTIRE2022 multispectral camera QE ({p.name}); peaks nm: "
            + ",".join(rows[1][1 : n + 1]),
        )
    raise ValueError(
        f"{p}: not an NTIRE2022 QE csv (first row {rows[0][:5]}); expected a "
        f"'Wavelength[nm],R,G1,G2,B' or 'Channel,...' header"
    )


_CAMSPEC_GRID = re.compile(r"([\d.]+)\s*nm\s*-\s*([\d.]+)\s*nm,\s*step\s*([\d.]+)")


def load_camspec_jiang2013(path: str | Path) -> dict[str, SpectralResponse]:
    """Load the camera sensitivity database of Jiang, Liu, Gu and Süsstrunk (WACV 2013).

    Text format (``camspec_database.txt``): a few header lines including one such as
    ``400nm-720nm, step 10nm``, then for each camera a name line followed by three lines of
    whitespace-separated numbers (R, G, B sensitivities). Returns ``{camera name: response}``
    in file order (28 cameras, 33 samples at 400–720/10 nm in the published file).
    """
    p = _check_file(path)
    lines = [ln.strip() for ln in p.read_text(encoding="utf-8", errors="replace").splitlines()]
    wl = None
    out: dict[str, SpectralResponse] = {}
    pending: str | None = None
    rows: list[list[float]] = []

    def numeric(line: str) -> list[float] | None:
        try:
            return [float(t) for t in line.split()]
        except ValueError:
            return None

    for ln in lines:
        if not ln:
            continue
        m = _CAMSPEC_GRID.match(ln)
        if m and wl is None:
            start, stop, step = (float(g) for g in m.groups())
            wl = np.arange(start, stop + step / 2, step)
            continue
        vals = numeric(ln)
        if vals is None:
            if pending is not None and rows:
                raise ValueError(f"{p}: camera {pending!r} has {len(rows)} rows, expected 3")
            pending, rows = ln, []
            continue
        if pending is None:
            continue
        rows.append(vals)
        if len(rows) == 3:
            arr = np.array(rows)
            grid = wl if wl is not None else 400.0 + 10.0 * np.arange(arr.shape[1])
            out[pending] = SpectralResponse(
                grid, arr, ("R", "G", "B"), pending, f"Jiang et al. 2013 camspec ({p.name})"
            )
            pending, rows = None, []
    if not out:
        raise ValueError(f"{p}: no camera blocks (a name line then 3 number lines) found")
    return out


def _loadmat(path: Path) -> dict[str, Any]:
    import scipy.io

    try:
        data: dict[str, Any] = scipy.io.loadmat(str(path))
        return data
    except NotImplementedError:  # MATLAB v7.3 files are HDF5
        import h5py

        with h5py.File(path, "r") as f:
            return {k: np.array(f[k]).T for k in f if isinstance(f[k], h5py.Dataset)}


def _mat_key(mat: Mapping[str, Any], key: str, path: Path) -> np.ndarray:
    if key not in mat:
        keys = [k for k in mat if not k.startswith("__")]
        raise ValueError(f"{path}: no variable {key!r}; the file holds {keys}; pass key=...")
    return np.asarray(mat[key], dtype=np.float64)


def _default_grid(n: int, path: Path) -> np.ndarray:
    if n != 31:
        raise ValueError(
            f"{path}: {n} spectral samples; only 31 (400-700 nm every 10 nm) is assumed, so pass "
            f"wavelengths=[...] for this file"
        )
    return 400.0 + 10.0 * np.arange(31)


def load_responses_mat(
    path: str | Path,
    key: str = "R",
    wavelengths: Any | None = None,
    names: Sequence[str] | None = None,
) -> dict[str, SpectralResponse]:
    """Load a stack of RGB responses from a ``.mat`` variable laid out ``(3, N, K)``.

    The 52-response file circulated with spectral-reconstruction code (``R`` of shape
    ``(3, 31, 52)``, 400–700/10 nm; the first 28 equal the Jiang et al. 2013 database, the other
    24 are undocumented) is this format. A single ``(3, N)`` matrix is accepted too.

    Args:
        path: the ``.mat`` file.
        key: variable name.
        wavelengths: sample wavelengths in nm; defaults to 400–700/10 nm when ``N == 31``.
        names: one name per response; defaults to ``response_00``, ``response_01``, ...

    Returns:
        ``{name: SpectralResponse}`` in file order, channels ``R, G, B``.
    """
    p = _check_file(path)
    arr = _mat_key(_loadmat(p), key, p)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.shape[0] != 3:
        raise ValueError(f"{p}: {key!r} has shape {arr.shape}; expected (3, N, K) RGB responses")
    wl = as_wavelengths(wavelengths) if wavelengths is not None else _default_grid(arr.shape[1], p)
    k = arr.shape[2]
    names = list(names) if names is not None else [f"response_{i:02d}" for i in range(k)]
    if len(names) != k:
        raise ValueError(f"{p}: {len(names)} names for {k} responses")
    return {
        n: SpectralResponse(wl, arr[:, :, i], ("R", "G", "B"), n, f"{p.name}[{key}][:, :, {i}]")
        for i, n in enumerate(names)
    }


def load_nikon_d700(path: str | Path) -> SpectralResponse:
    """Load the Nikon D700 RGB response, 400–700/10 nm, from either published file.

    * ``.mat`` with variable ``R`` of shape ``(31, 3)``, columns R, G, B (each normalised to sum
      1), as used to simulate RGB for CAVE in hyperspectral fusion papers (XieQi2015/MHF-net).
    * ``.xls`` with columns wavelength, B, G, R (danfenghong/ECCV2020_CUCaNet); needs ``xlrd``
      (``pip install xlrd``).

    Returns channels ``R, G, B`` at the file's own scale.
    """
    p = _check_file(path)
    if p.suffix.lower() == ".mat":
        arr = _mat_key(_loadmat(p), "R", p)
        if arr.shape != (31, 3):
            raise ValueError(f"{p}: 'R' has shape {arr.shape}; expected (31, 3) columns R, G, B")
        return SpectralResponse(
            _default_grid(31, p), arr.T, ("R", "G", "B"), "nikon_d700", f"Nikon D700 ({p.name})"
        )
    if p.suffix.lower() == ".xls":
        try:
            import xlrd
        except ImportError as e:
            raise ImportError("reading .xls responses needs xlrd: pip install xlrd") from e
        sheet = xlrd.open_workbook(str(p)).sheet_by_index(0)
        data = np.array(
            [
                sheet.row_values(r)[:4]
                for r in range(sheet.nrows)
                if isinstance(sheet.row_values(r)[0], float)
            ]
        )
        if data.ndim != 2 or data.shape[1] != 4:
            raise ValueError(f"{p}: expected 4 numeric columns wavelength, B, G, R")
        return SpectralResponse(
            data[:, 0],
            data[:, [3, 2, 1]].T,
            ("R", "G", "B"),
            "nikon_d700",
            f"Nikon D700 ({p.name})",
        )
    raise ValueError(f"{p}: unsupported extension {p.suffix!r}; give the .mat or .xls file")


def load_rosis_srf(path: str | Path, wavelengths: Any | None = None) -> SpectralResponse:
    """Load the ``R`` matrix ``(4, 103)`` mapping ROSIS Pavia bands to B, G, R, NIR.

    It is the IKONOS-like response used to simulate a multispectral/RGB image from Pavia
    University's 103 ROSIS bands. ROSIS records 430–860 nm; the 103 bands left after removing
    noisy ones are taken as evenly spaced over that range unless ``wavelengths`` is given.

    Returns channels ``B, G, R, NIR`` (file order); ``.select(['R', 'G', 'B'])`` gives RGB.
    """
    p = _check_file(path)
    arr = _mat_key(_loadmat(p), "R", p)
    if arr.ndim != 2 or arr.shape[0] != 4:
        raise ValueError(f"{p}: 'R' has shape {arr.shape}; expected (4, bands) rows B, G, R, NIR")
    wl = (
        as_wavelengths(wavelengths)
        if wavelengths is not None
        else np.linspace(430.0, 860.0, arr.shape[1])
    )
    return SpectralResponse(
        wl, arr, ("B", "G", "R", "NIR"), "rosis_pavia", f"ROSIS->IKONOS-like SRF ({p.name})"
    )
