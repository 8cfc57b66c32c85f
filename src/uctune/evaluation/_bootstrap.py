"""Bootstrap confidence intervals for the headline metrics, vectorised over resamples.

With a few dozen positives in a test split, a point F1 can move by ten points between two equally
likely test sets; the interval says how much. Resamples are drawn with replacement from the test rows
(a seeded percentile bootstrap). Every metric of every resample is computed at once on a
``(resamples, rows)`` index matrix, in chunks that bound memory, with the same conventions as
:func:`uctune.metrics.classification_metrics`: a row is positive when its probability is at least the
threshold, an undefined ratio is 0, and ROC-AUC / PR-AUC of a resample with one class are NaN (left
out of the interval).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from uctune.calibration import ECE_BINS
from uctune.errors import ConfigError
from uctune.metrics import METRICS

__all__ = [
    "CALIBRATION_METRICS",
    "HEADLINE",
    "MIN_RESAMPLES",
    "Interval",
    "bootstrap_intervals",
    "calibration_intervals",
    "difference_intervals",
    "resample_calibration",
    "resample_metrics",
]

HEADLINE = METRICS  # the metrics each resample scores, in uctune.metrics' order
CALIBRATION_METRICS = ("brier", "ece")
MIN_RESAMPLES = 20
_CHUNK_CELLS = 1_000_000  # index-matrix cells per chunk: ~8 MB per int64 array


@dataclass(frozen=True)
class Interval:
    """A percentile bootstrap interval; ``resamples`` counts the resamples where it was defined."""

    low: float
    high: float
    level: float
    resamples: int


def resample_metrics(
    y_true: np.ndarray, proba: np.ndarray, threshold: float, indices: np.ndarray
) -> dict[str, np.ndarray]:
    """F1, precision, recall, ROC-AUC and PR-AUC of each row of ``indices`` (a resample of rows)."""
    y = np.asarray(y_true, dtype=np.int64)
    p = np.asarray(proba, dtype=np.float64)
    indices = np.atleast_2d(np.asarray(indices, dtype=np.int64))
    # Sorting the data once by score makes a sorted resample a sort of integers, and equal scores
    # adjacent, so ties are handled by position alone.
    order = np.argsort(p, kind="stable")
    position = np.empty_like(order)
    position[order] = np.arange(len(order))
    p_sorted, y_sorted = p[order], y[order]
    tie_group = np.concatenate([[0], np.cumsum(p_sorted[1:] != p_sorted[:-1])])

    idx = np.sort(position[indices], axis=1)
    ys = y_sorted[idx]
    groups = tie_group[idx]
    n_rows, n = idx.shape
    cols = np.broadcast_to(np.arange(n), (n_rows, n))

    positives = ys.sum(axis=1)
    negatives = n - positives
    predicted = p_sorted[idx] >= threshold
    tp = (ys * predicted).sum(axis=1)
    n_pred = predicted.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(n_pred > 0, tp / n_pred, 0.0)
        recall = np.where(positives > 0, tp / positives, 0.0)
        f1 = np.where(n_pred + positives > 0, 2 * tp / (n_pred + positives), 0.0)

    starts = np.ones_like(groups, dtype=bool)
    starts[:, 1:] = groups[:, 1:] != groups[:, :-1]
    ends = np.ones_like(groups, dtype=bool)
    ends[:, :-1] = groups[:, :-1] != groups[:, 1:]
    first = np.maximum.accumulate(np.where(starts, cols, 0), axis=1)
    last = np.minimum.accumulate(np.where(ends, cols, n - 1)[:, ::-1], axis=1)[:, ::-1]

    # ROC-AUC is the Mann-Whitney statistic on average ranks (ties count a half).
    ranks = (first + last) / 2 + 1
    with np.errstate(divide="ignore", invalid="ignore"):
        roc_auc = ((ranks * ys).sum(axis=1) - positives * (positives + 1) / 2) / (
            positives * negatives
        )
    # Average precision: each positive adds the precision at its own score (its tie group counted).
    positives_before = np.cumsum(ys, axis=1) - ys
    pos_at_or_above = positives[:, None] - np.take_along_axis(positives_before, first, axis=1)
    precision_at = pos_at_or_above / (n - first)
    with np.errstate(divide="ignore", invalid="ignore"):
        pr_auc = (precision_at * ys).sum(axis=1) / positives
    defined = (positives > 0) & (negatives > 0)
    return {
        "f1": f1,
        "precision": precision,
        "recall": recall,
        "roc_auc": np.where(defined, roc_auc, np.nan),
        "pr_auc": np.where(defined, pr_auc, np.nan),
    }


def resample_calibration(
    y_true: np.ndarray, proba: np.ndarray, indices: np.ndarray, *, n_bins: int = ECE_BINS
) -> dict[str, np.ndarray]:
    """Brier score and expected calibration error (``n_bins`` equal-width bins, as
    :func:`uctune.calibration.expected_calibration_error` bins) of each row of ``indices``."""
    y = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(proba, dtype=np.float64)
    indices = np.atleast_2d(np.asarray(indices, dtype=np.int64))
    n_rows, n = indices.shape
    brier = ((p - y) ** 2)[indices].mean(axis=1)
    # Each resample's per-bin sums of (label - probability) in one bincount: resample r's bin b
    # is cell r * n_bins + b.
    bins = np.minimum((p * n_bins).astype(np.int64), n_bins - 1)
    cells = (np.arange(n_rows)[:, None] * n_bins + bins[indices]).ravel()
    gap = np.bincount(cells, weights=(y - p)[indices].ravel(), minlength=n_rows * n_bins)
    ece = np.abs(gap.reshape(n_rows, n_bins)).sum(axis=1) / n
    return {"brier": brier, "ece": ece}


def _check(n_resamples: int, level: float, n: int) -> None:
    if n_resamples < MIN_RESAMPLES:
        raise ConfigError(
            f"bootstrap resamples must be at least {MIN_RESAMPLES}, got {n_resamples}"
        )
    if not 0.0 < level < 1.0:
        raise ConfigError(f"confidence level must be between 0 and 1, got {level}")
    if n == 0:
        raise ConfigError("cannot bootstrap an empty test set")


def _intervals(
    score: Callable[[np.ndarray], dict[str, np.ndarray]],
    metrics: Sequence[str],
    n: int,
    *,
    n_resamples: int,
    level: float,
    random_state: int,
) -> dict[str, Interval]:
    """Percentile intervals of ``score(indices)``'s metrics over seeded resamples of ``n`` rows,
    drawn in chunks that bound memory (the same draws for the same seed and ``n``)."""
    _check(n_resamples, level, n)
    rng = np.random.default_rng(random_state)
    chunk = max(1, _CHUNK_CELLS // n)
    parts: dict[str, list[np.ndarray]] = {m: [] for m in metrics}
    done = 0
    while done < n_resamples:
        size = min(chunk, n_resamples - done)
        scores = score(rng.integers(0, n, size=(size, n)))
        for metric in metrics:
            parts[metric].append(scores[metric])
        done += size
    tail = (1.0 - level) / 2 * 100
    out: dict[str, Interval] = {}
    for metric in metrics:
        values = np.concatenate(parts[metric])
        values = values[np.isfinite(values)]
        if len(values) == 0:
            out[metric] = Interval(float("nan"), float("nan"), level, 0)
            continue
        low, high = np.percentile(values, [tail, 100 - tail])
        out[metric] = Interval(float(low), float(high), level, len(values))
    return out


def bootstrap_intervals(
    y_true: np.ndarray,
    proba: np.ndarray,
    threshold: float,
    *,
    n_resamples: int = 1000,
    level: float = 0.95,
    random_state: int = 0,
) -> dict[str, Interval]:
    """Percentile intervals of the headline metrics over ``n_resamples`` seeded resamples of the rows."""
    return _intervals(
        lambda idx: resample_metrics(y_true, proba, threshold, idx),
        HEADLINE,
        len(y_true),
        n_resamples=n_resamples,
        level=level,
        random_state=random_state,
    )


def calibration_intervals(
    y_true: np.ndarray,
    proba: np.ndarray,
    *,
    n_resamples: int = 1000,
    level: float = 0.95,
    random_state: int = 0,
) -> dict[str, Interval]:
    """Percentile intervals of the Brier score and the expected calibration error, over the same
    resamples :func:`bootstrap_intervals` draws for this seed (so two sets of probabilities of the
    same rows are compared on the same resamples)."""
    return _intervals(
        lambda idx: resample_calibration(y_true, proba, idx),
        CALIBRATION_METRICS,
        len(y_true),
        n_resamples=n_resamples,
        level=level,
        random_state=random_state,
    )


def difference_intervals(
    y_true: np.ndarray,
    proba_a: np.ndarray,
    threshold_a: float,
    proba_b: np.ndarray,
    threshold_b: float,
    *,
    n_resamples: int = 1000,
    level: float = 0.95,
    random_state: int = 0,
) -> dict[str, Interval]:
    """Paired percentile intervals of model A's headline metrics minus model B's, both scored on
    each resample of the same rows: an interval that excludes 0 says the test split tells them
    apart, which two overlapping intervals of their own cannot say."""

    def score(idx: np.ndarray) -> dict[str, np.ndarray]:
        a = resample_metrics(y_true, proba_a, threshold_a, idx)
        b = resample_metrics(y_true, proba_b, threshold_b, idx)
        return {m: a[m] - b[m] for m in HEADLINE}

    return _intervals(
        score,
        HEADLINE,
        len(y_true),
        n_resamples=n_resamples,
        level=level,
        random_state=random_state,
    )
