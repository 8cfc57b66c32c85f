from __future__ import annotations

import numpy as np
import pytest

from uctune.calibration import fit_calibrator
from uctune.errors import TrainingError
from uctune.metrics import METRICS, classification_metrics, f1_optimal_threshold
from uctune.models import SPECS
from uctune.training import (
    FitSettings,
    assemble_family,
    fit_and_predict,
    make_split,
    train_families,
)

FAST = {
    "random_forest": {"n_estimators": 30},
    "xgboost": {"n_estimators": 30},
    "lightgbm": {"n_estimators": 30},
}


@pytest.fixture(scope="module")
def split(tiny_table):
    return make_split(tiny_table, seed=7)


@pytest.fixture(scope="module")
def ray_run(ray_cluster, tiny_table, split):
    return train_families(
        tiny_table, split, params=FAST, backend="ray", fit=FitSettings(n_folds=3, seed=7)
    )


@pytest.mark.ray
def test_ray_results_equal_a_sequential_run(ray_run, tiny_table, split):
    sequential = train_families(
        tiny_table, split, params=FAST, backend="sequential", fit=FitSettings(n_folds=3, seed=7)
    )
    assert set(ray_run.results) == set(SPECS) == set(sequential.results)
    for name, result in ray_run.results.items():
        other = sequential.results[name]
        assert result.threshold == other.threshold, name
        assert result.cv_mean == other.cv_mean, name
        assert result.holdout == other.holdout, name
        np.testing.assert_array_equal(result.test_proba, other.test_proba)


@pytest.mark.ray
def test_each_family_has_cv_holdout_and_a_thresholded_model(ray_run, tiny_table, split):
    y = tiny_table.y
    for name, result in ray_run.results.items():
        assert len(result.cv_folds) == 3
        assert set(METRICS) <= set(result.cv_mean)
        # The holdout numbers are the test rows scored by the returned model.
        proba = result.model.predict_proba(tiny_table.X.iloc[split.test_index])[:, 1]
        np.testing.assert_allclose(proba, result.test_proba)
        expected = classification_metrics(y[split.test_index], proba, result.threshold)
        assert result.holdout["at_threshold"] == expected
        assert result.model.threshold == result.threshold
        assert type(result.model) is SPECS[name].threshold_class  # a type name per family
        assert (result.feature_importance is not None) == SPECS[name].tree_explainer


@pytest.mark.ray
def test_threshold_comes_from_out_of_fold_training_predictions(ray_cluster, tiny_table, split):
    """Rebuild the OOF predictions by hand and check the stored threshold is theirs."""
    from uctune.splits import cv_folds

    y = tiny_table.y
    train = split.train_index
    folds = cv_folds(y[train], n_splits=3, random_state=7)
    oof_idx, oof_p = [], []
    for k, (a, b) in enumerate(folds):
        out = fit_and_predict(
            "logistic_regression",
            {"C": 1.0},
            tiny_table.X,
            y,
            train[a],
            train[b],
            fold=k,
            random_state=7,
        )
        oof_idx.append(train[b])
        oof_p.append(out.proba)
    oof_y, pooled = y[np.concatenate(oof_idx)], np.concatenate(oof_p)
    raw = train_families(
        tiny_table,
        split,
        families=["lr"],
        backend="ray",
        fit=FitSettings(n_folds=3, seed=7, calibration="none"),
    ).results["logistic_regression"]
    assert raw.threshold == pytest.approx(f1_optimal_threshold(oof_y, pooled))
    assert raw.calibration["method"] == "none"
    # Calibrated (the default), the threshold is chosen on the same predictions after the map
    # fitted on them.
    run = train_families(
        tiny_table, split, families=["lr"], backend="ray", fit=FitSettings(n_folds=3, seed=7)
    )
    result = run.results["logistic_regression"]
    mapped = fit_calibrator(result.calibration["method"], pooled, oof_y).predict(pooled)
    assert result.threshold == pytest.approx(f1_optimal_threshold(oof_y, mapped))
    assert not set(np.concatenate(oof_idx)) & set(split.test_index)


@pytest.mark.ray
def test_progress_is_reported_for_every_fit(ray_cluster, tiny_table, split):
    seen = []
    train_families(
        tiny_table,
        split,
        families=["lr", "xgb"],
        params=FAST,
        backend="ray",
        progress=lambda d, t, w: seen.append((d, t, w)),
        fit=FitSettings(n_folds=3, seed=1),
    )
    assert [d for d, _, _ in seen] == list(range(1, 9))
    assert all(t == 8 for _, t, _ in seen)


def test_a_failed_fold_is_recorded_and_the_family_survives(tiny_table, split):
    y = tiny_table.y
    train = split.train_index
    good = fit_and_predict("lr", {}, tiny_table.X, y, train[:300], train[300:], fold=0)
    bad = fit_and_predict("lr", {"C": -1.0}, tiny_table.X, y, train[:300], train[300:], fold=1)
    assert bad.error is not None and "C" in bad.error
    final = fit_and_predict(
        "lr", {}, tiny_table.X, y, train, split.test_index, fold=None, keep_model=True
    )
    result = assemble_family("logistic_regression", {}, y, [good, bad], final)
    assert np.isnan(result.cv_folds[1]["f1"]) and result.cv_folds[1]["error"]
    assert not np.isnan(result.cv_folds[0]["f1"])


def test_every_family_failing_raises(tiny_table, split):
    with pytest.raises(TrainingError, match="every model family failed"):
        train_families(
            tiny_table,
            split,
            families=["lr"],
            params={"lr": {"C": -1.0}},
            backend="sequential",
            fit=FitSettings(n_folds=3),
        )


def test_a_partly_failing_run_reports_the_failure(tiny_table, split):
    run = train_families(
        tiny_table,
        split,
        families=["lr", "xgb"],
        params={"lr": {"C": -1.0}, "xgb": {"n_estimators": 10}},
        backend="sequential",
        fit=FitSettings(n_folds=3),
    )
    assert set(run.results) == {"xgboost"}
    assert "every cross-validation fold failed" in run.failures["logistic_regression"]
