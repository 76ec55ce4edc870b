"""Reading weight files safely: safetensors first, never an unsafe unpickle."""

from __future__ import annotations

import hashlib
import logging
import pickle
import zipfile
from collections.abc import Mapping
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from ..exceptions import CheckpointError, ChecksumError

__all__ = [
    "clean_state_dict",
    "file_sha256",
    "load_state_dict",
    "state_dict_of",
    "verify_sha256",
]

_logger = logging.getLogger(__name__)
_STRIP_PREFIXES = ("module.", "_orig_mod.")


def file_sha256(path: str | Path, chunk_size: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks so large files need little memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def verify_sha256(path: str | Path, expected: str | None, what: str = "weight file") -> None:
    """Raise :class:`ChecksumError` if ``path`` does not hash to ``expected``.

    ``expected=None`` skips the check (user-supplied files have nothing to compare with).
    """
    if not expected:
        return
    actual = file_sha256(path)
    if actual.lower() != expected.lower():
        raise ChecksumError(
            f"sha256 mismatch for {what} {str(path)!r}: expected {expected}, got {actual}; "
            "the file is corrupt or not the published one: delete it and load again"
        )


def clean_state_dict(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Strip the ``module.`` (DDP) and ``_orig_mod.`` (``torch.compile``) key prefixes."""
    out = {}
    for key, value in state_dict.items():
        changed = True
        while changed:
            changed = False
            for prefix in _STRIP_PREFIXES:
                if key.startswith(prefix):
                    key, changed = key[len(prefix) :], True
            key = key.replace("._orig_mod.", ".")
        out[key] = value
    return out


def load_state_dict(
    path: str | Path, map_location: str | torch.device = "cpu"
) -> dict[str, torch.Tensor]:
    """Load a state dict from ``.safetensors``, or from a tensors-only torch pickle.

    ``.pth``/``.bin``/``.pt`` files go through ``torch.load(weights_only=True)``, which
    refuses arbitrary Python objects; there is no unsafe fallback.

    Raises:
        FileNotFoundError: the file does not exist.
        CheckpointError: the file is corrupt, holds pickled objects, or holds no tensors.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(
            f"checkpoint {str(path)!r} is a folder; pass the weight file inside it, or load a "
            "folder written by ssrzoo.save_pretrained as 'local-dir:<folder>'"
        )
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {str(path)!r} does not exist")
    kind = _file_kind(path)
    if kind == "safetensors":
        try:
            state = load_file(str(path), device=str(map_location))
        except (SafetensorError, OSError, ValueError) as err:
            raise CheckpointError(
                f"{str(path)!r} is not a readable safetensors file ({_first_line(err)}); "
                "re-download it or re-export it with `ssrzoo.save_pretrained`"
            ) from err
    elif kind == "torch":
        try:
            state = torch.load(path, map_location=map_location, weights_only=True)
        except pickle.UnpicklingError as err:
            if "weights only load failed" not in str(err).lower():
                raise CheckpointError(
                    f"{str(path)!r} is a corrupt torch checkpoint ({_first_line(err)})"
                ) from err
            raise CheckpointError(
                f"{str(path)!r} holds pickled Python objects, which ssrzoo never unpickles; "
                "re-save it as tensors only (safetensors.torch.save_file(model.state_dict(), "
                "'model.safetensors')) in the environment that made it"
            ) from err
        except Exception as err:  # a damaged pickle can fail in any way; none is a bug of ours
            reason = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
            raise CheckpointError(
                f"{str(path)!r} is a corrupt torch checkpoint ({_first_line(reason)}); "
                "check the file"
            ) from err
        state = _unwrap(state, path)
    else:
        raise CheckpointError(
            f"{str(path)!r} is {kind}, not a weight file; expected a .safetensors file or a "
            "torch state dict (.pth/.pt/.bin, from torch.save(model.state_dict(), path))"
        )
    return clean_state_dict(state)


_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"GIF8", "a GIF image"),
    (b"\x89HDF\r\n\x1a\n", "an HDF5 file (.h5, .mat v7.3)"),
    (b"MATLAB", "a MATLAB .mat file"),
    (b"\x93NUMPY", "a numpy .npy array"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"%PDF", "a PDF document"),
)


def state_dict_of(
    source: torch.nn.Module | Mapping[str, torch.Tensor] | str | Path,
) -> dict[str, torch.Tensor]:
    """The tensors of a module, a state dict or a weight file (see :func:`load_state_dict`),
    as one new dict."""
    if isinstance(source, torch.nn.Module):
        return dict(source.state_dict())
    if isinstance(source, (str, Path)):
        return load_state_dict(source)
    return dict(source)


def _file_kind(path: Path) -> str:
    """``'safetensors'``, ``'torch'``, or what the file is instead, e.g. ``'a PNG image'``.

    Read from the first bytes, so a mislabelled file gets a message that says what it is
    rather than whatever the unpickler trips over.
    """
    with open(path, "rb") as f:
        head = f.read(512)
    # safetensors: an 8-byte little-endian header length, then the JSON header.
    if path.suffix == ".safetensors" or head[8:9] == b"{":
        return "safetensors"
    if head.startswith(b"PK\x03\x04"):  # torch.save's zip format, or another zip
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
        except (zipfile.BadZipFile, OSError):
            return "a damaged zip archive"
        if any(name.endswith("data.pkl") for name in names):
            return "torch"
        return "a zip archive without torch tensors (an .npz?)"
    if head.startswith(b"\x80"):  # a pickle: torch.save's legacy format
        return "torch"
    for signature, kind in _SIGNATURES:
        if head.startswith(signature):
            return kind
    if not head:
        return "an empty file"
    text = head.decode("utf-8", errors="replace")
    printable = sum(c != "\ufffd" and (c.isprintable() or c in "\t\r\n") for c in text)
    return "a text file" if printable >= 0.95 * len(text) else "a file of unknown format"


def _unwrap(state: object, path: Path) -> dict[str, torch.Tensor]:
    """Accept ``{'state_dict': ...}``/``{'model': ...}`` wrappers that training scripts write."""
    if isinstance(state, Mapping):
        for key in ("state_dict", "model", "model_state_dict"):
            inner = state.get(key)
            if isinstance(inner, Mapping):
                state = inner
                break
    if not isinstance(state, Mapping) or not all(
        isinstance(v, torch.Tensor) for v in state.values()
    ):
        raise CheckpointError(
            f"{str(path)!r} does not hold a flat mapping of name -> tensor; "
            "save `model.state_dict()` instead"
        )
    if not state:
        raise CheckpointError(f"{str(path)!r} holds no tensors")
    _logger.info("loaded torch checkpoint %s with weights_only=True", path)
    return dict(state)


def _first_line(err: BaseException | str) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__
