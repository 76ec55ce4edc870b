"""Training losses and validation metrics for RGB → HSI reconstruction.

The formulas are those of :mod:`ssrzoo.metrics` (imported, not rewritten), used here on
the autograd graph: the public metric functions detach and cast to float64 so their
numbers never depend on the caller, which a loss cannot do.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..evaluation import first_loss, score_batch
from ..metrics import mrae_per_image, sam_map

__all__ = ["Objective", "ReconstructionLoss", "reconstruction_metrics"]


class ReconstructionLoss(nn.Module):
    """Weighted sum of MRAE, L1, SAM and back-projection terms.

    ``loss = w_mrae MRAE + w_l1 L1 + w_sam SAM + w_bp MRAE(M pred, M target)``, each term a
    mean over the batch, where

    * MRAE is ``mean |p - t| / max(|t|, eps)`` (:func:`ssrzoo.metrics.mrae`);
    * L1 is ``mean |p - t|``;
    * SAM is the mean spectral angle in **radians** (the metric reports degrees; radians
      keep the term on the scale of the others);
    * back-projection renders both cubes through the ``(K, C)`` camera response ``M`` and
      compares them with MRAE: it asks the reconstruction to reproduce the input colours.
      Comparing with ``M target`` rather than the input RGB keeps the term free of the
      RGB pipeline's per-image gain and 8-bit rounding.

    Args:
        mrae, l1, sam, bp: term weights; 0 disables a term.
        response: ``(K, C)`` response matrix sampled at the cube's bands (needed when
            ``bp > 0``).
        eps: MRAE denominator floor, in the data's units.

    Shapes: ``pred`` and ``target`` ``(B, C, H, W)``; ``rgb`` ``(B, 3, H, W)`` or ``None``
    (unused, accepted so every loss has the same call).
    """

    response: torch.Tensor | None  # a buffer: follows the module's device

    def __init__(
        self,
        mrae: float = 1.0,
        l1: float = 0.0,
        sam: float = 0.0,
        bp: float = 0.0,
        response: torch.Tensor | None = None,
        eps: float = 1e-3,
    ) -> None:
        super().__init__()
        self.weights = {"mrae": mrae, "l1": l1, "sam": sam, "bp": bp}
        if any(w < 0 for w in self.weights.values()) or not any(self.weights.values()):
            raise ValueError(f"loss weights must be >= 0 with one > 0, got {self.weights}")
        if bp > 0 and response is None:
            raise ValueError(
                "the back-projection loss (bp > 0) needs the camera response; use a dataset "
                "that exposes .response, or set loss.bp=0"
            )
        self.eps = eps
        self.register_buffer(
            "response",
            None if response is None else torch.as_tensor(response, dtype=torch.float32),
            persistent=False,
        )

    def forward(
        self, pred: torch.Tensor, target: torch.Tensor, rgb: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Returns the total loss and the unweighted terms (for logging)."""
        if pred.shape != target.shape:
            raise ValueError(
                f"prediction {tuple(pred.shape)} and target {tuple(target.shape)} differ; the "
                "model must output (B, C, H, W) with the data's bands"
            )
        terms: dict[str, torch.Tensor] = {}
        w = self.weights
        if w["mrae"]:
            terms["mrae"] = mrae_per_image(pred, target, self.eps, False).mean()
        if w["l1"]:
            terms["l1"] = (pred - target).abs().mean()
        if w["sam"]:
            terms["sam"] = sam_map(pred, target).mean()
        if w["bp"]:
            m = self.response.to(pred.dtype)  # type: ignore[union-attr]
            proj_p = torch.einsum("kc,bchw->bkhw", m, pred)
            proj_t = torch.einsum("kc,bchw->bkhw", m, target)
            terms["bp"] = mrae_per_image(proj_p, proj_t, self.eps, False).mean()
        total = sum(w[k] * v for k, v in terms.items())
        return total, terms  # type: ignore[return-value]


def reconstruction_metrics(
    pred: torch.Tensor,
    target: torch.Tensor,
    response: Any | None = None,
    *,
    eps: float = 1e-6,
    mask: bool = False,
) -> dict[str, float]:
    """Per-image validation metrics summed over the batch (divide by the count later).

    The metrics of :func:`ssrzoo.evaluate` (:func:`ssrzoo.evaluation.score_batch`): MRAE,
    RMSE, PSNR (peak 1), SAM (degrees) and, with a response, BP-MRAE. Sums rather than
    means so that batches and processes of different sizes combine exactly. SSIM is left
    out: its 11 × 11 window does not fit every validation image (ICVL strips are 9-19 rows
    high), and a metric defined on only some images cannot be averaged with the others.

    ``eps`` and ``mask`` are the MRAE epsilon policy of :func:`ssrzoo.metrics.mrae` (a floor
    on the denominator, or leaving out values with ``|target| < eps``).
    """
    values = score_batch(pred, target, response=response, eps=eps, mask=mask)
    return {k: float(v.sum()) for k, v in values.items()}


class Objective(nn.Module):
    """The model plus its loss, as one module so DDP sees a single ``forward``.

    Stage ``pretrain`` calls ``model.forward_loss(hsi, rgb)`` (a method DDP would not
    hook if called directly); the other stages run ``model(rgb)`` and the weighted
    reconstruction loss, computed in float32 outside autocast.
    """

    def __init__(self, model: nn.Module, criterion: ReconstructionLoss | None) -> None:
        super().__init__()
        self.model = model
        self.criterion = criterion

    def forward(
        self, rgb: torch.Tensor, hsi: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        if self.criterion is None:
            # A method of the model's own class, which nn.Module's typing cannot see.
            loss = first_loss(self.model.forward_loss(hsi, rgb)).float()  # type: ignore[operator]
            return loss, {}
        pred = self.model(rgb)
        with torch.autocast(device_type=pred.device.type, enabled=False):
            return self.criterion(pred.float(), hsi.float(), rgb.float())
