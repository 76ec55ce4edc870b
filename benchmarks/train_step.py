"""CPU training throughput of MAE-KTSR and MST++ at 128x128 patches, through the real Trainer.

For each model, one Markdown table row with

* ``model step``: forward, MRAE loss, backward, AdamW step on a fixed batch, nothing else;
* ``Trainer``: the same batch size through :class:`ssrzoo.train.Trainer`'s loop (seeded
  sampler, collate, AMP context, clipping, schedule, EMA off), from an in-memory dataset,
  so the difference is the Trainer's own overhead, not data loading (for loading rates see
  ``benchmarks/data_throughput.py``);
* parameters, and milliseconds per optimizer step.

Usage::

    python benchmarks/train_step.py
    python benchmarks/train_step.py --batch 4 --steps 6 --threads 2
    python benchmarks/train_step.py --profile      # cProfile of the MAE-KTSR Trainer loop

Timings depend on the machine and its load; compare rows of one table.
"""

from __future__ import annotations

import argparse
import cProfile
import logging
import os
import platform
import pstats
import tempfile
import time
from typing import Any

import torch
from torch.utils.data import Dataset

import ssrzoo
from ssrzoo.train import ReconstructionLoss, Trainer, TrainerConfig

MODELS = {"MAE-KTSR": "mae_ktsr_ntire", "MST++": "mst_plus_plus_ntire"}


class RandomCubes(Dataset):
    """``n`` fixed random ``(31, size, size)`` cubes in [0.05, 1] with a random RGB."""

    def __init__(self, n: int = 8, size: int = 128, seed: int = 0) -> None:
        g = torch.Generator().manual_seed(seed)
        self.hsi = torch.rand(n, 31, size, size, generator=g) * 0.95 + 0.05
        self.rgb = torch.rand(n, 3, size, size, generator=g)
        self.wavelengths = torch.arange(400.0, 701.0, 10.0)

    def __len__(self) -> int:
        return self.hsi.shape[0]

    def __getitem__(self, index: int) -> dict[str, Any]:
        return {"hsi": self.hsi[index], "rgb": self.rgb[index], "wavelengths": self.wavelengths}


def model_step_rate(name: str, batch: int, size: int, steps: int) -> tuple[float, int]:
    """Samples/s of bare optimizer steps (after one warm-up step), and the parameter count."""
    torch.manual_seed(0)
    model = ssrzoo.create_model(name).train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    loss_fn = ReconstructionLoss()
    data = RandomCubes(batch, size)
    rgb, hsi = data.rgb, data.hsi

    def step() -> None:
        loss, _ = loss_fn(model(rgb), hsi)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return batch * steps / (time.perf_counter() - start), ssrzoo.models.count_params(model)


def trainer_rate(name: str, batch: int, size: int, steps: int, threads: int) -> float:
    """Samples/s the Trainer logs over its last ``steps`` steps (after ``steps`` warm-up)."""
    with tempfile.TemporaryDirectory() as out:
        cfg = TrainerConfig.from_dict(
            {
                "name": f"bench_{name}",
                "out_dir": out,
                "device": "cpu",
                "threads": threads,
                "model": {"name": name},
                "data": {
                    "train": {
                        "name": "__main__:RandomCubes",
                        "args": {"n": 4 * batch, "size": size},
                    },
                    "val": {
                        "name": "__main__:RandomCubes",
                        "args": {"n": 1, "size": size, "seed": 1},
                    },
                    "batch_size": batch,
                },
                "optim": {"lr": 1e-4},
                "sched": {"steps": 2 * steps, "warmup_steps": 1},
                "eval_every": 2 * steps,
                "log_every": steps,
                "export": False,
            }
        )
        trainer = Trainer(cfg)
        trainer.fit()
        rows = [r for r in trainer.logger.rows if r.get("split") == "train"]
        return float(rows[-1]["samples_per_s"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=4, help="samples per step (4)")
    parser.add_argument("--size", type=int, default=128, help="patch side in px (128)")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per measurement (5)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (2)")
    parser.add_argument("--profile", action="store_true", help="profile the MAE-KTSR Trainer")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    os.environ.setdefault("SSRZOO_NO_PROGRESS", "1")
    logging.getLogger("ssrzoo").setLevel(logging.ERROR)

    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        trainer_rate(MODELS["MAE-KTSR"], args.batch, args.size, args.steps, args.threads)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
        return

    print(
        f"CPU training throughput, {args.size}x{args.size} patches, batch {args.batch}, "
        f"{args.threads} threads, {platform.processor() or platform.machine()}, "
        f"torch {torch.__version__}\n"
    )
    print("| model | params | model step (samples/s) | Trainer (samples/s) | ms/step (Trainer) |")
    print("|---|---:|---:|---:|---:|")
    for label, name in MODELS.items():
        bare, params = model_step_rate(name, args.batch, args.size, args.steps)
        full = trainer_rate(name, args.batch, args.size, args.steps, args.threads)
        ms = 1000 * args.batch / full
        print(f"| {label} | {params / 1e6:.2f} M | {bare:.2f} | {full:.2f} | {ms:.0f} |")


if __name__ == "__main__":
    main()
