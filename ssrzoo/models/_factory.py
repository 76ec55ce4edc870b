"""``create_model``: the one entry point that builds any ssrzoo model."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath
from typing import Any

from torch import nn

from ..exceptions import CheckpointError
from ._builder import resolve_pretrained_cfg
from ._hub import CONFIG_NAME, WEIGHTS_NAME, hub_file, load_config
from ._pretrained import PretrainedCfg
from ._registry import get_model_entrypoint, resolve_model_name

__all__ = ["create_model", "parse_model_name"]

_SCHEMES = ("hf-hub", "local-dir")


def parse_model_name(name: str) -> tuple[str | None, str]:
    """``'hf-hub:org/repo'`` -> ``('hf-hub', 'org/repo')``; a plain name has scheme ``None``."""
    scheme, sep, rest = name.partition(":")
    if sep and scheme in _SCHEMES:
        return scheme, rest
    return None, name


def create_model(
    model_name: str,
    pretrained: bool = False,
    *,
    pretrained_cfg_overlay: dict[str, Any] | None = None,
    checkpoint_path: str | os.PathLike[str] | None = None,
    cache_dir: str | Path | None = None,
    **model_kwargs: Any,
) -> nn.Module:
    """Build a registered model, optionally with its published weights.

    Args:
        model_name: one of

            * an architecture (``'mae_ktsr'``), meaning its default weight tag;
            * ``'arch.tag'`` (``'mae_ktsr.ntire2020'``) or an alias (``'mae_ktsr_ntire'``);
            * ``'hf-hub:org/repo'`` or ``'hf-hub:org/repo@revision'``: a Hub repo holding
              ``config.json`` + ``model.safetensors``; its weights are always loaded;
            * ``'local-dir:/path'``: a folder written by :func:`ssrzoo.save_pretrained`;
              its weights are always loaded.
        pretrained: load the weight's published file (see
            :func:`ssrzoo.models.resolve_pretrained_file` for where it is looked for).
        pretrained_cfg_overlay: pretrained cfg fields to change, e.g. ``{'file': path}``
            for a manually downloaded copy of the official weight (still sha256-checked).
        checkpoint_path: your own weights (safetensors, or a tensors-only torch file),
            loaded strictly after construction; no sha256 check.
        cache_dir: Hugging Face cache folder (default: ``HF_HUB_CACHE``/``HF_HOME``).
        **model_kwargs: constructor arguments of the architecture.

    Returns:
        The model, in train mode, with ``.pretrained_cfg`` (band wavelengths, camera
        response, input range, training data, licence, metrics) and ``.model_args``.

    Raises:
        UnknownModelError: the name is not registered (the message suggests close names).
        WeightsNotFoundError: ``pretrained=True`` but no source has the file.
        ChecksumError: the weight file is not the published one.
        CheckpointError: the file is corrupt, pickled, or does not fit the model.

    Example:
        >>> import ssrzoo
        >>> model = ssrzoo.create_model("mae_ktsr_ntire", pretrained=True)  # doctest: +SKIP
        >>> model.pretrained_cfg.wavelengths[:3]  # doctest: +SKIP
        (400.0, 410.0, 420.0)
    """
    if not isinstance(model_name, str):
        raise TypeError(
            f"model_name must be a str such as 'mae_ktsr_ntire', 'hf-hub:org/repo' or "
            f"'local-dir:/path', got {type(model_name).__name__} {model_name!r}"
        )
    scheme, rest = parse_model_name(model_name)
    if scheme is not None:
        return _create_from_folder(
            scheme, rest, pretrained_cfg_overlay, checkpoint_path, cache_dir, model_kwargs
        )
    arch, tag = resolve_model_name(model_name)
    cfg = resolve_pretrained_cfg(f"{arch}.{tag}" if tag else arch, None, pretrained_cfg_overlay)
    entrypoint = get_model_entrypoint(arch)
    return entrypoint(
        pretrained=pretrained,
        pretrained_cfg=cfg,
        checkpoint_path=checkpoint_path,
        cache_dir=cache_dir,
        **model_kwargs,
    )


def _create_from_folder(
    scheme: str,
    location: str,
    overlay: dict[str, Any] | None,
    checkpoint_path: str | os.PathLike[str] | None,
    cache_dir: str | Path | None,
    model_kwargs: dict[str, Any],
) -> nn.Module:
    hub = scheme == "hf-hub"
    repo, _, revision = location.partition("@") if hub else (location, "", "")
    config, folder = load_config(repo, revision=revision or None, cache_dir=cache_dir, hub=hub)
    where = f"{CONFIG_NAME} of {scheme}:{repo}"
    try:
        cfg = PretrainedCfg.from_dict(config.get("pretrained_cfg") or {})
        # Where the weights are is decided here, never by the file: no 'file' or 'bundled'.
        cfg = cfg.replace(architecture=config["architecture"], file=None, bundled=False)
    except (TypeError, ValueError, AttributeError) as err:
        raise CheckpointError(
            f"{where} is not a valid ssrzoo config ({err}); write it with ssrzoo.save_pretrained"
        ) from err
    if checkpoint_path is None:
        filename = _weights_filename(cfg.hf_hub_filename or WEIGHTS_NAME, where)
        if hub:
            weights = hub_file(repo, filename, revision or None, cache_dir)
        else:
            weights = folder / filename
        cfg = cfg.replace(file=str(weights))
    if overlay:
        cfg = cfg.replace(**overlay)
    kwargs = {**(config.get("model_args") or {}), **model_kwargs}
    entrypoint = get_model_entrypoint(config["architecture"])
    return entrypoint(
        pretrained=checkpoint_path is None,
        pretrained_cfg=cfg,
        checkpoint_path=checkpoint_path,
        cache_dir=cache_dir,
        **kwargs,
    )


def _weights_filename(name: str, where: str) -> str:
    """The weight file a config names, refused if it points outside the model's folder.

    A downloaded config must not make ssrzoo read (and report on) any file of the machine.
    """
    path = PurePosixPath(name.replace("\\", "/")) if isinstance(name, str) else None
    if path is None or path.is_absolute() or not path.parts or ".." in path.parts or ":" in name:
        raise CheckpointError(
            f"{where} names the weight file {name!r}, which is not inside the model's folder; "
            f"name a file beside {CONFIG_NAME}, such as {WEIGHTS_NAME!r}"
        )
    return name
