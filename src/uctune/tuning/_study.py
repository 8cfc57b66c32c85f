"""The persisted Optuna study: the record of every trial, and what a resumed run reads back.

The study (a SQLite file beside the tuning results) is the source of truth: Ray Tune's own experiment
snapshot is taken every few seconds, so after a hard kill it can lag behind the study. These helpers
read the study into frozen records and square it with a restored experiment.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.trial import FrozenTrial, TrialState

from uctune.tuning._trainable import trial_report

__all__ = [
    "CV_ATTR",
    "INTERRUPTED_ATTR",
    "TrialRecord",
    "TrialStatus",
    "fail_interrupted",
    "in_space",
    "interrupted",
    "open_study",
    "study_storage",
    "replay_results",
    "trial_records",
]

logger = logging.getLogger(__name__)

CV_ATTR = "cv"
"""User attribute holding a trial's CV record (fold scores, seconds, error)."""

INTERRUPTED_ATTR = "interrupted"
"""Study attribute listing the trials cut short by an interruption (their configurations run again)."""

TrialStatus = Literal["completed", "pruned", "failed"]
_STATUS: dict[TrialState, TrialStatus] = {
    TrialState.COMPLETE: "completed",
    TrialState.PRUNED: "pruned",
    TrialState.FAIL: "failed",
}


def study_storage(path: Path) -> optuna.storages.RDBStorage:
    """The SQLite storage at ``path`` (created with its folder if needed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return optuna.storages.RDBStorage(
        f"sqlite:///{path.resolve()}",
        # The progress display reads the study while the searcher writes it.
        engine_kwargs={"connect_args": {"timeout": 60}},
    )


def open_study(storage: optuna.storages.BaseStorage, name: str) -> optuna.Study:
    """Create or load the study ``name`` (maximised) in ``storage``."""
    return optuna.create_study(
        storage=storage, study_name=name, direction="maximize", load_if_exists=True
    )


@dataclass(frozen=True)
class TrialRecord:
    """One finished trial as the study recorded it.

    ``score`` is the objective (for a pruned trial, its running score when it was stopped; ``None``
    for a failed one); ``fold_scores`` has one entry per full fold reached, ``subsample_scores``
    one per subsample step of a rows fidelity; ``budget`` is the fidelity budget reached and
    ``rows`` the share of the rows its last step fitted on; ``attempts`` is 1 plus the
    times Ray Tune restarted the trial after its worker died; ``node`` is the Ray node whose worker
    ran the attempt that finished it.
    """

    number: int
    status: TrialStatus
    score: float | None
    folds_done: int
    seconds: float
    fold_scores: tuple[float, ...]
    params: Mapping[str, Any] = field(hash=False)
    fit_cpu_seconds: float = 0.0
    attempts: int = 1
    error: str | None = None
    node: str | None = None
    gpus: str = ""
    budget: int = 0
    rows: float = 1.0
    subsample_scores: tuple[float, ...] = ()


def _finite(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def _record(trial: FrozenTrial) -> TrialRecord:
    cv = dict(trial.user_attrs.get(CV_ATTR) or {})
    status = _STATUS[trial.state]
    score = _finite(trial.value) if status == "completed" else _finite(cv.get("score"))
    seconds = cv.get("seconds")
    if seconds is None and trial.datetime_start and trial.datetime_complete:
        seconds = (trial.datetime_complete - trial.datetime_start).total_seconds()
    return TrialRecord(
        number=trial.number,
        status=status,
        score=None if status == "failed" else score,
        folds_done=int(cv.get("folds_done", 0)),
        seconds=float(seconds or 0.0),
        fold_scores=tuple(float(s) for s in cv.get("fold_scores", ())),
        params=dict(trial.params),
        fit_cpu_seconds=float(cv.get("fit_cpu_seconds", 0.0)),
        error=cv.get("error") or None,
        node=cv.get("node") or None,
        gpus=str(cv.get("gpus") or ""),
        budget=int(cv.get("budget", cv.get("folds_done")) or 0),
        rows=float(cv.get("rows", 1.0)),
        subsample_scores=tuple(float(s) for s in cv.get("subsample_scores", ())),
    )


def interrupted(study: optuna.Study) -> frozenset[int]:
    """Numbers of the trials that an interruption cut short."""
    return frozenset(study.user_attrs.get(INTERRUPTED_ATTR, ()))


def trial_records(study: optuna.Study) -> tuple[TrialRecord, ...]:
    """The finished trials, by number; trials cut short by an interruption are left out."""
    skip = interrupted(study)
    return tuple(
        _record(t)
        for t in sorted(study.get_trials(deepcopy=False), key=lambda t: t.number)
        if t.state in _STATUS and t.number not in skip
    )


def replay_results(study: optuna.Study) -> dict[int, dict[str, Any]]:
    """For every finished trial, the final result its Ray trial reported (to replay, not refit)."""
    return {
        r.number: trial_report(
            r.number,
            score=r.score if r.score is not None else float("nan"),
            folds_done=r.folds_done,
            fold_scores=r.fold_scores,
            seconds=r.seconds,
            fit_cpu_seconds=r.fit_cpu_seconds,
            error=r.error,
            node=r.node,
            budget=r.budget,
            rows=r.rows,
            subsample_scores=r.subsample_scores,
        )
        for r in trial_records(study)
    }


def fail_interrupted(study: optuna.Study, keep: Iterable[int] = ()) -> list[int]:
    """Close the trials left running by an interruption, except ``keep``; queue their params again.

    Such a trial belongs to no live Ray trial any more; left ``RUNNING`` it would count as pending
    for the constant-liar sampler forever. It is marked failed and ``interrupted`` (so it is left
    out of the results), and its params are enqueued so the same configuration runs again.
    """
    kept = set(keep)
    closed: list[int] = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if trial.number in kept:
            continue
        study.set_user_attr(INTERRUPTED_ATTR, sorted(interrupted(study) | {trial.number}))
        study.tell(trial.number, state=TrialState.FAIL)
        if trial.params:
            study.enqueue_trial(dict(trial.params))
        closed.append(trial.number)
    if closed:
        logger.info("trials %s were interrupted; their configurations are queued again", closed)
    return closed


def in_space(params: Mapping[str, Any], space: Mapping[str, BaseDistribution]) -> bool:
    """Whether every parameter of ``space`` is present in ``params`` and inside its distribution."""
    for name, dist in space.items():
        if name not in params:
            return False
        value = params[name]
        if isinstance(dist, CategoricalDistribution):
            if value not in dist.choices:
                return False
        elif isinstance(dist, FloatDistribution | IntDistribution):
            if isinstance(value, bool) or not isinstance(value, int | float):
                return False
            if not dist.low <= value <= dist.high:
                return False
            if isinstance(dist, IntDistribution) and (value - dist.low) % dist.step:
                return False
        else:
            raise TypeError(f"unsupported distribution for {name!r}: {type(dist).__name__}")
    return True
