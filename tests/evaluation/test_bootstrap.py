"""Bootstrap intervals: each resample scored exactly as scikit-learn would, seeded, chunk-invariant."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)

from uctune.calibration import expected_calibration_error
from uctune.errors import ConfigError
from uctune.evaluation import (
    HEADLINE,
    _bootstrap,
    bootstrap_intervals,
    calibration_check,
    calibration_intervals,
    difference_intervals,
    resample_calibration,
    resample_metrics,
)
from uctune.metrics import classification_metrics


@pytest.fixture(scope="module")
def scores():
    rng = np.random.default_rng(7)
    y = (rng.random(400) < 0.1).astype(int)
    # Rounded to one decimal: many ties, which the rank-based AUCs must handle like scikit-learn.
    proba = np.round(np.clip(0.25 * y + 0.75 * rng.random(400), 0, 1), 1)
    return y, proba


def test_each_resample_matches_scikit_learn(scores):
    y, proba = scores
    indices = np.random.default_rng(0).integers(0, len(y), size=(40, len(y)))
    got = resample_metrics(y, proba, 0.4, indices)
    for b, idx in enumerate(indices):
        yy, pp = y[idx], proba[idx]
        pred = pp >= 0.4
        expected = {
            "f1": f1_score(yy, pred, zero_division=0),
            "precision": precision_score(yy, pred, zero_division=0),
            "recall": recall_score(yy, pred, zero_division=0),
            "roc_auc": roc_auc_score(yy, pp),
            "pr_auc": average_precision_score(yy, pp),
        }
        for metric, value in expected.items():
            assert got[metric][b] == pytest.approx(value, abs=1e-12), (metric, b)


def test_interval_contains_the_point_estimate_and_is_seeded(scores):
    y, proba = scores
    point = classification_metrics(y, proba, 0.4)
    first = bootstrap_intervals(y, proba, 0.4, n_resamples=300, random_state=1)
    again = bootstrap_intervals(y, proba, 0.4, n_resamples=300, random_state=1)
    other = bootstrap_intervals(y, proba, 0.4, n_resamples=300, random_state=2)
    assert first == again
    assert first != other
    for metric in HEADLINE:
        interval = first[metric]
        assert interval.low <= point[metric] <= interval.high, metric
        assert interval.low < interval.high and interval.resamples == 300
        assert interval.level == 0.95


def test_chunking_does_not_change_the_result(scores, monkeypatch):
    y, proba = scores
    whole = bootstrap_intervals(y, proba, 0.4, n_resamples=60, random_state=3)
    monkeypatch.setattr(_bootstrap, "_CHUNK_CELLS", len(y) * 7)  # chunks of 7 resamples
    assert bootstrap_intervals(y, proba, 0.4, n_resamples=60, random_state=3) == whole


def test_resamples_without_both_classes_are_left_out_of_the_auc_intervals():
    y = np.array([1] + [0] * 29)
    proba = np.linspace(0.9, 0.0, 30)
    intervals = bootstrap_intervals(y, proba, 0.5, n_resamples=200, random_state=0)
    # P(no positive in a resample) = (29/30)^30 ~ 0.36: those resamples have no AUC.
    assert 80 < intervals["roc_auc"].resamples < 200
    assert intervals["f1"].resamples == 200


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_resamples": 5}, "bootstrap resamples must be at least 20, got 5"),
        ({"level": 1.5}, "confidence level must be between 0 and 1, got 1.5"),
    ],
)
def test_bad_settings(scores, kwargs, message):
    y, proba = scores
    with pytest.raises(ConfigError, match=message):
        bootstrap_intervals(y, proba, 0.5, **kwargs)


def test_each_resample_s_calibration_matches_the_single_sample_functions(scores):
    y, proba = scores
    # Unrounded probabilities too, and ones exactly at a bin edge and at 1.0.
    rng = np.random.default_rng(4)
    smooth = np.concatenate([rng.random(len(y) - 3), [0.3, 0.7, 1.0]])
    indices = rng.integers(0, len(y), size=(40, len(y)))
    for p in (proba, smooth):
        got = resample_calibration(y, p, indices)
        for b, idx in enumerate(indices):
            assert got["brier"][b] == pytest.approx(brier_score_loss(y[idx], p[idx]), abs=1e-12)
            assert got["ece"][b] == pytest.approx(
                expected_calibration_error(y[idx], p[idx]), abs=1e-12
            )


def test_calibration_intervals_use_the_metrics_resamples_and_contain_the_point(scores, monkeypatch):
    y, proba = scores
    first = calibration_intervals(y, proba, n_resamples=200, random_state=5)
    assert first == calibration_intervals(y, proba, n_resamples=200, random_state=5)
    # The same draws as bootstrap_intervals: the rows of one seeded (resamples, rows) matrix.
    drawn = np.random.default_rng(5).integers(0, len(y), size=(200, len(y)))
    by_hand = resample_calibration(y, proba, drawn)
    for metric in ("brier", "ece"):
        low, high = np.percentile(by_hand[metric], [2.5, 97.5])
        assert (first[metric].low, first[metric].high) == pytest.approx((low, high), abs=1e-12)
    check = calibration_check(y, proba, n_resamples=200, random_state=5)
    assert check.intervals == first
    assert first["brier"].low <= check.brier <= first["brier"].high
    assert first["ece"].low <= check.ece <= first["ece"].high
    monkeypatch.setattr(_bootstrap, "_CHUNK_CELLS", len(y) * 7)
    assert calibration_intervals(y, proba, n_resamples=200, random_state=5) == first
    assert calibration_check(y, proba, n_resamples=0).intervals == {}


def test_difference_intervals_are_paired(scores):
    y, proba = scores
    other = np.clip(proba + 0.05, 0, 1)  # a shift: same ranks, so the same AUCs on every resample
    diff = difference_intervals(y, other, 0.4, proba, 0.4, n_resamples=100, random_state=0)
    assert diff["roc_auc"].low == diff["roc_auc"].high == 0.0
    assert diff["pr_auc"].low == diff["pr_auc"].high == 0.0
    drawn = np.random.default_rng(0).integers(0, len(y), size=(100, len(y)))
    f1 = resample_metrics(y, other, 0.4, drawn)["f1"] - resample_metrics(y, proba, 0.4, drawn)["f1"]
    low, high = np.percentile(f1, [2.5, 97.5])
    assert (diff["f1"].low, diff["f1"].high) == pytest.approx((low, high), abs=1e-12)
