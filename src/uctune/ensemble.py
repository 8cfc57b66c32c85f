"""Combining models on their out-of-fold predictions: Caruana's greedy selection, or a stacker.

Both combiners learn from a matrix ``P`` (rows × models) of the members' honest out-of-fold
probabilities on the same folds, and the labels:

- **Caruana** (Caruana et al., "Ensemble selection from libraries of models", ICML 2004; what
  auto-sklearn and AutoGluon use): start empty; at each of ``size`` steps add the member (repeats
  allowed) whose addition gives the average with the best ``metric``; exact ties are broken by a
  seeded draw. The weights are the members' shares of the steps, so the ensemble is a weighted
  average of probabilities.
- **Stacker**: a logistic regression on the members' log-odds (L2, ``C=1``), unweighted classes.

Which one a run keeps (``method="auto"``) is decided on cross-fitted predictions: fold ``k`` is
predicted by a combiner learnt on the folds it may learn from (every other fold, or the earlier ones
under walk-forward CV), and the pooled predictions are scored as tuning scores them
(:func:`uctune.metrics.honest_objective`). A fold with nothing to learn from (the first walk-forward
block) gets the plain average. The kept combiner is then learnt on every fold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from scipy.special import expit, logit
from sklearn.linear_model import LogisticRegression

from uctune.errors import ConfigError
from uctune.metrics import (
    ObjectiveMetric,
    ThresholdFrom,
    allowed_folds,
    honest_objective,
    objective_score,
)

__all__ = [
    "COMBINERS",
    "Combiner",
    "CombinerMethod",
    "EnsembleChoice",
    "caruana_weights",
    "cross_fit_combiners",
    "fit_combiner",
]

CombinerMethod = Literal["caruana", "stacker"]
EnsembleChoice = Literal["auto", "caruana", "stacker"]
COMBINERS: tuple[CombinerMethod, ...] = ("caruana", "stacker")
_EPS = 1e-6


@dataclass(frozen=True)
class Combiner:
    """A learnt way to combine member probabilities: Caruana's ``weights`` (summing to 1), or the
    stacker's ``coef`` on the members' log-odds and ``intercept``."""

    method: CombinerMethod
    weights: tuple[float, ...] = ()
    coef: tuple[float, ...] = ()
    intercept: float = 0.0

    def combine(self, P: Any) -> np.ndarray:
        """The ensemble's probability for each row of ``P`` (rows × members)."""
        matrix = np.asarray(P, dtype=np.float64)
        if self.method == "caruana":
            return np.asarray(matrix @ np.asarray(self.weights), dtype=np.float64)
        z = _logit(matrix) @ np.asarray(self.coef) + self.intercept
        return np.asarray(expit(z), dtype=np.float64)

    def to_dict(self, names: Sequence[str] | None = None) -> dict[str, Any]:
        labels = list(names) if names is not None else [str(i) for i in range(self._width)]
        if self.method == "caruana":
            return {"method": self.method, "weights": dict(zip(labels, self.weights, strict=True))}
        return {
            "method": self.method,
            "coef": dict(zip(labels, self.coef, strict=True)),
            "intercept": self.intercept,
        }

    @property
    def _width(self) -> int:
        return len(self.weights) if self.method == "caruana" else len(self.coef)


def _logit(P: np.ndarray) -> np.ndarray:
    return np.asarray(logit(np.clip(P, _EPS, 1 - _EPS)), dtype=np.float64)


def _score(metric: ObjectiveMetric, y: np.ndarray, p: np.ndarray) -> float:
    return objective_score(metric, y, p) if len(np.unique(y)) == 2 else float("nan")


def caruana_weights(
    P: Any,
    y: Any,
    *,
    size: int = 25,
    metric: ObjectiveMetric = "pr_auc",
    random_state: int = 0,
) -> np.ndarray:
    """Caruana's greedy selection with replacement over the columns of ``P``: each column's share
    of the ``size`` steps (see the module notes)."""
    matrix = np.asarray(P, dtype=np.float64)
    labels = np.asarray(y, dtype=np.int64)
    if size < 1:
        raise ConfigError(f"ensemble size must be at least 1, got {size}")
    rng = np.random.default_rng(random_state)
    counts = np.zeros(matrix.shape[1])
    running = np.zeros(matrix.shape[0])
    for step in range(1, size + 1):
        scores = np.array(
            [
                _score(metric, labels, (running + matrix[:, j]) / step)
                for j in range(matrix.shape[1])
            ]
        )
        if np.all(np.isnan(scores)):
            scores = np.zeros_like(scores)
        best = np.nanmax(scores)
        ties = np.flatnonzero(scores >= best - 1e-12)
        pick = int(ties[0] if len(ties) == 1 else rng.choice(ties))
        counts[pick] += 1
        running += matrix[:, pick]
    return counts / counts.sum()


def fit_combiner(
    method: CombinerMethod,
    P: Any,
    y: Any,
    *,
    size: int = 25,
    metric: ObjectiveMetric = "pr_auc",
    random_state: int = 0,
) -> Combiner:
    """A combiner of ``method`` learnt on member probabilities ``P`` and labels ``y``."""
    matrix = np.asarray(P, dtype=np.float64)
    labels = np.asarray(y, dtype=np.int64)
    if method == "caruana":
        weights = caruana_weights(
            matrix, labels, size=size, metric=metric, random_state=random_state
        )
        return Combiner("caruana", weights=tuple(float(w) for w in weights))
    if method == "stacker":
        lr = LogisticRegression(C=1.0, max_iter=1000).fit(_logit(matrix), labels)
        return Combiner(
            "stacker",
            coef=tuple(float(c) for c in lr.coef_[0]),
            intercept=float(lr.intercept_[0]),
        )
    raise ConfigError(f"ensemble method must be one of {', '.join(COMBINERS)}, got {method!r}")


def _average(width: int) -> Combiner:
    return Combiner("caruana", weights=tuple([1.0 / width] * width))


@dataclass(frozen=True)
class CrossFittedCombiner:
    """One method's cross-fitted ensemble predictions (fold by fold) and their honest score."""

    method: CombinerMethod
    fold_proba: list[np.ndarray]
    score: float
    fold_scores: list[float]


def cross_fit_combiners(
    P_folds: Sequence[np.ndarray],
    y_folds: Sequence[np.ndarray],
    *,
    methods: Sequence[CombinerMethod] = COMBINERS,
    source: ThresholdFrom = "other_folds",
    size: int = 25,
    metric: ObjectiveMetric = "pr_auc",
    random_state: int = 0,
) -> dict[CombinerMethod, CrossFittedCombiner]:
    """Each method's ensemble predictions for each fold, learnt without that fold."""
    n = len(P_folds)
    out: dict[CombinerMethod, CrossFittedCombiner] = {}
    for method in methods:
        folds: list[np.ndarray] = []
        for k in range(n):
            allowed = allowed_folds(k, n, source)
            P_k = np.asarray(P_folds[k], dtype=np.float64)
            y_a = (
                np.concatenate([np.asarray(y_folds[j], dtype=np.int64) for j in allowed])
                if allowed
                else np.empty(0, dtype=np.int64)
            )
            if len(np.unique(y_a)) < 2:
                folds.append(_average(P_k.shape[1]).combine(P_k))
                continue
            P_a = np.concatenate([np.asarray(P_folds[j], dtype=np.float64) for j in allowed])
            combiner = fit_combiner(
                method, P_a, y_a, size=size, metric=metric, random_state=random_state
            )
            folds.append(combiner.combine(P_k))
        score, each = honest_objective(metric, list(y_folds), folds, source=source)
        out[method] = CrossFittedCombiner(method, folds, float(score), [float(s) for s in each])
    return out
