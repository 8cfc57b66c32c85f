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

uctune's tree pipelines are explained path-dependently (``method="tree"``): the reference is the
training rows as the trees recorded them (their node counts), no background is needed, and the
boosted pipelines' native category splits, which SHAP's interventional algorithm cannot handle, are
allowed. A plain tree classifier a user trained (``XGBClassifier``, ``LGBMClassifier``,
``RandomForestClassifier``, or another model SHAP's ``TreeExplainer`` reads) is explained directly on
its own columns: against ``background`` (the training rows) when one is given
(``method="tree_interventional"``), path-dependently when none is, or when its input has category
columns.

:func:`explain_all` explains every row of a large table (``uctune predict``), in batches. Trees and
the linear model get the exact values :func:`explain` gives. Any other model (the network, or any
pipeline ending in a ``predict_proba`` classifier) gets a bounded sampling estimate instead of SHAP's
permutation explainer, whose cost per row grows with the background (``method="sampled"``): each row
walks ``samples`` random orderings of the original features from a background row to the row itself,
swapping one feature (all its columns) in at a time, and a feature's value is its mean change in the
probability. Orderings come in antithetic pairs (one and its reverse) that share one of
``samples // 2`` fixed background rows, and are drawn with ``random_state``. A row costs exactly
``samples * (features - 1) + 1`` model evaluations (961 for the 31 features with the default 32),
however large the table or the background. The values add up exactly (``values.sum() + base ==
probability``, ``base`` being the mean probability of those background rows), and each is an unbiased
estimate of the row's Shapley value against them; its noise falls as ``1 / sqrt(samples)``. That is
the trade-off: on a small case with exact SHAP to compare (tests/test_explain.py) the estimate's top
reason was in exact SHAP's top three for 95-100 % of rows and the top-three sets shared 74-85 %;
features with nearly equal pushes may swap places. Trees and the linear model never approximate.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import pandas as pd
import shap
from sklearn.pipeline import Pipeline

from uctune.ensemble import Combiner
from uctune.errors import ConfigError
from uctune.models import BaggedClassifier, CalibratedClassifier, EnsembleClassifier

__all__ = [
    "DEFAULT_SAMPLES",
    "Explanation",
    "Reason",
    "explain",
    "explain_all",
    "has_members",
    "unwrap_pipeline",
    "top_features",
    "top_reasons",
]

Output = Literal["log_odds", "probability"]
Progress = Callable[[int, int, str], None]

DEFAULT_SAMPLES = 32
# Rows per batch for the exact explainers: a progress step, and memory bounded on huge tables.
_TREE_BATCH = 10_000
# Model rows per predict_proba call in the sampling estimate (a few MB of hybrid rows).
_EVALS_PER_CALL = 60_000
_ENSEMBLE_PREFIX = "ensemble ("
# Half-width of the step that measures a calibration map's slope where a row's probability barely
# moved from the base.
_SLOPE_STEP = 1e-4
# A plain model's explanation must reproduce its probabilities at least this closely.
_ADDITIVITY_TOLERANCE = 1e-4


@dataclass(frozen=True)
class Explanation:
    """SHAP values of some rows, one column per original feature.

    ``values[i].sum() + base_probability[i] == probability[i]`` for every row ``i``; ``seconds`` is
    the time the explanation took. ``background`` holds the rows the explainer compared against
    (``None`` for path-dependent trees, whose reference is their training rows' node counts).
    """

    features: tuple[str, ...]
    data: pd.DataFrame = field(repr=False)
    values: np.ndarray = field(repr=False)
    base_probability: np.ndarray = field(repr=False)
    probability: np.ndarray = field(repr=False)
    raw_output: Output
    method: str
    seconds: float
    background: pd.DataFrame | None = field(default=None, repr=False)

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


def _unwrap(model: Any) -> Any:
    inner = model
    for attr in ("estimator_", "estimator"):
        # A forest's ``estimator_`` is its tree template, not a wrapped model.
        if _is_tree(inner) or isinstance(inner, Pipeline):
            break
        if getattr(inner, attr, None) is not None:
            inner = getattr(inner, attr)
    return inner


def unwrap_pipeline(model: Any) -> Pipeline:
    """The fitted pipeline inside a thresholded (and calibrated) model, or the pipeline itself."""
    inner = _layer(model)
    while isinstance(inner, CalibratedClassifier):
        inner = _layer(inner.estimator_)
    if not isinstance(inner, Pipeline):
        raise ConfigError(
            f"expected a uctune model (a pipeline, possibly thresholded), got {type(model).__name__}"
        )
    return inner


def _plain_tree(model: Any) -> tuple[Any, shap.TreeExplainer]:
    """A user's own tree classifier (possibly thresholded) and its path-dependent explainer."""
    inner = _unwrap(model)
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


def _targets(names: Sequence[str], X: pd.DataFrame) -> list[str]:
    features = list(X.columns)
    categorical = [c for c in features if isinstance(X[c].dtype, pd.CategoricalDtype)]
    return [_original_feature(n, features, categorical) for n in names]


def _aggregate(values: np.ndarray, names: Sequence[str], X: pd.DataFrame) -> np.ndarray:
    target = _targets(names, X)
    index = {f: i for i, f in enumerate(X.columns)}
    out = np.zeros((values.shape[0], X.shape[1]))
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


def _is_tree(estimator: Any) -> bool:
    return (
        hasattr(estimator, "estimators_")
        or hasattr(estimator, "get_booster")
        or hasattr(estimator, "booster_")
    )


def _batches(n: int, size: int) -> list[slice]:
    return [slice(start, min(start + size, n)) for start in range(0, n, size)]


def _rows(data: Any, part: slice) -> Any:
    return data.iloc[part] if isinstance(data, pd.DataFrame) else data[part]


def _tree_raw(
    explainer: shap.TreeExplainer,
    Xt: Any,
    *,
    batch: int | None = None,
    progress: Progress | None = None,
) -> tuple[np.ndarray, float, Output]:
    """Tree SHAP of every row (in batches of ``batch`` rows): values, base, output space."""
    n = len(Xt)
    parts = _batches(n, batch) if batch else [slice(0, n)]
    chunks = []
    for part in parts:
        with warnings.catch_warnings():
            # SHAP's note that LightGBM's output shape changed, once per batch: the shape is
            # handled below.
            warnings.filterwarnings(
                "ignore", message="LightGBM binary classifier with TreeExplainer"
            )
            chunks.append(np.asarray(explainer.shap_values(_rows(Xt, part)), dtype=float))
        if progress is not None:
            progress(part.stop, n, "rows explained (tree SHAP)")
    raw = np.concatenate(chunks) if chunks else np.zeros((0, 0))
    base = np.asarray(explainer.expected_value, dtype=float).ravel()
    if raw.ndim == 3:  # scikit-learn forests explain both classes' probabilities
        return raw[:, :, 1], float(base[1]), "probability"
    return raw, float(base[-1]), "log_odds"


def _tree_explanation(
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
        raw, raw_base, raw_output = _tree_raw(
            shap.TreeExplainer(estimator), Xt, batch=batch, progress=progress
        )
        return _finish(_aggregate(raw, names, X), raw_base, raw_output, X, "tree", started, None)
    members, n = estimator.estimators_, len(Xt)
    parts = [
        _tree_explanation(
            member,
            Xt,
            names,
            X,
            started,
            batch=batch,
            progress=None if progress is None else _shifted(progress, i * n, len(members) * n),
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


def _shifted(progress: Progress, before: int, total: int) -> Progress:
    """``progress`` for one part of a longer job: ``before`` rows done ahead of it, ``total`` in all."""
    return lambda done, _, what: progress(before + done, total, what)


def _sample(frame: pd.DataFrame, size: int, rng: np.random.Generator) -> pd.DataFrame:
    if len(frame) <= size:
        return frame
    return frame.iloc[np.sort(rng.choice(len(frame), size, replace=False))]


def _finish(
    raw: np.ndarray,
    raw_base: float,
    raw_output: Output,
    X: pd.DataFrame,
    method: str,
    started: float,
    background: pd.DataFrame | None,
) -> Explanation:
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
        background=background,
    )


def _explain_plain_tree(
    model: Any,
    X: pd.DataFrame,
    bg: pd.DataFrame | None,
    *,
    batch: int | None = None,
    progress: Progress | None = None,
) -> Explanation:
    started = time.perf_counter()
    inner, explainer = _plain_tree(model)
    categorical = any(isinstance(X[c].dtype, pd.CategoricalDtype) for c in X.columns)
    method = "tree"
    if bg is not None and not categorical:
        # SHAP's interventional algorithm compares each row with every background row; it cannot
        # follow category splits, so a model fed category columns stays path-dependent.
        explainer = shap.TreeExplainer(inner, data=bg, feature_perturbation="interventional")
        method = "tree_interventional"
    else:
        bg = None
    raw, raw_base, raw_output = _tree_raw(explainer, X, batch=batch, progress=progress)
    explanation = _finish(raw, raw_base, raw_output, X, method, started, bg)
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
    return _composed(
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
    if not isinstance(_unwrap(model), Pipeline):
        bg = None if background is None else _sample(background, background_size, rng)
        return _explain_plain_tree(model, X, bg)
    pipeline = unwrap_pipeline(model)
    bg = _sample(X if background is None else background, background_size, rng)

    started = time.perf_counter()
    pre, estimator = pipeline[:-1], pipeline[-1]
    Xt = pre.transform(X)
    names = [str(n) for n in pre.get_feature_names_out()]
    raw_output: Output
    used: pd.DataFrame | None = bg
    if _is_tree(estimator):
        return _tree_explanation(estimator, Xt, names, X, started)
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
    return _finish(_aggregate(raw, names, X), raw_base, raw_output, X, method, started, used)


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
    return _composed(
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
    if not isinstance(_unwrap(model), Pipeline):
        bg = None if background is None else _sample(background, background_size, rng)
        return _explain_plain_tree(model, X, bg, batch=_TREE_BATCH, progress=progress)
    pipeline = unwrap_pipeline(model)
    started = time.perf_counter()
    pre, estimator = pipeline[:-1], pipeline[-1]
    names = [str(n) for n in pre.get_feature_names_out()]
    pool = X if background is None else background
    if _is_tree(estimator):
        return _tree_explanation(
            estimator, pre.transform(X), names, X, started, batch=_TREE_BATCH, progress=progress
        )
    if hasattr(estimator, "coef_"):
        bg = _sample(pool, background_size, rng)
        explainer = shap.LinearExplainer(estimator, shap.maskers.Independent(pre.transform(bg)))
        chunks = []
        for part in _batches(len(X), _TREE_BATCH):
            chunks.append(np.asarray(explainer.shap_values(pre.transform(X.iloc[part])), float))
            if progress is not None:
                progress(part.stop, len(X), "rows explained (linear SHAP)")
        raw = np.concatenate(chunks)
        raw_base = float(np.ravel(explainer.expected_value)[0])
        return _finish(_aggregate(raw, names, X), raw_base, "log_odds", X, "linear", started, bg)
    bg = _sample(pool, samples // 2, rng)
    raw, raw_base = _sampled_values(
        lambda rows: np.asarray(estimator.predict_proba(rows), dtype=float)[:, 1],
        _numeric(pre.transform(X)),
        _numeric(pre.transform(bg)),
        _targets(names, X),
        list(X.columns),
        samples=samples,
        rng=rng,
        progress=progress,
    )
    return _finish(raw, raw_base, "probability", X, "sampled", started, bg)


def _layer(model: Any) -> Any:
    """The first calibrated model, ensemble, pipeline or tree inside ``model``'s wrappers (its
    decision threshold), or ``model`` itself."""
    inner = model
    while not isinstance(inner, CalibratedClassifier | EnsembleClassifier | Pipeline):
        if _is_tree(inner):
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
    inner = _layer(model)
    while isinstance(inner, CalibratedClassifier):
        inner = _layer(inner.estimator_)
    return isinstance(inner, EnsembleClassifier)


def _composed(
    model: Any,
    leaf: Callable[[Any], Explanation],
    members: Mapping[str, Explanation] | None = None,
    rows: pd.DataFrame | None = None,
) -> Explanation:
    """Explain ``model`` layer by layer: a calibrated model as its estimator's explanation mapped
    through the calibration, an ensemble as its members' explanations combined (a member's given
    explanation of the same rows reused), anything else by ``leaf``."""
    inner = _layer(model)
    if isinstance(inner, CalibratedClassifier):
        return _calibrated(_composed(inner.estimator_, leaf, members, rows), inner)
    if isinstance(inner, EnsembleClassifier):
        known = members or {}
        parts, spent = [], 0.0
        for name, member in inner.members_:
            given = known.get(name)
            if given is not None and rows is not None and _explains(given, member, rows):
                parts.append(given)
            else:
                parts.append(_composed(member, leaf, members, rows))
                spent += parts[-1].seconds
        return _combined(parts, inner.combiner_, spent)
    return leaf(model)


def _explains(explanation: Explanation, model: Any, rows: pd.DataFrame) -> bool:
    """Whether ``explanation`` is of exactly these rows and features, and of this model (it
    reproduces the model's probabilities: a name alone could belong to another model)."""
    if not explanation.data.index.equals(rows.index):
        return False
    if list(explanation.features) != list(rows.columns):
        return False
    proba = np.asarray(model.predict_proba(rows), dtype=np.float64)[:, 1]
    # 1e-5: tree boosters predict in float32, and SHAP sums their values in float64.
    return bool(np.allclose(explanation.probability, proba, rtol=0.0, atol=1e-5))


def _calibrated(explanation: Explanation, model: CalibratedClassifier) -> Explanation:
    """An explanation of the raw probability carried through a monotone calibration map: each
    row's calibrated change ``g(p) - g(p_base)`` shared in proportion to the raw values (exact in
    total, as for log-odds; the map's slope where ``p`` barely moved)."""
    p, base = explanation.probability, explanation.base_probability
    p_cal, base_cal = model.calibrate(p), model.calibrate(base)
    lo, hi = np.clip(p - _SLOPE_STEP, 0.0, 1.0), np.clip(p + _SLOPE_STEP, 0.0, 1.0)
    slope = (model.calibrate(hi) - model.calibrate(lo)) / np.maximum(hi - lo, 1e-12)
    change = p - base
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(np.abs(change) > 1e-9, (p_cal - base_cal) / change, slope)
    return replace(
        explanation,
        values=explanation.values * scale[:, None],
        base_probability=base_cal,
        probability=p_cal,
        method=_calibrated_method(explanation.method, model.method_),
    )


def _calibrated_method(method: str, calibration: str) -> str:
    """``tree, calibrated (sigmoid)``; for an ensemble the map is named with its combiner, before
    the members' own explainers: ``ensemble (caruana; calibrated: sigmoid) of 3 models: ...``."""
    if method.startswith(_ENSEMBLE_PREFIX):
        head, rest = method.split(")", 1)
        return f"{head}; calibrated: {calibration}){rest}"
    return f"{method}, calibrated ({calibration})"


def _combined(parts: Sequence[Explanation], combiner: Combiner, spent: float) -> Explanation:
    """The members' explanations combined as the ensemble combines their probabilities.

    Caruana's weighted average is linear in probability, so the weighted sum of the members' values
    is exact. The stacker is linear in the members' log-odds: each member's log-odds change is
    shared among its features in proportion to its values, the sum weighted by the stacker's
    coefficients, and the result carried to probability as for any log-odds model. ``spent``: the
    seconds the members' explanations took here (none for those reused)."""
    first = parts[0]
    started = time.perf_counter() - spent
    methods = " | ".join(sorted({e.method for e in parts}))
    if combiner.method == "caruana":
        w = np.asarray(combiner.weights)
        values = sum(wi * e.values for wi, e in zip(w, parts, strict=True))
        base = sum(wi * e.base_probability for wi, e in zip(w, parts, strict=True))
        p = sum(wi * e.probability for wi, e in zip(w, parts, strict=True))
    else:
        raw = np.zeros_like(first.values)
        z_base = np.full(len(first.probability), combiner.intercept)
        for coef, e in zip(combiner.coef, parts, strict=True):
            pm = np.clip(e.probability, 1e-6, 1 - 1e-6)
            bm = np.clip(e.base_probability, 1e-6, 1 - 1e-6)
            z_change = np.log(pm / (1 - pm)) - np.log(bm / (1 - bm))
            change = pm - bm
            with np.errstate(divide="ignore", invalid="ignore"):
                share = np.where(np.abs(change) > 1e-9, z_change / change, 1 / (pm * (1 - pm)))
            raw += coef * e.values * share[:, None]
            z_base += coef * np.log(bm / (1 - bm))
        margin = z_base + raw.sum(axis=1)
        p, base = _sigmoid(margin), _sigmoid(z_base)
        delta = margin - z_base
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where(np.abs(delta) > 1e-9, (p - base) / delta, p * (1 - p))
        values = raw * scale[:, None]
    return Explanation(
        features=first.features,
        data=first.data,
        values=np.asarray(values, dtype=np.float64),
        base_probability=np.asarray(base, dtype=np.float64),
        probability=np.asarray(p, dtype=np.float64),
        raw_output="probability",
        method=f"{_ENSEMBLE_PREFIX}{combiner.method}) of {len(parts)} models: {methods}",
        seconds=time.perf_counter() - started,
        background=next((e.background for e in parts if e.background is not None), None),
    )


def _numeric(data: Any) -> np.ndarray:
    array = np.asarray(data)
    # Keep a float32 pipeline's dtype (a torch network's); anything else becomes float64.
    return array if array.dtype in (np.float32, np.float64) else array.astype(np.float64)


def _sampled_values(
    f: Callable[[np.ndarray], np.ndarray],
    Xt: np.ndarray,
    bt: np.ndarray,
    targets: Sequence[str],
    features: Sequence[str],
    *,
    samples: int,
    rng: np.random.Generator,
    progress: Progress | None,
) -> tuple[np.ndarray, float]:
    """The sampling estimate (module notes) on transformed rows; values per original feature."""
    # Groups: the original features first, then any column no feature claims (dropped at the end).
    groups = list(features) + sorted({t for t in targets if t not in set(features)})
    group_of_column = np.array([groups.index(t) for t in targets])
    d, n, p = len(groups), len(Xt), Xt.shape[1]
    paths = np.arange(samples)
    base_rows = bt[(paths // 2) % len(bt)]  # antithetic pairs share a background row
    f_base = f(base_rows)
    f_x = (
        np.concatenate([f(Xt[part]) for part in _batches(n, _EVALS_PER_CALL)]) if n else f_base[:0]
    )
    out = np.zeros((n, d))
    if d == 1:
        out[:, 0] = f_x - f_base.mean()
        return out[:, : len(features)], float(f_base.mean())
    rows_per_call = max(1, _EVALS_PER_CALL // (samples * (d - 1)))
    steps = np.arange(1, d)
    for part in _batches(n, rows_per_call):
        x = Xt[part]
        r = len(x)
        half = rng.permuted(np.broadcast_to(np.arange(d), (r, samples // 2, d)), axis=-1)
        order = np.empty((r, samples, d), dtype=np.intp)
        order[:, 0::2], order[:, 1::2] = half, half[..., ::-1]
        rank = np.empty_like(order)  # rank[i, s, g]: the step at which group g is swapped in
        np.put_along_axis(rank, order, np.arange(d), axis=-1)
        column_rank = rank[:, :, group_of_column]  # (r, samples, p)
        # Hybrid t of path s: the row's values for the groups swapped in before step t, else
        # the path's background row; hybrids 0 and d are the background row and the row itself.
        hybrid = np.where(
            column_rank[:, :, None, :] < steps[None, None, :, None],
            x[:, None, None, :],
            base_rows[None, :, None, :],
        )
        f_mid = f(hybrid.reshape(-1, p)).reshape(r, samples, d - 1)
        curve = np.concatenate(
            [
                np.broadcast_to(f_base[None, :, None], (r, samples, 1)),
                f_mid,
                np.broadcast_to(f_x[part][:, None, None], (r, samples, 1)),
            ],
            axis=2,
        )
        steps_gain = np.diff(curve, axis=2)  # gain of step t belongs to group order[..., t]
        gains = np.empty((r, samples, d))
        np.put_along_axis(gains, order, steps_gain, axis=-1)
        out[part] = gains.mean(axis=1)
        if progress is not None:
            progress(part.stop, n, f"rows explained (sampled SHAP, {samples} orderings per row)")
    return out[:, : len(features)], float(f_base.mean())


def top_reasons(explanation: Explanation, row: int, k: int = 5) -> list[Reason]:
    """The ``k`` features that moved row ``row``'s probability most, largest |contribution| first."""
    contributions = explanation.values[row]
    order = np.argsort(-np.abs(contributions), kind="stable")[:k]
    data = explanation.data.iloc[row]
    return [Reason(explanation.features[j], data.iloc[j], float(contributions[j])) for j in order]


def top_features(explanation: Explanation, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Every row's ``k`` largest pushes at once: feature indices and contributions, ``(rows, k)``,
    largest |contribution| first (ties: the earlier feature), as :func:`top_reasons` orders them."""
    order = np.argsort(-np.abs(explanation.values), axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(explanation.values, order, axis=1)
