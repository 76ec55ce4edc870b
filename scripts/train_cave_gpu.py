"""Train protocol cave-256-v1 weights on one GPU, in one command, within a time budget.

What a lent GPU machine runs (it has no ``../shared``; ``scripts/pack_cave.py pack`` made the
``.gpu_data`` folder that travels with the checkout):

1. unpack the 24 CAVE scenes and the Nikon D700 response;
2. phase 1, side by side on the one GPU: the S²-MAE priors and every run that needs no prior;
3. when the S²-MAEs have exported (at ``--prior-seconds``), phase 2: the runs that fuse a
   prior, each on the S²-MAE it names;
4. pack each run's export, logs and metrics under ``$OUT``.

``--plan`` picks the runs (``PLANS`` below): ``weights`` trained the bundled baselines and
the first MAE-KTSR; ``prior-search`` is the MAE-KTSR prior ablation of
``docs/results/prior_ablation.md`` (U-shaped vs flat reconstructor, frozen vs fine-tuned
prior, ISFF fusion mode, S²-MAE RGB-only probability).

Every run gets SIGTERM at its deadline, on which the Trainer validates, checkpoints and exports
its best weights, so a budget cut still yields weights; the summary says how many steps each
run made.

    python scripts/train_cave_gpu.py --data .gpu_data --plan prior-search --budget 470

The checkout that travels to a lent GPU machine is limited to 64 MiB: the bundled weights
(``ssrzoo/weights``, about 56 MB) plus the 40 MB pack do not fit, and this script needs no
bundled weight, so move ``ssrzoo/weights`` out of the tree for the call and back after.
Runs write into ``runs/``; only the exports, logs and metrics come back under ``$OUT``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

#: One run: (recipe in recipes/, extra overrides). A phase-2 run names its prior folder.
Run = tuple[str, list[str]]
_RGB_ONLY = ["model.args.rgb_only_prob=0.75", "model.args.drop_path_rate=0.1"]
_LR_1E3 = ["optim.lr=1.0e-3"]
PLANS: dict[str, tuple[dict[str, Run], dict[str, Run]]] = {
    "weights": (
        {
            "s2mae_cave": ("s2mae_cave", []),
            **{
                name: (name, [])
                for name in (
                    "mae_ktsr_cave_noprior",
                    "mst_plus_plus_cave",
                    "hscnn_plus_cave",
                    "awan_cave",
                )
            },
        },
        {
            "mae_ktsr_cave": ("mae_ktsr_cave", []),
            "mae_ktsr_cave_frozen": ("mae_ktsr_cave", ["model.freeze_prior=true"]),
        },
    ),
    "prior-search": (
        {
            "s2mae_cave": ("s2mae_cave", ["eval_every=250"]),
            "s2mae_cave_rgbonly": ("s2mae_cave", ["eval_every=250", *_RGB_ONLY]),
            "mae_ktsr_unet_cave_noprior": ("mae_ktsr_unet_cave_noprior", []),
        },
        {
            "mae_ktsr_unet_cave": ("mae_ktsr_unet_cave", []),
            "mae_ktsr_unet_cave_frozen": ("mae_ktsr_unet_cave", ["model.freeze_prior=true"]),
            "mae_ktsr_unet_cave_concat": ("mae_ktsr_unet_cave", ["model.args.fusion=concat"]),
            "mae_ktsr_unet_cave_rgbonly": (
                "mae_ktsr_unet_cave",
                ["model.prior=runs/s2mae_cave_rgbonly"],
            ),
            "mae_ktsr_unet_cave_rgbonly_frozen": (
                "mae_ktsr_unet_cave",
                ["model.prior=runs/s2mae_cave_rgbonly", "model.freeze_prior=true"],
            ),
            "mae_ktsr_cave_frozen": ("mae_ktsr_cave", ["model.freeze_prior=true"]),
        },
    ),
    # After zero-initialising ISFF: the S²-MAE of prior-search, reused (--reuse).
    "prior-search-2": (
        {},
        {
            "mae_ktsr_cave": ("mae_ktsr_cave", []),
            "mae_ktsr_cave_frozen": ("mae_ktsr_cave", ["model.freeze_prior=true"]),
            "mae_ktsr_cave_concat": ("mae_ktsr_cave", ["model.args.fusion=concat"]),
            "mae_ktsr_cave_noclip": ("mae_ktsr_cave", ["optim.clip_grad=null"]),
            "mae_ktsr_cave_noprior_noclip": ("mae_ktsr_cave_noprior", ["optim.clip_grad=null"]),
            "mae_ktsr_unet_cave": ("mae_ktsr_unet_cave", []),
            "mae_ktsr_unet_cave_frozen": ("mae_ktsr_unet_cave", ["model.freeze_prior=true"]),
        },
    ),
    # Capacity and learning rate at the same 4000 x 16 budget, each with and without the
    # reused S²-MAE (--reuse): can the flat reconstructor reach 25 % below root-poly3 within
    # MAE-KTSR's 59 GFLOPs, and does the prior help a larger one?
    "prior-search-3": (
        {},
        {
            f"mae_ktsr_cave{'' if prior else '_noprior'}_{label}": (
                "mae_ktsr_cave" if prior else "mae_ktsr_cave_noprior",
                [*_LR_1E3, *args],
            )
            for label, args in (
                ("lr1e3", []),
                ("deep_lr1e3", ["model.args.depths=[4,4,4]"]),
                ("wide_lr1e3", ["model.args.dim=44"]),
            )
            for prior in (True, False)
        }
        | {"mae_ktsr_cave_noprior_lr2e3": ("mae_ktsr_cave_noprior", ["optim.lr=2.0e-3"])},
    ),
}


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
    parser.add_argument("--plan", choices=sorted(PLANS), default="prior-search")
    parser.add_argument("--budget", type=float, default=470.0, help="seconds for everything")
    parser.add_argument(
        "--prior-seconds", type=float, default=110.0, help="when the S²-MAEs are stopped"
    )
    parser.add_argument("--reuse", type=Path, default=None, help="run folders to copy in")
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
    for run in sorted(args.reuse.iterdir()) if args.reuse else []:
        shutil.copytree(run, Path("runs") / run.name)  # finished runs, e.g. an S²-MAE
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
    phase1, phase2 = PLANS[args.plan]
    running = {
        name: launch(recipe, [*overrides, *extra], logs, name)
        for name, (recipe, extra) in phase1.items()
    }
    priors = {name: running.pop(name) for name in list(running) if name.startswith("s2mae")}
    stop_at(priors, t0 + args.prior_seconds)
    for name, (recipe, extra) in phase2.items():
        running[name] = launch(recipe, [*overrides, *extra], logs, name)
    stop_at(running, end - 45, grace=40)

    table = [summary(n) for n in [*phase1, *phase2]]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.json").write_text(json.dumps(table, indent=1))
    print(json.dumps(table, indent=1), flush=True)
    # At most 8 files of 16 MB come back: one tar of everything, cut into 15 MB parts.
    with tarfile.open(args.out / "runs.tar", "w") as tar:
        tar.add(logs, arcname="logs")
        for name in [*phase1, *phase2]:
            run = Path("runs") / name
            for item in sorted(run.iterdir()) if run.is_dir() else []:
                if item.name != "checkpoints":
                    tar.add(item, arcname=f"{name}/{item.name}")
    data = (args.out / "runs.tar").read_bytes()
    if len(data) > 15_000_000:
        (args.out / "runs.tar").unlink()
        for i in range(0, len(data), 15_000_000):
            (args.out / f"runs.tar.part{i // 15_000_000}").write_bytes(data[i : i + 15_000_000])
    print(f"done in {time.monotonic() - t0:.0f} s", flush=True)


if __name__ == "__main__":
    main()
