"""GPU inference benchmark of every deep model: latency, memory, tiled throughput, host RSS.

Checks the targets of issue #15 and prints (and with ``--out`` writes) Markdown tables:

1. per model, a batch-1 ``--size`` x ``--size`` forward (default 512): median latency of
   ``--repeats`` timed runs after warm-up (``torch.cuda.synchronize`` around each), in fp32
   and under ``torch.autocast`` bf16; the peak device memory the forward adds
   (``torch.cuda.max_memory_allocated`` after ``reset_peak_memory_stats``, minus what was
   allocated before it: the weights and the input), against the 2 GiB target;
2. per model, ``Reconstructor`` throughput on a ``--tp-size`` square photo (default 2048)
   with ``--tile`` tiles (default 512), ``tile_batch=1`` against ``tile_batch=8``;
3. per model, the peak host RSS (``ru_maxrss``, and ``VmHWM``) of a fresh process that runs
   ``ssrzoo.predict`` on a ``--rss-size`` JPEG (default 4000x3000) on ``--device`` with
   automatic tiling, against the target "output cube + 1 GiB". Linux carries a parent's
   peak RSS over into the children it starts, so these processes are started first, before
   this process imports torch.

The weights are random (``create_model(name, pretrained=False)``): speed and memory do not
depend on their values, and the script needs no weight file, dataset, colour-science,
spectral or pypng. Photos are fed as linear RGB (``source_encoding='linear'``, no camera
correction), which keeps colour-science out; the sRGB decoding it skips is a cheap per-tile
numpy step.

Default models: every deep architecture with a weight for the NTIRE2020 protocol (published
or pending), that is the registry less the closed-form families (``regression``,
``colour_recovery``) and S2-MAE (MAE-KTSR's pretraining stage, not a reconstructor one runs).
Each model is measured in its own ``try``: a failure or an out-of-memory shows as a cell.

    PYTHONPATH=$PWD python3 benchmarks/gpu_predict.py --out $OUT/gpu_predict.md
    python benchmarks/gpu_predict.py --device cpu --size 64 --models mae_ktsr_noprior \
        --rss-size 256x192 --tp-size 256 --tile 128   # a CPU smoke test
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from predict import test_photo  # the same synthetic photo as the CPU benchmark

# torch and ssrzoo are imported inside the functions: see the module docstring (RSS).

GIB = 2**30
ADDED_MEMORY_TARGET = 2 * GIB
CLOSED_FORM_MODULES = ("regression", "colour_recovery")
NOT_RECONSTRUCTORS = ("s2mae",)
PROTOCOL = "ntire2020"
# Linear RGB in, so no sRGB decoding (colour-science) is needed: see the module docstring.
PHOTO_OPTIONS: dict[str, Any] = {"source_encoding": "linear", "camera_correction": False}


# -- run in child processes (no torch in this process yet) ---------------------------------


def list_child(patterns: list[str]) -> None:
    """Print the models to benchmark as JSON (run in a child: listing imports torch)."""
    import ssrzoo

    if patterns:
        names = ssrzoo.list_models(patterns)
        if not names:
            raise SystemExit(f"no model matches {patterns}; `ssrzoo.list_models()` lists them")
    else:
        closed = {n for m in CLOSED_FORM_MODULES for n in ssrzoo.list_models(module=m)}
        names = [
            arch
            for arch in ssrzoo.list_models()
            if arch not in closed
            and arch not in NOT_RECONSTRUCTORS
            and _has_cfg(f"{arch}.{PROTOCOL}")
        ]
    print(json.dumps(names))


def _has_cfg(name: str) -> bool:
    import ssrzoo

    try:
        ssrzoo.get_pretrained_cfg(name)
    except Exception:  # no weight config of that tag
        return False
    return True


def rss_child(model: str, photo_path: str, device: str) -> None:
    """Reconstruct one photo in this fresh process; print its peak RSS as JSON."""
    import ssrzoo

    net = ssrzoo.create_model(model, pretrained=False)
    ready = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
    start = time.perf_counter()
    result = ssrzoo.predict(net, photo_path, device=device, **PHOTO_OPTIONS)
    elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    hwm = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        status = Path("/proc/self/status").read_text()
        hwm = int(status.split("VmHWM:")[1].split()[0]) * 1024
    heavy = sorted({m.split(".")[0] for m in sys.modules} & {"colour", "spectral", "png"})
    print(
        json.dumps(
            {
                "model": model,
                "tile": result.metadata["tile"],
                "seconds": elapsed,
                "rss_model_ready": ready,
                "rss_peak": peak,
                "vm_hwm": hwm,
                "cube_bytes": result.cube.nbytes,
                "heavy_imports": heavy,
            }
        )
    )


def _child(args: list[str]) -> subprocess.Popen[str]:
    command = [sys.executable, str(Path(__file__).resolve()), *args]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _result(proc: subprocess.Popen[str]) -> Any:
    out, err = proc.communicate()
    if proc.returncode != 0:
        lines = err.strip().splitlines()
        oom = any("OutOfMemory" in line or "out of memory" in line for line in lines)
        if oom or proc.returncode in (-9, 137):
            raise MemoryError("OOM")
        raise RuntimeError(f"child failed ({proc.returncode}): {(lines or ['no output'])[-1]}")
    return json.loads(out.strip().splitlines()[-1])


def measure_rss(
    names: list[str], width: int, height: int, device: str, jobs: int
) -> dict[str, dict[str, Any] | str]:
    """Peak RSS per model, ``jobs`` fresh processes at a time (each its own RSS)."""
    from PIL import Image

    results: dict[str, dict[str, Any] | str] = {}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"photo_{width}x{height}.jpg"
        Image.fromarray(test_photo(height, width)).save(path, quality=90)
        pending = list(names)
        running: list[tuple[str, subprocess.Popen[str]]] = []
        while pending or running:
            while pending and len(running) < jobs:
                name = pending.pop(0)
                running.append((name, _child(["--rss-child", name, str(path), device])))
            name, proc = running.pop(0)
            try:
                results[name] = _result(proc)
            except MemoryError:
                results[name] = "OOM"
            except Exception as err:  # one failure must not hide the others' numbers
                results[name] = f"failed: {str(err)[:80]}"
    return results


# -- measured in this process ----------------------------------------------------------------


def _median_seconds(
    fn: Callable[[], Any], sync: Callable[[], None], warmup: int, repeats: int
) -> float:
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_forward(name: str, device: str, size: int, repeats: int) -> dict[str, Any]:
    """Batch-1 latency and added peak memory, fp32 and bf16 autocast."""
    import torch

    import ssrzoo

    dev = torch.device(device)
    cuda = dev.type == "cuda"
    sync = (lambda: torch.cuda.synchronize(dev)) if cuda else (lambda: None)
    before = torch.cuda.memory_allocated(dev) if cuda else 0
    model = ssrzoo.create_model(name, pretrained=False).eval().to(dev)
    row: dict[str, Any] = {
        "weights_bytes": (torch.cuda.memory_allocated(dev) - before) if cuda else None,
        "params": sum(p.numel() for p in model.parameters()),
    }
    x = torch.rand(1, 3, size, size, device=dev)
    for precision, dtype in (("fp32", None), ("bf16", torch.bfloat16)):
        try:

            def forward(dtype: torch.dtype | None = dtype) -> None:
                autocast = torch.autocast(dev.type, dtype=dtype, enabled=dtype is not None)
                with torch.inference_mode(), autocast:
                    model(x)

            if cuda:
                forward()  # the first call picks kernels and fills the caching allocator
                sync()
                torch.cuda.reset_peak_memory_stats(dev)
                base = torch.cuda.memory_allocated(dev)
                forward()
                sync()
                row[f"{precision}_added"] = torch.cuda.max_memory_allocated(dev) - base
            row[f"{precision}_s"] = _median_seconds(forward, sync, 1, repeats)
        except torch.cuda.OutOfMemoryError:
            row[f"{precision}_s"] = row[f"{precision}_added"] = "OOM"
        except Exception as err:
            row[f"{precision}_s"] = f"failed: {type(err).__name__}: {str(err)[:60]}"
        finally:
            if cuda:
                torch.cuda.empty_cache()
    return row


def bench_throughput(
    name: str, device: str, photo: np.ndarray, tile: int, batches: tuple[int, ...], repeats: int
) -> dict[int, float | str]:
    """``Reconstructor`` megapixels per second on ``photo`` with fixed tiles, per tile_batch."""
    import torch

    import ssrzoo
    from ssrzoo.exceptions import InsufficientMemoryError
    from ssrzoo.inference import Reconstructor

    dev = torch.device(device)
    sync = (lambda: torch.cuda.synchronize(dev)) if dev.type == "cuda" else (lambda: None)
    model = ssrzoo.create_model(name, pretrained=False)
    out: dict[int, float | str] = {}
    for batch in batches:
        try:
            rec = Reconstructor(model, device=dev, tile=tile, tile_batch=batch, **PHOTO_OPTIONS)
            seconds = _median_seconds(lambda: rec(photo), sync, 1, repeats)  # noqa: B023
            out[batch] = photo.shape[0] * photo.shape[1] / 1e6 / seconds
        except (torch.cuda.OutOfMemoryError, InsufficientMemoryError):
            out[batch] = "OOM"
        except Exception as err:
            out[batch] = f"failed: {type(err).__name__}: {str(err)[:60]}"
        finally:
            if dev.type == "cuda":
                torch.cuda.empty_cache()
    del model
    return out


# -- report ----------------------------------------------------------------------------------


def _git_commit() -> str:
    try:
        from _report import git_commit  # benchmarks/ is on sys.path when run as a script

        return git_commit()
    except Exception:  # no git, or no repository (a bare copy of the tree)
        return "unknown"


def _cell(value: Any, fmt: Callable[[Any], str]) -> str:
    if value is None:
        return "n/a"
    return value if isinstance(value, str) else fmt(value)


def _mib(value: int) -> str:
    return f"{value / 2**20:,.0f}"


def _verdict(value: Any, limit: float) -> str:
    if isinstance(value, str):
        return "FAIL" if value == "OOM" else "-"
    return "n/a" if value is None else ("PASS" if value <= limit else "FAIL")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda", help="cuda (default), cuda:1, cpu")
    parser.add_argument(
        "--models", nargs="*", default=[], help="fnmatch patterns (default: see doc)"
    )
    parser.add_argument("--size", type=int, default=512, help="forward side in px (512)")
    parser.add_argument("--repeats", type=int, default=5, help="timed forwards (5)")
    parser.add_argument("--tp-size", type=int, default=2048, help="throughput photo side (2048)")
    parser.add_argument("--tile", type=int, default=512, help="throughput tile side (512)")
    parser.add_argument("--tp-repeats", type=int, default=1, help="timed throughput runs (1)")
    parser.add_argument("--rss-size", default="4000x3000", help="WIDTHxHEIGHT of the RSS photo")
    parser.add_argument("--rss-jobs", type=int, default=3, help="RSS processes at a time (3)")
    parser.add_argument("--skip-rss", action="store_true", help="skip the host-RSS table")
    parser.add_argument("--out", default=None, help="also write the tables to this .md file")
    parser.add_argument("--rss-child", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--list-child", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("SSRZOO_NO_PROGRESS", "1")
    if args.rss_child:
        rss_child(*args.rss_child)
        return 0
    if args.list_child is not None:
        list_child(args.list_child)
        return 0

    started = time.perf_counter()
    names: list[str] = _result(_child(["--list-child", *args.models]))
    # While this process is small (no torch yet), run the memory processes: see the docstring.
    rss: dict[str, dict[str, Any] | str] = {}
    if not args.skip_rss:
        width, height = (int(v) for v in args.rss_size.lower().split("x"))
        rss = measure_rss(names, width, height, args.device, args.rss_jobs)
    rss_done = time.perf_counter()

    import torch

    import ssrzoo

    dev = torch.device(args.device)
    if dev.type == "cuda":
        device_name = torch.cuda.get_device_name(dev)
        total = torch.cuda.get_device_properties(dev).total_memory
        device_name += f" ({total / GIB:.0f} GiB)"
    else:
        device_name = (
            f"CPU {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
        )
    lines = [
        "# GPU inference benchmark (`benchmarks/gpu_predict.py`)",
        "",
        f"Device: {device_name}; torch {torch.__version__}; ssrzoo {ssrzoo.__version__}; "
        f"{datetime.datetime.now().isoformat(timespec='seconds')}; commit `{_git_commit()}`.",
        "Random weights (`pretrained=False`): speed and memory do not depend on the weight "
        "values. Photos fed as linear RGB (no sRGB decoding, no camera correction).",
        "",
    ]

    def emit(*new: str) -> None:
        for line in new:
            print(line, flush=True)
        lines.extend(new)

    for line in lines:
        print(line)
    emit(
        f"## Batch-1 {args.size}x{args.size} forward (median of {args.repeats})",
        "",
        "Added memory: peak device memory of the forward minus the weights and input; "
        f"target {ADDED_MEMORY_TARGET / GIB:.0f} GiB"
        + ("" if dev.type == "cuda" else " (measured on CUDA only)")
        + ".",
        "",
        "| model | params M | weights MiB | fp32 ms | bf16 ms | fp32 added MiB | bf16 added MiB "
        "| fp32 ≤ 2 GiB | bf16 ≤ 2 GiB |",
        "|---|---:|---:|---:|---:|---:|---:|---|---|",
    )
    for name in names:
        try:
            row = bench_forward(name, args.device, args.size, args.repeats)
        except torch.cuda.OutOfMemoryError:
            emit(f"| {name} | OOM | | | | | | FAIL | FAIL |")
            continue
        except Exception as err:  # one broken model must not hide the others' numbers
            emit(f"| {name} | failed: {type(err).__name__}: {str(err)[:60]} | | | | | | | |")
            continue
        ms = lambda v: f"{v * 1e3:.1f}"  # noqa: E731
        emit(
            f"| {name} | {row['params'] / 1e6:.2f} | {_cell(row['weights_bytes'], _mib)} "
            f"| {_cell(row['fp32_s'], ms)} | {_cell(row['bf16_s'], ms)} "
            f"| {_cell(row.get('fp32_added'), _mib)} | {_cell(row.get('bf16_added'), _mib)} "
            f"| {_verdict(row.get('fp32_added'), ADDED_MEMORY_TARGET)} "
            f"| {_verdict(row.get('bf16_added'), ADDED_MEMORY_TARGET)} |"
        )
        if dev.type == "cuda":
            torch.cuda.empty_cache()

    forward_done = time.perf_counter()
    batches = (1, 8)
    photo = test_photo(args.tp_size, args.tp_size)
    emit(
        "",
        f"## `Reconstructor` throughput, {args.tp_size}x{args.tp_size} photo, tile "
        f"{args.tile} (MP/s, median of {args.tp_repeats})",
        "",
        "| model | " + " | ".join(f"tile_batch={b}" for b in batches) + " |",
        "|---|" + "---:|" * len(batches),
    )
    for name in names:
        try:
            tp = bench_throughput(name, args.device, photo, args.tile, batches, args.tp_repeats)
            cells = [_cell(tp[b], lambda v: f"{v:.3g}") for b in batches]
        except Exception as err:
            cells = [f"failed: {type(err).__name__}: {str(err)[:60]}"] + [""] * (len(batches) - 1)
        emit(f"| {name} | " + " | ".join(cells) + " |")

    throughput_done = time.perf_counter()
    if rss:
        emit(
            "",
            f"## Host peak RSS of `ssrzoo.predict` on a {args.rss_size} JPEG ({args.device}, "
            "automatic tile, a fresh process each)",
            "",
            "Target: the output cube plus 1 GiB. `ru_maxrss` of the process; VmHWM is the peak "
            "of its own address space.",
            "",
            "| model | tile | s | cube GiB | peak RSS GiB | VmHWM GiB | target GiB | verdict |",
            "|---|---:|---:|---:|---:|---:|---:|---|",
        )
        for name in names:
            res = rss[name]
            if isinstance(res, str):
                emit(f"| {name} | {res} | | | | | | {'FAIL' if res == 'OOM' else '-'} |")
                continue
            target = res["cube_bytes"] + GIB
            hwm = _cell(res["vm_hwm"], lambda v: f"{v / GIB:.2f}")
            emit(
                f"| {name} | {res['tile']} | {res['seconds']:.1f} | {res['cube_bytes'] / GIB:.2f} "
                f"| {res['rss_peak'] / GIB:.2f} | {hwm} | {target / GIB:.2f} "
                f"| {_verdict(res['rss_peak'], target)} |"
            )
    heavy = {m for r in rss.values() if isinstance(r, dict) for m in r["heavy_imports"]}
    heavy |= {m.split(".")[0] for m in sys.modules} & {"colour", "spectral", "png"}
    if heavy:  # the machines this runs on need not have them
        emit("", f"Note: the benchmark imported {', '.join(sorted(heavy))}.")
    emit(
        "",
        f"Run time: {time.perf_counter() - started:.0f} s (listing and RSS processes "
        f"{rss_done - started:.0f} s, forwards {forward_done - rss_done:.0f} s, throughput "
        f"{throughput_done - forward_done:.0f} s).",
    )
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
