"""RGB simulation from spectral cubes: NTIRE2020 'Clean' and NTIRE2022-style 'realistic' pipelines.

Both start from the same projection. For a cube ``S`` with bands ``lambda_n`` and a response
``M`` (``K`` channels) sampled at those bands (:meth:`SpectralResponse.matrix`), optionally under
an illuminant ``E``::

    lin_k(x) = sum_n M[k, n] * E(lambda_n) * S_n(x)

``clean`` (NTIRE2020 track 1; Arad et al., CVPRW 2020): CIE 1964 10° CMF, one scalar gain ``g``
for the whole image, clip to [0, 1], quantise to ``bit_depth`` bits by truncation (the
challenge's ``(clip(x, 0, 1) * 255).astype(uint8)``)::

    rgb = floor(clip(g * lin, 0, 1) * (2^b - 1)) / (2^b - 1),  g = 1 / max_{k,x} lin_k(x)

``realistic`` (NTIRE2022 style; Arad et al., CVPRW 2022): camera QE with per-channel analog
gains ``a_k``, Poisson shot noise at ``npe`` photo-electrons per unit signal, exposure set from
the image mean, 8-bit truncation, JPEG::

    lin_k  = max(a_k * sum_n QE[k, n] S_n, 0)
    noisy  = Poisson(npe * lin) / npe                       (skipped when npe == 0)
    rgb8   = floor(clip(noisy * target_mean / mean(noisy), 0, 1) * 255)
    rgb    = JPEG_decode(JPEG_encode(rgb8, quality)) / 255  (skipped when jpeg_quality is None)

See ``docs/spectral.md`` for why each step is there and how the gains were chosen.
"""

from __future__ import annotations

import inspect
import io
from collections.abc import Callable
from typing import Any

import numpy as np

from ._arrays import as_wavelengths, to_cube_batch
from .responses import SpectralResponse, get_response

__all__ = [
    "NTIRE2022_ANALOG_GAIN",
    "illuminant_spd",
    "simulate_clean",
    "simulate_realistic",
    "simulate_rgb",
]

#: NTIRE2022 challenge analog gains for the R, G, B channels of its RGB camera QE.
NTIRE2022_ANALOG_GAIN: tuple[float, float, float] = (2.2933984, 1.0, 1.62308182)


def illuminant_spd(illuminant: Any, wavelengths: Any) -> np.ndarray:
    """An illuminant's relative spectral power at ``wavelengths`` (nm), float64 ``(N,)``.

    Args:
        illuminant: a CIE illuminant name known to colour-science (``'D65'``, ``'A'``,
            ``'FL2'``, ...) or an array of ``N`` values already on the bands.
        wavelengths: band centres in nm.
    """
    wl = as_wavelengths(wavelengths)
    if isinstance(illuminant, str):
        import colour

        if illuminant not in colour.SDS_ILLUMINANTS:
            raise ValueError(
                f"unknown illuminant {illuminant!r}; use a colour.SDS_ILLUMINANTS name such as "
                f"'D65' or 'A', or pass one value per band"
            )
        sd = colour.SDS_ILLUMINANTS[illuminant]
        src = np.asarray(sd.wavelengths, dtype=np.float64)
        if wl[0] < src[0] or wl[-1] > src[-1]:
            raise ValueError(
                f"illuminant {illuminant!r} is tabulated over {src[0]:g}-{src[-1]:g} nm, the "
                f"bands span {wl[0]:g}-{wl[-1]:g} nm; pass one value per band instead"
            )
        spd: np.ndarray = np.interp(wl, src, np.asarray(sd.values, dtype=np.float64))
        return spd
    spd = np.asarray(illuminant, dtype=np.float64)
    if spd.shape != wl.shape:
        raise ValueError(
            f"illuminant has shape {spd.shape}; give one value per band ({wl.size}) or a name"
        )
    if not np.all(np.isfinite(spd)):
        raise ValueError("illuminant contains NaN or inf; give finite relative power values")
    return spd


def _projection(
    response: Any, wavelengths: Any, illuminant: Any | None, outside: str
) -> tuple[SpectralResponse, np.ndarray]:
    resp = get_response(response)
    mat = resp.matrix(wavelengths, outside=outside)
    if illuminant is not None:
        mat = mat * illuminant_spd(illuminant, wavelengths)[None, :]
    return resp, mat


def _quantise(x: np.ndarray, bit_depth: int | None) -> np.ndarray:
    """Truncate [0, 1] values to ``bit_depth`` bits, like ``(x * (2^b - 1)).astype(uint)``."""
    if bit_depth is None:
        return x
    if not 1 <= int(bit_depth) <= 16:
        raise ValueError(f"bit_depth must be 1..16 or None, got {bit_depth}")
    top = float(2 ** int(bit_depth) - 1)
    # The tiny lift keeps values that are exact levels (e.g. 1.0 * 255 computed as 254.99999)
    # on their level instead of dropping one.
    return np.floor(x * top + 1e-9) / top


def simulate_clean(
    cube: Any,
    wavelengths: Any,
    response: Any = "cie1964_10deg",
    *,
    gain: float | str = "max",
    illuminant: Any | None = None,
    bit_depth: int | None = 8,
    outside: str = "error",
    return_info: bool = False,
) -> Any:
    """NTIRE2020 'Clean' RGB: CMF projection, one gain per image, clip, 8-bit truncation.

    Args:
        cube: ``(C, H, W)`` or ``(B, C, H, W)`` numpy array or torch tensor, linear spectral
            values (radiance or reflectance, any non-negative units).
        wavelengths: the ``C`` band centres in nm.
        response: response name or :class:`SpectralResponse`; the challenge used
            ``'cie1964_10deg'``.
        gain: ``'max'`` (default): ``g = 1 / max(lin)`` per image, so the brightest channel value
            of each image is exactly 1 and nothing clips; or a float ``g`` applied to every
            image (use one when images must keep their relative brightness).
        illuminant: multiply the spectra by an illuminant first (a reflectance cube); a name
            (``'D65'``) or one value per band.
        bit_depth: quantisation depth (truncation); None keeps floats.
        outside: bands outside the response's range: ``'error'`` or ``'zero'``.
        return_info: also return ``{'matrix': (B, K, C), 'gain': (B,)}``, where ``matrix`` is the
            effective linear map ``rgb ≈ matrix @ spectrum`` before clipping and quantisation
            (what back-projection metrics need).

    Returns:
        ``(K, H, W)`` or ``(B, K, H, W)`` in [0, 1], the input's kind (float32 for integer input),
        ``K = response.num_channels`` (3 for RGB); with ``return_info`` a tuple.
    """
    batch = to_cube_batch(cube, as_wavelengths(wavelengths).size)
    _, mat = _projection(response, wavelengths, illuminant, outside)
    lin = np.einsum("kc,bchw->bkhw", mat, batch.data)
    if isinstance(gain, str):
        if gain != "max":
            raise ValueError(f"gain must be 'max' or a positive float, got {gain!r}")
        peak = lin.reshape(lin.shape[0], -1).max(axis=1)
        if np.any(peak <= 0):
            raise ValueError(
                "cube projects to an all-zero (or negative) image, so gain='max' is undefined; "
                "check the cube's units or pass a float gain"
            )
        # Divide by the peak itself so the brightest value is exactly 1.0, not 0.99999.
        scaled = lin / peak[:, None, None, None]
        gains = 1.0 / peak
    else:
        if not gain > 0:
            raise ValueError(f"gain must be positive, got {gain}")
        gains = np.full(lin.shape[0], float(gain))
        scaled = lin * float(gain)
    rgb = _quantise(np.clip(scaled, 0.0, 1.0), bit_depth)
    out = batch.wrap(rgb)
    if return_info:
        return out, {"matrix": gains[:, None, None] * mat[None], "gain": gains}
    return out


def _jpeg(rgb8: np.ndarray, quality: int) -> np.ndarray:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb8.transpose(1, 2, 0))).save(
        buf, format="JPEG", quality=int(quality)
    )
    buf.seek(0)
    with Image.open(buf) as im:
        decoded: np.ndarray = np.asarray(im.convert("RGB")).transpose(2, 0, 1)
        return decoded


def simulate_realistic(
    cube: Any,
    wavelengths: Any,
    response: Any = None,
    seed: int | np.random.Generator | None = None,
    *,
    analog_gain: Any | None = NTIRE2022_ANALOG_GAIN,
    npe: float = 750.0,
    target_mean: float = 0.18,
    jpeg_quality: int | None = 65,
    illuminant: Any | None = None,
    bit_depth: int = 8,
    outside: str = "error",
    return_info: bool = False,
) -> Any:
    """NTIRE2022-style RGB: camera QE × analog gains, shot noise, auto exposure, 8 bits, JPEG.

    Args:
        cube: ``(C, H, W)`` or ``(B, C, H, W)`` numpy array or torch tensor. Noise is calibrated
            for cubes normalised to about [0, 1] as the NTIRE2022 cubes are.
        wavelengths: the ``C`` band centres in nm.
        response: the camera QE (name or :class:`SpectralResponse`); required. The challenge's
            QE is not shipped: ``load_ntire2022_qe('RGB_Camera_QE.csv')``.
        seed: int or ``numpy.random.Generator``; the same seed gives the same image.
        analog_gain: per-channel gains (default the challenge's R 2.2933984, G 1,
            B 1.62308182); None for none.
        npe: photo-electrons per unit of projected signal; the challenge's example setting is
            750. 0 disables shot noise.
        target_mean: exposure: the mean of the image after exposure (0.18, a typical scene
            reflectivity, as in the challenge). Brighter pixels clip.
        jpeg_quality: JPEG quality 1-95 through Pillow (challenge example 65); None skips JPEG.
        illuminant: optional illuminant (name or one value per band) multiplied in first.
        bit_depth: quantisation depth before JPEG (JPEG needs 8).
        outside: bands outside the response's range: ``'error'`` or ``'zero'``.
        return_info: also return ``{'matrix': (B, K, C), 'exposure': (B,)}``, the effective
            linear map from spectrum to output before noise, clipping and compression.

    Returns:
        ``(K, H, W)`` or ``(B, K, H, W)`` in [0, 1], the input's kind; with ``return_info`` a
        tuple.
    """
    if response is None:
        raise ValueError(
            "the realistic pipeline needs a camera response: pass response="
            "load_ntire2022_qe('RGB_Camera_QE.csv') for the NTIRE2022 camera, or a registry name "
            "such as 'nikon_5100_npl'"
        )
    batch = to_cube_batch(cube, as_wavelengths(wavelengths).size)
    resp, mat = _projection(response, wavelengths, illuminant, outside)
    if analog_gain is not None:
        g = np.asarray(analog_gain, dtype=np.float64)
        if g.shape != (resp.num_channels,):
            raise ValueError(
                f"analog_gain has {g.size} values for a {resp.num_channels}-channel response "
                f"{resp.name!r}; give one per channel or None"
            )
        mat = mat * g[:, None]
    if npe < 0:
        raise ValueError(f"npe must be >= 0 (0 disables shot noise), got {npe}")
    if not target_mean > 0:
        raise ValueError(f"target_mean must be positive, got {target_mean}")
    if jpeg_quality is not None:
        if resp.num_channels != 3 or bit_depth != 8:
            raise ValueError(
                "JPEG needs 3 channels at bit_depth=8; pass jpeg_quality=None for other outputs"
            )
        if not 1 <= int(jpeg_quality) <= 100:
            raise ValueError(f"jpeg_quality must be 1..100, got {jpeg_quality}")
    rng = np.random.default_rng(seed)
    top = float(2**bit_depth - 1)
    outs, exposures = [], []
    for spectra in batch.data:
        lin = np.clip(np.einsum("kc,chw->khw", mat, spectra), 0.0, None)
        noisy = rng.poisson(lin * npe) / npe if npe > 0 else lin
        mean = float(noisy.mean())
        if mean <= 0:
            raise ValueError(
                "simulated image is all zero, so exposure is undefined; check the cube's units"
            )
        exposure = target_mean / mean
        exposures.append(exposure)
        img = _quantise(np.clip(noisy * exposure, 0.0, 1.0), bit_depth)
        if jpeg_quality is not None:
            img = _jpeg(np.rint(img * top).astype(np.uint8), jpeg_quality) / top
        outs.append(img)
    out = batch.wrap(np.stack(outs))
    if return_info:
        ex = np.asarray(exposures)
        return out, {"matrix": ex[:, None, None] * mat[None], "exposure": ex}
    return out


_PIPELINES: dict[str, Callable[..., Any]] = {
    "clean": simulate_clean,
    "realistic": simulate_realistic,
}


def simulate_rgb(
    cube: Any,
    wavelengths: Any,
    pipeline: str = "clean",
    response: Any = None,
    seed: int | np.random.Generator | None = None,
    **opts: Any,
) -> Any:
    """Simulate the RGB photo a camera would take of a spectral cube.

    Args:
        cube: ``(C, H, W)`` or ``(B, C, H, W)`` numpy array or torch tensor.
        wavelengths: the ``C`` band centres in nm (sequence, array or ``BandGrid``).
        pipeline: ``'clean'`` (NTIRE2020 track 1, see :func:`simulate_clean`) or
            ``'realistic'`` (NTIRE2022 style, see :func:`simulate_realistic`).
        response: name or :class:`SpectralResponse`; None means ``'cie1964_10deg'`` for
            ``clean`` and is an error for ``realistic`` (its camera must be given).
        seed: randomness of the ``realistic`` pipeline (ignored by ``clean``, which is
            deterministic).
        **opts: the chosen pipeline's keyword options (``gain``, ``illuminant``,
            ``bit_depth``, ``npe``, ``jpeg_quality``, ``analog_gain``, ``target_mean``,
            ``return_info``, ...).

    Returns:
        ``(K, H, W)`` or ``(B, K, H, W)`` in [0, 1], the same kind as ``cube``. Computed in
        float64 numpy: a tensor comes back on its device but detached (quantisation, noise and
        JPEG have no useful gradient).

    Example:
        >>> import numpy as np
        >>> cube = np.random.default_rng(0).random((31, 8, 8))
        >>> simulate_rgb(cube, np.arange(400, 701, 10)).shape
        (3, 8, 8)
    """
    if pipeline not in _PIPELINES:
        raise ValueError(f"unknown pipeline {pipeline!r}; use 'clean' or 'realistic'")
    fn = _PIPELINES[pipeline]
    allowed = [n for n, p in inspect.signature(fn).parameters.items() if p.kind is p.KEYWORD_ONLY]
    unknown = sorted(set(opts) - set(allowed))
    if unknown:
        raise TypeError(
            f"pipeline {pipeline!r} takes no option(s) {unknown}; its options are {allowed}"
        )
    if pipeline == "clean":
        return fn(cube, wavelengths, response if response is not None else "cie1964_10deg", **opts)
    return fn(cube, wavelengths, response, seed, **opts)
