"""A configuration trained as a bag of fold models (``n_bags``): each member leaves one stratified
fold out, stops early on it, and the bag averages their probabilities."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from uctune.errors import ConfigError
from uctune.explain import explain, explain_all
from uctune.models import BaggedClassifier, get_spec
from uctune.models._boosters import EarlyStoppingLGBMClassifier, EarlyStoppingXGBClassifier

BOOSTERS = ("xgboost", "lightgbm")


def _bag(family: str, **params):
    return get_spec(family).build(
        {"learning_rate": 0.3, "n_estimators": 400, "n_bags": 4, **params}, random_state=3
    )


@pytest.mark.parametrize("family", BOOSTERS)
def test_each_member_stops_on_the_fold_it_did_not_see(rows, family):
    X, y = rows
    bag = _bag(family, early_stopping_rounds=10).fit(X, y).named_steps["model"]
    assert isinstance(bag, BaggedClassifier) and len(bag.estimators_) == 4
    kept = [m.n_estimators_ for m in bag.estimators_]
    assert all(1 <= k < 400 for k in kept)
    assert len(set(kept)) > 1  # four different folds, four different stopping points
    Xt = bag_rows = _bag(family).named_steps["pre"].fit_transform(X)
    # The mean of the members' probabilities, and not any single member's.
    members = np.array([m.predict_proba(Xt)[:, 1] for m in bag.estimators_])
    np.testing.assert_allclose(bag.predict_proba(bag_rows)[:, 1], members.mean(axis=0), rtol=1e-6)
    assert not np.allclose(members[0], members[1])


def test_the_folds_are_stratified_and_each_row_is_held_out_once(rows):
    X, y = rows
    Xt = get_spec("lightgbm").build().named_steps["pre"].fit_transform(X)
    held: list[np.ndarray] = []

    class Recording(EarlyStoppingLGBMClassifier):
        def fit(self, X, y, **params):
            held.append(np.asarray(params["validation_rows"]))
            return super().fit(X, y, **params)

    member = Recording(early_stopping_rounds=5, n_estimators=30, verbose=-1)
    BaggedClassifier(member, n_bags=4, random_state=0).fit(Xt, y)
    assert len(held) == 4
    everything = np.sort(np.concatenate(held))
    np.testing.assert_array_equal(everything, np.arange(len(y)))  # every row held out exactly once
    rate = y.mean()
    for fold in held:
        assert abs(y[fold].mean() - rate) < 0.01  # the positives spread evenly over the folds


def test_without_stopping_a_member_only_leaves_its_fold_out(rows):
    X, y = rows
    bag = _bag("xgboost").fit(X, y).named_steps["model"]
    # No early stopping: every member boosts all 400 rounds on three quarters of the rows.
    assert [m.n_estimators_ for m in bag.estimators_] == [400] * 4
    assert {m.n_features_in_ for m in bag.estimators_} == {X.shape[1]}


@pytest.mark.parametrize("family", BOOSTERS)
def test_shap_of_a_bag_adds_up_to_its_probabilities(rows, family):
    X, y = rows
    model = _bag(family, early_stopping_rounds=10).fit(X, y)
    head = X.head(60)
    for e in (explain_all(model, head), explain(model, head, max_rows=None)):
        assert e.method == "tree, mean of 4 bags"
        total = e.values.sum(axis=1) + e.base_probability
        np.testing.assert_allclose(total, model.predict_proba(head)[:, 1], atol=1e-5)


def test_explaining_a_bag_reports_progress_over_all_its_members(rows):
    X, y = rows
    model = _bag("lightgbm", early_stopping_rounds=10).fit(X, y)
    seen: list[tuple[int, int]] = []
    explain_all(model, X.head(30), progress=lambda done, total, what: seen.append((done, total)))
    assert seen[-1] == (120, 120)  # 4 members x 30 rows
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_a_bag_is_repeatable_and_survives_pickling(rows):
    X, y = rows
    a = _bag("lightgbm", early_stopping_rounds=10).fit(X, y)
    b = clone(a).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    loaded = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(loaded.predict_proba(X), a.predict_proba(X))


def test_a_bag_fitted_for_cuda_is_made_portable(rows):
    X, y = rows
    spec = get_spec("xgboost")
    model = _bag("xgboost", early_stopping_rounds=10).fit(X, y)
    for booster in model.named_steps["model"].estimators_:
        booster.set_params(device="cuda")  # as a GPU fit leaves them
    spec.portable(model)
    bag = model.named_steps["model"]
    assert {m.get_params()["device"] for m in [bag.estimator, *bag.estimators_]} == {"cpu"}


def test_too_few_rows_of_a_class_for_the_bags_fit_one_model_with_a_warning():
    X = pd.DataFrame({"a": np.arange(40.0), "b": np.arange(40.0) % 3})
    y = np.array([0] * 37 + [1] * 3)
    member = EarlyStoppingXGBClassifier(early_stopping_rounds=5, n_estimators=7)
    bag = BaggedClassifier(member, n_bags=4)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bag.fit(X, y)
    assert any("too few rows for 4 stratified bags" in str(w.message) for w in caught)
    assert len(bag.estimators_) == 1


@pytest.mark.parametrize("bad", [0, 21, 2.5, True, "four"])
def test_bad_bag_counts_are_refused_before_any_fit(bad):
    with pytest.raises(ConfigError, match=rf"lightgbm: n_bags must be .* got {bad!r}"):
        get_spec("lightgbm").resolve_params({"n_bags": bad})
    with pytest.raises(ValueError, match="n_bags must be"):
        BaggedClassifier(EarlyStoppingXGBClassifier(), n_bags=bad).fit(
            np.zeros((40, 2)), np.array([0, 1] * 20)
        )


def test_validation_rows_must_name_some_rows_of_the_table():
    X, y = np.random.default_rng(0).normal(size=(40, 2)), np.array([0, 1] * 20)
    booster = EarlyStoppingXGBClassifier(early_stopping_rounds=5, n_estimators=7)
    with pytest.raises(ValueError, match=r"validation_rows must name some but not all of the 40"):
        booster.fit(X, y, validation_rows=[3, 40])
    with pytest.raises(ValueError, match=r"validation_rows must name some but not all"):
        booster.fit(X, y, validation_rows=np.arange(40))


def test_the_search_may_pick_stopping_and_bags_are_pinned():
    for family in BOOSTERS:
        spec = get_spec(family)
        assert spec.search_space["early_stopping_rounds"].choices == (None, 50)
        assert "n_bags" not in spec.search_space  # four fits a trial: pinned, not searched
        assert spec.defaults["n_bags"] == 1  # the defaults stay one model
        assert spec.resolve_params({"n_bags": 4})["n_bags"] == 4
