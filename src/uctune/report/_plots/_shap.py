"""SHAP figures: a beeswarm of every explained row's values and a bar chart of mean pushes."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from uctune.explain import Explanation
from uctune.report._plots._base import MUTED, PALETTE, SHAP_CMAP, new_figure, style_axes

__all__ = [
    "shap_bar_figure",
    "shap_beeswarm_figure",
    "shap_rows",
]


# -- SHAP -----------------------------------------------------------------------------------------
def shap_rows(
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
    names, values, data = shap_rows(explanation, max_display)
    fig = new_figure((6.6, 0.36 * len(names) + 1.6))
    ax = fig.add_subplot()
    rng = np.random.default_rng(0)
    ax.axvline(0, color="#bbbbbb", linewidth=1)
    scatter = None
    for row, (v, d) in enumerate(zip(values, data, strict=True)):
        y = len(names) - 1 - row + _swarm(v, rng)
        colour = _colour_scale(d)
        known = np.isfinite(colour) if colour is not None else np.zeros(len(v), dtype=bool)
        ax.scatter(v[~known], y[~known], s=9, color=MUTED, alpha=0.8, linewidths=0)
        if colour is not None and known.any():
            scatter = ax.scatter(
                v[known],
                y[known],
                s=9,
                c=colour[known],
                cmap=SHAP_CMAP,
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
    style_axes(ax, grid=False)
    ax.spines["left"].set_visible(False)
    ax.tick_params(axis="y", length=0)
    return fig


def shap_bar_figure(explanation: Explanation, *, max_display: int = 12) -> Figure:
    """Mean |SHAP| per feature (probability units), largest first."""
    names, values, _ = shap_rows(explanation, max_display)
    means = np.array([np.abs(v).mean() for v in values])
    fig = new_figure((6.0, 0.32 * len(names) + 1.3))
    ax = fig.add_subplot()
    y = np.arange(len(names))[::-1]
    colors = [PALETTE[0]] * len(names)
    if names and names[-1].endswith("other features") and len(names) > max_display:
        colors[-1] = MUTED
    ax.barh(y, means, color=colors, height=0.65)
    top = float(means.max()) if len(means) else 1.0
    for yi, m in zip(y, means, strict=True):
        ax.text(m + top * 0.01, yi, f"{m:.3f}", va="center", fontsize=8)
    ax.set_yticks(y, names, fontsize=9)
    ax.set_xlim(0, top * 1.15 if top > 0 else 1)
    ax.set_xlabel("Mean |SHAP value| (probability units)")
    ax.set_title("Mean absolute SHAP value per feature", fontsize=11)
    style_axes(ax)
    ax.grid(False, axis="y")
    ax.tick_params(axis="y", length=0)
    return fig
