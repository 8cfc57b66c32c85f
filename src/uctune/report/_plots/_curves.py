"""The classification figures: confusion matrix, ROC and precision-recall curves, calibration,
the threshold trade-off, alert buckets and interval charts."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from sklearn.calibration import calibration_curve
from sklearn.metrics import confusion_matrix, precision_recall_curve, roc_curve

from uctune.evaluation import AlertBucket, Interval
from uctune.report._plots._base import (
    MUTED,
    PALETTE,
    POS,
    SMALL,
    WIDE,
    Curve,
    new_figure,
    style_axes,
)

__all__ = [
    "alerts_figure",
    "calibration_figure",
    "confusion_figure",
    "intervals_figure",
    "pr_figure",
    "roc_figure",
    "threshold_figure",
]


def _point_at(y: np.ndarray, p: np.ndarray, threshold: float) -> tuple[float, float, float]:
    """(false-positive rate, recall, precision) when rows with probability >= threshold are flagged."""
    pred = p >= threshold
    tp = float(np.sum(pred & (y == 1)))
    fp = float(np.sum(pred & (y == 0)))
    positives, negatives = float(np.sum(y == 1)), float(np.sum(y == 0))
    fpr = fp / negatives if negatives else 0.0
    recall = tp / positives if positives else 0.0
    precision = tp / (tp + fp) if tp + fp else 1.0
    return fpr, recall, precision


def _mark_thresholds(
    ax: Axes,
    curves: Sequence[Curve],
    xy: Callable[[float, float, float], tuple[float, float]],
) -> None:
    """A dot on each curve at its stored threshold; a lone curve also gets a square at 0.5.

    ``xy`` picks the plot's coordinates from :func:`_point_at`'s (fpr, recall, precision).
    """
    for c in curves:
        if c.threshold is not None:
            ax.plot(
                *xy(*_point_at(c.y_true, c.proba, c.threshold)),
                "o",
                color=c.color,
                markersize=6,
                markeredgecolor="white",
            )
    if len(curves) == 1 and curves[0].threshold is not None:
        c = curves[0]
        ax.plot(
            *xy(*_point_at(c.y_true, c.proba, 0.5)),
            "s",
            color=MUTED,
            markersize=6,
            markeredgecolor="white",
            label="at 0.5",
        )
        ax.plot([], [], "o", color=c.color, label=f"at threshold {c.threshold:.3f}")


# -- confusion matrices ------------------------------------------------------------------------
def confusion_figure(
    y_true: np.ndarray, proba: np.ndarray, thresholds: Sequence[tuple[str, float]]
) -> Figure:
    """One heatmap per threshold: counts, and the share of each true class (row) in brackets."""
    fig = new_figure((3.1 * len(thresholds) + 0.6, 3.3))
    axes = fig.subplots(1, len(thresholds), squeeze=False)[0]
    names = ["no UC", "UC"]
    for ax, (title, threshold) in zip(axes, thresholds, strict=True):
        cm = confusion_matrix(y_true, (proba >= threshold).astype(int), labels=[0, 1])
        share = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
        ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
        for i in range(2):
            for j in range(2):
                dark = share[i, j] > 0.55
                ax.text(
                    j,
                    i,
                    f"{cm[i, j]:,}\n({share[i, j]:.0%})",
                    ha="center",
                    va="center",
                    fontsize=11,
                    color="white" if dark else "#222222",
                )
        ax.set_xticks([0, 1], [f"pred. {n}" for n in names])
        ax.set_yticks([0, 1], [f"true {n}" for n in names], rotation=90, va="center")
        ax.tick_params(length=0)
        ax.set_title(title, fontsize=10)
        for side in ax.spines.values():
            side.set_visible(False)
    fig.suptitle("Confusion matrix on the test split (UC = upper circuit)", fontsize=11)
    return fig


# -- ROC and precision-recall ------------------------------------------------------------------
def roc_figure(curves: Sequence[Curve], *, auc: Mapping[str, str] | None = None) -> Figure:
    """ROC curves; ``auc`` maps a curve label to the text shown in the legend (score, interval)."""
    fig = new_figure(SMALL if len(curves) == 1 else WIDE)
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], linestyle=":", color=MUTED, linewidth=1, label="chance")
    for c in curves:
        fpr, tpr, _ = roc_curve(c.y_true, c.proba)
        extra = f" — AUC {auc[c.label]}" if auc and c.label in auc else ""
        ax.plot(fpr, tpr, color=c.color, linewidth=1.8, label=f"{c.label}{extra}")
    _mark_thresholds(ax, curves, lambda fpr, recall, precision: (fpr, recall))
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.01)
    ax.set_xlabel("False-positive rate")
    ax.set_ylabel("True-positive rate (recall)")
    ax.set_title("ROC curve" + ("s" if len(curves) > 1 else ""), fontsize=11)
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    style_axes(ax)
    return fig


def pr_figure(
    curves: Sequence[Curve], *, base_rate: float, ap: Mapping[str, str] | None = None
) -> Figure:
    """Precision-recall curves, with the base rate (a random model's precision) for reference."""
    fig = new_figure(SMALL if len(curves) == 1 else WIDE)
    ax = fig.add_subplot()
    ax.axhline(
        base_rate,
        linestyle=":",
        color=MUTED,
        linewidth=1,
        label=f"base rate {base_rate:.3f}",
    )
    for c in curves:
        precision, recall, _ = precision_recall_curve(c.y_true, c.proba)
        extra = f" — AP {ap[c.label]}" if ap and c.label in ap else ""
        ax.step(
            recall, precision, where="post", color=c.color, linewidth=1.8, label=c.label + extra
        )
    _mark_thresholds(ax, curves, lambda fpr, recall, precision: (recall, precision))
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.03)
    ax.set_xlabel("Recall")
    ax.set_ylabel("Precision")
    ax.set_title("Precision-recall curve" + ("s" if len(curves) > 1 else ""), fontsize=11)
    ax.legend(loc="upper right", fontsize=8, frameon=False)
    style_axes(ax)
    return fig


# -- calibration --------------------------------------------------------------------------------
def calibration_figure(
    curves: Sequence[Curve], *, n_bins: int = 10, title: str = "Calibration (reliability)"
) -> Figure:
    """Reliability diagram (observed rate against mean predicted probability per bin) over a
    histogram of the predicted probabilities (log scale: most rows sit near 0)."""
    fig = new_figure((SMALL[0], 4.8) if len(curves) == 1 else (WIDE[0], 5.2))
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1.2])
    top.plot([0, 1], [0, 1], linestyle=":", color=MUTED, linewidth=1, label="perfectly calibrated")
    edges = np.linspace(0, 1, n_bins + 1)
    for c in curves:
        observed, predicted = calibration_curve(
            c.y_true, c.proba, n_bins=n_bins, strategy="uniform"
        )
        top.plot(
            predicted, observed, "o-", color=c.color, linewidth=1.5, markersize=4, label=c.label
        )
        counts, _ = np.histogram(c.proba, bins=edges)
        bottom.stairs(np.maximum(counts, 0.8), edges, color=c.color, linewidth=1.3, baseline=0.8)
    top.set_ylabel("Observed upper-circuit rate")
    top.set_xlim(-0.01, 1.01)
    top.set_ylim(-0.01, 1.01)
    top.set_title(title, fontsize=11)
    top.legend(loc="upper left", fontsize=8, frameon=False)
    bottom.set_yscale("log")
    bottom.set_ylim(bottom=0.8)
    bottom.set_ylabel("Rows", fontsize=9)
    bottom.set_xlabel("Predicted probability (bins of 0.1)")
    style_axes(top)
    style_axes(bottom)
    return fig


# -- threshold sweep ----------------------------------------------------------------------------
def threshold_figure(y_true: np.ndarray, proba: np.ndarray, threshold: float) -> Figure:
    """Precision, recall and F1 when rows with probability >= t are flagged, for t in [0, 1]."""
    grid = np.linspace(0.0, 1.0, 201)
    pos = np.sort(proba[y_true == 1])
    neg = np.sort(proba[y_true == 0])
    tp = len(pos) - np.searchsorted(pos, grid, side="left")
    fp = len(neg) - np.searchsorted(neg, grid, side="left")
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(tp + fp > 0, tp / (tp + fp), np.nan)
        recall = tp / max(len(pos), 1)
        f1 = np.where(tp > 0, 2 * tp / (tp + fp + len(pos)), 0.0)
    fig = new_figure(SMALL)
    ax = fig.add_subplot()
    ax.plot(grid, precision, color=PALETTE[0], linewidth=1.8, label="precision")
    ax.plot(grid, recall, color=PALETTE[1], linewidth=1.8, label="recall")
    ax.plot(grid, f1, color=PALETTE[2], linewidth=2.2, label="F1")
    ax.axvline(0.5, color=MUTED, linestyle=":", linewidth=1.2, label="0.5")
    ax.axvline(
        threshold,
        color="#222222",
        linestyle="--",
        linewidth=1.2,
        label=f"threshold {threshold:.3f}",
    )
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.01, 1.03)
    ax.set_xlabel("Decision threshold (flag when probability ≥ threshold)")
    ax.set_ylabel("Score on the test split")
    ax.set_title("Precision, recall and F1 against the threshold", fontsize=11)
    fig.legend(loc="outside lower center", ncols=5, fontsize=8, frameon=False)
    style_axes(ax)
    return fig


# -- alert buckets ------------------------------------------------------------------------------
def alerts_figure(buckets: Sequence[AlertBucket]) -> Figure:
    """Alerts per probability band, split into upper circuits (hits) and false alarms."""
    ordered = sorted(buckets, key=lambda b: b.lower)
    labels = [b.label for b in ordered]
    hits = np.array([b.hits for b in ordered])
    misses = np.array([b.alerts - b.hits for b in ordered])
    fig = new_figure(SMALL)
    ax = fig.add_subplot()
    x = np.arange(len(ordered))
    ax.bar(x, hits, color=POS, width=0.6, label="upper circuit (hit)")
    ax.bar(
        x, misses, bottom=hits, color="#c9c9c9", width=0.6, label="no upper circuit (false alarm)"
    )
    top = max(int((hits + misses).max()) if len(ordered) else 0, 1)
    for xi, b in zip(x, ordered, strict=True):
        text = (
            f"{b.alerts} alerts\nprecision {b.precision:.2f}"
            if b.precision is not None
            else "no alerts"
        )
        ax.text(float(xi), b.alerts + top * 0.02, text, ha="center", va="bottom", fontsize=9)
    ax.set_xticks(x, [f"p {label}" for label in labels])
    ax.set_ylim(0, top * 1.3)
    ax.set_ylabel("Alerts on the test split")
    ax.set_title("Alert buckets (predicted probability bands)", fontsize=11)
    ax.legend(loc="upper right", fontsize=8, frameon=False)
    style_axes(ax)
    return fig


def _span(
    points: Mapping[str, Mapping[str, float]],
    intervals: Mapping[str, Mapping[str, Interval]],
    metric: str,
) -> tuple[float, float]:
    """An x range around every point and interval of ``metric``, within [0, 1]."""
    values = [points[n].get(metric, float("nan")) for n in points]
    for per in intervals.values():
        if metric in per:
            values += [per[metric].low, per[metric].high]
    finite = [v for v in values if np.isfinite(v)]
    if not finite:
        return 0.0, 1.0
    lo, hi = min(finite), max(finite)
    pad = max((hi - lo) * 0.15, 0.02)
    return max(0.0, lo - pad), min(1.0, hi + pad)


# -- comparison of intervals --------------------------------------------------------------------
def intervals_figure(
    points: Mapping[str, Mapping[str, float]],
    intervals: Mapping[str, Mapping[str, Interval]],
    colors: Mapping[str, str],
    metrics: Sequence[tuple[str, str]],
) -> Figure:
    """Point estimates and bootstrap intervals of a few metrics, one row per model."""
    models = list(points)
    fig = new_figure((3.0 * len(metrics) + 0.8, 0.42 * len(models) + 1.5))
    axes = fig.subplots(1, len(metrics), sharey=True, squeeze=False)[0]
    y = np.arange(len(models))[::-1]
    for ax, (metric, title) in zip(axes, metrics, strict=True):
        for yi, name in zip(y, models, strict=True):
            value = points[name].get(metric, float("nan"))
            interval = intervals.get(name, {}).get(metric)
            if interval is not None and np.isfinite(interval.low):
                ax.plot([interval.low, interval.high], [yi, yi], color=colors[name], linewidth=2.2)
            ax.plot(value, yi, "o", color=colors[name], markersize=7, markeredgecolor="white")
        ax.set_title(title, fontsize=10)
        ax.set_xlim(*_span(points, intervals, metric))
        style_axes(ax)
        ax.grid(False, axis="y")
    axes[0].set_yticks(y, models)
    axes[0].set_ylim(-0.7, len(models) - 0.3)
    level = next((i.level for per in intervals.values() for i in per.values() if i.resamples), 0.95)
    fig.suptitle(f"Test-split scores with {level:.0%} bootstrap intervals", fontsize=11)
    return fig
