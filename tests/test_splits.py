from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from uctune.errors import ConfigError, DataError
from uctune.splits import cv_folds, split_indices, stratified_split, time_split


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
