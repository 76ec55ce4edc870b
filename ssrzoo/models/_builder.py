"""Build a model from its pretrained config and load its weights."""

from __future__ import annotations

import inspect
import logging
import numbers
import os
import reprlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import torch
from torch import nn

from ..exceptions import CheckpointError, SsrzooError, WeightsNotFoundError
from ._helpers import load_state_dict
from ._hub import resolve_pretrained_file, saved_model_args
from ._layers import NonNegativeOutput
from ._pretrained import PretrainedCfg
from ._registry import get_pretrained_cfg

__all__ = ["build_model_with_cfg", "load_pretrained", "resolve_pretrained_cfg"]

_logger = logging.getLogger(__name__)
M = TypeVar("M", bound=nn.Module)


def resolve_pretrained_cfg(
    variant: str,
    pretrained_cfg: PretrainedCfg | None = None,
    pretrained_cfg_overlay: Mapping[str, Any] | None = None,
) -> PretrainedCfg:
    """The registry's cfg of ``variant`` (or the one given), with an overlay applied."""
    cfg = pretrained_cfg if pretrained_cfg is not None else get_pretrained_cfg(variant)
    if pretrained_cfg_overlay:
        cfg = cfg.replace(**pretrained_cfg_overlay)
    return cfg


def _accepts(fn: Callable[..., Any], name: str) -> bool:
    params = inspect.signature(fn).parameters
    return name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def _check_arguments(
    model_cls: Callable[..., Any], variant: str, kwargs: Mapping[str, Any]
) -> None:
    """Name a bad constructor argument here rather than let it fail deep inside torch."""
    params = inspect.signature(model_cls).parameters
    if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        unknown = sorted(set(kwargs) - set(params))
        if unknown:
            raise TypeError(
                f"model {variant!r} has no argument {unknown[0]!r}; it takes "
                f"{', '.join(params) or 'none'}"
            )
    for key in ("in_chans", "num_bands"):
        value = kwargs.get(key, 1)
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"model {variant!r}: {key} must be a positive integer, got {value!r}")


def build_model_with_cfg(
    model_cls: Callable[..., M],
    variant: str,
    pretrained: bool = False,
    *,
    pretrained_cfg: PretrainedCfg | None = None,
    pretrained_cfg_overlay: Mapping[str, Any] | None = None,
    checkpoint_path: str | os.PathLike[str] | None = None,
    cache_dir: str | Path | None = None,
    **kwargs: Any,
) -> M:
    """Instantiate ``model_cls`` for ``variant`` and load weights if asked.

    ``in_chans`` and ``num_bands`` default to the pretrained config's, so a tag such as
    ``mae_ktsr.pavia`` builds with 103 output bands; with ``pretrained``, the weight's other
    saved arguments (e.g. ``s2mae.cave``'s ``window_size=8``, from the ``config.json`` beside
    its file) are defaults too. The model gets two attributes: ``pretrained_cfg`` (the
    weight's metadata) and ``model_args`` (the keyword arguments that rebuild it, stored in
    ``config.json``).

    Args:
        model_cls: the ``nn.Module`` class (or a factory).
        variant: ``arch`` or ``arch.tag``.
        pretrained: load the published weights of the config.
        pretrained_cfg: the cfg to use instead of the registry's.
        pretrained_cfg_overlay: fields to change, e.g. ``{'file': 'local.safetensors'}``.
        checkpoint_path: the user's own weights, loaded after construction.
        cache_dir: Hugging Face cache folder.
        **kwargs: model constructor arguments.
    """
    cfg = resolve_pretrained_cfg(variant, pretrained_cfg, pretrained_cfg_overlay)
    if pretrained and checkpoint_path is None and cfg.has_weights:
        # A published weight is built as it was saved (the model_args of the config.json
        # beside its file) unless the caller says otherwise; a prior module passed in
        # replaces the prior_args that built one.
        saved = saved_model_args(cfg, cache_dir)
        if "prior" in kwargs:
            saved.pop("prior_args", None)
        kwargs = {**saved, **kwargs}
    for key in ("in_chans", "num_bands"):
        if key not in kwargs and _accepts(model_cls, key):
            kwargs[key] = getattr(cfg, key)
    if kwargs.get("num_bands", cfg.num_bands) != cfg.num_bands:
        # The architecture no longer matches the weight's band grid; drop what would lie.
        cfg = cfg.replace(
            num_bands=kwargs["num_bands"],
            wavelengths=(),
            fwhm=None,
            response=None,
            sha256=None,
            file=None,
            metrics={},
        )
    _check_arguments(model_cls, variant, kwargs)
    try:
        model = model_cls(**kwargs)
    except (TypeError, ValueError, ArithmeticError, IndexError, RuntimeError) as err:
        if isinstance(err, SsrzooError):
            raise
        given = ", ".join(f"{k}={reprlib.repr(v)}" for k, v in kwargs.items())
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        error = TypeError if isinstance(err, TypeError) else ValueError
        raise error(
            f"cannot build {variant!r} with {given} ({reason}); see the docstring of "
            f"{getattr(model_cls, '__name__', variant)} for what each argument takes"
        ) from err
    if isinstance(model, NonNegativeOutput) and not cfg.nonneg_output:
        # A config.json written before the projection existed still describes this model.
        cfg = cfg.replace(nonneg_output=model.nonneg_output)
    model.pretrained_cfg = cfg  # type: ignore[assignment]
    model.model_args = dict(kwargs)  # type: ignore[assignment]
    if checkpoint_path is not None:
        load_pretrained(model, checkpoint_path=checkpoint_path)
    elif pretrained:
        if not cfg.has_weights:
            _no_published_weight(cfg)
        load_pretrained(model, cfg, cache_dir=cache_dir)
    return model


def _no_published_weight(cfg: PretrainedCfg) -> NoReturn:
    """A registered tag without a pinned file: never published, or withdrawn (its notes say
    why); a download hint would send the user to a dead link."""
    why = f" ({cfg.notes.rstrip('.')})" if cfg.notes else ""
    start = (
        f"no weight is published for {cfg.name!r}{why}; `ssrzoo list --pretrained` lists the "
        "published ones, or load your own "
    )
    raise WeightsNotFoundError(
        start + "with checkpoint_path=...", cli_message=start + "with --checkpoint FILE"
    )


def load_pretrained(
    model: nn.Module,
    pretrained_cfg: PretrainedCfg | None = None,
    *,
    checkpoint_path: str | os.PathLike[str] | None = None,
    cache_dir: str | Path | None = None,
    strict: bool = True,
) -> tuple[list[str], list[str]]:
    """Load weights into ``model``: ``checkpoint_path`` if given, else the cfg's file.

    Files from the registry (Hub, bundled, overlay ``file``) are sha256-checked; a
    user's ``checkpoint_path`` is not, since there is nothing to compare it with.

    Returns:
        ``(missing_keys, unexpected_keys)``; with ``strict`` both must be empty.

    Raises:
        CheckpointError: keys or shapes do not match the model.
    """
    if checkpoint_path is not None:
        path = Path(checkpoint_path).expanduser()
    else:
        cfg = pretrained_cfg or getattr(model, "pretrained_cfg", None)
        if cfg is None:
            raise ValueError("no pretrained_cfg to load weights from; pass checkpoint_path=")
        path = resolve_pretrained_file(cfg, cache_dir=cache_dir)
    state = load_state_dict(path)
    broken = [k for k, v in state.items() if v.is_floating_point() and not v.isfinite().all()]
    if broken:
        _logger.warning(
            "%s holds NaN/inf values in %d tensors (%s): the model will output NaN; the file "
            "is damaged or its training diverged",
            path,
            len(broken),
            ", ".join(broken[:3]) + (", ..." if len(broken) > 3 else ""),
        )
    try:
        result = model.load_state_dict(state, strict=False)
    except RuntimeError as err:  # shape mismatches raise even with strict=False
        detail = " ".join(line.strip() for line in str(err).splitlines()[1:3])
        raise CheckpointError(
            f"{str(path)!r} does not fit {type(model).__name__}: {detail}; build the model "
            "with the arguments the weight was trained with (see its config.json)"
        ) from err
    missing, unexpected = list(result.missing_keys), list(result.unexpected_keys)
    if missing:
        _logger.warning("missing keys loading %s: %s", path, missing)
    if unexpected:
        _logger.warning("unexpected keys loading %s: %s", path, unexpected)
    if strict and (missing or unexpected):
        raise CheckpointError(
            f"{str(path)!r} does not fit {type(model).__name__}: "
            f"{len(missing)} missing keys {missing[:3]}, {len(unexpected)} unexpected keys "
            f"{unexpected[:3]}; check the architecture and its arguments"
        )
    _logger.info("loaded weights from %s", path)
    return missing, unexpected


def count_params(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (all, or only those that require grad)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's first parameter or buffer (CPU if it has none)."""
    for tensor in [*model.parameters(), *model.buffers()]:
        return tensor.device
    return torch.device("cpu")
