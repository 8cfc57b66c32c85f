"""The fidelity schedule: rows and rounds per step, ASHA's milestones on the steps, subsample fits."""

from __future__ import annotations

import numpy as np
import pytest
from optuna.trial import TrialState

from uctune.data import generate, validate_table
from uctune.errors import ConfigError
from uctune.metrics import honest_objective
from uctune.splits import cv_folds
from uctune.training import FitSettings, fit_and_predict
from uctune.tuning import Fidelity, cv_score, cv_steps, fidelity_schedule
from uctune.tuning._asha import BudgetedASHA
from uctune.tuning._fidelity import AUTO_MIN_ROWS, scaled_params, subsample
from uctune.tuning._search import StudySearch
from uctune.tuning._study import open_study, study_storage, trial_records
from uctune.tuning._trainable import BUDGET, SCORE, TRIAL_KEY


def _steps(fidelity: Fidelity) -> list[tuple[int, float, float, int]]:
    return [(s.fold, s.rows, s.rounds, s.budget) for s in fidelity.steps()]


def test_rows_then_folds_with_rounds_one_rung_ahead_of_the_rows():
    fidelity = fidelity_schedule(
        "rows", n_folds=5, reduction_factor=3, train_rows=160_000, train_positives=7_500
    )
    assert fidelity.row_steps == 2 and fidelity.unit == 9 and fidelity.max_budget == 45
    assert _steps(fidelity) == [
        (0, 1 / 9, 1 / 3, 1),
        (0, 1 / 3, 1.0, 3),
        (0, 1.0, 1.0, 9),
        (1, 1.0, 1.0, 18),
        (2, 1.0, 1.0, 27),
        (3, 1.0, 1.0, 36),
        (4, 1.0, 1.0, 45),
    ]
    halving = fidelity_schedule(
        "rows", n_folds=3, reduction_factor=2, train_rows=160_000, train_positives=7_500
    )
    assert _steps(halving)[:4] == [
        (0, 1 / 8, 1 / 4, 1),
        (0, 1 / 4, 1 / 2, 2),
        (0, 1 / 2, 1.0, 4),
        (0, 1.0, 1.0, 8),
    ]
    assert halving.to_dict() == {
        "kind": "rows",
        "reduction_factor": 2,
        "rows": [1 / 8, 1 / 4, 1 / 2],
        "rounds": [1 / 4, 1 / 2, 1.0],
        "unit": 8,
    }


@pytest.mark.parametrize("rf", [2, 3, 4])
def test_ashas_milestones_fall_on_the_steps(rf):
    """Every rung of the ASHA over the budget is a step's budget: trials are compared on the
    same rows and folds."""
    fidelity = fidelity_schedule(
        "rows", n_folds=5, reduction_factor=rf, train_rows=200_000, train_positives=9_000
    )
    scheduler = BudgetedASHA(
        time_attr=BUDGET, max_t=fidelity.max_budget, grace_period=1, reduction_factor=rf
    )
    milestones = set(scheduler.milestones)
    budgets = {s.budget for s in fidelity.steps()}
    assert milestones <= budgets
    # The first rungs are the subsamples, smallest first.
    assert (
        sorted(milestones)[: fidelity.row_steps]
        == [s.budget for s in fidelity.steps()][: fidelity.row_steps]
    )


def test_folds_and_small_tables_have_no_row_steps():
    folds = fidelity_schedule(
        "folds", n_folds=5, reduction_factor=3, train_rows=10**6, train_positives=10**5
    )
    assert folds.row_steps == 0 and folds.unit == 1 and folds.kind == "folds"
    assert _steps(folds) == [(k, 1.0, 1.0, k + 1) for k in range(5)]
    small = AUTO_MIN_ROWS - 1
    auto = fidelity_schedule(
        "auto", n_folds=5, reduction_factor=3, train_rows=small, train_positives=small // 10
    )
    assert auto.row_steps == 0
    big = fidelity_schedule(
        "auto", n_folds=5, reduction_factor=3, train_rows=AUTO_MIN_ROWS, train_positives=2_000
    )
    assert big.row_steps == 2
    # Few positives: only the subsamples that keep 20 of them.
    scarce = fidelity_schedule(
        "rows", n_folds=5, reduction_factor=3, train_rows=50_000, train_positives=100
    )
    assert scarce.row_steps == 1 and scarce.steps()[0].rows == 1 / 3


def test_rows_on_a_table_too_small_for_one_subsample_is_refused():
    with pytest.raises(ConfigError, match="fidelity 'rows' needs .* got 500 rows with 30"):
        fidelity_schedule("rows", n_folds=5, reduction_factor=3, train_rows=500, train_positives=30)
    with pytest.raises(ConfigError, match="fidelity must be one of auto, folds, rows, got 'x'"):
        fidelity_schedule("x", n_folds=5, reduction_factor=3, train_rows=1, train_positives=1)  # type: ignore[arg-type]


def test_subsamples_are_stratified_nested_ordered_and_seeded():
    rng = np.random.default_rng(0)
    y = (rng.random(20_000) < 0.05).astype(int)
    index = np.sort(rng.choice(len(y), 9_000, replace=False))
    ninth, third = (subsample(index, y, f, seed=7) for f in (1 / 9, 1 / 3))
    for part, fraction in ((ninth, 1 / 9), (third, 1 / 3)):
        assert np.all(np.diff(part) > 0) and np.isin(part, index).all()
        for value in (0, 1):
            whole = int(np.sum(y[index] == value))
            assert int(np.sum(y[part] == value)) == int(np.ceil(fraction * whole))
    assert np.isin(ninth, third).all()
    assert np.array_equal(ninth, subsample(index, y, 1 / 9, seed=7))
    assert not np.array_equal(ninth, subsample(index, y, 1 / 9, seed=8))
    assert subsample(index, y, 1.0, seed=7) is index


def test_rounds_scale_trees_and_boosting_rounds_only():
    assert scaled_params("xgboost", {"n_estimators": 300, "max_depth": 4}, 1 / 3) == {
        "n_estimators": 100,
        "max_depth": 4,
    }
    assert scaled_params("random_forest", {"n_estimators": 50}, 1 / 9)["n_estimators"] == 6
    assert scaled_params("lightgbm", {"n_estimators": 2}, 1 / 9)["n_estimators"] == 1
    assert scaled_params("lightgbm", {"n_estimators": 90}, 1.0)["n_estimators"] == 90
    nn = {"units_1": 64, "batch_size": 256}
    assert scaled_params("neural_network", nn, 1 / 3) == nn
    assert scaled_params("logistic_regression", {"C": 1.0}, 1 / 3) == {"C": 1.0}


@pytest.fixture(scope="module")
def large_rows():
    table = validate_table(generate(4_000, seed=9)[0])
    y = table.y
    return table.X, y, cv_folds(y, n_splits=3, random_state=4)


def test_a_trial_fits_subsamples_of_the_first_fold_then_the_same_folds(large_rows):
    X, y, folds = large_rows
    params = {"n_estimators": 30, "max_depth": 3}
    fidelity = fidelity_schedule(
        "rows",
        n_folds=3,
        reduction_factor=3,
        train_rows=len(folds[0][0]),
        train_positives=int(y[folds[0][0]].sum()),
    )
    assert fidelity.row_steps == 2
    steps = list(
        cv_steps("xgboost", params, X, y, folds, fidelity=fidelity, fit=FitSettings(seed=4))
    )
    assert [(s.folds_done, s.budget, s.rows) for s in steps] == [
        (0, 1, 1 / 9),
        (0, 3, 1 / 3),
        (1, 9, 1.0),
        (2, 18, 1.0),
        (3, 27, 1.0),
    ]
    # The first step is a fit on the stratified ninth of fold 1's rows with a third of the rounds.
    train, valid = folds[0]
    by_hand = fit_and_predict(
        "xgboost",
        {"n_estimators": 10, "max_depth": 3},
        X,
        y,
        subsample(train, y, 1 / 9, 4),
        valid,
        fold=0,
        random_state=4,
    )
    expected, _ = honest_objective("f1", [y[valid]], [by_hand.proba])
    assert steps[0].score == pytest.approx(expected) and steps[0].fit_cpu_seconds > 0
    # The full folds are the folds alone: the trial's value does not depend on the fidelity.
    alone = cv_score("xgboost", params, X, y, folds, fit=FitSettings(seed=4))
    assert [s.score for s in steps[2:]] == pytest.approx([s.score for s in alone])
    assert [s.fold_scores for s in steps[2:]] == [s.fold_scores for s in alone]
    assert [s.budget for s in alone] == [1, 2, 3]


def test_a_trial_stopped_on_a_subsample_enters_tpes_history_as_pruned(tmp_path):
    storage = study_storage(tmp_path / "study.db")
    study = open_study(storage, "fam")
    from optuna.distributions import IntDistribution

    search = StudySearch(
        {"depth": IntDistribution(2, 8)},
        n_folds=3,
        max_trials=5,
        storage=storage,
        study_name="fam",
        seed=1,
        known_trials=0,
    )
    assert [search.suggest(f"t{i}")[TRIAL_KEY] for i in range(3)] == [0, 1, 2]

    def report(number, folds_done, budget, score, rows, subsamples):
        return {
            SCORE: score,
            "trial": number,
            "folds_done": folds_done,
            BUDGET: budget,
            "rows": rows,
            "fold_scores": [score] * folds_done,
            "subsample_scores": subsamples,
            "seconds": 1.0,
            "fit_cpu_seconds": 0.9,
            "fold_error": "",
        }

    search.on_trial_complete("t0", report(0, 3, 27, 0.6, 1.0, [0.4, 0.5]))
    search.on_trial_complete("t1", report(1, 0, 1, 0.2, 1 / 9, [0.2]))  # stopped at 1/9
    search.on_trial_complete("t2", report(2, 0, 3, 0.3, 1 / 3, [0.1, 0.3]))  # stopped at 1/3
    trials = study.get_trials()
    assert [t.state for t in trials] == [TrialState.COMPLETE, TrialState.PRUNED, TrialState.PRUNED]
    assert trials[1].intermediate_values == {1: 0.2}
    assert trials[2].intermediate_values == {3: 0.3}
    records = trial_records(study)
    assert [(r.status, r.budget, r.rows, r.folds_done) for r in records] == [
        ("completed", 27, 1.0, 3),
        ("pruned", 1, 1 / 9, 0),
        ("pruned", 3, 1 / 3, 0),
    ]
    assert records[2].subsample_scores == (0.1, 0.3) and records[2].fold_scores == ()
    # TPE ranks a trial stopped later above one stopped sooner, whatever their scores.
    from optuna.samplers._tpe.sampler import _get_pruned_trial_score

    assert _get_pruned_trial_score(trials[2], study) < _get_pruned_trial_score(trials[1], study)
