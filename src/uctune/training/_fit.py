"""The unit of work: one fit of one family on some rows, and the assembly of a family's results.

These functions are pure (data in, results out) so that the Ray driver and the sequential path run
exactly the same code, and so that a Ray worker never touches a file.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from uctune.calibration import (
    CalibrationChoice,
    CrossFitted,
    calibration_scores,
    cross_fit_calibration,
)
from uctune.errors import TrainingError, first_line
from uctune.metrics import (
    METRICS,
    ThresholdFrom,
    classification_metrics,
    cross_fitted_metrics,
    f1_optimal_threshold,
)
from uctune.models import CalibratedClassifier, Device, ThresholdedClassifier, get_spec

__all__ = [
    "FitOutcome",
    "FamilyResult",
    "fit_and_predict",
    "positive_weight",
    "tree_importance",
    "assemble_family",
    "OutOfFold",
    "fold_mean_std",
    "holdout_scores",
    "score_folds",
    "with_calibration",
]


def positive_weight(y: np.ndarray) -> float:
    """Negatives per positive: the ``scale_pos_weight`` that balances the classes."""
    positives = int(np.sum(y))
    return float((len(y) - positives) / positives) if positives else 1.0


@dataclass(frozen=True)
class FitOutcome:
    """One fit: the family, which fold (``None`` for the final refit), and what it predicted.

    ``node`` is the Ray node id of the worker that ran the fit (``None`` outside Ray); ``gpus`` the
    ids of the GPUs Ray gave it (none unless the fit asked for some). ``source`` is set when the
    predictions were not fitted here but taken from elsewhere (:class:`FoldPredictions`).
    """

    family: str
    fold: int | None
    eval_index: np.ndarray
    proba: np.ndarray | None
    fit_seconds: float
    model: Pipeline | None = field(default=None, repr=False)
    error: str | None = None
    node: str | None = None
    gpus: tuple[str, ...] = ()
    source: str | None = None


@dataclass(frozen=True)
class FoldPredictions:
    """One configuration's predictions of every CV fold's validation rows, already computed (by a
    tuning trial that ran every fold: the same params, folds and seed through
    :func:`fit_and_predict`), so that training the configuration need not fit its folds again.

    ``proba[k]`` holds fold ``k``'s validation rows in their order, ``seconds[k]`` its fit's wall
    time; ``source`` says where they came from (``"trial 17"``), recorded with each fold.
    """

    proba: tuple[np.ndarray, ...] = field(repr=False)
    seconds: tuple[float, ...]
    source: str
    node: str | None = None

    def outcomes(self, family: str, eval_indices: Sequence[np.ndarray]) -> list[FitOutcome] | None:
        """The folds as :class:`FitOutcome`, or ``None`` when they do not match ``eval_indices``
        (another number of folds, or of rows in a fold)."""
        if len(self.proba) != len(eval_indices) or len(self.seconds) != len(eval_indices):
            return None
        if any(len(p) != len(i) for p, i in zip(self.proba, eval_indices, strict=True)):
            return None
        return [
            FitOutcome(
                family,
                k,
                index,
                np.asarray(proba, dtype=np.float64),
                seconds,
                node=self.node,
                source=self.source,
            )
            for k, (index, proba, seconds) in enumerate(
                zip(eval_indices, self.proba, self.seconds, strict=True)
            )
        ]


def fit_and_predict(
    family: str,
    params: Mapping[str, Any],
    X: pd.DataFrame,
    y: np.ndarray,
    train_index: np.ndarray,
    eval_index: np.ndarray,
    *,
    fold: int | None,
    n_threads: int = 1,
    random_state: int = 42,
    keep_model: bool = False,
    device: Device = "cpu",
) -> FitOutcome:
    """Fit ``family`` on ``train_index`` rows and predict probabilities for ``eval_index`` rows.

    A failure inside the library is caught and returned as ``error``: one failed fold is recorded,
    not fatal. ``n_threads`` caps both the model's own threads and any BLAS pool it uses.
    ``device="cuda"`` fits the families that support it on a GPU; the kept model predicts on CPUs.
    """
    spec = get_spec(family)
    started = time.perf_counter()
    try:
        with threadpool_limits(limits=n_threads):
            model = spec.build(
                params,
                n_threads=n_threads,
                pos_weight=positive_weight(y[train_index]),
                random_state=random_state,
                device=device,
            )
            model.fit(X.iloc[train_index], y[train_index])
            proba = model.predict_proba(X.iloc[eval_index])[:, 1] if len(eval_index) else None
            if keep_model:
                spec.portable(model)
    except Exception as exc:  # noqa: BLE001 - any library failure becomes a recorded, failed fit
        return FitOutcome(
            family=family,
            fold=fold,
            eval_index=eval_index,
            proba=None,
            fit_seconds=time.perf_counter() - started,
            error=f"{type(exc).__name__}: {first_line(exc, default='')}",
        )
    return FitOutcome(
        family=family,
        fold=fold,
        eval_index=eval_index,
        proba=proba,
        fit_seconds=time.perf_counter() - started,
        model=model if keep_model else None,
    )


def tree_importance(model: Pipeline) -> dict[str, float] | None:
    """Normalised gain importance of a fitted tree pipeline, by transformed feature name.

    ``None`` for families without tree importances.
    """
    estimator = model[-1]
    names = [str(n) for n in model[:-1].get_feature_names_out()]
    if hasattr(estimator, "booster_"):  # LightGBM: gain, not its default split count
        raw = np.asarray(estimator.booster_.feature_importance(importance_type="gain"), dtype=float)
    elif hasattr(estimator, "feature_importances_"):
        raw = np.asarray(estimator.feature_importances_, dtype=float)
    else:
        return None
    total = raw.sum()
    values = raw / total if total > 0 else raw
    ranked = sorted(zip(names, values.tolist(), strict=True), key=lambda kv: -kv[1])
    return dict(ranked)


@dataclass(frozen=True)
class OutOfFold:
    """A model's honest out-of-fold probabilities: ``index`` (rows of the table), ``fold`` (each
    row's fold, in fold order) and ``proba``, calibrated by maps fitted without the row's fold."""

    index: np.ndarray
    fold: np.ndarray
    proba: np.ndarray

    def folds(self) -> list[np.ndarray]:
        """Positions (into ``index``) of each fold's rows, in fold order."""
        return [np.flatnonzero(self.fold == k) for k in np.unique(self.fold)]


def score_folds(
    y_folds: list[np.ndarray], calibrated: CrossFitted
) -> tuple[list[dict[str, float]], dict[str, float]]:
    """Each fold's metrics at its honest threshold, and the pooled ``oof`` metrics."""
    each = [
        classification_metrics(fy, fp, cut)
        for fy, fp, cut in zip(y_folds, calibrated.fold_proba, calibrated.thresholds, strict=True)
    ]
    return each, cross_fitted_metrics(y_folds, calibrated.fold_proba, calibrated.thresholds)


def with_calibration(fitted: Any, calibrated: CrossFitted) -> Any:
    """``fitted`` behind its calibration map (itself when the map is ``none``)."""
    if calibrated.calibrator is None:
        return fitted
    return CalibratedClassifier.from_parts(fitted, calibrated.calibrator, calibrated.method)


def holdout_scores(
    y_test: np.ndarray, test_raw: np.ndarray, threshold: float, calibrated: CrossFitted
) -> tuple[np.ndarray, dict[str, dict[str, float]], dict[str, Any]]:
    """The calibrated test probabilities, their metrics at 0.5 and at ``threshold``, and the
    calibration summary with the test split's scores before and after the map (no metrics and no
    test scores without test rows)."""
    test_proba = calibrated.apply(test_raw)
    summary = calibrated.to_dict()
    if not len(y_test):
        return test_proba, {}, summary
    summary["holdout"] = {
        "raw": calibration_scores(y_test, test_raw),
        "calibrated": calibration_scores(y_test, test_proba),
    }
    holdout = {
        "at_0.5": classification_metrics(y_test, test_proba, 0.5),
        "at_threshold": classification_metrics(y_test, test_proba, threshold),
    }
    return test_proba, holdout, summary


def fold_mean_std(rows: Sequence[Mapping[str, Any]]) -> tuple[dict[str, float], dict[str, float]]:
    """Each metric's mean and (population) standard deviation over the folds' rows (failed folds,
    NaN, left out)."""
    table = pd.DataFrame(list(rows))
    mean = {m: float(table[m].mean()) for m in METRICS}
    return mean, {m: float(table[m].std(ddof=0)) for m in METRICS}


OOF_IN_SAMPLE_IS = (
    "the out-of-fold predictions at the final threshold, which was chosen on these same "
    "predictions: f1, precision and recall are optimistic; use cv.oof"
)
"""What ``cv.oof_in_sample`` is, stated beside it in ``results.json``."""


@dataclass
class FamilyResult:
    """Everything one family's training produced. ``model`` is the thresholded, refitted pipeline;
    ``refit_node`` is the Ray node that fitted it (each fold's node is in ``cv_folds``).

    Probabilities are calibrated (:mod:`uctune.calibration`, ``calibration``) before any
    threshold is chosen. ``cv_folds`` scores each fold at its own threshold and under its own
    calibration, both fitted without it (``threshold_from``: the other folds' out-of-fold
    predictions, or only the earlier folds' with walk-forward CV), and ``oof`` pools those
    predictions: honest numbers. ``oof_in_sample`` scores the final map's predictions at the final
    ``threshold``, both chosen on them: optimistic for the thresholded metrics. ``out_of_fold``
    keeps the honest calibrated predictions themselves (what an ensemble is built from);
    ``test_proba_raw`` the test probabilities before calibration.
    """

    family: str
    params: dict[str, Any]
    threshold: float
    cv_folds: list[dict[str, Any]]
    cv_mean: dict[str, float]
    cv_std: dict[str, float]
    oof: dict[str, float]
    oof_in_sample: dict[str, float]
    threshold_from: ThresholdFrom
    holdout: dict[str, dict[str, float]]
    feature_importance: dict[str, float] | None
    fit_seconds: float
    test_proba: np.ndarray = field(repr=False)
    model: ThresholdedClassifier = field(repr=False)
    refit_node: str | None = None
    calibration: dict[str, Any] = field(default_factory=dict)
    out_of_fold: OutOfFold | None = field(default=None, repr=False)
    test_proba_raw: np.ndarray | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (no model, no per-row predictions)."""
        return {
            "family": self.family,
            "display_name": get_spec(self.family).display_name,
            "params": self.params,
            "threshold": self.threshold,
            "cv": {
                "folds": self.cv_folds,
                "mean": self.cv_mean,
                "std": self.cv_std,
                "oof": self.oof,
                "threshold_from": self.threshold_from,
                "oof_in_sample": self.oof_in_sample,
                "oof_in_sample_is": OOF_IN_SAMPLE_IS,
            },
            "calibration": self.calibration,
            "holdout": self.holdout,
            "feature_importance": self.feature_importance,
            "fit_seconds": self.fit_seconds,
            "refit_node": self.refit_node,
        }


def assemble_family(
    family: str,
    params: Mapping[str, Any],
    y: np.ndarray,
    folds: Sequence[FitOutcome],
    final: FitOutcome,
    *,
    threshold_from: ThresholdFrom = "other_folds",
    calibration: CalibrationChoice = "auto",
) -> FamilyResult:
    """Combine a family's CV fits and its final refit into scores, a threshold and a model.

    The out-of-fold predictions of the training rows (of every fold that has them) are calibrated
    (``calibration``: see :mod:`uctune.calibration`); the decision threshold is the F1-optimal one
    on the calibrated predictions; the test rows are never used for either. Each fold is scored
    under a map and at a threshold fitted without it (``threshold_from="earlier_folds"`` for
    walk-forward folds, given in time order). Failed folds are scored NaN and listed; the family
    fails only when every fold, or the final refit, failed.
    """
    fold_rows: list[dict[str, Any]] = []
    oof_index: list[np.ndarray] = []
    oof_proba: list[np.ndarray] = []
    scored_rows: list[dict[str, Any]] = []
    for outcome in sorted(folds, key=lambda o: o.fold or 0):
        row: dict[str, Any] = {
            "fold": outcome.fold,
            "fit_seconds": outcome.fit_seconds,
            "node": outcome.node,
            "gpus": list(outcome.gpus),
        }
        if outcome.source is not None:
            row["predictions_from"] = outcome.source
        if outcome.error is not None or outcome.proba is None:
            row.update({m: float("nan") for m in METRICS}, threshold=float("nan"))
            row["error"] = outcome.error
        else:
            oof_index.append(outcome.eval_index)
            oof_proba.append(outcome.proba)
            scored_rows.append(row)
        fold_rows.append(row)
    if not oof_index:
        errors = "; ".join(sorted({str(r.get("error")) for r in fold_rows}))
        raise TrainingError(f"{family}: every cross-validation fold failed ({errors})")
    if final.error is not None or final.model is None:
        raise TrainingError(f"{family}: the final fit on the training split failed ({final.error})")

    index = np.concatenate(oof_index)
    oof_y = [y[i] for i in oof_index]
    calibrated = cross_fit_calibration(oof_y, oof_proba, choice=calibration, source=threshold_from)
    proba = calibrated.apply(np.concatenate(oof_proba))
    threshold = f1_optimal_threshold(y[index], proba)
    each, pooled = score_folds(oof_y, calibrated)
    for row, scores, cut in zip(scored_rows, each, calibrated.thresholds, strict=True):
        row.update({m: scores[m] for m in METRICS}, threshold=cut)
    test_raw = final.proba if final.proba is not None else np.empty(0)
    test_proba, holdout, calibration_summary = holdout_scores(
        y[final.eval_index], test_raw, threshold, calibrated
    )
    spec = get_spec(family)
    model = spec.with_threshold(with_calibration(final.model, calibrated), threshold)
    mean, std = fold_mean_std(fold_rows)
    return FamilyResult(
        family=family,
        params=dict(params),
        threshold=threshold,
        cv_folds=fold_rows,
        cv_mean=mean,
        cv_std=std,
        oof=pooled,
        oof_in_sample=classification_metrics(y[index], proba, threshold),
        threshold_from=threshold_from,
        holdout=holdout,
        feature_importance=tree_importance(final.model) if spec.tree_explainer else None,
        fit_seconds=float(sum(o.fit_seconds for o in folds) + final.fit_seconds),
        test_proba=test_proba,
        model=model,
        refit_node=final.node,
        calibration=calibration_summary,
        out_of_fold=OutOfFold(
            index=index,
            fold=np.concatenate([np.full(len(i), k) for k, i in enumerate(oof_index)]),
            proba=np.concatenate(calibrated.fold_proba),
        ),
        test_proba_raw=test_raw,
    )
