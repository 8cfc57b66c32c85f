"""Classification metrics and the choice of a decision threshold: pure functions over scikit-learn."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from sklearn.metrics import (
    average_precision_score,
    confusion_matrix,
    f1_score,
    log_loss,
    precision_recall_curve,
    precision_score,
    recall_score,
    roc_auc_score,
)

from uctune.errors import ConfigError

__all__ = [
    "ALERT_BANDS",
    "BEST_SCORE_IS",
    "METRICS",
    "confidence_band",
    "confidence_bands",
    "cross_fitted_thresholds",
    "cross_fitted_metrics",
    "allowed_folds",
    "decision_threshold",
    "FALLBACK_THRESHOLD",
    "ThresholdFrom",
    "ObjectiveMetric",
    "OBJECTIVE_METRICS",
    "classification_metrics",
    "f1_optimal_threshold",
    "model_threshold",
    "objective_score",
    "honest_objective",
]

METRICS: tuple[str, ...] = ("f1", "precision", "recall", "roc_auc", "pr_auc")
ObjectiveMetric = Literal["pr_auc", "log_loss", "roc_auc", "f1"]
"""What a search scores its trials on; every score is higher-is-better (``log_loss`` is scored as
its negative, as scikit-learn's ``neg_log_loss`` scorer does)."""
OBJECTIVE_METRICS: tuple[str, ...] = ("pr_auc", "log_loss", "roc_auc", "f1")
ThresholdFrom = Literal["other_folds", "earlier_folds"]
"""Which folds' out-of-fold predictions may choose a fold's threshold: every other fold (shuffled
k-fold), or only the folds before it (walk-forward CV, where a later fold is the future)."""

BEST_SCORE_IS = (
    "the highest of the trials' CV scores: each fold was scored at a threshold chosen without it, "
    "but the maximum over many trials is optimistic as an estimate of the tuned model; compare "
    "tuned with untuned on the holdout"
)
"""What a tuning's ``best_score`` is, stated beside it in ``results.json`` and the registry."""

_EPS = 1e-15  # keeps the log loss finite for probabilities of exactly 0 or 1

FALLBACK_THRESHOLD = 0.5
"""A fold's threshold when no allowed fold has predictions of both classes yet (the first fold of a
trial's running score, the first walk-forward block): chosen without looking at any fold. It is the
balanced decision point of the class-balanced families; for the boosters, fitted unweighted, it
predicts few positives, so such a fold's F1 is low for every configuration alike."""

# The alert buckets: (name, lower bound inclusive, upper bound exclusive; 1.0 included).
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
    return _scores(y_true, proba, (proba >= threshold).astype(np.int64), float(threshold))


def _scores(
    y_true: np.ndarray, proba: np.ndarray, pred: np.ndarray, threshold: float
) -> dict[str, float]:
    tn, fp, fn, tp = confusion_matrix(y_true, pred, labels=[0, 1]).ravel()
    two_classes = len(np.unique(y_true)) == 2
    return {
        "threshold": threshold,
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
    """The threshold that maximises F1 on (out-of-fold) predictions (0.5 when they hold one class).

    Taken from scikit-learn's precision-recall curve; the cut is placed halfway between the lowest
    score predicted positive and the next lower score, so that it does not sit on a data point.
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    proba = np.asarray(proba, dtype=np.float64)
    if len(np.unique(y_true)) < 2:
        # No trade-off to optimise (a walk-forward block without positives): the balanced default.
        return FALLBACK_THRESHOLD
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
    """``metric`` on these predictions, higher is better (``log_loss`` is negated); F1 at the
    threshold that is F1-optimal on these very predictions, which flatters it (the tuning
    objective is :func:`honest_objective`)."""
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
    if metric == "log_loss":
        p = np.clip(np.asarray(proba, dtype=np.float64), _EPS, 1 - _EPS)
        return -float(log_loss(np.asarray(y_true, dtype=np.int64), p, labels=[0, 1]))
    raise ConfigError(_unknown_metric(metric))


def _unknown_metric(metric: object) -> str:
    return f"objective metric must be one of {', '.join(OBJECTIVE_METRICS)}; got {metric!r}"


def allowed_folds(k: int, n: int, source: ThresholdFrom) -> list[int]:
    """The folds (of ``n``) whose out-of-fold predictions may choose fold ``k``'s threshold (or
    calibrate it): every other fold, or only the earlier ones."""
    if source == "other_folds":
        return [j for j in range(n) if j != k]
    if source == "earlier_folds":
        return list(range(k))
    raise ConfigError(f"threshold source must be 'other_folds' or 'earlier_folds', got {source!r}")


def cross_fitted_thresholds(
    y_folds: Sequence[np.ndarray],
    proba_folds: Sequence[np.ndarray],
    *,
    source: ThresholdFrom = "other_folds",
    fallback: float = FALLBACK_THRESHOLD,
) -> list[float]:
    """Each fold's decision threshold, chosen without that fold.

    Fold ``k``'s threshold is the F1-optimal one (:func:`f1_optimal_threshold`) on the pooled
    out-of-fold predictions of the folds ``source`` allows (every other fold, or only the earlier
    ones); ``fallback`` when those hold no positive or no negative. Scoring fold ``k`` at it is
    honest: its labels never chose its threshold.
    """
    n = len(y_folds)
    if len(proba_folds) != n:
        raise ConfigError(f"{n} folds of labels but {len(proba_folds)} folds of predictions")
    out: list[float] = []
    for k in range(n):
        allowed = allowed_folds(k, n, source)
        if not allowed:
            out.append(float(fallback))
            continue
        y = np.concatenate([np.asarray(y_folds[j], dtype=np.int64) for j in allowed])
        p = np.concatenate([np.asarray(proba_folds[j], dtype=np.float64) for j in allowed])
        if len(np.unique(y)) < 2:
            out.append(float(fallback))
            continue
        out.append(f1_optimal_threshold(y, p))
    return out


def cross_fitted_metrics(
    y_folds: Sequence[np.ndarray],
    proba_folds: Sequence[np.ndarray],
    thresholds: Sequence[float],
) -> dict[str, float]:
    """The :func:`classification_metrics` of the pooled folds, each fold's rows predicted at its own
    threshold (so without ``threshold``: there is no single one)."""
    y = np.concatenate([np.asarray(v, dtype=np.int64) for v in y_folds])
    proba = np.concatenate([np.asarray(v, dtype=np.float64) for v in proba_folds])
    cut = np.concatenate(
        [np.full(len(v), t, dtype=np.float64) for v, t in zip(y_folds, thresholds, strict=True)]
    )
    scores = _scores(y, proba, (proba >= cut).astype(np.int64), float("nan"))
    del scores["threshold"]
    return scores


def honest_objective(
    metric: ObjectiveMetric,
    y_folds: Sequence[np.ndarray],
    proba_folds: Sequence[np.ndarray],
    *,
    source: ThresholdFrom = "other_folds",
) -> tuple[float, list[float]]:
    """The tuning objective on pooled out-of-fold predictions, and each fold's own score.

    F1 is taken with each fold at its :func:`cross_fitted_thresholds` threshold, so it is not the
    optimistic F1 of a threshold chosen on the very predictions it scores; PR-AUC, ROC-AUC and the
    (negated) log loss use no threshold. Returns ``(pooled score, [score of each fold])``.
    """
    if metric not in OBJECTIVE_METRICS:
        raise ConfigError(_unknown_metric(metric))
    if metric != "f1":
        pooled = objective_score(
            metric, np.concatenate(list(y_folds)), np.concatenate(list(proba_folds))
        )
        each = [_ranking_or_nan(metric, y, p) for y, p in zip(y_folds, proba_folds, strict=True)]
        return pooled, each
    thresholds = cross_fitted_thresholds(y_folds, proba_folds, source=source)
    y_all = np.concatenate([np.asarray(v, dtype=np.int64) for v in y_folds])
    pred_all = np.concatenate(
        [
            (np.asarray(p, dtype=np.float64) >= t).astype(np.int64)
            for p, t in zip(proba_folds, thresholds, strict=True)
        ]
    )
    pooled = float(f1_score(y_all, pred_all, zero_division=0))
    each = [
        float(
            f1_score(
                np.asarray(y, dtype=np.int64),
                (np.asarray(p, dtype=np.float64) >= t).astype(np.int64),
                zero_division=0,
            )
        )
        for y, p, t in zip(y_folds, proba_folds, thresholds, strict=True)
    ]
    return pooled, each


def _ranking_or_nan(metric: ObjectiveMetric, y: np.ndarray, proba: np.ndarray) -> float:
    # A walk-forward block may hold one class only: its ranking score is undefined, not an error.
    if metric != "log_loss" and len(np.unique(np.asarray(y))) < 2:
        return float("nan")
    return objective_score(metric, y, proba)
