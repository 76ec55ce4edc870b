"""Training: ``TrainerConfig`` (YAML recipes), ``Trainer`` (pretrain / reconstruct / finetune),
losses, atomic checkpoints and ``torchrun`` data parallelism.

One module per job: ``config`` (the recipe), ``builders`` (recipe -> datasets, loss,
optimizer, schedule), ``weights`` (starting weights and priors), ``trainer`` (the loop and
its state), ``checkpoint``, ``log``, ``distributed`` and ``export`` (the model card).
Validation is :func:`ssrzoo.evaluate`, the loop every other measurement uses.

>>> from ssrzoo.train import Trainer, TrainerConfig
>>> cfg = TrainerConfig.from_yaml("recipes/mae_ktsr_ntire.yaml")  # doctest: +SKIP
>>> Trainer(cfg).fit()  # doctest: +SKIP
"""

from __future__ import annotations

from .builders import build_dataset, build_scheduler, evaluate_recipe, load_response
from .checkpoint import CheckpointManager, load_checkpoint, save_checkpoint
from .config import (
    ConfigError,
    DataConfig,
    DatasetConfig,
    EmaConfig,
    LossConfig,
    ModelConfig,
    OptimConfig,
    SchedConfig,
    TrainerConfig,
)
from .losses import ReconstructionLoss, reconstruction_metrics
from .trainer import Trainer

__all__ = [
    "CheckpointManager",
    "ConfigError",
    "DataConfig",
    "DatasetConfig",
    "EmaConfig",
    "LossConfig",
    "ModelConfig",
    "OptimConfig",
    "ReconstructionLoss",
    "SchedConfig",
    "Trainer",
    "TrainerConfig",
    "build_dataset",
    "build_scheduler",
    "evaluate_recipe",
    "load_checkpoint",
    "load_response",
    "reconstruction_metrics",
    "save_checkpoint",
]
