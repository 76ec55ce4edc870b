"""Cost of every registered model, measured in one run: parameters, FLOPs, CPU latency.

Prints one Markdown table with, for each model: parameters, GFLOPs of one forward pass at
``--size`` x ``--size`` (``ssrzoo.models._cost.count_flops``: ``torch.utils.flop_counter``,
2 FLOPs per multiply-accumulate), the FLOPs ratio against MST++, the median CPU latency of
a batch of one under ``torch.inference_mode``, the throughput ratio against MST++
(MST++ latency / model latency, so > 1 means faster than MST++), and the GFLOP/s the model
sustains as a share of what one plain ``Conv2d(64, 64, 3, padding=1)`` sustains on a
``(1, 64, size, size)`` input in the same process (how much of the machine's convolution
speed the model's layer mix and memory traffic leave). MST++ and the convolution are
always measured, in the same run, as the references. Budgets (``FLOPS_BUDGETS``) are
checked at the end and make the script exit with status 1 when exceeded; the speed targets
(``SPEED_TARGETS``) are reported, never failed (timings vary with the machine's load).

Usage::

    python benchmarks/model_cost.py                      # all models at 512x512
    python benchmarks/model_cost.py --size 128 --repeats 2 --models '*mst*' 'hrnet'
    python benchmarks/model_cost.py --out docs/models/cost.md
    python benchmarks/model_cost.py --models mae_ktsr --threads 2   # the issue-15 targets

Latency depends on the machine and its load; compare rows of one table, not tables. On a
machine shared with other jobs, ``OMP_WAIT_POLICY=PASSIVE`` keeps idle OpenMP threads from
spinning against them (the header says which policy a run used).
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

import ssrzoo
from ssrzoo.models import count_params
from ssrzoo.models._cost import count_flops

REFERENCE = "mst_plus_plus"
# Pattern -> largest allowed FLOPs / MST++ FLOPs. MAE-KTSR is meant to cost at most a third
# of MST++ (issue 5, "lightweight" reconstructor).
FLOPS_BUDGETS = {"mae_ktsr": 1 / 3}
# Model -> (smallest wanted throughput / MST++, smallest wanted share of the plain
# convolution's GFLOP/s), for CPU inference at 512x512 (issue 15).
SPEED_TARGETS = {"mae_ktsr": (4.0, 0.30)}
CONV_CHANNELS = 64


@dataclass
class Row:
    name: str
    params: int
    flops: int | None
    latency_s: float | None
    note: str = ""


def _flops(model: torch.nn.Module, shape: tuple[int, ...]) -> int:
    try:
        return count_flops(model, shape)  # meta device: shapes only, fast
    except Exception:  # forward needs real values (numpy, .item())
        return count_flops(model, shape, device="cpu")


def _latency(model: torch.nn.Module, x: torch.Tensor, warmup: int, repeats: int) -> float:
    times = []
    with torch.inference_mode():
        for i in range(warmup + repeats):
            start = time.perf_counter()
            model(x)
            if i >= warmup:
                times.append(time.perf_counter() - start)
    return statistics.median(times)


def conv_gflops(size: int, warmup: int, repeats: int) -> float:
    """GFLOP/s of a plain ``Conv2d(64, 64, 3, padding=1)`` on ``(1, 64, size, size)``."""
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(CONV_CHANNELS, CONV_CHANNELS, 3, padding=1).eval()
    x = torch.rand(1, CONV_CHANNELS, size, size)
    flops = 2 * CONV_CHANNELS * CONV_CHANNELS * 9 * size * size
    return flops / _latency(conv, x, warmup, repeats) / 1e9


def measure(name: str, size: int, warmup: int, repeats: int) -> Row:
    """Build ``name`` with its default config and measure it at ``size`` x ``size``."""
    torch.manual_seed(0)
    model = ssrzoo.create_model(name).eval()
    params = count_params(model)
    shape = (1, model.pretrained_cfg.in_chans, size, size)
    try:
        flops = _flops(model, shape)
    except Exception as err:  # report it, keep measuring the others
        return Row(name, params, None, None, f"FLOPs failed: {type(err).__name__}: {err}")
    x = torch.rand(shape)
    try:
        latency = _latency(model, x, warmup, repeats)
    except Exception as err:
        return Row(name, params, flops, None, f"forward failed: {type(err).__name__}: {err}")
    return Row(name, params, flops, latency)


def _fmt(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def _gflops_per_s(r: Row) -> float | None:
    return r.flops / r.latency_s / 1e9 if r.flops is not None and r.latency_s else None


def render(rows: list[Row], size: int, threads: int, warmup: int, repeats: int, conv: float) -> str:
    """The Markdown report: a header with the run's settings, then the table."""
    ref = next(r for r in rows if r.name == REFERENCE)
    lines = [
        f"## Model cost at {size}x{size}",
        "",
        f"torch {torch.__version__}, {platform.processor() or platform.machine()}, "
        f"{threads} CPU threads (OMP_WAIT_POLICY {os.environ.get('OMP_WAIT_POLICY', 'unset')}), "
        f"batch 1, median of {repeats} runs after {warmup} warm-up. FLOPs from "
        "torch.utils.flop_counter (2 per multiply-accumulate; papers that use thop/fvcore "
        "report half as many). Ratios are against MST++ measured in this run; a plain "
        f"Conv2d({CONV_CHANNELS}, {CONV_CHANNELS}, 3) ran at {conv:.1f} GFLOP/s on "
        f"(1, {CONV_CHANNELS}, {size}, {size}) in this run.",
        "",
        f"| model | params (M) | GFLOPs @ {size}² | FLOPs / MST++ | CPU latency (ms) "
        "| throughput / MST++ | GFLOP/s | / conv GFLOP/s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        flops_ratio = r.flops / ref.flops if r.flops is not None and ref.flops else None
        speed = ref.latency_s / r.latency_s if r.latency_s and ref.latency_s else None
        latency_ms = r.latency_s * 1e3 if r.latency_s is not None else None
        gflops = r.flops / 1e9 if r.flops is not None else None
        rate = _gflops_per_s(r)
        share = rate / conv if rate is not None else None
        lines.append(
            f"| {r.name}{' (reference)' if r.name == REFERENCE else ''} "
            f"| {r.params / 1e6:.3f} | {_fmt(gflops, '.2f')} | {_fmt(flops_ratio, '.3f')} "
            f"| {_fmt(latency_ms, '.1f')} | {_fmt(speed, '.2f')} | {_fmt(rate, '.1f')} "
            f"| {_fmt(share, '.0%')} |"
        )
    notes = [f"- {r.name}: {r.note}" for r in rows if r.note]
    if notes:
        lines += ["", *notes]
    return "\n".join(lines) + "\n"


def check_budgets(rows: list[Row]) -> list[str]:
    """One line per model with a FLOPs budget; lines starting with FAIL break the budget."""
    ref = next(r for r in rows if r.name == REFERENCE)
    out = []
    for r in rows:
        for pattern, budget in FLOPS_BUDGETS.items():
            if not fnmatch.fnmatchcase(r.name, pattern) or r.flops is None or not ref.flops:
                continue
            ratio = r.flops / ref.flops
            verdict = "ok" if ratio <= budget else "FAIL"
            out.append(f"{verdict}: {r.name} FLOPs / MST++ = {ratio:.3f} (budget {budget:.3f})")
    return out


def check_speed(rows: list[Row], conv: float) -> list[str]:
    """One line per speed target: throughput / MST++ and share of the convolution's GFLOP/s."""
    ref = next(r for r in rows if r.name == REFERENCE)
    out = []
    for r in rows:
        if r.name not in SPEED_TARGETS or not r.latency_s or not ref.latency_s:
            continue
        speed_target, share_target = SPEED_TARGETS[r.name]
        speed = ref.latency_s / r.latency_s
        share = (_gflops_per_s(r) or 0.0) / conv
        for what, value, target, spec in (
            ("throughput / MST++", speed, speed_target, ".2f"),
            ("GFLOP/s / plain conv GFLOP/s", share, share_target, ".0%"),
        ):
            verdict = "ok" if value >= target else "below target"
            out.append(f"{verdict}: {r.name} {what} = {value:{spec}} (target >= {target:{spec}})")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="*", default=["*"], help="fnmatch patterns")
    parser.add_argument("--size", type=int, default=512, help="input side in pixels")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per model")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs per model")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--out", type=Path, default=None, help="also write the table here")
    args = parser.parse_args(argv)

    if args.threads:
        torch.set_num_threads(args.threads)
    names = ssrzoo.list_models(args.models)
    if not names:
        parser.error(f"no model matches {args.models}; `ssrzoo.list_models()` lists them")
    if REFERENCE not in names:
        names.append(REFERENCE)

    rows = []
    for name in names:
        print(f"measuring {name} ...", file=sys.stderr, flush=True)
        rows.append(measure(name, args.size, args.warmup, args.repeats))
    conv = conv_gflops(args.size, args.warmup, args.repeats)
    threads = torch.get_num_threads()
    report = render(rows, args.size, threads, args.warmup, args.repeats, conv)
    checks = check_budgets(rows)
    lines = checks + check_speed(rows, conv)
    if lines:
        report += "\n" + "\n".join(f"- {line}" for line in lines) + "\n"
    print(report)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(report, encoding="utf-8")
    return 1 if any(line.startswith("FAIL") for line in checks) else 0


if __name__ == "__main__":
    sys.exit(main())
