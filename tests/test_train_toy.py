"""An in-memory dataset, tiny model settings and hooks for the trainer tests (no tests here).

Trainer configs name ``test_train_toy:ToyCubes``, also inside the ``python -m ssrzoo train``
and ``torchrun`` subprocesses the tests start (they put this folder on ``PYTHONPATH``).
The models are registered ssrzoo models with tiny arguments: registering toy models here
would leak them into every test that lists the registry.
"""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save_file
from torch.utils.data import Dataset

BANDS = 8
WAVELENGTHS = tuple(float(w) for w in np.linspace(400, 700, BANDS))


#: A tiny MAE-KTSR without prior: a few 3x3 convolutions, milliseconds a step.
NET = {
    "name": "mae_ktsr",
    "args": {"num_bands": BANDS, "dim": 8, "depths": [1], "use_prior": False},
}
#: A tiny S²-MAE; its masks are drawn from the global torch RNG at every step.
MAE = {
    "name": "s2mae",
    "args": {
        "num_bands": BANDS,
        "patch_size": 4,
        "embed_dim": 16,
        "depth": 1,
        "num_heads": 2,
        "window_size": None,
        "decoder_dim": 16,
        "decoder_depth": 1,
        "decoder_heads": 2,
    },
}


def response_matrix() -> np.ndarray:
    """A fixed smooth ``(3, BANDS)`` response: three Gaussian bumps over the bands."""
    x = np.arange(BANDS)
    centres = np.array([0.8, 0.45, 0.15]) * (BANDS - 1)
    m = np.exp(-0.5 * ((x[None, :] - centres[:, None]) / 1.5) ** 2)
    return m / m.sum(axis=1, keepdims=True)


class ToyCubes(Dataset):
    """``n`` smooth random cubes ``(BANDS, size, size)`` with RGB = response @ cube.

    A random flip per sample draws from the global torch RNG (as augmentations do);
    ``delay`` seconds of sleep per sample stand in for slow storage.

    Args:
        n: number of samples.
        size: height and width.
        seed: which cubes (train and validation use different seeds).
        delay: sleep per ``__getitem__`` in seconds.
        flip: apply the random flip.
        root: if given, must exist (to test the missing-data error).
        split: ignored except for its presence in the config.
    """

    def __init__(
        self,
        n: int = 32,
        size: int = 8,
        seed: int = 0,
        delay: float = 0.0,
        flip: bool = True,
        root: str | None = None,
        split: str | None = None,
    ) -> None:
        if root is not None and not Path(root).is_dir():
            from ssrzoo.exceptions import DatasetNotFoundError

            raise DatasetNotFoundError(f"ToyCubes: no data under root={root!r}")
        rng = np.random.default_rng(seed)
        low = rng.uniform(0.1, 0.9, size=(n, 3, 2, 2))
        base = torch.nn.functional.interpolate(
            torch.from_numpy(low).float(), size=(size, size), mode="bilinear"
        )
        mix = torch.from_numpy(rng.uniform(0, 1, size=(BANDS, 3))).float()
        mix = mix / mix.sum(1, keepdim=True)
        self.hsi = torch.einsum("cm,nmhw->nchw", mix, base) + 0.05
        self.response = response_matrix()
        self.rgb = torch.einsum("kc,nchw->nkhw", torch.from_numpy(self.response).float(), self.hsi)
        self.delay = delay
        self.flip = flip
        self.split = split

    def __len__(self) -> int:
        return self.hsi.shape[0]

    def __getitem__(self, index: int) -> dict[str, Any]:
        if self.delay:
            time.sleep(self.delay)
        hsi, rgb = self.hsi[index], self.rgb[index]
        if self.flip and torch.rand(()) < 0.5:
            hsi, rgb = hsi.flip(-1), rgb.flip(-1)
        return {"hsi": hsi, "rgb": rgb, "wavelengths": torch.tensor(WAVELENGTHS)}


def toy_config(out_dir: Path | str, **overrides: Any) -> dict[str, Any]:
    """A complete, fast trainer config dict on the toy model and data.

    ``overrides`` are dotted keys, e.g. ``**{"sched.steps": 4}``.
    """
    cfg: dict[str, Any] = {
        "name": "toy",
        "stage": "reconstruct",
        "out_dir": str(out_dir),
        "device": "cpu",
        "threads": 1,
        "model": copy.deepcopy(NET),
        "data": {
            "train": {"name": "test_train_toy:ToyCubes", "args": {"n": 24, "seed": 0}},
            "val": {"name": "test_train_toy:ToyCubes", "args": {"n": 6, "seed": 1}},
            "batch_size": 4,
            "val_batch_size": 3,
        },
        "optim": {"opt": "adamw", "lr": 3e-3},
        "sched": {"steps": 20, "warmup_steps": 3, "min_lr": 1e-5},
        "eval_every": 5,
        "log_every": 5,
        "keep_last": 2,
        "trusted": True,  # the toy dataset is code outside ssrzoo
    }
    for key, value in overrides.items():
        node = cfg
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = copy.deepcopy(value)
    return cfg


def dump_rank_weights(trainer: Any, event: str) -> None:
    """Hook: at ``train_end`` every rank writes its final weights, to compare them."""
    if event != "train_end":
        return
    state = {k: v.detach().cpu().contiguous() for k, v in trainer.model.state_dict().items()}
    save_file(state, str(Path(trainer.run_dir) / f"rank{trainer.info.rank}.safetensors"))


def stop_after_step_6(trainer: Any, event: str) -> None:
    """Hook: interrupt the run (as Ctrl-C would) once step 6 is validated and saved."""
    if event == "validation_end" and trainer.step == 6:
        raise KeyboardInterrupt


def stop_at_first_validation(trainer: Any, event: str) -> None:
    """Hook: ask the run to stop after its first validation, as SIGTERM would."""
    if event == "validation_end" and trainer.stop_signal is None:
        trainer.stop_signal = "TEST"
