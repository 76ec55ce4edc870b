"""The metadata that travels with every ssrzoo weight.

timm's ``PretrainedCfg`` describes classification weights (mean/std, crop, classes). A
spectral weight needs different facts to be used correctly: which wavelengths the output
bands are, which camera response made the training RGB, what input range it expects and
what the output values mean. :class:`PretrainedCfg` holds those, and it is what
``model.pretrained_cfg`` returns and what ``config.json`` on the Hub stores.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["DefaultCfg", "PretrainedCfg", "generate_default_cfgs"]


@dataclass
class PretrainedCfg:
    """Everything a user needs to feed a weight and read its output.

    Attributes:
        architecture: registered architecture name, e.g. ``"mae_ktsr"``.
        tag: weight tag, e.g. ``"ntire2020"``; ``architecture.tag`` is the full name.
        hf_hub_id: Hugging Face Hub repo id holding ``config.json`` + ``model.safetensors``.
        hf_hub_revision: pinned Hub revision (commit sha or tag). ``None`` means ``main``.
        hf_hub_filename: weight file name inside the repo.
        sha256: hex sha256 of the weight file; every registry file is checked against it.
        file: an explicit local weight file; overrides the Hub and the bundled copy.
        in_chans: input channels (3 for RGB).
        num_bands: output bands.
        wavelengths: centre wavelength of each output band, in nm, increasing.
        fwhm: full width at half maximum of each band in nm, if known.
        response_name: name of the camera response the training RGB was simulated with.
        response: that response sampled at ``wavelengths``: ``in_chans`` rows of
            ``num_bands`` numbers, so ``rgb = response @ spectrum`` renders output back
            to the input space.
        input_range: ``(low, high)`` of the expected input values.
        input_encoding: ``"srgb"`` (gamma-encoded) or ``"linear"``.
        input_note: free text on how the input RGB must be prepared.
        output_units: what the output values mean, e.g. ``"reflectance"``.
        output_range: nominal ``(low, high)`` of the output values.
        nonneg_output: the model projects its output onto ``>= 0`` in eval mode
            (``clamp_min(0)``, :class:`~ssrzoo.models.NonNegativeOutput`), so
            inference, metrics and exports never see negative radiance; train mode is raw.
        dataset: training data, in words.
        datasets: dataset identifiers for the model card's ``datasets`` field.
        license: licence of the weight (SPDX id).
        paper: citation of the method.
        doi: DOI of the paper.
        recipe: name of the training recipe under ``recipes/``.
        metrics: reported metrics, name -> value (e.g. ``{"mrae": 0.05}``).
        metrics_dataset: what the metrics were measured on.
        notes: anything else a user must know.
        storage_dtype: dtype of the floating-point tensors in the weight file (e.g.
            ``"float16"``); ``None`` means the model's own. Loading casts to the model's
            dtype; :func:`~ssrzoo.save_pretrained` writes this dtype again, so a re-saved or
            re-uploaded weight keeps its sha256.
        bundled: whether a copy of the weight ships inside the package.
    """

    architecture: str = ""
    tag: str = ""
    hf_hub_id: str | None = None
    hf_hub_revision: str | None = None
    hf_hub_filename: str = "model.safetensors"
    sha256: str | None = None
    file: str | None = None
    in_chans: int = 3
    num_bands: int = 31
    wavelengths: tuple[float, ...] = ()
    fwhm: tuple[float, ...] | None = None
    response_name: str | None = None
    response: tuple[tuple[float, ...], ...] | None = None
    input_range: tuple[float, float] = (0.0, 1.0)
    input_encoding: str = "srgb"
    input_note: str = ""
    output_units: str = "reflectance"
    output_range: tuple[float, float] = (0.0, 1.0)
    nonneg_output: bool = False
    dataset: str = ""
    datasets: tuple[str, ...] = ()
    license: str = "apache-2.0"
    paper: str = ""
    doi: str | None = None
    recipe: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    metrics_dataset: str = ""
    notes: str = ""
    storage_dtype: str | None = None
    bundled: bool = False

    def __post_init__(self) -> None:
        self.wavelengths = tuple(float(w) for w in self.wavelengths)
        if self.fwhm is not None:
            self.fwhm = tuple(float(w) for w in self.fwhm)
        if self.response is not None:
            self.response = tuple(tuple(float(v) for v in row) for row in self.response)
        self.input_range = (float(self.input_range[0]), float(self.input_range[1]))
        self.output_range = (float(self.output_range[0]), float(self.output_range[1]))
        self.datasets = tuple(self.datasets)
        if self.wavelengths and len(self.wavelengths) != self.num_bands:
            raise ValueError(
                f"pretrained cfg {self.name!r}: {len(self.wavelengths)} wavelengths for "
                f"num_bands={self.num_bands}; give one centre wavelength per output band"
            )
        if any(b <= a for a, b in zip(self.wavelengths, self.wavelengths[1:], strict=False)):
            raise ValueError(f"pretrained cfg {self.name!r}: wavelengths must increase")
        if self.response is not None and (
            len(self.response) != self.in_chans
            or any(len(row) != self.num_bands for row in self.response)
        ):
            raise ValueError(
                f"pretrained cfg {self.name!r}: response must be {self.in_chans} rows of "
                f"{self.num_bands} values (one per output band)"
            )

    @property
    def name(self) -> str:
        """The full ``architecture.tag`` name."""
        return f"{self.architecture}.{self.tag}" if self.tag else self.architecture

    @property
    def has_weights(self) -> bool:
        """True when a weight file is published for this config (its sha256 is pinned)."""
        return bool(self.sha256) or bool(self.file)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (tuples become lists)."""
        data: dict[str, Any] = json_ready(dataclasses.asdict(self))
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PretrainedCfg:
        """Build from a dict, such as the ``pretrained_cfg`` of a ``config.json``.

        Keys this version does not know are dropped, so newer configs still load.
        """
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def to_fields(self, names: Iterable[str]) -> dict[str, Any]:
        """The values of some fields, as typed attributes (tuples, not JSON lists)."""
        return {name: getattr(self, name) for name in names}

    def replace(self, **overlay: Any) -> PretrainedCfg:
        """A copy with some fields changed; unknown field names raise ``TypeError``."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(overlay) - known)
        if unknown:
            raise TypeError(
                f"unknown pretrained cfg field(s) {unknown}; known fields: {sorted(known)}"
            )
        return dataclasses.replace(self, **overlay)


def json_ready(obj: Any) -> Any:
    """Turn tuples into lists recursively so ``json.dumps`` gives a stable layout."""
    if isinstance(obj, Mapping):
        return {str(k): json_ready(v) for k, v in obj.items()}
    if isinstance(obj, Sequence) and not isinstance(obj, str):
        return [json_ready(v) for v in obj]
    return obj


@dataclass
class DefaultCfg:
    """The weight tags of one architecture, the first being its default."""

    tags: list[str] = field(default_factory=list)
    cfgs: dict[str, PretrainedCfg] = field(default_factory=dict)

    @property
    def default(self) -> PretrainedCfg:
        return self.cfgs[self.tags[0]]


def generate_default_cfgs(
    cfgs: Mapping[str, PretrainedCfg | Mapping[str, Any]],
) -> dict[str, DefaultCfg]:
    """Group ``{'arch.tag': cfg}`` entries by architecture, as timm's function of that name.

    The first tag listed for an architecture is its default weight.
    """
    out: dict[str, DefaultCfg] = {}
    for full_name, cfg in cfgs.items():
        arch, _, tag = full_name.partition(".")
        if not isinstance(cfg, PretrainedCfg):
            cfg = PretrainedCfg(**cfg)
        cfg = cfg.replace(architecture=arch, tag=tag)
        entry = out.setdefault(arch, DefaultCfg())
        if tag in entry.cfgs:
            raise ValueError(f"duplicate pretrained tag {full_name!r}")
        entry.tags.append(tag)
        entry.cfgs[tag] = cfg
    return out
