"""Calibration on out-of-fold predictions: honest by construction, and it does calibrate."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from uctune.calibration import (
    calibration_scores,
    cross_fit_calibration,
    expected_calibration_error,
    fit_calibrator,
)
from uctune.errors import ConfigError
from uctune.models import CalibratedClassifier


def _folds(seed: int = 0, n_folds: int = 4, rows: int = 600):
    """Out-of-fold predictions of a class-weighted model: the ranking is right, the level is not
    (a 10 % event predicted around 0.5)."""
    rng = np.random.default_rng(seed)
    y_folds, p_folds = [], []
    for _ in range(n_folds):
        y = (rng.random(rows) < 0.1).astype(np.int64)
        score = rng.normal(size=rows) + 1.5 * y
        y_folds.append(y)
        p_folds.append(1 / (1 + np.exp(-(score - 0.5))))
    return y_folds, p_folds


@pytest.mark.parametrize("choice", ["isotonic", "sigmoid", "auto"])
@pytest.mark.parametrize("source", ["other_folds", "earlier_folds"])
def test_a_fold_is_never_calibrated_or_thresholded_by_its_own_labels(choice, source):
    y_folds, p_folds = _folds()
    before = cross_fit_calibration(y_folds, p_folds, choice=choice, source=source)
    for k in range(len(y_folds)):
        flipped = [y.copy() for y in y_folds]
        flipped[k] = 1 - flipped[k]  # the fold's own labels, as wrong as they can be
        after = cross_fit_calibration(
            y_folds[:k] + [flipped[k]] + y_folds[k + 1 :],
            p_folds,
            choice=before.method,
            source=source,
        )
        np.testing.assert_array_equal(after.fold_proba[k], before.fold_proba[k])
        assert after.thresholds[k] == before.thresholds[k]


def test_walk_forward_folds_learn_only_from_earlier_folds():
    y_folds, p_folds = _folds()
    before = cross_fit_calibration(y_folds, p_folds, choice="isotonic", source="earlier_folds")
    # The first block has nothing before it: raw probabilities, the fallback threshold.
    np.testing.assert_array_equal(before.fold_proba[0], p_folds[0])
    assert before.thresholds[0] == 0.5
    later = [y.copy() for y in y_folds]
    later[3] = 1 - later[3]
    after = cross_fit_calibration(later, p_folds, choice="isotonic", source="earlier_folds")
    for k in range(3):  # a later block's labels change nothing before it
        np.testing.assert_array_equal(after.fold_proba[k], before.fold_proba[k])


def test_calibration_brings_a_class_weighted_model_to_the_observed_rate():
    y_folds, p_folds = _folds()
    result = cross_fit_calibration(y_folds, p_folds)
    y, raw = np.concatenate(y_folds), np.concatenate(p_folds)
    assert result.method in ("isotonic", "sigmoid")
    # auto chose the method with the lower cross-fitted Brier score
    other = {"isotonic": "sigmoid", "sigmoid": "isotonic"}[result.method]
    assert result.candidates[result.method]["brier"] <= result.candidates[other]["brier"]
    assert expected_calibration_error(y, raw) > 0.2
    assert result.candidates[result.method]["ece"] < 0.03
    # Fresh rows from the same process: the final map calibrates them too.
    y_new, p_new = _folds(seed=1, n_folds=1, rows=20_000)
    assert expected_calibration_error(y_new[0], result.apply(p_new[0])) < 0.02


def test_none_keeps_the_raw_probabilities():
    y_folds, p_folds = _folds()
    result = cross_fit_calibration(y_folds, p_folds, choice="none")
    assert result.method == "none" and result.calibrator is None
    np.testing.assert_array_equal(result.apply(p_folds[0]), p_folds[0])


def test_expected_calibration_error_by_hand():
    y = np.array([0, 0, 1, 1, 1])
    p = np.array([0.05, 0.15, 0.15, 0.95, 0.85])
    # bin 0: p 0.05, y 0 -> |0 - 0.05|; bin 1: p 0.15, 0.15, y 0, 1 -> |1 - 0.3|;
    # bin 8: |1 - 0.85|; bin 9: |1 - 0.95|
    expected = (0.05 + 0.7 + 0.15 + 0.05) / 5
    assert expected_calibration_error(y, p) == pytest.approx(expected)
    assert calibration_scores(y, p)["ece"] == pytest.approx(expected)


def test_an_unknown_method_is_refused():
    y_folds, p_folds = _folds()
    with pytest.raises(
        ConfigError, match="calibration must be one of auto, isotonic, sigmoid, none, got 'beta'"
    ):
        cross_fit_calibration(y_folds, p_folds, choice="beta")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="got 'beta'"):
        fit_calibrator("beta", p_folds[0], y_folds[0])  # type: ignore[arg-type]


def test_calibrated_classifier_fits_like_calibrated_classifier_cv(tiny_table):
    X, y = tiny_table.X.select_dtypes("number").fillna(0), tiny_table.y
    model = CalibratedClassifier(
        LogisticRegression(class_weight="balanced", max_iter=2000), method="isotonic"
    ).fit(X, y)
    raw = model.raw_proba(X)
    calibrated = model.predict_proba(X)[:, 1]
    assert model.method_ == "isotonic"
    np.testing.assert_allclose(calibrated, model.calibrator_.predict(raw))
    # Balanced weights push the probabilities up; calibrated, their mean is near the base rate.
    assert abs(calibrated.mean() - y.mean()) < 0.03 < abs(raw.mean() - y.mean())


@pytest.mark.parametrize("method", ["isotonic", "sigmoid"])
def test_calibration_keeps_the_models_order(method):
    # Isotonic regression alone maps these 2,400 distinct scores to a few dozen steps; ties cost
    # ranking. The calibrators here keep every raw difference, so PR-AUC and ROC-AUC are unchanged.
    from sklearn.isotonic import IsotonicRegression
    from sklearn.metrics import average_precision_score, roc_auc_score

    y_folds, p_folds = _folds(seed=3)
    y, p = np.concatenate(y_folds), np.concatenate(p_folds)
    calibrator = fit_calibrator(method, p, y)
    q = calibrator.predict(p)
    assert len(np.unique(q)) == len(np.unique(p))
    np.testing.assert_array_equal(np.argsort(q, kind="stable"), np.argsort(p, kind="stable"))
    assert average_precision_score(y, q) == pytest.approx(average_precision_score(y, p), abs=1e-12)
    assert roc_auc_score(y, q) == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    if method == "isotonic":
        steps = IsotonicRegression(out_of_bounds="clip").fit(p, y).predict(p)
        assert len(np.unique(steps)) < len(np.unique(p)) / 10  # what the plain fit would keep
        assert np.max(np.abs(q - steps)) <= 1e-4  # and the calibration is the isotonic one's
        assert average_precision_score(y, steps) != pytest.approx(average_precision_score(y, p))
