"""From a recipe to the objects of a run: datasets, responses, loss, optimizer, schedule.

Each builder takes a part of a :class:`~ssrzoo.train.TrainerConfig` and returns the object
the :class:`~ssrzoo.train.Trainer` uses, failing with a :class:`ConfigError` that names the
setting to fix. :func:`evaluate_recipe` scores any model on a recipe's validation split with
the recipe's metric settings, as the Trainer's own validation does.
"""

from __future__ import annotations

import importlib
import inspect
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from timm.optim import create_optimizer_v2, param_groups_weight_decay
from timm.scheduler import CosineLRScheduler
from torch import nn
from torch.utils.data import ConcatDataset, DataLoader, Dataset

from ..evaluation import EvaluationResult, collate, dataset_response, evaluate
from .config import _TRUST_HINT, ConfigError, DatasetConfig, TrainerConfig
from .distributed import DistInfo, SeededDataset, ShardSampler, resolve_device
from .losses import ReconstructionLoss

if TYPE_CHECKING:
    from ..data import DevicePatches

__all__ = [
    "AMP_DTYPES",
    "build_criterion",
    "build_dataset",
    "build_device_patches",
    "build_optimizer",
    "build_scheduler",
    "build_val_loader",
    "check_samples",
    "evaluate_recipe",
    "import_object",
    "load_response",
    "param_groups",
]

_logger = logging.getLogger(__name__)

#: ``TrainerConfig.amp`` -> the autocast dtype (``None``: full precision).
AMP_DTYPES: dict[str, torch.dtype | None] = {
    "off": None,
    "bf16": torch.bfloat16,
    "fp16": torch.float16,
}


def import_object(spec: str, what: str) -> Any:
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
        return import_object(name, "dataset")
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

        patches = {"seed": seed, **spec.patches, "simulate": simulate}
        relight = patches.pop("relight", None)
        if relight not in (None, False):
            patches["relight"] = build_relight(relight, spec.root)
        dataset = RandomPatches(dataset, **patches)
    dataset.simulate_rgb = simulate  # type: ignore[attr-defined]
    return dataset


def build_relight(spec: Any, root: str | None) -> Any:
    """The :class:`~ssrzoo.data.Relight` of ``patches.relight``.

    ``true`` or ``{library: shared}`` draws from the shared data folder's lights (``root``:
    that folder, by default the dataset's root), ``{library: colour}`` from colour-science's;
    ``weights`` sets the category probabilities.
    """
    from ..data import Relight

    if spec is True:
        spec = {}
    if not isinstance(spec, Mapping):
        raise ConfigError(f"patches.relight must be true or a mapping, got {spec!r}")
    unknown = sorted(set(spec) - {"library", "root", "weights"})
    if unknown:
        raise ConfigError(f"patches.relight: unknown keys {unknown}; use library, root, weights")
    library = spec.get("library", "shared")
    if library not in ("shared", "colour"):
        raise ConfigError(f"patches.relight.library must be 'shared' or 'colour', got {library!r}")
    root = spec.get("root", root)
    if library == "shared" and root is None:
        raise ConfigError("patches.relight with the shared lights needs root: the shared folder")
    weights = spec.get("weights")
    try:
        if library == "colour":
            return Relight(weights=weights)
        return Relight.from_shared(root, weights=weights)
    except (OSError, ValueError) as err:
        raise ConfigError(f"patches.relight: {err}") from err


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


def check_samples(train: Dataset, val: Dataset, stage: str) -> dict[str, Any]:
    """Read one sample of each split; check keys, shapes and band grids agree.

    Returns:
        ``{'bands': C, 'wavelengths': (nm, ...), 'train_size': (H, W)}`` (wavelengths empty
        when samples carry none; ``train_size``: a training sample's, the crop size).
    """
    need = ("hsi", "rgb")  # S²-MAE pretraining is conditioned on the RGB too
    found: dict[str, Any] = {}
    for key, ds in (("data.train", train), ("data.val", val)):
        sample = ds[0]
        if not isinstance(sample, Mapping):
            raise ConfigError(f"{key} samples must be dicts, got {type(sample).__name__}")
        missing = [k for k in need if k not in sample]
        if missing:
            raise ConfigError(
                f"{key} samples have no {missing} (keys: {sorted(sample)}); stage "
                f"{stage!r} needs {list(need)}"
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
        found.setdefault("train_size", (int(hsi.shape[1]), int(hsi.shape[2])))
        found.setdefault("bands", int(hsi.shape[0]))
        found.setdefault("wavelengths", wl)
    return found


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


def param_groups(model: nn.Module, cfg: TrainerConfig) -> list[dict[str, Any]]:
    """Optimizer parameter groups of the trainable parameters.

    A model with a prior offers ``param_groups(lr, prior_lr_scale, weight_decay)``
    (:class:`~ssrzoo.models.mae_ktsr.MAEKTSR`): the prior's group gets the lower rate, kept
    as timm's ``lr_scale`` so the ratio holds at every step. Other models get timm's split:
    no weight decay on biases, norms and ``model.no_weight_decay()`` names.
    """
    model_groups = getattr(model, "param_groups", None)
    if callable(model_groups):
        groups = []
        for group in model_groups(
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
    no_weight_decay = getattr(model, "no_weight_decay", None)
    return list(
        param_groups_weight_decay(
            model,
            cfg.optim.weight_decay,
            no_weight_decay_list=set(no_weight_decay()) if no_weight_decay is not None else (),
        )
    )


def build_criterion(cfg: TrainerConfig, response: torch.Tensor | None) -> ReconstructionLoss:
    """The weighted reconstruction loss of ``cfg.loss``; ``response`` feeds its BP term."""
    return ReconstructionLoss(
        mrae=cfg.loss.mrae,
        l1=cfg.loss.l1,
        sam=cfg.loss.sam,
        bp=cfg.loss.bp,
        response=response,
        eps=cfg.loss.eps,
    )


def build_optimizer(model: nn.Module, cfg: TrainerConfig) -> torch.optim.Optimizer:
    """timm's ``create_optimizer_v2`` of ``cfg.optim`` over :func:`param_groups`."""
    groups = [g for g in param_groups(model, cfg) if g["params"]]
    if not groups:
        raise ConfigError(f"{cfg.model.name!r} has no trainable parameters")
    return create_optimizer_v2(
        groups,
        opt=cfg.optim.opt,
        lr=cfg.optim.lr,
        weight_decay=cfg.optim.weight_decay,
        momentum=cfg.optim.momentum,
        **cfg.optim.opt_args,
    )


def build_device_patches(
    train: Dataset, cfg: TrainerConfig, device: torch.device, seed: int
) -> DevicePatches | None:
    """With ``data.device_patches``, the training patches cut on ``device`` (else None)."""
    if not cfg.data.device_patches:
        return None
    from ..data import DevicePatches

    try:
        patches = DevicePatches.from_patches(train, device=device, seed=seed)
    except (AttributeError, ValueError) as err:
        raise ConfigError(f"data.device_patches: {err}") from err
    _logger.info("training patches drawn on %s: %r", device, patches)
    return patches


def build_val_loader(val: Dataset, cfg: TrainerConfig, info: DistInfo) -> DataLoader:
    """This process's share of the validation set (``indices[rank::world]``), each sample
    drawn under a fixed seed, in batches of ``data.val_batch_size``."""
    return DataLoader(
        SeededDataset(val),
        batch_size=cfg.data.val_batch_size,
        sampler=ShardSampler(len(val), info, cfg.seed),  # type: ignore[arg-type]
        num_workers=cfg.data.num_workers,
        pin_memory=cfg.data.pin_memory,
        collate_fn=collate,
    )


def evaluate_recipe(
    model: nn.Module,
    cfg: TrainerConfig,
    *,
    ssim_window: int | None = None,
    progress: bool = False,
) -> EvaluationResult:
    """``model`` scored on ``cfg``'s validation split, with the recipe's metric settings.

    What :meth:`Trainer.validate <ssrzoo.train.Trainer.validate>` measures, without
    building a Trainer or reading the training data: the same validation loader (samples
    seeded per index, ``val_batch_size``), ``metric_eps``/``metric_mask``, seed, device,
    ``amp``, ``threads`` (applied with ``torch.set_num_threads``) and stage (``pretrain``
    scores ``forward_loss``). BP-MRAE compares through the camera of the validation data
    (:func:`~ssrzoo.evaluation.dataset_response`); the Trainer uses the training data's,
    the same camera in every published recipe.

    Args:
        model: the model to score (moved to the recipe's device).
        cfg: the recipe; its model section is not used.
        ssim_window: add SSIM with this window side (see :func:`ssrzoo.evaluate`).
        progress: show a progress bar over batches.
    """
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    device = resolve_device(cfg.device)
    val = build_dataset(cfg.data.val, cfg.seed, trusted=cfg.trusted)
    if len(val) == 0:  # type: ignore[arg-type]
        raise ConfigError("data.val is empty; check its root, split and args")
    response = None
    if cfg.stage != "pretrain":
        wavelengths = val[0].get("wavelengths")
        wl = [float(w) for w in wavelengths] if wavelengths is not None else []
        response = dataset_response(val, wl)
    return evaluate(
        model.to(device),
        build_val_loader(val, cfg, DistInfo()),
        response=response,
        eps=cfg.metric_eps,
        mask=cfg.metric_mask,
        device=device,
        amp=AMP_DTYPES[cfg.amp],
        seed=cfg.seed,
        ssim_window=ssim_window,
        forward_loss=cfg.stage == "pretrain",
        progress=progress,
    )


def _describe(obj: Any) -> str:
    if isinstance(obj, torch.Tensor):
        return f"tensor of shape {tuple(obj.shape)}"
    return type(obj).__name__
