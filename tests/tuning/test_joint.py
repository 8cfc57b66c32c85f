"""Several families in one Ray Tune experiment: the searcher hands out each family's trials in
turn, each family has its own ASHA, and the trial workers serve every family."""

from __future__ import annotations

import pytest
from optuna.distributions import FloatDistribution, IntDistribution
from optuna.trial import TrialState
from ray import tune
from ray.tune.experiment import Trial
from ray.tune.schedulers import TrialScheduler
from ray.tune.search import Searcher

from uctune.training import FitSettings, make_split
from uctune.tuning import FamilySearch, TuneSettings, tune_families
from uctune.tuning._asha import BudgetedASHA
from uctune.tuning._joint import FamilyScheduler, JointSearch
from uctune.tuning._search import StudySearch
from uctune.tuning._study import open_study, study_storage, trial_records
from uctune.tuning._trainable import BUDGET, FAMILY_KEY, SCORE, TRIAL_KEY


def _search(tmp_path, name, space, max_trials):
    storage = study_storage(tmp_path / name / "study.db")
    study = open_study(storage, name)
    search = StudySearch(
        space,
        n_folds=2,
        max_trials=max_trials,
        storage=storage,
        study_name=name,
        seed=3,
        known_trials=0,
    )
    return search, study


def _done(number, score):
    return {
        SCORE: score,
        "trial": number,
        "folds_done": 2,
        BUDGET: 2,
        "fold_scores": [score, score],
        "seconds": 1.0,
        "fit_cpu_seconds": 1.0,
        "fold_error": "",
    }


def test_the_joint_searcher_hands_out_each_familys_budget_in_turn(tmp_path):
    a, study_a = _search(tmp_path, "a", {"depth": IntDistribution(2, 8)}, 2)
    b, study_b = _search(tmp_path, "b", {"rate": FloatDistribution(0.01, 0.3)}, 2)
    joint = JointSearch({"a": a, "b": b})
    # No barrier between families: b's trials are handed out while a's still run (none has
    # completed), so a core that a's last trials leave free takes b's first.
    configs = [joint.suggest(f"t{i}") for i in range(4)]
    assert [c[FAMILY_KEY] for c in configs] == ["a", "a", "b", "b"]
    assert [c[TRIAL_KEY] for c in configs] == [0, 1, 0, 1]
    assert set(configs[0]) == {"depth", FAMILY_KEY, TRIAL_KEY}
    assert set(configs[2]) == {"rate", FAMILY_KEY, TRIAL_KEY}
    assert joint.suggest("t4") == Searcher.FINISHED

    # What Tune says about a trial reaches its own family's study, and only that one.
    joint.on_trial_complete("t2", _done(0, 0.4))
    joint.on_trial_complete("t0", _done(0, 0.7))
    assert [(r.number, r.score) for r in trial_records(study_a)] == [(0, 0.7)]
    assert [(r.number, r.score) for r in trial_records(study_b)] == [(0, 0.4)]

    # Ray Tune's snapshot of the searcher restores which trial is whose.
    path = tmp_path / "searcher.pkl"
    joint.save(str(path))
    again = JointSearch({})
    again.restore(str(path))
    again.on_trial_complete("t3", _done(1, 0.5))
    assert study_b.trials[1].state == TrialState.COMPLETE and study_b.trials[1].value == 0.5
    assert study_a.trials[1].state == TrialState.RUNNING


def _trial(family: str, trial_id: str) -> Trial:
    return Trial("uctune_test", config={FAMILY_KEY: family}, trial_id=trial_id, stub=True)


def test_each_family_is_pruned_against_its_own_trials_only():
    """A family whose scores are all low (logistic regression's F1 next to a booster's, say) is
    not stopped for being worse than another family."""

    def asha():
        return BudgetedASHA(
            time_attr=BUDGET, max_t=4, grace_period=1, reduction_factor=2, metric=SCORE, mode="max"
        )

    joint = FamilyScheduler({"good": asha(), "poor": asha()})
    shared = asha()
    trials = [_trial("good", "g1"), _trial("good", "g2"), _trial("poor", "p1")]
    for t in trials:
        joint.on_trial_add(None, t)
        shared.on_trial_add(None, t)
    decisions = {}
    for t, score in zip(trials, [0.9, 0.8, 0.1], strict=True):
        result = {BUDGET: 1, SCORE: score}
        decisions[t.trial_id] = (
            joint.on_trial_result(None, t, result),
            shared.on_trial_result(None, t, result),
        )
    assert decisions["p1"] == (TrialScheduler.CONTINUE, TrialScheduler.STOP)
    assert decisions["g2"] == (TrialScheduler.STOP, TrialScheduler.STOP)


@pytest.mark.ray
def test_families_share_one_experiment_and_its_warm_workers(ray_cluster, tiny_table, tmp_path):
    split = make_split(tiny_table, seed=2)
    X, y = tiny_table.X.iloc[split.train_index], tiny_table.y[split.train_index]
    settings = TuneSettings(n_trials=4, pruning=False, fit=FitSettings(n_folds=2, seed=2))
    searches = [
        FamilySearch("lr", tmp_path / "logistic_regression"),
        FamilySearch(
            "xgboost",
            tmp_path / "xgboost",
            search_space={"max_depth": IntDistribution(2, 4)},
            fixed_params={"n_estimators": 10},
        ),
    ]
    results = tune_families(searches, X, y, experiment_root=str(tmp_path), settings=settings)
    assert list(results) == ["logistic_regression", "xgboost"]
    for family, result in results.items():
        assert not isinstance(result, Exception), result
        assert [t.number for t in result.trials] == [0, 1, 2, 3]
        assert result.completed == 4 and result.experiment_path == str(tmp_path / "ray")
        assert (tmp_path / family / "study.db").is_file()
    assert results["xgboost"].best_params["n_estimators"] == 10

    analysis = tune.ExperimentAnalysis(str(tmp_path / "ray"))
    by_family: dict[str, list] = {}
    for trial in analysis.trials:
        by_family.setdefault(trial.config[FAMILY_KEY], []).append(trial.last_result)
    assert sorted(by_family) == ["logistic_regression", "xgboost"]
    assert all(len(v) == 4 for v in by_family.values())
    # The same two worker processes fitted every trial of both families (reused actors).
    pids = {r["pid"] for results_ in by_family.values() for r in results_}
    assert len(pids) <= 2
    assert {r["pid"] for r in by_family["logistic_regression"]} & {
        r["pid"] for r in by_family["xgboost"]
    }


def test_a_family_that_subsamples_misrank_searches_over_whole_folds(ray_cluster, tmp_path):
    # Logistic regression's best regularisation depends on the rows (rows_fidelity False): in a
    # rows-fidelity search its trials fit whole folds only, while XGBoost's fit subsamples first.
    from uctune.data import generate, validate_table
    from uctune.models import get_spec

    assert not get_spec("lr").rows_fidelity and get_spec("xgboost").rows_fidelity
    table = validate_table(generate(4_000, seed=9)[0])
    settings = TuneSettings(
        n_trials=3, reduction_factor=3, fidelity="rows", fit=FitSettings(n_folds=3, seed=1)
    )
    searches = [
        FamilySearch("lr", tmp_path / "logistic_regression"),
        FamilySearch("xgboost", tmp_path / "xgboost", fixed_params={"n_estimators": 12}),
    ]
    results = tune_families(
        searches, table.X, table.y, experiment_root=str(tmp_path), settings=settings
    )
    lr, xgb = results["logistic_regression"], results["xgboost"]
    assert not isinstance(lr, Exception) and not isinstance(xgb, Exception)
    assert lr.fidelity is not None and lr.fidelity.kind == "folds"
    assert xgb.fidelity is not None and xgb.fidelity.row_steps == 2
    assert all(not t.subsample_scores and t.rows == 1.0 for t in lr.trials)
    assert all(t.folds_done >= 1 for t in lr.trials)
    assert any(t.subsample_scores for t in xgb.trials)
