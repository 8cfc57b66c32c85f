"""Calibration of out-of-fold probabilities, cross-fitted so that no row calibrates itself.

The class-balanced families push their probabilities up (a 5 % event comes out near 0.5), and no
family's raw probabilities are calibrated on their own. The alert buckets (p >= 0.9, 0.7-0.9,
0.5-0.7) mean something only for calibrated probabilities. A calibrator is a monotone map fitted on
the out-of-fold predictions of the training rows (what scikit-learn's
``CalibratedClassifierCV(ensemble=False)`` does, with the folds fitted on Ray instead of inside one
process): isotonic regression, or Platt's sigmoid on the log-odds.

Honesty, as for thresholds (:mod:`uctune.metrics`): fold ``k``'s predictions are calibrated by a map
fitted on the folds it may learn from (every other fold, or only the earlier ones under walk-forward
CV), and fold ``k``'s threshold is chosen on those folds' predictions under the same map. So the rows
a fold is scored on never shaped its calibration or its threshold. A fold with nothing to learn from
(the first walk-forward block) keeps its raw probabilities and the fallback threshold. ``auto``
chooses the method with the lower Brier score of these cross-fitted predictions (a proper score, and
bounded, unlike the log-loss an isotonic step at 0 can send to infinity; the log-loss is reported).
The final map is fitted on every fold's predictions.

A calibrator never costs the model its order, so its PR-AUC and ROC-AUC are the raw model's.
Isotonic regression alone is a step function: on the 200,000-row NSE sample it left 91-119
distinct probabilities and cost the boosters about 0.02 test PR-AUC in ties. So isotonic here is
:class:`IsotonicCalibrator`: the isotonic fit plus a ``1e-4`` share of the raw probability, which
breaks every tie the steps made in the raw order and moves no probability by more than ``1e-4``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from scipy.special import expit, logit
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, log_loss

from uctune.errors import ConfigError
from uctune.metrics import FALLBACK_THRESHOLD, ThresholdFrom, allowed_folds, f1_optimal_threshold

__all__ = [
    "CALIBRATION_CHOICES",
    "CalibrationChoice",
    "CalibrationMethod",
    "CrossFitted",
    "IsotonicCalibrator",
    "SigmoidCalibrator",
    "calibration_scores",
    "cross_fit_calibration",
    "expected_calibration_error",
    "fit_calibrator",
]

CalibrationMethod = Literal["isotonic", "sigmoid"]
CalibrationChoice = Literal["auto", "isotonic", "sigmoid", "none"]
CALIBRATION_CHOICES: tuple[CalibrationChoice, ...] = ("auto", "isotonic", "sigmoid", "none")
METHODS: tuple[CalibrationMethod, ...] = ("isotonic", "sigmoid")
ECE_BINS = 10
_EPS = 1e-6  # keeps log-odds finite for probabilities of exactly 0 or 1


@dataclass(frozen=True)
class SigmoidCalibrator:
    """Platt scaling on the log-odds: ``p' = sigmoid(a * logit(p) + b)``, fitted by maximum
    likelihood (an unpenalised one-feature logistic regression). A map, not an estimator: it
    takes and returns probabilities, as scikit-learn's ``IsotonicRegression`` does here."""

    a: float
    b: float

    @classmethod
    def fit(cls, proba: Any, y: Any) -> SigmoidCalibrator:
        z = _logit(proba).reshape(-1, 1)
        lr = LogisticRegression(C=np.inf, solver="lbfgs").fit(z, np.asarray(y, dtype=np.int64))
        return cls(float(lr.coef_[0, 0]), float(lr.intercept_[0]))

    def predict(self, proba: Any) -> np.ndarray:
        return np.asarray(expit(self.a * _logit(proba) + self.b), dtype=np.float64)


_TIE_BREAK = 1e-4


@dataclass(frozen=True)
class IsotonicCalibrator:
    """Isotonic regression whose ties are broken by the raw probability:
    ``p' = (1 - 1e-4) * isotonic(p) + 1e-4 * p``, strictly increasing wherever ``p`` is, so the
    calibrated probabilities rank the rows exactly as the raw ones do."""

    isotonic: IsotonicRegression

    @classmethod
    def fit(cls, proba: Any, y: Any) -> IsotonicCalibrator:
        iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0)
        return cls(iso.fit(np.asarray(proba, dtype=np.float64).ravel(), y))

    def predict(self, proba: Any) -> np.ndarray:
        p = np.clip(np.asarray(proba, dtype=np.float64).ravel(), 0.0, 1.0)
        stepped = np.asarray(self.isotonic.predict(p), dtype=np.float64)
        return (1.0 - _TIE_BREAK) * stepped + _TIE_BREAK * p


def _logit(proba: Any) -> np.ndarray:
    p = np.clip(np.asarray(proba, dtype=np.float64).ravel(), _EPS, 1 - _EPS)
    return np.asarray(logit(p), dtype=np.float64)


def fit_calibrator(method: CalibrationMethod, proba: Any, y: Any) -> Any:
    """A fitted monotone map from raw to calibrated probabilities (``.predict(p)``)."""
    p = np.asarray(proba, dtype=np.float64).ravel()
    labels = np.asarray(y, dtype=np.int64).ravel()
    if method == "isotonic":
        return IsotonicCalibrator.fit(p, labels)
    if method == "sigmoid":
        return SigmoidCalibrator.fit(p, labels)
    raise ConfigError(f"calibration method must be one of {', '.join(METHODS)}, got {method!r}")


def _apply(calibrator: Any, proba: np.ndarray) -> np.ndarray:
    return np.clip(np.asarray(calibrator.predict(proba), dtype=np.float64), 0.0, 1.0)


def expected_calibration_error(y: Any, proba: Any, n_bins: int = ECE_BINS) -> float:
    """Expected calibration error: over ``n_bins`` equal-width bins of predicted probability, the
    row-weighted mean of |observed rate - mean prediction|."""
    labels = np.asarray(y, dtype=np.float64).ravel()
    p = np.asarray(proba, dtype=np.float64).ravel()
    if len(p) == 0:
        return float("nan")
    bins = np.minimum((p * n_bins).astype(np.int64), n_bins - 1)
    count = np.bincount(bins, minlength=n_bins)
    gap = np.bincount(bins, weights=labels, minlength=n_bins) - np.bincount(
        bins, weights=p, minlength=n_bins
    )
    return float(np.abs(gap).sum() / count.sum())


def calibration_scores(y: Any, proba: Any) -> dict[str, float]:
    """Brier score, log-loss and expected calibration error of some probabilities."""
    labels = np.asarray(y, dtype=np.int64).ravel()
    p = np.asarray(proba, dtype=np.float64).ravel()
    return {
        "brier": float(brier_score_loss(labels, p, labels=[0, 1])),
        "log_loss": float(log_loss(labels, np.clip(p, _EPS, 1 - _EPS), labels=[0, 1])),
        "ece": expected_calibration_error(labels, p),
    }


@dataclass
class CrossFitted:
    """A family's calibration: the chosen ``method`` (``none``: raw probabilities kept), the final
    ``calibrator`` (fitted on every fold), each fold's cross-fitted calibrated ``fold_proba`` and
    honest ``thresholds``, and the cross-fitted scores of every method tried (``candidates``; the
    raw probabilities under ``none``)."""

    method: CalibrationMethod | Literal["none"]
    calibrator: Any
    fold_proba: list[np.ndarray] = field(repr=False)
    thresholds: list[float]
    candidates: dict[str, dict[str, float]]
    choice: CalibrationChoice

    def apply(self, proba: Any) -> np.ndarray:
        """The final map applied to raw probabilities (identity under ``none``)."""
        p = np.asarray(proba, dtype=np.float64)
        return p if self.calibrator is None or not len(p) else _apply(self.calibrator, p)

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "choice": self.choice,
            "chosen_by": (
                "lowest Brier score of the cross-fitted out-of-fold predictions"
                if self.choice == "auto"
                else "configured"
            ),
            "fitted_on": "out-of-fold predictions of the training rows",
            "candidates": self.candidates,
        }


def _two_classes(y: np.ndarray) -> bool:
    return len(np.unique(y)) == 2


def _cross_fit(
    method: CalibrationMethod | Literal["none"],
    y_folds: Sequence[np.ndarray],
    proba_folds: Sequence[np.ndarray],
    source: ThresholdFrom,
) -> tuple[list[np.ndarray], list[float]]:
    """Each fold's probabilities under a map fitted without it, and its threshold chosen on the
    allowed folds under that same map."""
    out: list[np.ndarray] = []
    cuts: list[float] = []
    n = len(y_folds)
    for k in range(n):
        allowed = allowed_folds(k, n, source)
        p_k = np.asarray(proba_folds[k], dtype=np.float64)
        if not allowed:
            out.append(p_k)
            cuts.append(FALLBACK_THRESHOLD)
            continue
        y_a = np.concatenate([np.asarray(y_folds[j], dtype=np.int64) for j in allowed])
        p_a = np.concatenate([np.asarray(proba_folds[j], dtype=np.float64) for j in allowed])
        if not _two_classes(y_a):
            out.append(p_k)
            cuts.append(FALLBACK_THRESHOLD)
            continue
        if method == "none":
            out.append(p_k)
            cuts.append(f1_optimal_threshold(y_a, p_a))
            continue
        calibrator = fit_calibrator(method, p_a, y_a)
        out.append(_apply(calibrator, p_k))
        cuts.append(f1_optimal_threshold(y_a, _apply(calibrator, p_a)))
    return out, cuts


def cross_fit_calibration(
    y_folds: Sequence[np.ndarray],
    proba_folds: Sequence[np.ndarray],
    *,
    choice: CalibrationChoice = "auto",
    source: ThresholdFrom = "other_folds",
) -> CrossFitted:
    """Calibrate a model's out-of-fold predictions (given fold by fold, in fold order).

    ``choice`` is a method, ``none``, or ``auto`` (the lower cross-fitted Brier score of isotonic
    and sigmoid). See the module notes for what each fold is allowed to learn from.
    """
    if choice not in CALIBRATION_CHOICES:
        raise ConfigError(
            f"calibration must be one of {', '.join(CALIBRATION_CHOICES)}, got {choice!r}"
        )
    y_all = np.concatenate([np.asarray(v, dtype=np.int64) for v in y_folds])
    p_all = np.concatenate([np.asarray(v, dtype=np.float64) for v in proba_folds])
    tried: list[CalibrationMethod | Literal["none"]] = (
        ["none"] if choice == "none" else list(METHODS) if choice == "auto" else [choice]
    )
    results = {m: _cross_fit(m, y_folds, proba_folds, source) for m in tried}
    candidates = {"none": calibration_scores(y_all, p_all)} if _two_classes(y_all) else {}
    for m, (folds, _) in results.items():
        if m != "none" and _two_classes(y_all):
            candidates[m] = calibration_scores(y_all, np.concatenate(folds))
    method = min(tried, key=lambda m: candidates.get(m, {}).get("brier", np.inf))
    if not _two_classes(y_all):  # nothing to calibrate against: the raw probabilities stay
        method = "none"
        results.setdefault("none", _cross_fit("none", y_folds, proba_folds, source))
    fold_proba, thresholds = results[method]
    calibrator = None if method == "none" else fit_calibrator(method, p_all, y_all)
    return CrossFitted(
        method=method,
        calibrator=calibrator,
        fold_proba=fold_proba,
        thresholds=thresholds,
        candidates=candidates,
        choice=choice,
    )
