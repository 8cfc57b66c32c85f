"""The API's inputs as the training code takes them: a validated table, and a split of it."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from uctune.data import LABEL, FeatureTable, validate_table
from uctune.errors import DataError
from uctune.training import SplitInfo

__all__ = ["as_table", "all_rows"]


def as_table(X: Any, y: Any, n_folds: int) -> FeatureTable:
    """``X`` (a DataFrame or an array) and ``y`` validated as one feature table."""
    frame = (
        X.copy()
        if isinstance(X, pd.DataFrame)
        else pd.DataFrame(np.asarray(X), columns=[f"x{i}" for i in range(np.asarray(X).shape[1])])
    )
    y_values = np.asarray(y).ravel()
    if len(y_values) != len(frame):
        raise DataError(f"X has {len(frame)} rows but y has {len(y_values)}")
    frame[LABEL] = y_values
    return validate_table(frame, min_rows_per_class=n_folds, source="the training data")


def all_rows(table: FeatureTable, seed: int) -> SplitInfo:
    """Every row for training, none held out: the API's callers keep their own test split."""
    return SplitInfo(
        method="stratified",
        test_size=0.0,
        seed=seed,
        train_index=np.arange(table.n_rows),
        test_index=np.empty(0, dtype=np.int64),
    )
