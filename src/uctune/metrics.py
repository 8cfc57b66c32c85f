"""Classification metrics and the choice of a decision threshold: pure functions over scikit-learn."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from sklearn.metrics import (
    average_precision_score,
    confusion_matrix,
    f1_score,
    precision_recall_curve,
    precision_score,
    recall_score,
    roc_auc_score,
)

from uctune.errors import ConfigError

__all__ = [
    "ALERT_BANDS",
    "METRICS",
    "confidence_band",
    "confidence_bands",
    "decision_threshold",
    "ObjectiveMetric",
    "classification_metrics",
    "f1_optimal_threshold",
    "model_threshold",
    "objective_score",
]

METRICS: tuple[str, ...] = ("f1", "precision", "recall", "roc_auc", "pr_auc")
ObjectiveMetric = Literal["f1", "pr_auc", "roc_auc"]

# The PRD's alert buckets: (name, lower bound inclusive, upper bound exclusive; 1.0 included).
ALERT_BANDS: tuple[tuple[str, float, float], ...] = (
    ("high", 0.9, 1.0),
    ("medium", 0.7, 0.9),
    ("low", 0.5, 0.7),
)


def confidence_bands(proba: np.ndarray) -> np.ndarray:
    """The alert bucket of each probability, as an object array of :data:`ALERT_BANDS` names, or
    ``none`` outside every band (below 0.5, above 1, NaN)."""
    p = np.asarray(proba, dtype=np.float64)
    labels = np.full(p.shape, "none", dtype=object)
    # Lower bound included, upper excluded, 1.0 in the top band; the first band listed wins.
    for name, lower, upper in reversed(ALERT_BANDS):
        labels[(p >= lower) & ((p < upper) | ((upper == 1.0) & (p == 1.0)))] = name
    return labels


def confidence_band(probability: float) -> str:
    """The alert bucket of a probability: ``high`` (>= 0.9), ``medium``, ``low`` or ``none`` (< 0.5)."""
    return str(confidence_bands(np.asarray([probability]))[0])


def classification_metrics(
    y_true: np.ndarray, proba: np.ndarray, threshold: float = 0.5
) -> dict[str, float]:
    """F1, precision, recall at ``threshold``; ROC-AUC and PR-AUC (average precision); counts.

    A row is predicted positive when its probability is at least ``threshold``, as scikit-learn's
    ``FixedThresholdClassifier`` does. Undefined ratios (no predicted positive) are 0.
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    proba = np.asarray(proba, dtype=np.float64)
    pred = (proba >= threshold).astype(np.int64)
    tn, fp, fn, tp = confusion_matrix(y_true, pred, labels=[0, 1]).ravel()
    two_classes = len(np.unique(y_true)) == 2
    return {
        "threshold": float(threshold),
        "f1": float(f1_score(y_true, pred, zero_division=0)),
        "precision": float(precision_score(y_true, pred, zero_division=0)),
        "recall": float(recall_score(y_true, pred, zero_division=0)),
        "roc_auc": float(roc_auc_score(y_true, proba)) if two_classes else float("nan"),
        "pr_auc": float(average_precision_score(y_true, proba)) if two_classes else float("nan"),
        "tp": int(tp),
        "fp": int(fp),
        "tn": int(tn),
        "fn": int(fn),
    }


def model_threshold(model: Any) -> float | None:
    """The decision threshold a fitted model carries, or ``None`` when it has none in [0, 1].

    uctune's models are subclasses of scikit-learn's ``FixedThresholdClassifier`` (``threshold``); a
    ``TunedThresholdClassifierCV`` keeps its choice in ``best_threshold_``.
    """
    value = getattr(model, "threshold", None)
    if value is None:
        value = getattr(model, "best_threshold_", None)
    if isinstance(value, int | float | np.floating) and 0.0 <= float(value) <= 1.0:
        return float(value)
    return None


def decision_threshold(model: Any) -> float:
    """The threshold a model's decisions are made at: its own (:func:`model_threshold`), else 0.5."""
    value = model_threshold(model)
    return 0.5 if value is None else value


def f1_optimal_threshold(y_true: np.ndarray, proba: np.ndarray) -> float:
    """The threshold that maximises F1 on (out-of-fold) predictions.

    Taken from scikit-learn's precision-recall curve; the cut is placed halfway between the lowest
    score predicted positive and the next lower score, so that it does not sit on a data point.
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    proba = np.asarray(proba, dtype=np.float64)
    precision, recall, thresholds = precision_recall_curve(y_true, proba)
    # precision/recall have one more entry than thresholds (the final recall=0 point): drop it.
    p, r = precision[:-1], recall[:-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(p + r > 0, 2 * p * r / (p + r), 0.0)
    best = int(np.argmax(f1))
    if best == 0:
        below = proba[proba < thresholds[0]]
        lower = float(below.max()) if len(below) else 0.0
    else:
        lower = float(thresholds[best - 1])
    return float((lower + thresholds[best]) / 2)


def objective_score(metric: ObjectiveMetric, y_true: np.ndarray, proba: np.ndarray) -> float:
    """The tuning objective on out-of-fold predictions (F1 at its F1-optimal threshold by default)."""
    if metric == "f1":
        # The F1 of classification_metrics at that threshold, without its other five metrics:
        # this runs after every fold of every tuning trial.
        threshold = f1_optimal_threshold(y_true, proba)
        pred = (np.asarray(proba, dtype=np.float64) >= threshold).astype(np.int64)
        return float(f1_score(np.asarray(y_true, dtype=np.int64), pred, zero_division=0))
    if metric == "pr_auc":
        return float(average_precision_score(y_true, proba))
    if metric == "roc_auc":
        return float(roc_auc_score(y_true, proba))
    raise ConfigError(f"objective metric must be one of f1, pr_auc, roc_auc; got {metric!r}")
