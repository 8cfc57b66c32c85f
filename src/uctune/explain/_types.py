"""What an explanation is: per-row values in probability units, and the helpers every explainer shares."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

__all__ = [
    "DEFAULT_SAMPLES",
    "Explanation",
    "Output",
    "Progress",
    "Reason",
    "batches",
    "finish",
    "sigmoid",
    "take_rows",
    "to_probability",
]

Output = Literal["log_odds", "probability"]


Progress = Callable[[int, int, str], None]


DEFAULT_SAMPLES = 32


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


def sigmoid(z: np.ndarray | float) -> Any:
    return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=float)))


def to_probability(raw: np.ndarray, raw_base: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Share each row's probability change among its log-odds contributions."""
    margin = raw_base + raw.sum(axis=1)
    p = sigmoid(margin)
    p_base = np.full(len(raw), float(sigmoid(raw_base)))
    delta_logit = margin - raw_base
    delta_p = p - p_base
    slope = p * (1 - p)  # the derivative, for rows whose log-odds barely moved
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(np.abs(delta_logit) > 1e-9, delta_p / delta_logit, slope)
    return raw * scale[:, None], p_base, p


def batches(n: int, size: int) -> list[slice]:
    return [slice(start, min(start + size, n)) for start in range(0, n, size)]


def take_rows(data: Any, part: slice) -> Any:
    return data.iloc[part] if isinstance(data, pd.DataFrame) else data[part]


def finish(
    raw: np.ndarray,
    raw_base: float,
    raw_output: Output,
    X: pd.DataFrame,
    method: str,
    started: float,
    background: pd.DataFrame | None,
) -> Explanation:
    if raw_output == "log_odds":
        values, p_base, p = to_probability(raw, raw_base)
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
