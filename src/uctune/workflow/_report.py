"""The report stage: every model of a run evaluated on its test split, explained, and written up.

Reads what earlier stages left in the run directory — ``models/<name>.joblib``, the probability
columns of ``predictions.csv``, ``results.json`` (and ``tune/<family>/trials.csv`` when the run was
tuned; the ensemble stage's record when it ran) — and writes ``report/model_comparison.html`` and
``report/results.json``. ``uctune report`` runs the same code on a finished run, into ``--out`` if
given. Probabilities before calibration are recomputed from the stored models on the test rows.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import ray

from uctune.config import RunConfig
from uctune.data.schema import ID_COLUMNS
from uctune.errors import ConfigError, DataError, IntegrityError, NotFoundError
from uctune.explain import has_members
from uctune.models import SPECS, get_spec
from uctune.report import (
    ModelInput,
    ModelReport,
    ReportSettings,
    TuningReport,
    assess_model,
    assess_models,
    build_report,
    check_inputs,
    param_importances,
    progress_label,
    read_trials,
    stored_threshold,
    write_report,
)
from uctune.workflow._ensemble import ENSEMBLE
from uctune.workflow._run import TUNED_SUFFIX

if TYPE_CHECKING:
    from uctune.workflow._run import RunContext

__all__ = ["RunReport", "build_run_report", "report_settings", "report_stage"]

logger = logging.getLogger(__name__)

HTML_NAME = "model_comparison.html"
JSON_NAME = "results.json"
_ID_COLUMNS = ("row", *ID_COLUMNS)  # predictions.csv numbers its rows besides the data's ids


@dataclass(frozen=True)
class RunReport:
    """Where a run's report went and what it cost."""

    html: Path
    json: Path
    best_model: str | None
    shap_seconds: dict[str, float]
    seconds: float

    def to_dict(self, run_dir: Path) -> dict[str, Any]:
        def rel(p: Path) -> str:
            return str(p.relative_to(run_dir)) if p.is_relative_to(run_dir) else str(p)

        return {
            "html": rel(self.html),
            "json": rel(self.json),
            "best_model": self.best_model,
            "shap_seconds": round(sum(self.shap_seconds.values()), 3),
            "shap_seconds_by_model": self.shap_seconds,
            "seconds": round(self.seconds, 3),
        }


def report_settings(config: RunConfig) -> ReportSettings:
    """The report settings of a run config (the report seed defaults to the run's)."""
    r = config.report
    return ReportSettings(
        shap_rows=r.shap_rows,
        background_size=r.background_size,
        bootstrap=r.bootstrap,
        seed=config.seed if r.seed is None else r.seed,
        rank_by=r.rank_by,
    )


def _describe(
    name: str, results: Mapping[str, Any] | None = None
) -> tuple[str | None, bool, str, tuple[int, int, str]]:
    """(family, tuned, display name, sort key) of a model stored as ``name``; the ensemble (its
    combiner read from the run's ``results``) sorts after every other model."""
    if name == ENSEMBLE:
        method = ((results or {}).get(ENSEMBLE) or {}).get("method")
        display = f"Ensemble ({method})" if method else "Ensemble"
        return ENSEMBLE, False, display, (len(SPECS) + 1, 0, name)
    tuned = name.endswith(TUNED_SUFFIX)
    base = name.removesuffix(TUNED_SUFFIX) if tuned else name
    if base in SPECS:
        order = list(SPECS).index(base)
        display = SPECS[base].display_name + (" (tuned)" if tuned else "")
        return base, tuned, display, (order, int(tuned), name)
    return None, tuned, name, (len(SPECS), int(tuned), name)


def _model_inputs(ctx: RunContext) -> tuple[list[ModelInput], np.ndarray]:
    """Every stored model with its test probabilities, checked against the run's split."""
    if not ctx.predictions_path.is_file():
        raise NotFoundError(
            f"run {ctx.run_id!r} has no predictions.csv to report on; run its train stage first"
        )
    predictions = ctx.predictions()
    label = ctx.table.label
    if label not in predictions.columns or "row" not in predictions.columns:
        raise IntegrityError(
            f"run {ctx.run_id!r}: predictions.csv lacks the 'row' or {label!r} column"
        )
    test = ctx.split.test_index
    if len(predictions) != len(test) or not np.array_equal(predictions["row"].to_numpy(), test):
        raise IntegrityError(
            f"run {ctx.run_id!r}: predictions.csv holds {len(predictions)} rows that are not the "
            f"run's {len(test)} test rows"
        )
    y = predictions[label].to_numpy()
    if not np.array_equal(y, ctx.table.y[test]):
        raise IntegrityError(
            f"run {ctx.run_id!r}: the labels in predictions.csv differ from the data"
        )

    columns = [c for c in predictions.columns if c not in (*_ID_COLUMNS, label)]
    stored = ctx.model_names()
    if not columns and not stored:
        raise NotFoundError(
            f"run {ctx.run_id!r} has no models to report on (models/ is empty); train first"
        )
    missing = sorted(set(columns) - set(stored))
    if missing:
        raise NotFoundError(
            f"run {ctx.run_id!r} has predictions but no model file for {', '.join(missing)} "
            f"(expected {ctx.models_dir / (missing[0] + '.joblib')})"
        )
    unpredicted = sorted(set(stored) - set(columns))
    if unpredicted:
        raise IntegrityError(
            f"run {ctx.run_id!r}: models {', '.join(unpredicted)} have no column in predictions.csv"
        )
    items: list[ModelInput] = []
    for name in sorted(columns, key=lambda n: _describe(n, ctx.results)[3]):
        family, tuned, display, _ = _describe(name, ctx.results)
        proba = pd.to_numeric(predictions[name], errors="coerce").to_numpy(dtype=float)
        if not np.all(np.isfinite(proba)) or proba.min() < 0 or proba.max() > 1:
            raise DataError(
                f"run {ctx.run_id!r}: column {name!r} of predictions.csv must hold probabilities "
                "in [0, 1] for every row"
            )
        model = ctx.model(name)
        threshold, source = stored_threshold(model)
        items.append(
            ModelInput(
                name=name,
                proba=proba,
                threshold=threshold,
                model=model,
                display_name=display,
                family=family,
                tuned=tuned,
                threshold_source=source,
                calibration_record=_calibration_record(ctx.results, name, family, tuned),
            )
        )
    return items, y


def _calibration_record(
    results: Mapping[str, Any], name: str, family: str | None, tuned: bool
) -> Mapping[str, Any] | None:
    """What the stage that stored the model recorded about choosing its calibration map."""
    if name == ENSEMBLE:
        record = (results.get(ENSEMBLE) or {}).get("calibration")
    elif tuned and family is not None:
        record = (((results.get("tuning") or {}).get(family) or {}).get("refit") or {}).get(
            "calibration"
        )
    else:
        record = ((results.get("families") or {}).get(name) or {}).get("calibration")
    return record if isinstance(record, Mapping) else None


def _tuning_reports(ctx: RunContext, seed: int) -> list[TuningReport]:
    """Tuning summaries and trials of every tuned family (none when the run was not tuned)."""
    recorded = {k: v for k, v in (ctx.results.get("tuning") or {}).items() if isinstance(v, dict)}
    tune_dir = ctx.run_dir / "tune"
    found = (
        sorted(p.parent.name for p in tune_dir.glob("*/trials.csv")) if tune_dir.is_dir() else []
    )
    out: list[TuningReport] = []
    for family in [*recorded, *(f for f in found if f not in recorded)]:
        summary = dict(recorded.get(family) or {})
        try:
            canonical = get_spec(family).name
        except ConfigError:
            logger.warning("tuning results of unknown family %r left out of the report", family)
            continue
        listed = summary.get("trials_csv")
        path = Path(listed) if listed else tune_dir / family / "trials.csv"
        if not path.is_absolute():
            path = ctx.run_dir / path
        if not path.is_file():
            out.append(TuningReport(canonical, summary, note=f"no trials file at {path}"))
            continue
        trials = read_trials(path)
        metric = str(summary.get("metric", "f1"))
        # The defaults' own trial scores on the search's very terms (raw probabilities, the same
        # folds); the untuned model's out-of-fold scores are of calibrated probabilities.
        reference = (summary.get("selection") or {}).get("defaults_score")
        if reference is None:
            oof = ctx.results.get("families", {}).get(canonical, {}).get("cv", {}).get("oof", {})
            reference = oof.get(metric)
        importances, note = None, None
        try:
            importances = param_importances(canonical, trials, seed=seed) or None
            if importances is None:
                note = "parameter importances not computed: no parameter varied"
        except (DataError, ValueError, RuntimeError) as exc:
            note = f"parameter importances not computed: {exc}"
        out.append(
            TuningReport(
                canonical,
                summary,
                trials=trials,
                importances=importances,
                note=note,
                reference=float(reference) if isinstance(reference, int | float) else None,
            )
        )
    return out


def _facts(ctx: RunContext) -> list[tuple[str, str]]:
    table, split = ctx.table, ctx.split
    source = table.source.removeprefix("data file ").strip("'")
    return [
        ("Run", ctx.run_id),
        (
            "Data",
            f"{Path(source).name}: {table.n_rows:,} rows, "
            f"{table.n_positive / table.n_rows:.1%} upper circuits",
        ),
        ("Split", f"{split.method}, {split.test_size:.0%} test, seed {split.seed}"),
        ("Cross-validation", _cv_text(ctx)),
    ]


def _cv_text(ctx: RunContext) -> str:
    cv, folds = ctx.cv, ctx.config.train.cv_folds
    if cv.temporal:
        what = f"walk-forward, {folds} folds, embargo {cv.embargo} sessions"
        what += ", grouped by symbol" if cv.group_by_symbol else ""
        return what + "; each fold's threshold chosen on earlier folds only"
    return f"stratified {folds}-fold; each fold's threshold chosen on the other folds"


def _assess_task(
    item: ModelInput,
    y: np.ndarray,
    X: pd.DataFrame,
    background: pd.DataFrame,
    settings: ReportSettings,
) -> ModelReport:
    return assess_model(item, y, X=X, background=background, settings=settings)


_assess_remote = ray.remote(_assess_task)


def _assess_on_ray(
    models: list[ModelInput],
    y_true: np.ndarray,
    *,
    X: pd.DataFrame,
    background: pd.DataFrame,
    settings: ReportSettings,
    progress: Callable[[int, int, str], None] | None,
) -> list[ModelReport]:
    """:func:`assess_models` with a Ray task per model (the rows in the object store once), then
    the ensembles here, with their members' explanations. The reports are the same."""
    y = check_inputs(models, y_true, X)
    refs = ray.put(y), ray.put(X), ray.put(background)
    pending = {
        _assess_remote.options(num_cpus=1, max_retries=1).remote(m, *refs, settings): m
        for m in models
        if not has_members(m.model)
    }
    done: dict[str, ModelReport] = {}
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1)
        item = pending.pop(ready[0])
        try:
            report = ray.get(ready[0])
        except ray.exceptions.RayError as exc:  # its worker died, say: here an error is itself
            logger.warning(
                "report: assessing %s on Ray failed (%s); assessing it here", item.name, exc
            )
            report = assess_model(item, y, X=X, background=background, settings=settings)
        done[item.name] = report
        if progress is not None:
            progress(len(done), len(models), progress_label(report))
    return assess_models(
        models,
        y,
        X=X,
        background=background,
        settings=settings,
        progress=progress,
        assessed=done,
    )


def build_run_report(
    ctx: RunContext, *, out: Path | None = None, settings: ReportSettings | None = None
) -> RunReport:
    """Evaluate, explain and write the report of a run (into ``out``, default ``run_dir/report``).

    Everything is checked and computed before anything is written; the page and its JSON are each
    written atomically.
    """
    started = time.perf_counter()
    s = settings or report_settings(ctx.config)
    target = out or ctx.run_dir / "report"
    if target.exists() and not target.is_dir():
        raise ConfigError(f"report output {str(target)!r} exists and is not a directory")
    items, y = _model_inputs(ctx)
    X = ctx.table.X
    progress = ctx.progress("report")
    assess = _assess_on_ray if ctx.backend == "ray" and ray.is_initialized() else assess_models
    reports = assess(
        items,
        y,
        X=X.iloc[ctx.split.test_index],
        background=X.iloc[ctx.split.train_index],
        settings=s,
        progress=progress,
    )
    tuning = _tuning_reports(ctx, s.seed)
    report = build_report(
        reports,
        settings=s,
        facts=_facts(ctx),
        context={
            "run_id": ctx.run_id,
            "run_dir": str(ctx.run_dir),
            "data_fingerprint": ctx.results.get("data", {}).get("fingerprint"),
            "split": ctx.split.to_dict(ctx.table.y),
            "cv": {"n_folds": ctx.config.train.cv_folds, **ctx.cv.to_dict()},
        },
        tuning=tuning,
        ensemble=ctx.results.get(ENSEMBLE),
    )
    html, json_path = write_report(report, target, html_name=HTML_NAME, json_name=JSON_NAME)
    return RunReport(
        html=html,
        json=json_path,
        best_model=report.results["best_model"]["name"],
        shap_seconds=dict(report.results["timing"]["shap_seconds_by_model"]),
        seconds=time.perf_counter() - started,
    )


def report_stage(ctx: RunContext) -> None:
    """Write ``report/model_comparison.html`` and ``report/results.json`` for the run's models."""
    outcome = build_run_report(ctx)
    ctx.results["report"] = outcome.to_dict(ctx.run_dir)
    ctx.results.setdefault("timing", {})["report_seconds"] = round(outcome.seconds, 3)
