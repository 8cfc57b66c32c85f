"""The Ray Tune trial: one configuration's k-fold CV, reporting after every fold.

Per-trial overhead is what separates a distributed tuner from a plain Optuna loop, so a trial does as
little as possible besides fitting: the trial actors are reused between trials (the libraries are
imported once per worker process), and the training rows are fetched from the object store once per
worker process and kept for the next trial (:func:`_rows`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import ray
from ray import tune

from uctune.cluster import current_node
from uctune.metrics import ObjectiveMetric
from uctune.training import FitSettings, FoldPredictions
from uctune.tuning._fidelity import Fidelity
from uctune.tuning._objective import cv_steps
from uctune.tuning._selection import is_defaults

__all__ = [
    "TRIAL_KEY",
    "FAMILY_KEY",
    "SCORE",
    "BUDGET",
    "DEFAULTS_KEY",
    "TrialData",
    "cv_trial",
    "trial_report",
]

TRIAL_KEY = "__trial"
"""Config key carrying the Optuna trial number, so that a trial can be matched to its study record."""

FAMILY_KEY = "__family"
"""Config key carrying the trial's family, when one experiment searches several."""

SCORE = "score"
"""The reported metric (the running objective) that the scheduler and the searcher read."""

BUDGET = "budget"
"""The reported fidelity budget spent (ASHA's time attribute; folds done without subsamples)."""

DEFAULTS_KEY = "defaults"
"""Reported true by the trial of the family's defaults, which the scheduler never stops: every
tuned configuration is compared with them on every fold (:mod:`uctune.tuning._selection`)."""

logger = logging.getLogger(__name__)

Rows = tuple[pd.DataFrame, np.ndarray, Sequence[tuple[np.ndarray, np.ndarray]]]


@dataclass(frozen=True)
class TrialData:
    """Everything a trial needs besides its params; small, so it can travel with every trial.

    ``rows`` is an object-store reference to ``(X, y, folds)``, which a worker process fetches once.
    ``fixed`` holds params kept out of the search. ``replay`` holds the final results of trials the
    study has already finished, for trials that a restored experiment would otherwise run again.
    ``fit`` says how each fold is fitted and scored (its threads are the trial's CPUs).
    ``fidelity`` is the trial's schedule (``None``: the folds alone).
    ``keeper`` (:mod:`uctune.tuning._kept`) takes the fold predictions of a trial that ran them all.
    """

    family: str
    metric: ObjectiveMetric
    fit: FitSettings
    rows: Any = field(repr=False)
    fixed: Mapping[str, Any] = field(default_factory=dict)
    replay: Mapping[int, Mapping[str, Any]] = field(default_factory=dict)
    fidelity: Fidelity | None = None
    defaults: Mapping[str, Any] | None = None
    keeper: Any = field(default=None, repr=False)


def trial_report(
    number: int,
    *,
    score: float,
    folds_done: int,
    fold_scores: Sequence[float],
    seconds: float,
    fit_cpu_seconds: float,
    error: str | None,
    node: str | None,
    gpus: Sequence[str] = (),
    budget: int | None = None,
    rows: float = 1.0,
    subsample_scores: Sequence[float] = (),
    defaults: bool = False,
) -> dict[str, Any]:
    """The result a trial reports after each fold (a replayed trial, once): what the scheduler and
    :class:`~uctune.tuning._search.StudySearch` read."""
    return {
        SCORE: score,
        "trial": number,
        "folds_done": folds_done,
        BUDGET: folds_done if budget is None else budget,
        "rows": rows,
        "fold_scores": list(fold_scores),
        "subsample_scores": list(subsample_scores),
        "seconds": seconds,
        "fit_cpu_seconds": fit_cpu_seconds,
        "fold_error": error or "",
        "node": node or "",
        "gpus": ",".join(gpus),
        DEFAULTS_KEY: defaults,
    }


_ROWS: dict[str, Rows] = {}


def _rows(data: TrialData) -> Rows:
    """The training rows, fetched from the object store once per worker process (latest put only)."""
    key = data.rows.hex()  # the reference's object id: one per put
    if key not in _ROWS:
        _ROWS.clear()
        _ROWS[key] = ray.get(data.rows)
    return _ROWS[key]


def cv_trial(config: dict[str, Any], data: Mapping[str, TrialData]) -> None:
    """Ray Tune function trainable: report the running CV score after every fold.

    ``data`` holds each family's :class:`TrialData`; the config names the trial's family (a
    config without one is from a single-family experiment).
    """
    family = config.get(FAMILY_KEY)
    own = data[family] if family is not None else next(iter(data.values()))
    number = int(config[TRIAL_KEY])
    if number in own.replay:
        # Finished before an interruption, but after Tune's last snapshot: report, do not refit.
        tune.report(dict(own.replay[number]))
        return
    params = {**own.fixed, **{k: v for k, v in config.items() if k not in (TRIAL_KEY, FAMILY_KEY)}}
    X, y, folds = _rows(own)
    defaults = is_defaults(params, own.defaults)
    node = current_node()
    gpus = [str(g) for g in ray.get_gpu_ids()]
    started = time.perf_counter()
    cpu = 0.0
    subsamples: list[float] = []
    probas: list[np.ndarray] = []
    seconds: list[float] = []
    step_started = started
    for step in cv_steps(
        own.family,
        params,
        X,
        y,
        folds,
        metric=own.metric,
        fit=own.fit,
        fidelity=own.fidelity,
    ):
        cpu += step.fit_cpu_seconds
        now = time.perf_counter()
        if step.rows < 1.0:
            subsamples.append(step.score)
        elif step.proba is not None:
            probas.append(step.proba)
            seconds.append(now - step_started)
            if len(probas) == len(folds):  # the last fold: keep them before the final report
                _keep(own, number, step.score, defaults, probas, seconds, node)
        step_started = now
        tune.report(
            trial_report(
                number,
                score=step.score,
                folds_done=step.folds_done,
                fold_scores=step.fold_scores,
                seconds=time.perf_counter() - started,
                fit_cpu_seconds=cpu,
                error=step.error,
                node=node,
                gpus=gpus,
                budget=step.budget,
                rows=step.rows,
                subsample_scores=subsamples,
                defaults=defaults,
            )
        )


def _keep(
    own: TrialData,
    number: int,
    score: float,
    defaults: bool,
    probas: list[np.ndarray],
    seconds: list[float],
    node: str | None,
) -> None:
    """Hand a finished trial's fold predictions to the keeper (if any); losing them only costs the
    refit the time to fit the folds again."""
    if own.keeper is None:
        return
    kept = FoldPredictions(tuple(probas), tuple(seconds), source=f"trial {number}", node=node)
    try:
        ray.get(own.keeper.add.remote(own.family, number, score, defaults, kept))
    except ray.exceptions.RayError as exc:
        logger.warning("trial %d: its fold predictions were not kept (%s)", number, exc)
