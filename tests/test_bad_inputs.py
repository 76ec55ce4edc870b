"""Hardening replays: what a user gives ssrzoo never destroys files, runs code, or crashes it.

Each test replays one report of issue #16 (and #15 item 4, lazy imports) on tiny inputs.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import tiny_model
import torch
from PIL import Image

import ssrzoo
from ssrzoo import CheckpointError, WeightsNotFoundError
from ssrzoo._catalog import build_catalog, load_catalog
from ssrzoo.cli import main
from ssrzoo.inference import Reconstructor
from ssrzoo.io import read_array, read_wavelength_sidecar

PHOTO = np.random.default_rng(3).integers(0, 256, size=(24, 32, 3), dtype=np.uint8)


def photo(path: Path, array: np.ndarray = PHOTO) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return path


def run_python(code: str, *args: str, **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        **kwargs,
    )


# -- outputs never replace inputs or existing files ------------------------------------------


def test_a_preview_never_overwrites_an_input(model_dir: str, tmp_path: Path, capsys) -> None:
    folder = tmp_path / "collide"
    photo(folder / "photo.png")
    photo(folder / "photo_rgb.png", PHOTO[::-1])
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    code = main(["predict", str(folder), "-m", model_dir, "-o", str(folder), "--preview"])
    assert code == 1
    err = capsys.readouterr().err
    assert str(folder / "photo.png") in err and str(folder / "photo_rgb.png") in err
    assert "overwrite the input" in err
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before  # nothing written


def test_plot_never_overwrites_the_photo_it_shows(model_dir: str, tmp_path: Path, capsys):
    out = tmp_path / "out"
    assert main(["predict", str(photo(tmp_path / "x.png")), "-m", model_dir, "-o", str(out)]) == 0
    shown = photo(out / "x_rgb.png")
    before = shown.read_bytes()
    assert main(["plot", str(out / "x.npz"), "--rgb", str(shown)]) == 1
    assert "overwrite the input" in capsys.readouterr().err
    assert shown.read_bytes() == before


def test_existing_outputs_are_refused_replaced_or_kept(
    model_dir: str, tmp_path: Path, capsys, monkeypatch
) -> None:
    image, out = photo(tmp_path / "a.png"), tmp_path / "out"
    args = ["predict", str(image), "-m", model_dir, "-o", str(out)]
    assert main(args) == 0
    capsys.readouterr()
    (out / "a.npz").write_bytes(b"the user's own file")
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "a.npz" in err and "already exists" in err and "--overwrite" in err
    assert (out / "a.npz").read_bytes() == b"the user's own file"

    assert main([*args, "--no-clobber", "--preview"]) == 0  # only the missing previews
    captured = capsys.readouterr()
    assert f"keeping existing {out / 'a.npz'}" in captured.err
    assert captured.out.split() == [str(out / f"a_{s}.png") for s in ("bands", "rgb", "spectra")]
    assert (out / "a.npz").read_bytes() == b"the user's own file"

    def no_work(*args, **kwargs):
        raise AssertionError("everything exists: nothing to reconstruct")

    monkeypatch.setattr(Reconstructor, "reconstruct", no_work)
    assert main([*args, "--no-clobber", "--preview"]) == 0
    assert capsys.readouterr().out == ""
    monkeypatch.undo()

    assert main([*args, "--overwrite"]) == 0
    assert f"replacing {out / 'a.npz'}" in capsys.readouterr().err
    assert ssrzoo.inference.load_cube(out / "a.npz").num_bands == 31
    with pytest.raises(SystemExit):
        main([*args, "--overwrite", "--no-clobber"])


@pytest.mark.parametrize("kind", ["under-a-file", "read-only"])
def test_an_unwritable_output_folder_fails_before_the_work(
    model_dir: str, tmp_path: Path, capsys, monkeypatch, kind: str
) -> None:
    if kind == "under-a-file":
        (tmp_path / "file").write_text("")
        out = tmp_path / "file" / "out"
    else:
        if os.geteuid() == 0:
            pytest.skip("root writes into read-only folders")
        out = tmp_path / "locked"
        out.mkdir(mode=0o500)

    def no_work(*args, **kwargs):
        raise AssertionError("reconstructed although the result cannot be written")

    monkeypatch.setattr(Reconstructor, "reconstruct", no_work)
    args = ["predict", str(photo(tmp_path / "a.png")), "-m", model_dir, "-o", str(out)]
    assert main(args) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"ssrzoo: error: cannot write to {out}") and ".tmp" not in err


# -- memory --------------------------------------------------------------------------------


def test_a_whole_image_tile_that_cannot_fit_fails_that_image_only(
    model_dir: str, tmp_path: Path, capsys
) -> None:
    big = photo(tmp_path / "big.png", np.resize(PHOTO, (256, 256, 3)))
    small = photo(tmp_path / "small.png")
    out = tmp_path / "out"
    args = ["predict", str(big), str(small), "-m", model_dir, "-o", str(out), "--tile", "0"]
    # 32 MiB: enough for the 256x256 cube and small tiles, not for the whole image at once.
    assert main([*args, "--memory-limit", "0.03125"]) == 1
    err = capsys.readouterr().err
    assert f"{big}: running" in err and "whole 256x256 image" in err and "--tile" in err
    assert sorted(p.name for p in out.iterdir()) == ["small.npz"]
    assert main([*args[:-2], "--memory-limit", "0.03125", "--overwrite"]) == 0  # automatic


# -- weight files and model folders -----------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "said"),
    [
        ("passwd", b"root:x:0:0:root:/root:/bin/bash\n", "is a text file"),
        ("notes.png", b"not an image at all\n" * 10, "is a text file"),
        ("real.png", None, "is a PNG image"),
        ("arrays.npz", "npz", "zip archive without torch tensors"),
        ("empty.pth", b"", "is an empty file"),
    ],
)
def test_a_checkpoint_of_the_wrong_kind_says_what_it_is(
    tmp_path: Path, capsys, name: str, content: bytes | str | None, said: str
) -> None:
    path = tmp_path / name
    if content is None:
        photo(path)
    elif content == "npz":
        np.savez(path, cube=np.zeros(3))
    else:
        path.write_bytes(content)
    image = photo(tmp_path / "a.png")
    args = ["predict", str(image), "-m", "tiny_ssr_test", "-o", str(tmp_path / "out")]
    assert main([*args, "--checkpoint", str(path)]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and said in err and "expected a .safetensors file" in err
    assert "pickled" not in err


def test_a_pickled_object_is_still_called_one(tmp_path: Path) -> None:
    path = tmp_path / "obj.pth"
    torch.save({"weight": logging.getLogger("x")}, path)
    with pytest.raises(CheckpointError, match="pickled Python objects"):
        ssrzoo.models.load_state_dict(path)


def export(tmp_path: Path, config: object) -> str:
    folder = tmp_path / "model"
    folder.mkdir(exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config))
    return f"local-dir:{folder}"


@pytest.mark.parametrize(
    "config",
    [
        {"architecture": 5},
        {"architecture": "tiny_ssr", "pretrained_cfg": "garbage"},
        {"architecture": "tiny_ssr", "model_args": [1, 2]},
        {"architecture": "tiny_ssr", "pretrained_cfg": {"input_range": "ab"}},
    ],
)
def test_a_garbage_config_is_a_clear_error(tmp_path: Path, capsys, config: dict) -> None:
    name = export(tmp_path, config)
    with pytest.raises(CheckpointError, match=r"config\.json"):
        ssrzoo.create_model(name)
    assert main(["info", name, "--no-flops"]) == 1
    assert "\n" not in capsys.readouterr().err.strip()


@pytest.mark.parametrize("where", ["../outside.safetensors", "/abs/outside.safetensors"])
def test_a_config_cannot_point_outside_its_folder(tmp_path: Path, where: str) -> None:
    model = ssrzoo.create_model("tiny_ssr_test")
    ssrzoo.save_pretrained(model, tmp_path / "real")
    target = tmp_path / "outside.safetensors"
    target.write_bytes((tmp_path / "real" / "model.safetensors").read_bytes())
    config = json.loads((tmp_path / "real" / "config.json").read_text())
    config["pretrained_cfg"]["hf_hub_filename"] = str(target) if where[0] == "/" else where
    config["pretrained_cfg"]["sha256"] = None
    with pytest.raises(CheckpointError, match="not inside the model's folder"):
        ssrzoo.create_model(export(tmp_path, config))


def test_an_offline_hub_miss_names_hf_hub_offline(tmp_path: Path) -> None:
    with pytest.raises(WeightsNotFoundError, match="HF_HUB_OFFLINE"):
        ssrzoo.create_model("hf-hub:nobody/nothing", cache_dir=tmp_path)


def test_nan_weights_warn_and_their_cubes_are_not_written(
    tmp_path: Path, capsys, caplog: pytest.LogCaptureFixture
) -> None:
    model = ssrzoo.create_model("tiny_ssr_test")
    with torch.no_grad():
        model.head.bias.fill_(float("nan"))
    ssrzoo.save_pretrained(model, tmp_path / "nan")
    args = ["predict", str(photo(tmp_path / "a.png")), "-m", f"local-dir:{tmp_path / 'nan'}"]
    args += ["-o", str(tmp_path / "out")]
    with caplog.at_level(logging.WARNING):
        assert main(args) == 1
    assert "NaN/inf values in 1 tensors (head.bias)" in caplog.text
    assert "--allow-nan" in capsys.readouterr().err
    assert not (tmp_path / "out" / "a.npz").exists()
    assert main([*args, "--allow-nan"]) == 0
    assert np.isnan(ssrzoo.inference.load_cube(tmp_path / "out" / "a.npz").cube).all()


def test_bad_model_names_and_arguments_are_named() -> None:
    with pytest.raises(TypeError, match="model_name must be a str"):
        ssrzoo.create_model(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="'tiny_ssr' has no argument 'depth'; it takes"):
        ssrzoo.create_model("tiny_ssr", depth=3)
    with pytest.raises(ValueError, match="num_bands must be a positive integer, got 0"):
        ssrzoo.create_model("tiny_ssr", num_bands=0)
    with pytest.raises(ValueError, match="cannot build 'tiny_ssr' with width=-1"):
        ssrzoo.create_model("tiny_ssr", width=-1)


# -- cube files ----------------------------------------------------------------------------


def test_a_random_npy_is_not_a_valid_array(tmp_path: Path, capsys) -> None:
    (tmp_path / "x.npy").write_bytes(np.random.default_rng(0).bytes(300))
    (tmp_path / "x.json").write_text(json.dumps({"wavelengths_nm": [400, 500, 600]}))
    assert main(["plot", str(tmp_path / "x.npy")]) == 1
    err = capsys.readouterr().err
    assert "is not a valid .npy file" in err and "allow_pickle" not in err


def test_a_sidecar_without_wavelengths_says_so(tmp_path: Path, capsys) -> None:
    np.save(tmp_path / "x.npy", np.zeros((3, 4, 4), np.float32))
    (tmp_path / "x.json").write_text(json.dumps({"fwhm_nm": [10, 10, 10]}))
    assert main(["plot", str(tmp_path / "x.npy")]) == 1
    err = capsys.readouterr().err
    assert "no 'wavelengths_nm' key" in err and "nan" not in err


@pytest.mark.parametrize("suffix", [".npy", ".npz"])
def test_a_dataset_array_of_random_bytes_is_not_a_valid_array(tmp_path: Path, suffix: str):
    path = tmp_path / f"scene{suffix}"
    path.write_bytes(np.random.default_rng(0).bytes(300))
    with pytest.raises(ValueError, match=rf"is not a valid \{suffix} file") as err:
        read_array(path)
    assert "allow_pickle" not in str(err.value) and "scene" in str(err.value)


@pytest.mark.parametrize("content", [{"fwhm_nm": [10, 10, 10]}, [400, 500, 600], None])
def test_a_dataset_sidecar_without_wavelengths_says_the_key_is_missing(
    tmp_path: Path, content: object
) -> None:
    (tmp_path / "bands.json").write_text(json.dumps(content))
    with pytest.raises(ValueError, match=r"bands\.json has no 'wavelengths_nm' key") as err:
        read_wavelength_sidecar(tmp_path / "bands.json")
    assert "nan" not in str(err.value)


# -- model inputs (one contract for the whole registry) -------------------------------------

ZOO = [
    n
    for n in ssrzoo.list_models()
    if ssrzoo.models.get_model_entrypoint(n).__module__.startswith("ssrzoo.")
]


@pytest.mark.parametrize("name", ZOO)
def test_every_model_checks_its_input_the_same_way(name: str, monkeypatch) -> None:
    if name.startswith("colour_"):
        pytest.importorskip("colour")
    if name == "colour_jakob2019":  # its lookup table takes minutes; the contract is forward's
        from ssrzoo.models.colour_recovery import Jakob2019Recovery

        monkeypatch.setattr(
            Jakob2019Recovery, "coefficients", lambda self, srgb: np.zeros((len(srgb), 3))
        )
    torch.manual_seed(0)
    model = ssrzoo.create_model(name).eval()
    bands = model.pretrained_cfg.num_bands
    x = torch.rand(1, 3, 16, 16)
    bad = x.clone()
    bad[0, 1, 2, 3] = float("nan")
    bad[0, 0, 0, :2] = float("inf")
    for given, detail in (
        (bad, "got 3 NaN or inf values"),
        (x[:, :, :0], "got empty shape (1, 3, 0, 16)"),
        (x[:0], "got empty shape (0, 3, 16, 16)"),
        (x[0], "add a batch dimension"),
    ):
        with pytest.raises(ValueError, match=r"expected \(B, 3, H, W\) float RGB input") as err:
            model(given)
        assert detail in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(TypeError, match="uint8"):
        model((x * 255).to(torch.uint8))
    # Other float dtypes are converted to the parameters' dtype (a model without parameters
    # computes in float64 and keeps the input's dtype).
    dtype = next((p.dtype for p in model.parameters()), None)
    with torch.no_grad():
        outputs = {given.dtype: model(given) for given in (x, x.double(), x.half(), x.bfloat16())}
    for given_dtype, out in outputs.items():
        assert out.dtype == (dtype or given_dtype) and out.shape == (1, bands, 16, 16)
    torch.testing.assert_close(outputs[torch.float64].float(), outputs[torch.float32])


# -- messages ------------------------------------------------------------------------------


def test_the_cli_suggests_cli_commands(capsys) -> None:
    assert main(["info", "tiny_sr", "--no-flops"]) == 1
    err = capsys.readouterr().err
    assert "`ssrzoo list '*tiny*'`" in err and "list_models" not in err
    with pytest.raises(ssrzoo.UnknownModelError, match=r"ssrzoo\.list_models\('\*tiny\*'\)"):
        ssrzoo.create_model("tiny_sr")


def test_a_missing_dataset_error_is_printed_whole(model_dir: str, tmp_path: Path, capsys):
    args = ["eval", "-m", model_dir, "--dataset", "cave", "--root", str(tmp_path)]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "lay it out as:" in err
    assert len(err.split("lay it out as:")[1].strip().splitlines()) >= 2  # the tree


# -- signals -------------------------------------------------------------------------------

INTERRUPT_AT_TORCH = """
import runpy, sys

class InterruptAtTorch:
    def find_spec(self, name, path=None, target=None):
        if name == "torch":
            raise KeyboardInterrupt
        return None

sys.meta_path.insert(0, InterruptAtTorch())
sys.argv = ["ssrzoo", "info", "linear_regression_ntire", "--no-flops"]
runpy.run_module("ssrzoo", run_name="__main__", alter_sys=True)
"""


def test_ctrl_c_during_startup_prints_one_line() -> None:
    run = run_python(INTERRUPT_AT_TORCH)
    assert run.returncode == 130
    assert run.stderr.strip() == "ssrzoo: interrupted"


SLOW_WRITE = """
import sys, time
from pathlib import Path
from ssrzoo._atomic import atomic_write

def write(temp):
    Path(temp).write_bytes(b"half a cube")
    print("writing", flush=True)
    time.sleep(60)

atomic_write(Path(sys.argv[1]) / "cube.npz", write)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_sigterm_during_a_write_leaves_no_temporary_file(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", SLOW_WRITE, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None and process.stdout.readline() == "writing\n"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 143
    finally:
        process.kill()
    assert list(tmp_path.iterdir()) == []


def test_sigterm_in_a_command_exits_143_with_one_line(monkeypatch, capsys) -> None:
    def command(args) -> int:
        handler = signal.getsignal(signal.SIGTERM)
        assert callable(handler), "SIGTERM would kill the process without cleanup"
        handler(signal.SIGTERM, None)
        return 0

    monkeypatch.setattr("ssrzoo.cli._cmd_list", command)
    assert main(["list"]) == 143
    assert capsys.readouterr().err == "ssrzoo: terminated\n"
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


# -- lazy imports (issue #15 item 4) --------------------------------------------------------

IMPORTS_OF = """
import runpy, sys
sys.argv = ["ssrzoo", *sys.argv[1:]]
try:
    runpy.run_module("ssrzoo", run_name="__main__", alter_sys=True)
except SystemExit as exit:
    code = exit.code
print(f"torch imported: {'torch' in sys.modules}", file=sys.stderr)
"""


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["--version"],
        ["predict", "--help"],
        ["predict", "photo.png"],  # usage error: no -m, no -o
        ["list"],
        ["list", "--pretrained", "*ktsr*"],
        ["list", "--json"],
    ],
)
def test_help_list_and_usage_errors_do_not_import_torch(argv: list[str]) -> None:
    if argv[0] == "list" and load_catalog() is None:
        pytest.skip("ssrzoo/_catalog.json is stale; see test_the_catalog_is_fresh")
    run = run_python(IMPORTS_OF, *argv)
    assert run.stderr.strip().splitlines()[-1] == "torch imported: False", run.stderr
    if argv[0] == "list":
        assert run.stdout.strip()


def test_building_every_model_and_predicting_do_not_import_timm_or_dynamo() -> None:
    # timm imports torchvision (0.2 GB of resident memory) and torch._dynamo comes with
    # sympy (0.16 GB): memory that a 12 MP predict cannot spare (issue #15 item 5).
    code = """
import sys
import numpy as np
import ssrzoo
for name in ssrzoo.list_models():
    ssrzoo.create_model(name)
ssrzoo.predict("mae_ktsr.ntire2020", np.zeros((16, 16, 3), np.uint8))
print(sorted(m for m in ("timm", "torchvision", "torch._dynamo") if m in sys.modules))
"""
    run = run_python(code)
    assert run.stdout.strip().splitlines()[-1] == "[]", run.stderr


def test_the_catalog_is_fresh() -> None:
    catalog = load_catalog()
    assert catalog is not None, (
        "ssrzoo/_catalog.json does not match ssrzoo/models or the bundled weights; "
        "run `python -m ssrzoo._catalog`"
    )
    live = build_catalog()
    test_only = set(ssrzoo.list_models("tiny*"))
    assert tiny_model.TinySSR and test_only  # registered by the test suite, not by ssrzoo
    live["architectures"] = [a for a in live["architectures"] if a not in test_only]
    live["weights"] = {
        n: w for n, w in live["weights"].items() if n.partition(".")[0] not in test_only
    }
    live["aliases"] = {
        a: t for a, t in live["aliases"].items() if t.partition(".")[0] not in test_only
    }
    assert json.loads(json.dumps(live)) == catalog


# -- training ------------------------------------------------------------------------------


def _recipe(tmp_path: Path, cfg: dict, name: str = "recipe.yaml") -> Path:
    import yaml

    path = tmp_path / name
    path.write_text(yaml.safe_dump(cfg))
    return path


def _untrusted(run: Path, **overrides) -> dict:
    from test_train_toy import toy_config

    cfg = toy_config(run, **overrides)
    del cfg["trusted"]
    return cfg


def test_a_recipe_cannot_run_a_shell_command(tmp_path: Path, capsys) -> None:
    marker, run = tmp_path / "pwned", tmp_path / "run"
    evil = {"name": "os:system", "args": {"command": f"touch {marker}"}}
    recipe = _recipe(tmp_path, _untrusted(run, **{"data.train": evil}))
    assert main(["train", "--config", str(recipe)]) == 1
    err = capsys.readouterr().err
    assert "'os:system'" in err and "a recipe is like a script" in err
    assert "trusted: true" in err and "--allow-imports" in err
    assert not marker.exists() and not run.exists()


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"imports": ["test_train_toy"]}, "imports ['test_train_toy']"),
        ({"hooks": ["test_train_toy:stop_after_step_6"]}, "hooks ['test_train_toy:stop"),
        ({"data.val.concat": [{"name": "m:Set"}]}, "data.val.concat[0].name 'm:Set'"),
    ],
)
def test_imports_hooks_and_outside_datasets_need_trust(
    tmp_path: Path, overrides: dict, named: str
) -> None:
    from ssrzoo.train import ConfigError, TrainerConfig

    raw = _untrusted(tmp_path, **overrides)
    raw["data"]["train"] = {"name": "SyntheticScenes", "args": {"n": 4}}  # ssrzoo's own: fine
    if "data.val.concat" in overrides:
        raw["data"]["val"] = {"concat": overrides["data.val.concat"]}
    else:
        raw["data"]["val"] = {"name": "SyntheticScenes", "args": {"n": 2, "seed": 1}}
    with pytest.raises(ConfigError, match="a recipe is like a script") as err:
        TrainerConfig.from_dict(raw)
    assert named in str(err.value)
    assert TrainerConfig.from_dict({**raw, "trusted": True}).trusted


def test_a_dataset_name_cannot_reach_what_ssrzoo_data_imports(tmp_path: Path) -> None:
    from ssrzoo.train import ConfigError, build_dataset
    from ssrzoo.train.builders import _dataset_factory
    from ssrzoo.train.config import DatasetConfig

    target = tmp_path / "written.npy"
    for name in ("datasets.np.save", "SyntheticScenes.__init__", "read_mat", "ICVLStrips._load"):
        spec = DatasetConfig(name=name, args={"file": str(target), "arr": [1]})
        with pytest.raises(ConfigError, match="unknown dataset"):
            build_dataset(spec)
    assert not target.exists()
    with pytest.raises(ConfigError, match="trusted"):
        build_dataset(DatasetConfig(name="test_train_toy:ToyCubes"))
    assert _dataset_factory("ICVLStrips") is ssrzoo.data.ICVLStrips
    scenes = ssrzoo.data.SyntheticScenes
    assert _dataset_factory("SyntheticScenes.from_shared") == scenes.from_shared
    assert len(build_dataset(DatasetConfig(name="test_train_toy:ToyCubes"), trusted=True)) == 32


def test_allow_imports_trusts_a_recipe(tmp_path: Path, capsys) -> None:
    run = tmp_path / "run"
    recipe = _recipe(tmp_path, _untrusted(run, **{"sched.steps": 2, "sched.warmup_steps": 0}))
    assert main(["train", "--config", str(recipe), "eval_every=2", "log_every=1"]) == 1
    assert "--allow-imports" in capsys.readouterr().err and not run.exists()
    args = ["train", "--config", str(recipe), "--allow-imports", "eval_every=2", "log_every=1"]
    assert main(args) == 0
    assert (run / "export" / "model.safetensors").is_file()


def test_a_corrupt_latest_checkpoint_falls_back_to_the_newest_readable(
    tmp_path: Path, caplog
) -> None:
    from test_train_toy import toy_config

    from ssrzoo.train import CheckpointManager, Trainer, TrainerConfig

    run = tmp_path / "run"
    cfg = toy_config(run, **{"sched.steps": 8, "eval_every": 4, "log_every": 4, "export": False})
    Trainer(TrainerConfig.from_dict(cfg)).fit()
    manager = CheckpointManager(run / "checkpoints")
    latest = manager.latest()
    assert latest is not None and latest.name == "step-00000008"
    (latest / "tensors.safetensors").write_bytes(b"a disk error")
    with caplog.at_level(logging.WARNING, logger="ssrzoo.train"):
        summary = Trainer(TrainerConfig.from_dict({**cfg, "resume": True})).fit()
    assert "step-00000008" in caplog.text and "resuming from step-00000004" in caplog.text
    assert summary["step"] == 8  # steps 5-8 trained again from the readable checkpoint

    for path in manager.complete():
        (path / "tensors.safetensors").write_bytes(b"a disk error")
    with pytest.raises(CheckpointError, match="none of the 2 checkpoints") as err:
        Trainer(TrainerConfig.from_dict({**cfg, "resume": True})).fit()
    assert "step-00000004" in str(err.value) and "step-00000008" in str(err.value)


def test_a_diverging_run_prints_one_line(tmp_path: Path, capsys) -> None:
    from test_train_toy import toy_config

    run = tmp_path / "run"
    cfg = toy_config(run, **{"sched.steps": 6, "eval_every": 6, "log_every": 1})
    cfg["optim"] = {"lr": 1e30, "clip_grad": None}
    assert main(["train", "--config", str(_recipe(tmp_path, cfg))]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]  # after the progress bar
    assert last.startswith("ssrzoo: error: training loss is ") and " at step " in last, err
    assert "lower optim.lr" in last
