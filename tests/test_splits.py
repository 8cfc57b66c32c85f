from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score

from uctune.errors import ConfigError, DataError
from uctune.splits import (
    CVScheme,
    WalkForwardCV,
    cv_folds,
    split_indices,
    stratified_split,
    time_split,
)


@pytest.fixture(scope="module")
def labels() -> np.ndarray:
    rng = np.random.default_rng(0)
    return (rng.random(1000) < 0.07).astype(int)


def test_stratified_split_is_disjoint_complete_and_stratified(labels):
    train, test = stratified_split(labels, test_size=0.2, random_state=1)
    assert len(np.intersect1d(train, test)) == 0
    assert np.array_equal(np.sort(np.concatenate([train, test])), np.arange(len(labels)))
    assert len(test) == 200
    assert abs(labels[train].mean() - labels.mean()) < 0.005
    assert abs(labels[test].mean() - labels.mean()) < 0.005


def test_stratified_split_is_seeded(labels):
    a = stratified_split(labels, random_state=1)
    b = stratified_split(labels, random_state=1)
    c = stratified_split(labels, random_state=2)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[1], c[1])


def test_time_split_puts_the_latest_dates_in_test():
    dates = pd.Series(
        pd.to_datetime(["2024-01-01"] * 30 + ["2024-02-01"] * 50 + ["2024-03-01"] * 20)
    )
    train, test = time_split(
        dates.sample(frac=1, random_state=0).reset_index(drop=True), test_size=0.2
    )
    shuffled = dates.sample(frac=1, random_state=0).reset_index(drop=True)
    assert shuffled.iloc[train].max() < shuffled.iloc[test].min()
    assert len(test) == 20
    assert len(np.intersect1d(train, test)) == 0


def test_time_split_never_splits_a_date():
    dates = pd.Series(pd.to_datetime(["2024-01-01"] * 50 + ["2024-02-01"] * 50))
    train, test = time_split(dates, test_size=0.2)
    assert len(test) == 50 and len(train) == 50


def test_time_split_needs_two_dates():
    with pytest.raises(DataError, match="at least two results dates, got 1"):
        time_split(pd.Series(pd.to_datetime(["2024-01-01"] * 10)))


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.1, 1.5])
def test_test_size_must_be_a_fraction(labels, bad):
    with pytest.raises(ConfigError, match=f"strictly between 0 and 1, got {bad}"):
        stratified_split(labels, test_size=bad)


def test_unknown_method(labels):
    with pytest.raises(ConfigError, match="'stratified' or 'time', got 'random'"):
        split_indices("random", labels)  # type: ignore[arg-type]


def test_cv_folds_partition_and_stratify(labels):
    folds = cv_folds(labels, n_splits=5, random_state=0)
    assert len(folds) == 5
    val = np.concatenate([v for _, v in folds])
    assert np.array_equal(np.sort(val), np.arange(len(labels)))
    for tr, va in folds:
        assert len(np.intersect1d(tr, va)) == 0
        assert abs(labels[va].mean() - labels.mean()) < 0.01


def test_cv_folds_need_enough_rows_per_class():
    y = np.array([1, 1, 0, 0, 0, 0, 0, 0])
    with pytest.raises(DataError, match="class 1 has 2 training rows, fewer than the 5"):
        cv_folds(y, n_splits=5)
    with pytest.raises(ConfigError, match="at least 2 folds, got 1"):
        cv_folds(y, n_splits=1)


# -- walk-forward CV ------------------------------------------------------------------------------
def _dated(seed: int, n_dates: int = 40, symbols: int = 15):
    """Rows on irregular dates (1-6 rows each, gaps between dates), with symbols."""
    rng = np.random.default_rng(seed)
    days = np.cumsum(rng.integers(1, 4, size=n_dates))
    dates = pd.Timestamp("2024-01-01") + pd.to_timedelta(
        np.repeat(days, rng.integers(1, 7, n_dates)), "D"
    )
    order = rng.permutation(len(dates))  # rows need not come sorted
    dates = dates[order]
    return dates.to_numpy(), rng.integers(0, symbols, size=len(dates))


CASES = [(3, 0), (5, 0), (4, 2), (2, 5)]


@pytest.mark.parametrize(("n_splits", "embargo"), CASES)
@pytest.mark.parametrize("seed", [0, 1])
def test_validation_follows_training_after_the_embargo_and_dates_stay_whole(
    seed, n_splits, embargo
):
    dates, _ = _dated(seed)
    sessions = np.unique(dates)
    cv = WalkForwardCV(n_splits, dates=dates, embargo=embargo)
    folds = list(cv.split(np.zeros((len(dates), 1))))
    assert len(folds) == cv.get_n_splits() == n_splits
    previous_end = None
    for train, val in folds:
        assert len(train) and len(val) and not set(train) & set(val)
        first_val, last_train = dates[val].min(), dates[train].max()
        # No validation date precedes (or equals) a training date ...
        assert first_val > last_train
        # ... and exactly `embargo` sessions of the data lie between them.
        assert ((sessions > last_train) & (sessions < first_val)).sum() == embargo
        # Whole dates: every row of a validation date is validated; of a training date, trained.
        assert set(np.flatnonzero(np.isin(dates, dates[val]))) == set(val)
        assert set(np.flatnonzero(np.isin(dates, dates[train]))) == set(train)
        # Expanding window: training is every row before the embargo.
        assert set(train) == set(np.flatnonzero(dates <= last_train))
        if previous_end is not None:  # blocks follow each other, in time order
            assert first_val > previous_end
            between = (sessions > previous_end) & (sessions < first_val)
            assert not between.any()
        previous_end = dates[val].max()
    assert previous_end == sessions[-1]


def test_blocks_hold_about_equal_rows():
    dates = np.repeat(pd.date_range("2024-01-01", periods=60).to_numpy(), 5)
    sizes = [len(v) for _, v in WalkForwardCV(5, dates=dates).split(dates)]
    assert sizes == [50] * 5


def test_groups_never_in_both_training_and_validation():
    dates, symbols = _dated(3, n_dates=60, symbols=40)
    cv = WalkForwardCV(3, dates=dates, embargo=1)
    for (train, val), (plain, _) in zip(
        cv.split(dates, groups=symbols), cv.split(dates), strict=True
    ):
        assert not set(symbols[train]) & set(symbols[val])
        assert set(train) <= set(plain)


def test_scikit_learn_takes_it_as_any_splitter():
    rng = np.random.default_rng(0)
    dates = np.repeat(pd.date_range("2024-01-01", periods=30).to_numpy(), 10)
    X = rng.normal(size=(300, 3))
    y = (X[:, 0] + rng.normal(size=300) > 0).astype(int)
    scores = cross_val_score(LogisticRegression(), X, y, cv=WalkForwardCV(4, dates=dates))
    assert len(scores) == 4 and np.all(scores > 0.6)
    assert repr(WalkForwardCV(4, dates=dates, embargo=2)) == "WalkForwardCV(n_splits=4, embargo=2)"


def test_bad_input_is_refused_on_arrival():
    dates = pd.date_range("2024-01-01", periods=6).to_numpy()
    with pytest.raises(
        DataError,
        match="3 folds and an embargo of 3 sessions needs at least 7 distinct dates, got 6",
    ):
        list(WalkForwardCV(3, dates=dates, embargo=3).split(dates))
    with pytest.raises(
        ConfigError, match="embargo must be a whole number of sessions >= 0, got -1"
    ):
        list(WalkForwardCV(2, dates=dates, embargo=-1).split(dates))
    with pytest.raises(ConfigError, match="at least 2 folds, got 1"):
        list(WalkForwardCV(1, dates=dates).split(dates))
    with pytest.raises(DataError, match="given 6 dates for 5 rows"):
        list(WalkForwardCV(2, dates=dates).split(dates[:5]))
    with pytest.raises(DataError, match="a date on every row, got \\['soon'\\]"):
        list(WalkForwardCV(2, dates=np.array(["2024-01-01", "soon"] * 3)).split(range(6)))
    with pytest.raises(DataError, match="fold 1 has no training rows left"):
        list(WalkForwardCV(2, dates=dates).split(dates, groups=np.zeros(6)))


def test_cv_scheme_is_checked_and_says_where_thresholds_come_from():
    assert CVScheme().threshold_from == "other_folds"
    assert CVScheme(method="walk_forward").threshold_from == "earlier_folds"
    with pytest.raises(ConfigError, match="walk_forward CV only, got embargo 2"):
        CVScheme(embargo=2)
    with pytest.raises(ConfigError, match="got 'rolling'"):
        CVScheme(method="rolling")  # type: ignore[arg-type]
