"""Training every model family in parallel on Ray: cross-validation, threshold, refit, holdout."""

from __future__ import annotations

from uctune.training._driver import (
    Backend,
    Progress,
    SplitInfo,
    TrainOutcome,
    make_split,
    train_families,
)
from uctune.training._fit import (
    FamilyResult,
    FitOutcome,
    assemble_family,
    fit_and_predict,
    positive_weight,
    tree_importance,
)

__all__ = [
    "Backend",
    "FamilyResult",
    "FitOutcome",
    "Progress",
    "SplitInfo",
    "TrainOutcome",
    "assemble_family",
    "fit_and_predict",
    "make_split",
    "positive_weight",
    "train_families",
    "tree_importance",
]
