"""Leaderboard of the NTIRE2020-Clean-protocol weights on one validation protocol.

Every published ``*.ntire2020`` reconstruction weight (plus any extra ``local-dir:``
folders) is evaluated by :func:`ssrzoo.evaluate`, the loop of the Trainer's validation, on
the validation split of ``recipes/mae_ktsr_ntire.yaml`` (ICVL strips, protocol
icvl-strips-v1, RGB through the NTIRE2020 Clean camera) with that recipe's metric settings
(:func:`ssrzoo.train.evaluate_recipe`), so every row is measured the same way as the weight
cards.

Columns: the Trainer's metrics; SSIM of the prediction clipped to [0, 1] with a 7x7
Gaussian window (the validation patches are 8 px high, too small for the usual 11x11);
``vs card``, the relative change of the measured MRAE from the card's (measured in float32
at export; the bundled files are float16, so this is the storage check); the training
budget from the weight's recipe (optimizer steps x batch) and card (wall-clock);
parameters, GFLOPs at 512x512 (``FlopCounterMode``, 2 per multiply-add) and CPU
milliseconds of one 512x512 forward, measured in the same run.

A second table scores the colour-science methods, which take sRGB and return reflectance:
their input is the patch rendered to sRGB (:func:`ssrzoo.spectral.render_srgb`, grey-world
white balance, auto exposure), their output times D65 is scaled per patch by least squares
to the target radiance (an oracle the first table's models do not get).

    python benchmarks/leaderboard.py --root ../shared/data --out docs/results/leaderboard.md \
        --figure docs/images/leaderboard_cost.png
"""

from __future__ import annotations

import argparse
import os
import re
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import cast

import torch
import yaml
from _report import REPO, provenance

import ssrzoo
from ssrzoo.evaluation import collate
from ssrzoo.exceptions import UnknownModelError
from ssrzoo.models import count_params
from ssrzoo.models._cost import count_flops
from ssrzoo.spectral import illuminant_spd, render_srgb
from ssrzoo.train import TrainerConfig, build_dataset, evaluate_recipe

# Per protocol: the recipe whose validation split scores every weight, the SSIM window that
# fits its validation images, and the page's title and description.
PROTOCOLS = {
    "ntire2020": dict(
        recipe="mae_ktsr_ntire",
        ssim_window=7,
        title="Leaderboard: NTIRE2020-Clean protocol on the ICVL strips",
        data="the val split of `recipes/mae_ktsr_ntire.yaml` (ICVL strips, protocol "
        "icvl-strips-v1, random 8x128 patches, RGB through the NTIRE2020 Clean camera), "
        "evaluated by `ssrzoo.evaluate`, the Trainer's validation loop; SSIM with a 7x7 "
        "Gaussian window, as the patches are 8 px high. None of these weights saw NTIRE2020 "
        "itself.",
    ),
    "cave": dict(
        recipe="mae_ktsr_cave_noprior",
        ssim_window=11,
        title="Leaderboard: CAVE, protocol cave-256-v1",
        data="the 5 validation scenes of protocol cave-256-v1 (`docs/protocols.md`), whole "
        "(256x256), RGB through the Nikon D700 camera (clean pipeline), evaluated by "
        "`ssrzoo.evaluate` with the validation settings of "
        "`recipes/mae_ktsr_cave_noprior.yaml`; MRAE "
        "denominators floored at 0.01; SSIM with the usual 11x11 Gaussian window. Every "
        "weight was trained on the 19 training scenes only.",
    ),
    # No Harvard cube is reachable and no natural-scene data here reaches 720 nm, so the
    # weights (trained on synthetic scenes) are scored on the real cubes that do.
    "harvard": dict(
        recipe="mae_ktsr_harvard",
        ssim_window=11,
        overrides=(
            "data.val.name=RemoteSensingScenes",
            "data.val.root={root}",
            "data.val.args={bands: harvard}",
            "data.val_batch_size=1",
        ),
        title="Leaderboard: Harvard protocol (420-720 nm) on real cubes",
        data="three real cubes that reach 720 nm, none seen in training: Samson (aerial, "
        "95x95), the DFC2018 Houston crop (aerial, 128x128) and the Specim Fenix rock sample "
        "(38x23) (`RemoteSensingScenes`), resampled to 420-720 nm / 10 nm, whole, RGB through "
        "the camspec Nikon D700 (clean pipeline), evaluated with the validation settings of "
        "`recipes/mae_ktsr_harvard.yaml` (MRAE over values above 1 % of each cube's peak, "
        "denominators floored at 0.01); SSIM with an 11x11 Gaussian window. Every weight was "
        "trained on the recipe's synthetic scenes (no real data here reaches 720 nm in the "
        "visible), so this is also a synthetic-to-real test; the cards' own validation "
        "MRAE is on synthetic scenes, so `vs card` compares two different sets here.",
    ),
    # Pavia University itself is not in the shared data folder: the recipe validates on the
    # Houston crop, a real airborne cube that covers the ROSIS range.
    "pavia": dict(
        recipe="mae_ktsr_pavia",
        ssim_window=7,
        title="Leaderboard: Pavia protocol (103 ROSIS bands, 430-860 nm) on a real cube",
        data="the validation split of `recipes/mae_ktsr_pavia.yaml`: 16 random 32x32 patches "
        "(fixed seed) of the DFC2018 Houston crop (airborne, 128x128), resampled to the 103 "
        "ROSIS bands, RGB through the B, G, R rows of the ROSIS response (clean pipeline), "
        "evaluated by `ssrzoo.evaluate`; SSIM with a 7x7 Gaussian window. Every weight was "
        "fitted or trained on Samson and the Specim Fenix rock sample only (two small real "
        "scenes, 9899 pixels); none saw Pavia University. The deep weight's checkpoint was "
        "picked on this crop, so it is not an untouched test scene.",
    ),
}
COLUMNS = ("mrae", "rmse", "psnr", "sam", "ssim", "bp_mrae")
COLOUR_METHODS = ("colour_jakob2019.srgb", "colour_otsu2018.srgb", "colour_mallett2019.srgb")
SSIM_WINDOW = 7
CLOSED_FORM = ("linear_regression", "root_poly2", "root_poly3")


def recipe_config(root: Path, recipe: str, extra: Sequence[str] = ()) -> TrainerConfig:
    """``recipes/<recipe>.yaml`` reading its data from ``root``, with ``extra`` overrides."""
    # the recipes name the shared data folder relative to the repository root
    text = (REPO / "recipes" / f"{recipe}.yaml").read_text().replace("../shared/data", str(root))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{recipe}.yaml"
        path.write_text(text)
        return TrainerConfig.from_yaml(path, ["model.prior=null", "data.num_workers=0", *extra])


def score(name: str, root: Path, protocol: str) -> dict[str, float]:
    """Validation metrics of weight ``name`` on ``protocol``'s recipe, SSIM included."""
    spec = PROTOCOLS[protocol]
    model = ssrzoo.create_model(name, pretrained=True)
    overrides = cast("tuple[str, ...]", spec.get("overrides", ()))
    overrides = tuple(o.replace("{root}", str(root)) for o in overrides)
    cfg = recipe_config(root, str(spec["recipe"]), overrides)
    return evaluate_recipe(model, cfg, ssim_window=int(spec["ssim_window"])).metrics


def srgb_val_patches(root: Path) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``(srgb, hsi)`` batches: the ICVL validation patches and their sRGB renders (above)."""
    recipe = str(PROTOCOLS["ntire2020"]["recipe"])
    wl = ssrzoo.get_pretrained_cfg(recipe).wavelengths
    cfg = recipe_config(root, recipe)
    loader = torch.utils.data.DataLoader(
        build_dataset(cfg.data.val, cfg.seed),
        batch_size=cfg.data.val_batch_size,
        collate_fn=collate,
    )
    return [
        (torch.stack([torch.as_tensor(render_srgb(h, wl)) for h in b["hsi"]]).float(), b["hsi"])
        for b in loader
    ]


def oracle_scaled(
    model: torch.nn.Module, patches: list[tuple[torch.Tensor, torch.Tensor]]
) -> Iterator[dict[str, torch.Tensor]]:
    """Batches ``{'rgb': reconstruction, 'hsi': target}``: a reflectance-from-sRGB method's
    output times D65, scaled per patch by least squares to the target (see above)."""
    wl = model.pretrained_cfg.wavelengths
    d65 = torch.as_tensor(illuminant_spd("D65", wl), dtype=torch.float32)[:, None, None]
    with torch.no_grad():
        for srgb, hsi in patches:
            pred = model(srgb) * d65
            scale = (pred * hsi).sum((1, 2, 3), keepdim=True) / pred.square().sum(
                (1, 2, 3), keepdim=True
            ).clamp_min(1e-12)
            yield {"rgb": pred * scale, "hsi": hsi}


def evaluate_srgb_method(
    name: str, patches: list[tuple[torch.Tensor, torch.Tensor]]
) -> dict[str, float]:
    """Scores of a reflectance-from-sRGB method on :func:`srgb_val_patches` (see above)."""
    model = ssrzoo.create_model(name, pretrained=True).eval()
    # The oracle scale needs the target, so the reconstruction is made first and
    # ssrzoo.evaluate scores it as the output of an identity.
    batches = oracle_scaled(model, patches)
    return ssrzoo.evaluate(torch.nn.Identity(), batches, ssim_window=SSIM_WINDOW).metrics


def _wall_clock(notes: str) -> str:
    found = re.search(r"Training wall-clock: ([\d.]+) min(?: \(([^)]*)\))?", notes)
    if not found:
        return "-"
    where = "GPU" if re.search(r"GPU|H100|H200", found.group(2) or "") else "CPU"
    return f"{float(found.group(1)):.0f} min {where}"


def training_budget(name: str) -> tuple[str, str]:
    """``('steps x batch', 'wall-clock')`` of a weight, from its recipe and card."""
    cfg = ssrzoo.get_pretrained_cfg(name)
    recipe = REPO / "recipes" / f"{cfg.recipe}.yaml"
    if not cfg.recipe or not recipe.is_file():
        return "closed form" if cfg.architecture in CLOSED_FORM else "-", "-"
    raw = yaml.safe_load(recipe.read_text())
    planned = int(raw["sched"]["steps"])
    # The steps the run made, as its card records them; a time budget may have cut it short.
    made = re.search(r"(\d+) optimizer steps", cfg.notes or "")
    steps = int(made.group(1)) if made else planned
    budget = f"{steps} x {raw['data']['batch_size']}"
    if steps != planned:
        budget += f" (of {planned})"
    clock = _wall_clock(cfg.notes)
    if cfg.architecture == "mae_ktsr":  # the S²-MAE pretraining is part of its cost
        prior = _wall_clock(ssrzoo.get_pretrained_cfg(f"s2mae.{cfg.tag}").notes)
        clock += f" + {prior} S²-MAE" if prior != "-" else ""
    return budget, clock


def cpu_ms(model: torch.nn.Module, size: int, repeats: int) -> float:
    x = torch.rand(1, 3, size, size)
    model.eval()
    with torch.inference_mode():
        model(x)  # warm-up
        start = time.perf_counter()
        for _ in range(repeats):
            model(x)
    return (time.perf_counter() - start) / repeats * 1000


def _point_label(name: str) -> str:
    """``mst_plus_plus`` for ``mst_plus_plus.cave``; the run's folder for ``local-dir:``."""
    if name.startswith("local-dir:"):
        parts = [p for p in Path(name.partition(":")[2]).parts if p != "export"]
        return parts[-1] if parts else name
    return name.split(".")[0]


def plot_cost(rows: list[tuple], size: int, title: str, path: Path) -> None:
    """Accuracy against cost: MRAE over GFLOPs (log scale), one labelled point per weight."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2), constrained_layout=True)
    for name, metrics, *_, gflops, _ms in rows:
        ax.scatter(gflops, metrics["mrae"], s=28)
        ax.annotate(
            _point_label(name),
            (gflops, metrics["mrae"]),
            fontsize=8,
            xytext=(4, 3),
            textcoords="offset points",
        )
    ax.set_xscale("log")
    ax.set_xlabel(f"GFLOPs per {size}x{size} image (log)")
    ax.set_ylabel("validation MRAE (lower is better)")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _has_cfg(name: str) -> bool:
    try:
        ssrzoo.get_pretrained_cfg(name)
    except UnknownModelError:
        return False
    return True


def _fmt(metrics: dict[str, float], column: str) -> str:
    if column not in metrics:
        return "-"
    return f"{metrics[column]:.2f}" if column == "psnr" else f"{metrics[column]:.4f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--extra", nargs="*", default=[], help="more weights, e.g. local-dir:...")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--protocol", choices=sorted(PROTOCOLS), default="ntire2020")
    parser.add_argument("--no-colour", action="store_true", help="skip the colour-science table")
    parser.add_argument("--out", type=Path, default=None, help="also write the table here")
    parser.add_argument("--figure", type=Path, default=None, help="MRAE-vs-GFLOPs chart (PNG)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    tag, spec = args.protocol, PROTOCOLS[args.protocol]
    names = [n for n in ssrzoo.list_pretrained(f"*.{tag}") if not n.startswith("s2mae")]
    rows = []
    for name in [*names, *args.extra]:
        metrics = score(name, args.root, tag)
        model = ssrzoo.create_model(name, pretrained=True)
        card = model.pretrained_cfg.metrics.get("mrae")
        closed_form = model.pretrained_cfg.architecture in CLOSED_FORM
        vs_card = f"{metrics['mrae'] / card - 1:+.2%}" if card and not closed_form else "-"
        budget = training_budget(name) if name in names else ("-", "-")
        flops = count_flops(model, (1, 3, args.size, args.size))
        ms = cpu_ms(model, args.size, args.repeats)
        rows.append((name, metrics, vs_card, budget, count_params(model), flops / 1e9, ms))
        print(f"{name}: {metrics}", flush=True)
    # the closed-form reference: the 13-term fit, or the linear one where no 13-term is
    # published (Pavia: on two training scenes the 13-term fit extrapolates wildly)
    ref_name, ref_label, ref_what = next(
        (
            (name, label, what)
            for name, label, what in (
                (f"root_poly3.{tag}", "root-poly3", "13-term root-polynomial regression"),
                (f"linear_regression.{tag}", "linear", "3-term linear regression"),
            )
            if name in names
        ),
        (None, "root-poly3", "13-term root-polynomial regression"),
    )
    reference = next((r[1]["mrae"] for r in rows if r[0] == ref_name), None)
    colour_rows = []
    if not args.no_colour and tag == "ntire2020":
        patches = srgb_val_patches(args.root)
        for name in COLOUR_METHODS:
            colour_rows.append((name, evaluate_srgb_method(name, patches)))
            print(f"{name}: {colour_rows[-1][1]}", flush=True)
    window = spec["ssim_window"]
    header = f"| MRAE | RMSE | PSNR (dB) | SAM (deg) | SSIM ({window}x{window}) | BP-MRAE |"
    others = [f"[{p}](leaderboard{'' if p == 'ntire2020' else '_' + p}.md)" for p in PROTOCOLS]
    lines = [
        f"# {spec['title']}",
        "",
        f"{provenance('leaderboard.py')} Validation: {spec['data']} All protocols: "
        + ", ".join(others)
        + ".",
        "",
        "`vs card`: the measured MRAE against the card's, which was measured in float32 "
        "before the weight was stored in float16 (the closed-form cards score every valid "
        "pixel of the val strips instead, so they are not compared). `budget`: the optimizer "
        "steps the run made (its card; in brackets the recipe's, when a time budget stopped "
        "it earlier) x the recipe's batch size, and its training wall-clock and machine as "
        "its card records it; wall-clocks of runs that shared a machine compare only "
        f"roughly. `vs {ref_label}`: MRAE relative to the closed-form {ref_what} fitted "
        "on the same training data (a deep weight should be well below it).",
        "",
        f"| weight {header} vs card | vs {ref_label} | budget | wall-clock | params | "
        f"GFLOPs {args.size}² | CPU ms {args.size}² |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---:|---:|---:|",
    ]
    for name, m, vs_card, (budget, clock), params, gflops, ms in sorted(
        rows, key=lambda r: r[1]["mrae"]
    ):
        values = " | ".join(_fmt(m, c) for c in COLUMNS)
        vs_ref = f"{m['mrae'] / reference - 1:+.0%}" if reference else "-"
        lines.append(
            f"| `{name}` | {values} | {vs_card} | {vs_ref} | {budget} | {clock} | {params:,} | "
            f"{gflops:.2f} | {ms:.0f} |"
        )
    unpublished = [
        f"{arch}.{tag}"
        for arch in ssrzoo.list_models(exclude_filters="s2mae")
        if f"{arch}.{tag}" not in names and _has_cfg(f"{arch}.{tag}")
    ]
    if args.extra:
        lines += [
            "",
            "Rows named `local-dir:` are unpublished weights passed with `--extra` (`python "
            "benchmarks/leaderboard.py --protocol "
            + tag
            + " --extra "
            + " ".join(args.extra)
            + "`); their folders are not in the repository.",
        ]
    if unpublished:
        lines += ["", "Registered for this protocol but without a published weight:"]
        lines += [f"- `{n}`: {ssrzoo.get_pretrained_cfg(n).notes}" for n in unpublished]
    if args.figure:
        plot_cost(rows, args.size, str(spec["title"]).removeprefix("Leaderboard: "), args.figure)
        where = args.out.resolve().parent if args.out else Path.cwd()
        link = Path(os.path.relpath(args.figure.resolve(), where)).as_posix()
        lines += ["", f"![Validation MRAE against GFLOPs per weight]({link})"]
    if colour_rows:
        lines += [
            "",
            "## sRGB-input methods (colour-science)",
            "",
            "Input: each validation patch rendered to sRGB (grey-world white balance, auto "
            "exposure); output: reflectance x D65, scaled per patch by least squares to the "
            "target radiance. The per-patch scale is an oracle the models above do not get, "
            "and BP-MRAE does not apply (another camera). The ICVL values are camera counts "
            "without a per-band radiometric calibration (see the shared data MANIFEST): their "
            "mean spectrum rises steeply from 400 to 640 nm unlike any daylight, so a physical "
            "reflectance x D65 has the wrong shape, which no per-patch scale fixes. These rows "
            "measure that mismatch as much as the methods.",
            "",
            f"| method {header}",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for name, m in sorted(colour_rows, key=lambda r: r[1]["mrae"]):
            lines.append(f"| `{name}` | " + " | ".join(_fmt(m, c) for c in COLUMNS) + " |")
    table = "\n".join(lines) + "\n"
    print(table)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(table)


if __name__ == "__main__":
    main()
