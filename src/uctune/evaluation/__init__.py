"""Evaluating models on the test split: metrics at 0.5 and at the stored threshold, bootstrap
intervals, the classification report and the PRD's alert buckets. Pure functions, no files."""

from __future__ import annotations

from uctune.evaluation._alerts import AlertBucket, alert_buckets
from uctune.evaluation._bootstrap import (
    HEADLINE,
    MIN_RESAMPLES,
    Interval,
    bootstrap_intervals,
    resample_metrics,
)
from uctune.evaluation._evaluate import CLASS_NAMES, Evaluation, evaluate

__all__ = [
    "CLASS_NAMES",
    "HEADLINE",
    "MIN_RESAMPLES",
    "AlertBucket",
    "Evaluation",
    "Interval",
    "alert_buckets",
    "bootstrap_intervals",
    "evaluate",
    "resample_metrics",
]
