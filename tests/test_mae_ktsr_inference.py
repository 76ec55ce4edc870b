"""MAE-KTSR's CPU inference path (strips, no autograd) against its module-by-module path."""

from __future__ import annotations

import pytest
import torch

import ssrzoo
from ssrzoo.models import mae_ktsr
from ssrzoo.models.mae_ktsr import MAEKTSR

ENC = dict(patch_size=4, embed_dim=16, depth=1, num_heads=2, window_size=3)


def small_ktsr(**kw) -> MAEKTSR:
    torch.manual_seed(0)
    kw.setdefault("prior_args", ENC if kw.get("use_prior", True) else None)
    model = MAEKTSR(num_bands=7, dim=8, depths=(1, 2), **kw).eval()
    for p in model.parameters():  # away from the zero-initialised biases of a fresh model
        p.data.add_(0.05 * torch.randn_like(p))
    return model


def both_paths(model: torch.nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(strip path, module path)``: the module path is the one autograd takes."""
    with torch.no_grad():
        fast = model(x)
    with torch.enable_grad():
        reference = model(x).detach()
    return fast, reference


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"fusion": "concat"},
        {"fusion": "add"},
        {"use_prior": False},
        {"se_ratio": 0.0},
    ],
    ids=["gated", "concat", "add", "noprior", "no_se"],
)
@pytest.mark.parametrize(
    "strip_elements", [1 << 22, 16000, 3000], ids=["batch", "pairs", "row_strips"]
)
def test_strip_path_matches_module_path(
    kw: dict, strip_elements: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An image's widest map holds 19 * 26 * 16 = 7904 elements: the three budgets run the
    # batch as one piece, as pieces of two images and one, and as strips of 7, 7 and 5 rows
    # (the halo rows between strips).
    monkeypatch.setattr(mae_ktsr, "_STRIP_ELEMENTS", strip_elements)
    model = small_ktsr(**kw)
    x = torch.rand(3, 3, 19, 26, generator=torch.Generator().manual_seed(1))
    fast, reference = both_paths(model, x)
    assert fast.shape == reference.shape == (3, 7, 19, 26)
    assert fast.is_contiguous()
    torch.testing.assert_close(fast, reference, rtol=0, atol=1e-5)


def test_strip_path_keeps_train_mode_output_raw() -> None:
    model = small_ktsr()
    model.train()
    x = torch.rand(1, 3, 12, 12, generator=torch.Generator().manual_seed(2))
    fast, reference = both_paths(model, x)
    assert (reference < 0).any()  # eval mode would clamp these
    torch.testing.assert_close(fast, reference, rtol=0, atol=1e-5)


@pytest.mark.parametrize("shape", [(1, 5, 7, 3), (4, 9, 10, 16), (2, 64, 64, 64)])
@pytest.mark.parametrize("budget", [1, 100, 4000, 1 << 22])
def test_strips_cover_each_row_once(
    shape: tuple[int, int, int, int], budget: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mae_ktsr, "_STRIP_ELEMENTS", budget)
    covered = torch.zeros(shape[:2], dtype=torch.int64)
    for b0, b1, r0, r1 in mae_ktsr._strips(*shape):
        assert b1 == b0 + 1 or (r0, r1) == (0, shape[1])  # contiguous when channels-last
        covered[b0:b1, r0:r1] += 1
    assert bool((covered == 1).all())


def test_autograd_and_other_devices_take_the_module_path() -> None:
    x = torch.rand(1, 3, 8, 8)
    with torch.no_grad():
        assert mae_ktsr._strip_path_applies(x)
        assert not mae_ktsr._strip_path_applies(x.to("meta"))
    with torch.enable_grad():
        assert not mae_ktsr._strip_path_applies(x)


# mae_ktsr.ntire2020 (bundled weight), raw output (no clamp) for a smooth 136x150 pattern:
# per-band means and the spectra of pixels (70, 77), (135, 149) and (0, 0), computed with
# the module-by-module forward of commit b57dc7f, before the strip path existed. 136x150
# pads to 17x19 tokens, so the prior runs 2x2 attention windows with padding tokens.
PINNED = """
0.206970 0.291882 0.388699 0.410314 0.538334 0.606796 0.596122 0.570716 0.583203 0.463570
0.501615 0.416221 0.392758 0.404614 0.411996 0.480237 0.448329 0.421400 0.549067 0.493343
0.526435 0.623030 0.591279 0.476040 0.486648 0.516131 0.565771 0.654585 0.576705 0.352466
0.304848
0.226016 0.309273 0.436539 0.503260 0.543747 0.556909 0.544816 0.644127 0.567560 0.436657
0.448624 0.422595 0.504390 0.586912 0.695593 0.604198 0.506725 0.340617 0.241603 0.022319
-0.047437 -0.156201 -0.341676 -0.427820 -0.502594 -0.527212 -0.556764 -0.542105 -0.656084
-0.651941 -0.459992
0.100144 0.232234 0.537871 0.403879 0.623441 0.649315 0.844342 0.914974 0.761204 0.785539
0.679962 0.949389 0.472534 0.113440 0.340184 0.155570 0.032910 -0.171176 0.222635 0.051103
0.372421 -0.007082 0.297201 0.348654 0.488202 0.265461 0.137221 0.437679 0.258665 0.024206
0.062018
-0.079951 0.202037 0.047490 -0.084762 -0.222034 0.075536 -0.049405 0.230137 0.139782
0.251432 0.128520 0.187699 0.467774 0.595595 0.847752 0.721290 0.911845 0.961233 0.736457
0.457465 0.525877 0.421559 0.169241 0.452529 0.323075 0.142880 0.156256 0.139655 0.266580
0.228887 0.476522
"""


def pattern(h: int = 136, w: int = 150) -> torch.Tensor:
    yy, xx = torch.linspace(0, 1, h)[:, None], torch.linspace(0, 1, w)[None, :]
    channels = [
        0.5 + 0.4 * torch.sin(7 * xx + 3 * yy),
        0.5 + 0.4 * torch.cos(5 * yy - 2 * xx * yy),
        (xx + yy) / 2,
    ]
    return torch.stack(channels)[None]


def test_pretrained_output_unchanged_by_the_strip_path() -> None:
    model = ssrzoo.create_model("mae_ktsr_ntire", pretrained=True).eval()
    model.nonneg_output = False
    pinned = torch.tensor([float(v) for v in PINNED.split()]).view(4, 31)
    fast, reference = both_paths(model, pattern())
    for out in (fast, reference):
        got = torch.stack(
            [out.mean((2, 3))[0], out[0, :, 70, 77], out[0, :, 135, 149], out[0, :, 0, 0]]
        )
        torch.testing.assert_close(got, pinned, rtol=0, atol=1e-4)
    torch.testing.assert_close(fast, reference, rtol=0, atol=1e-4)
