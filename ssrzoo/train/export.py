"""What a run records about itself: its data in words, its camera, its model card.

The exported weight folder is only useful if its card says what the weight expects and
produces and how it was measured; everything here comes from the run itself (its data, its
recipe, its git commit), never from the registry cfg of the architecture, which describes
another weight.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from torch.utils.data import Dataset

from .. import __version__
from ..evaluation import dataset_response
from ..models import PretrainedCfg
from ..protocols import PROTOCOLS
from .config import ConfigError, DatasetConfig, TrainerConfig

__all__ = [
    "check_protocol",
    "describe_data",
    "export_cfg",
    "git_commit",
    "protocol_card_fields",
    "response_name",
    "spec_words",
]


def describe_data(
    train: Dataset, val: Dataset, cfg: TrainerConfig, wavelengths: Sequence[float]
) -> dict[str, Any]:
    """What the model card says about the data: the training and validation sets in words,
    and the camera that rendered the training RGB (its ``(K, C)`` matrix at ``wavelengths``
    and its name), which the back-projection loss and BP-MRAE also use."""

    def words(ds: Dataset, spec: DatasetConfig) -> str:
        text = getattr(ds, "description", None)
        if not (isinstance(text, str) and text):
            text = spec_words(spec)
        return f"{text}; {len(ds)} samples"  # type: ignore[arg-type]

    return {
        "train_desc": words(train, cfg.data.train),
        "val_desc": words(val, cfg.data.val),
        "response_matrix": dataset_response(train, wavelengths),
        "response_name": response_name(train),
    }


def spec_words(spec: DatasetConfig) -> str:
    """A dataset config in words, for a card whose dataset has no ``description``."""
    if spec.concat:
        text = " + ".join(spec_words(c) for c in spec.concat)
    else:
        text = spec.name.rpartition(":")[2] + (f" split {spec.split!r}" if spec.split else "")
        # the arguments that choose the data (scenes, bands), not how it is read
        chosen = {k: v for k, v in spec.args.items() if k not in _READING_ARGS}
        if chosen:
            text += " " + ", ".join(f"{k}={_words(v)}" for k, v in chosen.items())
    if spec.patches is not None:
        size = spec.patches.get("patch_size", "default")
        text = f"({text}) as random patches of {size} px"
    if spec.rgb is not None:
        response = spec.rgb.get("response") or "cie1964_10deg"
        if isinstance(response, Mapping):  # a loader spec: its name, never a local path
            response = response.get("name") or response.get("loader", "custom response")
        text += f", RGB simulated ({spec.rgb.get('pipeline', 'clean')} pipeline, {response})"
    return text


_READING_ARGS = frozenset({"cache", "cache_size", "download", "num_workers", "root", "mmap"})


def _words(value: Any) -> str:
    """``[samson, fenix_rock]`` for a list, the value itself otherwise."""
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(map(str, value)) + "]"
    return str(value)


def response_name(ds: Dataset) -> str | None:
    """The name of the camera that rendered the dataset's RGB, if the dataset says."""
    simulate = getattr(ds, "simulate_rgb", None)
    if simulate is not None:
        response = simulate.response or "cie1964_10deg"
        return str(getattr(response, "name", response))
    name = getattr(ds, "response_name", None) or getattr(
        getattr(ds, "response", None), "name", None
    )
    return str(name) if name else None


def check_protocol(card: Mapping[str, Any], info: Mapping[str, Any]) -> None:
    """``card.protocol`` must describe this run's data (``info``): its bands and its camera."""
    name = card.get("protocol")
    if not name:
        return
    if name not in PROTOCOLS:
        raise ConfigError(f"card.protocol {name!r} is not one of {sorted(PROTOCOLS)}")
    protocol = PROTOCOLS[name]
    camera = info.get("response_name")
    if protocol["num_bands"] != info["bands"] or (camera and camera != protocol["response_name"]):
        raise ConfigError(
            f"card.protocol {name!r} is {protocol['num_bands']} bands through "
            f"{protocol['response_name']!r}, but this run's data is {info['bands']} bands "
            f"through {camera!r}; fix card.protocol or leave it out"
        )


def export_cfg(
    pcfg: PretrainedCfg,
    cfg: TrainerConfig,
    info: Mapping[str, Any],
    best: Mapping[str, Any],
    *,
    steps: int,
    world_size: int,
    ema: bool,
) -> PretrainedCfg:
    """The model card of a trained weight: ``pcfg`` with what this run knows replaced.

    Args:
        pcfg: the architecture's cfg, as the model was built.
        cfg: the run's recipe.
        info: the data's bands, wavelengths, descriptions and camera
            (:func:`ssrzoo.train.builders.check_samples` and :func:`describe_data`).
        best: the best validation, ``{'metric', 'value', 'step', 'metrics'}``.
        steps, world_size, ema: optimizer steps taken, processes, EMA weights or not.
    """
    card = cfg.card
    metrics = {k: round(float(v), 6) for k, v in best["metrics"].items()}
    updates: dict[str, Any] = {
        # A new weight: not the registry's published file, repo or training data.
        "hf_hub_id": None,
        "hf_hub_revision": None,
        "storage_dtype": None,  # trained weights are saved as trained, not as loaded
        "datasets": tuple(card.get("datasets", ())),
        "metrics": metrics,
        "metrics_dataset": f"validation split: {info['val_desc']}",
        "dataset": card.get("dataset") or info["train_desc"],
        "recipe": cfg.name,
        "num_bands": info["bands"],
    }
    if info.get("wavelengths"):
        data_wl = info["wavelengths"]
        # the data's grid went through float32 tensors: keep the model's exact centres
        # when they are the same grid
        same = len(data_wl) == len(pcfg.wavelengths) and all(
            abs(a - b) < 1e-3 for a, b in zip(data_wl, pcfg.wavelengths, strict=True)
        )
        updates["wavelengths"] = tuple(pcfg.wavelengths) if same else data_wl
        if pcfg.fwhm is not None and len(pcfg.fwhm) != info["bands"]:
            updates["fwhm"] = None
    if info.get("response_matrix") is not None:
        updates["response"] = info["response_matrix"].tolist()
        updates["response_name"] = info.get("response_name")
    updates.update(protocol_card_fields(card, info))
    updates.update({k: card[k] for k in ("license", "paper", "doi") if k in card})
    commit = git_commit()
    notes = [
        f"Trained with ssrzoo {__version__} `Trainer`, stage {cfg.stage!r}, recipe "
        f"`recipes/{cfg.name}.yaml`, {steps} optimizer steps on "
        f"{world_size} process(es); best validation {best['metric']} at step "
        f"{best['step']}{' (EMA weights)' if ema else ''}.",
        f"Git commit: {commit or 'unknown'}.",
    ]
    if card.get("notes"):
        notes.insert(0, str(card["notes"]))
    updates["notes"] = "\n\n".join(notes)
    return pcfg.replace(**updates)


def protocol_card_fields(card: Mapping[str, Any], info: Mapping[str, Any]) -> dict[str, Any]:
    """The card fields that describe the input and output, from the run and nothing else.

    The architecture's registry cfg describes *its* published weight (an ``mae_ktsr_ntire``
    built for a CAVE run says "NTIRE2020 Clean ... CIE 1964"), so none of these fields is
    inherited: with ``card.protocol`` they are that protocol's (checked against the run's
    camera), without it they are left empty and ``tag`` is ``card.tag`` or empty.
    """
    simulated = info.get("response_matrix") is not None
    fields: dict[str, Any] = {
        "tag": str(card.get("tag", "")),
        "input_note": "",
        "output_units": "",
        "input_encoding": "linear" if simulated else "srgb",
    }
    name = card.get("protocol")
    if name:
        protocol = PROTOCOLS[str(name)]
        fields.update(
            tag=str(card.get("tag", name)),
            input_note=protocol["input_note"],
            output_units=protocol["output_units"],
            input_encoding=protocol["input_encoding"],
        )
    return fields


def git_commit() -> str:
    """``git describe --always --dirty`` of the working copy, else of the package's, else ''."""
    for where in (Path.cwd(), Path(__file__).resolve().parent):
        try:
            out = subprocess.run(
                ["git", "describe", "--always", "--dirty", "--abbrev=40"],
                cwd=where,
                capture_output=True,
                text=True,
                timeout=10,
                check=True,
            )
        except (OSError, subprocess.SubprocessError):
            continue
        if out.stdout.strip():
            return out.stdout.strip()
    return ""
