"""Compute cost of a model: FLOPs of one forward pass.

Papers disagree on what a "FLOP" is. The MST++ paper (and most spectral-reconstruction
papers, which use ``thop``/``fvcore``) report multiply-accumulates (MACs) and call them
FLOPs: MST++ is "23.05 G" at 256x256 in those units. :func:`count_flops` counts with
``torch.utils.flop_counter.FlopCounterMode``, which counts **2 per MAC** (one multiply, one
add) for matrix products, convolutions and attention, and nothing for element-wise ops,
norms or activations. Compare models with the same counter, or halve this count to compare
with a paper's MAC-based figure.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

__all__ = ["count_flops"]


def count_flops(
    model: nn.Module,
    input_size: Sequence[int] = (1, 3, 512, 512),
    device: str | torch.device = "meta",
) -> int:
    """FLOPs of one forward pass at ``input_size``, counted as ``FlopCounterMode`` does.

    Args:
        model: the model; it is not modified (a copy is moved to ``device``).
        input_size: shape of the input tensor, ``(B, C, H, W)``.
        device: where to run the pass. ``"meta"`` (the default) computes shapes only, so a
            512x512 count takes well under a second on a CPU; pass ``"cpu"`` for a model
            whose forward needs real values (e.g. data-dependent control flow).

    Returns:
        The number of floating-point operations (2 per multiply-accumulate).
    """
    device = torch.device(device)
    work = copy.deepcopy(model).to(device) if device.type == "meta" else model
    dtype = next((p.dtype for p in work.parameters()), torch.float32)
    x = torch.rand(*input_size, device=device, dtype=dtype)
    was_training = work.training
    work.eval()
    try:
        counter = FlopCounterMode(display=False)
        with torch.no_grad(), counter:
            work(x)
    finally:
        work.train(was_training)
    return int(counter.get_total_flops())
