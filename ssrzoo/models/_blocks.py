"""Network blocks the model families share: a pre-norm transformer block, channel layer
norm, squeeze-excitation, stochastic depth and a 2-D sin-cos position embedding.

They are written here rather than imported from ``timm.layers`` for two reasons, both
measured on the 2-core development CPU:

* importing ``timm`` imports ``torchvision``: 0.2 GB more resident memory for every
  ``predict`` (0.52 GB after ``import torch``, 0.72 GB after ``import timm``), a fifth of the
  1 GiB a 12 MP reconstruction may use beside its cube, and seconds of start-up;
* a published weight must compute the same under every install: our blocks fix their
  defaults (layer-norm epsilon, GELU form, SE width rounding) instead of following a
  dependency's.

Parameter names match the layout the published weights were saved with (``norm1``,
``attn.qkv``, ``attn.proj``, ``norm2``, ``mlp.fc1``, ``mlp.fc2``; ``fc1``/``fc2`` for
squeeze-excitation), so those weights load unchanged. The training code (optimiser,
scheduler, EMA) still uses timm.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "DropPath",
    "LayerNorm2d",
    "SqueezeExcite",
    "TransformerBlock",
    "sincos_pos_embed_2d",
]


def sincos_pos_embed_2d(
    height: int,
    width: int,
    dim: int,
    *,
    temperature: float = 10000.0,
    device: torch.device | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """``(height * width, dim)`` fixed 2-D sin-cos position embedding, tokens in raster order.

    A quarter of the channels each holds ``sin(row * f)``, ``sin(col * f)``, ``cos(row *
    f)`` and ``cos(col * f)``, in that order, for ``dim / 4`` frequencies
    ``f_k = temperature^(-k / (dim / 4))`` (Vaswani et al. 2017, extended to two axes as in
    MAE, He et al. 2022).
    """
    if dim % 4:
        raise ValueError(f"a 2-D sin-cos embedding needs dim divisible by 4, got {dim}")
    quarter = dim // 4
    exponents = torch.arange(quarter, device=device, dtype=torch.float32) / quarter
    freqs = 1.0 / temperature**exponents
    rows = torch.arange(height, device=device, dtype=torch.float32)
    cols = torch.arange(width, device=device, dtype=torch.float32)
    grid = torch.stack(torch.meshgrid(rows, cols, indexing="ij")).flatten(1).T  # (N, 2)
    angles = (grid[:, :, None] * freqs).flatten(1)  # (N, 2 * quarter): rows, then cols
    return torch.cat([angles.sin(), angles.cos()], dim=1).to(dtype)


class LayerNorm2d(nn.LayerNorm):
    """Layer norm over the channels of a ``(B, C, H, W)`` map, at every pixel."""

    def __init__(self, channels: int, eps: float = 1e-6) -> None:
        super().__init__(channels, eps=eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x.permute(0, 2, 3, 1)
        y = F.layer_norm(y, self.normalized_shape, self.weight, self.bias, self.eps)
        return y.permute(0, 3, 1, 2)


class SqueezeExcite(nn.Module):
    """Squeeze-and-excitation (Hu et al., CVPR 2018): re-weight channels by global context.

    Args:
        channels: input and output channels.
        ratio: width of the bottleneck relative to ``channels``, rounded to the nearest
            multiple of 8 (at least 8).
    """

    def __init__(self, channels: int, ratio: float = 1 / 16) -> None:
        super().__init__()
        hidden = max(8, int(channels * ratio + 4) // 8 * 8)
        self.fc1 = nn.Conv2d(channels, hidden, 1)
        self.act = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(hidden, channels, 1)

    def scale(self, pooled: torch.Tensor) -> torch.Tensor:
        """Per-channel weights in (0, 1) from the ``(B, C, 1, 1)`` channel means."""
        return torch.sigmoid(self.fc2(self.act(self.fc1(pooled))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale(x.mean((2, 3), keepdim=True))


class DropPath(nn.Module):
    """Stochastic depth (Huang et al., ECCV 2016): drop a residual branch per sample.

    In training, each sample's branch is zeroed with probability ``p`` and the kept ones
    are scaled by ``1 / (1 - p)``; in evaluation it is the identity.
    """

    def __init__(self, p: float = 0.0) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"drop-path probability must be in [0, 1), got {p}")
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.p == 0.0 or not self.training:
            return x
        keep = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(1.0 - self.p)
        return x * keep.div_(1.0 - self.p)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class _SelfAttention(nn.Module):
    """Multi-head self-attention over ``(B, N, dim)`` tokens (fused scaled dot product)."""

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim {dim} is not divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None = None) -> torch.Tensor:
        b, n, c = x.shape
        qkv = self.qkv(x).view(b, n, 3, self.num_heads, c // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (B, heads, N, head_dim)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
        return self.proj(y.transpose(1, 2).reshape(b, n, c))


class _FeedForward(nn.Module):
    """Two linear layers with an exact GELU between them."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class TransformerBlock(nn.Module):
    """Pre-norm transformer encoder block (ViT, Dosovitskiy et al. 2021).

    ``x + attn(norm1(x))``, then ``x + mlp(norm2(x))``, each branch under stochastic depth;
    layer norms with epsilon 1e-6.

    Args:
        dim: token width.
        num_heads: attention heads (``dim`` must divide by it).
        mlp_ratio: hidden width of the feed-forward part relative to ``dim``.
        qkv_bias: learn a bias for the query, key and value projections.
        drop_path: stochastic-depth probability of both branches.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        drop_path: float = 0.0,
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = _SelfAttention(dim, num_heads, qkv_bias)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = _FeedForward(dim, int(dim * mlp_ratio))
        self.drop_path = DropPath(drop_path)

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, N, dim)`` tokens; ``attn_mask`` is added to the attention logits
        (broadcast to ``(B, heads, N, N)``; ``-inf`` hides a key)."""
        x = x + self.drop_path(self.attn(self.norm1(x), attn_mask))
        return x + self.drop_path(self.mlp(self.norm2(x)))
