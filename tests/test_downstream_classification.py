"""Pixel classification from RGB, reconstructed and real spectra (``ssrzoo.downstream``)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import scipy.io
import torch
from benchmark_scripts import load_benchmark

import ssrzoo
from ssrzoo.data import HoustonCrop
from ssrzoo.downstream import (
    INPUTS,
    PixelSplit,
    block_split,
    classification_metrics,
    classify_pixels,
    compare_inputs,
    model_rgb_response,
    pavia_university_scene,
    split_from_label_maps,
    stratified_split,
)
from ssrzoo.exceptions import DatasetNotFoundError
from ssrzoo.spectral import SpectralResponse, load_rosis_srf

torch.set_num_threads(1)


def _label_map(seed: int = 0, shape: tuple[int, int] = (24, 30)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 4, size=shape)  # 0 = unlabelled, classes 1-3
    labels[0, :3] = [1, 2, 3]  # every class present
    return labels


# -- splits -----------------------------------------------------------------------------------


def test_stratified_split_fraction_is_disjoint_complete_and_stratified():
    labels = _label_map()
    split = stratified_split(labels, 0.25, seed=3)
    assert not (split.train & split.test).any()
    assert np.array_equal(split.train | split.test, labels > 0)
    for c in (1, 2, 3):
        n = int((labels == c).sum())
        n_train, n_test = split.counts()[c]
        assert n_train == min(max(round(0.25 * n), 1), n - 1)
        assert n_train + n_test == n
    assert split.n_train + split.n_test == int((labels > 0).sum())


def test_stratified_split_per_class_count_and_seed():
    labels = _label_map()
    a = stratified_split(labels, 7, seed=1)
    b = stratified_split(labels, 7, seed=1)
    c = stratified_split(labels, 7, seed=2)
    assert all(n_train == 7 for n_train, _ in a.counts().values())
    assert np.array_equal(a.train, b.train) and np.array_equal(a.test, b.test)
    assert not np.array_equal(a.train, c.train)
    assert "7 pixels of each class" in a.description and "seed 1" in a.description


def test_stratified_split_small_class_keeps_a_test_pixel():
    labels = np.zeros((4, 4), dtype=np.int64)
    labels[0, :2] = 1  # 2 pixels: 1 train, 1 test whatever the fraction
    labels[1:, :] = 2
    split = stratified_split(labels, 0.9, seed=0)
    assert split.counts()[1] == (1, 1)


@pytest.mark.parametrize(
    ("labels", "size", "match"),
    [
        (np.array([[1, 2, 2]]), 0.5, "class 1 has 1 labelled pixel"),
        (np.array([[1, 1, 2, 2]]), 2, "class 1 has 2 labelled pixels, not more than"),
        (np.array([[1, 1, 2, 2]]), 1.5, "must be a fraction"),
        (np.array([[1, 1, 2, 2]]), 0, "must be >= 1"),
        (np.zeros((3, 3), dtype=int), 0.1, "no labelled pixels"),
        (np.array([[-1, 1, 1]]), 0.5, "negative class ids"),
    ],
)
def test_stratified_split_errors(labels, size, match):
    with pytest.raises(ValueError, match=match):
        stratified_split(labels, size)


def test_block_split_assigns_whole_blocks_and_keeps_a_margin():
    labels = _label_map(1, (40, 48))
    split = block_split(labels, 0.4, block_size=8, margin=2, seed=0)
    assert not (split.train & split.test).any()
    for r in range(0, 40, 8):
        for c in range(0, 48, 8):
            lab = labels[r : r + 8, c : c + 8] > 0
            tr = split.train[r : r + 8, c : c + 8]
            assert not tr.any() or np.array_equal(tr, lab)  # all or nothing
    # Brute-force Chebyshev distance from every test pixel to the nearest training pixel.
    ty, tx = np.nonzero(split.train)
    for y, x in zip(*np.nonzero(split.test), strict=True):
        assert np.max(np.stack([abs(ty - y), abs(tx - x)]), axis=0).min() > 2
    share = split.n_train / int((labels > 0).sum())
    assert 0.25 < share < 0.6


def test_block_split_drops_classes_without_training_blocks():
    labels = np.ones((16, 16), dtype=np.int64)
    labels[12:, 12:] = 2  # class 2 lives in one 4x4 block only
    for seed in range(20):
        split = block_split(labels, 0.3, block_size=4, seed=seed)
        if not split.train[labels == 2].any():
            assert not split.test[labels == 2].any()
            assert "class(es) [2] left out" in split.description
            return
    pytest.fail("no seed put the class-2 block in the test set")


def test_split_from_label_maps_merges_and_rejects_overlap():
    train = np.array([[1, 0, 0], [0, 2, 0]])
    test = np.array([[0, 1, 0], [2, 0, 2]])
    split = split_from_label_maps(train, test, "given")
    assert np.array_equal(split.labels, [[1, 1, 0], [2, 2, 2]])
    assert np.array_equal(split.train, train > 0) and np.array_equal(split.test, test > 0)
    with pytest.raises(ValueError, match="1 pixels are labelled in both"):
        split_from_label_maps(train, np.array([[1, 1, 0], [0, 0, 0]]))


def test_pixel_split_validates():
    labels = np.array([[1, 1, 2, 2, 0]])
    with pytest.raises(ValueError, match="share 2 pixels"):
        PixelSplit(labels, labels > 0, np.array([[1, 0, 0, 1, 0]], bool))
    with pytest.raises(ValueError, match="1 unlabelled pixels"):
        PixelSplit(labels, np.array([[1, 0, 1, 0, 0]], bool), np.array([[0, 1, 0, 1, 1]], bool))
    with pytest.raises(ValueError, match=r"class\(es\) \[2\] have test pixels but no training"):
        PixelSplit(labels, np.array([[1, 0, 0, 0, 0]], bool), np.array([[0, 1, 1, 1, 0]], bool))
    with pytest.raises(TypeError, match="boolean"):
        PixelSplit(labels, np.array([[1, 0, 1, 0, 0]]), np.array([[0, 1, 0, 1, 0]], bool))


# -- metrics ----------------------------------------------------------------------------------


def test_metrics_match_a_hand_computed_confusion_matrix():
    y_true = [1, 1, 1, 2, 2, 3]
    y_pred = [1, 1, 2, 2, 2, 1]
    # Rows = true (1, 2, 3), columns = predicted.
    conf = np.array([[2, 1, 0], [0, 2, 0], [1, 0, 0]])
    r = classification_metrics(y_true, y_pred)
    assert r.classes == (1, 2, 3)
    assert np.array_equal(r.confusion, conf)
    assert r.oa == pytest.approx(4 / 6)
    assert r.per_class == pytest.approx({1: 2 / 3, 2: 1.0, 3: 0.0})
    assert r.aa == pytest.approx((2 / 3 + 1 + 0) / 3)
    # kappa = (po - pe) / (1 - pe), pe = sum(row_i * col_i) / N^2 = (3*3 + 2*3 + 1*0) / 36.
    pe = 15 / 36
    assert r.kappa == pytest.approx((4 / 6 - pe) / (1 - pe))
    assert r.n_test == 6


def test_metrics_with_extra_class_order():
    r = classification_metrics([2, 2], [2, 5], classes=[2, 5, 7])
    assert r.confusion.shape == (3, 3)
    assert r.per_class == {2: 0.5}  # classes 5 and 7 have no test pixels
    with pytest.raises(ValueError, match=r"labels \[5\] are not in"):
        classification_metrics([2, 2], [2, 5], classes=[2])


# -- classify_pixels --------------------------------------------------------------------------


def _separable(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(1, 4, size=(20, 20))
    means = np.array([[0.0, 0.0, 0.0, 0.0], [5.0, 0.0, 5.0, 0.0], [0.0, 5.0, 0.0, 5.0]])
    feats = means[labels - 1].transpose(2, 0, 1) + 0.3 * rng.standard_normal((4, 20, 20))
    return feats, labels


@pytest.mark.parametrize("classifier", ["svm", "rf"])
def test_classify_separable_classes_perfectly(classifier):
    feats, labels = _separable()
    split = stratified_split(labels, 0.2, seed=0)
    r = classify_pixels(feats, split.labels, split.train, split.test, classifier)
    assert r.oa == 1.0 and r.aa == 1.0 and r.kappa == pytest.approx(1.0)
    assert r.n_train == split.n_train and r.n_test == split.n_test
    assert np.array_equal(r.prediction, np.where(split.test, labels, 0))


def test_classify_shuffled_labels_is_near_chance():
    feats, labels = _separable()
    shuffled = np.random.default_rng(1).permutation(labels.reshape(-1)).reshape(labels.shape)
    split = stratified_split(shuffled, 0.5, seed=0)
    r = classify_pixels(feats, split.labels, split.train, split.test, "svm")
    assert r.oa < 0.5  # 3 balanced classes: chance is 1/3
    assert abs(r.kappa) < 0.2


def test_classify_accepts_tensors_and_estimators():
    from sklearn.neighbors import KNeighborsClassifier

    feats, labels = _separable()
    split = stratified_split(labels, 0.2, seed=0)
    r = classify_pixels(
        torch.from_numpy(feats), torch.from_numpy(labels), split.train, split.test,
        KNeighborsClassifier(3),
    )  # fmt: skip
    assert r.oa == 1.0 and r.classifier == "KNeighborsClassifier"


def test_classify_errors():
    feats, labels = _separable()
    split = stratified_split(labels, 0.2, seed=0)
    args = (split.labels, split.train, split.test)
    with pytest.raises(ValueError, match=r"features are 19x20 px, the labels 20x20 px"):
        classify_pixels(feats[:, :19], *args)
    with pytest.raises(ValueError, match=r"\(C, H, W\)"):
        classify_pixels(feats[0], *args)
    bad = feats.copy()
    bad[0][split.test] = np.nan
    with pytest.raises(ValueError, match=f"NaN/inf at {split.n_test} test pixels"):
        classify_pixels(bad, *args)
    with pytest.raises(ValueError, match="share"):
        classify_pixels(feats, split.labels, split.train, split.test | split.train)
    no_class_3 = split.train & (split.labels != 3)
    with pytest.raises(ValueError, match=r"\[3\] have test pixels but no training"):
        classify_pixels(feats, split.labels, no_class_3, split.test)
    with pytest.raises(ValueError, match="unknown classifier 'knn'"):
        classify_pixels(feats, *args, classifier="knn")


# -- the pipeline -----------------------------------------------------------------------------


def _gaussian_rgb_response(wavelengths: np.ndarray) -> SpectralResponse:
    centres = np.array([[620.0], [540.0], [460.0]])
    return SpectralResponse(wavelengths, np.exp(-0.5 * ((wavelengths - centres) / 40.0) ** 2))


def _pavia_model():
    """``mae_ktsr_pavia`` with seeded random weights and a cfg that carries no camera."""
    torch.manual_seed(0)  # weights are random: fix them so results repeat
    model = ssrzoo.create_model("mae_ktsr_pavia")
    model.pretrained_cfg = dataclasses.replace(
        model.pretrained_cfg, response=None, response_name="rosis_bgr"
    )
    return model


def test_model_rgb_response_sources():
    model = _pavia_model()
    with pytest.raises(ValueError, match="carries no camera response"):
        model_rgb_response(model.pretrained_cfg)
    wl = np.asarray(model.pretrained_cfg.wavelengths)
    resp = _gaussian_rgb_response(wl)
    assert model_rgb_response(model.pretrained_cfg, resp) is resp
    cfg = ssrzoo.get_pretrained_cfg("mae_ktsr.ntire2020")
    from_cfg = model_rgb_response(cfg)
    assert np.allclose(from_cfg.matrix(cfg.wavelengths), np.asarray(cfg.response))
    four = SpectralResponse(wl, np.ones((4, wl.size)))
    with pytest.raises(ValueError, match="has 4 channels"):
        model_rgb_response(model.pretrained_cfg, four)


def _fake_pavia(folder, h: int = 20, w: int = 17) -> np.ndarray:
    """A PaviaU-like folder: cube (h, w, 103) uint16 counts 0-8000, disjoint split maps."""
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(1, 4), -(-h * w // 3))[: h * w].reshape(h, w)
    wl = np.linspace(430, 860, 103)
    spectra = np.stack(
        [2000 + 1500 * np.sin(wl / 40.0 + k) + 10 * k * (wl - 430) / 4.3 for k in range(3)]
    )
    cube = spectra[labels - 1] * rng.uniform(0.9, 1.1, size=(h, w, 1))
    cube = np.clip(cube + rng.normal(0, 30, cube.shape), 0, 8000).astype(np.uint16)
    train = np.zeros((h, w), np.uint8)
    test = np.zeros((h, w), np.uint8)
    train[:, : w // 3] = labels[:, : w // 3]  # a spatially separate training region
    test[:, w // 3 + 1 :] = labels[:, w // 3 + 1 :]
    scipy.io.savemat(folder / "PaviaU.mat", {"paviaU": cube})
    scipy.io.savemat(folder / "paviaU_train_disjoint.mat", {"TRpavia_fixed": train})
    scipy.io.savemat(folder / "paviaU_test_disjoint.mat", {"TSpavia_fixed": test})
    return cube


def test_pavia_path_end_to_end(tmp_path):
    raw = _fake_pavia(tmp_path)
    cube, wl, split = pavia_university_scene(tmp_path)
    assert cube.shape == (103, 20, 17) and split.n_train == 20 * 5 and split.n_test == 20 * 11
    assert "disjoint" in split.description
    model = _pavia_model()
    resp = _gaussian_rgb_response(np.asarray(model.pretrained_cfg.wavelengths))
    res = compare_inputs(cube, wl, split, model, response=resp, tile=0, seed=0)
    assert [(r.classifier, r.input) for r in res.rows] == [
        (c, i) for c in ("svm", "rf") for i in INPUTS
    ]
    # The ROSIS grid is the model's: no resampling, only the 99.9th-percentile scaling.
    chw = raw.transpose(2, 0, 1).astype(np.float64)
    assert res.scale == pytest.approx(np.percentile(chw, 99.9), rel=1e-6)
    assert np.allclose(res.real, chw / res.scale, rtol=1e-5)
    # RGB: response @ spectrum with the fixed white gain, clipped, 8-bit truncated.
    m = resp.values
    lin = np.einsum("kc,chw->khw", m / m.sum(axis=1).max(), chw / res.scale)
    expected = np.floor(np.clip(lin, 0, 1) * 255 + 1e-9) / 255
    diff = np.abs(res.rgb - expected)
    assert diff.max() <= 1 / 255 + 1e-6 and np.mean(diff < 1e-6) > 0.99
    assert res.reconstruction.shape == (103, 20, 17)
    assert res.score("real", "svm").oa == 1.0  # the fake classes differ in every band
    assert res.score("rgb", "svm").num_features == 3
    assert set(res.reconstruction_quality) >= {"mrae", "sam", "untrained_mrae"}
    n1_train = int((split.labels[:, :5] == 1).sum())  # class 1 in the training columns
    n1_test = int((split.labels[:, 6:] == 1).sum())
    assert split.counts()[1] == (n1_train, n1_test)
    # The results page's tables, written by the benchmark.
    bench = load_benchmark("classification")
    table = bench.results_table(res)
    assert table.count("\n") == 2 + len(res.rows) - 1 and "real HSI" in table
    assert f"| 1 | {n1_train} | {n1_test} |" in bench.per_class_table(res)


def test_compare_inputs_errors(tmp_path):
    model = _pavia_model()
    resp = _gaussian_rgb_response(np.asarray(model.pretrained_cfg.wavelengths))
    labels = np.array([[1, 1, 2, 2]] * 4)
    split = stratified_split(labels, 0.5, seed=0)
    cube = np.ones((48, 4, 4), np.float32)
    with pytest.raises(ValueError, match="48 bands but 10 wavelengths"):
        compare_inputs(cube, np.arange(10), split, model, response=resp)
    with pytest.raises(ValueError, match=r"inputs \['hsi'\]"):
        compare_inputs(cube, np.linspace(380, 1050, 48), split, model, inputs=["hsi"])
    with pytest.raises(ValueError, match="the split covers"):
        compare_inputs(cube[:, :3], np.linspace(380, 1050, 48), split, model, response=resp)
    with pytest.raises(ValueError, match="target grid spans 430-860 nm"):
        compare_inputs(cube, np.linspace(500, 1050, 48), split, model, response=resp)
    with pytest.raises(ValueError, match="carries no camera response"):
        compare_inputs(cube, np.linspace(380, 1050, 48), split, model)


def test_houston_pipeline_on_the_real_crop(shared_data):
    scene = HoustonCrop(shared_data)[0]
    split = stratified_split(scene["mask"], 0.1, seed=0)
    assert split.n_train + split.n_test == int((scene["mask"] > 0).sum())
    model = _pavia_model()
    resp = load_rosis_srf(shared_data / "responses" / "rosis_pavia_R_4x103.mat")
    res = compare_inputs(
        scene["hsi"], scene["wavelengths"], split, model,
        response=resp.select(["R", "G", "B"]), classifiers=("rf",),
        classifier_kwargs={"rf": {"n_estimators": 25}}, tile=0,
    )  # fmt: skip
    # The pipeline's resampling is the dataset's own (HoustonCrop(bands=...)).
    on_grid = HoustonCrop(shared_data, bands="pavia")[0]["hsi"].numpy()
    assert res.scale == pytest.approx(1.0, abs=1e-6)  # the crop is already normalised
    assert np.allclose(res.real, on_grid, atol=1e-5)
    assert res.real.shape == (103, 128, 128) and res.rgb.shape == (3, 128, 128)
    assert res.rgb.min() >= 0.0 and res.rgb.max() <= 1.0
    # 103 real bands separate Houston's land covers better than 3 RGB values.
    assert res.score("real", "rf").oa > res.score("rgb", "rf").oa
    for row in res.rows:
        assert 0.0 < row.oa <= 1.0 and row.result.n_test == split.n_test


def test_mcnemar_matches_the_exact_binomial_by_hand():
    from math import comb

    from ssrzoo.downstream import ClassificationResult, mcnemar_test

    labels = np.array([[1, 1, 1, 2, 2, 2]])

    def result(pred):
        return ClassificationResult(
            0, 0, 0, {}, np.zeros((2, 2)), (1, 2), prediction=np.array([pred])
        )

    a = result([1, 1, 1, 2, 1, 1])  # right on pixels 0-3
    b = result([1, 2, 2, 1, 2, 1])  # right on pixels 0 and 4
    # 3 pixels only a gets right, 1 only b: two-sided P(X >= 3) for X ~ Bin(4, 1/2), doubled.
    expected = 2 * sum(comb(4, k) for k in (3, 4)) / 2**4
    assert mcnemar_test(a, b, labels) == pytest.approx(expected)
    assert mcnemar_test(a, a, labels) == 1.0
    with pytest.raises(ValueError, match="different test pixels"):
        mcnemar_test(a, result([1, 1, 1, 2, 1, 0]), labels)


def test_pavia_split_files_from_another_folder(tmp_path):
    """The shared data folder has the split but not the cube: ``labels_root`` joins them."""
    for folder in ("labels", "cube"):
        (tmp_path / folder).mkdir()
    _fake_pavia(tmp_path / "labels")
    (tmp_path / "labels" / "PaviaU.mat").rename(tmp_path / "cube" / "PaviaU.mat")
    cube, _, split = pavia_university_scene(tmp_path / "cube", labels_root=tmp_path / "labels")
    assert cube.shape == (103, 20, 17) and (split.n_train, split.n_test) == (100, 220)
    with pytest.raises(DatasetNotFoundError, match=r"paviaU_train_disjoint\.mat"):
        pavia_university_scene(tmp_path / "cube")
