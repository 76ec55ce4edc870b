"""Every published weight loads offline, carries its metadata and reproduces its card."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest
import torch
from conftest import projected_and_raw

import ssrzoo
from ssrzoo.models import NonNegativeOutput, bundled_weights_dir
from ssrzoo.protocols import protocol_fields

REPO_ROOT = Path(__file__).resolve().parents[1]
PRETRAINED = ssrzoo.list_pretrained()


@pytest.mark.parametrize("name", PRETRAINED)
def test_loads_offline_with_full_metadata(name: str, tmp_path: Path) -> None:
    model = ssrzoo.create_model(name, pretrained=True, cache_dir=tmp_path / "empty-hub-cache")
    cfg = model.pretrained_cfg
    assert cfg.bundled and cfg.sha256
    assert len(cfg.wavelengths) == cfg.num_bands
    # the protocol's exact band centres, not a float32-rounded copy from the training data
    assert cfg.wavelengths == tuple(protocol_fields(cfg.tag)["wavelengths"])
    assert cfg.response is not None and len(cfg.response) == cfg.in_chans
    assert cfg.response_name and cfg.dataset and cfg.license
    if cfg.tag == "cave":  # trained on the benchmark itself, under its documented protocol
        assert "cave-256-v1" in cfg.dataset and "cave-256-v1" in cfg.metrics_dataset
    else:
        assert "NOT trained on" in cfg.dataset or "not trained on" in cfg.notes.lower()
    expected = {"loss"} if cfg.architecture == "s2mae" else {"mrae", "rmse", "psnr"}
    assert expected <= set(cfg.metrics)
    # built as it was saved: arguments that change no parameter shape (attention windows)
    # would otherwise load into the entrypoint's defaults and compute something else
    saved = json.loads((bundled_weights_dir() / cfg.name / "config.json").read_text())
    assert {k: model.model_args.get(k) for k in saved["model_args"]} == saved["model_args"]
    x = torch.rand(1, cfg.in_chans, 16, 24)
    with torch.no_grad():
        out = model.eval()(x)
    assert out.shape == (1, cfg.num_bands, 16, 24) and torch.isfinite(out).all()


def _fit_script():
    path = REPO_ROOT / "scripts" / "fit_classical_weights.py"
    spec = importlib.util.spec_from_file_location("fit_classical_weights", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    "name",
    [n for n in PRETRAINED if n.split(".")[0] in ("linear_regression", "root_poly2", "root_poly3")],
)
def test_classical_weights_reproduce_their_card(
    name: str, shared_data: Path, tmp_path: Path
) -> None:
    script = _fit_script()
    from ssrzoo.data import SimulateRGB
    from ssrzoo.train import TrainerConfig, evaluate_recipe

    model = ssrzoo.create_model(name, pretrained=True)
    if name.endswith(".cave"):
        scores = script.cave_scores(model, shared_data)
    elif name.endswith((".harvard", ".pavia")):  # as the protocol's recipe validates
        recipes = {"harvard": script.HARVARD_RECIPE, "pavia": script.PAVIA_RECIPE}
        recipe = tmp_path / "recipe.yaml"
        text = (REPO_ROOT / recipes[name.split(".")[1]]).read_text()
        recipe.write_text(text.replace("../shared/data", str(shared_data)))
        scores = evaluate_recipe(model, TrainerConfig.from_yaml(recipe)).metrics
    else:
        rgb, cube = script.pixels(shared_data, "val", SimulateRGB(response="cie1964_10deg"))
        scores = script.metrics(model, rgb, cube)
    card = model.pretrained_cfg.metrics
    assert scores["mrae"] == pytest.approx(card["mrae"], rel=0.01)
    assert scores["psnr"] == pytest.approx(card["psnr"], rel=0.01)


def _recipe(name: str) -> Path | None:
    """The recipe a trained weight's card names, if it is one of ours."""
    recipe = ssrzoo.get_pretrained_cfg(name).recipe
    path = REPO_ROOT / "recipes" / f"{recipe}.yaml"
    return path if recipe and path.is_file() else None


@pytest.mark.parametrize(
    "name", [n for n in PRETRAINED if _recipe(n) and not n.startswith("s2mae.")]
)
def test_trained_weight_reproduces_its_validation_mrae(
    name: str, shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Re-run the recipe's validation on the bundled weight: the card's MRAE within 1 %."""
    from ssrzoo.train import TrainerConfig, evaluate_recipe

    overrides = ["model.prior=null", "threads=1", "data.num_workers=0"]
    # the recipes name the shared data folder relative to the repository root
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(_recipe(name).read_text().replace("../shared/data", str(shared_data)))
    cfg = TrainerConfig.from_yaml(recipe, overrides)
    model = ssrzoo.create_model(name, pretrained=True)
    scores = evaluate_recipe(model, cfg).metrics
    card = ssrzoo.get_pretrained_cfg(name).metrics
    if scores["mrae"] != pytest.approx(card["mrae"], rel=0.01):
        # A card measured before outputs were projected onto >= 0 holds the raw model's
        # MRAE, which the projection can only lower.
        monkeypatch.setattr(NonNegativeOutput, "nonneg_output", False)
        raw = evaluate_recipe(model, cfg).metrics
        assert raw["mrae"] == pytest.approx(card["mrae"], rel=0.01)
        assert scores["mrae"] <= raw["mrae"]


@pytest.mark.parametrize("name", PRETRAINED)
def test_published_weights_give_no_negative_radiance(
    name: str, photos: dict[str, torch.Tensor]
) -> None:
    """Every weight predicts some negative values; in eval mode the model projects them to 0."""
    model = ssrzoo.create_model(name, pretrained=True).eval()
    assert model.pretrained_cfg.nonneg_output
    negatives = []
    for x in photos.values():
        out, raw = projected_and_raw(model, x)
        negatives.append(bool((raw < 0).any()))
        assert out.min() >= 0
        torch.testing.assert_close(out, raw.clamp_min(0), rtol=0, atol=0)
    assert any(negatives)


def test_readme_weights_table_quotes_the_cards() -> None:
    """The README's table quotes each weight's card at the table's precision, so a
    republished weight cannot leave an old number on the front page."""
    text = (REPO_ROOT / "README.md").read_text()
    rows = re.findall(r"^\| `([\w.]+)`(?: \(`\w+`\))? \|.*\| ([0-9]+\.[0-9]+) \|$", text, re.M)
    checked = set()
    for name, value in rows:
        cfg = ssrzoo.get_pretrained_cfg(name)
        if "mrae" in cfg.metrics:
            decimals = len(value.split(".")[1])
            assert round(cfg.metrics["mrae"], decimals) == pytest.approx(float(value)), name
        else:  # an S²-MAE: its card's metric is the masked loss; the RGB-only MRAE is in its notes
            assert value in cfg.notes, name
        checked.add(name)
    assert {"mae_ktsr.ntire2020", "mae_ktsr.cave", "s2mae.cave", "mae_ktsr.pavia"} <= checked
