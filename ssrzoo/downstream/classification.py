"""Pixel classification from RGB, reconstructed and real spectra.

The downstream test of spectral reconstruction in the MAE-KTSR paper (Feng et al., "Masked
Autoencoder-Based Knowledge Transfer for Spectral Reconstruction From RGB Images", IEEE TCI
2025): if a reconstructed cube carries real spectral information, a per-pixel classifier
trained on it should beat the same classifier trained on the RGB photo it came from, and
approach the one trained on the real cube.

Protocol of :func:`compare_inputs`, for a real cube with land-cover labels:

1. the cube is divided by one scalar (by default its 99.9th percentile, the exposure
   normalisation of :class:`~ssrzoo.data.HoustonCrop` and
   :class:`~ssrzoo.data.RemoteSensingScenes`) and resampled to the model's band grid
   (``pretrained_cfg.wavelengths``) with :func:`ssrzoo.spectral.resample`, unless it is
   already on it (Pavia University's 103 ROSIS bands are the ``mae_ktsr_pavia`` grid);
2. the RGB photo is simulated from that cube with the model's own camera
   (``pretrained_cfg.response``) through :class:`~ssrzoo.data.SimulateRGB`'s clean pipeline
   (fixed "white" gain, clipping, 8-bit quantisation): the RGB the weight was trained on;
3. the model reconstructs the cube from that RGB (:class:`~ssrzoo.inference.Reconstructor`);
4. one classifier per input (RGB, 3 features; reconstructed cube; real cube) is trained on
   the same training pixels and scored on the same test pixels: overall accuracy (OA),
   average (per-class) accuracy (AA) and Cohen's kappa.

A control input, ``'untrained'``, is the cube reconstructed by the same architecture with
random weights. It matters: a reconstruction network computes each pixel's output from a
neighbourhood of the RGB photo, so its output carries spatial context that a per-pixel
classifier on the real cube does not see. Even random weights can then beat the real cube,
above all under a per-pixel random split (see :func:`block_split`); only the gap between
``'reconstructed'`` and ``'untrained'`` measures what the trained weights add.

Classifiers are scikit-learn's: an RBF support-vector machine on standardised features
(``C=100``, ``gamma='scale'``) or a random forest (200 trees). Both are fixed, not tuned per
input, so the comparison changes the features only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from ..data import PaviaUniversity, SimulateRGB, make_sample
from ..data.transforms import resample_cube
from ..inference import Reconstructor
from ..metrics import mrae, rmse, sam
from ..spectral import SpectralResponse, get_response, list_responses

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

#: Classifier names understood by :func:`make_classifier`.
CLASSIFIERS: tuple[str, ...] = ("svm", "rf")
#: Inputs compared by :func:`compare_inputs`, in table order.
INPUTS: tuple[str, ...] = ("rgb", "untrained", "reconstructed", "real")


# --------------------------------------------------------------------------------------------
# Arrays and splits
# --------------------------------------------------------------------------------------------


def _numpy(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def _as_cube(x: Any, name: str) -> np.ndarray:
    arr = _numpy(x)
    if arr.ndim != 3:
        raise ValueError(
            f"{name} must be a (C, H, W) array (bands first), got shape {arr.shape}; "
            f"transpose an (H, W, C) cube with .transpose(2, 0, 1)"
        )
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise TypeError(f"{name} must be numeric, got dtype {arr.dtype}")
    return arr


def _as_labels(x: Any, name: str = "labels") -> np.ndarray:
    arr = _numpy(x)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be an (H, W) label map, got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        if np.issubdtype(arr.dtype, np.floating) and np.all(arr == np.round(arr)):
            arr = arr.astype(np.int64)
        else:
            raise TypeError(f"{name} must hold integer class ids (0 = unlabelled), got {arr.dtype}")
    if arr.size and arr.min() < 0:
        raise ValueError(f"{name} holds negative class ids (min {arr.min()}); use 0 = unlabelled")
    return arr.astype(np.int64, copy=False)


def _as_mask(x: Any, name: str, shape: tuple[int, ...]) -> np.ndarray:
    arr = _numpy(x)
    if arr.dtype != np.bool_:
        raise TypeError(
            f"{name} must be a boolean (H, W) mask, got dtype {arr.dtype}; pass e.g. "
            f"train_labels > 0"
        )
    if arr.shape != shape:
        raise ValueError(f"{name} has shape {arr.shape}, the label map is {shape}")
    return arr


def _check_split(labels: Any, train: Any, test: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validated ``(labels int64, train bool, test bool)``; raises on anything unusable."""
    labels = _as_labels(labels)
    train = _as_mask(train, "train_mask", labels.shape)
    test = _as_mask(test, "test_mask", labels.shape)
    both = int(np.count_nonzero(train & test))
    if both:
        raise ValueError(
            f"train and test masks share {both} pixels; a split must be disjoint (build one "
            f"with stratified_split or split_from_label_maps)"
        )
    for name, mask in (("train_mask", train), ("test_mask", test)):
        if not mask.any():
            raise ValueError(f"{name} selects no pixels")
        unlabelled = int(np.count_nonzero(mask & (labels == 0)))
        if unlabelled:
            raise ValueError(
                f"{name} selects {unlabelled} unlabelled pixels (label 0); select labelled "
                f"pixels only, e.g. mask & (labels > 0)"
            )
    untrained = sorted(set(np.unique(labels[test]).tolist()) - set(np.unique(labels[train])))
    if untrained:
        raise ValueError(
            f"class(es) {untrained} have test pixels but no training pixels; a classifier "
            f"cannot predict them; give each class training pixels or drop it from the test set"
        )
    return labels, train, test


@dataclass(frozen=True)
class PixelSplit:
    """Disjoint training and test pixels of one labelled scene.

    Attributes:
        labels: ``(H, W)`` int64 class ids, 0 = unlabelled.
        train: ``(H, W)`` bool, the training pixels (all labelled).
        test: ``(H, W)`` bool, the test pixels (labelled, none in ``train``).
        description: how the split was made, for tables and reports.

    Raises:
        ValueError: shapes differ, the masks overlap or select unlabelled pixels, or a test
            class has no training pixel.
    """

    labels: np.ndarray
    train: np.ndarray
    test: np.ndarray
    description: str = ""

    def __post_init__(self) -> None:
        labels, train, test = _check_split(self.labels, self.train, self.test)
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "train", train)
        object.__setattr__(self, "test", test)

    @property
    def classes(self) -> tuple[int, ...]:
        """The class ids with training or test pixels, ascending."""
        used = self.labels[self.train | self.test]
        return tuple(int(c) for c in np.unique(used))

    @property
    def n_train(self) -> int:
        """Number of training pixels."""
        return int(np.count_nonzero(self.train))

    @property
    def n_test(self) -> int:
        """Number of test pixels."""
        return int(np.count_nonzero(self.test))

    def counts(self) -> dict[int, tuple[int, int]]:
        """``{class id: (training pixels, test pixels)}``."""
        return {
            c: (
                int(np.count_nonzero(self.train & (self.labels == c))),
                int(np.count_nonzero(self.test & (self.labels == c))),
            )
            for c in self.classes
        }


def stratified_split(labels: Any, train_size: float | int = 0.1, *, seed: int = 0) -> PixelSplit:
    """A seeded, stratified, disjoint split of every labelled pixel into train and test.

    Each class is split on its own: its labelled pixels are shuffled with one
    ``numpy.random.default_rng(seed)`` (classes visited in ascending order) and the first
    ``k`` go to training, all the others to testing. Pixels are drawn independently of their
    position, the usual protocol for per-pixel spectral classifiers; neighbouring train and
    test pixels are correlated, so absolute accuracies are optimistic (compare inputs under
    the same split, as :func:`compare_inputs` does, rather than against other papers).

    Args:
        labels: ``(H, W)`` integer class ids, 0 = unlabelled (never used).
        train_size: a float in (0, 1): that fraction of each class, ``k = round(f * n)``
            clamped to ``[1, n - 1]``; or an int ``N >= 1``: ``N`` pixels of each class
            (every class needs more than ``N``).
        seed: the generator's seed; the same labels and seed give the same split.

    Returns:
        :class:`PixelSplit`.

    Raises:
        ValueError: no labelled pixels, a bad ``train_size``, or a class too small to have
            both training and test pixels.
    """
    labels = _as_labels(labels)
    classes = [int(c) for c in np.unique(labels) if c != 0]
    if not classes:
        raise ValueError("the label map has no labelled pixels (all 0)")
    per_class = isinstance(train_size, (int, np.integer)) and not isinstance(train_size, bool)
    if per_class:
        if train_size < 1:
            raise ValueError(f"train_size={train_size} pixels per class must be >= 1")
    elif not 0.0 < float(train_size) < 1.0:
        raise ValueError(
            f"train_size={train_size!r} must be a fraction in (0, 1) or a pixel count >= 1"
        )
    rng = np.random.default_rng(seed)
    flat = labels.reshape(-1)
    train = np.zeros(flat.size, dtype=bool)
    for c in classes:
        idx = np.flatnonzero(flat == c)
        n = idx.size
        if n < 2:
            raise ValueError(
                f"class {c} has {n} labelled pixel; it cannot have both training and test "
                f"pixels; set it to 0 (unlabelled) to leave it out"
            )
        if per_class:
            k = int(train_size)
            if k >= n:
                raise ValueError(
                    f"class {c} has {n} labelled pixels, not more than train_size={k}; pass a "
                    f"smaller count or a fraction such as 0.1"
                )
        else:
            k = min(max(round(float(train_size) * n), 1), n - 1)
        train[rng.permutation(idx)[:k]] = True
    train = train.reshape(labels.shape)
    test = (labels > 0) & ~train
    if per_class:
        how = f"{int(train_size)} pixels of each class"
    else:
        how = f"{float(train_size):.0%} of each class's pixels (at least 1)"
    description = f"stratified random split: {how} for training, the rest for testing (seed {seed})"
    return PixelSplit(labels, train, test, description)


def block_split(
    labels: Any,
    train_fraction: float = 0.3,
    *,
    block_size: int = 16,
    margin: int = 0,
    seed: int = 0,
) -> PixelSplit:
    """A seeded, spatially disjoint split: whole square blocks go to training or testing.

    Per-pixel random splits put training and test pixels side by side; features computed
    from a neighbourhood (as every reconstruction network's are) then make neighbours almost
    identical and inflate test accuracy. Here the image is cut into ``block_size`` squares,
    visited in a seeded random order; a block goes to training while the classes it holds are
    still short of ``train_fraction`` of their pixels (at least half of the block's labelled
    pixels still needed), else to testing. Test pixels closer than ``margin`` pixels (Chebyshev
    distance) to a training pixel are dropped. Classes left without any training pixel are
    dropped from the test set, and the description says so.

    Args:
        labels: ``(H, W)`` integer class ids, 0 = unlabelled.
        train_fraction: target fraction of each class's pixels in training blocks, in (0, 1).
        block_size: block side in pixels.
        margin: buffer (pixels) between training pixels and test pixels.
        seed: the generator's seed.

    Returns:
        :class:`PixelSplit`.
    """
    from scipy.ndimage import binary_dilation

    labels = _as_labels(labels)
    if not 0.0 < train_fraction < 1.0:
        raise ValueError(f"train_fraction={train_fraction} must be in (0, 1)")
    if block_size < 1 or margin < 0:
        raise ValueError(f"block_size={block_size} must be >= 1 and margin={margin} >= 0")
    if not (labels > 0).any():
        raise ValueError("the label map has no labelled pixels (all 0)")
    h, w = labels.shape
    rows, cols = -(-h // block_size), -(-w // block_size)
    n_classes = int(labels.max()) + 1
    target = np.bincount(labels.reshape(-1), minlength=n_classes) * train_fraction
    target[0] = 0
    have = np.zeros(n_classes)
    train = np.zeros_like(labels, dtype=bool)
    rng = np.random.default_rng(seed)
    for b in rng.permutation(rows * cols):
        r, c = divmod(int(b), cols)
        window = (
            slice(r * block_size, (r + 1) * block_size),
            slice(c * block_size, (c + 1) * block_size),
        )
        counts = np.bincount(labels[window].reshape(-1), minlength=n_classes)
        counts[0] = 0
        if counts.sum() == 0:
            continue
        needed = np.minimum(counts, np.maximum(target - have, 0)).sum()
        if needed >= 0.5 * counts.sum():
            train[window] = labels[window] > 0
            have += counts
    test = (labels > 0) & ~train
    if margin:
        near = binary_dilation(train, structure=np.ones((2 * margin + 1,) * 2, dtype=bool))
        test &= ~near
    trained = np.unique(labels[train])
    dropped = sorted(int(c) for c in np.unique(labels[test]) if c not in trained)
    test &= ~np.isin(labels, dropped)
    how = (
        f"spatially disjoint block split: {block_size}x{block_size} px blocks, about "
        f"{train_fraction:.0%} of each class's pixels in training blocks"
    )
    if margin:
        how += f", test pixels at least {margin + 1} px from any training pixel"
    how += f" (seed {seed})"
    if dropped:
        how += f"; class(es) {dropped} left out (no training block holds them)"
    return PixelSplit(labels, train, test, how)


def split_from_label_maps(train_labels: Any, test_labels: Any, description: str = "") -> PixelSplit:
    """A predefined split given as two label maps, e.g. Pavia University's disjoint sets.

    Args:
        train_labels: ``(H, W)`` class ids of the training pixels, 0 elsewhere.
        test_labels: ``(H, W)`` class ids of the test pixels, 0 elsewhere.
        description: how the split was made.

    Returns:
        :class:`PixelSplit` whose ``labels`` merge both maps.

    Raises:
        ValueError: the maps differ in shape or label a common pixel.
    """
    train_labels = _as_labels(train_labels, "train_labels")
    test_labels = _as_labels(test_labels, "test_labels")
    if train_labels.shape != test_labels.shape:
        raise ValueError(
            f"train_labels {train_labels.shape} and test_labels {test_labels.shape} differ in shape"
        )
    train, test = train_labels > 0, test_labels > 0
    both = int(np.count_nonzero(train & test))
    if both:
        raise ValueError(
            f"{both} pixels are labelled in both the training and the test map; a disjoint "
            f"split must not share pixels"
        )
    labels = np.where(train, train_labels, test_labels)
    return PixelSplit(labels, train, test, description)


# --------------------------------------------------------------------------------------------
# Metrics and classifiers
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClassificationResult:
    """Accuracy of one classifier on the test pixels of one split.

    Attributes:
        oa: overall accuracy, correct test pixels / test pixels, in [0, 1].
        aa: average accuracy, the mean of ``per_class`` (each class weighs the same).
        kappa: Cohen's kappa, agreement beyond chance (1 perfect, 0 chance level).
        per_class: ``{class id: recall}`` for every class with test pixels.
        confusion: ``(K, K)`` counts, row = true class, column = predicted class, both in
            the order of ``classes``.
        classes: the class ids indexing ``confusion``.
        n_train: training pixels (0 when built by :func:`classification_metrics`).
        n_test: test pixels.
        classifier: the classifier's name.
        prediction: ``(H, W)`` int64 predicted class on the test pixels, 0 elsewhere (None
            when built from label vectors).
    """

    oa: float
    aa: float
    kappa: float
    per_class: dict[int, float]
    confusion: np.ndarray = field(repr=False)
    classes: tuple[int, ...]
    n_train: int = 0
    n_test: int = 0
    classifier: str = ""
    prediction: np.ndarray | None = field(default=None, repr=False)


def classification_metrics(
    y_true: Any, y_pred: Any, classes: Sequence[int] | None = None
) -> ClassificationResult:
    """OA, AA, kappa, per-class accuracy and confusion matrix of predicted labels.

    Args:
        y_true: ``(N,)`` true class ids.
        y_pred: ``(N,)`` predicted class ids.
        classes: the confusion matrix's class order; default every id in either vector.

    Returns:
        :class:`ClassificationResult` (``n_test = N``).
    """
    from sklearn.metrics import cohen_kappa_score, confusion_matrix

    t = _numpy(y_true).reshape(-1)
    p = _numpy(y_pred).reshape(-1)
    if t.shape != p.shape or t.size == 0:
        raise ValueError(f"y_true {t.shape} and y_pred {p.shape} must be equal, non-empty vectors")
    order = sorted({*t.tolist(), *p.tolist()}) if classes is None else [int(c) for c in classes]
    missing = sorted({*t.tolist(), *p.tolist()} - set(order))
    if missing:
        raise ValueError(f"labels {missing} are not in classes={order}")
    conf = confusion_matrix(t, p, labels=order)
    support = conf.sum(axis=1)
    per_class = {
        int(c): float(conf[i, i] / support[i]) for i, c in enumerate(order) if support[i] > 0
    }
    kappa = float(cohen_kappa_score(t, p, labels=order))
    return ClassificationResult(
        oa=float(np.trace(conf) / t.size),
        aa=float(np.mean(list(per_class.values()))),
        kappa=kappa,
        per_class=per_class,
        confusion=conf,
        classes=tuple(int(c) for c in order),
        n_test=int(t.size),
    )


def mcnemar_test(a: ClassificationResult, b: ClassificationResult, labels: Any) -> float:
    """Two-sided exact McNemar p-value: do two classifiers differ on the same test pixels?

    Counts the test pixels that only ``a`` gets right (``n01``) and only ``b`` gets right
    (``n10``) and tests ``n01 = n10`` with a binomial test (McNemar 1947; Dietterich 1998
    recommends it for comparing classifiers on one test set). It assumes independent pixels;
    neighbouring pixels of one scene are correlated, so read small p-values as optimistic.

    Args:
        a: a result of :func:`classify_pixels` (with ``prediction``).
        b: another, on the same test pixels.
        labels: ``(H, W)`` true class ids of those pixels.

    Returns:
        The p-value in [0, 1] (1.0 when the two never disagree on correctness).
    """
    from scipy.stats import binomtest

    if a.prediction is None or b.prediction is None:
        raise ValueError("both results need a prediction map; use results of classify_pixels")
    test_a, test_b = a.prediction > 0, b.prediction > 0
    if not np.array_equal(test_a, test_b):
        raise ValueError("the two results cover different test pixels; compare one split only")
    truth = _as_labels(labels)[test_a]
    right_a = a.prediction[test_a] == truth
    right_b = b.prediction[test_b] == truth
    n01 = int(np.count_nonzero(right_a & ~right_b))
    n10 = int(np.count_nonzero(~right_a & right_b))
    if n01 + n10 == 0:
        return 1.0
    return float(binomtest(n01, n01 + n10, 0.5).pvalue)


def make_classifier(
    classifier: str | Any = "svm", *, seed: int = 0, standardize: bool = True, **kwargs: Any
) -> Any:
    """A fresh scikit-learn classifier.

    Args:
        classifier: ``'svm'``: ``SVC(kernel='rbf', C=100, gamma='scale')``; ``'rf'``:
            ``RandomForestClassifier(n_estimators=200, n_jobs=1)``; or an unfitted
            scikit-learn estimator, which is cloned.
        seed: ``random_state`` of the classifier.
        standardize: put a ``StandardScaler`` before the SVM (zero mean, unit variance per
            feature, fitted on the training pixels). Random forests ignore it (trees do not
            depend on feature scale).
        **kwargs: override the named classifier's parameters (``C=10``, ``n_estimators=50``).

    Returns:
        An unfitted estimator with ``fit`` and ``predict``.
    """
    from sklearn.base import clone
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    if not isinstance(classifier, str):
        if not (hasattr(classifier, "fit") and hasattr(classifier, "predict")):
            raise TypeError(
                f"classifier must be one of {list(CLASSIFIERS)} or a scikit-learn estimator, "
                f"got {type(classifier).__name__}"
            )
        return clone(classifier)
    if classifier == "svm":
        svc = SVC(**{"kernel": "rbf", "C": 100.0, "gamma": "scale", "random_state": seed, **kwargs})
        return make_pipeline(StandardScaler(), svc) if standardize else svc
    if classifier == "rf":
        params = {"n_estimators": 200, "random_state": seed, "n_jobs": 1, **kwargs}
        return RandomForestClassifier(**params)
    raise ValueError(f"unknown classifier {classifier!r}; use one of {list(CLASSIFIERS)}")


def classify_pixels(
    features: Any,
    labels: Any,
    train_mask: Any,
    test_mask: Any,
    classifier: str | Any = "svm",
    *,
    seed: int = 0,
    standardize: bool = True,
    **classifier_kwargs: Any,
) -> ClassificationResult:
    """Train a classifier on the training pixels' feature vectors, score it on the test pixels.

    Args:
        features: ``(C, H, W)`` numpy array or tensor: one ``C``-vector per pixel (a spectrum,
            or the 3 RGB values), any units.
        labels: ``(H, W)`` integer class ids, 0 = unlabelled.
        train_mask: ``(H, W)`` bool, the training pixels.
        test_mask: ``(H, W)`` bool, the test pixels; disjoint from ``train_mask``.
        classifier: ``'svm'``, ``'rf'`` or an estimator (see :func:`make_classifier`).
        seed: the classifier's ``random_state``.
        standardize: standardise features before the SVM.
        **classifier_kwargs: passed to :func:`make_classifier`.

    Returns:
        :class:`ClassificationResult` with ``prediction`` set.

    Raises:
        ValueError: shapes that disagree, overlapping or empty masks, masks on unlabelled
            pixels, test classes without training pixels, or NaN/inf features.
    """
    feats = _as_cube(features, "features")
    labels, train, test = _check_split(labels, train_mask, test_mask)
    if feats.shape[1:] != labels.shape:
        raise ValueError(
            f"features are {feats.shape[1]}x{feats.shape[2]} px, the labels "
            f"{labels.shape[0]}x{labels.shape[1]} px; they must cover the same pixels"
        )
    x_train = feats[:, train].T.astype(np.float64)
    x_test = feats[:, test].T.astype(np.float64)
    for name, x in (("training", x_train), ("test", x_test)):
        bad = ~np.isfinite(x)
        if bad.any():
            raise ValueError(
                f"features hold NaN/inf at {int(bad.any(axis=1).sum())} {name} pixels; fill "
                f"them or remove those pixels from the mask"
            )
    y_train, y_test = labels[train], labels[test]
    estimator = make_classifier(classifier, seed=seed, standardize=standardize, **classifier_kwargs)
    estimator.fit(x_train, y_train)
    y_pred = np.asarray(estimator.predict(x_test), dtype=np.int64)
    classes = sorted({*np.unique(y_train).tolist(), *np.unique(y_test).tolist()})
    result = classification_metrics(y_test, y_pred, classes)
    prediction = np.zeros(labels.shape, dtype=np.int64)
    prediction[test] = y_pred
    name = classifier if isinstance(classifier, str) else type(classifier).__name__
    return ClassificationResult(
        oa=result.oa,
        aa=result.aa,
        kappa=result.kappa,
        per_class=result.per_class,
        confusion=result.confusion,
        classes=result.classes,
        n_train=int(y_train.size),
        n_test=int(y_test.size),
        classifier=name,
        prediction=prediction,
    )


# --------------------------------------------------------------------------------------------
# The pipeline: real cube -> RGB -> reconstruction -> three classifiers
# --------------------------------------------------------------------------------------------


def model_rgb_response(
    cfg: Any, response: str | SpectralResponse | None = None
) -> SpectralResponse:
    """The camera response that renders a model's training RGB, on its band grid.

    Args:
        cfg: the model's ``pretrained_cfg``.
        response: an explicit response (name or object) to use instead, e.g. for a model
            built without weights, whose cfg carries no numbers.

    Returns:
        A :class:`~ssrzoo.spectral.SpectralResponse` with ``cfg.in_chans`` channels: the
        cfg's ``response`` rows (the trained camera, fixed gain included), else its
        registered ``response_name``, else ``response``.

    Raises:
        ValueError: no response is known, or the channel count is not the model's.
    """
    if response is not None:
        resp = get_response(response)
    elif cfg.response:
        resp = SpectralResponse.from_cfg(cfg)
    elif cfg.response_name and cfg.response_name in list_responses():
        resp = get_response(cfg.response_name)
    else:
        raise ValueError(
            f"model {cfg.name!r} carries no camera response (pretrained_cfg.response is empty "
            f"and response_name {cfg.response_name!r} is not registered); pass response=..., "
            f"e.g. ssrzoo.spectral.load_rosis_srf(path).select(['R', 'G', 'B'])"
        )
    if resp.num_channels != cfg.in_chans:
        raise ValueError(
            f"response {resp.name!r} has {resp.num_channels} channels, model {cfg.name!r} "
            f"takes {cfg.in_chans}; select its RGB channels with .select(['R', 'G', 'B'])"
        )
    return resp


@dataclass(frozen=True)
class InputScore:
    """One row of :class:`InputComparison`: one input under one classifier.

    Attributes:
        input: one of :data:`INPUTS`.
        classifier: ``'svm'`` or ``'rf'``.
        num_features: features per pixel (3 for RGB, the model's band count otherwise).
        result: the full :class:`ClassificationResult`.
    """

    input: str
    classifier: str
    num_features: int
    result: ClassificationResult

    @property
    def oa(self) -> float:
        """Overall accuracy."""
        return self.result.oa

    @property
    def aa(self) -> float:
        """Average accuracy."""
        return self.result.aa

    @property
    def kappa(self) -> float:
        """Cohen's kappa."""
        return self.result.kappa


@dataclass(frozen=True)
class InputComparison:
    """What :func:`compare_inputs` measured.

    Attributes:
        rows: one :class:`InputScore` per classifier and input.
        split: the training/test pixels used by every row.
        model: the reconstruction model's name.
        wavelengths: the model's band centres (nm); ``real`` and ``reconstruction`` are on them.
        scale: what the input cube was divided by before anything else.
        reconstruction_quality: ``{'mrae', 'rmse', 'sam'}`` of ``reconstruction`` against
            ``real`` over the whole scene (SAM in degrees); with the control input also
            ``'untrained_mrae'``, ``'untrained_rmse'``, ``'untrained_sam'``.
        rgb: ``(3, H, W)`` the simulated RGB in [0, 1].
        reconstruction: ``(C, H, W)`` float32, the model's cube.
        real: ``(C, H, W)`` float32, the normalised real cube on the model's bands.
    """

    rows: tuple[InputScore, ...]
    split: PixelSplit = field(repr=False)
    model: str
    wavelengths: np.ndarray = field(repr=False)
    scale: float
    reconstruction_quality: dict[str, float]
    rgb: np.ndarray = field(repr=False)
    reconstruction: np.ndarray = field(repr=False)
    real: np.ndarray = field(repr=False)

    def score(self, input: str, classifier: str) -> InputScore:
        """The row of ``input`` under ``classifier``."""
        for row in self.rows:
            if row.input == input and row.classifier == classifier:
                return row
        have = sorted({(r.input, r.classifier) for r in self.rows})
        raise KeyError(f"no row for input {input!r} with classifier {classifier!r}; have {have}")


def _normalise_scale(cube: np.ndarray, normalize: str | float) -> float:
    if isinstance(normalize, str):
        if normalize == "none":
            return 1.0
        if normalize != "percentile":
            raise ValueError(f"normalize={normalize!r}: use 'percentile', 'none' or a number")
        scale = float(np.percentile(cube, 99.9))
        if not scale > 0:
            raise ValueError(
                f"the cube's 99.9th percentile is {scale}; it cannot be normalised by it, pass "
                f"normalize=<a positive number>"
            )
        return scale
    if not float(normalize) > 0:
        raise ValueError(f"normalize={normalize} must be positive")
    return float(normalize)


def _random_copy(model: nn.Module, seed: int) -> nn.Module:
    """The same architecture and arguments as ``model``, freshly initialised with ``seed``."""
    args = getattr(model, "model_args", None)
    if args is None:
        raise ValueError(
            f"{type(model).__name__} has no model_args to rebuild it with random weights; "
            f"build it with ssrzoo.create_model or leave 'untrained' out of inputs"
        )
    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        control = type(model)(**args)
    finally:
        torch.random.set_rng_state(state)
    control.pretrained_cfg = model.pretrained_cfg
    return control.eval()


def compare_inputs(
    cube: Any,
    wavelengths: Any,
    split: PixelSplit,
    model: str | nn.Module,
    *,
    pretrained: bool = True,
    response: str | SpectralResponse | None = None,
    classifiers: Sequence[str] = CLASSIFIERS,
    inputs: Sequence[str] = INPUTS,
    normalize: Literal["percentile", "none"] | float = "percentile",
    resample_method: Literal["gaussian", "linear"] = "gaussian",
    edge_tolerance_nm: float = 5.0,
    seed: int = 0,
    device: str | torch.device | None = "cpu",
    tile: int | None = None,
    classifier_kwargs: Mapping[str, Mapping[str, Any]] | None = None,
) -> InputComparison:
    """Classify a scene's pixels from simulated RGB, its reconstruction and the real cube.

    See the module docstring for the protocol. Every row uses the same ``split`` and
    classifier settings; only the features change.

    Args:
        cube: ``(C, H, W)`` real cube (numpy or tensor), linear units (reflectance, radiance or
            sensor counts; see ``normalize``).
        wavelengths: its ``C`` band centres in nm.
        split: training and test pixels on the cube's ``(H, W)`` grid.
        model: a model name (``'mae_ktsr_pavia'``, ``'local-dir:runs/x/export'``) or a built
            model with a ``pretrained_cfg``.
        pretrained: with a name, load its weights.
        response: the model's camera when its cfg has none (a model without weights).
        classifiers: any of :data:`CLASSIFIERS`.
        inputs: any of :data:`INPUTS` (``'untrained'``: the control described above).
        normalize: ``'percentile'`` divides the cube by its 99.9th percentile (as the shared
            remote-sensing loaders do, so the RGB is exposed like the training data);
            ``'none'`` keeps it; a number divides by that number.
        resample_method: :func:`ssrzoo.spectral.resample` method to the model's bands.
        edge_tolerance_nm: how far the model's grid may overhang the cube's range.
        seed: classifier seed.
        device: where the model runs (None: CUDA when available).
        tile: reconstruction tile side (None: chosen from free memory; 0: whole image).
        classifier_kwargs: per-classifier overrides, e.g. ``{'rf': {'n_estimators': 50}}``.

    Returns:
        :class:`InputComparison`.

    Raises:
        ValueError: unknown inputs or classifiers, shapes that disagree, a model grid outside
            the cube's range, or a model without a known camera response.
    """
    bad = [c for c in classifiers if c not in CLASSIFIERS]
    if bad or not classifiers:
        raise ValueError(f"classifiers {list(classifiers)}: choose from {list(CLASSIFIERS)}")
    bad = [i for i in inputs if i not in INPUTS]
    if bad or not inputs:
        raise ValueError(f"inputs {list(inputs)}: choose from {list(INPUTS)}")
    data = _as_cube(cube, "cube").astype(np.float32, copy=False)
    wl = np.asarray(_numpy(wavelengths), dtype=np.float64).reshape(-1)
    if data.shape[0] != wl.size:
        raise ValueError(f"cube has {data.shape[0]} bands but {wl.size} wavelengths were given")
    if split.labels.shape != data.shape[1:]:
        raise ValueError(
            f"the split covers {split.labels.shape} px, the cube {data.shape[1:]} px; build the "
            f"split on the cube's label map"
        )
    if not np.all(np.isfinite(data)):
        raise ValueError("the cube holds NaN/inf values; fill them before classification")
    reconstructor = Reconstructor(
        model,
        pretrained=pretrained,
        device=device,
        tile=tile,
        source_encoding="linear",
        camera_correction=False,
    )
    cfg = reconstructor.cfg
    rgb_response = model_rgb_response(cfg, response)
    scale = _normalise_scale(data, normalize)
    data = data / np.float32(scale)
    grid = reconstructor.wavelengths
    if wl.size == grid.size and np.allclose(wl, grid, atol=1e-2):
        real = data
    else:
        fwhm = None if cfg.fwhm is None else np.asarray(cfg.fwhm, dtype=np.float64)
        real = resample_cube(data, wl, grid, resample_method, fwhm, edge_tolerance_nm)
        real = np.ascontiguousarray(real, dtype=np.float32)
    simulate = SimulateRGB(rgb_response, pipeline="clean")
    rgb = simulate(make_sample(real, grid))["rgb"].numpy()
    recon, _ = reconstructor.reconstruct(np.ascontiguousarray(rgb.transpose(1, 2, 0)))
    recon = np.asarray(recon, dtype=np.float32)
    pred, target = torch.from_numpy(recon), torch.from_numpy(real)
    quality = {
        "mrae": float(mrae(pred, target)),
        "rmse": float(rmse(pred, target)),
        "sam": float(sam(pred, target)),
    }
    features = {"rgb": rgb, "reconstructed": recon, "real": real}
    if "untrained" in inputs:
        control = _random_copy(reconstructor.model, seed)
        untrained_rec = Reconstructor(
            control,
            device=reconstructor.device,
            tile=tile,
            source_encoding="linear",
            wavelengths=grid.tolist(),
            camera_correction=False,
        )
        untrained, _ = untrained_rec.reconstruct(np.ascontiguousarray(rgb.transpose(1, 2, 0)))
        features["untrained"] = np.asarray(untrained, dtype=np.float32)
        control_pred = torch.from_numpy(features["untrained"])
        quality["untrained_mrae"] = float(mrae(control_pred, target))
        quality["untrained_rmse"] = float(rmse(control_pred, target))
        quality["untrained_sam"] = float(sam(control_pred, target))
    overrides = dict(classifier_kwargs or {})
    rows = tuple(
        InputScore(
            name,
            clf,
            int(features[name].shape[0]),
            classify_pixels(
                features[name],
                split.labels,
                split.train,
                split.test,
                clf,
                seed=seed,
                **dict(overrides.get(clf, {})),
            ),
        )
        for clf in classifiers
        for name in inputs
    )
    return InputComparison(
        rows=rows,
        split=split,
        model=reconstructor.name,
        wavelengths=grid.copy(),
        scale=scale,
        reconstruction_quality=quality,
        rgb=rgb,
        reconstruction=recon,
        real=real,
    )


def pavia_university_scene(
    root: str | Path, labels_root: str | Path | None = None
) -> tuple[np.ndarray, np.ndarray, PixelSplit]:
    """A user's Pavia University cube with the standard disjoint train/test split.

    Reads ``PaviaU.mat`` (key ``paviaU``) from ``root`` and the split files
    ``paviaU_train_disjoint.mat`` (key ``TRpavia_fixed``) and ``paviaU_test_disjoint.mat`` (key
    ``TSpavia_fixed``) from ``labels_root`` (default ``root``; the ssrzoo shared data folder's
    ``pavia_university`` has them), through :class:`~ssrzoo.data.PaviaUniversity`. The
    disjoint sets come from separate regions of the scene (3,921 training / 40,002 test
    pixels); 1,147 of the training pixels lie outside ``paviaU_gt``'s labelled area (the
    training polygons were drawn separately), which is why the labels are taken from the two
    split maps rather than the ground truth.

    Returns:
        ``(cube (103, 610, 340) float32 as stored, wavelengths (103,) nm, split)``: pass them
        to :func:`compare_inputs` (the 103 ROSIS bands are the ``mae_ktsr_pavia`` grid).
    """
    train = PaviaUniversity(root, split="train", labels_root=labels_root)[0]
    test = PaviaUniversity(root, split="test", labels_root=labels_root)
    split = split_from_label_maps(
        train["mask"].numpy(),
        test.read_mask(),  # the cube is read once
        "Pavia University standard disjoint split (TRpavia_fixed / TSpavia_fixed)",
    )
    return train["hsi"].numpy(), train["wavelengths"].numpy().astype(np.float64), split
