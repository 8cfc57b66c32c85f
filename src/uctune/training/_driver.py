"""The training driver: every family's CV folds and final refit as Ray tasks, in parallel.

The feature matrix and labels go into the object store once; each task receives their references
plus a few row indices, fits one model with its CPU share, and returns predictions (and, for the
final refit, the model). Only the driver assembles scores and writes files.

``backend="sequential"`` runs the very same fits one after another in this process: the reference
against which the parallel run is checked and benchmarked.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
import ray

from uctune.cluster import current_node, require_gpus
from uctune.data import FeatureTable
from uctune.errors import DataError, TrainingError, first_line
from uctune.models import get_spec, resolve_families
from uctune.splits import CVScheme, SplitMethod, split_indices
from uctune.training._fit import (
    FamilyResult,
    FitOutcome,
    FoldPredictions,
    assemble_family,
    fit_and_predict,
)
from uctune.training._settings import FitSettings

__all__ = [
    "Backend",
    "Progress",
    "SplitInfo",
    "TrainOutcome",
    "cv_rows",
    "make_split",
    "train_families",
    "training_folds",
]

logger = logging.getLogger(__name__)

Backend = Literal["ray", "sequential"]
Progress = Callable[[int, int, str], None]
"""Called as ``progress(done, total, what_just_finished)``."""


@dataclass(frozen=True)
class SplitInfo:
    method: SplitMethod
    test_size: float
    seed: int
    train_index: np.ndarray
    test_index: np.ndarray

    def to_dict(self, y: np.ndarray) -> dict[str, Any]:
        return {
            "method": self.method,
            "test_size": self.test_size,
            "seed": self.seed,
            "train_rows": len(self.train_index),
            "test_rows": len(self.test_index),
            "train_positive_rate": float(y[self.train_index].mean()),
            "test_positive_rate": float(y[self.test_index].mean()),
        }


@dataclass
class TrainOutcome:
    results: dict[str, FamilyResult]
    failures: dict[str, str]
    wall_seconds: float


def make_split(
    table: FeatureTable,
    *,
    method: SplitMethod = "stratified",
    test_size: float = 0.2,
    seed: int = 42,
) -> SplitInfo:
    dates = table.dates if method == "time" else None
    train, test = split_indices(method, table.y, dates, test_size=test_size, random_state=seed)
    return SplitInfo(
        method=method, test_size=test_size, seed=seed, train_index=train, test_index=test
    )


@dataclass(frozen=True)
class _Job:
    family: str
    params: dict[str, Any]
    fold: int | None
    train_index: np.ndarray
    eval_index: np.ndarray


def cv_rows(table: FeatureTable, index: np.ndarray, cv: CVScheme) -> dict[str, Any]:
    """What ``cv`` needs of the rows at ``index`` besides labels: ``dates`` for walk-forward folds
    (from :attr:`FeatureTable.dates`), ``groups`` (the symbols) when they are grouped by symbol."""
    rows: dict[str, Any] = {}
    if cv.temporal:
        rows["dates"] = table.dates.iloc[index].to_numpy()
    if cv.group_by_symbol:
        if "symbol" not in table.frame.columns:
            raise DataError(f"grouping CV folds by symbol needs a 'symbol' column: {table.source}")
        rows["groups"] = table.frame["symbol"].iloc[index].to_numpy()
    return rows


def training_folds(
    table: FeatureTable, split: SplitInfo, fit: FitSettings
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The CV folds of the training split (``fit``'s scheme, count and seed), as positions within
    ``split.train_index``."""
    train = split.train_index
    return fit.cv.folds(
        table.y[train],
        n_splits=fit.n_folds,
        random_state=fit.seed,
        **cv_rows(table, train, fit.cv),
    )


def _jobs(
    families: Sequence[str],
    params: Mapping[str, dict[str, Any]],
    split: SplitInfo,
    folds: Sequence[tuple[np.ndarray, np.ndarray]],
    known: Mapping[str, list[FitOutcome]],
) -> list[_Job]:
    """Every fit to run: each family's final refit, and its folds unless they are ``known``."""
    train = split.train_index
    jobs: list[_Job] = []
    for family in families:
        resolved = params[family]
        # The final refit is the longest job: submitting it first keeps the tail of the run short.
        jobs.append(_Job(family, resolved, None, train, split.test_index))
        if family in known:
            continue
        for k, (fold_train, fold_val) in enumerate(folds):
            jobs.append(_Job(family, resolved, k, train[fold_train], train[fold_val]))
    return jobs


def _known_folds(
    given: Mapping[str, FoldPredictions],
    folds: Sequence[tuple[np.ndarray, np.ndarray]],
    train: np.ndarray,
) -> dict[str, list[FitOutcome]]:
    """The families whose fold predictions are given and match these folds, as fold outcomes."""
    known: dict[str, list[FitOutcome]] = {}
    for family, predictions in given.items():
        outcomes = predictions.outcomes(family, [train[val] for _, val in folds])
        if outcomes is None:
            logger.warning(
                "%s: the fold predictions of %s do not match the folds; fitting the folds",
                family,
                predictions.source,
            )
            continue
        known[family] = outcomes
    return known


def _run_job(job: _Job, X: Any, y: np.ndarray, fit: FitSettings) -> FitOutcome:
    return fit_and_predict(
        job.family,
        job.params,
        X,
        y,
        job.train_index,
        job.eval_index,
        fold=job.fold,
        n_threads=fit.cpus_per_fit,
        random_state=fit.seed,
        keep_model=job.fold is None,
        device=fit.device,
    )


def _run_on_node(job: _Job, X: Any, y: np.ndarray, fit: FitSettings) -> FitOutcome:
    """:func:`_run_job` as a Ray task: the outcome names the node and the GPUs that ran it."""
    outcome = _run_job(job, X, y, fit)
    gpus = tuple(str(g) for g in ray.get_gpu_ids())
    return replace(outcome, node=current_node(), gpus=gpus)


_fit_remote = ray.remote(_run_on_node)


def _run_ray(
    jobs: list[_Job], table: FeatureTable, fit: FitSettings, progress: Progress | None
) -> list[FitOutcome]:
    X_ref = ray.put(table.X)
    y_ref = ray.put(table.y)
    pending = {}
    for job in jobs:
        gpus = get_spec(job.family).gpus_for(fit.device, fit.gpus_per_fit)
        remote = _fit_remote.options(num_cpus=fit.cpus_per_fit, num_gpus=gpus)
        pending[remote.remote(job, X_ref, y_ref, fit)] = job
    outcomes: list[FitOutcome] = []
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1)
        for ref in ready:
            job = pending.pop(ref)
            try:
                outcome = ray.get(ref)
            except ray.exceptions.RayError as exc:  # the worker died even after Ray's retries
                outcome = FitOutcome(
                    job.family,
                    job.fold,
                    job.eval_index,
                    None,
                    0.0,
                    error=f"{type(exc).__name__}: {first_line(exc, default='')}",
                )
            outcomes.append(outcome)
            if progress:
                progress(len(outcomes), len(jobs), _label(outcome))
    return outcomes


def _run_sequential(
    jobs: list[_Job], table: FeatureTable, fit: FitSettings, progress: Progress | None
) -> list[FitOutcome]:
    X, y = table.X, table.y
    outcomes: list[FitOutcome] = []
    for job in jobs:
        outcome = _run_job(job, X, y, fit)
        outcomes.append(outcome)
        if progress:
            progress(len(outcomes), len(jobs), _label(outcome))
    return outcomes


def _label(outcome: FitOutcome) -> str:
    what = "refit" if outcome.fold is None else f"fold {outcome.fold + 1}"
    status = "failed" if outcome.error else f"{outcome.fit_seconds:.1f}s"
    return f"{outcome.family} {what} ({status})"


def train_families(
    table: FeatureTable,
    split: SplitInfo,
    *,
    families: Sequence[str] | None = None,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    fit: FitSettings | None = None,
    backend: Backend = "ray",
    progress: Progress | None = None,
    fold_predictions: Mapping[str, FoldPredictions] | None = None,
) -> TrainOutcome:
    """Train every family: k-fold CV on the training rows, then a refit on all of them.

    ``fit`` (default :class:`FitSettings`) gives the seed, the device, each fit's CPUs and GPUs,
    the folds (a stratified, shuffled k-fold by default; walk-forward CV trains each fold on
    earlier dates only, and each fold's threshold then comes from earlier folds only) and the
    calibration of each family's out-of-fold probabilities before its threshold is chosen.

    With ``backend="ray"`` a Ray session must be active (see :func:`uctune.cluster.ray_session`).
    On ``device="cuda"``, a cluster without a node with ``gpus_per_fit`` GPUs free is refused
    before any fit. A family whose folds all fail is reported in ``failures``; the call raises only when every
    family failed. ``fold_predictions`` gives families' CV predictions already computed for these
    params, folds and seed (by the tuning trial that picked them): those folds are not fitted again.
    """
    names = resolve_families(list(families) if families is not None else None)
    given = {get_spec(k).name: dict(v) for k, v in (params or {}).items()}
    resolved = {family: get_spec(family).resolve_params(given.get(family)) for family in names}
    fit = fit or FitSettings()
    gpu_families = [f for f in names if get_spec(f).gpus_for(fit.device, fit.gpus_per_fit)]
    if backend == "ray" and gpu_families:
        require_gpus(fit.gpus_per_fit, f"device 'cuda' (for {', '.join(gpu_families)})")
    folds = training_folds(table, split, fit)
    computed = {get_spec(k).name: v for k, v in (fold_predictions or {}).items()}
    known = _known_folds({f: computed[f] for f in names if f in computed}, folds, split.train_index)
    jobs = _jobs(names, resolved, split, folds, known)
    started = time.perf_counter()
    runner = _run_ray if backend == "ray" else _run_sequential
    outcomes = runner(jobs, table, fit, progress)
    wall = time.perf_counter() - started

    results: dict[str, FamilyResult] = {}
    failures: dict[str, str] = {}
    for family in names:
        mine = [o for o in outcomes if o.family == family] + known.get(family, [])
        final = next(o for o in mine if o.fold is None)
        try:
            results[family] = assemble_family(
                family,
                resolved[family],
                table.y,
                [o for o in mine if o.fold is not None],
                final,
                threshold_from=fit.threshold_from,
                calibration=fit.calibration,
            )
        except TrainingError as exc:
            logger.warning("%s", exc)
            failures[family] = str(exc)
    if not results:
        raise TrainingError("every model family failed: " + "; ".join(failures.values()))
    return TrainOutcome(results=results, failures=failures, wall_seconds=wall)
