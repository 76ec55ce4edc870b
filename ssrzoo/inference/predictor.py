"""``predict`` and ``Reconstructor``: RGB photo in, :class:`SpectralImage` out.

The pipeline for one image:

1. read the photo (:func:`~ssrzoo.io.load_rgb`), checking first, from the
   file header, that the output cube fits in memory;
2. cut it into overlapping tiles (:mod:`~ssrzoo.inference.tiling`) whose size is chosen
   from the free memory unless given;
3. per tile: scale to [0, 1], convert to the weight's ``input_encoding`` and
   ``input_range`` (:func:`~ssrzoo.io.to_model_input`), run the model
   (optionally as an 8-way flip/transpose self-ensemble), optionally project its spectra
   onto the non-negative ones that reproduce the input RGB, and blend into the cube.
"""

from __future__ import annotations

import contextlib
import functools
import math
import operator
import os
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from .._options import ReconstructorOptions, option_values
from ..exceptions import InsufficientMemoryError
from ..io.images import (
    ImageSource,
    describe_source,
    image_info,
    load_rgb,
    to_model_input,
    to_unit_float,
)
from ..models import PretrainedCfg, create_model
from ..spectral import project_rgb_consistent
from .spectral_image import SpectralImage
from .tiling import TileGrid, tiled_apply

__all__ = [
    "Reconstructor",
    "available_memory",
    "predict",
]

MIN_TILE = 64
"""Smallest automatic tile side in pixels; below it the overlaps cost more than the tiles."""
MAX_TILE = 1024
"""Largest automatic tile side; bigger tiles are no faster per pixel on CPU or GPU."""
CPU_TILE_BUDGET = 192 * 2**20
"""Most bytes an automatic CPU tile may use (estimated): tiles past ~500 px run no faster per
pixel on a CPU, and this working set keeps a 4000x3000 reconstruction within its float32
cube plus 1 GiB (``benchmarks/predict.py``; 256 MiB left MST++ 70 MB over)."""
_PROBE_SIDE = 64


def available_memory() -> int | None:
    """Bytes of RAM this process can still use: ``MemAvailable``, capped by a cgroup limit.

    ``None`` where neither can be read (the memory check is then skipped).
    """
    values: list[int] = []
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    values.append(int(line.split()[1]) * 1024)
    except OSError:
        pass
    try:  # cgroup v2 (containers): the limit minus what the group already uses
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit != "max":
            used = int(Path("/sys/fs/cgroup/memory.current").read_text())
            values.append(int(limit) - used)
    except (OSError, ValueError):
        pass
    if not values:
        try:
            values.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (ValueError, OSError, AttributeError):
            return None
    return max(min(values), 0)


def _gib(n: float) -> str:
    return f"{n / 2**30:.2f} GiB"


class _LiveTensorBytes(TorchDispatchMode):  # type: ignore[no-untyped-call]  # torch: untyped
    """Peak bytes of the tensor storages alive at once while the mode is active.

    Each op's outputs are counted when created and released when the last Python tensor
    using their storage is freed (CPython frees at once), so temporaries that never leave
    a module count too, which forward hooks would miss.
    """

    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        # torch wraps a mode's __torch_dispatch__ in torch._dynamo.disable unless this says
        # no; that wrapper imports torch._dynamo, sympy and torch.distributed (about 900
        # modules, 0.16 GB of resident memory) at the first op, for a probe that never
        # compiles anything.
        return False

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # torch: untyped
        self.live: dict[int, list[int]] = {}  # storage pointer -> [bytes, tensors using it]
        self.current = 0
        self.peak = 0

    def _release(self, pointer: int) -> None:
        entry = self.live[pointer]
        entry[1] -= 1
        if entry[1] == 0:
            self.current -= entry[0]
            del self.live[pointer]

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        out = func(*args, **(kwargs or {}))
        for tensor in tree_flatten(out)[0]:
            if not isinstance(tensor, torch.Tensor):
                continue
            storage = tensor.untyped_storage()
            pointer = storage.data_ptr()
            if not pointer:
                continue
            if pointer in self.live:
                self.live[pointer][1] += 1
            else:
                self.live[pointer] = [storage.nbytes(), 1]
                self.current += storage.nbytes()
                self.peak = max(self.peak, self.current)
            weakref.finalize(tensor, self._release, pointer)
        return out


def _dihedral(x: torch.Tensor, k: int, inverse: bool = False) -> torch.Tensor:
    """The ``k``-th of the 8 flips/rotations of ``(..., H, W)`` (or its inverse)."""
    rot, flip = k % 4, k >= 4
    if not inverse:
        x = torch.rot90(x, rot, dims=(-2, -1))
        return torch.flip(x, dims=(-1,)) if flip else x
    if flip:
        x = torch.flip(x, dims=(-1,))
    return torch.rot90(x, -rot, dims=(-2, -1))


class Reconstructor:
    """A model ready to turn RGB photos into spectral cubes, for repeated use.

    Args:
        model: a model name (``'mae_ktsr_ntire'``, ``'arch.tag'``, ``'hf-hub:org/repo'``,
            ``'local-dir:/path'``) or a built ``nn.Module`` with a ``pretrained_cfg``.
            A module is put in eval mode and moved to ``device``.
        pretrained: with a name, load its published weights (almost always wanted).
        checkpoint_path: with a name, your own weights instead.
        device: ``'cpu'``, ``'cuda'``, ``'cuda:1'``...; default CUDA when available.
        precision: ``'fp32'`` (default) runs the model in float32; ``'bf16'`` and ``'fp16'``
            run its forward pass under :func:`torch.autocast` with that dtype (faster on most
            GPUs, a small accuracy cost). The cube is float32 either way. ``'fp16'`` needs a
            GPU (on the CPU use ``'bf16'``); ``backend='onnxruntime'`` takes ``'fp32'`` only.
        tile: tile side in pixels; ``None`` picks it from the free memory, ``0`` runs the
            whole image at once.
        overlap: overlap between tiles in pixels; default ``max(32, tile // 8)``.
        ensemble: average the 8 flips/transposes of each tile (8x the compute; usually a
            small accuracy gain).
        tile_batch: tiles per forward pass (more helps a GPU).
        alpha: ``'error'`` rejects RGBA input; ``'drop'`` ignores the alpha channel.
        source_encoding: how input photos are encoded: ``'srgb'`` (ordinary photos) or
            ``'linear'``; they are converted to the weight's ``input_encoding``.
        wavelengths: band centres (nm) to report when the model's cfg has none.
        memory_limit: bytes of RAM to plan for; default what the system has free.
        camera_correction: for an sRGB photo going to a weight with
            ``input_encoding='linear'``, map the decoded linear sRGB into the weight's camera
            space with :func:`ssrzoo.spectral.srgb_to_camera_matrix` (a least-squares 3x3
            colour correction from the cfg's ``response`` or ``response_name``, D65 white).
            ``None`` (default): on exactly when that applies (sRGB source, linear weight
            with a known response), since such a weight was trained on its camera's RGB,
            not on sRGB; ``True`` insists (error if impossible); ``False`` turns it off.
        rgb_consistent: project every reconstructed spectrum onto the nearest non-negative
            spectrum that reproduces the model's input RGB through the cfg's ``response``
            (:func:`ssrzoo.spectral.project_rgb_consistent`, Lin & Finlayson 2020). Pixels
            clipped in the photo (a channel at 0 or at full scale) or by the camera
            correction are left as the model made them: their RGB is not the scene's.
            Needs a weight that takes linear RGB and records its ``response``.
        exposure: the photo's gain relative to the exposure convention the weight was
            trained with (its card's ``input_note``: one fixed gain that maps a flat unit
            spectrum to 1 in the brightest channel). The model input is divided by it and
            the cube multiplied by it, so the model sees the exposure it learned and the cube
            stays in the photo's units. ``1`` (default) feeds the photo as it is. Needs a
            weight that takes linear RGB. See the inference guide's "Exposure" section.
        backend: ``'torch'`` runs the model in torch; ``'onnxruntime'`` runs it as ONNX
            graphs in onnxruntime on the CPU (``pip install 'ssrzoo[onnx]'``), everything
            else (tiling, ensemble, exposure, ``rgb_consistent``) unchanged. A name or
            module is exported once per tile shape into
            :func:`~ssrzoo.inference.onnx.onnx_cache_dir`; ``model`` may also be the path of
            a ``.onnx`` file written by :func:`~ssrzoo.inference.export_onnx`, whose
            metadata gives the weight's cfg (torch then only wraps arrays).

    Example:
        >>> rec = Reconstructor("mae_ktsr_ntire", tile=512)  # doctest: +SKIP
        >>> result = rec("photo.jpg")  # doctest: +SKIP
        >>> result.cube.shape, result.wavelengths[:2]  # doctest: +SKIP
        ((31, 3000, 4000), array([400., 410.]))
    """

    def __init__(
        self,
        model: str | nn.Module,
        *,
        pretrained: bool = True,
        checkpoint_path: str | os.PathLike[str] | None = None,
        device: str | torch.device | None = None,
        precision: str = "fp32",
        tile: int | None = None,
        overlap: int | None = None,
        ensemble: bool = False,
        tile_batch: int = 1,
        alpha: str = "error",
        source_encoding: str = "srgb",
        wavelengths: Sequence[float] | None = None,
        memory_limit: int | None = None,
        camera_correction: bool | None = None,
        rgb_consistent: bool = False,
        exposure: float = 1.0,
        backend: str = "torch",
    ) -> None:
        given = option_values(locals())
        if isinstance(model, str) and model.endswith(".onnx"):
            if backend != "onnxruntime":
                raise ValueError(
                    f"{model} is an ONNX graph: run it with backend='onnxruntime' "
                    "(CLI: --backend onnxruntime)"
                )
            from .onnx import OnnxModule

            model = OnnxModule.load(model)
        elif isinstance(model, str):
            model = create_model(model, pretrained=pretrained, checkpoint_path=checkpoint_path)
        elif not isinstance(model, nn.Module):
            raise TypeError(f"model must be a name or an nn.Module, got {type(model).__name__}")
        ReconstructorOptions(**given)  # raises ValueError for a bad tile, tile_batch, encoding...
        cfg = getattr(model, "pretrained_cfg", None)
        if not isinstance(cfg, PretrainedCfg):
            if wavelengths is None:
                raise ValueError(
                    f"{type(model).__name__} has no pretrained_cfg; build it with "
                    "ssrzoo.create_model or pass wavelengths=[...] (nm, one per output band)"
                )
            cfg = PretrainedCfg(
                architecture=type(model).__name__, num_bands=len(wavelengths), wavelengths=()
            )
        if wavelengths is None and not cfg.wavelengths:
            raise ValueError(
                f"model {cfg.name!r} does not say which wavelengths its {cfg.num_bands} bands "
                "are; pass wavelengths=[...] (nm)"
            )
        self.wavelengths = np.asarray(
            cfg.wavelengths if wavelengths is None else wavelengths, dtype=np.float64
        )
        if self.wavelengths.size != cfg.num_bands:
            raise ValueError(
                f"{self.wavelengths.size} wavelengths for a model with {cfg.num_bands} bands"
            )
        self.cfg = cfg
        cuda = torch.cuda.is_available() and backend == "torch"
        self.device = torch.device(device if device is not None else ("cuda" if cuda else "cpu"))
        self.backend = backend
        self.precision = precision
        self._autocast_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
        if precision == "fp16" and self.device.type == "cpu":
            raise ValueError(
                "precision='fp16' is for GPUs: CPUs have no fast float16 arithmetic; "
                "use precision='bf16' or 'fp32' on the CPU (CLI: --precision bf16)"
            )
        if backend == "onnxruntime":
            from .onnx import OnnxModule

            if self.device.type != "cpu":
                raise ValueError(
                    f"backend='onnxruntime' runs on the CPU, not device={str(self.device)!r}; "
                    "use backend='torch' for the GPU"
                )
            if not isinstance(model, OnnxModule):
                model = OnnxModule.wrap(model)
        self.model = model.eval().to(self.device)
        self.tile = tile
        self.overlap = overlap
        self.ensemble = ensemble
        self.tile_batch = tile_batch
        self.alpha = alpha
        self.source_encoding = source_encoding
        self.memory_limit = memory_limit
        if camera_correction is None:
            camera_correction = source_encoding == "srgb" and self._has_camera()
        self.camera_matrix = self._camera_matrix() if camera_correction else None
        self.consistency_response = self._consistency_response() if rgb_consistent else None
        if exposure != 1 and cfg.input_encoding != "linear":
            raise ValueError(
                f"exposure={exposure} scales linear RGB, but {cfg.name!r} takes "
                f"{cfg.input_encoding!r} input; scale the photo's linear values yourself"
            )
        self.exposure = float(exposure)
        self._bytes_per_pixel: float | None = None

    def _has_camera(self) -> bool:
        from ..spectral import list_responses

        cfg = self.cfg
        known = cfg.response is not None or cfg.response_name in list_responses()
        return cfg.input_encoding == "linear" and known

    def _camera_matrix(self) -> np.ndarray:
        from ..spectral import list_responses, srgb_to_camera_matrix

        cfg = self.cfg
        if cfg.input_encoding != "linear":
            raise ValueError(
                f"camera_correction is for weights with input_encoding='linear'; "
                f"{cfg.name!r} takes {cfg.input_encoding!r} input"
            )
        if cfg.response is not None:
            return srgb_to_camera_matrix(np.asarray(cfg.response), self.wavelengths)
        if cfg.response_name and cfg.response_name in list_responses():
            return srgb_to_camera_matrix(cfg.response_name, self.wavelengths)
        raise ValueError(
            f"{cfg.name!r} has no camera response in its pretrained cfg (response or a "
            "registered response_name); camera_correction cannot be applied"
        )

    def _consistency_response(self) -> np.ndarray:
        cfg = self.cfg
        if cfg.input_encoding != "linear" or cfg.response is None:
            raise ValueError(
                f"rgb_consistent needs a weight that takes linear RGB and records its camera "
                f"response (pretrained_cfg.response); {cfg.name!r} takes "
                f"{cfg.input_encoding!r} input and has "
                f"{'a' if cfg.response is not None else 'no'} response"
            )
        return np.asarray(cfg.response, dtype=np.float64)

    @property
    def num_bands(self) -> int:
        return int(self.wavelengths.size)

    @property
    def name(self) -> str:
        return self.cfg.name

    # -- the model on one stack of windows -------------------------------------------------

    @torch.inference_mode()
    def _forward(self, windows: np.ndarray, model: nn.Module | None = None) -> np.ndarray:
        """``(N, h, w, 3)`` raw windows -> ``(N, C, h, w)`` float32 cube tiles.

        ``model`` replaces :attr:`model` (the memory probe measures the torch model).
        """
        unit = to_unit_float(windows)
        x = to_model_input(
            unit,
            self.cfg.input_encoding,
            self.cfg.input_range,
            self.source_encoding,
            self.camera_matrix,
        )
        if self.exposure != 1:  # to the training exposure (linear input, above the range's low)
            low = self.cfg.input_range[0]
            x = low + (x - low) / np.float32(self.exposure)
        xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))).to(self.device)
        if self.ensemble:
            views = (
                _dihedral(self._run(_dihedral(xt, k), model), k, inverse=True) for k in range(8)
            )
            y = functools.reduce(operator.add, views) / 8
        else:
            y = self._run(xt, model)
        cube = y.cpu().numpy()  # float32: _run converts each view
        if self.consistency_response is not None:
            # A clipped channel is not the scene's RGB: matching it would be wrong.
            low = self.cfg.input_range[0]
            trusted = ((unit > 0) & (unit < 1)).all(-1) & (x > low).all(-1)
            rgb = x.transpose(0, 3, 1, 2)
            cube = project_rgb_consistent(cube, rgb, self.consistency_response, mask=trusted)
        if self.exposure != 1:  # back to the photo's exposure
            cube *= np.float32(self.exposure)
        return cube

    def _run(self, x: torch.Tensor, model: nn.Module | None = None) -> torch.Tensor:
        """The model on ``x``, in :attr:`precision`; the result is float32."""
        autocast = (
            torch.autocast(self.device.type, dtype=self._autocast_dtype)
            if self._autocast_dtype is not None
            else contextlib.nullcontext()
        )
        with autocast:
            y: torch.Tensor = (self.model if model is None else model)(x)
        # float32 before the ensemble sums the views and before the cube is filled
        y = y.float()
        if y.ndim != 4 or y.shape[1] != self.num_bands or y.shape[-2:] != x.shape[-2:]:
            raise RuntimeError(
                f"model {self.name!r} returned shape {tuple(y.shape)} for input "
                f"{tuple(x.shape)}; expected (B, {self.num_bands}, H, W)"
            )
        return y

    # -- memory planning -------------------------------------------------------------------

    def _tile_bytes_per_pixel(self) -> float:
        """Working memory per tile pixel, estimated from one small forward pass."""
        if self._bytes_per_pixel is None:
            # onnxruntime's working set is taken to be the torch model's: measured now, or
            # for a file, when it was exported (4 KB/px, generous, for a file without it).
            probe_model = getattr(self.model, "torch_model", self.model)
            if probe_model is not None:
                probe = np.zeros((1, _PROBE_SIDE, _PROBE_SIDE, 3), dtype=np.float32)
                with _LiveTensorBytes() as tracker:
                    self._forward(probe, probe_model)
                model_side = tracker.peak / _PROBE_SIDE**2
            else:
                model_side = getattr(self.model, "torch_bytes_per_pixel", None) or 4096.0
            # Live tensors leave out the allocator's slack and the workspaces inside ops
            # (oneDNN reorders, GEMM buffers): with 2.5x, the peak RSS of a 448x448 tile of
            # MAE-KTSR, S2-MAE and MST++ is 0.4-0.9 times the estimate. The numpy side holds
            # the window, its conversion and the output tile.
            numpy_side = 4 * (2 * 3 + 2 * self.num_bands)
            if self.consistency_response is not None:  # float64 copies in project_rgb_consistent
                numpy_side += 8 * 5 * self.num_bands
            self._bytes_per_pixel = 2.5 * model_side + numpy_side
        return self._bytes_per_pixel

    def _free_memory(self) -> int | None:
        return self.memory_limit if self.memory_limit is not None else available_memory()

    def tile_size(self, height: int, width: int, budget: int | None = None) -> int:
        """The tile side used for an ``height x width`` image (``>= max`` side: no tiling).

        Args:
            height: image rows.
            width: image columns.
            budget: bytes the tiles may use; default half the free device memory (GPU), or
                half of what the free RAM leaves after the output cube, at most
                :data:`CPU_TILE_BUDGET` (CPU).
        """
        if self.tile is not None:
            return self.tile or max(height, width)
        if budget is None:
            if self.device.type == "cuda":
                budget = self._gpu_free() // 2
            else:
                free = self._free_memory()
                fixed = self._fixed_bytes(height, width, 1)
                budget = CPU_TILE_BUDGET
                if free is not None:
                    budget = min(budget, max(free - fixed, 0) // 2)
        side = int(math.sqrt(budget / self._tile_bytes_per_pixel()))
        side = min(side, MAX_TILE)
        if side >= max(height, width):
            return max(height, width)
        side = side // 32 * 32
        if side < MIN_TILE:
            raise InsufficientMemoryError(
                f"model {self.name!r} needs about "
                f"{_gib(self._tile_bytes_per_pixel() * MIN_TILE**2)} for even a {MIN_TILE}x"
                f"{MIN_TILE} tile but only {_gib(budget)} is left for tiles; free memory "
                "or run on a machine with more"
            )
        return side

    def _gpu_free(self) -> int:
        """Free GPU bytes, counting what torch's caching allocator holds but does not use."""
        cached = torch.cuda.memory_reserved(self.device) - torch.cuda.memory_allocated(self.device)
        return torch.cuda.mem_get_info(self.device)[0] + cached

    def _check_tile_memory(
        self, tile: int, height: int, width: int, batch: int, cube: bool
    ) -> None:
        """Refuse a tile given by the caller that cannot fit (the automatic one always does).

        Without this, ``tile=0`` on a large photo fails in the allocator, or the kernel's
        OOM killer ends the process, instead of failing that one image with a reason.
        """
        if self.device.type == "cuda":
            free = self._gpu_free()
            where = "GPU memory"
        else:
            ram = self._free_memory()
            if ram is None:
                return
            free = ram - self._fixed_bytes(height, width, 0, cube)
            where = "memory" + (" beside the output cube" if cube else "")
        tile_h, tile_w = min(tile, height), min(tile, width)
        need = self._tile_bytes_per_pixel() * tile_h * tile_w * batch
        if need > free:
            whole = tile >= max(height, width)
            what = f"the whole {height}x{width} image" if whole else f"{tile_h}x{tile_w} tiles"
            start = (
                f"running {self.name!r} on {what} needs about {_gib(need)} but "
                f"{_gib(max(free, 0))} of {where} is free; "
            )
            raise InsufficientMemoryError(
                start + "pass a smaller tile=, or tile=None to fit the tiles to the memory",
                cli_message=start + "pass a smaller --tile, or leave it out to fit the tiles "
                "to the memory",
            )

    def _fixed_bytes(self, height: int, width: int, in_itemsize: int, cube: bool = True) -> int:
        """Bytes held for the whole image: input and output cube."""
        pixels = height * width
        return pixels * (3 * in_itemsize + (4 * self.num_bands if cube else 0))

    def check_memory(
        self, height: int, width: int, in_itemsize: int = 1, cube: bool = True
    ) -> None:
        """Raise :class:`InsufficientMemoryError` if an image of this size cannot fit.

        Args:
            height: image rows.
            width: image columns.
            in_itemsize: bytes per value of the photo still to be decoded (1 for 8-bit,
                2 for 16-bit; 0 for an array already in memory).
            cube: whether the output cube is held in RAM (``False`` when writing to ``out=``).
        """
        free = self._free_memory()
        if free is None:
            return
        # Decoding holds the decoder's buffer and our copy of it at once.
        need = self._fixed_bytes(height, width, 2 * in_itemsize, cube)
        need += int(self._tile_bytes_per_pixel() * MIN_TILE**2)
        if need > free:
            cube_bytes = 4 * self.num_bands * height * width
            start = (
                f"a {height}x{width} image ({height * width / 1e6:.0f} MP) needs about "
                f"{_gib(need)} of memory ({_gib(cube_bytes)} for the {self.num_bands}-band "
                f"float32 cube) but {_gib(free)} is available; downscale the photo, crop it"
            )
            raise InsufficientMemoryError(
                f"{start}, or stream the cube to disk with out=np.lib.format.open_memmap(...)",
                cli_message=f"{start}, or run on a machine with more memory",
            )

    # -- public API ------------------------------------------------------------------------

    def __call__(
        self,
        image: ImageSource,
        *,
        out: np.ndarray | None = None,
        progress: bool = False,
    ) -> SpectralImage:
        """Reconstruct the spectral cube of one photo.

        Args:
            image: a path, PIL image, numpy array or tensor (see
                :func:`~ssrzoo.inference.load_rgb`).
            out: a ``(C, H, W)`` float32 array to fill (e.g. a ``np.memmap``), for cubes
                larger than RAM.
            progress: show a tqdm bar over tiles (on a terminal).

        Returns:
            :class:`SpectralImage` with ``cube`` ``(C, H, W)`` float32, ``wavelengths`` in nm,
            ``units`` and the model's name and cfg.
        """
        if isinstance(image, (str, os.PathLike)):
            info = image_info(image)
            self.check_memory(info.height, info.width, max(1, info.bits // 8), out is None)
            rgb = load_rgb(image, alpha=self.alpha)
        else:
            rgb = load_rgb(image, alpha=self.alpha)
            self.check_memory(rgb.shape[0], rgb.shape[1], 0, out is None)
        cube, tile = self.reconstruct(rgb, out=out, progress=progress)
        return SpectralImage(
            cube=cube,
            wavelengths=self.wavelengths,
            units=self.cfg.output_units,
            model=self.name,
            pretrained_cfg=self.cfg,
            rgb=rgb,
            source=describe_source(image),
            fwhm=None if self.cfg.fwhm is None else np.asarray(self.cfg.fwhm),
            metadata={
                "tile": tile,
                "overlap": self._overlap(tile),
                "ensemble": self.ensemble,
                "input_encoding": self.cfg.input_encoding,
                "source_encoding": self.source_encoding,
                "camera_correction": self.camera_matrix is not None,
                "rgb_consistent": self.consistency_response is not None,
                "exposure": self.exposure,
                "backend": self.backend,
                "precision": self.precision,
            },
        )

    def _overlap(self, tile: int) -> int:
        overlap = self.overlap if self.overlap is not None else max(32, tile // 8)
        return min(overlap, tile // 2)

    def reconstruct(
        self, rgb: np.ndarray, *, out: np.ndarray | None = None, progress: bool = False
    ) -> tuple[np.ndarray, int]:
        """Cube of an already-read photo.

        Args:
            rgb: ``(H, W, 3)`` ``uint8``/``uint16``/``float32`` in [0, 1], as
                :func:`~ssrzoo.inference.load_rgb` returns.
            out: optional ``(C, H, W)`` float32 array to fill.
            progress: show a tqdm bar over tiles.

        Returns:
            ``(cube (C, H, W) float32, tile side used)``.
        """
        height, width = rgb.shape[:2]
        tile = self.tile_size(height, width)
        overlap = self._overlap(tile)
        total = len(TileGrid(height, width, tile, overlap))
        if self.tile is not None:
            self._check_tile_memory(tile, height, width, min(self.tile_batch, total), out is None)
        bar = None
        if progress and total > 1:
            from tqdm.auto import tqdm

            bar = tqdm(total=total, unit="tile", leave=False, disable=None)
        try:
            cube = tiled_apply(
                self._forward,
                rgb,
                self.num_bands,
                tile,
                overlap,
                out=out,
                batch=self.tile_batch,
                on_tile=bar.update if bar is not None else None,
            )
        except torch.cuda.OutOfMemoryError as err:
            raise InsufficientMemoryError(
                f"out of GPU memory on {tile}x{tile} tiles of {self.name!r}; pass a smaller "
                "tile (CLI: --tile 256)"
            ) from err
        except RuntimeError as err:
            if "can't allocate memory" not in str(err):  # torch's CPU allocator
                raise
            raise InsufficientMemoryError(
                f"out of memory on {tile}x{tile} tiles of {self.name!r}; pass a smaller "
                "tile (CLI: --tile 256)"
            ) from err
        finally:
            if bar is not None:
                bar.close()
        return cube, tile


def predict(
    model: str | nn.Module,
    image: ImageSource,
    *,
    pretrained: bool = True,
    device: str | torch.device | None = None,
    precision: str = "fp32",
    tile: int | None = None,
    overlap: int | None = None,
    ensemble: bool = False,
    tile_batch: int = 1,
    alpha: str = "error",
    source_encoding: str = "srgb",
    wavelengths: Sequence[float] | None = None,
    memory_limit: int | None = None,
    camera_correction: bool | None = None,
    rgb_consistent: bool = False,
    exposure: float = 1.0,
    backend: str = "torch",
    out: np.ndarray | None = None,
    progress: bool = False,
) -> SpectralImage:
    """Reconstruct the spectral cube of an RGB photo in one call.

    Builds a :class:`Reconstructor` (see it for every argument) and applies it once; to
    process many photos, build the :class:`Reconstructor` once instead.

    Args:
        model: a model name (``'mae_ktsr_ntire'``) or a built model.
        image: a path (8/16-bit PNG, JPEG, TIFF), PIL image, numpy ``(H, W, 3)`` array or
            ``(3, H, W)`` tensor; floats in [0, 1], sRGB-encoded unless
            ``source_encoding='linear'``.

    Returns:
        :class:`SpectralImage`: ``cube`` ``(C, H, W)`` float32, ``wavelengths`` (nm),
        ``units``, ``model``, ``pretrained_cfg``.

    Example:
        >>> import ssrzoo
        >>> result = ssrzoo.predict("mae_ktsr_ntire", "photo.jpg")  # doctest: +SKIP
        >>> result.spectrum(100, 200)  # 31 values, 400-700 nm  # doctest: +SKIP
        >>> result.save("photo.hdr")  # ENVI, readable by ENVI/QGIS/SPy  # doctest: +SKIP
    """
    reconstructor = Reconstructor(model, **option_values(locals()))
    return reconstructor(image, out=out, progress=progress)
