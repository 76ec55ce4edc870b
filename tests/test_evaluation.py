"""``ssrzoo.evaluate``: hand-computed metrics, the Trainer's validation, protocols, the modes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml
from test_train_toy import BANDS, ToyCubes, response_matrix, toy_config
from torch import nn
from torch.utils.data import Dataset

import ssrzoo
from ssrzoo.evaluation import PROTOCOL_METRICS, EvaluationResult, collate
from ssrzoo.metrics import ssim
from ssrzoo.train import Trainer, TrainerConfig, evaluate_recipe

REPO_ROOT = Path(__file__).resolve().parents[1]


class Cubes(Dataset):
    """``n`` random cubes ``(BANDS, 6, 7)`` with their RGB through :func:`response_matrix`."""

    def __init__(self, n: int = 5, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.hsi = torch.from_numpy(rng.uniform(0.0, 1.2, (n, BANDS, 6, 7))).float()
        self.hsi[0, 0, 0, :3] = 0.0  # exact zeros: the MRAE floor acts
        m = torch.from_numpy(response_matrix()).float()
        self.rgb = torch.einsum("kc,nchw->nkhw", m, self.hsi)

    def __len__(self) -> int:
        return len(self.hsi)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return {"hsi": self.hsi[i], "rgb": self.rgb[i], "name": f"cube{i}"}


def _net(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(3, 16, 1), nn.GELU(), nn.Conv2d(16, BANDS, 1))


def _by_hand(pred: np.ndarray, target: np.ndarray, m: np.ndarray, eps: float) -> dict[str, float]:
    """The metrics of docs/protocols.md for one image ``(C, H, W)``, in plain numpy."""
    err = pred - target
    mse = np.mean(err**2)
    cos = (pred * target).sum(0) / (np.linalg.norm(pred, axis=0) * np.linalg.norm(target, axis=0))
    rgb_p, rgb_t = np.einsum("kc,chw->khw", m, pred), np.einsum("kc,chw->khw", m, target)
    return {
        "mrae": np.mean(np.abs(err) / np.maximum(np.abs(target), eps)),
        "rmse": np.sqrt(mse),
        "psnr": 10 * np.log10(1.0 / mse),
        "sam": np.degrees(np.arccos(np.clip(cos, -1, 1))).mean(),
        "bp_mrae": np.mean(np.abs(rgb_p - rgb_t) / np.maximum(np.abs(rgb_t), eps)),
    }


def test_evaluate_equals_a_hand_computation() -> None:
    data, model, m = Cubes(), _net(), response_matrix()
    result = ssrzoo.evaluate(model, data, response=m, eps=0.01, batch_size=2, ssim_window=3)
    assert isinstance(result, EvaluationResult) and result.count == 5
    with torch.no_grad():  # batch by batch, as float32 kernels depend on the batch size
        preds = torch.cat([model.eval()(data.rgb[i : i + 2]) for i in (0, 2, 4)])
    pairs = zip(preds.double().numpy(), data.hsi.double().numpy(), strict=True)
    rows = [_by_hand(p, t, m, 0.01) for p, t in pairs]
    assert [r["name"] for r in result.images] == [f"cube{i}" for i in range(5)]
    for key in ("mrae", "rmse", "psnr", "sam", "bp_mrae"):
        expected = [r[key] for r in rows]
        assert [r[key] for r in result.images] == pytest.approx(expected, rel=1e-9)
        assert result.metrics[key] == pytest.approx(np.mean(expected), rel=1e-9)
        assert result.sums[key] == pytest.approx(np.sum(expected), rel=1e-9)
    # SSIM is of the prediction clipped to [0, 1] (the range its constants assume)
    clipped = ssim(preds.clamp(0, 1), data.hsi, win_size=3, reduction="none")
    assert [r["ssim"] for r in result.images] == pytest.approx(clipped.tolist(), rel=1e-12)
    table = result.table()
    assert "| cube4 |" in table and "| **mean (5)** |" in table and "BP_MRAE ↓" in table


def test_a_dataset_and_its_batches_give_the_same_numbers() -> None:
    data, model = Cubes(n=4), _net()
    batches = [collate([data[0], data[1], data[2]]), collate([data[3]])]
    a = ssrzoo.evaluate(model, data, batch_size=3)
    b = ssrzoo.evaluate(model, batches)
    assert a.metrics == b.metrics and a.images == b.images


def test_the_protocol_sets_the_mrae_policy() -> None:
    data, model = Cubes(), _net()
    cave = ssrzoo.evaluate(model, data, protocol="cave")
    assert cave.metrics == ssrzoo.evaluate(model, data, eps=0.01).metrics
    assert cave.metrics != ssrzoo.evaluate(model, data).metrics  # the 1e-6 floor
    harvard = ssrzoo.evaluate(model, data, protocol="harvard")
    assert harvard.metrics == ssrzoo.evaluate(model, data, eps=0.01, mask=True).metrics
    # an explicit eps wins over the protocol's
    assert (
        ssrzoo.evaluate(model, data, protocol="cave", eps=1e-6).metrics["mrae"]
        == (ssrzoo.evaluate(model, data).metrics["mrae"])
    )
    with pytest.raises(ValueError, match="unknown protocol 'cav'; known: "):
        ssrzoo.evaluate(model, data, protocol="cav")


def test_every_recipe_validates_with_its_protocols_policy() -> None:
    """The recipes' metric_eps/metric_mask and PROTOCOL_METRICS must not drift apart."""
    defaults = TrainerConfig()
    checked = 0
    for path in sorted((REPO_ROOT / "recipes").glob("*.yaml")):
        raw = yaml.safe_load(path.read_text())
        protocol = raw.get("card", {}).get("protocol")
        if not protocol or raw.get("stage") == "pretrain":
            continue
        policy = PROTOCOL_METRICS[protocol]
        assert raw.get("metric_eps", defaults.metric_eps) == policy.eps, path.name
        assert raw.get("metric_mask", defaults.metric_mask) == policy.mask, path.name
        checked += 1
    assert checked >= 5


def test_eval_mode_seed_and_random_state() -> None:
    """The model is scored in eval mode, under the seed, and left as it was found."""
    model = nn.Sequential(_net(), nn.Dropout(0.5))
    model.train()
    data = Cubes()
    torch.manual_seed(123)
    before = torch.get_rng_state()
    result = ssrzoo.evaluate(model, data)
    assert model.training and torch.equal(torch.get_rng_state(), before)
    with torch.no_grad():
        preds = torch.cat([model.eval()(rgb[None]) for rgb in data.rgb])
    rmse = [
        np.sqrt(np.mean((p.double() - t.double()).numpy() ** 2))
        for p, t in zip(preds, data.hsi, strict=True)
    ]
    assert result.metrics["rmse"] == pytest.approx(np.mean(rmse), rel=1e-12)

    class Noisy(nn.Module):
        """Draws from the global torch RNG in eval mode (as S²-MAE masks do)."""

        def forward(self, rgb: torch.Tensor) -> torch.Tensor:
            return torch.rand(rgb.shape[0], BANDS, *rgb.shape[2:])

    a, b = ssrzoo.evaluate(Noisy(), data, seed=1), ssrzoo.evaluate(Noisy(), data, seed=1)
    assert a.metrics == b.metrics != ssrzoo.evaluate(Noisy(), data, seed=2).metrics


def test_a_callable_is_evaluated_on_cpu_batches() -> None:
    data, model = Cubes(), _net()
    seen: list[torch.device] = []

    def reconstruct(rgb: torch.Tensor) -> torch.Tensor:
        seen.append(rgb.device)
        with torch.no_grad():
            return model.eval()(rgb)

    assert ssrzoo.evaluate(reconstruct, data).metrics == ssrzoo.evaluate(model, data).metrics
    assert set(seen) == {torch.device("cpu")}


def test_forward_loss_is_weighted_by_batch_size() -> None:
    class WithLoss(nn.Module):
        def forward_loss(self, hsi: torch.Tensor, rgb: torch.Tensor) -> dict[str, torch.Tensor]:
            return {"loss": hsi.mean()}

    data = Cubes(n=3)
    result = ssrzoo.evaluate(WithLoss(), data, batch_size=2, forward_loss=True)
    first, second = float(data.hsi[:2].mean()), float(data.hsi[2:].mean())
    assert result.metrics == {"loss": pytest.approx((2 * first + second) / 3, rel=1e-6)}
    assert result.count == 3 and result.images == []


def test_inputs_must_be_pairs() -> None:
    model = _net()
    with pytest.raises(ValueError, match=r"'rgb'.*SimulateRGB"):
        ssrzoo.evaluate(model, [{"hsi": torch.rand(1, BANDS, 4, 4)}])
    with pytest.raises(TypeError, match="samples must be dicts"):
        collate([torch.rand(BANDS, 4, 4)])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="is empty"):
        ssrzoo.evaluate(model, torch.utils.data.Subset(Cubes(), []))


def test_evaluate_gives_what_the_trainer_logs(tmp_path: Path) -> None:
    """The Trainer's logged validation, evaluate_recipe and evaluate agree to the last bit.

    ToyCubes flips samples at random from the global RNG, so this also checks that
    evaluate_recipe draws each validation sample under the Trainer's seed.
    """
    config = toy_config(tmp_path / "run", **{"sched.steps": 4, "eval_every": 4, "log_every": 4})
    cfg = TrainerConfig.from_dict(config)
    trainer = Trainer(cfg)
    summary = trainer.fit()
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").open()]
    logged = {k: v for k, v in rows[-1].items() if k not in ("step", "split", "best")}
    assert rows[-1]["split"] == "val" and set(logged) == {"mrae", "rmse", "psnr", "sam", "bp_mrae"}
    model = ssrzoo.create_model(f"local-dir:{summary['export_dir']}")
    assert evaluate_recipe(model, cfg).metrics == logged
    with_ssim = evaluate_recipe(model, cfg, ssim_window=3).metrics
    assert with_ssim.pop("ssim") > 0 and with_ssim == logged
    result = ssrzoo.evaluate(
        model,
        trainer.val_loader,
        response=torch.as_tensor(response_matrix(), dtype=torch.float32),
        seed=cfg.seed,
    )
    assert result.metrics == logged and result.count == len(ToyCubes(n=6))
