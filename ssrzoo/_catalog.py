"""A torch-free snapshot of the model registry, so ``ssrzoo list`` answers at once.

The registry is filled by importing every model family, which imports torch (seconds).
``_catalog.json`` holds what ``ssrzoo list`` prints, with the sha256 of the files it was
made from (``ssrzoo/models/*.py``, ``ssrzoo/protocols.py`` and the bundled weights'
``config.json``). When they change, as in a development checkout, the snapshot no longer
matches and the live registry is read instead: a stale catalog costs time, never a wrong
answer. Regenerate it with ``python -m ssrzoo._catalog``; ``tests/test_bad_inputs.py`` checks
that it is fresh.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

__all__ = ["CATALOG_FILE", "build_catalog", "load_catalog", "sources_digest"]

_PACKAGE = Path(__file__).resolve().parent
CATALOG_FILE = _PACKAGE / "_catalog.json"
_FORMAT = 1


def _sources() -> list[Path]:
    models = sorted((_PACKAGE / "models").glob("*.py"))
    configs = sorted((_PACKAGE / "weights").glob("*/config.json"))
    # The protocols fill most of every weight's cfg (band grid, camera, dataset).
    return [*models, _PACKAGE / "protocols.py", *configs]


def sources_digest() -> str:
    """sha256 over the files the registry is built from (paths and contents)."""
    digest = hashlib.sha256(f"format {_FORMAT}\n".encode())
    for path in _sources():
        digest.update(path.relative_to(_PACKAGE).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def build_catalog() -> dict[str, Any]:
    """The catalog of the live registry (imports every model family, hence torch)."""
    from .models import get_pretrained_cfg, list_aliases, list_models

    weights = {}
    for name in list_models(pretrained=True):
        cfg = get_pretrained_cfg(name)
        wl = cfg.wavelengths
        weights[name] = {
            "num_bands": cfg.num_bands,
            "wavelength_range": [wl[0], wl[-1]] if wl else None,
            "response_name": cfg.response_name,
        }
    return {
        "digest": sources_digest(),
        "architectures": list_models(),
        "weights": weights,
        "aliases": list_aliases(),
    }


def load_catalog() -> dict[str, Any] | None:
    """The stored catalog, or ``None`` when it is missing or was made from other sources."""
    try:
        catalog = json.loads(CATALOG_FILE.read_text())
        fresh = catalog.get("digest") == sources_digest()
    except (OSError, ValueError, AttributeError):
        return None
    return catalog if fresh else None


if __name__ == "__main__":
    CATALOG_FILE.write_text(json.dumps(build_catalog(), indent=1) + "\n")
    print(f"wrote {CATALOG_FILE}")
