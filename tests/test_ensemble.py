"""Combiners over out-of-fold predictions: Caruana's selection and the stacker."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from uctune.ensemble import caruana_weights, cross_fit_combiners, fit_combiner
from uctune.errors import ConfigError


def _members(seed: int = 0, rows: int = 2000):
    """Three members: two noisy views of the signal with independent noise, and pure noise."""
    rng = np.random.default_rng(seed)
    y = (rng.random(rows) < 0.1).astype(np.int64)
    signal = 1.5 * y
    P = np.column_stack(
        [
            1 / (1 + np.exp(-(signal + rng.normal(size=rows) - 2))),
            1 / (1 + np.exp(-(signal + rng.normal(size=rows) - 2))),
            rng.random(rows),
        ]
    )
    return P, y


def test_caruana_averages_the_complementary_members_and_drops_the_noise():
    P, y = _members()
    weights = caruana_weights(P, y, size=20)
    assert weights.sum() == pytest.approx(1.0)
    assert weights[2] == 0 and weights[0] > 0 and weights[1] > 0
    ensemble = P @ weights
    best_single = max(average_precision_score(y, P[:, j]) for j in range(3))
    assert average_precision_score(y, ensemble) > best_single


def test_caruana_weights_are_reproducible_for_a_seed():
    P, y = _members()
    tied = np.column_stack([P, P[:, 0]])  # an exact copy of member 0: every step it ties
    first = caruana_weights(tied, y, size=25, random_state=7)
    assert np.array_equal(first, caruana_weights(tied, y, size=25, random_state=7))
    others = {tuple(caruana_weights(tied, y, size=25, random_state=s)) for s in range(8)}
    assert len(others) > 1  # the seed, not the column order, breaks the tie
    # whatever the draw, the copy and its original together hold the same share
    for weights in others:
        assert weights[0] + weights[3] == pytest.approx(first[0] + first[3])


def test_the_stacker_is_a_logistic_regression_on_log_odds():
    P, y = _members()
    stacker = fit_combiner("stacker", P, y)
    z = np.log(P / (1 - P)) @ np.array(stacker.coef) + stacker.intercept
    np.testing.assert_allclose(stacker.combine(P), 1 / (1 + np.exp(-z)))
    assert abs(stacker.coef[2]) < min(abs(stacker.coef[0]), abs(stacker.coef[1]))


@pytest.mark.parametrize("source", ["other_folds", "earlier_folds"])
def test_a_fold_is_combined_without_its_own_labels(source):
    P, y = _members()
    edges = np.array_split(np.arange(len(y)), 4)
    P_folds, y_folds = [P[e] for e in edges], [y[e] for e in edges]
    before = cross_fit_combiners(P_folds, y_folds, source=source, size=10)
    for k in range(4):
        flipped = [v.copy() for v in y_folds]
        flipped[k] = 1 - flipped[k]
        after = cross_fit_combiners(P_folds, flipped, source=source, size=10)
        for method in before:
            np.testing.assert_array_equal(after[method].fold_proba[k], before[method].fold_proba[k])


def test_bad_settings_are_refused():
    P, y = _members()
    with pytest.raises(ConfigError, match="ensemble size must be at least 1, got 0"):
        caruana_weights(P, y, size=0)
    with pytest.raises(ConfigError, match="got 'bagging'"):
        fit_combiner("bagging", P, y)  # type: ignore[arg-type]
