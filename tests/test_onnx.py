"""ONNX export and the onnxruntime backend: graphs that reproduce torch, and the Reconstructor
giving the same cubes with either backend."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("onnx")
pytest.importorskip("onnxscript")
pytest.importorskip("onnxruntime")

import ssrzoo
from ssrzoo.cli import main
from ssrzoo.exceptions import ExportError, MissingDependencyError
from ssrzoo.inference import OnnxModule, Reconstructor, export_onnx
from ssrzoo.models import mae_ktsr

TOL = 1e-4


@pytest.fixture(autouse=True)
def _onnx_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "onnx-cache"
    monkeypatch.setenv("SSRZOO_ONNX_CACHE", str(cache))
    return cache


@pytest.fixture(scope="module")
def noprior_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """MAE-KTSR without prior, exported with a dynamic batch, height and width."""
    path = tmp_path_factory.mktemp("onnx") / "noprior.onnx"
    return export_onnx("mae_ktsr_noprior_ntire", path, size=(32, 48), dynamic=True)


def _torch(name: str, x: torch.Tensor) -> np.ndarray:
    model = ssrzoo.create_model(name, pretrained=True).eval()
    with torch.inference_mode():
        return model(x).numpy()


def test_export_with_prior_traces_the_module_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # MAE-KTSR's CPU strip path is eager-only: under torch.export it must not be taken.
    decisions: list[tuple[bool, bool]] = []
    original = mae_ktsr._strip_path_applies

    def spy(x: torch.Tensor) -> bool:
        decisions.append((torch.compiler.is_compiling(), original(x)))
        return decisions[-1][1]

    monkeypatch.setattr(mae_ktsr, "_strip_path_applies", spy)
    path = export_onnx("mae_ktsr_ntire", tmp_path / "mae.onnx", size=(40, 56))
    traced = [taken for compiling, taken in decisions if compiling]
    assert traced and not any(traced)
    assert any(taken for compiling, taken in decisions if not compiling)  # the check's torch run

    graph = OnnxModule.load(path)
    cfg = ssrzoo.get_pretrained_cfg("mae_ktsr_ntire")
    assert graph.input_shape == (1, 3, 40, 56)
    assert graph.metadata is not None
    assert graph.metadata["ssrzoo.name"] == "mae_ktsr.ntire2020"
    assert graph.metadata["ssrzoo.input_encoding"] == cfg.input_encoding
    assert graph.pretrained_cfg == cfg
    x = torch.rand(1, 3, 40, 56, generator=torch.Generator().manual_seed(1))
    assert np.abs(graph.run(x.numpy()) - _torch("mae_ktsr_ntire", x)).max() <= TOL


def test_dynamic_export_runs_other_sizes(noprior_file: Path) -> None:
    graph = OnnxModule.load(noprior_file)
    assert graph.input_shape == (None, 3, None, None)
    for shape in [(2, 3, 45, 70), (1, 3, 64, 33)]:
        x = torch.rand(*shape, generator=torch.Generator().manual_seed(2))
        assert np.abs(graph.run(x.numpy()) - _torch("mae_ktsr_noprior_ntire", x)).max() <= TOL


def test_export_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "model.onnx"
    path.write_bytes(b"keep me")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        export_onnx("mae_ktsr_noprior_ntire", path, size=32)
    assert path.read_bytes() == b"keep me"


def test_missing_onnxruntime_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import raises ImportError
    with pytest.raises(MissingDependencyError, match=r"pip install 'ssrzoo\[onnx\]'"):
        Reconstructor("mae_ktsr_noprior_ntire", backend="onnxruntime")


def test_cli_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "noprior.onnx"
    argv = ["export", "mae_ktsr_noprior_ntire", str(out), "--size", "32x48"]
    assert main(argv) == 0
    assert capsys.readouterr().out.strip() == str(out)
    assert OnnxModule.load(out).input_shape == (1, 3, 32, 48)
    assert not list(tmp_path.glob(".*.tmp"))  # written atomically
    assert main(argv) == 1
    assert "already exists" in capsys.readouterr().err
    assert main([*argv, "--overwrite"]) == 0


def test_reconstructor_backends_agree_with_tiles(_onnx_cache: Path) -> None:
    rgb = np.random.default_rng(0).integers(0, 256, (100, 150, 3), dtype=np.uint8)
    options = {"tile": 64, "overlap": 16, "rgb_consistent": True, "exposure": 2.0}
    expected = Reconstructor("mae_ktsr_ntire", device="cpu", **options)(rgb)
    reconstructor = Reconstructor("mae_ktsr_ntire", backend="onnxruntime", **options)
    result = reconstructor(rgb)
    assert result.metadata["backend"] == "onnxruntime"
    assert result.metadata["tile"] == 64
    np.testing.assert_allclose(result.cube, expected.cube, rtol=0, atol=TOL)
    # one graph for the one tile shape, reused by the next photo
    assert len(list(_onnx_cache.glob("mae_ktsr.ntire2020-*-b1-64x64-*.onnx"))) == 1
    np.testing.assert_allclose(reconstructor(rgb).cube, result.cube, rtol=0, atol=0)


def test_reconstructor_runs_an_onnx_file(noprior_file: Path) -> None:
    rgb = np.random.default_rng(1).random((70, 90, 3), dtype=np.float32)
    options = {"tile": 48, "overlap": 12, "ensemble": True, "tile_batch": 2}
    expected = Reconstructor("mae_ktsr_noprior_ntire", device="cpu", **options)(rgb)
    result = Reconstructor(str(noprior_file), backend="onnxruntime", **options)(rgb)
    assert result.model == "mae_ktsr_noprior.ntire2020"
    np.testing.assert_array_equal(result.wavelengths, expected.wavelengths)
    np.testing.assert_allclose(result.cube, expected.cube, rtol=0, atol=TOL)


def test_onnx_file_needs_the_onnxruntime_backend(noprior_file: Path) -> None:
    with pytest.raises(ValueError, match="backend='onnxruntime'"):
        Reconstructor(str(noprior_file))


def test_dynamic_export_refuses_size_dependent_models(tmp_path: Path) -> None:
    # MAE-KTSR's prior pads to whole patches and windows its tokens in Python: a dynamic
    # graph would be right only near the traced size, so it is refused, and nothing written.
    with pytest.raises(ExportError, match="specializes on the input size"):
        export_onnx("mae_ktsr_ntire", tmp_path / "mae.onnx", size=64, dynamic=True)
    assert not list(tmp_path.iterdir())
