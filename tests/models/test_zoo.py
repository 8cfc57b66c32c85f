"""Every spec in the registry gets every test: a new family is picked up automatically."""

from __future__ import annotations

import numpy as np
import optuna
import pytest
from sklearn.base import clone

from uctune.errors import ConfigError
from uctune.models import SPECS, get_spec, resolve_families
from uctune.training import positive_weight, tree_importance

SPEC_NAMES = list(SPECS)
SEED_DEFAULTS = {
    "logistic_regression": {"C": 1.0},
    "random_forest": {"n_estimators": 100, "max_depth": 10, "class_weight": "balanced"},
    "xgboost": {"max_depth": 5, "learning_rate": 0.1},
    "lightgbm": {"num_leaves": 31, "learning_rate": 0.1},
    "neural_network": {"units_1": 128, "units_2": 64, "units_3": 32},
}


def test_the_five_seed_families_are_registered():
    assert set(SPEC_NAMES) == set(SEED_DEFAULTS)


@pytest.mark.parametrize("name", SPEC_NAMES)
def test_defaults_are_the_seeds(name):
    defaults = SPECS[name].defaults
    for key, value in SEED_DEFAULTS[name].items():
        assert defaults[key] == value


@pytest.mark.parametrize("name", SPEC_NAMES)
def test_search_space_is_optuna_and_holds_the_defaults(name):
    spec = SPECS[name]
    assert spec.search_space
    for key, dist in spec.search_space.items():
        assert isinstance(dist, optuna.distributions.BaseDistribution)
        assert dist._contains(dist.to_internal_repr(spec.defaults[key])), (key, spec.defaults[key])


def test_seed_search_ranges():
    xgb = SPECS["xgboost"].search_space
    assert (xgb["max_depth"].low, xgb["max_depth"].high) == (3, 10)
    assert (xgb["learning_rate"].low, xgb["learning_rate"].high, xgb["learning_rate"].log) == (
        0.01,
        0.3,
        True,
    )
    assert (xgb["n_estimators"].low, xgb["n_estimators"].high) == (50, 500)
    lgbm = SPECS["lightgbm"].search_space
    assert (lgbm["num_leaves"].low, lgbm["num_leaves"].high) == (20, 100)
    assert (lgbm["n_estimators"].low, lgbm["n_estimators"].high) == (50, 500)
    nn = SPECS["neural_network"].search_space
    assert all((nn[f"units_{i}"].low, nn[f"units_{i}"].high) == (32, 256) for i in (1, 2, 3))
    assert (nn["dropout"].low, nn["dropout"].high) == (0.1, 0.5)
    assert (nn["learning_rate"].low, nn["learning_rate"].high, nn["learning_rate"].log) == (
        1e-4,
        1e-2,
        True,
    )


@pytest.mark.parametrize("name", SPEC_NAMES)
def test_fit_predict_on_tiny_data(name, tiny_table):
    X, y = tiny_table.X, tiny_table.y
    model = SPECS[name].build(pos_weight=positive_weight(y)).fit(X, y)
    proba = model.predict_proba(X)[:, 1]
    assert proba.shape == (len(y),)
    assert np.all((proba >= 0) & (proba <= 1))
    # Every family learns something on its own training rows.
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(y, proba) > 0.7
    # The estimator contract: a clone is unfitted and has the same params.
    assert clone(model).get_params().keys() == model.get_params().keys()


@pytest.mark.parametrize("name", SPEC_NAMES)
def test_sampled_params_build_and_fit(name, tiny_table):
    spec = SPECS[name]
    sampler = optuna.samplers.RandomSampler(seed=0)
    study = optuna.create_study(sampler=sampler)
    trial = study.ask(dict(spec.search_space))
    small = {k: min(v, 60) if k == "n_estimators" else v for k, v in trial.params.items()}
    model = spec.build(small).fit(tiny_table.X, tiny_table.y)
    assert model.predict_proba(tiny_table.X).shape == (tiny_table.n_rows, 2)


@pytest.mark.parametrize("name", SPEC_NAMES)
def test_thread_count_reaches_the_model(name):
    model = SPECS[name].build(n_threads=3)[-1]
    # LR (lbfgs) uses BLAS threads, which fit_and_predict caps with threadpoolctl; the network sets
    # PyTorch's own pool from n_jobs.
    threaded = {"random_forest", "xgboost", "lightgbm", "neural_network"}
    if name in threaded:
        assert model.get_params()["n_jobs"] == 3


def _weighted(params):
    return (
        params.get("class_weight") in ("balanced", "balanced_subsample")
        or params.get("scale_pos_weight") == 12.5
    )


@pytest.mark.parametrize("name", SPEC_NAMES)
def test_class_imbalance_is_handled(name):
    # The boosters fit unweighted by default (weights cost them ranking) and balanced on request;
    # the other families are class-balanced.
    spec = SPECS[name]
    model = spec.build(pos_weight=12.5)[-1]
    if "class_weight" in spec.defaults and spec.defaults["class_weight"] is None:
        assert not _weighted(model.get_params())
        model = spec.build({"class_weight": "balanced"}, pos_weight=12.5)[-1]
    assert _weighted(model.get_params())


@pytest.mark.parametrize("name", ["xgboost", "lightgbm"])
def test_booster_class_weight_is_checked(name):
    with pytest.raises(ConfigError, match=r"class_weight must be null or 'balanced', got 'heavy'"):
        SPECS[name].resolve_params({"class_weight": "heavy"})


@pytest.mark.parametrize("name", SPEC_NAMES)
def test_tree_importance_only_for_tree_families(name, tiny_table):
    spec = SPECS[name]
    model = spec.build({"n_estimators": 30} if "n_estimators" in spec.defaults else {})
    model.fit(tiny_table.X, tiny_table.y)
    importance = tree_importance(model)
    if spec.tree_explainer:
        assert importance is not None
        assert sum(importance.values()) == pytest.approx(1.0)
        assert list(importance.values()) == sorted(importance.values(), reverse=True)
    else:
        assert importance is None


def test_lightgbm_treats_sector_as_a_native_categorical(tiny_table):
    model = SPECS["lightgbm"].build({"n_estimators": 20}).fit(tiny_table.X, tiny_table.y)
    transformed = model[:-1].transform(tiny_table.X)
    assert str(transformed["sector"].dtype) == "category"
    assert model[-1].booster_.pandas_categorical is not None


def test_unseen_category_at_predict_time(tiny_table):
    model = SPECS["xgboost"].build({"n_estimators": 20}).fit(tiny_table.X, tiny_table.y)
    X = tiny_table.X.head(5).copy()
    X["sector"] = X["sector"].astype(str)
    X.loc[X.index[0], "sector"] = "Space Mining"
    assert np.isfinite(model.predict_proba(X)).all()


def test_unknown_parameter_names_the_known_ones():
    with pytest.raises(ConfigError, match=r"xgboost has no parameter 'depth'; known parameters:"):
        get_spec("xgboost").build({"depth": 3})


@pytest.mark.parametrize(
    ("family", "params", "message"),
    [
        ("xgboost", {"max_depth": "deep"}, "'max_depth' must be a whole number, got 'deep'"),
        ("xgboost", {"max_depth": 6.5}, "'max_depth' must be a whole number, got 6.5"),
        ("lightgbm", {"learning_rate": "fast"}, "'learning_rate' must be a number, got 'fast'"),
        ("rf", {"n_estimators": True}, "'n_estimators' must be a whole number, got True"),
        ("rf", {"class_weight": 2}, "'class_weight' must be text, got 2"),
    ],
)
def test_a_parameter_of_the_wrong_kind_is_refused_before_any_fit(family, params, message):
    with pytest.raises(ConfigError, match=message):
        get_spec(family).resolve_params(params)


def test_null_whole_floats_and_mappings_pass_the_kind_check():
    get_spec("xgboost").resolve_params({"max_depth": 6.0, "class_weight": "balanced"})
    get_spec("rf").resolve_params({"max_depth": None, "max_features": 0.3})
    get_spec("rf").resolve_params({"class_weight": {0: 1.0, 1: 5.0}})


def test_family_names_and_aliases():
    assert get_spec("XGB").name == "xgboost"
    assert get_spec("mlp").name == "neural_network"
    assert resolve_families("lr, rf") == ("logistic_regression", "random_forest")
    assert resolve_families(None) == tuple(SPECS)
    assert resolve_families("all") == tuple(SPECS)
    with pytest.raises(ConfigError, match="unknown model family 'svm'; choose from"):
        get_spec("svm")
