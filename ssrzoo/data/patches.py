"""Random training patches with augmentation, deterministic under a seed and safe in workers.

:class:`RandomPatches` wraps any ssrzoo dataset. Item ``i`` of epoch ``e`` is drawn from a
generator seeded with ``(seed, e, i)`` only, so it is the same in the main process, in any
``DataLoader`` worker and on any machine, whatever the number of workers or their order.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Literal

import numpy as np
import torch
from torch.utils.data import Dataset

from ._base import Sample
from .lighting import Relight
from .transforms import SimulateRGB, crop, flip_rotate, scale_exposure

__all__ = ["RandomPatches"]

RGBSource = Literal["auto", "simulate", "disk"] | None


def _pair(size: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(size, int):
        return size, size
    h, w = (int(v) for v in size)
    return h, w


class RandomPatches(Dataset[Sample]):
    """Random ``(height, width)`` patches of a dataset's images, augmented, with RGB input.

    For item ``i`` (image ``i % len(dataset)``), in order:

    1. draw a dihedral transform: a left-right flip and ``k`` quarter turns (``k`` odd only when
       the image is tall enough for the rotated window, so thin strips keep their shape);
    2. crop a window at a uniform random position, retrying up to ``max_tries`` times until at
       least ``min_valid`` of its pixels are valid (the best window is kept otherwise);
    3. flip/rotate every image key (``hsi``, ``rgb``, ``valid``, ``mask``) together;
    4. with ``relight``, turn a reflectance patch into radiance under a light drawn for it
       (:class:`~ssrzoo.data.Relight`);
    5. scale the exposure by a log-uniform factor in ``exposure`` (cube and any disk RGB);
    6. set ``'rgb'``: the dataset's own image (``'disk'``), one simulated from the augmented
       cube (``'simulate'``; the realistic pipeline's noise is seeded from the same generator),
       or the disk image when there is one and a simulation otherwise (``'auto'``).

    Patch height may differ from width (``patch_size=(8, 64)`` for ICVL strips).

    Args:
        dataset: a dataset returning sample dicts with ``'hsi'`` ``(C, H, W)``.
        patch_size: ``size`` or ``(height, width)`` in pixels.
        patches_per_image: items per image per epoch (``len = len(dataset) * patches_per_image``).
        seed: base seed.
        flips: allow left-right mirroring.
        rot90: allow quarter turns.
        exposure: ``(low, high)`` exposure factors, or None for none.
        rgb: ``'auto'``, ``'simulate'``, ``'disk'`` or None (no RGB).
        simulate: the simulator for ``'auto'``/``'simulate'``; default ``SimulateRGB()`` (clean
            pipeline, CIE 1964, fixed white gain).
        min_valid: wanted fraction of valid pixels in a patch (uses ``'valid'`` when present).
        max_tries: crop attempts per item.
        cache_size: how many loaded images to keep per process (0: reload every item).
        relight: for reflectance datasets (CAVE), a :class:`~ssrzoo.data.Relight` applied to
            each patch; any disk RGB is dropped, since it shows the scene under another light.

    Sample: the dataset's keys cropped, plus ``'rgb'`` and ``'patch'``, an int64 tensor
    ``(image, top, left, k, flip)`` saying where the patch came from.

    Example:
        >>> strips = ICVLStrips(root)  # doctest: +SKIP
        >>> patches = RandomPatches(strips, (8, 64), exposure=(0.5, 1.5))  # doctest: +SKIP
        >>> loader = DataLoader(patches, batch_size=16, num_workers=2)  # doctest: +SKIP
    """

    def __init__(
        self,
        dataset: Dataset[Sample],
        patch_size: int | Sequence[int] = 64,
        patches_per_image: int = 1,
        seed: int = 0,
        flips: bool = True,
        rot90: bool = True,
        exposure: tuple[float, float] | None = None,
        rgb: RGBSource = "auto",
        simulate: SimulateRGB | None = None,
        min_valid: float = 0.95,
        max_tries: int = 10,
        cache_size: int = 0,
        relight: Relight | None = None,
    ) -> None:
        self.dataset = dataset
        self.patch_size = _pair(patch_size)
        if min(self.patch_size) < 1:
            raise ValueError(f"patch_size must be positive, got {patch_size}")
        if patches_per_image < 1:
            raise ValueError(f"patches_per_image must be >= 1, got {patches_per_image}")
        if exposure is not None and not 0 < exposure[0] <= exposure[1]:
            raise ValueError(f"exposure must be (low, high) with 0 < low <= high, got {exposure}")
        if relight is not None and rgb == "disk":
            raise ValueError("a relit patch cannot keep its disk RGB; use rgb='simulate'")
        if rgb not in ("auto", "simulate", "disk", None):
            raise ValueError(f"rgb must be 'auto', 'simulate', 'disk' or None, got {rgb!r}")
        self.patches_per_image = patches_per_image
        self.seed = seed
        self.flips = flips
        self.rot90 = rot90
        self.exposure = exposure
        self.rgb = rgb
        self.simulate = simulate if simulate is not None else SimulateRGB()
        self.min_valid = min_valid
        self.max_tries = max(1, max_tries)
        self.cache_size = cache_size
        self.relight = relight
        self.epoch = 0
        self._cache: OrderedDict[int, Sample] = OrderedDict()

    def set_epoch(self, epoch: int) -> None:
        """Draw different patches in each epoch. Call it before the epoch's loader iterator is
        created (workers receive a copy of this object then; persistent workers keep theirs)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.dataset) * self.patches_per_image  # type: ignore[arg-type]

    def _image(self, index: int) -> Sample:
        if self.cache_size <= 0:
            return self.dataset[index]
        if index in self._cache:
            self._cache.move_to_end(index)
            return self._cache[index]
        sample = self.dataset[index]
        self._cache[index] = sample
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return sample

    def _window(self, sample: Sample, h: int, w: int, rng: np.random.Generator) -> tuple[int, int]:
        height, width = sample["hsi"].shape[-2:]
        valid = sample.get("valid")
        best, best_frac = (0, 0), -1.0
        for _ in range(self.max_tries):
            top = int(rng.integers(0, height - h + 1))
            left = int(rng.integers(0, width - w + 1))
            if valid is None:
                return top, left
            frac = float(valid[top : top + h, left : left + w].float().mean())
            if frac >= self.min_valid:
                return top, left
            if frac > best_frac:
                best, best_frac = (top, left), frac
        return best

    def __getitem__(self, index: int) -> Sample:
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} is out of range for {len(self)} patches")
        rng = np.random.default_rng([self.seed, self.epoch, index])
        n = len(self.dataset)  # type: ignore[arg-type]
        ph, pw = self.patch_size
        image = index % n
        for _ in range(n):
            sample = self._image(image)
            height, width = sample["hsi"].shape[-2:]
            if height >= ph and width >= pw:
                break
            image = (image + 1) % n  # too small for the patch: take the next image
        else:
            raise ValueError(
                f"no image of the dataset holds a {ph}x{pw} patch; use a smaller patch_size"
            )
        flip = bool(self.flips and rng.random() < 0.5)
        k = int(rng.integers(0, 4)) if self.rot90 else 0
        if k % 2 and (height < pw or width < ph):
            k -= 1  # the rotated window does not fit: keep the shape with a half turn or none
        wh, ww = (pw, ph) if k % 2 else (ph, pw)
        top, left = self._window(sample, wh, ww, rng)
        out = flip_rotate(crop(sample, top, left, wh, ww), k, flip)
        if self.relight is not None:
            out = self.relight(out, rng)
            out.pop("rgb", None)
        if self.exposure is not None:
            lo, hi = self.exposure
            out = scale_exposure(out, float(np.exp(rng.uniform(np.log(lo), np.log(hi)))))
        seed = int(rng.integers(0, 2**31 - 1))
        if self.rgb == "disk" and "rgb" not in out:
            raise ValueError(
                f"{type(self.dataset).__name__} ships no RGB images; use rgb='simulate' or 'auto'"
            )
        if self.rgb == "simulate" or (self.rgb == "auto" and "rgb" not in out):
            out = self.simulate(out, seed=seed)
        elif self.rgb is None:
            out.pop("rgb", None)
        out["patch"] = torch.tensor([image, top, left, k, int(flip)], dtype=torch.int64)
        return out

    def __repr__(self) -> str:
        return (
            f"RandomPatches({self.dataset!r}, patch_size={self.patch_size}, "
            f"patches_per_image={self.patches_per_image}, exposure={self.exposure}, "
            f"rgb={self.rgb!r}, relight={self.relight!r}, seed={self.seed})"
        )
