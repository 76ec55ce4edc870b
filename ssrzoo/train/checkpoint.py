"""Training checkpoints: full state as safetensors (tensors) + JSON (everything else).

A checkpoint is a folder ``<run>/checkpoints/step-00001234/`` holding

* ``tensors.safetensors``: every tensor of the state (model, EMA, optimizer moments, RNG
  states, ...), under flat keys such as ``optimizer/state/3/exp_avg``;
* ``state.json``: the rest (step, epoch, learning-rate schedule, scaler, best metric, the
  config) with each tensor replaced by a reference to its key, plus the sha256 of
  ``tensors.safetensors``.

Nothing is pickled, so loading a checkpoint cannot run code. Writing is atomic: the
folder is built under a temporary name, flushed to disk, then renamed, and only then is
``latest.json`` (a pointer, itself replaced atomically) moved to it. A crash, a kill or a
full disk at any moment leaves ``latest.json`` pointing at a complete checkpoint.
``best.json`` points at the checkpoint with the best validation metric; pruning keeps
the ``keep_last`` newest plus that one.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ..exceptions import CheckpointError
from ..models._helpers import file_sha256
from ..models._hub import untie_tensors
from .config import ConfigError

__all__ = [
    "CheckpointManager",
    "config_diff",
    "load_checkpoint",
    "pack_state",
    "resume_state",
    "save_checkpoint",
    "unpack_state",
]

_logger = logging.getLogger(__name__)

TENSORS_NAME = "tensors.safetensors"
STATE_NAME = "state.json"
LATEST_NAME = "latest.json"
BEST_NAME = "best.json"
FORMAT_VERSION = 1
_CKPT_RE = re.compile(r"^step-(\d+)$")


# ------------------------------------------------------------------ (de)serialising
def pack_state(state: Any) -> tuple[Any, dict[str, torch.Tensor]]:
    """Split a nested state into a JSON-ready tree and a flat ``{key: tensor}`` dict.

    Supported leaves: tensors, numpy arrays, ``None``, ``bool``, ``int``, ``float``,
    ``str``; containers: dicts (any str/int keys), lists, tuples. Anything else raises
    ``TypeError`` naming its path, because it could only be stored by pickling.
    """
    tensors: dict[str, torch.Tensor] = {}
    tree = _pack(state, "", tensors)
    return tree, untie_tensors(tensors)


def _pack(obj: Any, path: str, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, torch.Tensor):
        tensors[path] = obj.detach().to("cpu").contiguous()
        return {"__tensor__": path}
    if isinstance(obj, np.ndarray):
        # safetensors has no uint32; int64 holds every numpy RNG word exactly.
        wide = obj.astype(np.int64) if obj.dtype.kind in "iub" else obj
        tensors[path] = torch.from_numpy(np.ascontiguousarray(wide))
        return {"__ndarray__": path, "dtype": obj.dtype.str}
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    if isinstance(obj, Mapping):
        if all(isinstance(k, str) for k in obj) and "__tensor__" not in obj:
            return {k: _pack(v, _join(path, k), tensors) for k, v in obj.items()}
        # int keys (optimizer state) would become strings in JSON; keep them typed.
        items = []
        for k, v in obj.items():
            if not isinstance(k, str | int) or isinstance(k, bool):
                raise TypeError(f"state key {path}/{k!r} is a {type(k).__name__}; use str/int")
            items.append([k, _pack(v, _join(path, k), tensors)])
        return {"__items__": items}
    if isinstance(obj, tuple):
        return {"__tuple__": [_pack(v, _join(path, i), tensors) for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [_pack(v, _join(path, i), tensors) for i, v in enumerate(obj)]
    raise TypeError(
        f"state entry {path or '/'} is a {type(obj).__name__}, which cannot be stored "
        "without pickle; convert it to tensors, numbers, strings, lists or dicts"
    )


def _join(path: str, key: Any) -> str:
    return f"{path}/{key}" if path else str(key)


def unpack_state(tree: Any, tensors: Mapping[str, torch.Tensor]) -> Any:
    """Inverse of :func:`pack_state`."""
    if isinstance(tree, list):
        return [unpack_state(v, tensors) for v in tree]
    if not isinstance(tree, dict):
        return tree
    if "__tensor__" in tree:
        return tensors[tree["__tensor__"]]
    if "__ndarray__" in tree:
        return tensors[tree["__ndarray__"]].numpy().astype(np.dtype(tree["dtype"]))
    if "__tuple__" in tree:
        return tuple(unpack_state(v, tensors) for v in tree["__tuple__"])
    if "__items__" in tree:
        return {k: unpack_state(v, tensors) for k, v in tree["__items__"]}
    return {k: unpack_state(v, tensors) for k, v in tree.items()}


# ------------------------------------------------------------------ one checkpoint
def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # some platforms cannot open folders; the rename is still atomic
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_json_atomic(path: Path, obj: Any) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(obj, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def save_checkpoint(folder: str | Path, state: Mapping[str, Any]) -> Path:
    """Write ``state`` as the checkpoint folder ``folder``, atomically.

    The folder appears complete or not at all; an existing folder of the same name is
    replaced only after the new one is fully written.
    """
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tree, tensors = pack_state(dict(state))
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".tmp-{folder.name}-"))
    try:
        tensors_path = tmp / TENSORS_NAME
        save_file(tensors, str(tensors_path), metadata={"format": "ssrzoo-checkpoint"})
        with open(tensors_path, "rb") as f:
            os.fsync(f.fileno())
        doc = {
            "format": "ssrzoo-checkpoint",
            "format_version": FORMAT_VERSION,
            "tensors_sha256": file_sha256(tensors_path),
            "state": tree,
        }
        with open(tmp / STATE_NAME, "w") as f:
            json.dump(doc, f)
            f.flush()
            os.fsync(f.fileno())
        _fsync_dir(tmp)
        if folder.exists():
            old = folder.with_name(f".old-{folder.name}-{os.getpid()}")
            os.rename(folder, old)
            os.rename(tmp, folder)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, folder)
        _fsync_dir(folder.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def load_checkpoint(folder: str | Path, map_location: str = "cpu") -> dict[str, Any]:
    """Read a checkpoint folder written by :func:`save_checkpoint` (no unpickling).

    Raises:
        CheckpointError: files missing, corrupt, or the tensors fail their sha256.
    """
    folder = Path(folder)
    state_path, tensors_path = folder / STATE_NAME, folder / TENSORS_NAME
    if not state_path.is_file() or not tensors_path.is_file():
        raise CheckpointError(
            f"{str(folder)!r} is not a training checkpoint (needs {STATE_NAME} and "
            f"{TENSORS_NAME}); pass a folder under <run>/checkpoints/"
        )
    try:
        doc = json.loads(state_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{str(state_path)!r} is not valid JSON ({err})") from err
    if doc.get("format") != "ssrzoo-checkpoint":
        raise CheckpointError(f"{str(state_path)!r} is not an ssrzoo training checkpoint")
    if doc.get("format_version", 0) > FORMAT_VERSION:
        raise CheckpointError(
            f"{str(folder)!r} has checkpoint format {doc['format_version']}; "
            f"this ssrzoo reads up to {FORMAT_VERSION}: upgrade ssrzoo"
        )
    if file_sha256(tensors_path) != doc.get("tensors_sha256"):
        raise CheckpointError(
            f"{str(tensors_path)!r} does not match the sha256 in {STATE_NAME}; "
            "the checkpoint is corrupt: resume from an older one"
        )
    try:
        tensors = load_file(str(tensors_path), device=map_location)
    except (SafetensorError, OSError) as err:
        raise CheckpointError(f"{str(tensors_path)!r} is not readable ({err})") from err
    return unpack_state(doc["state"], tensors)


# ------------------------------------------------------------------ a run's folder
class CheckpointManager:
    """The checkpoints of one run: save, prune, and find the latest and the best.

    Args:
        folder: ``<run>/checkpoints``.
        keep_last: newest checkpoints kept besides the best one.
    """

    def __init__(self, folder: str | Path, keep_last: int = 2) -> None:
        self.folder = Path(folder)
        self.keep_last = keep_last

    @staticmethod
    def name_of(step: int) -> str:
        return f"step-{step:08d}"

    def path_of(self, step: int) -> Path:
        return self.folder / self.name_of(step)

    def save(
        self,
        step: int,
        state: Mapping[str, Any],
        *,
        best: Mapping[str, Any] | None = None,
    ) -> Path:
        """Write the checkpoint of ``step``, move ``latest`` (and ``best``), prune.

        Args:
            step: optimizer steps done.
            state: the full training state.
            best: when this checkpoint is the new best, ``{'metric': ..., 'value': ...}``.
        """
        path = save_checkpoint(self.path_of(step), state)
        _write_json_atomic(self.folder / LATEST_NAME, {"name": path.name, "step": step})
        if best is not None:
            self.mark_best(step, best)
        self.prune()
        return path

    def mark_best(self, step: int, best: Mapping[str, Any]) -> None:
        """Point ``best.json`` at the (existing) checkpoint of ``step``."""
        name = self.name_of(step)
        if not (self.folder / name).is_dir():
            raise CheckpointError(f"no checkpoint {name} in {str(self.folder)!r} to mark as best")
        _write_json_atomic(self.folder / BEST_NAME, {**dict(best), "name": name, "step": step})

    def _read_pointer(self, name: str) -> dict[str, Any] | None:
        path = self.folder / name
        if not path.is_file():
            return None
        try:
            doc = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError):
            _logger.warning("ignoring unreadable %s", path)
            return None
        if not (self.folder / str(doc.get("name", ""))).is_dir():
            return None
        return doc

    def latest(self) -> Path | None:
        """The newest complete checkpoint, or ``None``."""
        doc = self._read_pointer(LATEST_NAME)
        if doc is not None:
            return self.folder / doc["name"]
        # No pointer (written by hand, or lost): the newest complete folder.
        done = [p for p in self.complete() if (p / STATE_NAME).is_file()]
        return done[-1] if done else None

    def load_latest(self, map_location: str = "cpu") -> tuple[Path, dict[str, Any]] | None:
        """The newest checkpoint that loads, and its state; ``None`` if there is none.

        A latest checkpoint that cannot be read (a damaged disk, a file edited by hand) is
        skipped with a warning naming it, for the newest one that can: losing a few steps
        beats losing the run.

        Raises:
            CheckpointError: there are checkpoints but none loads; it names each and why.
        """
        latest = self.latest()
        others = [p for p in reversed(self.complete()) if p != latest]
        candidates = ([latest] if latest is not None else []) + others
        failed: list[str] = []
        for path in candidates:
            try:
                state = load_checkpoint(path, map_location)
            except CheckpointError as err:
                failed.append(f"{path.name}: {err}")
                continue
            if failed:
                _logger.warning(
                    "cannot read %s; resuming from %s, the newest readable checkpoint "
                    "(the run continues from there and replaces the newer ones)",
                    "; ".join(failed),
                    path.name,
                )
            return path, state
        if not failed:
            return None
        raise CheckpointError(
            f"none of the {len(failed)} checkpoints in {str(self.folder)!r} can be read "
            f"({'; '.join(failed)}); resume from another run's checkpoint with "
            "resume=<folder>, or start afresh in another out_dir"
        )

    def best(self) -> dict[str, Any] | None:
        """``{'name', 'step', 'metric', 'value', 'path'}`` of the best checkpoint, or ``None``."""
        doc = self._read_pointer(BEST_NAME)
        if doc is None:
            return None
        return {**doc, "path": self.folder / doc["name"]}

    def complete(self) -> list[Path]:
        """Checkpoint folders (temporary ones excluded), oldest first."""
        if not self.folder.is_dir():
            return []
        found = [p for p in self.folder.iterdir() if p.is_dir() and _CKPT_RE.match(p.name)]
        return sorted(found, key=lambda p: int(_CKPT_RE.match(p.name).group(1)))  # type: ignore[union-attr]

    def prune(self) -> None:
        """Delete all but the ``keep_last`` newest, the best, and temporary leftovers."""
        keep = {p.name for p in self.complete()[-self.keep_last :]}
        for pointer in (LATEST_NAME, BEST_NAME):
            doc = self._read_pointer(pointer)
            if doc is not None:
                keep.add(doc["name"])
        for path in self.complete():
            if path.name not in keep:
                shutil.rmtree(path, ignore_errors=True)
        # Leftovers of a write that was killed; only one process writes checkpoints.
        for pattern in (".tmp-step-*", ".old-step-*"):
            for path in self.folder.glob(pattern):
                shutil.rmtree(path, ignore_errors=True)

    def truncate_after(self, step: int) -> None:
        """Remove checkpoints newer than ``step`` (a resumed run rewrites that future)."""
        for path in self.complete():
            match = _CKPT_RE.match(path.name)
            if match and int(match.group(1)) > step:
                shutil.rmtree(path, ignore_errors=True)


def resume_state(
    resume: bool | str, ckpt: CheckpointManager, run_dir: Path
) -> tuple[Path, dict[str, Any]] | None:
    """The checkpoint to resume from and its state (``TrainerConfig.resume``), or None.

    ``resume=true`` or a run folder mean the newest checkpoint that loads (see
    :meth:`CheckpointManager.load_latest`); a checkpoint folder means that one.
    """
    if resume is False:
        latest = ckpt.latest()
        if latest is not None:
            raise ConfigError(
                f"{str(run_dir)!r} already holds checkpoints ({latest.name}); pass "
                "resume=true to continue that run, or choose another out_dir"
            )
        return None
    if resume is True:
        found = ckpt.load_latest()
        if found is None:
            _logger.warning("resume=true but %s holds no checkpoint; starting", run_dir)
        return found
    path = Path(resume).expanduser()
    if (path / "checkpoints").is_dir():  # a run folder: its latest checkpoint
        found = CheckpointManager(path / "checkpoints").load_latest()
        if found is not None:
            return found
    if not (path / "state.json").is_file():
        raise ConfigError(
            f"resume={resume!r} is not a checkpoint folder (<run>/checkpoints/step-*) or "
            "a run folder that holds one"
        )
    return path, load_checkpoint(path, map_location="cpu")


def config_diff(
    a: Mapping[str, Any], b: Mapping[str, Any], ignore: set[str], prefix: str = ""
) -> list[str]:
    """The dotted keys whose values differ between two nested configs (``ignore``: top level)."""
    keys = []
    for key in sorted(set(a) | set(b)):
        if key in ignore:
            continue
        va, vb = a.get(key), b.get(key)
        if isinstance(va, Mapping) and isinstance(vb, Mapping):
            keys += config_diff(va, vb, set(), f"{prefix}{key}.")
        elif va != vb:
            keys.append(prefix + key)
    return keys
