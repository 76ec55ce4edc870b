"""Registry semantics: names, tags, aliases, wildcards, errors."""

from __future__ import annotations

import subprocess
import sys

import pytest
import tiny_model  # noqa: F401  (registers tiny_ssr)

import ssrzoo
from ssrzoo.models import get_pretrained_cfg, register_pretrained_cfg, resolve_model_name


def test_list_models_wildcards_and_excludes() -> None:
    assert "tiny_ssr" in ssrzoo.list_models()
    assert ssrzoo.list_models("tiny_*") == ["tiny_ssr"]
    assert ssrzoo.list_models(["nope*", "tiny*"]) == ["tiny_ssr"]
    assert "tiny_ssr" not in ssrzoo.list_models("*", exclude_filters="tiny*")
    assert ssrzoo.list_models("zzz*") == []
    assert ssrzoo.list_models() == sorted(ssrzoo.list_models())


def test_tags_and_aliases_resolve() -> None:
    assert resolve_model_name("tiny_ssr") == ("tiny_ssr", "")
    assert resolve_model_name("tiny_ssr.wide") == ("tiny_ssr", "wide")
    assert resolve_model_name("tiny_ssr_test") == ("tiny_ssr", "test")
    assert ssrzoo.list_aliases()["tiny_ssr_test"] == "tiny_ssr.test"
    # the first tag is the default
    assert get_pretrained_cfg("tiny_ssr").tag == "test"
    assert get_pretrained_cfg("tiny_ssr_test").name == "tiny_ssr.test"


def test_is_model() -> None:
    assert ssrzoo.is_model("tiny_ssr")
    assert ssrzoo.is_model("tiny_ssr.wide")
    assert ssrzoo.is_model("tiny_ssr_test")
    assert not ssrzoo.is_model("tiny_ssr.nope")
    assert not ssrzoo.is_model("nope")


def test_unknown_model_suggests_close_names() -> None:
    with pytest.raises(ssrzoo.UnknownModelError) as info:
        ssrzoo.create_model("tiny_sr")
    message = str(info.value)
    assert "'tiny_sr'" in message and "did you mean" in message and "'tiny_ssr'" in message
    assert "list_models" in message
    assert "\n" not in message
    # subclass of ValueError so generic handlers catch it
    assert isinstance(info.value, ValueError)


def test_unknown_tag_lists_known_tags() -> None:
    with pytest.raises(ssrzoo.UnknownModelError, match=r"tiny_ssr\.wide"):
        ssrzoo.create_model("tiny_ssr.nope")


def test_pretrained_listing_needs_published_weights() -> None:
    cfg = get_pretrained_cfg("tiny_ssr.wide")
    assert not cfg.has_weights
    assert "tiny_ssr.wide" not in ssrzoo.list_pretrained()
    register_pretrained_cfg(cfg.replace(tag="pub", sha256="0" * 64))
    try:
        assert "tiny_ssr.pub" in ssrzoo.list_pretrained()
        assert "tiny_ssr.pub" in ssrzoo.list_models("tiny*", pretrained=True)
        assert "tiny_ssr.pub" not in ssrzoo.list_pretrained(exclude_filters="*.pub")
        with pytest.raises(ValueError, match="overwrite=True"):
            register_pretrained_cfg(cfg.replace(tag="pub"))
    finally:
        from ssrzoo.models import _registry

        entry = _registry._model_default_cfgs["tiny_ssr"]
        entry.tags.remove("pub")
        del entry.cfgs["pub"]
        del _registry._pretrained_cfgs["tiny_ssr.pub"]


def test_create_model_attaches_cfg_and_args() -> None:
    model = ssrzoo.create_model("tiny_ssr_test", width=4)
    cfg = model.pretrained_cfg
    assert cfg.name == "tiny_ssr.test"
    assert cfg.wavelengths[0] == 400.0 and cfg.wavelengths[-1] == 700.0
    assert model.model_args == {"width": 4, "in_chans": 3, "num_bands": 31}


def test_changing_bands_drops_the_weight_metadata() -> None:
    model = ssrzoo.create_model("tiny_ssr", num_bands=5)
    assert model.pretrained_cfg.num_bands == 5
    assert model.pretrained_cfg.wavelengths == ()
    assert model.pretrained_cfg.sha256 is None


def test_overlay_rejects_unknown_fields() -> None:
    with pytest.raises(TypeError, match="nope"):
        ssrzoo.create_model("tiny_ssr", pretrained_cfg_overlay={"nope": 1})


def test_pretrained_cfg_validates() -> None:
    with pytest.raises(ValueError, match="wavelengths"):
        ssrzoo.PretrainedCfg(num_bands=3, wavelengths=(400, 500))
    with pytest.raises(ValueError, match="increase"):
        ssrzoo.PretrainedCfg(num_bands=3, wavelengths=(400, 500, 450))
    with pytest.raises(ValueError, match="response"):
        ssrzoo.PretrainedCfg(num_bands=2, wavelengths=(400, 500), response=((1, 2),))
    cfg = ssrzoo.PretrainedCfg(num_bands=2, wavelengths=(400, 500), response=((1, 0),) * 3)
    again = ssrzoo.PretrainedCfg.from_dict({**cfg.to_dict(), "from_the_future": 1})
    assert again == cfg


def test_design_card_names_are_registered() -> None:
    """The names the product promises must resolve once their families land."""
    registered = [
        n
        for n in ("mae_ktsr_ntire", "mae_ktsr_cave", "mae_ktsr_harvard", "mae_ktsr_pavia")
        if ssrzoo.is_model(n)
    ]
    if not ssrzoo.is_model("mae_ktsr"):
        pytest.skip("mae_ktsr family not registered")
    assert len(registered) == 4


def test_bundled_cards_are_read_on_first_use_only() -> None:
    # Registering reads no weight folder; a bundled weight's config.json card is merged into
    # its cfg the first time the cfg is asked for (docs/design/registry.md).
    code = (
        "import ssrzoo.models._registry as r, ssrzoo.models\n"
        "before = len(r._carded)\n"
        "raw = r._pretrained_cfgs['mae_ktsr.cave']\n"
        "cfg = ssrzoo.models.get_pretrained_cfg('mae_ktsr_cave')\n"
        "print(before, sorted(r._carded), bool(raw.metrics), bool(cfg.metrics))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["0", "['mae_ktsr.cave']", "False", "True"]


def test_a_restored_registry_gets_its_cards_again() -> None:
    # Tests and users may put raw cfgs back into the registry (test_docs does): the card is
    # tied to the cfg object it was read for, so the restored cfg gets it again.
    from ssrzoo.models import _registry

    entry = _registry._model_default_cfgs["mae_ktsr"]
    raw = entry.cfgs["cave"]
    assert get_pretrained_cfg("mae_ktsr.cave").metrics
    entry.cfgs["cave"] = raw.replace()  # an equal cfg, but another object, without the card
    try:
        assert not entry.cfgs["cave"].metrics
        assert get_pretrained_cfg("mae_ktsr.cave").metrics["mrae"] > 0
    finally:
        entry.cfgs["cave"] = raw
