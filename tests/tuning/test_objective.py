"""The trial objective without Ray: k-fold CV one fold at a time, the same numbers as training."""

from __future__ import annotations

import numpy as np
import pytest

from uctune.errors import ConfigError, DataError
from uctune.metrics import honest_objective
from uctune.splits import cv_folds
from uctune.training import FitSettings, make_split, train_families
from uctune.tuning import TuneSettings, cv_score, cv_steps


@pytest.fixture(scope="module")
def rows(tiny_table):
    split = make_split(tiny_table, seed=5)
    train = split.train_index
    X, y = tiny_table.X.iloc[train], tiny_table.y[train]
    return split, X, y, cv_folds(y, n_splits=3, random_state=5)


@pytest.mark.parametrize("metric", ["f1", "pr_auc", "roc_auc"])
def test_running_score_is_the_objective_on_the_folds_so_far(rows, metric):
    _, X, y, folds = rows
    steps = cv_score("lr", {}, X, y, folds, metric=metric, fit=FitSettings(seed=5))
    assert [s.folds_done for s in steps] == [1, 2, 3]
    # Rebuild the out-of-fold predictions by hand, fold by fold.
    from uctune.training import fit_and_predict

    labels, proba = [], []
    for k, ((a, b), step) in enumerate(zip(folds, steps, strict=True)):
        out = fit_and_predict("lr", {}, X, y, a, b, fold=k, random_state=5)
        labels.append(y[b])
        proba.append(out.proba)
        # Each fold at a threshold chosen on the other folds done so far (tests/tuning/
        # test_honest_threshold.py checks that choice by hand).
        running, each = honest_objective(metric, labels, proba)
        assert step.fold_score == pytest.approx(each[-1])
        assert step.fold_scores == pytest.approx(tuple(each))
        assert step.score == pytest.approx(running)
        assert step.fit_cpu_seconds > 0 and step.error is None


def test_final_score_equals_the_train_stage_out_of_fold_f1(rows, tiny_table):
    """A trial's value is what training the same params reports as its out-of-fold F1."""
    split, X, y, _ = rows
    params = {"n_estimators": 40, "max_depth": 3}
    trained = train_families(
        tiny_table,
        split,
        families=["xgb"],
        params={"xgb": params},
        backend="sequential",
        fit=FitSettings(n_folds=3, seed=5),
    ).results["xgboost"]
    folds = cv_folds(y, n_splits=3, random_state=5)
    last = cv_score("xgboost", params, X, y, folds, fit=FitSettings(seed=5))[-1]
    assert last.score == pytest.approx(trained.oof["f1"])


def test_a_failing_fold_ends_the_trial_with_its_error(rows):
    _, X, y, folds = rows
    steps = list(cv_steps("lr", {"C": -1.0}, X, y, folds))
    assert len(steps) == 1
    assert steps[0].error is not None and "C" in steps[0].error
    assert np.isnan(steps[0].score)


def test_an_unknown_metric_is_refused(rows):
    _, X, y, folds = rows
    with pytest.raises(
        ConfigError, match="objective metric must be one of pr_auc, log_loss, roc_auc, f1; got"
    ):
        list(cv_steps("lr", {}, X, y, folds, metric="accuracy"))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_trials": 0}, "n_trials must be at least 1, got 0"),
        (
            {"metric": "accuracy"},
            "metric must be one of pr_auc, log_loss, roc_auc, f1, got 'accuracy'",
        ),
        ({"grace_period": 6}, "grace_period must be at most the 5 folds, got 6"),
        (
            {"grace_period": 4, "fit": FitSettings(n_folds=3)},
            "grace_period must be at most the 3 folds, got 4",
        ),
        ({"reduction_factor": 1}, "reduction_factor must be at least 2, got 1"),
    ],
)
def test_settings_are_checked_on_creation(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        TuneSettings(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_folds": 1}, "n_folds must be at least 2, got 1"),
        ({"cpus_per_fit": 0}, "cpus_per_fit must be at least 1, got 0"),
        ({"device": "tpu"}, "device must be one of cpu, cuda, got 'tpu'"),
        ({"gpus_per_fit": 0}, "gpus_per_fit must be above 0, got 0"),
    ],
)
def test_fit_settings_are_checked_on_creation(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        FitSettings(**kwargs)


def test_too_few_positives_for_the_folds_is_a_data_error(rows):
    _, X, y, _ = rows
    few = np.zeros_like(y)
    few[:2] = 1
    with pytest.raises(DataError, match="class 1 has 2 training rows, fewer than the 3"):
        cv_folds(few, n_splits=3)
