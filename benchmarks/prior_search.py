"""The MAE-KTSR prior search: does the S²-MAE prior help, and under which settings?

Two parts, one page (``docs/results/prior_search.md``) and one figure:

1. **The search itself**, from the record of its training runs
   (``benchmarks/records/prior_search_cave.json``): GPU runs of
   ``scripts/train_cave_gpu.py`` under protocol cave-256-v1, every run 4000 steps of 16
   patches 64x64 unless a time budget stopped it. The record keeps each run's validation
   MRAE curve, so runs stopped at different steps are compared at the same step
   (``--at``, 3500 by default). ``collect`` adds runs to the record from their run folders.
2. **The published weights, re-measured here** on the shared data with
   :func:`ssrzoo.train.evaluate_recipe` (the leaderboard's path): ``mae_ktsr.cave`` against
   its no-prior twin, the closed form and MST++, and the ICVL pair ``mae_ktsr.ntire2020`` /
   ``mae_ktsr_noprior.ntire2020``.

    python benchmarks/prior_search.py collect --round 2 --machine "1 NVIDIA H200" gpu/runs
    python benchmarks/prior_search.py --root ../shared/data --out docs/results/prior_search.md
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
import yaml
from _report import REPO, provenance, write_section
from leaderboard import PROTOCOLS, recipe_config

import ssrzoo
from ssrzoo.models import count_params
from ssrzoo.models._cost import count_flops
from ssrzoo.train import evaluate_recipe
from ssrzoo.train.weights import start_weights

RECORD = REPO / "benchmarks" / "records" / "prior_search_cave.json"
RECORD_ICVL = REPO / "benchmarks" / "records" / "prior_search_icvl.json"
FIGURE = REPO / "docs" / "images" / "prior_search_cave.png"

#: What each run of the search changed, by run name (the record keeps the run's overrides).
SETTINGS: dict[str, dict[str, str]] = {
    "mae_ktsr_cave_noprior": {"net": "flat", "prior": "none"},
    "mae_ktsr_cave_noprior_noclip": {"net": "flat", "prior": "none", "other": "no grad clip"},
    "mae_ktsr_unet_cave_noprior": {"net": "U", "prior": "none"},
    "mae_ktsr_cave": {"net": "flat", "prior": "fine-tuned (0.1x lr)"},
    "mae_ktsr_cave_frozen": {"net": "flat", "prior": "frozen"},
    "mae_ktsr_cave_concat": {"net": "flat", "prior": "fine-tuned (0.1x lr)", "other": "concat"},
    "mae_ktsr_cave_noclip": {"net": "flat", "prior": "fine-tuned (0.1x lr)", "other": "no clip"},
    "mae_ktsr_unet_cave": {"net": "U", "prior": "fine-tuned (0.1x lr)"},
    "mae_ktsr_unet_cave_frozen": {"net": "U", "prior": "frozen"},
    "mae_ktsr_unet_cave_concat": {"net": "U", "prior": "fine-tuned (0.1x lr)", "other": "concat"},
    # Rounds 3-4: learning rate and size of the flat reconstructor (rounds 0-2: lr 4e-4).
    **{
        f"mae_ktsr_cave{'' if prior == 'frozen' else '_noprior'}{suffix}": {
            "net": net,
            "prior": prior,
        }
        for suffix, net in (
            ("_lr1e3", "flat, lr 1e-3"),
            ("_deep_lr1e3", "flat 4-4-4 blocks, lr 1e-3"),
            ("_wide_lr1e3", "flat 44 channels, lr 1e-3"),
            ("_lr2e3", "flat, lr 2e-3"),
            ("_lr3e3", "flat, lr 3e-3"),
        )
        for prior in ("frozen", "none")
    },
    # Round 5 (the development CPU): the published recipe with a prior pretrained on a larger
    # corpus (recipes/s2mae_cave_corpus.yaml) and without a prior, both trained on the same
    # CPU so that they compare with each other.
    "mae_ktsr_cave_corpus": {"net": "flat, lr 3e-3, CPU", "prior": "frozen, corpus prior"},
    "mae_ktsr_cave_noprior_cpu": {"net": "flat, lr 3e-3, CPU", "prior": "none"},
    # ... and both again with seed 1, for the spread between two runs of one setting
    "mae_ktsr_cave_noprior_cpu_s1": {
        "net": "flat, lr 3e-3, CPU",
        "prior": "none",
        "other": "seed 1 (was 0)",
    },
    "mae_ktsr_cave_corpus_s1": {
        "net": "flat, lr 3e-3, CPU",
        "prior": "frozen, corpus prior",
        "other": "seed 1 (was 0)",
    },
    # Round 6: the prior's own RGB-only reconstruction (its frozen decoder's cube) as the
    # global residual, the CNN a correction to it (benchmarks/prior_residual.py)
    "mae_ktsr_cave_prior_residual": {
        "net": "flat, lr 3e-3, CPU",
        "prior": "frozen, corpus prior",
        "other": "residual: the prior's decoded cube",
    },
    # ... and the published recipe on 4 of the 19 training scenes (the first in alphabetical
    # order), with the corpus prior (pretrained on all 19 and synthetic scenes) and without:
    # does the prior transfer what the reconstructor's paired data lack?
    "mae_ktsr_cave_4scenes": {
        "net": "flat, lr 3e-3, CPU, 4 scenes",
        "prior": "frozen, corpus prior",
    },
    "mae_ktsr_cave_noprior_4scenes": {"net": "flat, lr 3e-3, CPU, 4 scenes", "prior": "none"},
    # Round 7: the corpus prior trained in stage 2 with the reconstructor, at a fraction of
    # its learning rate (model.prior_lr_scale); CAVE underfits at this budget (training loss
    # about validation loss), where 1.9 M trainable pretrained parameters might pay
    **{
        f"mae_ktsr_cave_corpus_ft{scale.replace('.', '')}": {
            "net": "flat, lr 3e-3, CPU",
            "prior": f"fine-tuned ({scale}x lr), corpus prior",
        }
        for scale in ("0.1", "0.3")
    },
    # ... and frozen again, pretrained as the corpus prior but with RGB-only probability 0.75
    # (was 0.25): the CAVE half of that ablation, whose GPU run (round 1) diverged
    "mae_ktsr_cave_corpus_rgbonly": {
        "net": "flat, lr 3e-3, CPU",
        "prior": "frozen, corpus prior, RGB-only 0.75",
    },
}
#: MST++ trained with the training compute of MAE-KTSR's published recipe (issue 18: "beats
#: MST++ trained with the same data and budget"): as many steps as make steps x GFLOPs per
#: 512x512 forward pass equal to MAE-KTSR's (the warmup scaled alike), on the development
#: CPU in float32 like the MAE-KTSR runs. Run -> (protocol, MAE-KTSR's published weight,
#: its MST++ weight, MAE-KTSR's record runs with the prior and without, seed 0 then 1).
EQUAL_COMPUTE: dict[str, tuple[str, str, str, tuple[str, str], tuple[str, str]]] = {
    "mst_plus_plus_cave_eqflop": (
        "CAVE val",
        "mae_ktsr.cave",
        "mst_plus_plus.cave",
        ("mae_ktsr_cave_corpus", "mae_ktsr_cave_corpus_s1"),
        ("mae_ktsr_cave_noprior_cpu", "mae_ktsr_cave_noprior_cpu_s1"),
    ),
    "mst_plus_plus_ntire_eqflop": (
        "ICVL val",
        "mae_ktsr.ntire2020",
        "mst_plus_plus.ntire2020",
        ("mae_ktsr_ntire_16k", "mae_ktsr_ntire_16k_s1"),
        ("mae_ktsr_ntire_noprior_16k", "mae_ktsr_ntire_noprior_16k_s1"),
    ),
}
#: Round 5's S²-MAE pretrained on more than the reconstructor sees (the prior of
#: ``mae_ktsr_cave_corpus``), and the same corpus with the CAVE scenes relit per patch.
CAVE_CORPUS_PRIOR = "s2mae_cave_corpus"
CAVE_CORPUS_RELIT = "s2mae_cave_corpus_relit"
#: The ICVL runs (protocol icvl-strips-v1, CPU): each S²-MAE's corpus, and each MAE-KTSR
#: run's prior. The reconstructor, recipe and budget are those of mae_ktsr_ntire.yaml.
ICVL_CORPUS: dict[str, str] = {
    "s2mae.ntire2020": "synthetic 4000 + ICVL train strips",
    "s2mae_ntire_corpus2k_all": "synthetic 4000 + ICVL train x16 + all 24 CAVE scenes relit",
    "s2mae_ntire_corpus": "synthetic 4000 + ICVL train x16 + 16 CAVE train scenes relit "
    "(a 6000-step schedule, stopped for time; not used in stage 2)",
    "s2mae_ntire_corpus_rgbonly": "synthetic + ICVL + 16 CAVE scenes relit, RGB-only "
    "probability 0.75 (was 0.25)",
    # Round 8: s2mae.ntire2020's recipe with 4x4-px tokens, two token rows per 8-row patch.
    "s2mae_ntire_p4": "synthetic 4000 + ICVL train strips; 4x4-px tokens (was 8x8)",
}
ICVL_PRIOR: dict[str, str] = {
    "mae_ktsr_ntire_noprior_lr3e3": "none",
    "mae_ktsr_ntire_lr3e3": "s2mae.ntire2020",
    "mae_ktsr_ntire_corpus2k_all": "s2mae_ntire_corpus2k_all",
    "mae_ktsr_ntire_corpus": "s2mae_ntire_corpus",
    "mae_ktsr_ntire_corpus_rgbonly": "s2mae_ntire_corpus_rgbonly",
    # Round 2: the reconstructor 44 channels wide (53.9 GFLOPs at 512x512 with the prior,
    # the widest within issue #18's 59), compared with its own no-prior twin.
    "mae_ktsr_ntire_noprior_w44": "none, width 44",
    "mae_ktsr_ntire_w44": "s2mae.ntire2020, width 44",
}
#: The no-prior twin each MAE-KTSR run is compared with (default: the 32-channel one).
ICVL_TWIN = {"mae_ktsr_ntire_w44": "mae_ktsr_ntire_noprior_w44"}
ICVL_REFERENCE = "mae_ktsr_ntire_noprior_lr3e3"
#: ICVL val MRAE of the 4000-step ``mst_plus_plus.ntire2020`` published until round 4 (as
#: stored, float16; 27.9 min alone on this CPU by its card): the equal-training-time
#: reference of the 8000-step MAE-KTSR runs.
MST_4000_STEPS = 0.0455
#: Rounds 3-4 (ICVL, CPU): what the training data, the loss floor and the schedule length do.
#: Each run: ``(prior, what changed from the published recipe, the twin it is compared
#: with)``; the twin differs from it in that one setting.
ICVL_TRAINING: dict[str, tuple[str, str, str]] = {
    "mae_ktsr_ntire_noprior_eps01": (
        "none",
        "MRAE loss floor 0.01 (was 0.001)",
        ICVL_REFERENCE,
    ),
    "mae_ktsr_ntire_noprior_cave": (
        "none",
        "MRAE loss floor 0.01; half the patches from the 16 CAVE training scenes of the "
        "S²-MAE corpus, relit by measured illuminants (stopped early, far behind)",
        "mae_ktsr_ntire_noprior_eps01",
    ),
    "mae_ktsr_ntire_noprior_8k": ("none", "8000 steps (was 4000)", ICVL_REFERENCE),
    "mae_ktsr_ntire_8k": ("s2mae.ntire2020", "8000 steps (was 4000)", "mae_ktsr_ntire_noprior_8k"),
    # MST++ (mst_plus_plus_ntire.yaml, learning rate 4e-4) at the same number of steps: twice
    # the training time of its earlier 4000-step weight; stopped at step 7000 in round 3,
    # resumed to 8000 in round 4 and published.
    "mst_plus_plus_ntire_8k": ("— (MST++)", "8000 steps (was 4000)", "mae_ktsr_ntire_8k"),
    # Round 5: MST++ at MAE-KTSR's 16000 steps too (twice its training time on this CPU).
    "mst_plus_plus_ntire_16k": ("— (MST++)", "16000 steps (was 8000)", "mae_ktsr_ntire_16k"),
    # Round 7: MST++'s 8000 steps at the learning rate that suits this data (its recipe: 4e-4).
    "mst_plus_plus_ntire_lr1e3_8k": (
        "— (MST++)",
        "learning rate 1e-3 (was 4e-4)",
        "mst_plus_plus_ntire_8k",
    ),
    # ... and its 16000 steps, published as mst_plus_plus.ntire2020 (its best step).
    "mst_plus_plus_ntire_lr1e3_16k": (
        "— (MST++)",
        "learning rate 1e-3 (was 4e-4)",
        "mst_plus_plus_ntire_16k",
    ),
    # Round 4: the schedule doubled again, about MST++'s 8000-step training time on this CPU.
    "mae_ktsr_ntire_noprior_16k": ("none", "16000 steps (was 8000)", "mae_ktsr_ntire_noprior_8k"),
    "mae_ktsr_ntire_16k": (
        "s2mae.ntire2020",
        "16000 steps (was 8000)",
        "mae_ktsr_ntire_noprior_16k",
    ),
    # Round 5: the prior fine-tuned in stage 2 (on ICVL; the CAVE search had tried it on GPU).
    "mae_ktsr_ntire_ft_8k": (
        "s2mae.ntire2020, fine-tuned",
        "8000 steps; the prior trained at 0.1x the learning rate (was frozen)",
        "mae_ktsr_ntire_noprior_8k",
    ),
    "mae_ktsr_ntire_ft03_8k": (
        "s2mae.ntire2020, fine-tuned",
        "8000 steps; the prior trained at 0.3x the learning rate (was frozen)",
        "mae_ktsr_ntire_noprior_8k",
    ),
    "mae_ktsr_ntire_ft_16k": (
        "s2mae.ntire2020, fine-tuned",
        "16000 steps; the prior trained at 0.1x the learning rate (was frozen)",
        "mae_ktsr_ntire_noprior_16k",
    ),
    # Round 6: the three 8000-step settings again with another seed (patch sampling,
    # initialisation), to size the run-to-run noise the prior's gains are read against.
    "mae_ktsr_ntire_noprior_8k_s1": (
        "none",
        "8000 steps, seed 1 (was 0)",
        "mae_ktsr_ntire_noprior_8k",
    ),
    "mae_ktsr_ntire_8k_s1": (
        "s2mae.ntire2020",
        "8000 steps, seed 1",
        "mae_ktsr_ntire_noprior_8k_s1",
    ),
    "mae_ktsr_ntire_ft_8k_s1": (
        "s2mae.ntire2020, fine-tuned",
        "8000 steps, seed 1; the prior trained at 0.1x the learning rate",
        "mae_ktsr_ntire_noprior_8k_s1",
    ),
    # ... and the published 16000-step pair.
    "mae_ktsr_ntire_noprior_16k_s1": (
        "none",
        "16000 steps, seed 1 (was 0)",
        "mae_ktsr_ntire_noprior_16k",
    ),
    "mae_ktsr_ntire_16k_s1": (
        "s2mae.ntire2020",
        "16000 steps, seed 1",
        "mae_ktsr_ntire_noprior_16k_s1",
    ),
    # Round 8: a prior with 2-D context on the ICVL strips (4x4-px tokens: an 8-row patch
    # is two token rows, not one); 75.7 GFLOPs at 512x512, over issue 18's 59.
    "mae_ktsr_ntire_p4_8k": (
        "s2mae_ntire_p4",
        "8000 steps; the prior's tokens 4x4 px (was 8x8)",
        "mae_ktsr_ntire_noprior_8k",
    ),
}
#: Round 5's runs with the prior fine-tuned, and the run with it frozen on the same schedule.
ICVL_FROZEN_TWIN = {
    "mae_ktsr_ntire_ft_8k": "mae_ktsr_ntire_8k",
    "mae_ktsr_ntire_ft03_8k": "mae_ktsr_ntire_8k",
    "mae_ktsr_ntire_ft_16k": "mae_ktsr_ntire_16k",
    "mae_ktsr_ntire_ft_8k_s1": "mae_ktsr_ntire_8k_s1",
}
#: Round 6: per schedule length, each setting run with two seeds,
#: ``(label, seed-0 run, seed-1 run)``; the first is the no-prior one.
ICVL_SEEDS: dict[int, tuple[tuple[str, str, str], ...]] = {
    8000: (
        ("no prior", "mae_ktsr_ntire_noprior_8k", "mae_ktsr_ntire_noprior_8k_s1"),
        ("prior frozen", "mae_ktsr_ntire_8k", "mae_ktsr_ntire_8k_s1"),
        ("prior fine-tuned at 0.1x", "mae_ktsr_ntire_ft_8k", "mae_ktsr_ntire_ft_8k_s1"),
    ),
    16000: (
        ("no prior", "mae_ktsr_ntire_noprior_16k", "mae_ktsr_ntire_noprior_16k_s1"),
        ("prior frozen", "mae_ktsr_ntire_16k", "mae_ktsr_ntire_16k_s1"),
    ),
}
#: How each round initialised the ISFF modules.
ROUND_INIT = {0: "—", 1: "random", **dict.fromkeys(range(2, 8), "zero")}


def read_run(folder: Path) -> dict[str, Any]:
    """Validation curve, steps, throughput and final training loss of one run folder."""
    rows = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    val = [r for r in rows if r.get("split") == "val"]
    train = [r for r in rows if r.get("split") == "train"]
    key = "mrae" if val and "mrae" in val[0] else "loss"
    config = (folder / "config.yaml").read_text() if (folder / "config.yaml").is_file() else ""
    batch = int((yaml.safe_load(config) or {}).get("data", {}).get("batch_size", 0) or 0)
    # training time from the logged throughput: each log interval's samples over its rate
    # (resumed runs log some steps twice; each step counts once)
    seconds, last = 0.0, 0
    for r in train:
        if int(r["step"]) > last and r.get("samples_per_s"):
            seconds += (int(r["step"]) - last) * batch / float(r["samples_per_s"])
            last = int(r["step"])
    return {
        "metric": key,
        # a diverged run logs NaN: its curve ends at the last finite validation
        "curve": {str(r["step"]): round(float(r[key]), 6) for r in val if math.isfinite(r[key])},
        "steps": max((int(r["step"]) for r in rows), default=0),
        "samples_per_s": round(float(train[-1]["samples_per_s"]), 1) if train else None,
        "train_loss_last": round(sum(r["loss"] for r in train[-5:]) / 5, 5)
        if len(train) >= 5
        else None,
        "train_minutes": round(seconds / 60, 1) if batch else None,
        "config": config,
    }


def rgb_only_scores(
    folder: Path, root: Path, protocol: str = "ntire2020"
) -> tuple[float, dict[str, float]]:
    """RGB-only validation MRAE (``forward(rgb)``, the mode stage 2 runs its encoder in: how
    much of the spectrum the prior can tell) of an S²-MAE run's export, and of every
    checkpoint the run kept, built as its export (architecture and attention windows):
    whether the prior still improved after the step its own validation selected.
    ``protocol``: a key of the leaderboard's ``PROTOCOLS``."""
    model = ssrzoo.create_model(f"local-dir:{(folder / 'export').resolve()}", pretrained=True)
    cfg = recipe_config(root, str(PROTOCOLS[protocol]["recipe"]))
    export = round(float(evaluate_recipe(model, cfg).metrics["mrae"]), 6)
    curve = {}
    for checkpoint in sorted((folder / "checkpoints").glob("step-*")):
        _, state = start_weights(str(checkpoint))
        model.load_state_dict(state)  # type: ignore[arg-type]
        step = str(int(checkpoint.name.removeprefix("step-")))
        curve[step] = round(float(evaluate_recipe(model, cfg).metrics["mrae"]), 6)
    return export, curve


def collect(
    folders: list[Path], round_: int, machine: str, record_path: Path = RECORD, root: Path = REPO
) -> None:
    """Add the runs in ``folders`` to a record, under search round ``round_``; a run already
    recorded (resumed since) is replaced. S²-MAE runs also get their RGB-only MRAE on their
    protocol's validation."""
    record = json.loads(record_path.read_text()) if record_path.is_file() else {"runs": []}
    protocol = "ntire2020" if record_path == RECORD_ICVL else "cave"
    for folder in folders:
        entry = {"name": folder.name, "round": round_, "machine": machine, **read_run(folder)}
        if entry["metric"] == "loss":
            entry["rgb_only_mrae"], entry["rgb_only_curve"] = rgb_only_scores(
                folder, root, protocol
            )
        record["runs"] = [r for r in record["runs"] if r["name"] != folder.name] + [entry]
        print(f"{folder.name}: {entry['steps']} steps, {len(entry['curve'])} validations")
    record_path.parent.mkdir(parents=True, exist_ok=True)
    record_path.write_text(json.dumps(record, indent=1) + "\n")


def at_step(curve: dict[str, float], step: int) -> float | None:
    """The curve's value at ``step``, or None when the run never validated there."""
    return curve.get(str(step))


def best(curve: dict[str, float]) -> tuple[float, int]:
    """``(lowest value, its step)`` of a validation curve."""
    step, value = min(curve.items(), key=lambda kv: kv[1])
    return value, int(step)


#: Issue 18's bar: the prior must lower MRAE by this share against its no-prior twin.
BAR = 0.05


def _reach(value: float, reference: float) -> str:
    """Whether ``value`` is at least :data:`BAR` below ``reference``, as the readings say it."""
    return "reaches" if value <= (1 - BAR) * reference else "does not reach"


def _pct(value: float, reference: float) -> str:
    """``value`` relative to ``reference``, as a signed percentage."""
    return f"{100 * (value / reference - 1):+.1f} %"


def cave_twins(runs: list[dict[str, Any]]) -> Callable[[dict[str, Any]], dict[str, Any] | None]:
    """The CAVE search's comparison rule: each run against the no-prior run of the same
    reconstructor in its round, or, for a round without one, in the latest earlier round; a
    run that changes something else (another seed) against the no-prior run with the same
    change in its round, where there is one."""
    references: dict[tuple[int, str, str], dict[str, Any]] = {
        (r["round"], SETTINGS[r["name"]]["net"], SETTINGS[r["name"]].get("other", "")): r
        for r in runs
        if SETTINGS.get(r["name"], {}).get("prior") == "none"
    }

    def twin(run: dict[str, Any]) -> dict[str, Any] | None:
        setting = SETTINGS[run["name"]]
        net, other = setting["net"], setting.get("other", "")
        if other and (run["round"], net, other) in references:
            return references[(run["round"], net, other)]
        rounds = range(run["round"], -1, -1)
        return next((references[(k, net, "")] for k in rounds if (k, net, "") in references), None)

    return twin


def search_table(runs: list[dict[str, Any]], step: int) -> list[str]:
    """Markdown rows of the search, each MRAE relative to the same round's no-prior run."""
    lines = [
        f"| round | run | reconstructor | prior | ISFF init | other | steps | MRAE @{step} | "
        f"vs no prior @{step} | best MRAE (step) | train loss (last 500 steps) |",
        "|---:|---|---|---|---|---|---:|---:|---:|---:|---:|",
    ]
    twin = cave_twins(runs)
    for run in sorted(runs, key=lambda r: (r["round"], r["name"])):
        if run["metric"] != "mrae":
            continue
        setting = SETTINGS[run["name"]]
        value = at_step(run["curve"], step)
        ref = twin(run)
        ref_value = at_step(ref["curve"], step) if ref else None
        versus = (
            _pct(value, ref_value)
            if value is not None and ref_value is not None and ref is not run
            else "—"
        )
        low, low_step = best(run["curve"])
        loss = run["train_loss_last"]
        lines.append(
            f"| {run['round']} | `{run['name']}` | {setting['net']} | {setting['prior']} | "
            f"{ROUND_INIT[run['round']] if setting['prior'] != 'none' else '—'} | "
            f"{setting.get('other', '')} | {run['steps']} | "
            f"{'—' if value is None else f'{value:.4f}'} | {versus} | {low:.4f} ({low_step}) | "
            f"{'—' if loss is None else f'{loss:.4f}'} |"
        )
    return lines


def icvl_tables(runs: list[dict[str, Any]], published_rgb_only: dict[str, float]) -> list[str]:
    """The ICVL corpus experiment: the S²-MAE priors, then MAE-KTSR with each of them."""
    priors = {r["name"]: r for r in runs if r["metric"] == "loss"}
    lines = [
        "| S²-MAE | corpus | steps | lowest validation loss (step) | RGB-only ICVL val MRAE |",
        "|---|---|---:|---:|---:|",
    ]
    for name, corpus in ICVL_CORPUS.items():
        run = priors.get(name)
        if run is None:  # a published weight (its run folder is not kept), or not run yet
            if name in published_rgb_only:
                score = published_rgb_only[name]
                lines.append(
                    f"| `{name}` (published; 16-token windows, as the runs here) | {corpus} | "
                    f"900 | — | {score:.4f} |"
                )
            continue
        low, low_step = best(run["curve"])
        lines.append(
            f"| `{name}` | {corpus} | {run['steps']} | {low:.4f} ({low_step}) | "
            f"{run['rgb_only_mrae']:.4f} |"
        )
    recon = {r["name"]: r for r in runs if r["metric"] == "mrae"}
    lines += [
        "",
        "| MAE-KTSR run | prior | ICVL val MRAE @1000 / 2000 / 3000 / 4000 | vs no prior "
        "@4000 | train loss (last 500 steps) |",
        "|---|---|---|---:|---:|",
    ]
    for name, prior in ICVL_PRIOR.items():
        run = recon.get(name)
        if run is None:
            continue
        points = [at_step(run["curve"], k) for k in (1000, 2000, 3000, 4000)]
        twin = recon.get(ICVL_TWIN.get(name, ICVL_REFERENCE))
        last, ref = points[-1], twin and at_step(twin["curve"], 4000)
        versus = (
            _pct(last, ref)
            if last is not None and ref is not None and not prior.startswith("none")
            else "—"
        )
        curve = " / ".join("—" if v is None else f"{v:.4f}" for v in points)
        loss = run["train_loss_last"]
        lines.append(
            f"| `{name}` | {prior} | {curve} | {versus} | "
            f"{'—' if loss is None else f'{loss:.4f}'} |"
        )
    return lines


def _versus(run: dict[str, Any], twin: dict[str, Any]) -> tuple[float, int, float, int]:
    """``(run MRAE, its step, twin MRAE, its step)``: the run's last validation, against the
    twin at the same step where the twin validated there, else at the twin's last."""
    step = max(run["curve"], key=int)
    twin_step = step if step in twin["curve"] else max(twin["curve"], key=int)
    return run["curve"][step], int(step), twin["curve"][twin_step], int(twin_step)


def prior_gains(
    cave_runs: list[dict[str, Any]], icvl_runs: list[dict[str, Any]], step: int
) -> dict[str, list[tuple[str, float, float]]]:
    """``(run, MRAE, its no-prior twin's MRAE)`` of every MAE-KTSR run with a prior, by
    protocol, the run as Markdown: CAVE at ``step`` (the search's rule), ICVL at the end of
    each run's schedule."""
    twin = cave_twins(cave_runs)
    cave = []
    for run in cave_runs:
        if run["metric"] != "mrae" or SETTINGS[run["name"]]["prior"] == "none":
            continue
        ref = twin(run)
        value, ref_value = at_step(run["curve"], step), ref and at_step(ref["curve"], step)
        if value is not None and ref_value is not None:
            cave.append((f"`{run['name']}`, round {run['round']}", value, ref_value))
    recon = {r["name"]: r for r in icvl_runs if r["metric"] == "mrae"}
    icvl = []
    for name, prior in ICVL_PRIOR.items():
        mate = recon.get(ICVL_TWIN.get(name, ICVL_REFERENCE))
        if not prior.startswith("none") and name in recon and mate is not None:
            icvl.append((f"`{name}`", recon[name]["curve"]["4000"], mate["curve"]["4000"]))
    for name, (prior, _, mate_name) in ICVL_TRAINING.items():
        if prior.startswith("s2mae") and name in recon and mate_name in recon:
            value, _, ref_value, _ = _versus(recon[name], recon[mate_name])
            icvl.append((f"`{name}`", value, ref_value))
    return {
        f"CAVE val (cave-256-v1; at step {step})": cave,
        "ICVL val (icvl-strips-v1, CPU; at the end of each schedule)": icvl,
    }


def bar_section(
    gains: dict[str, list[tuple[str, float, float]]],
    bar: float = BAR,
    notes: Sequence[str] = (),
) -> str:
    """The ablation page's summary of the whole search against issue 18's bar: the prior
    must lower MRAE by ``bar`` against the same model without it; ``notes`` (e.g. the seed
    reading) follow the verdict."""
    lines = [
        "## Issue 18's bar, across the prior search",
        "",
        "Every MAE-KTSR run with an S²-MAE prior in the [prior search](prior_search.md), "
        "against its no-prior twin (the same reconstructor, data, schedule and seed), from "
        "the records of `benchmarks/prior_search.py`. Issue 18 asks the prior for "
        f"{100 * bar:.0f} % lower MRAE than the twin on CAVE val and on ICVL val.",
        "",
        "| protocol | runs with a prior | prior ahead | best (run) | worst (run) | "
        f"{100 * bar:.0f} % lower or more |",
        "|---|---:|---:|---|---|---:|",
    ]
    reached = 0
    for protocol, rows in gains.items():
        if not rows:
            continue
        ranked = sorted(rows, key=lambda r: r[1] / r[2])
        (b_name, b, b_ref), (w_name, w, w_ref) = ranked[0], ranked[-1]
        hits = sum(v <= (1 - bar) * ref for _, v, ref in rows)
        reached += hits
        lines.append(
            f"| {protocol} | {len(rows)} | {sum(v < ref for _, v, ref in rows)} | "
            f"{_pct(b, b_ref)} ({b_name}) | {_pct(w, w_ref)} ({w_name}) | {hits} |"
        )
    runs = sum(len(rows) for rows in gains.values())
    verdict = (
        f"**{reached} of {runs} settings reach the bar.**"
        if reached
        else f"**No setting reaches the bar: in {runs} runs the prior never lowered MRAE by "
        f"{100 * bar:.0f} %.** The search varied the prior (frozen or fine-tuned, its "
        "pretraining corpus and length, the RGB-only probability), the fusion (ISFF modes "
        "and initialisation), and the reconstructor (flat or U-shaped, width, depth, "
        "learning rate, schedule length); see the prior search for each table."
    )
    lines += ["", verdict]
    if notes:
        lines += ["", *notes]
    return "\n".join(lines) + "\n"


def icvl_training_table(runs: list[dict[str, Any]]) -> list[str]:
    """Rounds 3-4: the runs that change the training data, loss or schedule, not the prior."""
    recon = {r["name"]: r for r in runs if r["metric"] == "mrae"}
    lines = [
        "| run | prior | changed | steps | ICVL val MRAE at each validation | vs twin |",
        "|---|---|---|---:|---|---|",
    ]
    for name, (prior, change, twin_name) in ICVL_TRAINING.items():
        run, twin = recon.get(name), recon.get(twin_name)
        if run is None or twin is None:
            continue
        value, step, ref, ref_step = _versus(run, twin)
        curve = " / ".join(
            f"{v:.4f}" for _, v in sorted(run["curve"].items(), key=lambda kv: int(kv[0]))
        )
        lines.append(
            f"| `{name}` | {prior} | {change} | {run['steps']} | {curve} | "
            f"{_pct(value, ref)} against `{twin_name}` "
            f"({value:.4f} @{step} vs {ref:.4f} @{ref_step}) |"
        )
    return lines


def icvl_training_reading(runs: list[dict[str, Any]]) -> list[str]:
    """The reading of rounds 3-4 (training length, data, loss floor; MST++), from the record."""
    recon = {r["name"]: r for r in runs if r["metric"] == "mrae"}
    names = ("mae_ktsr_ntire_8k", "mae_ktsr_ntire_noprior_8k", "mae_ktsr_ntire_lr3e3")
    if not all(n in recon for n in (*names, ICVL_REFERENCE)):
        return []
    prior8, none8, prior4 = (recon[n]["curve"] for n in names)
    none4 = recon[ICVL_REFERENCE]["curve"]
    # (MAE-KTSR, its no-prior twin, steps) at the end of each schedule length
    pairs = [(prior4["4000"], none4["4000"], 4000), (prior8["8000"], none8["8000"], 8000)]
    lines = [
        "- **Training length, not the prior, was the lever** (ICVL round 3): 8000 steps "
        f"instead of 4000 take the reconstructor from {none4['4000']:.4f} to "
        f"{none8['8000']:.4f} without the prior ({_pct(none8['8000'], none4['4000'])}) "
        f"and from {prior4['4000']:.4f} to {prior8['8000']:.4f} with it "
        f"({_pct(prior8['8000'], prior4['4000'])})."
    ]
    prior16, none16 = recon.get("mae_ktsr_ntire_16k"), recon.get("mae_ktsr_ntire_noprior_16k")
    if prior16 is not None and none16 is not None:
        p16, n16 = prior16["curve"].get("16000"), none16["curve"].get("16000")
        if p16 is not None and n16 is not None:
            pairs.append((p16, n16, 16000))
            (pb, pb_step), (nb, nb_step) = best(prior16["curve"]), best(none16["curve"])
            lines.append(
                "- **Twice again** (round 4, 16000 steps): at the last step without the prior "
                f"{n16:.4f} ({_pct(n16, none8['8000'])} against 8000 steps), with it "
                f"{p16:.4f} ({_pct(p16, prior8['8000'])}). Their lowest validations, "
                f"{pb:.4f} at step {pb_step} with the prior and {nb:.4f} at step {nb_step} "
                f"without ({_pct(pb, nb)}), are the published weights; chosen on this "
                "validation split, they flatter the run whose curve dips, so the last steps "
                f"are the fairer comparison. {prior16.get('train_minutes')} and "
                f"{none16.get('train_minutes')} min of training (with, without the prior), "
                "on one thread each of this CPU, side by side with other runs."
            )
    lowest_ratio = min(p / n for p, n, _ in pairs)
    verdict = "reaches" if lowest_ratio <= 1 - BAR else "never reaches"
    lines.append(
        f"- **The prior's gain {verdict} the 5 % issue 18 asks** (MAE-KTSR against its "
        "no-prior twin at the end of each schedule): "
        + ", ".join(f"{_pct(p, n)} at {steps} steps" for p, n, steps in pairs)
        + "."
    )
    for name, frozen_name in ICVL_FROZEN_TWIN.items():
        tuned, frozen_run = recon.get(name), recon.get(frozen_name)
        none_run = recon.get(ICVL_TRAINING[name][2])
        if tuned is None or frozen_run is None or none_run is None:
            continue
        config = yaml.safe_load(tuned["config"])
        scale, seed = config["model"]["prior_lr_scale"], config.get("seed", 0)
        value, step, none, _ = _versus(tuned, none_run)
        frozen = at_step(frozen_run["curve"], step)
        reach = f"{_reach(value, none)} the 5 %"
        lines.append(
            f"- **The prior fine-tuned at {scale:g}x the learning rate {reach}** (round "
            f"{tuned['round']}, `model.freeze_prior=false model.prior_lr_scale={scale:g}`, "
            f"{tuned['steps']} steps" + (f", seed {seed}" if seed else "") + "): "
            f"{value:.4f} at step {step}, against {none:.4f} without the prior "
            f"({_pct(value, none)}) and "
            + ("—" if frozen is None else f"{frozen:.4f} with it frozen")
            + f"; {tuned.get('train_minutes')} min of training against "
            f"{none_run.get('train_minutes')} without the prior and "
            f"{frozen_run.get('train_minutes')} with it frozen."
        )
    mst8 = recon.get("mst_plus_plus_ntire_8k")
    if mst8 is None:
        return lines
    m8, step, ours8, _ = _versus(mst8, recon["mae_ktsr_ntire_8k"])
    at_equal_time = (
        f"MST++'s earlier 4000-step weight (27.9 min alone) scored {MST_4000_STEPS:.4f}, "
        f"MAE-KTSR's 8000 steps (about 29 min) {prior8['8000']:.4f} "
        f"({_pct(prior8['8000'], MST_4000_STEPS)})"
    )
    if prior16 is not None and "16000" in prior16["curve"]:
        p16, (pb, _) = prior16["curve"]["16000"], best(prior16["curve"])
        at_equal_time += (
            "; MAE-KTSR's 16000 steps cost about MST++'s 8000 by those single-run timings "
            f"(side by side with other runs they took {prior16.get('train_minutes')} and "
            f"{mst8.get('train_minutes')} min) and score {p16:.4f} at the last step, {pb:.4f} "
            f"at the best, against MST++'s {m8:.4f} ({_pct(p16, m8)}, {_pct(pb, m8)})"
        )
    at_equal_steps = (
        f"{m8:.4f} at step {step} (the run published as `mst_plus_plus.ntire2020` until "
        f"round 5) against "
        f"{ours8:.4f} for MAE-KTSR ({_pct(ours8, m8)})"
    )
    mst16 = recon.get("mst_plus_plus_ntire_16k")
    if mst16 is not None and prior16 is not None:
        m16, step16, ours16, _ = _versus(mst16, prior16)
        m16_best, m16_best_step = best(mst16["curve"])
        m16_at8 = at_step(mst16["curve"], 8000)
        if m16_at8 is not None and "16000" in prior16["curve"]:
            ours_best = best(prior16["curve"])[0]
            leads = "leads" if m16_at8 < ours_best else "does not lead"
            at_equal_time += (
                f"; but the 16000-step MST++ run, on its slower-decaying learning rate, had "
                f"reached {m16_at8:.4f} at its step 8000, {_pct(m16_at8, m8)} against the "
                f"8000-step schedule's end: at about the same training time MST++ {leads} "
                f"there (MAE-KTSR's best of 16000 steps: {ours_best:.4f})"
            )
        at_equal_steps += (
            f"; {m16:.4f} at step {step16} against {ours16:.4f} ({_pct(ours16, m16)}), and "
            f"{m16_best:.4f} at its best step, {m16_best_step}, the EMA weights published as "
            "`mst_plus_plus.ntire2020` from round 5 to round 7"
        )
    lines.append(
        "- **Against MST++** (at the paper's learning rate, 4e-4, its recipe's until round 7; "
        "at 3e-3 MAE-KTSR's "
        f"reconstructor). At equal steps: {at_equal_steps}. At equal training time on this "
        f"CPU: {at_equal_time}. "
        "Per 512x512 forward pass MAE-KTSR costs 36.7 GFLOPs, MST++ 177.5."
    )
    fast = recon.get("mst_plus_plus_ntire_lr1e3_8k")
    if fast is not None and mst16 is not None:
        f8, _, slow8, _ = _versus(fast, mst8)
        m16_best, m16_best_step = best(mst16["curve"])
        lines.append(
            "- **MST++ at learning rate 1e-3** (round 7, 8000 steps; its recipe used the "
            f"paper's 4e-4 until then): {f8:.4f} at the last step against {slow8:.4f} at 4e-4 "
            f"({_pct(f8, slow8)}) and {_pct(f8, m16_best)} against the 16000-step weight then "
            f"published ({m16_best:.4f} at step {m16_best_step}), in half its steps "
            f"({fast.get('train_minutes')} min on one thread, sharing the CPU)."
            + (
                " MST++ too was held back by the paper's learning rate, so at equal training "
                "time its lead over MAE-KTSR is wider than the rows above say."
                if f8 < slow8
                else ""
            )
        )
    fast16 = recon.get("mst_plus_plus_ntire_lr1e3_16k")
    if fast16 is not None and mst16 is not None and prior16 is not None:
        f16, _, slow16, _ = _versus(fast16, mst16)
        (fb, fb_step), (sb, _) = best(fast16["curve"]), best(mst16["curve"])
        ours_best = best(prior16["curve"])[0]
        lines.append(
            "- **MST++ at learning rate 1e-3 for 16000 steps** (round 7): "
            f"{fb:.4f} at its best step, {fb_step}, the EMA weights published as "
            f"`mst_plus_plus.ntire2020` since round 7 ({_pct(fb, sb)} against the 4e-4 run's "
            "best), "
            f"and {f16:.4f} at the last step against {slow16:.4f} ({_pct(f16, slow16)}). "
            f"MAE-KTSR's best over the same 16000 steps, {ours_best:.4f}, is "
            f"{_pct(ours_best, fb)} behind it; {fast16.get('train_minutes')} min of "
            "training by the logged throughput, on one or two threads, mostly sharing the CPU."
        )
    cave, floor = (
        recon.get("mae_ktsr_ntire_noprior_cave"),
        recon.get("mae_ktsr_ntire_noprior_eps01"),
    )
    if cave is not None and floor is not None:
        value, step, ref, _ = _versus(cave, floor)
        lines.append(
            "- **More data of another kind hurts**: with half its patches from relit CAVE "
            f"scenes, the reconstructor scores {value:.4f} at step {step} against {ref:.4f} on "
            f"ICVL alone ({_pct(value, ref)}), so the run was stopped; the loss "
            f"floor it needed for the dark CAVE pixels changes nothing on ICVL alone "
            f"({floor['curve']['4000']:.4f} against {none4['4000']:.4f})."
        )
    return lines


def _last(run: dict[str, Any]) -> float:
    """A run's validation at its last step."""
    return float(run["curve"][max(run["curve"], key=int)])


def equal_compute_reading(
    runs: list[dict[str, Any]], gflops: dict[str, float], published_scores: dict[str, float]
) -> list[str]:
    """MST++ against MAE-KTSR at equal training compute, one line per protocol whose
    :data:`EQUAL_COMPUTE` run is recorded; ``runs``: both protocols' records, ``gflops``:
    per 512x512 forward pass of the published weights."""
    recon = {r["name"]: r for r in runs if r["metric"] == "mrae"}
    lines = []
    for name, (protocol, ours, theirs, with_prior, without) in EQUAL_COMPUTE.items():
        mst = recon.get(name)
        prior_runs = [recon[n] for n in with_prior if n in recon]
        none_runs = [recon[n] for n in without if n in recon]
        if mst is None or not prior_runs or not none_runs:
            continue
        steps = prior_runs[0]["steps"]
        m = _last(mst)
        p = [_last(r) for r in prior_runs]
        n = [_last(r) for r in none_runs]
        p_mean, n_mean = sum(p) / len(p), sum(n) / len(n)
        if max(p) < m:
            verdict = "MAE-KTSR is ahead with every seed"
        elif min(p) >= m:
            verdict = "MST++ is ahead of every seed"
        else:
            verdict = "MAE-KTSR is ahead with some seeds, not all"
        times = (mst.get("train_minutes"), prior_runs[0].get("train_minutes"))
        minutes = (
            f" ({times[0]} min of training for MST++, {times[1]} for MAE-KTSR, one thread "
            "each, sharing the CPU)"
            if None not in times
            else ""
        )
        whose = (
            " The lead is the reconstructor's, not the prior's: without the prior it is ahead too."
            if max(p) < m and max(n) < m
            else ""
        )
        same_steps = "MST++" if published_scores[theirs] < published_scores[ours] else "MAE-KTSR"
        lines.append(
            f"- **Against MST++ at equal training compute, {protocol}** (round "
            f"{mst['round']}): {verdict}. MST++ trained for {mst['steps']} steps, the steps "
            f"that make its {gflops[theirs]:.1f} GFLOPs per 512x512 forward pass add up to "
            f"MAE-KTSR's {steps} x {gflops[ours]:.1f} (the warmup scaled alike; the frozen "
            "prior takes no backward pass, so MAE-KTSR's training compute is lower still). "
            f"It scores {m:.4f} at its last step, against "
            + " and ".join(f"{v:.4f}" for v in p)
            + f" for MAE-KTSR (seeds {', '.join(str(i) for i in range(len(p)))}; mean "
            f"{p_mean:.4f}, {_pct(p_mean, m)}) and "
            + " and ".join(f"{v:.4f}" for v in n)
            + f" without its prior (mean {n_mean:.4f}, {_pct(n_mean, m)}), each at its last "
            f"step, all in float32 on the development CPU{minutes}. Trained for the same "
            f"number of steps, {same_steps} "
            f"leads: `{theirs}` scores {published_scores[theirs]:.4f}, `{ours}` "
            f"{published_scores[ours]:.4f} (their cards give each budget).{whose}"
        )
    return lines


def seed_reading(runs: list[dict[str, Any]]) -> list[str]:
    """Round 6: how far two seeds of one setting lie apart, against the prior's gains; one
    line per schedule length whose no-prior run and at least one prior run have both seeds."""
    recon = {r["name"]: r for r in runs if r["metric"] == "mrae"}
    lines = []
    for steps, settings in ICVL_SEEDS.items():
        key = str(steps)
        finals = {
            label: (recon[a]["curve"][key], recon[b]["curve"][key])
            for label, a, b in settings
            if a in recon and b in recon and key in recon[a]["curve"] and key in recon[b]["curve"]
        }
        none_label = settings[0][0]
        if none_label not in finals or len(finals) < 2:
            continue
        spread = ", ".join(
            f"{label} {s0:.4f} and {s1:.4f} ({_pct(s1, s0)})" for label, (s0, s1) in finals.items()
        )
        none0, none1 = finals[none_label]
        gains = [
            f"{label}: {_pct(s0, none0)} with seed 0, {_pct(s1, none1)} with seed 1, "
            f"{100 * ((s0 + s1) / (none0 + none1) - 1):+.1f} % on the mean of the two"
            for label, (s0, s1) in finals.items()
            if label != none_label
        ]
        lines.append(
            f"- **Seeds, {steps} steps** (round 6: the settings run with seed 1 as well as "
            "seed 0; the seed sets the initialisation and the patches drawn): at the last "
            f"step, {spread}. The prior against no prior, seed by seed: "
            + "; ".join(gains)
            + ". A gain smaller than the spread between two seeds of one setting is not "
            "evidence that the prior helps."
        )
    return lines


def _patch_rows_cols(recipe: str, split: str) -> tuple[int, int] | None:
    """``(rows, cols)`` of a recipe split's patches, ``None`` when it reads whole images."""
    raw = yaml.safe_load((REPO / "recipes" / f"{recipe}.yaml").read_text())
    patches = raw["data"][split].get("patches")
    if not patches:
        return None
    size = patches["patch_size"]
    return (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))


def context_note(strip_rows: Sequence[int], token: int) -> str:
    """Why ICVL cannot show a spatial prior: the token grid the S²-MAE sees on each protocol.

    ``strip_rows``: the heights of the ICVL strips (``icvl_strips/index.json``); ``token``:
    the prior's token side in pixels.
    """

    def grid(size: tuple[int, int] | None, whole: str) -> str:
        if size is None:
            return whole
        rows, cols = (math.ceil(n / token) for n in size)
        return f"{size[0]}x{size[1]} px, {rows}x{cols} tokens"

    rows = sorted(strip_rows)
    cave_whole = "whole 256x256 scenes, 32x32 tokens"
    return (
        "- **What the prior can see on each protocol.** The S²-MAE's tokens are "
        f"{token}x{token} px and its attention is what gives stage 2 spatial context beyond "
        "the CNN's receptive field. The ICVL strips here are only "
        f"{rows[0]}-{rows[-1]} rows high (median {rows[len(rows) // 2]}; "
        "`icvl_strips/index.json`), so the ICVL recipe trains on "
        f"{grid(_patch_rows_cols('mae_ktsr_ntire', 'train'), '')} and validates on "
        f"{grid(_patch_rows_cols('mae_ktsr_ntire', 'val'), '')}: one row of tokens, no "
        "2-D context at all. CAVE trains on "
        f"{grid(_patch_rows_cols('mae_ktsr_cave', 'train'), cave_whole)} and validates on "
        f"{grid(_patch_rows_cols('mae_ktsr_cave', 'val'), cave_whole)}. The ICVL half of the "
        "bar therefore tests the prior only as a per-row spectral feature extractor; CAVE "
        "(or full ICVL images) is where a spatial prior could show."
    )


def token_reading(
    runs: list[dict[str, Any]], published_rgb_only: dict[str, float] | None = None
) -> list[str]:
    """Round 8: the prior with smaller tokens, more token rows on an ICVL patch, against the
    published prior and no prior on the same 8000-step schedule; ``published_rgb_only``:
    the published priors' own RGB-only ICVL val MRAE, to compare the new prior's with."""
    recon = {r["name"]: r for r in runs if r["metric"] == "mrae"}
    names = ("mae_ktsr_ntire_p4_8k", "mae_ktsr_ntire_8k", "mae_ktsr_ntire_noprior_8k")
    if not all(n in recon for n in names):
        return []
    small, large, none = (recon[n] for n in names)
    prior_args = yaml.safe_load(small["config"])["model"]["args"]["prior_args"]
    token = int(prior_args["patch_size"])
    model = ssrzoo.create_model("mae_ktsr_ntire", prior_args=prior_args)
    gflops = count_flops(model) / 1e9
    rows = math.ceil(_patch_rows_cols("mae_ktsr_ntire", "train")[0] / token)  # type: ignore[index]
    value, step, ref, _ = _versus(small, none)
    large_value = at_step(large["curve"], step)
    reach = _reach(value, ref)
    return [
        f"- **A prior with 2-D context on ICVL {reach} the 5 %** (round 8): pretrained as "
        f"`s2mae.ntire2020` but with {token}x{token}-px tokens, the S²-MAE sees a training "
        f"patch as {rows} token rows; MAE-KTSR with it costs {gflops:.1f} GFLOPs at 512x512 "
        f"(issue 18's ceiling: 59). Frozen in the 8000-step recipe it scores {value:.4f} at "
        f"step {step}, against {ref:.4f} without a prior ({_pct(value, ref)})"
        + (
            ""
            if large_value is None
            else f" and {large_value:.4f} with the 8x8-token prior ({_pct(value, large_value)})"
        )
        + f"; {small.get('train_minutes')} min of training on one thread, sharing the CPU."
        + _rgb_only_comparison(runs, ICVL_TRAINING["mae_ktsr_ntire_p4_8k"][0], published_rgb_only)
    ]


def _rgb_only_comparison(
    runs: list[dict[str, Any]], prior: str, published_rgb_only: dict[str, float] | None
) -> str:
    """A sentence comparing a prior run's own RGB-only MRAE with the published prior's."""
    own = next((r.get("rgb_only_mrae") for r in runs if r["name"] == prior), None)
    base = (published_rgb_only or {}).get("s2mae.ntire2020")
    if own is None or base is None:
        return ""
    return (
        f" By itself that S²-MAE reconstructs the spectrum far better than the published "
        f"prior with 16-token windows (RGB-only ICVL val MRAE {own:.3f} against {base:.3f}), "
        "yet stage 2 gains no "
        "more from it."
        if own < base
        else f" Its own RGB-only ICVL val MRAE: {own:.3f} (the published prior, with 16-token "
        f"windows: {base:.3f})."
    )


def cave_corpus_reading(
    runs: list[dict[str, Any]],
    rgb_only: dict[str, float] | None = None,
    superseded: dict[str, Any] | None = None,
) -> list[str]:
    """Round 5: the CAVE prior pretrained on more spectral data than the reconstructor sees
    (the paper's premise), frozen in the published recipe, against its no-prior twin trained
    on the same machine; ``rgb_only``: published weights' CAVE val MRAE from RGB (e.g.
    ``root_poly3.cave``); ``superseded``: the record's weights that round 5's runs replaced,
    with the MRAE they scored while published."""
    recon = {r["name"]: r for r in runs if r["metric"] == "mrae"}
    if "mae_ktsr_cave_corpus" not in recon or "mae_ktsr_cave_noprior_cpu" not in recon:
        return []
    corpus, none = recon["mae_ktsr_cave_corpus"], recon["mae_ktsr_cave_noprior_cpu"]
    value, step, ref, _ = _versus(corpus, none)
    priors = {r["name"]: r for r in runs if r["metric"] == "loss"}
    prior, relit = priors.get(CAVE_CORPUS_PRIOR), priors.get(CAVE_CORPUS_RELIT)
    reach = _reach(value, ref)
    text = (
        f"- **On CAVE, a prior pretrained on more than the reconstructor sees {reach} the "
        f"5 %** (round 5): `recipes/{CAVE_CORPUS_PRIOR}.yaml` pretrains the S²-MAE"
        + ("" if prior is None else f" for {prior['steps']} steps")
        + " on the 19 training scenes as stage 2 sees them and on unlit synthetic scenes of "
        "measured reflectances. Frozen in the published recipe, with 8-token attention "
        f"windows, it scores {value:.4f} at step {step}, against {ref:.4f} without a prior "
        f"({_pct(value, ref)}), both trained on {corpus['machine']} in float32"
    )
    gpu = recon.get("mae_ktsr_cave_noprior_lr3e3")
    if gpu is not None and str(step) in gpu["curve"]:
        gpu_value = gpu["curve"][str(step)]
        text += (
            f" (the same no-prior recipe scored {gpu_value:.4f} on {gpu['machine']}, round "
            f"{gpu['round']}: {_pct(ref, gpu_value)} here)"
        )
    text += "."
    seed1 = recon.get("mae_ktsr_cave_noprior_cpu_s1")
    if seed1 is not None and str(step) in seed1["curve"]:
        other = seed1["curve"][str(step)]
        text += (
            f" Without a prior, seed 1 instead of 0 scores {other:.4f} ({_pct(other, ref)}): "
            "the spread between two runs of one setting"
            + (
                ", larger than the prior's effect."
                if abs(other / ref - 1) > abs(value / ref - 1)
                else "."
            )
        )
        prior1 = recon.get("mae_ktsr_cave_corpus_s1")
        if prior1 is not None and str(step) in prior1["curve"]:
            with1 = prior1["curve"][str(step)]
            with_mean, without_mean = (value + with1) / 2, (ref + other) / 2
            text += (
                f" With the prior, seed 1 scores {with1:.4f} ({_pct(with1, other)} against "
                f"seed 1 without); over the two seeds, {with_mean:.4f} against "
                f"{without_mean:.4f} ({_pct(with_mean, without_mean)})."
            )
    own = None if prior is None else prior.get("rgb_only_mrae")
    if own is not None:
        others = []
        if relit is not None and relit.get("rgb_only_mrae") is not None:
            others.append(
                f"{relit['rgb_only_mrae']:.3f} with the CAVE scenes relit per patch by "
                "measured illuminants instead (relit scenes map RGB to other spectra than "
                "a reflectance protocol asks for)"
            )
        scores = rgb_only or {}
        replaced = (superseded or {}).get("s2mae.cave")
        if replaced is not None:
            windows = replaced["rgb_only_mrae"]
            others.append(
                f"{windows['16']:.3f} for the S²-MAE it replaced as `s2mae.cave` "
                f"({replaced['what']}; {windows['8']:.3f} with 8-token windows)"
            )
        if "root_poly3.cave" in scores:
            others.append(f"{scores['root_poly3.cave']:.3f} for the closed-form `root_poly3.cave`")
        text += (
            f" By itself the prior reconstructs CAVE val from RGB at MRAE {own:.3f}"
            + (f", against {'; '.join(others)}" if others else "")
            + "."
        )
    names = [f"`{r['published_as']}`" for r in (prior, corpus, none) if r and "published_as" in r]
    if names:
        text += f" These runs are the published {', '.join(names)}."
    return [text]


def round6_reading(runs: list[dict[str, Any]], rgb_only: dict[str, float]) -> list[str]:
    """Round 6 (CAVE, CPU): the prior's decoded cube as the reconstructor's residual, and the
    corpus prior with a reconstructor trained on 4 of the 19 scenes; ``rgb_only``: published
    weights' CAVE val MRAE (``s2mae.cave``, the corpus prior)."""
    recon = {r["name"]: r for r in runs if r["metric"] == "mrae"}
    none, fused = recon.get("mae_ktsr_cave_noprior_cpu"), recon.get("mae_ktsr_cave_corpus")
    lines = []
    residual = recon.get("mae_ktsr_cave_prior_residual")
    if residual is not None and none is not None and fused is not None:
        value, step, ref, _ = _versus(residual, none)
        first = min(residual["curve"], key=int)
        reach = _reach(value, ref)
        lines.append(
            f"- **The prior's own reconstruction as the residual {reach} the 5 %** (round 6, "
            "`benchmarks/prior_residual.py`): the output is the frozen corpus prior's RGB-only "
            "cube, decoded at full resolution by its own decoder"
            + (
                f" (CAVE val MRAE {rgb_only['s2mae.cave']:.3f} by itself)"
                if "s2mae.cave" in rgb_only
                else ""
            )
            + ", plus the CNN's correction, instead of a linear RGB projection plus the "
            "correction; the ISFF fusion of its features stays. It starts as the prior and "
            f"leads early ({residual['curve'][first]:.4f} at step {first} against "
            f"{none['curve'].get(first, float('nan')):.4f} without a prior), then learns the "
            f"correction more slowly: {value:.4f} at step {step}, against {ref:.4f} without a "
            f"prior ({_pct(value, ref)}) and {at_step(fused['curve'], step):.4f} with the "
            "prior fused as features only. Anchoring the output on a reconstruction worse "
            "than the CNN's own costs more than its detail gives."
        )
    few, few_none = recon.get("mae_ktsr_cave_4scenes"), recon.get("mae_ktsr_cave_noprior_4scenes")
    if few is not None and few_none is not None:
        value, step, ref, _ = _versus(few, few_none)
        reach = _reach(value, ref)
        full = (
            ""
            if none is None or fused is None
            else f"; with all 19 scenes the pair scores {at_step(fused['curve'], step):.4f} "
            f"and {at_step(none['curve'], step):.4f}"
        )
        lines.append(
            f"- **With scarce paired data the prior {reach} the 5 %** (round 6): the "
            "published recipe trained on 4 of the 19 training scenes (balloons, beads, "
            "chart_and_stuffed_toy, clay: the first in alphabetical order), with the corpus "
            "prior, which was pretrained on all 19 scenes' cubes and the synthetic scenes, and "
            f"without it: {value:.4f} at step {step} against {ref:.4f} ({_pct(value, ref)})"
            f"{full}. This is the paper's premise, a prior learned from spectral data the "
            "reconstructor has no RGB pairs for, in its plainest form; the issue's bar is "
            "set on the full training split."
        )
    return lines


def round7_reading(runs: list[dict[str, Any]], published_scores: dict[str, float]) -> list[str]:
    """Round 7 (CAVE, CPU): the corpus prior fine-tuned in stage 2 at 0.1x and 0.3x the
    reconstructor's learning rate, and a prior pretrained with RGB-only probability 0.75,
    each against the frozen corpus prior and no prior (seed 0); the fine-tuned ones also
    against ``mst_plus_plus.cave``'s published score (the same 4000 steps)."""
    recon = {r["name"]: r for r in runs if r["metric"] == "mrae"}
    priors = {r["name"]: r for r in runs if r["metric"] == "loss"}
    none, frozen = recon.get("mae_ktsr_cave_noprior_cpu"), recon.get("mae_ktsr_cave_corpus")
    if none is None or frozen is None:
        return []
    lines = []
    for scale in ("0.1", "0.3"):
        tuned = recon.get(f"mae_ktsr_cave_corpus_ft{scale.replace('.', '')}")
        if tuned is None:
            continue
        value, step, ref, _ = _versus(tuned, none)
        reach = _reach(value, ref)
        mst = published_scores.get("mst_plus_plus.cave")
        versus_mst = (
            ""
            if mst is None
            else f"; `mst_plus_plus.cave`, trained for the same 4000 steps (on a GPU, in "
            f"bf16), scores {mst:.4f} ({_pct(value, mst)} for this run)"
        )
        lines.append(
            f"- **The corpus prior fine-tuned at {scale}x the learning rate {reach} the 5 % "
            f"on CAVE** (round 7, `model.freeze_prior=false model.prior_lr_scale={scale}`): "
            f"{value:.4f} at step {step}, against {ref:.4f} without a prior "
            f"({_pct(value, ref)}) and {at_step(frozen['curve'], step):.4f} with it frozen; "
            f"{tuned.get('train_minutes')} min of training against "
            f"{none.get('train_minutes')} without the prior and "
            f"{frozen.get('train_minutes')} with it frozen, one thread each, sharing the "
            f"CPU (the two fine-tuned runs shared its two cores with a third run for most of "
            f"theirs){versus_mst}. CAVE underfits at this budget (training loss about validation "
            "loss), so the 1.9 M pretrained parameters made trainable were the prior's best "
            "chance here."
        )
    rgb_only = recon.get("mae_ktsr_cave_corpus_rgbonly")
    prior = priors.get("s2mae_cave_corpus_rgbonly")
    if rgb_only is not None and prior is not None:
        value, step, ref, _ = _versus(rgb_only, none)
        reach = _reach(value, ref)
        corpus = priors.get(CAVE_CORPUS_PRIOR, {}).get("rgb_only_mrae")
        lines.append(
            f"- **A prior pretrained mostly in RGB-only mode {reach} the 5 %** (round 7): "
            f"`recipes/{CAVE_CORPUS_PRIOR}.yaml` with `model.args.rgb_only_prob=0.75` (was "
            "0.25: three batches in four see the RGB alone, the mode stage 2 runs the prior "
            f"in), {prior['steps']} steps; by itself it reconstructs CAVE val from RGB at "
            f"MRAE {prior['rgb_only_mrae']:.3f}"
            + ("" if corpus is None else f", against {corpus:.3f} for the corpus prior")
            + f". Frozen in the published recipe: {value:.4f} at step {step}, against "
            f"{ref:.4f} without a prior ({_pct(value, ref)}) and "
            f"{at_step(frozen['curve'], step):.4f} with the corpus prior. This is the CAVE "
            "half of the RGB-only-probability ablation, whose GPU run (round 1) diverged."
        )
    return lines


def window_scores(root: Path, published_scores: dict[str, float]) -> dict[str, float]:
    """``{"<weight> @<window>": MRAE}``: the published priors with attention windows of 16
    tokens and 8 (their training crops' width), RGB-only on their protocol's validation, and
    ``mae_ktsr.cave``, whose frozen prior is ``s2mae.cave``. A weight at the window it was
    published with takes its score from ``published_scores`` (:func:`published`)."""
    scores: dict[str, float] = {}
    for name, protocol in (
        ("s2mae.cave", "cave"),
        ("s2mae.ntire2020", "ntire2020"),
        ("mae_ktsr.cave", "cave"),
        ("mae_ktsr.ntire2020", "ntire2020"),
    ):
        model = ssrzoo.create_model(name, pretrained=True)
        encoder = model.prior if hasattr(model, "prior") else model.encoder
        own = encoder.window_size  # type: ignore[union-attr]
        cfg = recipe_config(root, str(PROTOCOLS[protocol]["recipe"]))
        for window in (16, 8):
            if window == own and name in published_scores:
                scores[f"{name} @{window}"] = published_scores[name]
                continue
            encoder.window_size = window  # type: ignore[union-attr]
            if hasattr(model, "encoder"):
                model.window_size = window  # the S²-MAE decoder's windows too
            scores[f"{name} @{window}"] = float(evaluate_recipe(model, cfg).metrics["mrae"])
            print(name, window, scores[f"{name} @{window}"], flush=True)
    return scores


def window_reading(
    scores: dict[str, float],
    runs: list[dict[str, Any]],
    superseded: dict[str, Any] | None = None,
) -> list[str]:
    """Why the S²-MAE seemed to overfit: its attention windows, from :func:`window_scores`,
    the CAVE corpus prior's record (validation loss and RGB-only MRAE per step) and the
    record's ``superseded`` weights (the S²-MAE published as ``s2mae.cave`` before it)."""
    replaced = (superseded or {}).get("s2mae.cave")
    line = (
        "- **The priors attended over windows twice as wide as their training crops.** The "
        "S²-MAE runs attention within windows of `window_size` tokens on a whole image; the "
        "priors were published with 16 until 2026-11-29, while both protocols train them on "
        "crops 8 tokens wide (64x64 px on CAVE, 8x64 on ICVL, 8-px tokens). "
        "With 8-token windows, the context they trained with, their RGB-only MRAE drops from "
        f"{scores['s2mae.ntire2020 @16']:.3f} to {scores['s2mae.ntire2020 @8']:.3f} "
        "(`s2mae.ntire2020`, ICVL val)"
        + (
            ""
            if replaced is None
            else f" and from {replaced['rgb_only_mrae']['16']:.3f} to "
            f"{replaced['rgb_only_mrae']['8']:.3f} (the S²-MAE published as `s2mae.cave` "
            f"until {replaced['until']}, CAVE val)"
        )
        + "; today's `s2mae.cave`, a new prior, scores "
        f"{scores['s2mae.cave @8']:.3f} with them and {scores['s2mae.cave @16']:.3f} with 16. "
        "Both published priors now have 8-token windows. The ICVL priors of the record were "
        "measured with 16, and the table above sets them against `s2mae.ntire2020` with 16; "
        "every other RGB-only MRAE on this page is measured with the windows a prior was "
        "published or exported with. Stage 2 hardly notices: `mae_ktsr.cave` scores "
        f"{scores['mae_ktsr.cave @8']:.4f} with 8-token windows in its frozen prior and "
        f"{scores['mae_ktsr.cave @16']:.4f} with 16, and `mae_ktsr.ntire2020` "
        f"{scores['mae_ktsr.ntire2020 @8']:.4f} and {scores['mae_ktsr.ntire2020 @16']:.4f} "
        "(its frozen copy of the prior keeps the 16-token windows it was published with)."
    )
    prior = next((r for r in runs if r["name"] == CAVE_CORPUS_PRIOR), None)
    rgb_only = (prior or {}).get("rgb_only_curve")
    if prior is not None and rgb_only:
        low, low_step = best(prior["curve"])
        last = max(prior["curve"], key=int)
        first_rgb, last_rgb = min(rgb_only, key=int), max(rgb_only, key=int)
        line += (
            " The pretraining runs validate whole scenes with more context than their crops "
            "too (RGB-only batches in 16-token windows, masked ones globally over the visible "
            "tokens), and their validation loss turned up early and selected an early "
            f"checkpoint: for `{CAVE_CORPUS_PRIOR}` it was lowest at step {low_step} "
            f"({low:.4f}) and {prior['curve'][last]:.4f} at step {last}, while its RGB-only "
            f"MRAE with 8-token windows fell from {rgb_only[first_rgb]:.3f} at step "
            f"{first_rgb} to {rgb_only[last_rgb]:.3f} at step {last_rgb}. What this page "
            "read as the S²-MAE overfitting the 19 CAVE scenes was, for the RGB-only "
            "reconstruction stage 2 uses, this mismatch; stage 2 takes the last step, "
            "re-exported with 8-token windows (validated with them, the loss falls to the "
            "last step as well)."
        )
    line += (
        " The S²-MAE recipes now set the window to their crops', and the Trainer warns "
        "about a wider one."
    )
    return [line]


def strip_heights(root: Path) -> list[int]:
    """Rows of every ICVL strip in the shared data folder, from its index."""
    index = json.loads((root / "icvl_strips" / "index.json").read_text())
    return [int(entry["rows"]) for entry in index]


def icvl_reading(runs: list[dict[str, Any]], published_rgb_only: dict[str, float]) -> list[str]:
    """The reading of the ICVL corpus experiment, from its record."""
    recon = {r["name"]: r for r in runs if r["metric"] == "mrae"}
    reference = recon.get(ICVL_REFERENCE)
    if reference is None:
        return []
    ref = reference["curve"]["4000"]
    # the 32-channel runs with a prior, each against the 32-channel no-prior run
    narrow = {
        name: run
        for name, run in recon.items()
        if name in ICVL_PRIOR
        and name not in ICVL_TWIN.values()
        and name not in ICVL_TWIN
        and run is not reference
    }
    gains = {
        ICVL_PRIOR[name]: 100 * (run["curve"]["4000"] / ref - 1)
        for name, run in narrow.items()
        if "4000" in run["curve"]
    }
    rgb_only = {r["name"]: r["rgb_only_mrae"] for r in runs if "rgb_only_mrae" in r}
    rgb_only.update((k, v) for k, v in published_rgb_only.items() if k in ICVL_CORPUS)
    early = {
        ICVL_PRIOR[name]: 100 * (run["curve"]["1000"] / reference["curve"]["1000"] - 1)
        for name, run in narrow.items()
        if "1000" in run["curve"]
    }
    wide = [
        (recon[name]["curve"].get("4000"), recon[twin]["curve"].get("4000"))
        for name, twin in ICVL_TWIN.items()
        if name in recon and twin in recon
    ]
    with_prior = recon.get("mae_ktsr_ntire_lr3e3", {}).get("curve", {}).get("4000")
    width = []
    if wide and None not in wide[0] and with_prior is not None:
        wide_prior, wide_none = wide[0]
        width = [
            f"- **A wider reconstructor (ICVL, CPU)**: 44 channels instead of 32 (the widest "
            "within 59 GFLOPs at 512x512), same recipe and schedule, scores "
            f"{wide_prior:.4f} with the prior and {wide_none:.4f} without at step 4000, "
            f"against {with_prior:.4f} and {ref:.4f} at 32 channels: width changes MRAE by "
            f"{_pct(wide_prior, with_prior)} with the prior and "
            f"{_pct(wide_none, ref)} without, and at 44 channels the prior "
            f"changes it by {_pct(wide_prior, wide_none)}.",
        ]
    return [
        "- **A larger, longer-pretrained prior (ICVL, CPU; table above)**: at step 4000 "
        "MAE-KTSR with each frozen prior scores "
        + ", ".join(f"{v:+.1f} % ({k})" for k, v in gains.items())
        + " against its no-prior twin; at step 1000 "
        + ", ".join(f"{v:+.1f} %" for v in early.values())
        + ". The prior speeds up the start, and the reconstructor catches up by the end of "
        "the schedule. Each S²-MAE's own RGB-only reconstruction, what stage 2 receives, "
        "scores MRAE "
        + ", ".join(f"{v:.3f} ({k})" for k, v in rgb_only.items())
        + " on ICVL val, where the 52 k-parameter reconstructor alone reaches "
        f"{ref:.4f}: the features hold less about the spectrum than the CNN learns by "
        "itself.",
        *width,
    ]


def plot(runs: list[dict[str, Any]], path: Path) -> None:
    """Validation MRAE against step for every reconstruction run of the search."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    curves = [
        r for r in sorted(runs, key=lambda r: (r["round"], r["name"])) if r["metric"] == "mrae"
    ]
    colours = plt.get_cmap("tab20")
    for i, run in enumerate(curves):
        steps = [int(s) for s in run["curve"]]
        style = "-" if SETTINGS[run["name"]]["prior"] == "none" else "--"
        label = f"r{run['round']} {run['name'].removesuffix('_cave').replace('_cave_', ' ')}"
        ax.plot(
            steps,
            list(run["curve"].values()),
            style,
            marker=".os^Dv"[run["round"] % 6],  # the round, as colours repeat after 20
            markersize=4,
            label=label,
            color=colours(i % 20),
        )
    ax.set_xlabel("optimizer step (batch 16, 64x64 patches)")
    ax.set_ylabel("CAVE val MRAE")
    ax.set_ylim(0.10, 0.30)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    ax.set_title("MAE-KTSR prior search, cave-256-v1 (solid: no prior, dashed: prior)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def published(root: Path) -> tuple[list[str], dict[str, float]]:
    """Rows of the published weights, re-measured here on their protocol's validation, and
    each weight's MRAE."""
    scores: dict[str, float] = {}
    lines = [
        "| weight | protocol | val MRAE | RMSE | SAM | parameters (trained) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for name, protocol in (
        ("s2mae.cave", "cave"),
        ("mae_ktsr.cave", "cave"),
        ("mae_ktsr_noprior.cave", "cave"),
        ("mst_plus_plus.cave", "cave"),
        ("root_poly3.cave", "cave"),
        ("s2mae.ntire2020", "ntire2020"),
        ("mae_ktsr.ntire2020", "ntire2020"),
        ("mae_ktsr_noprior.ntire2020", "ntire2020"),
        ("mst_plus_plus.ntire2020", "ntire2020"),
    ):
        model = ssrzoo.create_model(name, pretrained=True)
        metrics = evaluate_recipe(
            model, recipe_config(root, str(PROTOCOLS[protocol]["recipe"]))
        ).metrics
        # trained: what training updated, without the frozen prior
        params, trained = count_params(model), count_params(model, trainable_only=True)
        print(name, metrics["mrae"], flush=True)
        lines.append(
            f"| `{name}` | {protocol} | {metrics['mrae']:.4f} | {metrics['rmse']:.4f} | "
            f"{metrics['sam']:.2f} | {params:,} ({trained:,}) |"
        )
        scores[name] = float(metrics["mrae"])
    return lines, scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    add = sub.add_parser("collect", help="add run folders to the record")
    add.add_argument("folders", type=Path, nargs="+")
    add.add_argument("--round", type=int, required=True)
    add.add_argument("--machine", required=True)
    add.add_argument(
        "--protocol", choices=("cave", "icvl"), default="cave", help="which record (cave)"
    )
    parser.add_argument("--root", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--at", type=int, default=3500, help="step to compare runs at")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None, help="also write the page here")
    parser.add_argument(
        "--ablation",
        type=Path,
        default=None,
        help="also write the search's summary into this ablation page (its 'prior-search' "
        "section, which benchmarks/generalisation.py keeps)",
    )
    args = parser.parse_args()
    if args.command == "collect":
        record = RECORD_ICVL if args.protocol == "icvl" else RECORD
        collect(args.folders, args.round, args.machine, record, args.root.resolve())
        return
    torch.set_num_threads(args.threads)
    record = json.loads(RECORD.read_text())
    # the search's own runs; the record also keeps the MST++ runs of EQUAL_COMPUTE
    runs = [r for r in record["runs"] if r["metric"] == "loss" or r["name"] in SETTINGS]
    machines = sorted({f"round {r['round']}: {r['machine']}" for r in runs})
    priors = [r for r in runs if r["metric"] == "loss"]
    icvl_runs = json.loads(RECORD_ICVL.read_text())["runs"] if RECORD_ICVL.is_file() else []
    icvl_machines = sorted({f"round {r['round']}: {r['machine']}" for r in icvl_runs})
    published_rows, published_scores = published(args.root.resolve())
    token = ssrzoo.create_model("mae_ktsr_ntire").prior.patch_size  # type: ignore[union-attr]
    context = context_note(strip_heights(args.root.resolve()), int(token))
    narrow = window_scores(args.root.resolve(), published_scores)
    # the ICVL record's priors were measured with 16-token windows: compare like with like
    icvl_rgb_only = {**published_scores, "s2mae.ntire2020": narrow["s2mae.ntire2020 @16"]}
    tokens = token_reading(icvl_runs, icvl_rgb_only)
    superseded = record.get("superseded", {})
    windows = window_reading(narrow, runs, superseded)
    corpus = cave_corpus_reading(runs, published_scores, superseded)
    round6 = round6_reading(runs, published_scores)
    round7 = round7_reading(runs, published_scores)
    gflops = {
        name: count_flops(ssrzoo.create_model(name, pretrained=True)) / 1e9
        for weight in EQUAL_COMPUTE.values()
        for name in weight[1:3]
    }
    versus_mst = equal_compute_reading(record["runs"] + icvl_runs, gflops, published_scores)
    lines = [
        "# MAE-KTSR prior search (CAVE and ICVL)",
        "",
        f"{provenance('prior_search.py')} The search rows come from the training runs' own "
        f"validation, kept in `benchmarks/records/{RECORD.name}` ({'; '.join(machines)}); the "
        "published rows are re-measured here.",
        "",
        "Every run: protocol cave-256-v1 (19 training scenes, the 5 validation scenes whole, "
        "Nikon D700 RGB, MRAE floored at 0.01), recipe `recipes/mae_ktsr_cave.yaml` or its "
        "variants with the overrides in the record, 4000 steps of 16 patches 64x64 planned, "
        "EMA weights validated every 500 steps. Runs that a time budget stopped earlier are "
        f"compared at step {args.at}, with the no-prior run of the same reconstructor. "
        "Round 0 is the earlier GPU run that trained the first `mae_ktsr_noprior.cave`. "
        "*flat*: `mae_ktsr` (52 k parameters in the CNN, receptive field about 17 pixels); "
        "*U*: `mae_ktsr_unet` (3 levels, 32/64/128 channels, 0.62 M). Rounds 0-2 train at "
        "learning rate 4e-4; rounds 3-4 vary it and the flat reconstructor's size (*4-4-4 "
        "blocks*: depths (4, 4, 4), 51.4 GFLOPs at 512x512 with the prior; *44 channels*: "
        "53.9 GFLOPs; MAE-KTSR's budget is 59). The prior of rounds 1-4 is one S²-MAE "
        "(`s2mae.cave`), frozen from round 3 on. Round 5 trains on the development CPU, in "
        "float32, the published recipe with a prior pretrained on a larger corpus "
        f"(`recipes/{CAVE_CORPUS_PRIOR}.yaml`) and without a prior. Round 6, on the same "
        "CPU, makes the prior's decoded cube the reconstructor's residual, and trains the "
        "pair on 4 of the 19 scenes; the record also keeps MST++ trained with MAE-KTSR's "
        "training compute (last lines of the reading). Round 7, on the same CPU, trains the "
        "corpus prior with the reconstructor, at 0.1x and 0.3x its learning rate, and "
        "freezes a prior pretrained with RGB-only probability 0.75 instead of 0.25.",
        "",
        *search_table(runs, args.at),
        "",
        f"![validation curves](../images/{FIGURE.name})",
        "",
        "## The S²-MAE priors",
        "",
        "| run | round | steps | lowest validation loss (step) | loss at the last step | "
        "RGB-only CAVE val MRAE |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for run in priors:
        low, low_step = best(run["curve"])
        last = run["curve"][max(run["curve"], key=int)]
        rgb_only = run.get("rgb_only_mrae")
        lines.append(
            f"| `{run['name']}` | {run['round']} | {run['steps']} | {low:.4f} ({low_step}) | "
            f"{last:.4f} | {'—' if rgb_only is None else f'{rgb_only:.4f}'} |"
        )
    lines += [
        "",
        "`s2mae_cave_rgbonly` (RGB-only probability 0.75, drop-path 0.1) diverged to NaN at "
        "step 1300, before its weights could be used, so the two runs planned on it "
        "(fine-tuned and frozen) did not start"
        + (
            "; round 7 repeats that ablation on the CPU with the corpus recipe "
            "(`s2mae_cave_corpus_rgbonly`, reading below)."
            if any(r["name"] == "mae_ktsr_cave_corpus_rgbonly" for r in runs)
            else ": the RGB-only-probability ablation is still open."
        ),
        "",
        "## Published weights, re-measured",
        "",
        "The S²-MAE weights are scored on their own RGB-only reconstruction (`forward(rgb)`), "
        "the mode stage 2 runs their encoder in.",
        "",
        *published_rows,
        "",
        "## ICVL: a larger pretraining corpus",
        "",
        "Issue 18 asks for the prior the paper intends: an S²-MAE pretrained on much more "
        "spectral data than the reconstructor sees. `recipes/s2mae_ntire_corpus.yaml` adds "
        "real CAVE scenes, reflectance relit per patch by measured illuminants "
        "(`patches.relight`), to the synthetic scenes and the ICVL training strips, and "
        "trains far longer than the published prior's 900 steps. Each prior is then frozen "
        "in `recipes/mae_ktsr_ntire.yaml` with `sched.steps=4000` (lr 3e-3, 16 patches 8x64 "
        "a step, seed 0), the recipe of the published pair until round 3 doubled its steps. "
        "The MRAE columns are the runs' own ICVL val "
        "validations (EMA weights, float32), kept in "
        f"`benchmarks/records/{RECORD_ICVL.name}` ({'; '.join(icvl_machines)}). Each "
        "S²-MAE's exported weights are its best by validation loss, which mixes masked and "
        "RGB-only batches; its RGB-only MRAE was measured on those weights when the run was "
        "recorded. The 2000-step prior saw all 24 shared CAVE scenes, including the three "
        "the ablation page's CAVE crops come from; the later priors leave those out.",
        "",
        *icvl_tables(icvl_runs, icvl_rgb_only),
        "",
        "## ICVL: training data, loss floor and schedule length",
        "",
        "Round 3 changes how the reconstructor is trained rather than the prior, each run "
        "against a twin that differs in that one setting, all on the development CPU with "
        "`recipes/mae_ktsr_ntire.yaml` or its no-prior variant otherwise unchanged. The CAVE "
        "patches are the 16 scenes of the S²-MAE corpus above, relit per patch, through "
        "the same camera; they are darker than the ICVL strips (39 % of their values under "
        "0.01 against 1 %), so the runs with them floor the MRAE loss at 0.01, and "
        "`mae_ktsr_ntire_noprior_eps01` checks that floor alone on ICVL. An 8000-step run of "
        "MAE-KTSR costs about the training time of MST++'s 4000 on this CPU and still a "
        "fraction of its FLOPs (36.7 against 177.5 GFLOPs per 512x512 forward pass). Round "
        "4 doubles the schedule again, to 16000 steps, about the training time of MST++'s "
        "8000, and finishes MST++'s 8000-step run (resumed from its step-7000 checkpoint). "
        "Round 5 trains the prior in stage 2 instead of freezing it, at a fraction of the "
        "reconstructor's learning rate (`model.prior_lr_scale`), on the 8000-step schedule; "
        "its twin is the 8000-step run without the prior. Round 6 repeats the three "
        "8000-step settings (no prior, prior frozen, prior fine-tuned at 0.1x) and the "
        "published 16000-step pair with seed 1, to measure how far two runs of one setting "
        "lie apart.",
        "",
        *icvl_training_table(icvl_runs),
        "",
        "## Reading",
        "",
        "- **Randomly initialised ISFF modules hurt** (round 1): every prior run ended 17-25 % "
        "behind its no-prior twin, frozen or fine-tuned, gated or concatenated, flat or U, "
        "and its *training* loss stayed higher too, so the prior was not overfitting but "
        "getting in the way: the fusions add projected prior features to the CNN stream "
        "from the first step.",
        "- **Zero-initialised ISFF** (round 2, now the default): the model starts as its "
        "ablation and the gap closes to +0.6 % (concat) to +2.8 % (fine-tuned) at step "
        f"{args.at}; the frozen prior (`mae_ktsr_cave_frozen`) is +1.4 %. No setting "
        "makes the prior *help*.",
        "- **ICVL (protocol icvl-strips-v1, CPU)**: `mae_ktsr.ntire2020` retrained with "
        "zero-initialised ISFF (same recipe, same frozen `s2mae.ntire2020`, 4000 steps) "
        "scores 0.0563 against 0.0567 for its no-prior twin, 0.7 % better; the earlier weight, "
        "randomly initialised, scored 0.0622 (10 % worse). Retrained at learning rate 3e-3 "
        "(what the CAVE rounds 3-4 below found), the pair scores 0.0461 and 0.0463 (0.4 %), "
        "1.5 % behind MST++'s 4000-step weight (0.0455). The published pair has since been "
        "retrained for longer schedules (rounds 3-4, below); the table above re-measures the "
        "published weights, as stored (float16).",
        "- **The learning rate was the bottleneck** (rounds 3-4): the flat reconstructor "
        "underfits at 4e-4 (training loss above validation loss). At 4000 steps it reaches "
        "0.136 at 1e-3, 0.122 at 2e-3 and 0.116 at 3e-3, without prior; MAE-KTSR with its "
        "frozen prior tracks it within 2 % at every rate at step 3500 (-1.6 %, +0.2 %, "
        "-0.4 %; at step 4000 -1.5 %, +2.7 %, 0.0 %), and re-measured in float32 on the "
        "shared data the 3e-3 pair published until round 5 scored 0.111 against 0.113 "
        "(-1.6 %): never the 5 % issue 18 asks. The published `mae_ktsr.cave` and "
        "`mae_ktsr_noprior.cave` are now round 5's 3e-3 runs, trained in float32: about 40 % "
        "below the closed-form root-poly3, still behind MST++ (table above).",
        "- **A larger reconstructor does not pay at this budget** (round 3, lr 1e-3): 4-4-4 "
        "blocks or 44 channels score 0.133-0.138, no better than the 52 k-parameter one "
        "(0.134-0.136), with or without prior.",
        "- **Gradient clipping at 1.0 helps** both with and without prior (3.5-4 % lower MRAE "
        "than unclipped).",
        "- **The U-shaped reconstructor** (12x the CNN parameters, 4x the receptive field) "
        "does not beat the flat one at this budget: 0.159 against 0.155 without prior.",
        *windows,
        *corpus,
        *round6,
        *round7,
        *icvl_reading(icvl_runs, icvl_rgb_only),
        *icvl_training_reading(icvl_runs),
        *seed_reading(icvl_runs),
        context,
        *tokens,
        *versus_mst,
        "",
    ]
    plot(runs, FIGURE)
    page = "\n".join(lines)
    print(page)
    if args.out is not None:
        args.out.write_text(page)
    if args.ablation is not None:
        write_section(
            args.ablation,
            "prior-search",
            bar_section(
                prior_gains(runs, icvl_runs, args.at),
                notes=[
                    *windows,
                    *corpus,
                    *round6,
                    *round7,
                    *seed_reading(icvl_runs),
                    context,
                    *tokens,
                    *versus_mst,
                ],
            ),
        )


if __name__ == "__main__":
    main()
