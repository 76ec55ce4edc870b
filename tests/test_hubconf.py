"""hubconf.py works through torch.hub itself, from the repository root."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import tiny_model  # noqa: F401
import torch
from safetensors.torch import save_file

import ssrzoo
from ssrzoo.models import _hub, _registry, file_sha256, register_pretrained_cfg

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def published_tiny(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Publish tiny_ssr.test with a bundled weight for the duration of a test."""
    torch.manual_seed(0)
    state = ssrzoo.create_model("tiny_ssr").state_dict()
    bundled = tmp_path / "bundled" / "tiny_ssr.test"
    bundled.mkdir(parents=True)
    save_file(state, str(bundled / "model.safetensors"))
    monkeypatch.setattr(_hub, "bundled_weights_dir", lambda: bundled.parent)
    old = ssrzoo.get_pretrained_cfg("tiny_ssr.test")
    register_pretrained_cfg(
        old.replace(sha256=file_sha256(bundled / "model.safetensors")), overwrite=True
    )
    yield state
    register_pretrained_cfg(old, overwrite=True)
    assert _registry._pretrained_cfgs["tiny_ssr.test"] is old


def _hub_list_local() -> tuple[list[str], object]:
    """torch.hub.list/help only take GitHub repos; apply their rule to the local hubconf."""
    spec = importlib.util.spec_from_file_location("hubconf", REPO_ROOT / "hubconf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    names = [n for n in dir(module) if callable(getattr(module, n)) and not n.startswith("_")]
    return names, module


def test_hub_list_help_load(published_tiny, tmp_path: Path) -> None:
    names, module = _hub_list_local()
    assert "tiny_ssr_test" in names  # alias used as the entrypoint name
    assert module.dependencies[:2] == ["torch", "timm"]
    doc = module.tiny_ssr_test.__doc__
    assert "31 bands, 400-700 nm" in doc and "cie1964_10deg" in doc
    model = torch.hub.load(
        str(REPO_ROOT), "tiny_ssr_test", source="local", cache_dir=tmp_path / "empty-cache"
    )
    for key, value in published_tiny.items():
        assert torch.equal(model.state_dict()[key], value)
    untrained = torch.hub.load(str(REPO_ROOT), "tiny_ssr_test", source="local", pretrained=False)
    assert not torch.equal(untrained.state_dict()["head.weight"], published_tiny["head.weight"])


def test_hubconf_lists_every_pretrained_weight(published_tiny) -> None:
    names = set(_hub_list_local()[0])
    aliases = ssrzoo.list_aliases()
    for name in ssrzoo.list_pretrained():
        expected = next((a for a, t in aliases.items() if t == name), name.replace(".", "_"))
        assert expected in names
