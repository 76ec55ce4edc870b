"""Private helpers shared by the spectral modules: input checks and numpy/torch round trips.

Spectral functions compute in float64 numpy and hand back the caller's kind of array, so the
physics is written once. torch is only touched when the caller passed a tensor, which keeps
``import ssrzoo.spectral`` light.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "CubeBatch",
    "as_wavelengths",
    "is_tensor",
    "to_cube_batch",
]


def is_tensor(x: Any) -> bool:
    """True when ``x`` is a ``torch.Tensor`` (without importing torch when nobody else has)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def as_wavelengths(wavelengths: Any, name: str = "wavelengths") -> np.ndarray:
    """Validate a wavelength vector in nm: 1-D, finite, positive, strictly increasing.

    Accepts a sequence, an array, a tensor or anything with a ``wavelengths`` attribute
    (a :class:`~ssrzoo.spectral.BandGrid`).
    """
    if hasattr(wavelengths, "wavelengths"):
        wavelengths = wavelengths.wavelengths
    if is_tensor(wavelengths):
        wavelengths = wavelengths.detach().cpu().numpy()
    wl = np.asarray(wavelengths, dtype=np.float64)
    if wl.ndim != 1 or wl.size == 0:
        raise ValueError(
            f"{name} must be a non-empty 1-D sequence of nm values, got shape {wl.shape}"
        )
    if not np.all(np.isfinite(wl)):
        raise ValueError(f"{name} contains NaN or inf ({wl.tolist()}); give finite values in nm")
    if np.any(wl <= 0):
        raise ValueError(f"{name} must be positive nm values, got minimum {wl.min()}")
    steps = np.diff(wl)
    if np.any(steps <= 0):
        i = int(np.argmax(steps <= 0))
        raise ValueError(
            f"{name} must be strictly increasing, but {name}[{i}]={wl[i]:g} nm is followed by "
            f"{wl[i + 1]:g} nm; sort the bands (and the data with them)"
        )
    return wl


@dataclass
class CubeBatch:
    """A cube as float64 numpy ``(B, C, H, W)`` plus what is needed to hand results back."""

    data: np.ndarray
    batched: bool
    torch_like: Any | None  # the input tensor (for device/dtype), or None for numpy input
    dtype: Any

    def wrap(self, out: np.ndarray) -> Any:
        """Turn a float numpy ``(B, K, H, W)`` result into the caller's kind and rank."""
        if not self.batched:
            out = out[0]
        if self.torch_like is not None:
            import torch

            dtype = self.torch_like.dtype if self.torch_like.is_floating_point() else torch.float32
            return torch.from_numpy(np.ascontiguousarray(out)).to(
                device=self.torch_like.device, dtype=dtype
            )
        dtype = self.dtype if np.issubdtype(self.dtype, np.floating) else np.float32
        return out.astype(dtype, copy=False)


def to_cube_batch(cube: Any, num_bands: int | None, name: str = "cube") -> CubeBatch:
    """Check a cube laid out ``(C, H, W)`` or ``(B, C, H, W)`` and return it as float64 numpy.

    Args:
        cube: numpy array or torch tensor.
        num_bands: expected ``C`` (the number of wavelengths), or None to accept any.
        name: argument name used in error messages.

    Raises:
        ValueError: wrong rank, a band count that does not match, or a cube that looks like
            ``(H, W, C)`` (the message says so and how to transpose it).
    """
    torch_like = cube if is_tensor(cube) else None
    if torch_like is not None:
        arr = cube.detach().cpu().double().numpy()  # bf16/half have no numpy twin
        dtype = cube.dtype
    else:
        arr = np.asarray(cube)
        dtype = arr.dtype
    if arr.ndim not in (3, 4):
        raise ValueError(
            f"expected {name} of shape (C, H, W) or (B, C, H, W), got shape {tuple(arr.shape)}"
        )
    batched = arr.ndim == 4
    if num_bands is not None:
        c = arr.shape[-3]
        if c != num_bands:
            if arr.shape[-1] == num_bands:
                fix = (
                    "cube.permute(2, 0, 1)"
                    if torch_like is not None and not batched
                    else "cube.permute(0, 3, 1, 2)"
                    if torch_like is not None
                    else "np.moveaxis(cube, -1, -3)"
                )
                raise ValueError(
                    f"{name} of shape {tuple(arr.shape)} looks like (H, W, C) order with the "
                    f"{num_bands} bands last, but (C, H, W) is expected; transpose it with {fix}"
                )
            raise ValueError(
                f"{name} has {c} bands (shape {tuple(arr.shape)}, bands on axis -3) but "
                f"{num_bands} wavelengths were given; pass one wavelength per band"
            )
    data = arr.astype(np.float64, copy=False)
    if not batched:
        data = data[None]
    return CubeBatch(data=data, batched=batched, torch_like=torch_like, dtype=dtype)
