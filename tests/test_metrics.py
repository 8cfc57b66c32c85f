from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import FixedThresholdClassifier

from uctune.metrics import classification_metrics, f1_optimal_threshold, objective_score

Y = np.array([1, 1, 1, 0, 0, 0, 0, 0, 0, 0])
P = np.array([0.9, 0.6, 0.3, 0.7, 0.4, 0.2, 0.1, 0.1, 0.05, 0.5])


def test_metrics_against_hand_computed_values():
    m = classification_metrics(Y, P, threshold=0.5)
    # predicted positive: 0.9, 0.6, 0.7, 0.5 -> tp=2 (0.9, 0.6), fp=2 (0.7, 0.5), fn=1 (0.3)
    assert (m["tp"], m["fp"], m["fn"], m["tn"]) == (2, 2, 1, 5)
    assert m["precision"] == pytest.approx(2 / 4)
    assert m["recall"] == pytest.approx(2 / 3)
    assert m["f1"] == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))
    # ROC-AUC: of the 3*7=21 positive/negative pairs, the positive ranks higher in:
    # 0.9 -> 7, 0.6 -> 6 (loses only to 0.7), 0.3 -> 4 (0.2, 0.1, 0.1, 0.05)
    assert m["roc_auc"] == pytest.approx(17 / 21)
    # Average precision: ranked 0.9P 0.7N 0.6P 0.5N 0.4N 0.3P -> positives at ranks 1, 3, 6
    assert m["pr_auc"] == pytest.approx((1 + 2 / 3 + 3 / 6) / 3)


def test_threshold_is_inclusive_like_sklearn():
    m = classification_metrics(Y, P, threshold=0.6)
    assert m["tp"] == 2 and m["fp"] == 1  # 0.6 counts as positive


def test_no_predicted_positive_scores_zero_not_nan():
    m = classification_metrics(Y, P, threshold=0.95)
    assert m["precision"] == 0.0 and m["f1"] == 0.0


def test_f1_optimal_threshold_maximises_f1_and_sits_between_scores():
    t = f1_optimal_threshold(Y, P)
    best = max(classification_metrics(Y, P, s)["f1"] for s in np.unique(P))
    assert classification_metrics(Y, P, t)["f1"] == pytest.approx(best)
    assert t not in set(P.tolist())


def test_threshold_agrees_with_fixed_threshold_classifier():
    """Our cut behaves exactly like scikit-learn's FixedThresholdClassifier with that cut."""
    from sklearn.dummy import DummyClassifier

    class Fixed(DummyClassifier):
        def predict_proba(self, X):
            return np.column_stack([1 - X[:, 0], X[:, 0]])

    t = f1_optimal_threshold(Y, P)
    clf = FixedThresholdClassifier(
        Fixed().fit(P[:, None], Y), threshold=t, response_method="predict_proba"
    )
    ours = (t <= P).astype(int)
    assert np.array_equal(clf.predict(P[:, None]), ours)


def test_threshold_when_every_positive_scores_highest():
    y = np.array([1, 1, 0, 0])
    p = np.array([0.8, 0.7, 0.2, 0.1])
    t = f1_optimal_threshold(y, p)
    assert 0.2 < t < 0.7
    assert classification_metrics(y, p, t)["f1"] == 1.0


def test_objective_scores():
    assert objective_score("roc_auc", Y, P) == pytest.approx(17 / 21)
    assert objective_score("f1", Y, P) == pytest.approx(
        classification_metrics(Y, P, f1_optimal_threshold(Y, P))["f1"]
    )
    with pytest.raises(Exception, match="got 'accuracy'"):
        objective_score("accuracy", Y, P)  # type: ignore[arg-type]


def test_log_loss_objective_is_the_negated_log_loss_higher_is_better():
    from sklearn.metrics import log_loss

    from uctune.metrics import honest_objective

    assert objective_score("log_loss", Y, P) == pytest.approx(-log_loss(Y, P))
    sharper = np.where(Y == 1, np.maximum(P, 0.9), np.minimum(P, 0.1))
    assert objective_score("log_loss", Y, sharper) > objective_score("log_loss", Y, P)
    # A fold of one class still has a log loss (a ranking score has none there).
    pooled, each = honest_objective("log_loss", [Y[:3] * 0, Y], [P[:3], P])
    assert np.isfinite(each).all() and pooled < 0
    _, ranked = honest_objective("pr_auc", [Y[:3] * 0, Y], [P[:3], P])
    assert np.isnan(ranked[0])


@pytest.mark.parametrize(
    ("p", "band"),
    [
        (1.0, "high"),
        (0.9, "high"),
        (0.8999, "medium"),
        (0.7, "medium"),
        (0.5, "low"),
        (0.4999, "none"),
        (0.0, "none"),
    ],
)
def test_confidence_bands_follow_the_prd_buckets(p, band):
    from uctune.metrics import confidence_band

    assert confidence_band(p) == band


def test_confidence_bands_label_every_row():
    from uctune.metrics import confidence_bands

    proba = np.array([[1.0, 0.9, 0.8999], [0.7, 0.5, 0.4999], [0.0, np.nan, 1.2]])
    assert confidence_bands(proba).tolist() == [
        ["high", "high", "medium"],
        ["medium", "low", "none"],
        ["none", "none", "none"],
    ]


def test_model_threshold_reads_what_scikit_learn_threshold_classifiers_store():
    from types import SimpleNamespace

    from uctune.metrics import decision_threshold, model_threshold

    fixed = SimpleNamespace(threshold=0.31)  # FixedThresholdClassifier
    tuned = SimpleNamespace(best_threshold_=np.float64(0.27))  # TunedThresholdClassifierCV
    assert model_threshold(fixed) == 0.31 and model_threshold(tuned) == 0.27
    assert model_threshold(SimpleNamespace()) is None
    assert model_threshold(SimpleNamespace(threshold="auto")) is None
    assert model_threshold(SimpleNamespace(threshold=1.5)) is None
    assert decision_threshold(SimpleNamespace()) == 0.5
    assert decision_threshold(fixed) == 0.31
