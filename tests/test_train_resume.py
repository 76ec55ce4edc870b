"""Exact resume: N steps straight equals k steps, a hard kill or interrupt, then resume to N."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from test_train_toy import MAE, toy_config

from ssrzoo.cli import main
from ssrzoo.train import CheckpointManager, Trainer, TrainerConfig, load_checkpoint

TESTS = Path(__file__).resolve().parent
STEPS = 24


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS), env.get("PYTHONPATH", "")])
    env["SSRZOO_NO_PROGRESS"] = "1"
    env["OMP_NUM_THREADS"] = "1"
    return env


def _final_state(run: Path) -> dict:
    latest = CheckpointManager(run / "checkpoints").latest()
    assert latest is not None
    return load_checkpoint(latest)


def _assert_same_training_state(a: dict, b: dict) -> None:
    assert a["step"] == b["step"] == STEPS
    for key in ("model", "ema"):
        for name, tensor in a[key].items():
            torch.testing.assert_close(b[key][name], tensor, rtol=1e-5, atol=1e-6, msg=name)
    for index, moments in a["optimizer"]["state"].items():
        for name, tensor in moments.items():
            torch.testing.assert_close(
                b["optimizer"]["state"][index][name], tensor, rtol=1e-5, atol=1e-7
            )
    assert a["optimizer"]["param_groups"][0]["lr"] == b["optimizer"]["param_groups"][0]["lr"]
    assert a["best"]["step"] == b["best"]["step"]
    assert a["best"]["value"] == pytest.approx(b["best"]["value"], rel=1e-5)


def _val_rows(run: Path) -> list[dict]:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [r for r in rows if r["split"] == "val"]


def test_sigkill_then_resume_matches_straight_run(tmp_path: Path, capsys) -> None:
    overrides = {
        "sched.steps": STEPS,
        # 28 samples in batches of 4, 2 per step: an epoch is 3.5 steps, so checkpoints
        # (every 2 steps) fall mid-epoch and steps straddle epochs.
        "data.train.args": {"n": 28},
        "optim.accum_steps": 2,
        "optim.clip_grad": 0.5,
        "ema.enabled": True,
        "ema.decay": 0.9,
        "eval_every": 6,
        "checkpoint_every": 2,
        "export": False,
    }
    straight = tmp_path / "straight"
    Trainer(TrainerConfig.from_dict(toy_config(straight, **overrides))).fit()

    killed = tmp_path / "killed"
    # Slow storage (20 ms a sample) so the kill lands in the middle of the run.
    raw = toy_config(killed, **{**overrides, "data.train.args": {"n": 28, "delay": 0.02}})
    recipe = tmp_path / "toy.yaml"
    recipe.write_text(yaml.safe_dump(raw))
    cmd = [sys.executable, "-m", "ssrzoo", "train", "--config", str(recipe)]
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    pointer = killed / "checkpoints" / "latest.json"
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if pointer.is_file() and json.loads(pointer.read_text() or "{}").get("step", 0) >= 6:
                break
            time.sleep(0.02)
        assert proc.poll() is None, proc.communicate()[1].decode()[-2000:]
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    manager = CheckpointManager(killed / "checkpoints")
    killed_at = load_checkpoint(manager.latest())["step"]  # a complete, verified checkpoint
    assert 6 <= killed_at < STEPS and killed_at % 7  # mid-epoch

    # Without resume the run refuses to overwrite; with it, it continues to the end.
    args = ["train", "--config", str(recipe), "data.train.args.delay=0"]
    assert main(args) == 1
    assert "resume=true" in capsys.readouterr().err
    assert main([*args, "--resume"]) == 0

    _assert_same_training_state(_final_state(straight), _final_state(killed))
    a, b = _val_rows(straight), _val_rows(killed)
    assert [r["step"] for r in a] == [r["step"] for r in b] == [6, 12, 18, 24]
    for ra, rb in zip(a, b, strict=True):
        assert ra["mrae"] == pytest.approx(rb["mrae"], rel=1e-5)


def test_interrupted_pretraining_resumes_exactly(tmp_path: Path) -> None:
    # Stage pretrain: masks are drawn from the global torch RNG at every step, so this
    # fails unless the RNG state is saved and restored.
    overrides = {
        "stage": "pretrain",
        "model": MAE,
        "sched.steps": 12,
        "sched.warmup_steps": 2,
        "eval_every": 3,
        "export": False,
    }
    straight = tmp_path / "straight"
    Trainer(TrainerConfig.from_dict(toy_config(straight, **overrides))).fit()

    run = tmp_path / "run"
    stopping = toy_config(run, **overrides, hooks=["test_train_toy:stop_after_step_6"])
    with pytest.raises(KeyboardInterrupt):
        Trainer(TrainerConfig.from_dict(stopping)).fit()
    assert load_checkpoint(CheckpointManager(run / "checkpoints").latest())["step"] == 6
    Trainer(TrainerConfig.from_dict(toy_config(run, **overrides, resume=True))).fit()

    a, b = _final_state(straight), _final_state(run)
    assert a["step"] == b["step"] == 12
    for name, tensor in a["model"].items():
        torch.testing.assert_close(b["model"][name], tensor, rtol=1e-5, atol=1e-6, msg=name)
    assert [r["loss"] for r in _val_rows(straight)] == pytest.approx(
        [r["loss"] for r in _val_rows(run)], rel=1e-5
    )


def _device_patch_config(out: Path, **extra: object) -> dict:
    rgb = {"response": "cie1964_10deg", "pipeline": "clean"}
    return toy_config(
        out,
        **{
            "sched.steps": 12,
            "eval_every": 6,
            "ema.enabled": True,
            "ema.decay": 0.9,
            "data.train.patches": {"patch_size": 4, "rgb": "simulate", "exposure": [0.5, 1.5]},
            "data.train.rgb": rgb,
            "data.device_patches": True,
            **extra,
        },
    )


def test_a_stopped_device_patch_run_exports_and_resumes_exactly(tmp_path: Path) -> None:
    straight = tmp_path / "straight"
    Trainer(TrainerConfig.from_dict(_device_patch_config(straight))).fit()

    stopped = tmp_path / "stopped"
    hook = {"hooks": ["test_train_toy:stop_at_first_validation"]}
    summary = Trainer(TrainerConfig.from_dict(_device_patch_config(stopped, **hook))).fit()
    assert summary["stopped_by"] == "TEST" and summary["step"] == 7  # the step after it
    assert (stopped / "export" / "model.safetensors").is_file()  # best weights exported
    Trainer(TrainerConfig.from_dict(_device_patch_config(stopped, resume=True))).fit()

    a, b = _final_state(straight), _final_state(stopped)
    assert a["step"] == b["step"] == 12
    for key in ("model", "ema"):
        for name, tensor in a[key].items():
            torch.testing.assert_close(b[key][name], tensor, rtol=1e-5, atol=1e-6, msg=name)


def test_sigterm_stops_training_with_an_export_and_exit_0(tmp_path: Path) -> None:
    run = tmp_path / "run"
    raw = toy_config(run, **{"sched.steps": 400, "data.train.args": {"n": 28, "delay": 0.02}})
    recipe = tmp_path / "toy.yaml"
    recipe.write_text(yaml.safe_dump(raw))
    cmd = [sys.executable, "-m", "ssrzoo", "train", "--config", str(recipe)]
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    pointer = run / "checkpoints" / "latest.json"
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline and proc.poll() is None and not pointer.is_file():
            time.sleep(0.05)
        assert proc.poll() is None, proc.communicate()[1].decode()[-2000:]
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err.decode()[-2000:]
    assert "stopped by SIGTERM" in err.decode()
    assert (run / "export" / "model.safetensors").is_file()
    assert load_checkpoint(CheckpointManager(run / "checkpoints").latest())["step"] < 400


def test_ema_checkpoints_use_only_timms_public_api(tmp_path: Path, monkeypatch) -> None:
    """timm 1.0.29's ModelEmaV3 has no ``_sr_generator``; checkpointing must not need it."""
    import ssrzoo.train.trainer as trainer_module

    class PublicOnlyEma(trainer_module.ModelEmaV3):  # type: ignore[misc, valid-type]
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)
            self.__dict__.pop("_sr_generator", None)

        def __getattr__(self, name: str) -> object:
            if name.startswith("_sr"):
                raise AttributeError(name)
            return super().__getattr__(name)

    monkeypatch.setattr(trainer_module, "ModelEmaV3", PublicOnlyEma)
    config = toy_config(tmp_path, **{"sched.steps": 4, "eval_every": 2, "ema.enabled": True})
    summary = Trainer(TrainerConfig.from_dict(config)).fit()
    assert summary["step"] == 4 and summary["export_dir"]
