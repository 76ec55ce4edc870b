"""AWAN: adaptive weighted attention network.

Li, Wu, Song, Li, Liu, "Adaptive Weighted Attention Network with Camera Spectral Sensitivity
Prior for Spectral Reconstruction from RGB Images", CVPR Workshops (NTIRE) 2020,
doi:10.1109/CVPRW50498.2020.00239. Winner of the NTIRE 2020 Clean track.

A stack of dual residual attention blocks (DRAB) at full resolution, each with an adaptive
weighted channel attention (AWCA: channel statistics pooled with learnt spatial weights
instead of a plain mean), then a patch-level second-order non-local module (PSNL) on the
output bands. The camera spectral sensitivity prior of the title is a training loss (an RGB
re-projection term), not a layer, so it is not part of this module.

The default width is 96 channels with 8 DRABs, the MST++ toolbox configuration behind the
4.04 M parameters of its table; the authors' NTIRE 2020 entries used 200 channels
(``channels=200``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..protocols import protocol_fields
from ._builder import build_model_with_cfg
from ._layers import NonNegativeOutput, check_rgb_input, crop_to
from ._pretrained import PretrainedCfg, generate_default_cfgs
from ._registry import register_model, register_model_aliases

__all__ = ["AWAN", "AdaptiveWeightedChannelAttention", "DualResidualAttentionBlock"]


def _reflect_conv(in_chans: int, out_chans: int, kernel_size: int) -> nn.Conv2d:
    # Reflection padding and no bias throughout, as in the paper's reference code.
    return nn.Conv2d(
        in_chans,
        out_chans,
        kernel_size,
        padding=kernel_size // 2,
        padding_mode="reflect",
        bias=False,
    )


class AdaptiveWeightedChannelAttention(nn.Module):
    """AWCA: channel attention whose pooling weights are a learnt spatial softmax.

    ``z = sum_p softmax(conv1x1(x))_p * x_p`` replaces global average pooling; a two-layer
    bottleneck with PReLU and a sigmoid turns ``z`` into per-channel gains.

    Args:
        channels: input channels.
        reduction: bottleneck ratio of the gain network.
    """

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        hidden = max(channels // reduction, 1)
        self.pool_logits = nn.Conv2d(channels, 1, 1, bias=False)
        self.gain = nn.Sequential(
            nn.Linear(channels, hidden, bias=False),
            nn.PReLU(),
            nn.Linear(hidden, channels, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` -> ``(B, C, H, W)``."""
        weights = self.pool_logits(x).flatten(2).softmax(dim=-1)  # (B, 1, HW)
        pooled = torch.bmm(x.flatten(2), weights.transpose(1, 2)).squeeze(-1)  # (B, C)
        return x * self.gain(pooled)[:, :, None, None]


class DualResidualAttentionBlock(nn.Module):
    """DRAB: a residual pair of 3x3 convolutions, then a ``k1`` x ``k1`` convolution with a
    long residual ``res`` carried from block to block, AWCA, and a ``k2`` x ``k2``
    convolution back onto the block's input.

    Args:
        channels: feature width.
        k1: kernel of the expanding convolution (5 in the paper).
        k2: kernel of the contracting convolution (3 in the paper).
        reduction: AWCA bottleneck ratio.
    """

    def __init__(self, channels: int, k1: int = 5, k2: int = 3, reduction: int = 16) -> None:
        super().__init__()
        self.conv1 = _reflect_conv(channels, channels, 3)
        self.act1 = nn.PReLU()
        self.conv2 = _reflect_conv(channels, channels, 3)
        self.act2 = nn.PReLU()
        self.up_conv = _reflect_conv(channels, channels, k1)
        self.up_act = nn.PReLU()
        self.attn = AdaptiveWeightedChannelAttention(channels, reduction)
        self.down_conv = _reflect_conv(channels, channels, k2)
        self.down_act = nn.PReLU()

    def forward(self, x: torch.Tensor, res: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x, res)`` both ``(B, C, H, W)`` -> the block output and the next ``res``."""
        shortcut = x
        x = self.act2(self.conv2(self.act1(self.conv1(x))) + shortcut)
        res = self.up_act(self.up_conv(x) + res)
        x = self.down_act(self.down_conv(self.attn(res)) + shortcut)
        return x, res


class SecondOrderNonLocal(nn.Module):
    """Non-local block whose affinity is a second-order (covariance-like) statistic.

    With ``t = theta(x)`` (``d`` channels per pixel) the affinity of pixels ``i, j`` is
    ``(t_i - mean(t_i)) . t_j / d``; a softmax over ``j`` weights ``g(x)``, and a zero-
    initialised 1x1 convolution adds the result to ``x``, so the block starts as identity.
    It is computed with ``scaled_dot_product_attention``, which gives the same numbers as
    the explicit ``HW x HW`` matrix without storing it.

    Args:
        channels: input channels.
        reduction: ``d = channels // reduction`` (at least 1).
    """

    def __init__(self, channels: int, reduction: int = 8) -> None:
        super().__init__()
        self.inner = max(channels // reduction, 1)
        self.theta = nn.Conv2d(channels, self.inner, 1, bias=False)
        self.g = nn.Conv2d(channels, self.inner, 1, bias=False)
        self.out = nn.Conv2d(self.inner, channels, 1, bias=False)
        nn.init.zeros_(self.out.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` -> ``(B, C, H, W)``."""
        b, _, h, w = x.shape
        # Contiguous (B, 1, HW, d): the memory-efficient CPU kernel needs unit stride in d,
        # else SDPA falls back to the explicit HW x HW matrix (17 GB for a 512x512 quadrant).
        theta = self.theta(x).flatten(2).transpose(1, 2).contiguous()[:, None]
        value = self.g(x).flatten(2).transpose(1, 2).contiguous()[:, None]
        query = theta - theta.mean(dim=-1, keepdim=True)
        pad = _sdpa_head_padding(self.inner, x.device)
        if pad:  # zero channels change no dot product and give zero output channels
            query, theta, value = (F.pad(t, (0, pad)) for t in (query, theta, value))
        y = F.scaled_dot_product_attention(query, theta, value, scale=1.0 / self.inner)
        y = y[..., : self.inner]
        return x + self.out(y[:, 0].transpose(1, 2).reshape(b, self.inner, h, w))


def _sdpa_head_padding(dim: int, device: torch.device) -> int:
    """Zero channels to append so CUDA's fused attention kernels accept a head of ``dim``.

    CUDA's flash and memory-efficient kernels need the head size to be a multiple of 8;
    AWAN's is 25 (200 // 8), so float32 fell back to the explicit ``HW x HW`` matrix: 36 GiB
    for one 512x512 image on an H200. The CPU kernel takes any size, so nothing is added there.
    """
    return (-dim) % 8 if device.type == "cuda" else 0


class PatchSecondOrderNonLocal(nn.Module):
    """PSNL: the second-order non-local block applied to each image quadrant separately.

    Quadrants split at ``(H // 2, W // 2)``; the four share weights.

    Args:
        channels: input channels.
        reduction: see :class:`SecondOrderNonLocal`.
    """

    def __init__(self, channels: int, reduction: int = 8) -> None:
        super().__init__()
        self.non_local = SecondOrderNonLocal(channels, reduction)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` with ``H, W >= 2`` -> same shape."""
        h1, w1 = x.shape[-2] // 2, x.shape[-1] // 2
        rows = []
        for band in (x[..., :h1, :], x[..., h1:, :]):
            left, right = band[..., :w1], band[..., w1:]
            rows.append(torch.cat([self.non_local(left), self.non_local(right)], dim=-1))
        return torch.cat(rows, dim=-2)


class AWAN(NonNegativeOutput, nn.Module):
    """AWAN (Li et al., CVPRW 2020): RGB ``(B, 3, H, W)`` -> ``(B, num_bands, H, W)``.

    Fully convolutional at full resolution, so no padding is needed for ordinary sizes;
    inputs smaller than 4 pixels on a side (too small for the 5x5 reflection padding and
    the quadrant split) are padded by replication and cropped back.

    Args:
        in_chans: input channels (3 for RGB).
        num_bands: output spectral bands.
        channels: feature width (96 in the MST++ toolbox, 200 in the authors' entries).
        num_blocks: number of DRABs.
        reduction: AWCA bottleneck ratio.
        nonlocal_reduction: PSNL inner width ratio.
    """

    min_size = 4

    def __init__(
        self,
        in_chans: int = 3,
        num_bands: int = 31,
        channels: int = 96,
        num_blocks: int = 8,
        reduction: int = 16,
        nonlocal_reduction: int = 8,
    ) -> None:
        super().__init__()
        self.in_chans = in_chans
        self.num_bands = num_bands
        self.stem = _reflect_conv(in_chans, channels, 3)
        self.stem_act = nn.PReLU()
        self.head = _reflect_conv(channels, channels, 3)
        self.blocks = nn.ModuleList(
            DualResidualAttentionBlock(channels, reduction=reduction) for _ in range(num_blocks)
        )
        self.tail = _reflect_conv(channels, channels, 3)
        self.tail_act = nn.PReLU()
        self.out_conv = _reflect_conv(channels, num_bands, 3)
        self.non_local = PatchSecondOrderNonLocal(num_bands, nonlocal_reduction)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, in_chans, H, W)`` in [0, 1] -> ``(B, num_bands, H, W)``, ``>= 0`` in eval."""
        x = check_rgb_input(x, self.in_chans, dtype=self.stem.weight.dtype)
        size = tuple(x.shape[-2:])
        pad_h, pad_w = max(self.min_size - size[0], 0), max(self.min_size - size[1], 0)
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
        feat = self.head(self.stem_act(self.stem(x)))
        out, res = feat, feat
        for block in self.blocks:
            out, res = block(out, res)
        out = self.out_conv(self.tail_act(self.tail(out) + feat))
        return self.project_output(crop_to(self.non_local(out), size))


def _create_awan(variant: str, pretrained: bool = False, **kwargs) -> AWAN:
    return build_model_with_cfg(AWAN, variant, pretrained, **kwargs)


def _cfg(**kwargs) -> PretrainedCfg:
    return PretrainedCfg(
        **{
            "license": "apache-2.0",
            "nonneg_output": True,
            "paper": (
                "Li et al., Adaptive Weighted Attention Network with Camera Spectral Sensitivity "
                "Prior for Spectral Reconstruction from RGB Images, CVPR Workshops 2020"
            ),
            "doi": "10.1109/CVPRW50498.2020.00239",
            **kwargs,
        }
    )


default_cfgs = generate_default_cfgs(
    {
        "awan.ntire2020": _cfg(
            hf_hub_id="ssrzoo/awan_ntire",
            sha256="bf7d76b82e836685d341a93587cd31ea945a04b73d3d870d46ba1bc8a6c522c2",
            bundled=True,
            **protocol_fields("ntire2020"),
        ),
        "awan.cave": _cfg(
            hf_hub_id="ssrzoo/awan_cave",
            sha256="abefbc9911766e543ff95443847119fe12c1085375e39c333cd6dc36cc70b322",
            bundled=True,
            **protocol_fields("cave"),
        ),
    }
)


@register_model
def awan(pretrained: bool = False, **kwargs) -> AWAN:
    """AWAN with 8 DRABs of 96 channels (MST++ toolbox configuration), 4.04 M parameters."""
    return _create_awan("awan", pretrained, **kwargs)


register_model_aliases({"awan_ntire": "awan.ntire2020", "awan_cave": "awan.cave"})
