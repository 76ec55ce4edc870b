"""The Reconstructor's options have one source: signatures and CLI flags agree with it."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from ssrzoo._options import ReconstructorOptions, option_values
from ssrzoo.cli import _EVAL_OPTIONS, _build_parser, _reconstructor_options
from ssrzoo.inference import Reconstructor, predict

FIELDS = {f.name: f for f in dataclasses.fields(ReconstructorOptions)}


def _option_parameters(fn: object) -> dict[str, inspect.Parameter]:
    params = inspect.signature(fn).parameters  # type: ignore[arg-type]
    return {name: p for name, p in params.items() if name in FIELDS}


@pytest.mark.parametrize(
    ("fn", "missing"),
    [(Reconstructor.__init__, set()), (predict, {"checkpoint_path"})],
    ids=["Reconstructor", "predict"],
)
def test_signatures_match_the_options(fn: object, missing: set[str]) -> None:
    params = _option_parameters(fn)
    assert set(FIELDS) - set(params) == missing
    for name, param in params.items():
        field = FIELDS[name]
        assert param.kind is inspect.Parameter.KEYWORD_ONLY, name
        assert param.default == field.default, name
        assert param.annotation == field.type, name


def test_option_values_forward_only_options() -> None:
    assert option_values({"self": 1, "model": "m", "tile": 64, "out": None}) == {"tile": 64}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tile": -1}, "tile=-1 must be >= 0"),
        ({"tile_batch": 0}, "tile_batch=0 must be >= 1"),
        ({"source_encoding": "rec709"}, "source_encoding 'rec709'"),
        ({"alpha": "keep"}, "alpha='keep' is not supported"),
    ],
)
def test_options_check_their_values(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ReconstructorOptions(**kwargs)  # type: ignore[arg-type]


def test_cli_defaults_give_the_option_defaults() -> None:
    parser = _build_parser()
    args = parser.parse_args(["predict", "photo.png", "-m", "m", "-o", "out"])
    options = _reconstructor_options(args)
    assert set(options) == set(ReconstructorOptions.cli_flags())
    assert options == {name: FIELDS[name].default for name in options}
    args = parser.parse_args(["eval", "-m", "m", "--dataset", "cave", "--root", "data"])
    assert _reconstructor_options(args, _EVAL_OPTIONS) == {
        name: FIELDS[name].default for name in _EVAL_OPTIONS
    }


def test_cli_flags_convert_to_options() -> None:
    argv = ["predict", "photo.png", "-m", "m", "-o", "out", "--memory-limit", "1.5"]
    argv += ["--camera-correction", "off", "--input-encoding", "linear", "--checkpoint", "w.pt"]
    argv += ["--tile", "256", "--rgb-consistent"]
    options = _reconstructor_options(_build_parser().parse_args(argv))
    assert options["memory_limit"] == int(1.5 * 2**30)
    assert options["camera_correction"] is False
    assert options["source_encoding"] == "linear"
    assert options["checkpoint_path"] == "w.pt"
    assert options["tile"] == 256
    assert options["rgb_consistent"] is True
    ReconstructorOptions(**options)
