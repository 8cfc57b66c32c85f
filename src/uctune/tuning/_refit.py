"""Tune, then refit: the one path the seed's HyperparameterTuner and the CLI's tune stage share."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from optuna.distributions import BaseDistribution

from uctune.data import FeatureTable
from uctune.models import ThresholdedClassifier
from uctune.training import Backend, FamilyResult, Progress, SplitInfo, cv_rows, train_families
from uctune.tuning._result import TuningResult
from uctune.tuning._tuner import TuneSettings, tune_family

__all__ = ["Phase", "TunedFamily", "tune_and_refit"]

Phase = Literal["tune", "refit"]


@dataclass(frozen=True)
class TunedFamily:
    """A family's search (``tuning``) and its best params refit by the training code (``refit``)."""

    tuning: TuningResult
    refit: FamilyResult

    @property
    def model(self) -> ThresholdedClassifier:
        return self.refit.model


def tune_and_refit(
    family: str,
    table: FeatureTable,
    split: SplitInfo,
    *,
    experiment_dir: Path,
    settings: TuneSettings,
    cpus_per_fit: int = 1,
    backend: Backend = "ray",
    storage_path: str | None = None,
    search_space: Mapping[str, BaseDistribution] | None = None,
    fixed_params: Mapping[str, Any] | None = None,
    resume: bool = False,
    progress: Callable[[Phase], Progress | None] | None = None,
    verbose: bool = False,
    on_tuned: Callable[[TuningResult], None] | None = None,
) -> TunedFamily:
    """:func:`tune_family` on the training rows of ``split``, then its best params trained by
    :func:`uctune.training.train_families` on the same split (CV, threshold, refit, holdout),
    on the settings' device (``gpus_per_trial`` GPUs per XGBoost fit with ``device="cuda"``).

    The refit is the training code's own path, so the tuned model's threshold, CV and holdout
    numbers mean exactly what an untuned model's do. ``on_tuned(result)`` runs between the two
    (to keep the search's outcome even if the refit fails: the search is the expensive part).
    ``progress(phase)`` gives the progress callback of ``"tune"`` and of ``"refit"``, each asked
    for as its phase starts. The other arguments are :func:`tune_family`'s; Ray must be
    initialised.
    """
    train = split.train_index
    result = tune_family(
        family,
        table.X.iloc[train],
        table.y[train],
        experiment_dir=experiment_dir,
        settings=settings,
        storage_path=storage_path,
        search_space=search_space,
        fixed_params=fixed_params,
        resume=resume,
        progress=None if progress is None else progress("tune"),
        verbose=verbose,
        **cv_rows(table, train, settings.cv),  # the dates (and symbols) walk-forward CV needs
    )
    if on_tuned is not None:
        on_tuned(result)
    refit = train_families(
        table,
        split,
        families=[result.family],
        params={result.family: dict(result.best_params)},
        n_folds=settings.n_folds,
        seed=settings.seed,
        cpus_per_fit=cpus_per_fit,
        device=settings.device,
        gpus_per_fit=settings.gpus_per_trial,
        backend=backend,
        progress=None if progress is None else progress("refit"),
        cv=settings.cv,
        calibration=settings.calibration,
    ).results[result.family]
    return TunedFamily(result, refit)
