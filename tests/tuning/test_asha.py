"""BudgetedASHA: Ray's quantile rule, and at most 1/rf of a rung's trials promoted, unless the best."""

from __future__ import annotations

import math

import numpy as np
import pytest
from ray.tune.experiment import Trial
from ray.tune.schedulers import ASHAScheduler, TrialScheduler

from uctune.tuning._asha import BudgetedASHA
from uctune.tuning._trainable import BUDGET, SCORE

CONTINUE, STOP = TrialScheduler.CONTINUE, TrialScheduler.STOP


def _trial(trial_id: str) -> Trial:
    return Trial("uctune_test", config={}, trial_id=trial_id, stub=True)


def _ours(max_t: int = 45, rf: int = 3) -> BudgetedASHA:
    return BudgetedASHA(
        time_attr=BUDGET, max_t=max_t, reduction_factor=rf, metric=SCORE, mode="max"
    )


def _rays(max_t: int = 45, rf: int = 3) -> ASHAScheduler:
    scheduler = ASHAScheduler(time_attr=BUDGET, max_t=max_t, reduction_factor=rf)
    scheduler.set_search_properties(SCORE, "max")
    return scheduler


def _report(scheduler, trial_id: str, budget: int, score: float) -> str:
    trial = _trial(trial_id)
    if isinstance(scheduler, ASHAScheduler) and trial_id not in scheduler._trial_info:
        scheduler.on_trial_add(None, trial)
    return scheduler.on_trial_result(None, trial, {BUDGET: budget, SCORE: score})


def test_the_rungs_are_rays():
    for max_t, rf in [(45, 3), (5, 2), (4, 2), (80, 3), (16, 4)]:
        rays = {m for m, _ in _rays(max_t, rf)._brackets[0]._rungs if m < max_t}
        assert set(_ours(max_t, rf).milestones) == rays


def test_a_trial_below_the_rungs_quantile_is_stopped_as_by_rays():
    ours, rays = _ours(), _rays()
    for i, score in enumerate([0.5, 0.6, 0.7]):
        assert _report(ours, f"t{i}", 1, score) == _report(rays, f"t{i}", 1, score)
    assert _report(ours, "low", 1, 0.55) == _report(rays, "low", 1, 0.55) == STOP


def test_a_spent_quota_stops_a_trial_that_rays_asha_would_promote():
    """Scores that rise over time (TPE's later proposals) clear Ray's quantile one after another."""
    ours, rays = _ours(), _rays()
    for i, score in enumerate([0.5, 0.9]):  # the first arrival, then a new best: both go on
        assert _report(ours, f"t{i}", 1, score) == CONTINUE
        _report(rays, f"t{i}", 1, score)
    # 0.8 clears the 2/3 quantile of (0.5, 0.9), but the rung has promoted 2 of its 3 trials.
    assert _report(rays, "late", 1, 0.8) == CONTINUE
    assert _report(ours, "late", 1, 0.8) == STOP


def test_a_new_best_goes_on_whatever_the_quota():
    ours = _ours()
    scores = [0.5, 0.9, 0.8, 0.85, 0.88]
    for i, score in enumerate(scores):
        _report(ours, f"t{i}", 1, score)
    assert _report(ours, "best", 1, 0.95) == CONTINUE
    assert _report(ours, "tie", 1, 0.95) == STOP  # a tie with the best is not better than it


@pytest.mark.parametrize("rf", [2, 3, 4])
def test_a_rung_promotes_at_most_one_in_rf_besides_new_bests(rf):
    """Under a searcher that improves over time, Ray's ASHA promotes most arrivals; this one keeps
    ASHA's bound at every rung."""
    rng = np.random.default_rng(rf)
    n = 90
    ours, rays = _ours(rf=rf), _rays(rf=rf)
    scores = np.linspace(0.3, 0.6, n) + rng.normal(0, 0.03, n)
    promoted = {"ours": 0, "rays": 0}
    new_bests = 0
    for i, score in enumerate(scores):
        new_bests += bool(i == 0 or score > scores[:i].max())
        promoted["ours"] += _report(ours, f"t{i}", 1, score) == CONTINUE
        promoted["rays"] += _report(rays, f"t{i}", 1, score) == CONTINUE
    assert promoted["ours"] <= math.ceil(n / rf) + new_bests
    assert promoted["rays"] > promoted["ours"] + n // 10
    # The best trial of the rung always goes on.
    best = f"t{int(np.argmax(scores))}"
    assert ours.decide(best, 1, float(scores.max())) == CONTINUE  # already judged: goes on


def test_each_trial_is_judged_once_per_rung_and_stopped_at_max_t():
    ours = _ours()
    assert _report(ours, "a", 1, 0.9) == CONTINUE
    assert _report(ours, "b", 1, 0.1) == STOP
    assert _report(ours, "a", 2, 0.1) == CONTINUE  # between milestones: nothing to judge
    assert _report(ours, "a", 3, 0.9) == CONTINUE  # the rung at 3
    assert _report(ours, "a", 45, 0.9) == STOP  # its last step
    assert _report(ours, "c", 1, float("nan")) == CONTINUE  # a failed fit ends on its own
    assert ours.milestones == (1, 3, 9, 27)


def test_minimising_flips_the_order():
    ours = BudgetedASHA(time_attr=BUDGET, max_t=9, reduction_factor=3, metric="loss", mode="min")
    trial = _trial("a")
    assert ours.on_trial_result(None, trial, {BUDGET: 1, "loss": 0.2}) == CONTINUE
    assert ours.on_trial_result(None, _trial("b"), {BUDGET: 1, "loss": 0.9}) == STOP


def test_the_state_survives_a_save_and_restore(tmp_path):
    ours = _ours()
    for i, score in enumerate([0.5, 0.9]):
        _report(ours, f"t{i}", 1, score)
    ours.save(str(tmp_path / "s.pkl"))
    restored = _ours()
    restored.restore(str(tmp_path / "s.pkl"))
    assert _report(restored, "late", 1, 0.8) == STOP


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_t": 5, "grace_period": 0},
        {"max_t": 2, "grace_period": 3},
        {"max_t": 5, "reduction_factor": 1},
    ],
)
def test_bad_settings_are_refused(kwargs):
    with pytest.raises(ValueError, match="BudgetedASHA needs"):
        BudgetedASHA(time_attr=BUDGET, **kwargs)


def test_tune_may_set_the_metric_it_already_has():
    ours = _ours()
    assert ours.set_search_properties(SCORE, "max")
    assert not ours.set_search_properties("other", "max")
    assert not ours.set_search_properties(SCORE, "min")


def test_the_tuner_prunes_each_family_with_it():
    from uctune.tuning import Fidelity, fidelity_schedule
    from uctune.tuning._joint import FamilyScheduler
    from uctune.tuning._tuner import TuneSettings, _joint_scheduler

    fidelity = fidelity_schedule(
        "rows", n_folds=5, reduction_factor=3, train_rows=200_000, train_positives=9_000
    )
    settings = TuneSettings(reduction_factor=3)
    folds = Fidelity(n_folds=5, reduction_factor=3)  # a family that steps over folds only
    fidelities = {"xgboost": fidelity, "lightgbm": fidelity, "logistic_regression": folds}
    single = _joint_scheduler(settings, fidelities, ["xgboost"])
    assert isinstance(single, BudgetedASHA) and single.milestones == (1, 3, 9, 27)
    joint = _joint_scheduler(settings, fidelities, ["xgboost", "lightgbm", "logistic_regression"])
    assert isinstance(joint, FamilyScheduler)
    assert all(isinstance(s, BudgetedASHA) for s in joint._by_family.values())
    # Each family's rungs are its own fidelity's: whole folds for logistic regression.
    assert joint._by_family["logistic_regression"].milestones == (1, 3)
    assert joint._by_family["lightgbm"].milestones == (1, 3, 9, 27)
    unpruned = _joint_scheduler(TuneSettings(pruning=False), fidelities, ["xgboost"])
    assert not isinstance(unpruned, BudgetedASHA)


def test_the_defaults_trial_is_never_stopped_nor_counted():
    scheduler = BudgetedASHA(
        time_attr=BUDGET, max_t=9, reduction_factor=3, metric=SCORE, mode="max", keep_key="defaults"
    )
    for k, score in enumerate([0.9, 0.8, 0.7]):
        assert _report(scheduler, f"t{k}", 1, score) in (CONTINUE, STOP)
    trial = _trial("defaults")
    # The worst score at every rung: any other trial would be stopped at the first.
    for budget in (1, 3):
        result = {BUDGET: budget, SCORE: 0.1, "defaults": True}
        assert scheduler.on_trial_result(None, trial, result) == CONTINUE
    assert scheduler.on_trial_result(None, trial, {BUDGET: 9, SCORE: 0.1, "defaults": True}) == STOP
    assert "defaults" not in scheduler._rungs[0].scores  # the rungs' quantiles are the search's
    assert _report(scheduler, "t9", 1, 0.1) == STOP
