"""End to end on real data: MAE-KTSR on ICVL strips with NTIRE2020-Clean RGB, then export."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import ssrzoo
from ssrzoo.cli import main
from ssrzoo.exceptions import DatasetNotFoundError
from ssrzoo.metrics import mrae
from ssrzoo.spectral import get_response
from ssrzoo.train import ConfigError, Trainer, TrainerConfig, build_dataset


def _icvl_config(root: Path | str, out: Path, steps: int = 150) -> dict[str, Any]:
    rgb = {"response": "cie1964_10deg", "pipeline": "clean"}  # the NTIRE2020 Clean camera
    return {
        "name": "e2e_icvl",
        "stage": "reconstruct",
        "out_dir": str(out),
        "device": "cpu",
        "threads": 1,
        # a small MAE-KTSR (with its prior, trained from scratch here) so CI stays fast
        "model": {
            "name": "mae_ktsr_ntire",
            "freeze_prior": False,
            "args": {
                "dim": 16,
                "depths": [1, 1],
                "prior_args": {"embed_dim": 32, "depth": 1, "num_heads": 2},
            },
        },
        "data": {
            "train": {
                "name": "ICVLStrips",
                "root": str(root),
                "split": "train",
                "args": {"cache": True},
                "patches": {"patch_size": [8, 32], "exposure": [0.7, 1.3]},
                "rgb": rgb,
            },
            "val": {
                "name": "ICVLStrips",
                "root": str(root),
                "split": "val",
                "args": {"cache": True},
                "patches": {"patch_size": [8, 64], "rot90": False, "flips": False},
                "rgb": rgb,
            },
            "batch_size": 8,
            "val_batch_size": 8,
        },
        "optim": {"lr": 2e-3},
        "sched": {"steps": steps, "warmup_steps": 10, "min_lr": 1e-5},
        "eval_every": 50,
        "eval_at_start": True,
        "log_every": 25,
        "card": {"datasets": ["icvl"]},
    }


def test_short_icvl_run_improves_and_exports(shared_data: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    cfg = TrainerConfig.from_dict(_icvl_config(shared_data, run))
    summary = Trainer(cfg).fit()

    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    val = [r for r in rows if r["split"] == "val"]
    assert [r["step"] for r in val] == [0, 50, 100, 150]
    assert val[-1]["mrae"] < 0.5 * val[0]["mrae"], [r["mrae"] for r in val]
    best = summary["best"]
    assert best["value"] == min(r["mrae"] for r in val[1:])
    assert (run / "curves.png").stat().st_size > 0
    assert (run / "metrics.csv").read_text().startswith("step,")

    model = ssrzoo.create_model(f"local-dir:{summary['export_dir']}").eval()
    pcfg = model.pretrained_cfg
    assert type(model).__name__ == "MAEKTSR" and model.prior is not None
    assert pcfg.metrics["mrae"] == pytest.approx(best["value"], abs=1e-6)
    assert pcfg.response_name == "cie1964_10deg"
    assert pcfg.hf_hub_id is None and pcfg.datasets == ("icvl",)
    assert "ICVLStrips split 'train'" in pcfg.dataset
    assert "ICVLStrips split 'val'" in pcfg.metrics_dataset
    assert pcfg.recipe == "e2e_icvl" and "Git commit" in pcfg.notes
    wl = np.arange(400.0, 701.0, 10.0)
    cmf = get_response("cie1964_10deg").matrix(wl)
    response = np.asarray(pcfg.response)
    assert response.shape == (3, 31)
    # the stored response renders the cube to the training RGB: the CMFs times the fixed
    # white gain, which maps a flat unit spectrum to 1 in the brightest channel
    gain = response.sum() / cmf.sum()
    np.testing.assert_allclose(response, gain * cmf, rtol=1e-5, atol=1e-9)
    assert response.sum(axis=1).max() == pytest.approx(1.0, rel=1e-5)
    card = (Path(summary["export_dir"]) / "README.md").read_text()
    assert "model-index" in card and "cie1964_10deg" in card and "e2e_icvl" in card

    # The exported weights reproduce the card's validation MRAE on the same patches.
    patches = build_dataset(cfg.data.val, cfg.seed)
    with torch.no_grad():
        scores = [
            float(mrae(model(s["rgb"][None]), s["hsi"][None]))
            for s in (patches[i] for i in range(len(patches)))
        ]
    assert float(np.mean(scores)) == pytest.approx(pcfg.metrics["mrae"], abs=1e-5)


def test_missing_dataset_fails_before_training(tmp_path: Path, capsys) -> None:
    run = tmp_path / "run"
    raw = _icvl_config(tmp_path / "no_such_data", run)
    with pytest.raises(DatasetNotFoundError, match="icvl_strips"):
        Trainer(TrainerConfig.from_dict(raw)).fit()
    assert not run.exists()  # nothing was built or written

    recipe = tmp_path / "r.yaml"
    recipe.write_text(json.dumps(raw))  # JSON is YAML
    assert main(["train", "--config", str(recipe)]) == 1
    assert "ICVLStrips" in capsys.readouterr().err
    assert not run.exists()


def _cave_config(shared: Path, out: Path, card: dict[str, Any]) -> dict[str, Any]:
    """A few steps of an NTIRE2020-tagged architecture on CAVE scenes with Nikon D700 RGB."""
    rgb = {
        "response": {
            "loader": "load_nikon_d700",
            "path": str(shared / "responses" / "nikon_d700_31band.mat"),
        },
        "pipeline": "clean",
    }
    root = str(shared / "cave_256")
    return {
        "name": "cave_card",
        "out_dir": str(out),
        "device": "cpu",
        "threads": 1,
        "model": {"name": "mae_ktsr_noprior_ntire", "args": {"dim": 8, "depths": [1]}},
        "data": {
            "train": {
                "name": "CAVE",
                "root": root,
                "split": "train",
                "args": {"scenes": ["beads"]},
                "patches": {"patch_size": 16, "patches_per_image": 4, "rgb": "simulate"},
                "rgb": rgb,
            },
            "val": {
                "name": "CAVE",
                "root": root,
                "split": "val",
                "args": {"scenes": ["cd"]},
                "rgb": rgb,
            },
            "batch_size": 2,
            "device_patches": True,
        },
        "sched": {"steps": 2, "warmup_steps": 0},
        "eval_every": 2,
        "card": card,
    }


def test_an_export_describes_its_own_run_not_the_architecture_default(shared_data, tmp_path):
    """An ntire2020 architecture trained on CAVE with Nikon RGB must not say NTIRE/CIE 1964."""
    summary = Trainer(
        TrainerConfig.from_dict(_cave_config(shared_data, tmp_path / "a", {"protocol": "cave"}))
    ).fit()
    cfg = ssrzoo.create_model(f"local-dir:{summary['export_dir']}").pretrained_cfg
    assert cfg.tag == "cave" and cfg.response_name == "nikon_d700"
    assert "cave-256-v1" in cfg.input_note and "Nikon" in cfg.input_note
    assert cfg.output_units.startswith("reflectance")
    text = json.dumps(cfg.to_dict())
    assert "NTIRE" not in text and "1964" not in text and "ARAD" not in text

    # Without a protocol the run vouches for no description: the fields stay empty.
    summary = Trainer(TrainerConfig.from_dict(_cave_config(shared_data, tmp_path / "b", {}))).fit()
    cfg = ssrzoo.create_model(f"local-dir:{summary['export_dir']}").pretrained_cfg
    assert (cfg.tag, cfg.input_note, cfg.output_units) == ("", "", "")
    assert "NTIRE" not in json.dumps(cfg.to_dict())


def test_a_protocol_that_does_not_match_the_data_is_refused(shared_data, tmp_path):
    config = _cave_config(shared_data, tmp_path, {"protocol": "ntire2020"})
    with pytest.raises(ConfigError, match="nikon_d700"):
        Trainer(TrainerConfig.from_dict(config)).fit()
