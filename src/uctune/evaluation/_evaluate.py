"""One model's evaluation on the test split: a pure function of labels, probabilities and threshold."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from sklearn.metrics import brier_score_loss, classification_report

from uctune.calibration import expected_calibration_error
from uctune.errors import DataError
from uctune.evaluation._alerts import AlertBucket, alert_buckets
from uctune.evaluation._bootstrap import Interval, bootstrap_intervals, calibration_intervals
from uctune.metrics import classification_metrics

__all__ = ["CalibrationCheck", "Evaluation", "calibration_check", "evaluate"]

CLASS_NAMES = ("no upper circuit", "upper circuit")


def _intervals_dict(intervals: dict[str, Interval]) -> dict[str, dict[str, float | int]]:
    return {
        m: {"low": i.low, "high": i.high, "level": i.level, "resamples": i.resamples}
        for m, i in intervals.items()
    }


@dataclass(frozen=True)
class CalibrationCheck:
    """How well some test probabilities are calibrated: Brier score, expected calibration error
    (10 equal-width bins) and their bootstrap intervals (empty when the bootstrap is off)."""

    brier: float
    ece: float
    intervals: dict[str, Interval]

    def to_dict(self) -> dict[str, Any]:
        return {"brier": self.brier, "ece": self.ece, "intervals": _intervals_dict(self.intervals)}


def calibration_check(
    y_true: np.ndarray,
    proba: np.ndarray,
    *,
    n_resamples: int = 1000,
    level: float = 0.95,
    random_state: int = 0,
) -> CalibrationCheck:
    """Brier score and ECE of test probabilities, with intervals over the resamples
    :func:`evaluate` draws for the same seed; ``n_resamples=0`` skips the intervals."""
    y = np.asarray(y_true).ravel()
    p = np.asarray(proba, dtype=np.float64).ravel()
    _check_scores(y, p)
    y = y.astype(np.int64)
    intervals = (
        calibration_intervals(y, p, n_resamples=n_resamples, level=level, random_state=random_state)
        if n_resamples
        else {}
    )
    return CalibrationCheck(
        brier=float(brier_score_loss(y, p, labels=[0, 1])),
        ece=expected_calibration_error(y, p),
        intervals=intervals,
    )


@dataclass(frozen=True)
class Evaluation:
    """Metrics of one model's test probabilities, at 0.5 and at its stored threshold.

    ``intervals`` are bootstrap intervals of the metrics at the stored threshold (empty when the
    bootstrap was turned off); ``calibration`` the Brier score and expected calibration error with
    theirs; ``classification_report`` is scikit-learn's, at that threshold.
    """

    rows: int
    positives: int
    base_rate: float
    threshold: float
    at_05: dict[str, float]
    at_threshold: dict[str, float]
    brier: float
    intervals: dict[str, Interval]
    calibration: CalibrationCheck
    classification_report: dict[str, Any]
    alerts: list[AlertBucket]
    y_true: np.ndarray = field(repr=False)
    proba: np.ndarray = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready numbers (no per-row arrays)."""
        return {
            "rows": self.rows,
            "positives": self.positives,
            "base_rate": self.base_rate,
            "threshold": self.threshold,
            "at_0.5": self.at_05,
            "at_threshold": self.at_threshold,
            "brier": self.brier,
            "ece": self.calibration.ece,
            "intervals": _intervals_dict(self.intervals),
            "calibration_intervals": _intervals_dict(self.calibration.intervals),
            "classification_report": self.classification_report,
            "alert_buckets": [{**asdict(b), "label": b.label} for b in self.alerts],
        }


def evaluate(
    y_true: np.ndarray,
    proba: np.ndarray,
    *,
    threshold: float = 0.5,
    n_resamples: int = 1000,
    level: float = 0.95,
    random_state: int = 0,
) -> Evaluation:
    """Evaluate test probabilities; ``n_resamples=0`` skips the bootstrap intervals."""
    y = np.asarray(y_true).ravel()
    p = np.asarray(proba, dtype=np.float64).ravel()
    _check_scores(y, p)
    y = y.astype(np.int64)
    predicted = (p >= threshold).astype(np.int64)
    report = classification_report(
        y,
        predicted,
        labels=[0, 1],
        target_names=list(CLASS_NAMES),
        output_dict=True,
        zero_division=0,
    )
    intervals = (
        bootstrap_intervals(
            y, p, threshold, n_resamples=n_resamples, level=level, random_state=random_state
        )
        if n_resamples
        else {}
    )
    calibration = calibration_check(
        y, p, n_resamples=n_resamples, level=level, random_state=random_state
    )
    return Evaluation(
        rows=len(y),
        positives=int(y.sum()),
        base_rate=float(y.mean()),
        threshold=float(threshold),
        at_05=classification_metrics(y, p, 0.5),
        at_threshold=classification_metrics(y, p, threshold),
        brier=calibration.brier,
        intervals=intervals,
        calibration=calibration,
        classification_report=report,
        alerts=alert_buckets(y, p),
        y_true=y,
        proba=p,
    )


def _check_scores(y: np.ndarray, p: np.ndarray) -> None:
    if len(y) != len(p):
        raise DataError(f"labels and probabilities differ in length: {len(y)} and {len(p)}")
    if len(y) == 0:
        raise DataError("cannot evaluate on an empty test set")
    labels = set(np.unique(y).tolist())
    if not labels <= {0, 1}:
        raise DataError(f"test labels must hold only 0/1, got values {sorted(labels - {0, 1})}")
    if not np.all(np.isfinite(p)) or p.min() < 0 or p.max() > 1:
        raise DataError(
            f"probabilities must be finite and within [0, 1], got range [{np.nanmin(p)}, {np.nanmax(p)}]"
        )
