"""Shared fixtures: offline Hub, the real data folder beside the checkout, two small photos."""

from __future__ import annotations

import os
from pathlib import Path

# No network in tests: huggingface_hub reads this once, at import, so set it first.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pytest
import torch
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_data_root() -> Path | None:
    """``$SSRZOO_SHARED_DATA``, else ``../shared/data`` beside the checkout (as CI lays it out)."""
    env = os.environ.get("SSRZOO_SHARED_DATA")
    candidates = [Path(env)] if env else []
    candidates += [REPO_ROOT.parent / "shared" / "data", REPO_ROOT / "shared" / "data"]
    for path in candidates:
        if (path / "MANIFEST.md").is_file():
            return path
    return None


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path of the real data folder; tests that need it are skipped where it is absent."""
    root = shared_data_root()
    if root is None:
        pytest.skip("real data folder ../shared/data not found (set SSRZOO_SHARED_DATA)")
    return root


@pytest.fixture(scope="session")
def photos() -> dict[str, torch.Tensor]:
    """Two small ``(1, 3, H, W)`` images in [0, 1]: the example scene and a real photo.

    Subsampled so that every model of the registry runs on them in seconds.
    """
    skimage_data = pytest.importorskip("skimage.data")
    scene = np.asarray(Image.open(REPO_ROOT / "examples" / "synthetic_scene.png").convert("RGB"))
    arrays = {"synthetic_scene": scene[::4, ::4], "coffee": skimage_data.coffee()[::8, ::8]}
    return {
        name: torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1))).float()[None] / 255
        for name, a in arrays.items()
    }


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    """``local-dir:`` name of a saved tiny test model (seeded weights)."""
    import tiny_model  # noqa: F401  (registers tiny_ssr)

    import ssrzoo

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("export")
    ssrzoo.save_pretrained(ssrzoo.create_model("tiny_ssr_test"), folder)
    return f"local-dir:{folder}"


def projected_and_raw(model: torch.nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The eval-mode output of ``model`` on ``x``, and the same without the >= 0 projection."""
    with torch.no_grad():
        out = model(x)
        model.nonneg_output = False
        raw = model(x)
        model.nonneg_output = True
    return out, raw
