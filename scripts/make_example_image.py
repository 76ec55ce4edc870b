"""Write ``examples/synthetic_scene.png``, the photo README's first command reconstructs.

The scene is one of :class:`ssrzoo.data.SyntheticScenes` (dead leaves of measured
reflectances under measured light, all from colour-science's BSD-3 data), rendered to
8-bit sRGB with :func:`ssrzoo.spectral.render_srgb`. Nothing in it comes from a licensed
dataset, so the repository may ship it.

    python scripts/make_example_image.py [--seed 3] [--size 256]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from ssrzoo.data import SyntheticScenes
from ssrzoo.spectral import render_srgb

OUT = Path(__file__).resolve().parents[1] / "examples" / "synthetic_scene.png"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--index", type=int, default=0)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    scenes = SyntheticScenes(size=args.size, length=args.index + 1, seed=args.seed)
    sample = scenes[args.index]
    srgb = render_srgb(sample["hsi"].numpy(), sample["wavelengths"].numpy())
    image = (np.clip(np.asarray(srgb), 0, 1).transpose(1, 2, 0) * 255 + 0.5).astype(np.uint8)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(args.out, optimize=True)
    print(f"wrote {args.out} ({image.shape[1]}x{image.shape[0]})")


if __name__ == "__main__":
    main()
