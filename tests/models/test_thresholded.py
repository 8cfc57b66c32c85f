"""Each family's thresholded model: its own class name, scikit-learn's contract, joblib round trip."""

from __future__ import annotations

import importlib
import pickle

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import FixedThresholdClassifier

from uctune.metrics import model_threshold
from uctune.models import SPECS, ModelSpec, ThresholdedClassifier, get_spec
from uctune.training import positive_weight

SPEC_NAMES = list(SPECS)


@pytest.fixture(scope="module")
def fitted(tiny_table):
    """Every family's pipeline, fitted once (small ensembles: the test is about the wrapper)."""
    X, y = tiny_table.X, tiny_table.y
    out = {}
    for name, spec in SPECS.items():
        params = {"n_estimators": 20} if "n_estimators" in spec.defaults else {}
        out[name] = spec.build(params, pos_weight=positive_weight(y)).fit(X, y)
    return out


def test_every_family_has_its_own_type_name():
    names = [spec.threshold_class.__name__ for spec in SPECS.values()]
    assert len(set(names)) == len(names)
    assert get_spec("xgb").threshold_class.__name__ == "XGBoostThresholdClassifier"
    assert get_spec("lgbm").threshold_class.__name__ == "LightGBMThresholdClassifier"
    assert get_spec("nn").threshold_class.__name__ == "NeuralNetworkThresholdClassifier"


@pytest.mark.parametrize("name", SPEC_NAMES)
def test_the_class_is_importable_where_pickle_looks(name):
    cls = SPECS[name].threshold_class
    assert cls.family == name
    assert issubclass(cls, ThresholdedClassifier) and issubclass(cls, FixedThresholdClassifier)
    assert getattr(importlib.import_module(cls.__module__), cls.__qualname__) is cls
    assert getattr(importlib.import_module("uctune.models"), cls.__name__) is cls


@pytest.mark.parametrize("name", SPEC_NAMES)
def test_with_threshold_keeps_scikit_learns_behaviour(name, fitted, tiny_table, tmp_path):
    X = tiny_table.X
    pipeline = fitted[name]
    model = SPECS[name].with_threshold(pipeline, 0.37)
    assert type(model) is SPECS[name].threshold_class
    assert model_threshold(model) == 0.37
    proba = pipeline.predict_proba(X)
    np.testing.assert_array_equal(model.predict_proba(X), proba)
    np.testing.assert_array_equal(model.predict(X), (proba[:, 1] >= 0.37).astype(int))
    reference = FixedThresholdClassifier(pipeline, threshold=0.37, response_method="predict_proba")
    np.testing.assert_array_equal(model.predict(X), reference.predict(X))
    # The estimator contract: same parameters as the parent, and clone keeps the class.
    assert model.get_params(deep=False) == reference.get_params(deep=False)
    copy = clone(model)
    assert type(copy) is type(model) and copy.threshold == 0.37
    # joblib (the run directory, the registry) and plain pickle load the same class back.
    joblib.dump(model, tmp_path / "m.joblib")
    loaded = joblib.load(tmp_path / "m.joblib")
    assert type(loaded) is type(model)
    np.testing.assert_array_equal(loaded.predict_proba(X), proba)
    assert type(pickle.loads(pickle.dumps(model))) is type(model)


def test_a_spec_refuses_another_familys_class():
    spec = SPECS["xgboost"]
    with pytest.raises(ValueError, match="threshold_class LightGBMThresholdClassifier is for"):
        ModelSpec(
            name=spec.name,
            display_name=spec.display_name,
            defaults=spec.defaults,
            search_space=spec.search_space,
            builder=spec.builder,
            tree_explainer=spec.tree_explainer,
            threshold_class=SPECS["lightgbm"].threshold_class,
        )
