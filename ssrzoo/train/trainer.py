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

This module is the loop and its state; what it is built from lives beside it (``builders``,
``weights``), validation is :func:`ssrzoo.evaluate` and the model card ``export``. See
``docs/training.md`` for recipes and the command line.
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import logging
import math
import random
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from timm.utils import ModelEmaV3, dispatch_clip_grad
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from .. import __version__
from ..evaluation import collate, evaluate
from ..exceptions import CheckpointError
from ..models import PretrainedCfg, save_pretrained
from .builders import (
    AMP_DTYPES,
    build_criterion,
    build_dataset,
    build_device_patches,
    build_optimizer,
    build_scheduler,
    build_val_loader,
    check_samples,
    import_object,
)
from .checkpoint import CheckpointManager, config_diff, load_checkpoint, resume_state
from .config import ConfigError, TrainerConfig
from .distributed import (
    DistInfo,
    SeededDataset,
    TrainSampler,
    all_reduce_sums,
    barrier,
    cleanup_distributed,
    gather_objects,
    init_distributed,
)
from .export import check_protocol, describe_data, export_cfg
from .log import LossWindow, RunLogger, progress_bar
from .losses import Objective
from .weights import EXPORT_DIR, build_model, check_model_against_data, check_prior_window

__all__ = ["Trainer"]

_logger = logging.getLogger(__name__)


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
        for module_name in cfg.imports:
            try:
                importlib.import_module(module_name)
            except ImportError as err:
                raise ConfigError(f"imports: cannot import {module_name!r} ({err})") from err
        self.hooks: list[Callable[[Trainer, str], Any]] = [
            import_object(h, "hook") for h in cfg.hooks
        ]
        self.info, self.device = init_distributed(cfg.device)
        if cfg.amp == "fp16" and self.device.type != "cuda":
            raise ConfigError("amp 'fp16' needs a CUDA device; on CPU use amp=bf16 or amp=off")
        if cfg.threads is not None:
            torch.set_num_threads(cfg.threads)
        self.amp_dtype = AMP_DTYPES[cfg.amp]

        # Data first: a missing or malformed dataset must fail before anything is built.
        self.train_set = build_dataset(cfg.data.train, cfg.seed, trusted=cfg.trusted)
        self.val_set = build_dataset(cfg.data.val, cfg.seed, trusted=cfg.trusted)
        for key, ds in (("data.train", self.train_set), ("data.val", self.val_set)):
            if len(ds) == 0:  # type: ignore[arg-type]
                raise ConfigError(f"{key} is empty; check its root, split and args")
        info = check_samples(self.train_set, self.val_set, cfg.stage)
        info.update(describe_data(self.train_set, self.val_set, cfg, info["wavelengths"]))
        check_protocol(cfg.card, info)
        self.data_info = info

        self.ckpt = CheckpointManager(self.run_dir / "checkpoints", keep_last=cfg.keep_last)
        resume_from = resume_state(cfg.resume, self.ckpt, self.run_dir)

        torch.manual_seed(cfg.seed)  # same initial weights on every rank
        self.model = build_model(cfg.model).to(self.device)
        check_model_against_data(self.model, cfg.model.name, info)
        check_prior_window(self.model, info["train_size"])
        criterion = None
        if cfg.stage != "pretrain":
            criterion = build_criterion(cfg, info["response_matrix"]).to(self.device)
        elif not hasattr(self.model, "forward_loss"):
            raise ConfigError(
                f"stage 'pretrain' needs a model with forward_loss(cube, rgb) (an S²-MAE such "
                f"as s2mae_ntire); {cfg.model.name!r} has none"
            )
        self.objective = Objective(self.model, criterion)

        self.optimizer = build_optimizer(self.model, cfg)
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
            mode = cfg.model.compile if isinstance(cfg.model.compile, str) else None
            module = torch.compile(module, mode=mode)  # type: ignore[assignment]
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
        self.device_patches = build_device_patches(
            self.train_set, cfg, self.device, cfg.seed + self.info.rank
        )
        self.train_loader = DataLoader(
            SeededDataset(self.train_set),
            batch_size=cfg.data.batch_size,
            sampler=self.sampler,
            drop_last=True,
            num_workers=0 if self.device_patches is not None else workers,
            pin_memory=cfg.data.pin_memory,
            persistent_workers=workers > 0 and self.device_patches is None,
            generator=self.loader_generator,
            collate_fn=collate,
        )
        self.val_loader = build_val_loader(self.val_set, cfg, self.info)

        self.logger = RunLogger(
            self.run_dir, enabled=self.info.is_main, tensorboard=cfg.tensorboard
        )
        if self.info.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            (self.run_dir / "config.yaml").write_text(cfg.to_yaml())
        if resume_from is not None:
            self._load_state(*resume_from)
        self._call_hooks("train_start")

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
        changed = config_diff(state.get("config", {}), self.cfg.to_dict(), {"resume", "trusted"})
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
        progress = self._bar = progress_bar(total, self.step, self.info.is_main, cfg.name)
        params = [p for p in self.model.parameters() if p.requires_grad]
        no_sync = getattr(self.train_module, "no_sync", None) if self.info.enabled else None
        batches = self._batches()
        # Logged values stay on the device between logs: no host sync in the hot loop.
        window = LossWindow(self.device)
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
                window = LossWindow(self.device)
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

    def _train_row(self, window: LossWindow) -> dict[str, Any]:
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
    def validate(self) -> dict[str, float]:
        """Metrics on the validation split (:func:`ssrzoo.evaluate`), over all processes.

        Uses the EMA weights when EMA is on. Random parts of the model (S²-MAE masks)
        draw from the run's seed, so values are comparable across steps, and the training
        random streams are left untouched. Each process scores its shard; their sums and
        counts are added up before dividing, so every image weighs the same.
        """
        criterion = self.objective.criterion
        result = evaluate(
            self.ema.module if self.ema is not None else self.model,
            self.val_loader,
            response=criterion.response if criterion is not None else None,
            eps=self.cfg.metric_eps,
            mask=self.cfg.metric_mask,
            device=self.device,
            amp=self.amp_dtype,
            seed=self.cfg.seed,
            forward_loss=self.cfg.stage == "pretrain",
        )
        sums = all_reduce_sums({**result.sums, "_count": float(result.count)}, self.device)
        count = sums.pop("_count")
        return {k: v / count for k, v in sums.items()}

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
        base_cfg = self.model.pretrained_cfg
        assert isinstance(base_cfg, PretrainedCfg)  # set by create_model
        pcfg = export_cfg(
            base_cfg,
            self.cfg,
            self.data_info,
            state["best"],
            steps=self.step,
            world_size=self.info.world_size,
            ema=self.ema is not None,
        )
        out = Path(folder) if folder is not None else self.run_dir / EXPORT_DIR
        save_pretrained(model, out, pretrained_cfg=pcfg)
        _logger.info("exported best weights (step %d) to %s", best["step"], out)
        return out

    def _call_hooks(self, event: str) -> None:
        for hook in self.hooks:
            hook(self, event)


# ---------------------------------------------------------------------------- helpers
def _fmt(metrics: Mapping[str, float]) -> str:
    return " ".join(f"{k}={v:.5g}" for k, v in metrics.items())
