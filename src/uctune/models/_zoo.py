"""The five model families of the seed, each one spec.

Defaults are the seed's (stories 3.1-3.3); search spaces are the seed's ranges plus each library's
usual companions. Every estimator is a scikit-learn pipeline, so CV, thresholds, SHAP, the report
and the registry treat all families alike.
"""

from __future__ import annotations

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

from uctune.models._base import BuildContext, ModelSpec
from uctune.models._estimators import BalancedMLPClassifier, CategoryEncoder
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
        class_weight=p["class_weight"],
        n_jobs=ctx.n_threads,
        random_state=ctx.random_state,
    )
    return _pipeline(_forest_preprocessor(), model)


def _xgboost(p: dict[str, Any], ctx: BuildContext) -> Pipeline:
    model = xgb.XGBClassifier(
        **p,
        tree_method="hist",
        enable_categorical=True,
        scale_pos_weight=ctx.pos_weight,
        eval_metric="logloss",
        n_jobs=ctx.n_threads,
        random_state=ctx.random_state,
        device=ctx.device,
        verbosity=0,
    )
    return _pipeline(_boosting_preprocessor(), model)


def _lightgbm(p: dict[str, Any], ctx: BuildContext) -> Pipeline:
    model = lgb.LGBMClassifier(
        **p,
        subsample_freq=1 if p["subsample"] < 1.0 else 0,
        class_weight="balanced",
        n_jobs=ctx.n_threads,
        random_state=ctx.random_state,
        deterministic=True,
        force_row_wise=True,
        verbose=-1,
    )
    return _pipeline(_boosting_preprocessor(), model)


def _neural_network(p: dict[str, Any], ctx: BuildContext) -> Pipeline:
    model = BalancedMLPClassifier(
        hidden_layer_sizes=(p["units_1"], p["units_2"], p["units_3"]),
        alpha=p["alpha"],
        learning_rate_init=p["learning_rate_init"],
        batch_size=p["batch_size"],
        early_stopping=True,
        class_weight="balanced",
        random_state=ctx.random_state,
    )
    return _pipeline(_scaled_preprocessor(), model)


_REG = Float(1e-8, 10.0, log=True)

LOGISTIC_REGRESSION = ModelSpec(
    name="logistic_regression",
    display_name="Logistic Regression",
    defaults={"C": 1.0},
    search_space={"C": Float(1e-3, 100.0, log=True)},
    builder=_logistic_regression,
    tree_explainer=False,
    threshold_class=LogisticRegressionThresholdClassifier,
    aliases=("lr", "logreg"),
)

RANDOM_FOREST = ModelSpec(
    name="random_forest",
    display_name="Random Forest",
    defaults={
        "n_estimators": 100,
        "max_depth": 10,
        "min_samples_leaf": 1,
        "max_features": "sqrt",
        "class_weight": "balanced",
    },
    search_space={
        "n_estimators": Int(50, 500),
        "max_depth": Int(3, 24),
        "min_samples_leaf": Int(1, 50, log=True),
        "max_features": Cat(["sqrt", "log2", 0.25, 0.5, 0.75]),
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
    },
    builder=_xgboost,
    supports_cuda=True,
    tree_explainer=True,
    threshold_class=XGBoostThresholdClassifier,
    aliases=("xgb",),
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
    },
    builder=_lightgbm,
    tree_explainer=True,
    threshold_class=LightGBMThresholdClassifier,
    aliases=("lgbm", "lgb"),
)

NEURAL_NETWORK = ModelSpec(
    name="neural_network",
    display_name="Neural Network",
    defaults={
        "units_1": 128,
        "units_2": 64,
        "units_3": 32,
        "alpha": 1e-4,
        "learning_rate_init": 1e-3,
        "batch_size": 256,
    },
    search_space={
        "units_1": Int(32, 256),
        "units_2": Int(32, 256),
        "units_3": Int(32, 256),
        # L2 weight decay stands in for the seed's dropout, which scikit-learn's MLP does not have.
        "alpha": Float(1e-6, 1e-1, log=True),
        "learning_rate_init": Float(1e-4, 1e-2, log=True),
        "batch_size": Cat([64, 128, 256, 512]),
    },
    builder=_neural_network,
    tree_explainer=False,
    threshold_class=NeuralNetworkThresholdClassifier,
    aliases=("nn", "mlp"),
)
