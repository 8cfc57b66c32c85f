"""Explaining composed models layer by layer (a calibration map, an ensemble of members, a bag), and the
bounded sampling estimate for models no exact explainer reads."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from uctune.ensemble import Combiner
from uctune.explain._tree import layer
from uctune.explain._types import Explanation, Progress, batches, sigmoid
from uctune.models import CalibratedClassifier, EnsembleClassifier

__all__ = [
    "composed",
    "numeric",
    "sampled_values",
]

_ENSEMBLE_PREFIX = "ensemble ("


# Half-width of the step that measures a calibration map's slope where a row's probability barely
# moved from the base.
_SLOPE_STEP = 1e-4


# Model rows per predict_proba call in the sampling estimate (a few MB of hybrid rows).
_EVALS_PER_CALL = 60_000


def composed(
    model: Any,
    leaf: Callable[[Any], Explanation],
    members: Mapping[str, Explanation] | None = None,
    rows: pd.DataFrame | None = None,
) -> Explanation:
    """Explain ``model`` layer by layer: a calibrated model as its estimator's explanation mapped
    through the calibration, an ensemble as its members' explanations combined (a member's given
    explanation of the same rows reused), anything else by ``leaf``."""
    inner = layer(model)
    if isinstance(inner, CalibratedClassifier):
        return _calibrated(composed(inner.estimator_, leaf, members, rows), inner)
    if isinstance(inner, EnsembleClassifier):
        known = members or {}
        parts, spent = [], 0.0
        for name, member in inner.members_:
            given = known.get(name)
            if given is not None and rows is not None and _explains(given, member, rows):
                parts.append(given)
            else:
                parts.append(composed(member, leaf, members, rows))
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
        p, base = sigmoid(margin), sigmoid(z_base)
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


def numeric(data: Any) -> np.ndarray:
    array = np.asarray(data)
    # Keep a float32 pipeline's dtype (a torch network's); anything else becomes float64.
    return array if array.dtype in (np.float32, np.float64) else array.astype(np.float64)


def sampled_values(
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
    f_x = np.concatenate([f(Xt[part]) for part in batches(n, _EVALS_PER_CALL)]) if n else f_base[:0]
    out = np.zeros((n, d))
    if d == 1:
        out[:, 0] = f_x - f_base.mean()
        return out[:, : len(features)], float(f_base.mean())
    rows_per_call = max(1, _EVALS_PER_CALL // (samples * (d - 1)))
    steps = np.arange(1, d)
    for part in batches(n, rows_per_call):
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
