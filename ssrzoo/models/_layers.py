"""Small helpers shared by the model families: input checks, padding and cropping.

Every reconstruction model takes ``(B, 3, H, W)`` float RGB of any ``H, W``. Models with
patches or down-sampling pad to a multiple internally and crop back; these helpers keep
that, the input check and the non-negative output projection in one place.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

__all__ = ["NonNegativeOutput", "check_rgb_input", "crop_to", "pad_to_multiple"]


def check_rgb_input(
    x: torch.Tensor, in_chans: int = 3, name: str = "RGB", dtype: torch.dtype | None = None
) -> torch.Tensor:
    """Check a model input against the zoo's input contract; return it in ``dtype``.

    Every model's ``forward`` calls this first, so all of them accept and refuse the same
    inputs, with the same one-line errors:

    * a ``torch.Tensor`` of shape ``(B, in_chans, H, W)``: a single ``(in_chans, H, W)``
      image needs ``x[None]``;
    * non-empty: ``B, H, W >= 1``;
    * floating point: float16, bfloat16, float32 and float64 are all accepted and converted
      to the model's own dtype (``dtype``, the dtype of its parameters), so a float64 array
      from numpy runs on a float32 model and the output has the model's dtype. Integer
      images are refused: 8-bit RGB must be divided by 255 first;
    * finite: NaN or inf anywhere is refused, with the count of bad values.

    Values are not range-checked: [0, 1] is the trained range, but a photo may exceed 1
    after an exposure change, and each model documents what it does with such values.

    Args:
        x: the model input.
        in_chans: the channel count the model expects (3 for RGB).
        name: what the input is, for the message (``"RGB"``, ``"cube"``).
        dtype: the model's parameter dtype to convert ``x`` to; None keeps ``x``'s own
            (models without parameters).

    Returns:
        ``x``, converted to ``dtype`` when given (no copy when it already has it).

    Raises:
        TypeError: ``x`` is not a tensor, or its dtype is not floating point (e.g. ``uint8``).
        ValueError: wrong rank or channel count, an empty batch or image, or NaN/inf values.

    The finite check is skipped on the ``meta`` device (FLOPs counting), where values do
    not exist.
    """
    expected = f"expected (B, {in_chans}, H, W) float {name} input"
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{expected}, got {type(x).__name__}; pass a torch.Tensor")
    if not x.is_floating_point():
        hint = "; divide 8-bit images by 255" if x.dtype == torch.uint8 else ""
        raise TypeError(
            f"{expected}, got dtype {x.dtype}; convert with x.float(){hint} (range [0, 1])"
        )
    if x.ndim != 4 or x.shape[1] != in_chans:
        hint = "add a batch dimension with x[None]" if x.ndim == 3 else f"pass {in_chans} channels"
        raise ValueError(f"{expected}, got shape {tuple(x.shape)}; {hint}")
    if x.shape[0] == 0 or x.shape[2] == 0 or x.shape[3] == 0:
        raise ValueError(f"{expected}, got empty shape {tuple(x.shape)}; pass at least one image")
    if x.device.type != "meta" and not _exporting() and not torch.isfinite(x).all():
        bad = int((~torch.isfinite(x)).sum())
        raise ValueError(
            f"{expected} with finite values, got {bad} NaN or inf values (of {x.numel()}); "
            "clean the input first, e.g. with torch.nan_to_num"
        )
    return x if dtype is None else x.to(dtype)


def _exporting() -> bool:
    """True while ``torch.export`` (the ONNX exporter's tracer) runs the model.

    An exported graph cannot raise on values it has not seen, so the finite check is left
    out of it (``torch.compile`` keeps it, as a graph break).
    """
    is_exporting = getattr(torch.compiler, "is_exporting", None)  # torch >= 2.7
    return bool(is_exporting()) if is_exporting is not None else False


def pad_to_multiple(
    x: torch.Tensor, multiple: int | tuple[int, int], mode: str = "reflect"
) -> tuple[torch.Tensor, tuple[int, int]]:
    """Pad the bottom and right of ``(..., H, W)`` so both sides are multiples of ``multiple``.

    Args:
        x: tensor of shape ``(B, C, H, W)``.
        multiple: one multiple for both sides, or ``(mh, mw)``.
        mode: ``F.pad`` mode. ``"reflect"`` falls back to ``"replicate"`` when the pad is
            not smaller than the side (reflection needs that much image).

    Returns:
        ``(padded, (H, W))``: the padded tensor and the original size for :func:`crop_to`.
    """
    mh, mw = (multiple, multiple) if isinstance(multiple, int) else multiple
    h, w = x.shape[-2:]
    ph, pw = -h % mh, -w % mw
    if ph == 0 and pw == 0:
        return x, (h, w)
    if mode == "reflect" and (ph >= h or pw >= w):
        mode = "replicate"
    return F.pad(x, (0, pw, 0, ph), mode=mode), (h, w)


def crop_to(x: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """Crop ``(..., H', W')`` to its top-left ``size``: the inverse of :func:`pad_to_multiple`."""
    h, w = size
    return x[..., :h, :w]


class NonNegativeOutput:
    """Mixin for models whose output is radiance or reflectance, which cannot be negative.

    A model's ``forward`` ends with :meth:`project_output`. In eval mode it projects the
    cube onto the non-negative orthant (``clamp_min(0)``), so validation metrics,
    :func:`ssrzoo.predict` and exported cubes all see a physically possible cube. In train
    mode the raw output is returned: a ReLU there would give negative predictions zero
    gradient, and the loss could never pull them back up. Targets are ``>= 0``, so the
    projection can only lower each value's absolute error, and it never widens a pixel's
    spectral angle: MRAE, RMSE, PSNR and SAM never get worse (SSIM and the back-projection
    error may move either way).

    Set ``model.nonneg_output = False`` to see the raw output in eval mode, e.g. to measure
    how often a model predicts negative values.
    """

    #: project the output onto ``>= 0`` in eval mode (see the class docstring)
    nonneg_output: bool = True
    training: bool  # provided by nn.Module

    def project_output(self, cube: torch.Tensor, inplace: bool = False) -> torch.Tensor:
        """``cube`` clamped to ``>= 0`` in eval mode (if :attr:`nonneg_output`), else as is.

        ``inplace=True`` clamps ``cube`` itself: for a buffer the model owns, outside autograd.
        """
        if self.nonneg_output and not self.training:
            return cube.clamp_min_(0.0) if inplace else cube.clamp_min(0.0)
        return cube
