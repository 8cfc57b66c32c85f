"""Tuning figures: a family's search history and its parameters' importances."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from uctune.report._plots._base import MUTED, PALETTE, SMALL, new_figure, style_axes

__all__ = [
    "importance_figure",
    "tuning_history_figure",
]


# -- tuning ---------------------------------------------------------------------------------------
def tuning_history_figure(
    trials: pd.DataFrame, *, metric: str, reference: float | None = None
) -> Figure:
    """Every trial's objective and the best score so far, against the trial number."""
    fig = new_figure((SMALL[0], SMALL[1] + 0.4))
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
            color=MUTED,
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
    style_axes(ax)
    return fig


def importance_figure(importances: Mapping[str, float]) -> Figure:
    """Parameter importances (fANOVA, normalised to sum to 1), largest first."""
    items = sorted(importances.items(), key=lambda kv: kv[1])
    fig = new_figure((5.6, 0.34 * len(items) + 1.3))
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
    style_axes(ax)
    ax.grid(False, axis="y")
    ax.tick_params(axis="y", length=0)
    return fig
