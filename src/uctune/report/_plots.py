"""The report's figures: pure functions from numbers to matplotlib figures (Agg, no pyplot state).

Every function returns a :class:`~matplotlib.figure.Figure` built with the object-oriented API, so no
global figure registry fills up and nothing depends on the interactive backend; :func:`to_png`
renders one to PNG bytes.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure
from sklearn.calibration import calibration_curve
from sklearn.metrics import confusion_matrix, precision_recall_curve, roc_curve

from uctune.evaluation import AlertBucket, Interval
from uctune.explain import Explanation

__all__ = [
    "PALETTE",
    "Curve",
    "alerts_figure",
    "calibration_figure",
    "confusion_figure",
    "importance_figure",
    "intervals_figure",
    "pr_figure",
    "roc_figure",
    "shap_bar_figure",
    "shap_beeswarm_figure",
    "threshold_figure",
    "to_png",
    "tuning_history_figure",
]

# Colour-blind-safe (Okabe-Ito, then a few more); one colour per model, the same in every figure.
PALETTE: tuple[str, ...] = (
    "#0072B2",
    "#D55E00",
    "#009E73",
    "#CC79A7",
    "#E69F00",
    "#56B4E9",
    "#000000",
    "#999999",
    "#882255",
    "#44AA99",
)
_POS, _NEG, _MUTED = "#D55E00", "#0072B2", "#9a9a9a"
_SHAP_CMAP = LinearSegmentedColormap.from_list("shap", ["#008bfb", "#8a3ffc", "#ff0051"])
SMALL = (5.6, 4.0)
WIDE = (6.4, 4.4)


@dataclass(frozen=True)
class Curve:
    """One model's test labels and probabilities, as a curve in a plot."""

    label: str
    y_true: np.ndarray
    proba: np.ndarray
    color: str
    threshold: float | None = None


def to_png(fig: Figure, *, dpi: int = 110) -> bytes:
    """The figure as PNG bytes (no timestamp or software metadata, so equal figures give equal bytes)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return buf.getvalue()


def _figure(size: tuple[float, float] = SMALL) -> Figure:
    return Figure(figsize=size, layout="constrained")


def _style(ax: Axes, *, grid: bool = True) -> None:
    ax.spines[["top", "right"]].set_visible(False)
    if grid:
        ax.grid(True, color="#e6e6e6", linewidth=0.8)
        ax.set_axisbelow(True)


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
            color=_MUTED,
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
    fig = _figure((3.1 * len(thresholds) + 0.6, 3.3))
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
    fig = _figure(SMALL if len(curves) == 1 else WIDE)
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], linestyle=":", color=_MUTED, linewidth=1, label="chance")
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
    _style(ax)
    return fig


def pr_figure(
    curves: Sequence[Curve], *, base_rate: float, ap: Mapping[str, str] | None = None
) -> Figure:
    """Precision-recall curves, with the base rate (a random model's precision) for reference."""
    fig = _figure(SMALL if len(curves) == 1 else WIDE)
    ax = fig.add_subplot()
    ax.axhline(
        base_rate,
        linestyle=":",
        color=_MUTED,
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
    _style(ax)
    return fig


# -- calibration --------------------------------------------------------------------------------
def calibration_figure(
    curves: Sequence[Curve], *, n_bins: int = 10, title: str = "Calibration (reliability)"
) -> Figure:
    """Reliability diagram (observed rate against mean predicted probability per bin) over a
    histogram of the predicted probabilities (log scale: most rows sit near 0)."""
    fig = _figure((SMALL[0], 4.8) if len(curves) == 1 else (WIDE[0], 5.2))
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1.2])
    top.plot([0, 1], [0, 1], linestyle=":", color=_MUTED, linewidth=1, label="perfectly calibrated")
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
    _style(top)
    _style(bottom)
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
    fig = _figure(SMALL)
    ax = fig.add_subplot()
    ax.plot(grid, precision, color=PALETTE[0], linewidth=1.8, label="precision")
    ax.plot(grid, recall, color=PALETTE[1], linewidth=1.8, label="recall")
    ax.plot(grid, f1, color=PALETTE[2], linewidth=2.2, label="F1")
    ax.axvline(0.5, color=_MUTED, linestyle=":", linewidth=1.2, label="0.5")
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
    _style(ax)
    return fig


# -- alert buckets ------------------------------------------------------------------------------
def alerts_figure(buckets: Sequence[AlertBucket]) -> Figure:
    """Alerts per probability band, split into upper circuits (hits) and false alarms."""
    ordered = sorted(buckets, key=lambda b: b.lower)
    labels = [b.label for b in ordered]
    hits = np.array([b.hits for b in ordered])
    misses = np.array([b.alerts - b.hits for b in ordered])
    fig = _figure(SMALL)
    ax = fig.add_subplot()
    x = np.arange(len(ordered))
    ax.bar(x, hits, color=_POS, width=0.6, label="upper circuit (hit)")
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
    _style(ax)
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
    fig = _figure((3.0 * len(metrics) + 0.8, 0.42 * len(models) + 1.5))
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
        _style(ax)
        ax.grid(False, axis="y")
    axes[0].set_yticks(y, models)
    axes[0].set_ylim(-0.7, len(models) - 0.3)
    level = next((i.level for per in intervals.values() for i in per.values() if i.resamples), 0.95)
    fig.suptitle(f"Test-split scores with {level:.0%} bootstrap intervals", fontsize=11)
    return fig


# -- SHAP -----------------------------------------------------------------------------------------
def _shap_rows(
    explanation: Explanation, max_display: int
) -> tuple[list[str], list[np.ndarray], list[pd.Series | None]]:
    """Features to show, most important first, with any remainder summed into one last row."""
    ranked = explanation.mean_abs()
    features = list(explanation.features)
    shown = list(ranked.index[:max_display])
    names: list[str] = []
    values: list[np.ndarray] = []
    data: list[pd.Series | None] = []
    for name in shown:
        j = features.index(name)
        names.append(name)
        values.append(explanation.values[:, j])
        data.append(explanation.data[name])
    rest = [features.index(n) for n in ranked.index[max_display:]]
    if rest:
        names.append(f"{len(rest)} other features")
        values.append(explanation.values[:, rest].sum(axis=1))
        data.append(None)
    return names, values, data


def _swarm(x: np.ndarray, rng: np.random.Generator, n_bins: int = 80) -> np.ndarray:
    """Vertical offsets in [-0.4, 0.4] that spread points with similar x, as SHAP's beeswarm does."""
    if len(x) == 0:
        return np.zeros(0)
    span = float(x.max() - x.min()) or 1.0
    bins = np.round((x - x.min()) / span * n_bins).astype(int)
    order = rng.permutation(len(x))
    offsets = np.zeros(len(x))
    layer_count: dict[int, int] = {}
    for i in order:
        k = layer_count.get(bins[i], 0)
        layer_count[bins[i]] = k + 1
        offsets[i] = ((k + 1) // 2) * (1 if k % 2 else -1)
    widest = max(np.abs(offsets).max(), 1.0)
    return offsets * 0.4 / widest


def _colour_scale(values: pd.Series | None) -> np.ndarray | None:
    """Feature values scaled to [0, 1] between their 5th and 95th percentiles (NaN stays NaN);
    ``None`` for a categorical feature or the grouped remainder, which have no low or high."""
    if (
        values is None
        or isinstance(values.dtype, pd.CategoricalDtype)
        or not pd.api.types.is_numeric_dtype(values)
    ):
        return None
    raw = values.to_numpy(dtype=float)
    if not np.isfinite(raw).any():
        return raw
    lo, hi = np.nanpercentile(raw, [5, 95])
    if hi <= lo:  # a mostly constant feature: fall back to its full range
        lo, hi = np.nanmin(raw), np.nanmax(raw)
    if hi <= lo:
        return np.full(len(raw), 0.5) * np.where(np.isfinite(raw), 1.0, np.nan)
    return np.clip((raw - lo) / (hi - lo), 0.0, 1.0)


def shap_beeswarm_figure(explanation: Explanation, *, max_display: int = 12) -> Figure:
    """One dot per explained row and feature: its SHAP value (probability units), coloured by the
    feature's value (blue low, red high; grey for a missing value or a categorical feature)."""
    names, values, data = _shap_rows(explanation, max_display)
    fig = _figure((6.6, 0.36 * len(names) + 1.6))
    ax = fig.add_subplot()
    rng = np.random.default_rng(0)
    ax.axvline(0, color="#bbbbbb", linewidth=1)
    scatter = None
    for row, (v, d) in enumerate(zip(values, data, strict=True)):
        y = len(names) - 1 - row + _swarm(v, rng)
        colour = _colour_scale(d)
        known = np.isfinite(colour) if colour is not None else np.zeros(len(v), dtype=bool)
        ax.scatter(v[~known], y[~known], s=9, color=_MUTED, alpha=0.8, linewidths=0)
        if colour is not None and known.any():
            scatter = ax.scatter(
                v[known],
                y[known],
                s=9,
                c=colour[known],
                cmap=_SHAP_CMAP,
                vmin=0,
                vmax=1,
                alpha=0.9,
                linewidths=0,
            )
    ax.set_yticks(range(len(names)), names[::-1], fontsize=9)
    ax.set_ylim(-0.6, len(names) - 0.4)
    ax.set_xlabel("SHAP value: change in the probability of an upper circuit")
    # An ensemble's method lists every member's explainer after a colon: the page has it in full.
    how = explanation.method.split(":", 1)[0]
    ax.set_title(f"SHAP summary: {len(explanation.data)} test rows\n{how}", fontsize=10)
    if scatter is not None:
        bar = fig.colorbar(scatter, ax=ax, aspect=40, pad=0.01, ticks=[0, 1])
        bar.ax.set_yticklabels(["low", "high"], fontsize=8)
        bar.set_label("Feature value", fontsize=9)
        bar.outline.set_visible(False)
    _style(ax, grid=False)
    ax.spines["left"].set_visible(False)
    ax.tick_params(axis="y", length=0)
    return fig


def shap_bar_figure(explanation: Explanation, *, max_display: int = 12) -> Figure:
    """Mean |SHAP| per feature (probability units), largest first."""
    names, values, _ = _shap_rows(explanation, max_display)
    means = np.array([np.abs(v).mean() for v in values])
    fig = _figure((6.0, 0.32 * len(names) + 1.3))
    ax = fig.add_subplot()
    y = np.arange(len(names))[::-1]
    colors = [PALETTE[0]] * len(names)
    if names and names[-1].endswith("other features") and len(names) > max_display:
        colors[-1] = _MUTED
    ax.barh(y, means, color=colors, height=0.65)
    top = float(means.max()) if len(means) else 1.0
    for yi, m in zip(y, means, strict=True):
        ax.text(m + top * 0.01, yi, f"{m:.3f}", va="center", fontsize=8)
    ax.set_yticks(y, names, fontsize=9)
    ax.set_xlim(0, top * 1.15 if top > 0 else 1)
    ax.set_xlabel("Mean |SHAP value| (probability units)")
    ax.set_title("Mean absolute SHAP value per feature", fontsize=11)
    _style(ax)
    ax.grid(False, axis="y")
    ax.tick_params(axis="y", length=0)
    return fig


# -- tuning ---------------------------------------------------------------------------------------
def tuning_history_figure(
    trials: pd.DataFrame, *, metric: str, reference: float | None = None
) -> Figure:
    """Every trial's objective and the best score so far, against the trial number."""
    fig = _figure((SMALL[0], SMALL[1] + 0.4))
    ax = fig.add_subplot()
    status = trials["status"].astype(str)
    score = pd.to_numeric(trials["score"], errors="coerce")
    number = trials["trial"].to_numpy()
    completed = (status == "completed") & score.notna()
    pruned = (status == "pruned") & score.notna()
    failed = status == "failed"
    ax.scatter(
        number[completed], score[completed], s=16, color=PALETTE[0], alpha=0.7, label="completed"
    )
    if pruned.any():
        ax.scatter(
            number[pruned],
            score[pruned],
            s=18,
            marker="x",
            color=_MUTED,
            label="pruned (last score)",
        )
    if completed.any():
        ordered = trials[completed].assign(score=score[completed]).sort_values("trial")
        best = ordered["score"].cummax()
        ax.step(
            ordered["trial"], best, where="post", color=PALETTE[1], linewidth=2, label="best so far"
        )
    if reference is not None and np.isfinite(reference):
        ax.axhline(
            reference,
            color="#222222",
            linestyle="--",
            linewidth=1,
            label=f"defaults {reference:.3f}",
        )
    if failed.any():
        low = float(score.min()) if score.notna().any() else 0.0
        ax.plot(
            number[failed],
            np.full(int(failed.sum()), low),
            "|",
            color="#B00020",
            markersize=10,
            label="failed",
        )
    ax.set_xlabel("Trial")
    ax.set_ylabel(f"Objective ({metric}, out-of-fold)")
    ax.set_title("Tuning history", fontsize=11)
    fig.legend(loc="outside lower center", ncols=3, fontsize=8, frameon=False)
    _style(ax)
    return fig


def importance_figure(importances: Mapping[str, float]) -> Figure:
    """Parameter importances (fANOVA, normalised to sum to 1), largest first."""
    items = sorted(importances.items(), key=lambda kv: kv[1])
    fig = _figure((5.6, 0.34 * len(items) + 1.3))
    ax = fig.add_subplot()
    y = np.arange(len(items))
    values = np.array([v for _, v in items])
    ax.barh(y, values, color=PALETTE[2], height=0.6)
    for yi, v in zip(y, values, strict=True):
        ax.text(float(v) + 0.01, float(yi), f"{v:.2f}", va="center", fontsize=8)
    ax.set_yticks(y, [k for k, _ in items], fontsize=9)
    ax.set_xlim(0, max(1.0, float(values.max()) * 1.15) if len(values) else 1.0)
    ax.set_xlabel("Importance (share of the objective's variance)")
    ax.set_title("Hyperparameter importances", fontsize=11)
    _style(ax)
    ax.grid(False, axis="y")
    ax.tick_params(axis="y", length=0)
    return fig
