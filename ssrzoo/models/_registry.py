"""Name -> model entrypoint, pretrained configs and aliases.

The API mirrors timm's registry (``register_model``, ``list_models`` with fnmatch
wildcards, ``arch.tag`` names) but is a separate registry: see ``docs/design/registry.md``
for why ssrzoo does not register into timm's.
"""

from __future__ import annotations

import difflib
import fnmatch
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, TypeVar

from ..exceptions import UnknownModelError
from ._hub import with_bundled_metadata
from ._pretrained import DefaultCfg, PretrainedCfg

if TYPE_CHECKING:
    from torch import nn

__all__ = [
    "get_arch_name",
    "get_model_entrypoint",
    "get_pretrained_cfg",
    "is_model",
    "list_aliases",
    "list_models",
    "list_pretrained",
    "register_model",
    "register_model_aliases",
    "register_pretrained_cfg",
    "resolve_model_name",
    "split_model_name_tag",
]

_model_entrypoints: dict[str, Callable[..., nn.Module]] = {}
_model_to_module: dict[str, str] = {}
_model_default_cfgs: dict[str, DefaultCfg] = {}
_pretrained_cfgs: dict[str, PretrainedCfg] = {}  # 'arch.tag' -> cfg
_aliases: dict[str, str] = {}  # alias -> 'arch.tag' or 'arch'
_carded: dict[str, tuple[PretrainedCfg, PretrainedCfg]] = {}  # 'arch.tag' -> (cfg, with card)

F = TypeVar("F", bound="Callable[..., nn.Module]")


def split_model_name_tag(name: str) -> tuple[str, str]:
    """``'mae_ktsr.ntire2020'`` -> ``('mae_ktsr', 'ntire2020')``; no tag gives ``''``."""
    arch, _, tag = name.partition(".")
    return arch, tag


def register_model(fn: F) -> F:
    """Decorator that registers a model entrypoint under its function name.

    The entrypoint's module may define ``default_cfgs`` (from
    :func:`generate_default_cfgs`); its tags become ``arch.tag`` names.
    """
    name = fn.__name__
    if name in _model_entrypoints:
        raise ValueError(f"model {name!r} is registered twice ({fn.__module__})")
    if "." in name:
        raise ValueError(f"model entrypoint name {name!r} must not contain '.'")
    module = sys.modules[fn.__module__]
    _model_entrypoints[name] = fn
    _model_to_module[name] = fn.__module__
    default_cfgs: Mapping[str, DefaultCfg] = getattr(module, "default_cfgs", {})
    if name in default_cfgs:
        entry = default_cfgs[name]
    else:
        entry = DefaultCfg(tags=[""], cfgs={"": PretrainedCfg(architecture=name)})
    _model_default_cfgs[name] = entry
    # Only the literal cfgs here: a bundled weight's config.json (its measured card) is read
    # on first use, by get_pretrained_cfg, so importing ssrzoo reads no weight folder.
    for cfg in entry.cfgs.values():
        _pretrained_cfgs[cfg.name] = cfg
    return fn


def register_pretrained_cfg(cfg: PretrainedCfg, *, overwrite: bool = False) -> None:
    """Add (or with ``overwrite``, replace) a weight tag of a registered architecture.

    Lets a user publish e.g. ``mae_ktsr.mycamera`` from a fine-tuned weight without
    editing ssrzoo. The first tag of an architecture stays its default.
    """
    if cfg.architecture not in _model_entrypoints:
        raise _unknown(cfg.architecture)
    entry = _model_default_cfgs[cfg.architecture]
    if cfg.tag in entry.cfgs and not overwrite:
        raise ValueError(f"{cfg.name!r} is already registered; pass overwrite=True to replace it")
    if cfg.tag not in entry.cfgs:
        entry.tags.append(cfg.tag)
    entry.cfgs[cfg.tag] = cfg
    _pretrained_cfgs[cfg.name] = cfg


def register_model_aliases(aliases: Mapping[str, str]) -> None:
    """Register extra names, e.g. ``{'mae_ktsr_ntire': 'mae_ktsr.ntire2020'}``.

    An alias must not shadow a registered architecture.
    """
    for alias, target in aliases.items():
        if alias in _model_entrypoints:
            raise ValueError(f"alias {alias!r} would shadow the model of that name")
        _aliases[alias] = target


def resolve_model_name(name: str) -> tuple[str, str]:
    """Resolve an alias or ``arch[.tag]`` to ``(arch, tag)``, tag ``''`` meaning default.

    Raises:
        UnknownModelError: with the closest registered names.
    """
    name = _aliases.get(name, name)
    arch, tag = split_model_name_tag(name)
    if arch not in _model_entrypoints:
        raise _unknown(name)
    if tag and tag not in _model_default_cfgs[arch].cfgs:
        tags = ", ".join(repr(f"{arch}.{t}") for t in _model_default_cfgs[arch].tags if t)
        raise UnknownModelError(
            f"model {arch!r} has no weight tag {tag!r}; known: {tags or 'none'}"
        )
    return arch, tag


def _unknown(name: str) -> UnknownModelError:
    candidates = [*_model_entrypoints, *_pretrained_cfgs, *_aliases]
    close = difflib.get_close_matches(name, candidates, n=3, cutoff=0.5)
    hint = f"did you mean {', '.join(repr(c) for c in close)}? " if close else ""
    arch = split_model_name_tag(name)[0]
    pattern = f"*{arch[:4]}*" if len(arch) >= 4 else "*"
    start = f"unknown model {name!r}; {hint}"
    return UnknownModelError(
        f"{start}`ssrzoo.list_models({pattern!r})` lists the registered names",
        cli_message=f"{start}`ssrzoo list '{pattern}'` lists the registered names",
    )


def get_arch_name(name: str) -> str:
    """The architecture part of a model name or alias."""
    return resolve_model_name(name)[0]


def is_model(name: str) -> bool:
    """True if ``name`` (architecture, ``arch.tag`` or alias) is registered."""
    try:
        resolve_model_name(name)
    except UnknownModelError:
        return False
    return True


def get_model_entrypoint(name: str) -> Callable[..., nn.Module]:
    """The registered function that builds ``name``'s architecture."""
    return _model_entrypoints[resolve_model_name(name)[0]]


def get_pretrained_cfg(name: str) -> PretrainedCfg:
    """The pretrained config of ``arch.tag`` (or of an architecture's default tag)."""
    arch, tag = resolve_model_name(name)
    entry = _model_default_cfgs[arch]
    cfg = entry.cfgs[tag] if tag else entry.default
    if not cfg.bundled:
        return cfg
    # A bundled weight: its cfg with the card of its config.json, read on first use and
    # kept for that very cfg (a re-registered cfg gets its card read again; an unreadable
    # card is not kept, so the next call tries again).
    known = _carded.get(cfg.name)
    if known is not None and known[0] is cfg:
        return known[1]
    carded = with_bundled_metadata(cfg)
    if carded is not cfg:
        _carded[cfg.name] = (cfg, carded)
    return carded


def _matches(name: str, include: Iterable[str], exclude: Iterable[str]) -> bool:
    include = list(include)
    if include and not any(fnmatch.fnmatchcase(name, p) for p in include):
        return False
    return not any(fnmatch.fnmatchcase(name, p) for p in exclude)


def _as_list(patterns: str | Iterable[str]) -> list[str]:
    if isinstance(patterns, str):
        return [patterns] if patterns else []
    return list(patterns)


def list_models(
    filter: str | Iterable[str] = "",
    pretrained: bool = False,
    exclude_filters: str | Iterable[str] = (),
    module: str = "",
) -> list[str]:
    """Registered model names, sorted, filtered by fnmatch wildcards.

    Args:
        filter: pattern(s) a name must match, e.g. ``'*ktsr*'``.
        pretrained: list only ``arch.tag`` names that have published weights.
        exclude_filters: pattern(s) that remove names.
        module: only models defined in this module of ``ssrzoo.models`` (e.g. ``'mae_ktsr'``).

    Returns:
        Architecture names, or ``arch.tag`` names when ``pretrained`` is true.
    """
    include, exclude = _as_list(filter), _as_list(exclude_filters)
    out = []
    for arch in _model_entrypoints:
        if module and _model_to_module[arch].rsplit(".", 1)[-1] != module:
            continue
        if pretrained:
            for cfg in _model_default_cfgs[arch].cfgs.values():
                if cfg.has_weights and _matches(cfg.name, include, exclude):
                    out.append(cfg.name)
        elif _matches(arch, include, exclude):
            out.append(arch)
    return sorted(out)


def list_pretrained(
    filter: str | Iterable[str] = "", exclude_filters: str | Iterable[str] = ()
) -> list[str]:
    """The ``arch.tag`` names that have published weights."""
    return list_models(filter, pretrained=True, exclude_filters=exclude_filters)


def list_aliases() -> dict[str, str]:
    """Alias -> canonical name, e.g. ``{'mae_ktsr_ntire': 'mae_ktsr.ntire2020'}``."""
    return dict(sorted(_aliases.items()))
