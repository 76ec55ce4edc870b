"""Checkpoints: lossless pickle-free round trip, atomic writes, latest/best pointers, pruning."""

from __future__ import annotations

import errno
import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from ssrzoo.exceptions import CheckpointError
from ssrzoo.train import CheckpointManager, load_checkpoint, save_checkpoint
from ssrzoo.train import checkpoint as ckpt_module


def _state() -> dict:
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.LayerNorm(4))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.8, 0.95))
    model(torch.randn(2, 3)).sum().backward()
    opt.step()
    gen = torch.Generator().manual_seed(3)
    return {
        "step": 7,
        "best": {"metric": "mrae", "value": 0.125, "step": 5},
        "nothing": None,
        "model": model.state_dict(),
        "optimizer": opt.state_dict(),  # int keys, tuples, tensors
        "rng": [
            {
                "python": random.Random(1).getstate(),
                "numpy": np.random.RandomState(2).get_state(),  # uint32 words
                "torch": torch.get_rng_state(),
                "loader": gen.get_state(),
            }
        ],
        "ints": torch.arange(5, dtype=torch.int64),
        "half": torch.rand(3, dtype=torch.bfloat16),
    }


def _assert_equal(a: object, b: object, path: str = "") -> None:
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype, path
        assert torch.equal(a, b), path
    elif isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b), path
    elif isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b), path
        for k in a:
            _assert_equal(a[k], b[k], f"{path}/{k}")
    elif isinstance(a, list | tuple):
        assert type(a) is type(b) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_equal(x, y, f"{path}/{i}")
    else:
        assert a == b and type(a) is type(b), path


def test_round_trip_is_exact_and_usable(tmp_path: Path) -> None:
    state = _state()
    folder = save_checkpoint(tmp_path / "step-00000007", state)
    assert sorted(p.name for p in folder.iterdir()) == ["state.json", "tensors.safetensors"]
    back = load_checkpoint(folder)
    _assert_equal(state, back)
    # the restored states drive their generators exactly as the originals do
    r = random.Random()
    r.setstate(back["rng"][0]["python"])
    assert r.random() == random.Random(1).random()
    rs = np.random.RandomState()
    rs.set_state(back["rng"][0]["numpy"])
    assert rs.rand() == np.random.RandomState(2).rand()
    # and the optimizer state loads into a fresh optimizer
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.LayerNorm(4))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    opt.load_state_dict(back["optimizer"])
    assert opt.param_groups[0]["betas"] == (0.8, 0.95)


def test_files_are_plain_json_and_safetensors(tmp_path: Path) -> None:
    state = _state()
    folder = save_checkpoint(tmp_path / "c", state)
    doc = json.loads((folder / "state.json").read_text())  # no pickle anywhere
    tensors = load_file(str(folder / "tensors.safetensors"))
    assert doc["state"]["step"] == 7
    assert doc["state"]["model"]["0.weight"] == {"__tensor__": "model/0.weight"}
    assert torch.equal(tensors["model/0.weight"], state["model"]["0.weight"])
    exp_avg = state["optimizer"]["state"][0]["exp_avg"]
    assert torch.equal(tensors["optimizer/state/0/exp_avg"], exp_avg)


def test_unstorable_objects_are_refused(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"extra/fn .*without pickle"):
        save_checkpoint(tmp_path / "c", {"extra": {"fn": lambda: 1}})
    assert not (tmp_path / "c").exists()
    assert list(tmp_path.iterdir()) == []  # no temporary left behind


def test_corrupt_tensors_are_detected(tmp_path: Path) -> None:
    folder = save_checkpoint(tmp_path / "c", _state())
    data = bytearray((folder / "tensors.safetensors").read_bytes())
    data[-3] ^= 0xFF
    (folder / "tensors.safetensors").write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="sha256"):
        load_checkpoint(folder)
    with pytest.raises(CheckpointError, match="not a training checkpoint"):
        load_checkpoint(tmp_path)


def test_full_disk_never_moves_latest(tmp_path: Path, monkeypatch) -> None:
    manager = CheckpointManager(tmp_path / "checkpoints", keep_last=2)
    manager.save(1, {"step": 1, "w": torch.ones(3)})
    real_save = ckpt_module.save_file

    def full_disk(tensors, filename, metadata=None):
        real_save(tensors, filename, metadata=metadata)  # a file is half there...
        with open(filename, "r+b") as f:
            f.truncate(10)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ckpt_module, "save_file", full_disk)
    with pytest.raises(OSError, match="No space left"):
        manager.save(2, {"step": 2, "w": torch.zeros(3)})
    assert manager.latest() == manager.path_of(1)
    assert [p.name for p in manager.complete()] == ["step-00000001"]
    assert [p.name for p in manager.folder.iterdir() if p.name.startswith(".")] == []
    assert load_checkpoint(manager.latest())["step"] == 1

    def interrupted(tensors, filename, metadata=None):
        raise KeyboardInterrupt

    monkeypatch.setattr(ckpt_module, "save_file", interrupted)
    with pytest.raises(KeyboardInterrupt):
        manager.save(3, {"step": 3})
    assert manager.latest() == manager.path_of(1)


def test_killed_write_leftovers_are_ignored_then_removed(tmp_path: Path) -> None:
    manager = CheckpointManager(tmp_path, keep_last=2)
    manager.save(4, {"step": 4})
    # what a SIGKILL in the middle of writing step 6 leaves behind
    leftover = tmp_path / ".tmp-step-00000006-abc"
    leftover.mkdir()
    (leftover / "tensors.safetensors").write_bytes(b"\x00" * 5)
    assert manager.latest() == manager.path_of(4)
    (tmp_path / "latest.json").unlink()  # even without the pointer
    assert manager.latest() == manager.path_of(4)
    manager.save(6, {"step": 6})
    assert not leftover.exists()
    assert load_checkpoint(manager.latest())["step"] == 6


def test_keeps_last_k_and_the_best(tmp_path: Path) -> None:
    manager = CheckpointManager(tmp_path, keep_last=2)
    manager.save(1, {"step": 1})
    manager.save(2, {"step": 2}, best={"metric": "mrae", "value": 0.1})
    for step in (3, 4, 5):
        manager.save(step, {"step": step})
    assert [p.name for p in manager.complete()] == [
        "step-00000002",
        "step-00000004",
        "step-00000005",
    ]
    best = manager.best()
    assert best is not None and best["step"] == 2 and best["value"] == 0.1
    manager.save(6, {"step": 6}, best={"metric": "mrae", "value": 0.05})
    assert [p.name for p in manager.complete()] == ["step-00000005", "step-00000006"]
    assert manager.best()["path"] == manager.path_of(6)


def test_resaving_a_step_replaces_it_whole(tmp_path: Path) -> None:
    manager = CheckpointManager(tmp_path, keep_last=2)
    manager.save(3, {"step": 3, "w": torch.ones(2)})
    manager.save(3, {"step": 3, "w": torch.full((2,), 2.0)})
    assert torch.equal(load_checkpoint(manager.latest())["w"], torch.full((2,), 2.0))
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_load_latest_skips_an_unreadable_latest(tmp_path: Path, caplog) -> None:
    manager = CheckpointManager(tmp_path, keep_last=3)
    assert manager.load_latest() is None
    for step in (1, 2, 3):
        manager.save(step, {"step": step, "w": torch.full((2,), float(step))})
    (manager.path_of(3) / "tensors.safetensors").write_bytes(b"truncated")
    (manager.path_of(2) / "state.json").write_text("{")
    with caplog.at_level("WARNING", logger="ssrzoo.train.checkpoint"):
        path, state = manager.load_latest()
    assert path == manager.path_of(1) and state["step"] == 1
    assert "step-00000003" in caplog.text and "step-00000002" in caplog.text
    (manager.path_of(1) / "tensors.safetensors").unlink()
    with pytest.raises(CheckpointError, match="none of the 3 checkpoints") as err:
        manager.load_latest()
    assert all(f"step-0000000{i}" in str(err.value) for i in (1, 2, 3))
