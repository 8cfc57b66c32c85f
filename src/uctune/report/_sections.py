"""The report's sections beyond the summary table: one per model (with its calibration), the
ensemble against its members, and the tuning of each family. Each returns the values its part of
the template renders."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from uctune.errors import ConfigError
from uctune.evaluation import (
    CLASS_NAMES,
    HEADLINE,
    CalibrationCheck,
    Interval,
    difference_intervals,
)
from uctune.models import get_spec
from uctune.report import _plots as plots
from uctune.report._assess import ModelReport
from uctune.report._format import (
    METRIC_LABELS,
    Image,
    fmt,
    image,
    interval_text,
    is_finite,
    slug,
)
from uctune.report._settings import ReportSettings
from uctune.report._tuning import TuningReport

__all__ = [
    "BEFORE_COLOR",
    "CALIBRATION_NAMES",
    "calibration_section",
    "ensemble_comparison",
    "ensemble_section",
    "model_section",
    "tuned_vs_untuned",
    "tuning_section",
]


def model_section(
    r: ModelReport, color: str, best: bool, anchor: str, settings: ReportSettings
) -> dict[str, Any]:
    e, item = r.evaluation, r.input
    curve = plots.Curve(item.title, e.y_true, e.proba, color, e.threshold)
    auc = {item.title: fmt(e.at_threshold["roc_auc"])}
    ap = {item.title: fmt(e.at_threshold["pr_auc"])}
    figures = [
        image(
            plots.confusion_figure(
                e.y_true,
                e.proba,
                [("at 0.5", 0.5), (f"at threshold {e.threshold:.3f}", e.threshold)],
            ),
            "Confusion matrices at 0.5 and at the stored threshold; the share of each true class "
            "in brackets.",
            f"{item.title}: confusion matrices",
        ),
        image(
            plots.roc_figure([curve], auc=auc),
            "ROC curve; the dots are the operating points at 0.5 and at the stored threshold.",
            f"{item.title}: ROC curve",
        ),
        image(
            plots.pr_figure([curve], base_rate=e.base_rate, ap=ap),
            "Precision-recall curve; the dotted line is the base rate (a random model).",
            f"{item.title}: precision-recall curve",
        ),
        image(
            plots.threshold_figure(e.y_true, e.proba, e.threshold),
            "Precision, recall and F1 on the test split at every threshold; the dashed line is the "
            "threshold chosen on out-of-fold training predictions.",
            f"{item.title}: precision, recall and F1 against the threshold",
        ),
        image(
            plots.alerts_figure(e.alerts),
            "Alerts per probability band (≥ 0.9, 0.7–0.9, 0.5–0.7), with their precision.",
            f"{item.title}: alert buckets",
        ),
    ]
    metric_rows = [
        {
            "key": m,
            "label": METRIC_LABELS[m],
            "at_05": e.at_05[m],
            "at_threshold": e.at_threshold[m],
            "interval": e.intervals.get(m),
        }
        for m in HEADLINE
    ]
    report_rows = [
        {"label": label, **e.classification_report[label]}
        for label in (*CLASS_NAMES, "macro avg", "weighted avg")
        if label in e.classification_report
    ]
    shap_figures: list[Image] = []
    x = r.explanation
    if x is not None:
        shap_figures = [
            image(
                plots.shap_beeswarm_figure(x, max_display=settings.max_display),
                "Each dot is one explained test row: how much the feature moved its probability of an "
                "upper circuit, coloured by the feature's value.",
                f"{item.title}: SHAP summary (beeswarm)",
            ),
            image(
                plots.shap_bar_figure(x, max_display=settings.max_display),
                "Mean absolute SHAP value per feature, in probability units.",
                f"{item.title}: mean absolute SHAP value per feature",
            ),
        ]
    return {
        "name": r.name,
        "title": item.title,
        "anchor": anchor,
        "family": item.family,
        "tuned": item.tuned,
        "best": best,
        "color": color,
        "threshold": e.threshold,
        "threshold_source": item.threshold_source,
        "brier": e.brier,
        "ece": e.calibration.ece,
        "calibration": item.calibration if item.calibrated else "none",
        "counts": e.at_threshold,
        "metrics": metric_rows,
        "level": settings.level,
        "has_intervals": bool(e.intervals),
        "classification_report": report_rows,
        "alerts": e.alerts,
        "figures": figures,
        "shap": {
            "figures": shap_figures,
            "note": r.shap_note,
            "method": x.method if x is not None else None,
            "rows": len(x.data) if x is not None else 0,
            "seconds": r.shap_seconds,
            "top": list(x.mean_abs().index[:3]) if x is not None else [],
        },
    }


CALIBRATION_NAMES = {
    "isotonic": "isotonic regression (ties broken in the raw order)",
    "sigmoid": "sigmoid (Platt scaling)",
    "none": "none",
}


BEFORE_COLOR = "#9a9a9a"


def _check_cell(check: CalibrationCheck, metric: str) -> dict[str, Any]:
    value = check.brier if metric == "brier" else check.ece
    interval = check.intervals.get(metric)
    return {
        "value": value,
        "low": interval.low if interval is not None else None,
        "high": interval.high if interval is not None else None,
        "ci": interval_text(interval),
    }


def calibration_section(
    reports: Sequence[ModelReport], colors: Mapping[str, str], anchors: Mapping[str, str]
) -> dict[str, Any]:
    """A row per model (method; Brier and ECE before and after, with intervals) and its
    reliability diagram before and after calibration, all on the test split."""
    rows, figures = [], []
    for r in reports:
        item, e = r.input, r.evaluation
        method = item.calibration if item.calibrated else "none"
        candidates = (item.calibration_record or {}).get("candidates") or {}
        chosen_on = ", ".join(
            f"{'raw' if m == 'none' else m} {v['brier']:.4f}"
            for m, v in candidates.items()
            if isinstance(v, Mapping) and is_finite(v.get("brier"))
        )
        rows.append(
            {
                "name": r.name,
                "title": item.title,
                "anchor": anchors[r.name],
                "method": CALIBRATION_NAMES.get(method, method),
                "chosen_on": chosen_on,
                "calibrated": item.calibrated,
                "cells": {
                    f"{when}.{metric}": _check_cell(check, metric)
                    for when, check in (("before", r.before_calibration), ("after", e.calibration))
                    for metric in ("brier", "ece")
                },
            }
        )
        if item.calibrated and item.raw_proba is not None:
            curves = [
                plots.Curve("before calibration", e.y_true, item.raw_proba, BEFORE_COLOR),
                plots.Curve(f"after ({method})", e.y_true, e.proba, colors[r.name]),
            ]
            caption = (
                "Reliability on the test split before calibration (grey) and after "
                f"({CALIBRATION_NAMES.get(method, method)}); below, the test rows per bin."
            )
        else:
            curves = [plots.Curve("uncalibrated", e.y_true, e.proba, colors[r.name])]
            caption = "Reliability on the test split (the model has no calibration map)."
        figures.append(
            image(
                plots.calibration_figure(curves, title=item.title),
                caption,
                f"{item.title}: reliability before and after calibration",
            )
        )
    return {"rows": rows, "figures": figures}


def _combiner_rows(
    record: Mapping[str, Any], titles: Mapping[str, str]
) -> tuple[str, list[dict[str, Any]], float | None]:
    """(what the numbers are, one row per member, the stacker's intercept)."""
    combiner = record.get("combiner") or {}
    members = list(record.get("members") or [])
    if combiner.get("method") == "stacker":
        coef = combiner.get("coef") or {}
        rows = [{"name": m, "title": titles.get(m, m), "value": coef.get(m)} for m in members]
        return "coefficient on the member's log-odds", rows, combiner.get("intercept")
    weights = combiner.get("weights") or {}
    rows = [{"name": m, "title": titles.get(m, m), "value": weights.get(m)} for m in members]
    return "weight (share of the greedy steps)", rows, None


def _paired_intervals(a: Any, b: Any, settings: ReportSettings) -> dict[str, Interval]:
    """Paired bootstrap intervals of model ``a``'s metrics minus ``b``'s (two evaluations of the
    same test rows, each at its own threshold)."""
    return difference_intervals(
        a.y_true,
        a.proba,
        a.threshold,
        b.proba,
        b.threshold,
        n_resamples=settings.bootstrap,
        level=settings.level,
        random_state=settings.seed,
    )


def ensemble_comparison(
    ensemble: ModelReport, singles: Sequence[ModelReport], settings: ReportSettings
) -> dict[str, Any] | None:
    """The ensemble's test PR-AUC against the best single model's (the highest test PR-AUC, so
    picked with hindsight in the single model's favour), each with its interval, and the paired
    difference with its interval. ``None`` without a single model to compare with."""
    scored = [r for r in singles if is_finite(r.evaluation.at_threshold.get("pr_auc"))]
    if not scored:
        return None
    best = max(scored, key=lambda r: r.evaluation.at_threshold["pr_auc"])
    e, b = ensemble.evaluation, best.evaluation
    difference = e.at_threshold["pr_auc"] - b.at_threshold["pr_auc"]
    interval = None
    if settings.bootstrap:
        interval = _paired_intervals(e, b, settings)["pr_auc"]

    def entry(i: Interval | None) -> dict[str, float] | None:
        return None if i is None else {"low": i.low, "high": i.high, "level": i.level}

    return {
        "metric": "pr_auc",
        "basis": "test split; the best single model is the one with the highest test PR-AUC",
        "ensemble": {
            "name": ensemble.name,
            "value": e.at_threshold["pr_auc"],
            "interval": entry(e.intervals.get("pr_auc")),
        },
        "best_single": {
            "name": best.name,
            "display_name": best.input.title,
            "value": b.at_threshold["pr_auc"],
            "interval": entry(b.intervals.get("pr_auc")),
        },
        "difference": difference,
        "difference_interval": entry(interval),
    }


def ensemble_section(
    record: Mapping[str, Any] | None,
    reports: Sequence[ModelReport],
    anchors: Mapping[str, str],
    settings: ReportSettings,
) -> dict[str, Any] | None:
    """What the page says about the ensemble, with the JSON document's ``ensemble`` entry."""
    if record is None:
        return None
    if not record.get("enabled", False):
        return {
            "status": "disabled",
            "line": "The ensemble stage was turned off for this run.",
            "json": {"enabled": False},
        }
    if record.get("skipped"):
        return {
            "status": "skipped",
            "line": f"The ensemble stage was skipped: {record['skipped']}.",
            "json": {"enabled": True, "skipped": record["skipped"]},
        }
    found = next((r for r in reports if r.input.family == "ensemble"), None)
    titles = {r.name: r.input.title for r in reports}
    what, members, intercept = _combiner_rows(record, titles)
    selection = record.get("selection") or {}
    scores = selection.get("scores") or {}
    method = str(record.get("method"))
    metric = str(selection.get("metric", "pr_auc"))
    metric_label = METRIC_LABELS.get(metric, metric)
    others = {
        m: v.get("score")
        for m, v in scores.items()
        if m != method and isinstance(v, Mapping) and is_finite(v.get("score"))
    }
    kept = (scores.get(method) or {}).get("score")
    why = None
    if others and is_finite(kept):
        versus = ", ".join(f"{m} {v:.3f}" for m, v in others.items())
        why = (
            f"It was kept for the higher cross-fitted {metric_label} (each fold predicted by a "
            f"combiner learnt without it): {method} {kept:.3f} against {versus}."
        )
    against = record.get("versus_members") or {}
    if against.get("verdict"):
        registry = (
            "so it is registered"
            if against.get("earned")
            else "so it is not registered unless ensemble.registered is always"
        )
        why = f"{why + ' ' if why else ''}Against its members: {against['verdict']}, {registry}."
    comparison = (
        ensemble_comparison(found, [r for r in reports if r is not found], settings)
        if found is not None
        else None
    )
    return {
        "status": "built",
        "name": found.name if found is not None else None,
        "title": found.input.title if found is not None else "Ensemble",
        "anchor": anchors.get(found.name) if found is not None else None,
        "method": method,
        "method_text": {
            "caruana": "Caruana's greedy ensemble selection with replacement: a weighted average "
            "of the members' probabilities",
            "stacker": "a logistic-regression stacker on the members' log-odds",
        }.get(method, method),
        "metric_label": metric_label,
        "why": why,
        "scores": [
            {"method": m, "score": v.get("score"), "chosen": m == method}
            for m, v in scores.items()
            if isinstance(v, Mapping)
        ],
        "weights_label": what,
        "members": members,
        "intercept": intercept,
        "calibration": (
            found.input.calibration if found is not None and found.input.calibrated else "none"
        ),
        "comparison": comparison,
        "json": {
            "enabled": True,
            "model": found.name if found is not None else None,
            "method": method,
            "members": [m["name"] for m in members],
            "combiner": record.get("combiner"),
            "selection": selection,
            "threshold": record.get("threshold"),
            "calibration": found.input.calibration if found is not None else None,
            "test_vs_best_single": comparison,
            "seconds": record.get("seconds"),
        },
    }


def tuned_vs_untuned(
    t: TuningReport, reports: Sequence[ModelReport], settings: ReportSettings | None = None
) -> dict[str, Any] | None:
    """A tuned family against its untuned model on the test split, each at its stored threshold:
    the only comparison of the two free of selection bias (the tuned params were chosen on the CV
    folds), with the paired bootstrap interval of each difference when ``settings`` ask for
    resamples. ``None`` when the report lacks either model."""
    found = {r.input.tuned: r for r in reports if r.input.family == t.family}
    if True not in found or False not in found:
        return None
    a, b = found[True].evaluation, found[False].evaluation
    tuned, untuned = a.at_threshold, b.at_threshold
    intervals: Mapping[str, Interval] = {}
    if settings is not None and settings.bootstrap:
        intervals = _paired_intervals(a, b, settings)
    metrics: dict[str, Any] = {}
    for m in METRIC_LABELS:
        if m not in tuned or m not in untuned:
            continue
        i = intervals.get(m)
        metrics[m] = {
            "tuned": tuned[m],
            "untuned": untuned[m],
            "difference": tuned[m] - untuned[m],
            "difference_interval": None
            if i is None
            else {"low": i.low, "high": i.high, "level": i.level},
        }
    return {
        "basis": "test split, each model at its own out-of-fold threshold; paired bootstrap "
        "intervals of the differences",
        "tuned_model": found[True].name,
        "untuned_model": found[False].name,
        "metrics": metrics,
    }


def _pick_fact(selection: Mapping[str, Any] | None) -> str | None:
    if not selection:
        return None
    picked = selection.get("picked")
    trial = selection.get("picked_trial")
    what = f"the defaults (trial {trial})" if picked == "defaults" else f"trial {trial}"
    return f"{what}: {selection.get('reason', '')}"


def _rank_fact(record: Mapping[str, Any] | None) -> str | None:
    rungs = (record or {}).get("rungs") or {}
    shown = [f"{name} {rho:.2f}" for name, rho in rungs.items() if is_finite(rho)]
    if not shown:
        return None
    return f"{', '.join(shown)} (over {record.get('trials')} completed trials)"  # type: ignore[union-attr]


def tuning_section(t: TuningReport, comparison: Mapping[str, Any] | None) -> dict[str, Any]:
    figures: list[Image] = []
    if t.trials is not None and len(t.trials):
        figures.append(
            image(
                plots.tuning_history_figure(t.trials, metric=t.metric, reference=t.reference),
                "Each trial's cross-validated objective (every fold scored at a threshold chosen "
                "without it) and the best so far, a maximum over trials and so optimistic; the "
                "dashed line is the untuned defaults' score on the same terms. Tuned and untuned "
                "are compared on the test split in the table.",
                f"{t.family}: tuning history",
            )
        )
    if t.importances:
        figures.append(
            image(
                plots.importance_figure(t.importances),
                "How much of the objective's variation each hyperparameter explains (Optuna fANOVA "
                "over the completed trials).",
                f"{t.family}: hyperparameter importances",
            )
        )
    s = t.summary
    facts = [
        ("Objective", s.get("metric")),
        ("Trials", s.get("n_trials")),
        (
            "Completed / pruned / failed",
            f"{s.get('completed', '–')} / {s.get('pruned', '–')} / {s.get('failed', '–')}",
        ),
        (
            "CV score of the picked trial (chosen over trials: optimistic)",
            fmt(s.get("best_score")) if s.get("best_score") is not None else None,
        ),
        ("Picked for the refit, and why", _pick_fact(s.get("selection"))),
        (
            "CV noise of the picked trial (standard error over folds)",
            fmt((s.get("selection") or {}).get("cv_noise"))
            if is_finite((s.get("selection") or {}).get("cv_noise"))
            else None,
        ),
        (
            "Rank correlation of each fidelity rung with the full CV score (Spearman)",
            _rank_fact(s.get("rank_correlation")),
        ),
        (
            "The defaults' CV score (the search's trial of them, or the untuned model's)",
            fmt(t.reference) if t.reference is not None else None,
        ),
        (
            "Search wall time (all families' searches are one experiment)",
            f"{s['wall_seconds']:.1f} s" if is_finite(s.get("wall_seconds")) else None,
        ),
        (
            "Fit CPU time of its trials",
            f"{s['fit_cpu_seconds']:.1f} s" if is_finite(s.get("fit_cpu_seconds")) else None,
        ),
    ]
    for metric, row in ((comparison or {}).get("metrics") or {}).items():
        interval = row.get("difference_interval")
        within = (
            f", {interval['level']:.0%} interval [{interval['low']:+.3f}, {interval['high']:+.3f}]"
            if interval
            else ""
        )
        facts.append(
            (
                f"Test {METRIC_LABELS[metric]}: tuned vs untuned",
                f"{fmt(row['tuned'])} vs {fmt(row['untuned'])} ({row['difference']:+.3f}{within})",
            )
        )
    params = s.get("best_params") or {}
    try:
        title = get_spec(t.family).display_name
    except ConfigError:
        title = t.family
    return {
        "family": t.family,
        "title": title,
        "anchor": f"tuning-{slug(t.family)}",
        "facts": [(k, v) for k, v in facts if v is not None],
        "best_params": [(k, f"{v:.4g}" if isinstance(v, float) else v) for k, v in params.items()],
        "figures": figures,
        "note": t.note,
    }
