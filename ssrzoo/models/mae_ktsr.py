"""MAE-KTSR: masked-autoencoder knowledge transfer for spectral reconstruction from RGB.

Feng, Wang, Huang, Wang, Zhu, Gamba, "Masked Autoencoder-Based Knowledge Transfer for
Spectral Reconstruction From RGB Images", IEEE Transactions on Computational Imaging,
vol. 11, pp. 1336-1348, 2025, doi:10.1109/TCI.2025.3608970.

Two stages, as the paper's abstract describes them:

1. :class:`S2MAE`, a spatial-spectral masked autoencoder, reconstructs hyperspectral cubes
   from partially masked inputs "under constrained spectral conditions" and so learns a
   feature representation that serves as prior knowledge for RGB -> HSI reconstruction.
2. :class:`MAEKTSR`, a lightweight convolutional reconstructor, extracts local
   spectral-spatial features; inter-stage feature fusion (:class:`ISFF`) modules inject the
   global S²-MAE prior into it.

Only the abstract is public (no code, hyper-parameters or tables), so every concrete choice
below is ours; ``docs/models/mae_ktsr.md`` lists them. In short: tokens are ``p x p``
patches of the cube; spatial masking drops tokens (MAE), spectral masking replaces hidden
bands of visible tokens by learned per-band mask embeddings; the "constrained spectral
condition" is the RGB patch, embedded and added to every token, always visible; with some
probability every band is hidden ("RGB-only mode"), which is the mode stage 2 runs the
encoder in. Attention runs over windows of at most ``window_size`` x ``window_size``
tokens when no token is dropped, so the prior's cost grows linearly with the image area
and each window sees the context size of a pretraining crop.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.init import trunc_normal_

from ..exceptions import CheckpointError
from ..protocols import protocol_fields
from ._blocks import LayerNorm2d, SqueezeExcite, TransformerBlock, sincos_pos_embed_2d
from ._builder import build_model_with_cfg
from ._helpers import state_dict_of
from ._layers import NonNegativeOutput, check_rgb_input, crop_to, pad_to_multiple
from ._pretrained import PretrainedCfg, generate_default_cfgs
from ._registry import register_model, register_model_aliases

__all__ = ["ISFF", "MAEKTSR", "S2MAE", "ResBlock", "S2MAEEncoder", "S2MAEOutput"]


def _sincos_pos(gh: int, gw: int, dim: int, ref: torch.Tensor) -> torch.Tensor:
    """``(gh * gw, dim)`` 2-D sin-cos position embedding of a token grid, in raster order."""
    return sincos_pos_embed_2d(gh, gw, dim, device=ref.device, dtype=ref.dtype)


def _window_split(g: int, window: int | None) -> tuple[int, int]:
    """``(number of windows, window length)`` along one axis of ``g`` tokens.

    Windows are balanced (17 tokens with ``window=16`` give 2 windows of 9, not 16 + 1), so
    no window is a sliver with almost no context.
    """
    if window is None or g <= window:
        return 1, g
    n = math.ceil(g / window)
    return n, math.ceil(g / n)


def _run_blocks_windowed(
    blocks: nn.ModuleList, norm: nn.Module, x: torch.Tensor, window: int | None
) -> torch.Tensor:
    """Run ViT blocks on a full ``(B, gh, gw, D)`` token grid, attention within windows.

    Each window gets the sin-cos positions of its own ``(wh, ww)`` grid, so a window sees
    exactly what the same tokens would see as a crop of their own; padding tokens that
    round the grid up to whole windows are masked out of attention.
    """
    b, gh, gw, d = x.shape
    nh, wh = _window_split(gh, window)
    nw, ww = _window_split(gw, window)
    ph, pw = nh * wh - gh, nw * ww - gw
    if ph or pw:
        x = F.pad(x, (0, 0, 0, pw, 0, ph))
    # (b, nh*wh, nw*ww, d) -> (b*nh*nw, wh*ww, d): one copy, windows in raster order.
    x = x.view(b, nh, wh, nw, ww, d).transpose(2, 3).reshape(b * nh * nw, wh * ww, d)
    x = x + _sincos_pos(wh, ww, d, x)
    attn_mask = None
    if ph or pw:
        valid = torch.zeros(nh * wh, nw * ww, dtype=torch.bool, device=x.device)
        valid[:gh, :gw] = True
        valid = valid.view(nh, wh, nw, ww).transpose(1, 2).reshape(nh * nw, wh * ww)
        bias = torch.zeros(valid.shape, dtype=x.dtype, device=x.device)
        bias = bias.masked_fill(~valid, float("-inf")).repeat(b, 1)
        attn_mask = bias[:, None, None, :]  # keys only: every window holds a real token
    for blk in blocks:
        x = blk(x, attn_mask=attn_mask)
    x = norm(x)
    x = x.view(b, nh, nw, wh, ww, d).transpose(2, 3).reshape(b, nh * wh, nw * ww, d)
    return x[:, :gh, :gw]


def _keep_indices(token_mask: torch.Tensor) -> torch.Tensor:
    """Raster-order indices ``(B, L_visible)`` of the tokens ``token_mask`` keeps."""
    flat = token_mask.flatten(1)
    kept = (~flat).sum(1)
    if bool((kept != kept[0]).any()) or int(kept[0]) == 0:
        raise ValueError(
            f"token_mask must keep the same, non-zero number of tokens in every sample, got "
            f"{kept.tolist()}; build masks with S2MAE.random_masks"
        )
    # A stable sort of 0 (kept) / 1 (dropped) lists the kept tokens first, in raster order.
    order = torch.sort(flat.to(torch.uint8), dim=1, stable=True).indices
    return order[:, : int(kept[0])]


def _init_vit_weights(m: nn.Module) -> None:
    if isinstance(m, nn.Linear):
        trunc_normal_(m.weight, std=0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.LayerNorm):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)


class S2MAEEncoder(nn.Module):
    """The S²-MAE encoder: RGB (+ optionally a masked cube) -> token features.

    A token is a ``p x p`` patch. Its embedding is the sum of the RGB patch embedding
    (always visible: the constrained spectral condition), the embedding of the cube patch
    with hidden bands set to zero, one learned embedding per hidden band, and a 2-D sin-cos
    position embedding. Without a cube every band is hidden ("RGB-only mode").

    Args:
        in_chans: RGB channels.
        num_bands: spectral bands of the cube.
        patch_size: token side ``p`` in pixels.
        embed_dim: token width (a multiple of 4 for the sin-cos embedding).
        depth: number of ViT blocks (:class:`~ssrzoo.models._blocks.TransformerBlock`).
        num_heads: attention heads.
        mlp_ratio: hidden width of the blocks' MLP, relative to ``embed_dim``.
        window_size: with all tokens present, attention runs within windows of at most
            this many tokens per side (``None``: over the whole image). With dropped tokens
            (masked pretraining) it is always global over the visible tokens. Keep it no
            wider than the training crops, in tokens (64-px crops of 8-px tokens: 8); a wider
            window shows the prior more context on whole images than it trained with, and
            the Trainer warns.
        drop_path_rate: stochastic depth, increasing linearly over the blocks.
    """

    def __init__(
        self,
        in_chans: int = 3,
        num_bands: int = 31,
        patch_size: int = 8,
        embed_dim: int = 128,
        depth: int = 6,
        num_heads: int = 4,
        mlp_ratio: float = 4.0,
        window_size: int | None = 16,
        drop_path_rate: float = 0.0,
    ) -> None:
        super().__init__()
        if embed_dim % 4:
            raise ValueError(f"embed_dim must be a multiple of 4 (2-D sin-cos), got {embed_dim}")
        self.in_chans = in_chans
        self.num_bands = num_bands
        self.patch_size = patch_size
        self.embed_dim = embed_dim
        self.window_size = window_size
        self.rgb_embed = nn.Conv2d(in_chans, embed_dim, patch_size, stride=patch_size)
        self.cube_embed = nn.Conv2d(num_bands, embed_dim, patch_size, stride=patch_size)
        self.band_mask_embed = nn.Parameter(torch.zeros(num_bands, embed_dim))
        dpr = torch.linspace(0, drop_path_rate, depth).tolist()
        self.blocks = nn.ModuleList(
            TransformerBlock(embed_dim, num_heads, mlp_ratio, qkv_bias=True, drop_path=dpr[i])
            for i in range(depth)
        )
        self.norm = nn.LayerNorm(embed_dim)
        self.apply(_init_vit_weights)
        for conv in (self.rgb_embed, self.cube_embed):  # as MAE: xavier on the flat kernel
            nn.init.xavier_uniform_(conv.weight.view(embed_dim, -1))
            if conv.bias is not None:
                nn.init.zeros_(conv.bias)
        trunc_normal_(self.band_mask_embed, std=0.02)

    def grid_size(self, height: int, width: int) -> tuple[int, int]:
        """Token grid ``(gh, gw)`` of an ``height x width`` image (padded up to whole patches)."""
        return math.ceil(height / self.patch_size), math.ceil(width / self.patch_size)

    def check_inputs(
        self,
        rgb: torch.Tensor,
        cube: torch.Tensor | None = None,
        token_mask: torch.Tensor | None = None,
        band_mask: torch.Tensor | None = None,
    ) -> None:
        """Raise a one-line error for inputs or masks of the wrong kind or shape."""
        check_rgb_input(rgb, self.in_chans)
        b, _, h, w = rgb.shape
        gh, gw = self.grid_size(h, w)
        if cube is not None:
            check_rgb_input(cube, self.num_bands, name="cube")
            if cube.shape[0] != b or cube.shape[-2:] != rgb.shape[-2:]:
                raise ValueError(
                    f"cube {tuple(cube.shape)} and RGB {tuple(rgb.shape)} must share batch, "
                    "height and width; pass the RGB rendered from this cube"
                )
        elif band_mask is not None:
            raise ValueError("band_mask given without a cube; pass the cube it masks")
        for name, mask, shape in (
            ("token_mask", token_mask, (b, gh, gw)),
            ("band_mask", band_mask, (b, self.num_bands, gh, gw)),
        ):
            if mask is not None and (mask.dtype != torch.bool or tuple(mask.shape) != shape):
                raise ValueError(
                    f"{name} must be a bool tensor of shape {shape} (True = hidden), got "
                    f"{mask.dtype} {tuple(mask.shape)}; build masks with S2MAE.random_masks"
                )

    def embed(
        self,
        rgb: torch.Tensor,
        cube: torch.Tensor | None = None,
        band_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Token embeddings ``(B, embed_dim, gh, gw)`` without positions (inputs unchecked)."""
        p = self.patch_size
        rgb, _ = pad_to_multiple(rgb, p)
        tokens = self.rgb_embed(rgb)
        if cube is None:
            # Every band hidden: the cube patch is all zeros and every mask embedding is on.
            assert self.cube_embed.bias is not None  # built with bias=True
            hidden = self.cube_embed.bias + self.band_mask_embed.sum(0)
            return tokens + hidden[None, :, None, None]
        cube, _ = pad_to_multiple(cube, p)
        if band_mask is None:
            return tokens + self.cube_embed(cube)
        pixel_mask = band_mask.repeat_interleave(p, dim=2).repeat_interleave(p, dim=3)
        # masked_fill, not a multiplication: hidden values (even NaN) cannot leak.
        visible = cube.masked_fill(pixel_mask, 0.0)
        hidden = torch.einsum("bngw,nd->bdgw", band_mask.to(tokens.dtype), self.band_mask_embed)
        return tokens + self.cube_embed(visible) + hidden

    def forward(
        self,
        rgb: torch.Tensor,
        cube: torch.Tensor | None = None,
        token_mask: torch.Tensor | None = None,
        band_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Encode the visible tokens.

        Args:
            rgb: ``(B, in_chans, H, W)`` float in [0, 1], any ``H, W``.
            cube: ``(B, num_bands, H, W)`` float, or ``None`` for RGB-only mode.
            token_mask: ``(B, gh, gw)`` bool, True = token dropped (see :meth:`grid_size`);
                every sample must keep the same number of tokens.
            band_mask: ``(B, num_bands, gh, gw)`` bool, True = band hidden in that token.

        Returns:
            ``(B, L_visible, embed_dim)``: the visible tokens' features in raster order
            (``L_visible = gh * gw`` when nothing is dropped).
        """
        self.check_inputs(rgb, cube, token_mask, band_mask)
        dtype = self.rgb_embed.weight.dtype
        rgb, cube = rgb.to(dtype), (None if cube is None else cube.to(dtype))
        tokens = self.embed(rgb, cube, band_mask).permute(0, 2, 3, 1)  # (B, gh, gw, D)
        b, gh, gw, d = tokens.shape
        if token_mask is None or not bool(token_mask.any()):
            return _run_blocks_windowed(self.blocks, self.norm, tokens, self.window_size).reshape(
                b, gh * gw, d
            )
        x = tokens.reshape(b, gh * gw, d) + _sincos_pos(gh, gw, d, tokens)
        keep = _keep_indices(token_mask)
        x = torch.gather(x, 1, keep[..., None].expand(-1, -1, d))
        for blk in self.blocks:
            x = blk(x)
        return self.norm(x)

    def forward_features(self, rgb: torch.Tensor) -> torch.Tensor:
        """RGB-only features (the prior): ``(B, embed_dim, gh, gw)``.

        Pixel ``(y, x)`` of the input lies in token ``(y // p, x // p)``; the grid covers the
        input padded up to whole patches.
        """
        x = self(rgb)
        gh, gw = self.grid_size(*rgb.shape[-2:])
        return x.transpose(1, 2).reshape(x.shape[0], self.embed_dim, gh, gw)


@dataclass
class S2MAEOutput:
    """What :meth:`S2MAE.forward_loss` returns.

    Attributes:
        loss: scalar training loss on the hidden content.
        pred: ``(B, num_bands, H, W)`` decoded cube.
        token_mask: ``(B, gh, gw)`` bool, True = token dropped from the encoder.
        band_mask: ``(B, num_bands, gh, gw)`` bool, True = band hidden from the encoder
            (every band of a dropped token, every band in RGB-only mode).
        rgb_only: True if the whole batch ran in RGB-only mode.
    """

    loss: torch.Tensor
    pred: torch.Tensor
    token_mask: torch.Tensor
    band_mask: torch.Tensor
    rgb_only: bool


class S2MAE(NonNegativeOutput, nn.Module):
    """Spatial-spectral masked autoencoder (stage 1 of MAE-KTSR).

    ``forward(rgb)`` is RGB-only mode and returns the decoded cube, so the model also obeys
    the zoo's ``(B, 3, H, W) -> (B, num_bands, H, W)`` contract; pretraining calls
    :meth:`forward_loss`; stage 2 uses :attr:`encoder` (:meth:`forward_features`).

    Args:
        in_chans: RGB channels.
        num_bands: spectral bands.
        patch_size, embed_dim, depth, num_heads, mlp_ratio, window_size, drop_path_rate:
            encoder settings, see :class:`S2MAEEncoder`.
        decoder_dim: decoder token width (a multiple of 4).
        decoder_depth: decoder ViT blocks.
        decoder_heads: decoder attention heads.
        mask_ratio: share of tokens dropped in masked pretraining (MAE: 0.75).
        band_mask_ratio: share of bands hidden in each visible token.
        rgb_only_prob: probability that a training batch runs in RGB-only mode (all bands
            of all tokens hidden, no token dropped), the mode stage 2 uses.
        loss: ``"l1"`` or ``"mse"``, on hidden content only.
        spectral_weight: weight of a spectral-angle term, ``1 - cos(pred, target)`` per
            pixel (a smooth surrogate of SAM), on pixels whose whole spectrum was hidden.
    """

    def __init__(
        self,
        in_chans: int = 3,
        num_bands: int = 31,
        patch_size: int = 8,
        embed_dim: int = 128,
        depth: int = 6,
        num_heads: int = 4,
        mlp_ratio: float = 4.0,
        window_size: int | None = 16,
        drop_path_rate: float = 0.0,
        decoder_dim: int = 96,
        decoder_depth: int = 2,
        decoder_heads: int = 4,
        mask_ratio: float = 0.75,
        band_mask_ratio: float = 0.5,
        rgb_only_prob: float = 0.25,
        loss: str = "l1",
        spectral_weight: float = 0.0,
    ) -> None:
        super().__init__()
        if loss not in ("l1", "mse"):
            raise ValueError(f"loss must be 'l1' or 'mse', got {loss!r}")
        if decoder_dim % 4:
            raise ValueError(f"decoder_dim must be a multiple of 4, got {decoder_dim}")
        for name, value in (
            ("mask_ratio", mask_ratio),
            ("band_mask_ratio", band_mask_ratio),
            ("rgb_only_prob", rgb_only_prob),
        ):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value}")
        self.in_chans = in_chans
        self.num_bands = num_bands
        self.patch_size = patch_size
        self.window_size = window_size
        self.mask_ratio = mask_ratio
        self.band_mask_ratio = band_mask_ratio
        self.rgb_only_prob = rgb_only_prob
        self.loss = loss
        self.spectral_weight = spectral_weight
        self.encoder = S2MAEEncoder(
            in_chans=in_chans,
            num_bands=num_bands,
            patch_size=patch_size,
            embed_dim=embed_dim,
            depth=depth,
            num_heads=num_heads,
            mlp_ratio=mlp_ratio,
            window_size=window_size,
            drop_path_rate=drop_path_rate,
        )
        self.decoder_embed = nn.Linear(embed_dim, decoder_dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, decoder_dim))
        self.decoder_rgb_embed = nn.Conv2d(in_chans, decoder_dim, patch_size, stride=patch_size)
        self.decoder_blocks = nn.ModuleList(
            TransformerBlock(decoder_dim, decoder_heads, mlp_ratio, qkv_bias=True)
            for _ in range(decoder_depth)
        )
        self.decoder_norm = nn.LayerNorm(decoder_dim)
        self.decoder_pred = nn.Linear(decoder_dim, patch_size * patch_size * num_bands)
        for module in (self.decoder_embed, self.decoder_blocks, self.decoder_norm):
            module.apply(_init_vit_weights)
        self.decoder_pred.apply(_init_vit_weights)
        nn.init.xavier_uniform_(self.decoder_rgb_embed.weight.view(decoder_dim, -1))
        if self.decoder_rgb_embed.bias is not None:
            nn.init.zeros_(self.decoder_rgb_embed.bias)
        trunc_normal_(self.mask_token, std=0.02)

    def no_weight_decay(self) -> set[str]:
        """Parameters timm's optimizer factory keeps out of weight decay."""
        return {"mask_token", "encoder.band_mask_embed"}

    def grid_size(self, height: int, width: int) -> tuple[int, int]:
        """Token grid ``(gh, gw)`` of an ``height x width`` image."""
        return self.encoder.grid_size(height, width)

    def random_masks(
        self,
        batch: int,
        grid: tuple[int, int],
        mask_ratio: float | None = None,
        band_mask_ratio: float | None = None,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw a spatial token mask and a spectral band mask.

        Every sample drops ``round(L * mask_ratio)`` of its ``L = gh * gw`` tokens (at
        least one token stays), and every kept token hides ``round(num_bands *
        band_mask_ratio)`` bands drawn independently per token.

        Args:
            batch: number of samples ``B``.
            grid: token grid ``(gh, gw)``, see :meth:`grid_size`.
            mask_ratio: share of tokens to drop (default: the model's).
            band_mask_ratio: share of bands to hide in kept tokens (default: the model's).
            generator: CPU random generator, for reproducible masks.
            device: device of the returned masks.

        Returns:
            ``(token_mask (B, gh, gw), band_mask (B, num_bands, gh, gw))``, bool, True =
            hidden; ``band_mask`` is also True for every band of a dropped token.
        """
        mask_ratio = self.mask_ratio if mask_ratio is None else mask_ratio
        band_mask_ratio = self.band_mask_ratio if band_mask_ratio is None else band_mask_ratio
        gh, gw = grid
        n_tok, n_band = gh * gw, self.num_bands
        n_drop = min(n_tok - 1, round(n_tok * mask_ratio))
        n_hide = min(n_band, round(n_band * band_mask_ratio))
        order = torch.rand(batch, n_tok, generator=generator).argsort(dim=1)
        token_mask = torch.zeros(batch, n_tok, dtype=torch.bool)
        token_mask.scatter_(1, order[:, :n_drop], True)
        band_order = torch.rand(batch, n_tok, n_band, generator=generator).argsort(dim=2)
        band_mask = torch.zeros(batch, n_tok, n_band, dtype=torch.bool)
        band_mask.scatter_(2, band_order[..., :n_hide], True)
        band_mask |= token_mask[..., None]
        token_mask = token_mask.view(batch, gh, gw)
        band_mask = band_mask.permute(0, 2, 1).reshape(batch, n_band, gh, gw)
        return token_mask.to(device), band_mask.to(device)

    def forward_encoder(
        self,
        rgb: torch.Tensor,
        cube: torch.Tensor | None = None,
        token_mask: torch.Tensor | None = None,
        band_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Visible tokens' features ``(B, L_visible, embed_dim)``; see :class:`S2MAEEncoder`."""
        return self.encoder(rgb, cube, token_mask, band_mask)

    def forward_features(self, rgb: torch.Tensor) -> torch.Tensor:
        """RGB-only encoder features ``(B, embed_dim, gh, gw)``: the prior of MAE-KTSR."""
        return self.encoder.forward_features(rgb)

    def forward_decoder(
        self, latent: torch.Tensor, rgb: torch.Tensor, token_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Decode encoder tokens to a cube ``(B, num_bands, gh * p, gw * p)`` (uncropped).

        Dropped tokens start from a learned mask token; every token also gets the decoder's
        own embedding of its RGB patch, which is visible everywhere.
        """
        p = self.patch_size
        gh, gw = self.grid_size(*rgb.shape[-2:])
        rgb = rgb.to(self.decoder_rgb_embed.weight.dtype)
        y = self.decoder_embed(latent)
        b, _, d = y.shape
        if token_mask is not None and bool(token_mask.any()):
            keep = _keep_indices(token_mask)
            index = keep[..., None].expand(-1, -1, d)
            # under autocast y is bf16/fp16 while the mask token stays float32
            y = self.mask_token.to(y.dtype).expand(b, gh * gw, d).scatter(1, index, y)
        rgb, _ = pad_to_multiple(rgb, p)
        y = y + self.decoder_rgb_embed(rgb).flatten(2).transpose(1, 2)
        y = _run_blocks_windowed(
            self.decoder_blocks, self.decoder_norm, y.reshape(b, gh, gw, d), self.window_size
        )
        y = self.decoder_pred(y)  # (b, gh, gw, p * p * n) -> (b, n, gh * p, gw * p)
        y = y.view(b, gh, gw, p, p, self.num_bands).permute(0, 5, 1, 3, 2, 4)
        return y.reshape(b, self.num_bands, gh * p, gw * p)

    def forward(
        self,
        rgb: torch.Tensor,
        cube: torch.Tensor | None = None,
        token_mask: torch.Tensor | None = None,
        band_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Reconstruct the cube ``(B, num_bands, H, W)``, ``>= 0`` in eval mode.

        Args:
            rgb: ``(B, in_chans, H, W)`` float in [0, 1], any ``H, W``.
            cube: ``(B, num_bands, H, W)``; ``None`` (the default) is RGB-only mode, the
                spectral reconstruction this model offers as a zoo model.
            token_mask: optional ``(B, gh, gw)`` bool, True = token dropped.
            band_mask: optional ``(B, num_bands, gh, gw)`` bool, True = band hidden.
        """
        latent = self.encoder(rgb, cube, token_mask, band_mask)
        cube = crop_to(self.forward_decoder(latent, rgb, token_mask), rgb.shape[-2:])
        return self.project_output(cube)

    def forward_loss(
        self,
        cube: torch.Tensor,
        rgb: torch.Tensor,
        mask_ratio: float | None = None,
        band_mask_ratio: float | None = None,
        rgb_only: bool | None = None,
        generator: torch.Generator | None = None,
    ) -> S2MAEOutput:
        """Masked pretraining step: draw masks, reconstruct, score the hidden content.

        Args:
            cube: ``(B, num_bands, H, W)`` target cube.
            rgb: ``(B, in_chans, H, W)``: the cube rendered through the variant's camera
                response (the condition that stays visible).
            mask_ratio: share of tokens to drop (default: the model's).
            band_mask_ratio: share of bands hidden in kept tokens (default: the model's).
            rgb_only: force (True) or forbid (False) RGB-only mode; ``None`` draws it with
                probability ``rgb_only_prob``.
            generator: CPU random generator for reproducible masks.

        Returns:
            :class:`S2MAEOutput` with the loss, the prediction and the masks used.
        """
        self.encoder.check_inputs(rgb, cube)
        b, _, h, w = cube.shape
        grid = self.grid_size(h, w)
        if rgb_only is None:
            rgb_only = bool(torch.rand(1, generator=generator).item() < self.rgb_only_prob)
        if rgb_only:
            token_mask = torch.zeros(b, *grid, dtype=torch.bool, device=cube.device)
            band_mask = torch.ones(b, self.num_bands, *grid, dtype=torch.bool, device=cube.device)
            pred = self(rgb)
        else:
            token_mask, band_mask = self.random_masks(
                b, grid, mask_ratio, band_mask_ratio, generator, cube.device
            )
            pred = self(rgb, cube, token_mask, band_mask)
        p = self.patch_size
        hidden = crop_to(band_mask.repeat_interleave(p, 2).repeat_interleave(p, 3), (h, w))
        err = (pred - cube).abs() if self.loss == "l1" else (pred - cube).square()
        weight = hidden.to(err.dtype)
        # Nothing hidden (both ratios 0) degenerates to plain autoencoding of the whole cube.
        loss = (err * weight).sum() / weight.sum() if bool(hidden.any()) else err.mean()
        if self.spectral_weight:
            whole = hidden.all(dim=1)  # pixels whose whole spectrum was hidden
            if bool(whole.any()):
                cos = F.cosine_similarity(pred, cube, dim=1, eps=1e-6)
                loss = loss + self.spectral_weight * (1.0 - cos[whole]).mean()
        return S2MAEOutput(loss, pred, token_mask, band_mask, rgb_only)


# CPU inference. The reconstructor's activations are full-resolution maps of 32 to 64
# channels, 32 to 67 MB each at 512x512. Run module by module, every operation allocates a
# fresh map (its page faults cost more than its arithmetic) and streams it through memory
# once. Without autograd on a CPU, MAEKTSR.forward runs the same arithmetic in strips of
# rows, into buffers allocated once per call, channels-last, with 1x1 convolutions as
# matrix products and the squeeze-excitation scale folded into the next 1x1 weights.
# tests/test_mae_ktsr_inference.py checks that both paths agree.

#: elements of the widest activation one strip holds (16 MB in float32): small enough for
#: the allocator to reuse the memory from strip to strip (glibc maps blocks over 32 MB
#: afresh each time), large enough that a 512x512 image takes 4 strips, not dozens of small
#: operations, each a thread-pool round trip (1 << 20 ran as fast with sleeping OpenMP
#: threads, slower with spinning ones on a loaded machine)
_STRIP_ELEMENTS = 1 << 22


def _strip_path_applies(x: torch.Tensor) -> bool:
    """True where :meth:`MAEKTSR.forward` takes the strip path (CPU, no autograd, eager).

    Not under CPU autocast: the strip path writes into float32 buffers with ``out=`` and
    in-place ops, which autocast's lower-precision results cannot fill.
    """
    return (
        x.device.type == "cpu"
        and not torch.is_autocast_enabled("cpu")
        and not torch.is_grad_enabled()
        and not torch.jit.is_tracing()
        and not torch.compiler.is_compiling()
    )


def _strips(batch: int, height: int, width: int, channels: int) -> list[tuple[int, int, int, int]]:
    """``(b0, b1, r0, r1)`` pieces of a ``(batch, height, width, channels)`` map.

    Each piece holds about ``_STRIP_ELEMENTS`` elements, and is contiguous in channels-last
    layout: several whole images when they are small, balanced row ranges of one image
    otherwise.
    """
    per_image = height * width * channels
    if per_image <= _STRIP_ELEMENTS:
        n = max(1, _STRIP_ELEMENTS // per_image)
        return [(b, min(b + n, batch), 0, height) for b in range(0, batch, n)]
    rows = math.ceil(height / math.ceil(per_image / _STRIP_ELEMENTS))
    return [
        (b, b + 1, r, min(r + rows, height)) for b in range(batch) for r in range(0, height, rows)
    ]


def _conv_rows(
    conv: nn.Conv2d, src: torch.Tensor, piece: tuple[int, int, int, int]
) -> torch.Tensor:
    """Rows ``r0:r1`` of ``conv(src[b0:b1])`` for a 3x3 ``conv`` with padding 1.

    Reads the row above and the row below the piece where the image has them, so the rows
    equal those of the convolution of the whole map. Returns ``(n, rows, W, C)``.
    """
    b0, b1, r0, r1 = piece
    top, bottom = max(r0 - 1, 0), min(r1 + 1, src.shape[2])
    return conv(src[b0:b1, :, top:bottom])[:, :, r0 - top : r1 - top].permute(0, 2, 3, 1)


class ResBlock(nn.Module):
    """Efficient residual block: LayerNorm, 1x1 expand, 3x3 depth-wise, GELU, SE, 1x1.

    The depth-wise convolution gathers local spatial context, the point-wise convolutions
    and the squeeze-excitation mix and re-weight spectral channels.

    Args:
        dim: channels.
        expansion: hidden width relative to ``dim``.
        se_ratio: squeeze-excitation reduction (0 disables it).
    """

    def __init__(self, dim: int, expansion: float = 2.0, se_ratio: float = 0.25) -> None:
        super().__init__()
        hidden = int(dim * expansion)
        self.norm = LayerNorm2d(dim)
        self.pw1 = nn.Conv2d(dim, hidden, 1)
        self.dw = nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden)
        self.act = nn.GELU()
        self.se = SqueezeExcite(hidden, se_ratio) if se_ratio else nn.Identity()
        self.pw2 = nn.Conv2d(hidden, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, dim, H, W)`` -> same shape."""
        return x + self.pw2(self.se(self.act(self.dw(self.pw1(self.norm(x))))))

    def _forward_strips_(
        self, x: torch.Tensor, scratch: torch.Tensor, strips: list[tuple[int, int, int, int]]
    ) -> None:
        """:meth:`forward` in place on a channels-last ``x``, without autograd.

        Pass 1 writes the branch ``gelu(dw(pw1(norm(x))))`` strip by strip into ``scratch``
        ``(B, H, W, hidden)``; pass 2 adds ``pw2(scale * branch)`` to ``x`` as one batched
        product, the squeeze-excitation ``scale`` folded into the weights of ``pw2``.
        """
        b, c, h, w = x.shape
        hidden = self.pw1.out_channels
        rows = x.permute(0, 2, 3, 1)  # (B, H, W, C), a view
        w1 = self.pw1.weight.view(hidden, c)
        for b0, b1, r0, r1 in strips:
            top, bottom = max(r0 - 1, 0), min(r1 + 1, h)
            t = F.layer_norm(
                rows[b0:b1, top:bottom], (c,), self.norm.weight, self.norm.bias, self.norm.eps
            )
            t = self.dw(F.linear(t, w1, self.pw1.bias).permute(0, 3, 1, 2))
            t = t[:, :, r0 - top : r1 - top].permute(0, 2, 3, 1)
            torch.ops.aten.gelu.out(t, approximate=self.act.approximate, out=scratch[b0:b1, r0:r1])
        w2 = self.pw2.weight.view(1, c, hidden)
        if isinstance(self.se, SqueezeExcite):
            pooled = scratch.mean((1, 2)).view(b, hidden, 1, 1)
            w2 = w2 * self.se.scale(pooled).view(b, 1, hidden)
        flat = rows.view(b, h * w, c)
        flat.baddbmm_(scratch.view(b, h * w, hidden), w2.expand(b, c, hidden).transpose(1, 2))
        assert self.pw2.bias is not None  # built with bias=True
        flat.add_(self.pw2.bias)


class ISFF(nn.Module):
    """Inter-stage feature fusion: inject the S²-MAE prior into CNN features.

    The prior ``(B, prior_dim, gh, gw)`` is projected to ``dim`` channels at token
    resolution, upsampled bilinearly by the patch size, cropped to the feature map and
    smoothed by a 3x3 depth-wise convolution (which also hides the token grid). Fusion:

    * ``"gated"`` (default): ``x + sigmoid(W [x, p]) * p``, a per-pixel, per-channel gate
      computed from both streams;
    * ``"concat"``: ``x + W [x, p]``;
    * ``"add"``: ``x + p``.

    Args:
        dim: CNN feature channels.
        prior_dim: channels of the prior (the S²-MAE ``embed_dim``).
        patch_size: pixels per prior token side.
        mode: ``"gated"``, ``"concat"`` or ``"add"``.
    """

    MODES = ("gated", "concat", "add")

    def __init__(self, dim: int, prior_dim: int, patch_size: int, mode: str = "gated") -> None:
        super().__init__()
        if mode not in self.MODES:
            raise ValueError(f"fusion mode must be one of {self.MODES}, got {mode!r}")
        self.mode = mode
        self.patch_size = patch_size
        self.proj = nn.Conv2d(prior_dim, dim, 1)
        self.refine = nn.Conv2d(dim, dim, 3, padding=1, groups=dim)
        self.mix = nn.Conv2d(2 * dim, dim, 1) if mode != "add" else None
        # Zero-initialised injection (as ControlNet's zero convolutions): at initialisation the
        # module returns x, so MAE-KTSR starts as its no-prior ablation and the prior enters
        # only as far as training finds it useful. Random init perturbed the CNN stream with
        # prior features from the first step (GPU search, docs/results/prior_ablation.md).
        nn.init.zeros_(self.refine.weight)
        if self.refine.bias is not None:
            nn.init.zeros_(self.refine.bias)
        if mode == "concat" and self.mix is not None:
            nn.init.zeros_(self.mix.weight)
            if self.mix.bias is not None:
                nn.init.zeros_(self.mix.bias)

    def forward(self, x: torch.Tensor, prior: torch.Tensor) -> torch.Tensor:
        """``x (B, dim, H, W)``, ``prior (B, prior_dim, gh, gw)`` -> ``(B, dim, H, W)``."""
        p = self.proj(prior)
        size = (p.shape[-2] * self.patch_size, p.shape[-1] * self.patch_size)
        p = F.interpolate(p, size=size, mode="bilinear", align_corners=False)
        p = self.refine(crop_to(p, x.shape[-2:]))
        if self.mix is None:
            return x + p
        mixed = self.mix(torch.cat([x, p], dim=1))
        return x + (torch.sigmoid(mixed) * p if self.mode == "gated" else mixed)

    def _forward_strips(
        self,
        x: torch.Tensor,
        tokens: torch.Tensor,
        grid: tuple[int, int],
        out: torch.Tensor,
        upsampled: torch.Tensor,
        strips: list[tuple[int, int, int, int]],
    ) -> None:
        """:meth:`forward` into ``out`` (which may be ``x``), channels-last, without autograd.

        ``tokens`` are the prior's ``(B, gh * gw, prior_dim)`` encoder tokens, projected as
        a matrix product; ``upsampled`` is a ``(B, dim, gh * p, gw * p)`` channels-last
        buffer; the concatenation of ``mix`` becomes two products into one buffer.
        """
        b, c, h, w = x.shape
        gh, gw = grid
        p = F.linear(tokens, self.proj.weight.view(c, -1), self.proj.bias)
        p = p.view(b, gh, gw, c).permute(0, 3, 1, 2)
        size = [gh * self.patch_size, gw * self.patch_size]
        torch.ops.aten.upsample_bilinear2d.out(p, size, False, None, None, out=upsampled)
        p = crop_to(upsampled, (h, w))
        src, dst = x.permute(0, 2, 3, 1), out.permute(0, 2, 3, 1)
        for piece in strips:
            b0, b1, r0, r1 = piece
            prior, feat = _conv_rows(self.refine, p, piece), src[b0:b1, r0:r1]
            if self.mix is None:
                torch.add(feat, prior, out=dst[b0:b1, r0:r1])
                continue
            w_feat, w_prior = self.mix.weight.view(c, 2 * c).split(c, dim=1)
            prior = prior.reshape(-1, c)
            assert self.mix.bias is not None  # built with bias=True
            mixed = torch.addmm(self.mix.bias, feat.reshape(-1, c), w_feat.t())
            mixed.addmm_(prior, w_prior.t())
            if self.mode == "gated":
                mixed.sigmoid_().mul_(prior)
            torch.add(feat, mixed.view(feat.shape), out=dst[b0:b1, r0:r1])


class MAEKTSR(NonNegativeOutput, nn.Module):
    """MAE-KTSR (stage 2): lightweight CNN reconstructor with the S²-MAE prior.

    ``shallow 3x3 conv -> [ISFF(prior) -> ResBlocks] x stages -> + shallow -> 3x3 conv``,
    plus a global residual: a learned linear RGB -> spectrum projection (1x1 conv). The
    S²-MAE encoder runs in RGB-only mode on the same input and gives the prior at ``1/p``
    resolution.

    With ``levels=1`` every stage runs at full resolution (``mae_ktsr``: 52 k parameters,
    a receptive field of about 17 pixels). With ``levels=L > 1`` the stages form a U:
    ``depths`` holds ``2L - 1`` stages, stage ``i`` runs at ``1 / 2**l`` resolution with
    ``dim * 2**l`` channels (``l = min(i, 2L - 2 - i)``), a 2x2 stride-2 convolution goes down
    a level, a 1x1 convolution + pixel shuffle goes up, and the way up adds the features of
    the same level on the way down. A block at level ``l`` costs about what a full-resolution
    block costs, with ``2**l`` times the channels and a receptive field ``2**l`` times larger
    (``mae_ktsr_unet``). Every stage has its ISFF module, which upsamples the prior by
    ``p / 2**l``. Any ``H, W``: the input is padded to a multiple of ``2**(L-1)`` and the
    output cropped back.

    Args:
        in_chans: input channels (3 for RGB).
        num_bands: output bands.
        dim: CNN channels.
        depths: residual blocks per stage; one ISFF module per stage. With ``levels > 1``:
            ``2 * levels - 1`` stages, down then up.
        levels: resolution levels of the U (1: every stage at full resolution).
        expansion: hidden width of the residual blocks.
        se_ratio: squeeze-excitation reduction of the residual blocks.
        fusion: ISFF mode, ``"gated"``, ``"concat"`` or ``"add"``.
        use_prior: False builds the same reconstructor without prior and without ISFF
            (the ablation that tests the paper's claim).
        prior: an :class:`S2MAE` or :class:`S2MAEEncoder` to use as the prior (its encoder
            is shared, not copied, and ``freeze_prior`` applies to it). For
            :func:`ssrzoo.create_model` pass ``prior_args`` instead and load weights with
            :meth:`load_prior`, so ``config.json`` stays JSON.
        prior_args: :class:`S2MAEEncoder` settings of a newly built prior (e.g.
            ``{"embed_dim": 192}``); must match the S²-MAE whose weights you will load.
        freeze_prior: keep the prior fixed (no gradients, eval mode).
    """

    def __init__(
        self,
        in_chans: int = 3,
        num_bands: int = 31,
        dim: int = 32,
        depths: Sequence[int] = (2, 2, 2),
        expansion: float = 2.0,
        se_ratio: float = 0.25,
        fusion: str = "gated",
        use_prior: bool = True,
        prior: S2MAE | S2MAEEncoder | None = None,
        prior_args: Mapping[str, Any] | None = None,
        freeze_prior: bool = True,
        levels: int = 1,
    ) -> None:
        super().__init__()
        if levels < 1 or (levels > 1 and len(depths) != 2 * levels - 1):
            raise ValueError(
                f"levels={levels} needs {2 * levels - 1} stages in depths (down, bottom, up), "
                f"got {len(depths)}: {list(depths)}"
            )
        self.in_chans = in_chans
        self.num_bands = num_bands
        self.use_prior = use_prior
        self.levels = levels
        #: resolution level of each stage: 0 = full, l = 1 / 2**l
        self.stage_levels = [
            min(i, len(depths) - 1 - i) if levels > 1 else 0 for i in range(len(depths))
        ]
        widths = [dim * 2**level for level in self.stage_levels]
        self.shallow = nn.Conv2d(in_chans, dim, 3, padding=1)
        self.stages = nn.ModuleList(
            nn.Sequential(*(ResBlock(width, expansion, se_ratio) for _ in range(depth)))
            for width, depth in zip(widths, depths, strict=True)
        )
        # downs[l]: level l -> l + 1; ups[l]: level l + 1 -> l.
        self.downs = nn.ModuleList(
            nn.Conv2d(dim * 2**level, dim * 2 ** (level + 1), 2, stride=2)
            for level in range(levels - 1)
        )
        self.ups = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(dim * 2 ** (level + 1), dim * 2**level * 4, 1), nn.PixelShuffle(2)
            )
            for level in range(levels - 1)
        )
        self.head = nn.Conv2d(dim, num_bands, 3, padding=1)
        self.rgb_to_spectrum = nn.Conv2d(in_chans, num_bands, 1)
        self.prior: S2MAEEncoder | None = None
        self.fusions: nn.ModuleList | None = None
        if not use_prior:
            if prior is not None or prior_args:
                raise ValueError("use_prior=False takes no prior or prior_args; drop them")
            return
        if isinstance(prior, S2MAE):
            prior = prior.encoder
        if prior is None:
            prior = S2MAEEncoder(in_chans=in_chans, num_bands=num_bands, **dict(prior_args or {}))
        elif prior_args:
            raise ValueError("pass either prior or prior_args, not both")
        if not isinstance(prior, S2MAEEncoder):
            raise TypeError(f"prior must be an S2MAE or S2MAEEncoder, got {type(prior).__name__}")
        if prior.in_chans != in_chans:
            raise ValueError(
                f"prior takes {prior.in_chans} input channels, the model {in_chans}; "
                "use a prior pretrained on the same camera channels"
            )
        scale = 2 ** (levels - 1)
        if prior.patch_size % scale:
            raise ValueError(
                f"levels={levels} needs a prior patch size divisible by {scale} (the prior is "
                f"upsampled by patch_size / 2**level), got {prior.patch_size}"
            )
        self.prior = prior
        self.fusions = nn.ModuleList(
            ISFF(width, prior.embed_dim, prior.patch_size // 2**level, fusion)
            for width, level in zip(widths, self.stage_levels, strict=True)
        )
        self.set_prior_trainable(not freeze_prior)

    @property
    def prior_frozen(self) -> bool:
        """True when the prior takes no gradients (it then also stays in eval mode)."""
        return self.prior is not None and not any(p.requires_grad for p in self.prior.parameters())

    def set_prior_trainable(self, trainable: bool) -> None:
        """Freeze (False) or unfreeze (True) the prior; a frozen prior stays in eval mode."""
        if self.prior is None:
            raise ValueError("this MAEKTSR was built with use_prior=False and has no prior")
        self.prior.requires_grad_(trainable)
        self.prior.train(self.training and trainable)

    def train(self, mode: bool = True) -> MAEKTSR:
        """As ``nn.Module.train``, but a frozen prior stays in eval mode."""
        super().train(mode)
        if self.prior_frozen and self.prior is not None:
            self.prior.eval()
        return self

    def load_prior(
        self,
        source: S2MAE | S2MAEEncoder | Mapping[str, torch.Tensor] | str | Path,
        strict: bool = True,
    ) -> tuple[list[str], list[str]]:
        """Load pretrained S²-MAE weights into the prior.

        Args:
            source: an :class:`S2MAE` or :class:`S2MAEEncoder`, a state dict of either (or
                of an MAE-KTSR: keys under ``prior.``), or a weight file (safetensors or a
                tensors-only torch file, e.g. the ``model.safetensors`` that
                ``ssrzoo.save_pretrained`` wrote for an ``s2mae`` model). Decoder weights
                are ignored.
            strict: require every prior key to be present.

        Returns:
            ``(missing_keys, unexpected_keys)`` of the prior.

        Raises:
            CheckpointError: the weights do not fit the prior (different ``prior_args``).
        """
        if self.prior is None:
            raise ValueError("this MAEKTSR was built with use_prior=False and has no prior")
        state = state_dict_of(source.encoder if isinstance(source, S2MAE) else source)
        for prefix in ("encoder.", "prior."):
            if any(k.startswith(prefix) for k in state):
                state = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
                break
        frozen = self.prior_frozen
        try:
            result = self.prior.load_state_dict(state, strict=strict)
        except RuntimeError as err:
            detail = " ".join(line.strip() for line in str(err).splitlines()[1:3])
            raise CheckpointError(
                f"S²-MAE weights do not fit this prior: {detail}; build MAEKTSR with the "
                "prior_args the S²-MAE was trained with"
            ) from err
        self.set_prior_trainable(not frozen)
        return list(result.missing_keys), list(result.unexpected_keys)

    def param_groups(
        self, lr: float, prior_lr_scale: float = 0.1, weight_decay: float = 0.0
    ) -> list[dict[str, Any]]:
        """Optimizer parameter groups: the reconstructor at ``lr``, a trainable prior lower.

        Biases, norms and embeddings (parameters with fewer than 2 dims) get no weight
        decay, as in timm. A frozen prior contributes no group.

        Args:
            lr: learning rate of the CNN and the ISFF modules.
            prior_lr_scale: the prior's learning rate is ``lr * prior_lr_scale``.
            weight_decay: decay of the matrices and kernels.

        Returns:
            A list of ``{"params", "lr", "weight_decay"}`` dicts for ``torch.optim``.
        """
        prior_ids = {id(p) for p in self.prior.parameters()} if self.prior is not None else set()
        groups: dict[tuple[bool, bool], list[nn.Parameter]] = {}
        for p in self.parameters():
            if p.requires_grad:
                groups.setdefault((id(p) in prior_ids, p.ndim >= 2), []).append(p)
        return [
            {
                "params": params,
                "lr": lr * prior_lr_scale if is_prior else lr,
                "weight_decay": weight_decay if decay else 0.0,
            }
            for (is_prior, decay), params in sorted(groups.items())
        ]

    def forward_prior(self, x: torch.Tensor) -> torch.Tensor:
        """The prior ``(B, prior_dim, gh, gw)`` of RGB ``x``, without gradients if frozen."""
        if self.prior is None:
            raise ValueError("this MAEKTSR was built with use_prior=False and has no prior")
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.prior_frozen):
            return self.prior.forward_features(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, in_chans, H, W)`` float in [0, 1], any ``H, W`` -> ``(B, num_bands, H, W)``.

        The output is ``>= 0`` in eval mode (:class:`~ssrzoo.models.NonNegativeOutput`).
        """
        check_rgb_input(x, self.in_chans)
        x = x.to(self.head.weight.dtype)
        if self.levels == 1 and _strip_path_applies(x):
            return self._forward_strips(x)
        size: Sequence[int] = x.shape[-2:]
        if self.levels > 1:
            x, size = pad_to_multiple(x, 2 ** (self.levels - 1))
        prior = self.forward_prior(x) if self.prior is not None else None
        shallow = self.shallow(x)
        feat, skips, level = shallow, [], 0
        for i, stage in enumerate(self.stages):
            target = self.stage_levels[i]
            if target > level:
                skips.append(feat)
                feat = self.downs[level](feat)
            elif target < level:
                feat = self.ups[target](feat) + skips.pop()
            level = target
            if self.fusions is not None:
                feat = self.fusions[i](feat, prior)
            feat = stage(feat)
        out = self.head(feat + shallow) + self.rgb_to_spectrum(x)
        return self.project_output(crop_to(out, size))

    def _forward_strips(self, x: torch.Tensor) -> torch.Tensor:
        """:meth:`forward` on a CPU without autograd: the same arithmetic in strips of rows.

        See ``_STRIP_ELEMENTS``; equal to the module-by-module path up to float rounding.
        """
        b, _, h, w = x.shape
        shallow = self.shallow(x.contiguous(memory_format=torch.channels_last))
        dim = shallow.shape[1]
        # nn.ModuleList and nn.Sequential items are typed as bare modules: name their types.
        stages = cast("list[list[ResBlock]]", [list(stage.children()) for stage in self.stages])
        fusions = None if self.fusions is None else cast("list[ISFF]", list(self.fusions))
        # Every block has the same hidden width (dim * expansion), so they share one scratch.
        hidden = next((blk.pw1.out_channels for stage in stages for blk in stage), 0)
        strips = _strips(b, h, w, max(dim, hidden))
        scratch = shallow.new_empty(b, h, w, hidden)
        feat = shallow.clone() if self.fusions is None else torch.empty_like(shallow)
        if self.prior is not None and self.fusions is not None:
            tokens = self.prior(x)  # (B, gh * gw, prior_dim)
            grid = self.prior.grid_size(h, w)
            size = (b, dim, grid[0] * self.prior.patch_size, grid[1] * self.prior.patch_size)
            upsampled = torch.empty(
                size, dtype=x.dtype, device=x.device, memory_format=torch.channels_last
            )
        src = shallow
        for i, stage in enumerate(stages):
            if fusions is not None:
                fusions[i]._forward_strips(src, tokens, grid, feat, upsampled, strips)
                src = feat
            for block in stage:
                block._forward_strips_(feat, scratch, strips)
        del scratch
        feat.add_(shallow)
        out = self.rgb_to_spectrum(x)
        dst = out.permute(0, 2, 3, 1)
        for b0, b1, r0, r1 in strips:
            dst[b0:b1, r0:r1].add_(_conv_rows(self.head, feat, (b0, b1, r0, r1)))
        return self.project_output(out, inplace=True)


def _create_mae_ktsr(variant: str, pretrained: bool = False, **kwargs: Any) -> MAEKTSR:
    return build_model_with_cfg(MAEKTSR, variant, pretrained, **kwargs)


def _create_s2mae(variant: str, pretrained: bool = False, **kwargs: Any) -> S2MAE:
    return build_model_with_cfg(S2MAE, variant, pretrained, **kwargs)


_PAPER = (
    "Feng, Wang, Huang, Wang, Zhu, Gamba, Masked Autoencoder-Based Knowledge Transfer for "
    "Spectral Reconstruction From RGB Images, IEEE Transactions on Computational Imaging "
    "11:1336-1348, 2025"
)


def _cfg(**kwargs: Any) -> PretrainedCfg:
    return PretrainedCfg(
        **{
            "license": "apache-2.0",
            "nonneg_output": True,
            "paper": _PAPER,
            "doi": "10.1109/TCI.2025.3608970",
            **kwargs,
        }
    )


# One entry per weight, written out as timm's model files do, so `grep` finds every name.
# Bundled weights live in ssrzoo/weights/<arch>.<tag>/ (config.json holds the measured card).
default_cfgs = generate_default_cfgs(
    {
        "mae_ktsr.ntire2020": _cfg(
            hf_hub_id="ssrzoo/mae_ktsr_ntire",
            sha256="fb22852a2b5aef91ba1439c06409aa49902562d21652b20fd0bcb1a7f92152b7",
            bundled=True,
            **protocol_fields("ntire2020"),
        ),
        "mae_ktsr.cave": _cfg(
            hf_hub_id="ssrzoo/mae_ktsr_cave",
            sha256="53f831ccab1000d96df7fb9dd975d30dc3961cd88942e9fdd7b4f9730ba4926e",
            bundled=True,
            **protocol_fields("cave"),
        ),
        "mae_ktsr.harvard": _cfg(
            hf_hub_id="ssrzoo/mae_ktsr_harvard",
            notes="withdrawn on 2026-11-28: trained on synthetic scenes only, it scored MRAE "
            "0.265 on real cubes that reach 720 nm against 0.114 for the closed-form "
            "root_poly3.harvard (docs/results/leaderboard_harvard.md); use root_poly3.harvard",
            **protocol_fields("harvard"),
        ),
        "mae_ktsr.pavia": _cfg(
            hf_hub_id="ssrzoo/mae_ktsr_pavia",
            sha256="392688171554eccfb50bcd211a5050e7a5427dd8dc43c634f072a699cdd2afb2",
            bundled=True,
            **protocol_fields("pavia"),
        ),
        "s2mae.ntire2020": _cfg(
            hf_hub_id="ssrzoo/s2mae_ntire",
            notes="stage-1 S²-MAE prior of MAE-KTSR; forward(rgb) is its RGB-only "
            "reconstruction, MAEKTSR.load_prior takes its weights",
            sha256="45a41a4bd8cc67f10614d0229dcb615b932f5df33dad7ab64b928da8599ddc09",
            bundled=True,
            **protocol_fields("ntire2020"),
        ),
        "s2mae.cave": _cfg(
            hf_hub_id="ssrzoo/s2mae_cave",
            notes="stage-1 S²-MAE prior of MAE-KTSR; forward(rgb) is its RGB-only "
            "reconstruction, MAEKTSR.load_prior takes its weights",
            sha256="91929ab6737a84b68457cbe8b6c24df264d7cfb9392404cebd9ae926ff78f092",
            bundled=True,
            **protocol_fields("cave"),
        ),
        "s2mae.harvard": _cfg(
            hf_hub_id="ssrzoo/s2mae_harvard",
            notes="stage-1 S²-MAE prior of MAE-KTSR; forward(rgb) is its RGB-only "
            "reconstruction, MAEKTSR.load_prior takes its weights",
            **protocol_fields("harvard"),
        ),
        "s2mae.pavia": _cfg(
            hf_hub_id="ssrzoo/s2mae_pavia",
            notes="stage-1 S²-MAE prior of MAE-KTSR; forward(rgb) is its RGB-only "
            "reconstruction, MAEKTSR.load_prior takes its weights",
            **protocol_fields("pavia"),
        ),
        "mae_ktsr_noprior.ntire2020": _cfg(
            hf_hub_id="ssrzoo/mae_ktsr_noprior_ntire",
            notes="the prior ablation of mae_ktsr.ntire2020: the same reconstructor, data and "
            "schedule, without the S²-MAE prior and its ISFF fusion",
            sha256="af6e63165a214a5c05652deb26cdd4431491232d9e5e17164039bdf1d6faf79e",
            bundled=True,
            **protocol_fields("ntire2020"),
        ),
        "mae_ktsr_noprior.cave": _cfg(
            hf_hub_id="ssrzoo/mae_ktsr_noprior_cave",
            notes="the prior ablation of mae_ktsr.cave: the same reconstructor, data and "
            "schedule, without the S²-MAE prior and its ISFF fusion",
            sha256="07563583e3a4b628e995ff3fd71f8c19dfefbb6266cfb218e099c1755a416dcc",
            bundled=True,
            **protocol_fields("cave"),
        ),
        "mae_ktsr_unet.cave": _cfg(
            hf_hub_id="ssrzoo/mae_ktsr_unet_cave",
            notes="no published weight: in the GPU prior search (docs/results/prior_search.md) the "
            "U-shaped reconstructor scored MRAE 0.161 with a frozen prior (3672 steps) and 0.159 "
            "without (4000 steps), no better than the flat mae_ktsr.cave / mae_ktsr_noprior.cave",
            **protocol_fields("cave"),
        ),
        "mae_ktsr_unet_noprior.cave": _cfg(
            hf_hub_id="ssrzoo/mae_ktsr_unet_noprior_cave",
            notes="no published weight: 0.159 MRAE after 4000 steps in the GPU prior search "
            "(docs/results/prior_search.md), behind the flat mae_ktsr_noprior.cave (0.151)",
            **protocol_fields("cave"),
        ),
    }
)


@register_model
def mae_ktsr(pretrained: bool = False, **kwargs: Any) -> MAEKTSR:
    """MAE-KTSR: lightweight CNN + ISFF fusion of a frozen S²-MAE prior (Feng et al. 2025)."""
    return _create_mae_ktsr("mae_ktsr", pretrained, **kwargs)


@register_model
def s2mae(pretrained: bool = False, **kwargs: Any) -> S2MAE:
    """S²-MAE: the spatial-spectral masked autoencoder, stage 1 of MAE-KTSR."""
    return _create_s2mae("s2mae", pretrained, **kwargs)


@register_model
def mae_ktsr_noprior(pretrained: bool = False, **kwargs: Any) -> MAEKTSR:
    """MAE-KTSR's reconstructor alone (``use_prior=False``): the paper's prior ablation."""
    return _create_mae_ktsr("mae_ktsr_noprior", pretrained, **{"use_prior": False, **kwargs})


#: The U-shaped reconstructor of ``mae_ktsr_unet``: 3 levels (32, 64, 128 channels).
_UNET_ARGS: dict[str, Any] = {"dim": 32, "depths": (1, 2, 4, 2, 1), "levels": 3}


@register_model
def mae_ktsr_unet(pretrained: bool = False, **kwargs: Any) -> MAEKTSR:
    """MAE-KTSR with a 3-level U-shaped reconstructor: more context at the same cost per block."""
    return _create_mae_ktsr("mae_ktsr_unet", pretrained, **{**_UNET_ARGS, **kwargs})


@register_model
def mae_ktsr_unet_noprior(pretrained: bool = False, **kwargs: Any) -> MAEKTSR:
    """``mae_ktsr_unet``'s reconstructor alone (``use_prior=False``): its prior ablation."""
    return _create_mae_ktsr(
        "mae_ktsr_unet_noprior", pretrained, **{**_UNET_ARGS, "use_prior": False, **kwargs}
    )


register_model_aliases(
    {
        "mae_ktsr_ntire": "mae_ktsr.ntire2020",
        "mae_ktsr_cave": "mae_ktsr.cave",
        "mae_ktsr_harvard": "mae_ktsr.harvard",
        "mae_ktsr_pavia": "mae_ktsr.pavia",
        "s2mae_ntire": "s2mae.ntire2020",
        "s2mae_cave": "s2mae.cave",
        "s2mae_harvard": "s2mae.harvard",
        "s2mae_pavia": "s2mae.pavia",
        "mae_ktsr_noprior_ntire": "mae_ktsr_noprior.ntire2020",
        "mae_ktsr_noprior_cave": "mae_ktsr_noprior.cave",
        "mae_ktsr_unet_cave": "mae_ktsr_unet.cave",
        "mae_ktsr_unet_noprior_cave": "mae_ktsr_unet_noprior.cave",
    }
)
