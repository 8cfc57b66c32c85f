"""The PRD's alert buckets against counts made by hand."""

from __future__ import annotations

import numpy as np

from uctune.evaluation import alert_buckets
from uctune.metrics import confidence_band


def test_buckets_against_hand_counts():
    proba = np.array([1.0, 0.95, 0.9, 0.899, 0.75, 0.7, 0.69, 0.5, 0.499, 0.2, 0.0])
    y = np.array([1, 1, 0, 1, 0, 0, 1, 0, 1, 0, 0])
    by_band = {b.band: b for b in alert_buckets(y, proba)}
    # high: 1.0, 0.95, 0.9 -> 3 alerts, 2 hits; medium: 0.899, 0.75, 0.7 -> 3 alerts, 1 hit;
    # low: 0.69, 0.5 -> 2 alerts, 1 hit; 0.499 and below raise no alert. 5 positives in all.
    assert (by_band["high"].alerts, by_band["high"].hits) == (3, 2)
    assert (by_band["medium"].alerts, by_band["medium"].hits) == (3, 1)
    assert (by_band["low"].alerts, by_band["low"].hits) == (2, 1)
    assert by_band["high"].precision == 2 / 3
    assert by_band["low"].share_of_positives == 1 / 5
    assert [by_band[b].label for b in ("high", "medium", "low")] == ["≥ 0.9", "0.7–0.9", "0.5–0.7"]


def test_buckets_agree_with_confidence_band():
    rng = np.random.default_rng(0)
    proba = np.round(rng.random(500), 2)
    y = (rng.random(500) < proba).astype(int)
    for bucket in alert_buckets(y, proba):
        inside = np.array([confidence_band(p) == bucket.band for p in proba])
        assert bucket.alerts == inside.sum()
        assert bucket.hits == y[inside].sum()


def test_an_empty_band_has_no_precision():
    buckets = alert_buckets(np.array([0, 1]), np.array([0.1, 0.2]))
    assert all(b.alerts == 0 and b.precision is None for b in buckets)
    assert all(b.share_of_positives == 0.0 for b in buckets)
