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
