"""MkDocs hook: weight tables generated from the registry at build time.

A page that contains ``<!-- ssrzoo-weights: PATTERN -->`` gets, in its place, a table of
every weight tag whose ``arch.tag`` name matches the fnmatch ``PATTERN`` (``*`` for all,
``mae_ktsr.*`` for one family): bands and wavelengths, camera response, training data,
metrics, parameters, licence and where the file comes from. The table is read from
``ssrzoo.get_pretrained_cfg``, so it cannot disagree with what ``create_model`` loads.
A pattern that matches nothing is a build warning (an error under ``--strict``).
"""

from __future__ import annotations

import fnmatch
import functools
import logging
import re
from typing import Any

_log = logging.getLogger("mkdocs.hooks.ssrzoo_weights")
MARKER = re.compile(r"<!--\s*ssrzoo-weights:\s*(?P<pattern>\S+)\s*-->")


@functools.cache
def _params(name: str) -> int | None:
    import torch

    import ssrzoo

    try:  # no memory and no init cost where the model allows it
        with torch.device("meta"):
            model = ssrzoo.create_model(name)
    except Exception:
        try:
            model = ssrzoo.create_model(name)
        except Exception:
            return None
    return sum(p.numel() for p in model.parameters())


def _weight_names() -> list[str]:
    import ssrzoo

    return sorted(set(ssrzoo.list_pretrained()) | set(ssrzoo.list_aliases().values()))


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ") if text not in (None, "") else "—"


def weights_table(pattern: str) -> str:
    """The Markdown table of the weight tags matching ``pattern`` (empty string if none)."""
    import ssrzoo

    aliases: dict[str, list[str]] = {}
    for alias, target in ssrzoo.list_aliases().items():
        aliases.setdefault(target, []).append(alias)
    names = [n for n in _weight_names() if fnmatch.fnmatchcase(n, pattern)]
    if not names:
        return ""
    lines = [
        "| weight | bands | camera response | training data | metrics | parameters | licence "
        "| file |",
        "|---|---|---|---|---|---:|---|---|",
    ]
    for name in names:
        cfg = ssrzoo.get_pretrained_cfg(name)
        wl = cfg.wavelengths
        bands = f"{cfg.num_bands}" + (f": {wl[0]:g}–{wl[-1]:g} nm" if wl else "")
        metrics = ", ".join(f"{k.upper()} {v:.4g}" for k, v in cfg.metrics.items())
        if metrics and cfg.metrics_dataset:
            metrics += f" ({cfg.metrics_dataset})"
        params = _params(name)
        size = f"{params / 1e6:.2f} M" if params and params >= 10_000 else _cell(params)
        where = (
            "bundled + Hub"
            if cfg.has_weights and cfg.bundled
            else "Hub"
            if cfg.has_weights
            else "not published yet"
        )
        label = f"`{name}`" + "".join(f"<br>`{a}`" for a in aliases.get(name, []))
        row = [label, bands, cfg.response_name, cfg.dataset, metrics, size, cfg.license, where]
        lines.append("| " + " | ".join(_cell(c) if i else c for i, c in enumerate(row)) + " |")
    return "\n".join(lines)


def on_page_markdown(markdown: str, page: Any, **_: Any) -> str:
    def table(match: re.Match[str]) -> str:
        text = weights_table(match["pattern"])
        if not text:
            _log.warning(
                "%s: no registered weight matches %r", page.file.src_path, match["pattern"]
            )
        return text

    return MARKER.sub(table, markdown)
