"""Exceptions raised by ssrzoo.

Each one carries a one-line message that names the bad value and says how to fix it.
They subclass the built-in exception a caller would already catch (``ValueError``,
``FileNotFoundError``), so ``except ValueError`` keeps working.
"""

from __future__ import annotations

__all__ = [
    "CheckpointError",
    "ChecksumError",
    "ConfigError",
    "DatasetNotFoundError",
    "ExportError",
    "InsufficientMemoryError",
    "MissingDependencyError",
    "SsrzooError",
    "UnknownModelError",
    "WeightsNotFoundError",
]


class SsrzooError(Exception):
    """Base class of every error ssrzoo raises on purpose.

    Args:
        *args: the message, as for any exception.
        cli_message: the same message in the terms of the ``ssrzoo`` command (``--checkpoint``
            rather than ``checkpoint_path=``), printed by the CLI instead; ``None``: the
            message reads the same in both.
    """

    def __init__(self, *args: object, cli_message: str | None = None) -> None:
        super().__init__(*args)
        self.cli_message = cli_message


class UnknownModelError(SsrzooError, ValueError):
    """A model name that is not in the registry."""


class WeightsNotFoundError(SsrzooError, FileNotFoundError):
    """No source in the weight-resolution order could provide the file."""


class DatasetNotFoundError(SsrzooError, FileNotFoundError):
    """A dataset missing under its ``root``; the message names the download source and tree."""


class ChecksumError(SsrzooError, ValueError):
    """A weight file whose sha256 differs from the one pinned in the registry."""


class ConfigError(SsrzooError, ValueError):
    """A training config with an unknown key, a wrong type or inconsistent settings."""


class CheckpointError(SsrzooError, ValueError):
    """A checkpoint that is corrupt, pickled, or does not match the model."""


class InsufficientMemoryError(SsrzooError, MemoryError):
    """The output cube (or one tile) does not fit in the memory available."""


class MissingDependencyError(SsrzooError, ImportError):
    """An optional package a feature needs is not installed; the message names the extra."""


class ExportError(SsrzooError, RuntimeError):
    """A model that cannot be exported, or whose exported graph disagrees with torch."""
