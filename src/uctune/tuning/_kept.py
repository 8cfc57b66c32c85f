"""The fold predictions of trials that ran every fold, kept for the refit.

A trial that completes all its folds has computed what the refit's cross-validation would compute
again: the same params fitted on the same folds with the same seed, through the same code
(:func:`uctune.training.fit_and_predict`). It hands its folds' predictions to a small actor that the
driver starts for the search (it takes no CPU from the trials), which keeps the best few trials'
per family and the defaults'. The refit of the picked trial then fits only the final model on all
training rows. A trial finished in an earlier, interrupted session left nothing here: its refit
fits its folds as before.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from uctune.training import FoldPredictions

__all__ = ["KEPT_PER_FAMILY", "start_keeper", "take_kept"]

logger = logging.getLogger(__name__)

KEPT_PER_FAMILY = 4
"""Trials kept per family besides the defaults': the picked trial is the top one or the defaults."""


class _Keeper:
    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._kept: dict[tuple[str, int], tuple[float, bool, FoldPredictions]] = {}

    def add(
        self, family: str, trial: int, score: float, defaults: bool, predictions: FoldPredictions
    ) -> None:
        self._kept[(family, trial)] = (score, defaults, predictions)
        ranked = sorted(
            (
                (s if s == s else float("-inf"), n)  # a NaN score ranks last
                for (f, n), (s, d, _) in self._kept.items()
                if f == family and not d
            ),
            reverse=True,
        )
        for _, number in ranked[self._limit :]:
            del self._kept[(family, number)]

    def take(self, keys: list[tuple[str, int]]) -> dict[tuple[str, int], FoldPredictions]:
        return {k: self._kept[k][2] for k in keys if k in self._kept}


def start_keeper(limit: int = KEPT_PER_FAMILY) -> Any:
    """A new keeper actor (no CPU of its own) on the driver's node: a worker node that dies takes
    its own trials with it, not what the others kept."""
    here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
    keeper: Any = ray.remote(num_cpus=0)(_Keeper).options(scheduling_strategy=here).remote(limit)
    # Up before the trials: a raylet starts its worker processes one at a time, and a keeper still
    # starting would hold back the first trial actor of the driver's node.
    ray.get(keeper.__ray_ready__.remote())
    return keeper


def take_kept(
    keeper: Any, keys: Iterable[tuple[str, int]]
) -> dict[tuple[str, int], FoldPredictions]:
    """The kept predictions of the ``(family, trial)`` keys that have some; none when the keeper
    was lost (the refits then fit their folds)."""
    try:
        return dict(ray.get(keeper.take.remote(list(keys))))
    except ray.exceptions.RayError as exc:
        logger.warning("the trials' fold predictions were lost (%s); refits fit their folds", exc)
        return {}
