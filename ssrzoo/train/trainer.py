"""``Trainer``: one training run from a :class:`TrainerConfig` to an exported weight folder.

The run, in order:

1. import plugins, join the ``torchrun`` process group if any, seed every generator;
2. build the training and validation datasets (a missing dataset fails here, before any
   model is built or any file written) and check one sample of each;
3. build the model (optionally from published weights, a checkpoint, with a prior),
   the timm optimizer, cosine schedule, EMA and AMP scaler; resume if asked;
4. train for ``sched.steps`` optimizer steps, validating every ``eval_every`` steps on the
   validation split (the only data that picks the best weights) and checkpointing;
5. export the best weights with :func:`ssrzoo.save_pretrained`, with a model card that
   records the validation metrics, data, camera response, recipe and git commit.

See ``docs/training.md`` for recipes and the command line.
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import inspect
import logging
import math
import os
import random
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from timm.optim import create_optimizer_v2, param_groups_weight_decay
from timm.scheduler import CosineLRScheduler
from timm.utils import ModelEmaV3, dispatch_clip_grad
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import ConcatDataset, DataLoader, Dataset

from .. import __version__
from ..exceptions import CheckpointError
from ..models import create_model, save_pretrained
from .checkpoint import CheckpointManager, load_checkpoint
from .config import _TRUST_HINT, ConfigError, DatasetConfig, TrainerConfig
from .distributed import (
    DistInfo,
    SeededDataset,
    ShardSampler,
    TrainSampler,
    all_reduce_sums,
    barrier,
    cleanup_distributed,
    gather_objects,
    init_distributed,
)
from .log import RunLogger
from .losses import ReconstructionLoss, reconstruction_metrics

__all__ = ["Trainer", "build_dataset", "build_scheduler"]

_logger = logging.getLogger(__name__)
_EXPORT_DIR = "export"


# ---------------------------------------------------------------------------- builders
def _import_object(spec: str, what: str) -> Any:
    """``"package.module:attr.sub"`` -> the object."""
    module_name, _, attr = spec.partition(":")
    if not attr:
        raise ConfigError(f"{what} {spec!r} must be 'package.module:name'")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as err:
        raise ConfigError(f"{what} {spec!r}: cannot import {module_name!r} ({err})") from err
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ConfigError(f"{what} {spec!r}: {module_name!r} has no {attr!r}")
        obj = getattr(obj, part)
    return obj


def _dataset_factory(name: str, trusted: bool = False) -> Any:
    """What a dataset name calls: a dataset class of :mod:`ssrzoo.data`, a classmethod
    factory of one (``SyntheticScenes.from_shared``), or, when trusted, any
    ``'package.module:Class'``.

    Only those: a free attribute path would reach the modules ssrzoo.data imports
    (``datasets.np.save`` writes any file).
    """
    if ":" in name:
        if not trusted:
            raise ConfigError(f"dataset {name!r} is code outside ssrzoo; {_TRUST_HINT}")
        return _import_object(name, "dataset")
    from .. import data

    datasets = {
        n: obj
        for n in data.__all__
        if isinstance(obj := getattr(data, n), type) and issubclass(obj, Dataset)
    }
    cls_name, _, factory = name.partition(".")
    found: Any = datasets.get(cls_name)
    if found is not None and factory:
        method = getattr(found, factory, None) if factory.isidentifier() else None
        is_factory = inspect.ismethod(method) and method.__self__ is found  # a classmethod
        found = method if is_factory and not factory.startswith("_") else None
    if found is None:
        raise ConfigError(
            f"unknown dataset {name!r}; use one of {sorted(datasets)} (or a Class.factory, "
            "e.g. SyntheticScenes.from_shared), or 'package.module:Class' in a trusted config"
        )
    return found


def build_dataset(spec: DatasetConfig, seed: int = 0, *, trusted: bool = False) -> Dataset:
    """Build a dataset from its config (see :class:`~ssrzoo.train.config.DatasetConfig`).

    The dataset's own checks run here, so a missing dataset raises (the dataset's
    :class:`~ssrzoo.exceptions.DatasetNotFoundError`) before any training starts.

    Args:
        spec: the dataset config.
        seed: default seed of :class:`~ssrzoo.data.RandomPatches`.
        trusted: allow ``'package.module:Class'`` names (code outside ssrzoo), as
            :attr:`TrainerConfig.trusted <ssrzoo.train.TrainerConfig.trusted>` does.
    """
    simulate = None
    if spec.rgb is not None:
        from ..data import SimulateRGB

        rgb = dict(spec.rgb)
        if isinstance(rgb.get("response"), Mapping):
            rgb["response"] = load_response(rgb["response"])
        simulate = SimulateRGB(**rgb)
    if spec.concat:
        dataset: Dataset = ConcatDataset(
            [build_dataset(c, seed, trusted=trusted) for c in spec.concat]
        )
    else:
        kwargs = dict(spec.args)
        if spec.root is not None:
            kwargs["root"] = spec.root
        if spec.split is not None:
            kwargs["split"] = spec.split
        if simulate is not None and spec.patches is None:
            kwargs["transforms"] = simulate
        dataset = _dataset_factory(spec.name, trusted)(**kwargs)
    if spec.patches is not None:
        from ..data import RandomPatches

        dataset = RandomPatches(dataset, **{"seed": seed, **spec.patches, "simulate": simulate})
    dataset.simulate_rgb = simulate  # type: ignore[attr-defined]
    return dataset


def load_response(spec: Mapping[str, Any]) -> Any:
    """A camera response from a file, as a recipe describes it.

    ``{loader: load_nikon_d700, path: responses/nikon_d700_31band.mat}`` calls that
    loader of :mod:`ssrzoo.spectral`; ``camera`` picks one response of a loader that
    returns several (``load_camspec_jiang2013``), ``channels`` selects and orders channels
    (``[R, G, B]`` of the ROSIS B, G, R, NIR response), ``name`` renames it for the card.
    """
    from .. import spectral

    args = dict(spec)
    loader = str(args.pop("loader", ""))
    camera = args.pop("camera", None)
    channels = args.pop("channels", None)
    name = args.pop("name", None)
    fn = getattr(spectral, loader, None) if loader.startswith("load_") else None
    if fn is None:
        loaders = sorted(n for n in dir(spectral) if n.startswith("load_"))
        raise ConfigError(f"rgb.response.loader {loader!r} is not one of {loaders}")
    response = fn(**args)
    if isinstance(response, Mapping):
        if camera not in response:
            raise ConfigError(
                f"rgb.response.camera {camera!r} is not in {loader}'s file; "
                f"choose from {sorted(response)}"
            )
        response = response[camera]
    if channels is not None:
        response = response.select(list(channels))
    if name:
        response.name = str(name)
    return response


def build_scheduler(optimizer: torch.optim.Optimizer, cfg: TrainerConfig) -> CosineLRScheduler:
    """timm cosine schedule in optimizer steps that ends at ``min_lr`` exactly at the last step.

    ``warmup_prefix=True`` puts the warmup before the cosine, so the cosine's half period
    is ``steps - warmup_steps`` and step ``steps`` lands on its end; ``cycle_limit=1``
    holds ``min_lr`` after that instead of restarting.
    """
    s = cfg.sched
    scheduler = CosineLRScheduler(
        optimizer,
        t_initial=s.steps - s.warmup_steps,
        lr_min=s.min_lr,
        warmup_t=s.warmup_steps,
        warmup_lr_init=s.warmup_lr,
        warmup_prefix=True,
        cycle_limit=1,
        t_in_epochs=False,
    )
    scheduler.step_update(num_updates=0)  # the first step's rate, with any lr_scale applied
    return scheduler


def _param_groups(model: nn.Module, cfg: TrainerConfig) -> list[dict[str, Any]]:
    """Optimizer parameter groups of the trainable parameters.

    A model with a prior offers ``param_groups(lr, prior_lr_scale, weight_decay)``
    (:class:`~ssrzoo.models.mae_ktsr.MAEKTSR`): the prior's group gets the lower rate, kept
    as timm's ``lr_scale`` so the ratio holds at every step. Other models get timm's split:
    no weight decay on biases, norms and ``model.no_weight_decay()`` names.
    """
    if callable(getattr(model, "param_groups", None)):
        groups = []
        for group in model.param_groups(
            lr=cfg.optim.lr,
            prior_lr_scale=cfg.model.prior_lr_scale,
            weight_decay=cfg.optim.weight_decay,
        ):
            group = dict(group)
            # A fixed group rate would meet the others at sched.min_lr; as an lr_scale,
            # timm's scheduler keeps the ratio over the whole schedule, floor included.
            scale = float(group.pop("lr", cfg.optim.lr)) / cfg.optim.lr
            if scale != 1.0:
                group["lr_scale"] = scale
            groups.append(group)
        return groups
    return list(
        param_groups_weight_decay(
            model,
            cfg.optim.weight_decay,
            no_weight_decay_list=(
                set(model.no_weight_decay()) if hasattr(model, "no_weight_decay") else ()
            ),
        )
    )


def _git_commit() -> str:
    """``git describe --always --dirty`` of the working copy, else of the package's, else ''."""
    for where in (Path.cwd(), Path(__file__).resolve().parent):
        try:
            out = subprocess.run(
                ["git", "describe", "--always", "--dirty", "--abbrev=40"],
                cwd=where,
                capture_output=True,
                text=True,
                timeout=10,
                check=True,
            )
        except (OSError, subprocess.SubprocessError):
            continue
        if out.stdout.strip():
            return out.stdout.strip()
    return ""


def _first_loss(out: Any) -> torch.Tensor:
    """The loss of a ``forward_loss`` result: a tensor, ``.loss``, ``(loss, ...)``, ``{'loss'}``."""
    if isinstance(out, torch.Tensor):
        return out
    if isinstance(getattr(out, "loss", None), torch.Tensor):
        return out.loss
    if isinstance(out, Mapping) and "loss" in out:
        return out["loss"]
    if isinstance(out, tuple | list) and out and isinstance(out[0], torch.Tensor):
        return out[0]
    raise TypeError(f"forward_loss returned {type(out).__name__}; expected a loss tensor")


class _Objective(nn.Module):
    """The model plus its loss, as one module so DDP sees a single ``forward``.

    Stage ``pretrain`` calls ``model.forward_loss(hsi, rgb)`` (a method DDP would not
    hook if called directly); the other stages run ``model(rgb)`` and the weighted
    reconstruction loss, computed in float32 outside autocast.
    """

    def __init__(self, model: nn.Module, criterion: ReconstructionLoss | None) -> None:
        super().__init__()
        self.model = model
        self.criterion = criterion

    def forward(
        self, rgb: torch.Tensor, hsi: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        if self.criterion is None:
            loss = _first_loss(self.model.forward_loss(hsi, rgb)).float()
            return loss, {}
        pred = self.model(rgb)
        with torch.autocast(device_type=pred.device.type, enabled=False):
            return self.criterion(pred.float(), hsi.float(), rgb.float())


def _collate(samples: list[Mapping[str, Any]]) -> dict[str, torch.Tensor]:
    """Stack only what a step uses, ``hsi`` and ``rgb``.

    Samples of concatenated datasets carry different extra keys (``valid``,
    ``illuminant``, names), which the default collate refuses to mix, and copying them
    would cost time in every step.
    """
    out = {"hsi": torch.stack([s["hsi"] for s in samples])}
    if all("rgb" in s for s in samples):
        out["rgb"] = torch.stack([s["rgb"] for s in samples])
    return out


class _Window:
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


# ---------------------------------------------------------------------------- trainer
class Trainer:
    """Runs one :class:`TrainerConfig`; call :meth:`fit`.

    Under ``torchrun`` every process builds its own ``Trainer`` from the same config;
    rank 0 alone writes logs, checkpoints and the export.

    Example:
        >>> from ssrzoo.train import Trainer, TrainerConfig
        >>> cfg = TrainerConfig.from_yaml("recipes/mae_ktsr_ntire.yaml", ["sched.steps=200"])
        >>> summary = Trainer(cfg).fit()  # doctest: +SKIP
        >>> summary["export_dir"]  # doctest: +SKIP
        'runs/mae_ktsr_ntire/export'
    """

    def __init__(self, cfg: TrainerConfig) -> None:
        cfg.validate()
        self.cfg = cfg
        self.run_dir = cfg.run_dir
        self.step = 0
        self.best: dict[str, Any] | None = None
        self.history: list[dict[str, Any]] = []
        self.info = DistInfo()
        self.device = torch.device("cpu")
        self._last_plot = time.monotonic()
        self.stop_signal: str | None = None  # set by SIGTERM/SIGINT: stop at the next step

    # ------------------------------------------------------------------ setup
    def setup(self) -> None:
        """Everything before the first step; every check that can fail early is here."""
        cfg = self.cfg
        for module in cfg.imports:
            try:
                importlib.import_module(module)
            except ImportError as err:
                raise ConfigError(f"imports: cannot import {module!r} ({err})") from err
        self.hooks: list[Callable[[Trainer, str], Any]] = [
            _import_object(h, "hook") for h in cfg.hooks
        ]
        self.info, self.device = init_distributed(cfg.device)
        if cfg.amp == "fp16" and self.device.type != "cuda":
            raise ConfigError("amp 'fp16' needs a CUDA device; on CPU use amp=bf16 or amp=off")
        if cfg.threads is not None:
            torch.set_num_threads(cfg.threads)
        self.amp_dtype = {"off": None, "bf16": torch.bfloat16, "fp16": torch.float16}[cfg.amp]

        # Data first: a missing or malformed dataset must fail before anything is built.
        self.train_set = build_dataset(cfg.data.train, cfg.seed, trusted=cfg.trusted)
        self.val_set = build_dataset(cfg.data.val, cfg.seed, trusted=cfg.trusted)
        for key, ds in (("data.train", self.train_set), ("data.val", self.val_set)):
            if len(ds) == 0:  # type: ignore[arg-type]
                raise ConfigError(f"{key} is empty; check its root, split and args")
        self.data_info = self._check_samples()
        self._check_protocol()

        self.ckpt = CheckpointManager(self.run_dir / "checkpoints", keep_last=cfg.keep_last)
        resume_from = self._resume_state()

        torch.manual_seed(cfg.seed)  # same initial weights on every rank
        self.model = self._build_model().to(self.device)
        self._check_model_against_data()
        criterion = None
        if cfg.stage != "pretrain":
            criterion = ReconstructionLoss(
                mrae=cfg.loss.mrae,
                l1=cfg.loss.l1,
                sam=cfg.loss.sam,
                bp=cfg.loss.bp,
                response=self.data_info.get("response_matrix"),
                eps=cfg.loss.eps,
            ).to(self.device)
        elif not hasattr(self.model, "forward_loss"):
            raise ConfigError(
                f"stage 'pretrain' needs a model with forward_loss(cube, rgb) (an S²-MAE such "
                f"as s2mae_ntire); {cfg.model.name!r} has none"
            )
        self.objective = _Objective(self.model, criterion)

        groups = [g for g in _param_groups(self.model, cfg) if g["params"]]
        if not groups:
            raise ConfigError(f"{cfg.model.name!r} has no trainable parameters")
        self.optimizer = create_optimizer_v2(
            groups,
            opt=cfg.optim.opt,
            lr=cfg.optim.lr,
            weight_decay=cfg.optim.weight_decay,
            momentum=cfg.optim.momentum,
            **cfg.optim.opt_args,
        )
        self.scheduler = build_scheduler(self.optimizer, cfg)
        self.ema = (
            ModelEmaV3(self.model, decay=cfg.ema.decay, use_warmup=cfg.ema.warmup)
            if cfg.ema.enabled
            else None
        )
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=cfg.amp == "fp16")

        module: nn.Module = self.objective
        if self.info.enabled:
            module = DistributedDataParallel(
                module,
                device_ids=[self.device.index] if self.device.type == "cuda" else None,
                # S²-MAE's RGB-only batches leave the band embeddings without gradients.
                find_unused_parameters=cfg.ddp_find_unused or cfg.stage == "pretrain",
            )
        if cfg.model.compile:
            module = torch.compile(module)  # type: ignore[assignment]
        self.train_module = module

        # Per-rank streams (dropout, MAE masks) differ; the data order is seeded apart.
        self._seed_rng(cfg.seed + self.info.rank)
        self.loader_generator = torch.Generator().manual_seed(cfg.seed + self.info.rank)
        self.sampler = TrainSampler(len(self.train_set), self.info, cfg.seed)  # type: ignore[arg-type]
        self.batches_per_epoch = len(self.sampler.inner) // cfg.data.batch_size
        if cfg.data.device_patches:  # draws any number of patches; an epoch is nominal
            self.batches_per_epoch = max(1, self.batches_per_epoch)
        if self.batches_per_epoch == 0:
            raise ConfigError(
                f"data.batch_size={cfg.data.batch_size} exceeds the "
                f"{len(self.sampler.inner)} training samples per process; lower it"
            )
        workers = cfg.data.num_workers
        self.device_patches = None
        if cfg.data.device_patches:
            from ..data import DevicePatches

            try:
                self.device_patches = DevicePatches.from_patches(
                    self.train_set, device=self.device, seed=cfg.seed + self.info.rank
                )
            except (AttributeError, ValueError) as err:
                raise ConfigError(f"data.device_patches: {err}") from err
            _logger.info("training patches drawn on %s: %r", self.device, self.device_patches)
        self.train_loader = DataLoader(
            SeededDataset(self.train_set),
            batch_size=cfg.data.batch_size,
            sampler=self.sampler,
            drop_last=True,
            num_workers=0 if self.device_patches is not None else workers,
            pin_memory=cfg.data.pin_memory,
            persistent_workers=workers > 0 and self.device_patches is None,
            generator=self.loader_generator,
            collate_fn=_collate,
        )
        self.val_loader = DataLoader(
            SeededDataset(self.val_set),
            batch_size=cfg.data.val_batch_size,
            sampler=ShardSampler(len(self.val_set), self.info, cfg.seed),  # type: ignore[arg-type]
            num_workers=workers,
            pin_memory=cfg.data.pin_memory,
            collate_fn=_collate,
        )

        self.logger = RunLogger(
            self.run_dir, enabled=self.info.is_main, tensorboard=cfg.tensorboard
        )
        if self.info.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            (self.run_dir / "config.yaml").write_text(cfg.to_yaml())
        if resume_from is not None:
            self._load_state(*resume_from)
        self._call_hooks("train_start")

    def _check_samples(self) -> dict[str, Any]:
        """Read one sample of each split; check keys, shapes and band grids agree."""
        need = ("hsi", "rgb")  # S²-MAE pretraining is conditioned on the RGB too
        found: dict[str, Any] = {}
        for key, ds in (("data.train", self.train_set), ("data.val", self.val_set)):
            sample = ds[0]
            if not isinstance(sample, Mapping):
                raise ConfigError(f"{key} samples must be dicts, got {type(sample).__name__}")
            missing = [k for k in need if k not in sample]
            if missing:
                raise ConfigError(
                    f"{key} samples have no {missing} (keys: {sorted(sample)}); stage "
                    f"{self.cfg.stage!r} needs {list(need)}"
                )
            hsi = sample["hsi"]
            if not (isinstance(hsi, torch.Tensor) and hsi.ndim == 3):
                raise ConfigError(f"{key} 'hsi' must be a (C, H, W) tensor, got {_describe(hsi)}")
            wl = sample.get("wavelengths")
            wl = tuple(float(w) for w in wl) if wl is not None else ()
            if "bands" in found and hsi.shape[0] != found["bands"]:
                raise ConfigError(
                    f"data.train has {found['bands']} bands, data.val {hsi.shape[0]}; "
                    "validate on the same band grid"
                )
            if found.get("wavelengths") and wl and not np.allclose(wl, found["wavelengths"]):
                raise ConfigError("data.train and data.val have different wavelengths")
            found.setdefault("bands", int(hsi.shape[0]))
            found.setdefault("wavelengths", wl)
        found.update(_describe_data(self.train_set, self.val_set, self.cfg))
        found["response_matrix"] = _response_matrix(self.train_set, found["wavelengths"])
        found["response_name"] = _response_name(self.train_set)
        return found

    def _check_protocol(self) -> None:
        """``card.protocol`` must describe this run's data: its bands and its camera."""
        name = self.cfg.card.get("protocol")
        if not name:
            return
        from ..models._protocols import PROTOCOLS

        if name not in PROTOCOLS:
            raise ConfigError(f"card.protocol {name!r} is not one of {sorted(PROTOCOLS)}")
        protocol, info = PROTOCOLS[name], self.data_info
        camera = info.get("response_name")
        if protocol["num_bands"] != info["bands"] or (
            camera and camera != protocol["response_name"]
        ):
            raise ConfigError(
                f"card.protocol {name!r} is {protocol['num_bands']} bands through "
                f"{protocol['response_name']!r}, but this run's data is {info['bands']} bands "
                f"through {camera!r}; fix card.protocol or leave it out"
            )

    def _build_model(self) -> nn.Module:
        cfg = self.cfg.model
        weights = None
        checkpoint = None
        if cfg.checkpoint:
            checkpoint, weights = _start_weights(cfg.checkpoint)
        model = create_model(
            cfg.name,
            pretrained=cfg.pretrained and not cfg.checkpoint,
            checkpoint_path=checkpoint,
            **cfg.args,
        )
        if weights is not None:
            try:
                model.load_state_dict(weights)
            except RuntimeError as err:
                raise CheckpointError(
                    f"model.checkpoint {cfg.checkpoint!r} does not fit {cfg.name!r} "
                    f"({str(err).splitlines()[0]}); use the architecture it was trained with"
                ) from err
        if cfg.prior:
            if not hasattr(model, "load_prior"):
                raise ConfigError(
                    f"model.prior given but {cfg.name!r} has no load_prior(); priors are for "
                    "models such as mae_ktsr"
                )
            model.load_prior(_prior_source(cfg.prior))
        if getattr(model, "prior", None) is not None and hasattr(model, "set_prior_trainable"):
            learned = bool(cfg.prior or cfg.pretrained or cfg.checkpoint)
            if cfg.freeze_prior and not learned:
                _logger.warning(
                    "%s: the prior is frozen but holds no learned weights; pass model.prior "
                    "(an S²-MAE) or set model.freeze_prior=false to train it",
                    cfg.name,
                )
            model.set_prior_trainable(not cfg.freeze_prior)
        return model

    def _check_model_against_data(self) -> None:
        pcfg = getattr(self.model, "pretrained_cfg", None)
        bands = self.data_info["bands"]
        if pcfg is None:
            return
        if pcfg.num_bands != bands:
            raise ConfigError(
                f"{self.cfg.model.name!r} outputs {pcfg.num_bands} bands but the data has "
                f"{bands}; pick the matching variant or set model.args.num_bands={bands}"
            )
        wl = self.data_info["wavelengths"]
        if pcfg.wavelengths and wl and not np.allclose(pcfg.wavelengths, wl, atol=0.5):
            raise ConfigError(
                f"{self.cfg.model.name!r} is for bands {pcfg.wavelengths[0]:g}-"
                f"{pcfg.wavelengths[-1]:g} nm, the data is {wl[0]:g}-{wl[-1]:g} nm; "
                "use the variant of that grid or resample the data"
            )

    def _resume_state(self) -> tuple[Path, dict[str, Any]] | None:
        """The checkpoint to resume from and its state, read before anything is built.

        ``resume=true`` or a run folder mean the newest checkpoint that loads (see
        :meth:`CheckpointManager.load_latest`); a checkpoint folder means that one.
        """
        resume = self.cfg.resume
        if resume is False:
            latest = self.ckpt.latest()
            if latest is not None:
                raise ConfigError(
                    f"{str(self.run_dir)!r} already holds checkpoints ({latest.name}); pass "
                    "resume=true to continue that run, or choose another out_dir"
                )
            return None
        if resume is True:
            found = self.ckpt.load_latest()
            if found is None:
                _logger.warning("resume=true but %s holds no checkpoint; starting", self.run_dir)
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

    # ------------------------------------------------------------------ state
    @staticmethod
    def _seed_rng(seed: int) -> None:
        random.seed(seed)
        np.random.seed(seed % (1 << 32))
        torch.manual_seed(seed)

    def _rng_state(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            "python": random.getstate(),
            "numpy": np.random.get_state(),
            "torch": torch.get_rng_state(),
            "loader": self.loader_generator.get_state(),
        }
        if torch.cuda.is_available() and self.device.type == "cuda":
            state["cuda"] = torch.cuda.get_rng_state(self.device)
        if self.device_patches is not None:
            state["device_patches"] = self.device_patches.state_dict()["generator"]
        return state

    def _set_rng_state(self, state: Mapping[str, Any]) -> None:
        random.setstate(state["python"])
        np.random.set_state(state["numpy"])
        torch.set_rng_state(state["torch"])
        self.loader_generator.set_state(state["loader"])
        if "cuda" in state and self.device.type == "cuda":
            torch.cuda.set_rng_state(state["cuda"], self.device)
        if self.device_patches is not None and "device_patches" in state:
            self.device_patches.load_state_dict({"generator": state["device_patches"]})

    def state_dict(self) -> dict[str, Any]:
        """The full training state; collective under DDP (gathers every rank's RNG)."""
        rng = gather_objects(self._rng_state())
        return {
            "step": self.step,
            "epoch": self.step * self.cfg.optim.accum_steps // self.batches_per_epoch,
            "world_size": self.info.world_size,
            "model": self.model.state_dict(),
            "ema": self.ema.module.state_dict() if self.ema is not None else None,
            "eval_weights": "ema" if self.ema is not None else "model",
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "rng": rng,
            "best": self.best,
            "config": self.cfg.to_dict(),
            "ssrzoo_version": __version__,
        }

    def _load_state(self, path: Path, state: Mapping[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        if self.ema is not None:
            if state.get("ema") is None:
                raise CheckpointError(
                    f"{str(path)!r} has no EMA weights; resume with ema.enabled=false"
                )
            self.ema.module.load_state_dict(state["ema"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        self.step = int(state["step"])
        self.best = state.get("best")
        rng = state["rng"]
        if state.get("world_size") == self.info.world_size and len(rng) == self.info.world_size:
            self._set_rng_state(rng[self.info.rank])
        else:
            _logger.warning(
                "checkpoint was written by %s processes, this run has %s: random streams "
                "are reseeded, so the run continues but not bit-exactly",
                state.get("world_size"),
                self.info.world_size,
            )
            self._seed_rng(self.cfg.seed + self.info.rank + self.step)
        changed = _diff(state.get("config", {}), self.cfg.to_dict(), ignore={"resume", "trusted"})
        if changed:
            _logger.warning("config differs from the checkpoint's in %s", changed)
        if self.info.is_main:
            if path.parent.resolve() == self.ckpt.folder.resolve():
                self.ckpt.truncate_after(self.step)
            self.logger.resume(self.step)
        if self.best is not None:
            # Resuming an older checkpoint drops the later ones; the best as of this step
            # may since have been pruned, and then selection starts afresh.
            if self.ckpt.path_of(self.best["step"]).is_dir():
                if self.info.is_main:
                    self.ckpt.mark_best(self.best["step"], self.best)
            else:
                _logger.warning(
                    "the best checkpoint (step %s) no longer exists; best weights are "
                    "selected again from step %s on",
                    self.best["step"],
                    self.step,
                )
                self.best = None
        _logger.info("resumed from %s at step %d", path, self.step)

    def _save(self, best: Mapping[str, Any] | None = None) -> None:
        state = self.state_dict()  # collective: every rank takes part
        if self.info.is_main:
            self.ckpt.save(self.step, state, best=best)

    # ------------------------------------------------------------------ loop
    def _batches(self) -> Iterator[dict[str, Any]]:
        """Training batches forever, continuing mid-epoch at the resumed position."""
        if self.device_patches is not None:  # its generator state resumes it
            while True:
                yield self.device_patches.sample(self.cfg.data.batch_size)
        micro = self.step * self.cfg.optim.accum_steps
        epoch, position = divmod(micro, self.batches_per_epoch)
        skip = position * self.cfg.data.batch_size
        while True:
            self.sampler.set_epoch(epoch, skip=skip)
            yield from self.train_loader
            epoch, skip = epoch + 1, 0

    def _to_device(self, batch: Mapping[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        nb = self.device.type == "cuda"
        hsi = batch["hsi"].to(self.device, non_blocking=nb)
        rgb = batch.get("rgb")
        rgb = rgb.to(self.device, non_blocking=nb) if rgb is not None else None
        return rgb, hsi  # type: ignore[return-value]

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    def fit(self) -> dict[str, Any]:
        """Train, validate, checkpoint and export; returns a summary dict.

        Returns:
            ``{'step', 'best': {'metric', 'value', 'step'}, 'export_dir', 'run_dir', 'stopped_by'}``
            (``stopped_by``: the signal that ended training early, or None).
        """
        try:
            with self._graceful_stop():
                self.setup()
                self._loop()
                return self._finish()
        finally:
            # An error leaves the bar open; closed here, it is drawn before the error message.
            for closing in (getattr(self, "_bar", None), getattr(self, "logger", None)):
                if closing is not None:
                    closing.close()
            cleanup_distributed()

    @contextlib.contextmanager
    def _graceful_stop(self) -> Iterator[None]:
        """SIGTERM or SIGINT (a ``timeout``, a scheduler, Ctrl-C) ends training at the next step:
        the run validates, checkpoints and exports its best weights, then returns. A second
        Ctrl-C aborts at once."""
        if threading.current_thread() is not threading.main_thread():
            yield  # signal handlers can only be set from the main thread
            return

        def request_stop(signum: int, frame: Any) -> None:
            if self.stop_signal is not None and signum == signal.SIGINT:
                raise KeyboardInterrupt
            self.stop_signal = signal.Signals(signum).name
            _logger.warning(
                "%s received: stopping after this step, then saving and exporting",
                self.stop_signal,
            )

        previous = {
            sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)
        }
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _should_stop(self) -> bool:
        """Whether a stop was asked for, agreed by every process (they must stop together)."""
        flag = float(self.stop_signal is not None)
        if self.info.enabled:
            flag = all_reduce_sums({"stop": flag}, self.device)["stop"]
        return flag > 0

    def _loop(self) -> None:
        cfg = self.cfg
        total, accum = cfg.sched.steps, cfg.optim.accum_steps
        eval_every = cfg.eval_every
        ckpt_every = cfg.checkpoint_every or eval_every
        if cfg.eval_at_start and self.step == 0:
            self._validate_and_save(checkpoint=False)
        if self.step >= total or self._should_stop():
            return
        progress = self._bar = _progress(total, self.step, self.info.is_main, cfg.name)
        params = [p for p in self.model.parameters() if p.requires_grad]
        no_sync = getattr(self.train_module, "no_sync", None) if self.info.enabled else None
        batches = self._batches()
        # Logged values stay on the device between logs: no host sync in the hot loop.
        window = _Window(self.device)
        self.train_module.train()
        while self.step < total:
            t_step = time.perf_counter()
            for micro in range(accum):
                rgb, hsi = self._to_device(next(batches))
                skip_sync = no_sync is not None and micro < accum - 1
                with no_sync() if skip_sync else contextlib.nullcontext():  # type: ignore[misc]
                    with self._autocast():
                        loss, parts = self.train_module(rgb, hsi)
                    self.scaler.scale(loss / accum).backward()
                window.add(loss, parts, hsi.shape[0], accum)
            if cfg.optim.clip_grad is not None:
                self.scaler.unscale_(self.optimizer)
                dispatch_clip_grad(params, cfg.optim.clip_grad, mode="norm")
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.optimizer.zero_grad(set_to_none=True)
            self.step += 1
            self.scheduler.step_update(num_updates=self.step)
            if self.ema is not None:
                self.ema.update(self.model, step=self.step)
            window.end_step(time.perf_counter() - t_step)
            progress.update(1)

            if self.step % cfg.log_every == 0 or self.step == total:
                row = self._train_row(window)
                progress.set_postfix(loss=f"{row['loss']:.4g}", lr=f"{row['lr']:.2e}")
                window = _Window(self.device)
            stop = self._should_stop()
            if self.step % eval_every == 0 or self.step == total or stop:
                self._validate_and_save(checkpoint=True)
                self.train_module.train()
            elif self.step % ckpt_every == 0:
                self._save()
            if stop:
                _logger.warning(
                    "stopped by %s at step %d of %d", self.stop_signal, self.step, total
                )
                break
        progress.close()

    def _train_row(self, window: _Window) -> dict[str, Any]:
        """Log the window's mean loss (over steps and processes) and throughput."""
        sums = {f"loss_{k}": float(v) for k, v in window.parts.items()}
        sums.update(loss=float(window.loss), samples=float(window.samples), time=window.time)
        sums = all_reduce_sums(sums, self.device)
        denom = window.steps * self.info.world_size
        loss = sums.pop("loss") / denom
        if not math.isfinite(loss):
            raise FloatingPointError(
                f"training loss is {loss} at step {self.step}; lower optim.lr, enable "
                "optim.clip_grad or check the data for NaN"
            )
        # Samples of all processes over the mean step time of a process (time excludes
        # validation and checkpoints).
        seconds = sums.pop("time") / self.info.world_size
        row = {
            "step": self.step,
            "epoch": self.step * self.cfg.optim.accum_steps / self.batches_per_epoch,
            "split": "train",
            "loss": loss,
            "lr": self._base_lr(),
            "samples_per_s": sums.pop("samples") / max(seconds, 1e-9),
        }
        row.update({k: v / denom for k, v in sums.items()})
        self.logger.log(row)
        return row

    def _base_lr(self) -> float:
        """The learning rate of the groups that follow ``optim.lr`` (not a scaled prior)."""
        groups = self.optimizer.param_groups
        plain = [g for g in groups if "lr_scale" not in g]
        return float((plain or groups)[0]["lr"])

    # ------------------------------------------------------------------ validation
    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """Metrics on the validation split, averaged per sample over all processes.

        Uses the EMA weights when EMA is on. Random parts of the model (S²-MAE masks)
        draw from a fixed seed, so values are comparable across steps, and the training
        random streams are left untouched.
        """
        model = self.ema.module if self.ema is not None else self.model
        was_training = model.training
        model.eval()
        sums: dict[str, float] = {}
        count = 0
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(self.cfg.seed)
            for batch in self.val_loader:
                rgb, hsi = self._to_device(batch)
                with self._autocast():
                    if self.cfg.stage == "pretrain":
                        values = {"loss": _first_loss(model.forward_loss(hsi, rgb)).float()}
                        values = {k: v * hsi.shape[0] for k, v in values.items()}
                    else:
                        pred = model(rgb)
                with torch.autocast(device_type=self.device.type, enabled=False):
                    if self.cfg.stage != "pretrain":
                        values = reconstruction_metrics(
                            pred.float(),
                            hsi.float(),
                            self.objective.criterion.response,
                            eps=self.cfg.metric_eps,
                            mask=self.cfg.metric_mask,
                        )
                for key, value in values.items():
                    sums[key] = sums.get(key, 0.0) + float(value)
                count += hsi.shape[0]
        model.train(was_training)
        sums["_count"] = float(count)
        sums = all_reduce_sums(sums, self.device)
        count_all = sums.pop("_count")
        return {k: v / count_all for k, v in sums.items()}

    def _validate_and_save(self, checkpoint: bool) -> dict[str, float]:
        metrics = self.validate()
        name = self.cfg.metric
        if name not in metrics:
            raise ConfigError(
                f"select_metric {name!r} is not computed; validation gives {sorted(metrics)}"
            )
        value = metrics[name]
        better = self.best is None or (
            value < self.best["value"]
            if self.cfg.select_mode == "min"
            else value > self.best["value"]
        )
        new_best = None
        if better and math.isfinite(value) and checkpoint:
            new_best = {"metric": name, "value": value, "step": self.step, "metrics": metrics}
            self.best = new_best
        row = {"step": self.step, "split": "val", **metrics, "best": new_best is not None}
        self.logger.log(row)
        self.history.append(row)
        if checkpoint:
            self._save(best=new_best)
        self.logger.write_csv()
        # Plotting costs ~1 s; refresh the curves at most once a minute and at the end.
        if self.step >= self.cfg.sched.steps or time.monotonic() - self._last_plot > 60:
            self.logger.plot(name)
            self._last_plot = time.monotonic()
        if self.info.is_main:
            _logger.info("step %d validation %s", self.step, _fmt(metrics))
        self._call_hooks("validation_end")
        return metrics

    # ------------------------------------------------------------------ the end
    def _finish(self) -> dict[str, Any]:
        export_dir = None
        if self.cfg.export and self.info.is_main:
            if self.ckpt.best() is not None:
                export_dir = self.export()
            elif self.stop_signal is None:
                raise CheckpointError(f"no best checkpoint in {str(self.ckpt.folder)!r} to export")
            else:
                _logger.warning("stopped before the first validation: nothing to export")
        barrier()
        self._call_hooks("train_end")
        return {
            "step": self.step,
            "best": self.best,
            "run_dir": str(self.run_dir),
            "export_dir": str(export_dir) if export_dir else None,
            "stopped_by": self.stop_signal,
        }

    def export(self, folder: str | Path | None = None) -> Path:
        """Write the best checkpoint's evaluated weights with :func:`ssrzoo.save_pretrained`.

        The folder loads with ``create_model('local-dir:<folder>')``; its model card holds
        the validation metrics, training data, camera response, recipe and git commit.
        """
        best = self.ckpt.best()
        if best is None:
            raise CheckpointError(f"no best checkpoint in {str(self.ckpt.folder)!r} to export")
        state = load_checkpoint(best["path"])
        weights = state["ema"] if state.get("eval_weights") == "ema" else state["model"]
        model = copy.deepcopy(self.model).cpu()
        model.load_state_dict(weights)
        model.eval()
        pcfg = self._export_cfg(state["best"])
        out = Path(folder) if folder is not None else self.run_dir / _EXPORT_DIR
        save_pretrained(model, out, pretrained_cfg=pcfg)
        _logger.info("exported best weights (step %d) to %s", best["step"], out)
        return out

    def _export_cfg(self, best: Mapping[str, Any]) -> Any:
        cfg, info = self.cfg, self.data_info
        pcfg = self.model.pretrained_cfg
        card = cfg.card
        metrics = {k: round(float(v), 6) for k, v in best["metrics"].items()}
        updates: dict[str, Any] = {
            # A new weight: not the registry's published file, repo or training data.
            "hf_hub_id": None,
            "hf_hub_revision": None,
            "storage_dtype": None,  # trained weights are saved as trained, not as loaded
            "datasets": tuple(card.get("datasets", ())),
            "metrics": metrics,
            "metrics_dataset": f"validation split: {info['val_desc']}",
            "dataset": card.get("dataset") or info["train_desc"],
            "recipe": cfg.name,
            "num_bands": info["bands"],
        }
        if info.get("wavelengths"):
            data_wl = info["wavelengths"]
            # the data's grid went through float32 tensors: keep the model's exact centres
            # when they are the same grid
            same = len(data_wl) == len(pcfg.wavelengths) and all(
                abs(a - b) < 1e-3 for a, b in zip(data_wl, pcfg.wavelengths, strict=True)
            )
            updates["wavelengths"] = tuple(pcfg.wavelengths) if same else data_wl
            if pcfg.fwhm is not None and len(pcfg.fwhm) != info["bands"]:
                updates["fwhm"] = None
        if info.get("response_matrix") is not None:
            updates["response"] = info["response_matrix"].tolist()
            updates["response_name"] = info.get("response_name")
        updates.update(_protocol_card_fields(card, info))
        updates.update({k: card[k] for k in ("license", "paper", "doi") if k in card})
        commit = _git_commit()
        notes = [
            f"Trained with ssrzoo {__version__} `Trainer`, stage {cfg.stage!r}, recipe "
            f"`recipes/{cfg.name}.yaml`, {self.step} optimizer steps on "
            f"{self.info.world_size} process(es); best validation {best['metric']} at step "
            f"{best['step']}{' (EMA weights)' if self.ema is not None else ''}.",
            f"Git commit: {commit or 'unknown'}.",
        ]
        if card.get("notes"):
            notes.insert(0, str(card["notes"]))
        updates["notes"] = "\n\n".join(notes)
        return pcfg.replace(**updates)

    def _call_hooks(self, event: str) -> None:
        for hook in self.hooks:
            hook(self, event)


# ---------------------------------------------------------------------------- helpers
def _protocol_card_fields(card: Mapping[str, Any], info: Mapping[str, Any]) -> dict[str, Any]:
    """The card fields that describe the input and output, from the run and nothing else.

    The architecture's registry cfg describes *its* published weight (an ``mae_ktsr_ntire``
    built for a CAVE run says "NTIRE2020 Clean ... CIE 1964"), so none of these fields is
    inherited: with ``card.protocol`` they are that protocol's (checked against the run's
    camera), without it they are left empty and ``tag`` is ``card.tag`` or empty.
    """
    from ..models._protocols import PROTOCOLS

    simulated = info.get("response_matrix") is not None
    fields: dict[str, Any] = {
        "tag": str(card.get("tag", "")),
        "input_note": "",
        "output_units": "",
        "input_encoding": "linear" if simulated else "srgb",
    }
    name = card.get("protocol")
    if name:
        protocol = PROTOCOLS[str(name)]
        fields.update(
            tag=str(card.get("tag", name)),
            input_note=protocol["input_note"],
            output_units=protocol["output_units"],
            input_encoding=protocol["input_encoding"],
        )
    return fields


def _start_weights(
    path: str, key: str = "model.checkpoint"
) -> tuple[Path | None, dict[str, torch.Tensor] | None]:
    """Starting weights from a weight file, a model folder, a run folder or a checkpoint.

    Returns ``(file, None)`` for a file :func:`create_model` loads, or ``(None, state)``
    with the evaluated (EMA if used) weights of a training checkpoint folder.
    """
    p = Path(path).expanduser()
    if p.is_file():
        return p, None
    if (p / "state.json").is_file():
        state = load_checkpoint(p)
        key = "ema" if state.get("eval_weights") == "ema" else "model"
        return None, state[key]
    for candidate in (p / "model.safetensors", p / _EXPORT_DIR / "model.safetensors"):
        if candidate.is_file():
            return candidate, None
    raise ConfigError(
        f"{key} {path!r} is not a weight file, a model or run folder, or a training "
        "checkpoint folder"
    )


def _prior_source(spec: str) -> Any:
    """What ``load_prior`` takes, from a weight file, a model/run/checkpoint folder or a name.

    A registered name (``s2mae_ntire``) means that model's published weights.
    """
    p = Path(spec).expanduser()
    if p.exists():
        file, state = _start_weights(spec, "model.prior")
        return state if state is not None else file
    scheme = spec.partition(":")[0]
    if scheme in ("local-dir", "hf-hub"):
        return create_model(spec)
    return create_model(spec, pretrained=True)


def _describe(obj: Any) -> str:
    if isinstance(obj, torch.Tensor):
        return f"tensor of shape {tuple(obj.shape)}"
    return type(obj).__name__


def _spec_words(spec: DatasetConfig) -> str:
    if spec.concat:
        text = " + ".join(_spec_words(c) for c in spec.concat)
    else:
        text = spec.name.rpartition(":")[2] + (f" split {spec.split!r}" if spec.split else "")
    if spec.patches is not None:
        size = spec.patches.get("patch_size", "default")
        text = f"({text}) as random patches of {size} px"
    if spec.rgb is not None:
        response = spec.rgb.get("response") or "cie1964_10deg"
        text += f", RGB simulated ({spec.rgb.get('pipeline', 'clean')} pipeline, {response})"
    return text


def _describe_data(train: Dataset, val: Dataset, cfg: TrainerConfig) -> dict[str, Any]:
    """Words for the model card: what the training and validation data were."""

    def words(ds: Dataset, spec: DatasetConfig) -> str:
        text = getattr(ds, "description", None)
        if not (isinstance(text, str) and text):
            text = _spec_words(spec)
        return f"{text}; {len(ds)} samples"  # type: ignore[arg-type]

    return {"train_desc": words(train, cfg.data.train), "val_desc": words(val, cfg.data.val)}


def _response_matrix(ds: Dataset, wavelengths: Any) -> torch.Tensor | None:
    """The ``(K, C)`` matrix that renders the dataset's cubes to its RGB, if known.

    From the config's ``rgb`` (:class:`~ssrzoo.data.SimulateRGB`: the response at the
    bands, times its fixed white gain), else from a ``response`` attribute of the dataset:
    a ``(K, C)`` matrix, or an object with ``matrix(wavelengths)``.
    """
    simulate = getattr(ds, "simulate_rgb", None)
    wl = np.asarray(wavelengths, dtype=np.float64) if wavelengths else None
    if simulate is not None and wl is not None:
        from ..spectral import get_response

        response = get_response(simulate.response or "cie1964_10deg")
        matrix = response.matrix(wl, outside=simulate.options.get("outside", "error"))
        if simulate.options.get("gain") == "white":
            matrix = matrix * simulate.white_gain(wl)
        return torch.as_tensor(matrix, dtype=torch.float32)
    response = getattr(ds, "response", None)
    if response is None:
        return None
    if hasattr(response, "matrix"):
        if wl is None:
            return None
        response = response.matrix(wl)
    matrix = torch.as_tensor(np.asarray(response, dtype=np.float64), dtype=torch.float32)
    return matrix if matrix.ndim == 2 else None


def _response_name(ds: Dataset) -> str | None:
    simulate = getattr(ds, "simulate_rgb", None)
    if simulate is not None:
        response = simulate.response or "cie1964_10deg"
        return str(getattr(response, "name", response))
    name = getattr(ds, "response_name", None) or getattr(
        getattr(ds, "response", None), "name", None
    )
    return str(name) if name else None


def _diff(
    a: Mapping[str, Any], b: Mapping[str, Any], ignore: set[str], prefix: str = ""
) -> list[str]:
    keys = []
    for key in sorted(set(a) | set(b)):
        if key in ignore:
            continue
        va, vb = a.get(key), b.get(key)
        if isinstance(va, Mapping) and isinstance(vb, Mapping):
            keys += _diff(va, vb, set(), f"{prefix}{key}.")
        elif va != vb:
            keys.append(prefix + key)
    return keys


def _fmt(metrics: Mapping[str, float]) -> str:
    return " ".join(f"{k}={v:.5g}" for k, v in metrics.items())


def _progress(total: int, initial: int, enabled: bool, name: str) -> Any:
    from tqdm.auto import tqdm

    return tqdm(
        total=total,
        initial=initial,
        disable=not enabled or os.environ.get("SSRZOO_NO_PROGRESS") == "1",
        desc=name or "train",
        unit="step",
        dynamic_ncols=True,
    )
