"""Turning model reports into one self-contained HTML page and the matching JSON document.

Every figure is rendered to PNG and embedded as a ``data:`` URI; the stylesheet is inlined; there
is no script, font or image from anywhere else, so the file opens the same offline, attached to an
e-mail, or printed. :func:`build_report` is pure (numbers in, text out); :func:`write_report` is the
only function here that touches the disk.
"""

from __future__ import annotations

import base64
import logging
import math
import re
import struct
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
from matplotlib.figure import Figure

from uctune import __version__
from uctune.calibration import ECE_BINS
from uctune.errors import ConfigError
from uctune.evaluation import (
    CLASS_NAMES,
    HEADLINE,
    AlertBucket,
    CalibrationCheck,
    Interval,
    difference_intervals,
)
from uctune.models import get_spec
from uctune.report import _plots as plots
from uctune.report._assess import ModelReport
from uctune.report._settings import ReportSettings
from uctune.report._tuning import TuningReport
from uctune.runs import write_json, write_text

__all__ = ["Report", "build_report", "write_report"]

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1
METRIC_LABELS = {
    "f1": "F1",
    "precision": "Precision",
    "recall": "Recall",
    "roc_auc": "ROC-AUC",
    "pr_auc": "PR-AUC",
}


@dataclass(frozen=True)
class Report:
    """A built report: the HTML page and the JSON document with the same numbers."""

    html: str
    results: dict[str, Any]


@dataclass(frozen=True)
class _Image:
    caption: str
    alt: str
    data: str
    width: int
    height: int
    wide: bool = False


def _image(fig: Figure, caption: str, alt: str, *, wide: bool = False) -> _Image:
    png = plots.to_png(fig)
    width, height = struct.unpack(">II", png[16:24])  # the PNG header's IHDR chunk
    return _Image(caption, alt, base64.b64encode(png).decode("ascii"), width, height, wide)


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _pct(value: Any, digits: int = 1) -> str:
    return "–" if not _finite(value) else f"{value * 100:.{digits}f}%"


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "x"


def _anchors(names: Sequence[str]) -> dict[str, str]:
    """A unique HTML id per model name (names that differ only in punctuation get a number)."""
    out: dict[str, str] = {}
    for i, name in enumerate(names):
        anchor = f"model-{_slug(name)}"
        out[name] = anchor if anchor not in out.values() else f"{anchor}-{i + 1}"
    return out


def _interval_text(interval: Interval | None) -> str:
    if interval is None or not math.isfinite(interval.low):
        return ""
    return f"{interval.low:.3f}–{interval.high:.3f}"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("uctune.report", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["fmt"] = _fmt
    env.filters["pct"] = _pct
    env.filters["num"] = lambda v: repr(float(v)) if _finite(v) else ""
    return env


def _best(reports: Sequence[ModelReport], metric: str) -> str | None:
    scored = [
        (r.evaluation.at_threshold.get(metric, float("nan")), r.name)
        for r in reports
        if _finite(r.evaluation.at_threshold.get(metric))
    ]
    return max(scored)[1] if scored else None


def _high_alerts_text(high: AlertBucket | None) -> str:
    """The alerts of the top band, with their precision when there are any."""
    if high is None:
        return "–"
    return f"{high.alerts} ({_fmt(high.precision, 2)})" if high.alerts else f"{high.alerts}"


def _summary_table(
    reports: Sequence[ModelReport], best: str | None, anchors: Mapping[str, str]
) -> dict[str, Any]:
    """Rows of the comparison table; the best value of each column is flagged."""
    columns: list[tuple[str, str, str, bool]] = [
        # key, header, hint, higher is better
        ("threshold", "Threshold", "stored", True),
        ("at_threshold.f1", "F1", "at threshold", True),
        ("at_threshold.precision", "Precision", "at threshold", True),
        ("at_threshold.recall", "Recall", "at threshold", True),
        ("at_threshold.roc_auc", "ROC-AUC", "", True),
        ("at_threshold.pr_auc", "PR-AUC", "avg. precision", True),
        ("at_0.5.f1", "F1", "at 0.5", True),
        ("brier", "Brier", "lower is better", False),
        ("ece", "ECE", "lower is better", False),
        ("alerts_high", "Alerts p ≥ 0.9", "count (precision)", True),
    ]
    highs = {
        r.name: next((b for b in r.evaluation.alerts if b.band == "high"), None) for r in reports
    }
    values: dict[str, dict[str, float | None]] = {}
    for r in reports:
        e, high = r.evaluation, highs[r.name]
        row: dict[str, float | None] = {
            "threshold": e.threshold,
            "brier": e.brier,
            "ece": e.calibration.ece,
            "alerts_high": high.precision if high else None,
        }
        for prefix, metrics in (("at_threshold", e.at_threshold), ("at_0.5", e.at_05)):
            for m in HEADLINE:
                row[f"{prefix}.{m}"] = metrics[m]
        values[r.name] = row
    column_best: dict[str, float] = {}
    for key, _, _, higher in columns:
        if key == "threshold":
            continue
        finite = [v for v in (values[n][key] for n in values) if v is not None and math.isfinite(v)]
        if finite:
            column_best[key] = max(finite) if higher else min(finite)
    rows = []
    for r in reports:
        e = r.evaluation
        cells = []
        for key, _, _, _ in columns:
            value = values[r.name][key]
            metric = key.split(".", 1)[1] if key.startswith("at_threshold.") else None
            text = _high_alerts_text(highs[r.name]) if key == "alerts_high" else _fmt(value)
            cells.append(
                {
                    "key": key,
                    "text": text,
                    "value": value,
                    "ci": _interval_text(e.intervals.get(metric)) if metric else "",
                    "best": key in column_best and _finite(value) and value == column_best[key],
                }
            )
        rows.append(
            {
                "name": r.name,
                "title": r.input.title,
                "anchor": anchors[r.name],
                "best": r.name == best,
                "cells": cells,
            }
        )
    return {"columns": [{"key": k, "label": h, "hint": t} for k, h, t, _ in columns], "rows": rows}


def _model_section(
    r: ModelReport, color: str, best: bool, anchor: str, settings: ReportSettings
) -> dict[str, Any]:
    e, item = r.evaluation, r.input
    curve = plots.Curve(item.title, e.y_true, e.proba, color, e.threshold)
    auc = {item.title: _fmt(e.at_threshold["roc_auc"])}
    ap = {item.title: _fmt(e.at_threshold["pr_auc"])}
    figures = [
        _image(
            plots.confusion_figure(
                e.y_true,
                e.proba,
                [("at 0.5", 0.5), (f"at threshold {e.threshold:.3f}", e.threshold)],
            ),
            "Confusion matrices at 0.5 and at the stored threshold; the share of each true class "
            "in brackets.",
            f"{item.title}: confusion matrices",
        ),
        _image(
            plots.roc_figure([curve], auc=auc),
            "ROC curve; the dots are the operating points at 0.5 and at the stored threshold.",
            f"{item.title}: ROC curve",
        ),
        _image(
            plots.pr_figure([curve], base_rate=e.base_rate, ap=ap),
            "Precision-recall curve; the dotted line is the base rate (a random model).",
            f"{item.title}: precision-recall curve",
        ),
        _image(
            plots.threshold_figure(e.y_true, e.proba, e.threshold),
            "Precision, recall and F1 on the test split at every threshold; the dashed line is the "
            "threshold chosen on out-of-fold training predictions.",
            f"{item.title}: precision, recall and F1 against the threshold",
        ),
        _image(
            plots.alerts_figure(e.alerts),
            "Alerts per probability band of the PRD, with their precision.",
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
    shap_figures: list[_Image] = []
    x = r.explanation
    if x is not None:
        shap_figures = [
            _image(
                plots.shap_beeswarm_figure(x, max_display=settings.max_display),
                "Each dot is one explained test row: how much the feature moved its probability of an "
                "upper circuit, coloured by the feature's value.",
                f"{item.title}: SHAP summary (beeswarm)",
            ),
            _image(
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
        "ci": _interval_text(interval),
    }


def _calibration_section(
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
            if isinstance(v, Mapping) and _finite(v.get("brier"))
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
            _image(
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
    scored = [r for r in singles if _finite(r.evaluation.at_threshold.get("pr_auc"))]
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


def _ensemble_section(
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
        if m != method and isinstance(v, Mapping) and _finite(v.get("score"))
    }
    kept = (scores.get(method) or {}).get("score")
    why = None
    if others and _finite(kept):
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
    shown = [f"{name} {rho:.2f}" for name, rho in rungs.items() if _finite(rho)]
    if not shown:
        return None
    return f"{', '.join(shown)} (over {record.get('trials')} completed trials)"  # type: ignore[union-attr]


def _tuning_section(t: TuningReport, comparison: Mapping[str, Any] | None) -> dict[str, Any]:
    figures: list[_Image] = []
    if t.trials is not None and len(t.trials):
        figures.append(
            _image(
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
            _image(
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
            _fmt(s.get("best_score")) if s.get("best_score") is not None else None,
        ),
        ("Picked for the refit, and why", _pick_fact(s.get("selection"))),
        (
            "CV noise of the picked trial (standard error over folds)",
            _fmt((s.get("selection") or {}).get("cv_noise"))
            if _finite((s.get("selection") or {}).get("cv_noise"))
            else None,
        ),
        (
            "Rank correlation of each fidelity rung with the full CV score (Spearman)",
            _rank_fact(s.get("rank_correlation")),
        ),
        (
            "The defaults' CV score (the search's trial of them, or the untuned model's)",
            _fmt(t.reference) if t.reference is not None else None,
        ),
        (
            "Search wall time (all families' searches are one experiment)",
            f"{s['wall_seconds']:.1f} s" if _finite(s.get("wall_seconds")) else None,
        ),
        (
            "Fit CPU time of its trials",
            f"{s['fit_cpu_seconds']:.1f} s" if _finite(s.get("fit_cpu_seconds")) else None,
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
                f"{_fmt(row['tuned'])} vs {_fmt(row['untuned'])} ({row['difference']:+.3f}{within})",
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
        "anchor": f"tuning-{_slug(t.family)}",
        "facts": [(k, v) for k, v in facts if v is not None],
        "best_params": [(k, f"{v:.4g}" if isinstance(v, float) else v) for k, v in params.items()],
        "figures": figures,
        "note": t.note,
    }


def build_report(
    reports: Sequence[ModelReport],
    *,
    settings: ReportSettings | None = None,
    title: str = "Upper-circuit classifiers: model comparison",
    facts: Sequence[tuple[str, str]] = (),
    context: Mapping[str, Any] | None = None,
    tuning: Sequence[TuningReport] = (),
    ensemble: Mapping[str, Any] | None = None,
) -> Report:
    """Render the HTML page and the results document for these model reports.

    ``facts`` are (label, text) pairs shown under the title (run id, data, split); ``context`` is
    stored as is in the results document; ``ensemble`` is the run's record of its ensemble stage
    (its model is the report whose family is ``ensemble``).
    """
    s = settings or ReportSettings()
    if not reports:
        raise ConfigError("a report needs at least one model, got none")
    rows = {r.evaluation.rows for r in reports}
    if len(rows) > 1 or len({r.evaluation.positives for r in reports}) > 1:
        raise ConfigError(
            f"every model must be evaluated on the same test rows, got sizes {sorted(rows)}"
        )
    started = time.perf_counter()
    first = reports[0].evaluation
    best = _best(reports, s.rank_by)
    colors = {r.name: plots.PALETTE[i % len(plots.PALETTE)] for i, r in enumerate(reports)}
    curves = [
        plots.Curve(
            r.input.title,
            r.evaluation.y_true,
            r.evaluation.proba,
            colors[r.name],
            r.evaluation.threshold,
        )
        for r in reports
    ]
    auc = {r.input.title: _fmt(r.evaluation.at_threshold["roc_auc"]) for r in reports}
    ap = {r.input.title: _fmt(r.evaluation.at_threshold["pr_auc"]) for r in reports}
    comparison = [
        _image(
            plots.roc_figure(curves, auc=auc),
            "ROC curves of every model on the test split; dots mark each stored threshold.",
            "ROC curves of all models",
        ),
        _image(
            plots.pr_figure(curves, base_rate=first.base_rate, ap=ap),
            "Precision-recall curves of every model; dots mark each stored threshold.",
            "Precision-recall curves of all models",
        ),
        _image(
            plots.calibration_figure(curves),
            "Reliability of every model's probabilities, and how they are spread.",
            "Calibration of all models",
        ),
    ]
    if any(r.evaluation.intervals for r in reports):
        comparison.append(
            _image(
                plots.intervals_figure(
                    {r.input.title: r.evaluation.at_threshold for r in reports},
                    {r.input.title: r.evaluation.intervals for r in reports},
                    {r.input.title: colors[r.name] for r in reports},
                    [("f1", "F1 at threshold"), ("pr_auc", "PR-AUC"), ("roc_auc", "ROC-AUC")],
                ),
                f"Point estimates and {s.level:.0%} bootstrap intervals ({s.bootstrap:,} resamples "
                "of the test rows): overlapping intervals mean the test split cannot tell the "
                "models apart.",
                "Scores with bootstrap intervals, all models",
                wide=True,
            )
        )
    anchors = _anchors([r.name for r in reports])
    sections = [
        _model_section(r, colors[r.name], r.name == best, anchors[r.name], s) for r in reports
    ]
    calibration = _calibration_section(reports, colors, anchors)
    ensemble_section = _ensemble_section(ensemble, reports, anchors, s)
    comparisons = {t.family: tuned_vs_untuned(t, reports, s) for t in tuning}
    tuning_sections = [_tuning_section(t, comparisons[t.family]) for t in tuning]
    figures_seconds = time.perf_counter() - started
    shap_seconds = {r.name: round(r.shap_seconds, 3) for r in reports if r.explanation is not None}
    generated_at = datetime.now(UTC).isoformat(timespec="seconds")
    html = (
        _environment()
        .get_template("report.html.j2")
        .render(
            title=title,
            facts=list(facts),
            generated_at=generated_at,
            version=__version__,
            settings=s,
            test={"rows": first.rows, "positives": first.positives, "base_rate": first.base_rate},
            best=best,
            rank_label=METRIC_LABELS[s.rank_by],
            summary=_summary_table(reports, best, anchors),
            comparison=comparison,
            models=sections,
            calibration=calibration,
            ece_bins=ECE_BINS,
            ensemble=ensemble_section,
            tuning=tuning_sections,
            shap_total=sum(shap_seconds.values()),
        )
    )
    best_report = next((r for r in reports if r.name == best), None)
    results: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "title": title,
        "generated_at": generated_at,
        "uctune_version": __version__,
        "settings": asdict(s),
        "context": dict(context or {}),
        "test": {"rows": first.rows, "positives": first.positives, "base_rate": first.base_rate},
        "best_model": {
            "name": best,
            "rank_by": s.rank_by,
            "value": best_report.evaluation.at_threshold[s.rank_by] if best_report else None,
        },
        "models": {
            r.name: {
                "display_name": r.input.title,
                "family": r.input.family,
                "tuned": r.input.tuned,
                "threshold_source": r.input.threshold_source,
                **r.evaluation.to_dict(),
                "calibration": r.calibration_dict(),
                "shap": r.shap_dict(),
            }
            for r in reports
        },
        "ensemble": ensemble_section["json"] if ensemble_section is not None else None,
        "tuning": {
            t.family: {
                **dict(t.summary),
                "untuned_cv_score": t.reference,
                "tuned_vs_untuned": comparisons[t.family],
                "param_importances": t.importances,
                "note": t.note,
            }
            for t in tuning
        },
        "timing": {
            "shap_seconds": round(sum(shap_seconds.values()), 3),
            "shap_seconds_by_model": shap_seconds,
            "figures_seconds": round(figures_seconds, 3),
        },
    }
    return Report(html=html, results=results)


def write_report(
    report: Report,
    out_dir: Path,
    *,
    html_name: str = "model_comparison.html",
    json_name: str = "results.json",
) -> tuple[Path, Path]:
    """Write the page and its results document into ``out_dir`` (each atomically); return both paths."""
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"report output {str(out_dir)!r} exists and is not a directory")
    out_dir.mkdir(parents=True, exist_ok=True)
    html_path, json_path = out_dir / html_name, out_dir / json_name
    write_json(json_path, report.results)
    write_text(html_path, report.html)
    logger.info("wrote %s (%.1f MB)", html_path, len(report.html) / 1e6)
    return html_path, json_path
