"""Pictures for the documentation, drawn with ssrzoo's own functions.

Writes into ``docs/images/``:

* ``quickstart_round_trip.png``, ``quickstart_bands.png``, ``quickstart_spectra.png``: the
  example photo ``examples/synthetic_scene.png`` reconstructed by ``--model``, drawn with
  :func:`ssrzoo.inference.plot_round_trip`, :func:`~ssrzoo.inference.plot_bands` and
  :func:`~ssrzoo.inference.plot_spectra` (what ``ssrzoo predict --preview`` writes);
* ``protocols_rgb.png``: one cube as an sRGB preview
  (:func:`ssrzoo.spectral.render_srgb`) and through the ``clean`` and ``realistic`` RGB
  pipelines (:func:`ssrzoo.spectral.simulate_rgb`), with an enlarged detail;
* ``evaluate_error_map.png``: the per-pixel MRAE of ``--model`` on a cube whose ground truth
  is known, RGB simulated under the NTIRE2020 Clean protocol
  (:func:`ssrzoo.inference.plot_error_map`).

The ground-truth cube is the real CAVE crop ``chart_and_stuffed_toy_150`` when ``--data``
points at the shared data folder, else a synthetic scene (the script says which).

While ``--model`` has no published weight, the pictures are drawn with a stand-in that is
a real reconstruction method: ``root_poly2`` (root-polynomial regression) fitted in closed
form on synthetic scenes, for the error map under the protocol of ``mae_ktsr_ntire`` (RGB
through the CIE 1964 CMFs), for the photo pictures on 8-bit sRGB renderings (what a photo
is). Its name (``root_poly2.docs_clean`` / ``root_poly2.docs_photo``) appears in every
figure title. Re-run the script once the weights are published.

Other pictures come from their own scripts: ``render_icvl_clean.py``
(``icvl_ntire2020_clean.png``) and ``plot_synthetic_vs_real.py`` (``synthetic_vs_real.png``).

Usage::

    python scripts/make_doc_figures.py [--data ../shared/data] [--model mae_ktsr_ntire]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

import ssrzoo
from ssrzoo.data import CAVECrops, SimulateRGB, SyntheticScenes
from ssrzoo.inference import (
    SpectralImage,
    plot_bands,
    plot_error_map,
    plot_round_trip,
    plot_spectra,
    save_figure,
    to_model_input,
)
from ssrzoo.spectral import render_srgb, simulate_rgb

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "synthetic_scene.png"


def load_model(name: str, protocol: str) -> torch.nn.Module:
    """``name`` with its published weights, or a ``root_poly2`` stand-in fitted for ``protocol``.

    ``'clean'``: RGB through the CIE 1964 CMFs (NTIRE2020 Clean, what ``mae_ktsr_ntire`` is
    trained on); ``'photo'``: 8-bit sRGB renderings decoded to linear, what ``predict`` feeds
    a linear-input model when given an ordinary photo.
    """
    if ssrzoo.is_model(name) and ssrzoo.get_pretrained_cfg(name).has_weights:
        print(f"{protocol} pictures: {name} (published weights)")
        return ssrzoo.create_model(name, pretrained=True).eval()
    print(f"{protocol} pictures: {name} has no published weights; root_poly2 fitted instead")
    scenes = SyntheticScenes(size=64, length=24, seed=100, rgb=SimulateRGB())
    rgb, spectra = [], []
    for sample in scenes:
        cube, wl = sample["hsi"].numpy(), sample["wavelengths"].numpy()
        if protocol == "clean":
            x = sample["rgb"].numpy()
        else:
            srgb = np.round(np.asarray(render_srgb(cube, wl)) * 255) / 255  # an 8-bit photo
            x = to_model_input(srgb, "linear", (0.0, 1.0))
        rgb.append(x.reshape(3, -1).T)
        spectra.append(cube.reshape(cube.shape[0], -1).T)
    model = ssrzoo.create_model("root_poly2.ntire2020")
    model.fit(np.concatenate(rgb), np.concatenate(spectra))
    model.pretrained_cfg = model.pretrained_cfg.replace(tag=f"docs_{protocol}")
    return model.eval()


def ground_truth(data: Path | None) -> tuple[np.ndarray, np.ndarray, str]:
    """A cube ``(31, H, W)`` normalised to its 99.9th percentile, its wavelengths, a label."""
    if data is not None:
        sample = CAVECrops(data, scenes=["chart_and_stuffed_toy_150"])[0]
        label = "CAVE chart_and_stuffed_toy (crop)"
    else:
        sample = SyntheticScenes(size=128, length=1, seed=7)[0]
        label = "synthetic scene (seed 7)"
    cube = sample["hsi"].numpy()
    cube = cube / float(np.percentile(cube, 99.9))
    print(f"ground truth: {label}")
    return cube.astype(np.float32), sample["wavelengths"].numpy().astype(np.float64), label


def example_photo() -> np.ndarray | Path:
    """The repository's example photo, or an 8-bit sRGB rendering of a synthetic scene."""
    if EXAMPLE.is_file():
        return EXAMPLE
    print(f"{EXAMPLE.relative_to(REPO)} is missing; using a synthetic scene's sRGB rendering")
    sample = SyntheticScenes(size=(192, 256), length=1, seed=3)[0]
    srgb = np.asarray(render_srgb(sample["hsi"].numpy(), sample["wavelengths"].numpy()))
    return (srgb.transpose(1, 2, 0) * 255).round().astype(np.uint8)


def quickstart_figures(model: torch.nn.Module, out: Path) -> None:
    result = ssrzoo.predict(model, example_photo(), device="cpu")
    h, w = result.height, result.width
    plot_round_trip(result, path=out / "quickstart_round_trip.png")
    plot_bands(result, max_side=128, path=out / "quickstart_bands.png")  # panels are small
    region = (h // 8, w // 8, h // 8 + h // 6, w // 8 + w // 6)
    plot_spectra(
        result, pixels=[(h // 2, w // 3)], regions=[region], path=out / "quickstart_spectra.png"
    )


def protocols_figure(cube: np.ndarray, wl: np.ndarray, label: str, out: Path) -> None:
    from matplotlib.figure import Figure

    preview = np.asarray(render_srgb(cube, wl))
    clean = simulate_rgb(cube, wl, "clean")
    realistic = simulate_rgb(
        cube, wl, "realistic", response="nikon_5100_npl", seed=0, npe=750, jpeg_quality=65
    )
    panels = [
        ("sRGB preview (render_srgb)", preview),
        ("clean: CIE 1964 x̄ȳz̄ as RGB, 8 bit", clean),
        ("realistic: Nikon 5100, noise, JPEG 65", realistic),
    ]
    h, w = cube.shape[1:]
    zoom = (slice(h // 3, h // 3 + h // 4), slice(w // 3, w // 3 + w // 4))
    fig = Figure(figsize=(12, 6.6), layout="constrained")
    axes = fig.subplots(2, 3)
    for col, (title, image) in enumerate(panels):
        picture = np.clip(np.asarray(image).transpose(1, 2, 0), 0, 1)
        axes[0, col].imshow(picture, interpolation="nearest")
        axes[0, col].set_title(title, fontsize=10)
        axes[1, col].imshow(picture[zoom], interpolation="nearest")
        axes[1, col].set_title("detail (4x)", fontsize=9)
        for ax in axes[:, col]:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle(f"{label}: one cube, three renderings", fontsize=11)
    save_figure(fig, out / "protocols_rgb.png")


def error_map_figure(model: torch.nn.Module, cube: np.ndarray, wl: np.ndarray, out: Path) -> None:
    rgb = simulate_rgb(torch.from_numpy(cube), wl, "clean")  # NTIRE2020 Clean, gain='max'
    with torch.no_grad():
        pred = model(rgb[None].float())[0].numpy()
    name = model.pretrained_cfg.name
    plot_error_map(SpectralImage(pred, wl, model=name), cube, path=out / "evaluate_error_map.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None, help="the shared data folder")
    parser.add_argument("--model", default="mae_ktsr_ntire", help="weight to draw with")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "images")
    args = parser.parse_args()
    torch.manual_seed(0)
    args.out.mkdir(parents=True, exist_ok=True)
    quickstart_figures(load_model(args.model, "photo"), args.out)
    cube, wl, label = ground_truth(args.data)
    protocols_figure(cube, wl, label, args.out)
    error_map_figure(load_model(args.model, "clean"), cube, wl, args.out)
    for name in ("quickstart_round_trip", "quickstart_bands", "quickstart_spectra"):
        print(args.out / f"{name}.png")
    print(args.out / "protocols_rgb.png")
    print(args.out / "evaluate_error_map.png")


if __name__ == "__main__":
    main()
