"""Train every protocol cave-256-v1 weight on one GPU, in one command, within a time budget.

What a lent GPU machine runs (it has no ``../shared``; ``scripts/pack_cave.py pack`` made the
``.gpu_data`` folder that travels with the checkout):

1. unpack the 24 CAVE scenes and the Nikon D700 response;
2. train, side by side on the one GPU, ``s2mae_cave`` and the baselines
   (``mae_ktsr_cave_noprior``, ``mst_plus_plus_cave``, ``hscnn_plus_cave``, ``awan_cave``);
3. when the S²-MAE has exported, train ``mae_ktsr_cave`` (prior fine-tuned) and the ablation
   ``mae_ktsr_cave_frozen`` (prior frozen) on it;
4. pack each run's export, logs and metrics under ``$OUT``.

Every run gets SIGTERM at its deadline, on which the Trainer validates, checkpoints and exports
its best weights, so a budget cut still yields weights; the summary says how many steps each
run made.

    python scripts/train_cave_gpu.py --data .gpu_data --budget 520

The checkout that travels to a lent GPU machine is limited to 64 MiB: the bundled weights
(``ssrzoo/weights``, about 56 MB) plus the 40 MB pack do not fit, and this script needs no
bundled weight, so move ``ssrzoo/weights`` out of the tree for the call and back after.
Runs write into ``runs/``; only the exports, logs and metrics come back under ``$OUT``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

BASELINES = ["mae_ktsr_cave_noprior", "mst_plus_plus_cave", "hscnn_plus_cave", "awan_cave"]


def launch(
    recipe: str, overrides: list[str], logs: Path, name: str | None = None
) -> subprocess.Popen:
    name = name or recipe
    cmd = [sys.executable, "-m", "ssrzoo", "train", "--config", f"recipes/{recipe}.yaml"]
    cmd += [*overrides, f"name={name}", f"out_dir=runs/{name}"]
    log = (logs / f"{name}.log").open("w")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    print(f"[{time.strftime('%X')}] start {name}: {' '.join(cmd[3:])}", flush=True)
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)


def stop_at(procs: dict[str, subprocess.Popen], deadline: float, grace: float = 60.0) -> None:
    """Wait for the runs; SIGTERM those still going at ``deadline``; SIGKILL after ``grace``."""
    while any(p.poll() is None for p in procs.values()) and time.monotonic() < deadline:
        time.sleep(2)
    for name, p in procs.items():
        if p.poll() is None:
            print(f"[{time.strftime('%X')}] deadline: SIGTERM {name}", flush=True)
            p.send_signal(signal.SIGTERM)
    end = time.monotonic() + grace
    for p in procs.values():
        try:
            p.wait(timeout=max(1.0, end - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()


def summary(name: str) -> dict:
    run = Path("runs") / name
    out: dict = {"name": name, "exported": (run / "export" / "model.safetensors").is_file()}
    metrics = run / "metrics.jsonl"
    if metrics.is_file():
        rows = [json.loads(line) for line in metrics.read_text().splitlines() if line.strip()]
        train = [r for r in rows if r.get("split") == "train"]
        val = [r for r in rows if r.get("split") == "val"]
        out["steps"] = max((r["step"] for r in rows), default=0)
        if train:
            out["samples_per_s"] = round(train[-1].get("samples_per_s", 0.0), 1)
        if val:
            key = "mrae" if "mrae" in val[-1] else "loss"
            out["best_val"] = min(r[key] for r in val)
            out["metric"] = key
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(".gpu_data"))
    parser.add_argument("--budget", type=float, default=520.0, help="seconds for everything")
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "gpu_out")))
    parser.add_argument("--steps", type=int, default=None, help="override sched.steps (tests)")
    parser.add_argument("--device", default="cuda")
    args = parser.parse_args()
    t0 = time.monotonic()
    end = t0 + args.budget
    shared = Path("/tmp/ssrzoo_shared/data").resolve()
    subprocess.run(
        [sys.executable, "scripts/pack_cave.py", "unpack", str(args.data), str(shared)], check=True
    )
    logs = Path("runs/logs")
    logs.mkdir(parents=True, exist_ok=True)
    overrides = [
        f"data.train.root={shared / 'cave_256'}",
        f"data.val.root={shared / 'cave_256'}",
        f"data.train.rgb.response.path={shared / 'responses/nikon_d700_31band.mat'}",
        f"data.val.rgb.response.path={shared / 'responses/nikon_d700_31band.mat'}",
        f"device={args.device}",
        "amp=" + ("bf16" if args.device == "cuda" else "'off'"),
        "threads=2",
    ]
    if args.steps is not None:
        overrides += [f"sched.steps={args.steps}", "sched.warmup_steps=1", "eval_every=2"]
    prior = {"s2mae_cave": launch("s2mae_cave", overrides, logs)}
    baselines = {name: launch(name, overrides, logs) for name in BASELINES}
    # The S²-MAE must leave its stage 2 at least 45 % of the budget.
    stop_at(prior, end - 0.45 * args.budget)
    stage2 = {
        "mae_ktsr_cave": launch("mae_ktsr_cave", overrides, logs),
        "mae_ktsr_cave_frozen": launch(
            "mae_ktsr_cave", [*overrides, "model.freeze_prior=true"], logs, "mae_ktsr_cave_frozen"
        ),
    }
    stop_at({**baselines, **stage2}, end - 60, grace=45)

    table = [summary(n) for n in [*prior, *baselines, *stage2]]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.json").write_text(json.dumps(table, indent=1))
    print(json.dumps(table, indent=1), flush=True)
    # At most 8 files of 16 MB come back: small runs together, the two large ones alone.
    groups = {
        "runs_small.tar": [*prior, "mae_ktsr_cave_noprior", "mst_plus_plus_cave", *stage2],
        "runs_hscnn.tar": ["hscnn_plus_cave"],
        "runs_awan.tar": ["awan_cave"],
    }
    for tar_name, names in groups.items():
        with tarfile.open(args.out / tar_name, "w") as tar:
            tar.add(logs, arcname="logs")
            for name in names:
                run = Path("runs") / name
                for item in sorted(run.iterdir()) if run.is_dir() else []:
                    if item.name != "checkpoints":
                        tar.add(item, arcname=f"{name}/{item.name}")
        size = (args.out / tar_name).stat().st_size
        if size > 15_000_000:  # split what would not come back whole
            data = (args.out / tar_name).read_bytes()
            (args.out / tar_name).unlink()
            for i in range(0, len(data), 15_000_000):
                (args.out / f"{tar_name}.part{i // 15_000_000}").write_bytes(
                    data[i : i + 15_000_000]
                )
    print(f"done in {time.monotonic() - t0:.0f} s", flush=True)


if __name__ == "__main__":
    main()
