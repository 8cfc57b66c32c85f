"""SHAP for every family: additive in probability units, on the original features."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest
import xgboost as xgb
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
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


# -- a user's own tree classifiers (the seed's "TreeExplainer for tree models") ----------------
PLAIN = {
    "xgboost": lambda: xgb.XGBClassifier(n_estimators=30, max_depth=3, verbosity=0),
    "lightgbm": lambda: lgb.LGBMClassifier(n_estimators=30, num_leaves=8, verbose=-1),
    "random_forest": lambda: RandomForestClassifier(n_estimators=30, max_depth=5, random_state=0),
}


@pytest.fixture(scope="module")
def numeric_split(tiny_table):
    """The tiny table's numeric columns, as a user hands them to a plain classifier."""
    X = tiny_table.X.drop(columns=list(tiny_table.categorical))
    return X.iloc[:450], X.iloc[450:], tiny_table.y[:450]


def _raw_output(model, X):
    """The model's own output: log-odds for boosted trees, probability for the forest."""
    if isinstance(model, xgb.XGBClassifier):
        return model.predict(X, output_margin=True)
    if isinstance(model, lgb.LGBMClassifier):
        return model.predict_proba(X, raw_score=True)
    return model.predict_proba(X)[:, 1]


@pytest.mark.parametrize("name", list(PLAIN))
def test_a_plain_tree_classifier_is_explained_against_its_training_rows(name, numeric_split):
    X_train, X_test, y_train = numeric_split
    model = PLAIN[name]().fit(X_train, y_train)
    e = explain(model, X_test, background=X_train, max_rows=25, background_size=30)
    assert e.method == "tree_interventional"
    assert e.raw_output == ("probability" if name == "random_forest" else "log_odds")
    # The background is 30 of the training rows, and the base value is the model's mean output
    # over exactly those rows, in the space the explainer works in.
    assert len(e.background) == 30 and set(e.background.index) <= set(X_train.index)
    base = _raw_output(model, e.background).mean()
    if e.raw_output == "log_odds":
        base = 1 / (1 + np.exp(-base))
    np.testing.assert_allclose(e.base_probability, base, rtol=1e-5)
    # The values add up to the model's probability minus the base value.
    p = model.predict_proba(e.data)[:, 1]
    np.testing.assert_allclose(e.values.sum(axis=1) + e.base_probability, p, atol=1e-5)
    assert e.features == tuple(X_test.columns)


@pytest.mark.parametrize("name", list(PLAIN))
def test_a_plain_tree_without_background_is_explained_path_dependently(name, numeric_split):
    X_train, X_test, y_train = numeric_split
    model = FixedThresholdClassifier(PLAIN[name](), threshold=0.3).fit(X_train, y_train)
    e = explain(model, X_test, max_rows=25)
    assert e.method == "tree" and e.background is None
    p = model.predict_proba(e.data)[:, 1]
    np.testing.assert_allclose(e.values.sum(axis=1) + e.base_probability, p, atol=1e-5)


def test_a_plain_tree_on_category_columns_stays_path_dependent(tiny_table):
    # SHAP's interventional algorithm cannot follow category splits.
    model = lgb.LGBMClassifier(n_estimators=20, num_leaves=8, verbose=-1)
    model.fit(tiny_table.X, tiny_table.y)
    e = explain(model, tiny_table.X, background=tiny_table.X, max_rows=20, background_size=10)
    assert e.method == "tree" and e.background is None
    p = model.predict_proba(e.data)[:, 1]
    np.testing.assert_allclose(e.values.sum(axis=1) + e.base_probability, p, atol=1e-5)


def test_a_plain_model_that_is_no_tree_is_refused(numeric_split):
    X_train, X_test, y_train = numeric_split
    model = LogisticRegression(max_iter=500).fit(X_train.fillna(0), y_train)
    with pytest.raises(ConfigError, match="or a tree classifier SHAP's TreeExplainer reads"):
        explain(model, X_test.fillna(0))
