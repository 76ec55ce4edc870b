"""Atomic file writes, shared by every package that writes user-visible files.

A crash, a full disk or Ctrl-C while writing must never leave a half-written weight, cube or
log behind, nor replace a good file with a broken one: each file is written to a temporary
name in the same folder and renamed over its target only once complete.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

__all__ = ["atomic_files", "atomic_write"]


@contextlib.contextmanager
def atomic_files(*targets: Path) -> Iterator[list[Path]]:
    """Yield temporary paths beside ``targets``; rename them onto ``targets`` on success.

    On any exception (including ``KeyboardInterrupt``) the temporary files are removed and
    no target is touched.
    """
    tag = uuid.uuid4().hex[:8]
    temps = [t.with_name(f".{t.name}.{tag}.tmp") for t in targets]
    done: list[Path] = []
    try:
        yield temps
        for temp, target in zip(temps, targets, strict=True):
            os.replace(temp, target)
            done.append(target)
    except BaseException:
        for temp in temps:
            temp.unlink(missing_ok=True)
        for target in done:  # a later rename failed: do not leave half a set behind
            target.unlink(missing_ok=True)
        raise


def atomic_write(path: str | Path, write: Callable[[str], Any]) -> None:
    """Call ``write(temp_path)`` then rename the temporary file onto ``path``."""
    with atomic_files(Path(path)) as (temp,):
        write(str(temp))
