"""Training every model family in parallel on Ray: cross-validation, threshold, refit, holdout."""

from __future__ import annotations

from uctune.training._driver import (
    Backend,
    Progress,
    SplitInfo,
    TrainOutcome,
    cv_rows,
    make_split,
    train_families,
    training_folds,
)
from uctune.training._fit import (
    FamilyResult,
    FitOutcome,
    FoldPredictions,
    OutOfFold,
    assemble_family,
    fit_and_predict,
    fold_mean_std,
    holdout_scores,
    positive_weight,
    score_folds,
    tree_importance,
    with_calibration,
)
from uctune.training._settings import FitSettings

__all__ = [
    "Backend",
    "FamilyResult",
    "FitOutcome",
    "FitSettings",
    "FoldPredictions",
    "OutOfFold",
    "Progress",
    "SplitInfo",
    "TrainOutcome",
    "assemble_family",
    "cv_rows",
    "fit_and_predict",
    "fold_mean_std",
    "holdout_scores",
    "make_split",
    "positive_weight",
    "score_folds",
    "train_families",
    "training_folds",
    "tree_importance",
    "with_calibration",
]
