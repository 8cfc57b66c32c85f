"""Scoring new events with a registered model: probability, decision, confidence band, reasons.

The input must hold exactly the features the model was trained on (any order; the stored order is
restored), plus optionally the id columns and the label. Each row gets the probability of an upper
circuit, the decision at the model's stored threshold, the confidence band (p ≥ 0.9 high, 0.7–0.9
medium, 0.5–0.7 low), and the features that moved its probability most, as sentences:
``eps_qoq +45 % raised the probability by 0.12``.

Scoring is built for large tables: the SHAP values come from :func:`uctune.explain.explain_all`
(exact for the trees and the linear model, a bounded sampling estimate for other families; its
notes give the cost per row and the trade-off), and the reasons are chosen and written for all rows
at once, one numpy operation per feature rather than a Python loop per row.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from uctune.data.schema import ID_COLUMNS, LABEL, numeric_column
from uctune.errors import ConfigError, DataError
from uctune.explain import DEFAULT_SAMPLES, Explanation, Reason, explain_all, top_features
from uctune.metrics import confidence_bands, decision_threshold

__all__ = [
    "decision_threshold",
    "describe_reason",
    "format_value",
    "prepare_features",
    "reason_columns",
    "score",
]

logger = logging.getLogger(__name__)

_SHOWN = 8

# How a value of each embedded-dataset column reads to a person (data/README.md has the units).
_SIGNED_PERCENT = frozenset(
    {
        "revenue_qoq",
        "revenue_yoy",
        "pat_qoq",
        "pat_yoy",
        "eps_qoq",
        "eps_yoy",
        "price_change_1w",
        "dist_from_dma50",
        "season_q1_avg",
        "season_q2_avg",
        "season_q3_avg",
        "nifty_change_1d",
        "sector_change_1d",
    }
)
_PERCENT = frozenset({"opm", "npm", "vcp_contraction_depth", "circuit_band"})
_YES_NO = frozenset({"new_orders", "exceptional_items", "vcp_detected"})
_COUNTS = frozenset({"uc_count_6m", "vcp_stage"})
_TONE = {-1: "negative", 0: "neutral", 1: "positive"}


def _list(names: Sequence[str]) -> str:
    more = f", ... ({len(names)} in all)" if len(names) > _SHOWN else ""
    return ", ".join(names[:_SHOWN]) + more


def prepare_features(
    frame: pd.DataFrame,
    features: Sequence[str],
    categorical: Sequence[str] = (),
    *,
    source: str = "the input",
    model: str = "the model",
) -> pd.DataFrame:
    """The model's feature matrix from ``frame``: its columns in the stored order, numbers as
    floats, declared categoricals as categories. Missing or unexpected columns, text in a numeric
    column and infinities are :class:`~uctune.errors.DataError` s naming them."""
    if not features:
        raise ConfigError(f"{model} records no feature names, so input columns cannot be checked")
    columns = [str(c) for c in frame.columns]
    duplicated = sorted({c for c in columns if columns.count(c) > 1})
    if duplicated:
        raise DataError(f"{source} has duplicated columns: {_list(duplicated)}")
    missing = [f for f in features if f not in columns]
    if missing:
        raise DataError(
            f"{source} lacks {len(missing)} feature column(s) that {model} needs: {_list(missing)}"
        )
    allowed = set(features) | set(ID_COLUMNS) | {LABEL}
    extra = [c for c in columns if c not in allowed]
    if extra:
        raise DataError(
            f"{source} has column(s) {model} was not trained on: {_list(extra)}; remove them "
            f"(allowed besides the features: {', '.join((*ID_COLUMNS, LABEL))})"
        )
    if len(frame) == 0:
        raise DataError(f"{source} has no rows to score")
    X = pd.DataFrame(index=frame.index)
    for name in features:
        series = frame[name]
        if name in categorical:
            X[name] = series.astype("string").astype("category")
            continue
        values, bad, n_inf = numeric_column(series)
        if len(bad):
            shown = ", ".join(repr(v) for v in list(bad.astype(str).unique())[:5])
            raise DataError(f"feature column {name!r} of {source} must be numeric, got {shown}")
        if n_inf:
            raise DataError(
                f"feature column {name!r} of {source} holds {n_inf} infinite value(s); "
                "use an empty cell for a missing value"
            )
        X[name] = values
    return X.reset_index(drop=True)


def format_value(feature: str, value: Any) -> str:
    """A feature's value as a person reads it: ``+45 %``, ``yes``, ``Q3``, ``₹2,010 cr``."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return "missing"
    if isinstance(value, str) or not isinstance(value, int | float | np.number):
        return str(value)
    v = float(value)
    if feature in _SIGNED_PERCENT:
        return f"{v:+.0f} %" if abs(v) >= 10 else f"{v:+.1f} %"
    if feature in _PERCENT:
        return f"{v:.0f} %" if v.is_integer() else f"{v:.1f} %"
    if feature in _YES_NO:
        return "yes" if v >= 0.5 else "no"
    if feature in _COUNTS:
        return f"{v:.0f}"
    if feature == "guidance_tone":
        return _TONE.get(round(v), f"{v:g}")
    if feature == "fiscal_quarter":
        return f"Q{v:.0f}"
    if feature == "log_market_cap":
        return f"₹{math.exp(v):,.0f} cr"
    if feature == "volume_spike":
        return f"{v:.1f}x"
    if feature == "rsi_14":
        return f"{v:.0f}"
    return f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}"


def describe_reason(reason: Reason) -> str:
    """``eps_qoq +45 % raised the probability by 0.12``."""
    size = abs(reason.contribution)
    amount = f"{size:.2f}" if size >= 0.0095 else f"{size:.3f}"  # never "0.010"
    value = format_value(reason.feature, reason.value)
    if size < 0.0005:
        return f"{reason.feature} {value} barely moved the probability"
    verb = "raised" if reason.contribution > 0 else "lowered"
    return f"{reason.feature} {value} {verb} the probability by {amount}"


def _formatted(spec: str, values: Any) -> np.ndarray:
    """``spec.format(v)`` of each value, by ``map`` in C (no Python loop; the same text as the
    f-strings of :func:`format_value`, which numpy's %-formatting could not promise)."""
    return np.array(list(map(spec.format, np.asarray(values).tolist())), dtype=object)


def _format_numbers(feature: str, v: np.ndarray) -> np.ndarray:
    """:func:`format_value` of many non-missing numbers of one feature, string for string."""
    out = np.empty(len(v), dtype=object)

    def put(where: np.ndarray, spec: str, values: np.ndarray | None = None) -> None:
        if where.any():
            out[where] = _formatted(spec, (v if values is None else values)[where])

    if feature in _SIGNED_PERCENT:
        large = np.abs(v) >= 10
        put(large, "{:+.0f} %")
        put(~large, "{:+.1f} %")
    elif feature in _PERCENT:
        whole = np.floor(v) == v
        put(whole, "{:.0f} %")
        put(~whole, "{:.1f} %")
    elif feature in _YES_NO:
        out[:] = np.where(v >= 0.5, "yes", "no")
    elif feature in _COUNTS or feature == "rsi_14":
        out[:] = _formatted("{:.0f}", v)
    elif feature == "guidance_tone":
        tone = np.round(v)  # Python's round(): half to even, as np.round
        named = np.isin(tone, list(_TONE))
        out[named] = [_TONE[int(t)] for t in tone[named]]  # three names, looked up by value
        put(~named, "{:g}")
    elif feature == "fiscal_quarter":
        out[:] = _formatted("Q{:.0f}", v)
    elif feature == "volume_spike":
        out[:] = _formatted("{:.1f}x", v)
    elif feature == "log_market_cap":
        out[:] = _formatted("₹{:,.0f} cr", list(map(math.exp, v.tolist())))
    else:
        large = np.abs(v) >= 1000
        put(~large, "{:.3g}")
        put(large, "{:,.0f}")
    return out


def _format_values(feature: str, values: pd.Series) -> np.ndarray:
    """:func:`format_value` of many values of one feature (object array of str)."""
    out = np.full(len(values), "missing", dtype=object)
    missing = values.isna().to_numpy()
    present = values[~missing]
    if not len(present):
        return out
    if pd.api.types.is_numeric_dtype(present.dtype) and not pd.api.types.is_bool_dtype(
        present.dtype
    ):
        out[~missing] = _format_numbers(feature, present.to_numpy(dtype=float))
    else:  # categories (and any other non-numbers) read as their text
        out[~missing] = present.astype(str).to_numpy(dtype=object)
    return out


def reason_columns(explanation: Explanation, k: int) -> list[np.ndarray]:
    """The ``k`` reason texts of every row (one array per rank), as :func:`describe_reason` of
    :func:`~uctune.explain.top_reasons` writes them, built for all rows at once."""
    order, contributions = top_features(explanation, k)
    values = np.empty(order.shape, dtype=object)
    for j, feature in enumerate(explanation.features):  # a loop over features, not rows
        where = order == j
        if where.any():
            rows = np.nonzero(where)[0]
            values[where] = _format_values(str(feature), explanation.data.iloc[rows, j])
    names = np.array([str(f) for f in explanation.features], dtype=object)[order]
    size = np.abs(contributions)
    texts = np.empty(order.shape, dtype=object)
    still = size < 0.0005
    texts[still] = list(
        map("{} {} barely moved the probability".format, names[still], values[still])
    )
    moved = ~still
    cents = size[moved] >= 0.0095  # never "0.010"
    amount = np.where(cents, _formatted("{:.2f}", size[moved]), _formatted("{:.3f}", size[moved]))
    verb = np.where(contributions[moved] > 0, "raised", "lowered")
    texts[moved] = list(
        map("{} {} {} the probability by {}".format, names[moved], values[moved], verb, amount)
    )
    return [texts[:, i] for i in range(order.shape[1])]


def score(
    model: Any,
    frame: pd.DataFrame,
    *,
    features: Sequence[str],
    categorical: Sequence[str] = (),
    threshold: float | None = None,
    reasons: int = 5,
    background: pd.DataFrame | None = None,
    source: str = "the input",
    model_label: str = "the model",
    samples: int = DEFAULT_SAMPLES,
    progress: Callable[[int, int, str], None] | None = None,
) -> pd.DataFrame:
    """Score ``frame``: its id columns (or ``row``), ``probability``, ``decision`` (1 when the
    probability reaches ``threshold``, default the model's own or 0.5), ``confidence`` and
    ``reason_1``..``reason_k`` (the SHAP contributions largest first; ``reasons=0`` for none).

    ``samples`` bounds the sampling estimate's cost for families without an exact explainer (see
    :func:`uctune.explain.explain_all`); ``progress(done_rows, total_rows, what)`` follows SHAP."""
    if reasons < 0:
        raise ConfigError(f"the number of reasons must be 0 or more, got {reasons}")
    if samples < 2 or samples % 2:
        raise ConfigError(
            f"SHAP samples per row must be an even number of at least 2, got {samples}"
        )
    X = prepare_features(frame, features, categorical, source=source, model=model_label)
    if threshold is None:
        threshold = decision_threshold(model)
    proba = np.asarray(model.predict_proba(X), dtype=float)[:, 1]
    ids = [c for c in ID_COLUMNS if c in frame.columns]
    out = (
        frame[ids].reset_index(drop=True).copy()
        if ids
        else pd.DataFrame({"row": np.arange(1, len(X) + 1)})
    )
    out["probability"] = proba
    out["decision"] = (proba >= threshold).astype(np.int64)
    out["confidence"] = confidence_bands(proba)
    if reasons:
        bg = None
        if background is not None and len(background):
            bg = prepare_features(
                background, features, categorical, source="the stored background rows"
            )
        else:
            logger.info("no background rows stored with %s; using the input rows", model_label)
        explanation = explain_all(model, X, background=bg, samples=samples, progress=progress)
        k = min(reasons, len(features))
        for j, texts in enumerate(reason_columns(explanation, k)):
            out[f"reason_{j + 1}"] = texts
    return out
