"""The tuning objective: k-fold (or walk-forward) CV of one configuration, one fold at a time.

The objective is honest: with F1, each fold is scored at a threshold chosen without it (on the
other folds' out-of-fold predictions, or only the earlier folds' with walk-forward CV; see
:func:`uctune.metrics.honest_objective`), never at the threshold that is best on its own rows.

Pure functions: rows and params in, scores out. The Ray trial runs them and reports after each fold
(so a scheduler can stop an unpromising trial early); tests and the benchmark's plain-Optuna
baselines run exactly the same code without Ray.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from uctune.metrics import ObjectiveMetric, honest_objective
from uctune.models import get_spec
from uctune.training import FitSettings, fit_and_predict
from uctune.tuning._fidelity import Fidelity, scaled_params, subsample

__all__ = ["FoldStep", "cv_steps", "cv_score"]


@dataclass(frozen=True)
class FoldStep:
    """The state of a trial after ``folds_done`` folds.

    ``score`` is the running objective on the out-of-fold predictions of every fold so far (after the
    last fold it is the trial's value), each fold at a threshold chosen on the other folds done so
    far (the earlier ones with ``earlier_folds``; 0.5 while there are none). ``fold_scores`` is
    each finished fold's own score on the same terms (an earlier fold's may change as later ones
    finish, unless thresholds come from earlier folds only); ``fold_score`` is this fold's.
    ``error`` is set when the fold's fit failed; the trial stops there and counts as failed.

    With a rows fidelity, the steps before the full folds fit the first fold on a share ``rows`` of
    its training rows: ``folds_done`` is 0 and ``score`` that subsample fit's own score.
    ``budget`` is the fidelity budget spent (ASHA's time; the number of folds without subsamples).
    """

    folds_done: int
    fold_score: float
    score: float
    fit_cpu_seconds: float
    error: str | None = None
    fold_scores: tuple[float, ...] = ()
    budget: int = 0
    rows: float = 1.0
    proba: np.ndarray | None = field(default=None, repr=False, compare=False)
    """This step's predictions of its fold's validation rows (a full fold's only)."""


def cv_steps(
    family: str,
    params: Mapping[str, Any],
    X: pd.DataFrame,
    y: np.ndarray,
    folds: Sequence[tuple[np.ndarray, np.ndarray]],
    *,
    metric: ObjectiveMetric = "f1",
    fit: FitSettings | None = None,
    fidelity: Fidelity | None = None,
) -> Iterator[FoldStep]:
    """Fit ``family`` with ``params`` on each fold in turn, yielding the running score after each.

    ``fit`` (default :class:`~uctune.training.FitSettings`) gives the seed, the device, the
    threads of each fit and the folds that may choose a fold's threshold; the folds themselves
    are ``folds``.
    ``fidelity`` (default: the folds alone) may put subsample fits of the first fold before them,
    each yielded as a step (see :mod:`uctune.tuning._fidelity`).

    Every fit goes through :func:`uctune.training.fit_and_predict`, as in the train stage, so a trial's
    final score equals the out-of-fold score of training the same params with the same folds and seed.
    ``fit_cpu_seconds`` is the CPU time of the fitting thread (the fit's own work, whatever else
    competes for the cores).
    """
    fit = fit or FitSettings()
    fidelity = fidelity or Fidelity(n_folds=len(folds), reduction_factor=2)
    resolved = get_spec(family).resolve_params(params)
    oof_y: list[np.ndarray] = []
    oof_proba: list[np.ndarray] = []
    done: tuple[float, ...] = ()
    for step in fidelity.steps():
        train_index, eval_index = folds[step.fold]
        cpu_started = time.thread_time()
        outcome = fit_and_predict(
            family,
            scaled_params(family, resolved, step.rounds),
            X,
            y,
            subsample(train_index, y, step.rows, fit.seed),
            eval_index,
            fold=step.fold,
            n_threads=fit.cpus_per_fit,
            random_state=fit.seed,
            device=fit.device,
        )
        cpu = time.thread_time() - cpu_started
        folds_done = step.fold + 1 if step.full else 0
        if outcome.error is not None or outcome.proba is None:
            nan = float("nan")
            failed = (*done, nan) if step.full else ()
            yield FoldStep(
                folds_done, nan, nan, cpu, outcome.error or "?", failed, step.budget, step.rows
            )
            return
        if not step.full:  # a subsample of the first fold: scored alone
            score, _ = honest_objective(
                metric, [y[eval_index]], [outcome.proba], source=fit.threshold_from
            )
            yield FoldStep(0, score, score, cpu, budget=step.budget, rows=step.rows)
            continue
        oof_y.append(y[eval_index])
        oof_proba.append(outcome.proba)
        running, each = honest_objective(metric, oof_y, oof_proba, source=fit.threshold_from)
        done = tuple(each)
        yield FoldStep(
            folds_done=folds_done,
            fold_score=done[-1],
            score=running,
            fit_cpu_seconds=cpu,
            fold_scores=done,
            budget=step.budget,
            proba=outcome.proba,
        )


def cv_score(
    family: str,
    params: Mapping[str, Any],
    X: pd.DataFrame,
    y: np.ndarray,
    folds: Sequence[tuple[np.ndarray, np.ndarray]],
    *,
    metric: ObjectiveMetric = "f1",
    fit: FitSettings | None = None,
) -> list[FoldStep]:
    """Every fold of :func:`cv_steps` (the whole trial, unpruned), in order."""
    return list(cv_steps(family, params, X, y, folds, metric=metric, fit=fit))
