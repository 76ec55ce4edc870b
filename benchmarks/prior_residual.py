"""Experiment for issue 18: MAE-KTSR that corrects its prior's own reconstruction.

The published MAE-KTSR fuses the S²-MAE encoder's features (``1/8`` resolution) into the
CNN and adds a linear RGB -> spectrum projection as its global residual. Here the global
residual is the S²-MAE's RGB-only reconstruction itself, decoded at full resolution by
the S²-MAE's own (frozen) decoder: the CNN starts as the prior (its head and projection
are zero-initialised) and learns a correction to it. The hypothesis: the decoded cube
carries per-pixel spectral detail that bilinearly upsampled token features do not.

Not a zoo model: registered only when a recipe imports this module (``imports:
[prior_residual]``, ``PYTHONPATH=benchmarks``, ``--allow-imports``). Its runs are recorded
by ``benchmarks/prior_search.py collect``; the prior search page reports them.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ssrzoo.models import register_model
from ssrzoo.models._builder import build_model_with_cfg
from ssrzoo.models._helpers import state_dict_of
from ssrzoo.models._layers import check_rgb_input, crop_to
from ssrzoo.models.mae_ktsr import MAEKTSR, S2MAE, S2MAEEncoder

_DECODER_PREFIXES = ("decoder_", "mask_token")


class PriorResidualMAEKTSR(MAEKTSR):
    """:class:`~ssrzoo.models.mae_ktsr.MAEKTSR` with the prior's decoded cube as residual.

    Args:
        decoder_args: :class:`S2MAE` decoder settings (``decoder_dim``, ``decoder_depth``,
            ``decoder_heads``) of the S²-MAE whose weights :meth:`load_prior` loads.
        **kwargs: :class:`MAEKTSR` arguments; one resolution level, with a prior.
    """

    def __init__(self, decoder_args: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if self.prior is None or self.levels != 1:
            raise ValueError("the prior-residual experiment needs a prior and levels=1")
        enc = self.prior
        # depth=0: only the decoder of this S²-MAE is used, the encoder is self.prior
        self.prior_decoder = S2MAE(
            in_chans=self.in_chans,
            num_bands=self.num_bands,
            patch_size=enc.patch_size,
            embed_dim=enc.embed_dim,
            depth=0,
            window_size=enc.window_size,
            **dict(decoder_args or {}),
        )
        for conv in (self.head, self.rgb_to_spectrum):
            nn.init.zeros_(conv.weight)
            if conv.bias is not None:
                nn.init.zeros_(conv.bias)
        self.set_prior_trainable(not self.prior_frozen)

    def set_prior_trainable(self, trainable: bool) -> None:
        """As :meth:`MAEKTSR.set_prior_trainable`, the decoder with the encoder."""
        super().set_prior_trainable(trainable)
        decoder = getattr(self, "prior_decoder", None)
        if decoder is not None:
            decoder.requires_grad_(trainable)
            decoder.train(self.training and trainable)

    def train(self, mode: bool = True) -> PriorResidualMAEKTSR:
        """As ``nn.Module.train``, but a frozen prior and its decoder stay in eval mode."""
        super().train(mode)
        if self.prior_frozen:
            self.prior_decoder.eval()
        return self

    def load_prior(
        self,
        source: S2MAE | S2MAEEncoder | Mapping[str, torch.Tensor] | str | Path,
        strict: bool = True,
    ) -> tuple[list[str], list[str]]:
        """Load the S²-MAE's encoder into the prior and its decoder into the residual."""
        if isinstance(source, S2MAEEncoder):
            raise ValueError("the prior-residual experiment needs a whole S²-MAE (decoder too)")
        state = state_dict_of(source)
        missing, unexpected = super().load_prior(state, strict)
        decoder = {k: v for k, v in state.items() if k.startswith(_DECODER_PREFIXES)}
        want = {k for k in self.prior_decoder.state_dict() if k.startswith(_DECODER_PREFIXES)}
        if set(decoder) != want:
            raise ValueError(f"the S²-MAE's decoder keys differ: {sorted(want ^ set(decoder))}")
        self.prior_decoder.load_state_dict(decoder, strict=False)
        return missing, unexpected

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, in_chans, H, W)`` -> ``(B, num_bands, H, W)``, ``>= 0`` in eval mode."""
        check_rgb_input(x, self.in_chans)
        x = x.to(self.head.weight.dtype)
        assert self.fusions is not None
        prior = self.forward_prior(x)
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.prior_frozen):
            tokens = prior.flatten(2).transpose(1, 2)
            base = crop_to(self.prior_decoder.forward_decoder(tokens, x), x.shape[-2:])
        shallow = self.shallow(x)
        feat = shallow
        for fusion, stage in zip(self.fusions, self.stages, strict=True):
            feat = stage(fusion(feat, prior))
        out = self.head(feat + shallow) + self.rgb_to_spectrum(x) + base
        return self.project_output(out)


@register_model
def mae_ktsr_prior_residual(pretrained: bool = False, **kwargs: Any) -> PriorResidualMAEKTSR:
    """The prior-residual experiment (issue 18); no published weight."""
    return build_model_with_cfg(
        PriorResidualMAEKTSR, "mae_ktsr_prior_residual", pretrained, **kwargs
    )
