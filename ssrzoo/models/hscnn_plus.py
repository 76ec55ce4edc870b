"""HSCNN+ (HSCNN-D): a densely connected CNN of dense fusion blocks.

Shi, Chen, Xiong, Wu, Zha, "HSCNN+: Advanced CNN-Based Hyperspectral Recovery from RGB
Images", CVPR Workshops (NTIRE) 2018. HSCNN-D is the paper's densely connected variant,
its NTIRE 2018 challenge entry.

A two-path feature extraction (3x3 then 1x1 convolutions in each path) gives 128 maps;
then ``num_blocks`` dense fusion blocks each append ``growth`` maps to everything before
them (DenseNet style), and a 1x1 convolution maps the concatenation to the bands. The
network has no down-sampling, so any ``H, W`` works without padding. The default (30 blocks,
growth 32, all convolutions bias-free) is the MST++ toolbox configuration: 4.65 M parameters.
"""

from __future__ import annotations

import torch
from torch import nn

from ..protocols import protocol_fields
from ._builder import build_model_with_cfg
from ._layers import NonNegativeOutput, check_rgb_input
from ._pretrained import PretrainedCfg, generate_default_cfgs
from ._registry import register_model, register_model_aliases

__all__ = ["DenseFusionBlock", "HSCNNPlus"]


class TwoPathFusion(nn.Module):
    """Two parallel paths, each ``conv3x3 -> ReLU -> conv1x1 -> ReLU``, all four outputs
    concatenated: ``2 * (wide + narrow)`` channels out.

    Args:
        in_chans: input channels.
        wide: output channels of each 3x3 convolution.
        narrow: output channels of each 1x1 convolution.
    """

    def __init__(self, in_chans: int, wide: int, narrow: int) -> None:
        super().__init__()
        self.paths = nn.ModuleList(
            nn.ModuleList(
                [
                    nn.Conv2d(in_chans, wide, 3, padding=1, bias=False),
                    nn.Conv2d(wide, narrow, 1, bias=False),
                ]
            )
            for _ in range(2)
        )
        self.act = nn.ReLU(inplace=True)
        self.out_chans = 2 * (wide + narrow)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, in_chans, H, W)`` -> ``(B, 2 * (wide + narrow), H, W)``."""
        feats = []
        for path in self.paths:
            assert isinstance(path, nn.ModuleList)  # for mypy: a pair of convolutions
            conv3, conv1 = path
            first = self.act(conv3(x))
            feats += [first, self.act(conv1(first))]
        # Channel order: path 1 (3x3, 1x1), path 2 (3x3, 1x1), as in the reference code.
        return torch.cat(feats, dim=1)


class DenseFusionBlock(nn.Module):
    """Dense fusion block (DFB): 1x1 bottleneck, two-path fusion, 1x1 fusion to ``growth``
    maps, concatenated to the input.

    Args:
        in_chans: input channels; output has ``in_chans + growth``.
        bottleneck: channels after the 1x1 reduction.
        wide: 3x3 path width.
        narrow: 1x1 path width.
        growth: channels the block adds.
    """

    def __init__(
        self,
        in_chans: int,
        bottleneck: int = 128,
        wide: int = 32,
        narrow: int = 16,
        growth: int = 32,
    ) -> None:
        super().__init__()
        self.reduce = nn.Conv2d(in_chans, bottleneck, 1, bias=False)
        self.paths = TwoPathFusion(bottleneck, wide, narrow)
        self.fuse = nn.Conv2d(self.paths.out_chans, growth, 1, bias=False)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` -> ``(B, C + growth, H, W)``."""
        new = self.act(self.fuse(self.paths(self.act(self.reduce(x)))))
        return torch.cat([x, new], dim=1)


class HSCNNPlus(NonNegativeOutput, nn.Module):
    """HSCNN-D (Shi et al., CVPRW 2018): RGB ``(B, 3, H, W)`` -> ``(B, num_bands, H, W)``.

    Args:
        in_chans: input channels (3 for RGB).
        num_bands: output spectral bands.
        num_blocks: dense fusion blocks (30 in the MST++ toolbox configuration).
        growth: channels each block adds.
    """

    def __init__(
        self, in_chans: int = 3, num_bands: int = 31, num_blocks: int = 30, growth: int = 32
    ) -> None:
        super().__init__()
        self.in_chans = in_chans
        self.num_bands = num_bands
        self.stem = TwoPathFusion(in_chans, 32, 32)
        width = self.stem.out_chans
        blocks = []
        for _ in range(num_blocks):
            blocks.append(DenseFusionBlock(width, growth=growth))
            width += growth
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Conv2d(width, num_bands, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, in_chans, H, W)`` in [0, 1] -> ``(B, num_bands, H, W)``, ``>= 0`` in eval."""
        x = check_rgb_input(x, self.in_chans, dtype=self.head.weight.dtype)
        return self.project_output(self.head(self.blocks(self.stem(x))))


def _create_hscnn_plus(variant: str, pretrained: bool = False, **kwargs) -> HSCNNPlus:
    return build_model_with_cfg(HSCNNPlus, variant, pretrained, **kwargs)


def _cfg(**kwargs) -> PretrainedCfg:
    return PretrainedCfg(
        **{
            "license": "apache-2.0",
            "nonneg_output": True,
            "paper": (
                "Shi et al., HSCNN+: Advanced CNN-Based Hyperspectral Recovery from RGB "
                "Images, CVPR Workshops 2018 (HSCNN-D)"
            ),
            **kwargs,
        }
    )


default_cfgs = generate_default_cfgs(
    {
        "hscnn_plus.ntire2020": _cfg(
            hf_hub_id="ssrzoo/hscnn_plus_ntire",
            sha256="4314cac7c9b9c78da3a7f583fc11f87c23b159f359ba33802d3153cf1cf8342b",
            bundled=True,
            **protocol_fields("ntire2020"),
        ),
        "hscnn_plus.cave": _cfg(
            hf_hub_id="ssrzoo/hscnn_plus_cave",
            sha256="f691094fe486af82fa236b7c00fed0a871223e7c0b6541825a50dcb5ea05764b",
            bundled=True,
            **protocol_fields("cave"),
        ),
    }
)


@register_model
def hscnn_plus(pretrained: bool = False, **kwargs) -> HSCNNPlus:
    """HSCNN-D with 30 dense fusion blocks, 4.65 M parameters."""
    return _create_hscnn_plus("hscnn_plus", pretrained, **kwargs)


register_model_aliases(
    {"hscnn_plus_ntire": "hscnn_plus.ntire2020", "hscnn_plus_cave": "hscnn_plus.cave"}
)
