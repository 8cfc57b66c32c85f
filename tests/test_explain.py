"""SHAP for every family: additive in probability units, on the original features."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import FixedThresholdClassifier

from uctune.errors import ConfigError
from uctune.explain import explain, top_reasons, unwrap_pipeline
from uctune.models import SPECS
from uctune.training import positive_weight

EXPECTED_METHOD = {
    "logistic_regression": ("linear", "log_odds"),
    "random_forest": ("tree", "probability"),
    "xgboost": ("tree", "log_odds"),
    "lightgbm": ("tree", "log_odds"),
    "neural_network": ("permutation", "probability"),
}


@pytest.fixture(scope="module", params=list(SPECS))
def explained(request, tiny_table):
    spec = SPECS[request.param]
    X, y = tiny_table.X, tiny_table.y
    params = {"n_estimators": 40} if "n_estimators" in spec.defaults else {}
    pipeline = spec.build(params, pos_weight=positive_weight(y)).fit(X, y)
    model = FixedThresholdClassifier(pipeline, threshold=0.3, response_method="predict_proba")
    return request.param, model, explain(model, X, max_rows=25, background_size=20)


def test_every_family_uses_its_explainer(explained):
    name, _, e = explained
    assert (e.method, e.raw_output) == EXPECTED_METHOD[name]
    assert e.seconds >= 0


def test_values_add_up_to_the_models_probability(explained):
    _, model, e = explained
    p = model.predict_proba(e.data)[:, 1]
    np.testing.assert_allclose(e.values.sum(axis=1) + e.base_probability, p, atol=1e-5)
    np.testing.assert_allclose(e.probability, p, atol=1e-5)


def test_one_column_per_original_feature(explained, tiny_table):
    _, _, e = explained
    assert e.features == tiny_table.features
    assert e.values.shape == (25, len(tiny_table.features))
    assert "sector" in e.mean_abs().index
    ranked = e.mean_abs().to_numpy()
    assert np.all(ranked[:-1] >= ranked[1:])


def test_top_reasons_are_the_largest_pushes(explained):
    _, _, e = explained
    reasons = top_reasons(e, 3, k=5)
    assert len(reasons) == 5
    sizes = [abs(r.contribution) for r in reasons]
    assert sizes == sorted(sizes, reverse=True)
    assert sizes[0] == pytest.approx(np.abs(e.values[3]).max())
    first = reasons[0]
    assert first.value == e.data.iloc[3][first.feature] or np.isnan(first.value)


def test_explain_refuses_other_objects_and_bad_sample_sizes(tiny_table):
    with pytest.raises(ConfigError, match="expected a uctune model"):
        unwrap_pipeline(object())
    model = SPECS["logistic_regression"].build().fit(tiny_table.X, tiny_table.y)
    with pytest.raises(ConfigError, match="sample size must be at least 1, got 0"):
        explain(model, tiny_table.X, max_rows=0)
