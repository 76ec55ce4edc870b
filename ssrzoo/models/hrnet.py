"""HRNet: 4-level hierarchical regression network.

Zhao, Po, Yan, Liu, Lin, "Hierarchical Regression Network for Spectral Reconstruction from
RGB Images", CVPR Workshops (NTIRE) 2020. Winner of the NTIRE 2020 Real World track, third
on the Clean track. (Not to be confused with the pose-estimation HRNet.)

The input is pixel-unshuffled to four scales (1, 1/2, 1/4, 1/8). Each level embeds its
input, fuses the pixel-shuffled output of the coarser level, refines it with residual dense
blocks and a residual global (squeeze-and-excitation) block, and hands its result up by
``PixelShuffle(2)``. There is no pooling or strided convolution: PixelShuffle moves
information between levels without discarding any. With ``base_width=64`` (the paper's and
the MST++ toolbox's configuration) the network has 31.70 M parameters.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..protocols import protocol_fields
from ._builder import build_model_with_cfg
from ._layers import NonNegativeOutput, check_rgb_input, crop_to, pad_to_multiple
from ._pretrained import PretrainedCfg, generate_default_cfgs
from ._registry import register_model, register_model_aliases

__all__ = ["HRNet", "ResidualDenseBlock", "ResidualGlobalBlock"]


def _conv_act(in_chans: int, out_chans: int, kernel_size: int = 3) -> nn.Sequential:
    """Zero-padded convolution with bias followed by LeakyReLU(0.2), HRNet's only layer type."""
    return nn.Sequential(
        nn.Conv2d(in_chans, out_chans, kernel_size, padding=kernel_size // 2),
        nn.LeakyReLU(0.2, inplace=True),
    )


class ResidualDenseBlock(nn.Module):
    """Five densely connected 3x3 conv layers, the last back to ``channels``, residual x0.1.

    Args:
        channels: input and output channels.
        growth: channels added by each of the first four layers.
    """

    def __init__(self, channels: int, growth: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            _conv_act(channels + i * growth, growth if i < 4 else channels) for i in range(5)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` -> ``(B, C, H, W)``."""
        feats = [x]
        for layer in self.layers:
            feats.append(layer(torch.cat(feats, dim=1)))
        return 0.1 * feats[-1] + x


class ResidualGlobalBlock(nn.Module):
    """Residual global block: conv, squeeze-and-excitation gating, conv, residual x0.1.

    The excitation is a three-layer bias-free MLP (``C -> C/r -> C/r -> C``) with ReLU and a
    sigmoid, as in the reference code.

    Args:
        channels: input and output channels.
        reduction: MLP bottleneck ratio (4 in the paper).
        apply_se: apply the excitation gains. The public HRNet code computes them but feeds
            the un-gated features to the second convolution; ``False`` reproduces that.
    """

    def __init__(self, channels: int, reduction: int = 4, apply_se: bool = True) -> None:
        super().__init__()
        hidden = max(channels // reduction, 1)
        self.conv1 = _conv_act(channels, channels)
        self.excite = nn.Sequential(
            nn.Linear(channels, hidden, bias=False),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, hidden, bias=False),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, channels, bias=False),
            nn.Sigmoid(),
        )
        self.conv2 = _conv_act(channels, channels)
        self.apply_se = apply_se

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` -> ``(B, C, H, W)``."""
        feat = self.conv1(x)
        if self.apply_se:
            feat = feat * self.excite(feat.mean(dim=(2, 3)))[:, :, None, None]
        return 0.1 * self.conv2(feat) + x


class RegressionLevel(nn.Module):
    """One level of the hierarchy: embed, fuse the coarser level, refine, project.

    Args:
        in_chans: channels of the pixel-unshuffled input.
        width: feature width of the level.
        num_dense: residual dense blocks (growth ``width // 2``).
        coarse_chans: channels coming from the coarser level (0 for the coarsest).
        out_chans: output channels.
        out_kernel: kernel of the output convolution.
        reduction: global block ratio.
        apply_se: see :class:`ResidualGlobalBlock`.
    """

    def __init__(
        self,
        in_chans: int,
        width: int,
        num_dense: int,
        coarse_chans: int,
        out_chans: int,
        out_kernel: int = 3,
        reduction: int = 4,
        apply_se: bool = True,
    ) -> None:
        super().__init__()
        self.embed = _conv_act(in_chans, width)
        self.fuse = _conv_act(width + coarse_chans, width) if coarse_chans else None
        self.body = nn.Sequential(
            *(ResidualDenseBlock(width, width // 2) for _ in range(num_dense)),
            ResidualGlobalBlock(width, reduction, apply_se),
        )
        self.out = _conv_act(width, out_chans, out_kernel)

    def forward(self, x: torch.Tensor, coarse: torch.Tensor | None = None) -> torch.Tensor:
        x = self.embed(x)
        if self.fuse is not None:
            if coarse is None:
                raise ValueError("this level fuses the coarser level's output; pass coarse=")
            x = self.fuse(torch.cat([x, coarse], dim=1))
        return self.out(self.body(x))


class HRNet(NonNegativeOutput, nn.Module):
    """HRNet (Zhao et al., CVPRW 2020): RGB ``(B, 3, H, W)`` -> ``(B, num_bands, H, W)``.

    Level ``k`` (``k = 0`` is full resolution) sees the input pixel-unshuffled by ``2**k``,
    has ``base_width * 2**k`` channels and ``(4, 2, 1, 1)[k]`` residual dense blocks. Any
    ``H, W``: the input is padded to a multiple of 8 and the output cropped back. As in the
    reference code, the output layer ends with the LeakyReLU of every other layer.

    Args:
        in_chans: input channels (3 for RGB).
        num_bands: output spectral bands.
        base_width: channels at full resolution.
        num_dense: residual dense blocks per level, finest first.
        apply_se: see :class:`ResidualGlobalBlock`.
    """

    def __init__(
        self,
        in_chans: int = 3,
        num_bands: int = 31,
        base_width: int = 64,
        num_dense: tuple[int, ...] = (4, 2, 1, 1),
        apply_se: bool = True,
    ) -> None:
        super().__init__()
        self.in_chans = in_chans
        self.num_bands = num_bands
        self.num_levels = len(num_dense)
        self.pad_multiple = 2 ** (self.num_levels - 1)
        levels = []
        for k, blocks in enumerate(num_dense):
            width = base_width * 2**k
            coarsest = k == self.num_levels - 1
            levels.append(
                RegressionLevel(
                    in_chans * 4**k,
                    width,
                    blocks,
                    coarse_chans=0 if coarsest else width // 2,
                    out_chans=width if k else num_bands,
                    out_kernel=1 if coarsest else 3,
                    apply_se=apply_se,
                )
            )
        self.levels = nn.ModuleList(levels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, in_chans, H, W)`` in [0, 1] -> ``(B, num_bands, H, W)``, ``>= 0`` in eval."""
        # nn.ModuleList and nn.Sequential items are typed as bare modules.
        dtype = self.levels[0].embed[0].weight.dtype  # type: ignore[index,union-attr]
        x = check_rgb_input(x, self.in_chans, dtype=dtype)
        x, size = pad_to_multiple(x, self.pad_multiple)
        coarse = None
        for k in reversed(range(self.num_levels)):
            inp = F.pixel_unshuffle(x, 2**k) if k else x
            out = self.levels[k](inp, coarse)
            coarse = F.pixel_shuffle(out, 2) if k else out
        assert coarse is not None  # num_levels >= 1
        return self.project_output(crop_to(coarse, size))


def _create_hrnet(variant: str, pretrained: bool = False, **kwargs) -> HRNet:
    return build_model_with_cfg(HRNet, variant, pretrained, **kwargs)


def _cfg(**kwargs) -> PretrainedCfg:
    return PretrainedCfg(
        **{
            "license": "apache-2.0",
            "nonneg_output": True,
            "paper": (
                "Zhao et al., Hierarchical Regression Network for Spectral Reconstruction from "
                "RGB Images, CVPR Workshops 2020"
            ),
            **kwargs,
        }
    )


default_cfgs = generate_default_cfgs(
    {
        "hrnet.ntire2020": _cfg(
            hf_hub_id="ssrzoo/hrnet_ntire",
            notes="No published weight yet: at 31.7 M parameters HRNet did not fit the CPU "
            "training budget of the other ntire2020 weights (4000-16000 steps each, 24-124 min); "
            "pretrained=True has nothing to load. Train it with the Trainer and "
            "recipes/mst_plus_plus_ntire.yaml with model.name=hrnet_ntire.",
            **protocol_fields("ntire2020"),
        ),
    }
)


@register_model
def hrnet(pretrained: bool = False, **kwargs) -> HRNet:
    """HRNet with base width 64 (the paper's configuration), 31.70 M parameters."""
    return _create_hrnet("hrnet", pretrained, **kwargs)


register_model_aliases({"hrnet_ntire": "hrnet.ntire2020"})
