"""The model card's words for a run's data (``ssrzoo.train.export``)."""

from __future__ import annotations

from pathlib import Path

from ssrzoo.train import TrainerConfig
from ssrzoo.train.export import spec_words

REPO = Path(__file__).resolve().parents[1]


def test_card_names_the_chosen_scenes_and_the_camera_not_a_path() -> None:
    cfg = TrainerConfig.from_yaml(REPO / "recipes" / "mae_ktsr_pavia.yaml")
    train, val = spec_words(cfg.data.train), spec_words(cfg.data.val)
    assert train.startswith("(RemoteSensingScenes bands=pavia, scenes=[samson, fenix_rock])")
    assert "scenes=[houston2018]" in val
    assert "(clean pipeline, rosis_bgr)" in train
    assert "shared/data" not in train + val and ".mat" not in train + val


def test_card_leaves_out_how_the_data_is_read() -> None:
    cfg = TrainerConfig.from_yaml(REPO / "recipes" / "mae_ktsr_ntire.yaml")
    # args {cache: true} only change how the strips are read, not which
    assert spec_words(cfg.data.train) == (
        "(ICVLStrips split 'train') as random patches of [8, 64] px, RGB simulated "
        "(clean pipeline, cie1964_10deg)"
    )
