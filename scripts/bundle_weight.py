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


def bundle(
    source: Path,
    *,
    fp16: bool,
    architecture: str | None = None,
    keep_card: bool = False,
    log: Path | None = None,
    machine: str = "CPU, 1 thread",
) -> Path:
    """Write ``source`` (a weight folder) into the bundled-weights folder; return the target."""
    model = ssrzoo.create_model(f"local-dir:{source}")
    cfg = model.pretrained_cfg
    if architecture is not None:
        cfg = cfg.replace(architecture=architecture)
    notes = cfg.notes
    if log is not None and "Training wall-clock" not in notes:
        notes += f"\n\nTraining wall-clock: {training_minutes(log):.1f} min ({machine})."
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
    args = parser.parse_args()
    target = bundle(
        args.source,
        fp16=args.fp16,
        architecture=args.architecture,
        keep_card=args.keep_card,
        log=args.log,
        machine=args.machine,
    )
    sha = file_sha256(target / "model.safetensors")
    size = (target / "model.safetensors").stat().st_size / 1e6
    print(f"{target} ({size:.2f} MB)")
    print(f'    "{target.name}": dict(sha256="{sha}", bundled=True),')


if __name__ == "__main__":
    main()
