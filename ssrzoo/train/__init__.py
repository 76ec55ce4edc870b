"""Training: ``TrainerConfig`` (YAML recipes), ``Trainer`` (pretrain / reconstruct / finetune),
losses, atomic checkpoints and ``torchrun`` data parallelism.

>>> from ssrzoo.train import Trainer, TrainerConfig
>>> cfg = TrainerConfig.from_yaml("recipes/mae_ktsr_ntire.yaml")  # doctest: +SKIP
>>> Trainer(cfg).fit()  # doctest: +SKIP
"""

from __future__ import annotations

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
from .trainer import Trainer, build_dataset, build_scheduler, load_response

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
    "load_checkpoint",
    "load_response",
    "reconstruction_metrics",
    "save_checkpoint",
]
