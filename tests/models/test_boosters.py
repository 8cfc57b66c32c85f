"""The boosters' early stopping on a slice of their own training rows (``early_stopping_rounds``)."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from uctune.errors import ConfigError
from uctune.explain import explain_all
from uctune.models import get_spec
from uctune.models._boosters import (
    EarlyStoppingLGBMClassifier,
    EarlyStoppingXGBClassifier,
    validation_slice,
)

BOOSTERS = ("xgboost", "lightgbm")


def _model(family: str, **params):
    # A high learning rate and a cap far above what the data needs: stopping must cut it short.
    return get_spec(family).build(
        {"learning_rate": 0.3, "n_estimators": 400, **params}, pos_weight=10.0
    )


def test_a_stratified_slice_of_the_fit_rows_alone():
    y = np.array([0] * 180 + [1] * 20)
    fit_idx, valid_idx = validation_slice(y, 0.1, 0)
    assert (
        len(valid_idx) == 20 and y[valid_idx].sum() == 2
    )  # a tenth, with a tenth of the positives
    assert np.intersect1d(fit_idx, valid_idx).size == 0
    assert np.array_equal(np.sort(np.concatenate([fit_idx, valid_idx])), np.arange(200))
    again = validation_slice(y, 0.1, 0)
    assert np.array_equal(again[1], valid_idx)  # seeded
    assert validation_slice(np.array([0] * 50 + [1]), 0.1, 0) is None  # one positive: no slice


@pytest.mark.parametrize("family", BOOSTERS)
def test_stopping_cuts_the_rounds_and_keeps_only_the_best(rows, family):
    X, y = rows
    model = _model(family, early_stopping_rounds=10).fit(X, y)
    booster = model.named_steps["model"]
    assert type(booster) in (EarlyStoppingXGBClassifier, EarlyStoppingLGBMClassifier)
    kept = booster.n_estimators_
    assert 1 <= kept < 400
    # The model holds the kept rounds and no others.
    trees = (
        booster.get_booster().num_boosted_rounds()
        if family == "xgboost"
        else booster.booster_.current_iteration()
    )
    assert trees == kept
    full = _model(family).fit(X, y).named_steps["model"]
    assert type(full).__name__ in ("XGBClassifier", "LGBMClassifier")  # the library's own class
    assert (
        full.get_booster().num_boosted_rounds()
        if family == "xgboost"
        else full.booster_.current_iteration()
    ) == 400


@pytest.mark.parametrize("family", BOOSTERS)
def test_a_stopped_model_is_repeatable_and_survives_pickling(rows, family):
    X, y = rows
    a = _model(family, early_stopping_rounds=10).fit(X, y)
    b = clone(a).fit(X, y)
    assert a.named_steps["model"].n_estimators_ == b.named_steps["model"].n_estimators_
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    loaded = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(loaded.predict_proba(X), a.predict_proba(X))


@pytest.mark.parametrize("family", BOOSTERS)
def test_shap_explains_the_trees_that_predict(rows, family):
    X, y = rows
    model = _model(family, early_stopping_rounds=10).fit(X, y)
    head = X.head(50)
    e = explain_all(model, head)
    # The contributions add up to what the model predicts: SHAP read the kept trees, no others.
    total = e.values.sum(axis=1) + e.base_probability
    np.testing.assert_allclose(total, model.predict_proba(head)[:, 1], atol=1e-5)


@pytest.mark.parametrize("family", BOOSTERS)
def test_sample_weights_follow_their_rows_into_the_slice(rows, family):
    X, y = rows
    Xt = get_spec(family).build().named_steps["pre"].fit_transform(X)
    weight = np.where(y == 1, 5.0, 1.0)
    cls = EarlyStoppingXGBClassifier if family == "xgboost" else EarlyStoppingLGBMClassifier
    extra = {"verbose": -1} if family == "lightgbm" else {"enable_categorical": True}
    weighted = cls(early_stopping_rounds=10, n_estimators=200, random_state=0, **extra)
    weighted.fit(Xt, y, sample_weight=weight)
    plain = clone(weighted).fit(Xt, y)
    assert not np.allclose(weighted.predict_proba(Xt), plain.predict_proba(Xt))
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        clone(weighted).fit(Xt, y[:-1])


def test_too_few_rows_for_a_slice_boost_every_round_with_a_warning():
    X = pd.DataFrame({"a": np.arange(12.0), "b": np.arange(12.0) % 3})
    y = np.array([0] * 11 + [1])
    model = EarlyStoppingXGBClassifier(early_stopping_rounds=5, n_estimators=7)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(X, y)
    assert any("too few rows for an early-stopping slice" in str(w.message) for w in caught)
    assert model.n_estimators_ == 7


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "ten"])
def test_bad_rounds_are_refused_before_any_fit(bad):
    with pytest.raises(ConfigError, match=rf"xgboost: early_stopping_rounds .* got {bad!r}"):
        get_spec("xgboost").resolve_params({"early_stopping_rounds": bad})
    with pytest.raises(ValueError, match="early_stopping_rounds must be"):
        EarlyStoppingLGBMClassifier(early_stopping_rounds=bad).fit(
            np.zeros((40, 2)), np.array([0, 1] * 20)
        )
