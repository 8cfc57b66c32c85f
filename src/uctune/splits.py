"""Train/test splits and cross-validation folds: pure functions over scikit-learn's splitters."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold, StratifiedShuffleSplit

from uctune.errors import ConfigError, DataError

__all__ = ["SplitMethod", "stratified_split", "time_split", "split_indices", "cv_folds"]

SplitMethod = Literal["stratified", "time"]


def _check_test_size(test_size: float) -> None:
    if not 0.0 < test_size < 1.0:
        raise ConfigError(f"test_size must be strictly between 0 and 1, got {test_size}")


def stratified_split(
    y: np.ndarray, *, test_size: float = 0.2, random_state: int = 42
) -> tuple[np.ndarray, np.ndarray]:
    """The seed's split: a seeded, stratified ``test_size`` holdout. Returns sorted row indices."""
    _check_test_size(test_size)
    splitter = StratifiedShuffleSplit(n_splits=1, test_size=test_size, random_state=random_state)
    train, test = next(splitter.split(np.zeros(len(y)), y))
    return np.sort(train), np.sort(test)


def time_split(
    dates: pd.Series | np.ndarray, *, test_size: float = 0.2
) -> tuple[np.ndarray, np.ndarray]:
    """A time-ordered holdout: the latest results dates, about ``test_size`` of the rows.

    Rows sharing a date stay on the same side, so the test set starts strictly after the last
    training date.
    """
    _check_test_size(test_size)
    days = pd.to_datetime(pd.Series(np.asarray(dates))).to_numpy()
    unique, counts = np.unique(days, return_counts=True)
    if len(unique) < 2:
        raise DataError(f"a time-ordered split needs at least two results dates, got {len(unique)}")
    # The cut: the first date at which the rows on or after it reach test_size of the table.
    rows_from = np.cumsum(counts[::-1])[::-1]
    candidates = np.flatnonzero(rows_from <= test_size * len(days))
    cut_pos = int(candidates[0]) if len(candidates) else len(unique) - 1
    cut_pos = max(cut_pos, 1)
    test_mask = days >= unique[cut_pos]
    return np.flatnonzero(~test_mask), np.flatnonzero(test_mask)


def split_indices(
    method: SplitMethod,
    y: np.ndarray,
    dates: pd.Series | None = None,
    *,
    test_size: float = 0.2,
    random_state: int = 42,
) -> tuple[np.ndarray, np.ndarray]:
    """Dispatch on the split method named in a config."""
    if method == "stratified":
        return stratified_split(y, test_size=test_size, random_state=random_state)
    if method == "time":
        if dates is None:
            raise DataError("a time-ordered split needs the column 'announcement_date'")
        return time_split(dates, test_size=test_size)
    raise ConfigError(f"split method must be 'stratified' or 'time', got {method!r}")


def cv_folds(
    y: np.ndarray, *, n_splits: int = 5, random_state: int = 42
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified, shuffled k-fold cross-validation folds as (train, validation) index pairs."""
    if n_splits < 2:
        raise ConfigError(f"cross-validation needs at least 2 folds, got {n_splits}")
    counts = np.bincount(np.asarray(y, dtype=np.int64), minlength=2)
    if counts.min() < n_splits:
        raise DataError(
            f"class {int(counts.argmin())} has {int(counts.min())} training rows, fewer than the "
            f"{n_splits} cross-validation folds"
        )
    splitter = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=random_state)
    return list(splitter.split(np.zeros(len(y)), y))
