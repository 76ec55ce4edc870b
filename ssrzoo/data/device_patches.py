"""Training patches cut, augmented and rendered to RGB on the training device, a batch at a time.

:class:`~ssrzoo.data.RandomPatches` does the same per sample in DataLoader workers, with numpy;
on a GPU that Python path, not the model, limits the steps per second. The shared datasets are
small (the 24 CAVE scenes are 195 MB as float32), so :class:`DevicePatches` keeps every cube on
the device and draws a whole batch with a handful of tensor operations: a gather for the crops,
three masked flips/transposes for the dihedral augmentation, one exposure multiply and one
``einsum`` for the clean-pipeline RGB. Same distribution as ``RandomPatches`` (uniform image,
uniform window, flips and quarter turns, log-uniform exposure, clip and truncation to
``bit_depth`` bits), other random numbers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

__all__ = ["DevicePatches"]


class DevicePatches:
    """Batches of random ``(hsi, rgb)`` patches drawn from cubes held on one device.

    Args:
        cubes: the images, ``(C, H, W)`` tensors of one band grid; sizes may differ (images
            of one size are stacked together). Images smaller than the patch are left out.
        patch_size: ``(height, width)``; a quarter turn is drawn only for square patches.
        response: ``(K, C)`` camera matrix at the cubes' bands, gain included: ``rgb = clip(
            response @ spectrum, 0, 1)`` before quantisation (the clean pipeline with a fixed gain).
        bit_depth: RGB truncation depth, or None for float RGB.
        flips: draw left-right mirrors.
        rot90: draw quarter turns (half turns only, for non-square patches).
        exposure: ``(low, high)`` log-uniform exposure factors, or None.
        device: where the cubes live and batches are made.
        seed: seed of the batch generator (its state is in :meth:`state_dict`).

    Example:
        >>> cubes = [torch.rand(31, 64, 64) for _ in range(3)]
        >>> patches = DevicePatches(cubes, (32, 32), response=torch.full((3, 31), 1 / 31))
        >>> batch = patches.sample(4)
        >>> tuple(batch["hsi"].shape), tuple(batch["rgb"].shape)
        ((4, 31, 32, 32), (4, 3, 32, 32))
    """

    def __init__(
        self,
        cubes: Sequence[torch.Tensor],
        patch_size: tuple[int, int],
        response: torch.Tensor,
        *,
        bit_depth: int | None = 8,
        flips: bool = True,
        rot90: bool = True,
        exposure: tuple[float, float] | None = None,
        device: str | torch.device = "cpu",
        seed: int = 0,
    ) -> None:
        self.device = torch.device(device)
        self.patch_size = (int(patch_size[0]), int(patch_size[1]))
        ph, pw = self.patch_size
        usable = [c for c in cubes if c.shape[-2] >= ph and c.shape[-1] >= pw]
        if not usable:
            raise ValueError(f"no image holds a {ph}x{pw} patch; use a smaller patch_size")
        bands = {int(c.shape[0]) for c in usable}
        if len(bands) != 1:
            raise ValueError(f"the cubes have different band counts {sorted(bands)}")
        self.num_bands = bands.pop()
        self.response = torch.as_tensor(response, dtype=torch.float32).to(self.device)
        if self.response.ndim != 2 or self.response.shape[1] != self.num_bands:
            raise ValueError(
                f"response must be (K, {self.num_bands}), got {tuple(self.response.shape)}"
            )
        if exposure is not None and not 0 < exposure[0] <= exposure[1]:
            raise ValueError(f"exposure must be (low, high) with 0 < low <= high, got {exposure}")
        self.bit_depth = bit_depth
        self.flips, self.rot90, self.exposure = flips, rot90, exposure
        self.skipped = len(cubes) - len(usable)
        # One stack per image size; each image keeps its (stack, position).
        sizes = sorted({tuple(c.shape[-2:]) for c in usable})
        self.stacks = [
            torch.stack([c.float() for c in usable if tuple(c.shape[-2:]) == s]).to(self.device)
            for s in sizes
        ]
        owner = [sizes.index(tuple(c.shape[-2:])) for c in usable]
        self._stack_of = torch.tensor(owner, device=self.device)
        self._position = torch.tensor(
            [owner[:i].count(owner[i]) for i in range(len(owner))], device=self.device
        )
        self.generator = torch.Generator(device=self.device).manual_seed(int(seed))

    def __len__(self) -> int:
        """The number of images patches are drawn from."""
        return int(self._stack_of.numel())

    @classmethod
    def from_patches(
        cls, patches: Any, device: str | torch.device = "cpu", seed: int = 0
    ) -> DevicePatches:
        """The device twin of a :class:`~ssrzoo.data.RandomPatches` with a clean-pipeline RGB.

        Reads every image of ``patches.dataset`` once and takes the patch size, augmentation,
        exposure range and camera of ``patches``.

        Raises:
            ValueError: what the device path cannot reproduce (a realistic pipeline, an
                illuminant, a per-image gain, RGB read from disk, validity masks).
        """
        sim = patches.simulate
        if getattr(patches, "relight", None) is not None:
            raise ValueError(
                "device patches do not relight reflectance; use the worker path "
                "(data.device_patches=false) for patches.relight"
            )
        if patches.rgb not in ("simulate", "auto"):
            raise ValueError(f"device patches simulate the RGB; patches.rgb={patches.rgb!r}")
        if sim.pipeline != "clean" or sim.options.get("illuminant") is not None:
            raise ValueError(
                "device patches render the clean pipeline without an illuminant; use the "
                "worker path (data.device_patches=false) for other cameras"
            )
        cubes, wavelengths = [], None
        for i in range(len(patches.dataset)):
            sample: Mapping[str, Any] = patches.dataset[i]
            if patches.rgb == "auto" and "rgb" in sample:
                raise ValueError(
                    f"image {i} ({sample.get('name', '?')}) ships its own RGB, which the "
                    "worker path would use; set data.train.patches.rgb: simulate"
                )
            valid = sample.get("valid")
            if valid is not None and not bool(torch.as_tensor(valid).all()):
                raise ValueError(
                    f"image {i} ({sample.get('name', '?')}) has invalid pixels; device patches "
                    "do not honour validity masks, use the worker path"
                )
            cubes.append(torch.as_tensor(sample["hsi"], dtype=torch.float32))
            if wavelengths is None:
                wavelengths = np.asarray(sample["wavelengths"], dtype=np.float64)
        assert wavelengths is not None
        gain = sim.options.get("gain", "white")
        if gain == "white":
            gain = sim.white_gain(wavelengths)
        elif isinstance(gain, str):
            raise ValueError(
                f"device patches need a fixed gain ('white' or a number), got {gain!r}"
            )
        from ..spectral import get_response

        matrix = get_response(sim.response if sim.response is not None else "cie1964_10deg").matrix(
            wavelengths, outside=sim.options.get("outside", "error")
        )
        return cls(
            cubes,
            patches.patch_size,
            torch.as_tensor(matrix * float(gain), dtype=torch.float32),
            bit_depth=sim.options.get("bit_depth", 8),
            flips=patches.flips,
            rot90=patches.rot90,
            exposure=patches.exposure,
            device=device,
            seed=seed,
        )

    def _uniform(self, n: int) -> torch.Tensor:
        return torch.rand(n, generator=self.generator, device=self.device)

    def _crops(self, image: torch.Tensor, h: int, w: int) -> torch.Tensor:
        """``(B, C, h, w)`` windows at uniform positions of the chosen images."""
        out = torch.empty(
            (image.numel(), self.num_bands, h, w), device=self.device, dtype=torch.float32
        )
        stack_of, position = self._stack_of[image], self._position[image]
        rows, cols = torch.arange(h, device=self.device), torch.arange(w, device=self.device)
        bands = torch.arange(self.num_bands, device=self.device)[None, :, None, None]
        for s, stack in enumerate(self.stacks):
            chosen = (stack_of == s).nonzero().squeeze(1)
            if chosen.numel() == 0:
                continue
            height, width = stack.shape[-2:]
            n = chosen.numel()
            top = (self._uniform(n) * (height - h + 1)).long().clamp_max(height - h)
            left = (self._uniform(n) * (width - w + 1)).long().clamp_max(width - w)
            out[chosen] = stack[
                position[chosen][:, None, None, None],
                bands,
                (top[:, None] + rows)[:, None, :, None],
                (left[:, None] + cols)[:, None, None, :],
            ]
        return out

    def sample(self, batch_size: int) -> dict[str, torch.Tensor]:
        """One batch: ``{'hsi': (B, C, h, w), 'rgb': (K, ...)}`` float32 on the device."""
        ph, pw = self.patch_size
        image = torch.randint(
            len(self), (batch_size,), generator=self.generator, device=self.device
        )
        # Quarter turns of a square patch; half turns (both flips) otherwise.
        if self.rot90:
            k = torch.randint(4, (batch_size,), generator=self.generator, device=self.device)
            if ph != pw:
                k = k - k % 2
        else:
            k = torch.zeros(batch_size, dtype=torch.long, device=self.device)
        mirror = (
            self._uniform(batch_size) < 0.5 if self.flips else torch.zeros_like(k, dtype=torch.bool)
        )
        hsi = self._crops(image, ph, pw)

        def where(mask: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
            return torch.where(mask[:, None, None, None], a, b)

        # rot90 by k (counter-clockwise) = transpose if k odd, flip rows if k in (1, 2), flip
        # columns if k in (2, 3); a mirror toggles the column flip.
        if ph == pw:
            hsi = where(k % 2 == 1, hsi.transpose(-2, -1), hsi)
        hsi = where((k == 1) | (k == 2), hsi.flip(-2), hsi)
        hsi = where(((k == 2) | (k == 3)) ^ mirror, hsi.flip(-1), hsi)
        if self.exposure is not None:
            lo, hi = (math.log(v) for v in self.exposure)
            hsi = hsi * torch.exp(lo + (hi - lo) * self._uniform(batch_size))[:, None, None, None]
        rgb = torch.einsum("kc,bchw->bkhw", self.response, hsi).clamp(0.0, 1.0)
        if self.bit_depth is not None:
            top = float(2 ** int(self.bit_depth) - 1)
            rgb = torch.floor(rgb * top + 1e-6) / top
        return {"hsi": hsi.contiguous(), "rgb": rgb.contiguous()}

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The batch generator's state (for exact resume)."""
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: Mapping[str, torch.Tensor]) -> None:
        """Restore :meth:`state_dict`."""
        self.generator.set_state(state["generator"])

    def __repr__(self) -> str:
        return (
            f"DevicePatches(images={len(self)}, patch_size={self.patch_size}, "
            f"exposure={self.exposure}, device={str(self.device)!r})"
        )
