"""Bootstrap confidence intervals for the headline metrics, vectorised over resamples.

With a few dozen positives in a test split, a point F1 can move by ten points between two equally
likely test sets; the interval says how much. Resamples are drawn with replacement from the test rows
(a seeded percentile bootstrap). Every metric of every resample is computed at once from a
``(resamples, rows)`` matrix of how often each resample draws each row, in chunks that bound memory,
with the same conventions as :func:`uctune.metrics.classification_metrics`: a row is positive when
its probability is at least the threshold, an undefined ratio is 0, and ROC-AUC / PR-AUC of a
resample with one class are NaN (left out of the interval).
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


def _counts(indices: np.ndarray, n: int) -> np.ndarray:
    """How many times each of the ``n`` rows appears in each resample (a row of ``indices``)."""
    r = indices.shape[0]
    flat = (indices + (np.arange(r, dtype=np.int64) * n)[:, None]).ravel()
    return np.bincount(flat, minlength=r * n).reshape(r, n)


def resample_metrics(
    y_true: np.ndarray, proba: np.ndarray, threshold: float, indices: np.ndarray
) -> dict[str, np.ndarray]:
    """F1, precision, recall, ROC-AUC and PR-AUC of each row of ``indices`` (a resample of rows)."""
    indices = np.atleast_2d(np.asarray(indices, dtype=np.int64))
    return _counted_metrics(y_true, proba, threshold, _counts(indices, len(proba)))


def _counted_metrics(
    y_true: np.ndarray, proba: np.ndarray, threshold: float, drawn_counts: np.ndarray
) -> dict[str, np.ndarray]:
    """:func:`resample_metrics` of resamples given as per-row draw counts (see :func:`_counts`)."""
    y = np.asarray(y_true, dtype=np.int64)
    p = np.asarray(proba, dtype=np.float64)
    n = int(drawn_counts[0].sum())
    # A resample is the number of times it draws each row. With the rows sorted once by score,
    # every metric is a cumulative sum of those counts: no resample is sorted. Equal scores form
    # a tie group, which counts as one step of the curves.
    order = np.argsort(p, kind="stable")
    p_sorted, y_sorted = p[order], y[order]
    counts = drawn_counts[:, order]
    starts = np.flatnonzero(np.concatenate([[True], p_sorted[1:] != p_sorted[:-1]]))
    drawn = counts if len(starts) == len(p) else np.add.reduceat(counts, starts, axis=1)
    drawn_below = np.cumsum(drawn, axis=1) - drawn  # per group: rows drawn at lower scores

    # Only groups holding a positive row add to ROC-AUC and PR-AUC: sum the positive rows'
    # counts per such group.
    group = np.zeros(len(p), dtype=np.int64)  # each sorted row's tie group
    group[starts[1:]] = 1
    group = np.cumsum(group)
    positive_rows = np.flatnonzero(y_sorted == 1)
    scored, first = np.unique(group[positive_rows], return_index=True)
    pos = (
        np.add.reduceat(counts[:, positive_rows], first, axis=1).astype(np.float64)
        if len(first)
        else np.zeros((len(drawn_counts), 0))
    )
    positives = pos.sum(axis=1)
    negatives = n - positives

    cut = int(np.searchsorted(p_sorted, threshold, side="left"))  # rows >= threshold from here
    n_pred = counts[:, cut:].sum(axis=1)
    tp = counts[:, positive_rows[positive_rows >= cut]].sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(n_pred > 0, tp / n_pred, 0.0)
        recall = np.where(positives > 0, tp / positives, 0.0)
        f1 = np.where(n_pred + positives > 0, 2 * tp / (n_pred + positives), 0.0)

    below = drawn_below[:, scored]
    pos_below = np.cumsum(pos, axis=1) - pos
    neg_here = drawn[:, scored] - pos
    with np.errstate(divide="ignore", invalid="ignore"):
        # ROC-AUC is the Mann-Whitney statistic: each positive beats the negatives below its
        # score and ties half of those at it.
        roc_auc = (pos * (below - pos_below + neg_here / 2)).sum(axis=1) / (positives * negatives)
        # Average precision: each positive adds the precision at its own score (its tie group
        # counted); a group drawn at least once has a row at or above it.
        precision_at = np.where(pos > 0, (positives[:, None] - pos_below) / (n - below), 0.0)
        pr_auc = (pos * precision_at).sum(axis=1) / positives
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
    n = indices.shape[1]
    counts = _counts(indices, len(p)).astype(np.float64)
    brier = counts @ ((p - y) ** 2) / n
    # Each resample's per-bin sum of (label - probability): the counts times a (rows, bins)
    # matrix holding each row's gap in its own bin.
    bins = np.minimum((p * n_bins).astype(np.int64), n_bins - 1)
    gaps = np.zeros((len(p), n_bins))
    gaps[np.arange(len(p)), bins] = y - p
    ece = np.abs(counts @ gaps).sum(axis=1) / n
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
        counts = _counts(idx, len(y_true))  # once for both models
        a = _counted_metrics(y_true, proba_a, threshold_a, counts)
        b = _counted_metrics(y_true, proba_b, threshold_b, counts)
        return {m: a[m] - b[m] for m in HEADLINE}

    return _intervals(
        score,
        HEADLINE,
        len(y_true),
        n_resamples=n_resamples,
        level=level,
        random_state=random_state,
    )
