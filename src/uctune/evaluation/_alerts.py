"""The alert buckets (p ≥ 0.9 high, 0.7–0.9 medium, 0.5–0.7 low): how many alerts each probability
band raises, and how many are right."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from uctune.metrics import ALERT_BANDS, confidence_bands

__all__ = ["AlertBucket", "alert_buckets"]


@dataclass(frozen=True)
class AlertBucket:
    """One band: its bounds, the alerts in it, the upper circuits among them, and their precision.

    ``precision`` is ``None`` when the band raised no alert; ``share_of_positives`` is the fraction of
    all upper circuits in the data that fell into this band.
    """

    band: str
    lower: float
    upper: float
    alerts: int
    hits: int
    precision: float | None
    share_of_positives: float | None

    @property
    def label(self) -> str:
        return f"≥ {self.lower:g}" if self.upper >= 1.0 else f"{self.lower:g}–{self.upper:g}"


def alert_buckets(y_true: np.ndarray, proba: np.ndarray) -> list[AlertBucket]:
    """Count and precision per band of :data:`uctune.metrics.ALERT_BANDS`, each row placed by
    :func:`uctune.metrics.confidence_bands` (lower bound included, upper excluded, 1.0 in the top band).
    """
    y = np.asarray(y_true, dtype=np.int64)
    bands = confidence_bands(proba)
    positives = int(y.sum())
    out: list[AlertBucket] = []
    for band, lower, upper in ALERT_BANDS:
        inside = bands == band
        alerts = int(inside.sum())
        hits = int(y[inside].sum())
        out.append(
            AlertBucket(
                band=band,
                lower=lower,
                upper=upper,
                alerts=alerts,
                hits=hits,
                precision=hits / alerts if alerts else None,
                share_of_positives=hits / positives if positives else None,
            )
        )
    return out
