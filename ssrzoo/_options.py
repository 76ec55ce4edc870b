"""The options of :class:`~ssrzoo.inference.Reconstructor`, in one place and without torch.

:class:`ReconstructorOptions` holds each option's name, type, default and checks; the
metadata of its fields holds the command line's flag and help. ``Reconstructor`` and
``predict`` keep explicit keyword signatures (typed, documented, seen by IDEs) and hand what
they were given to :func:`option_values`; ``ssrzoo predict`` and ``ssrzoo eval`` generate
their flags from the fields. ``tests/test_options.py`` checks that the signatures, the
fields and the flags agree. Importing this module costs no torch import, so ``ssrzoo
--help`` stays fast.
"""

from __future__ import annotations

import dataclasses
import enum
import os
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

__all__ = ["OPTION_DEFAULT", "CliFlag", "ReconstructorOptions", "option_values"]


class _Default(enum.Enum):
    OPTION = "the option's own default"


OPTION_DEFAULT = _Default.OPTION
"""The default of a :class:`CliFlag` that takes its option's."""


@dataclasses.dataclass(frozen=True)
class CliFlag:
    """How an option appears on the command line.

    Attributes:
        help: the flag's help text.
        flag: the flag, when not ``--`` plus the option's name with ``-`` for ``_``.
        type: what argparse converts the text to (``None``: a string, or a switch for a
            ``bool`` option).
        choices: the accepted values.
        default: the flag's default, when not the option's.
        metavar: the value's name in the help.
        to_option: turns the flag's value into the option's (e.g. GB into bytes).
    """

    help: str
    flag: str | None = None
    type: Callable[[str], Any] | None = None
    choices: tuple[str, ...] | None = None
    default: Any = OPTION_DEFAULT
    metavar: str | None = None
    to_option: Callable[[Any], Any] | None = None


def _cli(help: str, **kwargs: Any) -> dict[str, CliFlag]:
    """Field metadata: the option's command-line flag."""
    return {"cli": CliFlag(help, **kwargs)}


def _gigabytes(value: float | None) -> int | None:
    return None if value is None else int(value * 2**30)


_SWITCH = {"auto": None, "on": True, "off": False}
PRECISIONS = ("fp32", "bf16", "fp16")
BACKENDS = ("torch", "onnxruntime")


@dataclasses.dataclass(frozen=True, kw_only=True)
class ReconstructorOptions:
    """How a :class:`~ssrzoo.inference.Reconstructor` runs its model.

    Each field is a keyword argument of ``Reconstructor`` (and, but ``checkpoint_path``, of
    ``predict``), documented there. Invalid values raise :class:`ValueError`. The fields with a
    flag are in the order ``ssrzoo predict --help`` lists them.
    """

    pretrained: bool = True
    wavelengths: Sequence[float] | None = None
    tile: int | None = dataclasses.field(
        default=None,
        metadata=_cli("tile side in px (default: from free memory; 0: none)", type=int),
    )
    overlap: int | None = dataclasses.field(
        default=None, metadata=_cli("tile overlap in px", type=int)
    )
    tile_batch: int = dataclasses.field(
        default=1, metadata=_cli("tiles per forward pass (1)", type=int)
    )
    ensemble: bool = dataclasses.field(
        default=False, metadata=_cli("8-way flip/transpose self-ensemble")
    )
    device: str | torch.device | None = dataclasses.field(
        default=None, metadata=_cli("cpu, cuda, cuda:1 (default: cuda if available)")
    )
    precision: str = dataclasses.field(
        default="fp32",
        metadata=_cli(
            "the model's arithmetic: fp32, or bf16/fp16 autocast (fp16: GPU only); the cube "
            "is float32 either way",
            choices=PRECISIONS,
        ),
    )
    checkpoint_path: str | os.PathLike[str] | None = dataclasses.field(
        default=None, metadata=_cli("your own weights for the architecture", flag="--checkpoint")
    )
    alpha: str = dataclasses.field(
        default="error", metadata=_cli("what to do with RGBA input", choices=("error", "drop"))
    )
    source_encoding: str = dataclasses.field(
        default="srgb",
        metadata=_cli(
            "how the photos are encoded (srgb for ordinary photos)",
            flag="--input-encoding",
            choices=("srgb", "linear"),
        ),
    )
    memory_limit: int | None = dataclasses.field(
        default=None,
        metadata=_cli("RAM to plan for", type=float, metavar="GB", to_option=_gigabytes),
    )
    camera_correction: bool | None = dataclasses.field(
        default=None,
        metadata=_cli(
            "map sRGB photos to the weight's camera RGB; auto: when the weight takes linear "
            "RGB of a known camera response (default)",
            choices=tuple(_SWITCH),
            default="auto",
            to_option=_SWITCH.__getitem__,
        ),
    )
    rgb_consistent: bool = dataclasses.field(
        default=False,
        metadata=_cli(
            "project each spectrum onto the nearest non-negative one that reproduces the "
            "input RGB through the weight's camera response (unclipped pixels only)"
        ),
    )

    exposure: float = dataclasses.field(
        default=1.0,
        metadata=_cli(
            "the photos' gain relative to the weight's training exposure (its card's "
            "input_note): the model input is divided by it, the cube multiplied by it",
            type=float,
        ),
    )
    backend: str = dataclasses.field(
        default="torch",
        metadata=_cli(
            "run the model in torch, or in onnxruntime on the CPU (needs ssrzoo[onnx]; "
            "graphs are exported once per tile shape and cached)",
            choices=BACKENDS,
        ),
    )

    def __post_init__(self) -> None:
        if not (isinstance(self.exposure, (int, float)) and 0 < self.exposure < float("inf")):
            raise ValueError(
                f"exposure={self.exposure!r} must be a positive number: the photo's gain over "
                "the weight's training gain (1 = the photo is exposed as the training RGB was)"
            )
        if self.tile is not None and self.tile < 0:
            raise ValueError(f"tile={self.tile} must be >= 0 (0 = no tiling, None = automatic)")
        if self.tile_batch < 1:
            raise ValueError(f"tile_batch={self.tile_batch} must be >= 1")
        if self.source_encoding not in ("srgb", "linear"):
            raise ValueError(f"source_encoding {self.source_encoding!r}: use 'srgb' or 'linear'")
        if self.alpha not in ("error", "drop"):
            raise ValueError(f"alpha={self.alpha!r} is not supported; use 'error' or 'drop'")
        if self.backend not in BACKENDS:
            raise ValueError(
                f"backend={self.backend!r} is not supported; use 'torch' or 'onnxruntime'"
            )
        if self.precision not in PRECISIONS:
            raise ValueError(
                f"precision={self.precision!r} is not supported; use 'fp32', 'bf16' or 'fp16'"
            )
        if self.precision != "fp32" and self.backend != "torch":
            raise ValueError(
                f"precision={self.precision!r} is a torch autocast setting; "
                f"backend={self.backend!r} runs the graph in float32: use precision='fp32' "
                "or backend='torch'"
            )

    @staticmethod
    def cli_flags() -> dict[str, CliFlag]:
        """Each option that has a command-line flag, by name, in field order."""
        return {
            f.name: f.metadata["cli"]
            for f in dataclasses.fields(ReconstructorOptions)
            if "cli" in f.metadata
        }


OPTION_NAMES = tuple(f.name for f in dataclasses.fields(ReconstructorOptions))


def option_values(scope: Mapping[str, Any]) -> dict[str, Any]:
    """The options among ``scope`` (a function's ``locals()``), by name.

    ``Reconstructor`` and ``predict`` pass their own ``locals()``, so forwarding their keyword
    arguments lists no name.
    """
    return {name: scope[name] for name in OPTION_NAMES if name in scope}
