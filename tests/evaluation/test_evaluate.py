"""A model's evaluation: scikit-learn's numbers at 0.5 and at the stored threshold, checked input."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    classification_report,
    f1_score,
    roc_auc_score,
)

from uctune.errors import DataError
from uctune.evaluation import evaluate


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(11)
    y = (rng.random(300) < 0.12).astype(int)
    proba = np.clip(0.4 * y + 0.6 * rng.random(300), 0, 1)
    return y, proba


def test_numbers_are_scikit_learns(data):
    y, proba = data
    e = evaluate(y, proba, threshold=0.37, n_resamples=50, random_state=0)
    assert e.rows == 300 and e.positives == y.sum() and e.base_rate == pytest.approx(y.mean())
    assert e.at_05["f1"] == pytest.approx(f1_score(y, proba >= 0.5))
    assert e.at_threshold["f1"] == pytest.approx(f1_score(y, proba >= 0.37))
    assert e.at_threshold["roc_auc"] == pytest.approx(roc_auc_score(y, proba))
    assert e.at_threshold["pr_auc"] == pytest.approx(average_precision_score(y, proba))
    assert e.brier == pytest.approx(brier_score_loss(y, proba))
    expected = classification_report(y, proba >= 0.37, output_dict=True, zero_division=0)
    assert e.classification_report["upper circuit"]["f1-score"] == pytest.approx(
        expected["1"]["f1-score"]
    )
    assert e.classification_report["no upper circuit"]["support"] == expected["0"]["support"]
    assert set(e.intervals) == {"f1", "precision", "recall", "roc_auc", "pr_auc"}
    data = e.to_dict()
    assert data["at_threshold"]["threshold"] == 0.37
    assert [b["band"] for b in data["alert_buckets"]] == ["high", "medium", "low"]


def test_no_bootstrap_gives_no_intervals(data):
    y, proba = data
    assert evaluate(y, proba, n_resamples=0).intervals == {}


@pytest.mark.parametrize(
    ("y", "proba", "message"),
    [
        ([0, 1, 1], [0.1, 0.2], "labels and probabilities differ in length: 3 and 2"),
        ([0, 2], [0.1, 0.2], r"test labels must hold only 0/1, got values \[2\]"),
        ([0, 1], [0.1, 1.2], r"probabilities must be finite and within \[0, 1\]"),
        ([], [], "cannot evaluate on an empty test set"),
    ],
)
def test_bad_input(y, proba, message):
    with pytest.raises(DataError, match=message):
        evaluate(np.array(y), np.array(proba), n_resamples=0)
