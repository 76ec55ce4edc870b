"""Copy a trained weight into the package (``ssrzoo/weights/<arch>.<tag>/``), optionally in float16.

The last step of publishing a weight trained with ``ssrzoo train``: the run's ``export/``
folder (``config.json``, ``model.safetensors``, ``README.md``) is rewritten with
:func:`ssrzoo.save_pretrained` into the bundled-weights folder, and the line that pins
its sha256 (``bundled=True``) in the family's ``_PUBLISHED`` table is printed. ``--fp16``
halves the file (the card's metrics stay those measured in float32 at export;
``benchmarks/leaderboard.py`` and ``tests/test_pretrained_weights.py`` re-measure the stored
weight against them).

    python scripts/bundle_weight.py runs/mae_ktsr_cave/export --fp16 \\
        --log runs/mae_ktsr_cave.log --machine '2-core x86 CPU, 1 thread'
    python scripts/bundle_weight.py runs/mae_ktsr_ntire_noprior/export --fp16 \\
        --architecture mae_ktsr_noprior
    python scripts/bundle_weight.py gpu/mst_plus_plus_cave/export --fp16 --measure \\
        --log gpu/logs/mst_plus_plus_cave.log --machine '1 NVIDIA H200, bf16 autocast'

``--measure`` re-runs the validation of the card's recipe on the weight here, in float32, and
writes those metrics into the card: for weights trained elsewhere on a compact copy of the
data (``scripts/pack_cave.py``), so the card holds what the shared data gives.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import torch

import ssrzoo
from ssrzoo.models import bundled_weights_dir, file_sha256, make_model_card


def extra_sections(readme: Path, body: str) -> str:
    """The ``## `` sections of an existing card that the generated ``body`` lacks."""
    if not readme.is_file():
        return ""
    sections = re.split(r"(?m)^(?=## )", readme.read_text())[1:]
    return "".join(s for s in sections if s.splitlines()[0] not in body)


def training_minutes(log: Path) -> float:
    """Wall-clock minutes of a run, from the last elapsed time of its progress bar."""
    elapsed = re.findall(r"(\d+)/(\d+) \[((?:\d+:)?\d+:\d+)<", log.read_text(errors="replace"))
    done = [e for e in elapsed if e[0] == e[1]]
    if not done:
        raise ValueError(f"{log} has no finished progress bar; is it the log of a complete run?")
    seconds = 0
    for part in done[-1][2].split(":"):
        seconds = seconds * 60 + int(part)
    return seconds / 60


def measure(model: torch.nn.Module, recipe: str, shared: Path) -> dict[str, float]:
    """The validation metrics of ``recipes/<recipe>.yaml`` for ``model``, on CPU in float32."""
    import tempfile

    from ssrzoo.train import TrainerConfig, evaluate_recipe

    text = Path(f"recipes/{recipe}.yaml").read_text().replace("../shared/data", str(shared))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "recipe.yaml"
        path.write_text(text)
        overrides = ["model.prior=null", "device=cpu", "amp='off'"]
        cfg = TrainerConfig.from_yaml(path, overrides)
    metrics = evaluate_recipe(model, cfg).metrics
    return {k: round(float(v), 6) for k, v in metrics.items()}


def bundle(
    source: Path,
    *,
    fp16: bool,
    architecture: str | None = None,
    keep_card: bool = False,
    log: Path | None = None,
    machine: str = "CPU, 1 thread",
    shared: Path | None = None,
    minutes: float | None = None,
) -> Path:
    """Write ``source`` (a weight folder) into the bundled-weights folder; return the target."""
    model = ssrzoo.create_model(f"local-dir:{source}")
    cfg = model.pretrained_cfg
    if architecture is not None:
        cfg = cfg.replace(architecture=architecture)
    notes = cfg.notes
    if shared is not None:
        cfg = cfg.replace(metrics=measure(model, str(cfg.recipe), shared))
        if "Metrics measured" not in notes:
            notes += (
                "\n\nMetrics measured with the recipe's validation on the shared data in "
                "float32, after training."
            )
    if minutes is None and log is not None:
        minutes = training_minutes(log)
    if minutes is not None and "Training wall-clock" not in notes:
        notes += f"\n\nTraining wall-clock: {minutes:.1f} min ({machine})."
    if fp16 and "float16" not in notes:
        notes += (
            "\n\nStored in float16 (half the size); the metrics above were measured in float32 "
            "before the conversion, and the stored weight reproduces them within 1 %."
        )
    cfg = cfg.replace(notes=notes)
    target = bundled_weights_dir() / f"{cfg.architecture}.{cfg.tag}"
    body = make_model_card(cfg).split("\n---\n", 1)[1]
    if keep_card:
        body = body.rstrip() + "\n\n" + extra_sections(source / "README.md", body)
    ssrzoo.save_pretrained(
        model,
        target,
        pretrained_cfg=cfg,
        card_body=body,
        dtype=torch.float16 if fp16 else None,
    )
    for path in target.iterdir():
        path.chmod(0o644)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="a weight folder, e.g. runs/<name>/export")
    parser.add_argument("--fp16", action="store_true", help="store tensors in float16")
    parser.add_argument("--architecture", help="register under another architecture name")
    parser.add_argument(
        "--keep-card", action="store_true", help="keep the source card's hand-written sections"
    )
    parser.add_argument("--log", type=Path, help="the run's log, to record its wall-clock")
    parser.add_argument("--machine", default="CPU, 1 thread", help="where the run trained")
    parser.add_argument("--minutes", type=float, help="training wall-clock, if no --log has it")
    parser.add_argument(
        "--measure",
        type=Path,
        nargs="?",
        const=Path("../shared/data"),
        help="re-measure the card's metrics with its recipe on this shared data folder",
    )
    args = parser.parse_args()
    target = bundle(
        args.source,
        fp16=args.fp16,
        architecture=args.architecture,
        keep_card=args.keep_card,
        log=args.log,
        machine=args.machine,
        shared=args.measure,
        minutes=args.minutes,
    )
    sha = file_sha256(target / "model.safetensors")
    size = (target / "model.safetensors").stat().st_size / 1e6
    print(f"{target} ({size:.2f} MB)")
    print(f'    "{target.name}": dict(sha256="{sha}", bundled=True),')


if __name__ == "__main__":
    main()
