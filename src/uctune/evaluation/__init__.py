"""Evaluating models on the test split: metrics at 0.5 and at the stored threshold, calibration
(Brier score, expected calibration error), bootstrap intervals, the classification report and the
alert buckets (p ≥ 0.9 high, 0.7–0.9 medium, 0.5–0.7 low). Pure functions, no files."""

from __future__ import annotations

from uctune.evaluation._alerts import AlertBucket, alert_buckets
from uctune.evaluation._bootstrap import (
    CALIBRATION_METRICS,
    HEADLINE,
    MIN_RESAMPLES,
    Interval,
    bootstrap_intervals,
    calibration_intervals,
    difference_intervals,
    resample_calibration,
    resample_metrics,
)
from uctune.evaluation._evaluate import (
    CLASS_NAMES,
    CalibrationCheck,
    Evaluation,
    calibration_check,
    evaluate,
)

__all__ = [
    "CALIBRATION_METRICS",
    "CLASS_NAMES",
    "HEADLINE",
    "MIN_RESAMPLES",
    "AlertBucket",
    "CalibrationCheck",
    "Evaluation",
    "Interval",
    "alert_buckets",
    "bootstrap_intervals",
    "calibration_check",
    "calibration_intervals",
    "difference_intervals",
    "evaluate",
    "resample_calibration",
    "resample_metrics",
]
