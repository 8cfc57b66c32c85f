"""Train/test splits and cross-validation folds: pure functions over scikit-learn's splitters,
and :class:`WalkForwardCV`, a splitter for dated rows that never validates on the past."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.model_selection import BaseCrossValidator, StratifiedKFold, StratifiedShuffleSplit

from uctune.errors import ConfigError, DataError
from uctune.metrics import ThresholdFrom

__all__ = [
    "CVMethod",
    "CVScheme",
    "SplitMethod",
    "WalkForwardCV",
    "stratified_split",
    "time_split",
    "split_indices",
    "cv_folds",
]

SplitMethod = Literal["stratified", "time"]
CVMethod = Literal["stratified", "walk_forward"]
_CV_METHODS: tuple[str, ...] = ("stratified", "walk_forward")


def _check_test_size(test_size: float) -> None:
    if not 0.0 < test_size < 1.0:
        raise ConfigError(f"test_size must be strictly between 0 and 1, got {test_size}")


def stratified_split(
    y: np.ndarray, *, test_size: float = 0.2, random_state: int = 42
) -> tuple[np.ndarray, np.ndarray]:
    """A seeded, stratified ``test_size`` holdout (80/20 by default). Returns sorted row indices."""
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


def _as_days(dates: Any) -> np.ndarray:
    values = pd.to_datetime(pd.Series(np.asarray(dates)), errors="coerce")
    if values.isna().any():
        bad = pd.Series(np.asarray(dates))[values.isna()].astype(str).unique()[:3]
        raise DataError(f"walk-forward CV needs a date on every row, got {list(bad)}")
    return values.dt.normalize().to_numpy()


class WalkForwardCV(BaseCrossValidator):
    """Walk-forward cross-validation over dated rows (scikit-learn's splitter API).

    The distinct dates, in order, are cut into ``n_splits + 1`` consecutive blocks of about equal
    rows; fold ``k`` validates on block ``k + 1`` and trains on every row dated before it, except
    the last ``embargo`` sessions (distinct dates in the data) before the block. Rows sharing a
    date are never split. With ``groups`` (e.g. the symbol), training rows whose group appears in
    the validation block are dropped too. ``dates`` are the rows' dates, in the order of the ``X``
    that :meth:`split` receives.
    """

    def __init__(self, n_splits: int = 5, *, dates: Any, embargo: int = 0) -> None:
        self.n_splits = n_splits
        self.dates = dates
        self.embargo = embargo

    def __repr__(self) -> str:
        return f"WalkForwardCV(n_splits={self.n_splits}, embargo={self.embargo})"

    def get_n_splits(self, X: Any = None, y: Any = None, groups: Any = None) -> int:
        return int(self.n_splits)

    def _check(self) -> None:
        if not isinstance(self.n_splits, int | np.integer) or self.n_splits < 2:
            raise ConfigError(f"walk-forward CV needs at least 2 folds, got {self.n_splits!r}")
        if not isinstance(self.embargo, int | np.integer) or self.embargo < 0:
            raise ConfigError(
                f"the walk-forward embargo must be a whole number of sessions >= 0, "
                f"got {self.embargo!r}"
            )

    def block_starts(self, days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(the distinct dates, the position among them where each validation block starts)."""
        self._check()
        unique, counts = np.unique(days, return_counts=True)
        k, m, embargo = int(self.n_splits), len(unique), int(self.embargo)
        need = k + 1 + embargo
        if m < need:
            raise DataError(
                f"walk-forward CV with {k} folds and an embargo of {embargo} sessions needs at "
                f"least {need} distinct dates, got {m}"
            )
        # Cut where the cumulative row count passes each multiple of rows/(k+1); then make the
        # cuts strictly increasing, leave the first block embargo+1 dates, the last ones one each.
        cumulative = np.cumsum(counts)
        targets = cumulative[-1] * np.arange(1, k + 1) / (k + 1)
        starts = np.searchsorted(cumulative, targets, side="left") + 1
        starts[0] = max(starts[0], embargo + 1)
        for i in range(1, k):
            starts[i] = max(starts[i], starts[i - 1] + 1)
        starts[-1] = min(starts[-1], m - 1)
        for i in range(k - 2, -1, -1):
            starts[i] = min(starts[i], starts[i + 1] - 1)
        return unique, starts

    def split(
        self, X: Any, y: Any = None, groups: Any = None
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(train, validation)`` row positions, one pair per fold, in time order."""
        n = len(X)
        days = _as_days(self.dates)
        if len(days) != n:
            raise DataError(f"walk-forward CV was given {len(days)} dates for {n} rows")
        group_values = None
        if groups is not None:
            group_values = np.asarray(groups)
            if len(group_values) != n:
                raise DataError(
                    f"walk-forward CV was given {len(group_values)} groups for {n} rows"
                )
        unique, starts = self.block_starts(days)
        position = np.searchsorted(unique, days)
        ends = [*starts[1:], len(unique)]
        for fold, (start, end) in enumerate(zip(starts, ends, strict=True)):
            validation = np.flatnonzero((position >= start) & (position < end))
            train = np.flatnonzero(position < start - int(self.embargo))
            if group_values is not None:
                train = train[~np.isin(group_values[train], group_values[validation])]
                if not len(train):
                    raise DataError(
                        f"walk-forward fold {fold + 1} has no training rows left once the groups "
                        "of its validation block are removed from it"
                    )
            yield train, validation

    def _iter_test_indices(
        self, X: Any = None, y: Any = None, groups: Any = None
    ) -> Iterator[np.ndarray]:
        for _, validation in self.split(X, y, groups):
            yield validation


@dataclass(frozen=True, kw_only=True)
class CVScheme:
    """How cross-validation folds are drawn: a stratified, shuffled k-fold, or
    :class:`WalkForwardCV` (``embargo`` sessions; ``group_by_symbol`` keeps a symbol out of the
    training rows of a fold that validates on it). Checked on creation."""

    method: CVMethod = "stratified"
    embargo: int = 0
    group_by_symbol: bool = False

    def __post_init__(self) -> None:
        if self.method not in _CV_METHODS:
            raise ConfigError(
                f"cv method must be 'stratified' or 'walk_forward', got {self.method!r}"
            )
        if not isinstance(self.embargo, int) or self.embargo < 0:
            raise ConfigError(
                f"the walk-forward embargo must be a whole number of sessions >= 0, "
                f"got {self.embargo!r}"
            )
        if self.method == "stratified" and (self.embargo or self.group_by_symbol):
            raise ConfigError(
                "an embargo and grouping by symbol apply to walk_forward CV only, got "
                f"embargo {self.embargo} and group_by_symbol {self.group_by_symbol} with "
                "stratified CV"
            )

    @property
    def temporal(self) -> bool:
        """Whether a fold's threshold may come only from earlier folds (the later ones are the
        future)."""
        return self.method == "walk_forward"

    @property
    def threshold_from(self) -> ThresholdFrom:
        return "earlier_folds" if self.temporal else "other_folds"

    def folds(
        self,
        y: np.ndarray,
        *,
        n_splits: int,
        random_state: int,
        dates: Any = None,
        groups: Any = None,
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """The (train, validation) row positions of every fold over these rows."""
        if self.method == "stratified":
            return cv_folds(y, n_splits=n_splits, random_state=random_state)
        if dates is None:
            raise DataError("walk-forward CV needs the rows' dates, got none")
        if self.group_by_symbol and groups is None:
            raise DataError("walk-forward CV grouped by symbol needs the rows' symbols, got none")
        splitter = WalkForwardCV(n_splits, dates=dates, embargo=self.embargo)
        return list(splitter.split(np.zeros(len(y)), y, groups if self.group_by_symbol else None))

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "embargo": self.embargo,
            "group_by_symbol": self.group_by_symbol,
            "threshold_from": self.threshold_from,
        }
