"""Tune, then refit: the one path the Python API's HyperparameterTuner and the CLI's tune stage
share."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from optuna.distributions import BaseDistribution

from uctune.data import FeatureTable
from uctune.errors import TrainingError
from uctune.models import ThresholdedClassifier
from uctune.training import Backend, FamilyResult, Progress, SplitInfo, cv_rows, train_families
from uctune.tuning._result import TuningResult
from uctune.tuning._tuner import FamilySearch, TuneSettings, tune_families

__all__ = ["Phase", "TunedFamily", "tune_and_refit", "tune_and_refit_families"]

Phase = Literal["tune", "refit"]


@dataclass(frozen=True)
class TunedFamily:
    """A family's search (``tuning``) and its best params refit by the training code (``refit``)."""

    tuning: TuningResult
    refit: FamilyResult

    @property
    def model(self) -> ThresholdedClassifier:
        return self.refit.model


def tune_and_refit_families(
    searches: Sequence[FamilySearch],
    table: FeatureTable,
    split: SplitInfo,
    *,
    experiment_root: str,
    settings: TuneSettings,
    refit_cpus: int | None = None,
    backend: Backend = "ray",
    resume: bool = False,
    progress: Callable[[Phase], Progress | None] | None = None,
    verbose: bool = False,
    on_tuned: Callable[[str, TuningResult], None] | None = None,
    refit: Collection[str] | None = None,
) -> dict[str, TunedFamily | TrainingError]:
    """:func:`tune_families` on the training rows of ``split``, then each family's best params
    trained by :func:`uctune.training.train_families` on the same split (CV, threshold,
    calibration, refit, holdout), all families' fits at once, with the trials' fit settings
    (``refit_cpus`` CPUs each, if given, instead of a trial's).

    The refit is the training code's own path, so a tuned model's threshold, CV and holdout
    numbers mean exactly what an untuned model's do. ``on_tuned(family, result)`` runs for each
    searched family before the refits (to keep the searches' outcome even if a refit fails: the
    searches are the expensive part). ``refit`` limits the refits to those families (default:
    all). ``progress(phase)`` gives the progress callback of ``"tune"`` and of ``"refit"``, each
    asked for as its phase starts. Returns each family's :class:`TunedFamily`, or the
    :class:`TrainingError` that ended its search or its refit. Ray must be initialised.
    """
    train = split.train_index
    searched = tune_families(
        searches,
        table.X.iloc[train],
        table.y[train],
        experiment_root=experiment_root,
        settings=settings,
        resume=resume,
        progress=None if progress is None else progress("tune"),
        verbose=verbose,
        **cv_rows(table, train, settings.fit.cv),  # the dates (and symbols) walk-forward CV needs
    )
    out: dict[str, TunedFamily | TrainingError] = {}
    found: dict[str, TuningResult] = {}
    for family, result in searched.items():
        if isinstance(result, TrainingError):
            out[family] = result
            continue
        found[family] = result
        if on_tuned is not None:
            on_tuned(family, result)
    wanted = [f for f in found if refit is None or f in refit]
    if not wanted:
        return out
    try:
        run = train_families(
            table,
            split,
            families=wanted,
            params={f: dict(found[f].best_params) for f in wanted},
            fit=settings.fit
            if refit_cpus is None
            else replace(settings.fit, cpus_per_fit=refit_cpus),
            backend=backend,
            progress=None if progress is None else progress("refit"),
            fold_predictions={
                f: kept for f in wanted if (kept := found[f].fold_predictions) is not None
            },
        )
    except TrainingError as exc:
        return {**out, **dict.fromkeys(wanted, exc)}
    for family in wanted:
        if family in run.results:
            out[family] = TunedFamily(found[family], run.results[family])
        else:
            out[family] = TrainingError(run.failures[family])
    return out


def tune_and_refit(
    family: str,
    table: FeatureTable,
    split: SplitInfo,
    *,
    experiment_dir: Path,
    settings: TuneSettings,
    refit_cpus: int | None = None,
    backend: Backend = "ray",
    storage_path: str | None = None,
    search_space: Mapping[str, BaseDistribution] | None = None,
    fixed_params: Mapping[str, Any] | None = None,
    resume: bool = False,
    progress: Callable[[Phase], Progress | None] | None = None,
    verbose: bool = False,
    on_tuned: Callable[[TuningResult], None] | None = None,
) -> TunedFamily:
    """:func:`tune_and_refit_families` for one family, whose study lives in ``experiment_dir``
    (and, unless ``storage_path`` says otherwise, its Ray Tune experiment too).

    Raises the :class:`TrainingError` that ended its search or its refit.
    """
    outcome = tune_and_refit_families(
        [FamilySearch(family, Path(experiment_dir), search_space, fixed_params)],
        table,
        split,
        experiment_root=storage_path or str(Path(experiment_dir).resolve()),
        settings=settings,
        refit_cpus=refit_cpus,
        backend=backend,
        resume=resume,
        progress=progress,
        verbose=verbose,
        on_tuned=None if on_tuned is None else (lambda _family, result: on_tuned(result)),
    )
    result = next(iter(outcome.values()))
    if isinstance(result, TrainingError):
        raise result
    return result
