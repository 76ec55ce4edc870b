"""Synthetic scenes next to real ICVL / CAVE renderings, and their spectral statistics.

Writes ``docs/images/synthetic_vs_real.png``: synthetic scenes drawn with colour-science's
libraries (row 1) and with the shared data folder's libraries (row 2), the CAVE crops (row 3)
and a stack of ICVL strips (row 4), all rendered to sRGB the same way
(:func:`ssrzoo.spectral.render_srgb`: CIE 1931, grey-world white balance, 99th-percentile
exposure). With ``--stats`` it also prints, as Markdown, the per-band mean and standard
deviation and the spectral PCA energy of each source (the tables in ``docs/datasets.md``).

Every cube is normalised the same way before statistics: ICVL under the ssrzoo protocol
(dark-subtracted, 99.9th percentile = 1, valid pixels only), CAVE crops and synthetic scenes
divided by their own 99.9th percentile.

Usage::

    python scripts/plot_synthetic_vs_real.py --data ../shared/data --stats
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
BANDS_SHOWN = (400, 450, 500, 550, 600, 650, 700)


def _pixels(
    cubes: list[np.ndarray], masks: list[np.ndarray | None], n: int, seed: int
) -> np.ndarray:
    """Up to ``n`` random pixel spectra ``(n, C)`` from scene-normalised cubes."""
    rng = np.random.default_rng(seed)
    rows = []
    for cube, mask in zip(cubes, masks, strict=True):
        spectra = cube.reshape(cube.shape[0], -1).T
        if mask is not None:
            spectra = spectra[mask.reshape(-1)]
        rows.append(spectra)
    allpix = np.concatenate(rows)
    take = rng.choice(allpix.shape[0], size=min(n, allpix.shape[0]), replace=False)
    return allpix[take].astype(np.float64)


def _normalise(cube: np.ndarray) -> np.ndarray:
    return cube / np.percentile(cube, 99.9)


def _pca_energy(spectra: np.ndarray) -> np.ndarray:
    """Cumulative fraction of variance of the mean-centred spectra per principal component."""
    centred = spectra - spectra.mean(axis=0)
    s = np.linalg.svd(centred, compute_uv=False)
    energy = s**2
    return np.cumsum(energy) / energy.sum()


def collect(data: Path, n_scenes: int, size: int, seed: int) -> dict[str, dict]:
    from ssrzoo.data import CAVECrops, ICVLStrips, SyntheticScenes

    sources: dict[str, dict] = {}
    icvl = ICVLStrips(data, "all")
    samples = [icvl[i] for i in range(len(icvl))]
    sources["ICVL strips (158 scenes)"] = {
        "cubes": [s["hsi"].numpy() for s in samples],
        "masks": [s["valid"].numpy() for s in samples],
        "samples": samples,
    }
    cave = CAVECrops(data)
    samples = [cave[i] for i in range(len(cave))]
    sources["CAVE crops (4)"] = {
        "cubes": [_normalise(s["hsi"].numpy()) for s in samples],
        "masks": [None] * len(samples),
        "samples": samples,
    }
    default = SyntheticScenes(size=size, length=n_scenes, seed=seed)
    shared = SyntheticScenes.from_shared(data, size=size, length=n_scenes, seed=seed)
    daylight = SyntheticScenes.from_shared(
        data,
        size=size,
        length=n_scenes,
        seed=seed,
        illuminant_weights={"daylight": 1.0},
        mixed_prob=0.0,
    )
    for name, ds in (
        (f"synthetic, colour-science libraries ({n_scenes})", default),
        (f"synthetic, shared libraries ({n_scenes})", shared),
        (f"synthetic, shared libraries, daylight only ({n_scenes})", daylight),
    ):
        samples = [ds[i] for i in range(len(ds))]
        sources[name] = {
            "cubes": [s["hsi"].numpy() for s in samples],
            "masks": [None] * len(samples),
            "samples": samples,
        }
    return sources


def stats_tables(sources: dict[str, dict], seed: int) -> str:
    wl = np.arange(400, 701, 10)
    shown = [int(np.flatnonzero(wl == b)[0]) for b in BANDS_SHOWN]
    lines = ["Per-band mean ± std of scene-normalised values (99.9th percentile = 1):", ""]
    lines.append("| source | " + " | ".join(f"{b} nm" for b in BANDS_SHOWN) + " |")
    lines.append("|" + "---|" * (len(BANDS_SHOWN) + 1))
    spectra = {}
    for name, src in sources.items():
        px = _pixels(src["cubes"], src["masks"], 200_000, seed)
        spectra[name] = px
        mean, std = px.mean(axis=0), px.std(axis=0)
        cells = " | ".join(f"{mean[i]:.3f} ± {std[i]:.3f}" for i in shown)
        lines.append(f"| {name} | {cells} |")
    ref = next(iter(spectra.values()))
    lines += [
        "",
        "Distance to ICVL over all 31 bands, and spectral PCA energy (mean-centred "
        "pixel spectra, cumulative fraction of variance):",
        "",
    ]
    lines.append(
        "| source | RMS diff. of band means | RMS diff. of band stds | PC1 | PC1-3 | PC1-6 | "
        "PCs for 99 % | PCs for 99.9 % |"
    )
    lines.append("|---|---|---|---|---|---|---|---|")
    for name, px in spectra.items():
        e = _pca_energy(px)
        dm = np.sqrt(np.mean((px.mean(0) - ref.mean(0)) ** 2))
        ds = np.sqrt(np.mean((px.std(0) - ref.std(0)) ** 2))
        k99 = int(np.searchsorted(e, 0.99) + 1)
        k999 = int(np.searchsorted(e, 0.999) + 1)
        lines.append(
            f"| {name} | {dm:.3f} | {ds:.3f} | {e[0]:.3f} | {e[2]:.4f} | {e[5]:.5f} | {k99} | "
            f"{k999} |"
        )
    return "\n".join(lines)


def plot(sources: dict[str, dict], out: Path, per_row: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ssrzoo.spectral import render_srgb

    def srgb(sample) -> np.ndarray:
        return render_srgb(sample["hsi"].numpy(), sample["wavelengths"].numpy()).transpose(1, 2, 0)

    icvl_name, cave_name, syn_a, syn_b = list(sources)[:4]
    fig = plt.figure(figsize=(2.0 * per_row, 9.6))
    grid = fig.add_gridspec(4, per_row, height_ratios=[1, 1, 1, 1.3], hspace=0.3, wspace=0.05)
    row_labels = ("synthetic\ncolour-science libs", "synthetic\nshared libs", "CAVE crops")
    for row, name in enumerate((syn_a, syn_b, cave_name)):
        samples = sources[name]["samples"][:per_row]
        for col, s in enumerate(samples):
            ax = fig.add_subplot(grid[row, col])
            ax.imshow(srgb(s))
            ax.set_xticks([])
            ax.set_yticks([])
            label = s.get("illuminant_category", s.get("name", ""))
            if s.get("mixed"):
                label += " + mix"
            ax.set_title(label, fontsize=7)
            if col == 0:
                ax.set_ylabel(row_labels[row], fontsize=8)
    # ICVL strips are 7-17 rows tall: stack a few, cropped to a common width.
    strips = sources[icvl_name]["samples"]
    pick = strips[:: max(1, len(strips) // 14)][:14]
    width = min(s["hsi"].shape[-1] for s in pick)
    stack = np.concatenate([srgb({**s, "hsi": s["hsi"][..., :width]}) for s in pick], axis=0)
    ax = fig.add_subplot(grid[3, :])
    ax.imshow(stack, aspect="auto", interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_ylabel("ICVL strips", fontsize=8)
    ax.set_title(
        f"{len(pick)} of the {len(strips)} ICVL strips, stacked (7-17 x {width} px each)",
        fontsize=8,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90, bbox_inches="tight")
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument(
        "--out", type=Path, default=REPO / "docs" / "images" / "synthetic_vs_real.png"
    )
    parser.add_argument("--scenes", type=int, default=40, help="synthetic scenes per library")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--per-row", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--stats", action="store_true", help="print the statistics tables")
    args = parser.parse_args(argv)
    sources = collect(args.data, args.scenes, args.size, args.seed)
    plot(sources, args.out, args.per_row)
    print(f"wrote {args.out}")
    if args.stats:
        print(stats_tables(sources, args.seed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
