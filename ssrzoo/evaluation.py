"""``evaluate``: a model scored on a dataset, the one way ssrzoo measures reconstructions.

The Trainer's validation, ``ssrzoo eval``, the leaderboard, the benchmarks and the weight
tests all call :func:`evaluate`, so a weight card's metrics, its leaderboard row and a
user's own measurement of it differ only in the data they were given, never in the loop:
the model runs in eval mode (where ssrzoo's models project their output onto ``>= 0``), under
a fixed seed, and every metric is computed per image in float64 by :mod:`ssrzoo.metrics`,
then averaged with each image weighing the same.

>>> import ssrzoo
>>> model = ssrzoo.create_model("root_poly3.cave", pretrained=True)  # doctest: +SKIP
>>> result = ssrzoo.evaluate(model, val_set, protocol="cave")  # doctest: +SKIP
>>> result.metrics["mrae"], result.count  # doctest: +SKIP
(0.1856..., 5)
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from .metrics import bp_mrae, metrics_table, mrae, psnr, rmse, sam, ssim

__all__ = [
    "PROTOCOL_METRICS",
    "EvaluationResult",
    "MetricPolicy",
    "collate",
    "dataset_response",
    "evaluate",
    "first_loss",
    "score_batch",
]


@dataclass(frozen=True)
class MetricPolicy:
    """How a protocol scores MRAE and BP-MRAE (see :func:`ssrzoo.metrics.mrae`).

    Attributes:
        eps: the denominator floor, in the data's units; with ``mask``, the threshold below
            which target values are left out instead.
        mask: leave out values with ``|target| < eps`` rather than flooring them.
    """

    eps: float = 1e-6
    mask: bool = False


PROTOCOL_METRICS: dict[str, MetricPolicy] = {
    "ntire2020": MetricPolicy(),
    "cave": MetricPolicy(eps=0.01),
    "harvard": MetricPolicy(eps=0.01, mask=True),
    "pavia": MetricPolicy(),
}
"""The MRAE policy of each protocol of ``docs/protocols.md``, by the weight tag that names it.

CAVE's near-black backgrounds and Harvard's dark regions would otherwise dominate the mean
with the relative errors of a noise floor. A recipe's ``metric_eps``/``metric_mask`` repeat
these (a test checks that they agree).
"""


@dataclass(frozen=True)
class EvaluationResult:
    """What :func:`evaluate` measured.

    Attributes:
        metrics: metric name -> mean over the images, each image weighing the same:
            ``mrae``, ``rmse``, ``psnr`` (dB, peak 1), ``sam`` (degrees), plus ``bp_mrae``
            with a response and ``ssim`` with a window; ``{'loss'}`` with ``forward_loss``.
        count: how many images were scored.
        sums: metric name -> sum over the images; processes that each scored part of a
            dataset add these and their counts up before dividing (the Trainer under DDP).
        images: one row per image in the order seen, ``{'name': ..., metric: value}``
            (empty with ``forward_loss``, whose loss is per batch).
    """

    metrics: dict[str, float]
    count: int
    sums: dict[str, float]
    images: list[dict[str, Any]] = field(default_factory=list)

    def table(self, per_image: bool = True, digits: int = 4) -> str:
        """A Markdown table: one row per image (optional) and a final mean row."""
        return metrics_table(self.images, self.metrics, per_image=per_image, digits=digits)


def first_loss(out: Any) -> torch.Tensor:
    """The loss of a ``forward_loss`` result: a tensor, ``.loss``, ``(loss, ...)``, ``{'loss'}``."""
    if isinstance(out, torch.Tensor):
        return out
    loss = getattr(out, "loss", None)
    if isinstance(loss, torch.Tensor):
        return loss
    if isinstance(out, Mapping) and "loss" in out:
        mapped: torch.Tensor = out["loss"]
        return mapped
    if isinstance(out, tuple | list) and out and isinstance(out[0], torch.Tensor):
        return out[0]
    raise TypeError(f"forward_loss returned {type(out).__name__}; expected a loss tensor")


def collate(samples: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Stack what scoring uses: ``hsi``, ``rgb`` and the ``name`` list, when every sample has it.

    Samples of concatenated datasets carry different extra keys (``valid``, ``illuminant``),
    which the default collate refuses to mix, and copying them would cost time in every step.
    """
    for sample in samples:
        if not isinstance(sample, Mapping) or "hsi" not in sample:
            what = sorted(sample) if isinstance(sample, Mapping) else type(sample).__name__
            raise TypeError(
                f"samples must be dicts with an 'hsi' cube (C, H, W) and its 'rgb', got {what}"
            )
    out: dict[str, Any] = {"hsi": torch.stack([s["hsi"] for s in samples])}
    if all("rgb" in s for s in samples):
        out["rgb"] = torch.stack([s["rgb"] for s in samples])
    if all("name" in s for s in samples):
        out["name"] = [str(s["name"]) for s in samples]
    return out


def dataset_response(
    dataset: Dataset[Any], wavelengths: Sequence[float] | np.ndarray | None
) -> torch.Tensor | None:
    """The ``(K, C)`` matrix that renders the dataset's cubes to its RGB, if the dataset says.

    From the ``simulate_rgb`` that :func:`ssrzoo.train.build_dataset` attaches
    (:class:`~ssrzoo.data.SimulateRGB`: the response at the bands, times its fixed white
    gain), else from a ``response`` attribute of the dataset: a ``(K, C)`` matrix, or an
    object with ``matrix(wavelengths)``. It is what BP-MRAE compares through.

    Args:
        dataset: the dataset whose RGB is asked about.
        wavelengths: the cubes' band centres in nm (``None`` or empty: unknown).
    """
    simulate = getattr(dataset, "simulate_rgb", None)
    known = wavelengths is not None and len(wavelengths) > 0
    wl = np.asarray(wavelengths, dtype=np.float64) if known else None
    if simulate is not None and wl is not None:
        from .spectral import get_response

        response = get_response(simulate.response or "cie1964_10deg")
        matrix = response.matrix(wl, outside=simulate.options.get("outside", "error"))
        if simulate.options.get("gain") == "white":
            matrix = matrix * simulate.white_gain(wl)
        return torch.as_tensor(matrix, dtype=torch.float32)
    declared = getattr(dataset, "response", None)  # a SpectralResponse or a (K, C) array
    if declared is None:
        return None
    if hasattr(declared, "matrix"):
        if wl is None:
            return None
        declared = declared.matrix(wl)
    values = torch.as_tensor(np.asarray(declared, dtype=np.float64), dtype=torch.float32)
    return values if values.ndim == 2 else None


def score_batch(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    response: torch.Tensor | np.ndarray | None = None,
    eps: float = 1e-6,
    mask: bool = False,
    crop: int = 0,
    ssim_window: int | None = None,
) -> dict[str, torch.Tensor]:
    """Per-image float64 values ``(B,)`` of every metric :func:`evaluate` reports.

    SSIM scores the prediction clipped to ``[0, 1]``, the range its constants assume
    (peak 1), against the target as it is.

    Args:
        pred, target: cubes ``(B, C, H, W)``.
        response: ``(K, C)`` camera matrix for BP-MRAE, which compares ``response @ pred``
            with ``response @ target``; ``None`` leaves BP-MRAE out.
        eps, mask: the MRAE/BP-MRAE epsilon policy (see :class:`MetricPolicy`).
        crop: pixels left out at each border.
        ssim_window: side of SSIM's Gaussian window (odd); ``None`` leaves SSIM out.
    """
    values = {
        "mrae": mrae(pred, target, eps=eps, mask=mask, crop=crop, reduction="none"),
        "rmse": rmse(pred, target, crop=crop, reduction="none"),
        "psnr": psnr(pred, target, crop=crop, reduction="none"),
        "sam": sam(pred, target, crop=crop, reduction="none"),
    }
    if response is not None:
        values["bp_mrae"] = bp_mrae(
            pred, target, response, eps=eps, mask=mask, crop=crop, reduction="none"
        )
    if ssim_window is not None:
        values["ssim"] = ssim(
            pred.clamp(0.0, 1.0), target, win_size=ssim_window, crop=crop, reduction="none"
        )
    return values


def _device(model: Callable[..., Any], device: str | torch.device | None) -> torch.device:
    if device is not None:
        return torch.device(device)
    if isinstance(model, nn.Module):
        for tensor in (*model.parameters(), *model.buffers()):
            return tensor.device
    return torch.device("cpu")


def _batches(
    data: Dataset[Any] | Iterable[Mapping[str, Any]], batch_size: int, num_workers: int
) -> Iterable[Mapping[str, Any]]:
    if isinstance(data, Dataset):
        if len(data) == 0:  # type: ignore[arg-type]
            raise ValueError(f"{type(data).__name__} is empty: there is nothing to evaluate")
        return DataLoader(
            data,
            batch_size=batch_size,
            shuffle=False,
            num_workers=num_workers,
            collate_fn=collate,
        )
    return data


def _inputs(
    batch: Mapping[str, Any], device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, list[str] | None]:
    if "rgb" not in batch or "hsi" not in batch:
        raise ValueError(
            f"a batch needs 'rgb' (B, 3, H, W) and 'hsi' (B, C, H, W), got {sorted(batch)}; "
            "give samples without RGB one with ssrzoo.data.SimulateRGB"
        )
    nb = device.type == "cuda"
    names = batch.get("name")
    return batch["rgb"].to(device, non_blocking=nb), batch["hsi"].to(device, non_blocking=nb), names


def evaluate(
    model: nn.Module | Callable[[torch.Tensor], torch.Tensor],
    data: Dataset[Any] | Iterable[Mapping[str, Any]],
    protocol: str | None = None,
    *,
    response: torch.Tensor | np.ndarray | None = None,
    eps: float | None = None,
    mask: bool | None = None,
    crop: int = 0,
    ssim_window: int | None = None,
    batch_size: int = 1,
    num_workers: int = 0,
    device: str | torch.device | None = None,
    amp: torch.dtype | None = None,
    seed: int = 0,
    forward_loss: bool = False,
    progress: bool = False,
) -> EvaluationResult:
    """Score ``model`` on every image of ``data``: MRAE, RMSE, PSNR, SAM, BP-MRAE, SSIM.

    One loop for every number ssrzoo reports, so that the Trainer's validation, a weight's
    card, the leaderboard and ``ssrzoo eval`` can only differ in their data. The model runs
    in eval mode (ssrzoo's models then project their output onto ``>= 0``) without
    gradients, under ``torch.manual_seed(seed)`` in a forked random state, so random parts
    (S²-MAE masks) draw the same values every time and the caller's random streams are left
    as they were; its train/eval mode is restored after. Prediction and target are cast to
    float32 (as the Trainer always has), then each metric is computed per image in float64
    (:func:`score_batch`) and averaged with equal weight per image.

    Args:
        model: an ``nn.Module``, or any callable ``(B, 3, H, W) -> (B, C, H, W)`` (e.g. a
            tiled :class:`~ssrzoo.inference.Reconstructor` wrapped in a function).
        data: a map-style dataset of sample dicts with ``hsi`` ``(C, H, W)`` and ``rgb``
            ``(3, H, W)`` (and optionally ``name``), batched in index order (a dataset that
            draws at random draws from the seeded stream too), or an iterable of such
            batches, already stacked (a ``DataLoader`` with :func:`collate`, a list of
            ``{'rgb', 'hsi'}`` dicts). :func:`ssrzoo.train.evaluate_recipe` builds the
            Trainer's own validation loader, which seeds each sample by its index.
        protocol: a weight tag of ``docs/protocols.md`` (``'ntire2020'``, ``'cave'``, ...)
            whose MRAE policy (:data:`PROTOCOL_METRICS`) sets the default ``eps`` and ``mask``.
        response: ``(K, C)`` camera matrix at the cube's bands for BP-MRAE (for a dataset
            built from a recipe, :func:`dataset_response`); ``None`` leaves BP-MRAE out.
        eps, mask: the MRAE/BP-MRAE epsilon policy; default the protocol's, else a floor
            of ``1e-6``.
        crop: pixels left out at each border before every metric.
        ssim_window: add SSIM with this Gaussian window side (11 is usual; strips only a few
            pixels high need a smaller one); ``None`` leaves SSIM out.
        batch_size, num_workers: of the loader built for a dataset.
        device: where the batches go; default where the model's parameters are (CPU for
            other callables, which get CPU tensors).
        amp: autocast dtype for the forward pass (``torch.bfloat16``, ...); metrics are
            always computed in float64 outside autocast.
        seed: seed of the model's random draws.
        forward_loss: score the model's own ``forward_loss(hsi, rgb)`` instead (S²-MAE
            pretraining): returns ``{'loss'}``, the per-batch loss weighted by batch size.
        progress: show a progress bar over batches (on a terminal).

    Returns:
        An :class:`EvaluationResult`: the means, the count, the sums and per-image rows.

    Raises:
        ValueError: an unknown protocol, an empty dataset, or batches without ``rgb``
            (an empty iterable of batches gives ``count == 0`` and no metrics).
    """
    if protocol is not None and protocol not in PROTOCOL_METRICS:
        raise ValueError(f"unknown protocol {protocol!r}; known: {sorted(PROTOCOL_METRICS)}")
    policy = PROTOCOL_METRICS.get(protocol or "", MetricPolicy())
    eps = policy.eps if eps is None else eps
    mask = policy.mask if mask is None else mask
    dev = _device(model, device)
    batches = _batches(data, batch_size, num_workers)
    if progress:
        from tqdm.auto import tqdm

        batches = tqdm(batches, unit="batch", disable=None)
    module = model if isinstance(model, nn.Module) else None
    was_training = module is not None and module.training
    sums: dict[str, float] = {}
    images: list[dict[str, Any]] = []
    count = 0
    autocast = (
        torch.autocast(device_type=dev.type, dtype=amp)
        if amp is not None
        else contextlib.nullcontext()
    )
    if module is not None:
        module.eval()
    try:
        with torch.no_grad(), torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
            torch.manual_seed(seed)
            for batch in batches:
                rgb, hsi, names = _inputs(batch, dev)
                size = hsi.shape[0]
                with autocast:
                    if forward_loss:
                        # A method of the model's own class, which nn.Module's typing cannot see.
                        out = model.forward_loss(hsi, rgb)  # type: ignore[union-attr,operator]
                        values = {"loss": first_loss(out).float() * size}
                    else:
                        pred = model(rgb)
                if not forward_loss:
                    with torch.autocast(device_type=dev.type, enabled=False):
                        per_image = score_batch(
                            pred.float(),
                            hsi.float(),
                            response=response,
                            eps=eps,
                            mask=mask,
                            crop=crop,
                            ssim_window=ssim_window,
                        )
                    values = {k: v.sum() for k, v in per_image.items()}
                    lists = {k: v.tolist() for k, v in per_image.items()}
                    for i in range(size):
                        name = names[i] if names is not None else str(count + i)
                        images.append({"name": name, **{k: v[i] for k, v in lists.items()}})
                for key, value in values.items():
                    sums[key] = sums.get(key, 0.0) + float(value)
                count += size
    finally:
        if module is not None:
            module.train(was_training)
    # An empty loader is no error: under DDP a process may hold no validation sample, and
    # its (empty) sums still take part in the reduction.
    means = {k: v / count for k, v in sums.items()} if count else {}
    return EvaluationResult(metrics=means, count=count, sums=sums, images=images)
