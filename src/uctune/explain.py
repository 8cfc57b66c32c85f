"""SHAP explanations for every model family, in the units of the original features.

Each family gets the explainer that suits it: SHAP's tree explainer for the forest and the boosted
trees, the linear explainer for logistic regression, and a model-agnostic permutation explainer on a
bounded background sample for the neural network. Explanations are computed on the pipeline's
transformed columns and summed back onto the original features (the one-hot columns of ``sector``
become ``sector``; a missing-value indicator joins its feature), which SHAP's additivity allows.

The explainers work in the model's own output (``raw_output``: log-odds for boosted trees and logistic
regression, probability for the forest and the network); ``values`` are in probability units for every
family, so that "raised the probability by 0.12" means the same thing everywhere. Log-odds
contributions are converted by sharing each row's probability change ``p - p_base`` in proportion to
them — exact in total, an approximation per feature.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
import shap
from sklearn.pipeline import Pipeline

from uctune.errors import ConfigError

__all__ = ["Explanation", "Reason", "explain", "unwrap_pipeline", "top_reasons"]

Output = Literal["log_odds", "probability"]


@dataclass(frozen=True)
class Explanation:
    """SHAP values of some rows, one column per original feature.

    ``values[i].sum() + base_probability[i] == probability[i]`` for every row ``i``; ``seconds`` is
    the time the explanation took.
    """

    features: tuple[str, ...]
    data: pd.DataFrame = field(repr=False)
    values: np.ndarray = field(repr=False)
    base_probability: np.ndarray = field(repr=False)
    probability: np.ndarray = field(repr=False)
    raw_output: Output
    method: str
    seconds: float

    def mean_abs(self) -> pd.Series:
        """Mean |SHAP| per feature in probability units, largest first."""
        return pd.Series(np.abs(self.values).mean(axis=0), index=list(self.features)).sort_values(
            ascending=False
        )


@dataclass(frozen=True)
class Reason:
    """One feature's push on one row's probability."""

    feature: str
    value: Any
    contribution: float


def unwrap_pipeline(model: Any) -> Pipeline:
    """The fitted pipeline inside a thresholded model (or the pipeline itself)."""
    inner = model
    for attr in ("estimator_", "estimator"):
        if not isinstance(inner, Pipeline) and getattr(inner, attr, None) is not None:
            inner = getattr(inner, attr)
    if not isinstance(inner, Pipeline):
        raise ConfigError(
            f"expected a uctune model (a pipeline, possibly thresholded), got {type(model).__name__}"
        )
    return inner


def _original_feature(name: str, features: Sequence[str], categorical: Sequence[str]) -> str:
    if name in features:
        return name
    if name.startswith("missingindicator_") and name.removeprefix("missingindicator_") in features:
        return name.removeprefix("missingindicator_")
    for cat in categorical:
        if name.startswith(f"{cat}_"):
            return cat
    return name


def _aggregate(values: np.ndarray, names: Sequence[str], X: pd.DataFrame) -> np.ndarray:
    features = list(X.columns)
    categorical = [c for c in features if isinstance(X[c].dtype, pd.CategoricalDtype)]
    target = [_original_feature(n, features, categorical) for n in names]
    index = {f: i for i, f in enumerate(features)}
    out = np.zeros((values.shape[0], len(features)))
    for j, t in enumerate(target):
        if t in index:
            out[:, index[t]] += values[:, j]
    return out


def _sigmoid(z: np.ndarray | float) -> Any:
    return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=float)))


def _to_probability(raw: np.ndarray, raw_base: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Share each row's probability change among its log-odds contributions."""
    margin = raw_base + raw.sum(axis=1)
    p = _sigmoid(margin)
    p_base = np.full(len(raw), float(_sigmoid(raw_base)))
    delta_logit = margin - raw_base
    delta_p = p - p_base
    slope = p * (1 - p)  # the derivative, for rows whose log-odds barely moved
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(np.abs(delta_logit) > 1e-9, delta_p / delta_logit, slope)
    return raw * scale[:, None], p_base, p


def explain(
    model: Any,
    X: pd.DataFrame,
    *,
    background: pd.DataFrame | None = None,
    max_rows: int | None = 200,
    background_size: int = 100,
    random_state: int = 0,
) -> Explanation:
    """Explain ``model``'s probability of an upper circuit on (at most ``max_rows`` of) ``X``.

    ``background`` (default: ``X``) is what the linear and permutation explainers compare against;
    at most ``background_size`` of its rows are used. Rows are sampled with ``random_state``.
    """
    if max_rows is not None and max_rows < 1:
        raise ConfigError(f"SHAP sample size must be at least 1, got {max_rows}")
    pipeline = unwrap_pipeline(model)
    rng = np.random.default_rng(random_state)
    if max_rows is not None and len(X) > max_rows:
        X = X.iloc[np.sort(rng.choice(len(X), max_rows, replace=False))]
    bg = X if background is None else background
    if len(bg) > background_size:
        bg = bg.iloc[np.sort(rng.choice(len(bg), background_size, replace=False))]

    started = time.perf_counter()
    pre, estimator = pipeline[:-1], pipeline[-1]
    Xt = pre.transform(X)
    names = [str(n) for n in pre.get_feature_names_out()]
    raw_output: Output
    if (
        hasattr(estimator, "estimators_")
        or hasattr(estimator, "get_booster")
        or hasattr(estimator, "booster_")
    ):
        explainer = shap.TreeExplainer(estimator)
        result = explainer(Xt)
        raw = np.asarray(result.values, dtype=float)
        base = np.asarray(explainer.expected_value, dtype=float).ravel()
        if raw.ndim == 3:  # scikit-learn forests explain both classes' probabilities
            raw, base = raw[:, :, 1], base[1:]
            raw_output = "probability"
        else:
            raw_output = "log_odds"
        method = "tree"
        raw_base = float(base[-1])
    elif hasattr(estimator, "coef_"):
        explainer = shap.LinearExplainer(estimator, shap.maskers.Independent(pre.transform(bg)))
        raw = np.asarray(explainer(Xt).values, dtype=float)
        raw_base = float(np.ravel(explainer.expected_value)[0])
        raw_output, method = "log_odds", "linear"
    else:
        Xt_arr = np.asarray(Xt, dtype=float)
        bg_arr = np.asarray(pre.transform(bg), dtype=float)

        def positive_proba(rows: np.ndarray) -> np.ndarray:
            return np.asarray(estimator.predict_proba(rows))[:, 1]

        explainer = shap.PermutationExplainer(
            positive_proba,
            shap.maskers.Independent(bg_arr, max_samples=len(bg_arr)),
            seed=random_state,
        )
        result = explainer(Xt_arr, max_evals=2 * Xt_arr.shape[1] + 1, silent=True)
        raw = np.asarray(result.values, dtype=float)
        raw_base = float(np.ravel(result.base_values)[0])
        raw_output, method = "probability", "permutation"

    raw = _aggregate(raw, names, X)
    if raw_output == "log_odds":
        values, p_base, p = _to_probability(raw, raw_base)
    else:
        values = raw
        p_base = np.full(len(raw), raw_base)
        p = p_base + raw.sum(axis=1)
    return Explanation(
        features=tuple(X.columns),
        data=X,
        values=values,
        base_probability=p_base,
        probability=p,
        raw_output=raw_output,
        method=method,
        seconds=time.perf_counter() - started,
    )


def top_reasons(explanation: Explanation, row: int, k: int = 5) -> list[Reason]:
    """The ``k`` features that moved row ``row``'s probability most, largest |contribution| first."""
    contributions = explanation.values[row]
    order = np.argsort(-np.abs(contributions), kind="stable")[:k]
    data = explanation.data.iloc[row]
    return [Reason(explanation.features[j], data.iloc[j], float(contributions[j])) for j in order]
