"""The fidelity schedule of a trial: cheap looks at a configuration before its full CV.

With ``fidelity="folds"`` a trial is its k-fold CV, reported after every fold, and ASHA compares
trials at fold milestones. With ``fidelity="rows"`` a trial first fits the first fold on a
stratified subsample of its training rows, ``1/rf**K`` of them, then ``1/rf**(K-1)``, ..., with the
boosting rounds (or trees) one rung ahead of the rows (``rf`` times the rows' fraction, at most
all), before the full folds. Each step reports its score and the budget spent so far, in units of
the smallest step (one full fold is ``rf**K`` units), so ASHA's milestones (``rf**k`` units) fall on
the steps: with ``rf=3`` and ``K=2``, trials are compared after 1/9 of a fold's rows, after 1/3,
after the first full fold and after the third. A configuration that looks bad on 1/9 of the rows
costs about a ninth of a fold instead of one fold or more.

The full folds are exactly the folds of ``fidelity="folds"``: a trial that runs to the end has the
same CV score either way, and only full-fidelity scores are ever compared with a finished trial's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np

from uctune.errors import ConfigError

__all__ = [
    "AUTO_MIN_ROWS",
    "FIDELITIES",
    "Fidelity",
    "FidelityChoice",
    "Step",
    "fidelity_schedule",
    "scaled_params",
    "subsample",
]

FidelityChoice = Literal["auto", "folds", "rows"]
FIDELITIES: tuple[str, ...] = get_args(FidelityChoice)

AUTO_MIN_ROWS = 20_000
"""Training rows in the first fold from which ``auto`` looks at subsamples first (below it a fold
is cheap, and a subsample's score is mostly noise)."""

MIN_ROWS_FRACTION = 0.1
"""The smallest subsample is at least this share of a fold's training rows (1/9 with ``rf=3``)."""

MIN_STEP_ROWS = 200
MIN_STEP_POSITIVES = 20
"""Rows and positives the smallest subsample must hold, or the schedule has fewer row steps."""

ROUNDS_PARAMS: Mapping[str, str] = {
    "random_forest": "n_estimators",
    "xgboost": "n_estimators",
    "lightgbm": "n_estimators",
}
"""The parameter each family's rounds fidelity scales (trees or boosting rounds). The network stops
early on its own validation slice; logistic regression has nothing to scale."""


@dataclass(frozen=True)
class Step:
    """One fit of a trial: ``fold`` (its index), the share of that fold's training ``rows`` and of
    the family's ``rounds``, and the ``budget`` (ASHA's time) reached when it has been scored."""

    fold: int
    rows: float
    rounds: float
    budget: int

    @property
    def full(self) -> bool:
        return self.rows == 1.0 and self.rounds == 1.0


@dataclass(frozen=True)
class Fidelity:
    """A trial's steps: ``row_steps`` subsamples of the first fold (``1/rf**row_steps`` of its
    rows first), then the ``n_folds`` full folds."""

    n_folds: int
    reduction_factor: int
    row_steps: int = 0

    def __post_init__(self) -> None:
        if self.n_folds < 1 or self.reduction_factor < 2 or self.row_steps < 0:
            raise ValueError(f"invalid fidelity {self!r}")

    @property
    def unit(self) -> int:
        """Budget units in one full fold."""
        return int(self.reduction_factor**self.row_steps)

    @property
    def max_budget(self) -> int:
        return self.n_folds * self.unit

    @property
    def kind(self) -> Literal["folds", "rows"]:
        return "rows" if self.row_steps else "folds"

    def steps(self) -> tuple[Step, ...]:
        rf, k = self.reduction_factor, self.row_steps
        low = tuple(
            Step(0, rows=rf**-j, rounds=min(1.0, rf ** (1 - j)), budget=rf ** (k - j))
            for j in range(k, 0, -1)
        )
        full = tuple(Step(f, 1.0, 1.0, (f + 1) * self.unit) for f in range(self.n_folds))
        return low + full

    def to_dict(self) -> dict[str, Any]:
        steps = self.steps()[: self.row_steps]
        return {
            "kind": self.kind,
            "reduction_factor": self.reduction_factor,
            "rows": [s.rows for s in steps],
            "rounds": [s.rounds for s in steps],
            "unit": self.unit,
        }


def fidelity_schedule(
    choice: FidelityChoice,
    *,
    n_folds: int,
    reduction_factor: int,
    train_rows: int,
    train_positives: int,
) -> Fidelity:
    """The schedule for ``choice`` given the first fold's training rows and positives.

    ``rows`` takes as many subsample steps as keep the smallest at least ``MIN_ROWS_FRACTION`` of
    the rows, ``MIN_STEP_ROWS`` rows and ``MIN_STEP_POSITIVES`` positives; it is an error when
    not even one fits. ``auto`` is ``rows`` from ``AUTO_MIN_ROWS`` training rows (when a step
    fits), else ``folds``.
    """
    if choice not in FIDELITIES:
        raise ConfigError(f"fidelity must be one of {', '.join(FIDELITIES)}, got {choice!r}")
    steps = 0
    if choice != "folds":
        while True:
            fraction = float(reduction_factor) ** -(steps + 1)
            if (
                fraction < MIN_ROWS_FRACTION * (1 - 1e-9)
                or fraction * train_rows < MIN_STEP_ROWS
                or fraction * train_positives < MIN_STEP_POSITIVES
            ):
                break
            steps += 1
        if choice == "rows" and not steps:
            raise ConfigError(
                f"fidelity 'rows' needs a first fold of at least "
                f"{MIN_STEP_ROWS * reduction_factor} training rows with "
                f"{MIN_STEP_POSITIVES * reduction_factor} positives, "
                f"got {train_rows} rows with {train_positives}"
            )
        if choice == "auto" and train_rows < AUTO_MIN_ROWS:
            steps = 0
    return Fidelity(n_folds=n_folds, reduction_factor=reduction_factor, row_steps=steps)


def subsample(index: np.ndarray, y: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """A stratified share ``fraction`` of the rows ``index`` (labels ``y[index]``), in their order.

    The shares are nested: for one ``seed``, a smaller fraction's rows are among a larger one's.
    """
    if fraction >= 1.0:
        return index
    labels = y[index]
    rng = np.random.default_rng(seed)
    kept: list[np.ndarray] = []
    for value in np.unique(labels):
        members = np.flatnonzero(labels == value)
        order = rng.permutation(len(members))
        kept.append(members[order[: max(1, math.ceil(fraction * len(members)))]])
    return index[np.sort(np.concatenate(kept))]


def scaled_params(family: str, params: Mapping[str, Any], rounds: float) -> dict[str, Any]:
    """``params`` with the family's rounds parameter scaled by ``rounds`` (at least 1)."""
    out = dict(params)
    name = ROUNDS_PARAMS.get(family)
    if name is not None and rounds < 1.0 and name in out:
        out[name] = max(1, round(int(out[name]) * rounds))
    return out
