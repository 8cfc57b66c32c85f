"""BaselineTrainer and AdvancedTrainer: the seed's workflow steps one and two."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import FixedThresholdClassifier

from uctune import AdvancedTrainer, BaselineTrainer
from uctune.data import LABEL
from uctune.errors import DataError


def test_load_data_defaults_to_the_embedded_dataset():
    frame = BaselineTrainer().load_data()
    assert LABEL in frame.columns and len(frame) >= 5000


def test_split_data_is_the_seeds_stratified_80_20(tiny_frame):
    trainer = BaselineTrainer(random_state=3)
    trainer.load_data(tiny_frame)
    X_train, X_test, y_train, y_test = trainer.split_data()
    assert len(X_test) == pytest.approx(0.2 * len(tiny_frame), abs=1)
    assert isinstance(X_train, pd.DataFrame) and isinstance(y_train, pd.Series)
    assert not set(X_train.index) & set(X_test.index)
    assert abs(y_train.mean() - y_test.mean()) < 0.02
    assert LABEL not in X_train.columns and "symbol" not in X_train.columns


@pytest.mark.ray
def test_seed_workflow_steps_one_and_two(ray_cluster, tiny_frame, tmp_path):
    baseline = BaselineTrainer(random_state=3, cv_folds=3)
    baseline.load_data(tiny_frame)
    X_train, X_test, y_train, y_test = baseline.split_data()
    lr = baseline.train_logistic_regression(X_train, y_train)
    rf = baseline.train_random_forest(X_train, y_train, n_estimators=30)
    advanced = AdvancedTrainer(cv_folds=3)
    models = {
        "xgboost": advanced.train_xgboost(X_train, y_train, n_estimators=30),
        "lightgbm": advanced.train_lightgbm(X_train, y_train, n_estimators=30),
        "neural_network": advanced.train_neural_network(X_train, y_train),
    }
    assert [type(m).__name__ for m in (lr, rf, *models.values())] == [
        "LogisticRegressionThresholdClassifier",
        "RandomForestThresholdClassifier",
        "XGBoostThresholdClassifier",
        "LightGBMThresholdClassifier",
        "NeuralNetworkThresholdClassifier",
    ]
    for model in (lr, rf, *models.values()):
        assert isinstance(model, FixedThresholdClassifier)
        assert 0 < model.threshold < 1
        assert set(np.unique(model.predict(X_test))) <= {0, 1}
    assert set(baseline.results_) == {"logistic_regression", "random_forest"}
    assert baseline.results_["random_forest"]["params"]["n_estimators"] == 30
    importance = advanced.get_feature_importance(models["xgboost"])
    assert importance and sum(importance.values()) == pytest.approx(1.0)
    assert advanced.get_feature_importance(models["neural_network"]) is None

    metrics = baseline.evaluate(lr, X_test, y_test, name="logistic_regression")
    assert metrics["at_threshold"]["threshold"] == lr.threshold
    out = baseline.save_results(tmp_path / "baseline.json")
    saved = json.loads(out.read_text())
    assert saved["logistic_regression"]["holdout"]["at_0.5"]["f1"] == metrics["at_0.5"]["f1"]


def test_training_refuses_mismatched_labels(tiny_frame):
    trainer = AdvancedTrainer()
    trainer.load_data(tiny_frame)
    X_train, _, y_train, _ = trainer.split_data()
    with pytest.raises(DataError, match=r"X has \d+ rows but y has 10"):
        trainer.train_xgboost(X_train, y_train[:10])
