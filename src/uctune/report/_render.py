"""Turning model reports into one self-contained HTML page and the matching JSON document.

Every figure is rendered to PNG and embedded as a ``data:`` URI; the stylesheet is inlined; there
is no script, font or image from anywhere else, so the file opens the same offline, attached to an
e-mail, or printed. :func:`build_report` is pure (numbers in, text out); :func:`write_report` is the
only function here that touches the disk.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2

from uctune import __version__
from uctune.calibration import ECE_BINS
from uctune.errors import ConfigError
from uctune.evaluation import (
    HEADLINE,
    AlertBucket,
)
from uctune.report import _plots as plots
from uctune.report._assess import ModelReport
from uctune.report._format import (
    METRIC_LABELS,
    fmt,
    image,
    interval_text,
    is_finite,
    pct,
    slug,
)
from uctune.report._sections import (
    calibration_section,
    ensemble_section,
    model_section,
    tuned_vs_untuned,
    tuning_section,
)
from uctune.report._settings import ReportSettings
from uctune.report._tuning import TuningReport
from uctune.runs import write_json, write_text

__all__ = ["Report", "build_report", "write_report"]

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Report:
    """A built report: the HTML page and the JSON document with the same numbers."""

    html: str
    results: dict[str, Any]


def _anchors(names: Sequence[str]) -> dict[str, str]:
    """A unique HTML id per model name (names that differ only in punctuation get a number)."""
    out: dict[str, str] = {}
    for i, name in enumerate(names):
        anchor = f"model-{slug(name)}"
        out[name] = anchor if anchor not in out.values() else f"{anchor}-{i + 1}"
    return out


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("uctune.report", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["fmt"] = fmt
    env.filters["pct"] = pct
    env.filters["num"] = lambda v: repr(float(v)) if is_finite(v) else ""
    return env


def _best(reports: Sequence[ModelReport], metric: str) -> str | None:
    scored = [
        (r.evaluation.at_threshold.get(metric, float("nan")), r.name)
        for r in reports
        if is_finite(r.evaluation.at_threshold.get(metric))
    ]
    return max(scored)[1] if scored else None


def _high_alerts_text(high: AlertBucket | None) -> str:
    """The alerts of the top band, with their precision when there are any."""
    if high is None:
        return "–"
    return f"{high.alerts} ({fmt(high.precision, 2)})" if high.alerts else f"{high.alerts}"


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
            text = _high_alerts_text(highs[r.name]) if key == "alerts_high" else fmt(value)
            cells.append(
                {
                    "key": key,
                    "text": text,
                    "value": value,
                    "ci": interval_text(e.intervals.get(metric)) if metric else "",
                    "best": key in column_best and is_finite(value) and value == column_best[key],
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
    auc = {r.input.title: fmt(r.evaluation.at_threshold["roc_auc"]) for r in reports}
    ap = {r.input.title: fmt(r.evaluation.at_threshold["pr_auc"]) for r in reports}
    comparison = [
        image(
            plots.roc_figure(curves, auc=auc),
            "ROC curves of every model on the test split; dots mark each stored threshold.",
            "ROC curves of all models",
        ),
        image(
            plots.pr_figure(curves, base_rate=first.base_rate, ap=ap),
            "Precision-recall curves of every model; dots mark each stored threshold.",
            "Precision-recall curves of all models",
        ),
        image(
            plots.calibration_figure(curves),
            "Reliability of every model's probabilities, and how they are spread.",
            "Calibration of all models",
        ),
    ]
    if any(r.evaluation.intervals for r in reports):
        comparison.append(
            image(
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
        model_section(r, colors[r.name], r.name == best, anchors[r.name], s) for r in reports
    ]
    calibration = calibration_section(reports, colors, anchors)
    ensemble_part = ensemble_section(ensemble, reports, anchors, s)
    comparisons = {t.family: tuned_vs_untuned(t, reports, s) for t in tuning}
    tuning_sections = [tuning_section(t, comparisons[t.family]) for t in tuning]
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
            ensemble=ensemble_part,
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
        "ensemble": ensemble_part["json"] if ensemble_part is not None else None,
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
