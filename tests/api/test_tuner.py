"""HyperparameterTuner: the seed's workflow step three."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
from sklearn.model_selection import FixedThresholdClassifier

from uctune import BaselineTrainer


@pytest.fixture()
def optuna_verbosity():
    """Optuna's verbosity as the test found it, put back afterwards whatever the test did."""
    import optuna

    before = optuna.logging.get_verbosity()
    yield optuna
    optuna.logging.set_verbosity(before)


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.mark.ray
def test_seed_workflow_step_three_hyperparameter_tuner(
    ray_cluster, tiny_frame, tmp_path, monkeypatch, capfd, optuna_verbosity
):
    from uctune import HyperparameterTuner
    from uctune.errors import NotFoundError
    from uctune.models import get_spec
    from uctune.tuning import in_space

    optuna = optuna_verbosity
    baseline = BaselineTrainer(random_state=3, cv_folds=3)
    baseline.load_data(tiny_frame)
    X_train, X_test, y_train, _ = baseline.split_data()
    monkeypatch.chdir(tmp_path)
    optuna.logging.set_verbosity(optuna.logging.INFO)  # Optuna's default: a line per study
    records = _Records()
    logging.getLogger("optuna").addHandler(records)
    try:
        # F1, not the default average precision: the refit's out-of-fold F1 (of calibrated
        # probabilities) then equals the search's score of the picked trial exactly.
        tuner = HyperparameterTuner(n_trials=3, cv_folds=3, random_state=3, metric="f1")
        best_xgb = tuner.tune_xgboost(X_train, y_train, n_estimators=30)
        # Nothing of Optuna's reached the console, and the user's verbosity is back.
        assert not [m for m in records.messages if "study created" in m or "Trial" in m]
        assert "A new study created" not in capfd.readouterr().err
        assert optuna.logging.get_verbosity() == optuna.logging.INFO
        optuna.create_study()  # the handler does see Optuna's INFO lines outside the tuner
        assert any("A new study created in memory" in m for m in records.messages)
    finally:
        logging.getLogger("optuna").removeHandler(records)
    assert isinstance(best_xgb, FixedThresholdClassifier)
    assert type(best_xgb).__name__ == "XGBoostThresholdClassifier"
    assert set(np.unique(best_xgb.predict(X_test))) <= {0, 1}
    params = tuner.get_best_params(0)
    assert params == tuner.get_best_params("xgb") == tuner.get_best_params()
    space = dict(get_spec("xgboost").search_space)
    del space["n_estimators"]  # held fixed, out of the search
    assert params["n_estimators"] == 30 and in_space(params, space)
    # The returned model is the best params refit as the trainers do (over the family's
    # defaults), threshold included.
    assert tuner.refits_[0]["params"] == get_spec("xgboost").resolve_params(params)
    assert best_xgb.threshold == pytest.approx(tuner.refits_[0]["threshold"])
    assert tuner.results_[0].family == "xgboost" and len(tuner.results_[0].trials) == 3
    assert tuner.refits_[0]["cv"]["oof"]["f1"] == pytest.approx(tuner.results_[0].best_score)
    # The best params, as JSON, in the seed's data/models/ (no storage_dir given).
    saved = tmp_path / "data" / "models" / "tuning" / "xgboost_best_params.json"
    assert tuner.best_params_files_ == [Path("data/models/tuning/xgboost_best_params.json")]
    document = json.loads(saved.read_text())
    assert document == {
        "family": "xgboost",
        "metric": "f1",
        "best_score": pytest.approx(tuner.results_[0].best_score),
        "best_trial": tuner.results_[0].best_trial,
        "params": pytest.approx(params),
    }
    assert sorted(p.name for p in saved.parent.iterdir()) == ["xgboost_best_params.json"]
    with pytest.raises(NotFoundError, match="there is no tuning call 1; this tuner has made 1"):
        tuner.get_best_params(1)
    with pytest.raises(NotFoundError, match="lightgbm has not been tuned yet"):
        tuner.get_best_params("lgbm")


@pytest.mark.ray
def test_a_failed_tuning_call_does_not_block_the_next_one(
    ray_cluster, tiny_frame, tmp_path, optuna_verbosity
):
    from uctune import HyperparameterTuner
    from uctune.errors import TrainingError

    optuna = optuna_verbosity
    baseline = BaselineTrainer(random_state=3, cv_folds=3)
    baseline.load_data(tiny_frame)
    X_train, _, y_train, _ = baseline.split_data()
    tuner = HyperparameterTuner(n_trials=1, cv_folds=3, random_state=3, storage_dir=tmp_path)
    optuna.logging.set_verbosity(optuna.logging.DEBUG)
    with pytest.raises(TrainingError, match="no tuning trial completed"):
        tuner.tune_random_forest(X_train, y_train, class_weight="no such weighting")
    assert optuna.logging.get_verbosity() == optuna.logging.DEBUG  # restored after a failure too
    # The failed call's study stays in storage_dir; the next call gets a folder of its own, and
    # only the successful search leaves best params, beside the folders.
    model = tuner.tune_random_forest(X_train, y_train, n_estimators=20)
    assert isinstance(model, FixedThresholdClassifier) and len(tuner.results_) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "00-random_forest",
        "01-random_forest",
        "random_forest_best_params.json",
    ]
    assert tuner.best_params_files_ == [tmp_path / "random_forest_best_params.json"]
    document = json.loads(tuner.best_params_files_[0].read_text())
    assert document["family"] == "random_forest"
    assert document["params"] == tuner.get_best_params("rf")
