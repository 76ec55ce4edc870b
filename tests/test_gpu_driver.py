"""The GPU driver's plans name real recipes, and every override builds a valid config.

A lent GPU machine gives a session one try of a few minutes: a typo in a plan's override
would cost it, so each plan is checked here, on CPU, without training anything.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from ssrzoo.train import TrainerConfig

REPO = Path(__file__).resolve().parents[1]


def _driver():
    spec = importlib.util.spec_from_file_location(
        "train_cave_gpu", REPO / "scripts/train_cave_gpu.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


PLANS = _driver().PLANS


@pytest.mark.parametrize("plan", sorted(PLANS))
def test_every_run_of_a_plan_builds_a_config(plan: str) -> None:
    phase1, phase2 = PLANS[plan]
    assert phase2, "a plan without stage-2 runs trains no reconstructor"
    for name, (recipe, overrides) in {**phase1, **phase2}.items():
        path = REPO / "recipes" / f"{recipe}.yaml"
        assert path.is_file(), f"{plan}/{name}: no recipe {path.name}"
        cfg = TrainerConfig.from_yaml(path, [*overrides, f"name={name}", f"out_dir=runs/{name}"])
        assert cfg.name == name
        # A stage-2 run's prior is an S²-MAE run: of phase 1, or one reused (--reuse).
        if cfg.model.prior and name in phase2 and cfg.model.prior.startswith("runs/"):
            prior = cfg.model.prior.removeprefix("runs/")
            assert prior in phase1 or prior.startswith("s2mae"), f"{plan}/{name}: {prior}"


def test_unknown_override_is_refused_before_any_gpu_time() -> None:
    with pytest.raises(ValueError, match="no_such"):
        TrainerConfig.from_yaml(REPO / "recipes/mae_ktsr_cave.yaml", ["optim.no_such=1"])
