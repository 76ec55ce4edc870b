"""``create_model``: the one entry point that builds any ssrzoo model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from ._builder import resolve_pretrained_cfg
from ._hub import WEIGHTS_NAME, download_from_hub, load_config
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
    checkpoint_path: str | Path | None = None,
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
    checkpoint_path: str | Path | None,
    cache_dir: str | Path | None,
    model_kwargs: dict[str, Any],
) -> nn.Module:
    hub = scheme == "hf-hub"
    repo, _, revision = location.partition("@") if hub else (location, "", "")
    config, folder = load_config(repo, revision=revision or None, cache_dir=cache_dir, hub=hub)
    cfg = PretrainedCfg.from_dict(config.get("pretrained_cfg", {}))
    cfg = cfg.replace(architecture=config["architecture"])
    if checkpoint_path is None:
        if hub:
            weights = download_from_hub(
                repo,
                cfg.hf_hub_filename or WEIGHTS_NAME,
                revision=revision or None,
                cache_dir=cache_dir,
            )
        else:
            weights = folder / (cfg.hf_hub_filename or WEIGHTS_NAME)
        cfg = cfg.replace(file=str(weights))
    if overlay:
        cfg = cfg.replace(**overlay)
    kwargs = {**config.get("model_args", {}), **model_kwargs}
    entrypoint = get_model_entrypoint(config["architecture"])
    return entrypoint(
        pretrained=checkpoint_path is None,
        pretrained_cfg=cfg,
        checkpoint_path=checkpoint_path,
        cache_dir=cache_dir,
        **kwargs,
    )
