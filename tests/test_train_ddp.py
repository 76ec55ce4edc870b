"""Data-parallel training through the real launcher: ``torchrun -m ssrzoo train`` on 2 CPUs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch
import yaml
from safetensors.torch import load_file
from test_train_toy import NET, ToyCubes, toy_config

import ssrzoo
from ssrzoo.metrics import mrae

TESTS = Path(__file__).resolve().parent


def test_two_process_ddp_ends_with_identical_weights(tmp_path: Path) -> None:
    run = tmp_path / "run"
    val_args = {"n": 7, "seed": 1, "flip": False}  # 7 images: shards of 4 and 3
    raw = toy_config(
        run,
        **{
            "sched.steps": 8,
            "eval_every": 4,
            "optim.accum_steps": 2,  # exercises DDP's no_sync on the first micro-batch
            "ema.enabled": True,
            "data.val.args": val_args,
            "hooks": ["test_train_toy:dump_rank_weights"],
        },
    )
    recipe = tmp_path / "toy.yaml"
    recipe.write_text(yaml.safe_dump(raw))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS), env.get("PYTHONPATH", "")])
    env.update(OMP_NUM_THREADS="1", SSRZOO_NO_PROGRESS="1")
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "ssrzoo",
        "train",
        "--config",
        str(recipe),
    ]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]

    rank0 = load_file(str(run / "rank0.safetensors"))
    rank1 = load_file(str(run / "rank1.safetensors"))
    assert rank0.keys() == rank1.keys()
    for name in rank0:
        assert torch.equal(rank0[name], rank1[name]), name
    torch.manual_seed(0)  # the trainer builds the model right after seeding with cfg.seed
    init = ssrzoo.create_model(NET["name"], **NET["args"]).state_dict()
    assert any(not torch.equal(init[k], rank0[k]) for k in init), "weights never changed"

    # Rank 0 alone logs: each validation step appears once.
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if r["split"] == "val"] == [4, 8]
    # The reduced validation MRAE is the mean over all 7 images, not a mean of rank means.
    exported = ssrzoo.create_model(f"local-dir:{run / 'export'}").eval()
    val = ToyCubes(**val_args)
    with torch.no_grad():
        per_image = [
            float(mrae(exported(s["rgb"][None]), s["hsi"][None]))
            for s in (val[i] for i in range(len(val)))
        ]
    reported = exported.pretrained_cfg.metrics["mrae"]
    assert abs(sum(per_image) / len(per_image) - reported) < 2e-6
