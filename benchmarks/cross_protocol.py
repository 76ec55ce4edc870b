"""Cross-protocol generalisation: ICVL-trained weights on CAVE scenes and CAVE-trained on ICVL.

Every published ``*.ntire2020`` and ``*.cave`` reconstruction weight is scored, without any
adaptation, on both validation sets, each rendered through *the weight's own camera* (clean
pipeline, fixed white gain), so only the scenes change, never the RGB the weight expects:

- **ICVL val**: the validation patches of ``recipes/mae_ktsr_ntire.yaml`` (ICVL strips,
  protocol icvl-strips-v1, normalised radiance);
- **CAVE val**: the 5 validation scenes of protocol cave-256-v1, whole (reflectance, MRAE
  denominators floored at 0.01).

Both are scored by :func:`ssrzoo.evaluate` with the recipe's validation settings
(:func:`ssrzoo.train.evaluate_recipe`), as the leaderboard is.

    python benchmarks/cross_protocol.py --root ../shared/data --out docs/results/cross_protocol.md \
        --generalisation docs/results/generalisation.md
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from _report import REPO, provenance, write_section
from leaderboard import PROTOCOLS, recipe_config

import ssrzoo
from ssrzoo.train import evaluate_recipe

#: The camera each protocol's weights were trained with, as a recipe's ``rgb`` mapping.
CAMERAS = {
    "ntire2020": "{{response: cie1964_10deg, pipeline: clean}}",
    "cave": "{{response: {{loader: load_nikon_d700, "
    "path: {root}/responses/nikon_d700_31band.mat}}, pipeline: clean}}",
}
TRAINED_ON = {"ntire2020": "ICVL train", "cave": "CAVE train"}


def score(name: str, data: str, camera: str, root: Path) -> dict[str, float]:
    """Validation metrics of weight ``name`` on protocol ``data``'s scenes through ``camera``."""
    rgb = CAMERAS[camera].format(root=root)
    cfg = recipe_config(root, str(PROTOCOLS[data]["recipe"]), [f"data.val.rgb={rgb}"])
    return evaluate_recipe(ssrzoo.create_model(name, pretrained=True), cfg).metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None, help="also write the page here")
    parser.add_argument(
        "--generalisation", type=Path, default=None, help="also put the table in this page"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    root = args.root.resolve()
    lines = [
        "# Cross-protocol generalisation: ICVL ↔ CAVE",
        "",
        f"{provenance('cross_protocol.py')} Each weight is scored on both validation sets, "
        "rendered through its own training camera (CIE 1964 for `*.ntire2020`, Nikon D700 for "
        "`*.cave`), so only the scenes differ from training. ICVL val: the patches of "
        "`recipes/mae_ktsr_ntire.yaml` (normalised radiance of outdoor scenes); CAVE val: the "
        "5 validation scenes of protocol cave-256-v1, whole (reflectance of indoor objects "
        "on black, MRAE denominators floored at 0.01). `shift`: MRAE on the other protocol's "
        "scenes relative to the weight's own.",
        "",
        "| weight | trained on | MRAE ICVL val | MRAE CAVE val | SAM ICVL | SAM CAVE | shift |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for tag in ("ntire2020", "cave"):
        names = [n for n in ssrzoo.list_pretrained(f"*.{tag}") if not n.startswith("s2mae")]
        for name in names:
            own = score(name, tag, tag, root)
            other_tag = "cave" if tag == "ntire2020" else "ntire2020"
            other = score(name, other_tag, tag, root)
            icvl, cave = (own, other) if tag == "ntire2020" else (other, own)
            print(name, icvl["mrae"], cave["mrae"], flush=True)
            lines.append(
                f"| `{name}` | {TRAINED_ON[tag]} | {icvl['mrae']:.4f} | {cave['mrae']:.4f} | "
                f"{icvl['sam']:.2f} | {cave['sam']:.2f} | {other['mrae'] / own['mrae']:.1f}x |"
            )
    page = "\n".join(lines) + "\n"
    print(page)
    if args.out:
        args.out.write_text(page)
    if args.generalisation:
        table = "\n".join(line for line in lines if line.startswith("|"))
        write_section(
            args.generalisation,
            "cross-protocol",
            "## Across protocols: ICVL ↔ CAVE\n\n"
            "Written by `benchmarks/cross_protocol.py` (see [its page](cross_protocol.md) for the "
            "protocol): each weight on both validation sets through its own training camera; "
            "`shift` is MRAE on the other protocol's scenes relative to its own.\n\n" + table,
        )


if __name__ == "__main__":
    main()
