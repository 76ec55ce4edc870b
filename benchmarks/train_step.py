"""Training throughput: the data pipeline alone against the model step alone, per model.

Settings are those of the ``recipes/*_cave.yaml`` recipes (protocol cave-256-v1): random
64x64 patches, batch 16, flips, quarter turns, exposure 0.6-1.4x, RGB rendered through the
Nikon D700 response (clean pipeline, 8-bit). One Markdown table per device (CPU, and the
GPU when ``torch.cuda.is_available()``) with

* the **model step** of each model: forward, the recipes' loss (MRAE + 0.1 back-projection,
  eps 0.01; S²-MAE: its masked pretraining loss), backward, gradient clipping and an AdamW
  step, on one fixed batch: nothing of the data pipeline. On a GPU under bf16 autocast, as
  the Trainer runs it with ``amp: bf16``;
* the **data pipelines** alone, in samples/s of ``{'hsi', 'rgb'}`` batches on the device:
  ``RandomPatches`` in DataLoader workers, as the Trainer builds it without
  ``data.device_patches`` (each sample decoded from disk, cropped, augmented and rendered
  in a worker, then copied to the device), and ``DevicePatches`` (``data.device_patches:
  true``: every cube on the device, a whole batch drawn with a few tensor operations);
* the ratio of each pipeline's rate to the fastest model step: a pipeline below 1x starves
  training, and the target is 5x on CPU;
* with ``--compile MODE``, each model step again with the model under ``torch.compile``
  (``default``, ``reduce-overhead``: CUDA graphs on a GPU, ``max-autotune``), as
  ``model.compile: MODE`` trains it, and its speed-up over the eager step of the same run.
  Compilation and the first steps run before the timed ones.

Data: the CAVE training scenes in ``<data>/cave_256`` and the Nikon response in
``<data>/responses`` when present (``--data``, default ``../shared/data``), else random
smooth cubes and the CIE 1964 observer (the table says which).

Usage::

    python benchmarks/train_step.py
    python benchmarks/train_step.py --models mae_ktsr_noprior hscnn_plus --steps 2
    python benchmarks/train_step.py --device cpu --workers 0 2
    python benchmarks/train_step.py --models mae_ktsr_noprior --compile reduce-overhead

Timings depend on the machine and its load; compare rows of one table.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from timm.utils import dispatch_clip_grad
from torch.utils.data import DataLoader, Dataset

import ssrzoo
from ssrzoo.data import CAVE, DevicePatches, RandomPatches, SimulateRGB
from ssrzoo.train import ReconstructionLoss

REPO = Path(__file__).resolve().parents[1]
# label -> (model name, build arguments, stage), as the recipes/*_cave.yaml build them
MODELS: dict[str, tuple[str, dict[str, Any], str]] = {
    "mae_ktsr": ("mae_ktsr", {"freeze_prior": False}, "reconstruct"),
    "mae_ktsr_noprior": ("mae_ktsr_noprior", {}, "reconstruct"),
    "s2mae (pretraining)": ("s2mae", {}, "pretrain"),
    "mst_plus_plus": ("mst_plus_plus", {}, "reconstruct"),
    "hscnn_plus": ("hscnn_plus", {}, "reconstruct"),
    "awan": ("awan", {}, "reconstruct"),
}
PATCHES = {"patch_size": 64, "patches_per_image": 64, "rgb": "simulate", "exposure": (0.6, 1.4)}


class SmoothCubes(Dataset):
    """``n`` random smooth ``(31, size, size)`` cubes in [0.02, 1]: the stand-in for CAVE."""

    def __init__(self, n: int = 19, size: int = 256, seed: int = 0) -> None:
        g = torch.Generator().manual_seed(seed)
        coarse = torch.rand(n, 31, size // 16, size // 16, generator=g)
        self.hsi = torch.nn.functional.interpolate(coarse, size=(size, size), mode="bilinear")
        self.hsi = self.hsi * 0.98 + 0.02
        self.wavelengths = torch.arange(400.0, 701.0, 10.0)

    def __len__(self) -> int:
        return self.hsi.shape[0]

    def __getitem__(self, index: int) -> dict[str, Any]:
        return {"hsi": self.hsi[index], "wavelengths": self.wavelengths}


def training_patches(data: Path) -> tuple[RandomPatches, str]:
    """The recipes' ``RandomPatches`` over CAVE (or smooth cubes) and a line saying which."""
    cave, nikon = data / "cave_256", data / "responses" / "nikon_d700_31band.mat"
    if cave.is_dir() and nikon.is_file():
        from ssrzoo.spectral import load_nikon_d700

        dataset: Dataset = CAVE(cave, split="train")
        simulate = SimulateRGB(response=load_nikon_d700(nikon), pipeline="clean")
        what = f"CAVE cave_256 training scenes ({len(dataset)}), Nikon D700 response"
    else:
        dataset, simulate = SmoothCubes(), SimulateRGB()
        what = f"{len(dataset)} synthetic smooth cubes 256x256 (no {cave}), CIE 1964 observer"
    return RandomPatches(dataset, simulate=simulate, **PATCHES), what


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _rate(step: Callable[[], Any], samples: int, steps: int, device: torch.device) -> float:
    """Samples/s over ``steps`` calls of ``step`` after one warm-up call."""
    step()
    _sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    _sync(device)
    return samples * steps / (time.perf_counter() - start)


def worker_rate(
    patches: RandomPatches, batch: int, batches: int, workers: int, device: torch.device
) -> float:
    """Samples/s of the worker path: DataLoader batches, copied to ``device``."""
    loader = DataLoader(
        patches,
        batch_size=batch,
        shuffle=True,
        drop_last=True,
        num_workers=workers,
        persistent_workers=workers > 0,
        generator=torch.Generator().manual_seed(0),
    )
    it = iter(loader)

    def step() -> tuple[torch.Tensor, torch.Tensor]:
        b = next(it)
        return b["hsi"].to(device), b["rgb"].to(device)

    return _rate(step, batch, batches, device)


def model_step_rate(
    name: str,
    kwargs: dict[str, Any],
    stage: str,
    sample: dict[str, torch.Tensor],
    response: torch.Tensor,
    steps: int,
    device: torch.device,
    compile_mode: str | None = None,
) -> tuple[float, int]:
    """Samples/s of bare optimizer steps on the batch ``sample``, and the parameter count;
    with ``compile_mode``, the model runs under ``torch.compile(mode=compile_mode)``."""
    torch.manual_seed(0)
    model = ssrzoo.create_model(name, **kwargs).to(device).train()
    params = [p for p in model.parameters() if p.requires_grad]
    net: Any = model if compile_mode is None else torch.compile(model, mode=compile_mode)
    opt = torch.optim.AdamW(params, lr=4e-4, weight_decay=1e-4)
    loss_fn = ReconstructionLoss(mrae=1.0, bp=0.1, response=response, eps=0.01).to(device)
    rgb, hsi = sample["rgb"], sample["hsi"]
    amp = torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")

    def step() -> None:
        with amp:
            if stage == "pretrain":
                loss = net.forward_loss(hsi, rgb).loss.float()
            else:
                pred = net(rgb)
        if stage != "pretrain":
            loss, _ = loss_fn(pred.float(), hsi, rgb)
        loss.backward()
        dispatch_clip_grad(params, 1.0, mode="norm")
        opt.step()
        opt.zero_grad(set_to_none=True)

    if compile_mode is not None:
        for _ in range(3):  # compile, and record the CUDA graphs, before the timed steps
            step()
    return _rate(step, hsi.shape[0], steps, device), ssrzoo.models.count_params(model)


def report(device: torch.device, args: argparse.Namespace) -> None:
    """Measure and print the table of one device."""
    patches, what = training_patches(args.data)
    t0 = time.perf_counter()
    on_device = DevicePatches.from_patches(patches, device=device)
    load_s = time.perf_counter() - t0
    sample = on_device.sample(args.batch)
    if device.type == "cuda":
        where = f"{torch.cuda.get_device_name(device)}, bf16 autocast"
    else:
        where = f"CPU ({platform.processor() or platform.machine()}, {args.threads} threads)"
    print(
        f"## {where}\n\n{what}; batch {args.batch}, 64x64 patches; torch {torch.__version__}, "
        f"{os.cpu_count()} CPUs. Model steps: {args.steps} timed after one warm-up.\n"
    )
    compiled = f" compiled ({args.compile}) samples/s | speed-up |" if args.compile else ""
    print(f"| model | params | model step (samples/s) | ms per step |{compiled}")
    print("|---|---:|---:|---:|" + ("---:|---:|" if args.compile else ""))
    rates = {}
    for label in args.models:
        name, kwargs, stage = MODELS[label]
        rate, n = model_step_rate(
            name, kwargs, stage, sample, on_device.response, args.steps, device
        )
        rates[label] = rate
        extra = ""
        if args.compile:
            try:
                fast, _ = model_step_rate(
                    name,
                    kwargs,
                    stage,
                    sample,
                    on_device.response,
                    args.steps,
                    device,
                    compile_mode=args.compile,
                )
                extra = f" {fast:.1f} | {fast / rate:.2f}x |"
            except Exception as err:  # a model that does not compile keeps its eager row
                extra = f" failed: {type(err).__name__} | |"
        print(
            f"| {label} | {n / 1e6:.3f} M | {rate:.1f} | {1000 * args.batch / rate:.0f} |{extra}",
            flush=True,
        )
    fastest = max(rates, key=rates.__getitem__)
    pipelines = [
        (
            f"RandomPatches + DataLoader, {w} worker{'s' if w != 1 else ''}",
            worker_rate(patches, args.batch, args.batches, w, device),
        )
        for w in args.workers
    ]
    rate = _rate(lambda: on_device.sample(args.batch), args.batch, args.batches, device)
    pipelines.append((f"DevicePatches on {device.type} (loading the cubes: {load_s:.1f} s)", rate))
    print(f"\n| data pipeline | samples/s | / fastest model step ({fastest}) |")
    print("|---|---:|---:|")
    for label, rate in pipelines:
        print(f"| {label} | {rate:.1f} | {rate / rates[fastest]:.2f}x |")
    print()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--batch", type=int, default=16, help="samples per step (16)")
    parser.add_argument("--steps", type=int, default=2, help="timed model steps (2)")
    parser.add_argument("--batches", type=int, default=10, help="timed data batches (10)")
    parser.add_argument("--workers", type=int, nargs="+", default=[2], help="DataLoader workers")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (2)")
    parser.add_argument("--device", choices=["cpu", "cuda", "all"], default="all")
    parser.add_argument(
        "--compile",
        choices=["default", "reduce-overhead", "max-autotune"],
        default=None,
        help="also time each model step under torch.compile with this mode",
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    logging.getLogger("ssrzoo").setLevel(logging.ERROR)
    devices = [torch.device("cpu")] if args.device in ("cpu", "all") else []
    if args.device in ("cuda", "all") and torch.cuda.is_available():
        devices.append(torch.device("cuda"))
    for device in devices:
        report(device, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
