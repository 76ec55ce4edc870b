"""ssrzoo: a PyTorch model zoo for spectral reconstruction from RGB.

>>> import ssrzoo
>>> ssrzoo.list_models("*ktsr*")  # doctest: +SKIP
['mae_ktsr']
"""

import importlib
from typing import TYPE_CHECKING, Any

from .exceptions import (
    CheckpointError,
    ChecksumError,
    DatasetNotFoundError,
    SsrzooError,
    UnknownModelError,
    WeightsNotFoundError,
)
from .version import __version__

if TYPE_CHECKING:
    from .evaluation import EvaluationResult, evaluate
    from .inference import Reconstructor, SpectralImage, predict
    from .models import (
        PretrainedCfg,
        create_model,
        get_pretrained_cfg,
        is_model,
        list_aliases,
        list_models,
        list_pretrained,
        push_to_hub,
        register_model,
        save_pretrained,
    )

# The models and inference import torch (seconds), which `ssrzoo --help`, `ssrzoo list` and
# usage errors do not need: their names are imported on first use (PEP 562).
_LAZY = {
    **dict.fromkeys(("EvaluationResult", "evaluate"), "evaluation"),
    **dict.fromkeys(("Reconstructor", "SpectralImage", "predict"), "inference"),
    **dict.fromkeys(
        (
            "PretrainedCfg",
            "create_model",
            "get_pretrained_cfg",
            "is_model",
            "list_aliases",
            "list_models",
            "list_pretrained",
            "push_to_hub",
            "register_model",
            "save_pretrained",
        ),
        "models",
    ),
}
_SUBPACKAGES = (
    "data",
    "downstream",
    "evaluation",
    "inference",
    "io",
    "metrics",
    "models",
    "protocols",
    "spectral",
    "train",
)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    if name in _SUBPACKAGES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY, *_SUBPACKAGES})


__all__ = [
    "CheckpointError",
    "ChecksumError",
    "DatasetNotFoundError",
    "EvaluationResult",
    "PretrainedCfg",
    "Reconstructor",
    "SpectralImage",
    "SsrzooError",
    "UnknownModelError",
    "WeightsNotFoundError",
    "__version__",
    "create_model",
    "evaluate",
    "get_pretrained_cfg",
    "is_model",
    "list_aliases",
    "list_models",
    "list_pretrained",
    "predict",
    "push_to_hub",
    "register_model",
    "save_pretrained",
]
