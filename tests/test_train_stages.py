"""The three stages chained: S²-MAE pretraining -> MAE-KTSR with a frozen prior -> fine-tuning."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from test_train_toy import BANDS, toy_config

import ssrzoo
from ssrzoo.train import CheckpointManager, Trainer, TrainerConfig, load_checkpoint

PRIOR = {"embed_dim": 32, "depth": 1, "num_heads": 2, "window_size": None}
DATA = {
    "data.train.args": {"n": 16, "size": 16, "seed": 0},
    "data.val.args": {"n": 4, "size": 16, "seed": 1},
}


def _last(run: Path) -> dict:
    return load_checkpoint(CheckpointManager(run / "checkpoints").latest())


def test_pretrain_then_frozen_prior_then_finetune(tmp_path: Path) -> None:
    pre = tmp_path / "s2mae"
    Trainer(
        TrainerConfig.from_dict(
            toy_config(
                pre,
                **DATA,
                stage="pretrain",
                **{
                    "model.name": "s2mae",
                    "model.args": {"num_bands": BANDS, "decoder_dim": 16, **PRIOR},
                    "sched.steps": 4,
                    "eval_every": 4,
                },
            )
        )
    ).fit()
    s2mae_weights = load_file(str(pre / "export" / "model.safetensors"))
    encoder = {
        k[len("encoder.") :]: v for k, v in s2mae_weights.items() if k.startswith("encoder.")
    }
    assert encoder

    # Stage 2: the prior comes from the pretraining run folder and stays frozen.
    rec = tmp_path / "mae_ktsr"
    args = {"num_bands": BANDS, "dim": 8, "depths": [1], "prior_args": PRIOR}
    Trainer(
        TrainerConfig.from_dict(
            toy_config(
                rec,
                **DATA,
                **{
                    "model.name": "mae_ktsr",
                    "model.args": args,
                    "model.prior": str(pre),
                    "sched.steps": 4,
                    "eval_every": 4,
                },
            )
        )
    ).fit()
    state = _last(rec)
    initial = ssrzoo.create_model("mae_ktsr", **args).state_dict()
    for key, value in encoder.items():
        assert torch.equal(state["model"][f"prior.{key}"], value), key  # loaded, never updated
    changed = [k for k in initial if not k.startswith("prior.") and "weight" in k]
    assert any(not torch.equal(state["model"][k], initial[k]) for k in changed)
    groups = state["optimizer"]["param_groups"]
    n_trainable = sum(len(g["params"]) for g in groups)
    model = ssrzoo.create_model(f"local-dir:{rec / 'export'}")
    assert n_trainable == sum(1 for n, _ in model.named_parameters() if not n.startswith("prior."))

    # Stage finetune: start from the stage-2 run, unfreeze the prior at 1/10 of the rate.
    fin = tmp_path / "finetune"
    Trainer(
        TrainerConfig.from_dict(
            toy_config(
                fin,
                **DATA,
                stage="finetune",
                **{
                    "model.name": "mae_ktsr",
                    "model.args": args,
                    "model.checkpoint": str(rec),
                    "model.freeze_prior": False,
                    "model.prior_lr_scale": 0.1,
                    "sched.steps": 3,
                    "sched.warmup_steps": 0,
                    "eval_every": 3,
                },
            )
        )
    ).fit()
    tuned = _last(fin)
    exported = load_file(str(rec / "export" / "model.safetensors"))
    assert any(
        not torch.equal(tuned["model"][f"prior.{k}"], exported[f"prior.{k}"]) for k in encoder
    )
    lrs = sorted({g["lr"] for g in tuned["optimizer"]["param_groups"]})
    assert len(lrs) == 2 and lrs[0] == pytest.approx(0.1 * lrs[1])


def test_finetune_from_a_training_checkpoint_folder(tmp_path: Path) -> None:
    first = tmp_path / "first"
    Trainer(TrainerConfig.from_dict(toy_config(first, **{"sched.steps": 4, "eval_every": 2}))).fit()
    manager = CheckpointManager(first / "checkpoints")
    start = manager.path_of(2)
    weights = load_checkpoint(start)["model"]
    second = tmp_path / "second"
    cfg = toy_config(
        second,
        stage="finetune",
        **{"model.checkpoint": str(start), "sched": {"steps": 1, "warmup_steps": 0}},
    )
    trainer = Trainer(TrainerConfig.from_dict(cfg))
    trainer.setup()  # builds the model from the checkpoint's weights
    for key, value in weights.items():
        assert torch.equal(trainer.model.state_dict()[key], value), key


def test_logs_csv_tensorboard_and_curves(tmp_path: Path) -> None:
    run = tmp_path / "run"
    cfg = toy_config(run, tensorboard=True, **{"sched.steps": 6, "eval_every": 3, "log_every": 2})
    Trainer(TrainerConfig.from_dict(cfg)).fit()

    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [(r["split"], r["step"]) for r in rows] == [
        ("train", 2),
        ("val", 3),
        ("train", 4),
        ("train", 6),
        ("val", 6),
    ]
    with open(run / "metrics.csv", newline="") as f:
        table = list(csv.DictReader(f))
    assert len(table) == len(rows) and float(table[1]["mrae"]) == rows[1]["mrae"]
    assert (run / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert list((run / "tensorboard").glob("events.out.tfevents.*"))
    assert (run / "config.yaml").is_file()
    assert (
        TrainerConfig.from_yaml(run / "config.yaml").to_dict()
        == TrainerConfig.from_dict(cfg).to_dict()
    )


def test_loader_workers_do_not_change_the_result(tmp_path: Path) -> None:
    # Random flips draw from the global RNG inside the dataset; per-sample seeds make them
    # the same whichever process reads the sample.
    finals = []
    for workers in (0, 2):
        run = tmp_path / f"w{workers}"
        cfg = toy_config(run, **{"data.num_workers": workers, "sched.steps": 8, "eval_every": 4})
        Trainer(TrainerConfig.from_dict(cfg)).fit()
        finals.append(_last(run))
    for name, tensor in finals[0]["model"].items():
        assert torch.equal(finals[1]["model"][name], tensor), name
    assert finals[0]["best"]["value"] == finals[1]["best"]["value"]


def test_missing_prior_run_folder_says_how_to_get_a_prior(tmp_path: Path) -> None:
    """A recipe's stage-1 run folder that was never trained is named as a missing path, with
    the published prior to use instead, not reported as an unknown model name."""
    from ssrzoo.train import ConfigError
    from ssrzoo.train.weights import prior_source

    missing = tmp_path / "runs" / "s2mae_ntire"
    with pytest.raises(ConfigError, match="does not exist") as err:
        prior_source(str(missing))
    assert "model.prior=s2mae.ntire2020" in str(err.value)
    assert not missing.exists()
    with pytest.raises(ssrzoo.UnknownModelError, match="did you mean"):
        prior_source("s2mae_ntir")


def test_a_prior_folder_builds_the_prior_it_was_trained_with(tmp_path: Path) -> None:
    """A stage-1 run with other than the default S²-MAE settings (here 4x4-px tokens) fits
    stage 2 without the user repeating them as model.args.prior_args."""
    from ssrzoo.train.config import ModelConfig
    from ssrzoo.train.weights import build_model, prior_settings

    settings = {**PRIOR, "patch_size": 4}
    s2mae = ssrzoo.create_model("s2mae", num_bands=BANDS, decoder_dim=16, **settings)
    folder = tmp_path / "s2mae_p4"
    ssrzoo.save_pretrained(s2mae, folder, model_args={"num_bands": BANDS, **settings})
    assert prior_settings(str(folder)) == settings
    assert prior_settings(str(folder / "model.safetensors")) == settings

    args = {"num_bands": BANDS, "dim": 8, "depths": [1]}
    model = build_model(ModelConfig(name="mae_ktsr", args=args, prior=str(folder)))
    assert model.prior.patch_size == 4  # type: ignore[union-attr]
    for key, value in s2mae.encoder.state_dict().items():
        assert torch.equal(model.state_dict()[f"prior.{key}"], value), key

    # prior_args the user gives win, and a mismatch is still an error naming the cause
    with pytest.raises(ssrzoo.CheckpointError, match="prior_args"):
        build_model(
            ModelConfig(name="mae_ktsr", args={**args, "prior_args": PRIOR}, prior=str(folder))
        )
    # a model without a prior says so rather than failing on the settings
    from ssrzoo.train import ConfigError

    with pytest.raises(ConfigError, match="takes no prior"):
        build_model(ModelConfig(name="mst_plus_plus", args={"num_bands": BANDS}, prior=str(folder)))


def test_a_published_prior_by_name_builds_the_prior_it_was_saved_with() -> None:
    """``model.prior=s2mae.cave``: the stage-2 prior gets the published weight's 8-token
    windows from its bundled config.json, as a run folder's prior does."""
    from ssrzoo.train.config import ModelConfig
    from ssrzoo.train.weights import build_model, prior_settings

    assert prior_settings("s2mae.cave") == {"window_size": 8}
    assert prior_settings("mae_ktsr.cave") == {}  # not an S²-MAE
    assert prior_settings("no_such_model") == {}  # prior_source names the problem
    model = build_model(ModelConfig(name="mae_ktsr_cave", prior="s2mae.cave"))
    assert model.prior.window_size == 8  # type: ignore[union-attr]
    published = ssrzoo.create_model("s2mae.cave", pretrained=True).encoder.state_dict()
    for key, value in published.items():
        assert torch.equal(model.state_dict()[f"prior.{key}"], value), key


def test_a_prior_window_wider_than_the_training_crops_is_warned(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """16x16-px training crops are 2x2 tokens of 8 px: a 16-token window would give the
    S²-MAE more context on larger images than training showed it."""

    def build(window: int | None) -> None:
        args = {"num_bands": BANDS, "decoder_dim": 16, **PRIOR, "window_size": window}
        config = toy_config(
            tmp_path / f"w{window}",
            **DATA,
            stage="pretrain",
            **{"model.name": "s2mae", "model.args": args, "sched.steps": 4},
        )
        Trainer(TrainerConfig.from_dict(config)).setup()

    with caplog.at_level("WARNING", logger="ssrzoo.train.weights"):
        build(16)
    assert "windows of 16 x 16 tokens" in caplog.text
    assert "(16 x 16 px, 8-px tokens) hold at most 2 per side" in caplog.text
    assert "model.args.window_size=2" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="ssrzoo.train.weights"):
        build(2)
        build(None)  # global attention: nothing to compare
    assert "windows of" not in caplog.text
