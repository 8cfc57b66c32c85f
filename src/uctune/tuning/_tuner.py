"""The tuning driver: one family's search as a Ray Tune experiment driven by Optuna's TPE.

A :class:`ray.tune.Tuner` runs the trials (``cv_trial``: k-fold or walk-forward CV, a report after
every fold, each fold's F1 at a threshold chosen without it) with a :class:`StudySearch` over the
family's Optuna distributions and, with pruning on, an ASHA scheduler (:class:`BudgetedASHA`) that
stops trials whose running score falls behind at a milestone. The study is persisted in SQLite, so
an interrupted search resumes (``resume=True``) with every finished trial and TPE's full history:
Ray Tune restores its experiment from its last snapshot, and the study settles what that snapshot
had not caught yet.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd
import ray
from optuna.distributions import BaseDistribution
from ray import tune
from ray.tune.schedulers import TrialScheduler

from uctune.cluster import cluster_cpus, cluster_gpus, require_gpus
from uctune.errors import ConfigError, IntegrityError, TrainingError
from uctune.models import ModelSpec, get_spec
from uctune.storage import join_storage
from uctune.tuning._experiment import (
    ANALYSIS_LOGGER,
    EXPERIMENT_NAME,
    Progress,
    experiment_trials,
    has_experiment_state,
    make_scheduler,
    new_tuner,
    run_experiment,
    trainable,
    without_warnings,
)
from uctune.tuning._fidelity import Fidelity, fidelity_schedule
from uctune.tuning._joint import FamilyScheduler, JointSearch
from uctune.tuning._kept import start_keeper, take_kept
from uctune.tuning._result import TuningResult
from uctune.tuning._search import StudySearch
from uctune.tuning._selection import select_trial
from uctune.tuning._settings import TuneSettings, settings_record
from uctune.tuning._study import (
    fail_interrupted,
    in_space,
    interrupted,
    open_study,
    replay_results,
    study_storage,
    trial_records,
)
from uctune.tuning._trainable import TrialData

__all__ = [
    "EXPERIMENT_NAME",
    "STUDY_FILE",
    "FamilySearch",
    "TuneSettings",
    "tune_families",
    "tune_family",
]

logger = logging.getLogger(__name__)

STUDY_FILE = "study.db"
"""The Optuna study of a family, in its tuning folder."""


def _spaces(
    spec: ModelSpec,
    search_space: Mapping[str, BaseDistribution] | None,
    fixed: Mapping[str, Any],
) -> tuple[dict[str, BaseDistribution], dict[str, BaseDistribution]]:
    """(the declared space, the part of it actually searched: without the fixed params)."""
    spec.resolve_params(fixed)  # unknown names are a ConfigError
    declared = dict(spec.search_space if search_space is None else search_space)
    unknown = sorted(set(declared) - set(spec.defaults))
    if unknown:
        raise ConfigError(f"{spec.name} has no parameter {unknown[0]!r} to search")
    space = {k: d for k, d in declared.items() if k not in fixed}
    if not space:
        raise ConfigError(
            f"{spec.name}: every parameter of its search space is fixed; nothing to tune"
        )
    return declared, space


def _concurrency(settings: TuneSettings) -> int:
    """Trials at a time: the cluster's (logical) CPUs over each trial's share, never more."""
    if not ray.is_initialized():
        raise ConfigError("tuning needs a running Ray; use uctune.cluster.ray_session()")
    cpus = cluster_cpus()
    per_trial = settings.fit.cpus_per_fit
    if per_trial > cpus:
        raise ConfigError(
            f"cpus_per_trial must be at most the cluster's {cpus} CPUs, got {per_trial}"
        )
    return max(1, cpus // per_trial)


def _checked_study(
    study_path: Path, family: str, resume: bool, record: dict[str, Any]
) -> tuple[optuna.storages.BaseStorage, optuna.Study]:
    """The family's study: new, or (with ``resume``) the one started with the same settings."""
    if study_path.exists() and not resume:
        raise ConfigError(
            f"{str(study_path)!r} already holds a tuning study; resume it or use a new directory"
        )
    storage = study_storage(study_path)
    study = open_study(storage, family)
    recorded = study.user_attrs.get("settings")
    if recorded is None:
        study.set_user_attr("settings", record)
    elif recorded != record:
        changed = sorted(k for k in {*record, *recorded} if record.get(k) != recorded.get(k))
        raise IntegrityError(
            f"the study in {str(study_path)!r} was started with different settings "
            f"({', '.join(changed)}); start a new tuning run"
        )
    return storage, study


@dataclass(frozen=True)
class FamilySearch:
    """One family of a joint search: its study lives in ``experiment_dir`` (``study.db``);
    ``search_space`` replaces the spec's (same parameter names), ``fixed_params`` are held
    constant and left out of the search."""

    family: str
    experiment_dir: Path
    search_space: Mapping[str, BaseDistribution] | None = None
    fixed_params: Mapping[str, Any] | None = None


@dataclass
class _Prepared:
    """A family ready to search: its spec, spaces, study and what its trials need."""

    spec: ModelSpec
    declared: dict[str, BaseDistribution]
    space: dict[str, BaseDistribution]
    fixed: dict[str, Any]
    study_path: Path
    storage: optuna.storages.BaseStorage
    study: optuna.Study
    data: TrialData

    @property
    def finished(self) -> int:
        return len(trial_records(self.study))


def tune_families(
    searches: Sequence[FamilySearch],
    X: pd.DataFrame,
    y: np.ndarray,
    *,
    experiment_root: str,
    settings: TuneSettings | None = None,
    resume: bool = False,
    progress: Progress | None = None,
    verbose: bool = False,
    dates: Any = None,
    groups: Any = None,
) -> dict[str, TuningResult | TrainingError]:
    """Search several families' hyperparameters by k-fold CV on ``X, y`` as one Ray Tune
    experiment (:mod:`uctune.tuning._joint`): while one family's last trials run, the next
    family's take the free cores, and the trial workers serve every family.

    Ray Tune keeps the experiment under ``experiment_root`` (a directory or a pyarrow URI), in
    ``ray/``. Returns each family's :class:`TuningResult`, or the :class:`TrainingError` saying
    why none of its trials completed. The other arguments are :func:`tune_family`'s.
    """
    settings = settings or TuneSettings()
    names = [get_spec(s.family).name for s in searches]
    if not names or len(set(names)) != len(names):
        raise ConfigError(f"tune_families needs distinct families, got {names}")
    concurrency = _concurrency(settings)
    fit = settings.fit
    gpu_families = [f for f in names if get_spec(f).gpus_for(fit.device, fit.gpus_per_fit)]
    if gpu_families:
        gpus = get_spec(gpu_families[0]).gpus_for(fit.device, fit.gpus_per_fit)
        require_gpus(gpus, f"device 'cuda' (for {', '.join(gpu_families)})")
        if len(gpu_families) == len(names):
            concurrency = min(concurrency, max(1, int(cluster_gpus() // gpus)))
    y = np.asarray(y)
    folds = fit.cv.folds(y, n_splits=fit.n_folds, random_state=fit.seed, dates=dates, groups=groups)
    first_train = folds[0][0]
    fidelity = fidelity_schedule(
        settings.fidelity,
        n_folds=len(folds),
        reduction_factor=settings.reduction_factor,
        train_rows=len(first_train),
        train_positives=int(np.sum(y[first_train] == 1)),
    )
    # A family whose configurations subsamples do not rank (rows_fidelity False) steps over folds.
    fidelities = {
        f: fidelity
        if get_spec(f).rows_fidelity
        else Fidelity(n_folds=fidelity.n_folds, reduction_factor=fidelity.reduction_factor)
        for f in names
    }
    rows = ray.put((X.reset_index(drop=True), y, folds))  # once, for every family's trials
    keeper = start_keeper()
    try:
        return _search(
            searches,
            names,
            settings,
            fidelities,
            fidelity,
            rows,
            keeper,
            concurrency,
            experiment_root=experiment_root,
            resume=resume,
            progress=progress,
            verbose=verbose,
        )
    finally:
        ray.kill(keeper)


def _search(
    searches: Sequence[FamilySearch],
    names: list[str],
    settings: TuneSettings,
    fidelities: Mapping[str, Fidelity],
    fidelity: Fidelity,
    rows: Any,
    keeper: Any,
    concurrency: int,
    *,
    experiment_root: str,
    resume: bool,
    progress: Progress | None,
    verbose: bool,
) -> dict[str, TuningResult | TrainingError]:
    """:func:`tune_families` once the rows are in the object store and the keeper started."""
    prepared: dict[str, _Prepared] = {}
    for search, family in zip(searches, names, strict=True):
        spec = get_spec(family)
        fixed = dict(search.fixed_params or {})
        declared, space = _spaces(spec, search.search_space, fixed)
        study_path = Path(search.experiment_dir) / STUDY_FILE
        storage, study = _checked_study(
            study_path,
            family,
            resume,
            settings_record(family, settings, space, fixed, fidelities[family]),
        )
        defaults = {k: spec.defaults[k] for k in space if k in spec.defaults}
        data = TrialData(
            family=family,
            metric=settings.metric,
            defaults=defaults if in_space(defaults, space) else None,
            fit=settings.fit,
            rows=rows,
            fixed=fixed,
            fidelity=fidelities[family],
            keeper=keeper,
        )
        prepared[family] = _Prepared(spec, declared, space, fixed, study_path, storage, study, data)
    experiment_path = join_storage(experiment_root, EXPERIMENT_NAME)
    single = names[0] if len(names) == 1 else None
    left = sum(max(0, settings.n_trials - p.finished) for p in prepared.values())
    tuner: tune.Tuner | None = None
    restored = False
    if not left:
        for p in prepared.values():
            fail_interrupted(p.study)
    elif resume and has_experiment_state(experiment_path):
        # Only a restored experiment runs trials the study may have finished: they replay, not refit.
        replay = {f: replace(p.data, replay=replay_results(p.study)) for f, p in prepared.items()}
        with without_warnings(ANALYSIS_LOGGER):
            tuner = tune.Tuner.restore(
                experiment_path, trainable=trainable(replay, settings), resume_unfinished=True
            )
        restored = True
        # Trials the snapshot knows are resumed by Tune (or replayed, if the study finished
        # them); the others were cut short after the snapshot and are queued again.
        known = experiment_trials(experiment_path, only=single)
        for family, p in prepared.items():
            fail_interrupted(p.study, keep={n for f, n in known if f == family})
    else:
        for p in prepared.values():
            fail_interrupted(p.study)
        searchers = {f: _searcher(prepared[f], settings) for f in _by_cost(names)}
        tuner = new_tuner(
            trainable({f: p.data for f, p in prepared.items()}, settings),
            searchers[names[0]] if single else JointSearch(searchers),
            _joint_scheduler(settings, fidelities, names),
            num_samples=left,
            concurrency=concurrency,
            storage_path=experiment_root,
            max_failures=settings.max_failures,
            verbose=verbose,
        )
    logger.info(
        "%s: %d of %d trials finished%s; %d at a time, %d CPU(s) each; fidelity %s",
        ", ".join(names),
        sum(min(p.finished, settings.n_trials) for p in prepared.values()),
        settings.n_trials * len(names),
        " (Tune experiment restored)" if restored else "",
        concurrency,
        settings.fit.cpus_per_fit,
        fidelity.to_dict(),
    )
    started = time.perf_counter()
    if tuner is not None:
        studies = {f: p.study for f, p in prepared.items()}
        run_experiment(tuner, studies, settings.n_trials * len(names), settings, progress, verbose)
    wall = time.perf_counter() - started
    failures = experiment_trials(experiment_path, only=single)
    unfinished = [f for f, p in prepared.items() if _unfinished(p, settings)]
    if unfinished:
        # Ray Tune ends its run quietly on Ctrl-C (after saving its state); pass it on.
        for family in unfinished:
            logger.warning(
                "%s: tuning stopped after %d of %d trials; resume to continue",
                family,
                prepared[family].finished,
                settings.n_trials,
            )
        raise KeyboardInterrupt
    results: dict[str, TuningResult | TrainingError] = {}
    for family, p in prepared.items():
        attempts = {n: k for (f, n), k in failures.items() if f == family}
        try:
            results[family] = _result(
                p, settings, attempts, wall, experiment_path, fidelities[family]
            )
        except TrainingError as exc:
            results[family] = exc
    picked = {(r.family, r.best_trial) for r in results.values() if isinstance(r, TuningResult)}
    kept = take_kept(keeper, picked)
    return {
        family: replace(r, fold_predictions=kept.get((r.family, r.best_trial)))
        if isinstance(r, TuningResult)
        else r
        for family, r in results.items()
    }


def tune_family(
    family: str,
    X: pd.DataFrame,
    y: np.ndarray,
    *,
    experiment_dir: Path,
    settings: TuneSettings | None = None,
    storage_path: str | None = None,
    search_space: Mapping[str, BaseDistribution] | None = None,
    fixed_params: Mapping[str, Any] | None = None,
    resume: bool = False,
    progress: Progress | None = None,
    verbose: bool = False,
    dates: Any = None,
    groups: Any = None,
) -> TuningResult:
    """Search ``family``'s hyperparameters by k-fold CV on ``X, y``, in parallel on Ray.

    ``settings.fit.cv`` draws the folds; walk-forward CV needs ``dates`` (and ``groups``, the symbols,
    when it groups by symbol), one per row of ``X``.

    ``experiment_dir`` (local) holds the Optuna study; Ray Tune keeps its experiment under
    ``storage_path`` (a directory or a pyarrow URI such as ``s3://bucket/prefix``; default:
    ``experiment_dir``). ``search_space`` replaces the spec's (same parameter names);
    ``fixed_params`` are held constant and left out of the search. With ``resume=True`` a search
    interrupted in ``experiment_dir`` continues: finished trials are kept, not run again.

    Ray must be initialised (:func:`uctune.cluster.ray_session` or :func:`~uctune.cluster.ensure_ray`).
    Raises :class:`TrainingError` when no trial completed, ``KeyboardInterrupt`` when interrupted.
    """
    search = FamilySearch(family, Path(experiment_dir), search_space, fixed_params)
    outcome = tune_families(
        [search],
        X,
        y,
        experiment_root=storage_path or str(Path(experiment_dir).resolve()),
        settings=settings,
        resume=resume,
        progress=progress,
        verbose=verbose,
        dates=dates,
        groups=groups,
    )
    result = next(iter(outcome.values()))
    if isinstance(result, TrainingError):
        raise result
    return result


_COST_RANK = ("random_forest", "neural_network", "xgboost", "lightgbm", "logistic_regression")
"""Families by the usual cost of a trial, dearest first."""


def _by_cost(names: Sequence[str]) -> list[str]:
    """The order a joint search hands out the families' trials: dearest first, so that the search
    ends on cheap trials (the longest-first rule: the last trials running alone are short)."""
    rank = {f: k for k, f in enumerate(_COST_RANK)}
    return sorted(names, key=lambda f: (rank.get(f, -1), names.index(f)))


def _searcher(p: _Prepared, settings: TuneSettings) -> StudySearch:
    known = len(p.study.get_trials(deepcopy=False))
    defaults = p.data.defaults  # None outside the space: then no trial of them
    return StudySearch(
        p.space,
        n_folds=settings.fit.n_folds,
        max_trials=settings.n_trials,
        storage=p.storage,
        study_name=p.spec.name,
        seed=settings.fit.seed,
        known_trials=known,
        n_startup_trials=settings.n_startup_trials,
        points_to_evaluate=[defaults] if not known and defaults else [],
    )


def _joint_scheduler(
    settings: TuneSettings, fidelities: Mapping[str, Fidelity], names: Sequence[str]
) -> TrialScheduler:
    """One ASHA per family, on its own fidelity (a single family's experiment keeps the plain
    scheduler)."""
    if len(names) == 1 or not settings.pruning:
        return make_scheduler(settings, fidelities[names[0]])
    return FamilyScheduler({f: make_scheduler(settings, fidelities[f]) for f in names})


def _unfinished(p: _Prepared, settings: TuneSettings) -> bool:
    running = p.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
    return bool(running) or p.finished < settings.n_trials


def _result(
    p: _Prepared,
    settings: TuneSettings,
    attempts: Mapping[int, int],
    wall: float,
    experiment_path: str,
    fidelity: Fidelity,
) -> TuningResult:
    spec = p.spec
    records = tuple(
        replace(r, attempts=1 + attempts.get(r.number, 0)) for r in trial_records(p.study)
    )
    selection = select_trial(records, p.data.defaults, min_gain_se=settings.min_gain_se)
    if selection is None:
        counts = Counter(r.status for r in records)
        errors = sorted({r.error for r in records if r.error})
        raise TrainingError(
            f"{spec.name}: no tuning trial completed "
            f"({counts['failed']} failed, {counts['pruned']} pruned)"
            + (f"; first error: {errors[0]}" if errors else "")
        )
    return TuningResult(
        family=spec.name,
        metric=settings.metric,
        n_folds=settings.fit.n_folds,
        trials=records,
        best_trial=selection.picked.number,
        best_score=float(selection.picked.score or 0.0),
        best_params={**p.fixed, **selection.picked.params},
        param_names=tuple(dict.fromkeys([*spec.search_space, *p.declared])),
        wall_seconds=wall,
        interrupted=len(interrupted(p.study)),
        study_path=str(p.study_path),
        experiment_path=experiment_path,
        fidelity=fidelity,
        selection=selection.to_dict(),
    )
