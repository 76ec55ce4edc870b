"""Exceptions raised by ssrzoo.

Each one carries a one-line message that names the bad value and says how to fix it.
They subclass the built-in exception a caller would already catch (``ValueError``,
``FileNotFoundError``), so ``except ValueError`` keeps working.
"""

from __future__ import annotations

__all__ = [
    "CheckpointError",
    "ChecksumError",
    "DatasetNotFoundError",
    "SsrzooError",
    "UnknownModelError",
    "WeightsNotFoundError",
]


class SsrzooError(Exception):
    """Base class of every error ssrzoo raises on purpose."""


class UnknownModelError(SsrzooError, ValueError):
    """A model name that is not in the registry."""


class WeightsNotFoundError(SsrzooError, FileNotFoundError):
    """No source in the weight-resolution order could provide the file."""


class DatasetNotFoundError(SsrzooError, FileNotFoundError):
    """A dataset missing under its ``root``; the message names the download source and tree."""


class ChecksumError(SsrzooError, ValueError):
    """A weight file whose sha256 differs from the one pinned in the registry."""


class CheckpointError(SsrzooError, ValueError):
    """A checkpoint that is corrupt, pickled, or does not match the model."""
