"""Render NTIRE2020-Clean RGB of real ICVL strips and save the picture used in docs/spectral.md.

Usage::

    python scripts/render_icvl_clean.py [--data ../shared/data] [--out docs/images/...png]

Each ICVL strip (``icvl_strips/<scene>.npz``, key ``rad`` of shape ``(rows, W, 31)``, raw counts
0-4095 at 400-700/10 nm) is shown three ways, one scene per row:

1. ``simulate_rgb(pipeline='clean')`` of the counts as released (with the ~185-count dark floor);
2. the same after subtracting a flat 185-count dark level (clipped at 0);
3. ``render_srgb`` of the dark-subtracted cube (gray-world white balance, auto exposure).

Columns 1-2 are camera RGB in the CIE 1964 ``x_bar, y_bar, z_bar`` space shown directly, as the
challenge distributed them, so they look less saturated than the sRGB preview in column 3.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from ssrzoo.spectral import render_srgb, simulate_rgb

DARK_COUNTS = 185.0  # flat dark level measured on the strips (MANIFEST: medians 185.8-188.0)
REPO = Path(__file__).resolve().parents[1]


def _strips(data: Path, count: int) -> list[tuple[str, np.ndarray, np.ndarray]]:
    index = json.loads((data / "icvl_strips" / "index.json").read_text())
    # Spread the picks over the sorted scene list, skipping near-black scenes.
    usable = [d["scene"] for d in index if d["max"] > 600]
    picks = [usable[i] for i in np.linspace(0, len(usable) - 1, count).round().astype(int)]
    out = []
    for scene in picks:
        with np.load(data / "icvl_strips" / f"{scene}.npz") as z:
            cube = z["rad"].astype(np.float64).transpose(2, 0, 1)  # (31, rows, W)
            out.append((scene, cube, z["wavelengths_nm"].astype(np.float64)))
    return out


def main() -> None:
    default_data = Path(os.environ.get("SSRZOO_SHARED_DATA", REPO.parent / "shared" / "data"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=default_data, help="shared data folder")
    parser.add_argument(
        "--out", type=Path, default=REPO / "docs" / "images" / "icvl_ntire2020_clean.png"
    )
    parser.add_argument("--scenes", type=int, default=10, help="number of strips to show")
    args = parser.parse_args()

    rows: list[list[np.ndarray]] = [[], [], []]
    names = []
    for scene, cube, wl in _strips(args.data, args.scenes):
        dark = np.clip(cube - DARK_COUNTS, 0.0, None)
        panels = [
            simulate_rgb(cube, wl, "clean"),
            simulate_rgb(dark, wl, "clean"),
            render_srgb(dark, wl),
        ]
        for lst, img in zip(rows, panels, strict=True):
            # rows are 11 px tall and 1300 px wide: halve the width, triple the height to read
            hwc = img.transpose(1, 2, 0)
            hwc = hwc[:, : hwc.shape[1] // 2 * 2].reshape(hwc.shape[0], -1, 2, 3).mean(axis=2)
            lst.append(np.repeat(hwc, 3, axis=0))
            lst.append(np.ones((4, hwc.shape[1], 3)))  # white gap between scenes
        names.append(f"{scene} ({cube.shape[1]} rows)")

    titles = [
        "NTIRE2020 Clean: CIE 1964, gain 1/max, 8-bit (counts as released)",
        "NTIRE2020 Clean after subtracting the 185-count dark floor",
        "render_srgb (dark-subtracted): CIE 1931 -> XYZ -> gray world -> sRGB",
    ]
    fig, axes = plt.subplots(3, 1, figsize=(9, 11), dpi=110)
    for ax, lst, title in zip(axes, rows, titles, strict=True):
        width = max(a.shape[1] for a in lst)  # a few scenes are narrower: pad with white
        img = np.concatenate(
            [
                np.pad(a, ((0, 0), (0, width - a.shape[1]), (0, 0)), constant_values=1.0)
                for a in lst[:-1]
            ],
            axis=0,
        )
        ax.imshow(np.clip(img, 0, 1), interpolation="nearest", aspect="auto")
        ax.set_title(title, fontsize=9)
        step = img.shape[0] / len(names)
        ax.set_yticks([step * (i + 0.45) for i in range(len(names))])
        ax.set_yticklabels(names, fontsize=6)
        ax.set_xticks([])
    fig.suptitle("ICVL strips (Arad & Ben-Shahar, ECCV 2016), 400-700 nm / 10 nm", fontsize=10)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
