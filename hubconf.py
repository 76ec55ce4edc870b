"""torch.hub entrypoints: one per published ssrzoo weight.

    >>> import torch
    >>> torch.hub.list("ssrzoo/ssrzoo")                              # doctest: +SKIP
    >>> model = torch.hub.load("ssrzoo/ssrzoo", "mae_ktsr_ntire")     # doctest: +SKIP
    >>> print(torch.hub.help("ssrzoo/ssrzoo", "mae_ktsr_ntire"))     # doctest: +SKIP

Entrypoints are generated from the registry, so every weight that
``ssrzoo.list_pretrained()`` lists has one, named by its alias (``mae_ktsr_ntire``) or,
without an alias, by its name with ``.`` replaced by ``_``.
"""

dependencies = ["torch", "timm", "huggingface_hub", "safetensors", "numpy", "einops", "ssrzoo"]

import ssrzoo as _ssrzoo  # noqa: E402


def _docstring(name: str) -> str:
    cfg = _ssrzoo.get_pretrained_cfg(name)
    wl = cfg.wavelengths
    grid = f"{cfg.num_bands} bands" + (f", {wl[0]:g}-{wl[-1]:g} nm" if wl else "")
    lines = [
        f"{name}: RGB -> {grid} ({cfg.output_units}).",
        "",
        f"Input: (B, {cfg.in_chans}, H, W) {cfg.input_encoding} in {list(cfg.input_range)}.",
        f"Camera response: {cfg.response_name or 'n/a'}. Training data: {cfg.dataset or 'n/a'}.",
        f"Licence: {cfg.license}. Paper: {cfg.paper or 'n/a'}",
        "",
        "Args:",
        "    pretrained: load the published weights (default True).",
        "    **kwargs: passed to ssrzoo.create_model.",
    ]
    return "\n".join(lines)


def _make_entrypoint(name: str):
    def entrypoint(pretrained: bool = True, **kwargs):
        return _ssrzoo.create_model(name, pretrained=pretrained, **kwargs)

    entrypoint.__doc__ = _docstring(name)
    return entrypoint


def _entrypoint_names() -> dict[str, str]:
    by_target = {}
    for alias, target in _ssrzoo.list_aliases().items():
        by_target.setdefault(target, alias)
    return {by_target.get(name, name.replace(".", "_")): name for name in _ssrzoo.list_pretrained()}


for _entry, _name in _entrypoint_names().items():
    globals()[_entry] = _make_entrypoint(_name)
    globals()[_entry].__name__ = _entry
