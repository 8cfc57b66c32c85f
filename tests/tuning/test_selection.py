"""The pick of a search: the defaults are kept unless the top trial beats them beyond the noise."""

from __future__ import annotations

import math

import pytest

from uctune.tuning import TrialRecord
from uctune.tuning._selection import fold_noise, is_defaults, select_trial

DEFAULTS = {"max_depth": 5, "learning_rate": 0.1}


def _trial(number, folds, params, status="completed"):
    score = sum(folds) / len(folds)
    return TrialRecord(
        number=number,
        status=status,
        score=score,
        folds_done=len(folds),
        seconds=1.0,
        fold_scores=tuple(folds),
        params=params,
    )


def test_a_gain_inside_the_noise_keeps_the_defaults():
    base = _trial(0, [0.50, 0.60, 0.40, 0.55, 0.45], DEFAULTS)
    # +0.02 on average, but fold by fold anywhere from -0.05 to +0.07.
    top = _trial(7, [0.57, 0.55, 0.45, 0.53, 0.50], {"max_depth": 9, "learning_rate": 0.2})
    picked = select_trial([base, top], DEFAULTS, min_gain_se=1.0)
    assert picked is not None
    assert picked.top.number == 7
    assert picked.kept == "defaults" and picked.picked.number == 0
    assert picked.gain == pytest.approx(0.02)
    assert picked.noise == pytest.approx(fold_noise([0.07, -0.05, 0.05, -0.02, 0.05]))
    assert picked.gain < picked.noise
    assert "the defaults are kept" in picked.reason
    document = picked.to_dict()
    assert document["picked"] == "defaults" and document["top_trial"] == 7


def test_a_gain_beyond_the_noise_takes_the_tuned_trial():
    base = _trial(0, [0.50, 0.60, 0.40, 0.55, 0.45], DEFAULTS)
    top = _trial(3, [0.53, 0.62, 0.44, 0.58, 0.47], {"max_depth": 4, "learning_rate": 0.05})
    picked = select_trial([base, top], DEFAULTS, min_gain_se=1.0)
    assert picked is not None and picked.kept == "tuned" and picked.picked.number == 3
    assert picked.gain > picked.noise > 0
    # A stricter rule (more standard errors) keeps the defaults on the same trials.
    strict = select_trial([base, top], DEFAULTS, min_gain_se=10.0)
    assert strict is not None and strict.kept == "defaults"


def test_without_a_completed_defaults_trial_the_top_trial_is_taken():
    pruned = _trial(0, [0.9], DEFAULTS, status="pruned")
    top = _trial(2, [0.5, 0.6], {"max_depth": 4, "learning_rate": 0.05})
    picked = select_trial([pruned, top], DEFAULTS)
    assert picked is not None and picked.picked.number == 2 and picked.kept == "tuned"
    assert "did not complete" in picked.reason
    outside = select_trial([top], None)
    assert outside is not None and "outside the searched space" in outside.reason
    assert select_trial([pruned], DEFAULTS) is None


def test_the_defaults_winning_outright_are_picked():
    base = _trial(0, [0.7, 0.7], DEFAULTS)
    other = _trial(1, [0.6, 0.65], {"max_depth": 4, "learning_rate": 0.05})
    picked = select_trial([base, other], DEFAULTS)
    assert (
        picked is not None
        and picked.kept == "defaults"
        and picked.reason == ("the defaults scored best")
    )


def test_defaults_are_matched_on_their_own_keys_with_float_tolerance():
    assert is_defaults({"max_depth": 5, "learning_rate": 0.1 + 1e-12, "extra": 1}, DEFAULTS)
    assert not is_defaults({"max_depth": 6, "learning_rate": 0.1}, DEFAULTS)
    assert not is_defaults({"max_depth": 5}, DEFAULTS)
    assert not is_defaults({"class_weight": "balanced"}, {"class_weight": None})
    assert not is_defaults(DEFAULTS, None)
    assert math.isnan(fold_noise([0.5, float("nan")]))
