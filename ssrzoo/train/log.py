"""Run logs: ``metrics.jsonl`` (the record), ``metrics.csv``, TensorBoard, ``curves.png``.

Only the main process (rank 0) writes. Each row is one event: a training log
(``split: train``: loss, learning rate, samples/s) or a validation
(``split: val``: one column per metric).
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from .._atomic import atomic_write

__all__ = ["LossWindow", "RunLogger", "progress_bar"]

_logger = logging.getLogger(__name__)


class RunLogger:
    """Append-only metrics log of one run, plus derived CSV and plots.

    Args:
        run_dir: the run folder.
        enabled: write anything at all (``False`` on ranks other than 0).
        tensorboard: also write TensorBoard events under ``<run_dir>/tensorboard``.
    """

    def __init__(self, run_dir: str | Path, *, enabled: bool = True, tensorboard: bool = False):
        self.run_dir = Path(run_dir)
        self.enabled = enabled
        self.jsonl = self.run_dir / "metrics.jsonl"
        self.csv = self.run_dir / "metrics.csv"
        self.png = self.run_dir / "curves.png"
        self.rows: list[dict[str, Any]] = []
        self._tb = None
        if enabled and tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError as err:
                raise RuntimeError(
                    "tensorboard=true needs the tensorboard package: pip install tensorboard "
                    "(or `pip install ssrzoo[train]`), or set tensorboard=false"
                ) from err
            self._tb = SummaryWriter(log_dir=str(self.run_dir / "tensorboard"))

    def resume(self, step: int) -> None:
        """Keep the rows up to ``step``; a killed run may have logged past its checkpoint."""
        if not self.enabled or not self.jsonl.is_file():
            return
        kept = []
        for line in self.jsonl.read_text().splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:  # a line cut short by the kill
                continue
            if row.get("step", 0) <= step:
                kept.append(row)
        self.rows = kept
        self._rewrite(self.jsonl, "".join(json.dumps(r) + "\n" for r in kept))

    def log(self, row: Mapping[str, Any]) -> None:
        if not self.enabled:
            return
        row = {k: _plain(v) for k, v in row.items()}
        self.rows.append(row)
        self.jsonl.parent.mkdir(parents=True, exist_ok=True)
        with open(self.jsonl, "a") as f:
            f.write(json.dumps(row) + "\n")
        if self._tb is not None:
            split = row.get("split", "train")
            for key, value in row.items():
                if key not in ("step", "epoch", "split") and isinstance(value, int | float):
                    self._tb.add_scalar(f"{split}/{key}", value, global_step=row.get("step", 0))
            self._tb.flush()

    def write_csv(self) -> None:
        """Rewrite ``metrics.csv`` from the rows: one column per key ever logged."""
        if not self.enabled or not self.rows:
            return
        columns: list[str] = []
        for row in self.rows:
            columns += [k for k in row if k not in columns]

        def write(path: str) -> None:
            with open(path, "w", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=columns)
                writer.writeheader()
                writer.writerows(self.rows)

        self._atomic(self.csv, write)

    def plot(self, metric: str) -> None:
        """Write ``curves.png``: training loss and the validation ``metric`` against step."""
        if not self.enabled or not self.rows:
            return
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        train = [r for r in self.rows if r.get("split") == "train" and _finite(r.get("loss"))]
        val = [r for r in self.rows if r.get("split") == "val" and _finite(r.get(metric))]
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), constrained_layout=True)
        ax = axes[0]
        if train:
            ax.plot([r["step"] for r in train], [r["loss"] for r in train], lw=1)
            if all(r["loss"] > 0 for r in train):
                ax.set_yscale("log")
        ax.set(xlabel="optimizer step", ylabel="training loss", title="training loss")
        ax.grid(alpha=0.3)
        ax = axes[1]
        if val:
            ax.plot([r["step"] for r in val], [r[metric] for r in val], "o-", ms=3)
        ax.set(xlabel="optimizer step", ylabel=metric, title=f"validation {metric}")
        ax.grid(alpha=0.3)
        self._atomic(self.png, lambda p: fig.savefig(p, dpi=110, format="png"))
        plt.close(fig)

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
            self._tb = None

    def _rewrite(self, path: Path, text: str) -> None:
        self._atomic(path, lambda p: Path(p).write_text(text))

    @staticmethod
    def _atomic(path: Path, write: Any) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, write)


def _plain(value: Any) -> Any:
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    return value


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


class LossWindow:
    """Training loss and throughput accumulated between two log lines."""

    def __init__(self, device: torch.device) -> None:
        self.loss = torch.zeros((), device=device)
        self.parts: dict[str, torch.Tensor] = {}
        self.samples = 0
        self.steps = 0
        self.time = 0.0

    def add(
        self, loss: torch.Tensor, parts: Mapping[str, torch.Tensor], samples: int, accum: int
    ) -> None:
        self.loss += loss.detach() / accum
        for key, value in parts.items():
            if key in self.parts:
                self.parts[key] += value.detach() / accum
            else:
                self.parts[key] = value.detach() / accum
        self.samples += samples

    def end_step(self, seconds: float) -> None:
        self.steps += 1
        self.time += seconds


def progress_bar(total: int, initial: int, enabled: bool, name: str) -> Any:
    """The training progress bar over optimizer steps (off with ``SSRZOO_NO_PROGRESS=1``)."""
    from tqdm.auto import tqdm

    return tqdm(
        total=total,
        initial=initial,
        disable=not enabled or os.environ.get("SSRZOO_NO_PROGRESS") == "1",
        desc=name or "train",
        unit="step",
        dynamic_ncols=True,
    )
