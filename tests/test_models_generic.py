"""Every registered architecture must honour the forward contract.

New model families get these checks for free: build with defaults, run forward and
backward on an odd-sized input, and return ``(B, bands, H, W)`` with no NaN.
"""

from __future__ import annotations

import pytest
import torch
from conftest import projected_and_raw

import ssrzoo
from ssrzoo.models._registry import get_model_entrypoint

# Constructor arguments that keep a model's one-off setup cheap in this test only:
# Jakob 2019 builds a lookup table on first use (tens of seconds at its default size).
CHEAP_KWARGS = {"colour_jakob2019": {"lut_size": 3}}
# The package's own architectures (not the test-only ones other test modules register,
# which may or may not be imported before this module is collected).
PACKAGE_MODELS = [
    n for n in ssrzoo.list_models() if get_model_entrypoint(n).__module__.startswith("ssrzoo.")
]


@pytest.mark.parametrize("name", ssrzoo.list_models())
def test_forward_backward_odd_size(name: str) -> None:
    torch.manual_seed(0)
    model = ssrzoo.create_model(name, **CHEAP_KWARGS.get(name, {}))
    bands = model.pretrained_cfg.num_bands
    x = torch.rand(2, model.pretrained_cfg.in_chans, 37, 53)
    trainable = [p for p in model.parameters() if p.requires_grad]
    if getattr(model, "supports_backward", True):
        x.requires_grad_(bool(not trainable))
    out = model(x)
    assert out.shape == (2, bands, 37, 53)
    assert out.dtype == torch.float32
    assert torch.isfinite(out).all()
    if getattr(model, "supports_backward", True):
        out.square().mean().backward()
        if trainable:
            assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in trainable)


@pytest.mark.parametrize("name", ssrzoo.list_models())
def test_cfg_is_consistent(name: str) -> None:
    cfg = ssrzoo.get_pretrained_cfg(name)
    assert cfg.architecture == name
    if cfg.wavelengths:
        assert len(cfg.wavelengths) == cfg.num_bands


@pytest.mark.parametrize("name", PACKAGE_MODELS)
def test_eval_output_is_projected_onto_nonnegative(
    name: str, photos: dict[str, torch.Tensor]
) -> None:
    """Radiance cannot be negative: in eval mode the output is exactly ``raw.clamp_min(0)``."""
    torch.manual_seed(0)
    model = ssrzoo.create_model(name, **CHEAP_KWARGS.get(name, {})).eval()
    assert model.pretrained_cfg.nonneg_output
    for x in photos.values():
        out, raw = projected_and_raw(model, x)
        assert out.min() >= 0
        torch.testing.assert_close(out, raw.clamp_min(0), rtol=0, atol=0)


@pytest.mark.parametrize("name", PACKAGE_MODELS)
def test_train_mode_output_keeps_gradients_of_negative_values(
    name: str, photos: dict[str, torch.Tensor]
) -> None:
    """A ReLU at train time would leave negative predictions without a gradient."""
    torch.manual_seed(0)
    model = ssrzoo.create_model(name, **CHEAP_KWARGS.get(name, {}))
    if not getattr(model, "supports_backward", True):
        pytest.skip("no gradient path (colour-science method)")
    out = model.train()(photos["coffee"])
    negative = out < 0
    assert negative.any()
    out[negative].sum().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert any(g is not None and g.abs().sum() > 0 for g in grads)
