"""Downstream use of reconstructed spectra: land-cover classification of pixels.

The application of the MAE-KTSR paper (Feng et al., IEEE TCI 2025): classify the pixels of a
scene from a simulated RGB photo, from the cube a model reconstructs from that photo, and from
the real cube, with the same split and the same classifier, and compare overall accuracy (OA),
average accuracy (AA) and Cohen's kappa.

* :func:`classify_pixels`, :func:`classification_metrics`, :class:`ClassificationResult`:
  one classifier (scikit-learn RBF SVM or random forest) on per-pixel spectra;
  :func:`mcnemar_test` compares two classifiers on the same test pixels.
* :class:`PixelSplit`, :func:`stratified_split`, :func:`block_split`,
  :func:`split_from_label_maps`: fixed, seeded, disjoint train/test pixel sets (per pixel,
  by spatial blocks, or predefined).
* :func:`compare_inputs`, :class:`InputComparison`: the end-to-end pipeline (resample to the
  model's bands, simulate RGB with the model's own camera, reconstruct, classify RGB, the
  reconstruction, the real cube and a random-weights control).
* :func:`pavia_university_scene`: a user's ``PaviaU.mat`` with the standard disjoint split.

Results on the Houston 2018 crop: ``docs/results/classification.md``
(``benchmarks/classification.py``).
"""

from __future__ import annotations

from .classification import (
    CLASSIFIERS,
    INPUTS,
    ClassificationResult,
    InputComparison,
    InputScore,
    PixelSplit,
    block_split,
    classification_metrics,
    classify_pixels,
    compare_inputs,
    make_classifier,
    mcnemar_test,
    model_rgb_response,
    pavia_university_scene,
    split_from_label_maps,
    stratified_split,
)

__all__ = [
    "CLASSIFIERS",
    "INPUTS",
    "ClassificationResult",
    "InputComparison",
    "InputScore",
    "PixelSplit",
    "block_split",
    "classification_metrics",
    "classify_pixels",
    "compare_inputs",
    "make_classifier",
    "mcnemar_test",
    "model_rgb_response",
    "pavia_university_scene",
    "split_from_label_maps",
    "stratified_split",
]
