"""One model's evaluation on the test split: a pure function of labels, probabilities and threshold."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from sklearn.metrics import brier_score_loss, classification_report

from uctune.errors import DataError
from uctune.evaluation._alerts import AlertBucket, alert_buckets
from uctune.evaluation._bootstrap import Interval, bootstrap_intervals
from uctune.metrics import classification_metrics

__all__ = ["Evaluation", "evaluate"]

CLASS_NAMES = ("no upper circuit", "upper circuit")


@dataclass(frozen=True)
class Evaluation:
    """Metrics of one model's test probabilities, at 0.5 and at its stored threshold.

    ``intervals`` are bootstrap intervals of the metrics at the stored threshold (empty when the
    bootstrap was turned off); ``classification_report`` is scikit-learn's, at that threshold.
    """

    rows: int
    positives: int
    base_rate: float
    threshold: float
    at_05: dict[str, float]
    at_threshold: dict[str, float]
    brier: float
    intervals: dict[str, Interval]
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
            "intervals": {
                m: {"low": i.low, "high": i.high, "level": i.level, "resamples": i.resamples}
                for m, i in self.intervals.items()
            },
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
    return Evaluation(
        rows=len(y),
        positives=int(y.sum()),
        base_rate=float(y.mean()),
        threshold=float(threshold),
        at_05=classification_metrics(y, p, 0.5),
        at_threshold=classification_metrics(y, p, threshold),
        brier=float(brier_score_loss(y, p, labels=[0, 1])),
        intervals=intervals,
        classification_report=report,
        alerts=alert_buckets(y, p),
        y_true=y,
        proba=p,
    )
