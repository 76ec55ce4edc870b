"""The prior-residual experiment of issue 18 (``benchmarks/prior_residual.py``).

It registers a model when imported, so it runs in a child process: the test session's
registry (which other tests compare with the docs) stays as the package defines it.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

from benchmark_scripts import BENCHMARKS

CHECKS = textwrap.dedent(
    """
    import torch
    import prior_residual
    from ssrzoo import create_model

    torch.manual_seed(0)
    small = dict(embed_dim=32, depth=1, num_heads=2, window_size=4)
    s2mae = create_model("s2mae", decoder_dim=16, decoder_heads=2, **small).eval()
    for p in s2mae.parameters():  # a trained-looking decoder, not its zero-ish init
        p.data.normal_(0, 0.05)
    model = create_model(
        "mae_ktsr_prior_residual",
        prior_args=small,
        decoder_args=dict(decoder_dim=16, decoder_heads=2),
        dim=8,
        depths=(1, 1),
    )
    model.load_prior(s2mae.state_dict())
    model.set_prior_trainable(False)
    x = torch.rand(2, 3, 20, 28)

    # at initialisation the model is its prior's RGB-only reconstruction
    with torch.no_grad():
        diff = (model.eval()(x) - s2mae(x)).abs().max().item()
    assert diff < 1e-6, diff

    # a frozen prior: the decoder takes no gradients and stays in eval mode in training
    model.train()
    assert not model.prior_decoder.training and not model.prior.training
    model(x).mean().backward()
    assert all(p.grad is None for p in model.prior_decoder.parameters())
    assert model.head.weight.grad is not None and model.head.weight.grad.abs().sum() > 0

    # an encoder alone has no decoder to load
    try:
        model.load_prior(s2mae.encoder)
    except ValueError as err:
        assert "whole S²-MAE" in str(err)
    else:
        raise AssertionError("an encoder-only prior was accepted")
    print("ok")
    """
)


def test_prior_residual_starts_as_its_prior_and_keeps_it_frozen() -> None:
    result = subprocess.run(
        [sys.executable, "-c", CHECKS],
        cwd=BENCHMARKS,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("ok")
