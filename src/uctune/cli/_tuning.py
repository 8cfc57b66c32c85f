"""The tuning stage's summary for people: one row per family, then each family's best params."""

from __future__ import annotations

import json
from typing import Any

import click

from uctune.cli._table import format_table

__all__ = ["print_tuning_summary"]


def _num(value: Any, digits: int = 4) -> str:
    return "-" if value is None or value != value else f"{value:.{digits}f}"


def print_tuning_summary(payload: dict[str, Any]) -> None:
    """Trials and their fate, the picked trial's CV score and whether it is the defaults, the
    refit's holdout scores (beside the untuned model's PR-AUC when the run trained one), and the
    picked params of every tuned family with why they were picked."""
    tuning: dict[str, Any] = payload.get("tuning", {})
    trained: dict[str, Any] = payload.get("families", {})
    rows = []
    metric = "score"
    for family, t in tuning.items():
        metric = t["metric"]
        holdout = t["refit"]["holdout"].get("at_threshold", {})
        untuned = trained.get(family, {}).get("holdout", {}).get("at_threshold", {})
        rows.append(
            [
                family,
                t["n_trials"],
                t["completed"],
                t["pruned"],
                t["failed"],
                _num(t["best_score"]),
                t["best_trial"],
                (t.get("selection") or {}).get("picked", "-"),
                _num(untuned.get("pr_auc"), 3) if untuned else "-",
                _num(holdout.get("f1"), 3),
                _num(holdout.get("roc_auc"), 3),
                _num(holdout.get("pr_auc"), 3),
                f"{t.get('fit_cpu_seconds', float('nan')):.1f}",
            ]
        )
    if rows:
        headers = [
            "tuned",
            "trials",
            "done",
            "pruned",
            "failed",
            f"cv {metric}*",
            "trial",
            "picked",
            "untuned pr_auc",
            "test f1@thr",
            "roc_auc",
            "pr_auc",
            "fit cpu s",
        ]
        click.echo(format_table(headers, rows))
        click.echo(
            "* the picked trial's, chosen over trials: optimistic; compare tuned with untuned on "
            "the test columns"
        )
        walls = {round(t["wall_seconds"], 1) for t in tuning.values() if "wall_seconds" in t}
        if len(tuning) > 1 and len(walls) == 1:
            click.echo(f"the searches ran as one experiment: {walls.pop():.1f} s wall")
        for family, t in tuning.items():
            reason = (t.get("selection") or {}).get("reason")
            if reason:
                click.echo(f"{family} picked: {reason}")
            click.echo(f"{family} best params: {json.dumps(t['best_params'], sort_keys=True)}")
    for family, why in payload.get("tuning_failures", {}).items():
        click.echo(f"{family}: TUNING FAILED: {why}", err=True)
