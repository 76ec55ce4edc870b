"""MST++: multi-stage spectral-wise transformer.

Cai, Lin, Lin, Wang, Zhang, Pfister, Timofte, Van Gool, "MST++: Multi-stage Spectral-wise
Transformer for Efficient Spectral Reconstruction", CVPR Workshops (NTIRE) 2022,
doi:10.1109/CVPRW56347.2022.00090. Winner of the NTIRE 2022 spectral recovery challenge.

The network is ``conv3x3 -> N_s x SST -> conv3x3`` with a long residual. Each single-stage
spectral transformer (SST) is a small U-Net whose blocks are spectral-wise multi-head
self-attention (S-MSA): tokens are the feature channels, not the pixels, so attention costs
``O(C^2 HW)`` and sees the whole image at once. The default configuration (3 stages,
width 31, two down-sampling levels, one block per level) is the one of the MST++ toolbox and
has 1.62 M parameters.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.init import trunc_normal_

from ..protocols import protocol_fields
from ._builder import build_model_with_cfg
from ._layers import NonNegativeOutput, check_rgb_input, crop_to, pad_to_multiple
from ._pretrained import PretrainedCfg, generate_default_cfgs
from ._registry import register_model, register_model_aliases

__all__ = ["MSTPlusPlus", "SingleStageSpectralTransformer", "SpectralMSA"]


class SpectralMSA(nn.Module):
    """Spectral-wise multi-head self-attention (S-MSA).

    Each head treats its ``head_dim`` channels as tokens: the attention map is
    ``softmax(sigma * K^T Q)`` of size ``head_dim x head_dim`` with L2-normalised keys and
    queries and a learnt temperature ``sigma`` per head. A depth-wise convolutional
    position embedding of the values is added to the projected output.

    Args:
        dim: channels of the input and output.
        num_heads: attention heads; ``num_heads * head_dim`` must equal ``dim``.
        head_dim: channels per head.
    """

    def __init__(self, dim: int, num_heads: int, head_dim: int) -> None:
        super().__init__()
        if num_heads * head_dim != dim:
            raise ValueError(
                f"num_heads * head_dim must equal dim, got {num_heads} * {head_dim} != {dim}"
            )
        self.num_heads = num_heads
        self.head_dim = head_dim
        self.to_q = nn.Linear(dim, dim, bias=False)
        self.to_k = nn.Linear(dim, dim, bias=False)
        self.to_v = nn.Linear(dim, dim, bias=False)
        self.temperature = nn.Parameter(torch.ones(num_heads, 1, 1))
        self.proj = nn.Linear(dim, dim)
        self.pos_embed = nn.Sequential(
            nn.Conv2d(dim, dim, 3, padding=1, groups=dim, bias=False),
            nn.GELU(),
            nn.Conv2d(dim, dim, 3, padding=1, groups=dim, bias=False),
        )

    def _split_heads(self, t: torch.Tensor) -> torch.Tensor:
        # (B, N, heads * d) -> (B, heads, d, N): channels become the tokens.
        b, n, _ = t.shape
        return t.reshape(b, n, self.num_heads, self.head_dim).permute(0, 2, 3, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, H, W, C)`` channels-last features -> same shape."""
        b, h, w, c = x.shape
        tokens = x.reshape(b, h * w, c)
        v_inp = self.to_v(tokens)
        q = F.normalize(self._split_heads(self.to_q(tokens)), dim=-1)
        k = F.normalize(self._split_heads(self.to_k(tokens)), dim=-1)
        attn = (k @ q.transpose(-2, -1)) * self.temperature
        out = attn.softmax(dim=-1) @ self._split_heads(v_inp)  # (B, heads, d, N)
        out = out.permute(0, 3, 1, 2).reshape(b, h * w, c)
        out = self.proj(out).view(b, h, w, c)
        pos = self.pos_embed(v_inp.view(b, h, w, c).permute(0, 3, 1, 2))
        return out + pos.permute(0, 2, 3, 1)


class SpectralFeedForward(nn.Module):
    """Pointwise-depthwise-pointwise feed-forward with GELU, on channels-last input.

    Args:
        dim: input and output channels.
        mult: expansion ratio of the hidden width.
    """

    def __init__(self, dim: int, mult: int = 4) -> None:
        super().__init__()
        hidden = dim * mult
        self.net = nn.Sequential(
            nn.Conv2d(dim, hidden, 1, bias=False),
            nn.GELU(),
            nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden, bias=False),
            nn.GELU(),
            nn.Conv2d(hidden, dim, 1, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, H, W, C)`` -> ``(B, H, W, C)``."""
        return self.net(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)


class SpectralAttentionBlock(nn.Module):
    """Spectral-wise attention block (SAB): ``depth`` x (S-MSA, LayerNorm + FFN), residual.

    Args:
        dim: channels.
        num_heads: S-MSA heads.
        head_dim: channels per head.
        depth: number of (S-MSA, FFN) pairs.
    """

    def __init__(self, dim: int, num_heads: int, head_dim: int, depth: int = 1) -> None:
        super().__init__()
        self.attns = nn.ModuleList(SpectralMSA(dim, num_heads, head_dim) for _ in range(depth))
        self.norms = nn.ModuleList(nn.LayerNorm(dim) for _ in range(depth))
        self.ffns = nn.ModuleList(SpectralFeedForward(dim) for _ in range(depth))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` -> ``(B, C, H, W)``."""
        x = x.permute(0, 2, 3, 1)
        for attn, norm, ffn in zip(self.attns, self.norms, self.ffns, strict=True):
            # As in the authors' code, S-MSA has no pre-norm; only the FFN has one.
            x = attn(x) + x
            x = ffn(norm(x)) + x
        return x.permute(0, 3, 1, 2)


class SingleStageSpectralTransformer(nn.Module):
    """Single-stage spectral-wise transformer (SST): a U-Net of spectral attention blocks.

    Level ``i`` has ``dim * 2**i`` channels and ``2**i`` heads of ``dim`` channels; each
    level halves the resolution with a stride-2 4x4 convolution and the decoder restores it
    with a 2x2 transposed convolution and a 1x1 fusion of the skip connection.

    Args:
        dim: channels at full resolution (also the width of every head).
        levels: number of down-sampling steps; input sides must be multiples of ``2**levels``.
        depths: blocks per level, ``levels + 1`` numbers (the last one is the bottleneck);
            the decoder mirrors the encoder.
    """

    def __init__(self, dim: int = 31, levels: int = 2, depths: Sequence[int] = (1, 1, 1)) -> None:
        super().__init__()
        if len(depths) != levels + 1:
            raise ValueError(f"depths needs levels + 1 = {levels + 1} numbers, got {tuple(depths)}")
        self.embed = nn.Conv2d(dim, dim, 3, padding=1, bias=False)
        self.encoders = nn.ModuleList()
        self.downsamples = nn.ModuleList()
        width = dim
        for i in range(levels):
            self.encoders.append(SpectralAttentionBlock(width, width // dim, dim, depths[i]))
            self.downsamples.append(nn.Conv2d(width, width * 2, 4, stride=2, padding=1, bias=False))
            width *= 2
        self.bottleneck = SpectralAttentionBlock(width, width // dim, dim, depths[-1])
        self.upsamples = nn.ModuleList()
        self.fusions = nn.ModuleList()
        self.decoders = nn.ModuleList()
        for i in range(levels):
            half = width // 2
            self.upsamples.append(nn.ConvTranspose2d(width, half, 2, stride=2))
            self.fusions.append(nn.Conv2d(width, half, 1, bias=False))
            self.decoders.append(
                SpectralAttentionBlock(half, half // dim, dim, depths[levels - 1 - i])
            )
            width = half
        self.mapping = nn.Conv2d(dim, dim, 3, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, dim, H, W)`` with H, W multiples of ``2**levels`` -> same shape."""
        feat = self.embed(x)
        skips = []
        for encoder, down in zip(self.encoders, self.downsamples, strict=True):
            feat = encoder(feat)
            skips.append(feat)
            feat = down(feat)
        feat = self.bottleneck(feat)
        for up, fuse, decoder, skip in zip(
            self.upsamples, self.fusions, self.decoders, reversed(skips), strict=True
        ):
            feat = decoder(fuse(torch.cat([up(feat), skip], dim=1)))
        return self.mapping(feat) + x


class MSTPlusPlus(NonNegativeOutput, nn.Module):
    """MST++ (Cai et al., CVPRW 2022): RGB ``(B, 3, H, W)`` -> spectra ``(B, num_bands, H, W)``.

    Any ``H, W``: the input is padded on the bottom and right to a multiple of
    ``max(8, 2**levels)`` (8 as in the reference code, so that its global attention sees the
    same padded image) and the output cropped back.

    Args:
        in_chans: input channels (3 for RGB).
        num_bands: output spectral bands.
        embed_dim: feature width and head width; ``None`` means ``num_bands`` as in the paper,
            where the width equals the 31 output bands. If it differs from ``num_bands`` the
            long residual goes through a 1x1 convolution (not in the paper).
        num_stages: number of cascaded SSTs (3 in the paper).
        levels: down-sampling levels of each SST.
        depths: blocks per SST level, ``levels + 1`` numbers.
    """

    def __init__(
        self,
        in_chans: int = 3,
        num_bands: int = 31,
        embed_dim: int | None = None,
        num_stages: int = 3,
        levels: int = 2,
        depths: Sequence[int] = (1, 1, 1),
    ) -> None:
        super().__init__()
        dim = num_bands if embed_dim is None else embed_dim
        self.in_chans = in_chans
        self.num_bands = num_bands
        self.pad_multiple = max(8, 2**levels)
        self.conv_in = nn.Conv2d(in_chans, dim, 3, padding=1, bias=False)
        self.body = nn.Sequential(
            *(SingleStageSpectralTransformer(dim, levels, depths) for _ in range(num_stages))
        )
        self.conv_out = nn.Conv2d(dim, num_bands, 3, padding=1, bias=False)
        self.skip = nn.Identity() if dim == num_bands else nn.Conv2d(dim, num_bands, 1, bias=False)
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, in_chans, H, W)`` in [0, 1] -> ``(B, num_bands, H, W)``, ``>= 0`` in eval."""
        x = check_rgb_input(x, self.in_chans, dtype=self.conv_in.weight.dtype)
        x, size = pad_to_multiple(x, self.pad_multiple)
        feat = self.conv_in(x)
        out = self.conv_out(self.body(feat)) + self.skip(feat)
        return self.project_output(crop_to(out, size))


def _create_mst_plus_plus(variant: str, pretrained: bool = False, **kwargs) -> MSTPlusPlus:
    return build_model_with_cfg(MSTPlusPlus, variant, pretrained, **kwargs)


def _cfg(**kwargs) -> PretrainedCfg:
    return PretrainedCfg(
        **{
            "license": "apache-2.0",
            "nonneg_output": True,
            "paper": (
                "Cai et al., MST++: Multi-stage Spectral-wise Transformer for Efficient "
                "Spectral Reconstruction, CVPR Workshops 2022"
            ),
            "doi": "10.1109/CVPRW56347.2022.00090",
            **kwargs,
        }
    )


default_cfgs = generate_default_cfgs(
    {
        "mst_plus_plus.ntire2020": _cfg(
            hf_hub_id="ssrzoo/mst_plus_plus_ntire",
            sha256="ce05c2cc1a310e43799a1265e5961350ee311969122f8c3483f6f3daca4d4c28",
            bundled=True,
            **protocol_fields("ntire2020"),
        ),
        "mst_plus_plus.cave": _cfg(
            hf_hub_id="ssrzoo/mst_plus_plus_cave",
            sha256="5a2f0bcc26373e8887bb1ffcba961ea14f01e82efabd5fcafc64556ecb550058",
            bundled=True,
            **protocol_fields("cave"),
        ),
    }
)


@register_model
def mst_plus_plus(pretrained: bool = False, **kwargs) -> MSTPlusPlus:
    """MST++ with the paper's configuration (3 stages, width 31), 1.62 M parameters."""
    return _create_mst_plus_plus("mst_plus_plus", pretrained, **kwargs)


register_model_aliases(
    {"mst_plus_plus_ntire": "mst_plus_plus.ntire2020", "mst_plus_plus_cave": "mst_plus_plus.cave"}
)
