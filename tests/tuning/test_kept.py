"""The refit takes the picked trial's fold predictions instead of fitting its folds again."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from uctune.training import FitSettings, FoldPredictions, make_split, train_families
from uctune.tuning import TuneSettings, tune_and_refit
from uctune.tuning._kept import start_keeper, take_kept

pytestmark = pytest.mark.ray


def _predictions(n: int, source: str) -> FoldPredictions:
    return FoldPredictions((np.full(n, 0.1),), (1.0,), source=source)


def test_the_keeper_keeps_each_familys_best_trials_and_its_defaults(ray_cluster):
    import ray

    keeper = start_keeper(limit=2)
    try:
        for number, score in [(0, 0.10), (1, 0.50), (2, 0.30), (3, 0.40), (4, float("nan"))]:
            ray.get(keeper.add.remote("xgboost", number, score, number == 0, _predictions(3, "t")))
        ray.get(keeper.add.remote("lightgbm", 1, 0.01, False, _predictions(3, "t")))
        wanted = [("xgboost", n) for n in range(5)] + [("lightgbm", 1)]
        kept = take_kept(keeper, wanted)
    finally:
        ray.kill(keeper)
    # The defaults whatever their score, then the two best others of each family (NaN last).
    assert sorted(kept) == [("lightgbm", 1), ("xgboost", 0), ("xgboost", 1), ("xgboost", 3)]


@pytest.mark.parametrize("family", ["lr", "xgboost"])
def test_the_refit_reuses_the_picked_trials_folds_and_scores_as_a_fresh_fit_would(
    ray_cluster, tiny_table, tmp_path, family
):
    split = make_split(tiny_table, seed=4)
    settings = TuneSettings(n_trials=3, fit=FitSettings(n_folds=3, seed=4, cpus_per_fit=1))
    tuned = tune_and_refit(family, tiny_table, split, experiment_dir=tmp_path, settings=settings)
    kept = tuned.tuning.fold_predictions
    assert kept is not None and kept.source == f"trial {tuned.tuning.best_trial}"
    assert [row["predictions_from"] for row in tuned.refit.cv_folds] == [kept.source] * 3
    fresh = train_families(
        tiny_table,
        split,
        families=[family],
        params={family: dict(tuned.tuning.best_params)},
        fit=FitSettings(n_folds=3, seed=4, cv=settings.fit.cv),
    ).results[tuned.refit.family]
    assert all("predictions_from" not in row for row in fresh.cv_folds)
    # The same out-of-fold predictions, hence the same honest scores and threshold.
    np.testing.assert_allclose(tuned.refit.out_of_fold.proba, fresh.out_of_fold.proba)
    assert tuned.refit.oof == pytest.approx(fresh.oof)
    assert tuned.refit.threshold == pytest.approx(fresh.threshold)
    np.testing.assert_allclose(tuned.refit.test_proba, fresh.test_proba)


def test_fold_predictions_that_do_not_match_the_folds_are_fitted_again(
    ray_cluster, tiny_table, caplog
):
    split = make_split(tiny_table, seed=4)
    wrong = FoldPredictions((np.full(5, 0.5),) * 3, (0.1,) * 3, source="trial 9")
    with caplog.at_level(logging.WARNING):
        run = train_families(
            tiny_table,
            split,
            families=["lr"],
            fold_predictions={"lr": wrong},
            fit=FitSettings(n_folds=3, seed=4),
        )
    assert "do not match the folds; fitting the folds" in caplog.text
    folds = run.results["logistic_regression"].cv_folds
    assert len(folds) == 3 and all("predictions_from" not in row for row in folds)
    assert not np.allclose(run.results["logistic_regression"].out_of_fold.proba, 0.5)


def test_a_lost_keeper_costs_the_refit_its_folds_not_the_search(ray_cluster, caplog):
    import ray

    keeper = start_keeper()
    ray.get(keeper.add.remote("lr", 0, 0.5, True, _predictions(3, "trial 0")))
    ray.kill(keeper)
    with caplog.at_level(logging.WARNING):
        assert take_kept(keeper, [("lr", 0)]) == {}
    assert "fold predictions were lost" in caplog.text
