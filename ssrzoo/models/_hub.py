"""Hub plumbing: weight resolution, ``config.json``, ``save_pretrained``, ``push_to_hub``.

A Hub repo (or a local folder) of an ssrzoo weight holds exactly what
:func:`save_pretrained` writes: ``config.json`` (architecture, model args, pretrained
cfg), ``model.safetensors`` and a ``README.md`` model card with YAML front matter.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from huggingface_hub import EvalResult, HfApi, ModelCardData, hf_hub_download
from huggingface_hub.errors import (
    EntryNotFoundError,
    HfHubHTTPError,
    LocalEntryNotFoundError,
    OfflineModeIsEnabled,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from safetensors.torch import save_file

from .._atomic import atomic_write
from ..exceptions import CheckpointError, WeightsNotFoundError
from ..version import __version__
from ._helpers import file_sha256, verify_sha256
from ._pretrained import PretrainedCfg, json_ready

__all__ = [
    "CONFIG_NAME",
    "WEIGHTS_NAME",
    "bundled_weights_dir",
    "download_from_hub",
    "load_config",
    "push_to_hub",
    "resolve_pretrained_file",
    "save_pretrained",
    "saved_model_args",
    "untie_tensors",
    "with_bundled_metadata",
]

_logger = logging.getLogger(__name__)

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
CARD_NAME = "README.md"
_HUB_MISSES = (
    EntryNotFoundError,
    LocalEntryNotFoundError,
    OfflineModeIsEnabled,
    RepositoryNotFoundError,
    RevisionNotFoundError,
    HfHubHTTPError,
    OSError,
)


def bundled_weights_dir() -> Path:
    """The folder inside the installed package that holds bundled weight folders."""
    return Path(str(resources.files("ssrzoo") / "weights"))


_PINNING_FIELDS = (
    "architecture",
    "tag",
    "hf_hub_id",
    "hf_hub_revision",
    "hf_hub_filename",
    "sha256",
    "file",
    "bundled",
)


def _bundled_config(cfg: PretrainedCfg) -> dict[str, Any] | None:
    """The ``config.json`` shipped beside a bundled weight, or ``None`` when it is missing,
    unreadable or records another sha256 than the registry pins (loading that folder would
    fail the checksum anyway)."""
    if not cfg.bundled:
        return None
    config_file = bundled_weights_dir() / cfg.name / CONFIG_NAME
    return _matching_config(config_file, cfg, unreadable=f"bundled weight {cfg.name}")


def with_bundled_metadata(cfg: PretrainedCfg) -> PretrainedCfg:
    """Fill a bundled weight's metadata from the ``config.json`` shipped beside it.

    The registry code pins where a weight is and its sha256; the measured facts (camera
    response numbers, metrics, training data) live once, in the weight folder's
    ``config.json`` written by :func:`save_pretrained`.
    """
    config = _bundled_config(cfg)
    if config is None:
        return cfg
    metadata = {k: v for k, v in config["pretrained_cfg"].items() if k not in _PINNING_FIELDS}
    typed = PretrainedCfg.from_dict(metadata)  # drops fields this version does not know
    return cfg.replace(**typed.to_fields(k for k in metadata if hasattr(typed, k)))


def _matching_config(file: Path, cfg: PretrainedCfg, unreadable: str = "") -> dict[str, Any] | None:
    """``file`` parsed, if it is an ssrzoo ``config.json`` (with its ``pretrained_cfg``) of
    the weight ``cfg`` pins (or of any weight when ``cfg`` pins none); ``unreadable``: what
    to name in a warning when the file is missing or unreadable (no warning if empty)."""
    try:
        config = json.loads(file.read_text())
        stored_sha = config["pretrained_cfg"].get("sha256")
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        if unreadable:
            _logger.warning("%s has no readable %s", unreadable, file)
        return None
    if cfg.sha256 and stored_sha != cfg.sha256:
        _logger.warning("%s records another sha256 than %s pins; not using it", file, cfg.name)
        return None
    return config  # type: ignore[no-any-return]


def _saved_config(cfg: PretrainedCfg, cache_dir: str | Path | None) -> dict[str, Any] | None:
    """The ``config.json`` that travels with the weight file of ``cfg``, looked for where
    :func:`resolve_pretrained_file` looks for the file, in the same order: beside an explicit
    ``file``, in the Hub cache, in the package, then on the Hub unless offline."""
    if cfg.file:
        beside = _matching_config(Path(cfg.file).expanduser().parent / CONFIG_NAME, cfg)
        if beside is not None or not cfg.sha256:
            return beside
        # a pinned file is the same weight wherever it lies: its config.json may be elsewhere
    if cfg.hf_hub_id:
        try:
            cached = download_from_hub(
                cfg.hf_hub_id,
                CONFIG_NAME,
                revision=cfg.hf_hub_revision,
                cache_dir=cache_dir,
                local_files_only=True,
            )
        except _HUB_MISSES:
            pass
        else:
            found = _matching_config(cached, cfg)
            if found is not None:
                return found
    if cfg.bundled:
        return _bundled_config(cfg)
    if cfg.hf_hub_id and not _offline():
        try:
            downloaded = download_from_hub(
                cfg.hf_hub_id, CONFIG_NAME, revision=cfg.hf_hub_revision, cache_dir=cache_dir
            )
        except _HUB_MISSES:
            return None
        return _matching_config(downloaded, cfg)
    return None


def saved_model_args(cfg: PretrainedCfg, cache_dir: str | Path | None = None) -> dict[str, Any]:
    """The constructor arguments a published weight was saved with (the ``model_args`` of
    the ``config.json`` beside its file, bundled or on the Hub), e.g. an S²-MAE's attention
    ``window_size``: arguments that change no parameter shape, so the weight would load
    into the entrypoint's defaults and silently compute something else. Empty when no such
    ``config.json`` is found."""
    config = _saved_config(cfg, cache_dir)
    args = (config or {}).get("model_args") or {}
    return dict(args) if isinstance(args, Mapping) else {}


def download_from_hub(
    repo_id: str,
    filename: str,
    *,
    revision: str | None = None,
    cache_dir: str | Path | None = None,
    local_files_only: bool = False,
) -> Path:
    """``hf_hub_download`` with ssrzoo's library name, returning a local path.

    Honours ``HF_HUB_OFFLINE``, ``HF_HOME``/``HF_HUB_CACHE`` and ``cache_dir`` through
    huggingface_hub itself.
    """
    path = hf_hub_download(
        repo_id,
        filename,
        revision=revision,
        cache_dir=cache_dir,
        local_files_only=local_files_only,
        library_name="ssrzoo",
        library_version=__version__,
    )
    return Path(path)


def _offline() -> bool:
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def resolve_pretrained_file(cfg: PretrainedCfg, *, cache_dir: str | Path | None = None) -> Path:
    """Find the weight file of ``cfg`` and verify its sha256.

    Resolution order (first hit wins; every candidate is checked against ``cfg.sha256``):

    1. ``cfg.file``, an explicit local file (e.g. from ``pretrained_cfg_overlay``);
    2. the Hugging Face Hub cache (``cache_dir``, else ``HF_HUB_CACHE``/``HF_HOME``), no
       network;
    3. the copy bundled in the package, so air-gapped machines work out of the box;
    4. a Hub download over the network, unless ``HF_HUB_OFFLINE`` is set.

    The cache is read before the bundled copy and the network last, because all copies
    share one pinned sha256: a network round trip cannot give different bytes, and on an
    air-gapped machine it costs ~20 s of retries before failing.

    Raises:
        WeightsNotFoundError: no source had the file; the message says how to get it.
        ChecksumError: a file was found but its sha256 is not the pinned one.
    """
    tried: list[str] = []
    if cfg.file:
        path = Path(cfg.file).expanduser()
        if not path.is_file():
            raise WeightsNotFoundError(
                f"weight file {str(path)!r} given for {cfg.name!r} does not exist"
            )
        verify_sha256(path, cfg.sha256)
        return path

    if cfg.hf_hub_id:
        try:
            path = download_from_hub(
                cfg.hf_hub_id,
                cfg.hf_hub_filename,
                revision=cfg.hf_hub_revision,
                cache_dir=cache_dir,
                local_files_only=True,
            )
        except _HUB_MISSES:
            tried.append(f"Hub cache ({cfg.hf_hub_id})")
        else:
            verify_sha256(path, cfg.sha256)
            return path

    bundled = bundled_weights_dir() / cfg.name / cfg.hf_hub_filename
    if bundled.is_file():
        verify_sha256(bundled, cfg.sha256)
        return bundled
    tried.append("bundled copy")

    if cfg.hf_hub_id and not _offline():
        try:
            path = download_from_hub(
                cfg.hf_hub_id,
                cfg.hf_hub_filename,
                revision=cfg.hf_hub_revision,
                cache_dir=cache_dir,
            )
        except _HUB_MISSES as err:
            tried.append(f"Hub download ({type(err).__name__})")
        else:
            verify_sha256(path, cfg.sha256)
            return path
    elif cfg.hf_hub_id:
        tried.append("Hub download (skipped: HF_HUB_OFFLINE is set)")

    where = f"https://huggingface.co/{cfg.hf_hub_id}" if cfg.hf_hub_id else "its publisher"
    start = (
        f"no weights for {cfg.name!r} (tried: {', '.join(tried)}); connect to the network, "
        f"or download {cfg.hf_hub_filename} from {where} and pass "
    )
    raise WeightsNotFoundError(
        start + "checkpoint_path=... or pretrained_cfg_overlay={'file': ...}",
        cli_message=start + "it with --checkpoint FILE",
    )


def load_config(
    path_or_repo: str | Path,
    *,
    revision: str | None = None,
    cache_dir: str | Path | None = None,
    hub: bool = False,
) -> tuple[dict[str, Any], Path]:
    """Read ``config.json`` of a local folder (``hub=False``) or a Hub repo.

    Returns:
        The parsed config and the folder that holds it (the Hub snapshot for a repo).
    """
    if hub:
        config_file = hub_file(str(path_or_repo), CONFIG_NAME, revision, cache_dir)
    else:
        config_file = Path(path_or_repo).expanduser() / CONFIG_NAME
        if not config_file.is_file():
            raise WeightsNotFoundError(
                f"{str(config_file)!r} not found; a local-dir: model folder needs "
                f"{CONFIG_NAME} and {WEIGHTS_NAME} as written by ssrzoo.save_pretrained"
            )
    try:
        config = json.loads(Path(config_file).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{str(config_file)!r} is not valid JSON ({err})") from err
    if not isinstance(config, dict) or "architecture" not in config:
        raise CheckpointError(
            f"{str(config_file)!r} has no 'architecture' key; write it with ssrzoo.save_pretrained"
        )
    if not isinstance(config["architecture"], str):
        raise CheckpointError(
            f"{str(config_file)!r}: 'architecture' must be a model name such as 'mae_ktsr', "
            f"got {config['architecture']!r}"
        )
    for key in ("pretrained_cfg", "model_args"):
        if not isinstance(config.get(key) or {}, dict):
            raise CheckpointError(
                f"{str(config_file)!r}: {key!r} must be a JSON object, got {config[key]!r}"
            )
    return config, Path(config_file).parent


def hub_file(
    repo_id: str, filename: str, revision: str | None, cache_dir: str | Path | None
) -> Path:
    """:func:`download_from_hub`, with an error that says why the file could not be had."""
    try:
        return download_from_hub(repo_id, filename, revision=revision, cache_dir=cache_dir)
    except _HUB_MISSES as err:
        if _offline():
            hint = (
                "HF_HUB_OFFLINE is set, so only the local cache (HF_HUB_CACHE / HF_HOME) was "
                "searched; unset HF_HUB_OFFLINE to download it"
            )
        else:
            hint = "check the repo id, the revision, the network or the cache"
        raise WeightsNotFoundError(
            f"cannot get {filename} of Hub repo {repo_id!r} ({type(err).__name__}); {hint}"
        ) from err


def save_pretrained(
    model: torch.nn.Module,
    save_directory: str | Path,
    *,
    model_args: Mapping[str, Any] | None = None,
    pretrained_cfg: PretrainedCfg | None = None,
    card_body: str | None = None,
    dtype: torch.dtype | None = None,
) -> Path:
    """Write ``config.json``, ``model.safetensors`` and ``README.md`` to a folder.

    The folder loads back with ``create_model('local-dir:<folder>')`` and is exactly what
    :func:`push_to_hub` uploads. Each file is written atomically.

    Args:
        model: a model built by :func:`ssrzoo.create_model` (its ``pretrained_cfg`` and
            ``model_args`` are used unless given here).
        save_directory: target folder; created if missing.
        model_args: keyword arguments that rebuild the architecture.
        pretrained_cfg: metadata to store; its ``sha256`` is set to the written file's.
        card_body: Markdown for the model card below the front matter; a default one
            is generated from the metadata.
        dtype: store floating-point tensors in this dtype, e.g. ``torch.float16`` to halve
            the file; loading casts them back to the model's own dtype. Check the metrics
            after such a conversion (``benchmarks/leaderboard.py`` compares them to the card).
            Default: the ``storage_dtype`` of the metadata when every tensor is exactly
            representable in it (a loaded, unchanged weight: re-saving writes the same file),
            else the model's dtype, so trained or fine-tuned values are never rounded.

    Returns:
        The folder path.
    """
    folder = Path(save_directory).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    cfg = pretrained_cfg or getattr(model, "pretrained_cfg", None)
    if cfg is None:
        raise ValueError(
            "model has no pretrained_cfg; build it with ssrzoo.create_model or pass pretrained_cfg="
        )
    args = dict(model_args if model_args is not None else getattr(model, "model_args", {}))
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    if dtype is None and cfg.storage_dtype and _fits(state, getattr(torch, cfg.storage_dtype)):
        dtype = getattr(torch, cfg.storage_dtype)
    if dtype is not None:
        state = {k: v.to(dtype) if v.is_floating_point() else v for k, v in state.items()}
    state = untie_tensors(state)
    atomic_write(folder / WEIGHTS_NAME, lambda p: save_file(state, p, metadata={"format": "pt"}))
    cfg = cfg.replace(
        sha256=file_sha256(folder / WEIGHTS_NAME),
        hf_hub_filename=WEIGHTS_NAME,
        file=None,
        bundled=False,
        storage_dtype=str(dtype).removeprefix("torch.") if dtype is not None else None,
    )
    config = {
        "architecture": cfg.architecture,
        "model_args": json_ready(args),
        "pretrained_cfg": cfg.to_dict(),
        "library_name": "ssrzoo",
        "ssrzoo_version": __version__,
    }
    text = json.dumps(config, indent=2, sort_keys=False) + "\n"
    atomic_write(folder / CONFIG_NAME, lambda p: Path(p).write_text(text))
    card = make_model_card(cfg, body=card_body)
    atomic_write(folder / CARD_NAME, lambda p: Path(p).write_text(card))
    return folder


def _fits(state: Mapping[str, torch.Tensor], dtype: torch.dtype) -> bool:
    """Whether every floating tensor survives a round trip through ``dtype`` unchanged."""
    return all(
        torch.equal(v.to(dtype).to(v.dtype), v) for v in state.values() if v.is_floating_point()
    )


def untie_tensors(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """safetensors refuses shared storage; clone tensors that alias another one."""
    seen: set[int] = set()
    out = {}
    for key, tensor in state.items():
        ptr = tensor.untyped_storage().data_ptr() if tensor.numel() else -1
        out[key] = tensor.clone() if ptr in seen else tensor
        if ptr != -1:
            seen.add(ptr)
    return out


_METRIC_NAMES = {
    "mrae": "MRAE",
    "rmse": "RMSE",
    "psnr": "PSNR",
    "sam": "SAM (deg)",
    "ssim": "SSIM",
    "bp_mrae": "Back-projection MRAE",
}


def make_model_card(cfg: PretrainedCfg, body: str | None = None) -> str:
    """A Hub model card: YAML front matter (with ``model-index``) plus a Markdown body."""
    eval_results = [
        EvalResult(
            task_type="image-to-image",
            task_name="Spectral reconstruction from RGB",
            dataset_type=(cfg.datasets[0] if cfg.datasets else "custom"),
            dataset_name=cfg.metrics_dataset or cfg.dataset or "validation",
            metric_type=key,
            metric_name=_METRIC_NAMES.get(key, key),
            metric_value=float(value),
        )
        for key, value in cfg.metrics.items()
    ]
    data = ModelCardData(
        library_name="ssrzoo",
        license=cfg.license or None,
        tags=["ssrzoo", "hyperspectral", "spectral-reconstruction", "pytorch", cfg.architecture],
        datasets=list(cfg.datasets) or None,
        pipeline_tag="image-to-image",
        model_name=cfg.name,
        eval_results=eval_results or None,
    )
    body = body if body is not None else _default_card_body(cfg)
    return f"---\n{data.to_yaml()}\n---\n\n{body.strip()}\n"


def _default_card_body(cfg: PretrainedCfg) -> str:
    wl = cfg.wavelengths
    bands = f"{cfg.num_bands} bands" + (f", {wl[0]:g}–{wl[-1]:g} nm" if wl else "")
    lines = [
        f"# {cfg.name}",
        "",
        f"Spectral reconstruction from RGB with the `{cfg.architecture}` architecture of "
        "[ssrzoo](https://github.com/ssrzoo/ssrzoo).",
        "",
        "| | |",
        "|---|---|",
        f"| Output | {bands}, {cfg.output_units} in {list(cfg.output_range)}"
        + (" (projected onto >= 0 at inference)" if cfg.nonneg_output else "")
        + " |",
        f"| Wavelengths (nm) | {', '.join(f'{w:g}' for w in wl) or 'n/a'} |",
        f"| Input | {cfg.in_chans} channels, {cfg.input_encoding}, range {list(cfg.input_range)} |",
        f"| Camera response | {cfg.response_name or 'not recorded'} |",
        f"| Training data | {cfg.dataset or 'not recorded'} |",
        f"| Recipe | {cfg.recipe or 'n/a'} |",
        f"| Licence | {cfg.license} |",
    ]
    if cfg.input_note:
        lines += ["", f"**Input:** {cfg.input_note}"]
    if cfg.metrics:
        lines += [
            "",
            f"## Metrics ({cfg.metrics_dataset or 'validation'})",
            "",
            "| metric | value |",
            "|---|---|",
        ]
        lines += [f"| {_METRIC_NAMES.get(k, k)} | {v:.4g} |" for k, v in cfg.metrics.items()]
    if cfg.notes:
        lines += ["", "## Notes", "", cfg.notes]
    lines += [
        "",
        "## Usage",
        "",
        "```python",
        "import ssrzoo",
        "",
        f"model = ssrzoo.create_model({json.dumps(cfg.name)}, pretrained=True)",
        "print(model.pretrained_cfg.wavelengths)",
        "```",
    ]
    if cfg.paper:
        lines += ["", "## Citation", "", cfg.paper + (f" doi:{cfg.doi}" if cfg.doi else "")]
    return "\n".join(lines)


def push_to_hub(
    model: torch.nn.Module,
    repo_id: str,
    *,
    token: str | None = None,
    private: bool = False,
    revision: str | None = None,
    commit_message: str = "Upload ssrzoo weights",
    model_args: Mapping[str, Any] | None = None,
    pretrained_cfg: PretrainedCfg | None = None,
) -> str:
    """Save the model with :func:`save_pretrained` and upload the folder to the Hub.

    Returns:
        The URL of the commit.
    """
    cfg = pretrained_cfg or getattr(model, "pretrained_cfg", None)
    if cfg is not None:
        cfg = cfg.replace(hf_hub_id=repo_id)
    api = HfApi(token=token, library_name="ssrzoo", library_version=__version__)
    with tempfile.TemporaryDirectory() as tmp:
        save_pretrained(model, tmp, model_args=model_args, pretrained_cfg=cfg)
        api.create_repo(repo_id, private=private, exist_ok=True)
        info = api.upload_folder(
            repo_id=repo_id,
            folder_path=tmp,
            revision=revision,
            commit_message=commit_message,
        )
    return str(getattr(info, "commit_url", info))
