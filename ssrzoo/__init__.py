"""ssrzoo: a PyTorch model zoo for spectral reconstruction from RGB.

>>> import ssrzoo
>>> ssrzoo.list_models("*ktsr*")  # doctest: +SKIP
['mae_ktsr']
"""

__version__ = "0.1.0"

from .exceptions import (
    CheckpointError,
    ChecksumError,
    DatasetNotFoundError,
    SsrzooError,
    UnknownModelError,
    WeightsNotFoundError,
)
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

__all__ = [
    "CheckpointError",
    "ChecksumError",
    "DatasetNotFoundError",
    "PretrainedCfg",
    "Reconstructor",
    "SpectralImage",
    "SsrzooError",
    "UnknownModelError",
    "WeightsNotFoundError",
    "__version__",
    "create_model",
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
