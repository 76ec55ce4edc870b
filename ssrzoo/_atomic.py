"""Atomic file writes, shared by every package that writes user-visible files.

A crash, a full disk or Ctrl-C while writing must never leave a half-written weight, cube or
log behind, nor replace a good file with a broken one: each file is written to a temporary
name in the same folder and renamed over its target only once complete. SIGTERM, whose
default action kills the process without any cleanup, is turned into :class:`Terminated`
while files are being written, so it cleans up as Ctrl-C does.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

__all__ = ["Terminated", "atomic_files", "atomic_write", "terminate_raises"]


class Terminated(SystemExit):
    """SIGTERM, raised as an exception so cleanup runs; exits with 143 as the signal would."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated(128 + signum)


@contextlib.contextmanager
def terminate_raises() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Terminated` instead of killing the process.

    Only where SIGTERM still has its default action (a handler someone installed, such as
    the Trainer's graceful stop, is left alone) and on the main thread, the only one that
    may set handlers.
    """
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    ):
        yield
        return
    signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


@contextlib.contextmanager
def atomic_files(*targets: Path) -> Iterator[list[Path]]:
    """Yield temporary paths beside ``targets``; rename them onto ``targets`` on success.

    On any exception (including ``KeyboardInterrupt`` and SIGTERM) the temporary files are
    removed and no target is touched.
    """
    tag = uuid.uuid4().hex[:8]
    temps = [t.with_name(f".{t.name}.{tag}.tmp") for t in targets]
    done: list[Path] = []
    with terminate_raises():
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
