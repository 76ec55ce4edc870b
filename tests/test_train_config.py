"""TrainerConfig: strict YAML loading, overrides, consistency checks, recipes, schedule."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
import torch
import yaml
from test_train_toy import toy_config

from ssrzoo.cli import main
from ssrzoo.train import ConfigError, TrainerConfig, build_scheduler

RECIPES = sorted((Path(__file__).resolve().parents[1] / "recipes").glob("*.yaml"))


def _write(tmp_path: Path, cfg: dict, name: str = "run.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_valid_config_round_trips(tmp_path: Path) -> None:
    cfg = TrainerConfig.from_dict(toy_config(tmp_path))
    assert cfg.optim.lr == 3e-3 and isinstance(cfg.optim.lr, float)
    assert cfg.data.train.args == {"n": 24, "seed": 0}
    again = TrainerConfig.from_dict(yaml.safe_load(cfg.to_yaml()))
    assert again == cfg


@pytest.mark.parametrize(
    ("key", "value", "named"),
    [
        ("optimizer", {"lr": 1.0}, "'optimizer'"),
        ("optim.lrr", 1.0, "'optim.lrr'"),
        ("data.train.roots", "x", "'data.train.roots'"),
        ("ema.decay_rate", 0.9, "'ema.decay_rate'"),
    ],
)
def test_unknown_key_is_named(tmp_path: Path, key: str, value: object, named: str) -> None:
    raw = toy_config(tmp_path, **{key: value})
    with pytest.raises(ConfigError, match=r"unknown config key " + named.replace(".", r"\.")):
        TrainerConfig.from_dict(raw)


@pytest.mark.parametrize("mode", [True, False, "reduce-overhead", "max-autotune"])
def test_compile_takes_a_flag_or_a_mode(tmp_path: Path, mode: bool | str) -> None:
    cfg = TrainerConfig.from_dict(toy_config(tmp_path, **{"model.compile": mode}))
    assert cfg.model.compile == mode


def test_unknown_key_suggests_the_close_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"did you mean 'optim\.lr'"):
        TrainerConfig.from_dict(toy_config(tmp_path, **{"optim.lrr": 1.0}))


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("sched.steps", "many"),
        ("sched.steps", 10.5),
        ("sched.steps", True),  # YAML `true` is not a number
        ("optim.lr", "fast"),
        ("optim.lr", [1.0]),
        ("ema.enabled", "yes please"),
        ("amp", "fp32"),
        ("stage", "distill"),
        ("data.batch_size", None),
        ("model.args", [1, 2]),
        ("imports", "test_train_toy"),
        ("optim.clip_grad", "none"),
        ("model.compile", "fast"),
    ],
)
def test_wrong_type_is_named(tmp_path: Path, key: str, value: object) -> None:
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        TrainerConfig.from_dict(toy_config(tmp_path, **{key: value}))


def test_numbers_yaml_reads_as_strings_are_accepted(tmp_path: Path) -> None:
    # YAML 1.1 reads `1e-3` (no dot) as a string; a float field takes it.
    path = tmp_path / "c.yaml"
    text = yaml.safe_dump(toy_config(tmp_path)).replace("lr: 0.003", "lr: 1e-3")
    path.write_text(text)
    assert yaml.safe_load(text)["optim"]["lr"] == "1e-3"
    cfg = TrainerConfig.from_yaml(path)
    assert cfg.optim.lr == 1e-3
    assert TrainerConfig.from_dict(toy_config(tmp_path, **{"optim.lr": 1})).optim.lr == 1.0


def test_from_yaml_overrides_and_name(tmp_path: Path) -> None:
    raw = toy_config(tmp_path)
    del raw["name"]
    path = _write(tmp_path, raw, "my_recipe.yaml")
    cfg = TrainerConfig.from_yaml(
        path, ["optim.lr=1e-4", "sched.steps=7", "ema.enabled=true", "model.args={width: 4}"]
    )
    assert cfg.name == "my_recipe"
    assert (cfg.optim.lr, cfg.sched.steps, cfg.ema.enabled) == (1e-4, 7, True)
    assert cfg.model.args == {"width": 4}
    with pytest.raises(ConfigError, match=r"'sched\.stepz'"):
        TrainerConfig.from_yaml(path, ["sched.stepz=3"])
    with pytest.raises(ConfigError, match="not key=value"):
        TrainerConfig.from_yaml(path, ["sched.steps"])
    with pytest.raises(ConfigError, match=r"optim\.lr is not a mapping"):
        TrainerConfig.from_yaml(path, ["optim.lr.x=3"])


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"data.val.split": "test"}, "never the test data"),
        ({"stage": "finetune"}, "finetune' needs a starting point"),
        ({"sched.warmup_steps": 20}, "warmup_steps"),
        ({"sched.min_lr": 1.0}, "min_lr"),
        ({"data.val": {"name": "test_train_toy:ToyCubes", "args": {"n": 24, "seed": 0}}}, "same"),
        ({"loss.mrae": 0.0}, "at least one > 0"),
        ({"data.batch_size": 0}, "data.batch_size must be a finite number > 0"),
        ({"card": {"licence": "mit"}}, "card.licence"),
        ({"model.prior": "x", "stage": "pretrain"}, "not 'pretrain'"),
    ],
)
def test_inconsistent_settings_fail(tmp_path: Path, overrides: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        TrainerConfig.from_dict(toy_config(tmp_path, **overrides))


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize(
    "key",
    [
        "optim.lr",
        "optim.weight_decay",
        "optim.clip_grad",
        "sched.min_lr",
        "sched.warmup_lr",
        "ema.decay",
        "loss.mrae",
        "loss.sam",
        "loss.eps",
        "metric_eps",
        "model.prior_lr_scale",
    ],
)
def test_non_finite_numbers_are_refused(tmp_path: Path, key: str, value: float) -> None:
    with pytest.raises(ConfigError, match=re.escape(key) + " must be a finite number"):
        TrainerConfig.from_dict(toy_config(tmp_path, **{key: value}))


def test_nan_from_yaml_and_negative_rates_are_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, toy_config(tmp_path))
    with pytest.raises(ConfigError, match=r"loss\.l1 must be a finite number, got nan"):
        TrainerConfig.from_yaml(path, ["loss.l1=.nan"])
    for key in ("sched.min_lr", "sched.warmup_lr", "optim.weight_decay"):
        with pytest.raises(ConfigError, match=re.escape(key) + " must be >= 0"):
            TrainerConfig.from_yaml(path, [f"{key}=-1e-6"])


def test_bad_plugins_fail_at_start(tmp_path: Path) -> None:
    from ssrzoo.train import Trainer

    run = tmp_path / "run"
    with pytest.raises(ConfigError, match="no_such_module_xyz"):
        Trainer(TrainerConfig.from_dict(toy_config(run, imports=["no_such_module_xyz"]))).fit()
    with pytest.raises(ConfigError, match="has no 'nope'"):
        Trainer(TrainerConfig.from_dict(toy_config(run, hooks=["test_train_toy:nope"]))).fit()
    with pytest.raises(ConfigError, match="unknown dataset 'NoSuchSet'"):
        Trainer(TrainerConfig.from_dict(toy_config(run, **{"data.train.name": "NoSuchSet"}))).fit()
    assert not run.exists()


def test_cli_reports_bad_key_and_runs_nothing(tmp_path: Path, capsys) -> None:
    path = _write(tmp_path, toy_config(tmp_path / "run"))
    assert main(["train", "--config", str(path), "optim.lrr=1"]) == 1
    assert "optim.lrr" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
    assert main(["train", "--config", str(path), "sched.steps=9", "--print-config"]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["sched"]["steps"] == 9
    assert not (tmp_path / "run").exists()


def _expected_lr(t: int, steps: int, warmup: int, lr: float, warmup_lr: float, min_lr: float):
    if t < warmup:
        return warmup_lr + t * (lr - warmup_lr) / warmup
    t = min(t, steps)
    return min_lr + 0.5 * (lr - min_lr) * (1 + math.cos(math.pi * (t - warmup) / (steps - warmup)))


@pytest.mark.parametrize(("steps", "warmup"), [(10, 0), (10, 3), (37, 5)])
def test_schedule_ends_exactly_at_its_bound(tmp_path: Path, steps: int, warmup: int) -> None:
    lr, warmup_lr, min_lr = 1e-3, 1e-6, 2e-5
    cfg = TrainerConfig.from_dict(
        toy_config(
            tmp_path,
            **{
                "optim.lr": lr,
                "sched": {
                    "steps": steps,
                    "warmup_steps": warmup,
                    "warmup_lr": warmup_lr,
                    "min_lr": min_lr,
                },
            },
        )
    )
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)
    sched = build_scheduler(opt, cfg)
    seen = [opt.param_groups[0]["lr"]]  # the rate of the first step
    for t in range(1, steps + 4):  # as the trainer calls it after each step, and beyond
        sched.step_update(num_updates=t)
        seen.append(opt.param_groups[0]["lr"])
    expected = [_expected_lr(t, steps, warmup, lr, warmup_lr, min_lr) for t in range(steps + 4)]
    assert seen == pytest.approx(expected, rel=1e-12, abs=1e-15)
    assert seen[warmup] == pytest.approx(lr)  # the peak comes right after the warmup
    assert seen[steps] == min_lr  # exactly the bound at the last step...
    assert seen[steps + 1 :] == [min_lr] * 3  # ...and it never overruns or restarts
    assert all(a >= b for a, b in zip(seen[warmup:], seen[warmup + 1 :], strict=False))


@pytest.mark.parametrize("recipe", RECIPES, ids=[p.stem for p in RECIPES])
def test_recipes_load(recipe: Path) -> None:
    import ssrzoo
    import ssrzoo.data

    cfg = TrainerConfig.from_yaml(recipe)
    assert cfg.name == recipe.stem
    assert ssrzoo.is_model(cfg.model.name), cfg.model.name
    specs = [cfg.data.train, cfg.data.val]
    while specs:
        spec = specs.pop()
        specs += spec.concat
        if spec.name:
            factory = ssrzoo.data
            for part in spec.name.split("."):
                factory = getattr(factory, part, None)
            assert callable(factory), spec.name
    assert cfg.data.val.split != cfg.data.train.split or cfg.data.val != cfg.data.train
    if cfg.stage == "pretrain":
        assert cfg.model.name.startswith("s2mae")


def test_recipes_cover_the_planned_weights() -> None:
    names = {p.stem for p in RECIPES}
    planned = {
        f"{arch}_{tag}"
        for arch in ("mae_ktsr", "s2mae")
        for tag in ("ntire", "cave", "harvard", "pavia")
    } | {"mst_plus_plus_ntire", "hscnn_plus_ntire", "awan_ntire"}
    assert planned <= names, sorted(planned - names)


def test_prior_recipes_keep_attention_windows_within_a_training_crop() -> None:
    """An S²-MAE attends within windows of ``window_size`` tokens; a window wider than the
    training crops shows it more context on whole images than it ever trained with."""
    import ssrzoo

    checked = 0
    for recipe in RECIPES:
        cfg = TrainerConfig.from_yaml(recipe)
        # s2mae_pavia keeps the windows of the prior inside the published mae_ktsr.pavia
        if cfg.stage != "pretrain" or recipe.stem == "s2mae_pavia":
            continue
        model = ssrzoo.create_model(cfg.model.name, **cfg.model.args)
        specs = [cfg.data.train, *cfg.data.train.concat]
        sizes = [s.patches["patch_size"] for s in specs if s.patches and "patch_size" in s.patches]
        assert sizes, recipe.name
        for size in sizes:
            side = max(size) if isinstance(size, list) else size
            tokens = -(-side // model.encoder.patch_size)
            assert model.encoder.window_size == tokens, (recipe.name, size)
        checked += 1
    assert checked >= 5
