"""``precision``: bf16/fp16 autocast around the model, a float32 cube, clear refusals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tiny_model  # noqa: F401  (registers tiny_ssr_test)
import torch
from PIL import Image

import ssrzoo
from ssrzoo._options import ReconstructorOptions
from ssrzoo.cli import main
from ssrzoo.inference import Reconstructor, load_cube
from ssrzoo.metrics import mrae
from ssrzoo.models import mae_ktsr

PHOTO = np.random.default_rng(5).integers(0, 256, size=(40, 52, 3), dtype=np.uint8)


def test_the_strip_path_steps_aside_under_cpu_autocast() -> None:
    # The strip path fills float32 buffers in place, which bf16 results cannot fill.
    x = torch.rand(1, 3, 8, 8)
    with torch.inference_mode():
        assert mae_ktsr._strip_path_applies(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            assert not mae_ktsr._strip_path_applies(x)
        assert mae_ktsr._strip_path_applies(x)


@pytest.mark.parametrize("name", ["mae_ktsr_noprior", "mae_ktsr"])
def test_bf16_on_the_cpu_gives_a_float32_cube_close_to_fp32(name: str) -> None:
    torch.manual_seed(0)
    model = ssrzoo.create_model(name, pretrained=False).eval()
    full = Reconstructor(model, device="cpu", tile=0)(PHOTO)
    half = Reconstructor(model, device="cpu", tile=0, precision="bf16")(PHOTO)
    assert half.cube.dtype == np.float32 and half.cube.shape == full.cube.shape
    assert half.metadata["precision"] == "bf16" and full.metadata["precision"] == "fp32"
    assert not np.array_equal(half.cube, full.cube)  # autocast did run in bf16
    # The output is clamped at 0: the relative error of values near 0 says nothing, so
    # only values >= 0.05 (most of the cube, whose mean is about 0.3) are compared.
    error = mrae(
        torch.from_numpy(half.cube)[None], torch.from_numpy(full.cube)[None], eps=0.05, mask=True
    )
    assert float(error) < 2e-2


def test_fp16_on_the_cpu_is_refused() -> None:
    with pytest.raises(ValueError, match=r"precision='fp16' is for GPUs.*'bf16' or 'fp32'"):
        Reconstructor("tiny_ssr_test", pretrained=False, device="cpu", precision="fp16")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"precision": "fp8"}, "precision='fp8' is not supported; use 'fp32', 'bf16' or 'fp16'"),
        (
            {"precision": "bf16", "backend": "onnxruntime"},
            "precision='bf16' is a torch autocast setting; backend='onnxruntime'",
        ),
    ],
)
def test_precision_values_are_checked(kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ReconstructorOptions(**kwargs)
    with pytest.raises(ValueError, match=message):  # before any export or onnxruntime import
        Reconstructor("tiny_ssr_test", pretrained=False, device="cpu", **kwargs)  # type: ignore[arg-type]


def test_cli_precision(model_dir: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    photo = tmp_path / "a.png"
    Image.fromarray(PHOTO).save(photo)
    args = ["predict", str(photo), "-m", model_dir, "-o", str(tmp_path / "out")]
    assert main([*args, "--device", "cpu", "--precision", "bf16"]) == 0
    result = load_cube(tmp_path / "out" / "a.npz")
    assert result.cube.dtype == np.float32 and result.metadata["precision"] == "bf16"
    expected = ssrzoo.predict(model_dir, PHOTO, device="cpu").cube
    np.testing.assert_allclose(result.cube, expected, atol=0.05)
    capsys.readouterr()
    assert main([*args, "--device", "cpu", "--precision", "fp16", "--overwrite"]) == 1
    assert "use precision='bf16' or 'fp32'" in capsys.readouterr().err
