"""SHAP's tree explainer for uctune's tree pipelines and plain tree models, in original-feature units."""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import shap
from sklearn.pipeline import Pipeline

from uctune.errors import ConfigError
from uctune.explain._types import Explanation, Output, Progress, batches, finish, take_rows
from uctune.models import BaggedClassifier, CalibratedClassifier, EnsembleClassifier

__all__ = [
    "TREE_BATCH",
    "aggregate",
    "background_sample",
    "explain_plain_tree",
    "feature_targets",
    "has_members",
    "is_tree",
    "layer",
    "plain_tree",
    "shifted",
    "tree_explanation",
    "tree_raw",
    "unwrap",
    "unwrap_pipeline",
]

# Rows per batch for the exact explainers: a progress step, and memory bounded on huge tables.
TREE_BATCH = 10_000


# A plain model's explanation must reproduce its probabilities at least this closely.
_ADDITIVITY_TOLERANCE = 1e-4


def is_tree(estimator: Any) -> bool:
    return (
        hasattr(estimator, "estimators_")
        or hasattr(estimator, "get_booster")
        or hasattr(estimator, "booster_")
    )


def unwrap(model: Any) -> Any:
    inner = model
    for attr in ("estimator_", "estimator"):
        # A forest's ``estimator_`` is its tree template, not a wrapped model.
        if is_tree(inner) or isinstance(inner, Pipeline):
            break
        if getattr(inner, attr, None) is not None:
            inner = getattr(inner, attr)
    return inner


def layer(model: Any) -> Any:
    """The first calibrated model, ensemble, pipeline or tree inside ``model``'s wrappers (its
    decision threshold), or ``model`` itself."""
    inner = model
    while not isinstance(inner, CalibratedClassifier | EnsembleClassifier | Pipeline):
        if is_tree(inner):
            break
        nested = getattr(inner, "estimator_", None)
        if nested is None:
            nested = getattr(inner, "estimator", None)
        if nested is None:
            break
        inner = nested
    return inner


def has_members(model: Any) -> bool:
    """Whether ``model`` is (inside its threshold and calibration) an ensemble, whose explanation
    is its members' combined: :func:`explain` reuses the members' explanations given to it."""
    inner = layer(model)
    while isinstance(inner, CalibratedClassifier):
        inner = layer(inner.estimator_)
    return isinstance(inner, EnsembleClassifier)


def unwrap_pipeline(model: Any) -> Pipeline:
    """The fitted pipeline inside a thresholded (and calibrated) model, or the pipeline itself."""
    inner = layer(model)
    while isinstance(inner, CalibratedClassifier):
        inner = layer(inner.estimator_)
    if not isinstance(inner, Pipeline):
        raise ConfigError(
            f"expected a uctune model (a pipeline, possibly thresholded), got {type(model).__name__}"
        )
    return inner


def plain_tree(model: Any) -> tuple[Any, shap.TreeExplainer]:
    """A user's own tree classifier (possibly thresholded) and its path-dependent explainer."""
    inner = unwrap(model)
    try:
        return inner, shap.TreeExplainer(inner)
    except Exception as exc:  # noqa: BLE001 - SHAP's refusal names no stable exception type
        raise ConfigError(
            "expected a uctune model (a pipeline, possibly thresholded) or a tree classifier "
            "SHAP's TreeExplainer reads (XGBClassifier, LGBMClassifier, RandomForestClassifier, "
            f"...), got {type(model).__name__}"
        ) from exc


def _original_feature(name: str, features: Sequence[str], categorical: Sequence[str]) -> str:
    if name in features:
        return name
    if name.startswith("missingindicator_") and name.removeprefix("missingindicator_") in features:
        return name.removeprefix("missingindicator_")
    for cat in categorical:
        if name.startswith(f"{cat}_"):
            return cat
    return name


def feature_targets(names: Sequence[str], X: pd.DataFrame) -> list[str]:
    features = list(X.columns)
    categorical = [c for c in features if isinstance(X[c].dtype, pd.CategoricalDtype)]
    return [_original_feature(n, features, categorical) for n in names]


def aggregate(values: np.ndarray, names: Sequence[str], X: pd.DataFrame) -> np.ndarray:
    target = feature_targets(names, X)
    index = {f: i for i, f in enumerate(X.columns)}
    out = np.zeros((values.shape[0], X.shape[1]))
    for j, t in enumerate(target):
        if t in index:
            out[:, index[t]] += values[:, j]
    return out


def tree_raw(
    explainer: shap.TreeExplainer,
    Xt: Any,
    *,
    batch: int | None = None,
    progress: Progress | None = None,
) -> tuple[np.ndarray, float, Output]:
    """Tree SHAP of every row (in batches of ``batch`` rows): values, base, output space."""
    n = len(Xt)
    parts = batches(n, batch) if batch else [slice(0, n)]
    chunks = []
    for part in parts:
        with warnings.catch_warnings():
            # SHAP's note that LightGBM's output shape changed, once per batch: the shape is
            # handled below.
            warnings.filterwarnings(
                "ignore", message="LightGBM binary classifier with TreeExplainer"
            )
            chunks.append(np.asarray(explainer.shap_values(take_rows(Xt, part)), dtype=float))
        if progress is not None:
            progress(part.stop, n, "rows explained (tree SHAP)")
    raw = np.concatenate(chunks) if chunks else np.zeros((0, 0))
    base = np.asarray(explainer.expected_value, dtype=float).ravel()
    if raw.ndim == 3:  # scikit-learn forests explain both classes' probabilities
        return raw[:, :, 1], float(base[1]), "probability"
    return raw, float(base[-1]), "log_odds"


def tree_explanation(
    estimator: Any,
    Xt: Any,
    names: Sequence[str],
    X: pd.DataFrame,
    started: float,
    *,
    batch: int | None = None,
    progress: Progress | None = None,
) -> Explanation:
    """Tree SHAP of a pipeline's tree model, or of a bag of them (:class:`BaggedClassifier`): the
    members' explanations averaged, as the bag averages their probabilities (exact: a mean is
    linear)."""
    if not isinstance(estimator, BaggedClassifier):
        raw, raw_base, raw_output = tree_raw(
            shap.TreeExplainer(estimator), Xt, batch=batch, progress=progress
        )
        return finish(aggregate(raw, names, X), raw_base, raw_output, X, "tree", started, None)
    members, n = estimator.estimators_, len(Xt)
    parts = [
        tree_explanation(
            member,
            Xt,
            names,
            X,
            started,
            batch=batch,
            progress=None if progress is None else shifted(progress, i * n, len(members) * n),
        )
        for i, member in enumerate(members)
    ]
    return replace(
        parts[0],
        values=np.mean([e.values for e in parts], axis=0),
        base_probability=np.mean([e.base_probability for e in parts], axis=0),
        probability=np.mean([e.probability for e in parts], axis=0),
        raw_output="probability",
        method=f"tree, mean of {len(members)} bags",
        seconds=time.perf_counter() - started,
    )


def shifted(progress: Progress, before: int, total: int) -> Progress:
    """``progress`` for one part of a longer job: ``before`` rows done ahead of it, ``total`` in all."""
    return lambda done, _, what: progress(before + done, total, what)


def background_sample(frame: pd.DataFrame, size: int, rng: np.random.Generator) -> pd.DataFrame:
    if len(frame) <= size:
        return frame
    return frame.iloc[np.sort(rng.choice(len(frame), size, replace=False))]


def explain_plain_tree(
    model: Any,
    X: pd.DataFrame,
    bg: pd.DataFrame | None,
    *,
    batch: int | None = None,
    progress: Progress | None = None,
) -> Explanation:
    started = time.perf_counter()
    inner, explainer = plain_tree(model)
    categorical = any(isinstance(X[c].dtype, pd.CategoricalDtype) for c in X.columns)
    method = "tree"
    if bg is not None and not categorical:
        # SHAP's interventional algorithm compares each row with every background row; it cannot
        # follow category splits, so a model fed category columns stays path-dependent.
        explainer = shap.TreeExplainer(inner, data=bg, feature_perturbation="interventional")
        method = "tree_interventional"
    else:
        bg = None
    raw, raw_base, raw_output = tree_raw(explainer, X, batch=batch, progress=progress)
    explanation = finish(raw, raw_base, raw_output, X, method, started, bg)
    # The output space is inferred from SHAP's shapes; a model it does not fit is refused.
    expected = np.asarray(model.predict_proba(X), dtype=float)[:, 1]
    gap = float(np.max(np.abs(explanation.probability - expected))) if len(X) else 0.0
    if not gap <= _ADDITIVITY_TOLERANCE:
        raise ConfigError(
            f"SHAP values of {type(model).__name__} do not add up to its probabilities "
            f"(largest gap {gap:.3g}, allowed {_ADDITIVITY_TOLERANCE}); only binary classifiers "
            "with log-odds or probability trees are explained"
        )
    return explanation
