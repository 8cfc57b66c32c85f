"""The five model families, each one spec.

Defaults are the ones the original workflow's trainers and tuner used; search spaces are its ranges
plus each library's usual companions. Every estimator is a scikit-learn pipeline, so CV, thresholds,
SHAP, the report and the registry treat all families alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import lightgbm as lgb
import xgboost as xgb
from optuna.distributions import CategoricalDistribution as Cat
from optuna.distributions import FloatDistribution as Float
from optuna.distributions import IntDistribution as Int
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from uctune.errors import ConfigError
from uctune.models._bagging import BaggedClassifier, check_bags
from uctune.models._base import BuildContext, ModelSpec
from uctune.models._boosters import (
    EarlyStoppingLGBMClassifier,
    EarlyStoppingXGBClassifier,
    check_rounds,
)
from uctune.models._estimators import CategoryEncoder
from uctune.models._thresholded import (
    LightGBMThresholdClassifier,
    LogisticRegressionThresholdClassifier,
    NeuralNetworkThresholdClassifier,
    RandomForestThresholdClassifier,
    XGBoostThresholdClassifier,
)

__all__ = ["LOGISTIC_REGRESSION", "RANDOM_FOREST", "XGBOOST", "LIGHTGBM", "NEURAL_NETWORK"]

_NUMERIC = make_column_selector(dtype_exclude="category")
_CATEGORICAL = make_column_selector(dtype_include="category")


def _one_hot() -> OneHotEncoder:
    return OneHotEncoder(handle_unknown="ignore", sparse_output=False)


def _scaled_preprocessor() -> ColumnTransformer:
    """Impute (median, plus missing-indicator columns), standardise, one-hot the categoricals."""
    numeric = Pipeline(
        [
            (
                "impute",
                SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
            ),
            ("scale", StandardScaler()),
        ]
    )
    return ColumnTransformer(
        [("num", numeric, _NUMERIC), ("cat", _one_hot(), _CATEGORICAL)],
        verbose_feature_names_out=False,
    )


def _forest_preprocessor() -> ColumnTransformer:
    """scikit-learn's forests split on NaN natively; categoricals are one-hot encoded."""
    return ColumnTransformer(
        [("num", "passthrough", _NUMERIC), ("cat", _one_hot(), _CATEGORICAL)],
        verbose_feature_names_out=False,
    )


def _boosting_preprocessor() -> ColumnTransformer:
    """NaN and categoricals are native to XGBoost and LightGBM; only the category codes are fixed."""
    return ColumnTransformer(
        [("num", "passthrough", _NUMERIC), ("cat", CategoryEncoder(), _CATEGORICAL)],
        verbose_feature_names_out=False,
    ).set_output(transform="pandas")


def _pipeline(pre: ColumnTransformer, model: Any) -> Pipeline:
    return Pipeline([("pre", pre), ("model", model)])


def _logistic_regression(p: dict[str, Any], ctx: BuildContext) -> Pipeline:
    model = LogisticRegression(
        C=p["C"], class_weight="balanced", max_iter=2000, random_state=ctx.random_state
    )
    return _pipeline(_scaled_preprocessor(), model)


def _random_forest(p: dict[str, Any], ctx: BuildContext) -> Pipeline:
    model = RandomForestClassifier(
        n_estimators=p["n_estimators"],
        max_depth=p["max_depth"],
        min_samples_leaf=p["min_samples_leaf"],
        max_features=p["max_features"],
        max_samples=p["max_samples"],
        class_weight=p["class_weight"],
        n_jobs=ctx.n_threads,
        random_state=ctx.random_state,
    )
    return _pipeline(_forest_preprocessor(), model)


def _check_booster(p: Mapping[str, Any]) -> None:
    try:
        check_rounds(p.get("early_stopping_rounds"))
        check_bags(p.get("n_bags", 1))
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    weight = p.get("class_weight")
    if weight not in (None, "balanced"):
        raise ConfigError(f"class_weight must be null or 'balanced', got {weight!r}")


def _stopping(p: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the library's params, the early-stopping ones: none when ``early_stopping_rounds`` is None);
    ``class_weight`` and ``n_bags`` are left out of both (the builders apply them)."""
    p = dict(p)
    p.pop("class_weight", None)
    p.pop("n_bags", None)
    rounds = p.pop("early_stopping_rounds", None)
    return p, ({} if rounds is None else {"early_stopping_rounds": rounds})


def _bagged(model: Any, p: dict[str, Any], ctx: BuildContext) -> Any:
    """``model`` itself, or with ``n_bags`` > 1 a bag of its clones (:class:`BaggedClassifier`)."""
    n_bags = p.get("n_bags", 1)
    if n_bags == 1:
        return model
    return BaggedClassifier(model, n_bags=n_bags, random_state=ctx.random_state)


def _xgboost(params: dict[str, Any], ctx: BuildContext) -> Pipeline:
    balanced = params.get("class_weight") == "balanced"
    p, stopping = _stopping(params)
    # Early stopping watches the objective's own loss (logloss for 0/1 labels).
    metric: dict[str, Any] = {} if stopping else {"eval_metric": "logloss"}
    # Ours for a bag too: every member then counts the rounds it kept (n_estimators_).
    own = stopping or params.get("n_bags", 1) > 1
    model = (EarlyStoppingXGBClassifier if own else xgb.XGBClassifier)(
        **p,
        **stopping,
        **metric,
        tree_method="hist",
        enable_categorical=True,
        scale_pos_weight=ctx.pos_weight if balanced else 1.0,
        n_jobs=ctx.n_threads,
        random_state=ctx.random_state,
        device=ctx.device,
        verbosity=0,
    )
    return _pipeline(_boosting_preprocessor(), _bagged(model, params, ctx))


def _lightgbm(params: dict[str, Any], ctx: BuildContext) -> Pipeline:
    weight = params.get("class_weight")
    p, stopping = _stopping(params)
    # Ours for a bag too: every member then counts the rounds it kept (n_estimators_).
    own = stopping or params.get("n_bags", 1) > 1
    model = (EarlyStoppingLGBMClassifier if own else lgb.LGBMClassifier)(
        **p,
        **stopping,
        subsample_freq=1 if p["subsample"] < 1.0 else 0,
        class_weight=weight,
        n_jobs=ctx.n_threads,
        random_state=ctx.random_state,
        deterministic=True,
        force_row_wise=True,
        verbose=-1,
    )
    return _pipeline(_boosting_preprocessor(), _bagged(model, params, ctx))


def _neural_network(p: dict[str, Any], ctx: BuildContext) -> Pipeline:
    # Imported here: PyTorch takes over a second and ~200 MB to import, which a Ray worker that
    # only fits trees should not pay.
    from uctune.models._network import NeuralNetworkClassifier

    model = NeuralNetworkClassifier(
        hidden_units=(p["units_1"], p["units_2"], p["units_3"]),
        dropout=p["dropout"],
        learning_rate=p["learning_rate"],
        weight_decay=p["weight_decay"],
        batch_size=p["batch_size"],
        patience=p["patience"],
        class_weight="balanced",
        n_jobs=ctx.n_threads,
        random_state=ctx.random_state,
    )
    return _pipeline(_scaled_preprocessor(), model)


_REG = Float(1e-8, 10.0, log=True)

# What the search may add to a booster's configuration: early stopping, as AutoML systems train
# their boosters. Bagging (``n_bags``) is not searched by default: with ``n_bags`` 1 or 4 in both
# boosters' spaces, a whole run on the NSE sample (five families, 100 trials each) took 20.5 min
# instead of 16 (a bag costs about four fits, and TPE picked it for up to 81 of 100 trials) for the
# same best model (test PR-AUC 0.530 and 0.530, seeds 42 and 7, against 0.531 and 0.530 without it).
# Pin it with ``tune.params``.
_STOPPING = {"early_stopping_rounds": Cat([None, 50])}

LOGISTIC_REGRESSION = ModelSpec(
    name="logistic_regression",
    display_name="Logistic Regression",
    defaults={"C": 1.0},
    search_space={"C": Float(1e-3, 100.0, log=True)},
    builder=_logistic_regression,
    tree_explainer=False,
    threshold_class=LogisticRegressionThresholdClassifier,
    aliases=("lr", "logreg"),
    # The best regularisation depends on how many rows there are: on the NSE sample the subsample
    # rungs ranked six sampled trials in reverse of their full CV scores (Spearman -0.94 and -1.00).
    # A trial costs a fraction of a second per fold anyway.
    rows_fidelity=False,
)

RANDOM_FOREST = ModelSpec(
    name="random_forest",
    display_name="Random Forest",
    defaults={
        "n_estimators": 100,
        "max_depth": 10,
        "min_samples_leaf": 1,
        "max_features": "sqrt",
        # The share of the rows each tree's bootstrap sample draws (1.0: as many as there are).
        "max_samples": 1.0,
        "class_weight": "balanced",
    },
    # A forest's cost is its trees x rows per tree x features per split x depth: on 200,000 rows
    # one configuration at the top of every range (500 trees, 75 % of the features) took 20 min
    # on one core, for scores that deep forests of a few hundred trees on a share of the rows
    # reach too. So the trees stop at 300, the features per split at half, and the rows per tree
    # are searched.
    search_space={
        "n_estimators": Int(50, 300),
        "max_depth": Int(3, 24),
        "min_samples_leaf": Int(1, 50, log=True),
        "max_features": Cat(["sqrt", "log2", 0.25, 0.5]),
        "max_samples": Float(0.1, 1.0),
        "class_weight": Cat(["balanced", "balanced_subsample"]),
    },
    builder=_random_forest,
    tree_explainer=True,
    threshold_class=RandomForestThresholdClassifier,
    aliases=("rf",),
)

XGBOOST = ModelSpec(
    name="xgboost",
    display_name="XGBoost",
    defaults={
        "max_depth": 5,
        "learning_rate": 0.1,
        "n_estimators": 100,
        "subsample": 1.0,
        "colsample_bytree": 1.0,
        "min_child_weight": 1.0,
        "reg_alpha": 1e-8,
        "reg_lambda": 1.0,
        # Off: all n_estimators rounds. A number N boosts up to n_estimators rounds on 90 % of the
        # rows and keeps the best, stopping after N rounds without a lower log loss on the other 10 %.
        "early_stopping_rounds": None,
        # Unweighted by default ("balanced": scale_pos_weight = negatives / positives). On the
        # 200,000-row NSE sample's forward split, LightGBM's balanced weights cost 0.012 test PR-AUC
        # (0.569 against 0.581 unweighted), and calibration follows anyway.
        "class_weight": None,
        # 1: one model. K > 1: K models, each fitted without one of K stratified folds of the rows
        # (and, with early stopping, stopping on that fold), their probabilities averaged.
        "n_bags": 1,
    },
    search_space={
        "max_depth": Int(3, 10),
        "learning_rate": Float(0.01, 0.3, log=True),
        "n_estimators": Int(50, 500),
        "subsample": Float(0.5, 1.0),
        "colsample_bytree": Float(0.5, 1.0),
        "min_child_weight": Float(0.5, 20.0, log=True),
        "reg_alpha": _REG,
        "reg_lambda": _REG,
        **_STOPPING,
    },
    builder=_xgboost,
    supports_cuda=True,
    tree_explainer=True,
    threshold_class=XGBoostThresholdClassifier,
    aliases=("xgb",),
    check=_check_booster,
)

LIGHTGBM = ModelSpec(
    name="lightgbm",
    display_name="LightGBM",
    defaults={
        "num_leaves": 31,
        "learning_rate": 0.1,
        "n_estimators": 100,
        "min_child_samples": 20,
        "subsample": 1.0,
        "colsample_bytree": 1.0,
        "reg_alpha": 1e-8,
        "reg_lambda": 1e-8,
        "early_stopping_rounds": None,  # as for XGBoost
        "class_weight": None,  # as for XGBoost (LightGBM's own "balanced" when set)
        "n_bags": 1,  # as for XGBoost
    },
    search_space={
        "num_leaves": Int(20, 100),
        "learning_rate": Float(0.01, 0.3, log=True),
        "n_estimators": Int(50, 500),
        "min_child_samples": Int(5, 100, log=True),
        "subsample": Float(0.5, 1.0),
        "colsample_bytree": Float(0.5, 1.0),
        "reg_alpha": _REG,
        "reg_lambda": _REG,
        **_STOPPING,
    },
    builder=_lightgbm,
    tree_explainer=True,
    threshold_class=LightGBMThresholdClassifier,
    aliases=("lgbm", "lgb"),
    check=_check_booster,
)

NEURAL_NETWORK = ModelSpec(
    name="neural_network",
    display_name="Neural Network",
    defaults={
        "units_1": 128,
        "units_2": 64,
        "units_3": 32,
        "dropout": 0.2,
        "learning_rate": 1e-3,
        # 512, not the former MLP's 256: on the 200,000-row benchmark table a step's fixed costs
        # (batch norm, dropout's random mask) then weigh on half as many steps, for the same PR-AUC.
        "batch_size": 512,
        "weight_decay": 1e-5,
        # Epochs without a lower validation loss before training stops (not searched).
        "patience": 5,
    },
    search_space={
        "units_1": Int(32, 256),
        "units_2": Int(32, 256),
        "units_3": Int(32, 256),
        "dropout": Float(0.1, 0.5),
        "learning_rate": Float(1e-4, 1e-2, log=True),
        "batch_size": Cat([64, 128, 256, 512]),
        "weight_decay": Float(1e-6, 1e-2, log=True),
    },
    builder=_neural_network,
    tree_explainer=False,
    threshold_class=NeuralNetworkThresholdClassifier,
    aliases=("nn", "mlp"),
)
