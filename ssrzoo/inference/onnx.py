"""ONNX export, and onnxruntime as a second backend of the :class:`Reconstructor`.

* :func:`export_onnx` writes a model (a registered name with its weights, or a module) as an
  ONNX graph with the weight's metadata (name, wavelengths, input convention, the whole
  pretrained cfg), atomically, after checking the graph against torch on a random input.
* :class:`OnnxModule` runs such graphs with onnxruntime (CPU) behind an ``nn.Module``
  interface, which is how ``Reconstructor(..., backend="onnxruntime")`` uses them: either
  one file written by :func:`export_onnx`, or a torch model whose graphs are exported on
  demand, one per tile shape, into :func:`onnx_cache_dir`.

The graph takes ``rgb`` ``(B, 3, H, W)`` float32, already in the weight's input convention
(``input_encoding``, ``input_range``: what the Reconstructor feeds the torch model) and
returns ``cube`` ``(B, num_bands, H, W)`` float32. Graphs are exported by ``torch.export``
(``torch.onnx.export(dynamo=True)``), which runs ``forward`` as a traced program: code paths
that only apply to eager CPU inference (MAE-KTSR's strip path) check
``torch.compiler.is_compiling()`` and stay out of the graph.

Needs the optional packages ``onnx``, ``onnxscript`` and ``onnxruntime``
(``pip install 'ssrzoo[onnx]'``).
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import torch
from torch import nn

from .._atomic import atomic_write
from ..exceptions import ExportError, MissingDependencyError
from ..models import PretrainedCfg, create_model
from ..version import __version__

__all__ = ["DEFAULT_OPSET", "OnnxModule", "export_onnx", "onnx_cache_dir"]

DEFAULT_OPSET = 18
"""ONNX opset of the exports (the oldest the torch.export-based exporter writes natively)."""
INPUT_NAME, OUTPUT_NAME = "rgb", "cube"
_INSTALL = "pip install 'ssrzoo[onnx]'"
#: metadata key prefix of the exports
_KEY = "ssrzoo."


def _require(name: str, purpose: str) -> ModuleType:
    """Import an optional package, or say which extra installs it."""
    try:
        return importlib.import_module(name)
    except ImportError as err:
        raise MissingDependencyError(
            f"{purpose} needs the optional package {name!r}, which is not installed; "
            f"install it with {_INSTALL}"
        ) from err


def onnx_cache_dir() -> Path:
    """Where the onnxruntime backend keeps the graphs it exports.

    ``$SSRZOO_ONNX_CACHE`` if set, else ``$XDG_CACHE_HOME/ssrzoo/onnx`` (default
    ``~/.cache/ssrzoo/onnx``). Files are named by the weights' digest and the tile shape, so
    a changed weight or ssrzoo/torch version exports afresh; the folder can be deleted
    at any time.
    """
    if os.environ.get("SSRZOO_ONNX_CACHE"):
        return Path(os.environ["SSRZOO_ONNX_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "ssrzoo" / "onnx"


def _model_name(model: nn.Module) -> str:
    cfg = getattr(model, "pretrained_cfg", None)
    return cfg.name if isinstance(cfg, PretrainedCfg) else type(model).__name__


def _metadata(model: nn.Module, dynamic: bool, opset: int) -> dict[str, str]:
    cfg = getattr(model, "pretrained_cfg", None)
    meta = {
        "version": __version__,
        "torch_version": torch.__version__,
        "name": _model_name(model),
        "architecture": type(model).__name__,
        "model_args": json.dumps(getattr(model, "model_args", {}) or {}, default=str),
        "input": f"{INPUT_NAME}: (B, 3, H, W) float32 in the weight's input convention",
        "output": f"{OUTPUT_NAME}: (B, num_bands, H, W) float32",
        "dynamic_hw": "true" if dynamic else "false",
        "opset": str(opset),
    }
    if isinstance(cfg, PretrainedCfg):
        meta.update(
            wavelengths=json.dumps(list(cfg.wavelengths)),
            num_bands=str(cfg.num_bands),
            input_encoding=cfg.input_encoding,
            input_range=json.dumps(list(cfg.input_range)),
            output_units=str(cfg.output_units),
            pretrained_cfg=json.dumps(cfg.to_dict()),
        )
    meta["torch_bytes_per_pixel"] = f"{_torch_bytes_per_pixel(model):.1f}"
    return {_KEY + key: value for key, value in meta.items()}


def _torch_bytes_per_pixel(model: nn.Module) -> float:
    """Peak live tensor bytes per pixel of the torch model on a small input.

    Stored with the export so a :class:`Reconstructor` running the file without the torch
    model still sizes its tiles as it would with it.
    """
    from .predictor import _PROBE_SIDE, _LiveTensorBytes

    device = next(model.parameters(), torch.empty(0)).device
    probe = torch.zeros(1, 3, _PROBE_SIDE, _PROBE_SIDE, device=device)
    with torch.inference_mode(), _LiveTensorBytes() as tracker:
        model(probe)
    return tracker.peak / _PROBE_SIDE**2


def _export_program(
    model: nn.Module, example: torch.Tensor, opset: int, dynamic: bool, min_side: int
) -> Any:
    dynamic_shapes = None
    if dynamic:
        dim = torch.export.Dim
        dynamic_shapes = (
            {
                0: dim("batch", min=1, max=4096),
                2: dim("height", min=min_side, max=2**16),
                3: dim("width", min=min_side, max=2**16),
            },
        )
    try:
        # torch.export first: the ONNX exporter would fall back to a looser trace when the
        # model's Python specializes on the size, and give a graph that is wrong elsewhere.
        program = torch.export.export(model, (example,), dynamic_shapes=dynamic_shapes)
        return torch.onnx.export(
            program,
            (example,),
            dynamo=True,
            opset_version=opset,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            verbose=False,
        )
    except Exception as err:  # torch.export's errors are many classes, all fatal here
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        hint = (
            "; its forward specializes on the input size: export with dynamic=False at the "
            "size you need (the Reconstructor exports one graph per tile shape)"
            if dynamic
            else ""
        )
        raise ExportError(
            f"torch.export could not export {_model_name(model)!r}{hint} ({first})"
        ) from err


def export_onnx(
    model: str | nn.Module,
    path: str | os.PathLike[str],
    *,
    size: int | tuple[int, int] = 512,
    batch: int = 1,
    opset: int = DEFAULT_OPSET,
    dynamic: bool = False,
    min_side: int = 32,
    pretrained: bool = True,
    overwrite: bool = False,
    atol: float = 1e-4,
) -> Path:
    """Export a model to an ONNX file, checked against torch.

    The graph takes ``rgb`` ``(batch, 3, H, W)`` float32 in the weight's input convention
    (its cfg's ``input_encoding`` and ``input_range``, as the torch model does) and returns
    ``cube`` ``(batch, num_bands, H, W)`` float32. Its metadata (``ssrzoo.*`` keys) holds the
    weight's name, wavelengths, input encoding and range, and the whole pretrained cfg, so
    ``Reconstructor(path, backend="onnxruntime")`` needs nothing else.

    Before the file appears at ``path``, the graph is run with onnxruntime on a random input
    and compared with the model in torch's inference mode (the torch backend's path); a
    dynamic graph is also checked at a second, non-square size.

    Args:
        model: a registered name (``'mae_ktsr_ntire'``, ``'hf-hub:...'``, ``'local-dir:...'``)
            or an ``nn.Module`` (put in eval mode; exported on its device).
        path: the ``.onnx`` file to write (atomically).
        size: ``H`` (square) or ``(H, W)`` of the exported input, pixels.
        batch: images per run.
        opset: ONNX opset version.
        dynamic: let batch, height and width vary (each at least ``min_side``). Models whose
            ``forward`` depends on the size in Python (patch padding, windowing: MAE-KTSR
            with its prior) cannot be exported so and raise :class:`ExportError`.
        min_side: the smallest height and width a dynamic graph accepts.
        pretrained: with a name, load its published weights.
        overwrite: replace an existing ``path``; by default it is refused.
        atol: the largest absolute difference from torch the check accepts.

    Returns:
        ``path``.

    Raises:
        FileExistsError: ``path`` exists and ``overwrite`` is False.
        MissingDependencyError: ``onnx``, ``onnxscript`` or ``onnxruntime`` is missing.
        ExportError: torch.export cannot trace the model, or the graph's output differs
            from torch's by more than ``atol``.
    """
    path = Path(path)
    if (path.exists() or path.is_symlink()) and not overwrite:
        raise FileExistsError(
            f"{path} already exists; pass overwrite=True (CLI: --overwrite) to replace it"
        )
    onnx = _require("onnx", "ONNX export")
    _require("onnxscript", "ONNX export")
    _require("onnxruntime", "checking an ONNX export")
    height, width = (size, size) if isinstance(size, int) else size
    if min(height, width, batch) < 1:
        raise ValueError(f"size={size!r} and batch={batch} must be positive")
    if dynamic and min(height, width) < min_side:
        raise ValueError(f"size={size!r} is below min_side={min_side} of a dynamic export")
    if isinstance(model, str):
        model = create_model(model, pretrained=pretrained)
    elif not isinstance(model, nn.Module):
        raise TypeError(f"model must be a name or an nn.Module, got {type(model).__name__}")
    model.eval()
    device = next(model.parameters(), torch.empty(0)).device
    generator = torch.Generator().manual_seed(0)
    # torch.export specializes a dimension of size 1: a dynamic batch is traced with 2.
    traced_batch = max(batch, 2) if dynamic else batch
    example = torch.rand(traced_batch, 3, height, width, generator=generator).to(device)
    program = _export_program(model, example, opset, dynamic, min_side)
    proto = program.model_proto
    onnx.helper.set_model_props(proto, _metadata(model, dynamic, opset))
    checks = [torch.rand(batch, 3, height, width, generator=generator)]
    if dynamic:  # another batch, odd non-square sizes, one larger than the traced one
        checks.append(torch.rand(batch + 1, 3, height + 7, width + 13, generator=generator))
        checks.append(torch.rand(1, 3, 2 * height + 9, 3 * width + 5, generator=generator))

    def write(temp: str) -> None:
        onnx.save_model(proto, temp)
        graph = OnnxModule.load(temp, threads=torch.get_num_threads())
        for x in checks:
            with torch.inference_mode():
                expected = model(x.to(device)).float().cpu().numpy()
            try:
                got = graph.run(x.numpy())
            except Exception as err:  # onnxruntime raises its own classes
                raise ExportError(
                    f"the ONNX graph of {_model_name(model)!r} fails on input "
                    f"{tuple(x.shape)}: {str(err).splitlines()[0]}"
                ) from err
            diff = float(np.abs(got - expected).max())
            if not diff <= atol:
                raise ExportError(
                    f"the ONNX graph of {_model_name(model)!r} differs from torch by {diff:.3g} "
                    f"(> atol={atol:g}) on input {tuple(x.shape)}; the file was not written"
                )

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, write)
    return path


def _weights_digest(model: nn.Module) -> str:
    """A digest of what decides a model's export: class, arguments, weights, versions."""
    h = hashlib.sha256()
    h.update(f"{type(model).__qualname__}|{__version__}|{torch.__version__}".encode())
    h.update(json.dumps(getattr(model, "model_args", {}) or {}, default=str).encode())
    for key, value in model.state_dict().items():
        h.update(key.encode())
        h.update(value.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


class OnnxModule(nn.Module):
    """ONNX graphs run by onnxruntime on the CPU, called like the torch model they came from.

    Build it with :meth:`load` (one file written by :func:`export_onnx`) or :meth:`wrap` (a
    torch model: a graph is exported into :func:`onnx_cache_dir` the first time each input
    shape is seen, and reused from there afterwards).

    ``forward`` takes ``(B, 3, H, W)`` and returns ``(B, num_bands, H, W)`` float32 CPU
    tensors, with no autograd.

    Attributes:
        pretrained_cfg: the weight's cfg (from the file's metadata, or the torch model's).
        torch_model: the torch model graphs are exported from (``None`` for a file).
        metadata: the file's metadata (``None`` until a graph is loaded, for :meth:`wrap`).
    """

    def __init__(
        self,
        *,
        torch_model: nn.Module | None = None,
        session: Any = None,
        metadata: dict[str, str] | None = None,
        threads: int | None = None,
        opset: int = DEFAULT_OPSET,
    ) -> None:
        super().__init__()
        self.torch_model = torch_model
        self.metadata = metadata
        self.threads = threads
        self.opset = opset
        self._file_session = session
        self._sessions: dict[tuple[int, ...], Any] = {}
        self._digest: str | None = None
        cfg: Any = getattr(torch_model, "pretrained_cfg", None)
        if metadata is not None and _KEY + "pretrained_cfg" in metadata:
            cfg = PretrainedCfg.from_dict(json.loads(metadata[_KEY + "pretrained_cfg"]))
        self.pretrained_cfg = cfg

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, threads: int | None = None) -> OnnxModule:
        """One ONNX file (written by :func:`export_onnx`; any single-input graph runs)."""
        session = _session(path, threads)
        metadata = dict(session.get_modelmeta().custom_metadata_map)
        return cls(session=session, metadata=metadata, threads=threads)

    @classmethod
    def wrap(
        cls, model: nn.Module, *, threads: int | None = None, opset: int = DEFAULT_OPSET
    ) -> OnnxModule:
        """A torch model, exported on demand (one graph per input shape, cached on disk)."""
        _require("onnxruntime", "the onnxruntime backend")
        return cls(torch_model=model.eval(), threads=threads, opset=opset)

    @property
    def input_shape(self) -> tuple[int | None, ...] | None:
        """The file's input shape (``None`` for a dynamic axis); ``None`` for :meth:`wrap`."""
        if self._file_session is None:
            return None
        shape = self._file_session.get_inputs()[0].shape
        return tuple(d if isinstance(d, int) else None for d in shape)

    @property
    def torch_bytes_per_pixel(self) -> float | None:
        """The torch model's working memory per pixel, as measured at export."""
        value = (self.metadata or {}).get(_KEY + "torch_bytes_per_pixel")
        return float(value) if value is not None else None

    def _graph(self, shape: tuple[int, ...]) -> Any:
        if self._file_session is not None:
            expected = self.input_shape or ()
            if len(expected) != len(shape) or any(
                e is not None and e != s for e, s in zip(expected, shape, strict=False)
            ):
                raise ValueError(
                    f"this ONNX graph takes input {expected} (None: any size), got "
                    f"{shape}; export it with size=/batch= to match the tiles (tile=, "
                    "tile_batch=) or with dynamic=True"
                )
            return self._file_session
        if shape not in self._sessions:
            assert self.torch_model is not None
            if self._digest is None:
                self._digest = _weights_digest(self.torch_model)
            batch, _, height, width = shape
            name = _model_name(self.torch_model).replace("/", "_").replace(":", "_")
            file = onnx_cache_dir() / (
                f"{name}-{self._digest}-b{batch}-{height}x{width}-opset{self.opset}.onnx"
            )
            if not file.exists():
                export_onnx(
                    self.torch_model,
                    file,
                    size=(height, width),
                    batch=batch,
                    opset=self.opset,
                    overwrite=True,  # another process may have written the same graph
                )
            session = _session(file, self.threads)
            self.metadata = dict(session.get_modelmeta().custom_metadata_map)
            self._sessions[shape] = session
        return self._sessions[shape]

    def run(self, x: np.ndarray) -> np.ndarray:
        """``(B, 3, H, W)`` float32 array -> ``(B, num_bands, H, W)`` float32 array."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        session = self._graph(tuple(x.shape))
        out: np.ndarray = session.run(None, {session.get_inputs()[0].name: x})[0]
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(self.run(x.detach().cpu().float().numpy()))


def _session(path: str | os.PathLike[str], threads: int | None) -> Any:
    ort = _require("onnxruntime", "the onnxruntime backend")
    options = ort.SessionOptions()
    # torch's thread count, so both backends use the same cores unless told otherwise.
    options.intra_op_num_threads = threads or torch.get_num_threads()
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
