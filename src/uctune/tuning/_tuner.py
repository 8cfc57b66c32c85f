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
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, get_args

import numpy as np
import optuna
import pandas as pd
import pyarrow.fs
import ray
from optuna.distributions import BaseDistribution, distribution_to_json
from ray import tune
from ray.tune.logger import CSVLoggerCallback, JsonLoggerCallback
from ray.tune.schedulers import FIFOScheduler, TrialScheduler
from ray.tune.search import Searcher

from uctune.calibration import CalibrationChoice
from uctune.cluster import cluster_cpus, cluster_gpus, require_gpus
from uctune.errors import ConfigError, IntegrityError, TrainingError
from uctune.metrics import ObjectiveMetric
from uctune.models import DEVICES, Device, ModelSpec, get_spec
from uctune.splits import CVScheme
from uctune.storage import join_storage
from uctune.tuning._asha import BudgetedASHA
from uctune.tuning._fidelity import FIDELITIES, Fidelity, FidelityChoice, fidelity_schedule
from uctune.tuning._joint import FamilyScheduler, JointSearch
from uctune.tuning._kept import start_keeper, take_kept
from uctune.tuning._result import TuningResult
from uctune.tuning._search import StudySearch
from uctune.tuning._selection import select_trial, top_trial
from uctune.tuning._study import (
    fail_interrupted,
    in_space,
    interrupted,
    open_study,
    replay_results,
    study_storage,
    trial_records,
)
from uctune.tuning._trainable import (
    BUDGET,
    DEFAULTS_KEY,
    FAMILY_KEY,
    SCORE,
    TRIAL_KEY,
    TrialData,
    cv_trial,
)

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

EXPERIMENT_NAME = "ray"
"""Ray Tune's experiment folder, under the storage path."""

Progress = Callable[[int, int, str], None]
_METRICS: tuple[str, ...] = get_args(ObjectiveMetric)


@dataclass(frozen=True, kw_only=True)
class TuneSettings:
    """How a family is searched. Checked on creation; every field has the seed's default.

    ``grace_period`` is the budget every trial spends before ASHA may stop it (in folds; with a
    rows fidelity, in its smallest subsample steps); ``reduction_factor`` sets the rungs
    (``grace_period * reduction_factor**k``) and keeps the best ``1/reduction_factor`` at each.
    ``fidelity`` says what the budget grows: ``folds``, or ``rows`` (subsamples of the first fold's
    training rows, and fewer trees or rounds, before the full folds; see
    :mod:`uctune.tuning._fidelity`); ``auto`` is ``rows`` on large tables. ``max_failures`` is
    how often a trial whose worker died is retried. ``cv`` draws the folds (walk-forward CV needs
    the rows' dates, see :func:`tune_family`). A new search's first trial is the family's default
    params (the seed's), when they lie inside the searched space.
    """

    n_trials: int = 100
    metric: ObjectiveMetric = "pr_auc"
    n_folds: int = 5
    pruning: bool = True
    grace_period: int = 1
    reduction_factor: int = 2
    cpus_per_trial: int = 1
    max_failures: int = 2
    seed: int = 42
    device: Device = "cpu"
    gpus_per_trial: float = 1.0
    cv: CVScheme = CVScheme()
    calibration: CalibrationChoice = "auto"
    fidelity: FidelityChoice = "auto"
    min_gain_se: float = 2.0

    def __post_init__(self) -> None:
        checks = [
            (self.n_trials >= 1, "n_trials must be at least 1", self.n_trials),
            (self.metric in _METRICS, f"metric must be one of {', '.join(_METRICS)}", self.metric),
            (self.n_folds >= 2, "n_folds must be at least 2", self.n_folds),
            (self.grace_period >= 1, "grace_period must be at least 1 fold", self.grace_period),
            (
                self.grace_period <= self.n_folds,
                f"grace_period must be at most the {self.n_folds} folds",
                self.grace_period,
            ),
            (
                self.reduction_factor >= 2,
                "reduction_factor must be at least 2",
                self.reduction_factor,
            ),
            (self.cpus_per_trial >= 1, "cpus_per_trial must be at least 1", self.cpus_per_trial),
            (self.min_gain_se >= 0, "min_gain_se must be at least 0", self.min_gain_se),
            (self.max_failures >= 0, "max_failures must be at least 0", self.max_failures),
            (self.device in DEVICES, f"device must be one of {', '.join(DEVICES)}", self.device),
            (self.gpus_per_trial > 0, "gpus_per_trial must be above 0", self.gpus_per_trial),
            (
                self.fidelity in FIDELITIES,
                f"fidelity must be one of {', '.join(FIDELITIES)}",
                self.fidelity,
            ),
        ]
        for ok, rule, value in checks:
            if not ok:
                raise ConfigError(f"{rule}, got {value!r}")

    @property
    def n_startup_trials(self) -> int:
        """Random trials before TPE models the history: Optuna's 10, fewer for small budgets."""
        return min(10, max(4, self.n_trials // 4))


def _scheduler(settings: TuneSettings, fidelity: Fidelity) -> TrialScheduler:
    if not settings.pruning:
        return FIFOScheduler()
    return BudgetedASHA(
        time_attr=BUDGET,
        max_t=fidelity.max_budget,
        grace_period=settings.grace_period,
        reduction_factor=settings.reduction_factor,
        metric=SCORE,
        mode="max",
        keep_key=DEFAULTS_KEY,
    )


def has_experiment_state(path: str) -> bool:
    """Whether Ray Tune left a restorable snapshot of an experiment at ``path`` (a dir or a URI)."""
    if "://" in path:
        fs, root = pyarrow.fs.FileSystem.from_uri(path)
    else:
        fs, root = pyarrow.fs.LocalFileSystem(), os.path.abspath(path)
    try:
        infos = fs.get_file_info(pyarrow.fs.FileSelector(root, allow_not_found=True))
    except OSError:
        return False
    names = {Path(info.path).name for info in infos}
    return "tuner.pkl" in names and any(
        n.startswith("experiment_state") and n.endswith(".json") for n in names
    )


def _settings_record(
    family: str,
    settings: TuneSettings,
    space: Mapping[str, BaseDistribution],
    fixed: Mapping[str, Any],
    fidelity: Fidelity,
) -> dict[str, Any]:
    """What must not change between a study and its resumption."""
    record = {
        "family": family,
        "metric": settings.metric,
        "n_folds": settings.n_folds,
        "seed": settings.seed,
        "space": {k: distribution_to_json(d) for k, d in space.items()},
        "fixed": {k: repr(v) for k, v in fixed.items()},
    }
    if settings.cv != CVScheme():
        # Only when not the default: a study started before CV schemes existed still resumes.
        record["cv"] = settings.cv.to_dict()
    if fidelity.row_steps:
        record["fidelity"] = fidelity.to_dict()  # only then: older studies (folds) still resume
    return record


@contextmanager
def _without_warnings(logger_name: str) -> Iterator[None]:
    """Silence one library logger's warnings for a moment."""
    target = logging.getLogger(logger_name)
    level = target.level
    target.setLevel(logging.ERROR)
    try:
        yield
    finally:
        target.setLevel(level)


@contextmanager
def _ray_output(verbose: bool) -> Iterator[None]:
    """Ray Tune's own output with ``verbose``; otherwise none (its new output engine prints a
    header even when silent, so the legacy one, which honours verbosity 0, is selected; and its
    advice on Ctrl-C names Tune's API, where uctune's own message names ``--resume``).

    Either way Tune adds no loggers of its own: the ones uctune passes (each trial's
    ``progress.csv`` and ``result.json``) are all. Its TensorBoard logger, added by default,
    imports tensorboardX while the trials wait to start and writes an event file per trial: on
    the tuning benchmark it took the driver's CPU from 3.8 to 6.6 s, and the search's wall time
    from 1.155x to 1.19x its ideal bound.
    """
    wanted = {"TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1"}
    if not verbose:
        wanted["RAY_AIR_NEW_OUTPUT"] = "0"
    before = {k: os.environ.get(k) for k in wanted}
    os.environ.update(wanted)
    try:
        if verbose:
            yield
        else:
            with _without_warnings("ray.tune.tune"):
                yield
    finally:
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class _ProgressPoller:
    """Reads the studies once a second and reports trials done, each family's best so far and the
    pruned/failed counts.

    Reading the studies (rather than hooking into Tune) keeps the count right across a resume and
    keeps everything Tune pickles into its experiment free of references to the terminal.
    """

    def __init__(
        self,
        studies: Mapping[str, optuna.Study],
        total: int,
        metric: str,
        progress: Progress,
        every: float = 1.0,
    ) -> None:
        self.studies, self.total, self.metric, self.progress = (
            dict(studies),
            total,
            metric,
            progress,
        )
        self.every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="uctune-tune-progress", daemon=True)
        self._last: tuple[int, str] | None = None

    def __enter__(self) -> _ProgressPoller:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        if exc[0] is None:
            self.poll(final=True)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.poll()
            except Exception:  # noqa: BLE001 - a display must never break the search
                logger.debug("progress poll failed", exc_info=True)

    def poll(self, final: bool = False) -> None:
        done = 0
        counts: Counter[str] = Counter()
        bests: list[str] = []
        for family, study in self.studies.items():
            records = trial_records(study)
            done += len(records)
            counts.update(r.status for r in records)
            best = top_trial(records)
            if best is not None:
                label = f"{family} " if len(self.studies) > 1 else ""
                bests.append(f"{label}{best.score:.4f} (trial {best.number})")
        what = f"best {self.metric} " + ", ".join(bests) if bests else "no trial completed yet"
        what += f", {counts['pruned']} pruned"
        if counts["failed"]:
            what += f", {counts['failed']} failed"
        done = min(done, self.total)
        if final or (done, what) != self._last:
            self._last = (done, what)
            self.progress(done, self.total, what)


# Reading a snapshot warns about every trial that had not reported yet: expected after a kill.
_ANALYSIS_LOGGER = "ray.tune.analysis.experiment_analysis"


def trial_name(trial: Any) -> str:
    """Trials named by their Optuna number, as in ``trials.csv``: ``trial_7``, or ``xgboost_7``
    when an experiment searches several families."""
    config = trial.config or {}
    number = config.get(TRIAL_KEY)
    if number is None:
        return str(trial.trial_id)
    return f"{config.get(FAMILY_KEY, 'trial')}_{int(number)}"


def trial_dirname(trial: Any) -> str:
    """Short trial folders (Tune's default spells out every param): ``trial_0007_<tune id>``."""
    config = trial.config or {}
    number = config.get(TRIAL_KEY)
    if number is None:
        return str(trial.trial_id)
    return f"{config.get(FAMILY_KEY, 'trial')}_{int(number):04d}_{trial.trial_id}"


def _experiment_trials(experiment_path: str, only: str | None = None) -> dict[tuple[str, int], int]:
    """Every trial in Ray Tune's snapshot of an experiment (any status): (family, Optuna trial
    number) -> how often Tune restarted it after a failure. A trial of a single-family experiment
    (no family in its config) counts as ``only``'s."""
    if not has_experiment_state(experiment_path):
        return {}
    with _without_warnings(_ANALYSIS_LOGGER):
        analysis = tune.ExperimentAnalysis(experiment_path)
    out: dict[tuple[str, int], int] = {}
    for t in analysis.trials:
        config = t.config or {}
        family = config.get(FAMILY_KEY, only)
        if TRIAL_KEY in config and family is not None:
            out[(str(family), int(config[TRIAL_KEY]))] = int(t.num_failures)
    return out


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
    if settings.cpus_per_trial > cpus:
        raise ConfigError(
            f"cpus_per_trial must be at most the cluster's {cpus} CPUs, got {settings.cpus_per_trial}"
        )
    return max(1, cpus // settings.cpus_per_trial)


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


def _trainable(data: Mapping[str, TrialData], settings: TuneSettings) -> Any:
    resources = {f: _resources(d, settings) for f, d in data.items()}
    single = next(iter(resources.values()))

    def trial_resources(config: dict[str, Any]) -> tune.PlacementGroupFactory:
        return tune.PlacementGroupFactory([resources.get(config.get(FAMILY_KEY, ""), single)])

    return tune.with_resources(tune.with_parameters(cv_trial, data=dict(data)), trial_resources)


def _resources(data: TrialData, settings: TuneSettings) -> dict[str, float]:
    """What one trial asks Ray for: its CPU share, and GPUs when its family fits on one."""
    gpus = get_spec(data.family).gpus_for(settings.device, settings.gpus_per_trial)
    return {"CPU": settings.cpus_per_trial, **({"GPU": gpus} if gpus else {})}


def _new_tuner(
    trainable: Any,
    searcher: Searcher,
    scheduler: TrialScheduler,
    *,
    num_samples: int,
    concurrency: int,
    storage_path: str,
    max_failures: int,
    verbose: bool,
) -> tune.Tuner:
    return tune.Tuner(
        trainable,
        tune_config=tune.TuneConfig(
            metric=SCORE,
            mode="max",
            search_alg=searcher,
            scheduler=scheduler,
            num_samples=num_samples,
            max_concurrent_trials=concurrency,
            # One actor per concurrent trial for the whole experiment: a worker process, its
            # imports and its copy of the rows serve trial after trial, family after family.
            reuse_actors=True,
            trial_name_creator=trial_name,
            trial_dirname_creator=trial_dirname,
        ),
        run_config=tune.RunConfig(
            name=EXPERIMENT_NAME,
            storage_path=storage_path,
            failure_config=tune.FailureConfig(max_failures=max_failures),
            verbose=1 if verbose else 0,
            callbacks=[CSVLoggerCallback(), JsonLoggerCallback()],  # see _ray_output
        ),
    )


def _fit(
    tuner: tune.Tuner,
    studies: Mapping[str, optuna.Study],
    total: int,
    settings: TuneSettings,
    progress: Progress | None,
    verbose: bool,
) -> None:
    with _ray_output(verbose), _signal_handlers_kept():
        if progress is None:
            tuner.fit()
            return
        with _ProgressPoller(studies, total, settings.metric, progress):
            tuner.fit()


@contextmanager
def _signal_handlers_kept() -> Iterator[None]:
    """Ray Tune replaces the SIGINT (and SIGUSR1) handler for its run and leaves its own behind
    when the run ends normally, so Ctrl-C after a search (during the refit) only logged a line:
    the handlers in force before the search are put back after it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    kept = {s: signal.getsignal(s) for s in _TUNE_SIGNALS}
    try:
        yield
    finally:
        for number, handler in kept.items():
            if handler is not None:
                signal.signal(number, handler)


_TUNE_SIGNALS = tuple(s for s in (signal.SIGINT, getattr(signal, "SIGUSR1", None)) if s is not None)


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
    gpu_families = [
        f for f in names if get_spec(f).gpus_for(settings.device, settings.gpus_per_trial)
    ]
    if gpu_families:
        gpus = get_spec(gpu_families[0]).gpus_for(settings.device, settings.gpus_per_trial)
        require_gpus(gpus, f"device 'cuda' (for {', '.join(gpu_families)})")
        if len(gpu_families) == len(names):
            concurrency = min(concurrency, max(1, int(cluster_gpus() // gpus)))
    y = np.asarray(y)
    folds = settings.cv.folds(
        y, n_splits=settings.n_folds, random_state=settings.seed, dates=dates, groups=groups
    )
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
            _settings_record(family, settings, space, fixed, fidelities[family]),
        )
        defaults = {k: spec.defaults[k] for k in space if k in spec.defaults}
        data = TrialData(
            family=family,
            metric=settings.metric,
            defaults=defaults if in_space(defaults, space) else None,
            n_threads=settings.cpus_per_trial,
            random_state=settings.seed,
            device=settings.device,
            rows=rows,
            threshold_from=settings.cv.threshold_from,
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
        with _without_warnings(_ANALYSIS_LOGGER):
            tuner = tune.Tuner.restore(
                experiment_path, trainable=_trainable(replay, settings), resume_unfinished=True
            )
        restored = True
        # Trials the snapshot knows are resumed by Tune (or replayed, if the study finished
        # them); the others were cut short after the snapshot and are queued again.
        known = _experiment_trials(experiment_path, only=single)
        for family, p in prepared.items():
            fail_interrupted(p.study, keep={n for f, n in known if f == family})
    else:
        for p in prepared.values():
            fail_interrupted(p.study)
        searchers = {f: _searcher(prepared[f], settings) for f in _by_cost(names)}
        tuner = _new_tuner(
            _trainable({f: p.data for f, p in prepared.items()}, settings),
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
        settings.cpus_per_trial,
        fidelity.to_dict(),
    )
    started = time.perf_counter()
    if tuner is not None:
        studies = {f: p.study for f, p in prepared.items()}
        _fit(tuner, studies, settings.n_trials * len(names), settings, progress, verbose)
    wall = time.perf_counter() - started
    failures = _experiment_trials(experiment_path, only=single)
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

    ``settings.cv`` draws the folds; walk-forward CV needs ``dates`` (and ``groups``, the symbols,
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
        n_folds=settings.n_folds,
        max_trials=settings.n_trials,
        storage=p.storage,
        study_name=p.spec.name,
        seed=settings.seed,
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
        return _scheduler(settings, fidelities[names[0]])
    return FamilyScheduler({f: _scheduler(settings, fidelities[f]) for f in names})


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
        n_folds=settings.n_folds,
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
