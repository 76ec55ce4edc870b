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

    def grow(self, x: torch.Tensor) -> torch.Tensor:
        """The ``growth`` new maps of ``x`` ``(B, C, H, W)``."""
        return self.expand(self.reduce(x))

    def expand(self, reduced: torch.Tensor) -> torch.Tensor:
        """The new maps from the bottleneck's output (before its activation)."""
        return self.act(self.fuse(self.paths(self.act(reduced))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` -> ``(B, C + growth, H, W)``."""
        return torch.cat([x, self.grow(x)], dim=1)


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
        if torch.is_grad_enabled():
            out = self.head(self.blocks(self.stem(x)))
        else:
            out = torch.cat([self.head(self._dense_features(x[i : i + 1])) for i in range(len(x))])
        return self.project_output(out)

    def _dense_features(self, x: torch.Tensor) -> torch.Tensor:
        """The blocks' output for one image, written into one preallocated tensor.

        Each block's ``torch.cat`` copies every map before it: at the last block the old and
        the new concatenation live together, twice the final features (2.3 GiB at 512x512 in
        float32). Inference instead writes each block's maps into their slice of one buffer;
        with a batch of one a channel slice is contiguous, so the convolutions read it in
        place. The 1x1 bottleneck runs as a matrix product on that slice: a CPU convolution
        would first copy its whole input into its own blocked layout. Without autograd
        only: the in-place writes would invalidate saved tensors.
        """
        stem = self.stem(x)
        blocks = [b for b in self.blocks if isinstance(b, DenseFusionBlock)]
        growth = sum(b.fuse.out_channels for b in blocks)
        width, (height, cols) = stem.shape[1], stem.shape[2:]
        feats = stem.new_empty((1, width + growth, height, cols))
        feats[:, :width] = stem
        del stem
        for block in blocks:
            weight = block.reduce.weight.flatten(1)  # (bottleneck, width): bias-free 1x1
            reduced = (weight @ feats[0, :width].flatten(1)).view(1, -1, height, cols)
            new = block.expand(reduced)
            feats[:, width : width + new.shape[1]] = new
            width += new.shape[1]
        return feats


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
