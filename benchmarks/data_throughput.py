"""Data loading throughput: ICVL strip patches and synthetic scenes, against a MAE-KTSR CPU step.

Prints one Markdown table of samples/s for

* ICVL strip patches (``ICVLStrips`` + ``RandomPatches``: 8x64 patches, flips/rot90, exposure
  0.5-2, clean RGB simulated on the fly), from memory (``cache_size``) and re-read from disk;
* synthetic scenes (``SyntheticScenes`` with RGB simulated), 64x64 and 128x128;
* one CPU training step of MAE-KTSR (forward, L1 loss, backward, AdamW) on batches of the same
  shapes, so the loader rates can be read against what training consumes;

through a ``DataLoader`` with 0, 1 and 2 workers (the machine has 2 cores). The training rows
use 2 torch threads. Loading keeps up when its samples/s exceeds the training step's.

Usage::

    python benchmarks/data_throughput.py --data ../shared/data
    python benchmarks/data_throughput.py --data ../shared/data --batches 5 --workers 0 2

Timings depend on the machine and its load; compare rows of one table.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset

REPO = Path(__file__).resolve().parents[1]


def _rate(dataset: Dataset, batch_size: int, batches: int, workers: int) -> float:
    """Samples per second over ``batches`` batches, after one warm-up batch."""
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=True,
        num_workers=workers,
        generator=torch.Generator().manual_seed(0),
        persistent_workers=False,
    )
    it = iter(loader)
    next(it)  # worker start-up and first loads are not throughput
    start = time.perf_counter()
    n = 0
    for _ in range(batches):
        try:
            batch = next(it)
        except StopIteration:
            break
        n += batch["hsi"].shape[0]
    return n / (time.perf_counter() - start)


def _train_rate(shape: tuple[int, int, int, int], steps: int) -> float:
    import ssrzoo

    torch.set_num_threads(2)
    model = ssrzoo.create_model("mae_ktsr")
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    x = torch.rand(shape)
    y = torch.rand(shape[0], 31, *shape[2:])

    def step() -> None:
        loss = (model(x) - y).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()

    step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return shape[0] * steps / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--train-steps", type=int, default=3)
    args = parser.parse_args(argv)

    from ssrzoo.data import ICVLStrips, RandomPatches, SimulateRGB, SyntheticScenes

    sim = SimulateRGB()
    strips = ICVLStrips(args.data, "train")
    n_patch = args.batch_size * (args.batches + 2)
    per_image = max(1, n_patch // len(strips) + 1)
    in_memory = RandomPatches(
        strips, (8, 64), per_image, exposure=(0.5, 2.0), simulate=sim, cache_size=len(strips)
    )
    for i in range(len(strips)):  # warm the cache; workers inherit it
        in_memory[i]
    cases: list[tuple[str, Dataset, tuple[int, int, int, int]]] = [
        ("ICVL strip patches 8x64, in memory", in_memory, (args.batch_size, 3, 8, 64)),
        (
            "ICVL strip patches 8x64, read from disk each time",
            RandomPatches(strips, (8, 64), per_image, exposure=(0.5, 2.0), simulate=sim),
            (args.batch_size, 3, 8, 64),
        ),
        (
            "synthetic scenes 64x64",
            SyntheticScenes(64, n_patch, rgb=sim),
            (args.batch_size, 3, 64, 64),
        ),
        (
            "synthetic scenes 128x128",
            SyntheticScenes(128, n_patch, rgb=sim),
            (args.batch_size, 3, 128, 128),
        ),
    ]

    print(
        f"# Data throughput ({platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, torch {torch.__version__}, batch {args.batch_size})\n"
    )
    header = "| source | " + " | ".join(f"{w} workers" for w in args.workers) + " |"
    print(header)
    print("|" + "---|" * (len(args.workers) + 1))
    train_shapes = []
    for name, dataset, shape in cases:
        rates = [_rate(dataset, args.batch_size, args.batches, w) for w in args.workers]
        print(f"| {name} | " + " | ".join(f"{r:.0f} samples/s" for r in rates) + " |")
        sys.stdout.flush()
        if shape not in train_shapes:
            train_shapes.append(shape)
    for shape in train_shapes:
        rate = _train_rate(shape, args.train_steps)
        cells = " | ".join("" for _ in args.workers[1:])
        print(
            f"| MAE-KTSR CPU train step, {shape[2]}x{shape[3]} (2 threads) | "
            f"{rate:.1f} samples/s | {cells} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
