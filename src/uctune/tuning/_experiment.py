"""Ray Tune's side of a search: the experiment (trainable, resources, scheduler), running it with
uctune's own progress line instead of Tune's output, and reading its snapshot back after an
interruption."""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import optuna
import pyarrow.fs
from ray import tune
from ray.tune.logger import CSVLoggerCallback, JsonLoggerCallback
from ray.tune.schedulers import FIFOScheduler, TrialScheduler
from ray.tune.search import Searcher

from uctune._environ import environment
from uctune.models import get_spec
from uctune.tuning._asha import BudgetedASHA
from uctune.tuning._fidelity import Fidelity
from uctune.tuning._selection import top_trial
from uctune.tuning._settings import TuneSettings
from uctune.tuning._study import trial_records
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
    "ANALYSIS_LOGGER",
    "EXPERIMENT_NAME",
    "Progress",
    "ProgressPoller",
    "experiment_trials",
    "has_experiment_state",
    "make_scheduler",
    "new_tuner",
    "ray_output",
    "resources_of",
    "run_experiment",
    "signal_handlers_kept",
    "trainable",
    "trial_dirname",
    "trial_name",
    "without_warnings",
]

logger = logging.getLogger(__name__)

EXPERIMENT_NAME = "ray"
"""Ray Tune's experiment folder, under the storage path."""


Progress = Callable[[int, int, str], None]


def make_scheduler(settings: TuneSettings, fidelity: Fidelity) -> TrialScheduler:
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


@contextmanager
def without_warnings(logger_name: str) -> Iterator[None]:
    """Silence one library logger's warnings for a moment."""
    target = logging.getLogger(logger_name)
    level = target.level
    target.setLevel(logging.ERROR)
    try:
        yield
    finally:
        target.setLevel(level)


@contextmanager
def ray_output(verbose: bool) -> Iterator[None]:
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
    with environment(wanted):
        if verbose:
            yield
        else:
            with without_warnings("ray.tune.tune"):
                yield


class ProgressPoller:
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

    def __enter__(self) -> ProgressPoller:
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
ANALYSIS_LOGGER = "ray.tune.analysis.experiment_analysis"


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


def experiment_trials(experiment_path: str, only: str | None = None) -> dict[tuple[str, int], int]:
    """Every trial in Ray Tune's snapshot of an experiment (any status): (family, Optuna trial
    number) -> how often Tune restarted it after a failure. A trial of a single-family experiment
    (no family in its config) counts as ``only``'s."""
    if not has_experiment_state(experiment_path):
        return {}
    with without_warnings(ANALYSIS_LOGGER):
        analysis = tune.ExperimentAnalysis(experiment_path)
    out: dict[tuple[str, int], int] = {}
    for t in analysis.trials:
        config = t.config or {}
        family = config.get(FAMILY_KEY, only)
        if TRIAL_KEY in config and family is not None:
            out[(str(family), int(config[TRIAL_KEY]))] = int(t.num_failures)
    return out


def trainable(data: Mapping[str, TrialData], settings: TuneSettings) -> Any:
    resources = {f: resources_of(d, settings) for f, d in data.items()}
    single = next(iter(resources.values()))

    def trial_resources(config: dict[str, Any]) -> tune.PlacementGroupFactory:
        return tune.PlacementGroupFactory([resources.get(config.get(FAMILY_KEY, ""), single)])

    return tune.with_resources(tune.with_parameters(cv_trial, data=dict(data)), trial_resources)


def resources_of(data: TrialData, settings: TuneSettings) -> dict[str, float]:
    """What one trial asks Ray for: its CPU share, and GPUs when its family fits on one."""
    fit = settings.fit
    gpus = get_spec(data.family).gpus_for(fit.device, fit.gpus_per_fit)
    return {"CPU": fit.cpus_per_fit, **({"GPU": gpus} if gpus else {})}


def new_tuner(
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
            callbacks=[CSVLoggerCallback(), JsonLoggerCallback()],  # see ray_output
        ),
    )


def run_experiment(
    tuner: tune.Tuner,
    studies: Mapping[str, optuna.Study],
    total: int,
    settings: TuneSettings,
    progress: Progress | None,
    verbose: bool,
) -> None:
    with ray_output(verbose), signal_handlers_kept():
        if progress is None:
            tuner.fit()
            return
        with ProgressPoller(studies, total, settings.metric, progress):
            tuner.fit()


@contextmanager
def signal_handlers_kept() -> Iterator[None]:
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
