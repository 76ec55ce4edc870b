"""MAE-KTSR and S²-MAE: registry, masking, RGB-only mode, windows, prior handling, cost."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

import ssrzoo
from ssrzoo.exceptions import CheckpointError
from ssrzoo.models._cost import count_flops
from ssrzoo.models.mae_ktsr import ISFF, MAEKTSR, S2MAE, S2MAEEncoder

# Small settings so every test runs in well under a second on a CPU.
ENC = dict(patch_size=4, embed_dim=16, depth=2, num_heads=2, window_size=None)
S2 = dict(**ENC, decoder_dim=16, decoder_depth=1, decoder_heads=2)
BANDS = 7


def small_s2mae(**kw) -> S2MAE:
    torch.manual_seed(0)
    return S2MAE(num_bands=BANDS, **{**S2, **kw}).eval()


def small_ktsr(**kw) -> MAEKTSR:
    torch.manual_seed(0)
    kw.setdefault("prior_args", ENC if kw.get("use_prior", True) else None)
    return MAEKTSR(num_bands=BANDS, dim=8, depths=(1, 1), **kw)


def pair(b: int = 2, h: int = 16, w: int = 24, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, 3, h, w, generator=g), torch.rand(b, BANDS, h, w, generator=g)


def pixel_mask(mask: torch.Tensor, p: int, size: tuple[int, int]) -> torch.Tensor:
    """A token-grid mask ``(..., gh, gw)`` blown up to pixels and cropped to ``size``."""
    full = mask.repeat_interleave(p, -2).repeat_interleave(p, -1)
    return full[..., : size[0], : size[1]]


# --- registry -------------------------------------------------------------------------

VARIANTS = {
    "ntire": ("ntire2020", 31, 400.0, 700.0, "cie1964_10deg"),
    "cave": ("cave", 31, 400.0, 700.0, "nikon_d700"),
    "harvard": ("harvard", 31, 420.0, 720.0, "camspec_nikon_d700"),
    "pavia": ("pavia", 103, 430.0, 860.0, "rosis_bgr"),
}


@pytest.mark.parametrize("arch", ["mae_ktsr", "s2mae"])
@pytest.mark.parametrize("short", sorted(VARIANTS))
def test_variants_registered_with_band_metadata(arch: str, short: str) -> None:
    tag, bands, first, last, response = VARIANTS[short]
    alias = f"{arch}_{short}"
    assert ssrzoo.list_aliases()[alias] == f"{arch}.{tag}"
    cfg = ssrzoo.get_pretrained_cfg(alias)
    assert (cfg.num_bands, cfg.response_name) == (bands, response)
    wl = np.asarray(cfg.wavelengths)
    assert len(wl) == bands and wl[0] == first and wl[-1] == pytest.approx(last)
    assert np.allclose(np.diff(wl), (last - first) / (bands - 1))  # uniform grid
    if cfg.bundled:  # a published weight: pinned, with the camera response numbers
        assert len(cfg.sha256) == 64 and cfg.has_weights
        assert np.asarray(cfg.response).shape == (3, bands)
    else:
        assert cfg.sha256 is None and cfg.response is None and not cfg.has_weights
    assert cfg.hf_hub_id == f"ssrzoo/{alias}"
    assert cfg.doi == "10.1109/TCI.2025.3608970" and "Masked Autoencoder" in cfg.paper


def test_pavia_variant_builds_103_bands() -> None:
    model = ssrzoo.create_model("mae_ktsr_pavia", prior_args=ENC, dim=8, depths=(1,))
    assert model(torch.rand(1, 3, 10, 13)).shape == (1, 103, 10, 13)
    assert model.prior.num_bands == 103


def test_save_pretrained_roundtrip(tmp_path) -> None:
    model = ssrzoo.create_model("mae_ktsr_cave", prior_args=ENC, dim=8, depths=(1, 2)).eval()
    ssrzoo.save_pretrained(model, tmp_path)
    loaded = ssrzoo.create_model(f"local-dir:{tmp_path}").eval()
    x = torch.rand(1, 3, 11, 9)
    torch.testing.assert_close(loaded(x), model(x))
    assert loaded.prior_frozen


# --- any input size -----------------------------------------------------------------------


@pytest.mark.parametrize("size", [(1, 1), (5, 3), (9, 17), (16, 24)])
def test_any_size(size: tuple[int, int]) -> None:
    x = torch.rand(1, 3, *size)
    assert small_ktsr()(x).shape == (1, BANDS, *size)
    assert small_s2mae()(x).shape == (1, BANDS, *size)
    assert small_s2mae(window_size=2)(x).shape == (1, BANDS, *size)
    gh, gw = -(-size[0] // 4), -(-size[1] // 4)
    assert small_s2mae().forward_features(x).shape == (1, 16, gh, gw)


def test_float64_input_is_accepted() -> None:
    out = small_ktsr()(torch.rand(1, 3, 8, 8, dtype=torch.float64))
    assert out.dtype == torch.float32


# --- masks --------------------------------------------------------------------------------


def test_random_masks_counts_and_reproducibility() -> None:
    model = small_s2mae()
    grid = (4, 5)
    tm, bm = model.random_masks(3, grid, 0.75, 3 / 7, generator=torch.Generator().manual_seed(1))
    assert tm.shape == (3, 4, 5) and bm.shape == (3, BANDS, 4, 5)
    assert (tm.flatten(1).sum(1) == 15).all()  # round(20 * 0.75) tokens dropped
    assert bm.permute(1, 0, 2, 3)[:, tm].all()  # dropped tokens hide every band
    kept = bm.permute(0, 2, 3, 1)[~tm]  # (kept tokens, bands)
    assert (kept.sum(1) == 3).all()  # round(7 * 3/7) bands hidden per kept token
    assert not torch.equal(tm[0], tm[1])  # independent per sample
    tm2, bm2 = model.random_masks(3, grid, 0.75, 3 / 7, generator=torch.Generator().manual_seed(1))
    assert torch.equal(tm, tm2) and torch.equal(bm, bm2)


def test_hidden_content_does_not_reach_the_encoder() -> None:
    model = small_s2mae()
    rgb, cube = pair()
    tm, bm = model.random_masks(
        2, model.grid_size(16, 24), 0.5, 0.5, torch.Generator().manual_seed(3)
    )
    hidden = pixel_mask(bm, 4, (16, 24))  # (B, bands, H, W), includes dropped tokens
    assert hidden.any() and (~hidden).any()
    changed = torch.where(hidden, torch.rand_like(cube) * 5 - 2, cube)
    with torch.no_grad():
        ref = model.forward_encoder(rgb, cube, tm, bm)
        assert ref.shape == (2, 12, 16)  # 24 tokens, half dropped
        torch.testing.assert_close(model.forward_encoder(rgb, changed, tm, bm), ref, rtol=0, atol=0)
        torch.testing.assert_close(
            model(rgb, changed, tm, bm), model(rgb, cube, tm, bm), rtol=0, atol=0
        )
        # ...while visible content does reach it (the test above is not vacuous).
        visible = torch.where(hidden, cube, cube + 0.5)
        assert not torch.allclose(model.forward_encoder(rgb, visible, tm, bm), ref)


def test_dropped_tokens_rgb_is_not_in_encoder_but_in_decoder() -> None:
    model = small_s2mae()
    rgb, cube = pair()
    tm, bm = model.random_masks(
        2, model.grid_size(16, 24), 0.5, 0.0, torch.Generator().manual_seed(4)
    )
    rgb2 = torch.where(pixel_mask(tm[:, None], 4, (16, 24)), torch.rand_like(rgb), rgb)
    with torch.no_grad():
        torch.testing.assert_close(
            model.forward_encoder(rgb2, cube, tm, bm), model.forward_encoder(rgb, cube, tm, bm)
        )
        # The RGB condition stays visible to the decoder at every token.
        assert not torch.allclose(model(rgb2, cube, tm, bm), model(rgb, cube, tm, bm))


def test_bad_masks_raise() -> None:
    model = small_s2mae()
    rgb, cube = pair()
    tm, bm = model.random_masks(2, (4, 6), 0.5, 0.5)
    with pytest.raises(ValueError, match="token_mask must be a bool tensor of shape"):
        model.forward_encoder(rgb, cube, tm[:, :3], bm)
    with pytest.raises(ValueError, match="band_mask must be a bool tensor"):
        model.forward_encoder(rgb, cube, tm, bm.float())
    uneven = tm.clone()
    uneven[0] = False
    uneven[0, 0, 0] = True
    with pytest.raises(ValueError, match="same, non-zero number of tokens"):
        model.forward_encoder(rgb, cube, uneven, bm)
    with pytest.raises(ValueError, match="band_mask given without a cube"):
        model.forward_encoder(rgb, None, None, bm)


# --- RGB-only mode ------------------------------------------------------------------------


def test_rgb_only_mode_sees_no_band_information() -> None:
    model = small_s2mae()
    rgb, cube = pair()
    all_hidden = torch.ones(2, BANDS, 4, 6, dtype=torch.bool)
    with torch.no_grad():
        # RGB-only equals "cube given, every band hidden", whatever the cube holds.
        for c in (cube, torch.rand_like(cube) * 10):
            torch.testing.assert_close(model(rgb, c, band_mask=all_hidden), model(rgb))
            feats = model.forward_encoder(rgb, c, band_mask=all_hidden)
            torch.testing.assert_close(
                feats.transpose(1, 2).reshape(2, 16, 4, 6), model.forward_features(rgb)
            )
        out_a = model.forward_loss(cube, rgb, rgb_only=True)
        out_b = model.forward_loss(torch.rand_like(cube), rgb, rgb_only=True)
    assert out_a.rgb_only and out_a.band_mask.all() and not out_a.token_mask.any()
    torch.testing.assert_close(out_a.pred, out_b.pred, rtol=0, atol=0)
    assert out_a.loss != out_b.loss  # the target differs, the prediction cannot


def test_forward_loss_scores_hidden_content_and_trains() -> None:
    model = small_s2mae().train()
    rgb, cube = pair()
    out = model.forward_loss(
        cube, rgb, 0.5, 0.5, rgb_only=False, generator=torch.Generator().manual_seed(5)
    )
    assert not out.rgb_only and out.token_mask.any() and not out.band_mask.all()
    hidden = pixel_mask(out.band_mask, 4, (16, 24))
    expected = (out.pred - cube).abs()[hidden].mean()
    torch.testing.assert_close(out.loss, expected)
    out.loss.backward()
    assert model.encoder.band_mask_embed.grad.abs().sum() > 0
    assert model.mask_token.grad.abs().sum() > 0

    mse = small_s2mae(loss="mse", spectral_weight=0.5)
    out = mse.forward_loss(
        cube, rgb, 0.5, 0.0, rgb_only=False, generator=torch.Generator().manual_seed(5)
    )
    hidden = pixel_mask(out.band_mask, 4, (16, 24))
    whole = hidden.all(1)
    cos = torch.nn.functional.cosine_similarity(out.pred, cube, dim=1)
    expected = (out.pred - cube).square()[hidden].mean() + 0.5 * (1 - cos[whole]).mean()
    torch.testing.assert_close(out.loss, expected)


def test_rgb_only_probability() -> None:
    model = small_s2mae(rgb_only_prob=1.0)
    rgb, cube = pair(1, 8, 8)
    assert model.forward_loss(cube, rgb).rgb_only
    model = small_s2mae(rgb_only_prob=0.0)
    assert not model.forward_loss(cube, rgb).rgb_only


# --- windowed attention -----------------------------------------------------------------


def test_window_equals_running_on_the_crop() -> None:
    torch.manual_seed(0)
    enc = S2MAEEncoder(num_bands=BANDS, **{**ENC, "window_size": 4}).eval()
    rgb = torch.rand(1, 3, 28, 32)  # grid 7 x 8 -> windows of 4 x 4 (rows padded to 8)
    with torch.no_grad():
        feats = enc.forward_features(rgb)
        torch.testing.assert_close(feats[..., :4, :4], enc.forward_features(rgb[..., :16, :16]))
        # The last row of windows holds 3 real token rows; padding must not change them.
        torch.testing.assert_close(feats[..., 4:, 4:], enc.forward_features(rgb[..., 16:, 16:]))
        enc.window_size = None  # global attention over all 56 tokens differs
        assert not torch.allclose(enc.forward_features(rgb)[..., :4, :4], feats[..., :4, :4])


# --- MAE-KTSR prior -------------------------------------------------------------------


def test_prior_is_frozen_by_default() -> None:
    model = small_ktsr().train()
    assert model.prior_frozen and not model.prior.training
    assert all(not p.requires_grad for p in model.prior.parameters())
    model(torch.rand(2, 3, 12, 12)).square().mean().backward()
    assert all(p.grad is None for p in model.prior.parameters())
    assert model.shallow.weight.grad.abs().sum() > 0
    # Zero-initialised fusions: the gradient reaches them through their last convolution.
    assert all(f.refine.weight.grad.abs().sum() > 0 for f in model.fusions)


def test_prior_can_be_fine_tuned() -> None:
    model = small_ktsr(freeze_prior=False).train()
    assert not model.prior_frozen and model.prior.training
    with torch.no_grad():  # past the zero initialisation of the fusions
        for f in model.fusions:
            f.refine.weight.add_(0.1)
    model(torch.rand(2, 3, 12, 12)).square().mean().backward()
    assert model.prior.rgb_embed.weight.grad.abs().sum() > 0
    model.set_prior_trainable(False)
    assert model.prior_frozen and not model.prior.training


def test_param_groups_lower_prior_lr() -> None:
    model = small_ktsr()
    trainable = {id(p) for p in model.parameters() if p.requires_grad}
    groups = model.param_groups(1e-3, prior_lr_scale=0.1, weight_decay=0.05)
    assert {id(p) for g in groups for p in g["params"]} == trainable
    assert {g["lr"] for g in groups} == {1e-3}
    model.set_prior_trainable(True)
    groups = model.param_groups(1e-3, prior_lr_scale=0.1, weight_decay=0.05)
    ids = [id(p) for g in groups for p in g["params"]]
    assert len(ids) == len(set(ids)) == sum(1 for _ in model.parameters())
    prior_ids = {id(p) for p in model.prior.parameters()}
    for g in groups:
        in_prior = {id(p) in prior_ids for p in g["params"]}
        assert len(in_prior) == 1
        assert g["lr"] == pytest.approx(1e-4 if in_prior.pop() else 1e-3)
        assert g["weight_decay"] == (0.05 if g["params"][0].ndim >= 2 else 0.0)
    optim = torch.optim.AdamW(groups)
    assert len(optim.param_groups) == len(groups)


def test_use_prior_false_is_the_same_reconstructor_without_prior() -> None:
    with_prior = small_ktsr()
    without = small_ktsr(use_prior=False)
    names = {n for n, _ in without.named_parameters()}
    assert not any(n.startswith(("prior.", "fusions.")) for n in names)
    extra = {n for n, _ in with_prior.named_parameters()} - names
    assert extra and all(n.startswith(("prior.", "fusions.")) for n in extra)
    assert without.prior is None and without(torch.rand(1, 3, 9, 9)).shape == (1, BANDS, 9, 9)
    with pytest.raises(ValueError, match="no prior"):
        without.load_prior(small_s2mae())


def test_fresh_model_starts_as_its_noprior_ablation() -> None:
    # ISFF is zero-initialised: with the same seed the CNN weights are the ablation's, and
    # the prior adds nothing until training finds it useful (it still gets gradients).
    x = torch.rand(2, 3, 12, 16)
    for kw in ({}, {"fusion": "concat"}, {"fusion": "add"}):
        with_prior, without = small_ktsr(**kw), small_ktsr(use_prior=False)
        torch.testing.assert_close(with_prior(x), without(x), rtol=0, atol=0)
        with_prior(x).square().mean().backward()
        grads = [p.grad for p in with_prior.fusions.parameters() if p.grad is not None]
        assert any(bool(g.abs().sum() > 0) for g in grads)


def test_prior_changes_the_output() -> None:
    model = small_ktsr().eval()
    with torch.no_grad():  # as after training: the fusions no longer zero
        for p in model.fusions.parameters():
            p.add_(0.1 * torch.randn_like(p))
    x = torch.rand(1, 3, 12, 12)
    with torch.no_grad():
        before = model(x)
        for p in model.prior.parameters():
            p.add_(0.1)
        assert not torch.allclose(model(x), before)


def test_load_prior_from_module_state_and_file(tmp_path) -> None:
    s2mae = small_s2mae()
    with torch.no_grad():
        for p in s2mae.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    rgb = torch.rand(1, 3, 12, 20)
    ref = s2mae.forward_features(rgb)
    save_file(s2mae.state_dict(), str(tmp_path / "s2mae.safetensors"))
    for source in (
        s2mae,
        s2mae.state_dict(),
        s2mae.encoder.state_dict(),
        tmp_path / "s2mae.safetensors",
    ):
        model = small_ktsr()
        assert not torch.allclose(model.forward_prior(rgb), ref)
        missing, unexpected = model.load_prior(source)
        assert missing == [] and unexpected == []
        torch.testing.assert_close(model.forward_prior(rgb), ref)
        assert model.prior_frozen
    with pytest.raises(CheckpointError, match="prior_args"):
        small_ktsr(prior_args={**ENC, "embed_dim": 32}).load_prior(s2mae)


def test_prior_module_is_shared_and_registered_model_loads_s2mae(tmp_path) -> None:
    s2mae = ssrzoo.create_model("s2mae_cave", **{**S2, "window_size": 16})
    model = MAEKTSR(dim=8, depths=(1,), prior=s2mae)
    assert model.prior is s2mae.encoder
    ssrzoo.save_pretrained(s2mae, tmp_path)
    other = ssrzoo.create_model(
        "mae_ktsr_cave", dim=8, depths=(1,), prior_args={**ENC, "window_size": 16}
    )
    other.load_prior(tmp_path / "model.safetensors")
    x = torch.rand(1, 3, 8, 8)
    torch.testing.assert_close(other.forward_prior(x), s2mae.forward_features(x))


@pytest.mark.parametrize("use_prior", [True, False])
@pytest.mark.parametrize("size", [(16, 16), (13, 22), (5, 3)])
def test_u_shaped_reconstructor_any_size(use_prior: bool, size: tuple[int, int]) -> None:
    torch.manual_seed(0)
    model = MAEKTSR(
        num_bands=BANDS,
        dim=8,
        depths=(1, 1, 2, 1, 1),
        levels=3,
        use_prior=use_prior,
        prior_args=ENC if use_prior else None,
    )
    assert model.stage_levels == [0, 1, 2, 1, 0]
    widths = [stage[0].pw1.in_channels for stage in model.stages]
    assert widths == [8, 16, 32, 16, 8]
    x = torch.rand(2, 3, *size)
    out = model(x)
    assert out.shape == (2, BANDS, *size)
    out.mean().backward()
    assert all(p.grad is not None for p in model.stages.parameters())
    with torch.no_grad():
        assert bool((model.eval()(x) >= 0).all())


def test_u_shaped_reconstructor_sees_further() -> None:
    # A change at one corner reaches the middle of a 24x24 image through the 3-level U
    # (receptive field 4x wider at the bottom), but not through the flat stack.
    def reach(**kw) -> float:
        torch.manual_seed(0)
        # No squeeze-excitation: its global pooling would let any pixel reach every other.
        model = MAEKTSR(num_bands=BANDS, dim=8, use_prior=False, se_ratio=0.0, **kw)
        for p in model.parameters():
            p.data.add_(0.05 * torch.randn_like(p))
        x = torch.rand(1, 3, 24, 24)
        y = x.clone()
        y[..., :2, :2] += 0.5
        with torch.no_grad():  # train mode: the raw output, no non-negative projection
            return float((model(x) - model(y))[..., 12:, 12:].abs().max())

    assert reach(depths=(1, 1), levels=1) == 0.0
    assert reach(depths=(1, 1, 1, 1, 1), levels=3) > 0.0


def test_u_shape_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="needs 5 stages"):
        MAEKTSR(depths=(1, 1, 1), levels=3, use_prior=False)
    with pytest.raises(ValueError, match="divisible by 4"):
        MAEKTSR(depths=(1, 1, 1, 1, 1), levels=3, prior_args={**ENC, "patch_size": 2})


def test_isff_modes() -> None:
    x, prior = torch.rand(2, 8, 9, 13), torch.rand(2, 16, 3, 4)
    for mode in ISFF.MODES:
        assert ISFF(8, 16, 4, mode)(x, prior).shape == x.shape
    with pytest.raises(ValueError, match="fusion mode"):
        ISFF(8, 16, 4, "cross")


# --- cost ---------------------------------------------------------------------------------

# MST++ (Cai et al. 2022) reports 23.05 G "FLOPs" measured as multiply-accumulates on a
# 256x256 input (`my_summary(model, 256, 256, 3, 1)` in its training script). Its cost is
# linear in the pixel count, so at 512x512 that is 4 x 23.05 G MACs = 184.4 G counter FLOPs.
MST_PP_512_FLOPS = 4 * 23.05e9 * 2


def test_flops_budget_against_mst_plus_plus() -> None:
    flops = count_flops(ssrzoo.create_model("mae_ktsr_ntire"), (1, 3, 512, 512))
    assert 0 < flops <= MST_PP_512_FLOPS / 3
    if ssrzoo.is_model("mst_plus_plus"):
        mst = count_flops(ssrzoo.create_model("mst_plus_plus"), (1, 3, 512, 512))
        assert mst == pytest.approx(MST_PP_512_FLOPS, rel=0.1)  # same model, same units
        assert flops <= mst / 3
    # The ablation without prior costs less than the full model.
    assert count_flops(ssrzoo.create_model("mae_ktsr", use_prior=False)) < flops


# --- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize("arch", ["mae_ktsr", "s2mae"])
@pytest.mark.parametrize(
    ("x", "error"),
    [
        (torch.rand(1, 4, 8, 8), ValueError),
        (torch.rand(0, 3, 8, 8), ValueError),
        (torch.rand(3, 8, 8), ValueError),
        (torch.full((1, 3, 8, 8), float("nan")), ValueError),
        (torch.full((1, 3, 8, 8), float("inf")), ValueError),
        (torch.zeros(1, 3, 8, 8, dtype=torch.uint8), TypeError),
        (np.zeros((1, 3, 8, 8), dtype=np.float32), TypeError),
    ],
)
def test_bad_input_raises_clearly(arch: str, x, error: type[Exception]) -> None:
    model = small_ktsr() if arch == "mae_ktsr" else small_s2mae()
    with pytest.raises(error, match=r"expected \(B, 3, H, W\) float RGB input"):
        model(x)


def test_bad_cube_raises_clearly() -> None:
    model = small_s2mae()
    rgb, cube = pair()
    with pytest.raises(ValueError, match=r"expected \(B, 7, H, W\) float cube input"):
        model.forward_loss(cube[:, :5], rgb)
    with pytest.raises(ValueError, match="must share batch, height and width"):
        model.forward_loss(cube[..., :8], rgb)


def test_s2mae_pretraining_loss_runs_under_bf16_autocast():
    """The decoder scatters encoder tokens among mask tokens: their dtypes must agree there."""
    torch.manual_seed(0)
    model = ssrzoo.create_model("s2mae_cave", **ENC)
    for _ in range(8):  # some steps draw the RGB-only mode, which masks no token
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = model.forward_loss(torch.rand(2, 31, 32, 32), torch.rand(2, 3, 32, 32))
        assert torch.isfinite(out.loss.float()).all()
        out.loss.float().backward()


def test_a_published_prior_is_built_with_the_windows_it_was_saved_with() -> None:
    # config.json's model_args, not the entrypoint's window_size=16 (same parameter shapes)
    assert ssrzoo.create_model("s2mae.cave", pretrained=True).window_size == 8
    assert ssrzoo.create_model("s2mae.cave", pretrained=True, window_size=16).window_size == 16
    assert ssrzoo.create_model("s2mae.cave").window_size == 16  # no weight: the default
    model = ssrzoo.create_model("mae_ktsr.cave", pretrained=True)
    assert model.prior.window_size == 8
    # a prior module passed in replaces the saved prior_args instead of clashing with them
    encoder = S2MAEEncoder(in_chans=3, num_bands=31, window_size=4)
    model = ssrzoo.create_model("mae_ktsr.cave", pretrained=True, prior=encoder)
    assert model.prior is encoder and encoder.window_size == 4
