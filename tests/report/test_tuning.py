"""Tuning results: the trials file checked on arrival, importances from an in-memory Optuna study."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.report.fabricate import fabricate_trials
from uctune.errors import DataError, NotFoundError
from uctune.report import param_importances, read_trials


def write(tmp_path, frame: pd.DataFrame):
    path = tmp_path / "trials.csv"
    frame.to_csv(path, index=False)
    return path


def test_read_trials_parses_the_contract(tmp_path):
    trials = read_trials(write(tmp_path, fabricate_trials()))
    assert list(trials["trial"]) == list(range(14))
    assert trials["score"].isna().sum() == 1  # the failed trial
    assert set(trials["status"]) == {"completed", "pruned", "failed"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.drop(columns="score"), r"lacks columns \['score'\]"),
        (lambda f: f.assign(status="running"), r"status must be one of .*got \['running'\]"),
        (lambda f: f.assign(trial=0.5), "column 'trial' must hold integers"),
    ],
)
def test_read_trials_refuses_bad_files(tmp_path, change, message):
    with pytest.raises(DataError, match=message):
        read_trials(write(tmp_path, change(fabricate_trials())))


def test_read_trials_of_a_missing_file(tmp_path):
    with pytest.raises(NotFoundError, match="does not exist"):
        read_trials(tmp_path / "nope.csv")


def test_importances_find_the_parameter_that_matters(tmp_path):
    trials = read_trials(write(tmp_path, fabricate_trials(n=20)))
    importances = param_importances("xgb", trials, seed=0)
    assert sum(importances.values()) == pytest.approx(1.0)
    assert max(importances, key=importances.get) == "learning_rate"
    assert param_importances("xgboost", trials, seed=0) == importances  # seeded


def test_categorical_parameters_are_read_back_from_text(tmp_path):
    frame = pd.DataFrame(
        {
            "trial": range(4),
            "status": "completed",
            "score": [0.5, 0.6, 0.55, 0.7],
            "param_max_features": ["sqrt", "0.25", "log2", "0.5"],
            "param_n_estimators": [50.0, 120.0, 300.0, 80.0],
        }
    )
    importances = param_importances("random_forest", read_trials(write(tmp_path, frame)))
    assert set(importances) == {"max_features", "n_estimators"}


def test_importances_need_two_completed_trials(tmp_path):
    frame = fabricate_trials().assign(status="pruned")
    with pytest.raises(DataError, match="need 2 completed trials, got 0"):
        param_importances("xgboost", read_trials(write(tmp_path, frame)))
