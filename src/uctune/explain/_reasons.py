"""The reasons a prediction gives: each row's largest pushes, and the features that push most overall."""

from __future__ import annotations

import numpy as np

from uctune.explain._types import Explanation, Reason

__all__ = [
    "top_features",
    "top_reasons",
]


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
