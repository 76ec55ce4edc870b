"""Where a run's starting weights come from: published weights, a file, a run, a prior.

``model.checkpoint`` and ``model.prior`` name weights in any of the forms a user has at hand:
a weight file, a model folder (``config.json`` + ``model.safetensors``), a run folder (its
``export/``), a training checkpoint folder (its evaluated weights, EMA if used) or, for a
prior, a registered name whose published weights are meant.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..exceptions import CheckpointError, UnknownModelError
from ..models import create_model, get_pretrained_cfg, load_config
from ..models._hub import saved_model_args
from ..models.mae_ktsr import S2MAEEncoder
from .checkpoint import load_checkpoint
from .config import ConfigError, ModelConfig

__all__ = [
    "EXPORT_DIR",
    "build_model",
    "check_model_against_data",
    "prior_settings",
    "prior_source",
    "start_weights",
]

_logger = logging.getLogger(__name__)

#: The folder of a run that holds its exported weights.
EXPORT_DIR = "export"


def build_model(cfg: ModelConfig) -> nn.Module:
    """The model of ``cfg``, with its starting weights and prior, the prior frozen or not.

    Weights come from, in order: ``checkpoint`` (a weight file or a training checkpoint
    folder, see :func:`start_weights`), else the published weights when ``pretrained``,
    else the architecture's initialisation (seed ``torch`` first for reproducible ones).
    """
    weights = None
    checkpoint = None
    if cfg.checkpoint:
        checkpoint, weights = start_weights(cfg.checkpoint)
    args = dict(cfg.args)
    trained = prior_settings(cfg.prior) if cfg.prior and "prior_args" not in args else {}
    if trained:
        # a prior trained with other than the default settings: build the prior to fit it
        _logger.info("building the prior with the settings it was trained with: %s", trained)
        args["prior_args"] = trained
    try:
        model = create_model(
            cfg.name,
            pretrained=cfg.pretrained and not cfg.checkpoint,
            checkpoint_path=checkpoint,
            **args,
        )
    except TypeError as err:
        if not trained:
            raise
        raise _takes_no_prior(cfg.name, f"takes no prior ({err})") from err
    if weights is not None:
        try:
            model.load_state_dict(weights)
        except RuntimeError as err:
            raise CheckpointError(
                f"model.checkpoint {cfg.checkpoint!r} does not fit {cfg.name!r} "
                f"({str(err).splitlines()[0]}); use the architecture it was trained with"
            ) from err
    if cfg.prior:
        load_prior = getattr(model, "load_prior", None)
        if load_prior is None:
            raise _takes_no_prior(cfg.name, "has no load_prior()")
        load_prior(prior_source(cfg.prior))
    set_prior_trainable = getattr(model, "set_prior_trainable", None)
    if getattr(model, "prior", None) is not None and set_prior_trainable is not None:
        learned = bool(cfg.prior or cfg.pretrained or cfg.checkpoint)
        if cfg.freeze_prior and not learned:
            _logger.warning(
                "%s: the prior is frozen but holds no learned weights; pass model.prior "
                "(an S²-MAE) or set model.freeze_prior=false to train it",
                cfg.name,
            )
        set_prior_trainable(not cfg.freeze_prior)
    return model


def _takes_no_prior(name: str, detail: str) -> ConfigError:
    """The error for ``model.prior`` given to a model without a prior."""
    return ConfigError(
        f"model.prior given but {name!r} {detail}; priors are for models such as mae_ktsr"
    )


def check_model_against_data(model: nn.Module, name: str, info: Mapping[str, Any]) -> None:
    """The model's bands and wavelengths (its ``pretrained_cfg``) must be the data's."""
    pcfg = getattr(model, "pretrained_cfg", None)
    bands = info["bands"]
    if pcfg is None:
        return
    if pcfg.num_bands != bands:
        raise ConfigError(
            f"{name!r} outputs {pcfg.num_bands} bands but the data has "
            f"{bands}; pick the matching variant or set model.args.num_bands={bands}"
        )
    wl = info["wavelengths"]
    if pcfg.wavelengths and wl and not np.allclose(pcfg.wavelengths, wl, atol=0.5):
        raise ConfigError(
            f"{name!r} is for bands {pcfg.wavelengths[0]:g}-"
            f"{pcfg.wavelengths[-1]:g} nm, the data is {wl[0]:g}-{wl[-1]:g} nm; "
            "use the variant of that grid or resample the data"
        )


def check_prior_window(model: nn.Module, crop: tuple[int, int]) -> None:
    """Warn when an S²-MAE in ``model`` attends within windows larger than a training crop.

    Trained on ``crop`` (``(H, W)`` pixels), the S²-MAE never sees more tokens than the crop
    holds; on larger images (validation, inference) a wider window gives its attention more
    context than training did, and its RGB-only reconstruction on whole CAVE scenes was 2-10x
    worse for it (``docs/results/prior_search.md``, round 5).
    """
    for module in model.modules():
        if not isinstance(module, S2MAEEncoder) or module.window_size is None:
            continue
        tokens = max(-(-side // module.patch_size) for side in crop)
        if module.window_size > tokens:
            _logger.warning(
                "the S²-MAE attends within windows of %d x %d tokens, but the training crops "
                "(%d x %d px, %d-px tokens) hold at most %d per side: on larger images its "
                "windows see more context than training showed it. Set "
                "model.args.window_size=%d (S²-MAE) or model.args.prior_args.window_size=%d "
                "(MAE-KTSR)",
                module.window_size,
                module.window_size,
                crop[0],
                crop[1],
                module.patch_size,
                tokens,
                tokens,
                tokens,
            )


def start_weights(
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
    for candidate in (p / "model.safetensors", p / EXPORT_DIR / "model.safetensors"):
        if candidate.is_file():
            return candidate, None
    raise ConfigError(
        f"{key} {path!r} is not a weight file, a model or run folder, or a training "
        "checkpoint folder"
    )


def prior_settings(spec: str) -> dict[str, Any]:
    """The S²-MAE encoder settings (``prior_args``) a prior folder's ``config.json``, or a
    published prior's bundled one, records.

    Only the settings that differ from a default prior: ``{}`` for a default one, and for a
    prior with no such record (a checkpoint folder, a prior that is not bundled).
    """
    p = Path(spec).expanduser()
    folders = [p.parent] if p.is_file() else [p, p / EXPORT_DIR]
    folder = next((f for f in folders if (f / "config.json").is_file()), None)
    if folder is not None:
        record, _ = load_config(folder)
    else:
        try:  # a published name, e.g. s2mae.cave
            cfg = get_pretrained_cfg(spec)
        except (UnknownModelError, ValueError, KeyError):
            return {}
        record = {"architecture": cfg.architecture, "model_args": saved_model_args(cfg)}
    if record["architecture"] != "s2mae":
        return {}
    defaults = {
        name: param.default
        for name, param in inspect.signature(S2MAEEncoder).parameters.items()
        if name not in ("in_chans", "num_bands")
    }
    model_args = record.get("model_args") or {}
    return {k: v for k, v in model_args.items() if k in defaults and v != defaults[k]}


def prior_source(spec: str) -> Any:
    """What ``load_prior`` takes, from a weight file, a model/run/checkpoint folder or a name.

    A registered name (``s2mae_ntire``) means that model's published weights.
    """
    p = Path(spec).expanduser()
    if p.exists():
        file, state = start_weights(spec, "model.prior")
        return state if state is not None else file
    scheme = spec.partition(":")[0]
    if scheme in ("local-dir", "hf-hub"):
        return create_model(spec)
    if "/" in spec or "\\" in spec:
        # a path that is not there, most often a recipe's stage-1 run not trained yet
        raise ConfigError(
            f"model.prior {spec!r} does not exist: train the stage-1 (S²-MAE) run that writes "
            "it first, or start from a published prior by name, e.g. "
            "model.prior=s2mae.ntire2020 (`ssrzoo list --pretrained 's2mae*'` lists them)"
        )
    return create_model(spec, pretrained=True)
