"""Explaining a model (:func:`explain`) or every row of a large table (:func:`explain_all`)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import shap
from sklearn.pipeline import Pipeline

from uctune.errors import ConfigError
from uctune.explain._composed import composed, numeric, sampled_values
from uctune.explain._tree import (
    TREE_BATCH,
    aggregate,
    background_sample,
    explain_plain_tree,
    feature_targets,
    is_tree,
    tree_explanation,
    unwrap,
    unwrap_pipeline,
)
from uctune.explain._types import DEFAULT_SAMPLES, Explanation, Output, Progress, batches, finish

__all__ = [
    "explain",
    "explain_all",
]


def explain(
    model: Any,
    X: pd.DataFrame,
    *,
    background: pd.DataFrame | None = None,
    max_rows: int | None = 200,
    background_size: int = 100,
    random_state: int = 0,
    members: Mapping[str, Explanation] | None = None,
) -> Explanation:
    """Explain ``model``'s probability of an upper circuit on (at most ``max_rows`` of) ``X``.

    ``model`` is a uctune model or a plain tree classifier (see the module notes). ``background``
    (default: ``X``; for a plain tree, none) is what the linear, permutation and interventional tree
    explainers compare against; at most ``background_size`` of its rows are used. Rows are sampled
    with ``random_state``; every model inside (an ensemble's members) draws its background as if
    explained alone, so ``members`` (explanations by member name, from earlier calls with the
    same arguments) are reused for an ensemble's members instead of computed again.
    """
    if max_rows is not None and max_rows < 1:
        raise ConfigError(f"SHAP sample size must be at least 1, got {max_rows}")
    rng = np.random.default_rng(random_state)
    if max_rows is not None and len(X) > max_rows:
        X = X.iloc[np.sort(rng.choice(len(X), max_rows, replace=False))]
    sampled, state = X, rng.bit_generator.state
    return composed(
        model,
        lambda leaf: _explain_leaf(
            leaf,
            sampled,
            background=background,
            background_size=background_size,
            rng=_restored(state),
            random_state=random_state,
        ),
        members=members,
        rows=sampled,
    )


def _restored(state: Mapping[str, Any]) -> np.random.Generator:
    """A generator in ``state``: each model of an ensemble samples as if it were explained alone."""
    rng = np.random.default_rng()
    rng.bit_generator.state = state
    return rng


def _explain_leaf(
    model: Any,
    X: pd.DataFrame,
    *,
    background: pd.DataFrame | None,
    background_size: int,
    rng: np.random.Generator,
    random_state: int,
) -> Explanation:
    """:func:`explain` of one uctune pipeline or plain tree model (no calibration, no ensemble)."""
    if not isinstance(unwrap(model), Pipeline):
        bg = None if background is None else background_sample(background, background_size, rng)
        return explain_plain_tree(model, X, bg)
    pipeline = unwrap_pipeline(model)
    bg = background_sample(X if background is None else background, background_size, rng)

    started = time.perf_counter()
    pre, estimator = pipeline[:-1], pipeline[-1]
    Xt = pre.transform(X)
    names = [str(n) for n in pre.get_feature_names_out()]
    raw_output: Output
    used: pd.DataFrame | None = bg
    if is_tree(estimator):
        return tree_explanation(estimator, Xt, names, X, started)
    if hasattr(estimator, "coef_"):
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
    return finish(aggregate(raw, names, X), raw_base, raw_output, X, method, started, used)


def explain_all(
    model: Any,
    X: pd.DataFrame,
    *,
    background: pd.DataFrame | None = None,
    background_size: int = 100,
    samples: int = DEFAULT_SAMPLES,
    random_state: int = 0,
    progress: Progress | None = None,
) -> Explanation:
    """Explain every row of ``X``, in batches, at a cost per row that the table's size leaves fixed.

    Trees and the linear model get exactly what :func:`explain` gives; any other model gets the
    sampling estimate of the module notes: ``samples`` orderings in antithetic pairs (an even number, at
    least 2) against ``samples // 2`` rows of ``background`` (default: ``X``), seeded with
    ``random_state``. ``progress(done_rows, total_rows, what)`` is called after each batch.
    """
    if samples < 2 or samples % 2:
        raise ConfigError(
            f"SHAP samples per row must be an even number of at least 2, got {samples}"
        )
    state = np.random.default_rng(random_state).bit_generator.state
    return composed(
        model,
        lambda leaf: _explain_all_leaf(
            leaf,
            X,
            background=background,
            background_size=background_size,
            samples=samples,
            rng=_restored(state),
            progress=progress,
        ),
    )


def _explain_all_leaf(
    model: Any,
    X: pd.DataFrame,
    *,
    background: pd.DataFrame | None,
    background_size: int,
    samples: int,
    rng: np.random.Generator,
    progress: Progress | None,
) -> Explanation:
    """:func:`explain_all` of one uctune pipeline or plain tree model."""
    if not isinstance(unwrap(model), Pipeline):
        bg = None if background is None else background_sample(background, background_size, rng)
        return explain_plain_tree(model, X, bg, batch=TREE_BATCH, progress=progress)
    pipeline = unwrap_pipeline(model)
    started = time.perf_counter()
    pre, estimator = pipeline[:-1], pipeline[-1]
    names = [str(n) for n in pre.get_feature_names_out()]
    pool = X if background is None else background
    if is_tree(estimator):
        return tree_explanation(
            estimator, pre.transform(X), names, X, started, batch=TREE_BATCH, progress=progress
        )
    if hasattr(estimator, "coef_"):
        bg = background_sample(pool, background_size, rng)
        explainer = shap.LinearExplainer(estimator, shap.maskers.Independent(pre.transform(bg)))
        chunks = []
        for part in batches(len(X), TREE_BATCH):
            chunks.append(np.asarray(explainer.shap_values(pre.transform(X.iloc[part])), float))
            if progress is not None:
                progress(part.stop, len(X), "rows explained (linear SHAP)")
        raw = np.concatenate(chunks)
        raw_base = float(np.ravel(explainer.expected_value)[0])
        return finish(aggregate(raw, names, X), raw_base, "log_odds", X, "linear", started, bg)
    bg = background_sample(pool, samples // 2, rng)
    raw, raw_base = sampled_values(
        lambda rows: np.asarray(estimator.predict_proba(rows), dtype=float)[:, 1],
        numeric(pre.transform(X)),
        numeric(pre.transform(bg)),
        feature_targets(names, X),
        list(X.columns),
        samples=samples,
        rng=rng,
        progress=progress,
    )
    return finish(raw, raw_base, "probability", X, "sampled", started, bg)
