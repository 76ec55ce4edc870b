"""Data-parallel plumbing for ``torchrun``: process group, samplers, metric reduction.

Launch is plain ``torchrun --nproc_per_node N -m ssrzoo train ...``: torchrun sets
``RANK``, ``LOCAL_RANK`` and ``WORLD_SIZE``, and :func:`init_distributed` joins the group
(NCCL on GPU, Gloo on CPU). A single process without those variables runs as world 1.

Sample randomness is made independent of workers and of where a run resumed: the
training sampler yields ``(index, seed)`` pairs, and :class:`SeededDataset` runs each
``__getitem__`` with python, numpy and torch seeded from that ``seed``, which depends
only on the run seed, the epoch and the sample's place in the epoch.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import Dataset, DistributedSampler, Sampler

__all__ = [
    "DistInfo",
    "SeededDataset",
    "ShardSampler",
    "TrainSampler",
    "all_reduce_sums",
    "barrier",
    "cleanup_distributed",
    "gather_objects",
    "init_distributed",
    "resolve_device",
    "sample_seed",
]


# Validation samples get seeds from an "epoch" no training epoch reaches.
_VAL_EPOCH = 2**32 - 1


@dataclass(frozen=True)
class DistInfo:
    """Where this process sits: ``rank`` of ``world_size``; ``local_rank`` on its node."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device: str) -> tuple[DistInfo, torch.device]:
    """Join the torchrun process group if there is one; pick this process's device.

    Args:
        device: ``auto``, ``cpu`` or ``cuda``.

    Returns:
        The process info and the device (``cuda:<local_rank>`` under torchrun on GPU).
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    dev = resolve_device(device, local_rank)
    use_cuda = dev.type == "cuda"
    if use_cuda:
        torch.cuda.set_device(local_rank)
    info = DistInfo(rank=rank, world_size=world, local_rank=local_rank)
    if info.enabled and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo", init_method="env://")
    return info, dev


def resolve_device(device: str, local_rank: int = 0) -> torch.device:
    """``auto``, ``cpu`` or ``cuda`` -> this process's device (``cuda:<local_rank>``)."""
    use_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    if use_cuda and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' asked for but CUDA is not available; use device=cpu")
    return torch.device("cuda", local_rank) if use_cuda else torch.device("cpu")


def cleanup_distributed() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def barrier() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def all_reduce_sums(values: dict[str, float], device: torch.device) -> dict[str, float]:
    """Sum each value over all processes (identity without a process group).

    Reduce sums and counts, never per-rank means: ranks may hold different numbers of
    validation samples, and a mean of means would weight them wrongly.
    """
    if not (dist.is_available() and dist.is_initialized()) or not values:
        return dict(values)
    keys = sorted(values)
    buf = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64, device=device)
    dist.all_reduce(buf, op=dist.ReduceOp.SUM)
    return dict(zip(keys, buf.tolist(), strict=True))


def gather_objects(obj: Any) -> list[Any]:
    """Every rank's ``obj`` in rank order (``[obj]`` without a process group).

    Used for small per-rank state (RNG states) that rank 0 writes into the checkpoint;
    the transport is in-memory between this run's own processes.
    """
    if not (dist.is_available() and dist.is_initialized()):
        return [obj]
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def sample_seed(seed: int, epoch: int, position: int) -> int:
    """A 63-bit seed for one sample, from the run seed, the epoch and its global position."""
    words = np.random.SeedSequence([seed, epoch, position]).generate_state(2, dtype=np.uint32)
    return (int(words[0]) << 31) ^ int(words[1])


class TrainSampler(Sampler[tuple[int, int, int]]):
    """Shuffled, sharded, resumable training order yielding ``(index, sample_seed, epoch)``.

    Order and sharding come from :class:`torch.utils.data.DistributedSampler` (with
    ``drop_last=True`` so every rank gets the same number of samples and no rank waits
    in an all-reduce); call :meth:`set_epoch` each epoch. ``skip`` drops the first
    samples of this rank's epoch, which is how a resumed run continues mid-epoch without
    reading the skipped data.
    """

    def __init__(self, num_samples: int, info: DistInfo, seed: int) -> None:
        if num_samples < info.world_size:
            raise ValueError(
                f"training set has {num_samples} samples for {info.world_size} processes; "
                "add data or use fewer processes"
            )
        # The sampler only needs len(); torch types its argument as a Dataset.
        self.inner: DistributedSampler[int] = DistributedSampler(
            range(num_samples),  # type: ignore[arg-type]
            num_replicas=info.world_size,
            rank=info.rank,
            shuffle=True,
            seed=seed,
            drop_last=True,
        )
        self.info = info
        self.seed = seed
        self.epoch = 0
        self.skip = 0

    def set_epoch(self, epoch: int, skip: int = 0) -> None:
        self.epoch = epoch
        self.skip = skip
        self.inner.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.inner) - self.skip

    def __iter__(self) -> Iterator[tuple[int, int, int]]:
        world, rank = self.info.world_size, self.info.rank
        for local, index in enumerate(self.inner):
            if local < self.skip:
                continue
            # DistributedSampler deals the global order round-robin to ranks.
            yield index, sample_seed(self.seed, self.epoch, local * world + rank), self.epoch


class ShardSampler(Sampler[tuple[int, int, int]]):
    """Validation order: ``indices[rank::world]``, no padding, fixed seeds, epoch 0.

    :class:`~torch.utils.data.DistributedSampler` pads the last round with repeated
    samples; those would be counted twice in the metrics, so validation uses this.
    """

    def __init__(self, num_samples: int, info: DistInfo, seed: int) -> None:
        self.indices: Sequence[int] = range(info.rank, num_samples, info.world_size)
        self.seed = seed

    def __len__(self) -> int:
        return len(self.indices)

    def __iter__(self) -> Iterator[tuple[int, int, int]]:
        for index in self.indices:
            yield index, sample_seed(self.seed, _VAL_EPOCH, index), 0


class SeededDataset(Dataset):
    """Wraps a map-style dataset; item ``(index, seed, epoch)`` is drawn under that seed.

    The global python/numpy/torch generators are seeded for the call and restored after,
    so a dataset that draws random crops, flips or noise from them gives the same sample
    in any worker, and the caller's random streams are left as they were. Datasets with
    their own per-epoch seeding (``set_epoch``, e.g. :class:`ssrzoo.data.RandomPatches`)
    are told the epoch in the process that reads the sample, so persistent workers see it.
    """

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset
        self._epoch: int | None = None

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, item: tuple[int, int, int]) -> Any:
        index, seed, epoch = item
        if epoch != self._epoch:
            _set_epoch(self.dataset, epoch)
            self._epoch = epoch
        py_state = random.getstate()
        np_state = np.random.get_state()
        with torch.random.fork_rng(devices=[]):
            random.seed(seed)
            np.random.seed(seed % (1 << 32))
            torch.manual_seed(seed)
            try:
                return self.dataset[index]
            finally:
                random.setstate(py_state)
                np.random.set_state(np_state)


def _set_epoch(dataset: Any, epoch: int) -> None:
    if callable(getattr(dataset, "set_epoch", None)):
        dataset.set_epoch(epoch)
    for child in getattr(dataset, "datasets", ()):  # ConcatDataset
        _set_epoch(child, epoch)
