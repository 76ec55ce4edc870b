"""``TrainerConfig``: every knob of a training run, loadable from a YAML recipe.

A recipe is a YAML file whose keys mirror the dataclasses below, e.g.::

    name: mae_ktsr_ntire
    stage: reconstruct
    model: {name: mae_ktsr_ntire, prior: runs/s2mae_ntire/export}
    data:
      train: {name: ICVLStrips, root: ../shared/data/icvl_strips, split: train}
      val: {name: ICVLStrips, root: ../shared/data/icvl_strips, split: val}
    optim: {opt: adamw, lr: 4.0e-4}
    sched: {steps: 20000, warmup_steps: 500}

Loading is strict: a key the dataclass does not have, or a value of the wrong type,
raises :class:`ConfigError` naming the dotted key (``optim.lr``) before anything else
happens. Command-line overrides use the same dotted keys: ``optim.lr=1e-3``.

A recipe is treated like a downloaded script: it may name only ssrzoo's own datasets and
models unless it is ``trusted`` (see :attr:`TrainerConfig.trusted`).
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union

import yaml

from ..exceptions import ConfigError

__all__ = [
    "ConfigError",
    "DataConfig",
    "DatasetConfig",
    "EmaConfig",
    "LossConfig",
    "ModelConfig",
    "OptimConfig",
    "SchedConfig",
    "TrainerConfig",
    "apply_overrides",
]


@dataclass
class ModelConfig:
    """What to train.

    Attributes:
        name: any name :func:`ssrzoo.create_model` takes: ``arch``, ``arch.tag``, an alias,
            ``hf-hub:org/repo`` or ``local-dir:/path``.
        args: constructor keyword arguments (e.g. ``{num_bands: 103}``).
        pretrained: start from the published weights of ``name`` (stage ``finetune``).
        checkpoint: start from these weights instead (safetensors or a tensors-only torch
            file, or a training checkpoint folder, whose model weights are used).
        prior: S²-MAE weights injected as prior (models with ``load_prior``, e.g.
            ``mae_ktsr``): a ``local-dir:``/``hf-hub:``/registered name, a weight file, or
            a training output folder.
        freeze_prior: keep the prior fixed; otherwise it is fine-tuned at
            ``prior_lr_scale`` times the learning rate.
        prior_lr_scale: learning-rate factor of the prior's parameters when not frozen.
        compile: wrap the model and its loss in ``torch.compile`` for training: ``true``
            (inductor's default mode) or a mode: ``reduce-overhead`` (CUDA graphs, for
            small models whose GPU step is bound by kernel launches), ``max-autotune``.
    """

    name: str = ""
    args: dict[str, Any] = field(default_factory=dict)
    pretrained: bool = False
    checkpoint: str | None = None
    prior: str | None = None
    freeze_prior: bool = True
    prior_lr_scale: float = 0.1
    compile: bool | Literal["default", "reduce-overhead", "max-autotune"] = False


@dataclass
class DatasetConfig:
    """One dataset, optionally cut into random patches with simulated RGB.

    Built in this order (see :func:`ssrzoo.train.build_dataset`):

    1. ``name(root=root, split=split, **args)``, where ``name`` is a dataset class of
       :mod:`ssrzoo.data` or one of its classmethod factories (``ICVLStrips``,
       ``SyntheticScenes.from_shared``, ...), or, in a ``trusted`` config only,
       ``"package.module:Class"``; ``root`` and ``split`` are passed only when set. Or,
       with ``concat``, several such datasets one after the other.
    2. With ``patches``: :class:`ssrzoo.data.RandomPatches` ``(dataset, **patches)``
       (``seed`` defaults to the run's seed), which also renders the RGB.
    3. ``rgb``: arguments of :class:`ssrzoo.data.SimulateRGB` (``response``, ``pipeline``,
       options), the camera the model will see. It is also what the model card records
       as the response. Without ``patches`` it is applied as the dataset's ``transforms``.

    Samples are dicts with ``"hsi"`` ``(C, H, W)`` and, for reconstruction, ``"rgb"``
    ``(3, H, W)`` float tensors.
    """

    name: str = ""
    root: str | None = None
    split: str | None = None
    args: dict[str, Any] = field(default_factory=dict)
    concat: list[DatasetConfig] = field(default_factory=list)
    patches: dict[str, Any] | None = None
    rgb: dict[str, Any] | None = None


@dataclass
class DataConfig:
    """Training and validation data.

    Attributes:
        train: the training dataset.
        val: the validation dataset, used for model selection. It must differ from the
            training set, and a split named ``test`` is refused: picking the best epoch on
            test data reports an optimistic number.
        batch_size: samples per micro-batch per process.
        val_batch_size: samples per validation batch per process.
        num_workers: DataLoader worker processes per training process.
        pin_memory: pin host memory for faster GPU transfer.
        device_patches: cut, augment and render the training patches on the training device,
            a batch at a time (:class:`ssrzoo.data.DevicePatches`), instead of in DataLoader
            workers: every training image is loaded onto the device once. For datasets that
            fit in device memory, with ``patches`` and a clean-pipeline ``rgb``; it keeps a GPU
            busy where the per-sample worker path starves it.
    """

    train: DatasetConfig = field(default_factory=DatasetConfig)
    val: DatasetConfig = field(default_factory=DatasetConfig)
    batch_size: int = 8
    val_batch_size: int = 1
    num_workers: int = 0
    pin_memory: bool = False
    device_patches: bool = False


@dataclass
class LossConfig:
    """Weights of the reconstruction loss terms (a weight of 0 disables a term).

    ``mrae`` is the mean relative absolute error, ``l1`` the mean absolute error, ``sam``
    the spectral angle (radians), ``bp`` the MRAE between the input RGB and the output
    rendered back through the camera response (needs the response; see
    :class:`ssrzoo.train.losses.ReconstructionLoss`). Ignored in stage ``pretrain``, where
    the model's own ``forward_loss`` is used.
    """

    mrae: float = 1.0
    l1: float = 0.0
    sam: float = 0.0
    bp: float = 0.0
    eps: float = 1e-3


@dataclass
class OptimConfig:
    """Optimizer (timm ``create_optimizer_v2``), clipping and accumulation.

    Attributes:
        opt: timm optimizer name (``adamw``, ``adam``, ``sgd``, ``lamb``, ...).
        lr: peak learning rate.
        weight_decay: decoupled weight decay (not applied to biases and norms).
        momentum: momentum of SGD-like optimizers.
        opt_args: extra optimizer arguments, e.g. ``{betas: [0.9, 0.999]}``.
        clip_grad: max global gradient norm; ``null`` disables clipping.
        accum_steps: micro-batches per optimizer step.
    """

    opt: str = "adamw"
    lr: float = 4e-4
    weight_decay: float = 1e-4
    momentum: float = 0.9
    opt_args: dict[str, Any] = field(default_factory=dict)
    clip_grad: float | None = 1.0
    accum_steps: int = 1


@dataclass
class SchedConfig:
    """Cosine schedule with linear warmup (timm ``CosineLRScheduler``), in optimizer steps.

    The learning rate rises linearly from ``warmup_lr`` to ``optim.lr`` over
    ``warmup_steps``, then follows one cosine half-period that reaches ``min_lr``
    exactly at ``steps``, the last step of the run; it never overruns its bound.
    """

    steps: int = 1000
    warmup_steps: int = 0
    warmup_lr: float = 1e-6
    min_lr: float = 1e-6


@dataclass
class EmaConfig:
    """Exponential moving average of the weights (timm ``ModelEmaV3``).

    When enabled, validation, model selection and export use the EMA weights.
    """

    enabled: bool = False
    decay: float = 0.999
    warmup: bool = True


@dataclass
class TrainerConfig:
    """A complete training run.

    Attributes:
        name: run name; the recipe's file stem by default.
        stage: ``pretrain`` (S²-MAE on cubes: the model's ``forward_loss(cube, rgb)``),
            ``reconstruct`` (RGB → HSI from scratch, optionally with a prior) or
            ``finetune`` (like ``reconstruct``, starting from ``model.pretrained`` or
            ``model.checkpoint``).
        out_dir: run folder (checkpoints, logs, curves, export); ``runs/<name>`` if empty.
        seed: seed of every random generator (python, numpy, torch, data).
        device: ``auto`` (CUDA if available), ``cpu`` or ``cuda``.
        amp: autocast dtype: ``off``, ``bf16`` or ``fp16`` (``fp16`` needs CUDA).
        threads: torch CPU threads per process (``null``: torch's default).
        eval_every: validate (and checkpoint) every this many optimizer steps.
        eval_at_start: also validate before the first step.
        checkpoint_every: checkpoint every this many steps (``null``: at each validation).
        keep_last: number of latest checkpoints kept, besides the best one.
        log_every: log training loss every this many steps.
        select_metric: validation metric that picks the best weights (``mrae`` for
            reconstruction, ``loss`` for pretraining when empty).
        select_mode: ``min`` or ``max`` (``max`` for ``psnr``).
        metric_eps: validation MRAE/BP-MRAE epsilon (see :func:`ssrzoo.metrics.mrae`):
            the denominator floor, or with ``metric_mask`` the threshold below which target
            values are left out. Set it for data with near-black pixels.
        metric_mask: leave out target values below ``metric_eps`` instead of flooring.
        resume: ``false``; ``true`` for the latest checkpoint in ``out_dir``; or a
            checkpoint folder (or a run folder, meaning its latest checkpoint).
        export: write the best weights with :func:`ssrzoo.save_pretrained` at the end.
        tensorboard: also log to TensorBoard (needs the ``tensorboard`` package).
        ddp_find_unused: DDP's ``find_unused_parameters`` (models with unused branches).
        imports: modules imported first, e.g. ones that register custom models
            (needs ``trusted``).
        hooks: ``"module:function"`` callables run as ``fn(trainer, event)`` at events
            ``train_start``, ``validation_end`` and ``train_end`` (needs ``trusted``).
        trusted: allow code outside ssrzoo: ``imports``, ``hooks`` and
            ``"package.module:Class"`` dataset names. Off by default because a recipe is
            often someone else's file, and those keys run any code it names; ``ssrzoo
            train --allow-imports`` sets it.
        card: model card fields for the export: ``dataset`` (training data in words),
            ``datasets``, ``license``, ``tag``, ``notes``, ``paper``, ``doi``, and
            ``protocol`` (a key of ``ssrzoo.protocols.PROTOCOLS``, checked against
            the data), which fills the input/output description; fields the run cannot
            vouch for are left empty, never taken from the architecture's published cfg.
    """

    name: str = ""
    stage: Literal["pretrain", "reconstruct", "finetune"] = "reconstruct"
    out_dir: str = ""
    seed: int = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"
    amp: Literal["off", "bf16", "fp16"] = "off"
    threads: int | None = None
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    sched: SchedConfig = field(default_factory=SchedConfig)
    ema: EmaConfig = field(default_factory=EmaConfig)
    eval_every: int = 500
    eval_at_start: bool = False
    checkpoint_every: int | None = None
    keep_last: int = 2
    log_every: int = 50
    select_metric: str = ""
    select_mode: Literal["min", "max"] = "min"
    metric_eps: float = 1e-6
    metric_mask: bool = False
    resume: bool | str = False
    export: bool = True
    tensorboard: bool = False
    ddp_find_unused: bool = False
    imports: list[str] = field(default_factory=list)
    hooks: list[str] = field(default_factory=list)
    trusted: bool = False
    card: dict[str, Any] = field(default_factory=dict)

    # ----------------------------------------------------------------- loading
    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainerConfig:
        """Build and validate from a (nested) dict; see :func:`_build` for the rules."""
        cfg = _build(cls, data, "")
        cfg.validate()
        return cfg

    @classmethod
    def from_yaml(cls, path: str | Path, overrides: Sequence[str] = ()) -> TrainerConfig:
        """Read a recipe, apply ``key=value`` overrides, validate.

        ``name`` defaults to the file stem, so ``recipes/mae_ktsr_ntire.yaml`` writes to
        ``runs/mae_ktsr_ntire``.
        """
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file {str(path)!r} not found; pass a recipes/*.yaml file")
        try:
            raw = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as err:
            first = str(err).splitlines()[0]
            raise ConfigError(f"{str(path)!r} is not valid YAML ({first})") from err
        if not isinstance(raw, dict):
            raise ConfigError(
                f"{str(path)!r} must hold a mapping of keys, got {type(raw).__name__}"
            )
        raw = apply_overrides(raw, overrides)
        raw.setdefault("name", path.stem)
        return cls.from_dict(raw)

    def to_dict(self) -> dict[str, Any]:
        """A plain nested dict (YAML/JSON ready) that :meth:`from_dict` reads back."""
        return dataclasses.asdict(self)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    # -------------------------------------------------------------- validation
    def validate(self) -> None:
        """Check settings that depend on each other; raise :class:`ConfigError`."""
        code = _outside_code(self)
        if code and not self.trusted:
            raise ConfigError(
                f"this config runs code outside ssrzoo ({'; '.join(code)}); {_TRUST_HINT}"
            )
        for key, value in _float_fields(self):
            if not math.isfinite(value):
                raise ConfigError(f"{key} must be a finite number, got {value}")
        positive = {
            "sched.steps": self.sched.steps,
            "eval_every": self.eval_every,
            "log_every": self.log_every,
            "keep_last": self.keep_last,
            "data.batch_size": self.data.batch_size,
            "data.val_batch_size": self.data.val_batch_size,
            "optim.accum_steps": self.optim.accum_steps,
            "optim.lr": self.optim.lr,
        }
        if self.checkpoint_every is not None:
            positive["checkpoint_every"] = self.checkpoint_every
        if self.threads is not None:
            positive["threads"] = self.threads
        for key, value in positive.items():
            if not (value > 0 and math.isfinite(value)):  # NaN compares false to everything
                raise ConfigError(f"{key} must be a finite number > 0, got {value}")
        if self.data.device_patches and self.data.train.patches is None:
            raise ConfigError(
                "data.device_patches needs data.train.patches (the patch size, augmentation "
                "and exposure to draw on the device)"
            )
        if self.data.num_workers < 0:
            raise ConfigError(f"data.num_workers must be >= 0, got {self.data.num_workers}")
        if not 0 <= self.sched.warmup_steps < self.sched.steps:
            raise ConfigError(
                f"sched.warmup_steps must be in [0, sched.steps={self.sched.steps}), "
                f"got {self.sched.warmup_steps}"
            )
        for key, value in {
            "sched.min_lr": self.sched.min_lr,
            "sched.warmup_lr": self.sched.warmup_lr,
            "optim.weight_decay": self.optim.weight_decay,
        }.items():
            if value < 0:
                raise ConfigError(f"{key} must be >= 0, got {value}")
        if self.sched.min_lr > self.optim.lr:
            raise ConfigError(
                f"sched.min_lr={self.sched.min_lr} exceeds optim.lr={self.optim.lr}; lower it"
            )
        if not self.model.name:
            raise ConfigError("model.name is required, e.g. model.name=mae_ktsr_ntire")
        for key in ("train", "val"):
            _check_dataset(getattr(self.data, key), f"data.{key}")
        if "test" in _splits(self.data.val):
            raise ConfigError(
                "data.val.split is 'test': model selection must use a validation split, "
                "never the test data; use split 'val' and evaluate the test split afterwards"
            )
        if self.data.val == self.data.train:
            raise ConfigError(
                "data.val is the same dataset as data.train; validate on held-out data "
                "(e.g. data.val.split=val)"
            )
        if self.stage == "finetune" and not (self.model.pretrained or self.model.checkpoint):
            raise ConfigError(
                "stage 'finetune' needs a starting point: set model.pretrained=true or "
                "model.checkpoint=<path>"
            )
        if self.stage == "pretrain" and self.model.prior:
            raise ConfigError("model.prior is for stage 'reconstruct'/'finetune', not 'pretrain'")
        if self.stage != "pretrain":
            weights = {k: getattr(self.loss, k) for k in ("mrae", "l1", "sam", "bp")}
            if any(w < 0 for w in weights.values()) or not any(weights.values()):
                raise ConfigError(f"loss weights must be >= 0 with at least one > 0, got {weights}")
        if self.metric_eps < 0:
            raise ConfigError(f"metric_eps must be >= 0, got {self.metric_eps}")
        if not 0 < self.ema.decay < 1:
            raise ConfigError(f"ema.decay must be in (0, 1), got {self.ema.decay}")
        if self.model.prior_lr_scale < 0:
            raise ConfigError(f"model.prior_lr_scale must be >= 0, got {self.model.prior_lr_scale}")
        known_card = {"dataset", "datasets", "license", "tag", "protocol", "notes", "paper", "doi"}
        unknown = sorted(set(self.card) - known_card)
        if unknown:
            raise ConfigError(f"unknown key card.{unknown[0]}; known: {sorted(known_card)}")

    @property
    def run_dir(self) -> Path:
        """The run folder: ``out_dir``, or ``runs/<name>``."""
        return Path(self.out_dir or f"runs/{self.name or 'run'}").expanduser()

    @property
    def metric(self) -> str:
        """The selection metric, with the stage's default filled in."""
        return self.select_metric or ("loss" if self.stage == "pretrain" else "mrae")


# ---------------------------------------------------------------------------- helpers
#: How to allow code outside ssrzoo; every refusal of such code ends with it.
_TRUST_HINT = (
    "a recipe is like a script: read it, and if you trust its code, add `trusted: true` to "
    "it or pass `ssrzoo train --allow-imports` (Python: TrainerConfig(trusted=True))"
)


def _outside_code(cfg: TrainerConfig) -> list[str]:
    """What in ``cfg`` imports or runs code outside ssrzoo, in words."""
    found = [
        f"{key}.name {name!r}"
        for spec, top in ((cfg.data.train, "data.train"), (cfg.data.val, "data.val"))
        for key, name in _dataset_names(spec, top)
        if ":" in name
    ]
    if cfg.imports:
        found.append(f"imports {cfg.imports}")
    if cfg.hooks:
        found.append(f"hooks {cfg.hooks}")
    return found


def _dataset_names(spec: DatasetConfig, key: str) -> Iterator[tuple[str, str]]:
    yield key, spec.name
    for i, child in enumerate(spec.concat):
        yield from _dataset_names(child, f"{key}.concat[{i}]")


def _float_fields(obj: Any, prefix: str = "") -> Iterator[tuple[str, float]]:
    """``(dotted key, value)`` of every float setting (not of free-form ``args`` mappings)."""
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            yield from _float_fields(value, f"{prefix}{f.name}.")
        elif isinstance(value, float):
            yield prefix + f.name, value


def _check_dataset(spec: DatasetConfig, key: str) -> None:
    if bool(spec.name) == bool(spec.concat):
        raise ConfigError(
            f"{key} needs exactly one of name (a dataset class of ssrzoo.data, or "
            "'package.module:Class' in a trusted config) and concat (a list of datasets)"
        )
    if spec.concat and (spec.root or spec.split or spec.args):
        raise ConfigError(f"{key}: root, split and args go on each entry of {key}.concat")
    if spec.concat and spec.rgb is not None and spec.patches is None:
        raise ConfigError(f"{key}: rgb on a concat needs patches (or set rgb on each entry)")
    for i, child in enumerate(spec.concat):
        _check_dataset(child, f"{key}.concat[{i}]")


def _splits(spec: DatasetConfig) -> set[str]:
    out = {(spec.split or "").lower()}
    for child in spec.concat:
        out |= _splits(child)
    return out


def apply_overrides(raw: Mapping[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Apply ``dotted.key=value`` strings to a nested dict (values parsed as YAML).

    ``optim.lr=1e-3`` sets ``raw['optim']['lr'] = 0.001``; ``model.args={depth: 2}``
    sets a mapping. Whether the key exists is checked later, against the dataclasses.
    """
    out: dict[str, Any] = _deep_copy(raw)
    for item in overrides:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"override {item!r} is not key=value, e.g. optim.lr=1e-3")
        try:
            value = yaml.safe_load(text) if text.strip() else ""
        except yaml.YAMLError as err:
            raise ConfigError(f"override {item!r}: value is not valid YAML ({err})") from err
        node = out
        parts = key.split(".")
        for i, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                where = ".".join(parts[: i + 1])
                raise ConfigError(f"override {item!r}: {where} is not a mapping")
            node = child
        node[parts[-1]] = value
    return out


def _deep_copy(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {k: _deep_copy(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_deep_copy(v) for v in obj]
    return obj


def _build(cls: type, data: Any, prefix: str) -> Any:
    """Instantiate dataclass ``cls`` from ``data``, checking every key and type.

    Rules: unknown keys fail (with a close-match suggestion); ``bool`` is never taken for
    a number; an ``int`` is accepted for a ``float``, and so is a numeric string, since
    YAML reads ``1e-3`` (no dot) as a string.
    """
    where = prefix.rstrip(".") or "config"
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where} must be a mapping, got {type(data).__name__} {data!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for key, value in data.items():
        if key not in fields:
            close = difflib.get_close_matches(str(key), list(fields), n=1)
            hint = f"; did you mean {prefix + close[0]!r}?" if close else ""
            raise ConfigError(
                f"unknown config key {prefix + str(key)!r}{hint} (known: {', '.join(fields)})"
            )
        kwargs[key] = _coerce(hints[key], value, f"{prefix}{key}")
    return cls(**kwargs)


def _coerce(tp: Any, value: Any, key: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _build(tp, value, key + ".")
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _coerce(arg, value, key)
            except ConfigError as err:
                errors.append(err)
        raise ConfigError(f"{key} must be {_type_name(tp)}, got {_show(value)}")
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"{key} must be one of {list(args)}, got {_show(value)}")
        return value
    if tp is Any:
        return value
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{key} must be a list, got {_show(value)}")
        return [_coerce(args[0], v, f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{key} must be a mapping, got {_show(value)}")
        return {str(k): _coerce(args[1], v, f"{key}.{k}") for k, v in value.items()}
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key} must be true or false, got {_show(value)}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key} must be an integer, got {_show(value)}")
        return value
    if tp is float:
        if isinstance(value, bool):
            raise ConfigError(f"{key} must be a number, got {_show(value)}")
        if isinstance(value, int | float):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise ConfigError(f"{key} must be a number, got {_show(value)}")
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key} must be a string, got {_show(value)}")
        return value
    raise TypeError(f"config field {key} has unsupported type {tp!r}")  # a bug in this file


def _type_name(tp: Any) -> str:
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    names = [getattr(a, "__name__", str(a)) for a in args]
    none = " or null" if type(None) in typing.get_args(tp) else ""
    return " or ".join(names) + none


def _show(value: Any) -> str:
    return f"{type(value).__name__} {value!r}"
