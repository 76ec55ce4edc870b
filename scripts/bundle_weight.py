"""Copy a trained weight into the package (``ssrzoo/weights/<arch>.<tag>/``), optionally in float16.

The last step of publishing a weight trained with ``ssrzoo train``: the run's ``export/``
folder (``config.json``, ``model.safetensors``, ``README.md``) is rewritten with
:func:`ssrzoo.save_pretrained` into the bundled-weights folder, ``bundled`` set, and the
sha256 to pin in the family's ``_PUBLISHED`` table is printed. ``--fp16`` halves the file
(the card's metrics stay those measured in float32 at export; ``benchmarks/leaderboard.py``
and ``tests/test_pretrained_weights.py`` re-measure the stored weight against them).

    python scripts/bundle_weight.py runs/mae_ktsr_cave/export --fp16
    python scripts/bundle_weight.py runs/mae_ktsr_ntire_noprior/export --fp16 \\
        --architecture mae_ktsr_noprior
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import torch

import ssrzoo
from ssrzoo.models import bundled_weights_dir, file_sha256


def card_body(readme: Path) -> str | None:
    """The Markdown of an existing model card below its YAML front matter, if any."""
    if not readme.is_file():
        return None
    match = re.match(r"^---\n.*?\n---\n", readme.read_text(), flags=re.DOTALL)
    return readme.read_text()[match.end() :] if match else None


def bundle(
    source: Path, *, fp16: bool, architecture: str | None = None, keep_card: bool = False
) -> Path:
    """Write ``source`` (a weight folder) into the bundled-weights folder; return the target."""
    model = ssrzoo.create_model(f"local-dir:{source}")
    cfg = model.pretrained_cfg
    if architecture is not None:
        cfg = cfg.replace(architecture=architecture)
    notes = cfg.notes
    if fp16 and "float16" not in notes:
        notes += (
            "\n\nStored in float16 (half the size); the metrics above were measured in float32 "
            "before the conversion, and the stored weight reproduces them within 1 %."
        )
    cfg = cfg.replace(notes=notes)
    target = bundled_weights_dir() / f"{cfg.architecture}.{cfg.tag}"
    ssrzoo.save_pretrained(
        model,
        target,
        pretrained_cfg=cfg,
        card_body=card_body(source / "README.md") if keep_card else None,
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
        "--keep-card", action="store_true", help="keep the source card's body (hand-written)"
    )
    args = parser.parse_args()
    target = bundle(
        args.source, fp16=args.fp16, architecture=args.architecture, keep_card=args.keep_card
    )
    sha = file_sha256(target / "model.safetensors")
    size = (target / "model.safetensors").stat().st_size / 1e6
    print(f"{target} ({size:.2f} MB)")
    print(f'    "{target.name}": dict(sha256="{sha}", bundled=True),')


if __name__ == "__main__":
    main()
