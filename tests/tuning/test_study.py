"""The persisted study and the searcher that writes it, exercised without Ray."""

from __future__ import annotations

import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState
from ray.tune.search import Searcher

from uctune.tuning import in_space
from uctune.tuning._search import StudySearch
from uctune.tuning._study import (
    fail_interrupted,
    interrupted,
    open_study,
    replay_results,
    study_storage,
    trial_records,
)
from uctune.tuning._trainable import SCORE, TRIAL_KEY

SPACE = {
    "depth": IntDistribution(2, 8),
    "rate": FloatDistribution(1e-3, 0.3, log=True),
    "kind": CategoricalDistribution(["a", "b"]),
}


def test_in_space():
    assert in_space({"depth": 8, "rate": 0.01, "kind": "b"}, SPACE)
    assert not in_space({"depth": 9, "rate": 0.01, "kind": "b"}, SPACE)
    assert not in_space({"depth": 3, "rate": 0.5, "kind": "a"}, SPACE)
    assert not in_space({"depth": 3, "rate": 0.01, "kind": "c"}, SPACE)
    assert not in_space({"depth": 3, "rate": 0.01}, SPACE)
    stepped = {"n": IntDistribution(10, 50, step=10)}
    assert in_space({"n": 30}, stepped) and not in_space({"n": 35}, stepped)


def searcher(tmp_path, max_trials=10, first=()):
    storage = study_storage(tmp_path / "study.db")
    study = open_study(storage, "fam")
    search = StudySearch(
        SPACE,
        n_folds=3,
        max_trials=max_trials,
        storage=storage,
        study_name="fam",
        seed=1,
        known_trials=len(study.get_trials(deepcopy=False)),
        points_to_evaluate=first,
    )
    return search, study


def result(number, folds_done, score, **extra):
    return {
        SCORE: score,
        "trial": number,
        "folds_done": folds_done,
        "fold_scores": [score] * folds_done,
        "seconds": 1.5,
        "fit_cpu_seconds": 1.2,
        "fold_error": "",
        **extra,
    }


def test_searcher_records_completed_pruned_and_failed_trials(tmp_path):
    first = {"depth": 5, "rate": 0.1, "kind": "a"}
    search, study = searcher(tmp_path, first=[first])
    configs = [search.suggest(f"t{i}") for i in range(4)]
    assert [c[TRIAL_KEY] for c in configs] == [0, 1, 2, 3]
    assert {k: v for k, v in configs[0].items() if k != TRIAL_KEY} == first
    assert all(in_space(c, SPACE) for c in configs)

    search.on_trial_complete("t0", result(0, 3, 0.7))
    search.on_trial_complete("t1", result(1, 1, 0.4))  # stopped by the scheduler after one fold
    search.on_trial_complete("t2", result(2, 2, float("nan"), fold_error="ValueError: bad"))
    search.on_trial_complete("t3", None, error=True)  # the worker died beyond its retries

    states = [t.state for t in study.get_trials()]
    assert states == [TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL, TrialState.FAIL]
    assert study.trials[1].intermediate_values == {1: 0.4}
    records = trial_records(study)
    assert [(r.number, r.status, r.score, r.folds_done) for r in records] == [
        (0, "completed", 0.7, 3),
        (1, "pruned", 0.4, 1),
        (2, "failed", None, 2),
        (3, "failed", None, 0),
    ]
    assert records[0].fold_scores == (0.7, 0.7, 0.7) and records[0].seconds == 1.5
    assert records[2].error == "ValueError: bad"
    assert records[3].error == "the trial's worker failed"


def test_a_trial_the_study_already_finished_is_left_alone(tmp_path):
    search, study = searcher(tmp_path)
    search.suggest("t0")
    search.on_trial_complete("t0", result(0, 3, 0.7))
    # A restored experiment replays trial 0 under a new Tune id, with another (replayed) result.
    search.on_trial_complete("restored", result(0, 1, 0.1))
    assert study.trials[0].state == TrialState.COMPLETE and study.trials[0].value == 0.7


def test_no_suggestion_once_the_study_holds_the_budget(tmp_path):
    search, study = searcher(tmp_path, max_trials=3)
    assert search.suggest("a") is not None and search.suggest("b") is not None
    search.on_trial_complete("a", result(0, 3, 0.5))
    assert isinstance(search.suggest("c"), dict)  # 1 finished + 2 running = 3
    assert search.suggest("d") == Searcher.FINISHED
    assert len(study.trials) == 3


def test_interrupted_trials_are_closed_queued_again_and_left_out(tmp_path):
    search, study = searcher(tmp_path)
    for i in range(4):
        search.suggest(f"t{i}")
    search.on_trial_complete("t0", result(0, 3, 0.6))
    search.on_trial_complete("t1", result(1, 1, 0.2))
    lost = study.trials[3].params
    # Trial 2 is still known to the restored experiment; trial 3 is not.
    assert fail_interrupted(study, keep={2}) == [3]
    assert interrupted(study) == {3}
    assert study.trials[3].state == TrialState.FAIL
    assert study.trials[2].state == TrialState.RUNNING
    assert [r.number for r in trial_records(study)] == [0, 1]
    assert set(replay_results(study)) == {0, 1}
    assert replay_results(study)[0][SCORE] == 0.6
    # The interrupted configuration is the next one asked for.
    assert search.suggest("t4") == {**lost, TRIAL_KEY: 4}


def test_records_survive_a_reopen(tmp_path):
    search, _ = searcher(tmp_path)
    search.suggest("t0")
    search.on_trial_complete("t0", result(0, 3, 0.55))
    again = open_study(study_storage(tmp_path / "study.db"), "fam")
    assert trial_records(again)[0].score == 0.55


@pytest.mark.parametrize("depth", [2.5, True, "3"])
def test_in_space_refuses_values_of_the_wrong_kind(depth):
    assert not in_space({"depth": depth, "rate": 0.01, "kind": "a"}, SPACE)


def test_a_restarted_search_does_not_replay_its_first_random_draws(tmp_path):
    first, study = searcher(tmp_path)
    tried = []
    for i in range(3):
        config = first.suggest(f"a{i}")
        tried.append({k: v for k, v in config.items() if k != TRIAL_KEY})
        first.on_trial_complete(f"a{i}", result(i, 3, 0.5))
    # The same seed on the same study after a restart: TPE is still in its random startup phase.
    again, _ = searcher(tmp_path)
    proposed = {k: v for k, v in again.suggest("b0").items() if k != TRIAL_KEY}
    assert proposed not in tried
