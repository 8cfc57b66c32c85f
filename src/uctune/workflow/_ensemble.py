"""The ensemble stage: the run's models combined on their out-of-fold predictions.

Every model the train and tune stages stored left its honest out-of-fold probabilities of the
training rows in ``oof.csv``, on the same folds. This stage learns a combiner on them
(:mod:`uctune.ensemble`: Caruana's greedy selection or a logistic-regression stacker, chosen on
cross-fitted predictions), calibrates and thresholds the ensemble's cross-fitted predictions the way
each family's are (:mod:`uctune.calibration`), and stores the result as model ``ensemble``: the
members are the stored models themselves, so nothing is trained again. It adds the ensemble's test
probabilities to ``predictions.csv`` and its numbers to ``results.json``'s ``ensemble``; the report
and the register stage treat it like any other model, except that with ``ensemble.registered:
if_better`` an ensemble whose cross-fitted out-of-fold score does not beat its best member's is
not registered (``versus_members`` says why).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from uctune.calibration import cross_fit_calibration
from uctune.ensemble import COMBINERS, CombinerMethod, cross_fit_combiners, fit_combiner
from uctune.metrics import (
    METRICS,
    ObjectiveMetric,
    ThresholdFrom,
    allowed_folds,
    f1_optimal_threshold,
    honest_objective,
)
from uctune.models import EnsembleClassifier, EnsembleThresholdClassifier
from uctune.training import fold_mean_std, holdout_scores, score_folds, with_calibration

if TYPE_CHECKING:
    from uctune.workflow._run import RunContext

__all__ = ["ENSEMBLE", "ensemble_stage"]

logger = logging.getLogger(__name__)

ENSEMBLE = "ensemble"
"""The name the ensemble is stored, predicted, reported and registered under."""


def _member(model: Any) -> Any:
    """A stored model without its decision threshold: the ensemble thresholds its own average."""
    return getattr(model, "estimator", model)


def _learnt_folds(y_folds: list[np.ndarray], source: ThresholdFrom) -> list[int]:
    """The folds whose cross-fitted ensemble prediction came from a combiner learnt on other folds
    (under walk-forward CV the first block has none before it: its prediction is a plain average of
    the members' probabilities, on another scale); all folds when none did."""
    n = len(y_folds)
    sources = [allowed_folds(k, n, source) for k in range(n)]
    return [
        k
        for k, allowed in enumerate(sources)
        if allowed and len(np.unique(np.concatenate([y_folds[j] for j in allowed]))) == 2
    ] or list(range(n))


def _versus_members(
    names: list[str],
    P_folds: list[np.ndarray],
    y_folds: list[np.ndarray],
    ensemble_folds: list[np.ndarray],
    metric: ObjectiveMetric,
    source: ThresholdFrom,
) -> dict[str, Any]:
    """The ensemble's cross-fitted score against each member's, on the same out-of-fold rows and
    terms: the folds whose combiner was learnt on other folds (under walk-forward CV the first
    block has none before it, and its plain average of the members says nothing of the combiner).
    ``earned`` when the ensemble beats the best member."""
    learnt = _learnt_folds(y_folds, source)
    ys = [y_folds[k] for k in learnt]

    def score(folds: list[np.ndarray]) -> float:
        return float(honest_objective(metric, ys, folds, source=source)[0])

    ensemble = score([ensemble_folds[k] for k in learnt])
    members = {name: score([P_folds[k][:, j] for k in learnt]) for j, name in enumerate(names)}
    best = max(members, key=lambda name: members[name])
    earned = bool(ensemble > members[best])
    verdict = (
        f"its out-of-fold {metric} {ensemble:.4f} beats its best member {best}'s {members[best]:.4f}"
        if earned
        else f"its out-of-fold {metric} {ensemble:.4f} does not beat its best member {best}'s "
        f"{members[best]:.4f}"
    )
    return {
        "metric": metric,
        "basis": "out-of-fold predictions of the training rows in the folds whose combiner was "
        "learnt on other folds; the ensemble's cross-fitted",
        "folds": [k + 1 for k in learnt],
        "ensemble": ensemble,
        "members": members,
        "best_member": best,
        "best_member_score": members[best],
        "earned": earned,
        "verdict": verdict,
    }


def ensemble_stage(ctx: RunContext) -> None:
    """Combine the run's models (see the module notes); skipped with a note when fewer than two
    models have complete out-of-fold predictions."""
    settings = ctx.config.ensemble
    if not settings.enabled:
        ctx.results[ENSEMBLE] = {"enabled": False}
        return
    started = time.perf_counter()
    frame = ctx.out_of_fold()
    label = ctx.table.label
    stored = set(ctx.model_names()) - {ENSEMBLE}
    columns = [] if frame is None else [c for c in frame if c in stored]
    names = [c for c in columns if frame is not None and frame[c].notna().all()]
    if len(names) < 2:
        reason = f"needs at least two models with out-of-fold predictions, got {len(names)}"
        logger.warning("ensemble skipped: %s", reason)
        ctx.results[ENSEMBLE] = {"enabled": True, "skipped": reason}
        return
    assert frame is not None
    fold_ids = sorted(frame["fold"].unique())
    parts = [frame[frame["fold"] == k] for k in fold_ids]
    P_folds = [part[names].to_numpy(dtype=np.float64) for part in parts]
    y_folds = [part[label].to_numpy(dtype=np.int64) for part in parts]
    source = ctx.cv.threshold_from
    methods: list[CombinerMethod] = (
        list(COMBINERS) if settings.method == "auto" else [settings.method]
    )
    seed = ctx.config.seed
    scored = cross_fit_combiners(
        P_folds,
        y_folds,
        methods=methods,
        source=source,
        size=settings.size,
        metric=settings.metric,
        random_state=seed,
    )
    method = max(methods, key=lambda m: scored[m].score)
    versus = _versus_members(
        names, P_folds, y_folds, scored[method].fold_proba, settings.metric, source
    )
    if not versus["earned"]:
        logger.warning("ensemble: %s", versus["verdict"])
    P_all, y_all = np.concatenate(P_folds), np.concatenate(y_folds)
    combiner = fit_combiner(
        method, P_all, y_all, size=settings.size, metric=settings.metric, random_state=seed
    )

    # The ensemble's own cross-fitted predictions are calibrated and thresholded like a family's,
    # on the folds whose prediction a learnt combiner made: a plain average's scale, mixed in, moved
    # seed 42's threshold on the NSE sample's forward split from 0.27 to 0.32.
    learnt = _learnt_folds(y_folds, source)
    y_learnt = [y_folds[k] for k in learnt]
    p_learnt = [scored[method].fold_proba[k] for k in learnt]
    calibrated = cross_fit_calibration(
        y_learnt, p_learnt, choice=ctx.config.calibration, source=source
    )
    threshold = f1_optimal_threshold(
        np.concatenate(y_learnt), calibrated.apply(np.concatenate(p_learnt))
    )
    each, pooled = score_folds(y_learnt, calibrated)

    members = [(name, _member(ctx.model(name))) for name in names]
    ensemble = EnsembleClassifier.from_parts(
        members, combiner, size=settings.size, metric=settings.metric, random_state=seed
    )
    model = EnsembleThresholdClassifier(
        with_calibration(ensemble, calibrated), threshold=threshold, response_method="predict_proba"
    )

    test = ctx.split.test_index
    test_raw = ensemble.predict_proba(ctx.table.X.iloc[test])[:, 1]
    test_proba, holdout, calibration = holdout_scores(
        ctx.table.y[test], test_raw, threshold, calibrated
    )
    fold_rows = [
        {"fold": int(k), **{m: s[m] for m in METRICS}, "threshold": cut}
        for k, s, cut in zip(
            [fold_ids[k] for k in learnt], each, calibrated.thresholds, strict=True
        )
    ]
    mean, std = fold_mean_std(fold_rows)
    ctx.save_model(ENSEMBLE, model)
    ctx.add_predictions({ENSEMBLE: test_proba})
    seconds = time.perf_counter() - started
    ctx.results[ENSEMBLE] = {
        "enabled": True,
        "family": ENSEMBLE,
        "display_name": "Ensemble",
        "method": method,
        "members": names,
        "combiner": combiner.to_dict(names),
        "selection": {
            "metric": settings.metric,
            "basis": "each fold predicted by a combiner learnt without it",
            "scores": {m: {"score": c.score, "folds": c.fold_scores} for m, c in scored.items()},
        },
        "versus_members": versus,
        "earned": versus["earned"],
        "params": {"method": method, "size": settings.size, "metric": settings.metric},
        "threshold": threshold,
        "cv": {
            "folds": fold_rows,
            "mean": mean,
            "std": std,
            "oof": pooled,
            "threshold_from": source,
        },
        "calibration": calibration,
        "holdout": holdout,
        "seconds": seconds,
    }
    ctx.results.setdefault("timing", {})["ensemble_wall_seconds"] = seconds
    logger.info("ensemble of %s (%s): %.1fs", ", ".join(names), method, seconds)
