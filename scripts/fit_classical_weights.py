"""Fit and bundle the classical regressions' weights (closed form, CPU).

The recipe of ``linear_regression.ntire2020``, ``root_poly2.ntire2020`` and
``root_poly3.ntire2020``: fit on the valid pixels of the ICVL strips' train split
(protocol icvl-strips-v1, see :class:`ssrzoo.data.ICVLStrips`), with RGB simulated by the
NTIRE2020-Clean camera (CIE 1964 10°, fixed white gain, 8-bit), ridge chosen by 5-fold
cross-validation over scene-contiguous folds; validate on the val split. Each weight is
written with :func:`ssrzoo.save_pretrained` to ``ssrzoo/weights/<arch>.ntire2020/`` and its
sha256 printed, to pin in ``ssrzoo/models/regression.py``.

``--protocol cave`` fits ``root_poly3.cave`` instead (protocol cave-256-v1, see
``docs/protocols.md``): the pixels of the 19 CAVE training scenes (reflectance, Nikon D700
clean RGB with its fixed white gain, 8-bit), validated on the 5 validation scenes, whole,
with the deep weights' metrics (per-scene MRAE with denominators floored at 0.01, averaged).

``--protocol harvard`` fits ``root_poly3.harvard``: a quarter of the pixels (fixed draw) of
the 4000 synthetic training scenes of ``recipes/mae_ktsr_harvard.yaml`` (seed 0, 420-720 nm,
camspec Nikon D700 clean RGB), validated on the recipe's synthetic validation scenes.
``benchmarks/leaderboard.py --protocol harvard`` scores it on real cubes.

``--protocol pavia`` fits ``linear_regression.pavia``: every pixel of the training scenes of
``recipes/mae_ktsr_pavia.yaml`` (Samson and the Specim Fenix rock, resampled to the 103
ROSIS bands, RGB through the ROSIS B, G, R rows), ridge cross-validated leaving one scene
out, validated as that recipe validates (the Houston 2018 crop). No 13-term fit is
published for Pavia: on two scenes it extrapolates wildly (reflectance up to 60 on
``skimage.data.coffee()``, against about 4 for the linear fit and ``mae_ktsr.pavia``) and
scores worse on Houston (0.225 against 0.173).

    python scripts/fit_classical_weights.py --root ../shared/data
    python scripts/fit_classical_weights.py --root ../shared/data --protocol cave
    python scripts/fit_classical_weights.py --protocol harvard  # from the repository root
    python scripts/fit_classical_weights.py --protocol pavia    # from the repository root
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
import torch

import ssrzoo
from ssrzoo.data import CAVE, ICVLStrips, SimulateRGB
from ssrzoo.evaluation import dataset_response
from ssrzoo.models import bundled_weights_dir, file_sha256
from ssrzoo.protocols import ROSIS_103
from ssrzoo.spectral import load_nikon_d700
from ssrzoo.train import TrainerConfig, build_dataset, evaluate_recipe

ARCHS = ("linear_regression", "root_poly2", "root_poly3")


def pixels(root: Path, split: str, simulate: SimulateRGB) -> tuple[np.ndarray, np.ndarray]:
    """``(N, 3)`` clean RGB and ``(N, 31)`` spectra of the valid pixels, grouped by scene."""
    rgbs, cubes = [], []
    for sample in ICVLStrips(root, split=split):
        sample = simulate(sample)
        valid = sample["valid"].numpy().reshape(-1)
        rgbs.append(sample["rgb"].numpy().reshape(3, -1).T[valid])
        cubes.append(sample["hsi"].numpy().reshape(31, -1).T[valid])
    return np.concatenate(rgbs), np.concatenate(cubes)


def metrics(model: torch.nn.Module, rgb: np.ndarray, cube: np.ndarray) -> dict[str, float]:
    """Validation metrics over valid pixels, laid out as one ``(1, C, 1, N)`` image."""
    batch = {
        "rgb": torch.from_numpy(rgb.T[None, :, None, :].copy()).float(),
        "hsi": torch.from_numpy(cube.T[None, :, None, :].copy()).float(),
    }
    return ssrzoo.evaluate(model, [batch], eps=1e-3, mask=True).metrics


def publish(model: torch.nn.Module, out: Path, name: str, **card: object) -> None:
    """Write ``model`` with its card fields to ``out/name``; print the sha256 to pin."""
    cfg = model.pretrained_cfg.replace(**card)
    folder = ssrzoo.save_pretrained(model, out / name, pretrained_cfg=cfg)
    sha = file_sha256(folder / "model.safetensors")
    print(f"{name}  ridge={model.ridge_:.3g}  {card['metrics']}  sha256={sha}")


def _cave_camera(root: Path) -> tuple[SimulateRGB, np.ndarray]:
    """The cave-256-v1 RGB simulator and its ``(3, 31)`` matrix, fixed white gain included."""
    camera = load_nikon_d700(root / "responses" / "nikon_d700_31band.mat")
    simulate = SimulateRGB(response=camera, pipeline="clean")
    wavelengths = np.arange(400, 701, 10, dtype=np.float64)
    return simulate, camera.matrix(wavelengths) * simulate.white_gain(wavelengths)


def cave_scores(model: torch.nn.Module, root: Path) -> dict[str, float]:
    """The deep weights' validation metrics on the 5 cave-256-v1 validation scenes, whole."""
    simulate, response = _cave_camera(root)
    val = CAVE(root / "cave_256", split="val", transforms=simulate)
    camera = torch.as_tensor(response, dtype=torch.float32)
    scores = ssrzoo.evaluate(model, val, protocol="cave", response=camera).metrics
    return {k: round(v, 6) for k, v in scores.items()}


def fit_cave(root: Path, out: Path) -> None:
    """``root_poly3.cave``: fit on the CAVE train scenes, validate on the val scenes."""
    simulate, response = _cave_camera(root)
    rgbs, cubes = [], []
    for sample in CAVE(root / "cave_256", split="train"):
        sample = simulate(sample)
        rgbs.append(sample["rgb"].numpy().reshape(3, -1).T)
        cubes.append(sample["hsi"].numpy().reshape(31, -1).T)
    model = ssrzoo.create_model("root_poly3.cave").fit(np.concatenate(rgbs), np.concatenate(cubes))
    publish(
        model,
        out,
        "root_poly3.cave",
        response=tuple(map(tuple, response)),
        response_name="nikon_d700",
        dataset="CAVE (Yasuma et al. 2010), the 19 training scenes of protocol cave-256-v1 "
        "(2x2-averaged to 256x256), every pixel",
        datasets=("cave",),
        metrics=cave_scores(model, root),
        metrics_dataset="CAVE, protocol cave-256-v1 validation split (5 whole scenes; MRAE "
        "denominators floored at 0.01)",
        recipe="scripts/fit_classical_weights.py --protocol cave",
        notes="13 root-polynomial terms (degree 3); ridge chosen by cross-validation.",
    )


def recipe_pixels(
    recipe: str, overrides: list[str], keep: float = 1.0
) -> tuple[Any, list[np.ndarray], list[np.ndarray]]:
    """``(dataset, rgbs, cubes)``: the scenes that ``overrides`` put into the recipe's
    validation split, read whole through its pipeline (no crops, no exposure), as
    ``(N, 3)`` and ``(N, bands)`` pixels per scene; ``keep`` < 1 keeps that fraction of each
    scene's pixels (a fixed draw)."""
    cfg = TrainerConfig.from_yaml(recipe, [*overrides, "data.num_workers=0"])
    scenes = build_dataset(cfg.data.val, cfg.seed)
    rng = np.random.default_rng(0)
    rgbs, cubes = [], []
    for index in range(len(scenes)):  # type: ignore[arg-type]
        sample = scenes[index]
        rows = rng.random(sample["rgb"][0].numel()) < keep
        rgbs.append(sample["rgb"].numpy().reshape(3, -1).T[rows])
        cubes.append(sample["hsi"].numpy().reshape(sample["hsi"].shape[0], -1).T[rows])
    return scenes, rgbs, cubes


HARVARD_RECIPE = "recipes/mae_ktsr_harvard.yaml"
"""Read from the repository root, as the recipe's relative paths to ../shared/data expect."""


def fit_harvard(out: Path) -> None:
    """``root_poly3.harvard``: fit on the synthetic training scenes, score on the val ones."""
    train = ["data.val.args.seed=0", "data.val.args.length=4000"]
    scenes, rgbs, cubes = recipe_pixels(HARVARD_RECIPE, train, keep=0.25)
    model = ssrzoo.create_model("root_poly3.harvard")
    model.fit(np.concatenate(rgbs), np.concatenate(cubes))
    metrics_ = evaluate_recipe(model, TrainerConfig.from_yaml(HARVARD_RECIPE)).metrics
    response = dataset_response(scenes, np.arange(420, 721, 10, dtype=np.float64))
    assert response is not None  # the recipe simulates RGB
    publish(
        model,
        out,
        "root_poly3.harvard",
        response=tuple(map(tuple, response.tolist())),
        dataset="synthetic dead-leaves scenes of recipes/mae_ktsr_harvard.yaml (4000 scenes of "
        "64x64, seed 0; colour-science reflectances under measured illuminants, 420-720 nm), "
        "a fixed quarter of the pixels; NOT trained on the Harvard database",
        datasets=(),
        metrics={k: round(v, 6) for k, v in metrics_.items()},
        metrics_dataset="the recipe's 200 synthetic validation scenes (seed 1000); MRAE over "
        "values above 1 % of each scene's peak, denominators floored at 0.01",
        recipe="scripts/fit_classical_weights.py --protocol harvard",
        notes="13 root-polynomial terms (degree 3); ridge chosen by cross-validation.",
    )


PAVIA_RECIPE = "recipes/mae_ktsr_pavia.yaml"
"""Read from the repository root, as the recipe's relative paths to ../shared/data expect."""


def fit_pavia(out: Path) -> None:
    """``linear_regression.pavia``: fit on the training scenes, whole (see above)."""
    train = ["data.val.args={bands: pavia, scenes: [samson, fenix_rock]}", "data.val.patches=null"]
    scenes, rgbs, cubes = recipe_pixels(PAVIA_RECIPE, train)
    rgb, cube = np.concatenate(rgbs), np.concatenate(cubes)
    # cross-validate leaving one scene out, so the ridge is chosen for an unseen scene
    # (contiguous folds would mostly hold out parts of Samson, 9025 of the pixels)
    scene = np.repeat(np.arange(len(rgbs)), [len(r) for r in rgbs])
    response = dataset_response(scenes, np.asarray(ROSIS_103))
    assert response is not None  # the recipe simulates RGB
    cfg = TrainerConfig.from_yaml(PAVIA_RECIPE, ["data.num_workers=0"])
    model = ssrzoo.create_model("linear_regression.pavia").fit(rgb, cube, groups=scene)
    metrics_ = evaluate_recipe(model, cfg).metrics
    publish(
        model,
        out,
        "linear_regression.pavia",
        response=tuple(map(tuple, response.tolist())),
        dataset="Samson and the Specim Fenix rock sample of the ssrzoo shared data folder, "
        f"resampled to the 103 ROSIS bands, every pixel ({len(rgb)}); NOT trained on "
        "Pavia University",
        datasets=(),
        metrics={k: round(v, 6) for k, v in metrics_.items()},
        metrics_dataset="the Houston 2018 crop (DFC2018) resampled to the ROSIS bands, as "
        "recipes/mae_ktsr_pavia.yaml validates: 16 random 32x32 patches",
        recipe="scripts/fit_classical_weights.py --protocol pavia",
        notes="3 linear terms, no offset; ridge chosen by cross-validation, leaving one "
        "training scene out.",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out", type=Path, default=bundled_weights_dir())
    parser.add_argument(
        "--protocol", choices=["ntire2020", "cave", "harvard", "pavia"], default="ntire2020"
    )
    args = parser.parse_args()
    if args.protocol == "cave":
        fit_cave(args.root, args.out)
        return
    if args.protocol == "harvard":
        fit_harvard(args.out)
        return
    if args.protocol == "pavia":
        fit_pavia(args.out)
        return
    simulate = SimulateRGB(response="cie1964_10deg", pipeline="clean")
    wavelengths = np.arange(400, 701, 10, dtype=np.float64)
    response = ssrzoo.spectral.get_response("cie1964_10deg").matrix(wavelengths)
    response = response * simulate.white_gain(wavelengths)
    train_rgb, train_cube = pixels(args.root, "train", simulate)
    val_rgb, val_cube = pixels(args.root, "val", simulate)
    print(f"train pixels {len(train_rgb)}, val pixels {len(val_rgb)}")
    for arch in ARCHS:
        model = ssrzoo.create_model(f"{arch}.ntire2020").fit(train_rgb, train_cube)
        scores = metrics(model, val_rgb, val_cube)
        publish(
            model,
            args.out,
            f"{arch}.ntire2020",
            response=tuple(map(tuple, response)),
            dataset="ICVL strips of the ssrzoo shared data (Arad & Ben-Shahar 2016), train "
            "split of protocol icvl-strips-v1; NOT trained on NTIRE2020/ARAD",
            datasets=("icvl",),
            metrics={k: round(v, 6) for k, v in scores.items()},
            metrics_dataset="ICVL strips, val split (protocol icvl-strips-v1, valid pixels)",
            recipe="scripts/fit_classical_weights.py",
            input_note="linear RGB = quantise8(g * CMF_1964 @ cube) with the fixed white gain "
            f"g = {simulate.white_gain(wavelengths):.8f} (flat unit spectrum -> 1 in the "
            "brightest channel); `response` holds g * CMF",
        )


if __name__ == "__main__":
    main()
