"""`ssrzoo predict` and `ssrzoo plot`: outputs, exit codes (0 ok, 2 usage, 1 failure)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tiny_model
import torch
from PIL import Image

import ssrzoo
from ssrzoo.cli import main
from ssrzoo.data import SimulateRGB, make_sample
from ssrzoo.inference import load_cube
from ssrzoo.metrics import mrae, psnr

RNG = np.random.default_rng(7)
PHOTO = RNG.integers(0, 256, size=(24, 32, 3), dtype=np.uint8)


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    Image.fromarray(PHOTO).save(folder / "a.png")
    Image.fromarray(PHOTO[::-1]).save(folder / "b.jpg", quality=95)
    (folder / "notes.txt").write_text("not a photo")
    return folder


def expected_cube(model_name: str, photo: np.ndarray) -> np.ndarray:
    model = ssrzoo.create_model(model_name).eval()
    with torch.no_grad():
        x = torch.from_numpy(photo.transpose(2, 0, 1).astype(np.float32) / 255)[None]
        return model(x)[0].numpy()


@pytest.mark.parametrize(
    ("fmt", "main_file"),
    [("npz", "a.npz"), ("npy", "a.npy"), ("mat", "a.mat"), ("h5", "a.h5"), ("envi", "a.hdr")],
)
def test_predict_writes_each_format(
    model_dir: str, photos: Path, tmp_path: Path, fmt: str, main_file: str, capsys
) -> None:
    out = tmp_path / "out"
    code = main(
        ["predict", str(photos / "a.png"), "-m", model_dir, "-o", str(out), "--format", fmt]
    )
    assert code == 0
    assert capsys.readouterr().out.splitlines()[0] == str(out / main_file)
    cube = load_cube(out / main_file)
    assert cube.wavelengths.tolist() == list(map(float, tiny_model.WAVELENGTHS))
    np.testing.assert_allclose(cube.cube, expected_cube(model_dir, PHOTO), atol=1e-5)


def test_predict_folder_with_previews_tiles_and_ensemble(
    model_dir: str, photos: Path, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "out"
    args = ["predict", str(photos), "-m", model_dir, "-o", str(out), "--preview"]
    assert main([*args, "--tile", "16", "--overlap", "4", "--ensemble"]) == 0
    captured = capsys.readouterr()
    assert "skipping" in captured.err and "notes.txt" in captured.err
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(
        f"{stem}{suffix}"
        for stem in ("a", "b")
        for suffix in (".npz", "_bands.png", "_rgb.png", "_spectra.png")
    )
    result = load_cube(out / "a.npz")
    assert result.metadata["tile"] == 16 and result.metadata["ensemble"] is True
    whole = ssrzoo.predict(f"{model_dir}", PHOTO, tile=0, ensemble=True).cube
    np.testing.assert_allclose(result.cube, whole, atol=1e-5)


def test_bad_files_fail_alone_with_one_line_each(
    model_dir: str, photos: Path, tmp_path: Path, capsys
) -> None:
    (photos / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    Image.fromarray(PHOTO[..., 0]).save(photos / "gray.png")
    Image.fromarray(np.zeros((1, 1, 3), np.uint8)).save(photos / "dot.png")
    out = tmp_path / "out"
    assert main(["predict", str(photos), "-m", model_dir, "-o", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    reasons = {line.split(": ")[2] for line in err if line.startswith("ssrzoo: error: ")}
    assert {str(photos / n) for n in ("broken.png", "gray.png", "dot.png")} <= reasons
    assert err[-1] == "ssrzoo: error: 3 of 5 images failed (reasons above)"
    assert sorted(p.name for p in out.iterdir()) == ["a.npz", "b.npz"]  # nothing partial


def test_too_little_memory_is_a_failure_not_a_crash(
    model_dir: str, photos: Path, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "out"
    code = main(
        [
            "predict",
            str(photos / "a.png"),
            "-m",
            model_dir,
            "-o",
            str(out),
            "--memory-limit",
            "1e-5",
        ]
    )
    assert code == 1
    err = capsys.readouterr().err
    assert "24x32 image" in err and "GiB" in err
    assert not out.exists() or list(out.iterdir()) == []


def test_predict_usage_and_setup_errors(model_dir: str, photos: Path, tmp_path: Path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["predict", str(photos / "a.png"), "-o", str(tmp_path)])  # no -m
    assert exit_info.value.code == 2
    with pytest.raises(SystemExit) as exit_info:
        main(["predict", "x.png", "-m", model_dir, "-o", str(tmp_path), "--format", "tiff"])
    assert exit_info.value.code == 2
    capsys.readouterr()
    assert main(["predict", str(tmp_path / "none.png"), "-m", model_dir, "-o", "o"]) == 1
    assert "does not exist" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["predict", str(empty), "-m", model_dir, "-o", str(tmp_path / "o")]) == 1
    assert "no images among" in capsys.readouterr().err
    other = tmp_path / "other"
    other.mkdir()
    Image.fromarray(PHOTO).save(other / "a.png")
    args = ["predict", str(photos / "a.png"), str(other / "a.png"), "-m", model_dir, "-o", "o"]
    assert main(args) == 1
    assert "would both write" in capsys.readouterr().err


def test_plot_command(model_dir: str, photos: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    assert main(["predict", str(photos / "a.png"), "-m", model_dir, "-o", str(out)]) == 0
    truth = load_cube(out / "a.npz")
    truth.cube = truth.cube * 1.1
    truth.save(tmp_path / "truth.h5")
    capsys.readouterr()
    args = ["plot", str(out / "a.npz"), "-o", str(tmp_path / "figs"), "--pixel", "3,4"]
    args += [
        "--region",
        "0,0,8,8",
        "--rgb",
        str(photos / "a.png"),
        "--gt",
        str(tmp_path / "truth.h5"),
    ]
    assert main(args) == 0
    printed = capsys.readouterr().out.split()
    assert [Path(p).name for p in printed] == [
        "a_bands.png",
        "a_spectra.png",
        "a_rgb.png",
        "a_mrae.png",
    ]
    assert all(Path(p).stat().st_size > 0 for p in printed)
    with pytest.raises(SystemExit) as exit_info:
        main(["plot", str(out / "a.npz"), "--pixel", "3"])
    assert exit_info.value.code == 2
    assert main(["plot", str(tmp_path / "missing.npz")]) == 1


def test_predict_help_has_examples(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["predict", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "examples:" in out and "--preview" in out and "--tile" in out


def test_python_dash_m_predict(tmp_path: Path) -> None:
    Image.fromarray(PHOTO).save(tmp_path / "x.png")
    run = subprocess.run(
        [sys.executable, "-m", "ssrzoo", "predict", "x.png", "-m", "no_such_model", "-o", "o"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert run.returncode == 1
    assert run.stderr.strip().startswith("ssrzoo: error: unknown model 'no_such_model'")
    assert len(run.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


# -- eval ------------------------------------------------------------------------------------


def make_cube_folder(root: Path, wavelengths: np.ndarray) -> dict[str, np.ndarray]:
    root.mkdir()
    (root / "wavelengths.json").write_text(json.dumps({"wavelengths_nm": wavelengths.tolist()}))
    rng = np.random.default_rng(11)
    cubes = {
        n: (rng.random((wavelengths.size, 20, 24)) * 0.8 + 0.1).astype(np.float32) for n in "ab"
    }
    for name, cube in cubes.items():
        np.save(root / f"{name}.npy", cube)
    return cubes


def test_eval_prints_the_metrics_of_each_image(model_dir: str, tmp_path: Path, capsys) -> None:
    wavelengths = np.arange(400.0, 701.0, 10.0)
    cubes = make_cube_folder(tmp_path / "cubes", wavelengths)
    args = ["eval", "-m", model_dir, "--dataset", "hyperspectral_folder", "--root"]
    assert main([*args, str(tmp_path / "cubes"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    model = ssrzoo.create_model(model_dir).eval()
    simulate = SimulateRGB(response="cie1964_10deg")  # the weight's response_name
    for row in report["images"]:
        cube = torch.from_numpy(cubes[row["name"]])
        rgb = simulate(make_sample(cube.numpy(), wavelengths))["rgb"]
        with torch.no_grad():
            pred = model(rgb.clamp(0, 1)[None])[0]
        assert row["mrae"] == pytest.approx(float(mrae(pred, cube)), rel=1e-5)
        assert row["psnr"] == pytest.approx(float(psnr(pred, cube)), rel=1e-5)
    assert [r["name"] for r in report["images"]] == ["a", "b"]
    assert report["summary"]["mrae"] == pytest.approx(
        np.mean([r["mrae"] for r in report["images"]])
    )
    assert main([*args, str(tmp_path / "cubes"), "--per-image"]) == 0
    table = capsys.readouterr().out
    assert "| a |" in table and "| **mean (2)** |" in table and "MRAE" in table


def test_eval_resamples_ground_truth_to_the_model_bands(model_dir: str, tmp_path: Path, capsys):
    make_cube_folder(tmp_path / "fine", np.arange(400.0, 701.0, 5.0))  # 61 bands
    args = ["eval", "-m", model_dir, "--dataset", "HyperspectralFolder", "--root"]
    assert main([*args, str(tmp_path / "fine"), "--json", "--limit", "1"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert len(report["images"]) == 1 and np.isfinite(report["summary"]["mrae"])


def test_eval_errors(model_dir: str, tmp_path: Path, capsys) -> None:
    assert main(["eval", "-m", model_dir, "--dataset", "nope", "--root", str(tmp_path)]) == 1
    assert "unknown dataset 'nope'; use one of" in capsys.readouterr().err
    assert main(["eval", "-m", model_dir, "--dataset", "cave", "--root", str(tmp_path)]) == 1
    assert "download it from" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["eval", "-m", model_dir, "--root", str(tmp_path)])  # no --dataset
    assert exit_info.value.code == 2


def test_eval_on_the_shared_cave_crops(model_dir: str, shared_data: Path, capsys) -> None:
    args = ["eval", "-m", model_dir, "--dataset", "cave_crops", "--root", str(shared_data)]
    assert main([*args, "--limit", "1", "--crop", "4", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert len(report["images"]) == 1
    assert set(report["summary"]) == {"mrae", "rmse", "psnr", "sam", "ssim"}


def test_predict_rgb_consistent(model_dir: str, photos: Path, tmp_path: Path, capsys) -> None:
    """--rgb-consistent: unclipped pixels reproduce their RGB exactly, with no negative value."""
    # Box responses: any non-negative RGB is the image of some non-negative spectrum.
    response = np.zeros((3, 31))
    for k, bands in enumerate((slice(20, 31), slice(10, 20), slice(0, 10))):
        response[k, bands] = 1.0 / len(range(31)[bands])
    linear = ssrzoo.create_model(
        "tiny_ssr_test",
        pretrained_cfg_overlay={"input_encoding": "linear", "response": response.tolist()},
    )
    export = tmp_path / "linear"
    ssrzoo.save_pretrained(linear, export)
    out = tmp_path / "out"
    args = ["predict", str(photos / "a.png"), "-m", f"local-dir:{export}", "-o", str(out)]
    assert main([*args, "--input-encoding", "linear", "--rgb-consistent"]) == 0
    result = load_cube(out / "a.npz")
    assert result.metadata["rgb_consistent"] is True and result.cube.min() >= 0
    unclipped = ((PHOTO > 0) & (PHOTO < 255)).all(-1)
    back = np.einsum("kc,chw->hwk", response, result.cube.astype(np.float64))
    np.testing.assert_allclose(back[unclipped], PHOTO[unclipped] / 255.0, rtol=1e-5)
    capsys.readouterr()
    srgb_weight = ["predict", str(photos / "a.png"), "-m", model_dir, "-o", str(tmp_path / "o")]
    assert main([*srgb_weight, "--rgb-consistent"]) == 1
    assert "rgb_consistent needs a weight that takes linear RGB" in capsys.readouterr().err
